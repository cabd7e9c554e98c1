//! # mpc-chains
//!
//! Chain adapters: the I/O at the edge of an mpc-node network (issue 12). Each adapter talks to
//! one provider of one chain and network — balances, nonces, fee suggestions, broadcast,
//! receipts. They are conveniences and observers: the custody state machine never calls them,
//! and no signer's policy decision rests on their answers (a provider may lie; the node parses
//! the exact bytes it signs).
//!
//! - [`eth`]: Ethereum JSON-RPC (tested against a local `anvil`, `testnet/tests/chains.rs`).
//!
//! Every call is bounded: a per-call timeout and a response-size limit.

pub mod eth;

/// What an adapter call can fail with.
#[derive(Debug, thiserror::Error)]
pub enum ChainError {
    /// The provider could not be reached or did not answer in time.
    #[error("provider unreachable: {0}")]
    Transport(String),
    /// The provider answered with an error.
    #[error("provider error {code}: {message}")]
    Provider {
        /// The provider's error code.
        code: i64,
        /// Its message.
        message: String,
    },
    /// The provider answered something this adapter cannot read.
    #[error("malformed answer: {0}")]
    Malformed(String),
}
