//! The signer's own check before it contributes anything (invariant 2):
//! [`CustodyState::signing_job`] and [`CustodyState::signing_job_at`].

pub(super) use super::requests::log_index_of;
use super::requests::payload_bytes;
use super::CustodyState;
use crate::entry::MAX_CLOCK_SKEW_MS;
use crate::ids::NodeId;
use crate::pool::presig_store_key;
use crate::types::Role;
use crate::{
    check_approval, intent_digest, LimitAction, Request, RequestStatus, SignAttempt, VaultStatus,
};
use mpc_protocol::chain::keys::{self, VaultPublicKeys};
use mpc_protocol::chain::{self, Chain, KeyType, Network, ToSign, WalletKey};

/// Everything a signer needs for one signing attempt, produced only after its own checks.
#[derive(Debug, Clone)]
pub struct SigningJob {
    /// Request.
    pub request_id: crate::types::RequestId,
    /// Attempt number.
    pub attempt: u32,
    /// Session id fixed in the log.
    pub session_id: crate::ids::SessionId,
    /// Log index of the entry that fixed the attempt: pooled FROST attempts fixed by one entry
    /// for the same signers sign in one batch session (decision 0039).
    pub log_index: u64,
    /// Signer node ids (sorted).
    pub signers: Vec<NodeId>,
    /// Vault.
    pub vault_id: crate::types::VaultId,
    /// Key type.
    pub key_type: KeyType,
    /// The vault's key-share epoch this attempt signs with.
    pub key_epoch: u32,
    /// The share generation of that epoch (names the shares in the node's store).
    pub share_generation: u64,
    /// The committee holding that generation, in keygen order (ECDSA key-share indices).
    pub committee: Vec<NodeId>,
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

impl CustodyState {
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
        let expires = self.requests.get(request_id).map_or(0, |r| r.expires_at_ms);
        if expires != 0 && now_ms > expires {
            return Err(format!(
                "the request expired at {expires} ms (this node's clock: {now_ms} ms)"
            ));
        }
        Ok(job)
    }

    /// The signer's own check before it contributes anything (invariant 2): the request is in
    /// `signing` with this node in the current signer set; the payload re-parses to the same
    /// intent and digest; the policy is still the one in force, unchanged, and adopted by an
    /// admin quorum whose signatures this node verifies; the approvals are valid signatures by
    /// distinct current approvers, each adopted by an admin quorum, over this digest (or the
    /// auto-approve rule holds); the whitelist holds when required, by address-book entries an
    /// admin quorum adopted; and the spend fits every window (or an admin's valid approval covers
    /// a REQUIRE_ADMIN limit); and a token's registry entry is the one an admin quorum adopted.
    pub fn signing_job(&self, request_id: &str, me: NodeId) -> Result<SigningJob, String> {
        let req = self
            .requests
            .get(request_id)
            .ok_or_else(|| format!("no request '{request_id}'"))?;
        if req.status != RequestStatus::Signing {
            return Err(format!("request is {}, not signing", req.status.name()));
        }
        let attempt = req
            .current_attempt()
            .ok_or("no signing attempt running (the request may be waiting for a slot)")?;
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
        self.policy_adopted(current, &req.org_id)?;
        self.token_adopted(req)?;
        self.authorisation_holds(req)?;
        Ok(job)
    }

    /// The policy part of the signer's check: whitelist, approvals (or auto-approval) and the
    /// spend windows as of the reservation (or an admin's valid approval of a REQUIRE_ADMIN
    /// limit).
    fn authorisation_holds(&self, req: &Request) -> Result<(), String> {
        if req.policy.rules.whitelist_required && !self.all_whitelisted(req) {
            return Err("a destination is not in the address book".into());
        }
        if let Some(why) = Self::fee_cap_breach(req) {
            return Err(why);
        }
        Self::call_allowed(&req.policy.rules, &req.intent)?;
        self.inputs_committed(req)?;
        if req.policy.rules.whitelist_required || req.auto_approved {
            self.destinations_adopted(req)?;
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
        Ok(())
    }

    /// The job for `attempt` of `req`, its payload re-parsed here: the wallet must still be the
    /// vault's key. Returns the intent and payload for the caller's checks.
    pub(super) fn job_for(
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
        if attempt.log_index < vault.epoch_log_index {
            return Err(format!(
                "the vault's key shares were refreshed (epoch {}) after this attempt was fixed; \
                 the next attempt signs with the new shares",
                vault.epoch
            ));
        }
        let derived = keys::wallet_key(&vault_keys, wallet.chain, wallet.network, wallet.index)
            .map_err(|e| e.to_string())?;
        if derived.address != wallet.address
            || hex::encode(&derived.public_key) != wallet.public_key
        {
            return Err("wallet does not match the vault key".into());
        }
        let payload = payload_bytes(&req.payload)?;
        let parsed = chain::parse(&derived, &payload, &req.extras).map_err(|e| e.to_string())?;
        wallet.check_intent(&parsed.intent)?;
        let intent = self.resolve_token(&req.org_id, parsed.intent)?;
        let job = SigningJob {
            request_id: req.request_id.clone(),
            attempt: attempt.attempt,
            session_id: hex::decode(&attempt.session_id)
                .ok()
                .and_then(|b| b.try_into().ok())
                .map(crate::ids::SessionId)
                .ok_or("bad session id")?,
            log_index: attempt.log_index,
            signers: attempt.signers.clone(),
            vault_id: req.vault_id.clone(),
            key_type: wallet.key_type,
            key_epoch: vault.epoch,
            share_generation: vault.share_generation,
            committee: vault.committee.clone(),
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
        Ok((job, intent, payload))
    }
}
