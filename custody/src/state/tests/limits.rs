//! Spend limits read the vault's reservation index (requests signing or signed, in log-time
//! order) instead of scanning every request. Over a random history of submissions, approvals,
//! rejections, expiries, cancellations and time passing, the index must give exactly what a scan
//! of every request gives — at the reservation (`earlier_only = false`) and at each signer's
//! re-check (`earlier_only = true`) — and a state rebuilt from its records must have the same index.

use super::custody::{approve, org, setup, submit, two_of_three};
use super::*;
use crate::state::requests::log_position;
use crate::{LimitAction, Report, Request, RequestStatus, SpendLimit};
use mpc_protocol::chain::Amount;

/// Each of `req`'s limits' window sum at `at_ms`, as `sum(from)` computes it.
fn per_limit(req: &Request, at_ms: u64, sum: impl Fn(&str, u64) -> u128) -> Vec<u128> {
    req.policy
        .rules
        .limits
        .iter()
        .map(|l| {
            sum(
                &l.asset,
                at_ms.saturating_sub(l.window_secs.saturating_mul(1000)),
            )
        })
        .collect()
}

/// The limit check as it was before the index: every request of the network, filtered.
fn scan(s: &CustodyState, req: &Request, at_ms: u64, earlier_only: bool) -> Vec<u128> {
    let my_index = log_position(&req.request_id);
    per_limit(req, at_ms, |asset, from| {
        s.requests
            .values()
            .filter(|r| r.vault_id == req.vault_id && r.request_id != req.request_id)
            .filter(|r| matches!(r.status, RequestStatus::Signing | RequestStatus::Signed))
            .filter(|r| {
                r.reserved_at_ms.is_some_and(|t| {
                    t > from
                        && if earlier_only {
                            t < at_ms || (t == at_ms && log_position(&r.request_id) < my_index)
                        } else {
                            t <= at_ms
                        }
                })
            })
            .map(|r| r.intent.spend_in(asset))
            .fold(0u128, u128::saturating_add)
    })
}

/// The same sums through the ledger.
fn indexed(s: &CustodyState, req: &Request, at_ms: u64, earlier_only: bool) -> Vec<u128> {
    per_limit(req, at_ms, |asset, from| {
        s.window_spend(req, asset, from, at_ms, earlier_only)
    })
}

/// A small deterministic generator (no seed file to keep: the history is the same every run).
struct Lcg(u64);
impl Lcg {
    fn next(&mut self, n: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (self.0 >> 33) % n
    }
}

#[test]
fn the_reservation_index_gives_what_a_scan_of_every_request_gives() {
    let mut rules = two_of_three();
    rules.request_ttl_secs = Some(600);
    rules.limits = vec![
        SpendLimit {
            asset: "SOL".into(),
            window_secs: 3600,
            max_amount: Amount(9_000_000),
            action: LimitAction::Reject,
        },
        // The shortest window: ties on the log time decide what counts.
        SpendLimit {
            asset: "SOL".into(),
            window_secs: 1,
            max_amount: Amount(u128::MAX),
            action: LimitAction::Reject,
        },
        SpendLimit {
            asset: "SOL".into(),
            window_secs: 600,
            max_amount: Amount(4_000_000),
            action: LimitAction::RequireAdmin,
        },
    ];
    let (mut h, wallet, pk) = setup(rules);
    let mut rng = Lcg(7);
    let mut ids: Vec<String> = Vec::new();
    let mut statuses = std::collections::BTreeSet::new();
    for step in 0..300 {
        let idem = format!("s{step}");
        match rng.next(10) {
            0..=4 => {
                let r = submit(&mut h, &wallet, &pk, 100_000 * (1 + rng.next(20)), &idem);
                if rng.next(4) > 0 {
                    approve(&mut h, 11, &r, &r.intent_digest);
                    approve(&mut h, 12, &r, &r.intent_digest);
                }
                ids.push(r.request_id.to_string());
            }
            5 => h.shift_ms += 1_000 * rng.next(900),
            6 if !ids.is_empty() => {
                let id = ids[rng.next(ids.len() as u64) as usize].clone();
                h.report(
                    2,
                    Report::RequestExpired {
                        request_id: id.as_str().into(),
                    },
                );
            }
            7 if !ids.is_empty() => {
                let id = ids[rng.next(ids.len() as u64) as usize].clone();
                h.user(
                    20,
                    &idem,
                    Action::RequestCancel {
                        org_id: org(),
                        request_id: id.as_str().into(),
                        reason: "test".into(),
                    },
                );
            }
            _ => {}
        }
        // Every request, at its own reservation and at the log's latest time, both ways.
        let now = h.s.last_timestamp_ms();
        for id in &ids {
            let r = h.request(id);
            statuses.insert(r.status.name());
            for at in [r.reserved_at_ms.unwrap_or(r.created_at_ms), now] {
                for earlier_only in [false, true] {
                    assert_eq!(
                        indexed(&h.s, &r, at, earlier_only),
                        scan(&h.s, &r, at, earlier_only),
                        "step {step}, {id} at {at}, earlier_only {earlier_only}"
                    );
                }
            }
        }
    }
    // The history went through every status that matters to the index.
    for s in [
        "pending",
        "signing",
        "rejected",
        "awaiting_admin",
        "expired",
        "cancelled",
    ] {
        assert!(statuses.contains(s), "{s} never reached: {statuses:?}");
    }
    // Rebuilt from its records (a restart), the state has the same index.
    let records: Vec<_> =
        h.s.record_keys()
            .into_iter()
            .filter_map(|k| h.s.record(&k).map(|v| (k, v)))
            .collect();
    let back = CustodyState::from_records(h.s.genesis().clone(), h.s.last_timestamp_ms(), records)
        .unwrap();
    assert_eq!(back.reservations, h.s.reservations);
    assert!(!h.s.reservations.is_empty());
}
