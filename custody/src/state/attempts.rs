//! Signing attempts: who signs, with which session and by when, and what ends an attempt — a
//! signature, a signer's failure report, or its deadline passing (reported by any node).

use super::requests::payload_bytes;
use super::{At, CustodyState, RecordKey, ReportResult};
use crate::ids::{sign_attempt_session, subsets, NodeId};
use crate::request::attempt_deadline_ms;
use crate::request::MAX_INTERACTIVE_SIGNING;
use crate::{Request, RequestStatus, SignAttempt, MAX_SIGN_ATTEMPTS};
use mpc_protocol::chain::{self, Chain, KeyType};
use std::collections::BTreeSet;

impl CustodyState {
    /// Starts the next attempt of `req`: signers (the wallet's presignature pool on a first
    /// attempt when it holds one presignature per message, else a t-subset avoiding `avoid`),
    /// its session id and its deadline.
    pub(super) fn start_attempt(&mut self, req: &mut Request, at: At, avoid: &BTreeSet<NodeId>) {
        // A node whose shares of this vault are being repaired has none to sign with.
        let mut avoid = avoid.clone();
        if let Some(rep) = self
            .vaults
            .get(&req.vault_id)
            .and_then(|v| v.repair.as_ref())
        {
            avoid.insert(rep.node_id);
        }
        // A removed node signs nothing, even while the vault's shares still include it.
        let committee: Vec<NodeId> = self
            .vaults
            .get(&req.vault_id)
            .map(|v| {
                v.committee
                    .iter()
                    .copied()
                    .filter(|n| !self.is_removed(*n))
                    .collect()
            })
            .unwrap_or_default();
        let avoid = &avoid;
        let attempt = req.attempts.len() as u32 + 1;
        let wallet = self.wallets.get(&req.wallet_id);
        let messages = match wallet.map(|w| w.chain) {
            Some(Chain::BitcoinP2wpkh | Chain::BitcoinP2tr) => req.extras.spent_outputs.len(),
            _ => 1,
        };
        let ecdsa = wallet.is_some_and(|w| w.key_type == KeyType::EcdsaSecp256k1);
        let from_pool = self.take_from_pool(req, attempt, messages, avoid, at.now_ms);
        let (signers, presignatures) = match from_pool {
            Some(x) => x,
            None => (
                self.choose_signers(
                    &committee,
                    super::signer_check::log_index_of(&req.request_id),
                    attempt,
                    avoid,
                ),
                Vec::new(),
            ),
        };
        let interactive = ecdsa && presignatures.is_empty();
        if interactive {
            let others = self
                .interactive_running
                .iter()
                .filter(|r| **r != req.request_id)
                .count();
            if others >= MAX_INTERACTIVE_SIGNING {
                // No slot: wait in the queue (not an attempt, no deadline).
                req.queued = true;
                req.status = RequestStatus::Signing;
                return;
            }
        }
        req.queued = false;
        let sid = sign_attempt_session(
            &self.genesis.cluster_id,
            &req.request_id,
            attempt,
            at.ctx.log_index,
        );
        req.attempts.push(SignAttempt {
            attempt,
            signers,
            session_id: hex::encode(sid.0),
            log_index: at.ctx.log_index,
            failure: None,
            presignatures,
            deadline_ms: attempt_deadline_ms(at.now_ms, interactive, messages),
        });
        req.status = RequestStatus::Signing;
    }

    /// On a first attempt, `messages` presignatures of the wallet's pool and its signers, when
    /// none of them is to be avoided and the pool holds enough. A request's first try counts as
    /// demand once (the pool's size follows it; a request admitted from the queue was counted
    /// when it was queued); any request restarts a pool paused by failures, and refills it.
    fn take_from_pool(
        &mut self,
        req: &Request,
        attempt: u32,
        messages: usize,
        avoid: &BTreeSet<NodeId>,
        now_ms: u64,
    ) -> Option<(Vec<NodeId>, Vec<u64>)> {
        let pool = self.presig_pools.get_mut(&req.wallet_id)?;
        let mut taken = None;
        if attempt == 1 && !req.queued {
            pool.note_demand(now_ms, messages);
        }
        if attempt == 1 && !pool.signers.iter().any(|n| avoid.contains(n)) {
            let seqs = pool.take(messages);
            if !seqs.is_empty() {
                taken = Some((pool.signers.clone(), seqs));
            }
        }
        pool.failures_in_row = 0;
        pool.top_up();
        self.dirty
            .insert(RecordKey::PresigPool(req.wallet_id.clone()));
        taken
    }

