//! Report delivery: every report this node owes the log is proposed until it is applied, or
//! until the log shows it no longer matters — never dropped after a fixed number of tries.

use mpc_custody::state::CustodyState;
use mpc_custody::{NodeId, Report, RequestStatus, VaultStatus};
use std::collections::BTreeMap;

/// First retry delay after a report was not committed, ms; doubles up to [`MAX_BACKOFF_MS`].
pub const FIRST_BACKOFF_MS: u64 = 500;
/// Longest retry delay, ms.
pub const MAX_BACKOFF_MS: u64 = 16_000;

#[derive(Debug, Clone)]
struct Pending {
    report: Report,
    /// Proposals that were not committed so far.
    failures: u32,
    /// When to propose again (`None`: a proposal is in flight).
    retry_at_ms: Option<u64>,
}

/// Reports in delivery, by delivery id.
#[derive(Debug, Default)]
pub struct Deliveries {
    pending: BTreeMap<u64, Pending>,
    next_id: u64,
}

impl Deliveries {
    /// Starts delivering `report`; returns its delivery id (the caller proposes it now).
    pub fn start(&mut self, report: Report) -> u64 {
        self.insert(report, None)
    }

    /// Starts delivering `report` at `at_ms` (not now): proposed then by [`Deliveries::due`] if
    /// the log still needs it, dropped otherwise. Returns its delivery id.
    pub fn start_at(&mut self, report: Report, at_ms: u64) -> u64 {
        self.insert(report, Some(at_ms))
    }

    fn insert(&mut self, report: Report, retry_at_ms: Option<u64>) -> u64 {
        let id = self.next_id;
        self.next_id += 1;
        self.pending.insert(
            id,
            Pending {
                report,
                failures: 0,
                retry_at_ms,
            },
        );
        id
    }

    /// The report was applied: done.
    pub fn applied(&mut self, id: u64) {
        self.pending.remove(&id);
    }

    /// The report was not committed: retry after a backoff. Returns when.
    pub fn not_committed(&mut self, id: u64, now_ms: u64) -> Option<u64> {
        let p = self.pending.get_mut(&id)?;
        p.failures = p.failures.saturating_add(1);
        let backoff = FIRST_BACKOFF_MS
            .saturating_mul(1u64 << p.failures.min(6).saturating_sub(1))
            .min(MAX_BACKOFF_MS);
        let at = now_ms.saturating_add(backoff);
        p.retry_at_ms = Some(at);
        Some(at)
    }

    /// Reports due for another proposal at `now_ms` that still matter to the log; those that
    /// no longer do are dropped. Returns `(id, report)` to propose (marked in flight).
    pub fn due(&mut self, now_ms: u64, me: NodeId, state: &CustodyState) -> Vec<(u64, Report)> {
        let due: Vec<u64> = self
            .pending
            .iter()
            .filter(|(_, p)| p.retry_at_ms.is_some_and(|t| t <= now_ms))
            .map(|(id, _)| *id)
            .collect();
        let mut out = Vec::new();
        for id in due {
            let Some(p) = self.pending.get_mut(&id) else {
                continue;
            };
            if still_matters(&p.report, me, state) {
                p.retry_at_ms = None;
                out.push((id, p.report.clone()));
            } else {
                self.pending.remove(&id);
            }
        }
        out
    }

    /// The earliest retry time, if any.
    pub fn next_wake_ms(&self) -> Option<u64> {
        self.pending.values().filter_map(|p| p.retry_at_ms).min()
    }

    /// Reports not yet applied.
    pub fn len(&self) -> usize {
        self.pending.len()
    }

    /// True when nothing is owed.
    pub fn is_empty(&self) -> bool {
        self.pending.is_empty()
    }

    /// True when a report of this kind for this request attempt is being delivered.
    pub fn has_expiry(&self, request_id: &str, attempt: u32) -> bool {
        self.pending.values().any(|p| {
            matches!(&p.report, Report::AttemptExpired { request_id: r, attempt: a }
                if r == request_id && *a == attempt)
        })
    }
}

