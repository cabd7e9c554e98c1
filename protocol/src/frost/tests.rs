//! FROST session tests: every curve, (2,3) and (3,5), every t-subset, faults, refresh.
//! Seeded: set MPC_TEST_SEED to replay; the seed is printed when a test fails.

use super::dkg::{DkgMessage, DkgMode, DkgOutput, FrostDkg};
use super::nonces::{NonceError, NonceStore};
use super::sign::FrostSign;
use super::{Ed25519, Secp256k1, Secp256k1Tr};
use crate::session::{PartyIndex, Session, SessionError, SessionId};
use crate::sim::{self, Delivery};
use frost_core::Ciphersuite;
use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng;
use std::collections::BTreeMap;

/// A seeded RNG that prints its seed if the test panics.
pub(crate) struct Seeded {
    pub seed: u64,
    pub rng: ChaCha20Rng,
}

impl Seeded {
    pub fn new() -> Self {
        let seed = std::env::var("MPC_TEST_SEED")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| {
                let mut b = [0u8; 8];
                getrandom_fill(&mut b);
                u64::from_le_bytes(b)
            });
        Seeded {
            seed,
            rng: ChaCha20Rng::seed_from_u64(seed),
        }
    }
}

fn getrandom_fill(b: &mut [u8]) {
    use rand_core::RngCore;
    rand_core::OsRng.fill_bytes(b);
}

impl Drop for Seeded {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!("test failed with MPC_TEST_SEED={}", self.seed);
        }
    }
}

fn parties(n: u16) -> Vec<PartyIndex> {
    (1..=n).map(PartyIndex).collect()
}

fn sid(tag: u8) -> SessionId {
    SessionId([tag; 32])
}

fn dkg<C: Ciphersuite>(n: u16, t: u16, s: &mut Seeded) -> BTreeMap<PartyIndex, DkgOutput<C>> {
    let ps = parties(n);
    let sessions = ps
        .iter()
        .map(|p| {
            (
                *p,
                FrostDkg::<C>::new(sid(1), *p, &ps, t, DkgMode::Fresh).unwrap(),
            )
        })
        .collect();
    let res = sim::run(sessions, &mut s.rng, sim::honest);
    assert!(res.rejected.is_empty());
    res.outputs
        .into_iter()
        .map(|(p, o)| (p, o.unwrap()))
        .collect()
}

fn sign<C: Ciphersuite>(
    keys: &BTreeMap<PartyIndex, DkgOutput<C>>,
    signers: &[PartyIndex],
    msg: &[u8],
    session: SessionId,
    s: &mut Seeded,
    hook: impl FnMut(PartyIndex, PartyIndex, &mut Vec<u8>) -> Delivery,
) -> sim::SimResult<frost_core::Signature<C>> {
    let mut stores: BTreeMap<PartyIndex, NonceStore<C>> = BTreeMap::new();
    let mut commitments = BTreeMap::new();
    let mut ids = BTreeMap::new();
    for p in signers {
        let mut store = NonceStore::default();
        let (id, c) = store
            .generate(&keys[p].key_package, 1, &mut s.rng)
            .remove(0);
        commitments.insert(*p, c);
        ids.insert(*p, id);
        stores.insert(*p, store);
    }
    let sessions = signers
        .iter()
        .map(|p| {
            let nonces = stores.get_mut(p).unwrap().take(ids[p]).unwrap();
            let k = &keys[p];
            (
                *p,
                FrostSign::new(
                    session,
                    *p,
                    k.key_package.clone(),
                    k.public_key_package.clone(),
                    msg,
                    &commitments,
                    nonces,
                )
                .unwrap(),
            )
        })
        .collect();
    sim::run(sessions, &mut s.rng, hook)
}

fn group_key<C: Ciphersuite>(keys: &BTreeMap<PartyIndex, DkgOutput<C>>) -> Vec<u8> {
    let mut all: Vec<Vec<u8>> = keys
        .values()
        .map(|k| k.public_key_package.verifying_key().serialize().unwrap())
        .collect();
    all.dedup();
    assert_eq!(all.len(), 1, "parties disagree on the group key");
    all.remove(0)
}

