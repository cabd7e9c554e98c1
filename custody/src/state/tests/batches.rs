//! A node's signature reports proposed together ([`Report::Signatures`], issue 15): each item is
//! applied as its own report would be — the reporter a signer of that attempt, the signatures
//! checked against that request's transaction — and one bad item does not take the others down
//! nor slip through with them.

use super::custody::{approve, setup, submit, two_of_three, H};
use crate::state::ActionResult;
use crate::{Report, Request, RequestStatus, SignedAttempt, MAX_SIGNATURE_ITEMS};
use ed25519_dalek::SigningKey;

/// The test wallet's own signing key: the test vault's ed25519 group key (`custody::keys(5)`)
/// tweaked for the Solana testnet wallet 0, as the signers' shares are.
fn wallet_key(pk: &[u8]) -> frost_ed25519::SigningKey {
    use mpc_protocol::chain::keys::frost_tweak;
    use mpc_protocol::chain::{Chain, KeyType, Network};
    let group = SigningKey::from_bytes(&[5; 32]);
    let t = frost_tweak::<frost_ed25519::Ed25519Sha512>(
        KeyType::Ed25519,
        &group.verifying_key().to_bytes(),
        Chain::Solana,
        Network::Testnet,
        0,
    )
    .unwrap();
    let key = frost_ed25519::SigningKey::from_scalar(group.to_scalar() + t).unwrap();
    let vk = frost_ed25519::VerifyingKey::from(&key);
    assert_eq!(vk.serialize().unwrap(), pk, "the wallet's key");
    key
}

/// Approved Solana requests (FROST): signing, attempt 1; and the wallet's key.
fn signing_requests(n: usize) -> (H, Vec<Request>, frost_ed25519::SigningKey) {
    let (mut h, wallet, pk) = setup(two_of_three());
    let key = wallet_key(&pk);
    let reqs = (0..n)
        .map(|i| {
            let r = submit(&mut h, &wallet, &pk, 1_000 + i as u64, &format!("b{i}"));
            let digest = r.intent_digest.clone();
            assert!(approve(&mut h, 11, &r, &digest).error.is_none());
            assert!(approve(&mut h, 12, &r, &digest).error.is_none());
            let r = h.request(&r.request_id);
            assert_eq!(r.status, RequestStatus::Signing);
            r
        })
        .collect();
    (h, reqs, key)
}

fn signed(key: &frost_ed25519::SigningKey, req: &Request) -> SignedAttempt {
    let message = hex::decode(&req.payload).unwrap();
    let sig = key.sign(rand::rngs::OsRng, &message);
    SignedAttempt {
        request_id: req.request_id.clone(),
        attempt: 1,
        signatures: vec![hex::encode(sig.serialize().unwrap())],
    }
}

#[test]
fn each_item_of_a_signature_batch_is_checked_on_its_own() {
    let (mut h, reqs, key) = signing_requests(6);
    // A node that signs attempt 1 of at least three of them.
    let node = (1..=3u64)
        .max_by_key(|n| {
            reqs.iter()
                .filter(|r| r.attempts[0].signers.contains(n))
                .count()
        })
        .unwrap();
    let mut mine: Vec<&Request> = reqs
        .iter()
        .filter(|r| r.attempts[0].signers.contains(&node))
        .collect();
    assert!(mine.len() >= 4, "{node}");
    // The last request's attempt 1 fails on its other signer, who names `node` unresponsive:
    // attempt 2 runs without `node`.
    let last = mine.pop().unwrap();
    let other = *last.attempts[0]
        .signers
        .iter()
        .find(|n| **n != node)
        .unwrap();
    let failed = h.report(
        other,
        Report::SignFailed {
            request_id: last.request_id.clone(),
            attempt: 1,
            reason: "timeout".into(),
            unresponsive: vec![node],
        },
    );
    assert!(failed.error.is_none(), "{failed:?}");
    assert!(!h.request(&last.request_id).attempts[1]
        .signers
        .contains(&node));
    let mut not_mine = signed(&key, last);
    not_mine.attempt = 2;
    let audit = h.s.audit().len();
    let mut bogus = signed(&key, mine[1]);
    bogus.signatures = vec!["00".repeat(64)];
    // Another request's signature under this request's id.
    let mut swapped = signed(&key, mine[0]);
    swapped.request_id = mine[2].request_id.clone();
    // A valid signature for a request this node does not sign in this attempt.
    let items = vec![
        signed(&key, mine[0]),
        bogus,
        swapped,
        signed(&key, mine[0]),
        not_mine,
    ];
    let out = h.report(node, Report::Signatures { items });
    assert_eq!(
        out.result,
        Some(ActionResult::RequestsSigned {
            request_ids: vec![mine[0].request_id.clone()]
        }),
        "{out:?}"
    );
    let error = out.error.unwrap();
    assert!(
        error.contains(&format!("{}: signature report refused", mine[1].request_id)),
        "{error}"
    );
    assert!(
        error.contains(&format!("{}: signature report refused", mine[2].request_id)),
        "{error}"
    );
    assert_eq!(h.request(&mine[0].request_id).status, RequestStatus::Signed);
    assert_eq!(
        h.request(&mine[1].request_id).status,
        RequestStatus::Signing
    );
    assert_eq!(
        h.request(&mine[2].request_id).status,
        RequestStatus::Signing
    );
    assert_eq!(h.request(&last.request_id).status, RequestStatus::Signing);
    assert_eq!(
        h.s.audit().len(),
        audit + 1,
        "one audit entry per signed request"
    );

    // The rest, together: each signed, each audited.
    let out = h.report(
        node,
        Report::Signatures {
            items: vec![signed(&key, mine[1]), signed(&key, mine[2])],
        },
    );
    assert!(out.error.is_none(), "{out:?}");
    assert_eq!(h.request(&mine[1].request_id).status, RequestStatus::Signed);
    assert_eq!(h.request(&mine[2].request_id).status, RequestStatus::Signed);
    assert_eq!(h.s.audit().len(), audit + 3);
    // Again: nothing changes.
    let out = h.report(
        node,
        Report::Signatures {
            items: vec![signed(&key, mine[1]), signed(&key, mine[2])],
        },
    );
    assert!(out.error.unwrap().contains("changed nothing"));
    assert_eq!(h.s.audit().len(), audit + 3);
}

