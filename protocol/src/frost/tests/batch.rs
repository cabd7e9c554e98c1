//! Several signatures in one session (issue 15): every item signs under its own key; an item a
//! peer did not sign, or whose share is invalid, fails alone; a share never counts for another
//! item; hostile messages are refused.

use super::*;
use crate::frost::sign_batch::{BatchItem, FrostSignBatch, ItemFailure, MAX_BATCH_ITEMS};
use crate::session::{Envelope, Step};
use frost_core::round2::SignatureShare;

type Shares<C> = Vec<([u8; 32], SignatureShare<C>)>;

/// One party's items: item `k` signs `msgs[k]` under `keys[k]`, with fresh nonces per item
/// (commitments exchanged out of band, as the nonce pool does).
fn items_for<C: Ciphersuite>(
    keys: &[BTreeMap<PartyIndex, DkgOutput<C>>],
    msgs: &[&str],
    signers: &[PartyIndex],
    s: &mut Seeded,
) -> BTreeMap<PartyIndex, Vec<BatchItem<C>>> {
    let mut out: BTreeMap<PartyIndex, Vec<BatchItem<C>>> = BTreeMap::new();
    for (k, msg) in msgs.iter().enumerate() {
        let key = &keys[k % keys.len()];
        let mut nonces = BTreeMap::new();
        let mut commitments = BTreeMap::new();
        for p in signers {
            let mut store = NonceStore::default();
            let (id, c) = store.generate(&key[p].key_package, 1, &mut s.rng).remove(0);
            nonces.insert(*p, store.take(id).unwrap());
            commitments.insert(*p, c);
        }
        for p in signers {
            out.entry(*p).or_default().push(BatchItem {
                id: [k as u8 + 1; 32],
                key_package: key[p].key_package.clone(),
                public_key_package: key[p].public_key_package.clone(),
                message: msg.as_bytes().to_vec(),
                commitments: commitments.clone(),
                nonces: nonces.remove(p).unwrap(),
            });
        }
    }
    out
}

fn sessions<C: Ciphersuite>(
    items: BTreeMap<PartyIndex, Vec<BatchItem<C>>>,
    signers: &[PartyIndex],
) -> BTreeMap<PartyIndex, FrostSignBatch<C>> {
    items
        .into_iter()
        .map(|(p, it)| (p, FrostSignBatch::new(sid(60), p, signers, it).unwrap()))
        .collect()
}

fn batch_signs<C: Ciphersuite>(verify: impl Fn(&[u8], &[u8], &[u8])) {
    let mut s = Seeded::new();
    let keys = [dkg::<C>(3, 2, &mut s), dkg::<C>(3, 2, &mut s)];
    let gks = [group_key(&keys[0]), group_key(&keys[1])];
    let signers = [PartyIndex(2), PartyIndex(3)];
    let msgs = ["first", "second", "third", "fourth", "fifth"];
    let items = items_for(&keys, &msgs, &signers, &mut s);
    let res = sim::run(sessions(items, &signers), &mut s.rng, sim::honest);
    assert!(res.rejected.is_empty());
    for out in res.outputs.values() {
        let sigs = out.as_ref().unwrap();
        assert_eq!(sigs.len(), msgs.len());
        for (k, sig) in sigs.iter().enumerate() {
            let sig = sig.as_ref().unwrap().serialize().unwrap();
            verify(&gks[k % 2], msgs[k].as_bytes(), &sig);
        }
    }
}

#[test]
fn every_item_of_a_batch_signs_under_its_own_key() {
    batch_signs::<Ed25519>(verify_ed25519);
    batch_signs::<Secp256k1Tr>(verify_bip340);
}

#[test]
fn an_item_the_peer_did_not_sign_fails_alone() {
    let mut s = Seeded::new();
    let keys = [dkg::<Ed25519>(3, 2, &mut s)];
    let gk = group_key(&keys[0]);
    let signers = [PartyIndex(1), PartyIndex(2)];
    let msgs = ["a", "b", "c"];
    let mut items = items_for(&keys, &msgs, &signers, &mut s);
    // Party 2 refused item "b" (its own check failed): its batch leaves it out.
    items.get_mut(&PartyIndex(2)).unwrap().remove(1);
    let res = sim::run(sessions(items, &signers), &mut s.rng, sim::honest);
    let one = res.outputs[&PartyIndex(1)].as_ref().unwrap();
    assert_eq!(one.len(), 3);
    verify_ed25519(&gk, b"a", &one[0].as_ref().unwrap().serialize().unwrap());
    let missing = one[1].as_ref().unwrap_err();
    assert!(missing.reason.contains("no signature share"), "{missing:?}");
    verify_ed25519(&gk, b"c", &one[2].as_ref().unwrap().serialize().unwrap());
    // Party 2 signs what it kept; the share party 1 sent for "b" is simply never used.
    let two = res.outputs[&PartyIndex(2)].as_ref().unwrap();
    assert_eq!(two.len(), 2);
    assert!(two.iter().all(Result::is_ok));
}

