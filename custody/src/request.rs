//! Signing requests, their attempts, the intent digest approvers sign and the check of a
//! stored approval.

use crate::command::{Action, SignedCommand};
use crate::ids::NodeId;
use crate::policy::Policy;
use crate::types::{OrgId, RequestId, UserId, UserKey, VaultId, WalletId};
use mpc_protocol::chain::{Amount, Intent, PayloadExtras};
use mpc_protocol::domain;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;

/// Most signing attempts per request.
pub const MAX_SIGN_ATTEMPTS: u32 = 5;

/// Log time an attempt signed from presignatures or with FROST may take: a fixed part plus a
/// part per message (Bitcoin signs one message per input), in ms.
pub const ATTEMPT_DEADLINE_ONLINE_MS: (u64, u64) = (60_000, 10_000);
/// Log time an interactive ECDSA attempt may take (Paillier proofs in every round, and a wait for
/// the committee's aux info): a fixed part plus a part per message, in ms.
pub const ATTEMPT_DEADLINE_INTERACTIVE_MS: (u64, u64) = (180_000, 60_000);

/// The log time by which an attempt started at `now_ms` must have signed or failed: past it,
/// any node may report it expired and the state machine starts the next attempt.
pub fn attempt_deadline_ms(now_ms: u64, interactive_ecdsa: bool, messages: usize) -> u64 {
    let (base, per) = if interactive_ecdsa {
        ATTEMPT_DEADLINE_INTERACTIVE_MS
    } else {
        ATTEMPT_DEADLINE_ONLINE_MS
    };
    let n = u64::try_from(messages.max(1)).unwrap_or(u64::MAX);
    now_ms
        .saturating_add(base)
        .saturating_add(per.saturating_mul(n))
}

/// Lifecycle of a signing request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum RequestStatus {
    /// Waiting for approvals.
    Pending,
    /// Approved, but a spending limit needs an admin's approval.
    AwaitingAdmin {
        /// Which limit.
        reason: String,
    },
    /// Signer set and session fixed; signers are working.
    Signing,
    /// Signed; the signed transaction is available.
    Signed,
    /// Rejected by policy or an approver.
    Rejected {
        /// Why.
        reason: String,
    },
    /// Signing failed after every attempt.
    Failed {
        /// Why.
        reason: String,
    },
    /// Not signed within the policy's time-to-live; its reservation is released.
    Expired,
    /// Cancelled by its initiator or an org admin before signing started.
    Cancelled {
        /// Who and why.
        reason: String,
    },
}

impl RequestStatus {
    /// Short name.
    pub fn name(&self) -> &'static str {
        match self {
            RequestStatus::Pending => "pending",
            RequestStatus::AwaitingAdmin { .. } => "awaiting_admin",
            RequestStatus::Signing => "signing",
            RequestStatus::Signed => "signed",
            RequestStatus::Rejected { .. } => "rejected",
            RequestStatus::Failed { .. } => "failed",
            RequestStatus::Expired => "expired",
            RequestStatus::Cancelled { .. } => "cancelled",
        }
    }

    /// Whether the request may still be signed (pending, awaiting an admin, or signing).
    pub fn is_open(&self) -> bool {
        matches!(
            self,
            RequestStatus::Pending | RequestStatus::AwaitingAdmin { .. } | RequestStatus::Signing
        )
    }
}

/// One signing attempt.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignAttempt {
    /// 1-based.
    pub attempt: u32,
    /// Signer node ids, sorted.
    pub signers: Vec<NodeId>,
    /// Session id (hex).
    pub session_id: String,
    /// Log index that fixed it.
    pub log_index: u64,
    /// Why it failed, if it did.
    pub failure: Option<String>,
    /// ECDSA presignatures this attempt uses, one per message (empty: full interactive signing).
    #[serde(default)]
    pub presignatures: Vec<u64>,
    /// Log time (ms) by which the attempt must sign or fail; past it any node may report it
    /// expired ([`crate::Report::AttemptExpired`]). 0 in attempts recorded before deadlines
    /// existed: no deadline.
    #[serde(default)]
    pub deadline_ms: u64,
}

