//! Node identity: a libp2p Ed25519 key (the peer id), an X25519 static key for Noise peer
//! channels and the JSON-RPC TLS key with its self-signed certificate, sealed in `identity.json`
//! under the operator's passphrase. The public [`IdentityCard`] is the file's authenticated
//! public part and is also written to `card.json`; it carries the certificate's SHA-256, which
//! clients pin (decision 0018). The certificate is also written to `rpc-tls.crt` (PEM) for tools
//! such as `curl --cacert`.

use crate::error::BootstrapError;
use crate::sealed::{self, KdfParams};
use mpc_protocol::domain;
use rand::RngCore;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::path::{Path, PathBuf};
use zeroize::Zeroizing;

/// Name of the sealed identity file inside a data directory.
pub const IDENTITY_FILE: &str = "identity.json";
/// Name of the public card file inside a data directory.
pub const CARD_FILE: &str = "card.json";
/// Name of the JSON-RPC TLS certificate (PEM, public) inside a data directory.
pub const RPC_CERT_FILE: &str = "rpc-tls.crt";

/// The public identity of a node, shared with the other operators to build the genesis.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IdentityCard {
    /// Raft node id (≥ 1), unique in the network.
    pub node_id: u64,
    /// libp2p peer id (base58), derived from the node's Ed25519 key.
    pub peer_id: String,
    /// X25519 static public key for Noise peer channels (hex).
    pub noise_public_key: String,
    /// libp2p listen multiaddress, e.g. `/ip4/127.0.0.1/tcp/7001`.
    pub p2p_addr: String,
    /// JSON-RPC listen address, e.g. `127.0.0.1:8001`.
    pub rpc_addr: String,
    /// SHA-256 (hex) of the DER certificate the node serves JSON-RPC over TLS with; clients pin
    /// it.
    pub rpc_tls_sha256: String,
}

impl IdentityCard {
    /// Checks the card's fields (syntax only).
    pub fn validate(&self) -> Result<(), BootstrapError> {
        let bad = |r: String| BootstrapError::invalid("identity card", r);
        if self.node_id == 0 {
            return Err(bad("node_id must be at least 1".into()));
        }
        self.peer_id
            .parse::<libp2p_identity::PeerId>()
            .map_err(|e| bad(format!("peer_id: {e}")))?;
        let noise = hex::decode(&self.noise_public_key)
            .map_err(|_| bad("noise_public_key is not hex".into()))?;
        if noise.len() != 32 {
            return Err(bad("noise_public_key must be 32 bytes".into()));
        }
        if !self.p2p_addr.starts_with('/') || self.p2p_addr.len() > 256 {
            return Err(bad(format!(
                "p2p_addr '{}' is not a multiaddress",
                self.p2p_addr
            )));
        }
        match hex::decode(&self.rpc_tls_sha256) {
            Ok(b) if b.len() == 32 => {}
            _ => return Err(bad("rpc_tls_sha256 must be 32 bytes of hex".into())),
        }
        if self.rpc_addr.parse::<std::net::SocketAddr>().is_err() {
            return Err(bad(format!(
                "rpc_addr '{}' is not host:port",
                self.rpc_addr
            )));
        }
        Ok(())
    }

    /// The node's Ed25519 identity key (inside its libp2p peer id): it signs the node's reports.
    pub fn identity_key(&self) -> Result<[u8; 32], BootstrapError> {
        let bad = |r: String| BootstrapError::invalid("identity card", r);
        let peer: libp2p_identity::PeerId = self
            .peer_id
            .parse()
            .map_err(|e| bad(format!("peer_id: {e}")))?;
        // An Ed25519 peer id is the identity multihash (code 0, one-byte length) of the key.
        let bytes = peer.to_bytes();
        let key = match bytes.as_slice() {
            [0, len, rest @ ..] if usize::from(*len) == rest.len() => rest,
            _ => return Err(bad("the peer id does not embed its key".into())),
        };
        let pk = libp2p_identity::PublicKey::try_decode_protobuf(key)
            .map_err(|e| bad(format!("the peer id does not embed its key: {e}")))?;
        let ed = pk
            .try_into_ed25519()
            .map_err(|_| bad("the peer id is not an Ed25519 key".into()))?;
        Ok(ed.to_bytes())
    }
}

