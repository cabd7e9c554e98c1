//! cggmp21 session tests on INSECURE fixture primes (tests/fixtures): aux info, keygen, presign,
//! sign from presignature, full sign, HD paths, the RUSTSEC-2025-0127 rules, faults. Every
//! signature is checked with k256's ECDSA verifier.

use super::*;
use crate::session::{PartyIndex, Session, SessionError, SessionId};
use crate::sim::{self, Delivery};
use k256::ecdsa::signature::hazmat::PrehashVerifier;
use rand_core::SeedableRng;
use std::collections::BTreeMap;
use std::sync::OnceLock;

const PRIMES: &str = include_str!("../../tests/fixtures/INSECURE-test-only-paillier-primes.json");

fn fixture_primes(n: usize) -> Vec<Primes> {
    let v: serde_json::Value = serde_json::from_str(PRIMES).unwrap();
    v["parties"].as_array().unwrap()[..n]
        .iter()
        .map(|p| {
            let int = |k: &str| {
                cggmp21::rug::Integer::from_str_radix(p[k].as_str().unwrap(), 16).unwrap()
            };
            Primes::new(int("p"), int("q")).unwrap()
        })
        .collect()
}

fn parties(n: u16) -> Vec<PartyIndex> {
    (1..=n).map(PartyIndex).collect()
}

fn rngs(n: usize, seed: u64) -> Vec<ChaCha20Rng> {
    (0..n)
        .map(|i| ChaCha20Rng::seed_from_u64(seed * 1000 + i as u64))
        .collect()
}

struct Committee {
    shares: BTreeMap<PartyIndex, EcdsaKeyShare>,
}

fn committee(n: u16, t: u16) -> Committee {
    let ps = parties(n);
    let sid_aux = SessionId([n as u8; 32]);
    let mut rs = rngs(n as usize, 1);
    let sessions: BTreeMap<_, _> = ps
        .iter()
        .zip(fixture_primes(n as usize))
        .zip(rs.iter_mut())
        .map(|((p, primes), r)| (*p, aux_info(&sid_aux, *p, &ps, primes, r).unwrap()))
        .collect();
    let aux = sim::run(sessions, &mut ChaCha20Rng::seed_from_u64(0), sim::honest);
    let sid_kg = SessionId([100 + n as u8; 32]);
    let mut rs = rngs(n as usize, 2);
    let sessions: BTreeMap<_, _> = ps
        .iter()
        .zip(rs.iter_mut())
        .map(|(p, r)| (*p, keygen(&sid_kg, *p, &ps, t, r).unwrap()))
        .collect();
    let kg = sim::run(sessions, &mut ChaCha20Rng::seed_from_u64(0), sim::honest);
    let mut aux_out = aux.outputs;
    let shares = kg
        .outputs
        .into_iter()
        .map(|(p, inc)| {
            let a = aux_out.remove(&p).unwrap().unwrap();
            (p, complete(inc.unwrap(), a).unwrap())
        })
        .collect();
    Committee { shares }
}

fn c_2_of_3() -> &'static Committee {
    static C: OnceLock<Committee> = OnceLock::new();
    C.get_or_init(|| committee(3, 2))
}

fn c_3_of_5() -> &'static Committee {
    static C: OnceLock<Committee> = OnceLock::new();
    C.get_or_init(|| committee(5, 3))
}

fn keygen_indices(signers: &[PartyIndex]) -> Vec<u16> {
    signers.iter().map(|p| p.0 - 1).collect()
}

fn k256_verify(
    public: &cggmp21::generic_ec::Point<Secp256k1>,
    digest: &MessageDigest,
    sig: &cggmp21::Signature<Secp256k1>,
) {
    let vk = k256::ecdsa::VerifyingKey::from_sec1_bytes(&public.to_bytes(true)).unwrap();
    let mut raw = [0u8; 64];
    sig.write_to_slice(&mut raw);
    let s = k256::ecdsa::Signature::from_slice(&raw).unwrap();
    vk.verify_prehash(&digest.bytes(), &s)
        .expect("k256 rejects the threshold ECDSA signature");
}

