//! Vaults, wallets, address book, policies and signing requests: apply logic, node reports, and
//! the signer's own re-verification ([`CustodyState::signing_job`], invariant 2).

use super::{ActionResult, CommandOutcome, CustodyState, EntryContext, RecordKey};
use crate::command::{Action, VerifiedCommand};
use crate::custody::{
    book_chain, check_approval, intent_digest, presig_store_key, session_id, subsets,
    AddressBookEntry, LimitAction, NodeId, Policy, PresigPool, Report, Request, RequestStatus,
    SignAttempt, SignedReport, Vault, VaultStatus, Wallet, MAX_SIGN_ATTEMPTS,
};
use crate::rpc_guard::MAX_CLOCK_SKEW_MS;
use crate::types::{OrgId, Role, UserId, UserKey};
use mpc_protocol::chain::keys::{self, VaultPublicKeys};
use mpc_protocol::chain::{self, Chain, KeyType, Network, ToSign, WalletKey};
use std::collections::BTreeSet;

/// Everything a signer needs for one signing attempt, produced only after its own checks.
#[derive(Debug, Clone)]
pub struct SigningJob {
    /// Request.
    pub request_id: String,
    /// Attempt number.
    pub attempt: u32,
    /// Session id fixed in the log.
    pub session_id: [u8; 32],
    /// Signer node ids (sorted).
    pub signers: Vec<NodeId>,
    /// Vault.
    pub vault_id: String,
    /// Key type.
    pub key_type: KeyType,
    /// Wallet chain, network and index (for FROST tweaks and ECDSA paths).
    pub chain: Chain,
    /// Network.
    pub network: Network,
    /// Index.
    pub index: u32,
    /// The vault's public keys.
    pub vault_keys: VaultPublicKeys,
    /// The wallet key.
    pub wallet: WalletKey,
    /// Messages to sign, recomputed from the payload by this node.
    pub messages: Vec<ToSign>,
    /// Pool presignatures to use, one per message, with their share-store keys (empty:
    /// interactive signing).
    pub presignatures: Vec<(u64, String)>,
}

/// The log index in a request id (`req-<index>`).
fn log_index_of(request_id: &str) -> u64 {
    request_id
        .trim_start_matches("req-")
        .parse::<u64>()
        .unwrap_or(0)
}

fn payload_bytes(hex_payload: &str) -> Result<Vec<u8>, String> {
    hex::decode(hex_payload.trim_start_matches("0x")).map_err(|_| "payload is not hex".to_string())
}

impl CustodyState {
    /// The member of `org_id` whose key signed, or why there is none.
    fn signing_member(&self, org_id: &OrgId, key: &UserKey) -> Result<super::Member, String> {
        self.member_with_key(org_id, key)
            .cloned()
            .ok_or_else(|| "signer is not a member of this organisation".to_string())
    }

    fn vault_in_org(&self, org_id: &OrgId, vault_id: &str) -> Result<&Vault, String> {
        match self.vaults.get(vault_id) {
            Some(v) if &v.org_id == org_id => Ok(v),
            _ => Err(format!("no vault '{vault_id}' in '{org_id}'")),
        }
    }

    fn whitelisted(&self, org_id: &OrgId, chain: Chain, address: &str) -> bool {
        self.address_book.contains_key(&(
            org_id.clone(),
            book_chain(chain).as_str().to_string(),
            address.to_string(),
        ))
    }

    fn all_whitelisted(&self, req: &Request) -> bool {
        req.intent
            .transfers
            .iter()
            .all(|t| self.whitelisted(&req.org_id, req.intent.chain, &t.to))
    }

    /// The worst spending-limit breach of `req` if it is reserved at `at_ms`. Requests that are
    /// signing or signed count when their reservation lies in the window ending at `at_ms`; with
    /// `earlier_only` (the signer's re-check, after `req` itself was reserved) only those reserved
    /// before `req` count — ties on the timestamp broken by log index.
    fn limit_breach(
        &self,
        req: &Request,
        at_ms: u64,
        earlier_only: bool,
    ) -> Option<(LimitAction, String)> {
        let my_index = log_index_of(&req.request_id);
        let mut worst: Option<(LimitAction, String)> = None;
        for l in &req.policy.rules.limits {
            if l.asset != req.intent.asset {
                continue;
            }
            let from = at_ms.saturating_sub(l.window_secs.saturating_mul(1000));
            let counts = |r: &Request| {
                r.reserved_at_ms.is_some_and(|t| {
                    t > from
                        && if earlier_only {
                            t < at_ms || (t == at_ms && log_index_of(&r.request_id) < my_index)
                        } else {
                            t <= at_ms
                        }
                })
            };
            let used = self
                .requests
                .values()
                .filter(|r| r.vault_id == req.vault_id && r.request_id != req.request_id)
                .filter(|r| r.intent.asset == l.asset)
                .filter(|r| matches!(r.status, RequestStatus::Signing | RequestStatus::Signed))
                .filter(|r| counts(r))
                .map(|r| r.intent.amount.0)
                .fold(0u128, u128::saturating_add);
            if used.saturating_add(req.intent.amount.0) > l.max_amount.0 {
                let why = format!(
                    "spending limit of {} {} per {} s exceeded ({} already reserved, {} requested)",
                    l.max_amount, l.asset, l.window_secs, used, req.intent.amount
                );
                if l.action == LimitAction::Reject || worst.is_none() {
                    worst = Some((l.action, why));
                }
            }
        }
        worst
    }

