//! Authorisation of incoming Raft RPCs by the sender's authenticated identity.
//!
//! Raft is crash-fault tolerant only: openraft believes whatever vote an RPC carries. The
//! transport authenticates *who* sent an RPC (the libp2p connection's peer id, pinned in the
//! genesis); [`RpcGuard::check`] makes sure the RPC's claimed role matches that identity and that
//! what it carries is something an honest leader could send (decision 0012):
//!
//! - **AppendEntries** only from the node named as leader in the request's vote, the vote
//!   committed (granted by a quorum); every membership entry equal to the genesis membership
//!   less nodes whose removal this node verified against the genesis admins (decision 0027:
//!   [`RpcGuard::remove`]); no entry stamped further than
//!   [`MAX_CLOCK_SKEW_MS`] ahead of this node's clock (a leader with a fast clock cannot move
//!   the spend-window clock forward).
//! - **Vote** only from the candidate named in the request.
//! - Nothing from a removed node.
//! - **InstallSnapshot** never: this network does not install custody state from a peer. A
//!   lagging node replays the log, whose entries carry user and node signatures anchored in the
//!   genesis and are re-verified at apply.
//!
//! An AppendEntries refused for its membership whose `prev_log_id` lies past the end of this
//! node's log is answered with a conflict instead ([`crate::network::serve_rpc`]): nothing in it
//! would be appended, and the leader then replays the log in order, so this guard reads each
//! signed change before the membership that follows it.

use crate::raft::{NodeId, PeerNode};
use crate::rpc::RaftRpc;
use mpc_custody::command::Action;
use mpc_custody::entry::{LogCommand, Proposal};
use mpc_custody::membership::network_quorum;
use mpc_custody::types::UserKey;
use openraft::{EntryPayload, Membership};
use std::collections::{BTreeMap, BTreeSet};

pub use mpc_custody::entry::MAX_CLOCK_SKEW_MS;

/// Why an RPC was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RpcRefusal {
    /// The sender is not a member of this network.
    #[error("node {0} is not a member of this network")]
    UnknownSender(NodeId),
    /// The sender claims to be another node (leader or candidate).
    #[error("{kind} from node {sender} claims to come from {claimed:?}")]
    Impersonation {
        /// RPC kind.
        kind: &'static str,
        /// Authenticated sender.
        sender: NodeId,
        /// Node named in the RPC's vote.
        claimed: Option<NodeId>,
    },
    /// AppendEntries whose vote was not granted by a quorum.
    #[error("append-entries from node {0} with an uncommitted vote")]
    UncommittedVote(NodeId),
    /// A membership entry that is not the genesis membership (less verified removals).
    #[error("append-entries from node {0} carries a membership that is not the genesis one less the nodes this node knows were removed")]
    ForeignMembership(NodeId),
    /// The sender was removed from the network.
    #[error("node {0} was removed from this network")]
    Removed(NodeId),
    /// An entry stamped too far in the future.
    #[error("append-entries from node {sender}: entry {index} is stamped {ahead_ms} ms ahead of this node's clock (at most {MAX_CLOCK_SKEW_MS})")]
    FutureTimestamp {
        /// Sender.
        sender: NodeId,
        /// Log index of the entry.
        index: u64,
        /// How far ahead.
        ahead_ms: u64,
    },
    /// This node was restored from a backup kit and votes again only once it has caught up.
    #[error("vote request from node {0} refused: this node was restored with an empty log and votes again once it has caught up")]
    Abstaining(NodeId),
    /// Snapshots are never installed from a peer.
    #[error("install-snapshot from node {0} refused: this network never installs state from a peer (the log is replayed instead)")]
    Snapshot(NodeId),
}

/// Checks incoming Raft RPCs against the genesis membership (see the module docs).
#[derive(Debug, Clone)]
pub struct RpcGuard {
    voters: BTreeSet<NodeId>,
    nodes: BTreeMap<NodeId, PeerNode>,
    /// Set while this node, restored from a backup kit with an empty log, catches up: it grants
    /// no vote (a wiped node's vote could elect a leader that lacks committed entries).
    abstaining: std::sync::Arc<std::sync::atomic::AtomicBool>,
    /// Nodes whose removal this node verified against the genesis admins.
    removed: std::sync::Arc<std::sync::RwLock<BTreeSet<NodeId>>>,
    /// The genesis admins' `node_remove` signatures seen in entries that reached this guard, by
    /// node: a lagging node learns a removal from the very entries it replays.
    removal_signers: std::sync::Arc<std::sync::RwLock<BTreeMap<NodeId, BTreeSet<UserKey>>>>,
    /// The cluster id and genesis admins those signatures are checked against.
    admins: Option<(String, BTreeSet<UserKey>)>,
    /// Nodes added to the network (verified like removals), as Raft lists them.
    added: std::sync::Arc<std::sync::RwLock<BTreeMap<NodeId, PeerNode>>>,
    /// The genesis admins' `node_add` signatures seen in entries, by (node, its Raft entry).
    addition_signers: AdditionSigners,
    /// The libp2p peer id (text) of an Ed25519 identity key.
    peer_id_of: Option<PeerIdOf>,
}