    /// A t-subset of the vault's committee (removed nodes left out) for an interactive attempt:
    /// one without an avoided node when there is one, rotated by the request's own log index
    /// and the attempt number, so that successive attempts go to successive subsets. (Rotating
    /// by the log index of the entry that starts the attempt could pick the same subset again
    /// and again whenever the entries between two attempts are a multiple of the subset count:
    /// seen in the simulator once nonce-pool reports shifted the log.)
    fn choose_signers(
        &self,
        committee: &[NodeId],
        log_index: u64,
        attempt: u32,
        avoid: &BTreeSet<NodeId>,
    ) -> Vec<NodeId> {
        let all = subsets(committee, usize::from(self.genesis.threshold));
        let preferred: Vec<&Vec<NodeId>> = all
            .iter()
            .filter(|s| !s.iter().any(|n| avoid.contains(n)))
            .collect();
        let pool: Vec<&Vec<NodeId>> = if preferred.is_empty() {
            all.iter().collect()
        } else {
            preferred
        };
        let seed = log_index.wrapping_add(u64::from(attempt)) as usize;
        pool.get(seed % pool.len().max(1))
            .map(|s| (*s).clone())
            .unwrap_or_default()
    }

    /// A signer's signatures. Accepted from a signer of *any* attempt of a request still signing
    /// (an attempt replaced after its deadline may still finish): every signature is verified
    /// against the wallet key and the messages recomputed from the payload before it counts.
    pub(super) fn report_signature(
        &mut self,
        node: NodeId,
        request_id: &str,
        attempt: &u32,
        signatures: &[String],
        at: At,
    ) -> ReportResult {
        let Some(mut req) = self.signing_request(request_id)? else {
            return Ok(None);
        };
        let signer_of_attempt = req
            .attempts
            .iter()
            .any(|a| a.attempt == *attempt && a.signers.contains(&node));
        if !signer_of_attempt {
            return Ok(None);
        }
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
        let tx = chain::assemble(&wallet, &payload, &req.extras, &sigs)
            .map_err(|e| format!("signature report refused: {e}"))?;
        let txid =
            chain::txid(wallet.chain, &tx).map_err(|e| format!("signature report refused: {e}"))?;
        req.status = RequestStatus::Signed;
        req.signatures = signatures.to_vec();
        req.signed_transaction = Some(tx);
        req.chain = Some(crate::chain_status::ChainStatus::signed(
            txid,
            wallet.chain,
            wallet.network,
            at.now_ms,
        ));
        req.updated_at_ms = at.now_ms;
        let org = req.org_id.clone();
        let text = format!("signed (attempt {attempt}, reported by node {node})");
        Ok(Some((Some(org), text, self.put_request(req))))
    }

    /// A signer of the current attempt failed: the attempt ends, and the next one avoids the
    /// signers it named unresponsive.
    pub(super) fn report_sign_failed(
        &mut self,
        node: NodeId,
        request_id: &str,
        attempt: &u32,
        reason: &str,
        unresponsive: &[NodeId],
        at: At,
    ) -> ReportResult {
        let Some(req) = self.signing_request(request_id)? else {
            return Ok(None);
        };
        let current = req.current_attempt();
        if current.map(|a| a.attempt) != Some(*attempt)
            || !current.is_some_and(|a| a.signers.contains(&node))
        {
            return Ok(None);
        }
        let reason: String = reason.chars().take(500).collect();
        let mut avoid: BTreeSet<NodeId> = unresponsive.iter().copied().collect();
        avoid.remove(&node);
        let text = format!("attempt {attempt} failed on node {node}: {reason}");
        self.end_attempt(req, format!("node {node}: {reason}"), &avoid, at, text)
    }

