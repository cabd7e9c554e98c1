//! [`ClusterHandle`]: what the RPC server and the inbound-request server need from Raft —
//! submitting a signed command (locally or forwarded to the leader), read barriers for
//! linearizable reads, and status.

use crate::clock::now_ms;
use crate::heartbeat::PeerStatusTable;
use crate::p2p::messages::{ForwardError, PeerRequest, PeerResponse};
use crate::p2p::{Inbound, P2pHandle};
use libp2p::PeerId;
use mpc_bootstrap::genesis::Genesis;
use mpc_consensus::error::ConsensusError;
use mpc_consensus::network::serve_rpc;
use mpc_consensus::raft::{NodeId, PeerNode, Raft};
use mpc_consensus::rpc::{RaftRpc, RaftRpcReply};
use mpc_consensus::rpc_guard::RpcGuard;

pub mod failover;
mod group_commit;
mod membership;
mod write;
use mpc_consensus::store::StateMachineStore;
use mpc_custody::entry::Proposal;
use mpc_custody::passkey::PasskeyDecision;
use mpc_custody::state::{CommandOutcome, CustodyState};
use openraft::error::RaftError;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, Semaphore};

/// How long a write may take, including leader changes, before the client gets an error.
const WRITE_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a linearizable read may wait for the leader and local apply.
const READ_TIMEOUT: Duration = Duration::from_secs(5);
/// Pause between attempts while no leader is known.
const RETRY_PAUSE: Duration = Duration::from_millis(50);
/// Most inbound peer requests served at once.
const MAX_INBOUND_CONCURRENCY: usize = 256;
/// Most inbound requests of one peer served at once: one peer cannot take every slot.
const MAX_INBOUND_PER_PEER: usize = 64;

/// Why a request could not be served.
#[derive(Debug, thiserror::Error)]
pub enum ClusterError {
    /// The command failed verification.
    #[error("invalid command: {0}")]
    Invalid(String),
    /// No leader could commit it in time.
    #[error("cluster unavailable: {0}")]
    Unavailable(String),
    /// Local failure (logged; not shown to clients in detail).
    #[error("internal error: {0}")]
    Internal(String),
    /// Refused before the log: the signer is not known to the network (not a member of the
    /// organisation, nor a genesis admin for `org_create`), or it sends too fast.
    #[error("refused: {0}")]
    Refused(String),
}

impl From<ConsensusError> for ClusterError {
    fn from(e: ConsensusError) -> Self {
        ClusterError::Internal(e.to_string())
    }
}

enum Attempt {
    Done(Box<CommandOutcome>),
    NotLeader(Option<NodeId>),
}

/// Cloneable access to the local Raft node and state.
#[derive(Clone)]
pub struct ClusterHandle {
    inner: Arc<Inner>,
}

struct Inner {
    node_id: NodeId,
    raft: Raft,
    sm: StateMachineStore,
    p2p: P2pHandle,
    genesis: Genesis,
    cluster_id: String,
    peers: crate::p2p::PeerTable,
    statuses: PeerStatusTable,
    guard: RpcGuard,
    refused: RefusalCounters,
    write_limiter: crate::rate_limit::WriteLimiter,
    read_limiter: crate::rate_limit::KeyLimiter,
    console: crate::console::Sessions,
    /// Batchable users' commands waiting for the leader's next proposal ([`group_commit`]).
    commands: Mutex<group_commit::CommandQueue>,
    /// Wakes a pending campaign (see `failover`): this node refused a candidate whose log is
    /// shorter than its own.
    campaign_now: tokio::sync::Notify,
}

/// Raft RPCs refused by the [`RpcGuard`], by kind (reported by `node_status`).
#[derive(Default)]
struct RefusalCounters {
    append_entries: AtomicU64,
    vote: AtomicU64,
    install_snapshot: AtomicU64,
}

/// Counts of refused Raft RPCs since this process started.
#[derive(Debug, Clone, Copy, serde::Serialize)]
pub struct RefusedRpcs {
    /// AppendEntries refused.
    pub append_entries: u64,
    /// Vote requests refused.
    pub vote: u64,
    /// InstallSnapshot requests refused (every one is).
    pub install_snapshot: u64,
}

