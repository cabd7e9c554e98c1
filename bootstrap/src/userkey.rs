//! Ed25519 user keys (admins, approvers, initiators) in passphrase-sealed files.

use crate::error::BootstrapError;
use crate::sealed::{self, KdfParams};
use ed25519_dalek::SigningKey;
use mpc_protocol::domain;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::path::Path;

/// Public part of a user key file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UserKeyPublic {
    /// Label chosen at creation.
    pub name: String,
    /// Ed25519 public key (hex).
    pub public_key: String,
}

/// A decrypted user key. `Debug` is redacted; the signing key zeroizes itself on drop.
pub struct UserKeyFile {
    /// Public part.
    pub public: UserKeyPublic,
    /// The signing key.
    pub signing_key: SigningKey,
}

impl fmt::Debug for UserKeyFile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UserKeyFile")
            .field("public", &self.public)
            .field("signing_key", &"<redacted>")
            .finish()
    }
}

impl UserKeyFile {
    /// Generates a key and seals it at `path` (never overwriting).
    pub fn create(
        path: &Path,
        name: &str,
        passphrase: &[u8],
        kdf: KdfParams,
    ) -> Result<Self, BootstrapError> {
        let signing_key = SigningKey::generate(&mut rand::rngs::OsRng);
        let public = UserKeyPublic {
            name: name.to_string(),
            public_key: hex::encode(signing_key.verifying_key().to_bytes()),
        };
        let pub_json = serde_json::to_value(&public)
            .map_err(|e| BootstrapError::invalid("user key", e.to_string()))?;
        let file = sealed::seal(
            domain::USER_KEY_FILE_AD,
            passphrase,
            kdf,
            pub_json,
            signing_key.as_bytes(),
        )?;
        let json = serde_json::to_vec_pretty(&file)
            .map_err(|e| BootstrapError::invalid("user key", e.to_string()))?;
        sealed::write_atomic(path, &json, false)?;
        Ok(UserKeyFile {
            public,
            signing_key,
        })
    }

    /// Opens a sealed user key file.
    pub fn load(path: &Path, passphrase: &[u8]) -> Result<Self, BootstrapError> {
        let file = sealed::read_file(path)?;
        let plain = sealed::open(domain::USER_KEY_FILE_AD, passphrase, &file, path)?;
        let public: UserKeyPublic = serde_json::from_value(file.public.clone())
            .map_err(|e| BootstrapError::invalid("user key", e.to_string()))?;
        let seed: [u8; 32] = plain
            .as_slice()
            .try_into()
            .map_err(|_| BootstrapError::invalid("user key", "secret has the wrong length"))?;
        let signing_key = SigningKey::from_bytes(&seed);
        if hex::encode(signing_key.verifying_key().to_bytes()) != public.public_key {
            return Err(BootstrapError::invalid(
                "user key",
                "public key does not match the secret",
            ));
        }
        Ok(UserKeyFile {
            public,
            signing_key,
        })
    }

    /// Reads only the public part (no passphrase needed).
    pub fn read_public(path: &Path) -> Result<UserKeyPublic, BootstrapError> {
        let file = sealed::read_file(path)?;
        serde_json::from_value(file.public)
            .map_err(|e| BootstrapError::invalid("user key", e.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn create_and_load() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("alice.key");
        let kdf = KdfParams::floor();
        let k = UserKeyFile::create(&p, "alice", b"pw", kdf).unwrap();
        let back = UserKeyFile::load(&p, b"pw").unwrap();
        assert_eq!(back.public, k.public);
        assert_eq!(UserKeyFile::read_public(&p).unwrap(), k.public);
        assert!(matches!(
            UserKeyFile::load(&p, b"x"),
            Err(BootstrapError::WrongPassphrase(_))
        ));
        assert!(!format!("{back:?}").contains(&hex::encode(back.signing_key.as_bytes())));
    }
}
