//! Signing requests: submit, approve, reject, admin approval; reads.

use super::{ActionResult, At, CustodyState, EntryContext, Exec, RecordKey};
use crate::ids::NodeId;
use crate::request::Approval;
use crate::types::{OrgId, RequestId, Role, WalletId};
use crate::{intent_digest, LimitAction, Member, Request, RequestStatus};
use mpc_protocol::chain::{self, PayloadExtras};
use std::collections::BTreeSet;

/// A request's id: `req-<log index>` for the entry's first (or only) command, and
/// `req-<log index>-<item>` for a later command of a batch entry (decision 0035).
pub(super) fn request_id_at(log_index: u64, item: u32) -> RequestId {
    match item {
        0 => RequestId(format!("req-{log_index}")),
        n => RequestId(format!("req-{log_index}-{n}")),
    }
}

/// The log index in a request id (`req-<index>` or `req-<index>-<item>`).
pub(super) fn log_index_of(request_id: &str) -> u64 {
    request_id
        .trim_start_matches("req-")
        .split('-')
        .next()
        .and_then(|n| n.parse::<u64>().ok())
        .unwrap_or(0)
}

/// A request's place in log order: its entry's log index, then its item in a batch entry, as
/// one number (`index × 256 + item`; a batch holds at most 64). Orders spend reservations and
/// the signing queue, so that two requests of one batch entry are never tied: a signer's
/// re-check counts the earlier one's reservation against the later one's limit exactly as
/// `apply` did.
pub fn log_position(request_id: &str) -> u64 {
    let mut parts = request_id.trim_start_matches("req-").splitn(2, '-');
    let index = parts
        .next()
        .and_then(|n| n.parse::<u64>().ok())
        .unwrap_or(0);
    let item = parts
        .next()
        .and_then(|n| n.parse::<u64>().ok())
        .unwrap_or(0);
    index.saturating_mul(256).saturating_add(item.min(255))
}

pub(super) fn payload_bytes(hex_payload: &str) -> Result<Vec<u8>, String> {
    hex::decode(hex_payload.trim_start_matches("0x")).map_err(|_| "payload is not hex".to_string())
}

impl CustodyState {
    pub(super) fn request_submit(
        &mut self,
        x: &Exec<'_>,
        org_id: &OrgId,
        wallet_id: &WalletId,
        payload: &str,
        extras: &PayloadExtras,
    ) -> Result<ActionResult, String> {
        let (initiator, wallet, policy) = self.submit_context(x, org_id, wallet_id)?;
        let bytes = payload_bytes(payload)?;
        let parsed = chain::parse(&wallet.key()?, &bytes, extras).map_err(|e| e.to_string())?;
        wallet.check_intent(&parsed.intent)?;
        let intent = self.resolve_token(org_id, parsed.intent)?;
        Self::call_allowed(&policy.rules, &intent)?;
        let request_id = request_id_at(x.ctx.log_index, x.item);
        let digest = intent_digest(
            &self.genesis.cluster_id,
            &request_id,
            wallet_id,
            &bytes,
            extras,
            &intent,
        );
        let mut req = Request {
            request_id,
            org_id: org_id.clone(),
            wallet_id: wallet_id.clone(),
            vault_id: wallet.vault_id.clone(),
            initiator,
            payload: hex::encode(&bytes),
            extras: extras.clone(),
            intent,
            intent_digest: digest,
            policy,
            status: RequestStatus::Pending,
            auto_approved: false,
            approvals: Default::default(),
            admin_approval: None,
            reserved_at_ms: None,
            attempts: Vec::new(),
            signatures: Vec::new(),
            signed_transaction: None,
            chain: None,
            created_at_ms: x.now_ms,
            updated_at_ms: x.now_ms,
            expires_at_ms: 0,
            queued: false,
        };
        req.expires_at_ms = x.now_ms.saturating_add(req.policy.rules.request_ttl_ms());
        if req.policy.rules.whitelist_required && !self.all_whitelisted(&req) {
            req.status = RequestStatus::Rejected {
                reason: "destination is not in the address book and the policy requires it".into(),
            };
        } else if let Some(reason) = Self::fee_cap_breach(&req) {
            req.status = RequestStatus::Rejected { reason };
        } else if let Some(reason) = self.input_conflict(&req) {
            req.status = RequestStatus::Rejected { reason };
        } else if self.auto_approvable(&req) {
            req.auto_approved = true;
            self.proceed(&mut req, x.ctx, x.now_ms);
        }
        Ok(self.put_request(req))
    }

