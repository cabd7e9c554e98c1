//! Passphrase-sealed secrets.
//!
//! A sealed file is JSON: a versioned header with the Argon2id parameters and salt, the public
//! part of the file (`public`, any JSON) and the XChaCha20-Poly1305 nonce and ciphertext. The key is
//! `Argon2id(passphrase, salt, m, t, p)`; the associated data is
//! `purpose-tag || version || canonical JSON of (kdf, public)`, so changing the parameters, the
//! public part or the purpose makes decryption fail.

use crate::error::BootstrapError;
use argon2::{Algorithm, Argon2, Params, Version};
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use rand::RngCore;
use serde::{Deserialize, Serialize};
use std::io::Write;
use std::path::Path;
use zeroize::Zeroizing;

/// Current file format version.
pub const SEALED_VERSION: u32 = 1;
/// Weakest accepted Argon2id memory cost, KiB (OWASP's minimum for Argon2id).
pub const MIN_MEMORY_KIB: u32 = 19 * 1024;
/// Weakest accepted Argon2id iteration count.
pub const MIN_ITERATIONS: u32 = 2;
/// Largest sealed file read, bytes.
pub const MAX_SEALED_FILE_BYTES: u64 = 64 * 1024;

/// Argon2id parameters, stored in the header.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KdfParams {
    /// Always `argon2id`.
    pub algorithm: KdfAlgorithm,
    /// Memory cost, KiB.
    pub memory_kib: u32,
    /// Iterations.
    pub iterations: u32,
    /// Lanes.
    pub parallelism: u32,
}

/// The only accepted KDF.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum KdfAlgorithm {
    /// Argon2id v1.3.
    Argon2id,
}

impl Default for KdfParams {
    fn default() -> Self {
        KdfParams {
            algorithm: KdfAlgorithm::Argon2id,
            memory_kib: 64 * 1024,
            iterations: 3,
            parallelism: 1,
        }
    }
}

impl KdfParams {
    /// Exactly the floor (19 MiB, 2 iterations, 1 lane): the cheapest parameters still accepted.
    /// For tests and local test networks, where start-up time matters more than brute-force cost.
    pub const fn floor() -> Self {
        KdfParams {
            algorithm: KdfAlgorithm::Argon2id,
            memory_kib: MIN_MEMORY_KIB,
            iterations: MIN_ITERATIONS,
            parallelism: 1,
        }
    }

    /// Refuses parameters below the floor.
    pub fn check_floor(&self) -> Result<(), BootstrapError> {
        if self.memory_kib < MIN_MEMORY_KIB
            || self.iterations < MIN_ITERATIONS
            || self.parallelism < 1
        {
            return Err(BootstrapError::WeakParameters(format!(
                "memory {} KiB (min {MIN_MEMORY_KIB}), iterations {} (min {MIN_ITERATIONS}), parallelism {} (min 1)",
                self.memory_kib, self.iterations, self.parallelism
            )));
        }
        if self.memory_kib > 4 * 1024 * 1024 || self.iterations > 100 || self.parallelism > 16 {
            return Err(BootstrapError::WeakParameters(
                "parameters are unreasonably large (max 4 GiB, 100 iterations, 16 lanes)".into(),
            ));
        }
        Ok(())
    }
}

/// The file as stored.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SealedFile {
    /// Format version.
    pub version: u32,
    /// KDF parameters.
    pub kdf: KdfParams,
    /// Argon2 salt (hex, 16 bytes).
    pub salt: String,
    /// Public contents, authenticated but not encrypted.
    pub public: serde_json::Value,
    /// XChaCha20 nonce (hex, 24 bytes).
    pub nonce: String,
    /// Ciphertext with tag (hex).
    pub ciphertext: String,
}

#[derive(Serialize)]
struct AdFields<'a> {
    version: u32,
    kdf: &'a KdfParams,
    public: &'a serde_json::Value,
}

fn associated_data(purpose: &[u8], file: &SealedFile) -> Result<Vec<u8>, BootstrapError> {
    let mut ad = purpose.to_vec();
    let fields = AdFields {
        version: file.version,
        kdf: &file.kdf,
        public: &file.public,
    };
    ad.extend(
        serde_json::to_vec(&fields)
            .map_err(|e| BootstrapError::invalid("sealed file", e.to_string()))?,
    );
    Ok(ad)
}

