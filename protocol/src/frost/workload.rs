//! The library alone, for benchmarks: a t-of-n FROST DKG and signatures with every party in one
//! thread through the in-process network ([`crate::sim`]), messages CBOR-encoded and decoded as
//! on the wire. `cargo bench --bench frost` and `mpc-signbench` time these to compare the node
//! against the cryptography it runs (timing is the caller's: this crate has no clock).

use super::dkg::{DkgMode, DkgOutput, FrostDkg};
use super::nonces::NonceStore;
use super::sign::FrostSign;
use crate::session::{PartyIndex, SessionError, SessionId};
use crate::sim;
use frost_core::Ciphersuite;
use rand_core::{CryptoRng, RngCore};
use std::collections::BTreeMap;

/// Every party's key package after a t-of-n DKG among parties 1..=n.
pub fn dkg<C: Ciphersuite, R: RngCore + CryptoRng>(
    n: u16,
    t: u16,
    rng: &mut R,
    tag: u8,
) -> Result<BTreeMap<PartyIndex, DkgOutput<C>>, SessionError> {
    let ps: Vec<PartyIndex> = (1..=n).map(PartyIndex).collect();
    let mut sessions = BTreeMap::new();
    for p in &ps {
        let s = FrostDkg::<C>::new(SessionId([tag; 32]), *p, &ps, t, DkgMode::Fresh)?;
        sessions.insert(*p, s);
    }
    sim::run(sessions, rng, sim::honest)
        .outputs
        .into_iter()
        .map(|(p, o)| o.map(|o| (p, o)))
        .collect()
}

/// One signature of a 32-byte message by parties 1..=t: each takes a fresh nonce pair, signs,
/// and aggregates and verifies the signature (as every signer of the node does).
pub fn sign_once<C: Ciphersuite, R: RngCore + CryptoRng>(
    keys: &BTreeMap<PartyIndex, DkgOutput<C>>,
    t: u16,
    rng: &mut R,
    tag: u8,
) -> Result<(), SessionError> {
    let signers: Vec<PartyIndex> = (1..=t).map(PartyIndex).collect();
    let key = |p: &PartyIndex| {
        keys.get(p)
            .ok_or_else(|| SessionError::Bug("no key package for a signer".into()))
    };
    let mut commitments = BTreeMap::new();
    let mut nonces = BTreeMap::new();
    for p in &signers {
        let mut store = NonceStore::default();
        let (id, c) = store
            .generate(&key(p)?.key_package, 1, rng)
            .pop()
            .ok_or_else(|| SessionError::Bug("no nonce generated".into()))?;
        commitments.insert(*p, c);
        nonces.insert(
            *p,
            store
                .take(id)
                .map_err(|e| SessionError::Bug(e.to_string()))?,
        );
    }
    let mut sessions = BTreeMap::new();
    for p in &signers {
        let k = key(p)?;
        let nonce = nonces
            .remove(p)
            .ok_or_else(|| SessionError::Bug("no nonce".into()))?;
        let s = FrostSign::new(
            SessionId([tag; 32]),
            *p,
            k.key_package.clone(),
            k.public_key_package.clone(),
            &[9u8; 32],
            &commitments,
            nonce,
        )?;
        sessions.insert(*p, s);
    }
    for (_, out) in sim::run(sessions, rng, sim::honest).outputs {
        out?;
    }
    Ok(())
}
