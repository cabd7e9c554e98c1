//! Overload never fails an approved request: interactive ECDSA attempts beyond
//! `MAX_INTERACTIVE_SIGNING` wait in the log's queue — no attempt, no deadline, nothing to fail —
//! and start in request order as slots free, with their deadline counted from then.

use super::custody::{approved_eth_request, eth_wallet, setup, two_of_three, H};
use super::*;
use crate::request::MAX_INTERACTIVE_SIGNING;
use crate::{Report, RequestStatus, MAX_SIGN_ATTEMPTS};

fn eth_request(h: &mut H, wallet: &str, idem: &str) -> String {
    approved_eth_request(h, wallet, idem).request_id.0
}

#[test]
fn interactive_signing_beyond_the_slots_waits_in_order_and_never_fails_for_it() {
    let (mut h, _, _) = setup(two_of_three());
    let wid = eth_wallet(&mut h).wallet_id.0;
    // The pool has nothing ready: every attempt is interactive.
    let n = MAX_INTERACTIVE_SIGNING + 3;
    let ids: Vec<String> = (0..n)
        .map(|i| eth_request(&mut h, &wid, &format!("e{i}")))
        .collect();
    for (i, id) in ids.iter().enumerate() {
        let r = h.request(id);
        assert_eq!(r.status, RequestStatus::Signing, "{id}");
        if i < MAX_INTERACTIVE_SIGNING {
            assert!(!r.queued);
            assert_eq!(r.attempts.len(), 1);
            assert!(r.attempts[0].presignatures.is_empty());
        } else {
            assert!(r.queued, "{id} should wait for a slot");
            assert!(r.attempts.is_empty());
            assert!(r.current_attempt().is_none());
        }
    }
    // Waiting requests have no deadline and no signing job.
    let expired = h.s.expired_attempts(u64::MAX);
    assert_eq!(expired.len(), MAX_INTERACTIVE_SIGNING);
    let waiting = &ids[MAX_INTERACTIVE_SIGNING];
    let e = h.s.signing_job(waiting, 1).unwrap_err();
    assert!(e.contains("waiting for a slot"), "{e}");
    // The indexes survive a restart (rebuilt from the records), in whatever order the store
    // hands the records back (here: reversed, requests before wallets).
    let mut copy = h.s.clone();
    let keys = copy.record_keys();
    let mut records: Vec<_> = keys
        .iter()
        .filter_map(|k| copy.record(k).map(|v| (k.clone(), v)))
        .collect();
    records.reverse();
    let back =
        CustodyState::from_records(copy.genesis().clone(), copy.last_timestamp_ms(), records)
            .unwrap();
    copy.take_dirty();
    assert_eq!(back.sign_queue, copy.sign_queue);
    assert_eq!(back.interactive_running, copy.interactive_running);
    // The first request's attempts all fail: it fails on its own merits (its retries keep its
    // slot), and the slot then goes to the longest-waiting request, in the same entry.
    let first = &ids[0];
    for attempt in 1..=MAX_SIGN_ATTEMPTS {
        let signer = h.request(first).attempts.last().unwrap().signers[0];
        let failed = Report::SignFailed {
            request_id: first.as_str().into(),
            attempt,
            reason: "boom".into(),
            unresponsive: vec![],
        };
        assert!(h.report(signer, failed).error.is_none());
    }
    assert!(matches!(
        h.request(first).status,
        RequestStatus::Failed { .. }
    ));
    let admitted = h.request(waiting);
    assert!(!admitted.queued);
    // Each request counted once as its wallet's demand: when it started or was queued, not
    // again when admitted from the queue (decision 0031).
    assert_eq!(h.s.presig_pool(&wid).unwrap().demand.len(), n);
    assert_eq!(admitted.attempts.len(), 1);
    let a = &admitted.attempts[0];
    assert!(a.deadline_ms > 0 && a.log_index > 0);
    assert!(h.s.signing_job(waiting, a.signers[0]).is_ok());
    // The others still wait, in order.
    assert!(h.request(&ids[MAX_INTERACTIVE_SIGNING + 1]).queued);
    assert!(h.request(&ids[MAX_INTERACTIVE_SIGNING + 2]).queued);
    // No request failed for waiting.
    let failed = ids
        .iter()
        .filter(|id| matches!(h.request(id).status, RequestStatus::Failed { .. }))
        .count();
    assert_eq!(failed, 1);
}