/// A signing request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Request {
    /// `req-<log index>`.
    pub request_id: RequestId,
    /// Organisation.
    pub org_id: OrgId,
    /// Wallet.
    pub wallet_id: WalletId,
    /// Vault.
    pub vault_id: VaultId,
    /// Submitted by (user id).
    pub initiator: UserId,
    /// The unsigned payload, hex.
    pub payload: String,
    /// Chain extras (Bitcoin spent outputs).
    pub extras: PayloadExtras,
    /// What the payload does, as parsed.
    pub intent: Intent,
    /// What approvers sign (hex).
    pub intent_digest: String,
    /// Policy in force at submission (checked again by signers).
    pub policy: std::sync::Arc<Policy>,
    /// Status.
    pub status: RequestStatus,
    /// True when the auto-approve rule applied.
    pub auto_approved: bool,
    /// Approvals: approver user id → the signed approval command.
    pub approvals: BTreeMap<UserId, Approval>,
    /// Admin approval beyond a spending limit, if any.
    pub admin_approval: Option<SignedCommand>,
    /// When the spend was reserved against the windows (ms).
    pub reserved_at_ms: Option<u64>,
    /// Attempts so far.
    pub attempts: Vec<SignAttempt>,
    /// Signatures (hex), one per message, once signed.
    pub signatures: Vec<String>,
    /// The signed transaction, once signed (and its audit entry committed).
    pub signed_transaction: Option<String>,
    /// Where the signed transaction stands on its chain (broadcast, confirmations), once signed.
    #[serde(default)]
    pub chain: Option<crate::chain_status::ChainStatus>,
    /// Submission time (ms).
    pub created_at_ms: u64,
    /// Last change (ms).
    pub updated_at_ms: u64,
    /// Log time (ms) after which the request can no longer sign: created plus the policy's
    /// time-to-live. 0: no expiry.
    #[serde(default)]
    pub expires_at_ms: u64,
    /// Waiting for a signing slot: no attempt runs (interactive ECDSA beyond
    /// [`MAX_INTERACTIVE_SIGNING`] at once); the next attempt starts when a slot frees, in
    /// request order. Waiting is not a failed attempt and has no deadline.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub queued: bool,
}

/// Interactive ECDSA signing attempts (no presignature: Paillier proofs in every round) the
/// network runs at once; more wait in the log's queue instead of starving each other on the
/// nodes' cores until every attempt times out. Each takes about 1.4 s of CPU per signer here
/// (docs/performance.md).
pub const MAX_INTERACTIVE_SIGNING: usize = 4;

/// The amount every signature of this network for one Bitcoin P2WPKH output commits to: the
/// first request that reserved a spend of the output fixed it (see decision 0016).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InputClaim {
    /// The spent output, `txid:vout`.
    pub outpoint: String,
    /// Its value in satoshi, as the request that fixed it claimed.
    pub amount: Amount,
    /// That request.
    pub request_id: RequestId,
}

impl Request {
    /// What the request takes from the wallet in its own asset: for a native transfer the
    /// amount plus the fee; for a token transfer the token amount (its fee is spent in the
    /// native asset, see [`mpc_protocol::chain::Intent::spend_in`]).
    pub fn spend(&self) -> u128 {
        self.intent.spend_in(&self.intent.asset)
    }

    /// The attempt running now: the last one while the request is signing and not queued.
    pub fn current_attempt(&self) -> Option<&SignAttempt> {
        if self.status != RequestStatus::Signing || self.queued {
            return None;
        }
        self.attempts.last()
    }
}

