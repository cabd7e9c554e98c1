//! Replacing a custodian node whose host (and shares) are lost: a new host, with new keys, takes
//! over the lost node's place — its node id, Raft vote, FROST identifier and cggmp21 index — so
//! no vault key, address or threshold changes (decision 0025).
//!
//! The change is **network** governance: it rests on the genesis admins, the only keys every
//! node pins in its genesis document. Each genesis admin signs the same `node_replace` command
//! (node id, replacement number, new identity card); it takes effect when
//! [`network_quorum`] distinct genesis admins signed it. A genesis with a single admin cannot
//! replace a node: one stolen admin key must never decide who holds key shares.
//!
//! The record keeps the signed commands, so every node re-verifies a replacement against the
//! genesis admin keys ([`NodeReplacement::verify`]) before it pins the new keys, accepts its
//! connections or sends it a repair sub-share — never because a peer's record says so.

use crate::command::{Action, SignedCommand};
use crate::ids::NodeId;
use crate::types::UserKey;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};

/// A replacement not admitted within this time after its first signature expires (7 days): the
/// next signature for that node and number starts a new record.
pub const REPLACEMENT_TTL_MS: u64 = crate::governance::PROPOSAL_TTL_MS;
/// Longest address (multiaddress or `host:port`) a card may carry.
pub const MAX_ADDR_BYTES: usize = 256;
/// Most times one node may be replaced (bounds the record's history).
pub const MAX_REPLACEMENTS: u32 = 1_000;

/// The genesis-admin signatures a node replacement needs: a majority of the genesis admins and
/// never fewer than two. `None` when the genesis names fewer than two admins.
pub fn network_quorum(genesis_admins: usize) -> Option<usize> {
    (genesis_admins >= 2).then(|| (genesis_admins / 2 + 1).max(2))
}

/// A node's public identity as the network pins it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NodeCard {
    /// Ed25519 identity key (hex): signs the node's reports; its libp2p peer id derives from it.
    pub identity_key: UserKey,
    /// X25519 static key for Noise peer channels (hex, 32 bytes).
    pub noise_key: String,
    /// libp2p listen multiaddress.
    pub p2p_addr: String,
    /// JSON-RPC listen address.
    pub rpc_addr: String,
    /// SHA-256 (hex) of the DER certificate the node serves JSON-RPC over TLS with.
    pub rpc_tls_sha256: String,
}

impl NodeCard {
    /// Syntax checks.
    pub fn validate(&self) -> Result<(), String> {
        let hex32 = |name: &str, v: &str| -> Result<(), String> {
            match hex::decode(v) {
                Ok(b) if b.len() == 32 => Ok(()),
                _ => Err(format!("{name} must be 32 bytes of hex")),
            }
        };
        hex32("noise_key", &self.noise_key)?;
        hex32("rpc_tls_sha256", &self.rpc_tls_sha256)?;
        for (name, v) in [("p2p_addr", &self.p2p_addr), ("rpc_addr", &self.rpc_addr)] {
            if v.is_empty() || v.len() > MAX_ADDR_BYTES || v.chars().any(char::is_whitespace) {
                return Err(format!(
                    "{name} must be 1 to {MAX_ADDR_BYTES} bytes without spaces"
                ));
            }
        }
        Ok(())
    }

    /// The Noise key as bytes (validated cards only).
    pub fn noise_key_bytes(&self) -> Option<[u8; 32]> {
        hex::decode(&self.noise_key).ok()?.try_into().ok()
    }
}

/// Where a replacement stands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum ReplacementStatus {
    /// Collecting genesis-admin signatures.
    Pending,
    /// In force: the new host holds the node's place.
    Admitted {
        /// Log index of the entry that admitted it (repair sessions derive from it).
        log_index: u64,
        /// Log time (ms).
        at_ms: u64,
    },
}

impl ReplacementStatus {
    /// Whether the change is in force.
    pub fn is_admitted(&self) -> bool {
        matches!(self, ReplacementStatus::Admitted { .. })
    }

