//! TEST BUILDS ONLY (feature `forge-for-tests`): what a faulty or malicious node would derive
//! or install, used by the `mpc-node-forger` test binary.

use super::signer_check::log_index_of;
use super::{CustodyState, SigningJob};
use crate::ids::{sign_attempt_session, NodeId};
use crate::{book_chain, AddressBookEntry, Request, RequestStatus, SignAttempt};

impl CustodyState {
    /// The job a faulty or malicious node would derive after applying a forged `approved`
    /// state for a request — attempt 1 with this node and the next nodes as signers, the
    /// session id computed as a real attempt's would be — **without any of the checks** of [`CustodyState::signing_job`]. Used by the
    /// `mpc-node-forger` test binary to show that honest nodes never join such a session.
    pub fn forged_signing_job_for_tests(
        &self,
        request_id: &str,
        me: NodeId,
    ) -> Result<SigningJob, String> {
        let req = self.requests.get(request_id).ok_or("no such request")?;
        let attempt = self.forged_attempt_for_tests(req, me);
        self.job_for(req, &attempt).map(|(job, _, _)| job)
    }

    /// TEST BUILDS ONLY: attempt 1 of `req` with `me` and the next nodes as signers, as a real
    /// first attempt's session id would be computed.
    fn forged_attempt_for_tests(&self, req: &Request, me: NodeId) -> SignAttempt {
        let mut signers: Vec<NodeId> = std::iter::once(me)
            .chain(self.members().into_iter().filter(|n| *n != me))
            .take(usize::from(self.genesis.threshold))
            .collect();
        signers.sort_unstable();
        let log_index = log_index_of(&req.request_id);
        let sid = sign_attempt_session(&self.genesis.cluster_id, &req.request_id, 1, log_index);
        SignAttempt {
            attempt: 1,
            signers,
            session_id: hex::encode(sid.0),
            log_index,
            failure: None,
            presignatures: Vec::new(),
            deadline_ms: 0,
        }
    }

    /// TEST BUILDS ONLY: what a malicious node would put in a forged snapshot — every pending
    /// request `signing` (reserved at `now_ms`) with attempt 1 naming `me` and the next node,
    /// and every vault's policy set to auto-approve any amount. Returns how many requests
    /// were forged.
    pub fn forge_approvals_for_tests(&mut self, me: NodeId, now_ms: u64) -> usize {
        let pending: Vec<crate::types::RequestId> = self
            .requests
            .values()
            .filter(|r| r.status == RequestStatus::Pending)
            .map(|r| r.request_id.clone())
            .collect();
        for id in &pending {
            let Some(mut req) = self.requests.get(id).cloned() else {
                continue;
            };
            // An auto-approve rule for the request's asset, any amount; whitelisted targets.
            let mut policy = (*req.policy).clone();
            policy.rules.auto_approve = vec![crate::AutoApprove {
                asset: req.intent.asset.clone(),
                max_amount: req.intent.amount,
            }];
            policy.rules.limits.clear();
            policy.hash = policy.rules.hash();
            let policy = std::sync::Arc::new(policy);
            self.policies.insert(req.vault_id.clone(), policy.clone());
            for t in &req.intent.transfers {
                let key = super::address_book::book_key(
                    &req.org_id,
                    req.intent.chain,
                    req.intent.network,
                    &t.to,
                );
                let entry = AddressBookEntry {
                    org_id: req.org_id.clone(),
                    chain: book_chain(req.intent.chain),
                    network: req.intent.network,
                    address: t.to.clone(),
                    label: "forged".into(),
                    added_at_ms: now_ms,
                    adoption: None,
                };
                self.address_book.insert(key, entry);
            }
            let attempt = self.forged_attempt_for_tests(&req, me);
            req.policy = policy;
            req.attempts = vec![attempt];
            req.status = RequestStatus::Signing;
            req.auto_approved = true;
            req.reserved_at_ms = Some(now_ms);
            self.index_reservation(&req);
            self.requests.insert(id.clone(), req);
        }
        pending.len()
    }
}
