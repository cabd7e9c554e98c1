//! The JSON-RPC 2.0 server (HTTP and WebSocket on one port, jsonrpsee).
//!
//! Methods are listed in `docs/api.md`. Request bodies are limited to
//! `MAX_RPC_REQUEST_BYTES`; errors use the stable codes of [`errors`].

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
    Ok((server.start(module), local))
}
