//! Custody records beyond organisations and members: vaults, wallets, address book, policies and
//! signing requests, and the pure checks on them that every node runs (policy evaluation when a
//! request is submitted or approved, and the signer's own re-verification before it signs).

use crate::command::{Action, SignedCommand};
use crate::types::{OrgId, UserId, UserKey};
use mpc_protocol::chain::keys::VaultPublicKeys;
use mpc_protocol::chain::{Amount, Chain, Intent, KeyType, Network, PayloadExtras};
use mpc_protocol::domain;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, BTreeSet};

/// Raft node id.
pub type NodeId = u64;

/// Most approvers in a policy.
pub const MAX_APPROVERS: usize = 32;
/// Most spending limits in a policy.
pub const MAX_LIMITS: usize = 16;
/// Longest spending window: 31 days.
pub const MAX_WINDOW_SECS: u64 = 31 * 24 * 3600;
/// Most signing attempts per request.
pub const MAX_SIGN_ATTEMPTS: u32 = 5;
/// ECDSA presignatures kept ready per ECDSA wallet (for the wallet's pool signer set).
pub const PRESIG_POOL_TARGET: usize = 4;
/// Consecutive presigning failures after which a pool stops refilling until its wallet's next
/// request (so a node that is down does not cause endless failing sessions).
pub const PRESIG_MAX_FAILURES: u32 = 3;

/// Lifecycle of a vault.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum VaultStatus {
    /// Committed; nodes are running DKG.
    Pending,
    /// Every node reported the same public keys.
    Active,
    /// DKG failed or the reports disagree.
    Failed {
        /// Why.
        reason: String,
    },
}

/// A vault: one key of each type, shared among all nodes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Vault {
    /// Id (unique in the network).
    pub vault_id: String,
    /// Owning organisation.
    pub org_id: OrgId,
    /// Display name.
    pub name: String,
    /// Status.
    pub status: VaultStatus,
    /// Log index of the creating entry (DKG session ids derive from it).
    pub created_log_index: u64,
    /// Creation time (ms, from the log).
    pub created_at_ms: u64,
    /// Nodes that run the DKG (the whole committee) and the threshold.
    pub committee: Vec<NodeId>,
    /// Threshold t.
    pub threshold: u16,
    /// Public keys, once active.
    pub keys: Option<VaultPublicKeys>,
    /// Each node's report.
    pub reports: BTreeMap<NodeId, VaultPublicKeys>,
}

/// A wallet: an address derived from a vault key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Wallet {
    /// `vault-chain-network-index`.
    pub wallet_id: String,
    /// Organisation.
    pub org_id: OrgId,
    /// Vault.
    pub vault_id: String,
    /// Chain.
    pub chain: Chain,
    /// Network.
    pub network: Network,
    /// Derivation index.
    pub index: u32,
    /// Key type.
    pub key_type: KeyType,
    /// Public key (hex): ECDSA compressed, Taproot x-only output key, ed25519.
    pub public_key: String,
    /// Address.
    pub address: String,
    /// Creation time (ms).
    pub created_at_ms: u64,
}

impl Wallet {
    /// The id of a wallet.
    pub fn id_for(vault_id: &str, chain: Chain, network: Network, index: u32) -> String {
        let net = match network {
            Network::Mainnet => "mainnet",
            Network::Testnet => "testnet",
        };
        format!("{vault_id}-{chain}-{net}-{index}")
    }

    /// The chain module's view of the wallet.
    pub fn key(&self) -> Result<mpc_protocol::chain::WalletKey, String> {
        Ok(mpc_protocol::chain::WalletKey {
            chain: self.chain,
            network: self.network,
            public_key: hex::decode(&self.public_key).map_err(|_| "wallet key is not hex")?,
            address: self.address.clone(),
        })
    }
}

/// A whitelisted destination.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AddressBookEntry {
    /// Organisation.
    pub org_id: OrgId,
    /// Chain family: Bitcoin entries apply to both Bitcoin wallet kinds.
    pub chain: Chain,
    /// Network.
    pub network: Network,
    /// Canonical address.
    pub address: String,
    /// Label.
    pub label: String,
    /// When added (ms).
    pub added_at_ms: u64,
}

/// The address-book key of a chain (Bitcoin kinds share one list).
pub fn book_chain(chain: Chain) -> Chain {
    match chain {
        Chain::BitcoinP2tr => Chain::BitcoinP2wpkh,
        c => c,
    }
}

/// What happens when a request would exceed a spending limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum LimitAction {
    /// The request is rejected.
    Reject,
    /// The request waits for an organisation admin's approval.
    RequireAdmin,
}

