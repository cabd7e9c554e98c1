//! Request lifecycle: a time-to-live per policy (an expired request never signs and releases its
//! reservation) and cancellation by the initiator or an admin, both audited.

use super::custody::{approve, org, setup, submit, two_of_three, H};
use super::*;
use crate::{LimitAction, Report, RequestStatus, SpendLimit};
use mpc_protocol::chain::Amount;

fn expire(h: &mut H, r: &crate::Request) -> CommandOutcome {
    h.report(
        2,
        Report::RequestExpired {
            request_id: r.request_id.clone(),
        },
    )
}

#[test]
fn an_expired_request_never_signs_and_releases_its_reservation() {
    let mut rules = two_of_three();
    rules.request_ttl_secs = Some(60);
    rules.limits = vec![SpendLimit {
        asset: "SOL".into(),
        window_secs: 3600,
        max_amount: Amount(1_005_000),
        action: LimitAction::Reject,
    }];
    let (mut h, wallet, pk) = setup(rules);
    let r1 = submit(&mut h, &wallet, &pk, 1_000_000, "r1");
    assert_eq!(r1.expires_at_ms, r1.created_at_ms + 60_000);
    // Reported too early: nothing changes.
    assert!(expire(&mut h, &r1)
        .error
        .unwrap()
        .contains("changed nothing"));
    approve(&mut h, 11, &r1, &r1.intent_digest);
    approve(&mut h, 12, &r1, &r1.intent_digest);
    let r1 = h.request(&r1.request_id);
    assert_eq!(r1.status, RequestStatus::Signing);
    let me = r1.attempts[0].signers[0];
    // A signer whose own clock is past the expiry contributes nothing.
    let e =
        h.s.signing_job_at(&r1.request_id, me, r1.expires_at_ms + 1)
            .unwrap_err();
    assert!(e.contains("expired"), "{e}");
    // While r1 holds its reservation, the window is full.
    let r2 = submit(&mut h, &wallet, &pk, 1_000_000, "r2");
    approve(&mut h, 11, &r2, &r2.intent_digest);
    approve(&mut h, 12, &r2, &r2.intent_digest);
    assert!(matches!(
        h.request(&r2.request_id).status,
        RequestStatus::Rejected { .. }
    ));
    // Past its time-to-live: approvals are refused, the report expires it (audited), and its
    // reservation no longer counts.
    let r3 = submit(&mut h, &wallet, &pk, 1_000_000, "r3");
    h.shift_ms += 61_000;
    let e = approve(&mut h, 11, &r3, &r3.intent_digest).error.unwrap();
    assert!(e.contains("expired"), "{e}");
    for r in [&r1, &r3] {
        let out = expire(&mut h, r);
        assert!(out.error.is_none(), "{out:?}");
        assert_eq!(h.request(&r.request_id).status, RequestStatus::Expired);
    }
    assert_eq!(h.s.audit().last().unwrap().action, "request_expired");
    assert!(h.s.signing_job(&r1.request_id, me).is_err());
    let r4 = submit(&mut h, &wallet, &pk, 1_000_000, "r4");
    approve(&mut h, 11, &r4, &r4.intent_digest);
    approve(&mut h, 12, &r4, &r4.intent_digest);
    assert_eq!(h.request(&r4.request_id).status, RequestStatus::Signing);
}

#[test]
fn the_initiator_or_an_admin_cancels_a_request_before_it_signs() {
    let (mut h, wallet, pk) = setup(two_of_three());
    let cancel = |id: &crate::Request| Action::RequestCancel {
        org_id: org(),
        request_id: id.request_id.clone(),
        reason: "wrong destination".into(),
    };
    let r = submit(&mut h, &wallet, &pk, 1_000, "r1");
    // An approver is neither the initiator nor an admin.
    let e = h.user(11, "c0", cancel(&r)).error.unwrap();
    assert!(e.contains("may not cancel"), "{e}");
    assert!(h.user(20, "c1", cancel(&r)).error.is_none());
    let s = h.request(&r.request_id).status;
    assert!(
        matches!(&s, RequestStatus::Cancelled { reason } if reason.contains("ini")),
        "{s:?}"
    );
    assert_eq!(h.s.audit().last().unwrap().action, "request_cancel");
    let e = approve(&mut h, 11, &r, &r.intent_digest).error.unwrap();
    assert!(e.contains("not pending"), "{e}");
    // An admin may cancel too; a request already signing cannot be cancelled.
    let r = submit(&mut h, &wallet, &pk, 1_000, "r2");
    assert!(h.user(1, "c2", cancel(&r)).error.is_none());
    let r = submit(&mut h, &wallet, &pk, 1_000, "r3");
    approve(&mut h, 11, &r, &r.intent_digest);
    approve(&mut h, 12, &r, &r.intent_digest);
    let e = h.user(20, "c3", cancel(&r)).error.unwrap();
    assert!(e.contains("only a request not yet signing"), "{e}");
}
