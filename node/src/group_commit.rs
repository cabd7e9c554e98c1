//! The queue behind the node's two group commits (signature reports, decision 0033; users'
//! commands, decision 0035): at most `max_in_flight` proposals wait for their commit at once;
//! items that arrive meanwhile queue, and the next proposal takes as many as fit. With fewer
//! in flight an item goes at once — no timer, no added latency when the network is quiet.

use std::collections::VecDeque;

/// Items waiting to be proposed, and how many proposers run.
pub(crate) struct GroupQueue<T> {
    queued: VecDeque<T>,
    in_flight: usize,
    max_in_flight: usize,
}

impl<T> GroupQueue<T> {
    /// An empty queue allowing `max_in_flight` proposers.
    pub(crate) fn new(max_in_flight: usize) -> Self {
        GroupQueue {
            queued: VecDeque::new(),
            in_flight: 0,
            max_in_flight,
        }
    }

    /// Queues an item; true when the caller should start a proposer.
    pub(crate) fn push(&mut self, item: T) -> bool {
        self.queued.push_back(item);
        if self.in_flight < self.max_in_flight {
            self.in_flight += 1;
            true
        } else {
            false
        }
    }

    /// The next batch: as many queued items as fit `max_items` and `max_bytes` (by `size`; at
    /// least one, so a large item goes alone). Empty when nothing is queued: the proposer that
    /// asked stops.
    pub(crate) fn next_batch(
        &mut self,
        max_items: usize,
        max_bytes: usize,
        size: impl Fn(&T) -> usize,
    ) -> Vec<T> {
        let mut batch = Vec::new();
        let mut bytes = 0;
        while let Some(next) = self.queued.front() {
            let n = size(next);
            if !batch.is_empty() && (batch.len() >= max_items || bytes + n > max_bytes) {
                break;
            }
            bytes += n;
            batch.extend(self.queued.pop_front());
        }
        if batch.is_empty() {
            self.in_flight = self.in_flight.saturating_sub(1);
        }
        batch
    }

    /// Proposers running.
    #[cfg(test)]
    pub(crate) fn in_flight(&self) -> usize {
        self.in_flight
    }
}
