//! A WebSocket client for `request_subscribe`: status changes of one request (or all) pushed
//! by the node as they are applied. Used by `mpc request watch` and the end-to-end tests.
//!
//! The node serves HTTPS and secure WebSocket on one port, so the same `https://host:port` URL
//! and pinned certificate are used.
//! Each message is `{request_id, status, request}`; the first ones are the current state.

use anyhow::{bail, Context};
use serde_json::{json, Value};
use soketto::connection::{Receiver, Sender};
use std::time::Duration;
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;
use tokio_util::compat::{Compat, TokioAsyncReadCompatExt};

type Stream = Compat<TlsStream<TcpStream>>;

/// Largest message accepted from the node.
const MAX_MESSAGE: usize = 4 * 1024 * 1024;

/// An open subscription.
pub struct Watch {
    rt: tokio::runtime::Runtime,
    _tx: Sender<Stream>,
    rx: Receiver<Stream>,
}

impl Watch {
    /// Connects to the node at `url` and subscribes to `request_id` (or every request of the
    /// organisations `reader` may read); the subscribe call is signed by `reader`.
    pub fn connect(
        endpoint: &crate::tls::Endpoint,
        reader: &crate::client::Reader,
        request_id: Option<&str>,
        timeout: Duration,
    ) -> anyhow::Result<Self> {
        let host = crate::tls::authority(&endpoint.url)
            .map_err(anyhow::Error::msg)?
            .to_string();
        let tls = tokio_rustls::TlsConnector::from(
            crate::tls::client_config(endpoint.tls_sha256).map_err(anyhow::Error::msg)?,
        );
        let params = reader.sign("request_subscribe", json!({ "request_id": request_id }))?;
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        let (tx, rx) = rt.block_on(async {
            tokio::time::timeout(timeout, async {
                let tcp = TcpStream::connect(&host)
                    .await
                    .with_context(|| format!("connecting to {host}"))?;
                let socket = tls
                    .connect(crate::tls::server_name(&host), tcp)
                    .await
                    .with_context(|| format!("TLS with {host}"))?;
                let mut client = soketto::handshake::Client::new(socket.compat(), &host, "/");
                match client.handshake().await? {
                    soketto::handshake::ServerResponse::Accepted { .. } => {}
                    other => bail!("WebSocket handshake refused: {other:?}"),
                }
                let mut builder = client.into_builder();
                builder.set_max_message_size(MAX_MESSAGE);
                let (mut tx, mut rx) = builder.finish();
                let sub = json!({
                    "jsonrpc": "2.0",
                    "id": 1,
                    "method": "request_subscribe",
                    "params": params,
                });
                tx.send_text(sub.to_string()).await?;
                tx.flush().await?;
                // The answer to the subscribe call comes first.
                let answer = read_json(&mut rx).await?;
                if let Some(e) = answer.get("error") {
                    bail!("request_subscribe refused: {e}");
                }
                if answer.get("result").is_none() {
                    bail!("unexpected answer to request_subscribe: {answer}");
                }
                Ok((tx, rx))
            })
            .await
            .context("timed out connecting")?
        })?;
        Ok(Watch { rt, _tx: tx, rx })
    }

    /// The next status change (`{request_id, status, request}`), waiting up to `timeout`
    /// (forever if `None`). A timeout is an error: drop the watch afterwards.
    pub fn next(&mut self, timeout: Option<Duration>) -> anyhow::Result<Value> {
        let rx = &mut self.rx;
        self.rt.block_on(async {
            loop {
                let msg = match timeout {
                    Some(t) => tokio::time::timeout(t, read_json(rx))
                        .await
                        .context("no status change before the timeout")??,
                    None => read_json(rx).await?,
                };
                if msg["method"] == "request_status" {
                    return Ok(msg["params"]["result"].clone());
                }
            }
        })
    }
}

async fn read_json(rx: &mut Receiver<Stream>) -> anyhow::Result<Value> {
    let mut buf = Vec::new();
    rx.receive_data(&mut buf)
        .await
        .context("WebSocket closed")?;
    serde_json::from_slice(&buf).context("the node sent a message that is not JSON")
}
