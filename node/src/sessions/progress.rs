//! A running session's view of its peers and of time (see `SessionHub::run`).

use super::{RunError, MAX_SESSION};
use mpc_consensus::raft::NodeId;
use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

/// A session fails, naming the peer, once a participant has had no connection to this node for
/// this long (a crashed or restarted node has lost the session anyway): the next attempt goes
/// to other signers in seconds rather than after the idle timeout (decision 0030).
pub(super) const PEER_GONE: Duration = Duration::from_secs(3);

/// Who has been heard from, when the last participant's message came, since when each
/// participant has had no connection, and the session's hard deadline.
pub(super) struct Progress {
    pub(super) others: Vec<NodeId>,
    heard: BTreeSet<NodeId>,
    pub(super) deadline: Instant,
    last_message: Instant,
    down_since: BTreeMap<NodeId, Instant>,
}

impl Progress {
    pub(super) fn new(others: Vec<NodeId>) -> Self {
        let now = Instant::now();
        Progress {
            others,
            heard: BTreeSet::new(),
            deadline: now + MAX_SESSION,
            last_message: now,
            down_since: BTreeMap::new(),
        }
    }

    pub(super) fn heard_from(&mut self, node: NodeId) {
        self.heard.insert(node);
        self.last_message = Instant::now();
    }

    /// How long to wait for the next message: until the idle timeout or the hard deadline.
    pub(super) fn wait_left(&self, idle: Duration) -> Duration {
        let until = self.deadline.min(self.last_message + idle);
        until.saturating_duration_since(Instant::now())
    }

    /// Notes which participants are connected at `now`; the first one without a connection for
    /// `after`, if any.
    pub(super) fn gone(
        &mut self,
        now: Instant,
        after: Duration,
        connected: impl Fn(NodeId) -> bool,
    ) -> Option<NodeId> {
        for n in &self.others {
            if connected(*n) {
                self.down_since.remove(n);
            } else {
                self.down_since.entry(*n).or_insert(now);
            }
        }
        self.down_since
            .iter()
            .find(|(_, since)| now.saturating_duration_since(**since) >= after)
            .map(|(n, _)| *n)
    }

    /// The failure for a participant without a connection: it alone is named unresponsive.
    pub(super) fn peer_gone(&self, node: NodeId, now: Instant) -> RunError {
        let secs = self
            .down_since
            .get(&node)
            .map_or(0.0, |s| now.saturating_duration_since(*s).as_secs_f64());
        RunError {
            reason: format!("node {node} has had no connection to this node for {secs:.0} s"),
            culprits: Vec::new(),
            unresponsive: vec![node],
        }
    }

    /// A failure naming the participants never heard from.
    pub(super) fn fail(&self, reason: String) -> RunError {
        RunError {
            reason,
            culprits: Vec::new(),
            unresponsive: self
                .others
                .iter()
                .copied()
                .filter(|n| !self.heard.contains(n))
                .collect(),
        }
    }

    pub(super) fn timed_out(&self) -> RunError {
        let why = if Instant::now() >= self.deadline {
            format!("session timed out (ran {} s)", MAX_SESSION.as_secs())
        } else {
            format!(
                "session timed out (no message for {:.0} s)",
                self.last_message.elapsed().as_secs_f64()
            )
        };
        self.fail(why)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_participant_without_a_connection_for_peer_gone_fails_the_session_naming_it() {
        let t0 = Instant::now();
        let mut p = Progress::new(vec![2, 3]);
        let up = |n: NodeId| n != 3;
        // Node 3 is first seen down at t0; a blip shorter than PEER_GONE is forgiven.
        assert_eq!(p.gone(t0, PEER_GONE, up), None);
        assert_eq!(p.gone(t0 + PEER_GONE / 2, PEER_GONE, |_| true), None);
        assert_eq!(
            p.gone(t0 + PEER_GONE, PEER_GONE, up),
            None,
            "down again only now"
        );
        let later = t0 + PEER_GONE * 2;
        assert_eq!(p.gone(later, PEER_GONE, up), Some(3));
        let e = p.peer_gone(3, later);
        assert_eq!(e.unresponsive, vec![3]);
        assert!(e.reason.contains("node 3"), "{}", e.reason);
        // Connected participants are never named.
        let mut q = Progress::new(vec![2, 3]);
        assert_eq!(q.gone(t0, PEER_GONE, |_| true), None);
        assert_eq!(q.gone(t0 + PEER_GONE * 10, PEER_GONE, |_| true), None);
    }
}
