//! Simulator invariants of proactive refresh (real FROST ed25519 and secp256k1-tr refresh
//! sessions; ECDSA is the ideal functionality): under message loss, duplication, delays, a crash
//! or a partition during the first refresh (later ones on a healed network with delays),
//!
//! - a refresh either completes on every node or changes nothing; once the faults heal, a new
//!   refresh completes;
//! - the group keys never change, every node ends with the same new public shares, and every
//!   share differs from the one it replaced;
//! - no node ever deletes the share generation its state has in force, and every node ends
//!   holding only the current generation;
//! - no session id is joined twice (no nonce reuse across a restart);
//! - a request approved afterwards is signed with the new shares and verifies under the
//!   unchanged wallet key.

mod sim;

use mpc_custody::command::Action as Cmd;
use mpc_custody::types::OrgId;
use mpc_custody::{RefreshStatus, RequestStatus};

fn refresh(sim: &mut sim::Sim, reason: &str) {
    sim.user(
        1,
        Cmd::VaultRefresh {
            org_id: OrgId("acme".into()),
            vault_id: "v1".into(),
            reason: reason.into(),
        },
    );
}

fn settled(sim: &sim::Sim) -> bool {
    sim.nodes.iter().all(|n| {
        n.state
            .vault("v1")
            .is_some_and(|v| v.refresh.is_none() && v.last_refresh.is_some())
    }) && sim
        .reference_state()
        .vault("v1")
        .is_some_and(|v| v.refresh.is_none())
}

#[test]
fn a_refresh_completes_everywhere_or_changes_nothing_and_old_shares_go() {
    sim::for_each_seed(30, |seed| {
        let mut s = sim::Sim::new(seed, 3, 2);
        s.setup_vault();
        let v0 = s.reference_state().vault("v1").unwrap().clone();
        let old: Vec<_> = s
            .nodes
            .iter()
            .map(|n| n.store.ed.get(&("v1".into(), 0)).unwrap().0.clone())
            .collect();
        // The refresh starts; a fault picked by the seed strikes meanwhile.
        refresh(&mut s, "under faults");
        let pause = s.rand_below(300);
        s.run_for(pause);
        let victim = 1 + s.rand_below(3);
        match s.rand_below(3) {
            0 => s.crash(victim),
            1 => {
                s.partitioned.insert(victim);
            }
            _ => {}
        }
        let pause = s.rand_below(8_000);
        s.run_for(pause);
        for n in 1..=3 {
            if !s.nodes[(n - 1) as usize].up {
                s.restart(n);
            }
        }
        s.partitioned.clear();
        assert!(
            s.run_until(120_000, settled),
            "seed {seed}: the refresh never settled: {}",
            s.summary()
        );
        // A refresh needs every message of every node (as a DKG does): retries run on a healed
        // network whose session transport is reliable, as the real one (Noise over TCP) is —
        // delays and reordering stay.
        s.faults.drop_pct = 0;
        s.faults.dup_pct = 0;
        let mut tries = 0;
        while !matches!(
            s.reference_state()
                .vault("v1")
                .unwrap()
                .last_refresh
                .as_ref()
                .unwrap()
                .status,
            RefreshStatus::Done { .. }
        ) {
            let v = s.reference_state().vault("v1").unwrap().clone();
            assert_eq!(v.epoch, 0, "seed {seed}: a failed refresh moved the epoch");
            assert_eq!(v.share_generation, 0, "seed {seed}");
            tries += 1;
            assert!(
                tries <= 3,
                "seed {seed}: a refresh on a healed network keeps failing"
            );
            refresh(&mut s, "again, healed");
            s.run_for(100);
            assert!(
                s.run_until(120_000, settled),
                "seed {seed}: {}",
                s.summary()
            );
        }
        s.run_for(2_000);
        let v = s.reference_state().vault("v1").unwrap().clone();
        assert_eq!(
            v.keys, v0.keys,
            "seed {seed}: a refresh changed a vault key"
        );
        assert_eq!(v.epoch, 1, "seed {seed}");
        let current = ("v1".into(), v.share_generation);
        let mut publics = Vec::new();
        for (k, n) in s.nodes.iter().enumerate() {
            let (kp, pkp) = n
                .store
                .ed
                .get(&current)
                .unwrap_or_else(|| panic!("seed {seed}: node {} has no new share", n.id));
            assert_ne!(
                kp.signing_share().serialize(),
                old[k].signing_share().serialize(),
                "seed {seed}: node {}'s share did not change",
                n.id
            );
            assert_eq!(
                pkp.verifying_key().serialize().unwrap(),
                old[k].verifying_key().serialize().unwrap()
            );
            publics.push(pkp.clone());
            // Only the current generation is left, and the one in force was never deleted.
            let gens: Vec<u64> = n
                .store
                .ed
                .keys()
                .chain(n.store.tr.keys())
                .map(|k| k.1)
                .collect();
            assert!(
                gens.iter().all(|g| *g == v.share_generation),
                "seed {seed}: node {} still holds generations {gens:?}",
                n.id
            );
            for ((_, g), in_force) in &n.store.deleted {
                assert_ne!(
                    g, in_force,
                    "seed {seed}: node {} deleted its shares in force",
                    n.id
                );
            }
            let mut joined = n.store.join_log.clone();
            joined.sort();
            let all = joined.len();
            joined.dedup();
            assert_eq!(
                all,
                joined.len(),
                "seed {seed}: node {} joined a session twice",
                n.id
            );
        }
        assert!(
            publics.windows(2).all(|w| w[0] == w[1]),
            "seed {seed}: public shares differ"
        );

        // The new shares sign; the signature verifies under the unchanged wallet key.
        s.submit(4_242);
        s.run_for(200);
        let rid = s.requests().last().unwrap().request_id.clone();
        s.approve(11, &rid);
        s.approve(12, &rid);
        s.run_until(120_000, |s| {
            s.requests().iter().all(|r| {
                matches!(
                    r.status,
                    RequestStatus::Signed | RequestStatus::Failed { .. }
                )
            })
        });
        let r = s
            .requests()
            .into_iter()
            .find(|r| r.request_id == rid)
            .unwrap();
        assert_eq!(
            r.status,
            RequestStatus::Signed,
            "seed {seed}: {}",
            s.summary()
        );
        let pk: [u8; 32] = s.wallet_pk().unwrap().try_into().unwrap();
        let vk = ed25519_dalek::VerifyingKey::from_bytes(&pk).unwrap();
        let msg = hex::decode(&r.payload).unwrap();
        let sig: [u8; 64] = hex::decode(&r.signatures[0]).unwrap().try_into().unwrap();
        vk.verify_strict(&msg, &ed25519_dalek::Signature::from_bytes(&sig))
            .unwrap_or_else(|e| panic!("seed {seed}: {e}"));
    });
}