/// Derives a 256-bit key from `passphrase` with Argon2id; refuses parameters below the floor.
pub fn derive_key(
    passphrase: &[u8],
    salt: &[u8],
    kdf: &KdfParams,
) -> Result<Zeroizing<[u8; 32]>, BootstrapError> {
    kdf.check_floor()?;
    let params = Params::new(kdf.memory_kib, kdf.iterations, kdf.parallelism, Some(32))
        .map_err(|e| BootstrapError::WeakParameters(e.to_string()))?;
    let mut key = Zeroizing::new([0u8; 32]);
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
        .hash_password_into(passphrase, salt, key.as_mut())
        .map_err(|e| BootstrapError::invalid("passphrase", e.to_string()))?;
    Ok(key)
}

/// Encrypts `secret` under `passphrase`, authenticating `public` and `purpose`.
pub fn seal(
    purpose: &[u8],
    passphrase: &[u8],
    kdf: KdfParams,
    public: serde_json::Value,
    secret: &[u8],
) -> Result<SealedFile, BootstrapError> {
    if passphrase.is_empty() {
        return Err(BootstrapError::NoPassphrase(
            "the passphrase is empty".into(),
        ));
    }
    let mut rng = rand::rngs::OsRng;
    let mut salt = [0u8; 16];
    rng.fill_bytes(&mut salt);
    let mut nonce = [0u8; 24];
    rng.fill_bytes(&mut nonce);
    let mut file = SealedFile {
        version: SEALED_VERSION,
        kdf,
        salt: hex::encode(salt),
        public,
        nonce: hex::encode(nonce),
        ciphertext: String::new(),
    };
    let key = derive_key(passphrase, &salt, &kdf)?;
    let ad = associated_data(purpose, &file)?;
    let cipher = XChaCha20Poly1305::new(chacha20poly1305::Key::from_slice(&key[..]));
    let ct = cipher
        .encrypt(
            XNonce::from_slice(&nonce),
            Payload {
                msg: secret,
                aad: &ad,
            },
        )
        .map_err(|_| BootstrapError::invalid("sealed file", "encryption failed"))?;
    file.ciphertext = hex::encode(ct);
    Ok(file)
}

/// Decrypts a sealed file. Any change to the header, the public part or the ciphertext, or a
/// wrong passphrase, yields [`BootstrapError::WrongPassphrase`].
pub fn open(
    purpose: &[u8],
    passphrase: &[u8],
    file: &SealedFile,
    path: &Path,
) -> Result<Zeroizing<Vec<u8>>, BootstrapError> {
    if file.version != SEALED_VERSION {
        return Err(BootstrapError::invalid(
            "sealed file",
            format!("unsupported version {}", file.version),
        ));
    }
    let salt = hex::decode(&file.salt)
        .map_err(|_| BootstrapError::invalid("sealed file", "salt is not hex"))?;
    let nonce: [u8; 24] = hex::decode(&file.nonce)
        .ok()
        .and_then(|n| n.try_into().ok())
        .ok_or_else(|| BootstrapError::invalid("sealed file", "nonce must be 24 bytes of hex"))?;
    let ct = hex::decode(&file.ciphertext)
        .map_err(|_| BootstrapError::invalid("sealed file", "ciphertext is not hex"))?;
    let key = derive_key(passphrase, &salt, &file.kdf)?;
    let ad = associated_data(purpose, file)?;
    let cipher = XChaCha20Poly1305::new(chacha20poly1305::Key::from_slice(&key[..]));
    cipher
        .decrypt(XNonce::from_slice(&nonce), Payload { msg: &ct, aad: &ad })
        .map(Zeroizing::new)
        .map_err(|_| BootstrapError::WrongPassphrase(path.to_path_buf()))
}

/// Reads and parses a sealed file (size-bounded).
pub fn read_file(path: &Path) -> Result<SealedFile, BootstrapError> {
    let text = read_bounded(path, MAX_SEALED_FILE_BYTES)?;
    serde_json::from_str(&text).map_err(|e| BootstrapError::invalid("sealed file", e.to_string()))
}

