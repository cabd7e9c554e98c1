//! Fees are part of what a request spends: they count against spend windows and auto-approve
//! caps, and a per-policy fee cap rejects an expensive request. (Solana transfers here: a fixed
//! fee of 5,000 lamports.)

use super::custody::{approve, setup, submit, two_of_three, whitelist_destination};
use crate::{AutoApprove, FeeCap, LimitAction, RequestStatus, SpendLimit};
use mpc_protocol::chain::Amount;

const FEE: u128 = 5_000;

#[test]
fn auto_approve_counts_the_fee() {
    let mut rules = two_of_three();
    rules.auto_approve = vec![AutoApprove {
        asset: "SOL".into(),
        max_amount: Amount(1_000_000),
    }];
    let (mut h, wallet, pk) = setup(rules);
    whitelist_destination(&mut h);
    // 1,000,000 lamports plus the fee is above the cap: people must approve.
    let r = submit(&mut h, &wallet, &pk, 1_000_000, "r1");
    assert_eq!(r.intent.fee.0, FEE);
    assert_eq!(r.status, RequestStatus::Pending);
    assert!(!r.auto_approved);
    // Amount plus fee exactly at the cap: auto-approved.
    let r = submit(&mut h, &wallet, &pk, 1_000_000 - 5_000, "r2");
    assert!(r.auto_approved, "{:?}", r.status);
}

#[test]
fn spend_windows_count_the_fee() {
    let mut rules = two_of_three();
    rules.limits = vec![SpendLimit {
        asset: "SOL".into(),
        window_secs: 3600,
        max_amount: Amount(2_000_000 + FEE),
        action: LimitAction::Reject,
    }];
    let (mut h, wallet, pk) = setup(rules);
    let approved = |h: &mut super::custody::H, lamports: u64, idem: &str| {
        let r = submit(h, &wallet, &pk, lamports, idem);
        approve(h, 11, &r, &r.intent_digest);
        approve(h, 12, &r, &r.intent_digest);
        h.request(&r.request_id)
    };
    // 1,000,000 + fee, then 1,000,000 + fee: the second is 5,000 over the window.
    assert_eq!(
        approved(&mut h, 1_000_000, "a").status,
        RequestStatus::Signing
    );
    let second = approved(&mut h, 1_000_000, "b");
    assert!(
        matches!(&second.status, RequestStatus::Rejected { reason }
            if reason.contains("spending limit") && reason.contains("fee")),
        "{:?}",
        second.status
    );
    // What fits with its fee is still allowed.
    assert_eq!(
        approved(&mut h, 1_000_000 - 5_000, "c").status,
        RequestStatus::Signing
    );
}

#[test]
fn a_fee_above_the_policy_cap_is_rejected_and_never_signed() {
    let mut rules = two_of_three();
    rules.max_fee = vec![FeeCap {
        asset: "SOL".into(),
        max_fee: Amount(FEE - 1),
    }];
    let (mut h, wallet, pk) = setup(rules.clone());
    let r = submit(&mut h, &wallet, &pk, 1_000, "r1");
    assert!(
        matches!(&r.status, RequestStatus::Rejected { reason } if reason.contains("exceeds the policy's maximum")),
        "{:?}",
        r.status
    );
    // A node whose state says this request is signing anyway gets no signing job from an
    // honest signer: the fee is recomputed from the payload and held to the adopted cap.
    let mut fr = r.clone();
    fr.status = RequestStatus::Signing;
    fr.reserved_at_ms = Some(fr.created_at_ms);
    fr.attempts = vec![crate::SignAttempt {
        attempt: 1,
        signers: vec![1, 2],
        session_id: "00".repeat(32),
        log_index: 99,
        failure: None,
        presignatures: Vec::new(),
        deadline_ms: u64::MAX,
    }];
    h.s.force_request_for_tests(fr);
    let e = h.s.signing_job(&r.request_id, 1).unwrap_err();
    assert!(e.contains("exceeds the policy's maximum"), "{e}");
    // With a cap the fee fits, the same request signs.
    rules.max_fee[0].max_fee = Amount(FEE);
    let (mut h, wallet, pk) = setup(rules);
    let r = submit(&mut h, &wallet, &pk, 1_000, "r1");
    approve(&mut h, 11, &r, &r.intent_digest);
    approve(&mut h, 12, &r, &r.intent_digest);
    let r = h.request(&r.request_id);
    assert_eq!(r.status, RequestStatus::Signing);
    let me = r.attempts[0].signers[0];
    assert!(h.s.signing_job(&r.request_id, me).is_ok());
}
