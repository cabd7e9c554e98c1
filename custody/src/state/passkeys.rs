//! Passkeys: the organisation's relying party, invitations, registration, revocation, passkey
//! decisions on requests, and the signer's re-verification of a passkey approval against
//! evidence anchored in the genesis (see [`crate::passkey`]).

use super::{ActionResult, CommandOutcome, CustodyState, EntryContext, Exec, RecordKey};
use crate::command::Action;
use crate::passkey::{
    registration_challenge, Decision, PasskeyCredential, PasskeyDecision, PasskeyInvitation,
    WebauthnConfig, MAX_OPEN_INVITATIONS, MAX_PASSKEYS_PER_MEMBER,
};
use crate::request::Approval;
use crate::types::{OrgId, UserId, UserKey};
use crate::webauthn::{self, AssertionBytes, Expected};
use crate::{Member, Request};

impl CustodyState {
    pub(super) fn webauthn_set(
        &mut self,
        x: &Exec<'_>,
        org_id: &OrgId,
        rp_id: &str,
        origins: &[String],
    ) -> Result<ActionResult, String> {
        let mut org = self
            .orgs
            .get(org_id)
            .cloned()
            .ok_or_else(|| format!("no organisation '{org_id}'"))?;
        org.webauthn = Some(WebauthnConfig {
            rp_id: rp_id.to_string(),
            origins: origins.to_vec(),
        });
        org.webauthn_adoption = x.adoption.clone().map(Box::new);
        self.orgs.insert(org_id.clone(), org.clone());
        self.dirty.insert(RecordKey::Org(org_id.clone()));
        Ok(ActionResult::OrgSettingsSet { org })
    }

    fn member_of(&self, org_id: &OrgId, user_id: &UserId) -> Result<Member, String> {
        self.members
            .get(&(org_id.clone(), user_id.clone()))
            .cloned()
            .ok_or_else(|| format!("no member '{user_id}' in '{org_id}'"))
    }

    pub(super) fn passkey_invite(
        &mut self,
        x: &Exec<'_>,
        org_id: &OrgId,
        user_id: &UserId,
        invite_key: &UserKey,
        ttl_secs: u64,
    ) -> Result<ActionResult, String> {
        if self
            .orgs
            .get(org_id)
            .and_then(|o| o.webauthn.as_ref())
            .is_none()
        {
            return Err(
                "set the organisation's WebAuthn relying party first (webauthn_set)".into(),
            );
        }
        let mut member = self.member_of(org_id, user_id)?;
        if self.member_with_key(org_id, invite_key).is_some()
            || self.invitation_by_key(org_id, invite_key).is_some()
        {
            return Err("this invitation key is already in use".into());
        }
        member.invitations.retain(|i| i.expires_at_ms > x.now_ms);
        if member.invitations.len() >= MAX_OPEN_INVITATIONS {
            return Err(format!(
                "'{user_id}' already has {MAX_OPEN_INVITATIONS} open invitations"
            ));
        }
        member.invitations.push(PasskeyInvitation {
            invite_key: *invite_key,
            created_at_ms: x.now_ms,
            expires_at_ms: x.now_ms.saturating_add(ttl_secs.saturating_mul(1000)),
            adoption: x.adoption.clone().map(Box::new),
        });
        self.put_member(member.clone());
        Ok(ActionResult::MemberUpdated { member })
    }

    /// The member holding an open (possibly expired) invitation with `key`.
    fn invitation_by_key<'a>(&'a self, org_id: &'a OrgId, key: &UserKey) -> Option<&'a Member> {
        self.org_members(org_id)
            .find(|m| m.invitations.iter().any(|i| &i.invite_key == key))
    }

    pub(super) fn passkey_register(
        &mut self,
        x: &Exec<'_>,
        org_id: &OrgId,
        user_id: &UserId,
        attestation_object: &str,
        client_data_json: &str,
    ) -> Result<ActionResult, String> {
        let config = self.webauthn_config(org_id)?.clone();
        let mut member = self.member_of(org_id, user_id)?;
        let pos = member
            .invitations
            .iter()
            .position(|i| i.invite_key == x.signer)
            .ok_or("the signer is not an open invitation for this member")?;
        let invitation = member.invitations[pos].clone();
        if x.now_ms >= invitation.expires_at_ms {
            return Err("the invitation has expired".into());
        }
        let cred = Self::registered_credential(
            &self.genesis.cluster_id,
            &config,
            org_id,
            user_id,
            &invitation.invite_key,
            attestation_object,
            client_data_json,
        )?;
        let credential_id = webauthn::b64url(&cred.credential_id);
        if self.credential(org_id, &credential_id).is_some() {
            return Err("this credential is already registered".into());
        }
        if member.passkeys.len() >= MAX_PASSKEYS_PER_MEMBER {
            return Err(format!(
                "'{user_id}' already has {MAX_PASSKEYS_PER_MEMBER} passkeys"
            ));
        }
        member.invitations.remove(pos);
        member.passkeys.push(PasskeyCredential {
            credential_id,
            public_key: hex::encode(cred.key.to_cose()),
            alg: cred.key.alg_name().to_string(),
            attestation_format: cred.attestation_format,
            aaguid: hex::encode(cred.aaguid),
            registered_at_ms: x.now_ms,
            sign_count: cred.sign_count,
            registration: x.cmd.signed(),
            invitation,
        });
        self.put_member(member.clone());
        Ok(ActionResult::MemberUpdated { member })
    }

