//! The engine driver: feeds the pure [`mpc_engine::Engine`] what happened (records changed by
//! applied entries, session results, report deliveries, timers) and executes the actions it
//! returns — run a session on a blocking thread, delete presignatures, sign and propose a report,
//! wake up later. It decides nothing itself: *what* to run, and whether a request may be signed
//! (`CustodyState::signing_job_at`, invariant 2), is the engine's and the state machine's call.
//!
//! The sessions themselves (`aux.rs`, `dkg.rs`, `presign.rs`, `sign.rs`) join each session id
//! once ever (the share store remembers it across restarts), take pool presignatures out of the
//! share store (flushed) before any partial signature, and run over Noise channels through the
//! [`SessionHub`].

mod aux;
mod background;
mod dkg;
#[cfg(feature = "forge-for-tests")]
mod forge;
mod nonces;
mod presign;
mod refresh;
mod repair;
mod report_batch;
mod sign;
mod sign_batch;

use crate::clock::now_ms;
use crate::cluster::ClusterHandle;
use crate::sessions::SessionHub;
use crate::share_store::{RecordKind, ShareStore};
use background::run_in_background;
use mpc_consensus::raft::{NodeId, PeerNode};
use mpc_custody::{report_message, Report, ReportBody, SignedReport};
use mpc_engine::{
    Action, AuxState, Changed, DeliveryOutcome, Engine, Input, Job, SessionOutcome, SessionSpec,
};
use mpc_protocol::chain::{Chain, Network};
use rand_chacha::ChaCha20Rng;
use rand_core::{OsRng, SeedableRng};
use serde::Serialize;
use std::collections::VecDeque;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;
use tokio::sync::mpsc;

// Session timeouts are *idle* timeouts: how long a session may wait without any message from
// its peers (see `SessionHub::run`).
/// DKG (per key type).
const DKG_TIMEOUT: Duration = Duration::from_secs(60);
/// Refresh (per key type): three cheap rounds, well under a second on the test network; a node
/// that stays silent this long fails the refresh (nothing changes) rather than holding it open.
const REFRESH_TIMEOUT: Duration = Duration::from_secs(20);
/// Aux info (each party's proofs take long to make and check).
const AUX_TIMEOUT: Duration = Duration::from_secs(600);
/// Signing one message: FROST, and ECDSA from a presignature.
const SIGN_TIMEOUT: Duration = Duration::from_secs(15);
/// Interactive ECDSA signing of one message (Paillier proofs in each round).
const ECDSA_SIGN_TIMEOUT: Duration = Duration::from_secs(30);
/// Presigning.
const PRESIGN_TIMEOUT: Duration = Duration::from_secs(60);
/// Longest sleep of the driver when nothing happens, ms (a tick then; no state is scanned).
const IDLE_WAKE_MS: u64 = 1_000;
/// Session results and deliveries waiting for the driver.
const INPUT_QUEUE: usize = 4_096;
/// Share-store key of the committee's aux info of attempt `attempt` (attempts are in the log).
fn aux_key(attempt: u32) -> String {
    format!("committee/aux/{attempt}")
}

/// ECDSA aux-info progress, shown by `node_status` (attempts are in the log).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum AuxStatus {
    /// Waiting for the network to form (a leader elected, every node connected): aux info
    /// starts then, so that the first ECDSA signature does not wait for it.
    NotStarted,
    /// Generating Paillier safe primes (only for a node initialised without them).
    GeneratingPrimes {
        /// Attempt.
        attempt: u32,
    },
    /// Running the aux-info protocol with every node.
    Running {
        /// Attempt.
        attempt: u32,
    },
    /// An attempt failed; the next one starts after a pause.
    Retrying {
        /// The attempt that will run.
        attempt: u32,
        /// Why the previous one failed (from the log).
        last_failure: Option<String>,
    },
    /// Stored here; waiting for the other nodes to report theirs.
    WaitingForNodes {
        /// Attempt.
        attempt: u32,
    },
    /// Every node stored it: ECDSA presigning and signing run.
    Ready {
        /// Attempt.
        attempt: u32,
    },
}