fn presign_all(
    c: &Committee,
    signers: &[PartyIndex],
    path: &[u32],
    tag: u8,
) -> BTreeMap<PartyIndex, Result<cggmp21::Presignature<Secp256k1>, SessionError>> {
    let sid = SessionId([tag; 32]);
    let idx = keygen_indices(signers);
    let mut rs = rngs(signers.len(), 3 + tag as u64);
    let sessions: BTreeMap<_, _> = signers
        .iter()
        .zip(rs.iter_mut())
        .map(|(p, r)| {
            (
                *p,
                presign(&sid, *p, signers, &idx, &c.shares[p], path, r).unwrap(),
            )
        })
        .collect();
    sim::run(sessions, &mut ChaCha20Rng::seed_from_u64(0), sim::honest).outputs
}

fn sign_with_presignatures(c: &Committee, signers: &[PartyIndex], path: &[u32], tag: u8) {
    let presigs = presign_all(c, signers, path, tag);
    let digest = MessageDigest::sha256(format!("transfer #{tag}").as_bytes());
    let partials: Vec<_> = presigs
        .into_values()
        .map(|p| {
            BoundPresignature::new("key-1", path, p.unwrap())
                .issue("key-1", path, &digest)
                .unwrap()
        })
        .collect();
    let public = child_public_key(&c.shares[&signers[0]], path).unwrap();
    let sig = combine(&partials, &public, &digest).unwrap();
    k256_verify(&public, &digest, &sig);
}

fn full_sign(c: &Committee, signers: &[PartyIndex], path: &[u32], tag: u8) {
    let sid = SessionId([tag; 32]);
    let idx = keygen_indices(signers);
    let digest = MessageDigest::sha256(b"full signing");
    let mut rs = rngs(signers.len(), 50 + tag as u64);
    let sessions: BTreeMap<_, _> = signers
        .iter()
        .zip(rs.iter_mut())
        .map(|(p, r)| {
            (
                *p,
                sign(&sid, *p, signers, &idx, &c.shares[p], path, &digest, r).unwrap(),
            )
        })
        .collect();
    let out = sim::run(sessions, &mut ChaCha20Rng::seed_from_u64(0), sim::honest).outputs;
    let public = child_public_key(&c.shares[&signers[0]], path).unwrap();
    for (_, sig) in out {
        k256_verify(&public, &digest, &sig.unwrap().normalize_s());
    }
}

#[test]
fn every_party_derives_the_same_public_key() {
    for c in [c_2_of_3(), c_3_of_5()] {
        let mut keys: Vec<_> = c
            .shares
            .values()
            .map(|s| s.shared_public_key.to_bytes(true).to_vec())
            .collect();
        keys.dedup();
        assert_eq!(keys.len(), 1);
    }
}

#[test]
fn every_2_of_3_subset_signs_from_presignatures() {
    for (i, s) in sim::subsets(&parties(3), 2).iter().enumerate() {
        sign_with_presignatures(c_2_of_3(), s, &[0, 7], 10 + i as u8);
    }
    sign_with_presignatures(c_2_of_3(), &[PartyIndex(1), PartyIndex(3)], &[], 20);
}

/// Every 2-of-3 subset is covered above; for 3-of-5, four subsets in which every party signs,
/// with the lowest and the highest index both in and out (each presigning of three costs ≈ 11 s
/// of CI in a debug build; all ten subsets took 110 s).
#[test]
fn spread_of_3_of_5_subsets_signs_from_presignatures() {
    let all = sim::subsets(&parties(5), 3);
    let spread =
        [[1, 2, 3], [3, 4, 5], [1, 4, 5], [2, 3, 5]].map(|ids| ids.map(PartyIndex).to_vec());
    for (i, s) in spread.iter().enumerate() {
        assert!(all.contains(s));
        sign_with_presignatures(c_3_of_5(), s, &[44, 0, 1], 30 + i as u8);
    }
}

#[test]
fn full_interactive_signing() {
    full_sign(c_2_of_3(), &[PartyIndex(2), PartyIndex(3)], &[5], 60);
    full_sign(
        c_3_of_5(),
        &[PartyIndex(1), PartyIndex(4), PartyIndex(5)],
        &[],
        61,
    );
}