/// The libp2p peer id (text) of an Ed25519 identity key.
pub type PeerIdOf = fn(&[u8; 32]) -> Option<String>;

type AdditionSigners =
    std::sync::Arc<std::sync::RwLock<BTreeMap<(NodeId, String, String), BTreeSet<UserKey>>>>;

impl RpcGuard {
    /// A guard for the genesis membership `nodes`.
    pub fn new(nodes: BTreeMap<NodeId, PeerNode>) -> Self {
        RpcGuard {
            voters: nodes.keys().copied().collect(),
            nodes,
            abstaining: std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false)),
            removed: Default::default(),
            removal_signers: Default::default(),
            admins: None,
            added: Default::default(),
            addition_signers: Default::default(),
            peer_id_of: None,
        }
    }

    /// Also learns additions from the genesis admins' signed `node_add` commands in the
    /// entries it checks; `peer_id_of` gives a card's libp2p peer id.
    pub fn with_peer_ids(mut self, peer_id_of: PeerIdOf) -> Self {
        self.peer_id_of = Some(peer_id_of);
        self
    }

    /// `node` was added to the network as `entry` — call only after verifying its addition
    /// against the genesis admins. Its RPCs are accepted, and memberships listing it.
    pub fn add(&self, node: NodeId, entry: PeerNode) {
        self.added
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .insert(node, entry);
    }

    fn added(&self) -> BTreeMap<NodeId, PeerNode> {
        self.added.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Also learns removals from the genesis admins' signed `node_remove` commands in the
    /// entries it checks (verified against `admins` for `cluster_id`), so that a node replaying
    /// the log accepts the membership change that follows a removal in the same batch.
    pub fn with_genesis_admins(mut self, cluster_id: &str, admins: BTreeSet<UserKey>) -> Self {
        self.admins = Some((cluster_id.to_string(), admins));
        self
    }

    /// Records a genesis admin's signed `node_remove` carried by an entry; a quorum of them is
    /// a verified removal.
    fn learn_removal(&self, cmd: &LogCommand) {
        let (Some((cluster_id, admins)), Proposal::User(signed)) = (&self.admins, &cmd.proposal)
        else {
            return;
        };
        let relevant =
            signed.body.contains("\"node_remove\"") || signed.body.contains("\"node_add\"");
        if !relevant || !admins.contains(&signed.signer) {
            return;
        }
        let Ok(v) = signed.verify(cluster_id) else {
            return;
        };
        let quorum = network_quorum(admins.len());
        let node_id = match v.body.action {
            Action::NodeRemove { node_id } => node_id,
            Action::NodeAdd { node_id, card } => {
                let Some(peer_id) = self.peer_id_of.and_then(|f| f(&card.identity_key.0)) else {
                    return;
                };
                let entry = PeerNode {
                    peer_id,
                    p2p_addr: card.p2p_addr,
                };
                let mut seen = self
                    .addition_signers
                    .write()
                    .unwrap_or_else(|p| p.into_inner());
                let key = (node_id, entry.peer_id.clone(), entry.p2p_addr.clone());
                let signers = seen.entry(key).or_default();
                signers.insert(v.signer);
                if quorum.is_some_and(|q| signers.len() >= q) {
                    self.add(node_id, entry);
                }
                return;
            }
            _ => return,
        };
        let mut seen = self
            .removal_signers
            .write()
            .unwrap_or_else(|p| p.into_inner());
        let signers = seen.entry(node_id).or_default();
        signers.insert(v.signer);
        if quorum.is_some_and(|q| signers.len() >= q) {
            self.remove(node_id);
        }
    }

    /// `node` was removed from the network — call only after verifying its removal against the
    /// genesis admins. Its RPCs are refused from now on, and memberships without it accepted.
    pub fn remove(&self, node: NodeId) {
        self.removed
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .insert(node);
    }

    fn removed(&self) -> BTreeSet<NodeId> {
        self.removed
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Refuse (or again answer) vote requests: on while a restored node catches up.
    pub fn abstain(&self, on: bool) {
        self.abstaining
            .store(on, std::sync::atomic::Ordering::SeqCst);
    }

    /// Whether vote requests are refused.
    pub fn is_abstaining(&self) -> bool {
        self.abstaining.load(std::sync::atomic::Ordering::SeqCst)
    }

    /// Whether `m` is the genesis membership less some removed nodes: every configuration (one,
    /// or two while openraft changes the membership) and the node list differ from the genesis
    /// only by nodes this node knows were removed, and every node listed is as in the genesis.
    fn is_allowed(&self, m: &Membership<NodeId, PeerNode>) -> bool {
        let removed = self.removed();
        let added = self.added();
        // No genesis node missing but removed ones; every node listed as the genesis or a
        // verified addition has it (so nobody else can be listed, let alone vote).
        let fits =
            |set: &BTreeSet<NodeId>| self.voters.difference(set).all(|n| removed.contains(n));
        let joint = m.get_joint_config();
        let nodes: BTreeMap<NodeId, PeerNode> = m.nodes().map(|(k, v)| (*k, v.clone())).collect();
        let listed: BTreeSet<NodeId> = nodes.keys().copied().collect();
        (1..=2).contains(&joint.len())
            && joint
                .iter()
                .all(|c| !c.is_empty() && fits(c) && c.is_subset(&listed))
            && fits(&listed)
            && nodes
                .iter()
                .all(|(k, v)| self.nodes.get(k).or_else(|| added.get(k)) == Some(v))
    }

    /// Whether `rpc` from the authenticated node `sender` may reach Raft at `now_ms` (this
    /// node's clock).
    pub fn check(&self, sender: NodeId, rpc: &RaftRpc, now_ms: u64) -> Result<(), RpcRefusal> {
        if !self.voters.contains(&sender) && !self.added().contains_key(&sender) {
            return Err(RpcRefusal::UnknownSender(sender));
        }
        if self.removed().contains(&sender) {
            return Err(RpcRefusal::Removed(sender));
        }
        match rpc {
            RaftRpc::AppendEntries(req) => {
                named_in_vote("append-entries", sender, &req.vote)?;
                if !req.vote.is_committed() {
                    return Err(RpcRefusal::UncommittedVote(sender));
                }
                for e in &req.entries {
                    match &e.payload {
                        EntryPayload::Membership(m) if !self.is_allowed(m) => {
                            return Err(RpcRefusal::ForeignMembership(sender));
                        }
                        EntryPayload::Normal(cmd)
                            if cmd.proposed_at_ms > now_ms.saturating_add(MAX_CLOCK_SKEW_MS) =>
                        {
                            return Err(RpcRefusal::FutureTimestamp {
                                sender,
                                index: e.log_id.index,
                                ahead_ms: cmd.proposed_at_ms - now_ms,
                            });
                        }
                        EntryPayload::Normal(cmd) => self.learn_removal(cmd),
                        _ => {}
                    }
                }
                Ok(())
            }
            RaftRpc::Vote(req) => {
                named_in_vote("vote", sender, &req.vote)?;
                if self.is_abstaining() {
                    return Err(RpcRefusal::Abstaining(sender));
                }
                Ok(())
            }
            RaftRpc::InstallSnapshot(_) => Err(RpcRefusal::Snapshot(sender)),
        }
    }
}

/// The sender must be the node the vote names (the leader of AppendEntries, the candidate of a
/// Vote request).
fn named_in_vote(
    kind: &'static str,
    sender: NodeId,
    vote: &openraft::Vote<NodeId>,
) -> Result<(), RpcRefusal> {
    let claimed = vote.leader_id().voted_for();
    if claimed == Some(sender) {
        Ok(())
    } else {
        Err(RpcRefusal::Impersonation {
            kind,
            sender,
            claimed,
        })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::raft::TypeConfig;
    use mpc_custody::command::SignedCommand;
    use mpc_custody::entry::{LogCommand, Proposal};
    use openraft::raft::{AppendEntriesRequest, InstallSnapshotRequest, VoteRequest};
    use openraft::{CommittedLeaderId, Entry, LogId, SnapshotMeta, Vote};

    const NOW: u64 = 1_700_000_000_000;

    fn nodes() -> BTreeMap<NodeId, PeerNode> {
        (1..=3)
            .map(|i| {
                (
                    i,
                    PeerNode {
                        peer_id: format!("peer-{i}"),
                        p2p_addr: format!("/ip4/127.0.0.1/tcp/{i}"),
                    },
                )
            })
            .collect()
    }

    fn guard() -> RpcGuard {
        RpcGuard::new(nodes())
    }

    fn entry(index: u64, payload: EntryPayload<TypeConfig>) -> Entry<TypeConfig> {
        Entry {
            log_id: LogId::new(CommittedLeaderId::new(2, 1), index),
            payload,
        }
    }

    fn normal(at_ms: u64) -> EntryPayload<TypeConfig> {
        EntryPayload::Normal(LogCommand {
            proposed_at_ms: at_ms,
            proposal: Proposal::User(SignedCommand {
                body: "{}".into(),
                signer: mpc_custody::types::UserKey([0; 32]),
                signature: "00".into(),
            }),
        })
    }

    fn append(vote: Vote<NodeId>, entries: Vec<Entry<TypeConfig>>) -> RaftRpc {
        RaftRpc::AppendEntries(AppendEntriesRequest {
            vote,
            prev_log_id: None,
            entries,
            leader_commit: None,
        })
    }

    #[test]
    fn append_entries_only_from_the_leader_named_in_the_vote() {
        let g = guard();
        let rpc = append(Vote::new_committed(2, 1), vec![entry(5, normal(NOW))]);
        assert_eq!(g.check(1, &rpc, NOW), Ok(()));
        // Node 3 sends what claims to be node 1's AppendEntries.
        assert!(matches!(
            g.check(3, &rpc, NOW),
            Err(RpcRefusal::Impersonation {
                sender: 3,
                claimed: Some(1),
                ..
            })
        ));
        // An outsider.
        assert_eq!(g.check(9, &rpc, NOW), Err(RpcRefusal::UnknownSender(9)));
        // A vote that no quorum granted.
        let rpc = append(Vote::new(2, 1), vec![]);
        assert_eq!(g.check(1, &rpc, NOW), Err(RpcRefusal::UncommittedVote(1)));
    }

    #[test]
    fn vote_only_from_the_candidate() {
        let g = guard();
        let rpc = RaftRpc::Vote(VoteRequest::new(Vote::new(7, 2), None));
        assert_eq!(g.check(2, &rpc, NOW), Ok(()));
        assert!(matches!(
            g.check(1, &rpc, NOW),
            Err(RpcRefusal::Impersonation { kind: "vote", .. })
        ));
    }

    /// A node restored from a backup kit grants no vote until it has caught up; replication to
    /// it goes on.
    #[test]
    fn a_restored_node_abstains_until_it_has_caught_up() {
        let g = guard();
        let vote = RaftRpc::Vote(VoteRequest::new(Vote::new(7, 2), None));
        g.abstain(true);
        assert_eq!(g.check(2, &vote, NOW), Err(RpcRefusal::Abstaining(2)));
        assert_eq!(
            g.check(1, &append(Vote::new_committed(3, 1), vec![]), NOW),
            Ok(())
        );
        g.abstain(false);
        assert_eq!(g.check(2, &vote, NOW), Ok(()));
    }

    #[test]
    fn install_snapshot_is_never_accepted() {
        let g = guard();
        let rpc = RaftRpc::InstallSnapshot(InstallSnapshotRequest {
            vote: Vote::new_committed(9, 1),
            meta: SnapshotMeta::default(),
            offset: 0,
            data: vec![],
            done: true,
        });
        // Not even from the true leader.
        assert_eq!(g.check(1, &rpc, NOW), Err(RpcRefusal::Snapshot(1)));
    }

    #[test]
    fn entries_from_the_future_are_refused_past_ones_are_not() {
        let g = guard();
        let ok = NOW + MAX_CLOCK_SKEW_MS;
        let rpc = append(Vote::new_committed(2, 1), vec![entry(5, normal(ok))]);
        assert_eq!(g.check(1, &rpc, NOW), Ok(()));
        let day = 24 * 3600 * 1000;
        let rpc = append(
            Vote::new_committed(2, 1),
            vec![entry(5, normal(NOW)), entry(6, normal(NOW + day))],
        );
        assert!(matches!(
            g.check(1, &rpc, NOW),
            Err(RpcRefusal::FutureTimestamp { index: 6, .. })
        ));
        // A lagging node replays old entries: an old timestamp is not a reason to refuse.
        let rpc = append(Vote::new_committed(2, 1), vec![entry(5, normal(NOW - day))]);
        assert_eq!(g.check(1, &rpc, NOW), Ok(()));
    }

    #[test]
    fn only_the_genesis_membership_is_accepted() {
        let g = guard();
        let same = Membership::new(vec![(1..=3).collect()], nodes());
        let rpc = append(
            Vote::new_committed(2, 1),
            vec![entry(1, EntryPayload::Membership(same))],
        );
        assert_eq!(g.check(1, &rpc, NOW), Ok(()));
        // The leader drops node 3 from the voters.
        let smaller = Membership::new(vec![[1, 2].into()], nodes());
        let rpc = append(
            Vote::new_committed(2, 1),
            vec![entry(1, EntryPayload::Membership(smaller))],
        );
        assert_eq!(g.check(1, &rpc, NOW), Err(RpcRefusal::ForeignMembership(1)));
        // Or points node 2 at another peer id.
        let mut moved = nodes();
        moved.get_mut(&2).unwrap().peer_id = "evil".into();
        let rpc = append(
            Vote::new_committed(2, 1),
            vec![entry(
                1,
                EntryPayload::Membership(Membership::new(vec![(1..=3).collect()], moved)),
            )],
        );
        assert_eq!(g.check(1, &rpc, NOW), Err(RpcRefusal::ForeignMembership(1)));
    }

    #[test]
    fn a_membership_without_a_node_is_accepted_only_after_its_verified_removal() {
        let g = guard();
        let membership = |configs: Vec<BTreeSet<NodeId>>, keep: &[NodeId]| {
            let nodes: BTreeMap<NodeId, PeerNode> = nodes()
                .into_iter()
                .filter(|(k, _)| keep.contains(k))
                .collect();
            let rpc = append(
                Vote::new_committed(2, 1),
                vec![entry(
                    1,
                    EntryPayload::Membership(Membership::new(configs, nodes)),
                )],
            );
            g.check(1, &rpc, NOW)
        };
        let joint = || vec![(1..=3).collect(), [1, 2].into()];
        let out = Err(RpcRefusal::ForeignMembership(1));
        // Before node 3's removal is known here: neither the joint nor the final membership.
        assert_eq!(membership(joint(), &[1, 2, 3]), out);
        assert_eq!(membership(vec![[1, 2].into()], &[1, 2]), out);
        g.remove(3);
        assert_eq!(membership(joint(), &[1, 2, 3]), Ok(()));
        assert_eq!(membership(vec![[1, 2].into()], &[1, 2]), Ok(()));
        // Not node 2, whose removal is not known; not a voter missing from the node list.
        assert_eq!(membership(vec![[1].into()], &[1]), out);
        assert_eq!(membership(vec![[1, 2].into()], &[1]), out);
        // The removed node is refused outright.
        let vote = RaftRpc::Vote(VoteRequest::new(Vote::new(9, 3), None));
        assert_eq!(g.check(3, &vote, NOW), Err(RpcRefusal::Removed(3)));
    }

    /// A `node_remove` of `node` signed by the key with `seed`, as a log entry's payload.
    fn removal_signed(seed: u8, node: NodeId) -> EntryPayload<TypeConfig> {
        let key = ed25519_dalek::SigningKey::from_bytes(&[seed; 32]);
        let body = mpc_custody::command::CommandBody {
            cluster: "c1".into(),
            idempotency_key: format!("rm-{seed}"),
            action: Action::NodeRemove { node_id: node },
        };
        EntryPayload::Normal(LogCommand {
            proposed_at_ms: NOW,
            proposal: Proposal::User(SignedCommand::sign(&body, &key).unwrap()),
        })
    }

    #[test]
    fn a_lagging_node_learns_a_removal_from_the_genesis_admins_signatures_it_replays() {
        let admin = |seed: u8| {
            UserKey(
                ed25519_dalek::SigningKey::from_bytes(&[seed; 32])
                    .verifying_key()
                    .to_bytes(),
            )
        };
        let g = guard().with_genesis_admins("c1", [admin(1), admin(2), admin(3)].into());
        let shrink = |first: u64| {
            entry(
                first,
                EntryPayload::Membership(Membership::new(
                    vec![[1, 2].into()],
                    nodes()
                        .into_iter()
                        .filter(|(k, _)| *k != 3)
                        .collect::<BTreeMap<_, _>>(),
                )),
            )
        };
        // One admin's signature (or a stranger's) before the change: refused.
        let rpc = append(
            Vote::new_committed(2, 1),
            vec![
                entry(1, removal_signed(1, 3)),
                entry(2, removal_signed(9, 3)),
                shrink(3),
            ],
        );
        assert_eq!(g.check(1, &rpc, NOW), Err(RpcRefusal::ForeignMembership(1)));
        // A second genesis admin's in the same batch as the change: accepted.
        let rpc = append(
            Vote::new_committed(2, 1),
            vec![entry(1, removal_signed(2, 3)), shrink(2)],
        );
        assert_eq!(g.check(1, &rpc, NOW), Ok(()));
        // A removal signed for another cluster teaches nothing.
        let g = guard().with_genesis_admins("c2", [admin(1), admin(2), admin(3)].into());
        let rpc = append(
            Vote::new_committed(2, 1),
            vec![
                entry(1, removal_signed(1, 3)),
                entry(2, removal_signed(2, 3)),
                shrink(3),
            ],
        );
        assert_eq!(g.check(1, &rpc, NOW), Err(RpcRefusal::ForeignMembership(1)));
    }

    fn addition_signed(seed: u8, node: NodeId) -> EntryPayload<TypeConfig> {
        let key = ed25519_dalek::SigningKey::from_bytes(&[seed; 32]);
        let card = mpc_custody::membership::NodeCard {
            identity_key: UserKey([44; 32]),
            noise_key: hex::encode([44; 32]),
            p2p_addr: "/ip4/127.0.0.1/tcp/4".into(),
            rpc_addr: "127.0.0.1:8004".into(),
            rpc_tls_sha256: hex::encode([44; 32]),
        };
        let body = mpc_custody::command::CommandBody {
            cluster: "c1".into(),
            idempotency_key: format!("add-{seed}"),
            action: Action::NodeAdd {
                node_id: node,
                card,
            },
        };
        EntryPayload::Normal(LogCommand {
            proposed_at_ms: NOW,
            proposal: Proposal::User(SignedCommand::sign(&body, &key).unwrap()),
        })
    }

    #[test]
    fn an_added_node_is_accepted_only_after_a_genesis_admin_quorum_signed_its_addition() {
        let admin = |seed: u8| {
            UserKey(
                ed25519_dalek::SigningKey::from_bytes(&[seed; 32])
                    .verifying_key()
                    .to_bytes(),
            )
        };
        let g = guard()
            .with_genesis_admins("c1", [admin(1), admin(2), admin(3)].into())
            .with_peer_ids(|k| Some(format!("peer-of-{}", k[0])));
        let four = PeerNode {
            peer_id: "peer-of-44".into(),
            p2p_addr: "/ip4/127.0.0.1/tcp/4".into(),
        };
        let with_four = |voters: BTreeSet<NodeId>, entry: PeerNode| {
            let mut nodes = nodes();
            nodes.insert(4, entry);
            EntryPayload::Membership(Membership::new(vec![voters], nodes))
        };
        let learner = || with_four((1..=3).collect(), four.clone());
        let out = Err(RpcRefusal::ForeignMembership(1));
        let vote4 = RaftRpc::Vote(VoteRequest::new(Vote::new(9, 4), None));
        assert_eq!(g.check(4, &vote4, NOW), Err(RpcRefusal::UnknownSender(4)));
        // One admin's signature: node 4 is no learner.
        let rpc = append(
            Vote::new_committed(2, 1),
            vec![entry(1, addition_signed(1, 4)), entry(2, learner())],
        );
        assert_eq!(g.check(1, &rpc, NOW), out);
        // Two: a learner, then a voter; but only at the address and peer id the admins signed.
        let rpc = append(
            Vote::new_committed(2, 1),
            vec![entry(1, addition_signed(2, 4)), entry(2, learner())],
        );
        assert_eq!(g.check(1, &rpc, NOW), Ok(()));
        let voter = append(
            Vote::new_committed(2, 1),
            vec![entry(3, with_four((1..=4).collect(), four.clone()))],
        );
        assert_eq!(g.check(1, &voter, NOW), Ok(()));
        let elsewhere = PeerNode {
            peer_id: "evil".into(),
            ..four.clone()
        };
        let moved = append(
            Vote::new_committed(2, 1),
            vec![entry(3, with_four((1..=4).collect(), elsewhere))],
        );
        assert_eq!(g.check(1, &moved, NOW), out);
        assert_eq!(g.check(4, &vote4, NOW), Ok(()));
    }
}
