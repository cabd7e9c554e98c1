//! Committee changes of a FROST key (issue 14, item 4): a party is removed by a refresh among
//! the staying parties only (frost-core's refresh DKG drops the absent identifiers); the key is
//! unchanged, the staying parties sign, and the removed party's share no longer combines.

use super::*;

#[test]
fn removing_a_party_keeps_the_key_and_its_share_no_longer_signs() {
    let mut s = Seeded::new();
    let keys = dkg::<Ed25519>(3, 2, &mut s);
    let gk = group_key(&keys);
    let staying = [PartyIndex(1), PartyIndex(3)];
    let sessions: BTreeMap<_, _> = staying
        .iter()
        .map(|p| {
            let k = &keys[p];
            let mode = DkgMode::Refresh {
                key_package: Box::new(k.key_package.clone()),
                public_key_package: Box::new(k.public_key_package.clone()),
            };
            (
                *p,
                FrostDkg::<Ed25519>::new(sid(30), *p, &staying, 2, mode).unwrap(),
            )
        })
        .collect();
    let out: BTreeMap<_, _> = sim::run(sessions, &mut s.rng, sim::honest)
        .outputs
        .into_iter()
        .map(|(p, o)| (p, o.unwrap()))
        .collect();
    assert_eq!(group_key(&out), gk, "the key moved");
    for o in out.values() {
        let ids: Vec<_> = o
            .public_key_package
            .verifying_shares()
            .keys()
            .copied()
            .collect();
        assert_eq!(
            ids.len(),
            2,
            "the removed party is still in the public key package"
        );
        assert!(!ids.contains(&crate::frost::identifier::<Ed25519>(PartyIndex(2)).unwrap()));
    }
    let msg = [9u8; 32];
    let res = sign(&out, &staying, &msg, sid(31), &mut s, sim::honest);
    let sig = res.outputs[&PartyIndex(1)]
        .as_ref()
        .unwrap()
        .serialize()
        .unwrap();
    verify_ed25519(&gk, &msg, &sig);
    // The removed party's old share with a staying party's new one does not interpolate to the
    // key (points 1 and 2: x = 2·s₁ − s₂); the old pair did, the new pair (points 1, 3) does.
    type G = <Ed25519 as Ciphersuite>::Group;
    type Fd = <G as frost_core::Group>::Field;
    use frost_core::Field;
    let x = |o: &DkgOutput<Ed25519>| o.key_package.signing_share().to_scalar();
    let key = keys[&PartyIndex(1)]
        .public_key_package
        .verifying_key()
        .to_element();
    let g = <G as frost_core::Group>::generator();
    let two = Fd::one() + Fd::one();
    let three = two + Fd::one();
    let (o1, o2) = (x(&keys[&PartyIndex(1)]), x(&keys[&PartyIndex(2)]));
    let (n1, n3) = (x(&out[&PartyIndex(1)]), x(&out[&PartyIndex(3)]));
    assert_eq!(g * (two * o1 - o2), key);
    assert_ne!(g * (two * n1 - o2), key, "a removed share still combines");
    let half = <Fd as Field>::invert(&two).unwrap();
    assert_eq!(g * ((three * n1 - n3) * half), key);
}