    fn auto_approvable(&self, req: &Request) -> bool {
        !req.intent.transfers.is_empty()
            && self.all_whitelisted(req)
            && req
                .policy
                .rules
                .auto_approve
                .iter()
                .any(|a| a.asset == req.intent.asset && req.intent.amount <= a.max_amount)
    }

    /// Approvals that count: distinct policy approvers, still members with the same key.
    fn valid_approvals(&self, req: &Request) -> BTreeSet<UserId> {
        let mut ok = BTreeSet::new();
        for (user, cmd) in &req.approvals {
            let Ok(key) = check_approval(
                cmd,
                &self.genesis.cluster_id,
                &req.request_id,
                &req.intent_digest,
                false,
            ) else {
                continue;
            };
            let member = self.members.get(&(req.org_id.clone(), user.clone()));
            if req.policy.rules.approvers.contains(user)
                && member.is_some_and(|m| m.public_key == key && m.roles.contains(&Role::Approver))
            {
                ok.insert(user.clone());
            }
        }
        ok
    }

    /// After approvals are complete (or auto-approval): reserve against the windows and start
    /// signing, or wait for an admin, or reject.
    fn proceed(&mut self, req: &mut Request, ctx: EntryContext, now_ms: u64) {
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
        req.reserved_at_ms = Some(now_ms);
        self.start_attempt(req, ctx, &BTreeSet::new());
    }

    fn start_attempt(&mut self, req: &mut Request, ctx: EntryContext, avoid: &BTreeSet<NodeId>) {
        let attempt = req.attempts.len() as u32 + 1;
        // First attempt: use the wallet's presignature pool when its signers are not to be
        // avoided and it holds one presignature per message. Retries sign interactively.
        let messages = match self.wallets.get(&req.wallet_id).map(|w| w.chain) {
            Some(Chain::BitcoinP2wpkh | Chain::BitcoinP2tr) => req.extras.spent_outputs.len(),
            _ => 1,
        };
        let mut from_pool = None;
        if let Some(pool) = self.presig_pools.get_mut(&req.wallet_id) {
            if attempt == 1 && !pool.signers.iter().any(|n| avoid.contains(n)) {
                let seqs = pool.take(messages);
                if !seqs.is_empty() {
                    from_pool = Some((pool.signers.clone(), seqs));
                }
            }
            // A request restarts a pool paused by failures, and refills it.
            pool.failures_in_row = 0;
            pool.top_up();
            self.dirty
                .insert(RecordKey::PresigPool(req.wallet_id.clone()));
        }
        let (signers, presignatures) = match from_pool {
            Some(x) => x,
            None => {
                let committee: Vec<NodeId> = self.genesis.nodes.keys().copied().collect();
                let all = subsets(&committee, usize::from(self.genesis.threshold));
                let preferred: Vec<&Vec<NodeId>> = all
                    .iter()
                    .filter(|s| !s.iter().any(|n| avoid.contains(n)))
                    .collect();
                let pool: Vec<&Vec<NodeId>> = if preferred.is_empty() {
                    all.iter().collect()
                } else {
                    preferred
                };
                let seed = ctx.log_index.wrapping_add(u64::from(attempt)) as usize;
                let signers = pool
                    .get(seed % pool.len().max(1))
                    .map(|s| (*s).clone())
                    .unwrap_or_default();
                (signers, Vec::new())
            }
        };
        let sid = session_id(
            &self.genesis.cluster_id,
            "sign",
            &[
                req.request_id.as_bytes(),
                &attempt.to_be_bytes(),
                &ctx.log_index.to_be_bytes(),
            ],
        );
        req.attempts.push(SignAttempt {
            attempt,
            signers,
            session_id: hex::encode(sid),
            log_index: ctx.log_index,
            failure: None,
            presignatures,
        });
        req.status = RequestStatus::Signing;
    }

    /// The signer set of a new ECDSA wallet's presignature pool: one t-subset of the committee
    /// chosen by the wallet id, so pools spread over the nodes.
    fn pool_signers(&self, wallet_id: &str) -> Vec<NodeId> {
        use sha2::{Digest, Sha256};
        let committee: Vec<NodeId> = self.genesis.nodes.keys().copied().collect();
        let all = subsets(&committee, usize::from(self.genesis.threshold));
        let h = Sha256::digest(wallet_id.as_bytes());
        let mut first = [0u8; 8];
        first.copy_from_slice(&h[..8]);
        let i = (u64::from_be_bytes(first) % all.len().max(1) as u64) as usize;
        all.get(i).cloned().unwrap_or_default()
    }