/// The digest approvers sign: binds the cluster, request, wallet, payload and parsed intent.
/// SHA-256 over `INTENT_DIGEST` and, each with an 8-byte big-endian length: cluster id, request
/// id, wallet id, payload bytes, and the canonical JSON (keys sorted at every level, no
/// whitespace) of the extras and of the intent. The web console recomputes it (decision 0022).
pub fn intent_digest(
    cluster_id: &str,
    request_id: &str,
    wallet_id: &str,
    payload: &[u8],
    extras: &PayloadExtras,
    intent: &Intent,
) -> String {
    let mut h = Sha256::new();
    h.update(domain::INTENT_DIGEST);
    for part in [
        cluster_id.as_bytes(),
        request_id.as_bytes(),
        wallet_id.as_bytes(),
        payload,
    ] {
        h.update((part.len() as u64).to_be_bytes());
        h.update(part);
    }
    // Canonical JSON: through `serde_json::Value`, whose maps are sorted by key at every level,
    // so that a browser recomputes the same bytes from the JSON it was given.
    let canonical = |v: serde_json::Result<serde_json::Value>| {
        v.and_then(|v| serde_json::to_vec(&v)).unwrap_or_default()
    };
    let x = canonical(serde_json::to_value(extras));
    h.update((x.len() as u64).to_be_bytes());
    h.update(&x);
    let i = canonical(serde_json::to_value(intent));
    h.update((i.len() as u64).to_be_bytes());
    h.update(&i);
    hex::encode(h.finalize())
}

/// An approval's evidence: a command signed by the member's Ed25519 key, or a passkey
/// assertion over the request's decision challenge.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Approval {
    /// A `request_approve` command signed by the member's key.
    Key(SignedCommand),
    /// A passkey assertion.
    Passkey(crate::passkey::PasskeyDecision),
}

/// Checks a stored approval: signed for this cluster by `key`, approving `request_id` with
/// `digest`. Returns the approving user id named in the command's action (the caller checks it
/// against the policy and the member's key).
pub fn check_approval(
    cmd: &SignedCommand,
    cluster_id: &str,
    request_id: &str,
    digest: &str,
    admin: bool,
) -> Result<UserKey, String> {
    let v = cmd.verify(cluster_id)?;
    let (rid, d) = match (&v.body.action, admin) {
        (
            Action::RequestApprove {
                request_id,
                intent_digest,
                ..
            },
            false,
        ) => (request_id, intent_digest),
        (
            Action::RequestAdminApprove {
                request_id,
                intent_digest,
                ..
            },
            true,
        ) => (request_id, intent_digest),
        _ => return Err("not an approval command".into()),
    };
    if rid != request_id || d != digest {
        return Err("approval is for another request or digest".into());
    }
    Ok(v.signer)
}

#[cfg(test)]
mod digest_tests {
    use super::*;
    use mpc_protocol::chain::{Chain, Network, Transfer};

    /// The digest hashes canonical JSON (sorted keys), which the web console rebuilds from the
    /// JSON it reads. Fails if a dependency ever turns on serde_json's `preserve_order`.
    #[test]
    fn intent_json_in_the_digest_is_canonical() {
        let intent = Intent {
            chain: Chain::Solana,
            network: Network::Testnet,
            from: "a".into(),
            asset: "SOL".into(),
            transfers: vec![Transfer {
                to: "b".into(),
                amount: Amount(5),
            }],
            amount: Amount(5),
            fee: Amount(1),
            details: [("z".to_string(), "1".to_string()), ("a".into(), "2".into())]
                .into_iter()
                .collect(),
            token: None,
        };
        let text = serde_json::to_vec(&serde_json::to_value(&intent).unwrap()).unwrap();
        assert_eq!(
            String::from_utf8(text).unwrap(),
            r#"{"amount":"5","asset":"SOL","chain":"solana","details":{"a":"2","z":"1"},"fee":"1","from":"a","network":"testnet","transfers":[{"amount":"5","to":"b"}]}"#
        );
    }
}
