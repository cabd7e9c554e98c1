//! The JSON-RPC 2.0 server (HTTP and WebSocket on one port, jsonrpsee, over TLS 1.3).
//!
//! Methods are listed in `docs/api.md`. Every connection is TLS (rustls, the node's certificate
//! from its identity; clients pin its SHA-256 from the genesis, decision 0018). Request bodies are
//! limited to `MAX_RPC_REQUEST_BYTES`; errors use the stable codes of [`errors`].

mod auth;
mod chains;
mod custody;
pub mod errors;
mod governance;
mod methods;
pub mod openrpc;
mod paging;
mod passkeys;

pub use methods::role_name;

use crate::cluster::ClusterHandle;
use jsonrpsee::server::middleware::rpc::{Batch, Notification, RpcServiceBuilder, RpcServiceT};
use jsonrpsee::server::{BatchRequestConfig, Server, ServerConfig, ServerHandle};
use mpc_protocol::limits::{MAX_RPC_REQUEST_BYTES, MAX_RPC_RESPONSE_BYTES};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

/// How long a client has to complete its TLS handshake.
const TLS_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Most concurrent JSON-RPC connections.
const MAX_CONNECTIONS: u32 = 256;
/// Most calls in one JSON-RPC batch.
pub const MAX_BATCH_CALLS: u32 = 32;
/// Most subscriptions one connection may hold.
pub const MAX_SUBSCRIPTIONS_PER_CONNECTION: u32 = 16;

/// The rustls server configuration: TLS 1.3 only, the node's certificate and key.
pub fn tls_config(cert_der: &[u8], key_der: &[u8]) -> anyhow::Result<Arc<rustls::ServerConfig>> {
    use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13])?
        .with_no_client_auth()
        .with_single_cert(
            vec![CertificateDer::from(cert_der.to_vec())],
            PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key_der.to_vec())),
        )?;
    Ok(Arc::new(config))
}

/// The bound addresses of the JSON-RPC server.
#[derive(Debug, Clone, Copy)]
pub struct Bound {
    /// The TLS JSON-RPC listener.
    pub rpc: SocketAddr,
    /// The console listener, when one was asked for.
    pub console: Option<SocketAddr>,
}