#[test]
fn presignature_is_bound_to_its_key_and_path() {
    let c = c_2_of_3();
    let signers = [PartyIndex(1), PartyIndex(2)];
    let mut presigs = presign_all(c, &signers, &[1], 70);
    let digest = MessageDigest::sha256(b"m");
    let p = presigs.remove(&PartyIndex(1)).unwrap().unwrap();
    let err = BoundPresignature::new("key-1", &[1], p.clone())
        .issue("key-1", &[2], &digest)
        .unwrap_err();
    assert!(matches!(err, EcdsaError::WrongBinding { .. }));
    let err = BoundPresignature::new("key-1", &[1], p)
        .issue("key-2", &[1], &digest)
        .unwrap_err();
    assert!(matches!(err, EcdsaError::WrongBinding { .. }));
}

#[test]
fn partials_over_different_digests_do_not_combine() {
    let c = c_2_of_3();
    let signers = [PartyIndex(1), PartyIndex(3)];
    let presigs = presign_all(c, &signers, &[], 71);
    let d1 = MessageDigest::sha256(b"pay alice");
    let d2 = MessageDigest::sha256(b"pay mallory");
    let partials: Vec<_> = presigs
        .into_iter()
        .zip([d1, d2])
        .map(|((_, p), d)| {
            BoundPresignature::new("k", &[], p.unwrap())
                .issue("k", &[], &d)
                .unwrap()
        })
        .collect();
    let public = child_public_key(&c.shares[&PartyIndex(1)], &[]).unwrap();
    assert_eq!(
        combine(&partials, &public, &d1).unwrap_err(),
        EcdsaError::Combine
    );
}

#[test]
fn corrupted_presigning_message_aborts_cleanly() {
    let c = c_2_of_3();
    let signers = [PartyIndex(1), PartyIndex(2)];
    let sid = SessionId([72; 32]);
    let idx = keygen_indices(&signers);
    let mut rs = rngs(2, 72);
    let sessions: BTreeMap<_, _> = signers
        .iter()
        .zip(rs.iter_mut())
        .map(|(p, r)| {
            (
                *p,
                presign(&sid, *p, &signers, &idx, &c.shares[p], &[], r).unwrap(),
            )
        })
        .collect();
    let mut n = 0;
    let res = sim::run(
        sessions,
        &mut ChaCha20Rng::seed_from_u64(0),
        |from, _to, bytes| {
            n += 1;
            if from == PartyIndex(2) && n == 3 {
                let len = bytes.len();
                bytes[len / 2] ^= 0x40;
            }
            Delivery::Deliver
        },
    );
    // The corrupted message is either rejected as malformed (then the run stalls) or fails a
    // proof: either way no party ends with a presignature from it.
    assert!(
        res.outputs.values().any(|o| o.is_err()),
        "a corrupted message went unnoticed"
    );
}

#[test]
fn replayed_and_cross_session_messages_are_rejected() {
    let c = c_2_of_3();
    let signers = [PartyIndex(1), PartyIndex(2)];
    let idx = keygen_indices(&signers);
    let (sid_a, sid_b) = (SessionId([73; 32]), SessionId([74; 32]));
    let mut rs = rngs(3, 73);
    let (r1, rest) = rs.split_at_mut(1);
    let (r2, r3) = rest.split_at_mut(1);
    let mut a1 = presign(
        &sid_a,
        PartyIndex(1),
        &signers,
        &idx,
        &c.shares[&PartyIndex(1)],
        &[],
        &mut r1[0],
    )
    .unwrap();
    let mut a2 = presign(
        &sid_a,
        PartyIndex(2),
        &signers,
        &idx,
        &c.shares[&PartyIndex(2)],
        &[],
        &mut r2[0],
    )
    .unwrap();
    let mut b2 = presign(
        &sid_b,
        PartyIndex(2),
        &signers,
        &idx,
        &c.shares[&PartyIndex(2)],
        &[],
        &mut r3[0],
    )
    .unwrap();
    let mut rng = ChaCha20Rng::seed_from_u64(1);
    a1.start(&mut rng).unwrap();
    let m2 = a2.start(&mut rng).unwrap().remove(0).bytes;
    let other = b2.start(&mut rng).unwrap().remove(0).bytes;
    assert!(a1.handle(PartyIndex(2), &m2, &mut rng).is_ok());
    let e = a1.handle(PartyIndex(2), &m2, &mut rng).err().unwrap();
    assert!(e.to_string().contains("replay"), "{e}");
    let e = a1.handle(PartyIndex(2), &other, &mut rng).err().unwrap();
    assert!(e.to_string().contains("another session"), "{e}");
    let e = a1.handle(PartyIndex(3), &m2, &mut rng).err().unwrap();
    assert!(matches!(e, SessionError::Rejected { .. }), "{e}");
}