    /// Who submits (an initiator or admin of the organisation), the wallet, and the policy
    /// in force for its vault.
    fn submit_context(
        &self,
        x: &Exec<'_>,
        org_id: &OrgId,
        wallet_id: &WalletId,
    ) -> Result<
        (
            crate::types::UserId,
            crate::Wallet,
            std::sync::Arc<crate::Policy>,
        ),
        String,
    > {
        if !self.orgs.contains_key(org_id) {
            return Err(format!("no organisation '{org_id}'"));
        }
        let initiator = self
            .member_with_key(org_id, &x.signer)
            .filter(|m| m.roles.contains(&Role::Initiator) || m.roles.contains(&Role::Admin))
            .ok_or("the signer is not an initiator of this organisation")?
            .user_id
            .clone();
        let wallet = self
            .wallets
            .get(wallet_id)
            .filter(|w| &w.org_id == org_id)
            .ok_or_else(|| format!("no wallet '{wallet_id}' in '{org_id}'"))?
            .clone();
        let policy = self
            .policies
            .get(&wallet.vault_id)
            .ok_or_else(|| format!("vault '{}' has no policy", wallet.vault_id))?
            .clone();
        Ok((initiator, wallet, policy))
    }

    pub(super) fn request_approve(
        &mut self,
        x: &Exec<'_>,
        org_id: &OrgId,
        request_id: &str,
        intent_digest: &str,
    ) -> Result<ActionResult, String> {
        let req = self.pending_request(org_id, request_id, intent_digest)?;
        let member = self.signing_member(org_id, &x.signer)?;
        self.approve_by(x.ctx, x.now_ms, req, &member, Approval::Key(x.cmd.signed()))
    }

    /// `member` approves `req` with `evidence` (a signed command or a passkey assertion, both
    /// already checked by the caller).
    pub(super) fn approve_by(
        &mut self,
        ctx: EntryContext,
        now_ms: u64,
        mut req: Request,
        member: &Member,
        evidence: Approval,
    ) -> Result<ActionResult, String> {
        Self::not_expired(&req, now_ms)?;
        if !req.policy.rules.approvers.contains(&member.user_id)
            || !member.roles.contains(&Role::Approver)
        {
            return Err(format!(
                "'{}' is not an approver of this vault's policy",
                member.user_id
            ));
        }
        if req.status != RequestStatus::Pending {
            return Err(format!("request is {}, not pending", req.status.name()));
        }
        if req.approvals.contains_key(&member.user_id) {
            return Err(format!("'{}' has already approved", member.user_id));
        }
        req.approvals.insert(member.user_id.clone(), evidence);
        req.updated_at_ms = now_ms;
        if self.valid_approvals(&req).len() >= usize::from(req.policy.rules.threshold) {
            self.proceed(&mut req, ctx, now_ms);
        }
        Ok(self.put_request(req))
    }

    pub(super) fn request_reject(
        &mut self,
        x: &Exec<'_>,
        org_id: &OrgId,
        request_id: &str,
        intent_digest: &str,
        reason: &str,
    ) -> Result<ActionResult, String> {
        let req = self.pending_request(org_id, request_id, intent_digest)?;
        let member = self.signing_member(org_id, &x.signer)?;
        self.reject_by(x.now_ms, req, &member, reason)
    }

    /// `member` (an approver of the policy or an admin) rejects `req`.
    pub(super) fn reject_by(
        &mut self,
        now_ms: u64,
        mut req: Request,
        member: &Member,
        reason: &str,
    ) -> Result<ActionResult, String> {
        let may = (req.policy.rules.approvers.contains(&member.user_id)
            && member.roles.contains(&Role::Approver))
            || member.roles.contains(&Role::Admin);
        if !may {
            return Err(format!("'{}' may not reject this request", member.user_id));
        }
        if !matches!(
            req.status,
            RequestStatus::Pending | RequestStatus::AwaitingAdmin { .. }
        ) {
            return Err(format!(
                "request is {}, it can no longer be rejected",
                req.status.name()
            ));
        }
        req.status = RequestStatus::Rejected {
            reason: format!("rejected by {}: {reason}", member.user_id),
        };
        req.updated_at_ms = now_ms;
        Ok(self.put_request(req))
    }

    pub(super) fn request_admin_approve(
        &mut self,
        x: &Exec<'_>,
        org_id: &OrgId,
        request_id: &str,
        intent_digest: &str,
    ) -> Result<ActionResult, String> {
        let mut req = self.pending_request(org_id, request_id, intent_digest)?;
        Self::not_expired(&req, x.now_ms)?;
        let admin = self
            .member_with_key(org_id, &x.signer)
            .filter(|m| m.roles.contains(&Role::Admin))
            .ok_or("the signer is not an admin of this organisation")?;
        if !matches!(req.status, RequestStatus::AwaitingAdmin { .. }) {
            return Err(format!(
                "request is {}, not awaiting an admin",
                req.status.name()
            ));
        }
        let _ = admin;
        req.admin_approval = Some(x.cmd.signed());
        req.updated_at_ms = x.now_ms;
        self.proceed(&mut req, x.ctx, x.now_ms);
        Ok(self.put_request(req))
    }