impl ClusterHandle {
    /// Bundles the parts.
    pub fn new(
        node_id: NodeId,
        raft: Raft,
        sm: StateMachineStore,
        p2p: P2pHandle,
        genesis: Genesis,
        peers: crate::p2p::PeerTable,
        statuses: PeerStatusTable,
    ) -> Self {
        let cluster_id = genesis.hash();
        // The genesis membership, exactly as `Raft::initialize` was given it.
        let membership: BTreeMap<NodeId, PeerNode> = genesis
            .nodes
            .iter()
            .map(|card| {
                let node = PeerNode {
                    peer_id: card.peer_id.clone(),
                    p2p_addr: card.p2p_addr.clone(),
                };
                (card.node_id, node)
            })
            .collect();
        // Validated at start-up (the state machine's genesis parameters).
        let admins = genesis
            .admins
            .iter()
            .filter_map(|a| mpc_custody::types::UserKey::from_hex(&a.public_key).ok())
            .collect();
        let guard = RpcGuard::new(membership)
            .with_genesis_admins(&cluster_id, admins)
            .with_peer_ids(|k| crate::p2p::peers::peer_id_of(k).ok().map(|p| p.to_string()));
        ClusterHandle {
            inner: Arc::new(Inner {
                node_id,
                raft,
                sm,
                p2p,
                genesis,
                cluster_id,
                peers,
                statuses,
                guard,
                refused: RefusalCounters::default(),
                write_limiter: crate::rate_limit::KeyLimiter::writes(),
                console: Default::default(),
                read_limiter: crate::rate_limit::KeyLimiter::reads(),
                campaign_now: tokio::sync::Notify::new(),
                commands: Mutex::new(group_commit::command_queue()),
            }),
        }
    }

    /// This node's id.
    pub fn node_id(&self) -> NodeId {
        self.inner.node_id
    }
    /// The genesis.
    pub fn genesis(&self) -> &Genesis {
        &self.inner.genesis
    }
    /// The genesis hash (cluster id).
    pub fn cluster_id(&self) -> &str {
        &self.inner.cluster_id
    }
    /// The Raft node.
    pub fn raft(&self) -> &Raft {
        &self.inner.raft
    }
    /// The p2p handle.
    pub fn p2p(&self) -> &P2pHandle {
        &self.inner.p2p
    }
    /// Last heartbeats.
    pub fn statuses(&self) -> &PeerStatusTable {
        &self.inner.statuses
    }
    /// The state-machine store (the forger builds forged snapshots from it).
    #[cfg(feature = "forge-for-tests")]
    pub(crate) fn state_store(&self) -> &StateMachineStore {
        &self.inner.sm
    }