#[test]
fn a_signature_batch_is_bounded() {
    let (mut h, reqs, key) = signing_requests(1);
    let node = reqs[0].attempts[0].signers[0];
    let too_many = vec![signed(&key, &reqs[0]); MAX_SIGNATURE_ITEMS + 1];
    let out = h.report(node, Report::Signatures { items: too_many });
    assert!(out.error.unwrap().contains("1 to 64 reports"));
    assert_eq!(
        h.request(&reqs[0].request_id).status,
        RequestStatus::Signing
    );
    let out = h.report(node, Report::Signatures { items: vec![] });
    assert!(out.error.is_some());
}

/// The policy a request was submitted under is half its size: requests of one policy version
/// share one copy in memory, as applied and as rebuilt from their records (a restart); a request
/// whose copy differs from the others' keeps its own, unchanged.
#[test]
fn requests_of_one_policy_version_share_one_copy_of_it() {
    use std::sync::Arc;
    let (mut h, reqs, _) = signing_requests(3);
    let vault = reqs[0].vault_id.clone();
    let in_force = |s: &crate::state::CustodyState| Arc::as_ptr(&s.policies[&vault]);
    let held = |s: &crate::state::CustodyState, id: &str| Arc::as_ptr(&s.requests[id].policy);
    for r in &reqs {
        assert_eq!(held(&h.s, &r.request_id), in_force(&h.s), "applied");
    }
    // One request's copy differs (same version, other content): it must not be replaced.
    let mut odd = h.request(&reqs[2].request_id);
    let mut other = (*odd.policy).clone();
    other.set_at_ms += 1;
    odd.policy = Arc::new(other.clone());
    h.s.force_request_for_tests(odd);
    let records: Vec<_> =
        h.s.record_keys()
            .into_iter()
            .filter_map(|k| h.s.record(&k).map(|v| (k, v)))
            .collect();
    let back = crate::state::CustodyState::from_records(
        h.s.genesis().clone(),
        h.s.last_timestamp_ms(),
        records,
    )
    .unwrap();
    assert!(
        back.requests == h.s.requests,
        "the requests came back as they were"
    );
    for r in &reqs[..2] {
        assert_eq!(held(&back, &r.request_id), in_force(&back), "rebuilt");
    }
    assert_ne!(held(&back, &reqs[2].request_id), in_force(&back));
    assert_eq!(*back.requests[&reqs[2].request_id].policy, other);
    // The outcomes kept for replays share it too.
    let shared = back
        .idempotency
        .values()
        .filter_map(|rec| match &rec.outcome.result {
            Some(ActionResult::Request { request }) => Some(Arc::as_ptr(&request.policy)),
            _ => None,
        })
        .filter(|p| *p == in_force(&back))
        .count();
    assert!(shared >= 2, "{shared} replay outcomes share the policy");
}