    /// The log index that admitted it.
    pub fn admitted_log_index(&self) -> Option<u64> {
        match self {
            ReplacementStatus::Admitted { log_index, .. } => Some(*log_index),
            ReplacementStatus::Pending => None,
        }
    }
}

/// One replacement of node `node_id` by a new host.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeReplacement {
    /// The node whose place the new host takes.
    pub node_id: NodeId,
    /// 1 for the node's first replacement, then 2, …: a signature for one replacement is
    /// worthless for the next.
    pub replacement: u32,
    /// The new host's identity.
    pub card: NodeCard,
    /// Each signing genesis admin's `node_replace` command, by key.
    pub approvals: BTreeMap<UserKey, SignedCommand>,
    /// Signatures needed ([`network_quorum`] of the genesis admins).
    pub quorum: u16,
    /// Status.
    pub status: ReplacementStatus,
    /// Log time of the first signature (ms).
    pub created_at_ms: u64,
    /// Not admitted by then: expires.
    pub expires_at_ms: u64,
}

impl NodeReplacement {
    /// Whether the replacement is in force.
    pub fn is_admitted(&self) -> bool {
        self.status.is_admitted()
    }

    /// The log index that admitted it.
    pub fn admitted_log_index(&self) -> Option<u64> {
        self.status.admitted_log_index()
    }

    /// Re-verifies the evidence with nothing but the genesis: at least [`network_quorum`]
    /// distinct genesis admins each signed, for this cluster, a `node_replace` of exactly this
    /// node, replacement number and card.
    pub fn verify(
        &self,
        cluster_id: &str,
        genesis_admins: &BTreeSet<UserKey>,
    ) -> Result<(), String> {
        let what = format!("node {}'s replacement {}", self.node_id, self.replacement);
        verify_admin_quorum(&self.approvals, cluster_id, genesis_admins, &what, |a| {
            matches!(a, Action::NodeReplace { node_id, replacement, card }
                if *node_id == self.node_id && *replacement == self.replacement && *card == self.card)
        })
    }
}

/// Checks that at least [`network_quorum`] distinct genesis admins each signed, for this
/// cluster, a command `is_this` accepts — nothing but the genesis is trusted.
fn verify_admin_quorum(
    approvals: &BTreeMap<UserKey, SignedCommand>,
    cluster_id: &str,
    genesis_admins: &BTreeSet<UserKey>,
    what: &str,
    is_this: impl Fn(&Action) -> bool,
) -> Result<(), String> {
    let need = network_quorum(genesis_admins.len())
        .ok_or("the genesis names fewer than two admins: the network's nodes cannot change")?;
    let mut signers = BTreeSet::new();
    for (key, cmd) in approvals {
        let v = cmd.verify(cluster_id)?;
        if v.signer != *key || !genesis_admins.contains(key) {
            return Err(format!("a signature on {what} is not a genesis admin's"));
        }
        if !is_this(&v.body.action) {
            return Err(format!(
                "a signed command filed for {what} is about another change"
            ));
        }
        signers.insert(*key);
    }
    if signers.len() < need {
        return Err(format!(
            "{what} carries {} genesis-admin signature(s); {need} are needed",
            signers.len()
        ));
    }
    Ok(())
}

/// The removal of node `node_id` from the network (decision 0027): admitted when
/// [`network_quorum`] genesis admins signed the same `node_remove`. From then on the node takes
/// part in nothing: every vault refreshes its shares among the staying nodes (the removed
/// node's shares do not fit the new ones), the committee's aux info starts over without it,
/// and it leaves the Raft voters. A removal is final: the node id is never used again.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeRemoval {
    /// The node removed.
    pub node_id: NodeId,
    /// Each signing genesis admin's `node_remove` command, by key.
    pub approvals: BTreeMap<UserKey, SignedCommand>,
    /// Signatures needed ([`network_quorum`] of the genesis admins).
    pub quorum: u16,
    /// Status.
    pub status: ReplacementStatus,
    /// Log time of the first signature (ms).
    pub created_at_ms: u64,
    /// Not admitted by then: expires.
    pub expires_at_ms: u64,
}

