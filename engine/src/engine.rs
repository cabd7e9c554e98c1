//! [`Engine`]: one small state machine per job kind, driven by [`Engine::step`].

use crate::delivery::Deliveries;
use crate::io::{Action, Changed, DeliveryOutcome, Input, Job, SessionSpec};
use mpc_custody::state::{CustodyState, RecordKey, SigningJob};
use mpc_custody::types::{RequestId, VaultId, WalletId};
use mpc_custody::{ids, presig_store_key, NodeId, Report, RequestStatus, VaultStatus};
use mpc_protocol::chain::KeyType;
use mpc_protocol::session::PartyIndex;
use std::collections::{BTreeMap, BTreeSet};

mod outcomes;
mod pools;
mod refresh;

/// How long after a failed aux-info attempt the next one starts, ms (doubled per attempt, up to
/// [`AUX_RETRY_MAX_MS`]).
pub const AUX_RETRY_MS: u64 = 2_000;
/// Longest pause before an aux-info attempt, ms.
pub const AUX_RETRY_MAX_MS: u64 = 300_000;
/// How often a node re-sends its report that an attempt expired while the attempt stays current
/// (the first may have been applied before the log's clock reached the deadline), ms.
pub const EXPIRY_RESEND_MS: u64 = 10_000;
/// How often a node re-sends `refresh_due` while the schedule says a refresh is due and none
/// has started (the log decides; duplicates change nothing).
pub const REFRESH_DUE_RESEND_MS: u64 = 60_000;
/// How long a signer other than the attempt's first waits before proposing its signatures,
/// ms: every signer holds the whole signature, the first signer's report is normally applied
/// by then, and the others' are then dropped unproposed (one Raft entry per signature instead
/// of one per signer). Only if the first signer is down or slow do the others' reports go in.
pub const BACKUP_SIGNATURE_REPORT_MS: u64 = 2_000;

/// The committee's ECDSA aux info, as far as this node knows (attempts are in the log:
/// [`mpc_custody::AuxRecord`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuxState {
    /// Waiting for the network to form.
    Waiting,
    /// Running this attempt.
    Running(u32),
    /// This attempt starts at this time (ms): a previous one failed.
    Scheduled(u32, u64),
    /// This node stored this attempt; waiting for the other nodes' reports.
    Stored(u32),
    /// Every node stored this attempt: presigning and ECDSA signing may start.
    Ready(u32),
}

/// Pause before aux-info attempt `attempt` (> 0), ms.
pub fn aux_retry_ms(attempt: u32) -> u64 {
    let doublings = attempt.saturating_sub(1).min(16);
    AUX_RETRY_MS
        .saturating_mul(1u64 << doublings)
        .min(AUX_RETRY_MAX_MS)
}

/// An attempt of a request in `signing` this node watches for its deadline.
#[derive(Debug, Clone, Copy)]
struct Watched {
    deadline_ms: u64,
    last_report_ms: Option<u64>,
}

/// The engine of one node. Memory is bounded by the work the log currently asks of this node:
/// a job is forgotten once the log shows it done or moot, and a report once it is applied or
/// moot.
#[derive(Debug)]
pub struct Engine {
    me: NodeId,
    cluster_id: String,
    committee: Vec<NodeId>,
    aux: AuxState,
    /// The network has formed (a leader known, every node connected): aux info may run.
    formed: bool,
    /// Requests whose ECDSA signing waits for aux info to be complete.
    held_for_aux: BTreeSet<RequestId>,
    /// Jobs started (session running, or its report in delivery) that the log still wants.
    jobs: BTreeSet<Job>,
    /// Wallets whose presignature pool this node signs for.
    my_pools: BTreeSet<WalletId>,
    /// Interactive ECDSA signing jobs of this node now running. While there is one, this node
    /// starts no presigning: the waiting request gets the cores, the pool can wait.
    interactive: BTreeSet<Job>,
    /// Current attempts of requests in `signing`, by (request, attempt).
    watched: BTreeMap<(RequestId, u32), Watched>,
    /// Open requests with a time-to-live, watched for it (`deadline_ms` = `expires_at_ms`).
    expiring: BTreeMap<RequestId, Watched>,
    deliveries: Deliveries,
    /// Vaults of this node's committee with a refresh schedule: when the next `refresh_due`
    /// report is to be sent (this node's clock; the log's time decides).
    refresh_due: BTreeMap<VaultId, u64>,
    /// The last refresh (its start index) after which this node tidied each vault's shares.
    tidied: BTreeMap<VaultId, u64>,
}