/// A spending limit on one asset over a rolling window.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SpendLimit {
    /// Asset symbol (ETH, BTC, SOL).
    pub asset: String,
    /// Window length, seconds (e.g. 3600, 86400).
    pub window_secs: u64,
    /// Most that may be reserved within any window, smallest unit.
    pub max_amount: Amount,
    /// What happens beyond it.
    pub action: LimitAction,
}

/// Requests up to an amount to a whitelisted address need no human approval.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AutoApprove {
    /// Asset symbol.
    pub asset: String,
    /// Largest amount auto-approved, smallest unit.
    pub max_amount: Amount,
}

/// The rules of a vault policy, as an admin writes them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PolicyRules {
    /// Members who may approve.
    pub approvers: Vec<UserId>,
    /// Approvals needed (M).
    pub threshold: u16,
    /// Whether every destination must be in the address book.
    #[serde(default)]
    pub whitelist_required: bool,
    /// Spending limits.
    #[serde(default)]
    pub limits: Vec<SpendLimit>,
    /// Auto-approval rules (destination must be whitelisted).
    #[serde(default)]
    pub auto_approve: Vec<AutoApprove>,
}

impl PolicyRules {
    /// Syntax checks.
    pub fn validate(&self) -> Result<(), String> {
        if self.approvers.is_empty() || self.approvers.len() > MAX_APPROVERS {
            return Err(format!("a policy needs 1 to {MAX_APPROVERS} approvers"));
        }
        let set: BTreeSet<_> = self.approvers.iter().collect();
        if set.len() != self.approvers.len() {
            return Err("approvers must not repeat".into());
        }
        for a in &self.approvers {
            a.validate()?;
        }
        if self.threshold == 0 || usize::from(self.threshold) > self.approvers.len() {
            return Err("threshold must be between 1 and the number of approvers".into());
        }
        if self.limits.len() > MAX_LIMITS || self.auto_approve.len() > MAX_LIMITS {
            return Err(format!(
                "at most {MAX_LIMITS} limits and auto-approve rules"
            ));
        }
        for l in &self.limits {
            if l.window_secs == 0 || l.window_secs > MAX_WINDOW_SECS {
                return Err(format!("window_secs must be 1 to {MAX_WINDOW_SECS}"));
            }
            validate_asset(&l.asset)?;
        }
        for a in &self.auto_approve {
            validate_asset(&a.asset)?;
        }
        Ok(())
    }

    /// SHA-256 of the canonical JSON of the rules, hex.
    pub fn hash(&self) -> String {
        let json = serde_json::to_vec(self).unwrap_or_default();
        hex::encode(Sha256::digest(json))
    }
}

fn validate_asset(a: &str) -> Result<(), String> {
    match a {
        "ETH" | "BTC" | "SOL" => Ok(()),
        _ => Err(format!("unknown asset '{a}' (ETH, BTC or SOL)")),
    }
}

/// A vault's policy in force.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Policy {
    /// Vault.
    pub vault_id: String,
    /// Version, from 1.
    pub version: u32,
    /// Hash of the rules.
    pub hash: String,
    /// The rules.
    pub rules: PolicyRules,
    /// Who set it (user id) and when (ms).
    pub set_by: UserId,
    /// When (ms).
    pub set_at_ms: u64,
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
        }
    }
}

/// A wallet's pool of ECDSA presignatures (decision 0011). Each presignature is made by the
/// pool's signer set for the wallet's key *and HD path*, fixed when the wallet was created
/// (RUSTSEC-2025-0127), and is identified by a sequence number that is never reused. It
/// becomes usable once every signer reported it stored; an attempt that uses it removes it
/// here, in the log, before any partial signature exists (invariant 4), and each signer takes
/// it out of its share store (flushed) before issuing its partial.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PresigPool {
    /// Wallet.
    pub wallet_id: String,
    /// The t nodes that make and use this pool's presignatures (sorted).
    pub signers: Vec<NodeId>,
    /// Next sequence number to schedule.
    pub next_seq: u64,
    /// Scheduled presignatures and the signers that reported them stored so far.
    pub generating: BTreeMap<u64, BTreeSet<NodeId>>,
    /// Presignatures every signer holds, not yet used.
    pub ready: BTreeSet<u64>,
    /// How many were used by signing attempts.
    pub used: u64,
    /// Failed presigning sessions since the last success or request.
    pub failures_in_row: u32,
}