/// The node's secrets, decrypted. `Debug` never shows them; they are zeroized on drop.
pub struct NodeIdentity {
    /// The public card.
    pub card: IdentityCard,
    libp2p_secret: Zeroizing<[u8; 32]>,
    noise_secret: Zeroizing<[u8; 32]>,
    /// PKCS#8 DER of the TLS key (ECDSA P-256).
    tls_key: Zeroizing<Vec<u8>>,
    /// DER of the self-signed TLS certificate (public).
    tls_cert: Vec<u8>,
}

impl fmt::Debug for NodeIdentity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NodeIdentity")
            .field("card", &self.card)
            .field("secrets", &"<redacted>")
            .finish()
    }
}

fn libp2p_keypair_from(secret: &[u8; 32]) -> Result<libp2p_identity::Keypair, BootstrapError> {
    let mut copy = *secret;
    // `ed25519_from_bytes` zeroizes the buffer it is given.
    libp2p_identity::Keypair::ed25519_from_bytes(&mut copy)
        .map_err(|e| BootstrapError::invalid("identity", e.to_string()))
}

/// SHA-256 (hex) of a DER certificate: what clients pin.
pub fn cert_sha256(der: &[u8]) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(der))
}

/// A fresh ECDSA P-256 key and a self-signed certificate for `rpc_addr`'s host and `localhost`
/// (names matter only to browsers: clients here pin the certificate's hash).
fn make_tls(node_id: u64, rpc_addr: &str) -> Result<(Zeroizing<Vec<u8>>, Vec<u8>), BootstrapError> {
    let bad = |e: rcgen::Error| BootstrapError::invalid("TLS certificate", e.to_string());
    let host = rpc_addr
        .parse::<std::net::SocketAddr>()
        .map(|a| a.ip().to_string())
        .map_err(|_| BootstrapError::invalid("identity card", "rpc_addr is not host:port"))?;
    let key = rcgen::KeyPair::generate().map_err(bad)?;
    let mut params =
        rcgen::CertificateParams::new(vec![host, "localhost".to_string()]).map_err(bad)?;
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, format!("mpc-node {node_id}"));
    let cert = params.self_signed(&key).map_err(bad)?;
    Ok((Zeroizing::new(key.serialize_der()), cert.der().to_vec()))
}

/// `identity.json`'s secret: libp2p (32) ‖ noise (32) ‖ TLS key length (u16 BE) ‖ TLS key ‖
/// TLS certificate.
fn encode_secret(
    libp2p: &[u8; 32],
    noise: &[u8; 32],
    tls_key: &[u8],
    tls_cert: &[u8],
) -> Result<Zeroizing<Vec<u8>>, BootstrapError> {
    let len = u16::try_from(tls_key.len())
        .map_err(|_| BootstrapError::invalid("identity", "TLS key too long"))?;
    let mut plain = Zeroizing::new(Vec::with_capacity(66 + tls_key.len() + tls_cert.len()));
    plain.extend_from_slice(libp2p);
    plain.extend_from_slice(noise);
    plain.extend_from_slice(&len.to_be_bytes());
    plain.extend_from_slice(tls_key);
    plain.extend_from_slice(tls_cert);
    Ok(plain)
}

fn noise_public(secret: &[u8; 32]) -> [u8; 32] {
    let s = x25519_dalek::StaticSecret::from(*secret);
    x25519_dalek::PublicKey::from(&s).to_bytes()
}

impl NodeIdentity {
    /// Generates a new identity and writes `identity.json` and `card.json` into `data_dir`.
    /// Refuses to overwrite an existing identity.
    pub fn create(
        data_dir: &Path,
        node_id: u64,
        p2p_addr: &str,
        rpc_addr: &str,
        passphrase: &[u8],
        kdf: KdfParams,
    ) -> Result<Self, BootstrapError> {
        let path = data_dir.join(IDENTITY_FILE);
        if path.exists() {
            return Err(BootstrapError::AlreadyExists(path));
        }
        let mut rng = rand::rngs::OsRng;
        let mut libp2p_secret = Zeroizing::new([0u8; 32]);
        rng.fill_bytes(libp2p_secret.as_mut());
        let mut noise_secret = Zeroizing::new([0u8; 32]);
        rng.fill_bytes(noise_secret.as_mut());
        let keypair = libp2p_keypair_from(&libp2p_secret)?;
        let (tls_key, tls_cert) = make_tls(node_id, rpc_addr)?;
        let card = IdentityCard {
            node_id,
            peer_id: keypair.public().to_peer_id().to_string(),
            noise_public_key: hex::encode(noise_public(&noise_secret)),
            p2p_addr: p2p_addr.to_string(),
            rpc_addr: rpc_addr.to_string(),
            rpc_tls_sha256: cert_sha256(&tls_cert),
        };
        card.validate()?;
        let id = NodeIdentity {
            card,
            libp2p_secret,
            noise_secret,
            tls_key,
            tls_cert,
        };
        id.write_files(data_dir, passphrase, kdf)?;
        Ok(id)
    }

