//! Simulator invariant: every approved request reaches a final state once the network heals —
//! crashed signers, a partition, lost reports and a Byzantine node notwithstanding (attempt
//! deadlines and failure reports move it on; report delivery never gives up).

mod sim;

use mpc_custody::RequestStatus;

fn assert_final(s: &sim::Sim, seed: u64) {
    for r in s.requests() {
        assert!(
            matches!(
                r.status,
                RequestStatus::Signed | RequestStatus::Failed { .. }
            ),
            "seed {seed}: {} ended {:?} after {} attempts",
            r.request_id,
            r.status,
            r.attempts.len()
        );
    }
}

#[test]
fn every_request_reaches_a_final_state_after_the_network_heals() {
    sim::for_each_seed(80, |seed| {
        let s = sim::scenario(seed, 3);
        assert_final(&s, seed);
    });
}

#[test]
fn a_byzantine_node_delays_but_does_not_stop_signing() {
    sim::for_each_seed(20, |seed| {
        let s = sim::scenario_with(seed, 2, Some(3));
        assert_final(&s, seed);
        let signed = s
            .requests()
            .iter()
            .filter(|r| r.status == RequestStatus::Signed)
            .count();
        assert!(signed > 0, "seed {seed}: the honest pair signed nothing");
    });
}
