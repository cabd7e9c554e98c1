//! The peers this node talks to: for every node id, the libp2p peer id, Noise key and address
//! pinned for it — from the genesis, and for a replaced node from its replacement record,
//! re-verified against the genesis admins ([`CustodyState::pinned_node`]) before it is pinned.
//!
//! One shared table feeds the allow-list and dialling (p2p event loop), the Noise channels
//! (session hub), Raft RPC routing (transport) and the mapping of an authenticated peer to its
//! node id. When a node is replaced, its old peer id is dropped from the allow-list and its
//! connections are closed: a lost (or stolen) host can no longer reach the network.

use libp2p::{Multiaddr, PeerId};
use mpc_consensus::raft::NodeId;
use mpc_custody::state::{CustodyState, PinnedNode};
use std::collections::BTreeMap;
use std::sync::{Arc, RwLock};

/// One node's pinned identity.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PinnedPeer {
    /// libp2p peer id.
    pub peer: PeerId,
    /// X25519 static key for Noise peer channels.
    pub noise_key: [u8; 32],
    /// Where to dial it.
    pub addr: Multiaddr,
    /// 0: the genesis host; else the replacement in force.
    pub replacement: u32,
}

#[derive(Default)]
struct Tables {
    by_node: BTreeMap<NodeId, PinnedPeer>,
    by_peer: BTreeMap<PeerId, NodeId>,
}

/// The shared table (cheap to clone).
#[derive(Clone, Default)]
pub struct PeerTable {
    inner: Arc<RwLock<Tables>>,
}

impl PeerTable {
    /// A table with these entries.
    pub fn new(entries: BTreeMap<NodeId, PinnedPeer>) -> Self {
        let by_peer = entries.iter().map(|(n, p)| (p.peer, *n)).collect();
        PeerTable {
            inner: Arc::new(RwLock::new(Tables {
                by_node: entries,
                by_peer,
            })),
        }
    }

    fn read<T>(&self, f: impl FnOnce(&Tables) -> T) -> T {
        let g = self.inner.read().unwrap_or_else(|p| p.into_inner());
        f(&g)
    }

    /// The node an authenticated peer is (none: not a member).
    pub fn node_of(&self, peer: &PeerId) -> Option<NodeId> {
        self.read(|t| t.by_peer.get(peer).copied())
    }

    /// A node's pinned identity.
    pub fn get(&self, node: NodeId) -> Option<PinnedPeer> {
        self.read(|t| t.by_node.get(&node).cloned())
    }

    /// A node's peer id.
    pub fn peer_of(&self, node: NodeId) -> Option<PeerId> {
        self.read(|t| t.by_node.get(&node).map(|p| p.peer))
    }

    /// A node's Noise key.
    pub fn noise_of(&self, node: NodeId) -> Option<[u8; 32]> {
        self.read(|t| t.by_node.get(&node).map(|p| p.noise_key))
    }

    /// Every entry.
    pub fn all(&self) -> Vec<(NodeId, PinnedPeer)> {
        self.read(|t| t.by_node.iter().map(|(n, p)| (*n, p.clone())).collect())
    }

    /// Pins `new` for `node` when it is a later replacement than the one pinned; returns the
    /// entry it replaced.
    pub fn pin(&self, node: NodeId, new: PinnedPeer) -> Option<PinnedPeer> {
        let mut t = self.inner.write().unwrap_or_else(|p| p.into_inner());
        let old = t.by_node.get(&node).cloned();
        if old
            .as_ref()
            .is_some_and(|o| o.replacement >= new.replacement)
        {
            return None;
        }
        if let Some(o) = &old {
            t.by_peer.remove(&o.peer);
        }
        t.by_peer.insert(new.peer, node);
        t.by_node.insert(node, new);
        old
    }
}

impl PeerTable {
    /// Forgets a removed node: it is no longer dialled, routed to or recognised. Returns the
    /// entry it had.
    pub fn unpin(&self, node: NodeId) -> Option<PinnedPeer> {
        let mut t = self.inner.write().unwrap_or_else(|p| p.into_inner());
        let old = t.by_node.remove(&node)?;
        t.by_peer.remove(&old.peer);
        Some(old)
    }
}

