//! TEST BUILDS ONLY (feature `forge-for-tests`): the forger treats every pending request as
//! approved and tries to sign it with no check, bypassing the engine (see [`crate::forge`]).

use super::Runner;
use crate::sessions::RunError;
use mpc_consensus::raft::NodeId;
use mpc_custody::ids;
use mpc_custody::state::SigningJob;

impl Runner {
    /// TEST BUILDS ONLY: treat every pending request as approved and try to sign it with no
    /// check (see [`crate::forge`]).
    pub(super) fn forge_scan(&self) {
        use mpc_custody::RequestStatus;
        let me = self.me();
        let jobs = self.inner.cluster.read_state(|s| {
            s.requests(None)
                .filter(|r| r.status == RequestStatus::Pending)
                .map(|r| {
                    (
                        r.request_id.clone(),
                        s.forged_signing_job_for_tests(&r.request_id, me),
                    )
                })
                .collect::<Vec<_>>()
        });
        for (rid, job) in jobs.unwrap_or_default() {
            let first = self
                .inner
                .forged
                .lock()
                .map(|mut f| f.insert(rid.clone()))
                .unwrap_or(false);
            if !first {
                continue;
            }
            let this = self.clone();
            tokio::spawn(async move {
                let job = match job {
                    Ok(j) => j,
                    Err(e) => {
                        crate::forge::record(&serde_json::json!({
                            "request_id": rid, "outcome": "no_job", "error": e,
                        }));
                        return;
                    }
                };
                let others: Vec<NodeId> =
                    job.signers.iter().copied().filter(|n| *n != me).collect();
                let key_type = job.key_type.as_str();
                let res = tokio::task::spawn_blocking(move || this.sign_forged(&job)).await;
                let outcome = match res {
                    Ok(Ok(sigs)) => serde_json::json!({
                        "request_id": rid, "key_type": key_type, "signers_asked": others,
                        "outcome": "signed", "heard_from": others,
                        "signatures": sigs.into_iter().map(hex::encode).collect::<Vec<_>>(),
                    }),
                    Ok(Err(e)) => serde_json::json!({
                        "request_id": rid, "key_type": key_type, "signers_asked": others,
                        "outcome": "failed", "error": e.reason,
                        "heard_from": others.iter().filter(|n| !e.unresponsive.contains(n)).collect::<Vec<_>>(),
                    }),
                    Err(e) => serde_json::json!({
                        "request_id": rid, "outcome": "task_failed", "error": e.to_string(),
                    }),
                };
                crate::forge::record(&outcome);
            });
        }
    }

    /// Runs a forged job's sessions as a real signer would (parties, keygen indices and message
    /// sessions derived the way the engine derives them).
    fn sign_forged(&self, job: &SigningJob) -> Result<Vec<Vec<u8>>, RunError> {
        let committee: Vec<NodeId> = self
            .inner
            .cluster
            .genesis()
            .nodes
            .iter()
            .map(|c| c.node_id)
            .collect();
        let parties = job
            .signers
            .iter()
            .map(|n| (*n, mpc_engine::party(*n)))
            .collect();
        let keygen: Vec<u16> = job
            .signers
            .iter()
            .filter_map(|n| committee.iter().position(|c| c == n))
            .filter_map(|i| u16::try_from(i).ok())
            .collect();
        let sessions: Vec<mpc_protocol::session::SessionId> = (0..job.messages.len())
            .map(|i| {
                ids::sign_message_session(
                    self.inner.cluster.cluster_id(),
                    &job.session_id,
                    u32::try_from(i).unwrap_or(u32::MAX),
                )
            })
            .collect();
        // Like a real signer, ECDSA waits until every node stored the committee's aux info.
        let waited = std::time::Instant::now();
        let aux_attempt = loop {
            let aux = self
                .inner
                .cluster
                .read_state(|s| s.aux().clone())
                .map_err(|e| RunError {
                    reason: e.to_string(),
                    unresponsive: vec![],
                    culprits: vec![],
                })?;
            if aux.complete || job.key_type != mpc_protocol::chain::KeyType::EcdsaSecp256k1 {
                break aux.attempt;
            }
            if waited.elapsed() > std::time::Duration::from_secs(180) {
                return Err(RunError {
                    reason: "aux info not complete".into(),
                    unresponsive: vec![],
                    culprits: vec![],
                });
            }
            std::thread::sleep(std::time::Duration::from_millis(250));
        };
        self.sign_blocking(job, &parties, &keygen, aux_attempt, &sessions)
    }
}
