//! Blocking JSON-RPC 2.0 client over HTTPS, the node's certificate pinned ([`crate::tls`]).

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

/// A member's key and the network id, to sign reads with (decision 0017).
pub struct Reader {
    key: ed25519_dalek::SigningKey,
    cluster_id: String,
}

impl std::fmt::Debug for Reader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Reader")
            .field(
                "public_key",
                &hex::encode(self.key.verifying_key().to_bytes()),
            )
            .field("cluster_id", &self.cluster_id)
            .finish()
    }
}

impl Reader {
    /// Reads signed with `key` for the network `cluster_id`.
    pub fn new(key: ed25519_dalek::SigningKey, cluster_id: &str) -> Self {
        Reader {
            key,
            cluster_id: cluster_id.to_string(),
        }
    }

    /// The member's signing key (also used to sign commands).
    pub fn signing_key(&self) -> &ed25519_dalek::SigningKey {
        &self.key
    }

    /// The network id reads and commands are signed for.
    pub fn cluster_id(&self) -> &str {
        &self.cluster_id
    }

    /// `params` with a fresh signed `auth` for `method`.
    pub fn sign(&self, method: &str, params: Value) -> Result<Value, CallError> {
        let now_ms = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis() as u64)
            .unwrap_or(0);
        mpc_custody::read_auth::sign(&self.key, &self.cluster_id, method, params, now_ms)
            .map_err(CallError::Transport)
    }
}

/// Most pages [`RpcClient::call_all_pages`] reads (500 items each).
pub const MAX_PAGES: usize = 1000;

/// A client for one node.
pub struct RpcClient {
    url: String,
    endpoint: crate::tls::Endpoint,
    agent: ureq::Agent,
    next_id: AtomicU64,
    reader: Option<Reader>,
}

impl RpcClient {
    /// A client for `endpoint` (`https://host:port` and its certificate's SHA-256) with a
    /// per-call timeout.
    pub fn new(endpoint: &crate::tls::Endpoint, timeout: Duration) -> Self {
        let mut agent = ureq::AgentBuilder::new().timeout(timeout);
        if let Ok(config) = crate::tls::client_config(endpoint.tls_sha256) {
            agent = agent.tls_config(config);
        }
        RpcClient {
            url: endpoint.url.clone(),
            endpoint: endpoint.clone(),
            agent: agent.build(),
            next_id: AtomicU64::new(1),
            reader: None,
        }
    }

    /// This client, signing every authenticated read with `reader`.
    pub fn with_reader(mut self, reader: Reader) -> Self {
        self.reader = Some(reader);
        self
    }

    /// The reader signing this client's reads, if any.
    pub fn reader(&self) -> Option<&Reader> {
        self.reader.as_ref()
    }

    /// The node's URL.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The node's URL and pinned certificate.
    pub fn endpoint(&self) -> &crate::tls::Endpoint {
        &self.endpoint
    }

    /// Calls `method` with named `params`. An authenticated read is signed with this client's
    /// reader, when it has one (else the node refuses it with code 1007).
    pub fn call(&self, method: &str, params: Value) -> Result<Value, CallError> {
        let params = match &self.reader {
            Some(r) if mpc_custody::read_auth::needs_auth(method) => r.sign(method, params)?,
            _ => params,
        };
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let req = json!({ "jsonrpc": "2.0", "id": id, "method": method, "params": params });
        self.send_raw(&req.to_string())
    }

    /// Calls list method `method` page after page (following `next_cursor`) and returns the
    /// last answer with the `field` arrays of every page joined, so that a list is complete
    /// whatever its length. Gives up after [`MAX_PAGES`] pages.
    pub fn call_all_pages(
        &self,
        method: &str,
        params: Value,
        field: &str,
    ) -> Result<Value, CallError> {
        let mut all: Vec<Value> = Vec::new();
        let mut cursor = Value::Null;
        for _ in 0..MAX_PAGES {
            let mut p = params.clone();
            if !cursor.is_null() {
                p["cursor"] = cursor.clone();
            }
            let mut page = self.call(method, p)?;
            if let Some(items) = page.get_mut(field).and_then(Value::as_array_mut) {
                all.append(items);
            }
            cursor = page.get("next_cursor").cloned().unwrap_or(Value::Null);
            if cursor.is_null() {
                page[field] = Value::Array(all);
                return Ok(page);
            }
        }
        Err(CallError::Transport(format!(
            "{method} still had more after {MAX_PAGES} pages; narrow the list (by organisation \
             or status)"
        )))
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