    /// Writes `rpc-tls.crt` (PEM) into `data_dir` (public; for `curl --cacert` and browsers).
    pub fn write_cert_pem(&self, data_dir: &Path) -> Result<(), BootstrapError> {
        use base64::Engine;
        let b64 = base64::engine::general_purpose::STANDARD.encode(&self.tls_cert);
        let mut pem = String::from("-----BEGIN CERTIFICATE-----\n");
        for chunk in b64.as_bytes().chunks(64) {
            pem.push_str(std::str::from_utf8(chunk).unwrap_or_default());
            pem.push('\n');
        }
        pem.push_str("-----END CERTIFICATE-----\n");
        sealed::write_atomic(&data_dir.join(RPC_CERT_FILE), pem.as_bytes(), true)
    }

    /// PKCS#8 DER of the JSON-RPC TLS key.
    pub fn tls_key_der(&self) -> &Zeroizing<Vec<u8>> {
        &self.tls_key
    }

    /// DER of the JSON-RPC TLS certificate.
    pub fn tls_cert_der(&self) -> &[u8] {
        &self.tls_cert
    }

    /// Opens `identity.json` in `data_dir`. A wrong passphrase or a modified file is an error.
    pub fn load(data_dir: &Path, passphrase: &[u8]) -> Result<Self, BootstrapError> {
        let path = data_dir.join(IDENTITY_FILE);
        let file = sealed::read_file(&path)?;
        let plain = sealed::open(domain::IDENTITY_FILE_AD, passphrase, &file, &path)?;
        let card: IdentityCard = serde_json::from_value(file.public.clone())
            .map_err(|e| BootstrapError::invalid("identity card", e.to_string()))?;
        Self::from_exported(card, &plain)
    }

    /// An identity from its card and its secret encoding (`identity.json`'s sealed content);
    /// the card must match the keys.
    pub fn from_exported(card: IdentityCard, plain: &[u8]) -> Result<Self, BootstrapError> {
        if plain.len() < 66 {
            return Err(BootstrapError::invalid(
                "identity",
                "secret has the wrong length (an identity made before JSON-RPC TLS: run init again)",
            ));
        }
        let mut libp2p_secret = Zeroizing::new([0u8; 32]);
        libp2p_secret.copy_from_slice(&plain[..32]);
        let mut noise_secret = Zeroizing::new([0u8; 32]);
        noise_secret.copy_from_slice(&plain[32..64]);
        let key_len = usize::from(u16::from_be_bytes([plain[64], plain[65]]));
        if plain.len() < 66 + key_len {
            return Err(BootstrapError::invalid("identity", "TLS key truncated"));
        }
        let tls_key = Zeroizing::new(plain[66..66 + key_len].to_vec());
        let tls_cert = plain[66 + key_len..].to_vec();
        let id = NodeIdentity {
            card,
            libp2p_secret,
            noise_secret,
            tls_key,
            tls_cert,
        };
        // The card is authenticated, but check it matches the secrets all the same.
        if id.libp2p_keypair()?.public().to_peer_id().to_string() != id.card.peer_id
            || hex::encode(noise_public(&id.noise_secret)) != id.card.noise_public_key
            || cert_sha256(&id.tls_cert) != id.card.rpc_tls_sha256
        {
            return Err(BootstrapError::invalid(
                "identity",
                "public card does not match the keys",
            ));
        }
        Ok(id)
    }

    /// The identity's secrets in the encoding `identity.json` seals — for a backup kit, which
    /// encrypts them to an offline recovery key. Zeroized on drop.
    pub fn export_secret(&self) -> Result<Zeroizing<Vec<u8>>, BootstrapError> {
        encode_secret(
            &self.libp2p_secret,
            &self.noise_secret,
            &self.tls_key,
            &self.tls_cert,
        )
    }