    fn put_request(&mut self, req: Request) -> ActionResult {
        self.dirty
            .insert(RecordKey::Request(req.request_id.clone()));
        self.request_changes.push(req.clone());
        self.requests.insert(req.request_id.clone(), req.clone());
        ActionResult::Request {
            request: Box::new(req),
        }
    }

    fn pending_request(
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

    pub(super) fn execute_custody(
        &mut self,
        cmd: &VerifiedCommand,
        ctx: EntryContext,
        now_ms: u64,
    ) -> Result<ActionResult, String> {
        let signer = cmd.signer;
        match &cmd.body.action {
            Action::VaultCreate {
                org_id,
                vault_id,
                name,
            } => {
                self.require_org_admin(org_id, &signer)?;
                if self.vaults.contains_key(vault_id) {
                    return Err(format!("vault '{vault_id}' already exists"));
                }
                let vault = Vault {
                    vault_id: vault_id.clone(),
                    org_id: org_id.clone(),
                    name: name.clone(),
                    status: VaultStatus::Pending,
                    created_log_index: ctx.log_index,
                    created_at_ms: now_ms,
                    committee: self.genesis.nodes.keys().copied().collect(),
                    threshold: self.genesis.threshold,
                    keys: None,
                    reports: Default::default(),
                };
                self.dirty.insert(RecordKey::Vault(vault_id.clone()));
                self.vaults.insert(vault_id.clone(), vault.clone());
                Ok(ActionResult::Vault { vault })
            }
            Action::WalletCreate {
                org_id,
                vault_id,
                chain,
                network,
                index,
            } => {
                self.require_org_admin(org_id, &signer)?;
                let vault = self.vault_in_org(org_id, vault_id)?;
                let Some(vkeys) = vault
                    .keys
                    .as_ref()
                    .filter(|_| vault.status == VaultStatus::Active)
                else {
                    return Err(format!("vault '{vault_id}' is not active"));
                };
                let wallet_id = Wallet::id_for(vault_id, *chain, *network, *index);
                if self.wallets.contains_key(&wallet_id) {
                    return Err(format!("wallet '{wallet_id}' already exists"));
                }
                let key =
                    keys::wallet_key(vkeys, *chain, *network, *index).map_err(|e| e.to_string())?;
                let wallet = Wallet {
                    wallet_id: wallet_id.clone(),
                    org_id: org_id.clone(),
                    vault_id: vault_id.clone(),
                    chain: *chain,
                    network: *network,
                    index: *index,
                    key_type: chain.key_type(),
                    public_key: hex::encode(&key.public_key),
                    address: key.address,
                    created_at_ms: now_ms,
                };
                if wallet.key_type == KeyType::EcdsaSecp256k1 {
                    let pool = PresigPool::new(&wallet_id, self.pool_signers(&wallet_id));
                    self.dirty.insert(RecordKey::PresigPool(wallet_id.clone()));
                    self.presig_pools.insert(wallet_id.clone(), pool);
                }
                self.dirty.insert(RecordKey::Wallet(wallet_id.clone()));
                self.wallets.insert(wallet_id, wallet.clone());
                Ok(ActionResult::WalletCreated { wallet })
            }
            Action::AddressBookAdd {
                org_id,
                chain,
                network,
                address,
                label,
            } => {
                self.require_org_admin(org_id, &signer)?;
                let address = chain::normalize_address(*chain, *network, address)
                    .map_err(|e| e.to_string())?;
                let c = book_chain(*chain);
                let key = (org_id.clone(), c.as_str().to_string(), address.clone());
                if self.address_book.contains_key(&key) {
                    return Err(format!("address {address} is already in the address book"));
                }
                let entry = AddressBookEntry {
                    org_id: org_id.clone(),
                    chain: c,
                    network: *network,
                    address: address.clone(),
                    label: label.clone(),
                    added_at_ms: now_ms,
                };
                self.dirty.insert(RecordKey::AddressBook(
                    key.0.clone(),
                    key.1.clone(),
                    key.2.clone(),
                ));
                self.address_book.insert(key, entry.clone());
                Ok(ActionResult::AddressBook {
                    entry,
                    removed: false,
                })
            }
            Action::AddressBookRemove {
                org_id,
                chain,
                network,
                address,
            } => {
                self.require_org_admin(org_id, &signer)?;
                let address = chain::normalize_address(*chain, *network, address)
                    .map_err(|e| e.to_string())?;
                let key = (
                    org_id.clone(),
                    book_chain(*chain).as_str().to_string(),
                    address.clone(),
                );
                let Some(entry) = self.address_book.remove(&key) else {
                    return Err(format!("address {address} is not in the address book"));
                };
                self.dirty
                    .insert(RecordKey::AddressBook(key.0, key.1, key.2));
                Ok(ActionResult::AddressBook {
                    entry,
                    removed: true,
                })
            }
            Action::PolicySet {
                org_id,
                vault_id,
                rules,
            } => {
                self.require_org_admin(org_id, &signer)?;
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
                    .member_with_key(org_id, &signer)
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
                    set_at_ms: now_ms,
                };
                self.dirty.insert(RecordKey::Policy(vault_id.clone()));
                self.policies.insert(vault_id.clone(), policy.clone());
                Ok(ActionResult::PolicySet { policy })
            }
            Action::RequestSubmit {
                org_id,
                wallet_id,
                payload,
                extras,
            } => {
                if !self.orgs.contains_key(org_id) {
                    return Err(format!("no organisation '{org_id}'"));
                }
                let initiator = self
                    .member_with_key(org_id, &signer)
                    .filter(|m| {
                        m.roles.contains(&Role::Initiator) || m.roles.contains(&Role::Admin)
                    })
                    .ok_or("signer is not an initiator of this organisation")?
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
                let bytes = payload_bytes(payload)?;
                let parsed =
                    chain::parse(&wallet.key()?, &bytes, extras).map_err(|e| e.to_string())?;
                let request_id = format!("req-{}", ctx.log_index);
                let digest = intent_digest(
                    &self.genesis.cluster_id,
                    &request_id,
                    wallet_id,
                    &bytes,
                    extras,
                    &parsed.intent,
                );
                let mut req = Request {
                    request_id,
                    org_id: org_id.clone(),
                    wallet_id: wallet_id.clone(),
                    vault_id: wallet.vault_id.clone(),
                    initiator,
                    payload: hex::encode(&bytes),
                    extras: extras.clone(),
                    intent: parsed.intent,
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
                    created_at_ms: now_ms,
                    updated_at_ms: now_ms,
                };
                if req.policy.rules.whitelist_required && !self.all_whitelisted(&req) {
                    req.status = RequestStatus::Rejected {
                        reason: "destination is not in the address book and the policy requires it"
                            .into(),
                    };
                } else if self.auto_approvable(&req) {
                    req.auto_approved = true;
                    self.proceed(&mut req, ctx, now_ms);
                }
                Ok(self.put_request(req))
            }
            Action::RequestApprove {
                org_id,
                request_id,
                intent_digest,
            } => {
                let mut req = self.pending_request(org_id, request_id, intent_digest)?;
                let member = self.signing_member(org_id, &signer)?;
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
                let signed = crate::command::SignedCommand {
                    body: cmd.body_text.clone(),
                    signer,
                    signature: cmd.signature.clone(),
                };
                req.approvals.insert(member.user_id.clone(), signed);
                req.updated_at_ms = now_ms;
                if self.valid_approvals(&req).len() >= usize::from(req.policy.rules.threshold) {
                    self.proceed(&mut req, ctx, now_ms);
                }
                Ok(self.put_request(req))
            }
            Action::RequestReject {
                org_id,
                request_id,
                intent_digest,
                reason,
            } => {
                let mut req = self.pending_request(org_id, request_id, intent_digest)?;
                let member = self.signing_member(org_id, &signer)?;
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
            Action::RequestAdminApprove {
                org_id,
                request_id,
                intent_digest,
            } => {
                let mut req = self.pending_request(org_id, request_id, intent_digest)?;
                let admin = self
                    .member_with_key(org_id, &signer)
                    .filter(|m| m.roles.contains(&Role::Admin))
                    .ok_or("signer is not an admin of this organisation")?;
                if !matches!(req.status, RequestStatus::AwaitingAdmin { .. }) {
                    return Err(format!(
                        "request is {}, not awaiting an admin",
                        req.status.name()
                    ));
                }
                let _ = admin;
                req.admin_approval = Some(crate::command::SignedCommand {
                    body: cmd.body_text.clone(),
                    signer,
                    signature: cmd.signature.clone(),
                });
                req.updated_at_ms = now_ms;
                self.proceed(&mut req, ctx, now_ms);
                Ok(self.put_request(req))
            }
            Action::OrgCreate { .. } | Action::MemberAdd { .. } | Action::MemberRemove { .. } => {
                Err("internal: handled elsewhere".into())
            }
        }
    }

    /// Applies a node's signed report.
    pub(super) fn apply_report(
        &mut self,
        ctx: EntryContext,
        now_ms: u64,
        rep: &SignedReport,
    ) -> CommandOutcome {
        let stale = |e: String| CommandOutcome {
            error: Some(e),
            log_index: ctx.log_index,
            ..Default::default()
        };
        let Some(node_key) = self.genesis.nodes.get(&rep.node_id).copied() else {
            return stale(format!("report from unknown node {}", rep.node_id));
        };
        let report = match rep.verify(&self.genesis.cluster_id, &node_key.0) {
            Ok(r) => r,
            Err(e) => return stale(e),
        };
        let hash = crate::command::body_hash(&rep.body);
        let result = self.execute_report(rep.node_id, &report, ctx, now_ms);
        match result {
            Ok(Some((org, text, result))) => {
                let seq =
                    self.append_audit(ctx, now_ms, node_key, Some(org), report.kind(), hash, &text);
                CommandOutcome {
                    result: Some(result),
                    error: None,
                    audit_seq: Some(seq),
                    log_index: ctx.log_index,
                    replayed: false,
                }
            }
            // Nothing changed (duplicate or late report): no audit entry.
            Ok(None) => stale("report changed nothing (duplicate or stale)".into()),
            Err(e) => stale(e),
        }
    }

    fn execute_report(
        &mut self,
        node: NodeId,
        report: &Report,
        ctx: EntryContext,
        now_ms: u64,
    ) -> Result<Option<(OrgId, String, ActionResult)>, String> {
        match report {
            Report::VaultKeys { vault_id, keys } => {
                let Some(vault) = self.vaults.get_mut(vault_id) else {
                    return Err(format!("no vault '{vault_id}'"));
                };
                if vault.status != VaultStatus::Pending || !vault.committee.contains(&node) {
                    return Ok(None);
                }
                if vault.reports.contains_key(&node) {
                    return Ok(None);
                }
                vault.reports.insert(node, keys.clone());
                let mut text = format!("node {node} reported keys");
                if vault.reports.len() == vault.committee.len() {
                    let first = vault.reports.values().next().cloned();
                    if vault.reports.values().all(|k| Some(k) == first.as_ref()) {
                        vault.status = VaultStatus::Active;
                        vault.keys = first;
                        text = "vault active: every node reported the same keys".into();
                    } else {
                        vault.status = VaultStatus::Failed {
                            reason: "nodes reported different public keys".into(),
                        };
                        text = "vault failed: reports disagree".into();
                    }
                }
                let (org, vault) = (vault.org_id.clone(), vault.clone());
                self.dirty.insert(RecordKey::Vault(vault_id.clone()));
                Ok(Some((org, text, ActionResult::Vault { vault })))
            }
            Report::VaultFailed { vault_id, reason } => {
                let Some(vault) = self.vaults.get_mut(vault_id) else {
                    return Err(format!("no vault '{vault_id}'"));
                };
                if vault.status != VaultStatus::Pending || !vault.committee.contains(&node) {
                    return Ok(None);
                }
                let reason: String = reason.chars().take(500).collect();
                vault.status = VaultStatus::Failed {
                    reason: format!("DKG failed on node {node}: {reason}"),
                };
                let (org, vault) = (vault.org_id.clone(), vault.clone());
                self.dirty.insert(RecordKey::Vault(vault_id.clone()));
                Ok(Some((
                    org,
                    "vault failed".into(),
                    ActionResult::Vault { vault },
                )))
            }
            Report::Signature {
                request_id,
                attempt,
                signatures,
            } => {
                let Some(mut req) = self.current_attempt_of(request_id, *attempt, node)? else {
                    return Ok(None);
                };
                let wallet = self
                    .wallets
                    .get(&req.wallet_id)
                    .ok_or("wallet vanished")?
                    .key()?;
                let sigs = signatures
                    .iter()
                    .map(|s| hex::decode(s).map_err(|_| "signature is not hex".to_string()))
                    .collect::<Result<Vec<_>, _>>()?;
                let payload = payload_bytes(&req.payload)?;
                // Verifies every signature against the wallet key and the recomputed messages.
                let tx = chain::assemble(&wallet, &payload, &req.extras, &sigs)
                    .map_err(|e| format!("signature report refused: {e}"))?;
                req.status = RequestStatus::Signed;
                req.signatures = signatures.clone();
                req.signed_transaction = Some(tx);
                req.updated_at_ms = now_ms;
                let org = req.org_id.clone();
                let text = format!("signed (attempt {attempt}, reported by node {node})");
                Ok(Some((org, text, self.put_request(req))))
            }
            Report::PresigReady { wallet_id, seq } => {
                let (org, pool) = self.pool_of(wallet_id)?;
                if !pool.signers.contains(&node) {
                    return Err(format!("node {node} is not a signer of this pool"));
                }
                let Some(reported) = pool.generating.get_mut(seq) else {
                    return Ok(None);
                };
                if !reported.insert(node) {
                    return Ok(None);
                }
                let mut text = format!("node {node} stored presignature {seq}");
                if reported.len() == pool.signers.len() {
                    pool.generating.remove(seq);
                    pool.ready.insert(*seq);
                    pool.failures_in_row = 0;
                    text = format!("presignature {seq} ready ({} ready)", pool.ready.len());
                }
                let pool = pool.clone();
                self.dirty.insert(RecordKey::PresigPool(wallet_id.clone()));
                Ok(Some((org, text, ActionResult::PresigPool { pool })))
            }
            Report::PresigFailed {
                wallet_id,
                seq,
                reason,
            } => {
                let (org, pool) = self.pool_of(wallet_id)?;
                if !pool.signers.contains(&node) || pool.generating.remove(seq).is_none() {
                    return Ok(None);
                }
                pool.failures_in_row += 1;
                pool.top_up();
                let reason: String = reason.chars().take(500).collect();
                let text = format!("presignature {seq} failed on node {node}: {reason}");
                let pool = pool.clone();
                self.dirty.insert(RecordKey::PresigPool(wallet_id.clone()));
                Ok(Some((org, text, ActionResult::PresigPool { pool })))
            }
            Report::SignFailed {
                request_id,
                attempt,
                reason,
                unresponsive,
            } => {
                let Some(mut req) = self.current_attempt_of(request_id, *attempt, node)? else {
                    return Ok(None);
                };
                let reason: String = reason.chars().take(500).collect();
                if let Some(a) = req.attempts.last_mut() {
                    a.failure = Some(format!("node {node}: {reason}"));
                }
                let mut avoid: BTreeSet<NodeId> = unresponsive.iter().copied().collect();
                avoid.remove(&node);
                if req.attempts.len() as u32 >= MAX_SIGN_ATTEMPTS {
                    req.status = RequestStatus::Failed {
                        reason: format!(
                            "signing failed after {MAX_SIGN_ATTEMPTS} attempts: {reason}"
                        ),
                    };
                } else {
                    self.start_attempt(&mut req, ctx, &avoid);
                }
                req.updated_at_ms = now_ms;
                let org = req.org_id.clone();
                let text = format!("attempt {attempt} failed on node {node}: {reason}");
                Ok(Some((org, text, self.put_request(req))))
            }
        }
    }

    /// A wallet's organisation and presignature pool (for a pool report).
    fn pool_of(&mut self, wallet_id: &str) -> Result<(OrgId, &mut PresigPool), String> {
        let org = self
            .wallets
            .get(wallet_id)
            .map(|w| w.org_id.clone())
            .ok_or_else(|| format!("no wallet '{wallet_id}'"))?;
        let pool = self
            .presig_pools
            .get_mut(wallet_id)
            .ok_or_else(|| format!("wallet '{wallet_id}' has no presignature pool"))?;
        Ok((org, pool))
    }

    /// The request if `attempt` is its current signing attempt and `node` one of its signers.
    fn current_attempt_of(
        &self,
        request_id: &str,
        attempt: u32,
        node: NodeId,
    ) -> Result<Option<Request>, String> {
        let req = self
            .requests
            .get(request_id)
            .ok_or_else(|| format!("no request '{request_id}'"))?;
        let current = req.attempts.last();
        if req.status != RequestStatus::Signing
            || current.map(|a| a.attempt) != Some(attempt)
            || !current.is_some_and(|a| a.signers.contains(&node))
        {
            return Ok(None);
        }
        Ok(Some(req.clone()))
    }

    /// [`CustodyState::signing_job`] at this signer's own clock `now_ms`: also refuses when the
    /// spend reservation's timestamp (the leader's clock, made monotonic) is further than
    /// [`MAX_CLOCK_SKEW_MS`] from `now_ms`, either way. A leader whose clock runs ahead cannot
    /// slide a spend window forward, and one whose clock stands still cannot stamp new spends
    /// into an old window, by more than that bound (decision 0012).
    pub fn signing_job_at(
        &self,
        request_id: &str,
        me: NodeId,
        now_ms: u64,
    ) -> Result<SigningJob, String> {
        let job = self.signing_job(request_id, me)?;
        let reserved = self
            .requests
            .get(request_id)
            .and_then(|r| r.reserved_at_ms)
            .ok_or("spend was never reserved")?;
        let skew = reserved.abs_diff(now_ms);
        if skew > MAX_CLOCK_SKEW_MS {
            let dir = if reserved > now_ms {
                "ahead of"
            } else {
                "behind"
            };
            return Err(format!(
                "the spend was reserved at a log time {skew} ms {dir} this node's clock (at \
                 most {MAX_CLOCK_SKEW_MS} ms): a leader's clock or this node's is wrong"
            ));
        }
        Ok(job)
    }

    /// The signer's own check before it contributes anything (invariant 2): the request is in
    /// `signing` with this node in the current signer set; the payload re-parses to the same
    /// intent and digest; the policy is still the one in force and unchanged; the approvals are
    /// valid signatures by distinct current approvers over this digest (or the auto-approve rule
    /// holds); the whitelist holds when required; and the spend fits every window (or an admin's
    /// valid approval covers a REQUIRE_ADMIN limit).
    pub fn signing_job(&self, request_id: &str, me: NodeId) -> Result<SigningJob, String> {
        let req = self
            .requests
            .get(request_id)
            .ok_or_else(|| format!("no request '{request_id}'"))?;
        if req.status != RequestStatus::Signing {
            return Err(format!("request is {}, not signing", req.status.name()));
        }
        let attempt = req.attempts.last().ok_or("no signing attempt")?;
        if !attempt.signers.contains(&me) {
            return Err("this node is not in the signer set".into());
        }
        let (job, intent, payload) = self.job_for(req, attempt)?;
        if intent != req.intent {
            return Err("payload does not parse to the recorded intent".into());
        }
        let digest = intent_digest(
            &self.genesis.cluster_id,
            &req.request_id,
            &req.wallet_id,
            &payload,
            &req.extras,
            &intent,
        );
        if digest != req.intent_digest {
            return Err("intent digest does not match".into());
        }
        let current = self
            .policies
            .get(&req.vault_id)
            .ok_or("vault has no policy")?;
        if current.version != req.policy.version
            || current.hash != req.policy.hash
            || req.policy.rules.hash() != req.policy.hash
        {
            return Err("the policy changed since the request was approved".into());
        }
        if req.policy.rules.whitelist_required && !self.all_whitelisted(req) {
            return Err("a destination is not in the address book".into());
        }
        if req.auto_approved {
            if !self.auto_approvable(req) {
                return Err("auto-approval rule does not hold".into());
            }
        } else {
            let n = self.valid_approvals(req).len();
            if n < usize::from(req.policy.rules.threshold) {
                return Err(format!(
                    "{n} valid approvals, the policy needs {}",
                    req.policy.rules.threshold
                ));
            }
        }
        let reserved = req.reserved_at_ms.ok_or("spend was never reserved")?;
        if let Some((action, why)) = self.limit_breach(req, reserved, true) {
            let admin_ok = action == LimitAction::RequireAdmin
                && req.admin_approval.as_ref().is_some_and(|c| {
                    check_approval(
                        c,
                        &self.genesis.cluster_id,
                        &req.request_id,
                        &req.intent_digest,
                        true,
                    )
                    .ok()
                    .and_then(|k| self.member_with_key(&req.org_id, &k))
                    .is_some_and(|m| m.roles.contains(&Role::Admin))
                });
            if !admin_ok {
                return Err(why);
            }
        }
        Ok(job)
    }

    /// The job for `attempt` of `req`, its payload re-parsed here: the wallet must still be the
    /// vault's key. Returns the intent and payload for the caller's checks.
    fn job_for(
        &self,
        req: &Request,
        attempt: &SignAttempt,
    ) -> Result<(SigningJob, chain::Intent, Vec<u8>), String> {
        let wallet = self.wallets.get(&req.wallet_id).ok_or("wallet not found")?;
        let vault = self.vaults.get(&req.vault_id).ok_or("vault not found")?;
        let vault_keys = vault
            .keys
            .clone()
            .filter(|_| vault.status == VaultStatus::Active)
            .ok_or("vault is not active")?;
        let derived = keys::wallet_key(&vault_keys, wallet.chain, wallet.network, wallet.index)
            .map_err(|e| e.to_string())?;
        if derived.address != wallet.address
            || hex::encode(&derived.public_key) != wallet.public_key
        {
            return Err("wallet does not match the vault key".into());
        }
        let payload = payload_bytes(&req.payload)?;
        let parsed = chain::parse(&derived, &payload, &req.extras).map_err(|e| e.to_string())?;
        let job = SigningJob {
            request_id: req.request_id.clone(),
            attempt: attempt.attempt,
            session_id: hex::decode(&attempt.session_id)
                .ok()
                .and_then(|b| b.try_into().ok())
                .ok_or("bad session id")?,
            signers: attempt.signers.clone(),
            vault_id: req.vault_id.clone(),
            key_type: wallet.key_type,
            chain: wallet.chain,
            network: wallet.network,
            index: wallet.index,
            vault_keys,
            wallet: derived,
            messages: parsed.to_sign,
            presignatures: attempt
                .presignatures
                .iter()
                .map(|seq| (*seq, presig_store_key(&req.wallet_id, *seq)))
                .collect(),
        };
        Ok((job, parsed.intent, payload))
    }

    /// TEST BUILDS ONLY (feature `forge-for-tests`): the job a faulty or malicious node would
    /// derive after applying a forged `approved` state for a request — attempt 1 with this
    /// node and the next nodes as signers, the session id computed as a real attempt's would
    /// be — **without any of the checks** of [`CustodyState::signing_job`]. Used by the
    /// `mpc-node-forger` test binary to show that honest nodes never join such a session.
    #[cfg(feature = "forge-for-tests")]
    pub fn forged_signing_job_for_tests(
        &self,
        request_id: &str,
        me: NodeId,
    ) -> Result<SigningJob, String> {
        let req = self.requests.get(request_id).ok_or("no such request")?;
        let attempt = self.forged_attempt_for_tests(req, me);
        self.job_for(req, &attempt).map(|(job, _, _)| job)
    }

    /// TEST BUILDS ONLY: attempt 1 of `req` with `me` and the next nodes as signers, as a real
    /// first attempt's session id would be computed.
    #[cfg(feature = "forge-for-tests")]
    fn forged_attempt_for_tests(&self, req: &Request, me: NodeId) -> SignAttempt {
        let mut signers: Vec<NodeId> = std::iter::once(me)
            .chain(self.genesis.nodes.keys().copied().filter(|n| *n != me))
            .take(usize::from(self.genesis.threshold))
            .collect();
        signers.sort_unstable();
        let log_index = log_index_of(&req.request_id);
        let sid = session_id(
            &self.genesis.cluster_id,
            "sign",
            &[
                req.request_id.as_bytes(),
                &1u32.to_be_bytes(),
                &log_index.to_be_bytes(),
            ],
        );
        SignAttempt {
            attempt: 1,
            signers,
            session_id: hex::encode(sid),
            log_index,
            failure: None,
            presignatures: Vec::new(),
        }
    }

    /// TEST BUILDS ONLY: what a malicious node would put in a forged snapshot — every pending
    /// request `signing` (reserved at `now_ms`) with attempt 1 naming `me` and the next node,
    /// and every vault's policy set to auto-approve any amount. Returns how many requests
    /// were forged.
    #[cfg(feature = "forge-for-tests")]
    pub fn forge_approvals_for_tests(&mut self, me: NodeId, now_ms: u64) -> usize {
        let pending: Vec<String> = self
            .requests
            .values()
            .filter(|r| r.status == RequestStatus::Pending)
            .map(|r| r.request_id.clone())
            .collect();
        for id in &pending {
            let Some(mut req) = self.requests.get(id).cloned() else {
                continue;
            };
            // An auto-approve rule for the request's asset, any amount; whitelisted targets.
            let mut policy = req.policy.clone();
            policy.rules.auto_approve = vec![crate::custody::AutoApprove {
                asset: req.intent.asset.clone(),
                max_amount: req.intent.amount,
            }];
            policy.rules.limits.clear();
            policy.hash = policy.rules.hash();
            self.policies.insert(req.vault_id.clone(), policy.clone());
            for t in &req.intent.transfers {
                let key = (
                    req.org_id.clone(),
                    book_chain(req.intent.chain).as_str().to_string(),
                    t.to.clone(),
                );
                let entry = AddressBookEntry {
                    org_id: req.org_id.clone(),
                    chain: book_chain(req.intent.chain),
                    network: req.intent.network,
                    address: t.to.clone(),
                    label: "forged".into(),
                    added_at_ms: now_ms,
                };
                self.address_book.insert(key, entry);
            }
            let attempt = self.forged_attempt_for_tests(&req, me);
            req.policy = policy;
            req.attempts = vec![attempt];
            req.status = RequestStatus::Signing;
            req.auto_approved = true;
            req.reserved_at_ms = Some(now_ms);
            self.requests.insert(id.clone(), req);
        }
        pending.len()
    }

    // ----- reads -----

    /// One vault.
    pub fn vault(&self, id: &str) -> Option<&Vault> {
        self.vaults.get(id)
    }

    /// Vaults of an organisation (or all).
    pub fn vaults<'a>(&'a self, org: Option<&'a OrgId>) -> impl Iterator<Item = &'a Vault> + 'a {
        self.vaults
            .values()
            .filter(move |v| org.is_none_or(|o| &v.org_id == o))
    }