/// Starts the server on `addr`, serving TLS with `tls`, and the web console on `console` (plain
/// HTTP, loopback only) when given; both run until the handle is stopped.
pub async fn start(
    addr: SocketAddr,
    console: Option<SocketAddr>,
    tls: Arc<rustls::ServerConfig>,
    cluster: ClusterHandle,
    runner: crate::runner::Runner,
    adapters: std::sync::Arc<crate::chain_watch::Adapters>,
) -> anyhow::Result<(ServerHandle, Bound)> {
    let config = ServerConfig::builder()
        .max_request_body_size(MAX_RPC_REQUEST_BYTES)
        .max_response_body_size(MAX_RPC_RESPONSE_BYTES)
        .max_connections(MAX_CONNECTIONS)
        .set_batch_request_config(BatchRequestConfig::Limit(MAX_BATCH_CALLS))
        .max_subscriptions_per_connection(MAX_SUBSCRIPTIONS_PER_CONNECTION)
        .build();
    let mut module = methods::module(cluster)?;
    custody::register(&mut module, runner)?;
    governance::register(&mut module)?;
    chains::register(&mut module, adapters)?;
    passkeys::register(&mut module)?;
    let mut names: Vec<&'static str> = module.method_names().collect();
    names.push("rpc.discover");
    let discovery = openrpc::document(&names).map_err(anyhow::Error::msg)?;
    module.register_method("rpc.discover", move |_, _, _| discovery.clone())?;
    check_method_classes(&module)?;
    let _ = KNOWN_METHODS.set(module.method_names().collect());
    let methods: jsonrpsee::Methods = module.into();
    let builder = Server::builder()
        .set_config(config)
        .set_rpc_middleware(RpcServiceBuilder::new().layer_fn(Timed))
        .to_service_builder();
    let listener = tokio::net::TcpListener::bind(addr).await?;
    let local = listener.local_addr()?;
    let acceptor = tokio_rustls::TlsAcceptor::from(tls);
    let (stop, handle) = jsonrpsee::server::stop_channel();
    let console_bound = match console {
        Some(at) => {
            crate::console::check_listen_addr(&at).map_err(anyhow::Error::msg)?;
            let listener = tokio::net::TcpListener::bind(at).await?;
            let bound = listener.local_addr()?;
            let (builder, methods, stop) = (builder.clone(), methods.clone(), stop.clone());
            tokio::spawn(async move {
                let permits = Arc::new(tokio::sync::Semaphore::new(MAX_CONNECTIONS as usize));
                loop {
                    let accepted = tokio::select! {
                        _ = stop.clone().shutdown() => return,
                        a = listener.accept() => a,
                    };
                    let Ok((tcp, peer)) = accepted else {
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    };
                    let Ok(permit) = permits.clone().try_acquire_owned() else {
                        tracing::warn!(%peer, "console connection refused: {MAX_CONNECTIONS} open");
                        continue;
                    };
                    let service = crate::console::WithAssets {
                        rpc: builder.clone().build(methods.clone(), stop.clone()),
                    };
                    let stop = stop.clone();
                    tokio::spawn(async move {
                        let _permit = permit;
                        if let Err(e) = jsonrpsee::server::serve_with_graceful_shutdown(
                            tcp,
                            service,
                            stop.shutdown(),
                        )
                        .await
                        {
                            tracing::debug!(%peer, "console connection ended: {e}");
                        }
                    });
                }
            });
            Some(bound)
        }
        None => None,
    };
    // One permit per connection, held from accept to close: bounds TLS handshakes too.
    let permits = Arc::new(tokio::sync::Semaphore::new(MAX_CONNECTIONS as usize));
    tokio::spawn(async move {
        loop {
            let accepted = tokio::select! {
                _ = stop.clone().shutdown() => return,
                a = listener.accept() => a,
            };
            let (tcp, peer) = match accepted {
                Ok(a) => a,
                Err(e) => {
                    tracing::warn!("JSON-RPC accept failed: {e}");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            };
            let Ok(permit) = permits.clone().try_acquire_owned() else {
                tracing::warn!(%peer, "JSON-RPC connection refused: {MAX_CONNECTIONS} open");
                continue;
            };
            let (acceptor, stop) = (acceptor.clone(), stop.clone());
            let service = builder.clone().build(methods.clone(), stop.clone());
            tokio::spawn(async move {
                let _permit = permit;
                let tls =
                    match tokio::time::timeout(TLS_HANDSHAKE_TIMEOUT, acceptor.accept(tcp)).await {
                        Ok(Ok(s)) => s,
                        Ok(Err(e)) => {
                            tracing::debug!(%peer, "JSON-RPC TLS handshake failed: {e}");
                            return;
                        }
                        Err(_) => {
                            tracing::debug!(%peer, "JSON-RPC TLS handshake timed out");
                            return;
                        }
                    };
                if let Err(e) =
                    jsonrpsee::server::serve_with_graceful_shutdown(tls, service, stop.shutdown())
                        .await
                {
                    tracing::debug!(%peer, "JSON-RPC connection ended: {e}");
                }
            });
        }
    });
    Ok((
        handle,
        Bound {
            rpc: local,
            console: console_bound,
        },
    ))
}

/// Every method served is open (health), an authenticated read, or a signed write (whose
/// params are a signed command); a method in none of these classes is a bug that would serve
/// data to anyone, so the node refuses to start with it.
/// The methods the server registered (set once, at start).
static KNOWN_METHODS: std::sync::OnceLock<std::collections::BTreeSet<&'static str>> =
    std::sync::OnceLock::new();

/// Whether `method` is one the server answers (metrics label only those by name).
pub fn is_known_method(method: &str) -> bool {
    KNOWN_METHODS.get().is_some_and(|m| m.contains(method))
}

/// Times every JSON-RPC call by method for `/metrics` (calls inside a batch are not timed one
/// by one).
#[derive(Clone)]
struct Timed<S>(S);

impl<S> RpcServiceT for Timed<S>
where
    S: RpcServiceT + Send + Sync + Clone + 'static,
{
    type MethodResponse = S::MethodResponse;
    type NotificationResponse = S::NotificationResponse;
    type BatchResponse = S::BatchResponse;

    fn call<'a>(
        &self,
        req: jsonrpsee::types::Request<'a>,
    ) -> impl std::future::Future<Output = Self::MethodResponse> + Send + 'a {
        let service = self.0.clone();
        let method = req.method_name().to_string();
        let started = std::time::Instant::now();
        async move {
            let answer = service.call(req).await;
            crate::metrics::rpc_answered(&method, started.elapsed());
            answer
        }
    }

    fn batch<'a>(
        &self,
        requests: Batch<'a>,
    ) -> impl std::future::Future<Output = Self::BatchResponse> + Send + 'a {
        self.0.batch(requests)
    }

    fn notification<'a>(
        &self,
        n: Notification<'a>,
    ) -> impl std::future::Future<Output = Self::NotificationResponse> + Send + 'a {
        self.0.notification(n)
    }
}

fn check_method_classes<C>(module: &jsonrpsee::RpcModule<C>) -> anyhow::Result<()> {
    use mpc_custody::read_auth::{needs_auth, OPEN_METHODS};
    for name in module.method_names() {
        let write = WRITE_METHODS.contains(&name);
        let open = OPEN_METHODS.contains(&name) || name == "request_unsubscribe";
        let passkey = PASSKEY_METHODS.contains(&name);
        let classes = [write, open, passkey, needs_auth(name)];
        if classes.iter().filter(|c| **c).count() != 1 {
            anyhow::bail!("JSON-RPC method '{name}' is not in exactly one access class");
        }
    }
    Ok(())
}

/// Methods authenticated by a passkey assertion in their params (or, for `console_challenge`,
/// issuing the nonce such an assertion signs).
pub const PASSKEY_METHODS: &[&str] = &[
    "console_challenge",
    "console_sign_in",
    "console_sign_out",
    "request_passkey_decide",
];

/// Methods whose params are a signed command (authenticated by the command's own signature).
pub const WRITE_METHODS: &[&str] = &[
    "node_replace",
    "node_remove",
    "node_add",
    "org_create",
    "member_add",
    "member_remove",
    "vault_create",
    "vault_refresh",
    "wallet_create",
    "addressbook_add",
    "addressbook_remove",
    "asset_add",
    "asset_remove",
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
    "webauthn_set",
    "passkey_invite",
    "passkey_register",
    "passkey_revoke",
];
