//! Preprocessing (decision 0034): a batch of nonce pairs exchanged in one round, then each slot
//! signs in one round; a wrong count or a replay is refused.

use super::*;
use crate::frost::preprocess::{FrostPreprocess, Preprocessed, MAX_PREPROCESS_COUNT};
use crate::session::Step;

fn preprocess<C: Ciphersuite>(
    keys: &BTreeMap<PartyIndex, DkgOutput<C>>,
    signers: &[PartyIndex],
    count: usize,
    s: &mut Seeded,
) -> BTreeMap<PartyIndex, Preprocessed<C>> {
    let sessions = signers
        .iter()
        .map(|p| {
            let kp = keys[p].key_package.clone();
            (
                *p,
                FrostPreprocess::new(sid(40), *p, signers, kp, count).unwrap(),
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

fn slots_sign<C: Ciphersuite>(verify: impl Fn(&[u8], &[u8], &[u8])) {
    let mut s = Seeded::new();
    let keys = dkg::<C>(3, 2, &mut s);
    let gk = group_key(&keys);
    let signers = [PartyIndex(1), PartyIndex(3)];
    let mut pre = preprocess(&keys, &signers, 4, &mut s);
    // Every signer holds the same commitments, one per slot per signer.
    let views: Vec<_> = pre.values().map(|p| p.commitments.clone()).collect();
    assert_eq!(views[0], views[1]);
    assert!(views[0].values().all(|c| c.len() == 4));
    for slot in 0..4usize {
        let msg = format!("message in slot {slot}");
        let commitments: BTreeMap<PartyIndex, _> =
            views[0].iter().map(|(p, cs)| (*p, cs[slot])).collect();
        let sessions = signers
            .iter()
            .map(|p| {
                // Each slot's nonces leave the batch once (a Vec slot replaced by nothing).
                let nonces = pre.get_mut(p).unwrap().nonces.remove(0);
                let k = &keys[p];
                let sess = FrostSign::new(
                    sid(41 + slot as u8),
                    *p,
                    k.key_package.clone(),
                    k.public_key_package.clone(),
                    msg.as_bytes(),
                    &commitments,
                    nonces,
                )
                .unwrap();
                (*p, sess)
            })
            .collect();
        let res = sim::run(sessions, &mut s.rng, sim::honest);
        for out in res.outputs.values() {
            let sig = out.as_ref().unwrap().serialize().unwrap();
            verify(&gk, msg.as_bytes(), &sig);
        }
    }
}

#[test]
fn preprocessed_slots_each_sign_in_one_round() {
    slots_sign::<Ed25519>(verify_ed25519);
    slots_sign::<Secp256k1Tr>(verify_bip340);
}

#[test]
fn a_wrong_count_or_a_replayed_batch_is_refused() {
    let mut s = Seeded::new();
    let keys = dkg::<Ed25519>(3, 2, &mut s);
    let kp = |p: u16| keys[&PartyIndex(p)].key_package.clone();
    let signers = [PartyIndex(1), PartyIndex(2)];
    assert!(FrostPreprocess::new(sid(50), PartyIndex(1), &signers, kp(1), 0).is_err());
    assert!(FrostPreprocess::new(
        sid(50),
        PartyIndex(1),
        &signers,
        kp(1),
        MAX_PREPROCESS_COUNT + 1
    )
    .is_err());
    assert!(FrostPreprocess::new(sid(50), PartyIndex(3), &signers, kp(3), 4).is_err());
    let mut a = FrostPreprocess::new(sid(50), PartyIndex(1), &signers, kp(1), 4).unwrap();
    let mut b3 = FrostPreprocess::new(sid(50), PartyIndex(2), &signers, kp(2), 3).unwrap();
    a.start(&mut s.rng).unwrap();
    // Party 2 agreed to 3 slots, party 1 to 4: refused, nothing produced.
    let short = b3.start(&mut s.rng).unwrap().remove(0).bytes;
    assert!(matches!(
        a.handle(PartyIndex(2), &short, &mut s.rng),
        Err(SessionError::Rejected { .. })
    ));
    // The right batch finishes the session; the same batch again is refused.
    let mut b = FrostPreprocess::new(sid(50), PartyIndex(2), &signers, kp(2), 4).unwrap();
    let good = b.start(&mut s.rng).unwrap().remove(0).bytes;
    let mut a = FrostPreprocess::new(sid(50), PartyIndex(1), &signers, kp(1), 4).unwrap();
    a.start(&mut s.rng).unwrap();
    assert!(matches!(
        a.handle(PartyIndex(2), &good, &mut s.rng),
        Ok(Step::Done(..))
    ));
    assert!(a.handle(PartyIndex(2), &good, &mut s.rng).is_err());
    // A party outside the signer set is refused.
    let mut a = FrostPreprocess::new(sid(50), PartyIndex(1), &signers, kp(1), 4).unwrap();
    a.start(&mut s.rng).unwrap();
    assert!(a.handle(PartyIndex(3), &good, &mut s.rng).is_err());
}
