//! JSON-RPC error codes, in one place. Codes are stable; messages are plain; internal detail
//! goes to the log, not to the client.

use crate::cluster::ClusterError;
use jsonrpsee::types::ErrorObjectOwned;
use serde_json::json;

/// Parameters missing, of the wrong type or out of range (JSON-RPC standard code).
pub const INVALID_PARAMS: i32 = -32602;
/// The signed command failed verification (signature, cluster id, syntax, method mismatch).
pub const INVALID_COMMAND: i32 = 1001;
/// The command was committed but rejected by the state machine (permission, conflict …).
pub const COMMAND_REJECTED: i32 = 1002;
/// The thing asked for does not exist.
pub const NOT_FOUND: i32 = 1003;
/// No leader could serve the request in time; retry later.
pub const UNAVAILABLE: i32 = 1004;
/// A local failure; see the node's log.
pub const INTERNAL: i32 = 1005;
/// Refused before the log: the signer is not a member (nor a genesis admin for `org_create`),
/// or its key writes too fast. Nothing was written.
pub const REFUSED: i32 = 1006;
/// A read without a valid member signature (`auth` missing, malformed, stale or not verifying).
pub const UNAUTHENTICATED: i32 = 1007;
/// The reader is authenticated but its roles in the organisation do not allow this read.
pub const FORBIDDEN: i32 = 1008;

/// An error to return to a JSON-RPC client.
#[derive(Debug)]
pub enum RpcError {
    /// See [`INVALID_PARAMS`].
    InvalidParams(String),
    /// See [`INVALID_COMMAND`].
    InvalidCommand(String),
    /// See [`COMMAND_REJECTED`].
    Rejected {
        /// Why.
        reason: String,
        /// Audit entry recording the rejection.
        audit_seq: Option<u64>,
        /// Log index of the command.
        log_index: u64,
    },
    /// See [`NOT_FOUND`].
    NotFound(String),
    /// See [`UNAVAILABLE`].
    Unavailable(String),
    /// See [`INTERNAL`].
    Internal(String),
    /// See [`REFUSED`].
    Refused(String),
    /// See [`UNAUTHENTICATED`].
    Unauthenticated(String),
    /// See [`FORBIDDEN`].
    Forbidden(String),
}

impl From<ClusterError> for RpcError {
    fn from(e: ClusterError) -> Self {
        match e {
            ClusterError::Invalid(m) => RpcError::InvalidCommand(m),
            ClusterError::Unavailable(m) => RpcError::Unavailable(m),
            ClusterError::Internal(m) => RpcError::Internal(m),
            ClusterError::Refused(m) => RpcError::Refused(m),
        }
    }
}

impl From<RpcError> for ErrorObjectOwned {
    fn from(e: RpcError) -> Self {
        match e {
            RpcError::InvalidParams(m) => ErrorObjectOwned::owned(INVALID_PARAMS, m, None::<()>),
            RpcError::InvalidCommand(m) => ErrorObjectOwned::owned(INVALID_COMMAND, m, None::<()>),
            RpcError::Rejected {
                reason,
                audit_seq,
                log_index,
            } => ErrorObjectOwned::owned(
                COMMAND_REJECTED,
                format!("command rejected: {reason}"),
                Some(json!({ "audit_seq": audit_seq, "log_index": log_index })),
            ),
            RpcError::NotFound(m) => ErrorObjectOwned::owned(NOT_FOUND, m, None::<()>),
            RpcError::Unavailable(m) => ErrorObjectOwned::owned(UNAVAILABLE, m, None::<()>),
            RpcError::Refused(m) => ErrorObjectOwned::owned(REFUSED, m, None::<()>),
            RpcError::Unauthenticated(m) => ErrorObjectOwned::owned(UNAUTHENTICATED, m, None::<()>),
            RpcError::Forbidden(m) => ErrorObjectOwned::owned(FORBIDDEN, m, None::<()>),
            RpcError::Internal(m) => {
                tracing::error!("internal error serving a request: {m}");
                ErrorObjectOwned::owned(INTERNAL, "internal error; see the node's log", None::<()>)
            }
        }
    }
}