/// What the engine holds, for `engine_status`.
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct EngineStats {
    /// Jobs started that the log still wants (sessions running or their reports in delivery).
    pub jobs: usize,
    /// Reports proposed and not yet applied (retried with backoff until applied or moot).
    pub pending_reports: usize,
}

/// The key id a wallet's presignatures are bound to: the wallet id (vault, chain, network,
/// index — the key and its HD path).
fn presig_key_id(vault_id: &str, chain: Chain, network: Network, index: u32) -> String {
    mpc_custody::Wallet::id_for(vault_id, chain, network, index).0
}

/// A session RNG seeded from the OS.
fn fresh_rng() -> Result<ChaCha20Rng, String> {
    ChaCha20Rng::from_rng(OsRng).map_err(|e| format!("seeding an RNG: {e}"))
}

/// The driver (cloneable handle).
#[derive(Clone)]
pub struct Runner {
    inner: Arc<Inner>,
}

struct Inner {
    cluster: ClusterHandle,
    hub: SessionHub,
    shares: Arc<ShareStore>,
    keypair: libp2p::identity::Keypair,
    aux: RwLock<AuxStatus>,
    insecure_primes: Option<PathBuf>,
    /// Signing sessions this node has started (after its own checks), for `engine_status`.
    signing_sessions: AtomicU64,
    stats: Mutex<EngineStats>,
    /// Signature reports waiting to be proposed together (`report_batch`).
    signature_queue: Mutex<report_batch::SignatureQueue>,
    /// Each wallet's FROST key packages, decoded and tweaked, by vault, key type, share
    /// generation and wallet (`nonces::Runner::tweaked_frost_keys`). Emptied when replaced
    /// shares are deleted and when it reaches `MAX_CACHED_FROST_KEYS`.
    frost_keys: Mutex<std::collections::HashMap<String, nonces::CachedKeys>>,
    /// Batch signing sessions running now (`sign_batch`): a second batch with the same id is
    /// refused rather than run beside the first.
    running_batches: Mutex<std::collections::BTreeSet<[u8; 32]>>,
    /// TEST BUILDS ONLY: requests the forger already tried.
    #[cfg(feature = "forge-for-tests")]
    forged: Mutex<std::collections::HashSet<mpc_custody::types::RequestId>>,
}

/// A refresh or repair failure: why, and the nodes a session named.
struct Failure {
    reason: String,
    culprits: Vec<NodeId>,
}

impl Failure {
    fn new(reason: impl Into<String>) -> Self {
        Failure {
            reason: reason.into(),
            culprits: Vec::new(),
        }
    }

    /// Session `what` failed, naming `e.culprits`.
    fn run(what: &str, e: crate::sessions::RunError) -> Self {
        Failure {
            reason: format!("{what}: {}", e.reason),
            culprits: e.culprits,
        }
    }
}

impl Runner {
    /// A driver. `insecure_primes` is the INSECURE test fixture (tests and local testnets only).
    pub fn new(
        cluster: ClusterHandle,
        hub: SessionHub,
        shares: Arc<ShareStore>,
        keypair: libp2p::identity::Keypair,
        insecure_primes: Option<PathBuf>,
    ) -> Self {
        Runner {
            inner: Arc::new(Inner {
                cluster,
                hub,
                shares,
                keypair,
                aux: RwLock::new(AuxStatus::NotStarted),
                insecure_primes,
                signing_sessions: AtomicU64::new(0),
                stats: Mutex::new(EngineStats::default()),
                signature_queue: Mutex::new(report_batch::signature_queue()),
                frost_keys: Mutex::new(Default::default()),
                running_batches: Mutex::new(Default::default()),
                #[cfg(feature = "forge-for-tests")]
                forged: Mutex::new(Default::default()),
            }),
        }
    }

    /// Aux-info status.
    pub fn aux_status(&self) -> AuxStatus {
        self.inner
            .aux
            .read()
            .map(|a| a.clone())
            .unwrap_or(AuxStatus::NotStarted)
    }

    /// Signing sessions started by this node since it started.
    pub fn signing_sessions(&self) -> u64 {
        self.inner.signing_sessions.load(Ordering::Relaxed)
    }