/// Whether the log still needs `report` from node `me`.
pub fn still_matters(report: &Report, me: NodeId, state: &CustodyState) -> bool {
    let vault_waits = |vault_id: &str| {
        state
            .vault(vault_id)
            .is_some_and(|v| v.status == VaultStatus::Pending && !v.reports.contains_key(&me))
    };
    let pool_waits = |wallet_id: &str, seq: u64| {
        state
            .presig_pool(wallet_id)
            .and_then(|p| p.generating.get(&seq))
            .is_some_and(|reported| !reported.contains(&me))
    };
    let signing = |request_id: &str| {
        state
            .request(request_id)
            .filter(|r| r.status == RequestStatus::Signing)
    };
    match report {
        Report::VaultRepaired {
            vault_id,
            replacement,
            attempt,
        }
        | Report::VaultRepairFailed {
            vault_id,
            replacement,
            attempt,
            ..
        } => state
            .vault(vault_id)
            .and_then(|v| v.repair.as_ref())
            .is_some_and(|r| r.replacement == *replacement && r.attempt == *attempt),
        Report::VaultKeys { vault_id, .. } | Report::VaultFailed { vault_id, .. } => {
            vault_waits(vault_id)
        }
        Report::PresigReady { wallet_id, seq } | Report::PresigFailed { wallet_id, seq, .. } => {
            pool_waits(wallet_id, *seq)
        }
        Report::Signature { request_id, .. } => signing(request_id).is_some(),
        // Made by the node's runner from due `Signature` reports, never owed by the engine.
        Report::Signatures { items } => items.iter().any(|i| signing(&i.request_id).is_some()),
        Report::SignFailed {
            request_id,
            attempt,
            ..
        }
        | Report::AttemptExpired {
            request_id,
            attempt,
        } => signing(request_id)
            .and_then(|r| r.current_attempt())
            .is_some_and(|a| a.attempt == *attempt),
        Report::RequestExpired { request_id } => state
            .request(request_id)
            .is_some_and(|r| r.status.is_open()),
        Report::AuxReady { attempt } => {
            let a = state.aux();
            !a.complete && a.attempt == *attempt && !a.ready.contains(&me)
        }
        Report::AuxFailed { attempt, .. } => {
            let a = state.aux();
            !a.complete && a.attempt == *attempt
        }
        Report::VaultRefreshed {
            vault_id,
            generation,
            ..
        }
        | Report::VaultRefreshFailed {
            vault_id,
            generation,
            ..
        } => state.vault(vault_id).is_some_and(|v| {
            v.refresh
                .as_ref()
                .is_some_and(|r| r.started_log_index == *generation && !r.reports.contains_key(&me))
        }),
        Report::RefreshDue { vault_id, epoch } => state
            .vault(vault_id)
            .is_some_and(|v| v.epoch == *epoch && v.refresh.is_none()),
        // Sent by the chain watcher, which re-reads the state each round (not the engine).
        Report::Broadcast { request_id, .. } | Report::ChainObserved { request_id, .. } => state
            .request(request_id)
            .and_then(|r| r.chain.as_ref())
            .is_some_and(|c| !c.state.is_final()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use mpc_custody::state::GenesisParams;

    fn report() -> Report {
        Report::PresigReady {
            wallet_id: "w".into(),
            seq: 0,
        }
    }

    #[test]
    fn retries_back_off_to_a_ceiling_and_never_give_up_on_their_own() {
        let mut d = Deliveries::default();
        let id = d.start(report());
        let mut now = 0;
        let mut delays = Vec::new();
        for _ in 0..20 {
            let at = d.not_committed(id, now).unwrap();
            delays.push(at - now);
            now = at;
        }
        assert_eq!(&delays[..6], &[500, 1_000, 2_000, 4_000, 8_000, 16_000]);
        assert!(delays[6..].iter().all(|d| *d == MAX_BACKOFF_MS));
        // Twenty failures later it is still owed.
        assert_eq!(d.len(), 1);
        assert_eq!(d.next_wake_ms(), Some(now));
        d.applied(id);
        assert!(d.is_empty());
    }

    #[test]
    fn a_report_the_log_no_longer_needs_is_dropped_at_its_retry() {
        // No such pool in an empty state: the presignature report is moot.
        let state = CustodyState::new(GenesisParams {
            cluster_id: "c".into(),
            admins: Default::default(),
            nodes: Default::default(),
            threshold: 2,
        });
        let mut d = Deliveries::default();
        let id = d.start(report());
        let at = d.not_committed(id, 0).unwrap();
        assert!(d.due(at - 1, 1, &state).is_empty());
        assert_eq!(d.len(), 1);
        assert!(d.due(at, 1, &state).is_empty());
        assert!(d.is_empty());
    }
}