/// Party index of a node (its node id).
pub fn party(node: NodeId) -> PartyIndex {
    PartyIndex(u16::try_from(node).unwrap_or(u16::MAX))
}

fn parties(nodes: &[NodeId]) -> BTreeMap<NodeId, PartyIndex> {
    nodes.iter().map(|n| (*n, party(*n))).collect()
}

/// Keygen-time (0-based) indices of `signers` in `committee`.
fn keygen_indices(signers: &[NodeId], committee: &[NodeId]) -> Option<Vec<u16>> {
    signers
        .iter()
        .map(|n| {
            committee
                .iter()
                .position(|c| c == n)
                .and_then(|i| u16::try_from(i).ok())
        })
        .collect()
}

impl Engine {
    /// An engine for node `me` of the network described by `state`'s genesis.
    pub fn new(me: NodeId, state: &CustodyState) -> Self {
        let g = state.genesis();
        Engine {
            me,
            cluster_id: g.cluster_id.clone(),
            committee: g.nodes.keys().copied().collect(),
            aux: AuxState::Waiting,
            formed: false,
            held_for_aux: BTreeSet::new(),
            jobs: BTreeSet::new(),
            my_pools: BTreeSet::new(),
            interactive: BTreeSet::new(),
            watched: BTreeMap::new(),
            expiring: BTreeMap::new(),
            deliveries: Deliveries::default(),
            refresh_due: BTreeMap::new(),
            tidied: BTreeMap::new(),
        }
    }

    /// The aux-info state.
    pub fn aux(&self) -> AuxState {
        self.aux
    }

    /// Jobs started that the log still wants.
    pub fn jobs(&self) -> &BTreeSet<Job> {
        &self.jobs
    }

    /// Reports not yet applied.
    pub fn pending_reports(&self) -> usize {
        self.deliveries.len()
    }

    /// Takes one input at time `now_ms` (the driver's clock) with the node's applied `state`,
    /// and returns the actions to execute in order. The last action is a [`Action::WakeAt`]
    /// whenever a timer is pending.
    pub fn step(&mut self, now_ms: u64, state: &CustodyState, input: Input) -> Vec<Action> {
        let mut out = Vec::new();
        // The network's nodes now (a removal shrinks it): the committee of the aux info.
        self.committee = state.members();
        match input {
            Input::Applied(Changed::All) => self.resync(now_ms, state, &mut out),
            Input::Applied(Changed::Keys(keys)) => {
                for key in keys {
                    self.changed(now_ms, state, &key, &mut out);
                }
            }
            Input::NetworkFormed => {
                self.formed = true;
                self.aux_changed(now_ms, state, &mut out);
            }
            Input::SessionDone { job, outcome } => {
                self.session_done(now_ms, state, job, outcome, &mut out)
            }
            Input::Delivered { id, outcome } => match outcome {
                DeliveryOutcome::Applied => self.deliveries.applied(id),
                DeliveryOutcome::NotCommitted(_) => {
                    self.deliveries.not_committed(id, now_ms);
                }
            },
            Input::Tick => {}
        }
        self.timers(now_ms, state, &mut out);
        out
    }

