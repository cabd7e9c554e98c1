//! # mpc-cli
//!
//! The thin client behind the `mpc` command: a blocking JSON-RPC client ([`client`]) and helpers to
//! build and sign custody commands with a local user key ([`sign`]), and builders of unsigned
//! transactions for the demo and tests ([`txbuild`]), a WebSocket client for request status
//! subscriptions ([`watch`]), and TLS with each node's certificate pinned from the genesis ([`tls`]). Used by the `mpc` binary and
//! by the end-to-end tests.

pub mod client;
pub mod sign;
pub mod tls;
pub mod txbuild;
pub mod verify;
pub mod watch;