    /// For a node restored from a backup kit (empty log, vote forgotten): grants no vote and
    /// does not campaign until a read barrier shows it has applied everything the leader had
    /// committed; then votes again and removes `marker`. Replication to it goes on meanwhile.
    pub fn catch_up_after_restore(&self, marker: std::path::PathBuf) {
        self.inner.guard.abstain(true);
        self.inner.raft.runtime_config().elect(false);
        tracing::warn!("restored from a backup kit: not voting until caught up with the leader");
        let me = self.clone();
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(Duration::from_secs(1)).await;
                if me.read_barrier().await.is_ok() {
                    me.inner.guard.abstain(false);
                    me.inner.raft.runtime_config().elect(true);
                    if let Err(e) = std::fs::remove_file(&marker) {
                        tracing::warn!("removing {}: {e}", marker.display());
                    }
                    tracing::info!("caught up after the restore: voting again");
                    return;
                }
            }
        });
    }

    /// This node's console sign-in nonces and sessions.
    pub fn console_sessions(&self) -> &crate::console::Sessions {
        &self.inner.console
    }

    /// Has a member's passkey decision on a request committed. Checked here first as `apply`
    /// will check it (credential, request, assertion), so a decision that cannot verify never
    /// reaches the log; rate-limited per member like signed writes.
    pub async fn submit_passkey_decision(
        &self,
        d: PasskeyDecision,
    ) -> Result<CommandOutcome, ClusterError> {
        let member = self
            .read_state(|s| s.passkey_decision_check(&d))?
            .map_err(|e| ClusterError::Refused(format!("{e}; nothing was written")))?;
        self.inner
            .write_limiter
            .admit(&member, Instant::now())
            .map_err(ClusterError::Refused)?;
        self.propose(Proposal::Passkey(d), false).await
    }

    /// Takes one read token for `reader` (authenticated reads, per key on this node).
    pub fn admit_read(&self, reader: &mpc_custody::types::UserKey) -> Result<(), ClusterError> {
        self.inner
            .read_limiter
            .admit(reader, Instant::now())
            .map_err(ClusterError::Refused)
    }

    /// Raft RPCs refused so far.
    pub fn refused_rpcs(&self) -> RefusedRpcs {
        let r = &self.inner.refused;
        RefusedRpcs {
            append_entries: r.append_entries.load(Ordering::Relaxed),
            vote: r.vote.load(Ordering::Relaxed),
            install_snapshot: r.install_snapshot.load(Ordering::Relaxed),
        }
    }

    /// The pinned peers (genesis hosts and verified replacements).
    pub fn peers(&self) -> &crate::p2p::PeerTable {
        &self.inner.peers
    }

    /// The peer pinned for `node` (its genesis host, or its verified replacement).
    pub fn peer_of(&self, node: NodeId) -> Option<PeerId> {
        self.inner.peers.peer_of(node)
    }

    /// Request changes as they are applied (and flushed) here; see
    /// [`StateMachineStore::subscribe_requests`].
    pub fn subscribe_requests(
        &self,
    ) -> tokio::sync::broadcast::Receiver<std::sync::Arc<mpc_custody::Request>> {
        self.inner.sm.subscribe_requests()
    }

    /// Vaults, requests and presignature pools changed by entries applied since the last call,
    /// as the engine takes them (`None`: nothing changed).
    pub fn take_changes(&self) -> Option<mpc_engine::Changed> {
        self.inner.sm.take_changes().map(|c| match c {
            mpc_consensus::store::Changes::Keys(keys) => mpc_engine::Changed::Keys(keys),
            mpc_consensus::store::Changes::Overflowed => mpc_engine::Changed::All,
        })
    }

    /// Runs `f` on the local custody state.
    pub fn read_state<T>(&self, f: impl FnOnce(&CustodyState) -> T) -> Result<T, ClusterError> {
        self.inner.sm.read(f).map_err(ClusterError::Internal)
    }

    /// Returns once the local state reflects every write committed before the call
    /// (ReadIndex: ask the leader for its commit index, then wait to apply it locally).
    pub async fn read_barrier(&self) -> Result<(), ClusterError> {
        let deadline = Instant::now() + READ_TIMEOUT;
        while Instant::now() < deadline {
            let index = match self.inner.raft.get_read_log_id().await {
                Ok((read_log_id, _)) => Some(read_log_id.map(|l| l.index).unwrap_or(0)),
                Err(e @ RaftError::APIError(_)) => {
                    match e.forward_to_leader().and_then(|f| f.leader_id) {
                        Some(leader) if leader != self.inner.node_id => {
                            self.remote_read_index(leader, deadline).await
                        }
                        _ => None,
                    }
                }
                Err(e) => return Err(ClusterError::Internal(e.to_string())),
            };
            if let Some(index) = index {
                let timeout = deadline.saturating_duration_since(Instant::now());
                return self
                    .inner
                    .raft
                    .wait(Some(timeout))
                    .applied_index_at_least(Some(index), "linearizable read")
                    .await
                    .map(|_| ())
                    .map_err(|e| ClusterError::Unavailable(e.to_string()));
            }
            tokio::time::sleep(RETRY_PAUSE).await;
        }
        Err(ClusterError::Unavailable(format!(
            "no leader confirmed a read index within {READ_TIMEOUT:?}"
        )))
    }

    async fn remote_read_index(&self, leader: NodeId, deadline: Instant) -> Option<u64> {
        let peer = self.peer_of(leader)?;
        let timeout = deadline.saturating_duration_since(Instant::now());
        match self
            .inner
            .p2p
            .request(peer, PeerRequest::ReadIndex, timeout)
            .await
        {
            Ok(PeerResponse::ReadIndex(Ok(i))) => Some(i),
            _ => None,
        }
    }

    /// Answers a Raft RPC from the authenticated node `sender`, after the [`RpcGuard`].
    async fn serve_raft(&self, sender: NodeId, rpc: RaftRpc) -> RaftRpcReply {
        let kind = match &rpc {
            RaftRpc::AppendEntries(_) => &self.inner.refused.append_entries,
            RaftRpc::Vote(_) => &self.inner.refused.vote,
            RaftRpc::InstallSnapshot(_) => &self.inner.refused.install_snapshot,
        };
        let candidate_log = match &rpc {
            RaftRpc::Vote(v) => Some(v.last_log_id),
            _ => None,
        };
        let reply = serve_rpc(&self.inner.raft, &self.inner.guard, sender, rpc, now_ms()).await;
        if let (Some(theirs), RaftRpcReply::Vote(Ok(answer))) = (candidate_log, &reply) {
            if !answer.vote_granted && answer.last_log_id > theirs {
                self.refused_a_shorter_log();
            }
        }
        if let RaftRpcReply::Refused(why) = &reply {
            let n = kind.fetch_add(1, Ordering::Relaxed);
            // Warn on the first refusal and every 100th after it: a peer retrying a refused
            // RPC must not fill the log.
            if n % 100 == 0 {
                tracing::warn!(
                    from = sender,
                    refused_so_far = n + 1,
                    "refused a Raft RPC: {why}"
                );
            } else {
                tracing::debug!(from = sender, "refused a Raft RPC: {why}");
            }
        }
        reply
    }

    /// Serves one request from the authenticated node `sender`.
    pub async fn serve_inbound(&self, sender: NodeId, req: PeerRequest) -> PeerResponse {
        match req {
            PeerRequest::Raft(rpc) => PeerResponse::Raft(self.serve_raft(sender, rpc).await),
            PeerRequest::Write(cmd) => PeerResponse::Write(self.serve_forwarded_write(cmd).await),
            PeerRequest::Session(_) => {
                PeerResponse::Session(Err("sessions are served by the session hub".into()))
            }
            PeerRequest::ReadIndex => {
                PeerResponse::ReadIndex(match self.inner.raft.get_read_log_id().await {
                    Ok((id, _)) => Ok(id.map(|l| l.index).unwrap_or(0)),
                    Err(e) => Err(ForwardError::NotLeader(
                        e.forward_to_leader().and_then(|f| f.leader_id),
                    )),
                })
            }
        }
    }

    /// Serves inbound peer requests until the channel closes, at most
    /// `MAX_INBOUND_CONCURRENCY` at a time.
    pub async fn run_inbound_server(
        self,
        mut inbound: mpsc::Receiver<Inbound>,
        hub: crate::sessions::SessionHub,
    ) {
        let permits = Arc::new(Semaphore::new(MAX_INBOUND_CONCURRENCY));
        let per_peer = Arc::new(Mutex::new(BTreeMap::<NodeId, usize>::new()));
        while let Some(req) = inbound.recv().await {
            let this = self.clone();
            if let PeerRequest::Session(frame) = req.request {
                let response = PeerResponse::Session(hub.handle_frame(req.node_id, frame));
                this.inner.p2p.respond(req.channel, response).await;
                continue;
            }
            let sender = req.node_id;
            if !take_peer_slot(&per_peer, sender) {
                tracing::warn!(from = sender, "peer has too many requests in progress");
                let busy = ForwardError::Raft("too many requests from this peer".into());
                let response = match req.request {
                    PeerRequest::Raft(_) => {
                        PeerResponse::Raft(RaftRpcReply::Refused("busy".into()))
                    }
                    PeerRequest::ReadIndex => PeerResponse::ReadIndex(Err(busy)),
                    _ => PeerResponse::Write(Err(busy)),
                };
                this.inner.p2p.respond(req.channel, response).await;
                continue;
            }
            let Ok(permit) = permits.clone().acquire_owned().await else {
                break;
            };
            let per_peer = per_peer.clone();
            tokio::spawn(async move {
                let response = this.serve_inbound(sender, req.request).await;
                this.inner.p2p.respond(req.channel, response).await;
                drop(permit);
                release_peer_slot(&per_peer, sender);
            });
        }
    }
}

