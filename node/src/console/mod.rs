//! The web console: a small TypeScript front end embedded in the binary (`node/console/`: the
//! page and style as written, the script as `node/console/build.sh` bundles it into
//! `dist/app.js`, checked in and checked by `.ci/run`), served on its own
//! listener beside the same JSON-RPC methods (HTTP POST and WebSocket), with a strict
//! Content-Security-Policy and no third-party origin.
//!
//! Why its own listener: the JSON-RPC port serves TLS with the node's self-signed certificate,
//! which clients pin from the genesis (decision 0018); a browser cannot pin, and WebAuthn
//! refuses pages with certificate errors. The console listener is plain HTTP and binds loopback
//! addresses only (`http://localhost` is a secure context for WebAuthn); an organisation
//! serving it further puts a TLS-terminating proxy with a real certificate in front, and lists
//! that origin in its relying party (see `docs/operations.md`).
//!
//! What the console shows is parsed by the console from the payload bytes, and what a passkey
//! signs is a challenge the console computes itself from those bytes (decision 0022).

pub mod sessions;

pub use sessions::{Session, Sessions};

use jsonrpsee::server::{HttpBody, HttpResponse};
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// The Content-Security-Policy of every console response: only this origin's script, style,
/// fetches and WebSocket; no inline script, no frames, no forms, no plugins.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; \
     style-src 'self'; img-src 'self' data:; connect-src 'self'; base-uri 'none'; \
     form-action 'none'; frame-ancestors 'none'";

/// One embedded file.
struct Asset {
    path: &'static str,
    content_type: &'static str,
    bytes: &'static [u8],
}

const ASSETS: &[Asset] = &[
    Asset {
        path: "/",
        content_type: "text/html; charset=utf-8",
        bytes: include_bytes!("../../console/index.html"),
    },
    Asset {
        path: "/app.js",
        content_type: "text/javascript; charset=utf-8",
        bytes: include_bytes!("../../console/dist/app.js"),
    },
    Asset {
        path: "/app.css",
        content_type: "text/css; charset=utf-8",
        bytes: include_bytes!("../../console/app.css"),
    },
];

/// The response to a GET of `path` (the console is one page: unknown paths are 404).
pub fn asset_response(path: &str) -> HttpResponse {
    let found = ASSETS
        .iter()
        .find(|a| a.path == path || (a.path == "/" && path == "/index.html"));
    let (status, content_type, body): (u16, &str, HttpBody) = match found {
        Some(a) => (200, a.content_type, HttpBody::from(a.bytes.to_vec())),
        None => (
            404,
            "text/plain; charset=utf-8",
            HttpBody::from("not found\n"),
        ),
    };
    let mut b = http::Response::builder()
        .status(status)
        .header("content-type", content_type)
        .header("content-security-policy", CONTENT_SECURITY_POLICY)
        .header("x-content-type-options", "nosniff")
        .header("referrer-policy", "no-referrer")
        .header("cross-origin-opener-policy", "same-origin")
        .header("cross-origin-resource-policy", "same-origin")
        .header("x-frame-options", "DENY")
        .header("cache-control", "no-store");
    if let Some(h) = b.headers_mut() {
        h.remove("server");
    }
    b.body(body)
        .unwrap_or_else(|_| http::Response::new(HttpBody::empty()))
}

/// Routes plain GETs to the embedded assets and everything else (JSON-RPC POSTs, WebSocket
/// upgrades) to jsonrpsee's service `S`.
#[derive(Clone)]
pub struct WithAssets<S> {
    /// The JSON-RPC service.
    pub rpc: S,
}

impl<S> tower::Service<http::Request<hyper::body::Incoming>> for WithAssets<S>
where
    S: tower::Service<
            http::Request<hyper::body::Incoming>,
            Response = HttpResponse,
            Error = BoxError,
        > + Clone
        + Send
        + 'static,
    S::Future: Send + 'static,
{
    type Response = HttpResponse;
    type Error = BoxError;
    type Future = Pin<Box<dyn Future<Output = Result<HttpResponse, BoxError>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        self.rpc.poll_ready(cx)
    }

    fn call(&mut self, req: http::Request<hyper::body::Incoming>) -> Self::Future {
        let upgrade = req.headers().contains_key(http::header::UPGRADE);
        if req.method() == http::Method::GET && !upgrade {
            let resp = asset_response(req.uri().path());
            return Box::pin(async move { Ok(resp) });
        }
        Box::pin(self.rpc.call(req))
    }
}

/// Whether `addr` may serve the console (loopback only; see the module documentation).
pub fn check_listen_addr(addr: &std::net::SocketAddr) -> Result<(), String> {
    if addr.ip().is_loopback() {
        Ok(())
    } else {
        Err(format!(
            "the console listens on loopback addresses only ({addr} is not): serve it further \
             through a TLS-terminating proxy (docs/operations.md)"
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn assets_carry_a_strict_policy() {
        for path in ["/", "/index.html", "/app.js", "/app.css", "/nope"] {
            let r = asset_response(path);
            let csp = r.headers()["content-security-policy"].to_str().unwrap();
            assert!(
                csp.contains("script-src 'self'") && !csp.contains("unsafe"),
                "{csp}"
            );
            assert_eq!(r.headers()["x-content-type-options"], "nosniff");
        }
        assert_eq!(asset_response("/").status(), 200);
        assert_eq!(asset_response("/../etc/passwd").status(), 404);
    }

    #[test]
    fn only_loopback() {
        assert!(check_listen_addr(&"127.0.0.1:1".parse().unwrap()).is_ok());
        assert!(check_listen_addr(&"[::1]:1".parse().unwrap()).is_ok());
        assert!(check_listen_addr(&"0.0.0.0:1".parse().unwrap()).is_err());
    }
}