    /// Everything due at `now_ms`: aux retry, expired attempts, report retries; then the next
    /// wake-up.
    fn timers(&mut self, now_ms: u64, state: &CustodyState, out: &mut Vec<Action>) {
        if let AuxState::Scheduled(attempt, t) = self.aux {
            if t <= now_ms {
                self.start_aux(state, attempt, out);
            }
        }
        let mut expired = Vec::new();
        for ((rid, attempt), w) in self.watched.iter_mut() {
            let resend_due = w
                .last_report_ms
                .is_none_or(|t| now_ms.saturating_sub(t) >= EXPIRY_RESEND_MS);
            if w.deadline_ms <= now_ms && resend_due && !self.deliveries.has_expiry(rid, *attempt) {
                w.last_report_ms = Some(now_ms);
                expired.push(Report::AttemptExpired {
                    request_id: rid.clone(),
                    attempt: *attempt,
                });
            }
        }
        for (rid, w) in self.expiring.iter_mut() {
            let resend_due = w
                .last_report_ms
                .is_none_or(|t| now_ms.saturating_sub(t) >= EXPIRY_RESEND_MS);
            if w.deadline_ms <= now_ms && resend_due {
                w.last_report_ms = Some(now_ms);
                expired.push(Report::RequestExpired {
                    request_id: rid.clone(),
                });
            }
        }
        for (vault_id, at) in self.refresh_due.iter_mut() {
            if *at > now_ms {
                continue;
            }
            *at = now_ms.saturating_add(REFRESH_DUE_RESEND_MS);
            if let Some(v) = state.vault(vault_id) {
                expired.push(Report::RefreshDue {
                    vault_id: vault_id.clone(),
                    epoch: v.epoch,
                });
            }
        }
        for report in expired {
            self.propose(report, out);
        }
        for (id, report) in self.deliveries.due(now_ms, self.me, state) {
            out.push(Action::Propose { id, report });
        }
        if let Some(at) = self.next_wake_ms() {
            out.push(Action::WakeAt(at));
        }
    }

    fn next_wake_ms(&self) -> Option<u64> {
        let aux = match self.aux {
            AuxState::Scheduled(_, t) => Some(t),
            _ => None,
        };
        let expiry = self
            .watched
            .values()
            .chain(self.expiring.values())
            .map(|w| match w.last_report_ms {
                Some(t) => w.deadline_ms.max(t.saturating_add(EXPIRY_RESEND_MS)),
                None => w.deadline_ms,
            })
            .min();
        let refresh = self.refresh_due.values().min().copied();
        [aux, expiry, refresh, self.deliveries.next_wake_ms()]
            .into_iter()
            .flatten()
            .min()
    }

    fn propose(&mut self, report: Report, out: &mut Vec<Action>) {
        let id = self.deliveries.start(report.clone());
        out.push(Action::Propose { id, report });
    }

    /// Looks at every record once (start-up, or a change feed that overflowed).
    fn resync(&mut self, now_ms: u64, state: &CustodyState, out: &mut Vec<Action>) {
        let mut keys: Vec<RecordKey> = Vec::new();
        keys.extend(
            state
                .vaults(None)
                .map(|v| RecordKey::Vault(v.vault_id.clone())),
        );
        keys.extend(
            state
                .presig_pools()
                .map(|p| RecordKey::PresigPool(p.wallet_id.clone())),
        );
        keys.extend(
            state
                .requests(None)
                .filter(|r| r.status.is_open())
                .map(|r| RecordKey::Request(r.request_id.clone())),
        );
        self.expiring
            .retain(|rid, _| state.request(rid).is_some_and(|r| r.status.is_open()));
        // Jobs and watches whose records no longer ask for them.
        let jobs: Vec<Job> = self.jobs.iter().cloned().collect();
        for job in jobs {
            if !self.wanted(state, &job) {
                self.jobs.remove(&job);
            }
        }
        self.watched
            .retain(|(rid, attempt), _| current_attempt(state, rid) == Some(*attempt));
        self.interactive_done(state, None, out);
        for key in keys {
            self.changed(now_ms, state, &key, out);
        }
        self.aux_changed(now_ms, state, out);
    }