fn online_sessions(
    c: &Committee,
    signers: &[PartyIndex],
    path: &[u32],
    tag: u8,
    digest: MessageDigest,
) -> BTreeMap<PartyIndex, super::online::EcdsaPresigSign> {
    let presigs = presign_all(c, signers, path, tag);
    let public = child_public_key(&c.shares[&signers[0]], path).unwrap();
    let pk = public.to_bytes(true).to_vec();
    presigs
        .into_iter()
        .map(|(p, pre)| {
            // Through the stored form, as the node keeps it.
            let stored = crate::encode(
                &BoundPresignature::new("wallet-1", path, pre.unwrap()).into_stored(),
            )
            .unwrap();
            let back = BoundPresignature::from_stored(crate::decode(&stored, 1 << 20).unwrap());
            let s = super::online::EcdsaPresigSign::new(
                SessionId([tag ^ 0xff; 32]),
                p,
                signers,
                back,
                "wallet-1",
                path,
                digest,
                &pk,
            )
            .unwrap();
            (p, s)
        })
        .collect()
}

#[test]
fn online_signing_from_stored_presignatures_is_one_round_and_verifies() {
    let c = c_2_of_3();
    let signers = [PartyIndex(1), PartyIndex(3)];
    let path = [60, 2];
    let digest = MessageDigest::sha256(b"pool transfer");
    let sessions = online_sessions(c, &signers, &path, 90, digest);
    let mut messages = 0;
    let out = sim::run(sessions, &mut ChaCha20Rng::seed_from_u64(1), |_, _, _| {
        messages += 1;
        sim::Delivery::Deliver
    });
    // One partial from each signer to the other: a single round.
    assert_eq!(messages, 2);
    let public = child_public_key(&c.shares[&signers[0]], &path).unwrap();
    for (_, sig) in out.outputs {
        k256_verify(&public, &digest, &sig.unwrap());
    }
}

#[test]
fn online_signing_rejects_a_tampered_partial() {
    let c = c_2_of_3();
    let signers = [PartyIndex(1), PartyIndex(2)];
    let digest = MessageDigest::sha256(b"pool transfer 2");
    let sessions = online_sessions(c, &signers, &[60, 3], 91, digest);
    let out = sim::run(
        sessions,
        &mut ChaCha20Rng::seed_from_u64(2),
        |from, _, bytes| {
            if from == PartyIndex(2) {
                // Re-encode the envelope with another sigma: still well-formed, wrong value.
                let mut env: crate::session::Envelope<cggmp21::PartialSignature<Secp256k1>> =
                    crate::decode(bytes, 1 << 20).unwrap();
                env.body.sigma += cggmp21::generic_ec::Scalar::one();
                *bytes = env.encode().unwrap();
            }
            sim::Delivery::Deliver
        },
    );
    // Party 1 got the bad partial: no signature, an abort.
    let r1 = out.outputs.get(&PartyIndex(1)).unwrap();
    assert!(
        matches!(r1, Err(SessionError::Abort { .. })),
        "{:?}",
        r1.as_ref().err()
    );
}

#[test]
fn wiping_an_integer_overwrites_it_in_place() {
    use cggmp21::rug::Integer;
    // 1024-bit values, as Paillier primes are; and an exact multiple of the limb size, where a
    // filler one bit longer would force a reallocation (and leave the secret in freed memory).
    for bits in [1024u32, 1023, 65, 64, 1] {
        let mut secret = (Integer::from(1) << (bits - 1)) + 12345u32;
        let capacity = secret.capacity();
        super::wipe_integer(&mut secret);
        assert_eq!(secret, 0, "{bits} bits");
        assert_eq!(secret.capacity(), capacity, "{bits} bits: reallocated");
    }
}

// ----- proactive refresh -----

