//! Applying a node's signed report: verified against the node's genesis key, then one handler
//! per report kind.

use super::{At, CommandOutcome, CustodyState, EntryContext, ReportResult};
use crate::ids::NodeId;
use crate::{Report, SignedReport};

impl CustodyState {
    /// Applies a node's signed report.
    pub(super) fn apply_report(
        &mut self,
        ctx: EntryContext,
        now_ms: u64,
        rep: &SignedReport,
    ) -> CommandOutcome {
        let stale = |e: String| CommandOutcome {
            error: Some(e),
            log_index: ctx.log_index,
            ..Default::default()
        };
        let Some(node_key) = self.node_key(rep.node_id) else {
            return stale(format!("report from unknown node {}", rep.node_id));
        };
        let report = match rep.verify(&self.genesis.cluster_id, &node_key.0) {
            Ok(r) => r,
            Err(e) => return stale(e),
        };
        let hash = crate::command::body_hash(&rep.body);
        let at = At { ctx, now_ms };
        if let Report::Signatures { items } = &report {
            return self.apply_signature_batch(rep.node_id, node_key, items, hash, at);
        }
        let result = self.execute_report(rep, &report, at);
        match result {
            Ok(Some((org, text, result))) => {
                let seq = self.append_audit(ctx, now_ms, node_key, org, report.kind(), hash, &text);
                CommandOutcome {
                    result: Some(result),
                    error: None,
                    audit_seq: Some(seq),
                    log_index: ctx.log_index,
                    replayed: false,
                    ..Default::default()
                }
            }
            // Nothing changed (duplicate or late report): no audit entry.
            Ok(None) => stale("report changed nothing (duplicate or stale)".into()),
            Err(e) => stale(e),
        }
    }

    /// A batch of signature reports: each item applied as its own `Signature` report, in
    /// order, each audited on its own; an item that changes nothing or is refused leaves the
    /// others as they are (each report handler checks before it changes anything).
    fn apply_signature_batch(
        &mut self,
        node: NodeId,
        node_key: crate::types::UserKey,
        items: &[crate::SignedAttempt],
        hash: [u8; 32],
        at: At,
    ) -> CommandOutcome {
        let mut outcome = CommandOutcome {
            log_index: at.ctx.log_index,
            ..Default::default()
        };
        if items.is_empty() || items.len() > crate::MAX_SIGNATURE_ITEMS {
            outcome.error = Some(format!(
                "a signature batch carries 1 to {} reports, not {}",
                crate::MAX_SIGNATURE_ITEMS,
                items.len()
            ));
            return outcome;
        }
        let mut signed = Vec::new();
        let mut refused = Vec::new();
        for item in items {
            match self.report_signature(node, &item.request_id, &item.attempt, &item.signatures, at)
            {
                Ok(Some((org, text, _))) => {
                    let seq = self.append_audit(
                        at.ctx,
                        at.now_ms,
                        node_key,
                        org,
                        "signature",
                        hash,
                        &text,
                    );
                    outcome.audit_seq = Some(seq);
                    signed.push(item.request_id.clone());
                }
                Ok(None) => {}
                Err(e) => refused.push(format!("{}: {e}", item.request_id)),
            }
        }
        if signed.is_empty() {
            outcome.error = Some(if refused.is_empty() {
                "report changed nothing (duplicate or stale)".into()
            } else {
                refused.join("; ")
            });
        } else {
            if !refused.is_empty() {
                outcome.error = Some(refused.join("; "));
            }
            outcome.result = Some(crate::state::ActionResult::RequestsSigned {
                request_ids: signed,
            });
        }
        outcome
    }

    fn execute_report(&mut self, rep: &SignedReport, report: &Report, at: At) -> ReportResult {
        let node: NodeId = rep.node_id;
        match report {
            Report::VaultRefreshed {
                vault_id,
                epoch,
                generation,
                digest,
            } => self.report_vault_refreshed(rep, vault_id, (*epoch, *generation), digest, at),
            Report::VaultRefreshFailed {
                vault_id,
                epoch,
                generation,
                reason,
                culprits,
            } => {
                let which = (*epoch, *generation);
                self.report_refresh_failed(node, vault_id, which, reason, culprits, at)
            }
            Report::VaultRepaired {
                vault_id,
                replacement,
                attempt,
            } => self.report_vault_repaired(node, vault_id, (*replacement, *attempt), at),
            Report::VaultRepairFailed {
                vault_id,
                replacement,
                attempt,
                reason,
                culprits,
            } => {
                let which = (*replacement, *attempt);
                self.report_repair_failed(node, vault_id, which, reason, culprits, at)
            }
            Report::RefreshDue { vault_id, epoch } => self.report_refresh_due(vault_id, *epoch, at),
            Report::VaultKeys { vault_id, keys } => self.report_vault_keys(node, vault_id, keys),
            Report::VaultFailed { vault_id, reason } => {
                self.report_vault_failed(node, vault_id, reason)
            }
            Report::Signature {
                request_id,
                attempt,
                signatures,
            } => self.report_signature(node, request_id, attempt, signatures, at),
            // Applied item by item in `apply_report`; never reaches here.
            Report::Signatures { .. } => Err("a signature batch is applied item by item".into()),
            Report::PresigReady { wallet_id, seq } => {
                self.report_presig_ready(node, wallet_id, seq)
            }
            Report::PresigFailed {
                wallet_id,
                seq,
                reason,
            } => self.report_presig_failed(node, wallet_id, seq, reason),
            Report::SignFailed {
                request_id,
                attempt,
                reason,
                unresponsive,
            } => self.report_sign_failed(node, request_id, attempt, reason, unresponsive, at),
            Report::AttemptExpired {
                request_id,
                attempt,
            } => self.report_attempt_expired(node, request_id, attempt, at),
            Report::RequestExpired { request_id } => {
                self.report_request_expired(node, request_id, at)
            }
            Report::AuxReady { attempt } => self.report_aux_ready(node, *attempt),
            Report::AuxFailed { attempt, reason } => self.report_aux_failed(node, *attempt, reason),
            Report::Broadcast { request_id, txid } => {
                self.report_broadcast(node, request_id, txid, at)
            }
            Report::ChainObserved {
                request_id,
                txid,
                seen,
            } => self.report_chain_observed(node, request_id, txid, seen, at),
        }
    }
}
