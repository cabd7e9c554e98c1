//! Presignature pools sized by demand (decision 0031): a wallet that signs often keeps more
//! ready, one that went quiet schedules no more than the minimum; every node computes the same
//! target from the log.

use super::custody::{approved_eth_request, eth_wallet, setup, two_of_three, H};
use crate::{Report, RequestStatus, PRESIG_DEMAND_WINDOW_MS, PRESIG_POOL_MIN};

/// Every scheduled presignature of the pool reported stored by each of its signers.
fn fill(h: &mut H, wid: &str) {
    let pool = h.s.presig_pool(wid).unwrap().clone();
    for seq in pool.generating.keys() {
        for n in &pool.signers {
            let ready = Report::PresigReady {
                wallet_id: wid.into(),
                seq: *seq,
            };
            assert!(h.report(*n, ready).error.is_none());
        }
    }
}

/// A request approved 2-of-3, signing.
fn signed_request(h: &mut H, wid: &str, idem: &str) -> crate::Request {
    let r = approved_eth_request(h, wid, idem);
    assert_eq!(r.status, RequestStatus::Signing);
    r
}

fn scheduled(h: &H, wid: &str) -> usize {
    let p = h.s.presig_pool(wid).unwrap();
    p.ready.len() + p.generating.len()
}

#[test]
fn a_busy_wallet_keeps_more_presignatures_and_a_quiet_one_schedules_the_minimum() {
    let (mut h, _, _) = setup(two_of_three());
    let wid = eth_wallet(&mut h).wallet_id;
    assert_eq!(scheduled(&h, &wid), PRESIG_POOL_MIN);
    // Ten requests within a few minutes of log time, each signed from the pool.
    for i in 0..10 {
        fill(&mut h, &wid);
        let r = signed_request(&mut h, &wid, &format!("busy{i}"));
        assert_eq!(r.attempts[0].presignatures.len(), 1, "request {i}");
    }
    let pool = h.s.presig_pool(&wid).unwrap();
    assert_eq!(pool.target, 10);
    assert_eq!(scheduled(&h, &wid), 10, "the pool grew with the demand");
    // Quiet for longer than the window; the next request finds the presignatures made for the
    // busy period (none is dropped) but the pool schedules no new one: the target is back at
    // the minimum.
    h.shift_ms += PRESIG_DEMAND_WINDOW_MS + 1;
    fill(&mut h, &wid);
    let r = signed_request(&mut h, &wid, "quiet");
    assert_eq!(r.attempts[0].presignatures.len(), 1);
    let pool = h.s.presig_pool(&wid).unwrap();
    assert_eq!(pool.target, PRESIG_POOL_MIN);
    assert_eq!(pool.demand.len(), 1);
    assert_eq!((pool.ready.len(), pool.generating.len()), (9, 0));
}

/// FROST nonce pools (decision 0034): blocks of 32 ready only when every signer reported the
/// block (by its first number; any other number changes nothing), a failure drops the block,
/// each first attempt takes a slot that is then never ready again, and the numbers a signer may
/// still need are exactly the ready, scheduled and current-attempt ones.
#[test]
fn a_frost_pool_fills_by_blocks_and_hands_out_each_slot_once() {
    use super::custody::{approve, submit};
    use crate::{FROST_NONCE_BLOCK, FROST_POOL_MIN};
    let (mut h, wid, pk) = setup(two_of_three());
    let pool = h.s.presig_pool(&wid).unwrap().clone();
    assert!(pool.frost);
    assert_eq!(pool.generating.len(), FROST_POOL_MIN);
    let (s1, s2) = (pool.signers[0], pool.signers[1]);
    let outsider = (1..=3).find(|n| !pool.signers.contains(n)).unwrap();
    let ready = |seq: u64| Report::PresigReady {
        wallet_id: wid.clone(),
        seq,
    };
    // A number inside the block, or a stranger's report: nothing.
    assert!(h.report(s1, ready(5)).result.is_none());
    assert!(h.report(outsider, ready(0)).error.is_some());
    // One signer: not ready yet; both: the whole block is.
    h.report(s1, ready(0));
    assert!(h.s.presig_pool(&wid).unwrap().ready.is_empty());
    h.report(s2, ready(0));
    let p = h.s.presig_pool(&wid).unwrap();
    assert_eq!(p.ready.len(), FROST_NONCE_BLOCK as usize);
    assert!(p.generating.is_empty());
    // Requests take slots in order; a slot handed out is never ready again.
    let mut taken = std::collections::BTreeSet::new();
    for i in 0..3 {
        let r = submit(&mut h, &wid, &pk, 1_000, &format!("f{i}"));
        approve(&mut h, 11, &r, &r.intent_digest);
        approve(&mut h, 12, &r, &r.intent_digest);
        let r = h.request(&r.request_id);
        assert_eq!(r.status, RequestStatus::Signing);
        let a = &r.attempts[0];
        assert_eq!(a.signers, vec![s1, s2]);
        assert_eq!(a.presignatures.len(), 1);
        assert!(taken.insert(a.presignatures[0]), "slot handed out twice");
        let p = h.s.presig_pool(&wid).unwrap();
        assert!(!p.ready.contains(&a.presignatures[0]));
        // A late report of the block cannot bring a used slot back.
        h.report(s1, ready(0));
        assert!(!h
            .s
            .presig_pool(&wid)
            .unwrap()
            .ready
            .contains(&a.presignatures[0]));
    }
    // What a signer may still need: every ready or scheduled number, and the slots of attempts
    // still signing; nothing else below the next number.
    let (in_use, next) = h.s.pool_seqs_in_use(&wid).unwrap();
    let p = h.s.presig_pool(&wid).unwrap().clone();
    assert!(taken.iter().all(|t| in_use.contains(t)));
    assert!(p.ready.iter().all(|s| in_use.contains(s)));
    assert!(p.generating.keys().all(|s| in_use.contains(s)));
    assert_eq!(next, p.next_seq);
    assert_eq!(
        in_use.len(),
        taken.len() + p.ready.len() + p.generating.len()
    );
    // A failed block: all of its numbers dropped at once, new ones scheduled.
    let block = *p.generating.keys().next().unwrap();
    assert_eq!(block % FROST_NONCE_BLOCK, 0);
    h.report(
        s2,
        Report::PresigFailed {
            wallet_id: wid.clone(),
            seq: block,
            reason: "peer gone".into(),
        },
    );
    let p = h.s.presig_pool(&wid).unwrap();
    assert!((block..block + FROST_NONCE_BLOCK).all(|s| !p.generating.contains_key(&s)));
    assert_eq!(p.failures_in_row, 1);
    assert!(p.generating.keys().all(|s| *s >= block + FROST_NONCE_BLOCK));
}
