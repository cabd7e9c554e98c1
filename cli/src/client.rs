//! Blocking JSON-RPC 2.0 client over HTTP.

use serde_json::{json, Value};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// A JSON-RPC error answered by the node, or a transport failure.
#[derive(Debug, thiserror::Error)]
pub enum CallError {
    /// The node answered with a JSON-RPC error object.
    #[error("{message} (code {code})")]
    Rpc {
        /// Stable error code.
        code: i64,
        /// Plain message.
        message: String,
        /// Extra data, if any.
        data: Option<Value>,
    },
    /// The node could not be reached or answered something that is not JSON-RPC.
    #[error("transport error: {0}")]
    Transport(String),
}

impl CallError {
    /// The JSON-RPC error code, if the node answered with one.
    pub fn code(&self) -> Option<i64> {
        match self {
            CallError::Rpc { code, .. } => Some(*code),
            CallError::Transport(_) => None,
        }
    }
}

/// A client for one node.
pub struct RpcClient {
    url: String,
    agent: ureq::Agent,
    next_id: AtomicU64,
}

impl RpcClient {
    /// A client for `url` (e.g. `http://127.0.0.1:8001`) with a per-call timeout.
    pub fn new(url: &str, timeout: Duration) -> Self {
        RpcClient {
            url: url.to_string(),
            agent: ureq::AgentBuilder::new().timeout(timeout).build(),
            next_id: AtomicU64::new(1),
        }
    }

    /// The node's URL.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Calls `method` with named `params`.
    pub fn call(&self, method: &str, params: Value) -> Result<Value, CallError> {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let req = json!({ "jsonrpc": "2.0", "id": id, "method": method, "params": params });
        self.send_raw(&req.to_string())
    }

    /// Sends a raw request body and interprets the answer (used by tests for malformed input).
    pub fn send_raw(&self, body: &str) -> Result<Value, CallError> {
        let resp = self
            .agent
            .post(&self.url)
            .set("Content-Type", "application/json")
            .send_string(body);
        let resp = match resp {
            Ok(r) => r,
            Err(ureq::Error::Status(_, r)) => r,
            Err(e) => return Err(CallError::Transport(e.to_string())),
        };
        let value: Value = resp
            .into_json()
            .map_err(|e| CallError::Transport(format!("answer is not JSON: {e}")))?;
        if let Some(err) = value.get("error") {
            return Err(CallError::Rpc {
                code: err.get("code").and_then(Value::as_i64).unwrap_or(0),
                message: err
                    .get("message")
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_string(),
                data: err.get("data").cloned(),
            });
        }
        value
            .get("result")
            .cloned()
            .ok_or_else(|| CallError::Transport("answer has neither result nor error".into()))
    }
}
