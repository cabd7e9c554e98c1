//! Leader-side group commit of users' commands (issue 15, decision 0035): while
//! [`MAX_PROPOSALS_IN_FLIGHT`] proposals of batchable commands (submitting and approving
//! requests) wait for their commit, the commands that arrive queue up, and the next proposal takes
//! them all as one [`Proposal::Users`] entry — one log entry, one replication, one flushed append
//! for many requests. With fewer in flight a command goes at once, alone, as the plain
//! [`Proposal::User`] it always was: no timer, no added latency on a quiet network.
//!
//! Nothing is trusted to the batch: every node applies each command of it on its own (its
//! signature verified again, its idempotency checked, its policy evaluated) and each gets its
//! own outcome, which is what its client hears (`CommandOutcome::item` names its place, so that
//! a follower answering a forwarded write looks up what *it* applied there).

use super::{Attempt, ClusterError, ClusterHandle};
use crate::clock::now_ms;
use mpc_custody::command::SignedCommand;
use mpc_custody::entry::{LogCommand, Proposal, MAX_BATCHED_COMMANDS};
use mpc_custody::state::CommandOutcome;
use mpc_protocol::limits::MAX_LOG_ENTRY_BYTES;
use tokio::sync::oneshot;

/// Proposals of batchable commands waiting for their commit at once; more commands queue.
const MAX_PROPOSALS_IN_FLIGHT: usize = 2;
/// Bytes of commands in one batch: half the largest log entry, so that the entry's framing and
/// an estimate's error stay far within it (a larger command goes alone).
const BATCH_BYTES: usize = MAX_LOG_ENTRY_BYTES / 2;

/// A command waiting for a proposal, and where its outcome goes.
pub(super) struct Waiting {
    cmd: SignedCommand,
    tx: oneshot::Sender<Result<Attempt, ClusterError>>,
}

/// A command's size in a log entry, near enough (CBOR adds a few bytes per field).
fn command_bytes(cmd: &SignedCommand) -> usize {
    64 + cmd.body.len() + cmd.signature.len() + 64
}

/// Batchable commands waiting to be proposed.
pub(super) type CommandQueue = crate::group_commit::GroupQueue<Waiting>;

/// A new, empty queue.
pub(super) fn command_queue() -> CommandQueue {
    CommandQueue::new(MAX_PROPOSALS_IN_FLIGHT)
}

fn next_commands(q: &mut CommandQueue) -> Vec<Waiting> {
    q.next_batch(MAX_BATCHED_COMMANDS, BATCH_BYTES, |w| command_bytes(&w.cmd))
}

/// The proposal for a batch: alone, the plain `User` proposal.
fn proposal_of(batch: &[Waiting]) -> Proposal {
    match batch {
        [one] => Proposal::User(one.cmd.clone()),
        _ => Proposal::Users(batch.iter().map(|w| w.cmd.clone()).collect()),
    }
}

/// Each command's own outcome from its batch entry's outcome (`items`, in order); a lone
/// command's is the entry's.
fn item_outcomes(entry: CommandOutcome, n: usize) -> Vec<CommandOutcome> {
    if n == 1 {
        return vec![entry];
    }
    let mut items = entry.items.clone();
    // A batch `apply` refused as a whole (it never is when made here) answers each with why.
    items.resize_with(n, || CommandOutcome {
        error: Some(
            entry
                .error
                .clone()
                .unwrap_or_else(|| "the batch entry holds no outcome for this command".into()),
        ),
        log_index: entry.log_index,
        ..Default::default()
    });
    items
}

impl ClusterHandle {
    /// Has a batchable user command committed, with others when proposals are already in
    /// flight (see the module docs). A node that is not the leader proposes it alone (and
    /// hears where the leader is).
    pub(super) async fn write_batched(&self, cmd: SignedCommand) -> Result<Attempt, ClusterError> {
        let leader = self.inner.raft.metrics().borrow().current_leader;
        if leader != Some(self.inner.node_id) {
            return self.write_entry(Proposal::User(cmd)).await;
        }
        let (tx, rx) = oneshot::channel();
        // (A poisoned lock still holds a consistent queue: nothing panics while holding it.)
        let start = self
            .inner
            .commands
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(Waiting { cmd, tx });
        if start {
            let this = self.clone();
            tokio::spawn(async move { this.propose_commands().await });
        }
        rx.await
            .map_err(|_| ClusterError::Internal("the proposer of a batch stopped".into()))?
    }

    /// Proposes batches until the queue is empty.
    async fn propose_commands(&self) {
        loop {
            let batch = next_commands(
                &mut self
                    .inner
                    .commands
                    .lock()
                    .unwrap_or_else(|p| p.into_inner()),
            );
            if batch.is_empty() {
                return;
            }
            let n = batch.len();
            let result = self.write_entry(proposal_of(&batch)).await;
            if n > 1 {
                tracing::debug!(commands = n, "users' commands proposed together");
            }
            match result {
                Ok(Attempt::Done(entry)) => {
                    for (w, o) in batch.into_iter().zip(item_outcomes(*entry, n)) {
                        let _ = w.tx.send(Ok(Attempt::Done(Box::new(o))));
                    }
                }
                Ok(Attempt::NotLeader(l)) => {
                    for w in batch {
                        let _ = w.tx.send(Ok(Attempt::NotLeader(l)));
                    }
                }
                Err(e) => {
                    let why = e.to_string();
                    for w in batch {
                        let _ = w.tx.send(Err(ClusterError::Internal(why.clone())));
                    }
                }
            }
        }
    }

