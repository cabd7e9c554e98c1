//! Errors of the bootstrap crate.

use std::path::PathBuf;

/// What went wrong while creating or opening identity, key or genesis files.
#[derive(Debug, thiserror::Error)]
pub enum BootstrapError {
    /// The passphrase did not open the file (or the file was tampered with).
    #[error("wrong passphrase, or the file {0} was modified")]
    WrongPassphrase(PathBuf),
    /// A file exists where a new one would be created.
    #[error("{0} already exists; refusing to overwrite it")]
    AlreadyExists(PathBuf),
    /// The file's KDF parameters are weaker than the floor.
    #[error("key-derivation parameters below the floor: {0}")]
    WeakParameters(String),
    /// A document is structurally invalid.
    #[error("invalid {what}: {reason}")]
    Invalid {
        /// Which document.
        what: &'static str,
        /// Why.
        reason: String,
    },
    /// The genesis hash differs from the one this node was started with before.
    #[error("genesis hash {found} differs from the pinned {pinned}; refusing to start")]
    GenesisMismatch {
        /// Hash pinned in the data directory.
        pinned: String,
        /// Hash of the genesis given now.
        found: String,
    },
    /// No passphrase could be obtained.
    #[error("no passphrase: {0}")]
    NoPassphrase(String),
    /// File-system error.
    #[error("{path}: {source}")]
    Io {
        /// File concerned.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
}

impl BootstrapError {
    pub(crate) fn io(path: &std::path::Path, source: std::io::Error) -> Self {
        BootstrapError::Io {
            path: path.to_path_buf(),
            source,
        }
    }

    pub(crate) fn invalid(what: &'static str, reason: impl Into<String>) -> Self {
        BootstrapError::Invalid {
            what,
            reason: reason.into(),
        }
    }
}