    /// Verifies a registration's attestation for the invitation `invite_key` of `user_id`.
    fn registered_credential(
        cluster_id: &str,
        config: &WebauthnConfig,
        org_id: &OrgId,
        user_id: &UserId,
        invite_key: &UserKey,
        attestation_object: &str,
        client_data_json: &str,
    ) -> Result<RegisteredKey, String> {
        let obj = webauthn::from_b64url(
            "attestation_object",
            attestation_object,
            webauthn::MAX_ATTESTATION_OBJECT_BYTES,
        )?;
        let cd = webauthn::from_b64url(
            "client_data_json",
            client_data_json,
            webauthn::MAX_CLIENT_DATA_BYTES,
        )?;
        let challenge = registration_challenge(cluster_id, org_id, &user_id.0, invite_key);
        let c = webauthn::verify_registration(
            &obj,
            &cd,
            &Expected {
                rp_id: &config.rp_id,
                origins: &config.origins,
                challenge: &challenge,
            },
        )?;
        Ok(RegisteredKey {
            credential_id: c.credential_id,
            key: c.key,
            attestation_format: c.attestation_format,
            aaguid: c.aaguid,
            sign_count: c.sign_count,
        })
    }

    pub(super) fn passkey_revoke(
        &mut self,
        org_id: &OrgId,
        user_id: &UserId,
        credential_id: &str,
    ) -> Result<ActionResult, String> {
        let mut member = self.member_of(org_id, user_id)?;
        let before = member.passkeys.len();
        member.passkeys.retain(|p| p.credential_id != credential_id);
        if member.passkeys.len() == before {
            return Err(format!("'{user_id}' has no passkey '{credential_id}'"));
        }
        self.put_member(member.clone());
        Ok(ActionResult::MemberUpdated { member })
    }

    /// The organisation's relying party.
    fn webauthn_config(&self, org_id: &OrgId) -> Result<&WebauthnConfig, String> {
        self.orgs
            .get(org_id)
            .ok_or_else(|| format!("no organisation '{org_id}'"))?
            .webauthn
            .as_ref()
            .ok_or_else(|| format!("organisation '{org_id}' has no WebAuthn relying party"))
    }

    /// One member of an organisation.
    pub fn member(&self, org_id: &OrgId, user_id: &str) -> Option<&Member> {
        self.members
            .get(&(org_id.clone(), UserId(user_id.to_string())))
    }

    /// Test-only: overwrite a member, as a faulty or malicious node's apply might.
    #[doc(hidden)]
    pub fn force_member_for_tests(&mut self, m: Member) {
        self.members
            .insert((m.org_id.clone(), m.user_id.clone()), m);
    }

    /// Test-only: drop or replace an organisation's relying-party adoption.
    #[doc(hidden)]
    pub fn force_org_webauthn_for_tests(
        &mut self,
        org_id: &OrgId,
        adoption: Option<crate::Adoption>,
    ) {
        if let Some(o) = self.orgs.get_mut(org_id) {
            o.webauthn_adoption = adoption.map(Box::new);
        }
    }