    /// The current attempt passed its deadline in log time with neither a signature nor a
    /// failure: it ends and the next one starts. Any genesis node may report it, so liveness
    /// does not rest on the attempt's signers; a report applied before the deadline (the
    /// reporter's clock ahead of the log's) or for an attempt already replaced changes nothing.
    pub(super) fn report_attempt_expired(
        &mut self,
        node: NodeId,
        request_id: &str,
        attempt: &u32,
        at: At,
    ) -> ReportResult {
        let Some(req) = self.signing_request(request_id)? else {
            return Ok(None);
        };
        let Some(current) = req.current_attempt() else {
            return Ok(None);
        };
        if current.attempt != *attempt
            || current.deadline_ms == 0
            || at.now_ms < current.deadline_ms
        {
            return Ok(None);
        }
        let why = format!(
            "deadline passed at log time {} with no signature or failure report",
            current.deadline_ms
        );
        let text = format!("attempt {attempt} expired (reported by node {node})");
        self.end_attempt(req, why, &BTreeSet::new(), at, text)
    }

    /// Ends the current attempt of `req` with `failure` and starts the next one, or fails the
    /// request after [`MAX_SIGN_ATTEMPTS`].
    fn end_attempt(
        &mut self,
        mut req: Request,
        failure: String,
        avoid: &BTreeSet<NodeId>,
        at: At,
        audit_text: String,
    ) -> ReportResult {
        if let Some(a) = req.attempts.last_mut() {
            a.failure = Some(failure.clone());
        }
        if req.attempts.len() as u32 >= MAX_SIGN_ATTEMPTS {
            req.status = RequestStatus::Failed {
                reason: format!("signing failed after {MAX_SIGN_ATTEMPTS} attempts: {failure}"),
            };
        } else {
            self.start_attempt(&mut req, at, avoid);
        }
        req.updated_at_ms = at.now_ms;
        let org = req.org_id.clone();
        Ok(Some((Some(org), audit_text, self.put_request(req))))
    }

    /// Keeps the signing-slot and reservation indexes in step with a request written.
    pub(super) fn index_signing(&mut self, req: &Request) {
        self.index_reservation(req);
        let key = (
            super::requests::log_position(&req.request_id),
            req.request_id.clone(),
        );
        let signing = req.status == RequestStatus::Signing;
        if signing && req.queued {
            self.sign_queue.insert(key);
        } else {
            self.sign_queue.remove(&key);
        }
        let ecdsa = self
            .wallets
            .get(&req.wallet_id)
            .is_some_and(|w| w.key_type == KeyType::EcdsaSecp256k1);
        let interactive = ecdsa
            && req
                .current_attempt()
                .is_some_and(|a| a.presignatures.is_empty() && a.failure.is_none());
        if interactive {
            self.interactive_running.insert(req.request_id.clone());
        } else {
            self.interactive_running.remove(&req.request_id);
        }
    }

    /// Starts the next attempt of the longest-waiting queued requests while interactive signing
    /// slots are free (after every applied entry: deterministic on every node).
    pub(super) fn admit_queued(&mut self, at: At) {
        while self.interactive_running.len() < MAX_INTERACTIVE_SIGNING {
            let Some((_, id)) = self.sign_queue.first().cloned() else {
                return;
            };
            let waiting = self
                .requests
                .get(&id)
                .filter(|r| r.queued && r.status == RequestStatus::Signing);
            let Some(mut req) = waiting.cloned() else {
                self.sign_queue.pop_first();
                continue;
            };
            let avoid = BTreeSet::new();
            self.start_attempt(&mut req, at, &avoid);
            req.updated_at_ms = at.now_ms;
            let still_queued = req.queued;
            self.put_request(req);
            if still_queued {
                return;
            }
        }
    }

    /// The request, if it is signing.
    fn signing_request(&self, request_id: &str) -> Result<Option<Request>, String> {
        let req = self
            .requests
            .get(request_id)
            .ok_or_else(|| format!("no request '{request_id}'"))?;
        Ok((req.status == RequestStatus::Signing).then(|| req.clone()))
    }

    /// Current attempts whose deadline has passed by `now_ms` (the caller's clock): what a node
    /// reports with [`crate::Report::AttemptExpired`].
    pub fn expired_attempts(&self, now_ms: u64) -> Vec<(crate::types::RequestId, u32)> {
        self.requests
            .values()
            .filter_map(|r| r.current_attempt().map(|a| (r, a)))
            .filter(|(_, a)| a.deadline_ms != 0 && a.deadline_ms <= now_ms)
            .map(|(r, a)| (r.request_id.clone(), a.attempt))
            .collect()
    }
}
