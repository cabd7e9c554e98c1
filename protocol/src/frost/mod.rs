//! FROST (RFC 9591) threshold Schnorr sessions, generic over the ciphersuite:
//! [`Ed25519`], [`Secp256k1`] and [`Secp256k1Tr`] (BIP-340 / Taproot).
//!
//! - [`dkg::FrostDkg`]: Pedersen DKG (RFC 9591 appendix C / frost-core `keys::dkg`) with an **echo
//!   broadcast** of round 1, so that a party that sends different commitments to different peers
//!   makes every honest party abort before any secret share is sent; also key **refresh** with the
//!   same threshold (`keys::refresh`).
//! - [`repair::FrostRepair`]: t helpers give a participant the share at an identifier (a lost
//!   share, or a new identifier) without reconstructing the key — frost-core's repairable
//!   threshold scheme with commitments that name a cheating helper.
//! - [`nonces::NonceStore`]: pre-generated nonce commitments (RFC 9591 §5.1), each usable once.
//! - [`preprocess::FrostPreprocess`]: one round that makes a batch of nonce pairs for a fixed
//!   signer set and exchanges their commitments, so that signing with them is one round.
//! - [`sign::FrostSign`]: one signing session among a fixed signer set with pre-published
//!   commitments (RFC 9591 §5.2), every signer aggregating and verifying; invalid shares name
//!   their senders.
//! - [`sign_batch::FrostSignBatch`]: many such signatures (each its own key, message and nonces)
//!   in one session among the same signers; each item succeeds or fails alone.

pub mod dkg;
pub mod nonces;
pub mod online;
pub mod preprocess;
pub mod repair;
pub mod sign;
pub mod sign_batch;
pub mod workload;

#[cfg(test)]
mod tests;

use crate::session::{PartyIndex, SessionError};
use frost_core::{Ciphersuite, Identifier};

/// FROST(Ed25519, SHA-512).
pub type Ed25519 = frost_ed25519::Ed25519Sha512;
/// FROST(secp256k1, SHA-256).
pub type Secp256k1 = frost_secp256k1::Secp256K1Sha256;
/// FROST(secp256k1, SHA-256) with BIP-340 challenges (Taproot).
pub type Secp256k1Tr = frost_secp256k1_tr::Secp256K1Sha256TR;

/// The FROST identifier of a party.
pub fn identifier<C: Ciphersuite>(p: PartyIndex) -> Result<Identifier<C>, SessionError> {
    Identifier::try_from(p.0).map_err(|e| SessionError::Bug(format!("party index {}: {e}", p.0)))
}

/// Maps FROST culprit identifiers back to party indices.
pub(crate) fn culprits<C: Ciphersuite>(
    ids: &[Identifier<C>],
    parties: &[PartyIndex],
) -> Vec<PartyIndex> {
    parties
        .iter()
        .copied()
        .filter(|p| {
            identifier::<C>(*p)
                .map(|i| ids.contains(&i))
                .unwrap_or(false)
        })
        .collect()
}

/// Turns a frost-core error into an abort naming its culprits.
pub(crate) fn abort<C: Ciphersuite>(
    e: frost_core::Error<C>,
    parties: &[PartyIndex],
    what: &str,
) -> SessionError {
    SessionError::Abort {
        culprits: culprits(&e.culprits(), parties),
        reason: format!("{what}: {e}"),
    }
}
