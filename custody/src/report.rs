//! Node reports: a node's signed statement of a DKG result, a signature, a stored
//! presignature, a broadcast, a chain observation or a failure.

use crate::ids::NodeId;
use crate::types::{RequestId, VaultId, WalletId};
use mpc_protocol::chain::keys::VaultPublicKeys;
use mpc_protocol::domain;
use serde::{Deserialize, Serialize};

/// A node's signed statement (DKG result, signature, failure).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SignedReport {
    /// Reporting node.
    pub node_id: NodeId,
    /// JSON text of a [`ReportBody`].
    pub body: String,
    /// Ed25519 signature (hex) by the node's identity key over `NODE_REPORT || body`.
    pub signature: String,
}

/// What a node reports.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReportBody {
    /// Genesis hash.
    pub cluster: String,
    /// The report.
    pub report: Report,
}

/// Node reports.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum Report {
    /// DKG finished; these are the public keys this node holds shares of.
    VaultKeys {
        /// Vault.
        vault_id: VaultId,
        /// Keys.
        keys: VaultPublicKeys,
    },
    /// DKG failed on this node.
    VaultFailed {
        /// Vault.
        vault_id: VaultId,
        /// Why.
        reason: String,
    },
    /// Signing finished: one signature (hex) per message.
    Signature {
        /// Request.
        request_id: RequestId,
        /// Attempt.
        attempt: u32,
        /// Signatures.
        signatures: Vec<String>,
    },
    /// Signing finished for several requests: one [`Report::Signature`] each, signed and
    /// proposed together (one log entry, one node signature; issue 15). Each item is applied as
    /// its own `Signature` report would be, in order; an item that changes nothing (a duplicate,
    /// a late report) leaves the others unaffected. At most [`MAX_SIGNATURE_ITEMS`] items.
    Signatures {
        /// The requests' signatures.
        items: Vec<SignedAttempt>,
    },
    /// This node stored presignature `seq` of the wallet's pool.
    PresigReady {
        /// Wallet.
        wallet_id: WalletId,
        /// Sequence number.
        seq: u64,
    },
    /// Presignature `seq` of the wallet's pool could not be made here.
    PresigFailed {
        /// Wallet.
        wallet_id: WalletId,
        /// Sequence number.
        seq: u64,
        /// Why.
        reason: String,
    },
    /// The current attempt of a request passed its deadline (log time) without a signature or a
    /// failure report. Any node may send it; it takes effect only if, at the log time it is
    /// applied, the attempt is still current and its deadline has passed.
    AttemptExpired {
        /// Request.
        request_id: RequestId,
        /// Attempt.
        attempt: u32,
    },
    /// A request passed its time-to-live (log time) before it signed. Any node may send it; it
    /// takes effect only if, at the log time it is applied, the request is still open and its
    /// `expires_at_ms` has passed.
    RequestExpired {
        /// Request.
        request_id: RequestId,
    },
    /// This node stored the committee's aux info of `attempt`.
    AuxReady {
        /// Attempt.
        attempt: u32,
    },
    /// The committee's aux info of `attempt` failed on this node: the next attempt starts.
    AuxFailed {
        /// Attempt.
        attempt: u32,
        /// Why.
        reason: String,
    },
    /// This node sent the request's signed transaction to its chain provider.
    Broadcast {
        /// Request.
        request_id: RequestId,
        /// The transaction id it sent (must be the one the state machine computed).
        txid: String,
    },
    /// What this node's chain provider says about the request's signed transaction.
    ChainObserved {
        /// Request.
        request_id: RequestId,
        /// The transaction id (must be the one the state machine computed).
        txid: String,
        /// The observation.
        seen: crate::chain_status::Seen,
    },
    /// This node finished the vault's refresh to `epoch` and stored the new shares (not yet in
    /// force): `digest` is [`crate::refresh_digest`] of the new public key material.
    VaultRefreshed {
        /// Vault.
        vault_id: VaultId,
        /// The epoch the refresh makes.
        epoch: u32,
        /// The refresh: the log index that started it (the new shares' generation).
        generation: u64,
        /// Digest of the new group keys and public shares (hex).
        digest: String,
    },
    /// The vault's refresh to `epoch` failed on this node; nothing changes.
    VaultRefreshFailed {
        /// Vault.
        vault_id: VaultId,
        /// The epoch the refresh would have made.
        epoch: u32,
        /// The refresh: the log index that started it.
        generation: u64,
        /// Why.
        reason: String,
        /// Nodes the session named as having sent bad sub-shares.
        culprits: Vec<NodeId>,
    },
    /// The organisation's refresh schedule says the vault's shares (at `epoch`) are due for a
    /// refresh. Any node may send it; it takes effect only if, at the log time it is applied,
    /// the schedule still says so.
    RefreshDue {
        /// Vault.
        vault_id: VaultId,
        /// The vault's current epoch.
        epoch: u32,
    },
    /// The replaced node `node_id` (this node, its new host) rebuilt its shares of every key of
    /// the vault in repair attempt `attempt` and checked each against the vault's public shares.
    VaultRepaired {
        /// Vault.
        vault_id: VaultId,
        /// The node's replacement number.
        replacement: u32,
        /// The attempt.
        attempt: u32,
    },
    /// A repair attempt failed on this node (a helper or the new host).
    VaultRepairFailed {
        /// Vault.
        vault_id: VaultId,
        /// The replacement number.
        replacement: u32,
        /// The attempt.
        attempt: u32,
        /// Why.
        reason: String,
        /// Helpers the session named as having sent a bad sub-share.
        culprits: Vec<NodeId>,
    },
    /// Signing failed on this node.
    SignFailed {
        /// Request.
        request_id: RequestId,
        /// Attempt.
        attempt: u32,
        /// Why.
        reason: String,
        /// Signers from which nothing arrived.
        unresponsive: Vec<NodeId>,
    },
}