/// The refresh of every share of `c` (all parties honest unless `tamper` changes a message).
fn refresh_all(
    c: &Committee,
    tag: u8,
    tamper: impl FnMut(PartyIndex, PartyIndex, &mut Vec<u8>) -> Delivery,
) -> BTreeMap<PartyIndex, Result<Committee1, SessionError>> {
    let sid = SessionId([tag; 32]);
    let sessions: BTreeMap<_, _> = c
        .shares
        .values()
        .map(|s| {
            let core = incomplete(s);
            let p = refresh::refresh_party(core.i).unwrap();
            (p, refresh::refresh_session(sid, &core).unwrap())
        })
        .collect();
    let res = sim::run(
        sessions,
        &mut ChaCha20Rng::seed_from_u64(tag as u64),
        tamper,
    );
    res.outputs
        .into_iter()
        .map(|(p, out)| {
            let old = &c.shares[&p];
            let r = out.and_then(|o| refresh::refreshed_share(&incomplete(old), &o));
            (p, r.map(|new| complete(new, aux_of(old)).unwrap()))
        })
        .collect()
}

type Committee1 = EcdsaKeyShare;

fn incomplete(s: &EcdsaKeyShare) -> IncompleteKeyShare<Secp256k1> {
    use cggmp21::key_share::Validate;
    s.clone().into_inner().core.validate().unwrap()
}

fn aux_of(s: &EcdsaKeyShare) -> EcdsaAuxInfo {
    use cggmp21::key_share::Validate;
    s.clone().into_inner().aux.validate().unwrap()
}

#[test]
fn refresh_keeps_the_key_changes_every_share_and_old_shares_no_longer_fit() {
    let c = c_2_of_3();
    let refreshed: BTreeMap<_, _> = refresh_all(c, 70, sim::honest)
        .into_iter()
        .map(|(p, r)| (p, r.unwrap()))
        .collect();
    let fresh = Committee { shares: refreshed };
    for p in parties(3) {
        let (old, new) = (&c.shares[&p], &fresh.shares[&p]);
        assert_eq!(
            old.shared_public_key, new.shared_public_key,
            "group key moved"
        );
        assert_eq!(old.chain_code, new.chain_code, "chain code moved");
        assert_ne!(
            old.public_shares, new.public_shares,
            "public shares unchanged"
        );
        assert_ne!(
            refresh::secret_bytes(&old.x),
            refresh::secret_bytes(&new.x),
            "share of {p} unchanged"
        );
    }
    // Refreshed shares sign (presignatures and interactive), same HD addresses.
    sign_with_presignatures(&fresh, &[PartyIndex(1), PartyIndex(3)], &[0, 7], 71);
    full_sign(&fresh, &[PartyIndex(2), PartyIndex(3)], &[5], 72);
    assert_eq!(
        child_public_key(&fresh.shares[&PartyIndex(1)], &[0, 7]).unwrap(),
        child_public_key(&c.shares[&PartyIndex(1)], &[0, 7]).unwrap()
    );
    // An old share with a new one: x = 2·x₁ − x₂ (points 1 and 2) is not the key any more.
    let g = cggmp21::generic_ec::Point::<Secp256k1>::generator();
    let two = cggmp21::generic_ec::Scalar::<Secp256k1>::from(2u64);
    let scalar = |s: &EcdsaKeyShare| -> cggmp21::generic_ec::Scalar<Secp256k1> {
        let secret: &cggmp21::generic_ec::SecretScalar<Secp256k1> = s.x.as_ref();
        *secret.as_ref()
    };
    let key = |a: &EcdsaKeyShare, b: &EcdsaKeyShare| -> cggmp21::generic_ec::Point<Secp256k1> {
        g * (two * scalar(a) - scalar(b))
    };
    let (o1, o2) = (&c.shares[&PartyIndex(1)], &c.shares[&PartyIndex(2)]);
    let (n1, n2) = (&fresh.shares[&PartyIndex(1)], &fresh.shares[&PartyIndex(2)]);
    assert_eq!(key(o1, o2), *c.shares[&PartyIndex(1)].shared_public_key);
    assert_eq!(key(n1, n2), *c.shares[&PartyIndex(1)].shared_public_key);
    assert_ne!(key(o1, n2), *c.shares[&PartyIndex(1)].shared_public_key);
    assert_ne!(key(n1, o2), *c.shares[&PartyIndex(1)].shared_public_key);
    // And the signing protocol refuses the mix: one old, one new share never make a signature.
    let mixed = Committee {
        shares: BTreeMap::from([(PartyIndex(1), o1.clone()), (PartyIndex(2), n2.clone())]),
    };
    let sid = SessionId([73; 32]);
    let idx = keygen_indices(&[PartyIndex(1), PartyIndex(2)]);
    let digest = MessageDigest::sha256(b"mixed shares");
    let mut rs = rngs(2, 73);
    let signers = [PartyIndex(1), PartyIndex(2)];
    let sessions: BTreeMap<_, _> = signers
        .iter()
        .zip(rs.iter_mut())
        .map(|(p, r)| {
            (
                *p,
                sign(&sid, *p, &signers, &idx, &mixed.shares[p], &[], &digest, r).unwrap(),
            )
        })
        .collect();
    let out = sim::run(sessions, &mut ChaCha20Rng::seed_from_u64(0), sim::honest).outputs;
    assert!(
        out.values().all(|r| r.is_err()),
        "an old share and a refreshed share produced a signature"
    );
}