/// Runs DKG then signs with every t-subset, checking each signature with `verify`.
fn every_subset_signs<C: Ciphersuite>(n: u16, t: u16, verify: impl Fn(&[u8], &[u8], &[u8])) {
    let mut s = Seeded::new();
    let keys = dkg::<C>(n, t, &mut s);
    let gk = group_key(&keys);
    let msg = [0x5au8; 32];
    for (i, subset) in sim::subsets(&parties(n), t as usize)
        .into_iter()
        .enumerate()
    {
        let res = sign(
            &keys,
            &subset,
            &msg,
            sid(100 + i as u8),
            &mut s,
            sim::honest,
        );
        let mut sigs = Vec::new();
        for (p, o) in res.outputs {
            let sig = o.unwrap_or_else(|e| panic!("{p} in {subset:?}: {e}"));
            sigs.push(sig.serialize().unwrap());
        }
        sigs.dedup();
        assert_eq!(sigs.len(), 1, "signers produced different signatures");
        keys[&subset[0]]
            .public_key_package
            .verifying_key()
            .verify(
                &msg,
                &frost_core::Signature::<C>::deserialize(&sigs[0]).unwrap(),
            )
            .unwrap();
        verify(&gk, &msg, &sigs[0]);
    }
}

fn verify_ed25519(pk: &[u8], msg: &[u8], sig: &[u8]) {
    let pk = ed25519_dalek::VerifyingKey::from_bytes(pk.try_into().unwrap()).unwrap();
    let sig = ed25519_dalek::Signature::from_slice(sig).unwrap();
    pk.verify_strict(msg, &sig)
        .expect("ed25519-dalek rejects the FROST signature");
}

fn verify_bip340(pk: &[u8], msg: &[u8], sig: &[u8]) {
    // The group key serialises as a 33-byte compressed point; BIP-340 keys are its x coordinate.
    let x_only = if pk.len() == 33 { &pk[1..] } else { pk };
    let vk = k256::schnorr::VerifyingKey::from_bytes(x_only).unwrap();
    let sig = k256::schnorr::Signature::try_from(sig).unwrap();
    vk.verify_raw(msg, &sig)
        .expect("BIP-340 verifier rejects the FROST signature");
}

