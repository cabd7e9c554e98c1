//! Vault policies: setting one, and the checks a request is held to (spending windows,
//! auto-approval, valid approvals).

use super::requests::log_position;
use super::{ActionResult, CustodyState, Exec, RecordKey};
use crate::request::Approval;
use crate::types::{OrgId, Role, UserId, VaultId};
use crate::{check_approval, LimitAction, Policy, PolicyRules, Request, RequestStatus};
use std::collections::BTreeSet;

/// Where `r` sits in its vault's reservation index, if its reservation counts against limits.
fn reservation(r: &Request) -> Option<super::reservations::Key> {
    let counts = matches!(r.status, RequestStatus::Signing | RequestStatus::Signed);
    let t = r.reserved_at_ms.filter(|_| counts)?;
    Some((t, log_position(&r.request_id), r.request_id.clone()))
}

impl CustodyState {
    pub(super) fn policy_set(
        &mut self,
        x: &Exec<'_>,
        org_id: &OrgId,
        vault_id: &VaultId,
        rules: &PolicyRules,
    ) -> Result<ActionResult, String> {
        self.vault_in_org(org_id, vault_id)?;
        for a in &rules.approvers {
            let ok = self
                .members
                .get(&(org_id.clone(), a.clone()))
                .is_some_and(|m| m.roles.contains(&Role::Approver));
            if !ok {
                return Err(format!(
                    "approver '{a}' is not a member with the approver role"
                ));
            }
        }
        let set_by = self
            .member_with_key(org_id, &x.signer)
            .map(|m| m.user_id.clone())
            .unwrap_or_else(|| UserId("genesis-admin".into()));
        let version = self
            .policies
            .get(vault_id)
            .map(|p| p.version + 1)
            .unwrap_or(1);
        let policy = Policy {
            vault_id: vault_id.clone(),
            version,
            hash: rules.hash(),
            rules: rules.clone(),
            set_by,
            set_at_ms: x.now_ms,
            adoption: x.adoption.clone().map(Box::new),
        };
        self.dirty.insert(RecordKey::Policy(vault_id.clone()));
        self.policies
            .insert(vault_id.clone(), std::sync::Arc::new(policy.clone()));
        Ok(ActionResult::PolicySet { policy })
    }

    /// The worst spending-limit breach of `req` if it is reserved at `at_ms`. Requests that are
    /// signing or signed count when their reservation lies in the window ending at `at_ms`; with
    /// `earlier_only` (the signer's re-check, after `req` itself was reserved) only those reserved
    /// before `req` count — ties on the timestamp broken by log index.
    pub(super) fn limit_breach(
        &self,
        req: &Request,
        at_ms: u64,
        earlier_only: bool,
    ) -> Option<(LimitAction, String)> {
        let mut worst: Option<(LimitAction, String)> = None;
        for l in &req.policy.rules.limits {
            let mine = req.intent.spend_in(&l.asset);
            if mine == 0 {
                continue;
            }
            let from = at_ms.saturating_sub(l.window_secs.saturating_mul(1000));
            let used = self.window_spend(req, &l.asset, from, at_ms, earlier_only);
            if used.saturating_add(mine) > l.max_amount.0 {
                let what = if req.intent.asset == l.asset && l.asset == req.intent.native_asset() {
                    format!("{} plus {} fee", req.intent.amount, req.intent.fee)
                } else if req.intent.asset == l.asset {
                    format!("{} {}", req.intent.amount, l.asset)
                } else {
                    format!("{} fee", req.intent.fee)
                };
                let why = format!(
                    "spending limit of {} {} per {} s exceeded ({} already reserved, {} \
                     requested: {what})",
                    l.max_amount, l.asset, l.window_secs, used, mine,
                );
                if l.action == LimitAction::Reject || worst.is_none() {
                    worst = Some((l.action, why));
                }
            }
        }
        worst
    }

