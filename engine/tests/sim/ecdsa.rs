//! ECDSA as an **ideal functionality**: cggmp21's aux info, presigning and signing cost seconds
//! of CPU per run and borrow their RNG for their lifetime, so the simulator does not run them.
//! Instead a trusted party stands in for each session: it completes when every party of the
//! session joined it, is up (same incarnation) and can reach the others, after a random
//! latency; a party that waits longer than the idle timeout fails; a session with a Byzantine
//! party fails for everyone. What the engine and the driver do around a session is real: the
//! session ids, joined-once, aux info stored per attempt, presignatures kept in the share store
//! and taken out (once) before signing, the reports.
//!
//! The vault's ECDSA key is the fixed placeholder `G` (secret key 1, chain code zero), so the
//! ideal signer derives the wallet's secret with SLIP-10 and signs the digest: every ECDSA
//! signature the simulator produces verifies against the wallet key, as a real one would.

use super::{NodeId, Sim, SESSION_IDLE_MS};
use mpc_custody::state::SigningJob;
use mpc_custody::types::RequestId;
use mpc_engine::{Input, Job, SessionOutcome, SessionSpec};
use mpc_protocol::chain::keys;
use mpc_protocol::chain::{KeyType, ToSign};
use std::collections::{BTreeMap, BTreeSet};

/// What an ideal session makes.
#[derive(Clone)]
enum Kind {
    Aux {
        attempt: u32,
    },
    /// An ECDSA presignature (one key) or a FROST nonce block (a key per slot).
    Presign {
        store_keys: Vec<String>,
    },
    Sign {
        job: Box<SigningJob>,
    },
}

struct Party {
    incarnation: u32,
    job: Job,
    joined_ms: u64,
}

/// One ideal session.
pub struct IdealRun {
    kind: Kind,
    parties: BTreeSet<NodeId>,
    joined: BTreeMap<NodeId, Party>,
    ready_at: Option<u64>,
}

/// The ideal sessions in flight, by session id.
#[derive(Default)]
pub struct Ideal {
    runs: BTreeMap<[u8; 32], IdealRun>,
}

/// A presignature taken out of a node's share store for a signing attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Taken {
    pub node: NodeId,
    pub store_key: String,
    pub request_id: RequestId,
    pub attempt: u32,
}

impl Sim {
    /// Starts an ECDSA job (aux info, presigning, ECDSA signing) at node `i`; false if `spec`
    /// is not one.
    pub(super) fn start_ecdsa(&mut self, i: usize, job: Job, spec: &SessionSpec) -> bool {
        let me = self.nodes[i].id;
        let (sid, parties, kind) = match spec {
            SessionSpec::Aux {
                attempt,
                session_id,
                parties,
            } => {
                if self.nodes[i].store.aux.contains(attempt) {
                    self.done(i, job, SessionOutcome::AuxReady);
                    return true;
                }
                (session_id.0, parties, Kind::Aux { attempt: *attempt })
            }
            SessionSpec::Presign {
                session_id,
                parties,
                store_key,
                aux_attempt,
                ..
            } => {
                if self.nodes[i].store.presigs.contains(store_key) {
                    self.done(i, job, SessionOutcome::PresigStored);
                    return true;
                }
                if !self.nodes[i].store.aux.contains(aux_attempt) {
                    self.fail(i, job, "aux info of that attempt is not stored here");
                    return true;
                }
                let kind = Kind::Presign {
                    store_keys: vec![store_key.clone()],
                };
                (session_id.0, parties, kind)
            }
            SessionSpec::FrostNonces {
                wallet_id,
                first_seq,
                count,
                session_id,
                parties,
                ..
            } => {
                let store_keys: Vec<String> = (*first_seq..first_seq + count)
                    .map(|s| mpc_custody::presig_store_key(wallet_id, s))
                    .collect();
                if self.nodes[i].store.presigs.contains(&store_keys[0]) {
                    self.done(i, job, SessionOutcome::PresigStored);
                    return true;
                }
                (session_id.0, parties, Kind::Presign { store_keys })
            }
            SessionSpec::Sign { job: sj, .. }
                if sj.key_type != KeyType::EcdsaSecp256k1 && !sj.presignatures.is_empty() =>
            {
                // A FROST job from the wallet's nonce pool: every slot leaves the store before
                // the (real) signing session starts, as the node does.
                for (_, key) in &sj.presignatures {
                    if !self.nodes[i].store.presigs.remove(key) {
                        self.fail(i, job, "nonce slot is not in this node's store");
                        return true;
                    }
                    self.nodes[i].store.taken.push(Taken {
                        node: me,
                        store_key: key.clone(),
                        request_id: sj.request_id.clone(),
                        attempt: sj.attempt,
                    });
                }
                return false;
            }
            SessionSpec::Sign {
                job: sj,
                parties,
                aux_attempt,
                ..
            } if sj.key_type == KeyType::EcdsaSecp256k1 => {
                let complete = self.nodes[i].state.aux().complete;
                self.nodes[i].ecdsa_sign_starts.push(complete);
                if !self.nodes[i].store.joined.insert(sj.session_id.0) {
                    self.fail(i, job, "already joined this session (before a restart)");
                    return true;
                }
                self.nodes[i].store.join_log.push(sj.session_id.0);
                // Every presignature leaves the store before anything else happens.
                for (_, key) in &sj.presignatures {
                    if !self.nodes[i].store.presigs.remove(key) {
                        self.fail(i, job, "presignature is not in this node's store");
                        return true;
                    }
                    self.nodes[i].store.taken.push(Taken {
                        node: me,
                        store_key: key.clone(),
                        request_id: sj.request_id.clone(),
                        attempt: sj.attempt,
                    });
                }
                if sj.presignatures.is_empty() && !self.nodes[i].store.aux.contains(aux_attempt) {
                    self.fail(i, job, "aux info of that attempt is not stored here");
                    return true;
                }
                self.join(
                    i,
                    sj.session_id.0,
                    parties,
                    job,
                    Kind::Sign { job: sj.clone() },
                );
                return true;
            }
            _ => return false,
        };
        if !self.nodes[i].store.joined.insert(sid) {
            self.fail(i, job, "already joined this session (before a restart)");
            return true;
        }
        self.nodes[i].store.join_log.push(sid);
        self.join(i, sid, parties, job, kind);
        true
    }