/// Reads a UTF-8 file of at most `max_bytes`.
pub fn read_bounded(path: &Path, max_bytes: u64) -> Result<String, BootstrapError> {
    let meta = std::fs::metadata(path).map_err(|e| BootstrapError::io(path, e))?;
    if meta.len() > max_bytes {
        return Err(BootstrapError::invalid(
            "file",
            format!(
                "{} is {} bytes, more than {max_bytes}",
                path.display(),
                meta.len()
            ),
        ));
    }
    std::fs::read_to_string(path).map_err(|e| BootstrapError::io(path, e))
}

/// Writes `contents` to `path` atomically (temp file, fsync, rename), mode 0600 on Unix.
/// Refuses to overwrite unless `overwrite` is set.
pub fn write_atomic(path: &Path, contents: &[u8], overwrite: bool) -> Result<(), BootstrapError> {
    if !overwrite && path.exists() {
        return Err(BootstrapError::AlreadyExists(path.to_path_buf()));
    }
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).map_err(|e| BootstrapError::io(dir, e))?;
    let tmp = path.with_extension("tmp");
    {
        let mut opts = std::fs::OpenOptions::new();
        opts.write(true).create(true).truncate(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            opts.mode(0o600);
        }
        let mut f = opts.open(&tmp).map_err(|e| BootstrapError::io(&tmp, e))?;
        f.write_all(contents)
            .map_err(|e| BootstrapError::io(&tmp, e))?;
        f.sync_all().map_err(|e| BootstrapError::io(&tmp, e))?;
    }
    std::fs::rename(&tmp, path).map_err(|e| BootstrapError::io(path, e))?;
    if let Ok(d) = std::fs::File::open(dir) {
        let _ = d.sync_all();
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const PURPOSE: &[u8] = b"test-purpose\n";

    #[test]
    fn seal_open_round_trip() {
        let f = seal(
            PURPOSE,
            b"pw",
            KdfParams::floor(),
            serde_json::json!({"id": 1}),
            b"secret",
        )
        .unwrap();
        let out = open(PURPOSE, b"pw", &f, Path::new("x")).unwrap();
        assert_eq!(&out[..], b"secret");
    }

    #[test]
    fn wrong_passphrase_tamper_and_purpose_fail() {
        let f = seal(
            PURPOSE,
            b"pw",
            KdfParams::floor(),
            serde_json::json!({"id": 1}),
            b"secret",
        )
        .unwrap();
        let p = Path::new("x");
        assert!(matches!(
            open(PURPOSE, b"nope", &f, p),
            Err(BootstrapError::WrongPassphrase(_))
        ));
        assert!(matches!(
            open(b"other\n", b"pw", &f, p),
            Err(BootstrapError::WrongPassphrase(_))
        ));
        let mut t = f.clone();
        t.public = serde_json::json!({"id": 2});
        assert!(matches!(
            open(PURPOSE, b"pw", &t, p),
            Err(BootstrapError::WrongPassphrase(_))
        ));
        let mut t = f.clone();
        let mut ct = hex::decode(&t.ciphertext).unwrap();
        ct[0] ^= 1;
        t.ciphertext = hex::encode(ct);
        assert!(matches!(
            open(PURPOSE, b"pw", &t, p),
            Err(BootstrapError::WrongPassphrase(_))
        ));
        let mut t = f;
        t.kdf.iterations += 1;
        assert!(matches!(
            open(PURPOSE, b"pw", &t, p),
            Err(BootstrapError::WrongPassphrase(_))
        ));
    }

    #[test]
    fn parameters_below_floor_are_refused() {
        let weak = KdfParams {
            memory_kib: 1024,
            ..KdfParams::floor()
        };
        assert!(matches!(
            seal(PURPOSE, b"pw", weak, serde_json::Value::Null, b"s"),
            Err(BootstrapError::WeakParameters(_))
        ));
        let mut f = seal(
            PURPOSE,
            b"pw",
            KdfParams::floor(),
            serde_json::Value::Null,
            b"s",
        )
        .unwrap();
        f.kdf.iterations = 1;
        assert!(matches!(
            open(PURPOSE, b"pw", &f, Path::new("x")),
            Err(BootstrapError::WeakParameters(_))
        ));
    }
}
