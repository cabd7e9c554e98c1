//! # mpc-consensus
//!
//! The replicated custody state of an mpc-node network and the adapters that let openraft
//! replicate it.
//!
//! Bird's-eye view:
//! - [`command`]: what users sign. A [`command::SignedCommand`] carries the exact JSON text of a
//!   [`command::CommandBody`], the signer's Ed25519 public key and a signature over a
//!   domain-separated hash of that text. Nodes verify it before proposing; `apply` verifies again.
//! - [`state`]: [`state::CustodyState`], the pure, deterministic state machine: organisations,
//!   members with roles, user keys, idempotency records and the hash-chained [`audit`] log.
//!   `apply` takes its timestamp and position from the log entry, never from a clock.
//! - [`raft`]: the openraft type configuration and the request/response types carried in the log.
//! - [`store`]: sled-backed log store and state-machine store (flushed before Raft is told a write
//!   is durable; the vote is persisted), with snapshots.
//! - [`network`]: openraft's network traits implemented over a small [`network::RaftTransport`]
//!   trait, so that the node can carry Raft RPCs over libp2p and tests can carry them in memory.
//!
//! Invariants:
//! - `apply` is deterministic: same state + same entry ⇒ same outcome and same next state. A
//!   failed command (bad signature, missing role, unknown org …) is a recorded outcome, never a
//!   panic; an I/O error inside the store is fatal to the Raft node.
//! - A command with the same signer and idempotency key is applied at most once; a replay returns
//!   the first outcome.
//! - Every applied command appends one audit entry whose hash covers the previous entry's hash.
//!
//! Caveats: the whole custody state is held in memory and persisted record by record; very large
//! audit logs will want paging from disk.

pub mod audit;
pub mod command;
pub mod custody;
pub mod error;
pub mod network;
pub mod raft;
pub mod rpc_guard;
pub mod state;
pub mod store;
pub mod types;

pub use error::ConsensusError;
