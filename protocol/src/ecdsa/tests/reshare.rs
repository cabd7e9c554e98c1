//! Committee changes of an ECDSA key (issue 14, item 4): removing a party by a refresh among the
//! staying parties, adding one by a repair at a new evaluation point. Same key and HD addresses;
//! a removed party's share does not combine with the new ones; the changed committee signs with
//! new aux info.

use super::*;
use crate::ecdsa::reshare::{
    addition_session, after_addition, after_removal, extended_share, removal_session, AdditionRole,
};

/// Aux info for a committee of `n` (fixture primes), by party `1..=n`.
fn aux_for(n: u16, tag: u8) -> BTreeMap<PartyIndex, EcdsaAuxInfo> {
    let ps = parties(n);
    let sid = SessionId([tag; 32]);
    let mut rs = rngs(n as usize, u64::from(tag));
    let sessions: BTreeMap<_, _> = ps
        .iter()
        .zip(fixture_primes(n as usize))
        .zip(rs.iter_mut())
        .map(|((p, primes), r)| (*p, aux_info(&sid, *p, &ps, primes, r).unwrap()))
        .collect();
    sim::run(sessions, &mut ChaCha20Rng::seed_from_u64(0), sim::honest)
        .outputs
        .into_iter()
        .map(|(p, a)| (p, a.unwrap()))
        .collect()
}

fn scalar(
    x: &cggmp21::generic_ec::NonZero<cggmp21::generic_ec::SecretScalar<Secp256k1>>,
) -> cggmp21::generic_ec::Scalar<Secp256k1> {
    let secret: &cggmp21::generic_ec::SecretScalar<Secp256k1> = x.as_ref();
    *secret.as_ref()
}

#[test]
fn removing_a_party_keeps_the_key_and_its_share_no_longer_fits() {
    let c = c_2_of_3();
    let key = *c.shares[&PartyIndex(1)].shared_public_key;
    let sid = SessionId([90; 32]);
    // Keygen indices 0 and 2 (parties 1 and 3) stay; index 1 (party 2) is removed.
    let staying = [0u16, 2];
    let removed = incomplete(&c.shares[&PartyIndex(2)]);
    assert!(
        removal_session(sid, &removed, &staying).is_err(),
        "the removed party joined"
    );
    assert!(
        removal_session(sid, &incomplete(&c.shares[&PartyIndex(1)]), &[0]).is_err(),
        "fewer than t stayed"
    );
    let mut sessions = BTreeMap::new();
    for p in [PartyIndex(1), PartyIndex(3)] {
        let share = incomplete(&c.shares[&p]);
        sessions.insert(p, removal_session(sid, &share, &staying).unwrap());
    }
    let out = sim::run(sessions, &mut ChaCha20Rng::seed_from_u64(90), sim::honest).outputs;
    let new1 = after_removal(
        &incomplete(&c.shares[&PartyIndex(1)]),
        &staying,
        out[&PartyIndex(1)].as_ref().unwrap(),
    )
    .unwrap();
    let new3 = after_removal(
        &incomplete(&c.shares[&PartyIndex(3)]),
        &staying,
        out[&PartyIndex(3)].as_ref().unwrap(),
    )
    .unwrap();
    // Same key, two parties, party 3 now at keygen index 1 (its evaluation point is still 3).
    assert_eq!(*new1.shared_public_key, key);
    assert_eq!(new1.public_shares.len(), 2);
    assert_eq!((new1.i, new3.i), (0, 1));
    assert_eq!(new1.public_shares, new3.public_shares);
    assert_eq!(new1.chain_code, c.shares[&PartyIndex(1)].chain_code);
    assert_ne!(
        refresh::secret_bytes(&new1.x),
        refresh::secret_bytes(&c.shares[&PartyIndex(1)].x)
    );
    // The removed share with a new one (points 1 and 2: x = 2·x₁ − x₂) is not the key; the two
    // new shares (points 1 and 3: x = (3·x₁ − x₃) / 2) are.
    let g = cggmp21::generic_ec::Point::<Secp256k1>::generator();
    let s = |n: u64| cggmp21::generic_ec::Scalar::<Secp256k1>::from(n);
    assert_ne!(g * (s(2) * scalar(&new1.x) - scalar(&removed.x)), key);
    let two_inv = s(2).invert().unwrap();
    assert_eq!(
        g * ((s(3) * scalar(&new1.x) - scalar(&new3.x)) * two_inv),
        key
    );
    // With aux info for the two of them, they sign for the same HD key.
    let mut aux = aux_for(2, 91);
    let fresh = Committee {
        shares: BTreeMap::from([
            (
                PartyIndex(1),
                complete(new1, aux.remove(&PartyIndex(1)).unwrap()).unwrap(),
            ),
            (
                PartyIndex(2),
                complete(new3, aux.remove(&PartyIndex(2)).unwrap()).unwrap(),
            ),
        ]),
    };
    sign_with_presignatures(&fresh, &[PartyIndex(1), PartyIndex(2)], &[0, 7], 92);
    assert_eq!(
        child_public_key(&fresh.shares[&PartyIndex(1)], &[0, 7]).unwrap(),
        child_public_key(&c.shares[&PartyIndex(1)], &[0, 7]).unwrap()
    );
}