fn verify_secp256k1_frost(pk: &[u8], msg: &[u8], sig: &[u8]) {
    // FROST(secp256k1, SHA-256) signatures are RFC 9591 Schnorr, not ECDSA or BIP-340: recheck
    // R + c·PK = z·G with k256 arithmetic directly, independently of frost-core's verifier.
    use k256::elliptic_curve::group::GroupEncoding;
    use k256::elliptic_curve::ops::Reduce;
    use k256::elliptic_curve::sec1::FromEncodedPoint;
    use k256::{AffinePoint, EncodedPoint, ProjectivePoint, Scalar, U256};
    use sha2::{Digest, Sha256};
    let point = |b: &[u8]| -> ProjectivePoint {
        let ep = EncodedPoint::from_bytes(b).unwrap();
        ProjectivePoint::from(
            Option::<AffinePoint>::from(AffinePoint::from_encoded_point(&ep)).unwrap(),
        )
    };
    let r = point(&sig[..33]);
    let z = <Scalar as Reduce<U256>>::reduce_bytes(sig[33..].into());
    let pk_point = point(pk);
    // H2 = hash_to_field(R || PK || m) with expand_message_xmd(SHA-256), DST "FROST-secp256k1-SHA256-v1chal".
    let dst = b"FROST-secp256k1-SHA256-v1chal";
    let mut input = Vec::new();
    input.extend_from_slice(&r.to_bytes());
    input.extend_from_slice(&pk_point.to_bytes());
    input.extend_from_slice(msg);
    let c = hash_to_scalar_xmd(&input, dst);
    assert_eq!(
        ProjectivePoint::GENERATOR * z,
        r + pk_point * c,
        "secp256k1 FROST signature fails the independent check"
    );
    fn hash_to_scalar_xmd(msg: &[u8], dst: &[u8]) -> Scalar {
        // RFC 9380 expand_message_xmd, len_in_bytes = 48, then reduce mod n.
        let len = 48usize;
        let mut dst_prime = dst.to_vec();
        dst_prime.push(dst.len() as u8);
        let mut h = Sha256::new();
        h.update([0u8; 64]);
        h.update(msg);
        h.update((len as u16).to_be_bytes());
        h.update([0u8]);
        h.update(&dst_prime);
        let b0 = h.finalize();
        let mut h = Sha256::new();
        h.update(b0);
        h.update([1u8]);
        h.update(&dst_prime);
        let b1 = h.finalize();
        let mut x = [0u8; 32];
        for (i, b) in x.iter_mut().enumerate() {
            *b = b0[i] ^ b1[i];
        }
        let mut h = Sha256::new();
        h.update(x);
        h.update([2u8]);
        h.update(&dst_prime);
        let b2 = h.finalize();
        let mut uniform = [0u8; 48];
        uniform[..32].copy_from_slice(&b1);
        uniform[32..].copy_from_slice(&b2[..16]);
        // Reduce a 384-bit big-endian integer mod n: hi * 2^256 + lo.
        let mut hi = [0u8; 32];
        hi[16..].copy_from_slice(&uniform[..16]);
        let mut lo = [0u8; 32];
        lo.copy_from_slice(&uniform[16..]);
        let two_256 = <Scalar as Reduce<U256>>::reduce(U256::MAX) + Scalar::ONE;
        <Scalar as Reduce<U256>>::reduce_bytes(&hi.into()) * two_256
            + <Scalar as Reduce<U256>>::reduce_bytes(&lo.into())
    }
}

#[test]
fn ed25519_2_of_3_and_3_of_5() {
    every_subset_signs::<Ed25519>(3, 2, verify_ed25519);
    every_subset_signs::<Ed25519>(5, 3, verify_ed25519);
}

#[test]
fn secp256k1_tr_2_of_3_and_3_of_5() {
    every_subset_signs::<Secp256k1Tr>(3, 2, verify_bip340);
    every_subset_signs::<Secp256k1Tr>(5, 3, verify_bip340);
}

#[test]
fn secp256k1_2_of_3_and_3_of_5() {
    every_subset_signs::<Secp256k1>(3, 2, verify_secp256k1_frost);
    every_subset_signs::<Secp256k1>(5, 3, verify_secp256k1_frost);
}

#[test]
fn corrupted_dkg_share_aborts_and_names_the_sender() {
    let mut s = Seeded::new();
    let ps = parties(3);
    let sessions = ps
        .iter()
        .map(|p| {
            (
                *p,
                FrostDkg::<Ed25519>::new(sid(2), *p, &ps, 2, DkgMode::Fresh).unwrap(),
            )
        })
        .collect();
    // Party 2's secret share to party 1 is replaced by a share for another polynomial.
    let mut other = Seeded::new();
    let bogus = {
        let sessions = ps
            .iter()
            .map(|p| {
                (
                    *p,
                    FrostDkg::<Ed25519>::new(sid(2), *p, &ps, 2, DkgMode::Fresh).unwrap(),
                )
            })
            .collect();
        let mut captured = None;
        let _ = sim::run(sessions, &mut other.rng, |from, to, bytes| {
            if from == PartyIndex(2) && to == PartyIndex(1) && is_round(bytes, 3) {
                captured = Some(bytes.clone());
            }
            Delivery::Deliver
        });
        captured.unwrap()
    };
    let res = sim::run(sessions, &mut s.rng, |from, to, bytes| {
        if from == PartyIndex(2) && to == PartyIndex(1) && is_round(bytes, 3) {
            *bytes = bogus.clone();
        }
        Delivery::Deliver
    });
    match &res.outputs[&PartyIndex(1)] {
        Err(SessionError::Abort { culprits, .. }) => assert_eq!(culprits, &vec![PartyIndex(2)]),
        other => panic!(
            "party 1 should abort naming party 2, got {other:?}",
            other = other.as_ref().map(|_| "a key")
        ),
    }
}

