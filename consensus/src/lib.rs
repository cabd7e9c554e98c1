//! # mpc-consensus
//!
//! Replication of the custody state ([`mpc_custody`]) with openraft: the adapters that let
//! openraft store, apply and carry it.
//!
//! Bird's-eye view:
//! - [`raft`]: the openraft type configuration (log entries are [`mpc_custody::entry`]).
//! - [`store`]: sled-backed log store and state-machine store (flushed before Raft is told a write
//!   is durable; the vote is persisted). No snapshots are built or installed (decision 0012).
//! - [`network`]: openraft's network traits implemented over a small [`network::RaftTransport`]
//!   trait, which the node implements over libp2p request-response.
//! - [`rpc`]: the Raft RPC messages; [`rpc_guard`]: incoming Raft RPCs checked against the sender's authenticated identity.
//!
//! Invariants: an I/O error inside the store is fatal to the Raft node; `apply` itself is
//! [`mpc_custody::state::CustodyState::apply`], deterministic and panic-free.

pub mod error;
pub mod network;
pub mod raft;
pub mod rpc;
pub mod rpc_guard;
pub mod store;

pub use error::ConsensusError;
