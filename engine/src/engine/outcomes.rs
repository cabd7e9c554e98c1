//! Session results in the engine: what a finished session becomes in the log (its report).

use super::{AuxState, Engine};
use crate::io::{Action, Job, SessionOutcome};
use mpc_custody::state::CustodyState;
use mpc_custody::{NodeId, Report};

impl Engine {
    pub(super) fn session_done(
        &mut self,
        now_ms: u64,
        state: &CustodyState,
        job: Job,
        outcome: SessionOutcome,
        out: &mut Vec<Action>,
    ) {
        let failed = |o: &SessionOutcome| match o {
            SessionOutcome::Failed {
                reason,
                unresponsive,
            } => Some((reason.clone(), unresponsive.clone())),
            _ => None,
        };
        if matches!(job, Job::Sign { .. }) {
            self.interactive_done(state, Some(&job), out);
        }
        let report = match (&job, &outcome) {
            (Job::Aux { attempt }, SessionOutcome::AuxReady) => {
                if self.aux == AuxState::Running(*attempt) {
                    self.aux = AuxState::Stored(*attempt);
                }
                Some(Report::AuxReady { attempt: *attempt })
            }
            (Job::Dkg { vault_id }, SessionOutcome::VaultKeys(keys)) => Some(Report::VaultKeys {
                vault_id: vault_id.clone(),
                keys: keys.clone(),
            }),
            (Job::Presign { wallet_id, seq }, SessionOutcome::PresigStored) => {
                Some(Report::PresigReady {
                    wallet_id: wallet_id.clone(),
                    seq: *seq,
                })
            }
            (
                Job::Sign {
                    request_id,
                    attempt,
                },
                SessionOutcome::Signed(signatures),
            ) => Some(Report::Signature {
                request_id: request_id.clone(),
                attempt: *attempt,
                signatures: signatures.clone(),
            }),
            (
                Job::Refresh {
                    vault_id,
                    epoch,
                    generation,
                },
                SessionOutcome::Refreshed(digest),
            ) => Some(Report::VaultRefreshed {
                vault_id: vault_id.clone(),
                epoch: *epoch,
                generation: *generation,
                digest: digest.clone(),
            }),
            (
                Job::Refresh {
                    vault_id,
                    epoch,
                    generation,
                },
                SessionOutcome::RefreshFailed { reason, culprits },
            ) => Some(Report::VaultRefreshFailed {
                vault_id: vault_id.clone(),
                epoch: *epoch,
                generation: *generation,
                reason: reason.clone(),
                culprits: culprits.clone(),
            }),
            (
                Job::Repair {
                    vault_id,
                    replacement,
                    attempt,
                },
                SessionOutcome::Repaired,
            ) => (self.me
                == state
                    .vault(vault_id)
                    .and_then(|v| v.repair.as_ref())
                    .map_or(0, |r| r.node_id))
            .then(|| Report::VaultRepaired {
                vault_id: vault_id.clone(),
                replacement: *replacement,
                attempt: *attempt,
            }),
            (
                Job::Repair {
                    vault_id,
                    replacement,
                    attempt,
                },
                SessionOutcome::RepairFailed { reason, culprits },
            ) => Some(Report::VaultRepairFailed {
                vault_id: vault_id.clone(),
                replacement: *replacement,
                attempt: *attempt,
                reason: reason.clone(),
                culprits: culprits.clone(),
            }),
            (job, o) => {
                let (reason, unresponsive) = failed(o).unwrap_or_else(|| {
                    (format!("unexpected outcome {o:?} for {job:?}"), Vec::new())
                });
                failure_report(job, reason, unresponsive)
            }
        };
        let Some(report) = report else { return };
        if let Report::Signature {
            request_id,
            attempt,
            ..
        } = &report
        {
            let first_signer = state
                .request(request_id)
                .and_then(|r| r.attempts.iter().find(|a| a.attempt == *attempt))
                .and_then(|a| a.signers.first().copied());
            if first_signer.is_some_and(|first| first != self.me) {
                // The backup copy of the first signer's report (see BACKUP_SIGNATURE_REPORT_MS).
                self.deliveries.start_at(
                    report,
                    now_ms.saturating_add(super::BACKUP_SIGNATURE_REPORT_MS),
                );
                return;
            }
        }
        self.propose(report, out);
    }
}

/// The report for a failed job.
fn failure_report(job: &Job, reason: String, unresponsive: Vec<NodeId>) -> Option<Report> {
    Some(match job {
        Job::Dkg { vault_id } => Report::VaultFailed {
            vault_id: vault_id.clone(),
            reason,
        },
        Job::Presign { wallet_id, seq } => Report::PresigFailed {
            wallet_id: wallet_id.clone(),
            seq: *seq,
            reason,
        },
        Job::Sign {
            request_id,
            attempt,
        } => Report::SignFailed {
            request_id: request_id.clone(),
            attempt: *attempt,
            reason,
            unresponsive,
        },
        Job::Aux { attempt } => Report::AuxFailed {
            attempt: *attempt,
            reason,
        },
        Job::Refresh {
            vault_id,
            epoch,
            generation,
        } => Report::VaultRefreshFailed {
            vault_id: vault_id.clone(),
            epoch: *epoch,
            generation: *generation,
            reason,
            culprits: Vec::new(),
        },
        Job::Repair {
            vault_id,
            replacement,
            attempt,
        } => Report::VaultRepairFailed {
            vault_id: vault_id.clone(),
            replacement: *replacement,
            attempt: *attempt,
            reason,
            culprits: Vec::new(),
        },
    })
}