fn is_round(bytes: &[u8], round: u16) -> bool {
    crate::decode::<crate::session::Envelope<ciborium::Value>>(bytes, 1 << 20)
        .map(|e| e.round == round)
        .unwrap_or(false)
}

#[test]
fn equivocation_in_dkg_round_1_leaves_no_honest_party_with_a_key() {
    let mut s = Seeded::new();
    let ps = parties(3);
    let sessions = ps
        .iter()
        .map(|p| {
            (
                *p,
                FrostDkg::<Secp256k1Tr>::new(sid(3), *p, &ps, 2, DkgMode::Fresh).unwrap(),
            )
        })
        .collect();
    // Party 3 sends party 2 a different (but well-formed) round-1 package than party 1 gets.
    let mut other = Seeded::new();
    let alt = {
        let sessions = ps
            .iter()
            .map(|p| {
                (
                    *p,
                    FrostDkg::<Secp256k1Tr>::new(sid(3), *p, &ps, 2, DkgMode::Fresh).unwrap(),
                )
            })
            .collect();
        let mut captured = None;
        let _ = sim::run(sessions, &mut other.rng, |from, to, bytes| {
            if from == PartyIndex(3) && to == PartyIndex(2) && is_round(bytes, 1) {
                captured = Some(bytes.clone());
            }
            Delivery::Deliver
        });
        captured.unwrap()
    };
    let mut shares_sent = 0;
    let res = sim::run(sessions, &mut s.rng, |from, to, bytes| {
        if from == PartyIndex(3) && to == PartyIndex(2) && is_round(bytes, 1) {
            *bytes = alt.clone();
        }
        if is_round(bytes, 3) && from != PartyIndex(3) {
            shares_sent += 1;
        }
        Delivery::Deliver
    });
    for p in [PartyIndex(1), PartyIndex(2)] {
        assert!(
            matches!(res.outputs[&p], Err(SessionError::Abort { .. })),
            "honest {p} must not get a key"
        );
    }
    assert_eq!(
        shares_sent, 0,
        "honest parties sent secret shares before the echo check"
    );
}

#[test]
fn corrupted_signature_share_names_the_culprit() {
    let mut s = Seeded::new();
    let keys = dkg::<Ed25519>(3, 2, &mut s);
    let signers = [PartyIndex(1), PartyIndex(3)];
    let res = sign(
        &keys,
        &signers,
        b"msg",
        sid(4),
        &mut s,
        |from, _to, bytes| {
            if from == PartyIndex(3) {
                // Flip a bit in the share's scalar (last bytes of the envelope).
                let n = bytes.len();
                bytes[n - 2] ^= 1;
            }
            Delivery::Deliver
        },
    );
    match &res.outputs[&PartyIndex(1)] {
        Err(SessionError::Abort { culprits, .. }) => assert_eq!(culprits, &vec![PartyIndex(3)]),
        Err(e) => panic!("expected an abort naming party 3, got {e}"),
        Ok(_) => panic!("a corrupted share produced a signature"),
    }
}