impl NodeRemoval {
    /// Whether the removal is in force.
    pub fn is_admitted(&self) -> bool {
        self.status.is_admitted()
    }

    /// Re-verifies the evidence against the genesis admins alone (see [`NodeReplacement::verify`]).
    pub fn verify(
        &self,
        cluster_id: &str,
        genesis_admins: &BTreeSet<UserKey>,
    ) -> Result<(), String> {
        let what = format!("node {}'s removal", self.node_id);
        verify_admin_quorum(
            &self.approvals,
            cluster_id,
            genesis_admins,
            &what,
            |a| matches!(a, Action::NodeRemove { node_id } if *node_id == self.node_id),
        )
    }
}

/// The addition of a new node `node_id` to the network (decision 0027): admitted when
/// [`network_quorum`] genesis admins signed the same `node_add`. Every vault then gives it a
/// share at its own evaluation point (its node id) through a repair by `t` helpers, followed by
/// a refresh among the enlarged committee; the committee's aux info starts over with it, and
/// the Raft leader makes it a learner, then a voter.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeAddition {
    /// The new node's id (larger than every id the network used before).
    pub node_id: NodeId,
    /// Its identity.
    pub card: NodeCard,
    /// Each signing genesis admin's `node_add` command, by key.
    pub approvals: BTreeMap<UserKey, SignedCommand>,
    /// Signatures needed ([`network_quorum`] of the genesis admins).
    pub quorum: u16,
    /// Status.
    pub status: ReplacementStatus,
    /// Log time of the first signature (ms).
    pub created_at_ms: u64,
    /// Not admitted by then: expires.
    pub expires_at_ms: u64,
}

impl NodeAddition {
    /// Whether the addition is in force.
    pub fn is_admitted(&self) -> bool {
        self.status.is_admitted()
    }

    /// The log index that admitted it.
    pub fn admitted_log_index(&self) -> Option<u64> {
        self.status.admitted_log_index()
    }

    /// Re-verifies the evidence against the genesis admins alone.
    pub fn verify(
        &self,
        cluster_id: &str,
        genesis_admins: &BTreeSet<UserKey>,
    ) -> Result<(), String> {
        let what = format!("node {}'s addition", self.node_id);
        verify_admin_quorum(
            &self.approvals,
            cluster_id,
            genesis_admins,
            &what,
            |a| matches!(a, Action::NodeAdd { node_id, card } if *node_id == self.node_id && *card == self.card),
        )
    }
}

/// Largest node id: it is also the node's evaluation point (a 16-bit party index).
pub const MAX_NODE_ID: NodeId = 1_000;

/// A vault's share repair for a replaced node: `t` helpers give the new host a share of every
/// key of the vault (frost-core's repairable threshold scheme; ECDSA shares through the same
/// scheme over secp256k1), then a refresh makes the lost host's share useless.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyRepair {
    /// The node whose share is rebuilt.
    pub node_id: NodeId,
    /// Its replacement number.
    pub replacement: u32,
    /// Log index of the admitting entry.
    pub admitted_log_index: u64,
    /// Attempt (1, 2, …): each one has its own helpers and session ids.
    pub attempt: u32,
    /// Log index of the entry that started this attempt.
    pub attempt_log_index: u64,
    /// The helpers of this attempt (t nodes, sorted).
    pub helpers: Vec<NodeId>,
    /// The last attempt's failure, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_failure: Option<String>,
}

/// Most repair attempts for one vault before the repair waits for an operator (a new
/// replacement starts over).
pub const MAX_REPAIR_ATTEMPTS: u32 = 50;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quorum_is_a_majority_of_at_least_two() {
        assert_eq!(network_quorum(0), None);
        assert_eq!(network_quorum(1), None);
        assert_eq!(network_quorum(2), Some(2));
        assert_eq!(network_quorum(3), Some(2));
        assert_eq!(network_quorum(4), Some(3));
        assert_eq!(network_quorum(5), Some(3));
    }
}
