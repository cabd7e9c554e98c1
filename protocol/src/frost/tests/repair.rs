//! Share repair (repairable threshold scheme): a lost share comes back, a new identifier gets
//! one that signs, and a cheating helper is named with no share made.

use super::*;
use crate::frost::repair::{FrostRepair, RepairMessage, RepairOutput};

/// Helpers `helpers` repair the share at `participant` (each helper with its key package, the
/// participant with the group's public key package only).
fn repair<C: Ciphersuite>(
    keys: &BTreeMap<PartyIndex, DkgOutput<C>>,
    helpers: &[PartyIndex],
    participant: PartyIndex,
    tag: u8,
    s: &mut Seeded,
    hook: impl FnMut(PartyIndex, PartyIndex, &mut Vec<u8>) -> Delivery,
) -> BTreeMap<PartyIndex, Result<RepairOutput<C>, SessionError>> {
    let pkp = keys[&helpers[0]].public_key_package.clone();
    let mut sessions: BTreeMap<PartyIndex, FrostRepair<C>> = helpers
        .iter()
        .map(|h| {
            let kp = Some(keys[h].key_package.clone());
            let r = FrostRepair::new(sid(tag), *h, helpers, participant, kp, pkp.clone()).unwrap();
            (*h, r)
        })
        .collect();
    let r = FrostRepair::new(sid(tag), participant, helpers, participant, None, pkp).unwrap();
    sessions.insert(participant, r);
    sim::run(sessions, &mut s.rng, hook).outputs
}

#[test]
fn repair_gives_back_a_lost_share_and_makes_one_for_a_new_identifier() {
    let mut s = Seeded::new();
    let keys = dkg::<Ed25519>(3, 2, &mut s);
    let gk = group_key(&keys);
    // Party 3 lost its share; parties 1 and 2 help. The same share comes back.
    let out = repair(
        &keys,
        &[PartyIndex(1), PartyIndex(2)],
        PartyIndex(3),
        20,
        &mut s,
        sim::honest,
    );
    let kp3 = out[&PartyIndex(3)]
        .as_ref()
        .unwrap()
        .key_package
        .clone()
        .unwrap();
    assert_eq!(
        kp3.signing_share().serialize(),
        keys[&PartyIndex(3)].key_package.signing_share().serialize()
    );
    // A new identifier 4, helped by 1 and 3: its share signs with party 2's.
    let out = repair(
        &keys,
        &[PartyIndex(1), PartyIndex(3)],
        PartyIndex(4),
        21,
        &mut s,
        sim::honest,
    );
    let new = out[&PartyIndex(4)].as_ref().unwrap();
    let pkp = new.public_key_package.clone();
    assert_eq!(pkp.verifying_key().serialize().unwrap(), gk);
    assert_eq!(
        out[&PartyIndex(1)].as_ref().unwrap().public_key_package,
        pkp,
        "helpers and participant agree on the new public share"
    );
    let mut with_4 = BTreeMap::new();
    with_4.insert(
        PartyIndex(2),
        DkgOutput {
            key_package: keys[&PartyIndex(2)].key_package.clone(),
            public_key_package: pkp.clone(),
        },
    );
    with_4.insert(
        PartyIndex(4),
        DkgOutput {
            key_package: new.key_package.clone().unwrap(),
            public_key_package: pkp,
        },
    );
    let msg = [9u8; 32];
    let res = sign(
        &with_4,
        &[PartyIndex(2), PartyIndex(4)],
        &msg,
        sid(22),
        &mut s,
        sim::honest,
    );
    let sig = res.outputs[&PartyIndex(4)]
        .as_ref()
        .unwrap()
        .serialize()
        .unwrap();
    verify_ed25519(&gk, &msg, &sig);
}

/// Re-encodes a repair message from `bytes` after `f` changed its body.
fn tamper_repair<C: Ciphersuite>(bytes: &mut Vec<u8>, f: impl FnOnce(&mut RepairMessage<C>)) {
    let mut env: crate::session::Envelope<RepairMessage<C>> =
        crate::decode(bytes, 1 << 20).unwrap();
    f(&mut env.body);
    *bytes = env.encode().unwrap();
}

#[test]
fn a_cheating_repair_helper_is_named_and_no_share_is_made() {
    use frost_core::keys::repairable::{Delta, Sigma};
    use frost_core::keys::{SigningShare, VerifyingShare};
    let mut s = Seeded::new();
    let keys = dkg::<Ed25519>(3, 2, &mut s);
    let (h, p) = ([PartyIndex(1), PartyIndex(2)], PartyIndex(3));
    let one = curve25519_dalek::Scalar::ONE;
    let named = |out: &BTreeMap<PartyIndex, Result<RepairOutput<Ed25519>, SessionError>>,
                 at: PartyIndex,
                 who: PartyIndex| {
        match &out[&at] {
            Err(SessionError::Abort { culprits, .. }) => assert_eq!(culprits, &vec![who]),
            Err(e) => panic!("{at} should abort naming {who}, got {e}"),
            Ok(_) => panic!("{at} accepted a cheating helper"),
        }
        assert!(
            out[&p].as_ref().map_or(true, |o| o.key_package.is_none()),
            "the participant got a share"
        );
    };
    // Helper 2's delta to helper 1 does not match its commitment.
    let out = repair(&keys, &h, p, 30, &mut s, |from, to, bytes| {
        if from == PartyIndex(2) && to == PartyIndex(1) {
            tamper_repair::<Ed25519>(bytes, |m| {
                if let RepairMessage::Deltas { delta: Some(d), .. } = m {
                    *d = Delta::new(d.to_scalar() + one);
                }
            });
        }
        Delivery::Deliver
    });
    named(&out, PartyIndex(1), PartyIndex(2));
    // Helper 2 shifts its delta to helper 1 and the matching commitment: its commitments no
    // longer add up to λ₂·Y₂.
    let out = repair(&keys, &h, p, 31, &mut s, |from, to, bytes| {
        if from == PartyIndex(2) && to == PartyIndex(1) {
            tamper_repair::<Ed25519>(bytes, |m| {
                if let RepairMessage::Deltas {
                    delta: Some(d),
                    commitments,
                } = m
                {
                    *d = Delta::new(d.to_scalar() + one);
                    let c: VerifyingShare<Ed25519> = SigningShare::new(d.to_scalar()).into();
                    commitments.insert(PartyIndex(1), c);
                }
            });
        }
        Delivery::Deliver
    });
    named(&out, PartyIndex(1), PartyIndex(2));
    // Helper 2 sends the participant a sigma that does not match the commitments.
    let out = repair(&keys, &h, p, 32, &mut s, |from, to, bytes| {
        if from == PartyIndex(2) && to == p {
            tamper_repair::<Ed25519>(bytes, |m| {
                if let RepairMessage::Sigma { sigma, .. } = m {
                    *sigma = Sigma::new(sigma.to_scalar() + one);
                }
            });
        }
        Delivery::Deliver
    });
    named(&out, p, PartyIndex(2));
    // Nothing a helper holds changed: the original shares still sign.
    let msg = [3u8; 32];
    let res = sign(&keys, &h, &msg, sid(33), &mut s, sim::honest);
    let sig = res.outputs[&PartyIndex(1)]
        .as_ref()
        .unwrap()
        .serialize()
        .unwrap();
    verify_ed25519(&group_key(&keys), &msg, &sig);
}