/// Takes one of `peer`'s [`MAX_INBOUND_PER_PEER`] request slots; false when all are in use.
fn take_peer_slot(slots: &Mutex<BTreeMap<NodeId, usize>>, peer: NodeId) -> bool {
    let mut slots = slots.lock().unwrap_or_else(|p| p.into_inner());
    let used = slots.entry(peer).or_insert(0);
    if *used >= MAX_INBOUND_PER_PEER {
        return false;
    }
    *used += 1;
    true
}

fn release_peer_slot(slots: &Mutex<BTreeMap<NodeId, usize>>, peer: NodeId) {
    let mut slots = slots.lock().unwrap_or_else(|p| p.into_inner());
    if let Some(used) = slots.get_mut(&peer) {
        *used = used.saturating_sub(1);
        if *used == 0 {
            slots.remove(&peer);
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::write::check_entry_size;
    use super::*;
    use mpc_consensus::rpc::RaftRpc;
    use mpc_custody::command::SignedCommand;
    use mpc_custody::entry::LogCommand;
    use mpc_custody::types::UserKey;
    use mpc_protocol::limits::MAX_LOG_ENTRY_BYTES;
    use mpc_protocol::limits::{MAX_APPEND_ENTRIES, MAX_P2P_MESSAGE_BYTES};
    use openraft::raft::AppendEntriesRequest;
    use openraft::{CommittedLeaderId, Entry, EntryPayload, LogId, Vote};

    fn proposal_of(body_bytes: usize) -> Proposal {
        Proposal::User(SignedCommand {
            body: "x".repeat(body_bytes),
            signer: UserKey([7; 32]),
            signature: "ab".repeat(64),
        })
    }

    /// The largest batch openraft may send (MAX_APPEND_ENTRIES entries, each as large as a
    /// proposal may be) fits one p2p message, and a larger proposal is refused up front.
    #[test]
    fn a_full_append_entries_batch_fits_one_p2p_message() {
        // Grow the body until the entry is exactly at the limit.
        let mut body = MAX_LOG_ENTRY_BYTES - 512;
        while check_entry_size(&proposal_of(body + 1)).is_ok() {
            body += 1;
        }
        assert!(check_entry_size(&proposal_of(body)).is_ok());
        let err = check_entry_size(&proposal_of(body + 1)).unwrap_err();
        assert!(err.to_string().contains("at most"), "{err}");
        let entries: Vec<Entry<_>> = (0..MAX_APPEND_ENTRIES as u64)
            .map(|i| Entry {
                log_id: LogId::new(CommittedLeaderId::new(u64::MAX, u64::MAX), u64::MAX - i),
                payload: EntryPayload::Normal(LogCommand {
                    proposed_at_ms: u64::MAX,
                    proposal: proposal_of(body),
                }),
            })
            .collect();
        let rpc = PeerRequest::Raft(RaftRpc::AppendEntries(AppendEntriesRequest {
            vote: Vote::new_committed(u64::MAX, u64::MAX),
            prev_log_id: Some(LogId::new(CommittedLeaderId::new(u64::MAX, 1), u64::MAX)),
            entries,
            leader_commit: Some(LogId::new(CommittedLeaderId::new(u64::MAX, 1), u64::MAX)),
        }));
        let bytes = mpc_protocol::encode(&rpc).unwrap();
        assert!(
            bytes.len() <= MAX_P2P_MESSAGE_BYTES,
            "{} bytes for {MAX_APPEND_ENTRIES} entries",
            bytes.len()
        );
    }

    #[test]
    fn per_peer_slots_are_bounded_and_released() {
        let slots = Mutex::new(BTreeMap::new());
        for _ in 0..MAX_INBOUND_PER_PEER {
            assert!(take_peer_slot(&slots, 2));
        }
        assert!(!take_peer_slot(&slots, 2), "a 65th request from one peer");
        assert!(take_peer_slot(&slots, 3), "another peer is not affected");
        release_peer_slot(&slots, 2);
        assert!(take_peer_slot(&slots, 2));
    }
}
