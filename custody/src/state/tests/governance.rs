//! Governance: an admin quorum for every governed change, time-locks and vetoes, genesis admins
//! who only bootstrap, and the signer's re-verification of the adoption evidence.

use super::custody::{approve, org, setup, submit, two_of_three, H};
use super::*;
use crate::governance::change_hash;
use crate::types::ProposalId;
use crate::{OrgSettings, PolicyRules, ProposalStatus, RequestStatus};

fn policy_change(rules: PolicyRules) -> Action {
    Action::PolicySet {
        org_id: org(),
        vault_id: "v1".into(),
        rules,
    }
}

fn approve_prop(h: &mut H, who: u8, pid: &ProposalId, change: &Action) -> CommandOutcome {
    let hash = change_hash(CLUSTER, change);
    h.user(
        who,
        &format!("pa-{who}-{pid}-{}", &hash[..8]),
        Action::ProposalApprove {
            org_id: org(),
            proposal_id: pid.clone(),
            change_hash: hash.clone(),
        },
    )
}

/// Proposes `change` as `who` and returns the pending proposal's id.
fn propose(h: &mut H, who: u8, idem: &str, change: &Action) -> ProposalId {
    match h.ok(who, idem, change.clone()) {
        ActionResult::Proposal { proposal } => proposal.proposal_id,
        other => panic!("{idem}: expected a proposal, got {other:?}"),
    }
}

/// `setup` plus a second admin, carol (key 30): from then on changes need two admins.
fn two_admins() -> (H, crate::types::WalletId, Vec<u8>) {
    let (mut h, wallet, pk) = setup(two_of_three());
    let r = h.ok(1, "carol", member_add("acme", "carol", 30, &[Role::Admin]));
    assert!(matches!(r, ActionResult::MemberAdded { .. }), "{r:?}");
    (h, wallet, pk)
}

/// Both admins adopt a one-hour time-lock.
fn one_hour_timelock(h: &mut H) {
    let settings = Action::OrgSettingsSet {
        org_id: org(),
        settings: OrgSettings {
            admin_quorum: 0,
            timelock_secs: 3600,
            refresh_interval_hours: 0,
        },
    };
    let pid = propose(h, 1, "s", &settings);
    assert!(approve_prop(h, 30, &pid, &settings).error.is_none());
}

fn one_of_three() -> PolicyRules {
    PolicyRules {
        threshold: 1,
        ..two_of_three()
    }
}

#[test]
fn one_admin_alone_cannot_change_a_policy_or_the_approver_set() {
    let (mut h, _, _) = two_admins();
    let change = policy_change(one_of_three());
    let pid = propose(&mut h, 1, "p2", &change);
    assert_eq!(
        h.s.policy("v1").unwrap().rules.threshold,
        2,
        "applied alone"
    );
    // The proposer cannot approve twice; a non-admin cannot approve; a different change hash
    // (the approver was shown something else) is refused.
    let e = approve_prop(&mut h, 1, &pid, &change).error.unwrap();
    assert!(e.contains("already approved"), "{e}");
    let e = approve_prop(&mut h, 11, &pid, &change).error.unwrap();
    assert!(e.contains("not an admin"), "{e}");
    let other = policy_change(PolicyRules {
        threshold: 3,
        ..two_of_three()
    });
    let e = approve_prop(&mut h, 30, &pid, &other).error.unwrap();
    assert!(e.contains("change hash does not match"), "{e}");
    // The second admin's approval executes it, with the evidence of both.
    let out = approve_prop(&mut h, 30, &pid, &change);
    assert!(
        matches!(out.result, Some(ActionResult::ProposalExecuted { .. })),
        "{out:?}"
    );
    let p = h.s.policy("v1").unwrap();
    assert_eq!((p.version, p.rules.threshold), (2, 1));
    assert_eq!(p.adoption.as_ref().unwrap().commands.len(), 2);
    assert_eq!(h.s.proposal(&pid).unwrap().status, ProposalStatus::Executed);
    // Approver set: adding an approver is a proposal too, and nothing changes until approved.
    let add = member_add("acme", "mallory", 66, &[Role::Approver]);
    let pid = propose(&mut h, 1, "m1", &add);
    assert!(h.s.org_members(&org()).all(|m| m.user_id != "mallory"));
    assert_eq!(h.s.proposals(&org()).next().unwrap().proposal_id, pid);
    assert!(approve_prop(&mut h, 30, &pid, &add).error.is_none());
    assert!(h.s.org_members(&org()).any(|m| m.user_id == "mallory"));
}

#[test]
fn genesis_admin_has_no_power_over_an_organisation_it_bootstrapped() {
    let mut h = H {
        s: fresh(),
        idx: 0,
        shift_ms: 0,
    };
    h.ok(
        1,
        "o",
        Action::OrgCreate {
            org_id: org(),
            name: "Acme".into(),
            admin_user_id: UserId("boss".into()),
            admin_public_key: Some(pk(30)),
        },
    );
    let e = h
        .user(1, "m", member_add("acme", "eve", 5, &[Role::Admin]))
        .error
        .unwrap();
    assert!(e.contains("not an admin"), "{e}");
    assert!(h
        .user(30, "m", member_add("acme", "bob", 2, &[Role::Approver]))
        .error
        .is_none());
}

