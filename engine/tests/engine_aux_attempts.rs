//! Aux-info attempts are replicated: a failure reported by any node moves every node to the
//! next attempt, which has a session id of its own (a retry under the old id would be refused
//! by peers that finished or abandoned it); only a complete attempt (every node stored it)
//! unlocks ECDSA; reports for other attempts change nothing.

mod sim;

use mpc_custody::entry::{LogCommand, Proposal};
use mpc_custody::state::{CustodyState, EntryContext, RecordKey};
use mpc_custody::Report;
use mpc_engine::{
    aux_retry_ms, Action, AuxState, Changed, Engine, Input, Job, SessionOutcome, SessionSpec,
};
use mpc_protocol::session::SessionId;

/// Applies node `n`'s signed `report`; returns whether it changed anything.
fn apply(state: &mut CustodyState, index: &mut u64, n: u64, report: Report) -> bool {
    *index += 1;
    let entry = LogCommand {
        proposed_at_ms: 1_000_000,
        proposal: Proposal::Node(sim::signed_report(n, report)),
    };
    let out = state.apply(EntryContext { log_index: *index }, &entry);
    let _ = state.take_dirty();
    out.error.is_none()
}

fn aux_start(actions: &[Action]) -> Option<(u32, SessionId)> {
    actions.iter().find_map(|a| match a {
        Action::Start {
            spec:
                SessionSpec::Aux {
                    attempt,
                    session_id,
                    ..
                },
            ..
        } => Some((*attempt, *session_id)),
        _ => None,
    })
}

fn proposed(actions: &[Action]) -> Vec<Report> {
    actions
        .iter()
        .filter_map(|a| match a {
            Action::Propose { report, .. } => Some(report.clone()),
            _ => None,
        })
        .collect()
}

#[test]
fn a_failed_attempt_moves_every_node_to_the_next_with_a_new_session_id() {
    let s = sim::Sim::new(1, 3, 2);
    let mut state = s.reference_state().clone();
    let mut index = 0;
    let t0 = 1_000_000;
    let mut e = Engine::new(1, &state);

    // Not before the network has formed; then attempt 0.
    let a = e.step(t0, &state, Input::Applied(Changed::All));
    assert!(aux_start(&a).is_none());
    let a = e.step(t0, &state, Input::NetworkFormed);
    let (attempt, sid0) = aux_start(&a).expect("aux info starts when the network forms");
    assert_eq!(attempt, 0);

    // It fails here: this node reports it, and the log moves to attempt 1.
    let a = e.step(
        t0 + 10,
        &state,
        Input::SessionDone {
            job: Job::Aux { attempt: 0 },
            outcome: SessionOutcome::Failed {
                reason: "peer vanished".into(),
                unresponsive: vec![2],
            },
        },
    );
    let failed = proposed(&a);
    assert!(
        matches!(failed.as_slice(), [Report::AuxFailed { attempt: 0, .. }]),
        "{failed:?}"
    );
    assert!(apply(&mut state, &mut index, 1, failed[0].clone()));
    assert_eq!(state.aux().attempt, 1);
    assert!(state
        .aux()
        .last_failure
        .as_deref()
        .unwrap_or("")
        .contains("peer vanished"));
    // A second failure report for attempt 0 (another node) changes nothing.
    assert!(!apply(
        &mut state,
        &mut index,
        2,
        Report::AuxFailed {
            attempt: 0,
            reason: "late".into()
        }
    ));
    assert_eq!(state.aux().attempt, 1);

    // Attempt 1 starts after its pause, under a new session id.
    let keys = Input::Applied(Changed::Keys(vec![RecordKey::Aux]));
    let a = e.step(t0 + 20, &state, keys);
    assert!(aux_start(&a).is_none(), "attempt 1 started without a pause");
    assert!(matches!(e.aux(), AuxState::Scheduled(1, _)));
    let a = e.step(t0 + 20 + aux_retry_ms(1), &state, Input::Tick);
    let (attempt, sid1) = aux_start(&a).expect("attempt 1 starts after its pause");
    assert_eq!(attempt, 1);
    assert_ne!(sid0, sid1, "a new attempt needs a new session id");

    // A node restarted mid-attempt runs the current attempt again after the pause (its
    // driver refuses a session it joined before and reports the failure).
    let mut restarted = Engine::new(2, &state);
    restarted.step(t0 + 30, &state, Input::Applied(Changed::All));
    restarted.step(t0 + 30, &state, Input::NetworkFormed);
    let a = restarted.step(t0 + 30 + aux_retry_ms(1), &state, Input::Tick);
    assert_eq!(aux_start(&a), Some((1, sid1)));

    // Stored here: reported; a stale report for attempt 0 counts for nothing.
    let a = e.step(
        t0 + 40,
        &state,
        Input::SessionDone {
            job: Job::Aux { attempt: 1 },
            outcome: SessionOutcome::AuxReady,
        },
    );
    assert!(matches!(
        proposed(&a).as_slice(),
        [Report::AuxReady { attempt: 1 }]
    ));
    assert!(!apply(
        &mut state,
        &mut index,
        3,
        Report::AuxReady { attempt: 0 }
    ));
    assert!(apply(
        &mut state,
        &mut index,
        1,
        Report::AuxReady { attempt: 1 }
    ));
    assert!(apply(
        &mut state,
        &mut index,
        2,
        Report::AuxReady { attempt: 1 }
    ));
    assert!(
        !state.aux().complete,
        "complete before every node stored it"
    );
    e.step(
        t0 + 50,
        &state,
        Input::Applied(Changed::Keys(vec![RecordKey::Aux])),
    );
    assert_eq!(e.aux(), AuxState::Stored(1));
    assert!(apply(
        &mut state,
        &mut index,
        3,
        Report::AuxReady { attempt: 1 }
    ));
    assert!(state.aux().complete);
    e.step(
        t0 + 60,
        &state,
        Input::Applied(Changed::Keys(vec![RecordKey::Aux])),
    );
    assert_eq!(e.aux(), AuxState::Ready(1));
    // Complete is final: a failure report afterwards changes nothing.
    assert!(!apply(
        &mut state,
        &mut index,
        2,
        Report::AuxFailed {
            attempt: 1,
            reason: "too late".into()
        }
    ));
    assert!(state.aux().complete);
}

#[test]
fn retry_pauses_grow_and_are_capped() {
    assert_eq!(aux_retry_ms(1), mpc_engine::AUX_RETRY_MS);
    assert_eq!(aux_retry_ms(2), 2 * mpc_engine::AUX_RETRY_MS);
    assert_eq!(aux_retry_ms(u32::MAX), mpc_engine::AUX_RETRY_MAX_MS);
}