    fn changed(
        &mut self,
        now_ms: u64,
        state: &CustodyState,
        key: &RecordKey,
        out: &mut Vec<Action>,
    ) {
        match key {
            RecordKey::Vault(id) => {
                self.release_held(now_ms, state, out);
                self.vault_changed(state, id, out);
                self.refresh_changed(state, id, out);
                self.repair_changed(state, id, out);
                self.schedule_changed(now_ms, state, id);
            }
            RecordKey::PresigPool(wallet_id) => self.pool_changed(state, wallet_id, out),
            RecordKey::Request(id) => self.request_changed(now_ms, state, id, out),
            RecordKey::Aux => self.aux_changed(now_ms, state, out),
            RecordKey::Org(org) => {
                let vaults: Vec<VaultId> = state
                    .vaults(Some(org))
                    .map(|v| v.vault_id.clone())
                    .collect();
                for v in vaults {
                    self.schedule_changed(now_ms, state, &v);
                }
            }
            _ => {}
        }
    }

    /// Whether the log still wants `job` from this node.
    fn wanted(&self, state: &CustodyState, job: &Job) -> bool {
        match job {
            Job::Aux { attempt } => {
                let a = state.aux();
                self.committee.contains(&self.me)
                    && !a.complete
                    && a.attempt == *attempt
                    && !a.ready.contains(&self.me)
            }
            Job::Dkg { vault_id } => state.vault(vault_id).is_some_and(|v| {
                v.status == VaultStatus::Pending
                    && v.committee.contains(&self.me)
                    && !v.reports.contains_key(&self.me)
            }),
            Job::Presign { wallet_id, seq } => state.presig_pool(wallet_id).is_some_and(|p| {
                p.signers.contains(&self.me)
                    && p.generating
                        .get(seq)
                        .is_some_and(|reported| !reported.contains(&self.me))
            }),
            Job::Sign {
                request_id,
                attempt,
            } => state.request(request_id).is_some_and(|r| {
                r.status == RequestStatus::Signing
                    && r.attempts
                        .last()
                        .is_some_and(|a| a.attempt == *attempt && a.signers.contains(&self.me))
            }),
            Job::Refresh {
                vault_id,
                epoch,
                generation,
            } => state.vault(vault_id).is_some_and(|v| {
                v.refresh.as_ref().is_some_and(|r| {
                    r.new_committee(&v.committee).contains(&self.me)
                        && r.epoch == *epoch
                        && r.started_log_index == *generation
                        && !r.reports.contains_key(&self.me)
                })
            }),
            Job::Repair {
                vault_id,
                replacement,
                attempt,
            } => state.vault(vault_id).is_some_and(|v| {
                v.repair.as_ref().is_some_and(|r| {
                    r.replacement == *replacement
                        && r.attempt == *attempt
                        && (r.node_id == self.me || r.helpers.contains(&self.me))
                })
            }),
        }
    }

    /// Forgets the jobs selected by `which` that the log no longer wants.
    fn forget_stale(&mut self, state: &CustodyState, which: impl Fn(&Job) -> bool) {
        let stale: Vec<Job> = self
            .jobs
            .iter()
            .filter(|j| which(j) && !self.wanted(state, j))
            .cloned()
            .collect();
        for j in stale {
            self.jobs.remove(&j);
        }
    }

    /// Retries the ECDSA signatures held for aux info when it is ready (a vault's refresh
    /// that moved it to the aux info's committee may be what they waited for).
    fn release_held(&mut self, now_ms: u64, state: &CustodyState, out: &mut Vec<Action>) {
        if !matches!(self.aux, AuxState::Ready(_)) || self.held_for_aux.is_empty() {
            return;
        }
        for request_id in std::mem::take(&mut self.held_for_aux) {
            self.request_changed(now_ms, state, &request_id, out);
        }
    }

    // ----- aux info -----

