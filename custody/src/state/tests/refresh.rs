//! Proactive refresh: on demand and scheduled, completion only when every node reports the same
//! new public shares, failure changes nothing, presignature pools start over, attempts fixed
//! before the switch are not signed with new shares, and old shares are deleted only on signed
//! evidence from every node.

use super::custody::{approve, eth_wallet, org, setup, submit, two_of_three, H};
use super::*;
use crate::{OrgSettings, RefreshStatus, Report, RequestStatus};

fn refresh(h: &mut H, idem: &str) -> CommandOutcome {
    h.user(
        1,
        idem,
        Action::VaultRefresh {
            org_id: org(),
            vault_id: "v1".into(),
            reason: "operator left".into(),
        },
    )
}

fn refreshed(h: &H, epoch: u32, digest: &str) -> Report {
    let generation =
        h.s.vault("v1")
            .and_then(|v| v.refresh.as_ref().or(v.last_refresh.as_ref()))
            .map_or(0, |r| r.started_log_index);
    Report::VaultRefreshed {
        vault_id: "v1".into(),
        epoch,
        generation,
        digest: digest.into(),
    }
}

#[test]
fn a_refresh_completes_only_when_every_node_reports_the_same_public_shares() {
    let (mut h, wallet, pk) = setup(two_of_three());
    let eth = eth_wallet(&mut h).wallet_id.0;
    let pool = h.s.presig_pool(&eth).unwrap().clone();
    for seq in [0, 1] {
        for n in &pool.signers {
            let r = Report::PresigReady {
                wallet_id: eth.clone().into(),
                seq,
            };
            assert!(h.report(*n, r).error.is_none());
        }
    }
    assert_eq!(h.s.presig_pool(&eth).unwrap().ready.len(), 2);
    // A request approved before the refresh: its attempt is fixed at the old epoch.
    let req = submit(&mut h, &wallet, &pk, 1_000, "r1");
    approve(&mut h, 11, &req, &req.intent_digest);
    approve(&mut h, 12, &req, &req.intent_digest);
    let r = h.request(&req.request_id);
    assert_eq!(r.status, RequestStatus::Signing);
    let signer = r.attempts[0].signers[0];
    assert_eq!(
        h.s.signing_job(&req.request_id, signer).unwrap().key_epoch,
        0
    );

    assert!(refresh(&mut h, "rf").error.is_none());
    let v = h.s.vault("v1").unwrap();
    let running = v.refresh.clone().unwrap();
    assert_eq!((v.epoch, running.epoch), (0, 1));
    assert_eq!(running.status, RefreshStatus::Running);
    assert!(
        running.reason.contains("operator left"),
        "{}",
        running.reason
    );
    // One refresh at a time.
    let e = refresh(&mut h, "rf2").error.unwrap();
    assert!(e.contains("already being refreshed"), "{e}");
    // During the refresh the old shares still sign.
    assert_eq!(
        h.s.signing_job(&req.request_id, signer).unwrap().key_epoch,
        0
    );

    let d = "ab".repeat(32);
    // A report for another epoch, or a malformed digest, changes nothing.
    assert!(h.report(1, refreshed(&h, 2, &d)).error.is_some());
    assert!(h.report(1, refreshed(&h, 1, "zz")).error.is_some());
    assert!(h.report(1, refreshed(&h, 1, &d)).error.is_none());
    assert!(
        h.report(1, refreshed(&h, 1, &d)).error.is_some(),
        "duplicate"
    );
    assert!(h.report(2, refreshed(&h, 1, &d)).error.is_none());
    assert_eq!(
        h.s.vault("v1").unwrap().epoch,
        0,
        "two of three is not done"
    );
    assert!(h.report(3, refreshed(&h, 1, &d)).error.is_none());
    let v = h.s.vault("v1").unwrap().clone();
    assert_eq!(v.epoch, 1);
    assert!(v.refresh.is_none());
    let done = v.last_refresh.clone().unwrap();
    assert!(matches!(done.status, RefreshStatus::Done { .. }));
    assert_eq!(done.reports.len(), 3);
    // Every presignature of the old shares is gone; new ones are scheduled for epoch 1.
    let p = h.s.presig_pool(&eth).unwrap();
    assert!(p.ready.is_empty());
    assert_eq!(p.epoch, 1);
    assert!(p.generating.keys().all(|s| *s >= pool.next_seq));
    // The attempt fixed before the switch is not signed with the new shares.
    let e = h.s.signing_job(&req.request_id, signer).unwrap_err();
    assert!(e.contains("refreshed"), "{e}");
    // A request approved afterwards signs at epoch 1.
    let req2 = submit(&mut h, &wallet, &pk, 2_000, "r2");
    approve(&mut h, 11, &req2, &req2.intent_digest);
    approve(&mut h, 12, &req2, &req2.intent_digest);
    let s2 = h.request(&req2.request_id).attempts[0].signers[0];
    assert_eq!(h.s.signing_job(&req2.request_id, s2).unwrap().key_epoch, 1);

    // Each node deletes its old shares only on every node's signed report of its own digest.
    assert_eq!(h.s.verify_refresh_completion("v1", &d), Ok(1));
    let e =
        h.s.verify_refresh_completion("v1", &"cd".repeat(32))
            .unwrap_err();
    assert!(e.contains("public shares this node holds"), "{e}");
    // A forged record (a lying leader, a forged snapshot) does not pass.
    let mut forged = h.s.clone();
    forged
        .vaults
        .get_mut("v1")
        .unwrap()
        .last_refresh
        .as_mut()
        .unwrap()
        .reports
        .remove(&3);
    let e = forged.verify_refresh_completion("v1", &d).unwrap_err();
    assert!(e.contains("no refresh report from node 3"), "{e}");
    let mut forged = h.s.clone();
    {
        let reports = &mut forged
            .vaults
            .get_mut("v1")
            .unwrap()
            .last_refresh
            .as_mut()
            .unwrap()
            .reports;
        let mut r3 = reports[&2].clone();
        r3.node_id = 3;
        reports.insert(3, r3);
    }
    let e = forged.verify_refresh_completion("v1", &d).unwrap_err();
    assert!(e.contains("signature"), "{e}");
    let mut forged = h.s.clone();
    forged.vaults.get_mut("v1").unwrap().epoch = 2;
    assert!(forged.verify_refresh_completion("v1", &d).is_err());
}

