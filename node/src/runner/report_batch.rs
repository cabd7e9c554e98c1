//! Signature reports go to the log together (issue 15): while [`MAX_BATCHES_IN_FLIGHT`]
//! proposals of them are waiting for their commit, the reports that become due queue up, and
//! the next proposal takes them all — one log entry and one node signature for many signatures
//! ([`Report::Signatures`]; group commit, no timer). With nothing in flight a report goes at
//! once, alone, as the plain [`Report::Signature`] it was, so a lone signature waits for
//! nothing. Each item is still applied (and its signatures checked against the request) on its
//! own by every node.

use super::Runner;
use mpc_custody::{Report, SignedAttempt, MAX_SIGNATURE_ITEMS};
use mpc_engine::Input;
use tokio::sync::mpsc;

/// Proposals of signature reports waiting for their commit at once; more reports queue.
pub(super) const MAX_BATCHES_IN_FLIGHT: usize = 2;
/// Bytes of report items in one batch (a quarter of the largest report body: JSON framing and
/// escaping stay far under the limit).
const BATCH_BYTES: usize = mpc_protocol::limits::MAX_COMMAND_BODY_BYTES / 4;

/// A signature report the engine owes the log, and where its outcome goes.
pub(super) struct Queued {
    id: u64,
    item: SignedAttempt,
    tx: mpsc::Sender<Input>,
}

/// Signature reports waiting to be proposed.
pub(super) type SignatureQueue = crate::group_commit::GroupQueue<Queued>;

/// A new, empty queue.
pub(super) fn signature_queue() -> SignatureQueue {
    SignatureQueue::new(MAX_BATCHES_IN_FLIGHT)
}

/// The next batch of reports (at most [`MAX_SIGNATURE_ITEMS`] and [`BATCH_BYTES`]).
fn next_reports(q: &mut SignatureQueue) -> Vec<Queued> {
    q.next_batch(MAX_SIGNATURE_ITEMS, BATCH_BYTES, |r| item_bytes(&r.item))
}

/// An item's size in a report body, near enough (ids and hex need no escaping).
fn item_bytes(item: &SignedAttempt) -> usize {
    64 + item.request_id.len() + item.signatures.iter().map(|s| s.len() + 3).sum::<usize>()
}

/// The report for a batch: alone, the plain `Signature` report.
fn report_of(batch: &[Queued]) -> Report {
    match batch {
        [one] => Report::Signature {
            request_id: one.item.request_id.clone(),
            attempt: one.item.attempt,
            signatures: one.item.signatures.clone(),
        },
        _ => Report::Signatures {
            items: batch.iter().map(|q| q.item.clone()).collect(),
        },
    }
}

impl Runner {
    /// Queues a `Signature` report for the next batch (see the module docs).
    pub(super) fn propose_signature(&self, id: u64, item: SignedAttempt, tx: mpsc::Sender<Input>) {
        // (A poisoned lock still holds a consistent queue: nothing panics while holding it.)
        let start = self
            .inner
            .signature_queue
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(Queued { id, item, tx });
        if start {
            let this = self.clone();
            tokio::spawn(async move { this.propose_batches().await });
        }
    }

    /// Proposes batches until the queue is empty.
    async fn propose_batches(&self) {
        loop {
            let batch = next_reports(
                &mut self
                    .inner
                    .signature_queue
                    .lock()
                    .unwrap_or_else(|p| p.into_inner()),
            );
            if batch.is_empty() {
                return;
            }
            let outcome = self.submit(report_of(&batch)).await;
            if batch.len() > 1 {
                tracing::debug!(reports = batch.len(), "signature reports proposed together");
            }
            for q in batch {
                let _ =
                    q.tx.send(Input::Delivered {
                        id: q.id,
                        outcome: outcome.clone(),
                    })
                    .await;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn queued(n: usize, sig_len: usize) -> Queued {
        let (tx, _rx) = mpsc::channel(1);
        Queued {
            id: n as u64,
            item: SignedAttempt {
                request_id: format!("req-{n}").into(),
                attempt: 1,
                signatures: vec!["ab".repeat(sig_len / 2)],
            },
            tx,
        }
    }

    /// Group commit: the first reports start proposers, the rest wait and go together, within
    /// the item and byte bounds; a proposer stops when nothing is left.
    #[test]
    fn queued_reports_go_together_within_bounds() {
        let mut q = signature_queue();
        assert!(q.push(queued(0, 128)));
        assert!(q.push(queued(1, 128)));
        for n in 2..150 {
            assert!(!q.push(queued(n, 128)), "only two proposers at once");
        }
        let sizes: Vec<usize> = std::iter::from_fn(|| {
            let b = next_reports(&mut q);
            (!b.is_empty()).then_some(b.len())
        })
        .collect();
        assert_eq!(sizes, vec![64, 64, 22]);
        assert_eq!(q.in_flight(), 1, "the proposer that found nothing stopped");
        // A large item goes in a batch of its own rather than overflowing one (and nothing joins
        // it).
        let mut q = signature_queue();
        q.push(queued(0, 128));
        q.push(queued(1, BATCH_BYTES));
        q.push(queued(2, 128));
        let sizes: Vec<usize> = std::iter::from_fn(|| {
            let b = next_reports(&mut q);
            (!b.is_empty()).then_some(b.len())
        })
        .collect();
        assert_eq!(sizes, vec![1, 1, 1]);
    }

    #[test]
    fn a_lone_report_is_the_plain_signature_report() {
        assert!(matches!(
            report_of(&[queued(0, 128)]),
            Report::Signature { .. }
        ));
        assert!(matches!(
            report_of(&[queued(0, 128), queued(1, 128)]),
            Report::Signatures { items } if items.len() == 2
        ));
    }
}