    /// Follows the log's aux-info record: runs the current attempt once the network has
    /// formed (after a pause if an earlier one failed), and once every node stored it, starts
    /// the pools and the ECDSA signatures that waited for it.
    fn aux_changed(&mut self, now_ms: u64, state: &CustodyState, out: &mut Vec<Action>) {
        self.forget_stale(state, |j| matches!(j, Job::Aux { .. }));
        let rec = state.aux();
        if rec.complete {
            if self.aux != AuxState::Ready(rec.attempt) {
                self.aux = AuxState::Ready(rec.attempt);
                // The signatures people wait for first; presigning pauses behind them.
                let held = std::mem::take(&mut self.held_for_aux);
                for request_id in held {
                    self.request_changed(now_ms, state, &request_id, out);
                }
                self.start_pools(state, out);
            }
            return;
        }
        if !self.formed || !self.committee.contains(&self.me) {
            return;
        }
        if rec.ready.contains(&self.me) {
            self.aux = AuxState::Stored(rec.attempt);
            return;
        }
        match self.aux {
            AuxState::Running(a) | AuxState::Scheduled(a, _) if a == rec.attempt => {}
            // The first attempt, and one a node replacement started, run at once; only a retry
            // after a failure waits.
            _ if rec.attempt == 0 || rec.last_failure.is_none() => {
                self.start_aux(state, rec.attempt, out)
            }
            _ => {
                let at = now_ms.saturating_add(aux_retry_ms(rec.attempt));
                self.aux = AuxState::Scheduled(rec.attempt, at);
            }
        }
    }

    fn start_aux(&mut self, state: &CustodyState, attempt: u32, out: &mut Vec<Action>) {
        let job = Job::Aux { attempt };
        if !self.wanted(state, &job) {
            return;
        }
        self.aux = AuxState::Running(attempt);
        self.jobs.insert(job.clone());
        out.push(Action::Start {
            job,
            spec: SessionSpec::Aux {
                attempt,
                session_id: ids::aux_session(&self.cluster_id, &self.committee, attempt),
                parties: parties(&self.committee),
            },
        });
    }

    /// Drops interactive signing jobs that are no longer running (done, or no longer wanted);
    /// when the last one goes, presigning resumes.
    fn interactive_done(
        &mut self,
        state: &CustodyState,
        done: Option<&Job>,
        out: &mut Vec<Action>,
    ) {
        if self.interactive.is_empty() {
            return;
        }
        if let Some(job) = done {
            self.interactive.remove(job);
        }
        let jobs = &self.jobs;
        self.interactive.retain(|j| jobs.contains(j));
        if self.interactive.is_empty() {
            self.start_pools(state, out);
        }
    }

    // ----- DKG -----

    fn vault_changed(&mut self, state: &CustodyState, vault_id: &VaultId, out: &mut Vec<Action>) {
        let job = Job::Dkg {
            vault_id: vault_id.clone(),
        };
        if !self.wanted(state, &job) {
            self.jobs.remove(&job);
            return;
        }
        let Some(vault) = state.vault(vault_id) else {
            return;
        };
        if !self.jobs.insert(job.clone()) {
            return;
        }
        let sessions = KeyType::ALL
            .iter()
            .map(|kt| {
                let sid = ids::dkg_session(
                    &self.cluster_id,
                    vault_id,
                    vault.created_log_index,
                    kt.as_str(),
                );
                (*kt, sid)
            })
            .collect();
        out.push(Action::Start {
            job,
            spec: SessionSpec::Dkg {
                vault_id: vault_id.clone(),
                parties: parties(&vault.committee),
                threshold: vault.threshold,
                sessions,
            },
        });
    }

    // ----- signing -----

