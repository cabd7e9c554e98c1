//! Simulator invariant: no signature without the required approvals — a request with fewer
//! than M valid approvals is never signed and no node starts a signing session for it; every
//! signed request carries M valid approvals by distinct policy approvers.

mod sim;

use mpc_custody::{check_approval, RequestStatus};

#[test]
fn no_signature_without_the_required_approvals() {
    sim::for_each_seed(80, |seed| {
        let mut s = sim::Sim::new(seed, 3, 2);
        s.setup_vault();
        s.submit(1_000);
        s.submit(2_000);
        s.run_for(100);
        let ids: Vec<mpc_custody::types::RequestId> =
            s.requests().into_iter().map(|r| r.request_id).collect();
        // The first request gets M = 2 approvals, the second only one.
        s.approve(11, &ids[0]);
        s.approve(12, &ids[0]);
        s.approve(13, &ids[1]);
        s.run_until(300_000, |s| {
            s.requests()
                .iter()
                .any(|r| r.request_id == ids[0] && r.status == RequestStatus::Signed)
        });
        s.run_for(5_000);
        let first = s.reference_state().request(&ids[0]).unwrap().clone();
        assert_eq!(
            first.status,
            RequestStatus::Signed,
            "seed {seed}: {}",
            s.summary()
        );
        let second = s.reference_state().request(&ids[1]).unwrap().clone();
        assert_eq!(second.status, RequestStatus::Pending, "seed {seed}");
        assert!(second.signatures.is_empty(), "seed {seed}");
        for n in &s.nodes {
            assert!(
                n.signs_started.iter().all(|(rid, _)| rid != &ids[1]),
                "seed {seed}: node {} started signing a request with one approval",
                n.id
            );
        }
        for r in s.requests() {
            if r.status != RequestStatus::Signed {
                continue;
            }
            let valid = r
                .approvals
                .iter()
                .filter(|(user, evidence)| {
                    let mpc_custody::request::Approval::Key(cmd) = evidence else {
                        return false;
                    };
                    r.policy.rules.approvers.contains(user)
                        && check_approval(cmd, sim::CLUSTER, &r.request_id, &r.intent_digest, false)
                            .is_ok()
                })
                .count();
            assert!(
                valid >= usize::from(r.policy.rules.threshold),
                "seed {seed}: {} signed with {valid} valid approvals",
                r.request_id
            );
        }
    });
}