impl PresigPool {
    /// A pool for `wallet_id` made by `signers`, with its first presignatures scheduled.
    pub fn new(wallet_id: &str, signers: Vec<NodeId>) -> Self {
        let mut p = PresigPool {
            wallet_id: wallet_id.to_string(),
            signers,
            next_seq: 0,
            generating: BTreeMap::new(),
            ready: BTreeSet::new(),
            used: 0,
            failures_in_row: 0,
        };
        p.top_up();
        p
    }

    /// Schedules presignatures up to the target, unless paused by failures.
    pub fn top_up(&mut self) {
        if self.failures_in_row >= PRESIG_MAX_FAILURES {
            return;
        }
        while self.ready.len() + self.generating.len() < PRESIG_POOL_TARGET {
            self.generating.insert(self.next_seq, BTreeSet::new());
            self.next_seq += 1;
        }
    }

    /// Removes and returns `n` usable presignatures (lowest first), or none if fewer are ready.
    pub fn take(&mut self, n: usize) -> Vec<u64> {
        if n == 0 || self.ready.len() < n {
            return Vec::new();
        }
        let seqs: Vec<u64> = self.ready.iter().take(n).copied().collect();
        for s in &seqs {
            self.ready.remove(s);
        }
        self.used += seqs.len() as u64;
        seqs
    }

    /// Session id of presignature `seq`.
    pub fn session_id(&self, cluster_id: &str, seq: u64) -> [u8; 32] {
        let signers: Vec<u8> = self.signers.iter().flat_map(|n| n.to_be_bytes()).collect();
        session_id(
            cluster_id,
            "presign",
            &[self.wallet_id.as_bytes(), &signers, &seq.to_be_bytes()],
        )
    }

    /// Share-store key under which each signer keeps presignature `seq`.
    pub fn store_key(&self, seq: u64) -> String {
        presig_store_key(&self.wallet_id, seq)
    }
}

/// Share-store key of presignature `seq` of `wallet_id`'s pool.
pub fn presig_store_key(wallet_id: &str, seq: u64) -> String {
    format!("presig/{wallet_id}/{seq}")
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
}

/// A signing request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Request {
    /// `req-<log index>`.
    pub request_id: String,
    /// Organisation.
    pub org_id: OrgId,
    /// Wallet.
    pub wallet_id: String,
    /// Vault.
    pub vault_id: String,
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
    pub policy: Policy,
    /// Status.
    pub status: RequestStatus,
    /// True when the auto-approve rule applied.
    pub auto_approved: bool,
    /// Approvals: approver user id → the signed approval command.
    pub approvals: BTreeMap<UserId, SignedCommand>,
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
    /// Submission time (ms).
    pub created_at_ms: u64,
    /// Last change (ms).
    pub updated_at_ms: u64,
}

/// The digest approvers sign: binds the cluster, request, wallet, payload and parsed intent.
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
    let x = serde_json::to_vec(extras).unwrap_or_default();
    h.update((x.len() as u64).to_be_bytes());
    h.update(&x);
    let i = serde_json::to_vec(intent).unwrap_or_default();
    h.update((i.len() as u64).to_be_bytes());
    h.update(&i);
    hex::encode(h.finalize())
}

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
        vault_id: String,
        /// Keys.
        keys: VaultPublicKeys,
    },
    /// DKG failed on this node.
    VaultFailed {
        /// Vault.
        vault_id: String,
        /// Why.
        reason: String,
    },
    /// Signing finished: one signature (hex) per message.
    Signature {
        /// Request.
        request_id: String,
        /// Attempt.
        attempt: u32,
        /// Signatures.
        signatures: Vec<String>,
    },
    /// This node stored presignature `seq` of the wallet's pool.
    PresigReady {
        /// Wallet.
        wallet_id: String,
        /// Sequence number.
        seq: u64,
    },
    /// Presignature `seq` of the wallet's pool could not be made here.
    PresigFailed {
        /// Wallet.
        wallet_id: String,
        /// Sequence number.
        seq: u64,
        /// Why.
        reason: String,
    },
    /// Signing failed on this node.
    SignFailed {
        /// Request.
        request_id: String,
        /// Attempt.
        attempt: u32,
        /// Why.
        reason: String,
        /// Signers from which nothing arrived.
        unresponsive: Vec<NodeId>,
    },
}

impl Report {
    /// Short name for the audit log.
    pub fn kind(&self) -> &'static str {
        match self {
            Report::VaultKeys { .. } => "vault_keys",
            Report::VaultFailed { .. } => "vault_failed",
            Report::Signature { .. } => "signature",
            Report::SignFailed { .. } => "sign_failed",
            Report::PresigReady { .. } => "presig_ready",
            Report::PresigFailed { .. } => "presig_failed",
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
