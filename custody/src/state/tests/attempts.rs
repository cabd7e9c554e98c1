//! Attempt deadlines in the replicated state: an attempt that neither signs nor fails by its
//! deadline (log time) is ended and retried by the state machine on any node's report.

use super::custody::{approve, setup, submit, two_of_three, H};
use crate::{Report, Request, RequestStatus, ATTEMPT_DEADLINE_ONLINE_MS, MAX_SIGN_ATTEMPTS};

/// A Solana (FROST) request approved 2-of-3: signing, attempt 1.
fn signing_request() -> (H, Request) {
    let (mut h, wallet, pk) = setup(two_of_three());
    let req = submit(&mut h, &wallet, &pk, 1_000, "r1");
    let digest = req.intent_digest.clone();
    assert!(approve(&mut h, 11, &req, &digest).error.is_none());
    assert!(approve(&mut h, 12, &req, &digest).error.is_none());
    let req = h.request(&req.request_id);
    assert_eq!(req.status, RequestStatus::Signing);
    (h, req)
}

fn expired(request_id: &str, attempt: u32) -> Report {
    Report::AttemptExpired {
        request_id: request_id.into(),
        attempt,
    }
}

/// The node that is not a signer of `attempt` (2-of-3).
fn non_signer(req: &Request, attempt: u32) -> u64 {
    let a = &req.attempts[attempt as usize - 1];
    (1..=3).find(|n| !a.signers.contains(n)).unwrap()
}

#[test]
fn an_attempt_gets_a_deadline_in_log_time() {
    let (_, req) = signing_request();
    let a = &req.attempts[0];
    // FROST, one message: fixed part + one message, from the log time that started it.
    let (base, per) = ATTEMPT_DEADLINE_ONLINE_MS;
    assert_eq!(a.deadline_ms, req.reserved_at_ms.unwrap() + base + per);
}

#[test]
fn an_expired_attempt_is_retried_on_any_nodes_report() {
    let (mut h, req) = signing_request();
    let id = req.request_id.clone();
    let deadline = req.attempts[0].deadline_ms;
    let reporter = non_signer(&req, 1);
    // Before the deadline (log time), the report changes nothing and writes no audit entry.
    let audit = h.s.audit().len();
    assert!(h.report(reporter, expired(&id, 1)).error.is_some());
    assert_eq!(h.request(&id).attempts.len(), 1);
    assert_eq!(h.s.audit().len(), audit);
    // Past it: attempt 1 ends, attempt 2 starts with its own session and deadline — even though
    // the reporter is not one of attempt 1's signers.
    h.shift_ms = deadline;
    let out = h.report(reporter, expired(&id, 1));
    assert!(out.error.is_none(), "{:?}", out.error);
    let now = h.request(&id);
    assert_eq!(now.status, RequestStatus::Signing);
    assert_eq!(now.attempts.len(), 2);
    assert!(now.attempts[0]
        .failure
        .as_deref()
        .unwrap()
        .contains("deadline passed"));
    assert_ne!(now.attempts[1].session_id, now.attempts[0].session_id);
    assert!(now.attempts[1].deadline_ms > deadline);
    // The same report again, or one for the replaced attempt, changes nothing.
    assert!(h.report(reporter, expired(&id, 1)).error.is_some());
    assert_eq!(h.request(&id).attempts.len(), 2);
    // The signer of the replaced attempt that finishes late still counts: the signature is
    // verified like any other (here it is not a valid signature, so it is refused).
    let late_signer = req.attempts[0].signers[0];
    let out = h.report(
        late_signer,
        Report::Signature {
            request_id: id.clone(),
            attempt: 1,
            signatures: vec!["00".repeat(64)],
        },
    );
    assert!(out.error.unwrap().contains("signature report refused"));
}

