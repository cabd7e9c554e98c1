//! Governance: every change to an organisation's members, vaults, wallets, address book,
//! policies and settings is a *proposal* that takes effect only with a quorum of the
//! organisation's admins and, where the organisation sets one, after a time-lock during which
//! any admin can veto it.
//!
//! A proposal is the proposer's own signed command (for example a `policy_set`); other admins
//! approve it with `proposal_approve` commands that sign the proposal id and the
//! [`change_hash`] of the exact change. When the change is executed, the record it writes
//! (member, policy, address-book entry) keeps an [`Adoption`]: the proposer's command and the
//! approvals, with the admin set and quorum in force. Each signer re-verifies the adoption of
//! the policy, approvers and destinations it relies on before it contributes to a signature
//! (invariant 2); the first admin of an organisation is adopted by the genesis admin's signed
//! `org_create`, which anchors every chain of adoptions in the genesis.

use crate::command::{Action, SignedCommand};
use crate::types::{OrgId, ProposalId, UserId, UserKey};
use mpc_protocol::domain;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, BTreeSet};

/// A proposal not executed within this time after its creation expires (7 days).
pub const PROPOSAL_TTL_MS: u64 = 7 * 24 * 3600 * 1000;
/// Longest time-lock an organisation may set: 30 days.
pub const MAX_TIMELOCK_SECS: u64 = 30 * 24 * 3600;
/// Largest admin quorum an organisation may set.
pub const MAX_ADMIN_QUORUM: u16 = 32;

/// An organisation's governance settings (changed through governance themselves).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OrgSettings {
    /// Admin approvals a change needs, the proposer's included. 0 = the default: 2 when the
    /// organisation has two admins or more, else 1.
    #[serde(default)]
    pub admin_quorum: u16,
    /// Seconds between reaching the quorum and taking effect; any admin may veto meanwhile.
    #[serde(default)]
    pub timelock_secs: u64,
    /// Hours between proactive refreshes of every vault's key shares (0: only on demand).
    #[serde(default)]
    pub refresh_interval_hours: u32,
}

/// Longest refresh interval: five years.
pub const MAX_REFRESH_INTERVAL_HOURS: u32 = 5 * 365 * 24;

impl OrgSettings {
    /// Syntax checks.
    pub fn validate(&self) -> Result<(), String> {
        if self.admin_quorum > MAX_ADMIN_QUORUM {
            return Err(format!("admin_quorum must be at most {MAX_ADMIN_QUORUM}"));
        }
        if self.timelock_secs > MAX_TIMELOCK_SECS {
            return Err(format!("timelock_secs must be at most {MAX_TIMELOCK_SECS}"));
        }
        if self.refresh_interval_hours > MAX_REFRESH_INTERVAL_HOURS {
            return Err(format!(
                "refresh_interval_hours must be at most {MAX_REFRESH_INTERVAL_HOURS} (0: on demand only)"
            ));
        }
        Ok(())
    }

    /// The quorum in force for an organisation with `admins` admins.
    pub fn quorum(&self, admins: usize) -> usize {
        match self.admin_quorum {
            0 => admins.clamp(1, 2),
            q => usize::from(q),
        }
    }

    /// The refresh interval in milliseconds (0: no schedule).
    pub fn refresh_interval_ms(&self) -> u64 {
        u64::from(self.refresh_interval_hours).saturating_mul(3_600_000)
    }

    /// The time-lock in milliseconds.
    pub fn timelock_ms(&self) -> u64 {
        self.timelock_secs.saturating_mul(1000)
    }
}

/// Where a proposal stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ProposalStatus {
    /// Collecting admin approvals.
    Pending,
    /// Quorum reached; waiting out the time-lock (any admin may veto).
    Queued,
    /// In effect.
    Executed,
    /// Vetoed by an admin.
    Vetoed,
    /// The change could not be applied when its quorum was reached (reason recorded).
    Failed,
    /// Not executed within [`PROPOSAL_TTL_MS`].
    Expired,
}

impl ProposalStatus {
    /// Lower-case name, as in JSON.
    pub fn name(self) -> &'static str {
        match self {
            ProposalStatus::Pending => "pending",
            ProposalStatus::Queued => "queued",
            ProposalStatus::Executed => "executed",
            ProposalStatus::Vetoed => "vetoed",
            ProposalStatus::Failed => "failed",
            ProposalStatus::Expired => "expired",
        }
    }

    /// Whether the proposal can still take effect.
    pub fn is_open(self) -> bool {
        matches!(self, ProposalStatus::Pending | ProposalStatus::Queued)
    }
}