    /// Proposes one log entry here (this node must be the leader).
    pub(super) async fn write_entry(&self, proposal: Proposal) -> Result<Attempt, ClusterError> {
        let entry = LogCommand {
            proposed_at_ms: now_ms(),
            proposal,
        };
        let started = std::time::Instant::now();
        match self.inner.raft.client_write(entry).await {
            Ok(resp) => {
                crate::metrics::raft_committed(started.elapsed());
                Ok(Attempt::Done(Box::new(resp.data)))
            }
            Err(openraft::error::RaftError::APIError(
                openraft::error::ClientWriteError::ForwardToLeader(f),
            )) => Ok(Attempt::NotLeader(f.leader_id)),
            Err(e) => Err(ClusterError::Internal(e.to_string())),
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use mpc_custody::types::UserKey;

    fn waiting(n: usize, body_len: usize) -> Waiting {
        let (tx, _rx) = oneshot::channel();
        let mut body = n.to_string();
        body.push_str(&"x".repeat(body_len.saturating_sub(body.len())));
        Waiting {
            cmd: SignedCommand {
                body,
                signer: UserKey([7; 32]),
                signature: "ab".repeat(64),
            },
            tx,
        }
    }

    /// Group commit: the first commands start proposers, the rest wait and go together within
    /// the count and byte bounds; a proposer stops when nothing is left.
    #[test]
    fn queued_commands_go_together_within_bounds() {
        let mut q = command_queue();
        assert!(q.push(waiting(0, 500)));
        assert!(q.push(waiting(1, 500)));
        for n in 2..150 {
            assert!(!q.push(waiting(n, 500)), "only two proposers at once");
        }
        let sizes: Vec<usize> = std::iter::from_fn(|| {
            let b = next_commands(&mut q);
            (!b.is_empty()).then_some(b.len())
        })
        .collect();
        assert_eq!(sizes, vec![64, 64, 22]);
        assert_eq!(q.in_flight(), 1, "the proposer that found nothing stopped");
        // Large commands: never more than BATCH_BYTES together; one larger goes alone.
        let mut q = command_queue();
        for n in 0..6 {
            q.push(waiting(n, 20_000));
        }
        q.push(waiting(6, BATCH_BYTES));
        q.push(waiting(7, 100));
        let sizes: Vec<usize> = std::iter::from_fn(|| {
            let b = next_commands(&mut q);
            (!b.is_empty()).then_some(b.len())
        })
        .collect();
        assert_eq!(sizes, vec![3, 3, 1, 1]);
    }

    /// A lone command is the plain `User` proposal; a batch carries each command in order, and a
    /// full batch fits a log entry.
    #[test]
    fn a_lone_command_is_the_plain_proposal_and_a_full_batch_fits_an_entry() {
        assert!(matches!(proposal_of(&[waiting(0, 10)]), Proposal::User(_)));
        let batch: Vec<Waiting> = (0..3).map(|n| waiting(n, 10)).collect();
        match proposal_of(&batch) {
            Proposal::Users(cmds) => assert_eq!(
                cmds.iter().map(|c| c.body.clone()).collect::<Vec<_>>(),
                batch.iter().map(|w| w.cmd.body.clone()).collect::<Vec<_>>()
            ),
            p => panic!("{p:?}"),
        }
        let per = BATCH_BYTES / MAX_BATCHED_COMMANDS - 300;
        let full: Vec<Waiting> = (0..MAX_BATCHED_COMMANDS).map(|n| waiting(n, per)).collect();
        let entry = LogCommand {
            proposed_at_ms: u64::MAX,
            proposal: proposal_of(&full),
        };
        let bytes = mpc_protocol::encode(&entry).unwrap().len();
        assert!(bytes <= MAX_LOG_ENTRY_BYTES, "{bytes} bytes");
    }

    /// Each command hears its own item's outcome; a batch refused whole answers each with why.
    #[test]
    fn each_command_hears_its_own_outcome() {
        let entry = CommandOutcome {
            log_index: 9,
            items: (0..3)
                .map(|i| CommandOutcome {
                    log_index: 9,
                    item: i,
                    ..Default::default()
                })
                .collect(),
            ..Default::default()
        };
        let items = item_outcomes(entry, 3);
        assert_eq!(items.iter().map(|o| o.item).collect::<Vec<_>>(), [0, 1, 2]);
        let refused = CommandOutcome {
            log_index: 9,
            error: Some("a batch of 0 commands".into()),
            ..Default::default()
        };
        let items = item_outcomes(refused, 2);
        assert!(items
            .iter()
            .all(|o| o.error.as_deref() == Some("a batch of 0 commands")));
    }
}