    /// After approvals are complete (or auto-approval): reserve against the windows and start
    /// signing, or wait for an admin, or reject.
    pub(super) fn proceed(&mut self, req: &mut Request, ctx: EntryContext, now_ms: u64) {
        match self.limit_breach(req, now_ms, false) {
            Some((LimitAction::Reject, why)) => {
                req.status = RequestStatus::Rejected { reason: why };
                return;
            }
            Some((LimitAction::RequireAdmin, why)) if req.admin_approval.is_none() => {
                req.status = RequestStatus::AwaitingAdmin { reason: why };
                return;
            }
            _ => {}
        }
        if let Some(reason) = self.input_conflict(req) {
            req.status = RequestStatus::Rejected { reason };
            return;
        }
        req.reserved_at_ms = Some(now_ms);
        self.commit_inputs(req);
        self.start_attempt(req, At { ctx, now_ms }, &BTreeSet::new());
    }

    pub(super) fn put_request(&mut self, mut req: Request) -> ActionResult {
        // Every change is stamped with the log time of the entry that made it, so that a
        // reader can ask for the requests changed since a moment (a subscription's resync).
        req.updated_at_ms = req.updated_at_ms.max(self.last_timestamp_ms);
        self.dirty
            .insert(RecordKey::Request(req.request_id.clone()));
        self.index_chain_open(&req);
        self.index_signing(&req);
        self.request_changes.push(req.clone());
        self.requests.insert(req.request_id.clone(), req.clone());
        ActionResult::Request {
            request: Box::new(req),
        }
    }

    pub(super) fn pending_request(
        &self,
        org_id: &OrgId,
        request_id: &str,
        digest: &str,
    ) -> Result<Request, String> {
        let req = self
            .requests
            .get(request_id)
            .filter(|r| &r.org_id == org_id)
            .ok_or_else(|| format!("no request '{request_id}' in '{org_id}'"))?;
        if req.intent_digest != digest {
            return Err("intent digest does not match the request (approve what you saw)".into());
        }
        Ok(req.clone())
    }

    /// Refuses a request whose time-to-live has passed at log time `now_ms` (its expiry report
    /// may not have been applied yet).
    pub(super) fn not_expired(req: &Request, now_ms: u64) -> Result<(), String> {
        if req.expires_at_ms != 0 && now_ms >= req.expires_at_ms {
            return Err(format!(
                "request {} expired at log time {} ms",
                req.request_id, req.expires_at_ms
            ));
        }
        Ok(())
    }

    pub(super) fn request_cancel(
        &mut self,
        x: &Exec<'_>,
        org_id: &OrgId,
        request_id: &str,
        reason: &str,
    ) -> Result<ActionResult, String> {
        let mut req = self
            .requests
            .get(request_id)
            .filter(|r| &r.org_id == org_id)
            .cloned()
            .ok_or_else(|| format!("no request '{request_id}' in '{org_id}'"))?;
        let member = self.signing_member(org_id, &x.signer)?;
        if member.user_id != req.initiator && !member.roles.contains(&Role::Admin) {
            return Err(format!(
                "'{}' may not cancel this request (its initiator or an org admin may)",
                member.user_id
            ));
        }
        if !matches!(
            req.status,
            RequestStatus::Pending | RequestStatus::AwaitingAdmin { .. }
        ) {
            return Err(format!(
                "request is {}: only a request not yet signing can be cancelled",
                req.status.name()
            ));
        }
        req.status = RequestStatus::Cancelled {
            reason: format!("cancelled by {}: {reason}", member.user_id),
        };
        req.updated_at_ms = x.now_ms;
        Ok(self.put_request(req))
    }

    /// A node reports that a request's time-to-live has passed.
    pub(super) fn report_request_expired(
        &mut self,
        node: NodeId,
        request_id: &str,
        at: At,
    ) -> super::ReportResult {
        let Some(mut req) = self.requests.get(request_id).cloned() else {
            return Ok(None);
        };
        if !req.status.is_open() || req.expires_at_ms == 0 || at.now_ms < req.expires_at_ms {
            return Ok(None);
        }
        let was = req.status.name();
        req.status = RequestStatus::Expired;
        req.updated_at_ms = at.now_ms;
        let org = req.org_id.clone();
        let text = format!("request {request_id} expired while {was} (reported by node {node})");
        Ok(Some((Some(org), text, self.put_request(req))))
    }

    /// One request.
    pub fn request(&self, id: &str) -> Option<&Request> {
        self.requests.get(id)
    }

    /// Requests, optionally of one organisation.
    pub fn requests<'a>(
        &'a self,
        org: Option<&'a OrgId>,
    ) -> impl Iterator<Item = &'a Request> + 'a {
        self.requests
            .values()
            .filter(move |r| org.is_none_or(|o| &r.org_id == o))
    }

    /// Test-only: overwrite a request, as a faulty or malicious node's apply might.
    #[doc(hidden)]
    pub fn force_request_for_tests(&mut self, req: Request) {
        self.index_reservation(&req);
        self.requests.insert(req.request_id.clone(), req);
    }
}