#[test]
fn a_bad_refresh_sub_share_is_named_and_no_share_changes() {
    let c = c_2_of_3();
    // Party 3's sub-share to party 1 (round 3) is replaced by a well-formed wrong one (+1).
    let res = refresh_all(c, 74, |from, to, bytes| {
        if from == PartyIndex(3) && to == PartyIndex(1) {
            if let Some(bad) = shifted_share(bytes) {
                *bytes = bad;
            }
        }
        Delivery::Deliver
    });
    match &res[&PartyIndex(1)] {
        Err(SessionError::Abort { culprits, .. }) => assert_eq!(culprits, &vec![PartyIndex(3)]),
        Err(e) => panic!("party 1 should abort naming party 3, got {e}"),
        Ok(_) => panic!("party 1 accepted a bad sub-share"),
    }
}

/// A round-3 refresh message with its sub-share plus one, re-encoded (None for other rounds).
fn shifted_share(bytes: &[u8]) -> Option<Vec<u8>> {
    use crate::frost::dkg::DkgMessage;
    use frost_core::keys::SigningShare;
    type F = crate::frost::Secp256k1;
    let mut env: crate::session::Envelope<DkgMessage<F>> = crate::decode(bytes, 1 << 20).ok()?;
    let DkgMessage::Share(pkg) = &env.body else {
        return None;
    };
    let s = pkg.signing_share().to_scalar() + k256::Scalar::ONE;
    env.body = DkgMessage::Share(frost_core::keys::dkg::round2::Package::new(
        SigningShare::<F>::new(s),
    ));
    env.encode().ok()
}

#[test]
fn a_lost_ecdsa_share_is_repaired_by_t_helpers_and_signs() {
    use refresh::{repair_session, repaired_share, EcdsaRepairRole};
    let c = c_2_of_3();
    let sid = SessionId([80; 32]);
    // Keygen index 2 (party 3) lost its share; indices 0 and 1 help. The participant knows only
    // the key's public material.
    let info = incomplete(&c.shares[&PartyIndex(1)]).into_inner().key_info;
    let mut sessions = BTreeMap::new();
    for p in [PartyIndex(1), PartyIndex(2)] {
        let share = incomplete(&c.shares[&p]);
        let s = repair_session(sid, &[0, 1], 2, EcdsaRepairRole::Helper(&share)).unwrap();
        sessions.insert(p, s);
    }
    let s = repair_session(sid, &[0, 1], 2, EcdsaRepairRole::Participant(&info, 2)).unwrap();
    sessions.insert(PartyIndex(3), s);
    let out = sim::run(sessions, &mut ChaCha20Rng::seed_from_u64(80), sim::honest).outputs;
    let repaired = repaired_share(&info, 2, out[&PartyIndex(3)].as_ref().unwrap()).unwrap();
    let lost = &c.shares[&PartyIndex(3)];
    assert_eq!(
        refresh::secret_bytes(&repaired.x),
        refresh::secret_bytes(&lost.x),
        "the repaired share is the lost one"
    );
    // With its aux info it signs with party 1, for the same HD key.
    let mut fixed = Committee {
        shares: c.shares.clone(),
    };
    fixed
        .shares
        .insert(PartyIndex(3), complete(repaired, aux_of(lost)).unwrap());
    sign_with_presignatures(&fixed, &[PartyIndex(1), PartyIndex(3)], &[0, 7], 81);
}

mod reshare;