    /// Writes `identity.json` (sealed under `passphrase`) and `card.json` into `data_dir` for
    /// an identity restored from a backup kit: the same keys, so the same node to its peers.
    /// The secrets must match the card; an existing identity is never overwritten.
    pub fn restore(
        data_dir: &Path,
        card: IdentityCard,
        secret: &[u8],
        passphrase: &[u8],
        kdf: KdfParams,
    ) -> Result<Self, BootstrapError> {
        let path = data_dir.join(IDENTITY_FILE);
        if path.exists() {
            return Err(BootstrapError::AlreadyExists(path));
        }
        card.validate()?;
        let id = Self::from_exported(card, secret)?;
        id.write_files(data_dir, passphrase, kdf)?;
        Ok(id)
    }

    /// Writes `identity.json` (the secrets sealed under `passphrase`; never overwritten),
    /// `card.json` and the TLS certificate into `data_dir`.
    fn write_files(
        &self,
        data_dir: &Path,
        passphrase: &[u8],
        kdf: KdfParams,
    ) -> Result<(), BootstrapError> {
        let plain = self.export_secret()?;
        let public = serde_json::to_value(&self.card)
            .map_err(|e| BootstrapError::invalid("identity card", e.to_string()))?;
        let file = sealed::seal(domain::IDENTITY_FILE_AD, passphrase, kdf, public, &plain)?;
        let json = serde_json::to_vec_pretty(&file)
            .map_err(|e| BootstrapError::invalid("identity", e.to_string()))?;
        sealed::write_atomic(&data_dir.join(IDENTITY_FILE), &json, false)?;
        let card_json = serde_json::to_vec_pretty(&self.card)
            .map_err(|e| BootstrapError::invalid("identity card", e.to_string()))?;
        sealed::write_atomic(&data_dir.join(CARD_FILE), &card_json, true)?;
        self.write_cert_pem(data_dir)
    }

    /// The libp2p keypair (fresh copy).
    pub fn libp2p_keypair(&self) -> Result<libp2p_identity::Keypair, BootstrapError> {
        libp2p_keypair_from(&self.libp2p_secret)
    }

    /// The X25519 static secret for Noise peer channels.
    pub fn noise_secret(&self) -> &Zeroizing<[u8; 32]> {
        &self.noise_secret
    }

    /// Path of the identity file in `data_dir`.
    pub fn path(data_dir: &Path) -> PathBuf {
        data_dir.join(IDENTITY_FILE)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn create_load_and_refuse_wrong_passphrase() {
        let dir = tempfile::tempdir().unwrap();
        let id = NodeIdentity::create(
            dir.path(),
            1,
            "/ip4/127.0.0.1/tcp/7001",
            "127.0.0.1:8001",
            b"pw",
            KdfParams::floor(),
        )
        .unwrap();
        let before = std::fs::read(dir.path().join(IDENTITY_FILE)).unwrap();
        let again = NodeIdentity::load(dir.path(), b"pw").unwrap();
        assert_eq!(again.card, id.card);
        assert_eq!(
            again.noise_secret().as_slice(),
            id.noise_secret().as_slice()
        );
        assert!(matches!(
            NodeIdentity::load(dir.path(), b"wrong"),
            Err(BootstrapError::WrongPassphrase(_))
        ));
        // Nothing changed on disk.
        assert_eq!(
            std::fs::read(dir.path().join(IDENTITY_FILE)).unwrap(),
            before
        );
        // Debug is redacted.
        let dbg = format!("{again:?}");
        assert!(dbg.contains("redacted"));
        assert!(!dbg.contains(&hex::encode(again.noise_secret().as_slice())));
        // No overwrite.
        assert!(matches!(
            NodeIdentity::create(
                dir.path(),
                1,
                "/ip4/127.0.0.1/tcp/7001",
                "127.0.0.1:8001",
                b"pw",
                KdfParams::floor()
            ),
            Err(BootstrapError::AlreadyExists(_))
        ));
    }

    #[test]
    fn edited_card_fails_to_open() {
        let dir = tempfile::tempdir().unwrap();
        NodeIdentity::create(
            dir.path(),
            1,
            "/ip4/127.0.0.1/tcp/7001",
            "127.0.0.1:8001",
            b"pw",
            KdfParams::floor(),
        )
        .unwrap();
        let path = dir.path().join(IDENTITY_FILE);
        let text = std::fs::read_to_string(&path)
            .unwrap()
            .replace("tcp/7001", "tcp/7002");
        std::fs::write(&path, text).unwrap();
        assert!(matches!(
            NodeIdentity::load(dir.path(), b"pw"),
            Err(BootstrapError::WrongPassphrase(_))
        ));
    }
}
