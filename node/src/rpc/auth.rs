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
    let reader = read_auth::verify(c.cluster_id(), method, &mut obj, crate::clock::now_ms())
        .map_err(RpcError::Unauthenticated)?;
    c.admit_read(&reader).map_err(RpcError::from)?;
    let params = serde_json::from_value(Value::Object(obj))
        .map_err(|e| RpcError::InvalidParams(format!("invalid params: {e}")))?;
    Ok((params, reader))
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
