//! Pooled FROST attempts sign together (decision 0039): the first attempts that one log entry
//! fixed for the same signers and key type — each already checked on its own by this node's
//! engine (invariant 2) — run as one session, one message per signer carrying a share per
//! message. Every signer derives the same batch from the log (entry index, key type, signers);
//! the items inside are named by their per-message session ids, so a signer that left an
//! attempt out (its own check refused it) only fails that attempt. All of the batch's nonce
//! slots leave the share store in one flushed write before any share is computed (invariant 4).

use super::{fresh_rng, Runner, SIGN_TIMEOUT};
use crate::sessions::RunError;
use crate::share_store::RecordKind;
use frost_core::Ciphersuite;
use mpc_consensus::raft::NodeId;
use mpc_custody::ids;
use mpc_custody::state::SigningJob;
use mpc_engine::{Input, Job, SessionOutcome, SessionSpec};
use mpc_protocol::chain::KeyType;
use mpc_protocol::frost::sign_batch::{BatchItem, FrostSignBatch, MAX_BATCH_ITEMS};
use mpc_protocol::frost::{Ed25519, Secp256k1Tr};
use mpc_protocol::session::{PartyIndex, SessionId};
use std::collections::BTreeMap;
use std::sync::atomic::Ordering;
use tokio::sync::mpsc;

/// What makes pooled attempts one batch: the entry that fixed them, their key type, their
/// signers (sorted).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub(super) struct BatchKey {
    log_index: u64,
    key_type: KeyType,
    signers: Vec<NodeId>,
}

/// Signing starts (job and spec) as the engine emitted them.
pub(super) type Starts = Vec<(Job, SessionSpec)>;

/// One engine step's pooled FROST signing starts, grouped.
#[derive(Default)]
pub(super) struct Batches(BTreeMap<BatchKey, Starts>);

impl Batches {
    /// Keeps a pooled FROST signing start for its batch; hands anything else back.
    pub(super) fn add(&mut self, job: Job, spec: SessionSpec) -> Option<(Job, SessionSpec)> {
        let key = match &spec {
            SessionSpec::Sign { job: sj, .. }
                if sj.key_type != KeyType::EcdsaSecp256k1 && !sj.presignatures.is_empty() =>
            {
                BatchKey {
                    log_index: sj.log_index,
                    key_type: sj.key_type,
                    signers: sj.signers.clone(),
                }
            }
            _ => return Some((job, spec)),
        };
        self.0.entry(key).or_default().push((job, spec));
        None
    }

    /// The batches: each group in request order, cut greedily into parts of at most
    /// [`MAX_BATCH_ITEMS`] messages (a `users` entry holds up to 64 requests, a Bitcoin one up
    /// to 16 inputs). Both signers cut the same group the same way.
    pub(super) fn take(self) -> Vec<(BatchKey, u32, Starts)> {
        let mut out = Vec::new();
        for (key, mut jobs) in self.0 {
            jobs.sort_by(|(a, _), (b, _)| a.cmp(b));
            let mut part: Starts = Vec::new();
            let mut messages = 0;
            let mut index = 0u32;
            for (job, spec) in jobs {
                let n = match &spec {
                    SessionSpec::Sign { job, .. } => job.messages.len(),
                    _ => 1,
                };
                if !part.is_empty() && messages + n > MAX_BATCH_ITEMS {
                    out.push((key.clone(), index, std::mem::take(&mut part)));
                    index += 1;
                    messages = 0;
                }
                messages += n;
                part.push((job, spec));
            }
            if !part.is_empty() {
                out.push((key, index, part));
            }
        }
        out
    }
}

/// One job of a batch, unpacked.
struct Member<'a> {
    job: &'a SigningJob,
    message_sessions: &'a [SessionId],
}