/// Most items in one [`Report::Signatures`].
pub const MAX_SIGNATURE_ITEMS: usize = 64;

/// One request's signatures in a [`Report::Signatures`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SignedAttempt {
    /// Request.
    pub request_id: RequestId,
    /// Attempt.
    pub attempt: u32,
    /// Signatures (hex), one per message.
    pub signatures: Vec<String>,
}

impl Report {
    /// Short name for the audit log.
    pub fn kind(&self) -> &'static str {
        match self {
            Report::VaultKeys { .. } => "vault_keys",
            Report::VaultFailed { .. } => "vault_failed",
            Report::Signature { .. } => "signature",
            Report::Signatures { .. } => "signatures",
            Report::SignFailed { .. } => "sign_failed",
            Report::AttemptExpired { .. } => "attempt_expired",
            Report::RequestExpired { .. } => "request_expired",
            Report::PresigReady { .. } => "presig_ready",
            Report::PresigFailed { .. } => "presig_failed",
            Report::AuxReady { .. } => "aux_ready",
            Report::AuxFailed { .. } => "aux_failed",
            Report::Broadcast { .. } => "broadcast",
            Report::ChainObserved { .. } => "chain_observed",
            Report::VaultRefreshed { .. } => "vault_refreshed",
            Report::VaultRefreshFailed { .. } => "vault_refresh_failed",
            Report::RefreshDue { .. } => "refresh_due",
            Report::VaultRepaired { .. } => "vault_repaired",
            Report::VaultRepairFailed { .. } => "vault_repair_failed",
        }
    }
}

/// The bytes a node signs for a report.
pub fn report_message(body: &str) -> Vec<u8> {
    let mut m = domain::NODE_REPORT.to_vec();
    m.extend_from_slice(body.as_bytes());
    m
}

impl SignedReport {
    /// Verifies the signature with the node's key and parses the body.
    pub fn verify(&self, cluster_id: &str, node_key: &[u8; 32]) -> Result<Report, String> {
        if self.body.len() > mpc_protocol::limits::MAX_COMMAND_BODY_BYTES {
            return Err("report too large".into());
        }
        let sig: [u8; 64] = hex::decode(&self.signature)
            .ok()
            .and_then(|b| b.try_into().ok())
            .ok_or("report signature must be 64 bytes of hex")?;
        let vk =
            ed25519_dalek::VerifyingKey::from_bytes(node_key).map_err(|_| "invalid node key")?;
        vk.verify_strict(
            &report_message(&self.body),
            &ed25519_dalek::Signature::from_bytes(&sig),
        )
        .map_err(|_| "report signature does not verify")?;
        let body: ReportBody =
            serde_json::from_str(&self.body).map_err(|e| format!("malformed report: {e}"))?;
        if body.cluster != cluster_id {
            return Err("report was made for another network".into());
        }
        Ok(body.report)
    }
}
