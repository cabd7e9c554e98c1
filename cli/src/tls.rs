//! TLS to a node with its certificate pinned (decision 0018).
//!
//! Each node serves JSON-RPC over TLS 1.3 with a self-signed certificate made at `init`; the
//! SHA-256 of that certificate is in the node's identity card and so in the genesis. A client
//! accepts exactly that certificate for that node — no certificate authority, no name check, no
//! trust on first use — and still verifies the handshake signature with the certificate's key
//! (so only the holder of the node's TLS key can answer).

use mpc_bootstrap::genesis::Genesis;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, SignatureScheme};
use sha2::{Digest, Sha256};
use std::sync::Arc;

/// A node's JSON-RPC URL and the SHA-256 of the certificate it must present.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    /// `https://host:port`.
    pub url: String,
    /// SHA-256 of the node's DER certificate.
    pub tls_sha256: [u8; 32],
}

impl Endpoint {
    /// An endpoint from a URL and a hex fingerprint.
    pub fn new(url: &str, tls_sha256_hex: &str) -> Result<Self, String> {
        let pin: [u8; 32] = hex::decode(tls_sha256_hex.trim())
            .ok()
            .and_then(|b| b.try_into().ok())
            .ok_or("a TLS fingerprint is 32 bytes of hex (SHA-256 of the certificate)")?;
        authority(url)?;
        Ok(Endpoint {
            url: url.to_string(),
            tls_sha256: pin,
        })
    }

    /// Every node of `genesis`, by its card's `rpc_addr` and certificate hash.
    pub fn all_from_genesis(genesis: &Genesis) -> Vec<Endpoint> {
        genesis
            .nodes
            .iter()
            .filter_map(|n| {
                Endpoint::new(&format!("https://{}", n.rpc_addr), &n.rpc_tls_sha256).ok()
            })
            .collect()
    }

    /// The endpoint for `url`, pinned to the certificate of the genesis node whose `rpc_addr` is
    /// the URL's host and port.
    pub fn from_genesis(url: &str, genesis: &Genesis) -> Result<Self, String> {
        let auth = authority(url)?;
        let node = genesis
            .nodes
            .iter()
            .find(|n| n.rpc_addr == auth)
            .ok_or_else(|| {
                format!(
                    "no node of the genesis has rpc_addr {auth}; give its certificate's SHA-256 \
                     with --tls-sha256"
                )
            })?;
        Endpoint::new(url, &node.rpc_tls_sha256)
    }

    /// `host:port` of the URL.
    pub fn authority(&self) -> &str {
        authority(&self.url).unwrap_or("")
    }
}

impl std::fmt::Display for Endpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.url)
    }
}

/// `host:port` of an `https://` (or `wss://`) URL.
pub fn authority(url: &str) -> Result<&str, String> {
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("wss://"))
        .ok_or_else(|| {
            format!("'{url}': node URLs are https:// (every node serves JSON-RPC over TLS)")
        })?;
    let host = rest.split('/').next().unwrap_or(rest);
    if host.is_empty() || !host.contains(':') {
        return Err(format!("'{url}': expected https://host:port"));
    }
    Ok(host)
}

#[derive(Debug)]
struct PinnedCert {
    pin: [u8; 32],
    provider: Arc<CryptoProvider>,
}

impl ServerCertVerifier for PinnedCert {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let got: [u8; 32] = Sha256::digest(end_entity.as_ref()).into();
        if got == self.pin {
            Ok(ServerCertVerified::assertion())
        } else {
            Err(rustls::Error::General(format!(
                "the node's TLS certificate (SHA-256 {}) is not the pinned one ({}): wrong node \
                 or someone in between",
                hex::encode(got),
                hex::encode(self.pin)
            )))
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

/// A rustls client configuration (TLS 1.3) that accepts only the certificate whose SHA-256 is
/// `pin`.
pub fn client_config(pin: [u8; 32]) -> Result<Arc<rustls::ClientConfig>, String> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(&[&rustls::version::TLS13])
        .map_err(|e| format!("TLS configuration: {e}"))?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(PinnedCert { pin, provider }))
        .with_no_client_auth();
    Ok(Arc::new(config))
}

/// The server name to send (the host of `host:port`; only browsers look at it here).
pub fn server_name(authority: &str) -> ServerName<'static> {
    let host = authority
        .rsplit_once(':')
        .map(|(h, _)| h.trim_start_matches('[').trim_end_matches(']'))
        .unwrap_or(authority);
    match host.parse::<std::net::IpAddr>() {
        Ok(ip) => ServerName::IpAddress(ip.into()),
        Err(_) => ServerName::try_from(host.to_string())
            .unwrap_or_else(|_| ServerName::IpAddress(std::net::Ipv4Addr::LOCALHOST.into())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn node_urls() {
        assert_eq!(
            authority("https://127.0.0.1:9000").unwrap(),
            "127.0.0.1:9000"
        );
        assert_eq!(authority("wss://h:1/").unwrap(), "h:1");
        assert!(authority("http://h:1").is_err(), "plain HTTP is refused");
        assert!(authority("https://").is_err());
        assert!(authority("https://host").is_err());
        assert!(Endpoint::new("https://h:1", "abcd").is_err());
        assert!(Endpoint::new("https://h:1", &"ab".repeat(32)).is_ok());
    }
}