#[test]
fn replayed_and_cross_session_messages_are_rejected() {
    let mut s = Seeded::new();
    let ps = parties(3);
    let mut a = FrostDkg::<Ed25519>::new(sid(5), PartyIndex(1), &ps, 2, DkgMode::Fresh).unwrap();
    let mut b = FrostDkg::<Ed25519>::new(sid(5), PartyIndex(2), &ps, 2, DkgMode::Fresh).unwrap();
    let mut other =
        FrostDkg::<Ed25519>::new(sid(6), PartyIndex(2), &ps, 2, DkgMode::Fresh).unwrap();
    let _ = a.start(&mut s.rng).unwrap();
    let msg_b = b.start(&mut s.rng).unwrap().remove(0).bytes;
    let msg_other = other.start(&mut s.rng).unwrap().remove(0).bytes;
    assert!(a.handle(PartyIndex(2), &msg_b, &mut s.rng).is_ok());
    let replay = a.handle(PartyIndex(2), &msg_b, &mut s.rng).unwrap_err();
    assert!(
        matches!(replay, SessionError::Rejected { .. }) && replay.to_string().contains("replay"),
        "{replay}"
    );
    let cross = a.handle(PartyIndex(2), &msg_other, &mut s.rng).unwrap_err();
    assert!(cross.to_string().contains("another session"), "{cross}");
    let spoofed = a.handle(PartyIndex(3), &msg_b, &mut s.rng).unwrap_err();
    assert!(spoofed.to_string().contains("authenticated"), "{spoofed}");
    let garbage = a
        .handle(PartyIndex(3), &[0xff, 0x00, 0x13], &mut s.rng)
        .unwrap_err();
    assert!(matches!(garbage, SessionError::Rejected { .. }));
}

#[test]
fn nonces_are_single_use() {
    let mut s = Seeded::new();
    let keys = dkg::<Ed25519>(3, 2, &mut s);
    let mut store = NonceStore::<Ed25519>::default();
    let generated = store.generate(&keys[&PartyIndex(1)].key_package, 2, &mut s.rng);
    let id = generated[0].0;
    assert!(store.take(id).is_ok());
    assert_eq!(store.take(id).unwrap_err(), NonceError::AlreadyUsed(id));
    assert_eq!(store.available(), 1);
    // A session cannot be started twice with the same nonces.
    let mut commitments = BTreeMap::new();
    let mut store2 = NonceStore::<Ed25519>::default();
    let (i1, c1) = store2
        .generate(&keys[&PartyIndex(1)].key_package, 1, &mut s.rng)
        .remove(0);
    let (_, c2) = NonceStore::<Ed25519>::default()
        .generate(&keys[&PartyIndex(2)].key_package, 1, &mut s.rng)
        .remove(0);
    commitments.insert(PartyIndex(1), c1);
    commitments.insert(PartyIndex(2), c2);
    let k = &keys[&PartyIndex(1)];
    let mut session = FrostSign::new(
        sid(7),
        PartyIndex(1),
        k.key_package.clone(),
        k.public_key_package.clone(),
        b"m",
        &commitments,
        store2.take(i1).unwrap(),
    )
    .unwrap();
    assert!(session.start(&mut s.rng).is_ok());
    assert!(matches!(
        session.start(&mut s.rng),
        Err(SessionError::Bug(_))
    ));
}

/// Refresh sessions of every party's key (2-of-n).
fn refresh_sessions<C: Ciphersuite>(
    keys: &BTreeMap<PartyIndex, DkgOutput<C>>,
    tag: u8,
) -> BTreeMap<PartyIndex, FrostDkg<C>> {
    let ps: Vec<PartyIndex> = keys.keys().copied().collect();
    keys.iter()
        .map(|(p, k)| {
            let mode = DkgMode::Refresh {
                key_package: Box::new(k.key_package.clone()),
                public_key_package: Box::new(k.public_key_package.clone()),
            };
            (*p, FrostDkg::<C>::new(sid(tag), *p, &ps, 2, mode).unwrap())
        })
        .collect()
}