#[test]
fn a_share_moved_to_another_item_names_its_sender_and_the_rest_still_sign() {
    let mut s = Seeded::new();
    let keys = [dkg::<Ed25519>(3, 2, &mut s)];
    let gk = group_key(&keys[0]);
    let signers = [PartyIndex(1), PartyIndex(3)];
    let msgs = ["pay alice", "pay bob", "pay carol"];
    let items = items_for(&keys, &msgs, &signers, &mut s);
    let res = sim::run(
        sessions(items, &signers),
        &mut s.rng,
        |from, _to, bytes: &mut Vec<u8>| {
            if from == PartyIndex(3) {
                // Party 3 answers item 2 with its (valid) share for item 1.
                let mut env: Envelope<Shares<Ed25519>> = crate::decode(bytes, 1 << 20).unwrap();
                env.body[1].1 = env.body[0].1;
                *bytes = env.encode().unwrap();
            }
            Delivery::Deliver
        },
    );
    let one = res.outputs[&PartyIndex(1)].as_ref().unwrap();
    verify_ed25519(
        &gk,
        b"pay alice",
        &one[0].as_ref().unwrap().serialize().unwrap(),
    );
    let ItemFailure { culprits, reason } = one[1].as_ref().unwrap_err();
    assert_eq!(culprits, &vec![PartyIndex(3)], "{reason}");
    verify_ed25519(
        &gk,
        b"pay carol",
        &one[2].as_ref().unwrap().serialize().unwrap(),
    );
}

#[test]
fn hostile_batch_messages_are_refused() {
    let mut s = Seeded::new();
    let keys = [dkg::<Ed25519>(3, 2, &mut s)];
    let signers = [PartyIndex(1), PartyIndex(2)];
    let mut items = items_for(&keys, &["x", "y"], &signers, &mut s);
    let mut a = FrostSignBatch::new(
        sid(61),
        PartyIndex(1),
        &signers,
        items.remove(&PartyIndex(1)).unwrap(),
    )
    .unwrap();
    let mut b = FrostSignBatch::new(
        sid(61),
        PartyIndex(2),
        &signers,
        items.remove(&PartyIndex(2)).unwrap(),
    )
    .unwrap();
    assert!(a.start(&mut s.rng).is_ok());
    assert!(
        a.start(&mut s.rng).is_err(),
        "a second start would reuse nonces"
    );
    let good = b.start(&mut s.rng).unwrap().remove(0).bytes;
    let mut env: Envelope<Shares<Ed25519>> = crate::decode(&good, 1 << 20).unwrap();
    // Two shares for one item.
    let mut twice = env.clone();
    twice.body[1].0 = twice.body[0].0;
    let twice = twice.encode().unwrap();
    assert!(matches!(
        a.handle(PartyIndex(2), &twice, &mut s.rng),
        Err(SessionError::Rejected { .. })
    ));
    // More shares than a batch may hold.
    let share = env.body[0].1;
    env.body = (0..=MAX_BATCH_ITEMS)
        .map(|i| {
            let mut id = [0u8; 32];
            id[..8].copy_from_slice(&(i as u64 + 1_000).to_be_bytes());
            (id, share)
        })
        .collect();
    let many = env.encode().unwrap();
    assert!(a.handle(PartyIndex(2), &many, &mut s.rng).is_err());
    // Garbage, a stranger, then the real message finishes; its replay is refused.
    assert!(a.handle(PartyIndex(2), &[0xff, 0, 1], &mut s.rng).is_err());
    assert!(a.handle(PartyIndex(3), &good, &mut s.rng).is_err());
    assert!(matches!(
        a.handle(PartyIndex(2), &good, &mut s.rng),
        Ok(Step::Done(..))
    ));
    assert!(a.handle(PartyIndex(2), &good, &mut s.rng).is_err());
}

#[test]
fn a_malformed_batch_is_refused_before_any_share() {
    let mut s = Seeded::new();
    let keys = [dkg::<Ed25519>(3, 2, &mut s)];
    let signers = [PartyIndex(1), PartyIndex(2)];
    // No items; duplicate ids; a party outside the signers.
    assert!(FrostSignBatch::<Ed25519>::new(sid(62), PartyIndex(1), &signers, vec![]).is_err());
    let mut items = items_for(&keys, &["x", "y"], &signers, &mut s);
    let mut mine = items.remove(&PartyIndex(1)).unwrap();
    mine[1].id = mine[0].id;
    assert!(FrostSignBatch::new(sid(62), PartyIndex(1), &signers, mine).is_err());
    let theirs = items.remove(&PartyIndex(2)).unwrap();
    assert!(FrostSignBatch::new(sid(62), PartyIndex(3), &signers, theirs).is_err());
    // Commitments for another signer set.
    let mut items = items_for(&keys, &["x"], &signers, &mut s);
    let mine = items.remove(&PartyIndex(1)).unwrap();
    let three = [PartyIndex(1), PartyIndex(2), PartyIndex(3)];
    assert!(FrostSignBatch::new(sid(62), PartyIndex(1), &three, mine).is_err());
}
