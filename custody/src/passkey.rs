//! Passkeys (WebAuthn credentials) as member credentials, and the challenges they sign.
//!
//! A member's passkey enters the state in two steps, both anchored in the genesis:
//! 1. an admin quorum adopts a `passkey_invite` naming the member and a one-time Ed25519
//!    *invitation key* (its secret goes to the invitee out of band, inside the invitation link);
//! 2. the invitee's browser creates the passkey with the challenge
//!    [`registration_challenge`] and sends `passkey_register`, a command signed with the
//!    invitation key that carries the attestation object and clientDataJSON unchanged.
//!
//! The stored [`PasskeyCredential`] keeps both pieces of evidence, so a signer re-derives the
//! credential's id and public key from the signed registration and checks the invitation's
//! adoption itself (invariant 2), instead of trusting the record.
//!
//! A passkey approves or rejects a request by signing [`decision_challenge`]: a
//! domain-separated hash of the network, organisation, request id, intent digest, policy
//! version and the decision. The challenge is single-use by construction: a member counts once
//! per request and a request's digest and policy version never change.

use crate::command::SignedCommand;
use crate::governance::Adoption;
use crate::types::{OrgId, RequestId, UserKey};
use crate::webauthn::{self, PasskeyKey};
use mpc_protocol::domain;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// Most passkeys one member may hold.
pub const MAX_PASSKEYS_PER_MEMBER: usize = 8;
/// Most open invitations one member may have.
pub const MAX_OPEN_INVITATIONS: usize = 4;
/// Longest an invitation may stay open: 7 days.
pub const MAX_INVITATION_TTL_SECS: u64 = 7 * 24 * 3600;
/// Most allowed origins per organisation.
pub const MAX_ORIGINS: usize = 16;
/// Longest reason a passkey rejection may carry.
pub const MAX_REASON_BYTES: usize = 200;

/// An organisation's WebAuthn relying party: its RP id and the origins its console may be
/// served from (changed only through governance).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebauthnConfig {
    /// RP id: a registrable domain (`custody.example.com`) or `localhost`.
    pub rp_id: String,
    /// Origins allowed in clientDataJSON, exactly (`https://custody.example.com`,
    /// `http://localhost:8545`).
    pub origins: Vec<String>,
}

impl WebauthnConfig {
    /// Syntax checks: an RP id that is a host name, 1 to [`MAX_ORIGINS`] origins, each https
    /// (plain http only for `localhost` / `127.0.0.1`) whose host is the RP id or under it.
    pub fn validate(&self) -> Result<(), String> {
        let rp = &self.rp_id;
        if rp.is_empty()
            || rp.len() > 253
            || !rp
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '.')
        {
            return Err("rp_id must be a lower-case host name".into());
        }
        if self.origins.is_empty() || self.origins.len() > MAX_ORIGINS {
            return Err(format!("origins must list 1 to {MAX_ORIGINS} origins"));
        }
        for o in &self.origins {
            let (scheme, rest) = o
                .split_once("://")
                .ok_or_else(|| format!("origin '{o}' has no scheme"))?;
            let host = rest.rsplit_once(':').map_or(rest, |(h, _)| h);
            if o.len() > 300 || rest.contains('/') || host.is_empty() {
                return Err(format!("origin '{o}' must be scheme://host[:port]"));
            }
            let local = host == "localhost" || host == "127.0.0.1";
            match scheme {
                "https" => {}
                "http" if local => {}
                _ => {
                    return Err(format!(
                        "origin '{o}' must use https (http only on localhost)"
                    ))
                }
            }
            if host != rp.as_str() && !host.ends_with(&format!(".{rp}")) && !local {
                return Err(format!("origin '{o}' is not on the RP id '{rp}'"));
            }
        }
        Ok(())
    }
}

/// An open invitation to register a passkey.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PasskeyInvitation {
    /// The one-time Ed25519 key whose secret the invitee holds.
    pub invite_key: UserKey,
    /// When the invitation was adopted (ms, log time).
    pub created_at_ms: u64,
    /// After this log time the invitation is void.
    pub expires_at_ms: u64,
    /// The admin quorum that adopted it.
    #[serde(default)]
    pub adoption: Option<Box<Adoption>>,
}

/// A passkey registered to a member.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PasskeyCredential {
    /// Credential id, base64url.
    pub credential_id: String,
    /// Public key, COSE encoding, hex.
    pub public_key: String,
    /// `ES256` or `EdDSA`.
    pub alg: String,
    /// The attestation statement format the authenticator returned (recorded, not verified).
    pub attestation_format: String,
    /// Authenticator model (AAGUID, hex; zeros for most passkeys).
    pub aaguid: String,
    /// When registered (ms, log time).
    pub registered_at_ms: u64,
    /// Highest signature counter seen (0: the authenticator does not count, e.g. synced).
    pub sign_count: u32,
    /// The registration as the invitee's browser produced it, signed with the invitation key.
    pub registration: SignedCommand,
    /// The invitation it was registered through, with its adoption.
    pub invitation: PasskeyInvitation,
}

impl PasskeyCredential {
    /// The credential's public key.
    pub fn key(&self) -> Result<PasskeyKey, String> {
        let bytes = hex::decode(&self.public_key).map_err(|_| "stored key is not hex")?;
        PasskeyKey::from_cose(&bytes)
    }
}

/// What a passkey decides about a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Decision {
    /// Approve the request.
    Approve,
    /// Reject it (with a reason).
    Reject,
}

