//! Authenticated reads (decision 0017).
//!
//! Every JSON-RPC read of custody data carries, inside its params, an `auth` object:
//! `{ "signer": <hex Ed25519 key>, "timestamp_ms": <u64>, "signature": <hex> }`. The signature
//! is over `domain::READ_AUTH ‖ cluster id ‖ '\n' ‖ method ‖ '\n' ‖ timestamp (8 bytes, big
//! endian) ‖ SHA-256(canonical JSON of the other params)`. Canonical JSON is the params object
//! without `auth`, keys sorted at every level, no whitespace. The node accepts it for
//! [`READ_AUTH_WINDOW_MS`] either side of its own clock.
//!
//! The signature sits in the params rather than in an HTTP header so that it binds each call of
//! a batch and each WebSocket subscription on its own, and so that a node forwarding nothing has
//! nothing to strip. Who may read what is [`ReadScope`], decided by
//! [`crate::state::CustodyState::may_read`] from the committed membership.
//!
//! Methods are in exactly one of three lists: [`OPEN_METHODS`] (health, readable by monitoring
//! without a key), [`AUTHENTICATED_READS`], and signed writes (whose commands carry their own
//! signature). The node refuses to start a method that is in none of them.

use crate::types::UserKey;
use ed25519_dalek::{Signature, Signer as _, SigningKey, VerifyingKey};
use mpc_protocol::domain;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

/// How far (either way) a read's timestamp may be from the node's clock.
pub const READ_AUTH_WINDOW_MS: u64 = 120_000;

/// The params field that carries the read signature.
pub const AUTH_FIELD: &str = "auth";

/// Methods anyone may call without a key: node health for monitoring.
pub const OPEN_METHODS: &[&str] = &[
    "node_status",
    "cluster_status",
    "engine_status",
    "rpc.discover",
];

/// Methods that need a member's signed `auth` (see the module documentation).
pub const AUTHENTICATED_READS: &[&str] = &[
    "org_get",
    "org_list",
    "member_list",
    "audit_list",
    "audit_verify",
    "vault_get",
    "vault_list",
    "wallet_get",
    "wallet_list",
    "wallet_presignatures",
    "wallet_balance",
    "tx_build",
    "addressbook_list",
    "asset_list",
    "policy_get",
    "request_get",
    "request_list",
    "request_subscribe",
    "proposal_list",
    "proposal_get",
];

/// Whether `method` needs an authenticated caller.
pub fn needs_auth(method: &str) -> bool {
    AUTHENTICATED_READS.contains(&method)
}

/// What a read reveals, and so which roles may make it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReadScope {
    /// The organisation record and operational state (presignature pools): any member,
    /// operators included; genesis admins (who created it).
    Org,
    /// The custody book: members, vaults, wallets, address book, policies, requests and
    /// proposals. Admins, initiators, approvers, auditors and viewers; not operators.
    Book,
    /// The audit log: admins and auditors of the organisation; genesis admins see all of it.
    Audit,
}

/// The signed `auth` object of a read.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReadAuth {
    /// The reader's key.
    pub signer: UserKey,
    /// When the reader signed (ms since the Unix epoch, the reader's clock).
    pub timestamp_ms: u64,
    /// Hex Ed25519 signature over [`message`].
    pub signature: String,
}

fn write_canonical(v: &Value, out: &mut String) {
    match v {
        Value::Object(m) => {
            let mut keys: Vec<&String> = m.keys().collect();
            keys.sort();
            out.push('{');
            for (i, k) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&Value::String(k.clone()).to_string());
                out.push(':');
                write_canonical(&m[k], out);
            }
            out.push('}');
        }
        Value::Array(a) => {
            out.push('[');
            for (i, x) in a.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_canonical(x, out);
            }
            out.push(']');
        }
        other => out.push_str(&other.to_string()),
    }
}

/// SHA-256 of the canonical JSON of `params` without its `auth` field.
pub fn params_hash(params: &Map<String, Value>) -> [u8; 32] {
    let mut rest = params.clone();
    rest.remove(AUTH_FIELD);
    let mut text = String::new();
    write_canonical(&Value::Object(rest), &mut text);
    Sha256::digest(text.as_bytes()).into()
}

/// The message a reader signs.
pub fn message(cluster_id: &str, method: &str, timestamp_ms: u64, hash: &[u8; 32]) -> Vec<u8> {
    let mut m = Vec::with_capacity(domain::READ_AUTH.len() + cluster_id.len() + method.len() + 42);
    m.extend_from_slice(domain::READ_AUTH);
    m.extend_from_slice(cluster_id.as_bytes());
    m.push(b'\n');
    m.extend_from_slice(method.as_bytes());
    m.push(b'\n');
    m.extend_from_slice(&timestamp_ms.to_be_bytes());
    m.extend_from_slice(hash);
    m
}

