//! Node ids, signer subsets and session-id derivation: every session id of the network is
//! derived here, from what the log fixed (decision 0011, invariant 3).

use mpc_protocol::domain;
pub use mpc_protocol::session::SessionId;
use sha2::{Digest, Sha256};

/// Raft node id.
pub type NodeId = u64;

/// Derives a session id from its purpose and parts (each length-prefixed). Prefer the named
/// derivations below; every purpose string of the network appears in this file only.
pub fn session_id(cluster_id: &str, purpose: &str, parts: &[&[u8]]) -> SessionId {
    let mut h = Sha256::new();
    h.update(domain::SESSION_ID);
    for part in std::iter::once(cluster_id.as_bytes())
        .chain(std::iter::once(purpose.as_bytes()))
        .chain(parts.iter().copied())
    {
        h.update((part.len() as u64).to_be_bytes());
        h.update(part);
    }
    SessionId(h.finalize().into())
}

/// Attempt `attempt` of a committee's ECDSA aux-info session.
pub fn aux_session(cluster_id: &str, committee: &[NodeId], attempt: u32) -> SessionId {
    let ids: Vec<u8> = committee.iter().flat_map(|n| n.to_be_bytes()).collect();
    session_id(cluster_id, "aux", &[&ids, &attempt.to_be_bytes()])
}

/// The DKG session of one key type (`key_type` is its name) of a vault created at `log_index`.
pub fn dkg_session(cluster_id: &str, vault_id: &str, log_index: u64, key_type: &str) -> SessionId {
    session_id(
        cluster_id,
        "dkg",
        &[
            vault_id.as_bytes(),
            &log_index.to_be_bytes(),
            key_type.as_bytes(),
        ],
    )
}

/// The refresh session of one key type of a vault, started by the entry at `log_index`.
pub fn refresh_session(
    cluster_id: &str,
    vault_id: &str,
    log_index: u64,
    key_type: &str,
) -> SessionId {
    session_id(
        cluster_id,
        "refresh",
        &[
            vault_id.as_bytes(),
            &log_index.to_be_bytes(),
            key_type.as_bytes(),
        ],
    )
}

/// The share-repair session of one key type of a vault: repair attempt `attempt`, started by
/// the entry at `attempt_log_index`, of node `node`'s replacement `replacement`.
pub fn repair_session(
    cluster_id: &str,
    vault_id: &str,
    (node, replacement): (NodeId, u32),
    (attempt, attempt_log_index): (u32, u64),
    key_type: &str,
) -> SessionId {
    session_id(
        cluster_id,
        "repair",
        &[
            vault_id.as_bytes(),
            &node.to_be_bytes(),
            &replacement.to_be_bytes(),
            &attempt.to_be_bytes(),
            &attempt_log_index.to_be_bytes(),
            key_type.as_bytes(),
        ],
    )
}

/// The presigning session of presignature `seq` of a wallet's pool made by `signers`.
pub fn presign_session(
    cluster_id: &str,
    wallet_id: &str,
    signers: &[NodeId],
    seq: u64,
) -> SessionId {
    let signers: Vec<u8> = signers.iter().flat_map(|n| n.to_be_bytes()).collect();
    session_id(
        cluster_id,
        "presign",
        &[wallet_id.as_bytes(), &signers, &seq.to_be_bytes()],
    )
}

/// The session of signing attempt `attempt` of a request, fixed by the entry at `log_index`.
pub fn sign_attempt_session(
    cluster_id: &str,
    request_id: &str,
    attempt: u32,
    log_index: u64,
) -> SessionId {
    session_id(
        cluster_id,
        "sign",
        &[
            request_id.as_bytes(),
            &attempt.to_be_bytes(),
            &log_index.to_be_bytes(),
        ],
    )
}

/// The session of message `index` within a signing attempt (one session per message).
pub fn sign_message_session(
    cluster_id: &str,
    attempt_session: &SessionId,
    index: u32,
) -> SessionId {
    session_id(
        cluster_id,
        "sign-message",
        &[&attempt_session.0, &index.to_be_bytes()],
    )
}

/// The session in which the pooled FROST attempts of key type `key_type` that the entry at
/// `log_index` fixed for the same `signers` (sorted) sign together — part `part` of them, when
/// their messages exceed one batch (decision 0039). Each message inside it is named by its
/// [`sign_message_session`] id.
pub fn sign_batch_session(
    cluster_id: &str,
    log_index: u64,
    key_type: &str,
    signers: &[NodeId],
    part: u32,
) -> SessionId {
    let signers: Vec<u8> = signers.iter().flat_map(|n| n.to_be_bytes()).collect();
    session_id(
        cluster_id,
        "sign-batch",
        &[
            &log_index.to_be_bytes(),
            key_type.as_bytes(),
            &signers,
            &part.to_be_bytes(),
        ],
    )
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

#[cfg(test)]
mod tests {
    use super::*;

    /// Invariant 3 for batch sessions (decision 0039): every input of the derivation changes
    /// the id — the entry, the key type, the signers and the part — and no batch id is a
    /// per-attempt or per-message id.
    #[test]
    fn batch_session_ids_differ_in_each_input_and_from_other_sessions() {
        let base = sign_batch_session("c", 9, "ed25519", &[1, 3], 0);
        let others = [
            sign_batch_session("c2", 9, "ed25519", &[1, 3], 0),
            sign_batch_session("c", 10, "ed25519", &[1, 3], 0),
            sign_batch_session("c", 9, "secp256k1_tr", &[1, 3], 0),
            sign_batch_session("c", 9, "ed25519", &[1, 2], 0),
            sign_batch_session("c", 9, "ed25519", &[1, 3], 1),
            sign_attempt_session("c", "req-9", 1, 9),
            sign_message_session("c", &sign_attempt_session("c", "req-9", 1, 9), 0),
        ];
        for (i, other) in others.iter().enumerate() {
            assert_ne!(&base, other, "input {i} does not change the batch id");
        }
        assert_eq!(base, sign_batch_session("c", 9, "ed25519", &[1, 3], 0));
    }
}
