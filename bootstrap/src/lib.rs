//! # mpc-bootstrap
//!
//! Everything a node needs before it can join a network:
//! - [`sealed`]: passphrase-encrypted files (Argon2id + XChaCha20-Poly1305, parameters and salt in
//!   a versioned header, refused below a floor, associated data binding the file's purpose and
//!   public contents);
//! - [`identity`]: the node identity — a libp2p Ed25519 key and an X25519 static key for Noise —
//!   sealed at rest, and its public [`identity::IdentityCard`];
//! - [`genesis`]: the genesis document built from N identity cards, the threshold and the initial
//!   admin keys, its validation and its hash; pinning of that hash in a node's data directory;
//! - [`userkey`]: Ed25519 user keys (admins, approvers) in sealed files;
//! - [`passphrase`]: reading the operator's passphrase from `MPC_PASSPHRASE`, a file or a prompt.
//!
//! Invariants: secrets are zeroized on drop and never printed (`Debug` is redacted); a wrong
//! passphrase or a tampered file is an error and changes nothing on disk; files are written to a
//! temporary name, synced and renamed, so a crash never leaves a half-written key file.

pub mod error;
pub mod genesis;
pub mod identity;
pub mod passphrase;
pub mod sealed;
pub mod userkey;

pub use error::BootstrapError;