    /// The member and credential with `credential_id` in `org_id`.
    pub fn credential<'a>(
        &'a self,
        org_id: &'a OrgId,
        credential_id: &str,
    ) -> Option<(&'a Member, &'a PasskeyCredential)> {
        self.org_members(org_id).find_map(|m| {
            m.passkeys
                .iter()
                .find(|p| p.credential_id == credential_id)
                .map(|p| (m, p))
        })
    }

    /// A passkey decision from the log: verified, applied, audited. Not idempotent by key: the
    /// challenge names the request and a member decides once.
    pub(super) fn apply_passkey_decision(
        &mut self,
        ctx: EntryContext,
        now_ms: u64,
        d: &PasskeyDecision,
    ) -> CommandOutcome {
        let actor = self
            .credential(&d.org_id, &d.credential_id)
            .map_or(UserKey([0; 32]), |(m, _)| m.public_key);
        let result = self.passkey_decide(ctx, now_ms, d);
        let text = match &result {
            Ok(_) => format!("ok (passkey {})", short(&d.credential_id)),
            Err(e) => format!("rejected: {e}"),
        };
        let action = match d.decision {
            Decision::Approve => "request_approve_passkey",
            Decision::Reject => "request_reject_passkey",
        };
        let seq = self.append_audit(
            ctx,
            now_ms,
            actor,
            Some(d.org_id.clone()),
            action,
            d.hash(),
            &text,
        );
        let (result, error) = match result {
            Ok(r) => (Some(r), None),
            Err(e) => (None, Some(e)),
        };
        CommandOutcome {
            result,
            error,
            audit_seq: Some(seq),
            log_index: ctx.log_index,
            replayed: false,
            ..Default::default()
        }
    }

    fn passkey_decide(
        &mut self,
        ctx: EntryContext,
        now_ms: u64,
        d: &PasskeyDecision,
    ) -> Result<ActionResult, String> {
        let (member, cred) = self
            .credential(&d.org_id, &d.credential_id)
            .map(|(m, c)| (m.clone(), c.clone()))
            .ok_or("no member of this organisation holds this passkey (unknown or revoked)")?;
        let req = self
            .requests
            .get(&d.request_id)
            .filter(|r| r.org_id == d.org_id)
            .cloned()
            .ok_or_else(|| format!("no request '{}' in '{}'", d.request_id, d.org_id))?;
        let counter = self.verify_decision(&req, &cred, d)?;
        // §7.2 step 22: a counter that does not grow (when either side counts) may be a cloned
        // authenticator; refuse. Synced passkeys report 0 and never count.
        if (counter != 0 || cred.sign_count != 0) && counter <= cred.sign_count {
            return Err(format!(
                "the passkey's signature counter did not increase ({counter} after {}): it \
                 may be cloned",
                cred.sign_count
            ));
        }
        let result = match d.decision {
            Decision::Approve => {
                self.approve_by(ctx, now_ms, req, &member, Approval::Passkey(d.clone()))?
            }
            Decision::Reject => {
                let reason = d.reason.as_deref().unwrap_or("");
                self.reject_by(now_ms, req, &member, reason)?
            }
        };
        if counter != 0 {
            let mut m = member;
            if let Some(c) = m
                .passkeys
                .iter_mut()
                .find(|c| c.credential_id == d.credential_id)
            {
                c.sign_count = counter;
            }
            self.put_member(m);
        }
        Ok(result)
    }

    /// Verifies `d`'s assertion by `cred` over the challenge of `req` (its digest and policy
    /// version, as this node holds them) against the organisation's relying party. Returns
    /// the signature counter.
    fn verify_decision(
        &self,
        req: &Request,
        cred: &PasskeyCredential,
        d: &PasskeyDecision,
    ) -> Result<u32, String> {
        let bytes = d.decode()?;
        let config = self.webauthn_config(&req.org_id)?;
        let challenge = d.challenge(
            &self.genesis.cluster_id,
            &req.intent_digest,
            req.policy.version,
        );
        webauthn::verify_assertion(
            &cred.key()?,
            &AssertionBytes {
                authenticator_data: &bytes.authenticator_data,
                client_data_json: &bytes.client_data_json,
                signature: &bytes.signature,
            },
            &Expected {
                rp_id: &config.rp_id,
                origins: &config.origins,
                challenge: &challenge,
            },
        )
    }

    /// The signer's check of a stored passkey approval (invariant 2): `d` approves `req`; the
    /// credential is `member`'s, registered by a command signed with the key of an invitation
    /// an admin quorum adopted, and that registration re-derives the same id and public key;
    /// the relying party was adopted by an admin quorum; the assertion verifies.
    pub(super) fn passkey_approval_holds(
        &self,
        req: &Request,
        member: &Member,
        d: &PasskeyDecision,
    ) -> Result<(), String> {
        if d.decision != Decision::Approve
            || d.org_id != req.org_id
            || d.request_id != req.request_id
        {
            return Err("not an approval of this request".into());
        }
        let cred = member
            .passkeys
            .iter()
            .find(|c| c.credential_id == d.credential_id)
            .ok_or("the passkey is not (or no longer) the member's")?;
        self.webauthn_adopted(&req.org_id)?;
        self.credential_adopted(member, cred)?;
        self.verify_decision(req, cred, d).map(|_| ())
    }

    /// Checks a passkey assertion made to sign in to a node's console over `challenge` (see
    /// [`crate::passkey::sign_in_challenge`]); returns the member holding the credential. Pure:
    /// the node keeps its nonces and sessions.
    pub fn verify_sign_in(
        &self,
        org_id: &OrgId,
        credential_id: &str,
        challenge: &[u8; 32],
        assertion: &AssertionBytes<'_>,
    ) -> Result<Member, String> {
        let config = self.webauthn_config(org_id)?;
        let (member, cred) = self
            .credential(org_id, credential_id)
            .ok_or("no member of this organisation holds this passkey (unknown or revoked)")?;
        webauthn::verify_assertion(
            &cred.key()?,
            assertion,
            &Expected {
                rp_id: &config.rp_id,
                origins: &config.origins,
                challenge,
            },
        )?;
        Ok(member.clone())
    }

    /// Checks a passkey decision as `apply` will, without applying it: the node refuses a
    /// decision that cannot verify before it reaches the log. Returns the member's key.
    pub fn passkey_decision_check(&self, d: &PasskeyDecision) -> Result<UserKey, String> {
        let (member, cred) = self
            .credential(&d.org_id, &d.credential_id)
            .ok_or("no member of this organisation holds this passkey (unknown or revoked)")?;
        let req = self
            .requests
            .get(&d.request_id)
            .filter(|r| r.org_id == d.org_id)
            .ok_or_else(|| format!("no request '{}' in '{}'", d.request_id, d.org_id))?;
        self.verify_decision(req, cred, d)?;
        // What apply would refuse anyway: a replayed assertion must not buy a log entry.
        let open = match d.decision {
            Decision::Approve => req.status == crate::RequestStatus::Pending,
            Decision::Reject => matches!(
                req.status,
                crate::RequestStatus::Pending | crate::RequestStatus::AwaitingAdmin { .. }
            ),
        };
        if !open {
            return Err(format!(
                "request is {}, not open to decisions",
                req.status.name()
            ));
        }
        if d.decision == Decision::Approve && req.approvals.contains_key(&member.user_id) {
            return Err(format!("'{}' has already approved", member.user_id));
        }
        Ok(member.public_key)
    }

    /// The organisation's relying party was adopted by an admin quorum.
    fn webauthn_adopted(&self, org_id: &OrgId) -> Result<(), String> {
        let org = self.orgs.get(org_id).ok_or("no organisation")?;
        let config = org.webauthn.as_ref().ok_or("no relying party")?;
        let adoption = org
            .webauthn_adoption
            .as_ref()
            .ok_or("the relying party carries no adoption evidence")?;
        adoption
            .verify(&self.genesis.cluster_id, &self.genesis.admins, |a, _| {
                matches!(a, Action::WebauthnSet { org_id: o, rp_id, origins }
                    if o == org_id && rp_id == &config.rp_id && origins == &config.origins)
            })
            .map_err(|e| format!("relying party: {e}"))
    }

    /// A credential traces to the genesis: its invitation was adopted by an admin quorum, its
    /// registration is signed by that invitation's key for this member, and re-verifying the
    /// registration yields the stored id and key.
    fn credential_adopted(&self, member: &Member, cred: &PasskeyCredential) -> Result<(), String> {
        let inv = &cred.invitation;
        inv.adoption
            .as_ref()
            .ok_or("the invitation carries no adoption evidence")?
            .verify(&self.genesis.cluster_id, &self.genesis.admins, |a, _| {
                matches!(a, Action::PasskeyInvite { org_id, user_id, invite_key, .. }
                    if org_id == &member.org_id && user_id == &member.user_id
                        && invite_key == &inv.invite_key)
            })
            .map_err(|e| format!("passkey invitation: {e}"))?;
        let reg = cred
            .registration
            .verify(&self.genesis.cluster_id)
            .map_err(|e| format!("passkey registration: {e}"))?;
        if reg.signer != inv.invite_key {
            return Err("the registration is not signed by the invitation key".into());
        }
        let Action::PasskeyRegister {
            org_id,
            user_id,
            attestation_object,
            client_data_json,
        } = &reg.body.action
        else {
            return Err("the registration evidence is not a passkey registration".into());
        };
        if org_id != &member.org_id || user_id != &member.user_id {
            return Err("the registration names another member".into());
        }
        let config = self.webauthn_config(org_id)?;
        let derived = Self::registered_credential(
            &self.genesis.cluster_id,
            config,
            org_id,
            user_id,
            &inv.invite_key,
            attestation_object,
            client_data_json,
        )?;
        if webauthn::b64url(&derived.credential_id) != cred.credential_id
            || hex::encode(derived.key.to_cose()) != cred.public_key
        {
            return Err("the stored passkey differs from the one registered".into());
        }
        Ok(())
    }
}

/// A credential verified from a registration.
struct RegisteredKey {
    credential_id: Vec<u8>,
    key: webauthn::PasskeyKey,
    attestation_format: String,
    aaguid: [u8; 16],
    sign_count: u32,
}

fn short(id: &str) -> String {
    id.chars().take(12).collect()
}
