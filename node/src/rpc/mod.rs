//! The JSON-RPC 2.0 server (HTTP and WebSocket on one port, jsonrpsee).
//!
//! Methods are listed in `docs/api.md`. Request bodies are limited to
//! `MAX_RPC_REQUEST_BYTES`; errors use the stable codes of [`errors`].

mod auth;
mod custody;
pub mod errors;
mod governance;
mod methods;

use crate::cluster::ClusterHandle;
use jsonrpsee::server::{BatchRequestConfig, Server, ServerConfig, ServerHandle};
use mpc_protocol::limits::{MAX_RPC_REQUEST_BYTES, MAX_RPC_RESPONSE_BYTES};
use std::net::SocketAddr;

/// Most concurrent JSON-RPC connections.
const MAX_CONNECTIONS: u32 = 256;
/// Most calls in one JSON-RPC batch.
pub const MAX_BATCH_CALLS: u32 = 32;
/// Most subscriptions one connection may hold.
pub const MAX_SUBSCRIPTIONS_PER_CONNECTION: u32 = 16;

/// Starts the server on `addr`; it runs until the handle is stopped.
pub async fn start(
    addr: SocketAddr,
    cluster: ClusterHandle,
    runner: crate::runner::Runner,
) -> anyhow::Result<(ServerHandle, SocketAddr)> {
    let config = ServerConfig::builder()
        .max_request_body_size(MAX_RPC_REQUEST_BYTES)
        .max_response_body_size(MAX_RPC_RESPONSE_BYTES)
        .max_connections(MAX_CONNECTIONS)
        .set_batch_request_config(BatchRequestConfig::Limit(MAX_BATCH_CALLS))
        .max_subscriptions_per_connection(MAX_SUBSCRIPTIONS_PER_CONNECTION)
        .build();
    let server = Server::builder().set_config(config).build(addr).await?;
    let local = server.local_addr()?;
    let mut module = methods::module(cluster)?;
    custody::register(&mut module, runner)?;
    governance::register(&mut module)?;
    check_method_classes(&module)?;
    Ok((server.start(module), local))
}

/// Every method served is open (health), an authenticated read, or a signed write (whose
/// params are a signed command); a method in none of these classes is a bug that would serve
/// data to anyone, so the node refuses to start with it.
fn check_method_classes<C>(module: &jsonrpsee::RpcModule<C>) -> anyhow::Result<()> {
    use mpc_custody::read_auth::{needs_auth, OPEN_METHODS};
    for name in module.method_names() {
        let write = WRITE_METHODS.contains(&name);
        let open = OPEN_METHODS.contains(&name) || name == "request_unsubscribe";
        if usize::from(write) + usize::from(open) + usize::from(needs_auth(name)) != 1 {
            anyhow::bail!("JSON-RPC method '{name}' is not in exactly one access class");
        }
    }
    Ok(())
}

/// Methods whose params are a signed command (authenticated by the command's own signature).
pub const WRITE_METHODS: &[&str] = &[
    "org_create",
    "member_add",
    "member_remove",
    "vault_create",
    "wallet_create",
    "addressbook_add",
    "addressbook_remove",
    "policy_set",
    "request_submit",
    "request_approve",
    "request_reject",
    "request_admin_approve",
    "request_cancel",
    "org_settings_set",
    "proposal_approve",
    "proposal_veto",
    "proposal_execute",
];
