//! RFC 9591 test vectors (appendix E) for the ciphersuites we use: from fixed shares and fixed
//! nonces, round-one commitments, round-two signature shares and the aggregate signature must match
//! byte for byte.

#![allow(clippy::unwrap_used)] // tests fail loudly on purpose

use frost_core::keys::{KeyPackage, PublicKeyPackage, SigningShare, VerifyingShare};
use frost_core::round1::{Nonce, SigningNonces};
use frost_core::{Ciphersuite, Identifier, SigningPackage, VerifyingKey};
use mpc_protocol::frost::{Ed25519, Secp256k1, Secp256k1Tr};
use serde_json::Value;
use std::collections::BTreeMap;

fn bytes(v: &Value) -> Vec<u8> {
    hex::decode(v.as_str().unwrap()).unwrap()
}

fn check<C: Ciphersuite>(json: &str) {
    let v: Value = serde_json::from_str(json).unwrap();
    let inputs = &v["inputs"];
    let min: u16 = v["config"]["MIN_PARTICIPANTS"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    let message = bytes(&inputs["message"]);
    let group_key = VerifyingKey::<C>::deserialize(&bytes(&inputs["verifying_key_key"])).unwrap();

    let mut shares = BTreeMap::new();
    for s in inputs["participant_shares"].as_array().unwrap() {
        let id = Identifier::<C>::try_from(s["identifier"].as_u64().unwrap() as u16).unwrap();
        shares.insert(
            id,
            SigningShare::<C>::deserialize(&bytes(&s["participant_share"])).unwrap(),
        );
    }
    let verifying_shares: BTreeMap<_, _> = shares
        .iter()
        .map(|(id, s)| (*id, VerifyingShare::<C>::from(*s)))
        .collect();
    let pubkeys = PublicKeyPackage::new(verifying_shares.clone(), group_key, Some(min));

    // Round one: nonces from the vectors; commitments must match.
    let mut nonces = BTreeMap::new();
    let mut commitments = BTreeMap::new();
    for o in v["round_one_outputs"]["outputs"].as_array().unwrap() {
        let id = Identifier::<C>::try_from(o["identifier"].as_u64().unwrap() as u16).unwrap();
        let n = SigningNonces::<C>::from_nonces(
            Nonce::deserialize(&bytes(&o["hiding_nonce"])).unwrap(),
            Nonce::deserialize(&bytes(&o["binding_nonce"])).unwrap(),
        );
        let c = *n.commitments();
        assert_eq!(
            c.hiding().serialize().unwrap(),
            bytes(&o["hiding_nonce_commitment"])
        );
        assert_eq!(
            c.binding().serialize().unwrap(),
            bytes(&o["binding_nonce_commitment"])
        );
        commitments.insert(id, c);
        nonces.insert(id, n);
    }
    let package = SigningPackage::new(commitments, &message);

    // Round two: signature shares must match.
    let mut sig_shares = BTreeMap::new();
    for o in v["round_two_outputs"]["outputs"].as_array().unwrap() {
        let id = Identifier::<C>::try_from(o["identifier"].as_u64().unwrap() as u16).unwrap();
        let kp = KeyPackage::new(id, shares[&id], verifying_shares[&id], group_key, min);
        let share = frost_core::round2::sign(&package, &nonces[&id], &kp).unwrap();
        assert_eq!(
            share.serialize(),
            bytes(&o["sig_share"]),
            "signature share of {id:?}"
        );
        sig_shares.insert(id, share);
    }

    // Aggregate: the final signature must match and verify.
    let sig = frost_core::aggregate(&package, &sig_shares, &pubkeys).unwrap();
    assert_eq!(sig.serialize().unwrap(), bytes(&v["final_output"]["sig"]));
    group_key.verify(&message, &sig).unwrap();
}

#[test]
fn rfc9591_ed25519() {
    check::<Ed25519>(include_str!("vectors/ed25519.json"));
}

#[test]
fn rfc9591_secp256k1() {
    check::<Secp256k1>(include_str!("vectors/secp256k1.json"));
}

#[test]
fn frost_secp256k1_tr_vectors() {
    check::<Secp256k1Tr>(include_str!("vectors/secp256k1-tr.json"));
}
