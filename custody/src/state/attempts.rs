//! Signing attempts: who signs and with which session, and the signers' reports.

use super::requests::payload_bytes;
use super::{At, CustodyState, EntryContext, RecordKey, ReportResult};
use crate::ids::{session_id, subsets, NodeId};
use crate::{Request, RequestStatus, SignAttempt, MAX_SIGN_ATTEMPTS};
use mpc_protocol::chain::{self, Chain};
use std::collections::BTreeSet;

impl CustodyState {
    pub(super) fn start_attempt(
        &mut self,
        req: &mut Request,
        ctx: EntryContext,
        avoid: &BTreeSet<NodeId>,
    ) {
        let attempt = req.attempts.len() as u32 + 1;
        // First attempt: use the wallet's presignature pool when its signers are not to be
        // avoided and it holds one presignature per message. Retries sign interactively.
        let messages = match self.wallets.get(&req.wallet_id).map(|w| w.chain) {
            Some(Chain::BitcoinP2wpkh | Chain::BitcoinP2tr) => req.extras.spent_outputs.len(),
            _ => 1,
        };
        let mut from_pool = None;
        if let Some(pool) = self.presig_pools.get_mut(&req.wallet_id) {
            if attempt == 1 && !pool.signers.iter().any(|n| avoid.contains(n)) {
                let seqs = pool.take(messages);
                if !seqs.is_empty() {
                    from_pool = Some((pool.signers.clone(), seqs));
                }
            }
            // A request restarts a pool paused by failures, and refills it.
            pool.failures_in_row = 0;
            pool.top_up();
            self.dirty
                .insert(RecordKey::PresigPool(req.wallet_id.clone()));
        }
        let (signers, presignatures) = match from_pool {
            Some(x) => x,
            None => {
                let committee: Vec<NodeId> = self.genesis.nodes.keys().copied().collect();
                let all = subsets(&committee, usize::from(self.genesis.threshold));
                let preferred: Vec<&Vec<NodeId>> = all
                    .iter()
                    .filter(|s| !s.iter().any(|n| avoid.contains(n)))
                    .collect();
                let pool: Vec<&Vec<NodeId>> = if preferred.is_empty() {
                    all.iter().collect()
                } else {
                    preferred
                };
                let seed = ctx.log_index.wrapping_add(u64::from(attempt)) as usize;
                let signers = pool
                    .get(seed % pool.len().max(1))
                    .map(|s| (*s).clone())
                    .unwrap_or_default();
                (signers, Vec::new())
            }
        };
        let sid = session_id(
            &self.genesis.cluster_id,
            "sign",
            &[
                req.request_id.as_bytes(),
                &attempt.to_be_bytes(),
                &ctx.log_index.to_be_bytes(),
            ],
        );
        req.attempts.push(SignAttempt {
            attempt,
            signers,
            session_id: hex::encode(sid),
            log_index: ctx.log_index,
            failure: None,
            presignatures,
        });
        req.status = RequestStatus::Signing;
    }

    pub(super) fn report_signature(
        &mut self,
        node: NodeId,
        request_id: &str,
        attempt: &u32,
        signatures: &[String],
        at: At,
    ) -> ReportResult {
        let Some(mut req) = self.current_attempt_of(request_id, *attempt, node)? else {
            return Ok(None);
        };
        let wallet = self
            .wallets
            .get(&req.wallet_id)
            .ok_or("wallet vanished")?
            .key()?;
        let sigs = signatures
            .iter()
            .map(|s| hex::decode(s).map_err(|_| "signature is not hex".to_string()))
            .collect::<Result<Vec<_>, _>>()?;
        let payload = payload_bytes(&req.payload)?;
        // Verifies every signature against the wallet key and the recomputed messages.
        let tx = chain::assemble(&wallet, &payload, &req.extras, &sigs)
            .map_err(|e| format!("signature report refused: {e}"))?;
        req.status = RequestStatus::Signed;
        req.signatures = signatures.to_vec();
        req.signed_transaction = Some(tx);
        req.updated_at_ms = at.now_ms;
        let org = req.org_id.clone();
        let text = format!("signed (attempt {attempt}, reported by node {node})");
        Ok(Some((org, text, self.put_request(req))))
    }

    pub(super) fn report_sign_failed(
        &mut self,
        node: NodeId,
        request_id: &str,
        attempt: &u32,
        reason: &str,
        unresponsive: &[NodeId],
        at: At,
    ) -> ReportResult {
        let Some(mut req) = self.current_attempt_of(request_id, *attempt, node)? else {
            return Ok(None);
        };
        let reason: String = reason.chars().take(500).collect();
        if let Some(a) = req.attempts.last_mut() {
            a.failure = Some(format!("node {node}: {reason}"));
        }
        let mut avoid: BTreeSet<NodeId> = unresponsive.iter().copied().collect();
        avoid.remove(&node);
        if req.attempts.len() as u32 >= MAX_SIGN_ATTEMPTS {
            req.status = RequestStatus::Failed {
                reason: format!("signing failed after {MAX_SIGN_ATTEMPTS} attempts: {reason}"),
            };
        } else {
            self.start_attempt(&mut req, at.ctx, &avoid);
        }
        req.updated_at_ms = at.now_ms;
        let org = req.org_id.clone();
        let text = format!("attempt {attempt} failed on node {node}: {reason}");
        Ok(Some((org, text, self.put_request(req))))
    }

    /// The request if `attempt` is its current signing attempt and `node` one of its signers.
    fn current_attempt_of(
        &self,
        request_id: &str,
        attempt: u32,
        node: NodeId,
    ) -> Result<Option<Request>, String> {
        let req = self
            .requests
            .get(request_id)
            .ok_or_else(|| format!("no request '{request_id}'"))?;
        let current = req.attempts.last();
        if req.status != RequestStatus::Signing
            || current.map(|a| a.attempt) != Some(attempt)
            || !current.is_some_and(|a| a.signers.contains(&node))
        {
            return Ok(None);
        }
        Ok(Some(req.clone()))
    }
}