/// A governed change waiting for (or past) its admin quorum.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Proposal {
    /// `prop-<log index of the proposing command>`.
    pub proposal_id: ProposalId,
    /// Organisation.
    pub org_id: OrgId,
    /// Kind of change (the action's name, e.g. `policy_set`).
    pub kind: String,
    /// The change itself, as the proposer signed it.
    pub change: Action,
    /// [`change_hash`] of the change: what approving admins sign.
    pub change_hash: String,
    /// Proposing admin.
    pub proposed_by: UserId,
    /// The proposer's signed command (its first approval).
    pub proposal: SignedCommand,
    /// Other admins' `proposal_approve` commands, by user id.
    pub approvals: BTreeMap<UserId, SignedCommand>,
    /// Admin approvals needed (recomputed when approvals arrive).
    pub quorum: u16,
    /// Time-lock (ms) between reaching the quorum and taking effect.
    pub timelock_ms: u64,
    /// Status.
    pub status: ProposalStatus,
    /// Created (log time, ms).
    pub created_at_ms: u64,
    /// Expires unless executed by then (ms).
    pub expires_at_ms: u64,
    /// When queued: earliest log time it may be executed (ms).
    #[serde(default)]
    pub executable_at_ms: Option<u64>,
    /// When closed (executed, vetoed, failed, expired), the log time (ms).
    #[serde(default)]
    pub closed_at_ms: Option<u64>,
    /// Veto reason, failure reason, or the admin who vetoed / executed.
    #[serde(default)]
    pub note: Option<String>,
}

/// The evidence that a record was adopted by the organisation: signed commands a signer can
/// re-verify on its own.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Adoption {
    /// The proposal (none for an organisation's first admin, adopted by `org_create`).
    pub proposal_id: Option<ProposalId>,
    /// [`change_hash`] of the change.
    pub change_hash: String,
    /// The proposer's command first, then the `proposal_approve` commands.
    pub commands: Vec<SignedCommand>,
    /// The organisation's admin keys when the change was adopted.
    pub admins: Vec<UserKey>,
    /// The quorum then in force.
    pub quorum: u16,
    /// When adopted (log time, ms).
    pub adopted_at_ms: u64,
}

/// `SHA-256(GOVERNANCE_CHANGE || cluster id || 0 || JSON of the change)`, hex: what an admin's
/// approval of a change signs.
pub fn change_hash(cluster_id: &str, change: &Action) -> String {
    let json = serde_json::to_vec(change).unwrap_or_default();
    let mut h = Sha256::new();
    h.update(domain::GOVERNANCE_CHANGE);
    h.update(cluster_id.as_bytes());
    h.update([0u8]);
    h.update(&json);
    hex::encode(h.finalize())
}

impl Adoption {
    /// Re-verifies the evidence: every command's signature; the first command is the change
    /// `expect` accepts (given the change and its signer) and hashes to `change_hash`; then
    /// either (no proposal id) it is an `org_create` signed by a genesis admin, or the proposer
    /// and the `proposal_approve` commands for this proposal and hash are signed by at least
    /// `quorum` distinct keys of the recorded admin set.
    pub fn verify(
        &self,
        cluster_id: &str,
        genesis_admins: &BTreeSet<UserKey>,
        expect: impl Fn(&Action, &UserKey) -> bool,
    ) -> Result<(), String> {
        let first = self.commands.first().ok_or("adoption carries no command")?;
        let proposed = first
            .verify(cluster_id)
            .map_err(|e| format!("adopting command: {e}"))?;
        if !expect(&proposed.body.action, &proposed.signer) {
            return Err("the adopting command is for a different change".into());
        }
        if change_hash(cluster_id, &proposed.body.action) != self.change_hash {
            return Err("the adopting command does not hash to the adopted change".into());
        }
        let Some(pid) = &self.proposal_id else {
            if !matches!(proposed.body.action, Action::OrgCreate { .. }) {
                return Err("only an organisation's creation is adopted without a proposal".into());
            }
            if !genesis_admins.contains(&proposed.signer) {
                return Err("the organisation was not created by a genesis admin".into());
            }
            return Ok(());
        };
        let admins: BTreeSet<&UserKey> = self.admins.iter().collect();
        let mut approvers = BTreeSet::new();
        if admins.contains(&proposed.signer) {
            approvers.insert(proposed.signer);
        }
        for c in &self.commands[1..] {
            let v = c.verify(cluster_id).map_err(|e| format!("approval: {e}"))?;
            match &v.body.action {
                Action::ProposalApprove {
                    proposal_id,
                    change_hash,
                    ..
                } if proposal_id == pid && change_hash == &self.change_hash => {}
                _ => return Err("an approval is for another proposal or change".into()),
            }
            if admins.contains(&v.signer) {
                approvers.insert(v.signer);
            }
        }
        if self.quorum == 0 || approvers.len() < usize::from(self.quorum) {
            return Err(format!(
                "adopted by {} admin(s), the quorum was {}",
                approvers.len(),
                self.quorum
            ));
        }
        Ok(())
    }
}