    fn join(
        &mut self,
        i: usize,
        sid: [u8; 32],
        parties: &BTreeMap<NodeId, mpc_protocol::session::PartyIndex>,
        job: Job,
        kind: Kind,
    ) {
        let (me, incarnation, now) = (self.nodes[i].id, self.nodes[i].incarnation, self.now_ms);
        let run = self.ideal.runs.entry(sid).or_insert_with(|| IdealRun {
            kind,
            parties: parties.keys().copied().collect(),
            joined: BTreeMap::new(),
            ready_at: None,
        });
        run.joined.insert(
            me,
            Party {
                incarnation,
                job,
                joined_ms: now,
            },
        );
    }

    fn done(&mut self, i: usize, job: Job, outcome: SessionOutcome) {
        self.nodes[i]
            .inputs
            .push_back(Input::SessionDone { job, outcome });
    }

    fn fail(&mut self, i: usize, job: Job, reason: &str) {
        self.done(
            i,
            job,
            SessionOutcome::Failed {
                reason: reason.into(),
                unresponsive: vec![],
            },
        );
    }

    /// Whether `n`'s entry in a run is still its live session (up, same incarnation).
    fn live(&self, n: NodeId, p: &Party) -> bool {
        let node = &self.nodes[(n - 1) as usize];
        node.up && node.incarnation == p.incarnation
    }

    /// Completes or times out ideal sessions (once per simulated tick).
    pub(super) fn ideal_turn(&mut self) {
        let now = self.now_ms;
        let sids: Vec<[u8; 32]> = self.ideal.runs.keys().copied().collect();
        for sid in sids {
            let Some(run) = self.ideal.runs.get(&sid) else {
                continue;
            };
            let all_live = run
                .parties
                .iter()
                .all(|n| run.joined.get(n).is_some_and(|p| self.live(*n, p)));
            let connected = run
                .parties
                .iter()
                .all(|a| run.parties.iter().all(|b| !self.cut(*a, *b)));
            if all_live && connected {
                let at = match run.ready_at {
                    Some(at) => at,
                    None => {
                        let at = now + 100 + self.rand_below(500);
                        if let Some(run) = self.ideal.runs.get_mut(&sid) {
                            run.ready_at = Some(at);
                        }
                        at
                    }
                };
                if at <= now {
                    self.complete(sid);
                }
                continue;
            }
            self.time_out(sid);
        }
    }