    fn request_changed(
        &mut self,
        now_ms: u64,
        state: &CustodyState,
        request_id: &RequestId,
        out: &mut Vec<Action>,
    ) {
        match state.request(request_id) {
            Some(r) if r.status.is_open() && r.expires_at_ms != 0 => {
                self.expiring.entry(request_id.clone()).or_insert(Watched {
                    deadline_ms: r.expires_at_ms,
                    last_report_ms: None,
                });
            }
            _ => {
                self.expiring.remove(request_id);
            }
        }
        let current = current_attempt(state, request_id);
        self.watched
            .retain(|(rid, a), _| rid != request_id || Some(*a) == current);
        self.forget_stale(
            state,
            |j| matches!(j, Job::Sign { request_id: r, .. } if r == request_id),
        );
        self.interactive_done(state, None, out);
        let Some(req) = state.request(request_id) else {
            return;
        };
        let Some(attempt) = req.current_attempt() else {
            return;
        };
        if attempt.deadline_ms != 0 {
            self.watched
                .entry((request_id.clone(), attempt.attempt))
                .or_insert(Watched {
                    deadline_ms: attempt.deadline_ms,
                    last_report_ms: None,
                });
        }
        let job = Job::Sign {
            request_id: request_id.clone(),
            attempt: attempt.attempt,
        };
        if !attempt.signers.contains(&self.me) || !self.jobs.insert(job.clone()) {
            return;
        }
        let presignature_keys = attempt
            .presignatures
            .iter()
            .map(|seq| presig_store_key(&req.wallet_id, *seq))
            .collect();
        self.start_signing(now_ms, state, job, presignature_keys, out);
    }

    /// Starts a signing job after this node's own check, or reports why it refuses.
    fn start_signing(
        &mut self,
        now_ms: u64,
        state: &CustodyState,
        job: Job,
        presignature_keys: Vec<String>,
        out: &mut Vec<Action>,
    ) {
        let Job::Sign {
            request_id,
            attempt,
        } = &job
        else {
            return;
        };
        let (request_id, attempt) = (request_id.clone(), *attempt);
        // Invariant 2: nothing is contributed unless this node's own check of its own state
        // passes, at its own clock.
        match state.signing_job_at(&request_id, self.me, now_ms) {
            Ok(signing) => self.start_verified(job, signing, out),
            Err(reason) => {
                if !presignature_keys.is_empty() {
                    out.push(Action::DiscardPresignatures {
                        keys: presignature_keys,
                    });
                }
                self.propose(
                    Report::SignFailed {
                        request_id,
                        attempt,
                        reason: format!("signer check failed: {reason}"),
                        unresponsive: vec![],
                    },
                    out,
                );
            }
        }
    }

    /// Starts a verified signing job — for ECDSA only once the committee's aux info is
    /// complete (until then the request waits in `held_for_aux`).
    fn start_verified(&mut self, job: Job, signing: SigningJob, out: &mut Vec<Action>) {
        let Some(keygen) = keygen_indices(&signing.signers, &signing.committee) else {
            return;
        };
        let ecdsa = signing.key_type == KeyType::EcdsaSecp256k1;
        // ECDSA aux info belongs to the network's committee: a vault whose shares are still
        // held by another one (a removal's refresh not done) waits.
        let aux_attempt = match self.aux {
            AuxState::Ready(a) if !ecdsa || signing.committee == self.committee => a,
            _ if !ecdsa => 0,
            _ => {
                self.jobs.remove(&job);
                self.held_for_aux.insert(signing.request_id);
                return;
            }
        };
        if ecdsa && signing.presignatures.is_empty() {
            self.interactive.insert(job.clone());
        }
        let message_sessions = (0..signing.messages.len())
            .map(|i| {
                ids::sign_message_session(
                    &self.cluster_id,
                    &signing.session_id,
                    u32::try_from(i).unwrap_or(u32::MAX),
                )
            })
            .collect();
        out.push(Action::Start {
            job,
            spec: SessionSpec::Sign {
                parties: parties(&signing.signers),
                keygen_indices: keygen,
                aux_attempt,
                message_sessions,
                job: Box::new(signing),
            },
        });
    }
}

/// The current attempt of a request in `signing`.
fn current_attempt(state: &CustodyState, request_id: &str) -> Option<u32> {
    state
        .request(request_id)
        .and_then(|r| r.current_attempt())
        .map(|a| a.attempt)
}