#[test]
fn a_failed_or_disagreeing_refresh_changes_nothing() {
    let (mut h, _, _) = setup(two_of_three());
    assert!(refresh(&mut h, "rf").error.is_none());
    assert!(h
        .report(1, refreshed(&h, 1, &"ab".repeat(32)))
        .error
        .is_none());
    let generation =
        h.s.vault("v1")
            .unwrap()
            .refresh
            .as_ref()
            .unwrap()
            .started_log_index;
    let failed = Report::VaultRefreshFailed {
        vault_id: "v1".into(),
        epoch: 1,
        generation,
        reason: "verifying refresh sub-shares: party 3 sent a bad sub-share".into(),
        culprits: vec![3, 99],
    };
    assert!(h.report(2, failed).error.is_none());
    let v = h.s.vault("v1").unwrap().clone();
    assert_eq!(v.epoch, 0);
    assert!(v.refresh.is_none());
    match v.last_refresh.unwrap().status {
        RefreshStatus::Failed {
            culprits, reason, ..
        } => {
            assert_eq!(culprits, vec![3], "only committee nodes are blamed");
            assert!(reason.contains("node 2"), "{reason}");
        }
        s => panic!("{s:?}"),
    }
    // Late reports of the abandoned refresh change nothing; a new refresh may start.
    assert!(h
        .report(3, refreshed(&h, 1, &"ab".repeat(32)))
        .error
        .is_some());
    let late = refreshed(&h, 1, &"ab".repeat(32));
    assert!(refresh(&mut h, "rf2").error.is_none());
    // A late report of the abandoned refresh (same epoch) does not count for the new one.
    assert!(h.report(3, late).error.is_some());
    assert!(h
        .s
        .vault("v1")
        .unwrap()
        .refresh
        .as_ref()
        .unwrap()
        .reports
        .is_empty());
    for (n, d) in [(1, "ab"), (2, "ab"), (3, "cd")] {
        assert!(h.report(n, refreshed(&h, 1, &d.repeat(32))).error.is_none());
    }
    let v = h.s.vault("v1").unwrap().clone();
    assert_eq!(v.epoch, 0, "disagreeing reports must not switch");
    assert!(matches!(
        v.last_refresh.unwrap().status,
        RefreshStatus::Failed { .. }
    ));
}

#[test]
fn the_schedule_starts_a_refresh_only_when_log_time_says_it_is_due() {
    let (mut h, _, _) = setup(two_of_three());
    let due = |h: &mut H| {
        h.report(
            2,
            Report::RefreshDue {
                vault_id: "v1".into(),
                epoch: 0,
            },
        )
    };
    // No schedule: a due report changes nothing.
    assert!(due(&mut h).error.is_some());
    h.ok(
        1,
        "s",
        Action::OrgSettingsSet {
            org_id: org(),
            settings: OrgSettings {
                admin_quorum: 0,
                timelock_secs: 0,
                refresh_interval_hours: 1,
            },
        },
    );
    let at = h.s.refresh_due_at(h.s.vault("v1").unwrap()).unwrap();
    // Too early (log time), then due.
    assert!(due(&mut h).error.is_some());
    assert!(h.s.vault("v1").unwrap().refresh.is_none());
    h.shift_ms = at;
    assert!(due(&mut h).error.is_none());
    let r = h.s.vault("v1").unwrap().refresh.clone().unwrap();
    assert_eq!((r.epoch, r.reason.as_str()), (1, "scheduled"));
    assert!(h.s.refresh_due_at(h.s.vault("v1").unwrap()).is_none());
    // Settings are validated.
    let bad = OrgSettings {
        admin_quorum: 0,
        timelock_secs: 0,
        refresh_interval_hours: 10 * 365 * 24,
    };
    assert!(bad.validate().is_err());
}