    /// What the session hub holds for peers.
    pub fn hub_stats(&self) -> crate::sessions::HubStats {
        self.inner.hub.stats()
    }

    /// What the engine holds.
    pub fn engine_stats(&self) -> EngineStats {
        self.inner.stats.lock().map(|s| *s).unwrap_or_default()
    }

    fn me(&self) -> NodeId {
        self.inner.cluster.node_id()
    }

    fn set_aux(&self, s: AuxStatus) {
        if let Ok(mut a) = self.inner.aux.write() {
            *a = s;
        }
    }

    /// The aux-info status from the engine's view (the driver adds prime generation).
    fn show_aux(&self, aux: AuxState, last_failure: Option<String>) {
        let status = match aux {
            AuxState::Waiting => AuxStatus::NotStarted,
            AuxState::Running(attempt) => {
                if self.aux_status() == (AuxStatus::GeneratingPrimes { attempt }) {
                    return;
                }
                AuxStatus::Running { attempt }
            }
            AuxState::Scheduled(attempt, _) => AuxStatus::Retrying {
                attempt,
                last_failure,
            },
            AuxState::Stored(attempt) => AuxStatus::WaitingForNodes { attempt },
            AuxState::Ready(attempt) => AuxStatus::Ready { attempt },
        };
        self.set_aux(status);
    }

    /// Runs until the node stops: the engine's inputs in, its actions out.
    pub async fn run(self) {
        let (tx, mut rx) = mpsc::channel::<Input>(INPUT_QUEUE);
        let me = self.me();
        // Changes so far are covered by the first full look (`Changed::All`).
        let _ = self.inner.cluster.take_changes();
        let Ok(mut engine) = self.inner.cluster.read_state(|s| Engine::new(me, s)) else {
            tracing::error!("engine: custody state unreadable");
            return;
        };
        let mut pending = VecDeque::from([Input::Applied(Changed::All)]);
        let mut metrics = self.inner.cluster.raft().metrics();
        let mut formed = false;
        let mut wake_at: Option<u64> = None;
        loop {
            if !formed && self.network_formed(&metrics) {
                formed = true;
                pending.push_back(Input::NetworkFormed);
            }
            if let Some(changed) = self.inner.cluster.take_changes() {
                pending.push_back(Input::Applied(changed));
            }
            if wake_at.is_some_and(|t| t <= now_ms()) {
                pending.push_back(Input::Tick);
            }
            while let Some(input) = pending.pop_front() {
                wake_at = self.step(&mut engine, input, &tx);
            }
            #[cfg(feature = "forge-for-tests")]
            if crate::forge::forging_sessions() {
                self.forge_scan();
            }
            let sleep_ms = wake_at
                .map(|t| t.saturating_sub(now_ms()))
                .unwrap_or(IDLE_WAKE_MS)
                .min(IDLE_WAKE_MS);
            tokio::select! {
                Some(input) = rx.recv() => pending.push_back(input),
                changed = metrics.changed() => {
                    if changed.is_err() {
                        return; // Raft stopped.
                    }
                }
                _ = tokio::time::sleep(Duration::from_millis(sleep_ms)) => {
                    pending.push_back(Input::Tick);
                }
            }
        }
    }

    /// The network has formed for aux info: a leader is known and every other genesis node is
    /// connected (aux info needs all of them; started earlier it would wait out its idle timeout
    /// for a node still starting, and its retries reuse the session id — see issue 10's note).
    fn network_formed(
        &self,
        metrics: &tokio::sync::watch::Receiver<openraft::RaftMetrics<NodeId, PeerNode>>,
    ) -> bool {
        // Every other node of the network now (removed nodes are not waited for).
        let members = self
            .inner
            .cluster
            .read_state(|s| s.members().len())
            .unwrap_or_else(|_| self.inner.cluster.genesis().nodes.len());
        let others = members.saturating_sub(1);
        metrics.borrow().current_leader.is_some()
            && self.inner.cluster.p2p().connected_peers().len() >= others
    }