#[test]
fn adding_a_party_gives_it_a_share_of_the_same_key() {
    let c = c_2_of_3();
    let key = *c.shares[&PartyIndex(1)].shared_public_key;
    let sid = SessionId([93; 32]);
    let info = incomplete(&c.shares[&PartyIndex(1)]).into_inner().key_info;
    // A new point must not be a member's.
    assert!(addition_session(sid, &[0, 1], 3, AdditionRole::Newcomer(&info)).is_err());
    // Parties 1 and 2 (keygen indices 0, 1) help a new party at evaluation point 4.
    let mut sessions = BTreeMap::new();
    for p in [PartyIndex(1), PartyIndex(2)] {
        let share = incomplete(&c.shares[&p]);
        sessions.insert(
            p,
            addition_session(sid, &[0, 1], 4, AdditionRole::Helper(&share)).unwrap(),
        );
    }
    sessions.insert(
        PartyIndex(4),
        addition_session(sid, &[0, 1], 4, AdditionRole::Newcomer(&info)).unwrap(),
    );
    let out = sim::run(sessions, &mut ChaCha20Rng::seed_from_u64(93), sim::honest).outputs;
    let newcomer = after_addition(&info, 4, out[&PartyIndex(4)].as_ref().unwrap()).unwrap();
    assert_eq!(newcomer.i, 3);
    assert_eq!(*newcomer.shared_public_key, key);
    // Every member extends its key info the same way, from public data alone.
    let members: Vec<_> = [1u16, 2, 3]
        .iter()
        .map(|p| extended_share(&incomplete(&c.shares[&PartyIndex(*p)]), 4).unwrap())
        .collect();
    for m in &members {
        assert_eq!(m.public_shares, newcomer.public_shares);
        assert_eq!(m.public_shares.len(), 4);
    }
    // Four parties with new aux info: member 3 and the new party sign for the same HD key.
    let mut aux = aux_for(4, 94);
    let mut shares = BTreeMap::new();
    for (k, m) in members.into_iter().enumerate() {
        let p = PartyIndex(k as u16 + 1);
        shares.insert(p, complete(m, aux.remove(&p).unwrap()).unwrap());
    }
    shares.insert(
        PartyIndex(4),
        complete(newcomer, aux.remove(&PartyIndex(4)).unwrap()).unwrap(),
    );
    let grown = Committee { shares };
    full_sign(&grown, &[PartyIndex(3), PartyIndex(4)], &[5], 95);
    assert_eq!(
        child_public_key(&grown.shares[&PartyIndex(4)], &[5]).unwrap(),
        child_public_key(&c.shares[&PartyIndex(1)], &[5]).unwrap()
    );
}
