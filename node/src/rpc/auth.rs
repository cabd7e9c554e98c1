//! Authenticated reads on the server side (decision 0017): the `auth` of a read's params is
//! checked against this node's clock and the network id, removed, and the reader's roles in the
//! organisation concerned are checked against the committed membership.

use super::errors::RpcError;
use crate::cluster::ClusterHandle;
use jsonrpsee::types::Params;
use mpc_custody::read_auth::{self, ReadScope};
use mpc_custody::types::{OrgId, UserKey};
use serde::de::DeserializeOwned;
use serde_json::Value;

/// Verifies the read signature of `method`'s params and parses the rest as `T`.
pub(super) fn authed<T: DeserializeOwned>(
    p: &Params<'_>,
    c: &ClusterHandle,
    method: &str,
) -> Result<(T, UserKey), RpcError> {
    let raw = p.as_str().unwrap_or("{}");
    let value: Value = serde_json::from_str(raw)
        .map_err(|e| RpcError::InvalidParams(format!("invalid params: {e}")))?;
    let Value::Object(mut obj) = value else {
        return Err(RpcError::InvalidParams(
            "params must be a JSON object (named params)".into(),
        ));
    };
    let session = obj
        .get(read_auth::AUTH_FIELD)
        .and_then(|a| a.get("session"))
        .and_then(|s| s.as_str())
        .map(str::to_string);
    let reader = match session {
        Some(token) => {
            obj.remove(read_auth::AUTH_FIELD);
            session_reader(c, &token)?
        }
        None => read_auth::verify(c.cluster_id(), method, &mut obj, crate::clock::now_ms())
            .map_err(RpcError::Unauthenticated)?,
    };
    c.admit_read(&reader).map_err(RpcError::from)?;
    let params = serde_json::from_value(Value::Object(obj))
        .map_err(|e| RpcError::InvalidParams(format!("invalid params: {e}")))?;
    Ok((params, reader))
}

/// The member a console session stands for, if the session is open at this node and its
/// passkey is still the member's (a revoked passkey ends its sessions).
fn session_reader(c: &ClusterHandle, token: &str) -> Result<UserKey, RpcError> {
    let s = c
        .console_sessions()
        .get(token, crate::clock::now_ms())
        .ok_or_else(|| {
            RpcError::Unauthenticated(
                "the console session is unknown or expired at this node: sign in again".into(),
            )
        })?;
    let held = c
        .read_state(|st| {
            st.credential(&s.org_id, &s.credential_id)
                .is_some_and(|(m, _)| m.user_id == s.user_id && m.public_key == s.member_key)
        })
        .map_err(RpcError::from)?;
    if !held {
        c.console_sessions().close(token);
        return Err(RpcError::Unauthenticated(
            "the passkey of this session was revoked: sign in again".into(),
        ));
    }
    Ok(s.member_key)
}

/// Refuses unless `reader` may make a read of `scope` about `org`.
pub(super) fn authorize(
    c: &ClusterHandle,
    reader: &UserKey,
    org: &OrgId,
    scope: ReadScope,
) -> Result<(), RpcError> {
    c.read_state(|s| s.may_read(reader, org, scope))
        .map_err(RpcError::from)?
        .map_err(RpcError::Forbidden)
}
