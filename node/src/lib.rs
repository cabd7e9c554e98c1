//! # mpc-node
//!
//! The daemon each custodian runs. It wires the pure parts (`mpc-custody`, `mpc-protocol`) and their
//! replication (`mpc-consensus`) to
//! the outside world:
//! - [`p2p`]: libp2p (TCP + Noise + Yamux, identify, connection limits, allow-list of genesis
//!   peers, gossipsub heartbeats, request-response for Raft and forwarded requests);
//! - [`transport`]: openraft's network over that request-response protocol;
//! - [`cluster`]: submitting signed commands (forwarded to the leader when needed), read
//!   barriers for linearizable reads, serving peers' requests;
//! - [`rpc`]: the JSON-RPC 2.0 server (HTTP + WebSocket on one port);
//! - [`node`]: start-up (identity, genesis pinning, stores, Raft, tasks) and shutdown;
//! - [`heartbeat`]: signed status heartbeats and their validation;
//! - [`share_store`]: the encrypted share store (key shares, nonces, presignatures at rest);
//! - [`primes`]: this node's Paillier primes (made by `mpc-node init`, sealed in the share store).
//!
//! Invariants: only genesis peers may connect; every peer message is size-bounded before it is
//! decoded; a write is acknowledged only once committed (sled flushed on a quorum); the node
//! refuses to start on a wrong passphrase or a genesis other than the one it pinned.
//!
//! - [`sessions`]: threshold-session messages over per-session Noise KK channels;
//! - [`runner`]: runs aux info, vault DKG and signing when committed state asks for them.
//!
//! Caveats: membership is fixed by the genesis (no joins yet); reads are not authenticated.

pub mod backup;
pub mod chain_watch;
pub mod cli;
pub mod clock;
pub mod cluster;
pub mod config;
pub mod console;
#[cfg(feature = "forge-for-tests")]
pub mod forge;
pub mod fuzz_targets;
mod group_commit;
pub mod heartbeat;
pub mod metrics;
pub mod node;
pub mod p2p;
pub mod primes;
pub mod rate_limit;
pub mod rpc;
pub mod runner;
pub mod sessions;
pub mod share_store;
pub mod transport;