#[test]
fn attempts_that_keep_expiring_fail_the_request_after_the_last() {
    let (mut h, req) = signing_request();
    let id = req.request_id.clone();
    for attempt in 1..=MAX_SIGN_ATTEMPTS {
        let r = h.request(&id);
        assert_eq!(r.status, RequestStatus::Signing, "attempt {attempt}");
        h.shift_ms = r.attempts.last().unwrap().deadline_ms;
        let out = h.report(1, expired(&id, attempt));
        assert!(out.error.is_none(), "attempt {attempt}: {:?}", out.error);
    }
    let r = h.request(&id);
    assert!(
        matches!(&r.status, RequestStatus::Failed { reason } if reason.contains("deadline passed")),
        "{:?}",
        r.status
    );
    assert_eq!(r.attempts.len() as u32, MAX_SIGN_ATTEMPTS);
    // A request that is no longer signing has no expired attempt to report.
    assert!(h.s.expired_attempts(u64::MAX).is_empty());
}

#[test]
fn expired_attempts_lists_what_a_node_should_report() {
    let (h, req) = signing_request();
    let deadline = req.attempts[0].deadline_ms;
    assert!(h.s.expired_attempts(deadline - 1).is_empty());
    assert_eq!(
        h.s.expired_attempts(deadline),
        vec![(req.request_id.clone(), 1)]
    );
}

#[test]
fn the_broadcaster_rota_passes_every_node_in_turn() {
    use crate::chain_status::ChainStatus;
    use mpc_protocol::chain::{Chain, Network};
    let (h, mut req) = signing_request();
    req.chain = Some(ChainStatus::signed(
        "sig".into(),
        Chain::Solana,
        Network::Testnet,
        1_000,
    ));
    let slot = crate::state::BROADCAST_SLOT_MS;
    let at = |t: u64| h.s.broadcaster_at(&req, t).unwrap();
    let turns: Vec<u64> = (0..4).map(|k| at(1_000 + k * slot)).collect();
    let mut first_three = turns[..3].to_vec();
    first_three.sort_unstable();
    assert_eq!(
        first_three,
        vec![1, 2, 3],
        "each node gets a slot: {turns:?}"
    );
    assert_eq!(turns[3], turns[0], "then the rota starts again");
    assert_eq!(at(1_000 + slot - 1), turns[0], "a slot lasts {slot} ms");
    // Requests start at different nodes (the order depends on the request id).
    let firsts: std::collections::BTreeSet<u64> = (0..30)
        .map(|i| h.s.broadcaster_rota(&format!("req-{i}"))[0])
        .collect();
    assert!(firsts.len() > 1, "{firsts:?}");
}

#[test]
fn a_node_flipping_its_chain_reports_cannot_grow_the_log_without_bound() {
    use crate::chain_status::{ChainStatus, Seen, MAX_OBSERVATION_CHANGES};
    use mpc_protocol::chain::{Chain, Network};
    let (mut h, mut req) = signing_request();
    // As if signed: the state machine computed this id.
    req.status = RequestStatus::Signed;
    req.chain = Some(ChainStatus::signed(
        "sig".into(),
        Chain::Solana,
        Network::Testnet,
        1_000,
    ));
    h.s.requests.insert(req.request_id.clone(), req.clone());
    let observed = |seen: Seen| Report::ChainObserved {
        request_id: req.request_id.clone(),
        txid: "sig".into(),
        seen,
    };
    let audit = h.s.audit().len();
    for i in 0..200u32 {
        let seen = if i % 2 == 0 {
            Seen::Pending
        } else {
            Seen::Dropped {
                reason: "lie".into(),
            }
        };
        h.report(1, observed(seen));
    }
    let written = h.s.audit().len() - audit;
    assert_eq!(
        written, MAX_OBSERVATION_CHANGES as usize,
        "flips past the cap are ignored"
    );
    // Another id than the network's is refused; another node is still heard.
    let e = h
        .report(
            2,
            Report::ChainObserved {
                request_id: req.request_id.clone(),
                txid: "other".into(),
                seen: Seen::Pending,
            },
        )
        .error
        .unwrap();
    assert!(e.contains("not the request's"), "{e}");
    assert!(h.report(2, observed(Seen::Pending)).error.is_none());
    assert_eq!(
        h.request(&req.request_id).chain.unwrap().state,
        crate::chain_status::ChainState::Broadcast
    );
}