impl Runner {
    /// Runs one batch on a blocking thread; each job's outcome goes back to the engine.
    pub(super) fn start_batch(
        &self,
        key: BatchKey,
        part: u32,
        jobs: Starts,
        tx: mpsc::Sender<Input>,
    ) {
        self.inner
            .signing_sessions
            .fetch_add(jobs.len() as u64, Ordering::Relaxed);
        let sid = ids::sign_batch_session(
            self.inner.cluster.cluster_id(),
            key.log_index,
            key.key_type.as_str(),
            &key.signers,
            part,
        );
        // The engine starts each attempt once; a second group with this id could only come
        // from an entry's attempts reaching the engine in two steps. It is refused (its
        // attempts fail and are retried interactively) rather than run beside the first.
        let fresh = self
            .inner
            .running_batches
            .lock()
            .map(|mut r| r.insert(sid.0))
            .unwrap_or(false);
        let this = self.clone();
        tokio::spawn(async move {
            let outcomes = if fresh {
                let run = this.clone();
                let specs: Vec<SessionSpec> = jobs.iter().map(|(_, s)| s.clone()).collect();
                let res =
                    tokio::task::spawn_blocking(move || run.sign_batch_blocking(sid, &specs)).await;
                if let Ok(mut r) = this.inner.running_batches.lock() {
                    r.remove(&sid.0);
                }
                res.unwrap_or_else(|e| {
                    vec![failed(format!("session task: {e}"), vec![]); jobs.len()]
                })
            } else {
                vec![
                    failed(
                        "this entry's batch session is already running".into(),
                        vec![]
                    );
                    jobs.len()
                ]
            };
            for ((job, _), outcome) in jobs.into_iter().zip(outcomes) {
                let _ = tx.send(Input::SessionDone { job, outcome }).await;
            }
        });
    }

    /// Takes every job's slots (one flushed write), builds the items and signs them in one
    /// session; one outcome per job, in order.
    fn sign_batch_blocking(&self, sid: SessionId, specs: &[SessionSpec]) -> Vec<SessionOutcome> {
        let started = std::time::Instant::now();
        let mut outcomes: Vec<Option<SessionOutcome>> = vec![None; specs.len()];
        let mut members = Vec::with_capacity(specs.len());
        let mut parties = None;
        for (i, spec) in specs.iter().enumerate() {
            match spec {
                SessionSpec::Sign {
                    job,
                    parties: p,
                    message_sessions,
                    ..
                } if job.messages.len() == message_sessions.len()
                    && job.presignatures.len() == job.messages.len() =>
                {
                    parties.get_or_insert(p);
                    members.push((
                        i,
                        Member {
                            job: job.as_ref(),
                            message_sessions,
                        },
                    ));
                }
                _ => outcomes[i] = Some(failed("not a pooled FROST job".into(), vec![])),
            }
        }
        let messages: usize = members.iter().map(|(_, m)| m.job.messages.len()).sum();
        let key_type = members.first().map(|(_, m)| m.job.key_type);
        match (parties, key_type) {
            (Some(_), _) if messages > MAX_BATCH_ITEMS => {
                let reason = format!("{messages} messages exceed a batch's {MAX_BATCH_ITEMS}");
                for (i, _) in &members {
                    outcomes[*i] = Some(failed(reason.clone(), vec![]));
                }
            }
            (Some(parties), Some(KeyType::Ed25519)) => {
                self.run_batch::<Ed25519>(sid, parties, &members, &mut outcomes)
            }
            (Some(parties), Some(KeyType::Secp256k1Tr)) => {
                self.run_batch::<Secp256k1Tr>(sid, parties, &members, &mut outcomes)
            }
            _ => {}
        }
        let took_ms = started.elapsed().as_millis() as u64;
        specs
            .iter()
            .zip(outcomes)
            .map(|(spec, outcome)| {
                let outcome =
                    outcome.unwrap_or_else(|| failed("batch ended without it".into(), vec![]));
                if let SessionSpec::Sign { job, .. } = spec {
                    let (request_id, attempt) = (job.request_id.as_str(), job.attempt);
                    match &outcome {
                        SessionOutcome::Failed { reason, .. } => tracing::warn!(
                            request_id,
                            attempt,
                            took_ms,
                            batch = specs.len(),
                            reason = %reason,
                            "signing attempt failed"
                        ),
                        _ => tracing::debug!(
                            request_id,
                            attempt,
                            took_ms,
                            batch = specs.len(),
                            "signed"
                        ),
                    }
                }
                outcome
            })
            .collect()
    }

