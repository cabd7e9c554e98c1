#![allow(clippy::unwrap_used)]
use super::check::check_key_share;
use super::kit::{self, KitBody, KitError, KitHeader, KitRecord, RecoverySecret};
use mpc_bootstrap::identity::IdentityCard;
use mpc_protocol::frost::Ed25519;

fn card() -> IdentityCard {
    IdentityCard {
        node_id: 3,
        peer_id: "p".into(),
        noise_public_key: "00".repeat(32),
        p2p_addr: "/ip4/127.0.0.1/tcp/1".into(),
        rpc_addr: "127.0.0.1:2".into(),
        rpc_tls_sha256: "00".repeat(32),
    }
}

/// TEST ONLY: a FROST key package from a trusted dealer (never in the product: no dealer).
fn frost_record(tamper: bool) -> Vec<u8> {
    use frost_core::keys::{generate_with_dealer, IdentifierList, KeyPackage};
    let (shares, pkp) =
        generate_with_dealer::<Ed25519, _>(3, 2, IdentifierList::Default, &mut rand::rngs::OsRng)
            .unwrap();
    let (_, share) = shares.into_iter().next().unwrap();
    let kp = KeyPackage::<Ed25519>::try_from(share).unwrap();
    let kp = if tamper {
        // Another party's share under this party's identifier and verifying share.
        let (other, _) = generate_with_dealer::<Ed25519, _>(
            3,
            2,
            IdentifierList::Default,
            &mut rand::rngs::OsRng,
        )
        .unwrap();
        let (_, s2) = other.into_iter().next().unwrap();
        let kp2 = KeyPackage::<Ed25519>::try_from(s2).unwrap();
        KeyPackage::new(
            *kp.identifier(),
            *kp2.signing_share(),
            *kp.verifying_share(),
            *kp.verifying_key(),
            *kp.min_signers(),
        )
    } else {
        kp
    };
    mpc_protocol::encode(&(kp, pkp)).unwrap()
}

fn kit_for(secret: &RecoverySecret) -> Vec<u8> {
    let header = KitHeader {
        format: kit::FORMAT.into(),
        cluster_id: "c".into(),
        node_id: 3,
        created_at_ms: 1,
        recovery_key: secret.public_hex().unwrap(),
        suite: kit::SUITE.into(),
        records: vec!["key_share/vault/v/ed25519".into()],
    };
    let body = KitBody {
        card: card(),
        identity_secret: vec![7; 80],
        genesis_json: "{}".into(),
        records: vec![KitRecord {
            key_id: "vault/v/ed25519".into(),
            kind: "key_share".into(),
            bytes: frost_record(false),
        }],
        joined_sessions: vec![[1; 32]],
    };
    kit::seal(&header, &body).unwrap()
}

#[test]
fn a_kit_opens_only_with_its_recovery_key() {
    let secret = RecoverySecret::generate();
    let k = kit_for(&secret);
    let (h, b) = kit::open(&k, &secret).unwrap();
    assert_eq!(h.node_id, 3);
    assert_eq!(b.records.len(), 1);
    assert_eq!(b.joined_sessions, vec![[1; 32]]);
    let other = RecoverySecret::generate();
    assert!(matches!(
        kit::open(&k, &other),
        Err(KitError::WrongKey { .. })
    ));
}

/// Every single-byte change anywhere in the kit, and every truncation, is refused.
#[test]
fn tampered_or_truncated_kits_are_refused() {
    let secret = RecoverySecret::generate();
    let k = kit_for(&secret);
    let (_, at) = kit::read_header(&k).unwrap();
    // A byte in the header (a record name), in the encapsulated key, in the ciphertext.
    for pos in [at - 5, at + 3, at + 40, k.len() - 1] {
        let mut t = k.clone();
        t[pos] ^= 0x01;
        let e = kit::open(&t, &secret).unwrap_err();
        assert!(
            matches!(e, KitError::Tampered | KitError::Malformed(_)),
            "byte {pos}: {e}"
        );
    }
    for len in [0, 7, 11, at, at + 31, at + 32, at + 47, k.len() - 1] {
        let e = kit::open(&k[..len], &secret).unwrap_err();
        assert!(
            matches!(e, KitError::Tampered | KitError::Malformed(_)),
            "cut at {len}: {e}"
        );
    }
    // Changing the header's node id is caught even though the JSON stays valid.
    let text = String::from_utf8_lossy(&k[..at]).to_string();
    let swapped = text.replace("\"node_id\":3", "\"node_id\":2");
    let mut t = swapped.into_bytes();
    t.extend_from_slice(&k[at..]);
    assert!(matches!(kit::open(&t, &secret), Err(KitError::Tampered)));
}

#[test]
fn the_drill_check_finds_a_share_that_does_not_match_its_commitments() {
    let good = check_key_share("vault/v/ed25519", &frost_record(false));
    assert_eq!(good.result, "ok", "{good:?}");
    assert_eq!((good.threshold, good.parties), (2, 3));
    let bad = check_key_share("vault/v/ed25519", &frost_record(true));
    assert!(bad.result.contains("does not match"), "{bad:?}");
    let garbage = check_key_share("vault/v/ecdsa_secp256k1", b"\x01\x02");
    assert_ne!(garbage.result, "ok");
}