#[test]
fn refresh_keeps_the_group_key_and_changes_the_shares() {
    let mut s = Seeded::new();
    let keys = dkg::<Secp256k1Tr>(3, 2, &mut s);
    let gk = group_key(&keys);
    let ps = parties(3);
    let sessions = refresh_sessions(&keys, 8);
    let res = sim::run(sessions, &mut s.rng, sim::honest);
    let refreshed: BTreeMap<_, _> = res
        .outputs
        .into_iter()
        .map(|(p, o)| (p, o.unwrap()))
        .collect();
    assert_eq!(group_key(&refreshed), gk);
    for p in &ps {
        assert_ne!(
            refreshed[p].key_package.signing_share().serialize(),
            keys[p].key_package.signing_share().serialize(),
            "share of {p} did not change"
        );
    }
    let msg = [7u8; 32];
    let res = sign(
        &refreshed,
        &[PartyIndex(2), PartyIndex(3)],
        &msg,
        sid(9),
        &mut s,
        sim::honest,
    );
    let sig = res.outputs[&PartyIndex(2)]
        .as_ref()
        .unwrap()
        .serialize()
        .unwrap();
    verify_bip340(&gk, &msg, &sig);
}

mod properties {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]

        #[test]
        fn arbitrary_bytes_into_a_session_are_rejected_not_panics(
            bytes in proptest::collection::vec(any::<u8>(), 0..2048),
            from in 1u16..=4,
        ) {
            let mut rng = ChaCha20Rng::seed_from_u64(1);
            let ps = parties(3);
            let mut dkg = FrostDkg::<Ed25519>::new(sid(1), PartyIndex(1), &ps, 2, DkgMode::Fresh).unwrap();
            dkg.start(&mut rng).unwrap();
            let r = dkg.handle(PartyIndex(from), &bytes, &mut rng);
            let rejected = matches!(r, Err(SessionError::Rejected { .. }));
            prop_assert!(rejected, "not rejected");
        }

        #[test]
        fn envelope_round_trip(round in 1u16..=3, sender in 1u16..=5, tag in any::<u8>(), digest in any::<[u8; 32]>()) {
            use crate::session::Envelope;
            use super::super::dkg::DkgMessage;
            let env = Envelope { session_id: sid(tag), round, sender: PartyIndex(sender), body: DkgMessage::<Ed25519>::Echo(digest) };
            let bytes = env.encode().unwrap();
            let back: Envelope<DkgMessage<Ed25519>> = Envelope::open(&bytes, PartyIndex(sender), &sid(tag), |r| r == round).unwrap();
            prop_assert_eq!(back.round, round);
            let same = matches!(back.body, DkgMessage::Echo(d) if d == digest);
            prop_assert!(same, "body changed");
        }
    }
}

/// Two-round signing with wallet-tweaked packages: the signature verifies, with independent
/// implementations, under the wallet key the chain module derives from the group key alone.
#[test]
fn online_signing_with_wallet_tweak_verifies_independently() {
    use super::online::FrostSignOnline;
    use crate::chain::{keys, Chain, KeyType, Network};
    let mut s = Seeded::new();
    // ed25519 (Solana wallets), checked with ed25519-dalek.
    let keys_ed = dkg::<Ed25519>(3, 2, &mut s);
    let gk = group_key(&keys_ed);
    let t = keys::frost_tweak::<Ed25519>(KeyType::Ed25519, &gk, Chain::Solana, Network::Testnet, 3)
        .unwrap();
    let child = keys::frost_child_key::<Ed25519>(&gk, t).unwrap();
    let signers = [PartyIndex(1), PartyIndex(3)];
    let sessions = signers
        .iter()
        .map(|p| {
            let (kp, pkp) = keys::frost_tweak_packages(
                &keys_ed[p].key_package,
                &keys_ed[p].public_key_package,
                t,
            );
            (
                *p,
                FrostSignOnline::new(sid(9), *p, &signers, kp, pkp, b"solana message").unwrap(),
            )
        })
        .collect();
    let res = sim::run(sessions, &mut s.rng, sim::honest);
    let sig = res.outputs[&PartyIndex(1)]
        .as_ref()
        .unwrap()
        .serialize()
        .unwrap();
    let vk = ed25519_dalek::VerifyingKey::from_bytes(&child.clone().try_into().unwrap()).unwrap();
    vk.verify_strict(
        b"solana message",
        &ed25519_dalek::Signature::from_slice(&sig).unwrap(),
    )
    .unwrap();
    // secp256k1-tr (Taproot wallets), checked with k256's BIP-340 verifier against the x-only key.
    let keys_tr = dkg::<Secp256k1Tr>(3, 2, &mut s);
    let gk = group_key(&keys_tr);
    let t = keys::frost_tweak::<Secp256k1Tr>(
        KeyType::Secp256k1Tr,
        &gk,
        Chain::BitcoinP2tr,
        Network::Mainnet,
        0,
    )
    .unwrap();
    let child = keys::frost_child_key::<Secp256k1Tr>(&gk, t).unwrap();
    let signers = [PartyIndex(2), PartyIndex(3)];
    let msg = [7u8; 32];
    let sessions = signers
        .iter()
        .map(|p| {
            let (kp, pkp) = keys::frost_tweak_packages(
                &keys_tr[p].key_package,
                &keys_tr[p].public_key_package,
                t,
            );
            (
                *p,
                FrostSignOnline::new(sid(10), *p, &signers, kp, pkp, &msg).unwrap(),
            )
        })
        .collect();
    let res = sim::run(sessions, &mut s.rng, sim::honest);
    let sig = res.outputs[&PartyIndex(3)]
        .as_ref()
        .unwrap()
        .serialize()
        .unwrap();
    let x = &child[child.len() - 32..];
    let vk = k256::schnorr::VerifyingKey::from_bytes(x).unwrap();
    vk.verify_raw(
        &msg,
        &k256::schnorr::Signature::try_from(sig.as_slice()).unwrap(),
    )
    .unwrap();
    // A signer outside the set cannot join: its messages are rejected.
    assert!(res.rejected.is_empty());
}

