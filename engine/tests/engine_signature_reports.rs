//! One signature report per signature (issue 15): every signer of an attempt holds the whole
//! signature, so only the attempt's first signer proposes it at once; the others keep theirs as
//! a backup, proposed `BACKUP_SIGNATURE_REPORT_MS` later only if the request is still signing
//! (the first signer down or slow) and dropped unproposed otherwise. The state comes from the
//! simulator (vault, Solana wallet, request in `signing`); each signer's engine is driven by hand.

mod sim;

use mpc_custody::{Report, RequestStatus};
use mpc_engine::{Action, Changed, Engine, Input, SessionOutcome, BACKUP_SIGNATURE_REPORT_MS};
use sim::sign_start;

fn signature_proposals(actions: &[Action]) -> usize {
    actions
        .iter()
        .filter(|a| {
            matches!(
                a,
                Action::Propose {
                    report: Report::Signature { .. },
                    ..
                }
            )
        })
        .count()
}

fn wakes_at(actions: &[Action], at: u64) -> bool {
    actions
        .iter()
        .any(|a| matches!(a, Action::WakeAt(t) if *t == at))
}

#[test]
fn only_the_first_signer_proposes_at_once_the_others_back_it_up() {
    let mut s = sim::Sim::new(11, 3, 2);
    s.setup_vault();
    s.run_for(500);
    s.submit(1_000);
    s.run_for(500);
    let rid = s.requests()[0].request_id.clone();
    s.approve(11, &rid);
    s.approve(12, &rid);
    s.run_until_request(&rid, "reached signing", |r| r.current_attempt().is_some());
    let signing = s.reference_state().clone();
    let attempt = signing
        .request(&rid)
        .unwrap()
        .current_attempt()
        .unwrap()
        .clone();
    s.run_until_request(&rid, "signed", |r| r.status == RequestStatus::Signed);
    let signed = s.reference_state().clone();
    let now = s.now_ms;
    let first = attempt.signers[0];
    assert!(attempt.signers.len() >= 2);
    // Each signer's engine at the moment the session ends, from the state of that moment.
    let session_done = |me| {
        let mut engine = Engine::new(me, &signing);
        let started = engine.step(now, &signing, Input::Applied(Changed::All));
        let job = sign_start(&started).expect("a signer starts the attempt's session");
        let done = engine.step(
            now,
            &signing,
            Input::SessionDone {
                job,
                outcome: SessionOutcome::Signed(vec!["00".into()]),
            },
        );
        (engine, done)
    };
    let (_, done) = session_done(first);
    assert_eq!(
        signature_proposals(&done),
        1,
        "the first signer proposes at once"
    );
    let later = now + BACKUP_SIGNATURE_REPORT_MS;
    for &me in &attempt.signers[1..] {
        let (_, done) = session_done(me);
        assert_eq!(signature_proposals(&done), 0, "node {me} proposed at once");
        assert!(
            wakes_at(&done, later),
            "node {me} set no timer for its backup"
        );
        // The first signer's report was applied meanwhile: the backup is dropped unproposed.
        let (mut engine, _) = session_done(me);
        let tick = engine.step(later, &signed, Input::Tick);
        assert_eq!(
            signature_proposals(&tick),
            0,
            "node {me} re-reported a signed request"
        );
        assert_eq!(engine.pending_reports(), 0);
        // Still signing when the backup's time comes (the first signer is down): it goes in.
        let (mut engine, _) = session_done(me);
        let early = engine.step(later - 1, &signing, Input::Tick);
        assert_eq!(
            signature_proposals(&early),
            0,
            "node {me}'s backup went in early"
        );
        let tick = engine.step(later, &signing, Input::Tick);
        assert_eq!(
            signature_proposals(&tick),
            1,
            "node {me}'s backup never went in"
        );
    }
}