    /// One engine step; executes its actions and returns the next wake-up time.
    fn step(&self, engine: &mut Engine, input: Input, tx: &mpsc::Sender<Input>) -> Option<u64> {
        let now = now_ms();
        let stepped = self.inner.cluster.read_state(|s| {
            let actions = engine.step(now, s, input);
            (actions, s.aux().last_failure.clone())
        });
        let actions = match stepped {
            Ok((a, last_failure)) => {
                self.show_aux(engine.aux(), last_failure);
                a
            }
            Err(e) => {
                tracing::error!("engine: custody state unreadable: {e}");
                return Some(now.saturating_add(IDLE_WAKE_MS));
            }
        };
        if let Ok(mut s) = self.inner.stats.lock() {
            *s = EngineStats {
                jobs: engine.jobs().len(),
                pending_reports: engine.pending_reports(),
            };
        }
        let mut wake_at = None;
        let mut batches = sign_batch::Batches::default();
        for action in actions {
            match action {
                Action::Start { job, spec } => {
                    if let Some((job, spec)) = batches.add(job, spec) {
                        self.start(job, spec, tx.clone());
                    }
                }
                Action::DiscardPresignatures { keys } => {
                    // An ECDSA presignature or a FROST nonce slot: whichever is there goes.
                    for key in keys {
                        for kind in [RecordKind::Presignature, RecordKind::Nonces] {
                            if let Err(e) = self.inner.shares.delete(&key, kind) {
                                tracing::warn!("discarding presignature {key}: {e}");
                            }
                        }
                    }
                }
                Action::Propose { id, report } => self.propose(id, report, tx.clone()),
                Action::TidyShares { vault_id } => {
                    self.forget_frost_keys();
                    let this = self.clone();
                    tokio::task::spawn_blocking(move || {
                        if let Err(e) = this.tidy_shares(&vault_id) {
                            tracing::error!(vault = %vault_id, "tidying key shares: {e}");
                        }
                    });
                }
                Action::WakeAt(t) => wake_at = Some(t),
            }
        }
        for (key, part, jobs) in batches.take() {
            self.start_batch(key, part, jobs, tx.clone());
        }
        wake_at
    }

    /// Runs a session on a blocking thread; its outcome goes back to the engine.
    fn start(&self, job: Job, spec: SessionSpec, tx: mpsc::Sender<Input>) {
        if matches!(spec, SessionSpec::Sign { .. }) {
            self.inner.signing_sessions.fetch_add(1, Ordering::Relaxed);
        }
        let this = self.clone();
        // Presigning and aux info fill stores ahead of need: they run at the lowest CPU
        // priority so that they never slow a signature or consensus (decision 0031).
        let background = matches!(spec, SessionSpec::Presign { .. } | SessionSpec::Aux { .. });
        tokio::spawn(async move {
            let started = std::time::Instant::now();
            let run = this.clone();
            let res = if background {
                run_in_background(move || run.execute(&spec)).await
            } else {
                tokio::task::spawn_blocking(move || run.execute(&spec))
                    .await
                    .map_err(|e| e.to_string())
            };
            let outcome = res.unwrap_or_else(|e| SessionOutcome::Failed {
                reason: format!("session task: {e}"),
                unresponsive: vec![],
            });
            match &outcome {
                SessionOutcome::Failed { reason, .. } => {
                    tracing::warn!(?job, "session failed: {reason}");
                }
                _ => {
                    tracing::info!(?job, "session done in {} ms", started.elapsed().as_millis());
                }
            }
            let _ = tx.send(Input::SessionDone { job, outcome }).await;
        });
    }