/// Invariant 4 for two-round signing: the nonces exist only inside one session; a second
/// `start` (which would commit again and could reuse or leak them) is refused.
#[test]
fn online_signing_session_cannot_start_twice() {
    use super::online::FrostSignOnline;
    let mut s = Seeded::new();
    let keys = dkg::<Ed25519>(3, 2, &mut s);
    let signers = [PartyIndex(1), PartyIndex(2)];
    let k = &keys[&PartyIndex(1)];
    let mut session = FrostSignOnline::new(
        sid(11),
        PartyIndex(1),
        &signers,
        k.key_package.clone(),
        k.public_key_package.clone(),
        b"m",
    )
    .unwrap();
    assert!(session.start(&mut s.rng).is_ok());
    assert!(matches!(
        session.start(&mut s.rng),
        Err(SessionError::Bug(_))
    ));
}

#[test]
fn refresh_with_a_bad_sub_share_names_the_sender_and_changes_no_share() {
    let mut s = Seeded::new();
    let keys = dkg::<Ed25519>(3, 2, &mut s);
    let sessions = refresh_sessions(&keys, 10);
    // Party 2's round-3 sub-share to party 3 is a well-formed scalar off by one.
    let res = sim::run(sessions, &mut s.rng, |from, to, bytes| {
        if from == PartyIndex(2) && to == PartyIndex(3) && is_round(bytes, 3) {
            let mut env: crate::session::Envelope<DkgMessage<Ed25519>> =
                crate::decode(bytes, 1 << 20).unwrap();
            if let DkgMessage::Share(pkg) = &env.body {
                let bad = pkg.signing_share().to_scalar() + curve25519_dalek::Scalar::ONE;
                env.body = DkgMessage::Share(frost_core::keys::dkg::round2::Package::new(
                    frost_core::keys::SigningShare::new(bad),
                ));
                *bytes = env.encode().unwrap();
            }
        }
        Delivery::Deliver
    });
    match &res.outputs[&PartyIndex(3)] {
        Err(SessionError::Abort { culprits, .. }) => assert_eq!(culprits, &vec![PartyIndex(2)]),
        Err(e) => panic!("party 3 should abort naming party 2, got {e}"),
        Ok(_) => panic!("party 3 accepted a bad sub-share"),
    }
}

mod batch;
mod membership;
mod preprocess;
mod repair;
