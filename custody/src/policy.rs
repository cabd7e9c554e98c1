//! Vault policies as admins write them: approvers and M, whitelist, spending limits and
//! auto-approval.

use crate::types::{UserId, VaultId};
use mpc_protocol::chain::Amount;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::BTreeSet;

/// Most approvers in a policy.
pub const MAX_APPROVERS: usize = 32;
/// Most spending limits in a policy.
pub const MAX_LIMITS: usize = 16;
/// Longest spending window: 31 days.
pub const MAX_WINDOW_SECS: u64 = 31 * 24 * 3600;
/// A request's time-to-live when the policy sets none: 24 hours.
pub const DEFAULT_REQUEST_TTL_SECS: u64 = 24 * 3600;
/// Shortest and longest time-to-live a policy may set: 1 minute to 30 days.
pub const REQUEST_TTL_RANGE_SECS: (u64, u64) = (60, 30 * 24 * 3600);

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
    /// Asset symbol (ETH, BTC, SOL, or a token of the asset registry).
    pub asset: String,
    /// Window length, seconds (e.g. 3600, 86400).
    pub window_secs: u64,
    /// Most that may be reserved within any window, smallest unit; what counts is each
    /// request's amount plus its fee in the native asset, and a token transfer's amount in the
    /// token.
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
    /// Largest amount plus fee auto-approved, smallest unit.
    pub max_amount: Amount,
}

/// The most one request may pay in fees, for one asset.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FeeCap {
    /// Asset symbol (the chain's native asset, in which fees are paid).
    pub asset: String,
    /// Largest fee, smallest unit (Ethereum: gas limit × max fee per gas, the most it can pay).
    pub max_fee: Amount,
}

/// A contract call a policy allows: a function (by its 4-byte selector) of one contract.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AllowedCall {
    /// Contract address (any case; compared case-insensitively).
    pub contract: String,
    /// Function selector, 8 hex digits (e.g. `095ea7b3` for `approve(address,uint256)`).
    pub selector: String,
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
    /// Per-asset fee caps: a request whose fee exceeds its asset's cap is rejected.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub max_fee: Vec<FeeCap>,
    /// Contract calls (other than token transfers, which the asset registry governs) this
    /// vault may sign; none by default: any other calldata is refused.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub allowed_calls: Vec<AllowedCall>,
    /// Seconds a request may take from submission to signing (default
    /// [`DEFAULT_REQUEST_TTL_SECS`]); past it the request expires and releases its reservation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_ttl_secs: Option<u64>,
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
        if self.allowed_calls.len() > MAX_LIMITS {
            return Err(format!("at most {MAX_LIMITS} allowed calls"));
        }
        for c in &self.allowed_calls {
            let addr = c.contract.strip_prefix("0x").unwrap_or("");
            if addr.len() != 40 || !addr.bytes().all(|b| b.is_ascii_hexdigit()) {
                return Err(format!(
                    "allowed call contract '{}' is not an address",
                    c.contract
                ));
            }
            if c.selector.len() != 8 || !c.selector.bytes().all(|b| b.is_ascii_hexdigit()) {
                return Err(format!(
                    "allowed call selector '{}' is not 8 hex digits",
                    c.selector
                ));
            }
        }
        if self.max_fee.len() > MAX_LIMITS {
            return Err(format!("at most {MAX_LIMITS} fee caps"));
        }
        if let Some(ttl) = self.request_ttl_secs {
            let (lo, hi) = REQUEST_TTL_RANGE_SECS;
            if !(lo..=hi).contains(&ttl) {
                return Err(format!("request_ttl_secs must be {lo} to {hi}"));
            }
        }
        let mut seen = BTreeSet::new();
        for f in &self.max_fee {
            validate_asset(&f.asset)?;
            if !seen.insert(f.asset.as_str()) {
                return Err(format!("two fee caps for {}", f.asset));
            }
        }
        Ok(())
    }

    /// Whether a contract call of `selector` (hex) on `contract` is allowed.
    pub fn allows_call(&self, contract: &str, selector: &str) -> bool {
        self.allowed_calls.iter().any(|c| {
            c.contract.eq_ignore_ascii_case(contract) && c.selector.eq_ignore_ascii_case(selector)
        })
    }

    /// The request time-to-live in ms.
    pub fn request_ttl_ms(&self) -> u64 {
        self.request_ttl_secs
            .unwrap_or(DEFAULT_REQUEST_TTL_SECS)
            .saturating_mul(1000)
    }

    /// SHA-256 of the canonical JSON of the rules, hex.
    pub fn hash(&self) -> String {
        let json = serde_json::to_vec(self).unwrap_or_default();
        hex::encode(Sha256::digest(json))
    }
}

/// A native symbol (ETH, BTC, SOL) or a token symbol as the asset registry names them.
fn validate_asset(a: &str) -> Result<(), String> {
    match a {
        "ETH" | "BTC" | "SOL" => Ok(()),
        _ => crate::asset::validate_symbol(a)
            .map_err(|e| format!("asset '{a}': {e} (ETH, BTC, SOL or a registered token)")),
    }
}

/// A vault's policy in force.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Policy {
    /// Vault.
    pub vault_id: VaultId,
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
    /// The signed evidence that the organisation's admins adopted these rules.
    #[serde(default)]
    pub adoption: Option<Box<crate::Adoption>>,
}
