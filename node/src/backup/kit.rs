//! The backup kit file: a cleartext header (what the kit covers, for whom, when) and the node's
//! secrets encrypted to an offline recovery key with HPKE (RFC 9180, base mode,
//! DHKEM(X25519, HKDF-SHA256), HKDF-SHA256, ChaCha20-Poly1305). The header is the AEAD's
//! associated data: changing a byte of it, of the encapsulated key or of the ciphertext, or
//! cutting the file short, makes the kit fail to open.
//!
//! Layout: `MAGIC ‖ u32 BE header length ‖ header JSON ‖ 32-byte encapsulated key ‖ ciphertext`.

use hpke::{Deserializable, OpModeR, OpModeS, Serializable};
use mpc_bootstrap::identity::IdentityCard;
use serde::{Deserialize, Serialize};
use zeroize::{Zeroize, Zeroizing};

type Kem = hpke::kem::X25519HkdfSha256;
type Kdf = hpke::kdf::HkdfSha256;
type Aead = hpke::aead::ChaCha20Poly1305;

/// First bytes of every kit.
pub const MAGIC: &[u8; 8] = b"MPCKIT1\n";
/// HPKE `info`: binds the key schedule to this use.
const INFO: &[u8] = b"mpc-node/v1/backup-kit";
/// The format name in the header.
pub const FORMAT: &str = "mpc-node-backup-kit/1";
/// Largest header accepted.
const MAX_HEADER_BYTES: usize = 64 * 1024;
/// Largest kit accepted (shares, aux info and identity fit many times over).
pub const MAX_KIT_BYTES: usize = 64 * 1024 * 1024;
/// The cipher suite, as the header names it.
pub const SUITE: &str = "HPKE base, DHKEM(X25519, HKDF-SHA256), HKDF-SHA256, ChaCha20-Poly1305";

/// What a kit says about itself, in clear (authenticated).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KitHeader {
    /// [`FORMAT`].
    pub format: String,
    /// The network (genesis hash).
    pub cluster_id: String,
    /// The node whose shares these are.
    pub node_id: u64,
    /// When the kit was made (ms since the Unix epoch, the backing-up host's clock).
    pub created_at_ms: u64,
    /// The recovery public key it is encrypted to (X25519, hex).
    pub recovery_key: String,
    /// [`SUITE`].
    pub suite: String,
    /// The records inside: `kind/key id` (no secret).
    pub records: Vec<String>,
}

/// One share-store record in a kit.
#[derive(Clone, Serialize, Deserialize)]
pub struct KitRecord {
    /// Key id in the share store.
    pub key_id: String,
    /// Record kind tag (`key_share`, `aux_info`).
    pub kind: String,
    /// The plaintext record.
    pub bytes: Vec<u8>,
}

/// What a kit protects. Zeroized on drop; `Debug` shows no secret.
#[derive(Serialize, Deserialize)]
pub struct KitBody {
    /// The node's public card.
    pub card: IdentityCard,
    /// The node's identity secrets (`identity.json`'s sealed content).
    pub identity_secret: Vec<u8>,
    /// The network's genesis.json, as the node was started with it.
    pub genesis_json: String,
    /// Key shares and aux info.
    pub records: Vec<KitRecord>,
    /// Session ids the node had joined (a restored node must not join them again).
    pub joined_sessions: Vec<[u8; 32]>,
}

impl Drop for KitBody {
    fn drop(&mut self) {
        self.identity_secret.zeroize();
        for r in &mut self.records {
            r.bytes.zeroize();
        }
    }
}

impl std::fmt::Debug for KitBody {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "KitBody(node {}, {} records, <secrets redacted>)",
            self.card.node_id,
            self.records.len()
        )
    }
}

/// A recovery key pair's secret half (X25519). Zeroized on drop.
pub struct RecoverySecret(Zeroizing<[u8; 32]>);

impl RecoverySecret {
    /// A fresh key.
    pub fn generate() -> Self {
        use rand::RngCore;
        let mut ikm = Zeroizing::new([0u8; 32]);
        rand::rngs::OsRng.fill_bytes(ikm.as_mut());
        let (sk, _) = <Kem as hpke::Kem>::derive_keypair(ikm.as_ref());
        let mut out = Zeroizing::new([0u8; 32]);
        out.copy_from_slice(&sk.to_bytes());
        RecoverySecret(out)
    }

    /// From its 32 bytes.
    pub fn from_bytes(b: &[u8]) -> Result<Self, String> {
        let a: [u8; 32] = b
            .try_into()
            .map_err(|_| "a recovery secret is 32 bytes".to_string())?;
        Ok(RecoverySecret(Zeroizing::new(a)))
    }

    /// Its 32 bytes.
    pub fn bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// The public key (hex).
    pub fn public_hex(&self) -> Result<String, String> {
        let sk = <Kem as hpke::Kem>::PrivateKey::from_bytes(self.0.as_ref())
            .map_err(|e| format!("recovery secret: {e}"))?;
        Ok(hex::encode(<Kem as hpke::Kem>::sk_to_pk(&sk).to_bytes()))
    }
}

