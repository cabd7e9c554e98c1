//! Passkey-authenticated methods: console sign-in (a nonce, then an assertion over it opens a
//! session for reads) and passkey decisions on requests (each its own assertion over the
//! request's challenge, verified here before the log and by every node at apply).

use super::errors::RpcError;
use super::methods::{outcome_to_result, parse, RpcResult};
use crate::cluster::ClusterHandle;
use crate::console::Session;
use jsonrpsee::RpcModule;
use mpc_custody::passkey::{sign_in_challenge, PasskeyDecision};
use mpc_custody::types::OrgId;
use mpc_custody::webauthn::{self, AssertionBytes};
use serde::Deserialize;
use serde_json::json;

#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct NoParams {}

#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct SignIn {
    org_id: String,
    nonce: String,
    credential_id: String,
    authenticator_data: String,
    client_data_json: String,
    signature: String,
}

#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct SignOut {
    session: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Decide {
    decision: PasskeyDecision,
}

fn invalid(e: String) -> RpcError {
    RpcError::InvalidParams(e)
}

/// Registers the passkey methods (`rpc::PASSKEY_METHODS`).
pub fn register(m: &mut RpcModule<ClusterHandle>) -> anyhow::Result<()> {
    m.register_method("console_challenge", |p, c, _| -> RpcResult {
        let _: NoParams = parse(&p)?;
        let nonce = c.console_sessions().issue_nonce(crate::clock::now_ms());
        let node = c.node_id().to_string();
        let challenge = sign_in_challenge(c.cluster_id(), &node, &nonce);
        Ok(json!({
            "cluster_id": c.cluster_id(),
            "node_id": c.node_id(),
            "nonce": webauthn::b64url(&nonce),
            "challenge": webauthn::b64url(&challenge),
            "expires_in_ms": crate::console::sessions::NONCE_TTL_MS,
        }))
    })?;
    m.register_method("console_sign_in", |p, c, _| -> RpcResult {
        let q: SignIn = parse(&p)?;
        let org = OrgId(q.org_id);
        org.validate().map_err(invalid)?;
        let nonce: [u8; 32] = webauthn::from_b64url("nonce", &q.nonce, 32)
            .map_err(invalid)?
            .try_into()
            .map_err(|_| invalid("nonce must be 32 bytes".into()))?;
        let ad = webauthn::from_b64url(
            "authenticator_data",
            &q.authenticator_data,
            webauthn::MAX_AUTHENTICATOR_DATA_BYTES,
        )
        .map_err(invalid)?;
        let cd = webauthn::from_b64url(
            "client_data_json",
            &q.client_data_json,
            webauthn::MAX_CLIENT_DATA_BYTES,
        )
        .map_err(invalid)?;
        let sig = webauthn::from_b64url("signature", &q.signature, webauthn::MAX_SIGNATURE_BYTES)
            .map_err(invalid)?;
        let now = crate::clock::now_ms();
        let sessions = c.console_sessions();
        if !sessions.take_nonce(&nonce, now) {
            return Err(RpcError::Unauthenticated(
                "the sign-in nonce is unknown, used or expired: ask for a new challenge".into(),
            )
            .into());
        }
        let challenge = sign_in_challenge(c.cluster_id(), &c.node_id().to_string(), &nonce);
        let assertion = AssertionBytes {
            authenticator_data: &ad,
            client_data_json: &cd,
            signature: &sig,
        };
        let member = c
            .read_state(|s| s.verify_sign_in(&org, &q.credential_id, &challenge, &assertion))
            .map_err(RpcError::from)?
            .map_err(RpcError::Unauthenticated)?;
        let session = Session {
            org_id: org,
            user_id: member.user_id.clone(),
            member_key: member.public_key,
            credential_id: q.credential_id,
            expires_at_ms: 0,
        };
        let token = sessions.open(session, now).map_err(RpcError::Refused)?;
        tracing::info!(org = %member.org_id, user = %member.user_id, "console sign-in");
        Ok(json!({
            "session": token,
            "org_id": member.org_id,
            "user_id": member.user_id,
            "roles": member.roles,
            "expires_at_ms": now + crate::console::sessions::SESSION_TTL_MS,
        }))
    })?;
    m.register_method("console_sign_out", |p, c, _| -> RpcResult {
        let q: SignOut = parse(&p)?;
        c.console_sessions().close(&q.session);
        Ok(json!({ "signed_out": true }))
    })?;
    m.register_async_method("request_passkey_decide", |p, c, _| async move {
        let Some(raw) = p.as_str() else {
            return Err(invalid("params must be {\"decision\": {...}}".into()).into());
        };
        let q: Decide =
            serde_json::from_str(raw).map_err(|e| invalid(format!("invalid params: {e}")))?;
        q.decision.decode().map_err(RpcError::InvalidCommand)?;
        let outcome = c
            .submit_passkey_decision(q.decision)
            .await
            .map_err(RpcError::from)?;
        outcome_to_result(outcome)
    })?;
    Ok(())
}
