//! Users' commands the leader proposed together ([`Proposal::Users`], issue 15, decision 0035):
//! every command of a batch is verified and applied on its own, with its own outcome; one bad
//! command neither takes the others down nor slips through with them; only request submissions
//! and approvals may share an entry; and the requests of one entry keep a strict log order, so
//! that each signer's re-check counts an earlier request of the same entry against a spending
//! limit exactly as `apply` did.

use super::custody::{org, setup, submit, two_of_three, H};
use super::*;
use crate::{LimitAction, RequestStatus, SpendLimit};
use mpc_protocol::chain::Amount;

fn signed(signer: u8, idem: &str, action: Action) -> SignedCommand {
    let body = CommandBody {
        cluster: CLUSTER.into(),
        idempotency_key: idem.into(),
        action,
    };
    SignedCommand::sign(&body, &key(signer)).unwrap()
}

/// Applies `cmds` as one batch entry at the harness's next log index.
fn batch(h: &mut H, cmds: Vec<SignedCommand>) -> CommandOutcome {
    h.idx += 1;
    let entry = LogCommand {
        proposed_at_ms: 1_000_000 + h.idx * 1000 + h.shift_ms,
        proposal: Proposal::Users(cmds),
    };
    h.s.apply(EntryContext { log_index: h.idx }, &entry)
}

fn submission(wallet: &str, pk: &[u8], lamports: u64, idem: &str) -> SignedCommand {
    // The payload `submit` makes, without applying it.
    let mut probe = setup(two_of_three()).0;
    let r = submit(&mut probe, wallet, pk, lamports, "probe");
    signed(
        20,
        idem,
        Action::RequestSubmit {
            org_id: org(),
            wallet_id: wallet.into(),
            payload: r.payload,
            extras: Default::default(),
        },
    )
}

fn approval(who: u8, req: &crate::Request) -> SignedCommand {
    signed(
        who,
        &format!("ap-{who}-{}", req.request_id),
        Action::RequestApprove {
            org_id: org(),
            request_id: req.request_id.clone(),
            intent_digest: req.intent_digest.clone(),
        },
    )
}

fn request_of(o: &CommandOutcome) -> crate::Request {
    match &o.result {
        Some(ActionResult::Request { request }) => (**request).clone(),
        _ => panic!("item {}: {:?}", o.item, o.error),
    }
}

#[test]
fn each_command_of_a_batch_is_verified_and_applied_on_its_own() {
    let (mut h, wallet, pk) = setup(two_of_three());
    let good = submission(&wallet, &pk, 1_000, "b-good");
    // A forged command: the body changed after signing (a hostile leader's edit).
    let mut forged = submission(&wallet, &pk, 2_000, "b-forged");
    forged.body = forged.body.replace("b-forged", "b-forged2");
    // A stranger's command (key 99 is no member).
    let mut stranger = submission(&wallet, &pk, 3_000, "b-stranger");
    stranger = SignedCommand::sign(
        &serde_json::from_str::<CommandBody>(&stranger.body).unwrap(),
        &key(99),
    )
    .unwrap();
    // A kind that may not share an entry: it is refused in a batch, even from an admin.
    let member = signed(
        1,
        "b-member",
        member_add("acme", "zed", 77, &[Role::Approver]),
    );
    let last = submission(&wallet, &pk, 4_000, "b-last");
    let audit_before = h.s.audit().len();
    let out = batch(&mut h, vec![good, forged, stranger, member, last]);
    let index = h.idx;
    assert!(out.error.is_none(), "{:?}", out.error);
    assert_eq!(
        out.items.iter().map(|o| o.item).collect::<Vec<_>>(),
        [0, 1, 2, 3, 4]
    );
    assert!(out.items.iter().all(|o| o.log_index == index));
    // The good ones are requests with ids unique per item.
    let first = request_of(&out.items[0]);
    let fifth = request_of(&out.items[4]);
    assert_eq!(first.request_id.as_str(), format!("req-{index}"));
    assert_eq!(fifth.request_id.as_str(), format!("req-{index}-4"));
    assert_ne!(first.intent_digest, fifth.intent_digest);
    // The others are refused, each with its own reason, and changed nothing.
    let err = |i: usize| out.items[i].error.clone().unwrap_or_default();
    assert!(err(1).contains("does not verify"), "{}", err(1));
    assert!(out.items[2].error.is_some(), "a stranger's request");
    assert!(err(3).contains("may not share a log entry"), "{}", err(3));
    assert!(h.s.request(&format!("req-{index}-1")).is_none());
    assert!(h.s.request(&format!("req-{index}-2")).is_none());
    assert!(h.s.member(&org(), "zed").is_none());
    assert_eq!(
        h.s.audit().len(),
        audit_before + 5,
        "one audit entry per command"
    );
    // Each command's outcome is remembered under its own idempotency key: a replay of the
    // good one alone answers the batch item's outcome.
    let again = h.user(
        20,
        "b-good",
        Action::RequestSubmit {
            org_id: org(),
            wallet_id: wallet.clone(),
            payload: first.payload.clone(),
            extras: Default::default(),
        },
    );
    assert!(again.replayed);
    assert_eq!(again.log_index, index);
    assert_eq!(again.item, 0);
}

