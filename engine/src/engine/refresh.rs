//! Proactive refresh in the engine: starting the refresh a vault's record asks for (once),
//! tidying shares after one finished or failed, and following the organisation's schedule.

use super::{parties, Engine};
use crate::io::{Action, Job, SessionSpec};
use mpc_custody::ids;
use mpc_custody::state::CustodyState;
use mpc_custody::types::VaultId;
use mpc_custody::Report;
use mpc_protocol::chain::KeyType;

impl Engine {
    /// Starts the vault's running refresh (once), and retires older shares after one is done.
    pub(super) fn refresh_changed(
        &mut self,
        state: &CustodyState,
        vault_id: &VaultId,
        out: &mut Vec<Action>,
    ) {
        self.forget_stale(
            state,
            |j| matches!(j, Job::Refresh { vault_id: v, .. } if v == vault_id),
        );
        let Some(vault) = state.vault(vault_id) else {
            return;
        };
        let joining = vault
            .refresh
            .as_ref()
            .is_some_and(|r| r.adds.contains(&self.me));
        if !vault.committee.contains(&self.me) && !joining {
            return;
        }
        if let Some(last) = &vault.last_refresh {
            if self.tidied.get(vault_id) != Some(&last.started_log_index) {
                self.tidied.insert(vault_id.clone(), last.started_log_index);
                out.push(Action::TidyShares {
                    vault_id: vault_id.clone(),
                });
            }
        }
        let Some(refresh) = &vault.refresh else {
            return;
        };
        // A removal refresh runs among the staying nodes only.
        let staying = refresh.new_committee(&vault.committee);
        if !staying.contains(&self.me) {
            return;
        }
        let job = Job::Refresh {
            vault_id: vault_id.clone(),
            epoch: refresh.epoch,
            generation: refresh.started_log_index,
        };
        if !self.wanted(state, &job) || !self.jobs.insert(job.clone()) {
            return;
        }
        // Leave a node out (or let one in) only on a removal (addition) this node verified
        // against the genesis admins: a forged record (a lying leader) must neither take a
        // node's shares away nor hand a share to a stranger. Refused: reported, so the refresh
        // fails instead of waiting.
        let unverified = refresh
            .removes
            .iter()
            .find_map(|n| state.verified_removal(*n).err())
            .or_else(|| {
                refresh
                    .adds
                    .iter()
                    .find_map(|n| state.verified_addition(*n).err())
            });
        if let Some(reason) = unverified {
            let report = Report::VaultRefreshFailed {
                vault_id: vault_id.clone(),
                epoch: refresh.epoch,
                generation: refresh.started_log_index,
                reason: format!("node {} refused the committee change: {reason}", self.me),
                culprits: Vec::new(),
            };
            self.propose(report, out);
            return;
        }
        let sessions = KeyType::ALL
            .iter()
            .map(|kt| {
                let sid = ids::refresh_session(
                    &self.cluster_id,
                    vault_id,
                    refresh.started_log_index,
                    kt.as_str(),
                );
                (*kt, sid)
            })
            .collect();
        out.push(Action::Start {
            job,
            spec: SessionSpec::Refresh {
                vault_id: vault_id.clone(),
                from_generation: vault.share_generation,
                generation: refresh.started_log_index,
                parties: parties(&staying),
                committee: vault.committee.clone(),
                staying,
                sessions,
            },
        });
    }

    /// Runs the vault's current repair attempt (once) when this node is one of its parties:
    /// only after [`CustodyState::repair_job`] verified the replacement against the genesis
    /// admins; a refusal is reported, so the attempt moves on instead of waiting.
    pub(super) fn repair_changed(
        &mut self,
        state: &CustodyState,
        vault_id: &VaultId,
        out: &mut Vec<Action>,
    ) {
        self.forget_stale(
            state,
            |j| matches!(j, Job::Repair { vault_id: v, .. } if v == vault_id),
        );
        let Some(rep) = state.vault(vault_id).and_then(|v| v.repair.as_ref()) else {
            return;
        };
        if rep.node_id != self.me && !rep.helpers.contains(&self.me) {
            return;
        }
        let job = Job::Repair {
            vault_id: vault_id.clone(),
            replacement: rep.replacement,
            attempt: rep.attempt,
        };
        if !self.wanted(state, &job) || !self.jobs.insert(job.clone()) {
            return;
        }
        let checked = match state.repair_job(vault_id, self.me) {
            Ok(j) => j,
            Err(reason) => {
                let report = Report::VaultRepairFailed {
                    vault_id: vault_id.clone(),
                    replacement: rep.replacement,
                    attempt: rep.attempt,
                    reason: format!("node {} refused: {reason}", self.me),
                    culprits: Vec::new(),
                };
                self.propose(report, out);
                return;
            }
        };
        let sessions = KeyType::ALL
            .iter()
            .map(|kt| {
                let sid = ids::repair_session(
                    &self.cluster_id,
                    vault_id,
                    (checked.node_id, checked.replacement),
                    (checked.attempt, checked.attempt_log_index),
                    kt.as_str(),
                );
                (*kt, sid)
            })
            .collect();
        let public_session = ids::repair_session(
            &self.cluster_id,
            vault_id,
            (checked.node_id, checked.replacement),
            (checked.attempt, checked.attempt_log_index),
            "public",
        );
        let mut members = checked.helpers.clone();
        members.push(checked.node_id);
        out.push(Action::Start {
            job,
            spec: SessionSpec::Repair {
                parties: parties(&members),
                job: Box::new(checked),
                sessions,
                public_session,
            },
        });
    }

    /// Follows the organisation's refresh schedule for a vault of this node's committee.
    pub(super) fn schedule_changed(
        &mut self,
        now_ms: u64,
        state: &CustodyState,
        vault_id: &VaultId,
    ) {
        let due = state
            .vault(vault_id)
            .filter(|v| v.committee.contains(&self.me))
            .and_then(|v| state.refresh_due_at(v));
        match due {
            // Already waiting for a due time: keep the resend pacing.
            Some(at) => {
                let at = match self.refresh_due.get(vault_id) {
                    Some(t) if *t > now_ms && at <= now_ms => *t,
                    _ => at,
                };
                self.refresh_due.insert(vault_id.clone(), at);
            }
            None => {
                self.refresh_due.remove(vault_id);
            }
        }
    }
}
