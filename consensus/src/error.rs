//! Errors of the consensus crate.

/// Errors raised outside `apply` (which records failures as outcomes instead).
#[derive(Debug, thiserror::Error)]
pub enum ConsensusError {
    /// A signed command could not be verified or parsed.
    #[error("invalid command: {0}")]
    InvalidCommand(String),
    /// The sled database failed.
    #[error("storage error: {0}")]
    Storage(#[from] sled::Error),
    /// A persisted record could not be decoded.
    #[error("corrupt record: {0}")]
    Corrupt(String),
}
