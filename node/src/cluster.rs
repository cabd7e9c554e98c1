//! [`ClusterHandle`]: what the RPC server and the inbound-request server need from Raft —
//! submitting a signed command (locally or forwarded to the leader), read barriers for
//! linearizable reads, and status.

use crate::clock::now_ms;
use crate::heartbeat::PeerStatusTable;
use crate::p2p::messages::{ForwardError, PeerRequest, PeerResponse};
use crate::p2p::{Inbound, P2pHandle};
use libp2p::PeerId;
use mpc_bootstrap::genesis::Genesis;
use mpc_consensus::command::SignedCommand;
use mpc_consensus::custody::SignedReport;
use mpc_consensus::error::ConsensusError;
use mpc_consensus::network::serve_rpc;
use mpc_consensus::raft::{LogCommand, NodeId, Proposal, Raft};
use mpc_consensus::state::{CommandOutcome, CustodyState};
use mpc_consensus::store::StateMachineStore;
use openraft::error::{ClientWriteError, RaftError};
use std::collections::BTreeMap;
use std::sync::Arc;
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
    peers_by_node: BTreeMap<NodeId, PeerId>,
    statuses: PeerStatusTable,
}

impl ClusterHandle {
    /// Bundles the parts.
    pub fn new(
        node_id: NodeId,
        raft: Raft,
        sm: StateMachineStore,
        p2p: P2pHandle,
        genesis: Genesis,
        peers_by_node: BTreeMap<NodeId, PeerId>,
        statuses: PeerStatusTable,
    ) -> Self {
        let cluster_id = genesis.hash();
        ClusterHandle {
            inner: Arc::new(Inner {
                node_id,
                raft,
                sm,
                p2p,
                genesis,
                cluster_id,
                peers_by_node,
                statuses,
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
    /// Peer id of a node.
    pub fn peer_of(&self, node: NodeId) -> Option<PeerId> {
        self.inner.peers_by_node.get(&node).copied()
    }

    /// Request changes as they are applied (and flushed) here; see
    /// [`StateMachineStore::subscribe_requests`].
    pub fn subscribe_requests(
        &self,
    ) -> tokio::sync::broadcast::Receiver<std::sync::Arc<mpc_consensus::custody::Request>> {
        self.inner.sm.subscribe_requests()
    }

    /// Runs `f` on the local custody state.
    pub fn read_state<T>(&self, f: impl FnOnce(&CustodyState) -> T) -> Result<T, ClusterError> {
        self.inner.sm.read(f).map_err(ClusterError::Internal)
    }

    /// Verifies `cmd`, has it committed (here or at the leader) and returns its outcome. A
    /// command already applied returns its first outcome without another log entry.
    pub async fn submit(&self, cmd: SignedCommand) -> Result<CommandOutcome, ClusterError> {
        let verified = cmd
            .verify(&self.inner.cluster_id)
            .map_err(ClusterError::Invalid)?;
        let known = self.read_state(|s| {
            s.idempotent_outcome(&verified.signer, &verified.body.idempotency_key)
                .cloned()
        })?;
        if let Some(rec) = known {
            if rec.body_hash == verified.body_hash {
                return Ok(CommandOutcome {
                    replayed: true,
                    ..rec.outcome
                });
            }
        }
        self.propose(Proposal::User(cmd)).await
    }

    /// Has a node report committed (reports carry no idempotency key: duplicates are no-ops in
    /// `apply`).
    pub async fn submit_report(
        &self,
        report: SignedReport,
    ) -> Result<CommandOutcome, ClusterError> {
        self.propose(Proposal::Node(report)).await
    }

    async fn propose(&self, cmd: Proposal) -> Result<CommandOutcome, ClusterError> {
        let deadline = Instant::now() + WRITE_TIMEOUT;
        let mut last_problem = String::from("no leader elected");
        while Instant::now() < deadline {
            match self.write_local(cmd.clone()).await? {
                Attempt::Done(outcome) => return Ok(*outcome),
                Attempt::NotLeader(Some(leader)) if leader != self.inner.node_id => {
                    match self.forward_write(leader, cmd.clone(), deadline).await {
                        Ok(Some(outcome)) => {
                            self.wait_applied(outcome.log_index, deadline).await;
                            return Ok(outcome);
                        }
                        Ok(None) => last_problem = format!("node {leader} is no longer leader"),
                        Err(ClusterError::Invalid(e)) => return Err(ClusterError::Invalid(e)),
                        Err(e) => last_problem = e.to_string(),
                    }
                }
                Attempt::NotLeader(_) => last_problem = "no leader elected".into(),
            }
            tokio::time::sleep(RETRY_PAUSE).await;
        }
        Err(ClusterError::Unavailable(format!(
            "not committed within {WRITE_TIMEOUT:?}: {last_problem}"
        )))
    }

    async fn write_local(&self, proposal: Proposal) -> Result<Attempt, ClusterError> {
        let entry = LogCommand {
            proposed_at_ms: now_ms(),
            proposal,
        };
        match self.inner.raft.client_write(entry).await {
            Ok(resp) => Ok(Attempt::Done(Box::new(resp.data))),
            Err(RaftError::APIError(ClientWriteError::ForwardToLeader(f))) => {
                Ok(Attempt::NotLeader(f.leader_id))
            }
            Err(e) => Err(ClusterError::Internal(e.to_string())),
        }
    }

    /// `Ok(None)` when the target is not (or no longer) the leader.
    async fn forward_write(
        &self,
        leader: NodeId,
        cmd: Proposal,
        deadline: Instant,
    ) -> Result<Option<CommandOutcome>, ClusterError> {
        let peer = self.peer_of(leader).ok_or_else(|| {
            ClusterError::Internal(format!("leader {leader} is not in the genesis"))
        })?;
        let timeout = deadline.saturating_duration_since(Instant::now());
        let resp = self
            .inner
            .p2p
            .request(peer, PeerRequest::Write(cmd), timeout)
            .await
            .map_err(|e| ClusterError::Unavailable(e.to_string()))?;
        match resp {
            PeerResponse::Write(Ok(outcome)) => Ok(Some(outcome)),
            PeerResponse::Write(Err(ForwardError::NotLeader(_))) => Ok(None),
            PeerResponse::Write(Err(ForwardError::Invalid(e))) => Err(ClusterError::Invalid(e)),
            PeerResponse::Write(Err(ForwardError::Raft(e))) => Err(ClusterError::Unavailable(e)),
            _ => Err(ClusterError::Unavailable(
                "leader answered with the wrong message".into(),
            )),
        }
    }

    async fn wait_applied(&self, index: u64, deadline: Instant) {
        let timeout = deadline.saturating_duration_since(Instant::now());
        let _ = self
            .inner
            .raft
            .wait(Some(timeout))
            .applied_index_at_least(Some(index), "read your write")
            .await;
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

    /// Serves one request from a peer.
    pub async fn serve_inbound(&self, req: PeerRequest) -> PeerResponse {
        match req {
            PeerRequest::Raft(rpc) => PeerResponse::Raft(serve_rpc(&self.inner.raft, rpc).await),
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

    async fn serve_forwarded_write(&self, cmd: Proposal) -> Result<CommandOutcome, ForwardError> {
        match &cmd {
            Proposal::User(c) => {
                c.verify(&self.inner.cluster_id)
                    .map_err(ForwardError::Invalid)?;
            }
            Proposal::Node(r) => {
                let key = self
                    .read_state(|s| s.genesis().nodes.get(&r.node_id).copied())
                    .map_err(|e| ForwardError::Raft(e.to_string()))?
                    .ok_or_else(|| ForwardError::Invalid("report from an unknown node".into()))?;
                r.verify(&self.inner.cluster_id, &key.0)
                    .map_err(ForwardError::Invalid)?;
            }
        }
        match self.write_local(cmd).await {
            Ok(Attempt::Done(o)) => Ok(*o),
            Ok(Attempt::NotLeader(l)) => Err(ForwardError::NotLeader(l)),
            Err(e) => Err(ForwardError::Raft(e.to_string())),
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
        while let Some(req) = inbound.recv().await {
            let Ok(permit) = permits.clone().acquire_owned().await else {
                break;
            };
            let this = self.clone();
            if let PeerRequest::Session(frame) = req.request {
                let response = PeerResponse::Session(hub.handle_frame(req.node_id, frame));
                this.inner.p2p.respond(req.channel, response).await;
                drop(permit);
                continue;
            }
            tokio::spawn(async move {
                let response = this.serve_inbound(req.request).await;
                this.inner.p2p.respond(req.channel, response).await;
                drop(permit);
            });
        }
    }
}
