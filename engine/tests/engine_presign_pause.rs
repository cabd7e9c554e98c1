//! The engine starts no presigning while its node signs interactively: the request someone is
//! waiting for gets the cores, the pool can wait (issue 10: the first ECDSA signature of a fresh
//! network). The state comes from the simulator (vault, Ethereum wallet, request in `signing`
//! with two approvals); one engine is then driven by hand.

mod sim;

use mpc_custody::state::RecordKey;
use mpc_custody::RequestStatus;
use mpc_engine::{Action, Changed, Engine, Input, Job, SessionOutcome};
use mpc_protocol::chain::{Chain, Network};
use sim::sign_start;

fn presign_starts(actions: &[Action]) -> usize {
    actions
        .iter()
        .filter(|a| {
            matches!(
                a,
                Action::Start {
                    job: Job::Presign { .. },
                    ..
                }
            )
        })
        .count()
}

#[test]
fn presigning_waits_until_the_interactive_signature_is_done() {
    let mut s = sim::Sim::new_unformed(7, 3, 2);
    s.setup_vault();
    s.create_wallet(Chain::Ethereum, Network::Mainnet);
    s.run_for(500);
    let wallet_id = s
        .reference_state()
        .wallets(None)
        .find(|w| w.chain == Chain::Ethereum)
        .expect("the Ethereum wallet was created")
        .wallet_id
        .clone();
    let before_request = s.reference_state().clone();
    s.submit_to(&wallet_id, sim::eth_transfer());
    s.run_for(500);
    let rid = s
        .requests()
        .into_iter()
        .find(|r| r.wallet_id == wallet_id)
        .expect("the request was submitted")
        .request_id;
    s.approve(11, &rid);
    s.approve(12, &rid);
    s.run_until_request(&rid, "reached signing", |r| {
        r.status == RequestStatus::Signing
    });
    let state = s.reference_state().clone();
    let attempt = state
        .request(&rid)
        .unwrap()
        .attempts
        .last()
        .unwrap()
        .clone();
    assert!(
        attempt.presignatures.is_empty(),
        "the pool is empty: the attempt signs interactively"
    );
    let pool = state
        .presig_pool(&wallet_id)
        .expect("an ECDSA wallet has a pool");
    let me = *attempt
        .signers
        .iter()
        .find(|n| pool.signers.contains(n))
        .expect("two 2-of-3 signer sets share a node");
    let now = s.now_ms;

    // Before aux info is complete the ECDSA signature waits (nothing starts)...
    let mut engine = Engine::new(me, &state);
    let first = engine.step(now, &state, Input::Applied(Changed::All));
    assert!(
        sign_start(&first).is_none(),
        "ECDSA started without aux info"
    );
    assert_eq!(presign_starts(&first), 0);
    // ...once every node stored it, the signature starts and presigning does not...
    let ready = s.with_aux_ready(&state, 0);
    let aux = engine.step(
        now,
        &ready,
        Input::Applied(Changed::Keys(vec![RecordKey::Aux])),
    );
    let job = sign_start(&aux).expect("the held signature starts when aux info is complete");
    assert_eq!(
        presign_starts(&aux),
        0,
        "presigning started while the node signs interactively"
    );
    // ...until the signature is done; then the whole pool starts.
    let done = engine.step(
        now,
        &ready,
        Input::SessionDone {
            job,
            outcome: SessionOutcome::Failed {
                reason: "test".into(),
                unresponsive: vec![],
            },
        },
    );
    assert_eq!(presign_starts(&done), pool.generating.len());
    assert!(!pool.generating.is_empty());

    // A node of the same pool with no signature to make presigns as soon as aux info is ready.
    let quiet = before_request;
    let mut idle = Engine::new(me, &quiet);
    idle.step(now, &quiet, Input::Applied(Changed::All));
    let quiet_ready = s.with_aux_ready(&quiet, 0);
    let aux = idle.step(
        now,
        &quiet_ready,
        Input::Applied(Changed::Keys(vec![RecordKey::Aux])),
    );
    assert_eq!(
        presign_starts(&aux),
        quiet.presig_pool(&wallet_id).unwrap().generating.len()
    );
}
