//! # mpc-protocol
//!
//! Sans-IO building blocks shared by every mpc-node component. Nothing in this crate performs I/O,
//! reads a clock or touches a global RNG.
//!
//! Today it holds:
//! - [`codec`]: the bounded CBOR codec (ciborium) used for every binary message that crosses a
//!   process boundary (peer-to-peer requests, persisted records). Sizes are checked *before*
//!   decoding, and decoding arbitrary bytes never panics.
//! - [`limits`]: the size limits, in one place.
//! - [`domain`]: domain-separation tags and protocol names, in one place.
//!
//! Invariants:
//! - `decode` rejects input longer than the caller's limit without looking at its contents.
//! - `encode` followed by `decode` yields the original value (property-tested).
//!
//! Caveats: the threshold-signature sessions (DKG, presign, sign, refresh) and chain formats that
//! the architecture places here are not built yet.

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