    /// Runs one session to its end (blocking).
    fn execute(&self, spec: &SessionSpec) -> SessionOutcome {
        let failed = |reason: String| SessionOutcome::Failed {
            reason,
            unresponsive: vec![],
        };
        match spec {
            SessionSpec::Aux {
                attempt,
                session_id,
                parties,
            } => match self.aux_blocking(*attempt, *session_id, parties) {
                Ok(()) => SessionOutcome::AuxReady,
                Err(e) => failed(e),
            },
            SessionSpec::Dkg {
                vault_id,
                parties,
                threshold,
                sessions,
            } => match self.dkg_blocking(vault_id, parties, *threshold, sessions) {
                Ok(keys) => SessionOutcome::VaultKeys(keys),
                Err(e) => failed(e),
            },
            SessionSpec::Refresh {
                vault_id,
                from_generation,
                generation,
                parties,
                committee,
                staying,
                sessions,
            } => self.refresh_blocking(&refresh::RefreshJob {
                vault_id,
                from_generation: *from_generation,
                generation: *generation,
                parties,
                committee,
                staying,
                sessions,
            }),
            SessionSpec::Repair {
                job,
                parties,
                sessions,
                public_session,
            } => self.repair_blocking(&repair::RepairRun {
                job,
                parties,
                sessions,
                public_session: *public_session,
            }),
            SessionSpec::Presign { .. } => match self.presign_blocking(spec) {
                Ok(()) => SessionOutcome::PresigStored,
                Err(e) => failed(e),
            },
            SessionSpec::FrostNonces { .. } => match self.frost_nonces_blocking(spec) {
                Ok(()) => SessionOutcome::PresigStored,
                Err(e) => failed(e),
            },
            SessionSpec::Sign {
                job,
                parties,
                keygen_indices,
                aux_attempt,
                message_sessions,
            } => {
                // The request id links this node's logs from the RPC call that made the request
                // (`rpc` logs it with the write's log index) to its signing sessions.
                let started = std::time::Instant::now();
                let signed = self.sign_blocking(
                    job,
                    parties,
                    keygen_indices,
                    *aux_attempt,
                    message_sessions,
                );
                let took_ms = started.elapsed().as_millis() as u64;
                let (request_id, attempt) = (job.request_id.as_str(), job.attempt);
                match signed {
                    Ok(sigs) => {
                        tracing::debug!(
                            request_id,
                            attempt,
                            took_ms,
                            from_pool = !job.presignatures.is_empty(),
                            "signed"
                        );
                        SessionOutcome::Signed(sigs.into_iter().map(hex::encode).collect())
                    }
                    Err(e) => {
                        tracing::warn!(request_id, attempt, took_ms, reason = %e.reason, "signing attempt failed");
                        SessionOutcome::Failed {
                            reason: e.reason,
                            unresponsive: e.unresponsive,
                        }
                    }
                }
            }
        }
    }

    /// Signs `report` with the node key and proposes it; the outcome goes back to the engine,
    /// which retries until the report is applied or no longer matters. Signature reports are
    /// proposed together when several are due (`report_batch`).
    fn propose(&self, id: u64, report: Report, tx: mpsc::Sender<Input>) {
        let report = match report {
            Report::Signature {
                request_id,
                attempt,
                signatures,
            } => {
                let item = mpc_custody::SignedAttempt {
                    request_id,
                    attempt,
                    signatures,
                };
                return self.propose_signature(id, item, tx);
            }
            other => other,
        };
        let this = self.clone();
        tokio::spawn(async move {
            let outcome = this.submit(report).await;
            let _ = tx.send(Input::Delivered { id, outcome }).await;
        });
    }

    /// Signs `report` with the node key and has it committed.
    async fn submit(&self, report: Report) -> DeliveryOutcome {
        match self.signed_report(report) {
            Ok(rep) => match self.inner.cluster.submit_report(rep).await {
                Ok(o) => {
                    if let Some(e) = o.error {
                        tracing::debug!("report applied without effect: {e}");
                    }
                    DeliveryOutcome::Applied
                }
                Err(e) => {
                    tracing::debug!("report not committed yet: {e}");
                    DeliveryOutcome::NotCommitted(e.to_string())
                }
            },
            Err(e) => {
                tracing::error!("signing a report: {e}");
                DeliveryOutcome::NotCommitted(e)
            }
        }
    }

    pub(crate) fn signed_report(&self, report: Report) -> Result<SignedReport, String> {
        let body = serde_json::to_string(&ReportBody {
            cluster: self.inner.cluster.cluster_id().to_string(),
            report,
        })
        .map_err(|e| format!("encoding report: {e}"))?;
        let signature = self
            .inner
            .keypair
            .sign(&report_message(&body))
            .map_err(|e| format!("signing report: {e}"))?;
        Ok(SignedReport {
            node_id: self.me(),
            body,
            signature: hex::encode(signature),
        })
    }
}
