//! Node ids, signer subsets and session-id derivation: every session id of the network is
//! derived here, from what the log fixed (decision 0011, invariant 3).

use mpc_protocol::domain;
use sha2::{Digest, Sha256};

/// Raft node id.
pub type NodeId = u64;

/// Derives a session id.
pub fn session_id(cluster_id: &str, purpose: &str, parts: &[&[u8]]) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(domain::SESSION_ID);
    for part in std::iter::once(cluster_id.as_bytes())
        .chain(std::iter::once(purpose.as_bytes()))
        .chain(parts.iter().copied())
    {
        h.update((part.len() as u64).to_be_bytes());
        h.update(part);
    }
    h.finalize().into()
}

/// All `t`-subsets of `nodes` (sorted), in lexicographic order.
pub fn subsets(nodes: &[NodeId], t: usize) -> Vec<Vec<NodeId>> {
    fn go(
        nodes: &[NodeId],
        t: usize,
        start: usize,
        cur: &mut Vec<NodeId>,
        out: &mut Vec<Vec<NodeId>>,
    ) {
        if cur.len() == t {
            out.push(cur.clone());
            return;
        }
        for i in start..nodes.len() {
            cur.push(nodes[i]);
            go(nodes, t, i + 1, cur, out);
            cur.pop();
        }
    }
    let mut out = Vec::new();
    go(nodes, t, 0, &mut Vec::new(), &mut out);
    out
}
