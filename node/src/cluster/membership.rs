//! The Raft guard and membership following the network's verified changes (decision 0027).

use super::ClusterHandle;
use mpc_consensus::raft::{NodeId, PeerNode};
use std::collections::BTreeMap;

/// An added node becomes a voter once its log is at most this far behind the leader's.
const LEARNER_LAG_ENTRIES: u64 = 20;

impl ClusterHandle {
    /// `node`'s removal was verified against the genesis admins: the Raft guard refuses it.
    pub fn guard_remove(&self, node: NodeId) {
        self.inner.guard.remove(node);
    }

    /// `node`'s addition was verified against the genesis admins: the Raft guard accepts it
    /// (as `entry`).
    pub fn guard_add(&self, node: NodeId, entry: PeerNode) {
        self.inner.guard.add(node, entry);
    }

    /// As leader, makes the Raft membership follow the network's verified changes: a removed
    /// node leaves the voters; an added node becomes a learner, then a voter once it has caught
    /// up (openraft's joint consensus; the guard on every node accepts each change only once it
    /// verified it itself). Does nothing on a follower.
    pub async fn follow_membership(
        &self,
        removed: &std::collections::BTreeSet<NodeId>,
        added: &BTreeMap<NodeId, PeerNode>,
    ) {
        use std::collections::BTreeSet;
        let metrics = self.inner.raft.metrics().borrow().clone();
        if metrics.current_leader != Some(self.inner.node_id) {
            return;
        }
        let membership = metrics.membership_config.membership().clone();
        for (node, entry) in added {
            if membership.get_node(node).is_none() && !removed.contains(node) {
                match self
                    .inner
                    .raft
                    .add_learner(*node, entry.clone(), false)
                    .await
                {
                    Ok(_) => tracing::warn!(node, "added node is a Raft learner"),
                    Err(e) => tracing::warn!(node, "added node not yet a learner: {e}"),
                }
                return;
            }
        }
        let voters: BTreeSet<NodeId> = membership.voter_ids().collect();
        let last = metrics.last_log_index.unwrap_or(0);
        let caught_up = |n: &NodeId| {
            metrics
                .replication
                .as_ref()
                .and_then(|r| r.get(n).cloned().flatten())
                .is_some_and(|m| m.index + LEARNER_LAG_ENTRIES >= last)
        };
        let want: BTreeSet<NodeId> = voters
            .iter()
            .chain(added.keys().filter(|n| caught_up(n)))
            .copied()
            .filter(|n| !removed.contains(n))
            .collect();
        if want == voters || want.is_empty() {
            return;
        }
        match self.inner.raft.change_membership(want.clone(), false).await {
            Ok(_) => tracing::warn!(voters = ?want, "Raft voters changed"),
            Err(e) => tracing::warn!("Raft membership change not done yet: {e}"),
        }
    }
}