/// The libp2p peer id of an Ed25519 identity key.
pub fn peer_id_of(identity_key: &[u8; 32]) -> Result<PeerId, String> {
    let ed = libp2p_identity::ed25519::PublicKey::try_from_bytes(identity_key)
        .map_err(|e| format!("identity key: {e}"))?;
    Ok(PeerId::from_public_key(&libp2p_identity::PublicKey::from(
        ed,
    )))
}

/// The entry a verified replacement pins.
pub fn pinned_peer(p: &PinnedNode) -> Result<Option<PinnedPeer>, String> {
    let Some(card) = &p.card else {
        return Ok(None);
    };
    Ok(Some(PinnedPeer {
        peer: peer_id_of(&p.identity_key.0)?,
        noise_key: card
            .noise_key_bytes()
            .ok_or("the card's Noise key is malformed")?,
        addr: card
            .p2p_addr
            .parse()
            .map_err(|e| format!("the card's p2p address: {e}"))?,
        replacement: p.replacement,
    }))
}

/// Replacements in `state` not yet pinned in `table` (every node but `me`), each re-verified
/// against the genesis admins: `(node, entry)` to pin, or `(node, why not)`.
pub fn unpinned(
    state: &CustodyState,
    table: &PeerTable,
    me: NodeId,
) -> Vec<(NodeId, Result<PinnedPeer, String>)> {
    let mut out = Vec::new();
    for node in state.genesis().nodes.keys().copied() {
        if node == me {
            continue;
        }
        let Some(rec) = state.current_replacement(node) else {
            continue;
        };
        if table
            .get(node)
            .is_some_and(|p| p.replacement >= rec.replacement)
        {
            continue;
        }
        let entry = state.pinned_node(node).and_then(|p| {
            pinned_peer(&p)?.ok_or_else(|| "the replacement has no card".to_string())
        });
        out.push((node, entry));
    }
    out
}

/// How often the applied state is checked for new replacements.
const FOLLOW_INTERVAL: std::time::Duration = std::time::Duration::from_millis(500);

/// Pins every replacement the log admits (after re-verifying it) and has the p2p layer refuse
/// the old host and allow the new one; follows removals likewise. Runs for the node's lifetime.
pub async fn follow_replacements(cluster: crate::cluster::ClusterHandle, peers: PeerTable) {
    let me = cluster.node_id();
    let mut refused: BTreeMap<NodeId, String> = BTreeMap::new();
    let mut tick = tokio::time::interval(FOLLOW_INTERVAL);
    loop {
        tick.tick().await;
        let Ok(pins) = cluster.read_state(|s| unpinned(s, &peers, me)) else {
            continue;
        };
        follow_removals(&cluster, &peers, &mut refused).await;
        for (node, entry) in pins {
            match entry {
                Ok(new) => {
                    let (peer, addr, r) = (new.peer, new.addr.clone(), new.replacement);
                    let old = peers.pin(node, new);
                    tracing::warn!(node, replacement = r, %peer, "node replaced: new host pinned");
                    cluster.p2p().repin(old.map(|o| o.peer), peer, addr).await;
                    refused.remove(&node);
                }
                Err(e) => {
                    if refused.get(&node) != Some(&e) {
                        tracing::error!(
                            node,
                            "a replacement in the log does not verify against the genesis \
                             admins; the node stays pinned as it was: {e}"
                        );
                        refused.insert(node, e);
                    }
                }
            }
        }
    }
}