/// Errors opening a kit: each says what is wrong in words an operator can act on.
#[derive(Debug, thiserror::Error)]
pub enum KitError {
    /// Not a kit, or cut short.
    #[error("not a backup kit, or truncated: {0}")]
    Malformed(String),
    /// The recovery key is not the one the kit was made for.
    #[error("this kit was encrypted to recovery key {kit}, not to {given}")]
    WrongKey {
        /// The kit's.
        kit: String,
        /// The one given.
        given: String,
    },
    /// Authentication failed: the kit was changed (or truncated inside its ciphertext).
    #[error("the kit fails authentication: it was modified or truncated; do not use it")]
    Tampered,
}

/// Encrypts `body` to `recovery_key` (hex) under `header` (whose `recovery_key` must name it).
pub fn seal(header: &KitHeader, body: &KitBody) -> Result<Vec<u8>, String> {
    let pk_bytes = hex::decode(&header.recovery_key).map_err(|_| "recovery key is not hex")?;
    let pk = <Kem as hpke::Kem>::PublicKey::from_bytes(&pk_bytes)
        .map_err(|_| "the recovery key is not an X25519 public key (32 bytes of hex)")?;
    let header_json = serde_json::to_vec(header).map_err(|e| e.to_string())?;
    let aad = aad(&header_json);
    let plain = Zeroizing::new(mpc_protocol::encode(body).map_err(|e| e.to_string())?);
    let (enc, ct) = hpke::single_shot_seal::<Aead, Kdf, Kem, _>(
        &OpModeS::Base,
        &pk,
        INFO,
        &plain,
        &aad,
        &mut rand::rngs::OsRng,
    )
    .map_err(|e| format!("encrypting the kit: {e}"))?;
    let mut out = aad;
    out.extend_from_slice(&enc.to_bytes());
    out.extend_from_slice(&ct);
    Ok(out)
}

fn aad(header_json: &[u8]) -> Vec<u8> {
    let mut a = MAGIC.to_vec();
    a.extend_from_slice(&(header_json.len() as u32).to_be_bytes());
    a.extend_from_slice(header_json);
    a
}

/// Reads a kit's header without decrypting anything (what it covers, whose key opens it).
pub fn read_header(kit: &[u8]) -> Result<(KitHeader, usize), KitError> {
    if kit.len() > MAX_KIT_BYTES {
        return Err(KitError::Malformed(format!(
            "larger than {MAX_KIT_BYTES} bytes"
        )));
    }
    if kit.get(..8) != Some(&MAGIC[..]) {
        return Err(KitError::Malformed("it does not start with MPCKIT1".into()));
    }
    let len = kit
        .get(8..12)
        .map(|b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]) as usize)
        .ok_or_else(|| KitError::Malformed("no header length".into()))?;
    if len > MAX_HEADER_BYTES {
        return Err(KitError::Malformed("header too large".into()));
    }
    let json = kit
        .get(12..12 + len)
        .ok_or_else(|| KitError::Malformed("header cut short".into()))?;
    let header: KitHeader =
        serde_json::from_slice(json).map_err(|e| KitError::Malformed(format!("header: {e}")))?;
    if header.format != FORMAT {
        return Err(KitError::Malformed(format!(
            "unknown format '{}'",
            header.format
        )));
    }
    Ok((header, 12 + len))
}

/// Opens a kit with the recovery secret: authenticates header and contents, decrypts.
pub fn open(kit: &[u8], secret: &RecoverySecret) -> Result<(KitHeader, KitBody), KitError> {
    let (header, at) = read_header(kit)?;
    let given = secret.public_hex().map_err(KitError::Malformed)?;
    if given != header.recovery_key {
        return Err(KitError::WrongKey {
            kit: header.recovery_key,
            given,
        });
    }
    let enc = kit
        .get(at..at + 32)
        .ok_or_else(|| KitError::Malformed("encapsulated key cut short".into()))?;
    let ct = kit
        .get(at + 32..)
        .filter(|c| c.len() >= 16)
        .ok_or_else(|| KitError::Malformed("ciphertext cut short".into()))?;
    let enc = <Kem as hpke::Kem>::EncappedKey::from_bytes(enc).map_err(|_| KitError::Tampered)?;
    let sk = <Kem as hpke::Kem>::PrivateKey::from_bytes(secret.bytes())
        .map_err(|e| KitError::Malformed(format!("recovery secret: {e}")))?;
    let plain = Zeroizing::new(
        hpke::single_shot_open::<Aead, Kdf, Kem>(&OpModeR::Base, &sk, &enc, INFO, ct, &kit[..at])
            .map_err(|_| KitError::Tampered)?,
    );
    let body: KitBody = mpc_protocol::decode(&plain, MAX_KIT_BYTES)
        .map_err(|e| KitError::Malformed(format!("contents: {e}")))?;
    if body.card.node_id != header.node_id {
        return Err(KitError::Tampered);
    }
    Ok((header, body))
}