impl Decision {
    /// `approve` or `reject`.
    pub fn name(self) -> &'static str {
        match self {
            Decision::Approve => "approve",
            Decision::Reject => "reject",
        }
    }
}

/// A passkey's decision on a request: what the browser produced, unchanged. Proposed to the
/// log as is and kept on the request as the approval's evidence.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PasskeyDecision {
    /// Organisation.
    pub org_id: OrgId,
    /// Request.
    pub request_id: RequestId,
    /// Approve or reject.
    pub decision: Decision,
    /// Why (a rejection only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Credential id, base64url.
    pub credential_id: String,
    /// authenticatorData, base64url.
    pub authenticator_data: String,
    /// clientDataJSON, base64url.
    pub client_data_json: String,
    /// The assertion signature, base64url.
    pub signature: String,
}

/// The decoded bytes of a [`PasskeyDecision`]'s assertion.
pub struct DecodedAssertion {
    /// authenticatorData.
    pub authenticator_data: Vec<u8>,
    /// clientDataJSON.
    pub client_data_json: Vec<u8>,
    /// Signature.
    pub signature: Vec<u8>,
}

impl PasskeyDecision {
    /// Syntax and size checks, and the decoded assertion.
    pub fn decode(&self) -> Result<DecodedAssertion, String> {
        self.org_id.validate()?;
        if self.request_id.is_empty() || self.request_id.len() > 64 {
            return Err("request_id must be 1 to 64 bytes".into());
        }
        match (self.decision, &self.reason) {
            (Decision::Approve, None) => {}
            (Decision::Approve, Some(_)) => return Err("an approval carries no reason".into()),
            (Decision::Reject, None) => return Err("a rejection needs a reason".into()),
            (Decision::Reject, Some(reason)) => {
                if reason.trim().is_empty()
                    || reason.len() > MAX_REASON_BYTES
                    || reason.chars().any(char::is_control)
                {
                    return Err(format!(
                        "reason must be 1 to {MAX_REASON_BYTES} printable bytes"
                    ));
                }
            }
        }
        webauthn::from_b64url(
            "credential_id",
            &self.credential_id,
            webauthn::MAX_CREDENTIAL_ID_BYTES,
        )?;
        Ok(DecodedAssertion {
            authenticator_data: webauthn::from_b64url(
                "authenticator_data",
                &self.authenticator_data,
                webauthn::MAX_AUTHENTICATOR_DATA_BYTES,
            )?,
            client_data_json: webauthn::from_b64url(
                "client_data_json",
                &self.client_data_json,
                webauthn::MAX_CLIENT_DATA_BYTES,
            )?,
            signature: webauthn::from_b64url(
                "signature",
                &self.signature,
                webauthn::MAX_SIGNATURE_BYTES,
            )?,
        })
    }

    /// This decision's challenge for a request with `intent_digest` under `policy_version`.
    pub fn challenge(
        &self,
        cluster_id: &str,
        intent_digest: &str,
        policy_version: u32,
    ) -> [u8; 32] {
        decision_challenge(
            cluster_id,
            &self.org_id,
            &self.request_id,
            intent_digest,
            policy_version,
            self.decision,
            self.reason.as_deref().unwrap_or(""),
        )
    }

    /// SHA-256 of the decision's JSON (the audit entry's command hash).
    pub fn hash(&self) -> [u8; 32] {
        Sha256::digest(serde_json::to_vec(self).unwrap_or_default()).into()
    }
}

fn field(h: &mut Sha256, bytes: &[u8]) {
    h.update((bytes.len() as u64).to_be_bytes());
    h.update(bytes);
}

/// The challenge a passkey signs to approve or reject a request: SHA-256 over
/// [`domain::PASSKEY_DECISION`] and the length-prefixed network id, organisation, request id,
/// intent digest, policy version (8 bytes, big-endian), decision (`approve` / `reject`) and
/// reason (empty for an approval).
pub fn decision_challenge(
    cluster_id: &str,
    org_id: &OrgId,
    request_id: &str,
    intent_digest: &str,
    policy_version: u32,
    decision: Decision,
    reason: &str,
) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(domain::PASSKEY_DECISION);
    field(&mut h, cluster_id.as_bytes());
    field(&mut h, org_id.0.as_bytes());
    field(&mut h, request_id.as_bytes());
    field(&mut h, intent_digest.as_bytes());
    field(&mut h, &u64::from(policy_version).to_be_bytes());
    field(&mut h, decision.name().as_bytes());
    field(&mut h, reason.as_bytes());
    h.finalize().into()
}

/// The challenge of a registration through an invitation: SHA-256 over
/// [`domain::PASSKEY_REGISTRATION`] and the length-prefixed network id, organisation, user id
/// and invitation key.
pub fn registration_challenge(
    cluster_id: &str,
    org_id: &OrgId,
    user_id: &str,
    invite_key: &UserKey,
) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(domain::PASSKEY_REGISTRATION);
    field(&mut h, cluster_id.as_bytes());
    field(&mut h, org_id.0.as_bytes());
    field(&mut h, user_id.as_bytes());
    field(&mut h, &invite_key.0);
    h.finalize().into()
}

/// The challenge of a console sign-in: SHA-256 over [`domain::PASSKEY_SIGN_IN`] and the
/// length-prefixed network id, the node's id and its nonce.
pub fn sign_in_challenge(cluster_id: &str, node: &str, nonce: &[u8; 32]) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(domain::PASSKEY_SIGN_IN);
    field(&mut h, cluster_id.as_bytes());
    field(&mut h, node.as_bytes());
    field(&mut h, nonce);
    h.finalize().into()
}