/// Additions and removals the log admits, each re-verified against the genesis admins: an added
/// node is pinned and dialled, a removed one unpinned and disconnected; the Raft guard follows;
/// the leader makes the Raft membership follow
/// ([`crate::cluster::ClusterHandle::follow_membership`]).
async fn follow_removals(
    cluster: &crate::cluster::ClusterHandle,
    peers: &PeerTable,
    refused: &mut BTreeMap<NodeId, String>,
) {
    let Ok(removals) = cluster.read_state(|s| {
        s.removed_nodes()
            .map(|n| (n, s.verified_removal(n).map(|_| ())))
            .collect::<Vec<_>>()
    }) else {
        return;
    };
    let Ok(additions) = cluster.read_state(|s| {
        s.additions()
            .filter(|a| a.is_admitted() && !s.is_removed(a.node_id))
            .map(|a| {
                let checked = s.verified_addition(a.node_id).and_then(|a| {
                    let pinned = s.pinned_node(a.node_id)?;
                    pinned_peer(&pinned)?.ok_or_else(|| "the addition has no card".to_string())
                });
                (a.node_id, checked)
            })
            .collect::<Vec<_>>()
    }) else {
        return;
    };
    let me = cluster.node_id();
    let mut added = BTreeMap::new();
    for (node, checked) in additions {
        match checked {
            Ok(entry) => {
                let raft_entry = mpc_consensus::raft::PeerNode {
                    peer_id: entry.peer.to_string(),
                    p2p_addr: entry.addr.to_string(),
                };
                cluster.guard_add(node, raft_entry.clone());
                added.insert(node, raft_entry);
                if node != me && peers.get(node).is_none() {
                    let (peer, addr) = (entry.peer, entry.addr.clone());
                    peers.pin(node, entry);
                    tracing::warn!(node, %peer, "node added to the network: pinned");
                    cluster.p2p().repin(None, peer, addr).await;
                }
            }
            Err(e) => {
                if refused.get(&node) != Some(&e) {
                    tracing::error!(
                        node,
                        "an addition in the log does not verify against the genesis admins; the \
                         node is not let in: {e}"
                    );
                    refused.insert(node, e);
                }
            }
        }
    }
    let mut verified = std::collections::BTreeSet::new();
    for (node, checked) in removals {
        match checked {
            Ok(()) => {
                verified.insert(node);
                cluster.guard_remove(node);
                if let Some(old) = peers.unpin(node) {
                    tracing::warn!(node, peer = %old.peer, "node removed from the network");
                    cluster.p2p().unpin(old.peer).await;
                }
            }
            Err(e) => {
                if refused.get(&node) != Some(&e) {
                    tracing::error!(
                        node,
                        "a removal in the log does not verify against the genesis admins; the \
                         node stays a member here: {e}"
                    );
                    refused.insert(node, e);
                }
            }
        }
    }
    if !verified.is_empty() || !added.is_empty() {
        cluster.follow_membership(&verified, &added).await;
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn entry(seed: u8, replacement: u32) -> PinnedPeer {
        let kp = libp2p_identity::Keypair::ed25519_from_bytes([seed; 32]).unwrap();
        PinnedPeer {
            peer: kp.public().to_peer_id(),
            noise_key: [seed; 32],
            addr: "/ip4/127.0.0.1/tcp/1".parse().unwrap(),
            replacement,
        }
    }

    #[test]
    fn a_replacement_unpins_the_old_peer_and_never_goes_back() {
        let t = PeerTable::new([(3, entry(3, 0))].into_iter().collect());
        let old = entry(3, 0).peer;
        assert_eq!(t.node_of(&old), Some(3));
        assert_eq!(t.pin(3, entry(9, 1)).unwrap().peer, old);
        assert_eq!(t.node_of(&old), None);
        assert_eq!(t.node_of(&entry(9, 1).peer), Some(3));
        // An older replacement (or the genesis host) cannot be pinned again.
        assert!(t.pin(3, entry(3, 0)).is_none());
        assert_eq!(t.peer_of(3), Some(entry(9, 1).peer));
    }

    #[test]
    fn the_peer_id_of_an_identity_key_is_libp2ps() {
        let kp = libp2p_identity::Keypair::ed25519_from_bytes([5; 32]).unwrap();
        let ed = kp.public().try_into_ed25519().unwrap().to_bytes();
        assert_eq!(peer_id_of(&ed).unwrap(), kp.public().to_peer_id());
    }
}