#[test]
fn a_batch_of_none_or_too_many_changes_nothing() {
    let (mut h, wallet, pk) = setup(two_of_three());
    let _ = h.s.take_dirty();
    let before = h.s.clone();
    let out = batch(&mut h, vec![]);
    assert!(out.error.unwrap().contains("a batch of 0"));
    let one = submission(&wallet, &pk, 1_000, "many");
    let out = batch(&mut h, vec![one; crate::entry::MAX_BATCHED_COMMANDS + 1]);
    assert!(out.error.unwrap().contains("a batch of 65"));
    assert!(out.items.is_empty());
    assert!(h.s.take_dirty().is_empty());
    assert_eq!(h.s.audit().len(), before.audit().len());
}

/// Approvals batched together each count once; a spending limit sees the earlier requests of
/// the same entry, at `apply` and at every signer's re-check (`earlier_only`): with the requests
/// of one entry tied in log order, a forged state with all three signing would pass the third
/// signer check.
#[test]
fn requests_of_one_entry_count_against_each_other_at_every_signers_recheck() {
    let mut rules = two_of_three();
    rules.limits = vec![SpendLimit {
        asset: "SOL".into(),
        window_secs: 3600,
        max_amount: Amount(2_500_000),
        action: LimitAction::Reject,
    }];
    let (mut h, wallet, pk) = setup(rules);
    // Submitted together (one entry, so one log index), then approved together (one log time).
    let subs = (0..3)
        .map(|i| submission(&wallet, &pk, 1_000_000, &format!("lim{i}")))
        .collect();
    let reqs: Vec<crate::Request> = batch(&mut h, subs).items.iter().map(request_of).collect();
    let approvals = reqs
        .iter()
        .flat_map(|r| [approval(11, r), approval(12, r)])
        .collect();
    let out = batch(&mut h, approvals);
    assert_eq!(out.items.len(), 6);
    let now: Vec<crate::Request> = reqs.iter().map(|r| h.request(&r.request_id)).collect();
    assert_eq!(now[0].status, RequestStatus::Signing);
    assert_eq!(now[1].status, RequestStatus::Signing);
    assert_ne!(
        now[2].status,
        RequestStatus::Signing,
        "the third exceeds the limit"
    );
    let t = now[1].reserved_at_ms.unwrap();
    assert_eq!(now[0].reserved_at_ms, Some(t), "reserved in the same entry");
    // The second's re-check counts the first, made and reserved in the same entries.
    let from = t.saturating_sub(3_600_000);
    let first = now[0].intent.spend_in("SOL");
    assert_eq!(h.s.window_spend(&now[1], "SOL", from, t, true), first);
    // A forged state (a snapshot from a hostile peer) with the third signing at the same log
    // time: its signer check refuses it.
    let mut forged = now[2].clone();
    forged.status = RequestStatus::Signing;
    forged.reserved_at_ms = Some(t);
    h.s.put_request(forged.clone());
    let breach = h.s.limit_breach(&forged, t, true);
    assert!(
        breach
            .as_ref()
            .is_some_and(|(_, why)| why.contains("exceeded")),
        "{breach:?}"
    );
}