/// Adds a signed `auth` to `params` (an object, or null for none) for `method`.
pub fn sign(
    key: &SigningKey,
    cluster_id: &str,
    method: &str,
    params: Value,
    now_ms: u64,
) -> Result<Value, String> {
    let mut obj = match params {
        Value::Object(m) => m,
        Value::Null => Map::new(),
        _ => return Err("read params must be a JSON object".into()),
    };
    obj.remove(AUTH_FIELD);
    let sig = key.sign(&message(cluster_id, method, now_ms, &params_hash(&obj)));
    let auth = ReadAuth {
        signer: UserKey(key.verifying_key().to_bytes()),
        timestamp_ms: now_ms,
        signature: hex::encode(sig.to_bytes()),
    };
    obj.insert(
        AUTH_FIELD.into(),
        serde_json::to_value(auth).map_err(|e| e.to_string())?,
    );
    Ok(Value::Object(obj))
}

/// Checks and removes the `auth` of `params`; returns the reader's key.
pub fn verify(
    cluster_id: &str,
    method: &str,
    params: &mut Map<String, Value>,
    now_ms: u64,
) -> Result<UserKey, String> {
    let auth = params.remove(AUTH_FIELD).ok_or_else(|| {
        format!(
            "{method} needs an authenticated member: params must carry \"auth\" \
             (the CLI signs reads with --key; see docs/api.md)"
        )
    })?;
    let auth: ReadAuth =
        serde_json::from_value(auth).map_err(|e| format!("malformed auth: {e}"))?;
    if auth.timestamp_ms.abs_diff(now_ms) > READ_AUTH_WINDOW_MS {
        return Err(format!(
            "auth timestamp is more than {} s from this node's clock (expired or clock skew)",
            READ_AUTH_WINDOW_MS / 1000
        ));
    }
    let sig: [u8; 64] = hex::decode(&auth.signature)
        .ok()
        .and_then(|b| b.try_into().ok())
        .ok_or("auth signature must be 64 bytes of hex")?;
    let key = VerifyingKey::from_bytes(&auth.signer.0).map_err(|_| "invalid auth signer key")?;
    key.verify_strict(
        &message(cluster_id, method, auth.timestamp_ms, &params_hash(params)),
        &Signature::from_bytes(&sig),
    )
    .map_err(|_| "auth signature does not verify for this network, method and params")?;
    Ok(auth.signer)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn key() -> SigningKey {
        SigningKey::from_bytes(&[7u8; 32])
    }

    fn obj(v: Value) -> Map<String, Value> {
        match v {
            Value::Object(m) => m,
            _ => unreachable!("test params are objects"),
        }
    }

    #[test]
    fn signed_read_verifies_and_binds_everything() {
        let now = 1_800_000_000_000;
        let p = sign(
            &key(),
            "c1",
            "request_get",
            json!({"request_id": "req-1"}),
            now,
        )
        .unwrap();
        let mut ok = obj(p.clone());
        assert_eq!(
            verify("c1", "request_get", &mut ok, now + 1000).unwrap(),
            UserKey(key().verifying_key().to_bytes())
        );
        assert!(!ok.contains_key(AUTH_FIELD), "auth is removed");
        // Another network, method, param value, or a stale timestamp: refused.
        assert!(verify("c2", "request_get", &mut obj(p.clone()), now).is_err());
        assert!(verify("c1", "vault_get", &mut obj(p.clone()), now).is_err());
        let mut changed = obj(p.clone());
        changed.insert("request_id".into(), json!("req-2"));
        assert!(verify("c1", "request_get", &mut changed, now).is_err());
        let mut added = obj(p.clone());
        added.insert("linearizable".into(), json!(true));
        assert!(verify("c1", "request_get", &mut added, now).is_err());
        assert!(verify(
            "c1",
            "request_get",
            &mut obj(p.clone()),
            now + READ_AUTH_WINDOW_MS + 1
        )
        .is_err());
        assert!(verify(
            "c1",
            "request_get",
            &mut obj(json!({"request_id": "x"})),
            now
        )
        .is_err());
    }

    #[test]
    fn canonical_form_ignores_key_order() {
        let a = obj(json!({"b": 1, "a": {"y": [1, {"q": 2, "p": 3}], "x": "s"}}));
        let b =
            obj(serde_json::from_str(r#"{"a":{"x":"s","y":[1,{"p":3,"q":2}]},"b":1}"#).unwrap());
        assert_eq!(params_hash(&a), params_hash(&b));
    }

    #[test]
    fn method_lists_do_not_overlap() {
        for m in OPEN_METHODS {
            assert!(!needs_auth(m), "{m}");
        }
    }
}
