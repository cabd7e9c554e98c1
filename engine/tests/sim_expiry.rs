//! Simulator: a request that does not get its approvals within the policy's time-to-live is
//! expired by the nodes' engines (a `request_expired` report, applied only once the log time has
//! passed the expiry) — with message loss, delays and a crashed node — and nobody signs it.

mod sim;

use mpc_custody::RequestStatus;

#[test]
fn an_unapproved_request_expires_and_never_signs() {
    sim::for_each_seed(12, |seed| {
        let mut s = sim::Sim::new(seed, 3, 2);
        s.setup_vault();
        s.set_request_ttl(60);
        s.run_for(500);
        s.submit(1_000);
        s.run_for(200);
        let rid = s.requests()[0].request_id.clone();
        s.approve(11, &rid);
        if seed % 2 == 0 {
            s.crash(3);
        }
        s.run_for(50_000);
        let r = s.reference_state().request(&rid).unwrap().clone();
        assert_eq!(
            r.status,
            RequestStatus::Pending,
            "seed {seed}: expired early"
        );
        let expired = s.run_until(90_000, |s| {
            s.reference_state()
                .request(&rid)
                .is_some_and(|r| r.status == RequestStatus::Expired)
        });
        assert!(expired, "seed {seed}: never expired: {}", s.summary());
        // Approving now is refused; nothing was signed or started.
        s.approve(12, &rid);
        s.run_for(2_000);
        let r = s.reference_state().request(&rid).unwrap().clone();
        assert_eq!(r.status, RequestStatus::Expired, "seed {seed}");
        assert!(
            r.signatures.is_empty() && r.attempts.is_empty(),
            "seed {seed}"
        );
        for n in &s.nodes {
            assert!(
                n.signs_started.is_empty(),
                "seed {seed}: node {} signed",
                n.id
            );
        }
    });
}
