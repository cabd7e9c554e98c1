//! The write path: a user's command or a node's report verified, proposed here when this node
//! leads (batched with others when it may be, [`super::group_commit`]) or forwarded to the
//! leader, and answered with the outcome *this* node applied at the index the leader names —
//! never with the leader's word alone (invariant 10).

use super::{Attempt, ClusterError, ClusterHandle, RETRY_PAUSE, WRITE_TIMEOUT};
use crate::p2p::messages::{ForwardError, PeerRequest, PeerResponse};
use mpc_consensus::raft::NodeId;
use mpc_consensus::store::proposal_hash;
use mpc_custody::command::{SignedCommand, VerifiedCommand};
use mpc_custody::entry::{LogCommand, Proposal};
use mpc_custody::state::CommandOutcome;
use mpc_custody::SignedReport;
use mpc_protocol::limits::MAX_LOG_ENTRY_BYTES;
use std::time::{Duration, Instant};
impl ClusterHandle {
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
        self.check_signer(&verified).await?;
        self.inner
            .write_limiter
            .admit(&verified.signer, Instant::now())
            .map_err(ClusterError::Refused)?;
        let batchable = verified.body.action.batchable();
        self.propose(Proposal::User(cmd), batchable).await
    }

    /// Refuses a stranger's command before it reaches the log (see
    /// `CustodyState::signer_known`). A signer unknown to this node's applied state gets a second
    /// look after a read barrier, in case this node lags behind a just-committed `member_add`.
    async fn check_signer(&self, cmd: &VerifiedCommand) -> Result<(), ClusterError> {
        if self.read_state(|s| s.signer_known(cmd))?.is_ok() {
            return Ok(());
        }
        self.read_barrier().await?;
        self.read_state(|s| s.signer_known(cmd))?
            .map_err(|e| ClusterError::Refused(format!("{e}; nothing was written")))
    }

    /// Has a node report committed (reports carry no idempotency key: duplicates are no-ops in
    /// `apply`).
    pub async fn submit_report(
        &self,
        report: SignedReport,
    ) -> Result<CommandOutcome, ClusterError> {
        self.propose(Proposal::Node(report), false).await
    }

    /// Has `cmd` committed, here or at the leader; a `batchable` user command may share its
    /// entry with others ([`group_commit`]).
    pub(super) async fn propose(
        &self,
        cmd: Proposal,
        batchable: bool,
    ) -> Result<CommandOutcome, ClusterError> {
        check_entry_size(&cmd)?;
        let deadline = Instant::now() + WRITE_TIMEOUT;
        let mut last_problem = String::from("no leader elected");
        while Instant::now() < deadline {
            match self.write_local(cmd.clone(), batchable).await? {
                Attempt::Done(outcome) => return Ok(*outcome),
                Attempt::NotLeader(Some(leader)) if leader != self.inner.node_id => {
                    match self.forward_write(leader, cmd.clone(), deadline).await {
                        Ok(Some(claimed)) => {
                            return self.own_outcome(&cmd, &claimed, deadline).await;
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

    async fn write_local(
        &self,
        proposal: Proposal,
        batchable: bool,
    ) -> Result<Attempt, ClusterError> {
        match proposal {
            Proposal::User(c) if batchable => self.write_batched(c).await,
            p => self.write_entry(p).await,
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

    /// The outcome of `cmd` as this node applied it, given the leader's answer (`claimed`): the
    /// client hears what this node applied itself, never the leader's word. The leader's answer
    /// only names the log index (for a replayed command, the index where it was first applied);
    /// its `replayed` flag is kept, since an entry this node applied with the same command is
    /// then the first application either way.
    async fn own_outcome(
        &self,
        cmd: &Proposal,
        claimed: &CommandOutcome,
        deadline: Instant,
    ) -> Result<CommandOutcome, ClusterError> {
        let index = claimed.log_index;
        let not_committed = |why: &str| {
            ClusterError::Unavailable(format!(
                "the leader reported the write at log index {index}, but {why}; the write may \
                 not be committed"
            ))
        };
        let timeout = deadline
            .saturating_duration_since(Instant::now())
            .max(Duration::from_secs(1));
        self.inner
            .raft
            .wait(Some(timeout))
            .applied_index_at_least(Some(index), "read your write")
            .await
            .map_err(|_| not_committed("this node has not applied that index in time"))?;
        let item = claimed.item;
        let mut own = match self.inner.sm.applied_outcome(index, item) {
            Some(a) if a.proposal_hash == proposal_hash(cmd) => a.outcome,
            Some(_) => {
                tracing::warn!(
                    index,
                    "the leader reported a write at an index where this node applied another entry"
                );
                return Err(not_committed("this node applied a different entry there"));
            }
            // Applied before the recent window (or before a restart): the idempotency record
            // this node applied for the same command, if it was first applied at that index.
            None => self
                .first_outcome_of(cmd)?
                .filter(|o| o.log_index == index && o.item == item)
                .ok_or_else(|| not_committed("this node applied no such command there"))?,
        };
        own.replayed |= claimed.replayed;
        Ok(own)
    }

    /// The outcome this node recorded when it first applied user command `cmd`, if it did.
    fn first_outcome_of(&self, cmd: &Proposal) -> Result<Option<CommandOutcome>, ClusterError> {
        let Proposal::User(c) = cmd else {
            return Ok(None);
        };
        let Ok(v) = c.verify(&self.inner.cluster_id) else {
            return Ok(None);
        };
        self.read_state(|s| {
            s.idempotent_outcome(&v.signer, &v.body.idempotency_key)
                .filter(|rec| rec.body_hash == v.body_hash)
                .map(|rec| rec.outcome.clone())
        })
    }

    pub(super) async fn serve_forwarded_write(
        &self,
        cmd: Proposal,
    ) -> Result<CommandOutcome, ForwardError> {
        let mut batchable = false;
        match &cmd {
            Proposal::User(c) => {
                let v = c
                    .verify(&self.inner.cluster_id)
                    .map_err(ForwardError::Invalid)?;
                self.check_signer(&v)
                    .await
                    .map_err(|e| ForwardError::Invalid(e.to_string()))?;
                batchable = v.body.action.batchable();
            }
            Proposal::Users(_) => {
                return Err(ForwardError::Invalid(
                    "commands are batched by the leader only; forward each on its own".into(),
                ))
            }
            Proposal::Passkey(d) => {
                self.read_state(|s| s.passkey_decision_check(d))
                    .map_err(|e| ForwardError::Raft(e.to_string()))?
                    .map_err(ForwardError::Invalid)?;
            }
            Proposal::Node(r) => {
                let key = self
                    .read_state(|s| s.node_key(r.node_id))
                    .map_err(|e| ForwardError::Raft(e.to_string()))?
                    .ok_or_else(|| ForwardError::Invalid("report from an unknown node".into()))?;
                r.verify(&self.inner.cluster_id, &key.0)
                    .map_err(ForwardError::Invalid)?;
            }
        }
        #[cfg(feature = "forge-for-tests")]
        if let Some(fake) = self.forged_write_outcome(&cmd).await {
            return Ok(fake);
        }
        match self.write_local(cmd, batchable).await {
            #[cfg(feature = "forge-for-tests")]
            Ok(Attempt::Done(o)) => Ok(swapped_batch_item(*o)),
            #[cfg(not(feature = "forge-for-tests"))]
            Ok(Attempt::Done(o)) => Ok(*o),
            Ok(Attempt::NotLeader(l)) => Err(ForwardError::NotLeader(l)),
            Err(e) => Err(ForwardError::Raft(e.to_string())),
        }
    }

    /// TEST BUILDS ONLY (`fake-write-outcome` attack): as leader, acknowledge a forwarded
    /// `member_remove` at the next log index without proposing it.
    #[cfg(feature = "forge-for-tests")]
    async fn forged_write_outcome(&self, cmd: &Proposal) -> Option<CommandOutcome> {
        let Proposal::User(c) = cmd else {
            return None;
        };
        if !crate::forge::attack("fake-write-outcome") || !c.body.contains("\"member_remove\"") {
            return None;
        }
        let metrics = self.inner.raft.metrics().borrow().clone();
        if metrics.current_leader != Some(self.inner.node_id) {
            return None;
        }
        let index = metrics.last_log_index.unwrap_or(0) + 1;
        crate::forge::record(&serde_json::json!({
            "attack": "fake-write-outcome", "log_index": index,
        }));
        Some(CommandOutcome {
            result: None,
            error: None,
            audit_seq: Some(index),
            log_index: index,
            replayed: false,
            ..Default::default()
        })
    }
}

/// TEST BUILDS ONLY (`swap-batch-item` attack): as leader, answer a forwarded command that
/// shares its entry with others with its neighbour's place in that entry (item − 1), whose
/// outcome (another client's request, or another reason for a refusal) the forwarding node would
/// pass on if it trusted the leader's answer.
#[cfg(feature = "forge-for-tests")]
fn swapped_batch_item(mut o: CommandOutcome) -> CommandOutcome {
    if o.item == 0 || !crate::forge::attack("swap-batch-item") {
        return o;
    }
    crate::forge::record(&serde_json::json!({
        "attack": "swap-batch-item", "log_index": o.log_index, "item": o.item,
    }));
    o.item -= 1;
    o
}

/// Refuses a proposal whose log entry would exceed [`MAX_LOG_ENTRY_BYTES`], so that every
/// AppendEntries batch fits one p2p message.
pub(super) fn check_entry_size(proposal: &Proposal) -> Result<(), ClusterError> {
    let entry = LogCommand {
        proposed_at_ms: u64::MAX,
        proposal: proposal.clone(),
    };
    let bytes = mpc_protocol::encode(&entry)
        .map_err(|e| ClusterError::Internal(format!("encoding a proposal: {e}")))?;
    if bytes.len() > MAX_LOG_ENTRY_BYTES {
        return Err(ClusterError::Invalid(format!(
            "the command is {} bytes as a log entry; at most {MAX_LOG_ENTRY_BYTES} are allowed",
            bytes.len()
        )));
    }
    Ok(())
}