#[test]
fn time_locked_change_waits_and_can_be_vetoed() {
    let (mut h, _, _) = two_admins();
    one_hour_timelock(&mut h);
    assert_eq!(h.s.org(&org()).unwrap().settings.timelock_secs, 3600);

    // Quorum reached: queued behind the time-lock; executing early is refused; a veto ends it.
    let change = policy_change(one_of_three());
    let pid = propose(&mut h, 1, "p2", &change);
    assert!(approve_prop(&mut h, 30, &pid, &change).error.is_none());
    assert_eq!(h.s.proposal(&pid).unwrap().status, ProposalStatus::Queued);
    let exec = |pid: &ProposalId| Action::ProposalExecute {
        org_id: org(),
        proposal_id: pid.clone(),
    };
    let e = h.user(1, "x1", exec(&pid)).error.unwrap();
    assert!(e.contains("time-locked"), "{e}");
    let veto = Action::ProposalVeto {
        org_id: org(),
        proposal_id: pid.clone(),
        reason: "not agreed".into(),
    };
    assert!(h.user(30, "veto", veto).error.is_none());
    h.shift_ms += 3_601_000;
    let e = h.user(1, "x2", exec(&pid)).error.unwrap();
    assert!(e.contains("vetoed"), "{e}");
    assert_eq!(h.s.policy("v1").unwrap().version, 1);

    // Not vetoed: executes once the time-lock has passed.
    let pid = propose(&mut h, 1, "p3", &change);
    assert!(approve_prop(&mut h, 30, &pid, &change).error.is_none());
    assert!(h
        .user(1, "x3", exec(&pid))
        .error
        .unwrap()
        .contains("time-locked"));
    h.shift_ms += 3_601_000;
    assert!(h.user(30, "x4", exec(&pid)).error.is_none());
    assert_eq!(h.s.policy("v1").unwrap().rules.threshold, 1);
}

#[test]
fn signer_refuses_a_policy_or_approver_without_quorum_evidence() {
    let (mut h, wallet, pk) = two_admins();
    let req = submit(&mut h, &wallet, &pk, 1_000, "r1");
    let digest = req.intent_digest.clone();
    assert!(approve(&mut h, 11, &req, &digest).error.is_none());
    assert!(approve(&mut h, 12, &req, &digest).error.is_none());
    let r = h.request(&req.request_id);
    assert_eq!(r.status, RequestStatus::Signing);
    let me = r.attempts[0].signers[0];
    assert!(h.s.signing_job(&req.request_id, me).is_ok());

    // A node's state whose policy carries no evidence.
    let mut forged = h.s.clone();
    std::sync::Arc::make_mut(forged.policies.get_mut("v1").unwrap()).adoption = None;
    let e = forged.signing_job(&req.request_id, me).unwrap_err();
    assert!(e.contains("no adoption evidence"), "{e}");

    // A policy "adopted" by a key that is no admin (the initiator's signed policy_set), with
    // request and policy consistent: refused, the signatures do not reach the quorum.
    let rules = one_of_three();
    let change = policy_change(rules.clone());
    // A copy of the state whose policy in force (and the request's snapshot of it) has `rules`,
    // its evidence changed by `edit`: the signer's refusal.
    let with_rules = |edit: &dyn Fn(&mut crate::Adoption)| {
        let mut forged = h.s.clone();
        let p = std::sync::Arc::make_mut(forged.policies.get_mut("v1").unwrap());
        edit(p.adoption.as_mut().unwrap());
        p.rules = rules.clone();
        p.hash = rules.hash();
        let mut fr = r.clone();
        fr.policy = std::sync::Arc::new(p.clone());
        forged.force_request_for_tests(fr);
        forged.signing_job(&req.request_id, me).unwrap_err()
    };
    let by_initiator = match &cmd(20, "evil", change.clone()).proposal {
        Proposal::User(c) => c.clone(),
        _ => unreachable!(),
    };
    let e = with_rules(&|a| {
        a.commands = vec![by_initiator.clone()];
        a.change_hash = change_hash(CLUSTER, &change);
    });
    assert!(e.contains("adopted by 0 admin(s)"), "{e}");

    // The genuine evidence of another policy does not carry over to these rules.
    let e = with_rules(&|_| {});
    assert!(e.contains("different change"), "{e}");

    // An approver whose membership carries no evidence does not count.
    let mut forged = h.s.clone();
    let a2 = (org(), UserId("a2".into()));
    forged.members.get_mut(&a2).unwrap().adoption = None;
    let e = forged.signing_job(&req.request_id, me).unwrap_err();
    assert!(e.contains("valid approvals"), "{e}");
}

#[test]
fn a_leader_clock_jump_past_a_time_lock_gets_no_signature() {
    let (mut h, wallet, pk) = two_admins();
    one_hour_timelock(&mut h);
    let change = policy_change(one_of_three());
    let pid = propose(&mut h, 1, "p2", &change);
    assert!(approve_prop(&mut h, 30, &pid, &change).error.is_none());
    // A leader whose clock runs an hour ahead executes the change at once ...
    let honest_now = |h: &H| 1_000_000 + (h.idx + 1) * 1000;
    h.shift_ms += 3_601_000;
    assert!(h
        .user(
            1,
            "x",
            Action::ProposalExecute {
                org_id: org(),
                proposal_id: pid
            }
        )
        .error
        .is_none());
    let req = submit(&mut h, &wallet, &pk, 1_000, "r1");
    assert!(approve(&mut h, 11, &req, &req.intent_digest.clone())
        .error
        .is_none());
    let r = h.request(&req.request_id);
    assert_eq!(r.status, RequestStatus::Signing);
    // ... but log time never goes back, so every spend after it is stamped an hour ahead of an
    // honest signer's clock: refused (decision 0012's skew bound caps the shortcut).
    let me = r.attempts[0].signers[0];
    let e =
        h.s.signing_job_at(&req.request_id, me, honest_now(&h))
            .unwrap_err();
    assert!(e.contains("ahead of this node's clock"), "{e}");
}