    fn run_batch<C: Ciphersuite>(
        &self,
        sid: SessionId,
        parties: &BTreeMap<NodeId, PartyIndex>,
        members: &[(usize, Member<'_>)],
        outcomes: &mut [Option<SessionOutcome>],
    ) {
        let Some(me) = parties.get(&self.me()).copied() else {
            for (i, _) in members {
                outcomes[*i] = Some(failed("not a signer".into(), vec![]));
            }
            return;
        };
        // Every slot of the batch leaves the share store, flushed, before any share exists.
        let keys: Vec<&str> = members
            .iter()
            .flat_map(|(_, m)| m.job.presignatures.iter().map(|(_, k)| k.as_str()))
            .collect();
        let mut taken = match self.inner.shares.take_many(&keys, RecordKind::Nonces) {
            Ok(t) => t.into_iter(),
            Err(e) => {
                for (i, _) in members {
                    outcomes[*i] = Some(failed(format!("taking nonce slots: {e}"), vec![]));
                }
                return;
            }
        };
        // Each job's items, or why it cannot sign (its slots are gone either way).
        let mut items: Vec<BatchItem<C>> = Vec::new();
        let mut spans = Vec::new();
        for (i, m) in members {
            let slots: Result<Vec<_>, String> = m
                .job
                .presignatures
                .iter()
                .map(|(seq, _)| match taken.next() {
                    Some(Ok(Some(slot))) => Ok(slot),
                    Some(Ok(None)) => Err(format!(
                        "nonce slot {seq} is not in this node's store (used or never made)"
                    )),
                    Some(Err(e)) => Err(format!("nonce slot {seq}: {e}")),
                    None => Err(format!("nonce slot {seq} was not taken")),
                })
                .collect();
            match slots.and_then(|s| self.pooled_items::<C>(m.job, s, m.message_sessions, parties))
            {
                Ok(mine) => {
                    spans.push((*i, items.len(), mine.len()));
                    items.extend(mine);
                }
                Err(reason) => outcomes[*i] = Some(failed(reason, vec![])),
            }
        }
        if items.is_empty() {
            return;
        }
        let ps: Vec<PartyIndex> = parties.values().copied().collect();
        let signed = FrostSignBatch::<C>::new(sid, me, &ps, items)
            .map_err(|e| RunError {
                reason: e.to_string(),
                unresponsive: vec![],
                culprits: vec![],
            })
            .and_then(|mut session| {
                let mut rng = fresh_rng().map_err(|reason| RunError {
                    reason,
                    unresponsive: vec![],
                    culprits: vec![],
                })?;
                self.inner.hub.run_while_connected(
                    sid.0,
                    parties,
                    &mut session,
                    &mut rng,
                    SIGN_TIMEOUT,
                )
            });
        let results = match signed {
            Ok(r) => r,
            Err(e) => {
                for (i, _, _) in spans {
                    outcomes[i] = Some(failed(e.reason.clone(), e.unresponsive.clone()));
                }
                return;
            }
        };
        let node_of: BTreeMap<PartyIndex, NodeId> = parties.iter().map(|(n, p)| (*p, *n)).collect();
        for (i, at, len) in spans {
            let mut sigs = Vec::with_capacity(len);
            let mut failure = None;
            for r in results.iter().skip(at).take(len) {
                match r {
                    Ok(sig) => match sig.serialize() {
                        Ok(bytes) => sigs.push(hex::encode(bytes)),
                        Err(e) => failure = Some(e.to_string()),
                    },
                    Err(f) => {
                        let named: Vec<NodeId> = f
                            .culprits
                            .iter()
                            .filter_map(|p| node_of.get(p).copied())
                            .collect();
                        failure = Some(if named.is_empty() {
                            f.reason.clone()
                        } else {
                            format!("{} (invalid share from node {named:?})", f.reason)
                        });
                    }
                }
                if failure.is_some() {
                    break;
                }
            }
            outcomes[i] = Some(match failure {
                None if sigs.len() == len => SessionOutcome::Signed(sigs),
                None => failed("the batch returned too few signatures".into(), vec![]),
                Some(reason) => failed(reason, vec![]),
            });
        }
    }
}

fn failed(reason: String, unresponsive: Vec<NodeId>) -> SessionOutcome {
    SessionOutcome::Failed {
        reason,
        unresponsive,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use mpc_custody::ids::SessionId;
    use mpc_protocol::chain::keys::VaultPublicKeys;
    use mpc_protocol::chain::{Chain, Network, ToSign, WalletKey};

    /// A signing start for `request` fixed at `log_index`, with `messages` messages.
    fn start(
        request: &str,
        log_index: u64,
        key_type: KeyType,
        pooled: bool,
        messages: usize,
    ) -> (Job, SessionSpec) {
        let signers = vec![1, 3];
        let job = SigningJob {
            request_id: request.into(),
            attempt: 1,
            session_id: SessionId([7; 32]),
            log_index,
            signers: signers.clone(),
            vault_id: "v".into(),
            key_type,
            key_epoch: 0,
            share_generation: 1,
            committee: vec![1, 2, 3],
            chain: Chain::Solana,
            network: Network::Testnet,
            index: 0,
            vault_keys: VaultPublicKeys {
                ecdsa_public_key: String::new(),
                ecdsa_chain_code: String::new(),
                ed25519_public_key: String::new(),
                secp256k1_tr_public_key: String::new(),
            },
            wallet: WalletKey {
                chain: Chain::Solana,
                network: Network::Testnet,
                public_key: vec![],
                address: String::new(),
            },
            messages: vec![ToSign::Ed25519(vec![1]); messages],
            presignatures: if pooled {
                (0..messages as u64).map(|s| (s, format!("k{s}"))).collect()
            } else {
                vec![]
            },
        };
        (
            Job::Sign {
                request_id: request.into(),
                attempt: 1,
            },
            SessionSpec::Sign {
                parties: signers
                    .iter()
                    .map(|n| (*n, mpc_engine::party(*n)))
                    .collect(),
                keygen_indices: vec![0, 2],
                aux_attempt: 0,
                message_sessions: (0..messages as u8).map(|i| SessionId([i; 32])).collect(),
                job: Box::new(job),
            },
        )
    }

    fn add(b: &mut Batches, (job, spec): (Job, SessionSpec)) -> Option<(Job, SessionSpec)> {
        b.add(job, spec)
    }

    /// Pooled FROST starts group by entry and key type, in request order whatever order the
    /// engine emitted them in; interactive and ECDSA starts are handed back; a group whose
    /// messages exceed one batch is cut the same way on every signer.
    #[test]
    fn pooled_starts_group_by_entry_and_cut_at_the_batch_bound() {
        let mut b = Batches::default();
        assert!(add(&mut b, start("req-9-2", 9, KeyType::Ed25519, true, 1)).is_none());
        assert!(add(&mut b, start("req-9-1", 9, KeyType::Ed25519, true, 1)).is_none());
        assert!(add(&mut b, start("req-9-3", 9, KeyType::Secp256k1Tr, true, 1)).is_none());
        assert!(add(&mut b, start("req-10", 10, KeyType::Ed25519, true, 1)).is_none());
        assert!(add(&mut b, start("req-9-4", 9, KeyType::Ed25519, false, 1)).is_some());
        assert!(add(
            &mut b,
            start("req-9-5", 9, KeyType::EcdsaSecp256k1, true, 1)
        )
        .is_some());
        let batches = b.take();
        let names: Vec<(u64, KeyType, u32, Vec<String>)> = batches
            .iter()
            .map(|(k, part, jobs)| {
                let ids = jobs
                    .iter()
                    .map(|(j, _)| match j {
                        Job::Sign { request_id, .. } => request_id.as_str().to_string(),
                        _ => String::new(),
                    })
                    .collect();
                (k.log_index, k.key_type, *part, ids)
            })
            .collect();
        assert_eq!(
            names,
            vec![
                (
                    9,
                    KeyType::Ed25519,
                    0,
                    vec!["req-9-1".into(), "req-9-2".into()]
                ),
                (9, KeyType::Secp256k1Tr, 0, vec!["req-9-3".into()]),
                (10, KeyType::Ed25519, 0, vec!["req-10".into()]),
            ]
        );
        // 20 Bitcoin requests of 16 inputs: 320 messages, cut after 16 requests (256).
        let mut b = Batches::default();
        for i in (0..20).rev() {
            add(
                &mut b,
                start(&format!("req-5-{i:02}"), 5, KeyType::Secp256k1Tr, true, 16),
            );
        }
        let parts: Vec<(u32, usize, String)> = b
            .take()
            .into_iter()
            .map(|(_, part, jobs)| {
                let first = match &jobs[0].0 {
                    Job::Sign { request_id, .. } => request_id.as_str().to_string(),
                    _ => String::new(),
                };
                (part, jobs.len(), first)
            })
            .collect();
        assert_eq!(
            parts,
            vec![(0, 16, "req-5-00".into()), (1, 4, "req-5-16".into())]
        );
    }
}