    /// Every party gets its result (or, with a Byzantine party, a failure).
    fn complete(&mut self, sid: [u8; 32]) {
        let Some(run) = self.ideal.runs.remove(&sid) else {
            return;
        };
        let byzantine = self.faults.byzantine.filter(|b| run.parties.contains(b));
        let signatures = match (&run.kind, byzantine) {
            (Kind::Sign { job }, None) => Some(ideal_signatures(job)),
            _ => None,
        };
        for (n, party) in run.joined {
            let i = (n - 1) as usize;
            let outcome = match (&run.kind, byzantine) {
                (_, Some(b)) => SessionOutcome::Failed {
                    reason: format!("bad message from node {b}"),
                    unresponsive: vec![],
                },
                (Kind::Aux { attempt }, None) => {
                    self.nodes[i].store.aux.insert(*attempt);
                    SessionOutcome::AuxReady
                }
                (Kind::Presign { store_keys }, None) => {
                    for k in store_keys {
                        self.nodes[i].store.presigs.insert(k.clone());
                    }
                    SessionOutcome::PresigStored
                }
                (Kind::Sign { .. }, None) => {
                    SessionOutcome::Signed(signatures.clone().unwrap_or_default())
                }
            };
            self.done(i, party.job, outcome);
        }
    }

    /// Parties that waited longer than the idle timeout (or are gone) leave the session.
    fn time_out(&mut self, sid: [u8; 32]) {
        let now = self.now_ms;
        let Some(run) = self.ideal.runs.get(&sid) else {
            return;
        };
        let mut leaving = Vec::new();
        for (n, p) in &run.joined {
            if !self.live(*n, p) {
                leaving.push((*n, None));
            } else if p.joined_ms + SESSION_IDLE_MS <= now {
                let silent: Vec<NodeId> = run
                    .parties
                    .iter()
                    .copied()
                    .filter(|m| !run.joined.get(m).is_some_and(|q| self.live(*m, q)))
                    .collect();
                leaving.push((*n, Some(silent)));
            }
        }
        for (n, failed) in leaving {
            let Some(run) = self.ideal.runs.get_mut(&sid) else {
                break;
            };
            let Some(p) = run.joined.remove(&n) else {
                continue;
            };
            if let Some(unresponsive) = failed {
                self.done(
                    (n - 1) as usize,
                    p.job,
                    SessionOutcome::Failed {
                        reason: "session timed out".into(),
                        unresponsive,
                    },
                );
            }
        }
        if self
            .ideal
            .runs
            .get(&sid)
            .is_some_and(|r| r.joined.is_empty())
        {
            self.ideal.runs.remove(&sid);
        }
    }
}

/// The secret key of the placeholder vault key (`G`: secret 1, chain code zero) at the
/// wallet's SLIP-10 path, and the job's digests signed with it (low-S `r || s`, hex).
fn ideal_signatures(job: &SigningJob) -> Vec<String> {
    use cggmp21::generic_ec::{Scalar, SecretScalar};
    use cggmp21::hd_wallet::{ExtendedKeyPair, ExtendedSecretKey, HdWallet, Slip10};
    use k256::ecdsa::signature::hazmat::PrehashSigner;
    type E = cggmp21::supported_curves::Secp256k1;
    let path = keys::ecdsa_path(job.chain, job.network, job.index).unwrap();
    let mut one = Scalar::<E>::one();
    let root: ExtendedKeyPair<E> = ExtendedSecretKey {
        secret_key: SecretScalar::new(&mut one),
        chain_code: [0u8; 32],
    }
    .into();
    // Non-hardened indices (below 2^31), as `keys::ecdsa_child` derives the public key.
    assert!(path.iter().all(|i| *i < 1 << 31));
    let child = <Slip10 as HdWallet<E>>::derive_child_key_pair_with_path(&root, path);
    let secret = child.secret_key().secret_key.as_ref().to_be_bytes();
    let signer = k256::ecdsa::SigningKey::from_slice(&secret).unwrap();
    job.messages
        .iter()
        .map(|m| match m {
            ToSign::Ecdsa(d) => {
                let sig: k256::ecdsa::Signature = signer.sign_prehash(&d.bytes()).unwrap();
                let sig = sig.normalize_s().unwrap_or(sig);
                hex::encode(sig.to_bytes())
            }
            _ => String::new(),
        })
        .collect()
}