    /// One wallet.
    pub fn wallet(&self, id: &str) -> Option<&Wallet> {
        self.wallets.get(id)
    }

    /// Wallets, optionally of one vault.
    pub fn wallets<'a>(&'a self, vault: Option<&'a str>) -> impl Iterator<Item = &'a Wallet> + 'a {
        self.wallets
            .values()
            .filter(move |w| vault.is_none_or(|v| w.vault_id == v))
    }

    /// Address book of an organisation.
    pub fn address_book<'a>(
        &'a self,
        org: &'a OrgId,
    ) -> impl Iterator<Item = &'a AddressBookEntry> + 'a {
        self.address_book.values().filter(move |e| &e.org_id == org)
    }

    /// A vault's policy.
    pub fn policy(&self, vault_id: &str) -> Option<&Policy> {
        self.policies.get(vault_id)
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

    /// Requests in `signing` whose current signer set includes `node`.
    pub fn signing_work(&self, node: NodeId) -> Vec<(String, u32)> {
        self.requests
            .values()
            .filter(|r| r.status == RequestStatus::Signing)
            .filter_map(|r| {
                r.attempts
                    .last()
                    .filter(|a| a.signers.contains(&node))
                    .map(|a| (r.request_id.clone(), a.attempt))
            })
            .collect()
    }

    /// A wallet's presignature pool.
    pub fn presig_pool(&self, wallet_id: &str) -> Option<&PresigPool> {
        self.presig_pools.get(wallet_id)
    }

    /// Presignatures `node` should make: `(pool, seq)` for every scheduled one it has not
    /// reported, lowest first (so every signer runs them in the same order).
    pub fn presig_work(&self, node: NodeId) -> Vec<(PresigPool, u64)> {
        let mut out = Vec::new();
        for pool in self.presig_pools.values() {
            if !pool.signers.contains(&node) {
                continue;
            }
            for (seq, reported) in &pool.generating {
                if !reported.contains(&node) {
                    out.push((pool.clone(), *seq));
                }
            }
        }
        out
    }

    /// Vaults still waiting for DKG, with their creation log index.
    pub fn pending_vaults(&self) -> Vec<(String, u64)> {
        self.vaults
            .values()
            .filter(|v| v.status == VaultStatus::Pending)
            .map(|v| (v.vault_id.clone(), v.created_log_index))
            .collect()
    }

    /// Test-only: overwrite a request, as a faulty or malicious node's apply might.
    #[doc(hidden)]
    pub fn force_request_for_tests(&mut self, req: Request) {
        self.requests.insert(req.request_id.clone(), req);
    }
}
