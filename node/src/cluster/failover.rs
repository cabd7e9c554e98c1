//! Fast failover (decision 0030): a follower whose connection to the leader closes campaigns as
//! soon as the other voters' leader lease has run out, instead of waiting out the lease *and* a
//! random election timeout on top of it (openraft's own timer, kept as the fallback for a leader
//! that vanishes without closing its connections).
//!
//! openraft refuses a vote while the voter's leader lease (`election_timeout_max` since it last
//! heard from the leader) runs, so campaigning earlier than the lease only wastes a term. The
//! surviving voters campaign one after the other, lowest id first, so that two of them do not
//! split the vote; a later one stands down when its turn comes if it has since granted a vote or
//! seen a new leader (openraft then reports no leader, or another one). A survivor that refuses
//! an earlier one's vote because its own log is longer (the dead leader had replicated more to
//! it) campaigns at once instead of waiting for its turn: only it can win.

use super::ClusterHandle;
use mpc_consensus::raft::NodeId;
use std::collections::BTreeSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::broadcast::error::RecvError;

/// Wait after the lease before the first survivor campaigns (the other voters may process the
/// leader's last heartbeat a little after the connection closed).
pub const AFTER_LEASE: Duration = Duration::from_millis(50);
/// Further wait per surviving voter with a lower id.
pub const PER_RANK: Duration = Duration::from_millis(200);

/// How long after losing the connection to `lost` this node campaigns: `None` unless `lost` is
/// the leader this node follows and this node is another voter.
pub fn campaign_delay(
    me: NodeId,
    lost: NodeId,
    leader: Option<NodeId>,
    voters: &BTreeSet<NodeId>,
    lease: Duration,
) -> Option<Duration> {
    if leader != Some(lost) || me == lost || !voters.contains(&me) {
        return None;
    }
    let rank = voters.iter().filter(|v| **v != lost && **v < me).count();
    let rank = u32::try_from(rank).unwrap_or(u32::MAX);
    Some(lease + AFTER_LEASE + PER_RANK.saturating_mul(rank))
}

impl ClusterHandle {
    /// Runs for the life of the node: on each closed connection to the leader, campaigns after
    /// [`campaign_delay`] if by then the leader is still the lost node, still not connected, and
    /// this node votes (a node restored from a backup kit does not until it has caught up). One
    /// campaign is pending at a time.
    pub async fn campaign_when_the_leader_goes(self) {
        let lease = Duration::from_millis(self.inner.raft.config().election_timeout_max);
        let mut disconnects = self.inner.p2p.disconnects();
        let armed = Arc::new(AtomicBool::new(false));
        loop {
            let peer = match disconnects.recv().await {
                Ok(p) => p,
                Err(RecvError::Lagged(_)) => continue,
                Err(RecvError::Closed) => return,
            };
            let Some(lost) = self.inner.peers.node_of(&peer) else {
                continue;
            };
            let (leader, voters) = self.leader_and_voters();
            let Some(delay) = campaign_delay(self.inner.node_id, lost, leader, &voters, lease)
            else {
                continue;
            };
            if self.inner.guard.is_abstaining() || armed.swap(true, Ordering::SeqCst) {
                continue;
            }
            tracing::info!(
                leader = lost,
                "connection to the leader closed: campaigning in {delay:?} unless it is back or another node leads"
            );
            let me = self.clone();
            let armed = armed.clone();
            tokio::spawn(async move {
                let refused_shorter = me.inner.campaign_now.notified();
                tokio::select! {
                    _ = tokio::time::sleep(delay) => {}
                    _ = refused_shorter => {
                        tracing::info!("refused a candidate with a shorter log: campaigning now");
                    }
                }
                armed.store(false, Ordering::SeqCst);
                let (leader, _) = me.leader_and_voters();
                if leader != Some(lost)
                    || me.inner.p2p.is_connected(&peer)
                    || me.inner.guard.is_abstaining()
                {
                    tracing::info!(leader = ?leader, "not campaigning: the leader is back or another node leads");
                    return;
                }
                tracing::info!(lost = lost, "campaigning: the leader's connection is gone");
                if let Err(e) = me.inner.raft.trigger().elect().await {
                    tracing::warn!("campaign not started: {e}");
                }
            });
        }
    }

    /// This node refused a vote to a candidate whose log is shorter than its own: a campaign
    /// waiting for its turn starts now (none is started otherwise).
    pub(super) fn refused_a_shorter_log(&self) {
        self.inner.campaign_now.notify_waiters();
    }

    /// The leader this node follows (if its vote is committed) and the current voters.
    fn leader_and_voters(&self) -> (Option<NodeId>, BTreeSet<NodeId>) {
        let metrics = self.inner.raft.metrics();
        let m = metrics.borrow();
        (
            m.current_leader,
            m.membership_config.membership().voter_ids().collect(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LEASE: Duration = Duration::from_millis(640);

    fn voters(ids: &[NodeId]) -> BTreeSet<NodeId> {
        ids.iter().copied().collect()
    }

    #[test]
    fn only_a_voter_that_lost_its_leader_campaigns_and_survivors_take_turns() {
        let v = voters(&[1, 2, 3]);
        // Leader 1 lost: node 2 first, just after the lease; node 3 one rank later.
        assert_eq!(
            campaign_delay(2, 1, Some(1), &v, LEASE),
            Some(LEASE + AFTER_LEASE)
        );
        assert_eq!(
            campaign_delay(3, 1, Some(1), &v, LEASE),
            Some(LEASE + AFTER_LEASE + PER_RANK)
        );
        // Leader 2 lost: node 1 then node 3.
        assert_eq!(
            campaign_delay(1, 2, Some(2), &v, LEASE),
            Some(LEASE + AFTER_LEASE)
        );
        assert_eq!(
            campaign_delay(3, 2, Some(2), &v, LEASE),
            Some(LEASE + AFTER_LEASE + PER_RANK)
        );
        // A follower's connection closing changes nothing; nor does losing a leader one no
        // longer follows, nor anything for a learner.
        assert_eq!(campaign_delay(2, 3, Some(1), &v, LEASE), None);
        assert_eq!(campaign_delay(2, 1, None, &v, LEASE), None);
        assert_eq!(campaign_delay(2, 1, Some(3), &v, LEASE), None);
        assert_eq!(campaign_delay(4, 1, Some(1), &v, LEASE), None);
        // The leader itself never campaigns on its own behalf.
        assert_eq!(campaign_delay(1, 1, Some(1), &v, LEASE), None);
    }
}