    /// What the other requests of `req`'s vault reserved of `asset` in the window: reserved
    /// after `from` and at or before `at_ms` (with `earlier_only`, before `(at_ms, my_index)` in
    /// log order). Two prefix sums of the vault's reservation index: the cost does not grow with
    /// the requests in the window, nor with every request of the network.
    pub(super) fn window_spend(
        &self,
        req: &Request,
        asset: &str,
        from: u64,
        at_ms: u64,
        earlier_only: bool,
    ) -> u128 {
        let my_index = log_position(&req.request_id);
        self.reservations.sum(
            &req.vault_id,
            asset,
            |k| k.0 <= from,
            |k| {
                if earlier_only {
                    (k.0, k.1) < (at_ms, my_index)
                } else {
                    k.0 <= at_ms
                }
            },
            &req.request_id,
        )
    }

    /// Keeps the reservation index in step with `req` about to be written: called before
    /// `requests` holds the new version. A reservation's key and amounts never change while it
    /// holds (log time and intent are fixed), so only a change of whether it counts — or of
    /// the key, for a request re-reserved — touches the index.
    pub(super) fn index_reservation(&mut self, req: &Request) {
        let new = reservation(req);
        let old = self.reservations.key_of(&req.vault_id, &req.request_id);
        if old == new.as_ref() {
            return;
        }
        self.reservations.release(&req.vault_id, &req.request_id);
        if let Some(key) = new {
            self.reservations.reserve(&req.vault_id, key, req);
        }
    }

    /// Auto-approval holds when every destination is whitelisted and every asset the request
    /// spends (a token's own, and the native asset of its fee) has a rule covering it.
    pub(super) fn auto_approvable(&self, req: &Request) -> bool {
        !req.intent.transfers.is_empty()
            && self.all_whitelisted(req)
            && req.intent.assets_spent().iter().all(|asset| {
                req.policy
                    .rules
                    .auto_approve
                    .iter()
                    .any(|a| &a.asset == asset && req.intent.spend_in(asset) <= a.max_amount.0)
            })
    }

    /// A contract call (an intent with a function selector) is refused unless the policy allows
    /// that selector on that contract (decision 0021); token transfers and plain transfers pass.
    pub(super) fn call_allowed(
        rules: &PolicyRules,
        intent: &mpc_protocol::chain::Intent,
    ) -> Result<(), String> {
        let Some(selector) = intent.details.get(mpc_protocol::chain::eth::CALL_SELECTOR) else {
            return Ok(());
        };
        let contract = intent
            .transfers
            .first()
            .map(|t| t.to.as_str())
            .unwrap_or_default();
        if rules.allows_call(contract, selector) {
            Ok(())
        } else {
            Err(format!(
                "a call of function {selector} on contract {contract} is not allowed by the \
                 vault's policy (allowed_calls); only plain and registered-token transfers are \
                 signed by default"
            ))
        }
    }

    /// Why `req`'s fee exceeds its policy's cap for the asset, if it does.
    pub(super) fn fee_cap_breach(req: &Request) -> Option<String> {
        req.policy
            .rules
            .max_fee
            .iter()
            .find(|c| c.asset == req.intent.native_asset() && req.intent.fee > c.max_fee)
            .map(|c| {
                format!(
                    "fee of {} {} exceeds the policy's maximum of {}",
                    req.intent.fee, c.asset, c.max_fee
                )
            })
    }

    /// Approvals that count: distinct policy approvers, still members with the same key, whose
    /// membership an admin quorum adopted.
    pub(super) fn valid_approvals(&self, req: &Request) -> BTreeSet<UserId> {
        let mut ok = BTreeSet::new();
        for (user, evidence) in &req.approvals {
            let Some(member) = self.members.get(&(req.org_id.clone(), user.clone())) else {
                continue;
            };
            let signed_by_member = match evidence {
                Approval::Key(cmd) => check_approval(
                    cmd,
                    &self.genesis.cluster_id,
                    &req.request_id,
                    &req.intent_digest,
                    false,
                )
                .is_ok_and(|key| key == member.public_key),
                Approval::Passkey(d) => self.passkey_approval_holds(req, member, d).is_ok(),
            };
            if signed_by_member
                && req.policy.rules.approvers.contains(user)
                && member.roles.contains(&Role::Approver)
                && self.member_adopted(member).is_ok()
            {
                ok.insert(user.clone());
            }
        }
        ok
    }

    /// A vault's policy.
    pub fn policy(&self, vault_id: &str) -> Option<&Policy> {
        self.policies.get(vault_id).map(|p| &**p)
    }
}
