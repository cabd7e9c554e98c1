//! Simulator invariants for ECDSA (aux info, presignature pool, signing; sessions as an ideal
//! functionality, see `sim/ecdsa.rs`), under crashes, a partition, message loss and a
//! Byzantine node:
//! - each presignature is assigned by the log to one signing attempt only, taken out of a share
//!   store for one attempt only, and by each node at most once;
//! - no node starts an ECDSA signing session before its state shows the committee's aux info
//!   complete;
//! - every ECDSA signature of a signed request verifies under the wallet key;
//! - without a Byzantine node (aux info is n-of-n: one can hold ECDSA back for good), aux info
//!   completes, something is signed, and every request reaches a final state once the network
//!   heals.

mod sim;

use mpc_custody::RequestStatus;
use mpc_protocol::chain;
use std::collections::BTreeMap;

#[test]
fn ecdsa_pool_aux_info_and_signatures_under_faults() {
    sim::for_each_seed(48, |seed| {
        let byzantine = (seed % 6 == 5).then_some(1 + seed % 3);
        let s = sim::scenario_ecdsa(seed, 3, byzantine);

        // Each presignature serves one attempt, and leaves each store once.
        let mut used_by = BTreeMap::new();
        for n in &s.nodes {
            let mut mine = std::collections::BTreeSet::new();
            for t in &n.store.taken {
                assert!(
                    mine.insert(t.store_key.clone()),
                    "seed {seed}: node {} took presignature {} twice",
                    n.id,
                    t.store_key
                );
                let attempt = (t.request_id.clone(), t.attempt);
                let first = used_by
                    .entry(t.store_key.clone())
                    .or_insert(attempt.clone());
                assert_eq!(
                    *first, attempt,
                    "seed {seed}: presignature {} used by two attempts",
                    t.store_key
                );
            }
            assert!(
                n.ecdsa_sign_starts.iter().all(|complete| *complete),
                "seed {seed}: node {} started ECDSA signing before aux info was complete",
                n.id
            );
        }

        // The log assigns each presignature to one attempt only (the share stores' take-once
        // is the second line of defence, checked above).
        let mut assigned = BTreeMap::new();
        for r in s.requests() {
            for a in &r.attempts {
                for seq in &a.presignatures {
                    let prev = assigned.insert(
                        (r.wallet_id.clone(), *seq),
                        (r.request_id.clone(), a.attempt),
                    );
                    assert!(
                        prev.is_none(),
                        "seed {seed}: presignature {seq} assigned to {prev:?} and to {} attempt {}",
                        r.request_id,
                        a.attempt
                    );
                }
            }
        }

        // Final (without a Byzantine node: aux info is n-of-n, so a Byzantine node can hold
        // ECDSA back for good — threat-model.md), and signatures verify under the wallet key.
        let state = s.reference_state();
        for r in s.requests() {
            assert!(
                byzantine.is_some()
                    || matches!(
                        r.status,
                        RequestStatus::Signed | RequestStatus::Failed { .. }
                    ),
                "seed {seed}: {} ended {:?}: {}",
                r.request_id,
                r.status,
                s.summary()
            );
            if r.status != RequestStatus::Signed {
                continue;
            }
            let wallet = state.wallet(&r.wallet_id).unwrap().key().unwrap();
            let payload = hex::decode(&r.payload).unwrap();
            let parsed = chain::parse(&wallet, &payload, &r.extras).unwrap();
            assert_eq!(parsed.to_sign.len(), r.signatures.len(), "seed {seed}");
            for (msg, sig) in parsed.to_sign.iter().zip(&r.signatures) {
                let sig = hex::decode(sig).unwrap();
                chain::verify(&wallet, msg, &sig)
                    .unwrap_or_else(|e| panic!("seed {seed}: {}: {e}", r.request_id));
            }
        }
        if byzantine.is_none() {
            assert!(
                state.aux().complete,
                "seed {seed}: aux info never completed: {:?} {}",
                state.aux(),
                s.summary()
            );
            assert!(
                s.requests()
                    .iter()
                    .any(|r| r.status == RequestStatus::Signed),
                "seed {seed}: nothing signed: {}",
                s.summary()
            );
        }
    });
}
