//! # mpc-protocol
//!
//! Sans-IO building blocks shared by every mpc-node component. Nothing in this crate performs I/O,
//! reads a clock or touches a global RNG.
//!
//! What it holds:
//! - [`codec`]: the bounded CBOR codec (ciborium) used for every binary message that crosses a
//!   process boundary (peer-to-peer requests, persisted records). Sizes are checked *before*
//!   decoding, and decoding arbitrary bytes never panics.
//! - [`limits`]: the size limits, in one place; [`domain`]: domain-separation tags and protocol
//!   names, in one place.
//! - [`session`]: the `Session` trait (`start` / `handle(from, bytes)`, RNG as a parameter, three
//!   error kinds) and the wire envelope; [`frost`] (DKG, nonces, signing for ed25519, secp256k1
//!   and secp256k1-tr) and [`ecdsa`] (cggmp21 aux info, keygen, presigning, signing, bound
//!   presignatures) as sessions; [`sim`]: an in-process network to run them in tests.
//! - [`channel`]: Noise KK peer channels for session messages (the handshake takes the caller's
//!   RNG).
//! - [`chain`]: chain formats — parse a payload into an intent and the messages to sign, derive
//!   wallet keys and addresses, assemble and verify signed transactions (Ethereum, Bitcoin
//!   P2WPKH / P2TR, Solana).
//!
//! Invariants:
//! - `decode` rejects input longer than the caller's limit without looking at its contents.
//! - `encode` followed by `decode` yields the original value (property-tested).
//! - Randomness is always a caller-supplied RNG; `clippy.toml` bans wall clocks and OS
//!   randomness here, and `.ci/run` keeps I/O crates out of the dependency tree.
//!
//! Proactive refresh: every key type through frost-core's refresh DKG ([`frost::dkg::DkgMode`],
//! [`ecdsa::refresh`] for cggmp21 shares). Share repair: [`frost::repair`] (and
//! [`ecdsa::refresh::repair_session`]); committee changes: [`ecdsa::reshare`]. Resharing to
//! another threshold is not built (decision 0026).

pub mod agree;
pub mod chain;
pub mod channel;
pub mod codec;
pub mod domain;
pub mod ecdsa;
pub mod frost;
pub mod limits;
pub mod session;
pub mod sim;

pub use codec::{decode, encode, CodecError};
