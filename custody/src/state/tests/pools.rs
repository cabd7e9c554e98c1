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
