//! The session runner: watches committed state and runs the threshold sessions it asks for —
//! ECDSA aux info once per committee, DKG for each pending vault, and signing for each request
//! whose current signer set includes this node — then reports the results through Raft.
//!
//! Nothing here decides *whether* to sign: a signing session starts only after
//! [`CustodyState::signing_job`](mpc_custody::state::CustodyState::signing_job) has re-verified
//! the request on this node's own state (invariant 2).

use crate::clock::now_ms;
use crate::cluster::ClusterHandle;
use crate::sessions::{RunError, SessionHub};
use crate::share_store::{RecordKind, ShareStore};
use mpc_consensus::raft::NodeId;
use mpc_custody::state::SigningJob;
use mpc_custody::{ids, presig_store_key, report_message, Report, ReportBody, SignedReport};
use mpc_protocol::chain::keys::{self, VaultPublicKeys};
use mpc_protocol::chain::{Chain, KeyType, Network, ToSign};
use mpc_protocol::ecdsa::online::EcdsaPresigSign;
use mpc_protocol::ecdsa::{self, EcdsaAuxInfo, Primes};
use mpc_protocol::frost::dkg::{DkgMode, FrostDkg};
use mpc_protocol::frost::online::FrostSignOnline;
use mpc_protocol::frost::{self, Ed25519, Secp256k1Tr};
use mpc_protocol::session::{PartyIndex, SessionId};
use rand_chacha::ChaCha20Rng;
use rand_core::{OsRng, SeedableRng};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashSet};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;
use zeroize::Zeroizing;

// Session timeouts are *idle* timeouts: how long a session may wait without any message from
// its peers (see `SessionHub::run`).
/// DKG (per key type).
const DKG_TIMEOUT: Duration = Duration::from_secs(60);
/// Aux info (each party's proofs take long to make and check).
const AUX_TIMEOUT: Duration = Duration::from_secs(600);
/// Signing one message: FROST, and ECDSA from a presignature.
const SIGN_TIMEOUT: Duration = Duration::from_secs(15);
/// Interactive ECDSA signing of one message (Paillier proofs in each round).
const ECDSA_SIGN_TIMEOUT: Duration = Duration::from_secs(30);
/// Presigning.
const PRESIGN_TIMEOUT: Duration = Duration::from_secs(60);
/// How long an ECDSA signer waits for aux info before failing the attempt.
const AUX_WAIT: Duration = Duration::from_secs(120);
/// Rescan interval when nothing is applied.
const SCAN_INTERVAL: Duration = Duration::from_millis(500);
/// How often a node re-sends its report that an attempt expired while the attempt stays current
/// (the first may have been applied before the log's clock reached the deadline).
const EXPIRY_RESEND: Duration = Duration::from_secs(10);
/// Share-store key of the committee's aux info.
const AUX_KEY: &str = "committee/aux";
/// Share-store key of this node's Paillier primes.
const PRIMES_KEY: &str = "committee/primes";

/// ECDSA aux-info progress, shown by `node_status`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum AuxStatus {
    /// Not needed yet: aux info is made when the first vault is created.
    NotStarted,
    /// Generating Paillier safe primes.
    GeneratingPrimes,
    /// Running the aux-info protocol with every node.
    Running,
    /// Ready (stored).
    Ready,
    /// Failed; retried.
    Failed {
        /// Why.
        reason: String,
    },
}

#[derive(Serialize, Deserialize)]
struct StoredPrimes {
    p: String,
    q: String,
}

impl Drop for StoredPrimes {
    fn drop(&mut self) {
        use zeroize::Zeroize;
        self.p.zeroize();
        self.q.zeroize();
    }
}

/// One presignature this node should make.
struct PresignWork {
    sid: [u8; 32],
    store_key: String,
    wallet_id: String,
    vault_id: String,
    chain: Chain,
    network: Network,
    index: u32,
    signers: Vec<NodeId>,
    seq: u64,
}

/// The key id a wallet's presignatures are bound to: the wallet id (vault, chain, network,
/// index — the key and its HD path).
fn presig_key_id(vault_id: &str, chain: Chain, network: Network, index: u32) -> String {
    mpc_custody::Wallet::id_for(vault_id, chain, network, index)
}

/// A session RNG seeded from the OS.
fn fresh_rng() -> Result<ChaCha20Rng, String> {
    ChaCha20Rng::from_rng(OsRng).map_err(|e| format!("seeding an RNG: {e}"))
}

/// The runner.
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
    started: Mutex<HashSet<String>>,
    /// Expired attempts this node reported, and when (its clock, ms); pruned to what is still
    /// expired at every scan.
    expiry_reported: Mutex<BTreeMap<(String, u32), u64>>,
    insecure_primes: Option<PathBuf>,
    /// Signing sessions this node has started (after its own checks), for `engine_status`.
    signing_sessions: AtomicU64,
}

impl Runner {
    /// A runner. `insecure_primes` is the INSECURE test fixture (tests and local testnets only).
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
                started: Mutex::new(HashSet::new()),
                expiry_reported: Mutex::new(BTreeMap::new()),
                insecure_primes,
                signing_sessions: AtomicU64::new(0),
            }),
        }
    }

    /// Aux-info status.
    pub fn aux_status(&self) -> AuxStatus {
        self.inner
            .aux
            .read()
            .map(|a| a.clone())
            .unwrap_or(AuxStatus::Running)
    }

    /// Signing sessions started by this node since it started.
    pub fn signing_sessions(&self) -> u64 {
        self.inner.signing_sessions.load(Ordering::Relaxed)
    }

    /// What the session hub holds for peers.
    pub fn hub_stats(&self) -> crate::sessions::HubStats {
        self.inner.hub.stats()
    }

    fn me(&self) -> NodeId {
        self.inner.cluster.node_id()
    }

    fn set_aux(&self, s: AuxStatus) {
        if let Ok(mut a) = self.inner.aux.write() {
            *a = s;
        }
    }

    /// Runs forever: every piece of work committed state asks for (aux info with the first vault).
    pub async fn run(self) {
        // Already made (a restart): ready at once, no work.
        if let Ok(Some(_)) = self.inner.shares.get(AUX_KEY, RecordKind::AuxInfo) {
            self.set_aux(AuxStatus::Ready);
        }
        let mut metrics = self.inner.cluster.raft().metrics();
        loop {
            self.scan();
            let _ = tokio::time::timeout(SCAN_INTERVAL, metrics.changed()).await;
        }
    }

    fn first_start(&self, key: String) -> bool {
        self.inner
            .started
            .lock()
            .map(|mut s| s.insert(key))
            .unwrap_or(false)
    }

    fn scan(&self) {
        let me = self.me();
        let work = self.inner.cluster.read_state(|s| {
            let vaults: Vec<(String, u64, Vec<NodeId>, u16)> = s
                .pending_vaults()
                .into_iter()
                .filter_map(|(id, idx)| {
                    let v = s.vault(&id)?;
                    (!v.reports.contains_key(&me) && v.committee.contains(&me))
                        .then(|| (id, idx, v.committee.clone(), v.threshold))
                })
                .collect();
            let signing: Vec<(String, u32, Result<SigningJob, String>)> = s
                .signing_work(me)
                .into_iter()
                .map(|(rid, attempt)| {
                    let job = s.signing_job_at(&rid, me, now_ms());
                    (rid, attempt, job)
                })
                .collect();
            let presig: Vec<PresignWork> = s
                .presig_work(me)
                .into_iter()
                .filter_map(|(pool, seq)| {
                    let w = s.wallet(&pool.wallet_id)?;
                    Some(PresignWork {
                        sid: pool.session_id(s.genesis().cluster_id.as_str(), seq),
                        store_key: pool.store_key(seq),
                        wallet_id: pool.wallet_id.clone(),
                        vault_id: w.vault_id.clone(),
                        chain: w.chain,
                        network: w.network,
                        index: w.index,
                        signers: pool.signers.clone(),
                        seq,
                    })
                })
                .collect();
            let expired = s.expired_attempts(now_ms());
            (
                vaults,
                signing,
                presig,
                expired,
                s.vaults(None).next().is_some(),
            )
        });
        let Ok((vaults, signing, presig, expired, any_vault)) = work else {
            return;
        };
        self.report_expired(expired);
        #[cfg(feature = "forge-for-tests")]
        if crate::forge::forging_sessions() {
            self.forge_scan();
        }
        // ECDSA aux info is made once per committee, when the first vault is created: its CPU
        // burst (prime generation, Paillier proofs) does not compete with Raft at every start.
        if any_vault && self.aux_status() != AuxStatus::Ready && self.first_start("aux".into()) {
            let aux = self.clone();
            tokio::spawn(async move { aux.ensure_aux().await });
        }
        for (vault_id, log_index, committee, t) in vaults {
            if self.first_start(format!("dkg/{vault_id}")) {
                let this = self.clone();
                tokio::spawn(
                    async move { this.vault_dkg(vault_id, log_index, committee, t).await },
                );
            }
        }
        // Presignatures need aux info; they start once it is ready, in sequence order.
        if self.aux_status() == AuxStatus::Ready {
            for w in presig {
                if self.first_start(format!("presig/{}/{}", w.wallet_id, w.seq)) {
                    let this = self.clone();
                    tokio::spawn(async move { this.presign(w).await });
                }
            }
        }
        for (rid, attempt, job) in signing {
            if !self.first_start(format!("sign/{rid}/{attempt}")) {
                continue;
            }
            let this = self.clone();
            match job {
                Ok(job) => {
                    tokio::spawn(async move { this.sign(job).await });
                }
                Err(reason) => {
                    tracing::warn!(request = %rid, attempt, "refusing to sign: {reason}");
                    self.discard_presignatures(&rid, attempt);
                    tokio::spawn(async move {
                        this.report(Report::SignFailed {
                            request_id: rid,
                            attempt,
                            reason: format!("signer check failed: {reason}"),
                            unresponsive: vec![],
                        })
                        .await
                    });
                }
            }
        }
    }

    /// Reports every current attempt whose deadline passed by this node's clock (again every
    /// `EXPIRY_RESEND` while it stays current): the state machine ends it only if the log's
    /// time agrees, so any node may send it and liveness does not rest on the signers.
    fn report_expired(&self, expired: Vec<(String, u32)>) {
        let now = now_ms();
        let resend_ms = EXPIRY_RESEND.as_millis() as u64;
        let due: Vec<(String, u32)> = {
            let Ok(mut sent) = self.inner.expiry_reported.lock() else {
                return;
            };
            sent.retain(|k, _| expired.contains(k));
            let due: Vec<(String, u32)> = expired
                .into_iter()
                .filter(|k| {
                    sent.get(k)
                        .is_none_or(|t| now.saturating_sub(*t) >= resend_ms)
                })
                .collect();
            for k in &due {
                sent.insert(k.clone(), now);
            }
            due
        };
        for (request_id, attempt) in due {
            tracing::info!(request = %request_id, attempt, "signing attempt passed its deadline");
            let this = self.clone();
            tokio::spawn(async move {
                this.report(Report::AttemptExpired {
                    request_id,
                    attempt,
                })
                .await
            });
        }
    }

    async fn report(&self, report: Report) {
        let body = match serde_json::to_string(&ReportBody {
            cluster: self.inner.cluster.cluster_id().to_string(),
            report,
        }) {
            Ok(b) => b,
            Err(e) => {
                tracing::error!("encoding report: {e}");
                return;
            }
        };
        let signature = match self.inner.keypair.sign(&report_message(&body)) {
            Ok(s) => hex::encode(s),
            Err(e) => {
                tracing::error!("signing report: {e}");
                return;
            }
        };
        let rep = SignedReport {
            node_id: self.me(),
            body,
            signature,
        };
        for _ in 0..5 {
            match self.inner.cluster.submit_report(rep.clone()).await {
                Ok(o) => {
                    if let Some(e) = o.error {
                        tracing::debug!("report not applied: {e}");
                    }
                    return;
                }
                Err(e) => {
                    tracing::warn!("report not committed yet: {e}");
                    tokio::time::sleep(Duration::from_millis(500)).await;
                }
            }
        }
    }

    /// Every genesis node id, sorted (the committee of every vault and of aux info).
    fn committee(&self) -> Vec<NodeId> {
        self.inner
            .cluster
            .genesis()
            .nodes
            .iter()
            .map(|c| c.node_id)
            .collect()
    }

    fn parties(committee: &[NodeId]) -> BTreeMap<NodeId, PartyIndex> {
        committee
            .iter()
            .map(|n| (*n, PartyIndex(u16::try_from(*n).unwrap_or(u16::MAX))))
            .collect()
    }

    // ----- aux info -----

    async fn ensure_aux(self) {
        loop {
            match self.inner.shares.get(AUX_KEY, RecordKind::AuxInfo) {
                Ok(Some(_)) => {
                    self.set_aux(AuxStatus::Ready);
                    return;
                }
                Ok(None) => {}
                Err(e) => {
                    self.set_aux(AuxStatus::Failed {
                        reason: e.to_string(),
                    });
                    tracing::error!("reading aux info: {e}");
                    return;
                }
            }
            let this = self.clone();
            let res = tokio::task::spawn_blocking(move || this.aux_blocking()).await;
            match res {
                Ok(Ok(())) => {
                    self.set_aux(AuxStatus::Ready);
                    tracing::info!("ECDSA aux info ready");
                    return;
                }
                Ok(Err(e)) => {
                    tracing::warn!("ECDSA aux info failed, retrying: {e}");
                    self.set_aux(AuxStatus::Failed { reason: e });
                }
                Err(e) => {
                    tracing::error!("aux task: {e}");
                    return;
                }
            }
            tokio::time::sleep(Duration::from_secs(2)).await;
        }
    }

    fn primes(&self) -> Result<Primes, String> {
        if let Some(rec) = self
            .inner
            .shares
            .get(PRIMES_KEY, RecordKind::AuxInfo)
            .map_err(|e| e.to_string())?
        {
            let sp: StoredPrimes =
                mpc_protocol::decode(&rec, 64 * 1024).map_err(|e| e.to_string())?;
            return ecdsa::primes_from_hex(&sp.p, &sp.q).map_err(|e| e.to_string());
        }
        let primes = if let Some(path) = &self.inner.insecure_primes {
            tracing::warn!(
                "using INSECURE published test primes from {} — never do this with real funds",
                path.display()
            );
            let text =
                std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
            let v: serde_json::Value = serde_json::from_str(&text).map_err(|e| e.to_string())?;
            let i = usize::try_from(self.me().saturating_sub(1)).unwrap_or(0);
            let party = v["parties"]
                .get(i)
                .ok_or("the primes fixture has too few parties")?;
            let hex = |k: &str| party[k].as_str().ok_or(format!("fixture field {k}"));
            ecdsa::primes_from_hex(hex("p")?, hex("q")?).map_err(|e| e.to_string())?
        } else {
            self.set_aux(AuxStatus::GeneratingPrimes);
            tracing::info!(
                "generating Paillier safe primes for ECDSA aux info (one-off, may take a minute)"
            );
            let t = std::time::Instant::now();
            let primes = ecdsa::generate_primes(&mut OsRng);
            tracing::info!(
                "safe primes generated in {:.1} s",
                t.elapsed().as_secs_f64()
            );
            primes
        };
        let (p, q) = ecdsa::primes_to_hex(primes);
        let sp = StoredPrimes {
            p: p.to_string(),
            q: q.to_string(),
        };
        let bytes = Zeroizing::new(mpc_protocol::encode(&sp).map_err(|e| e.to_string())?);
        self.inner
            .shares
            .put(PRIMES_KEY, RecordKind::AuxInfo, &bytes)
            .map_err(|e| e.to_string())?;
        ecdsa::primes_from_hex(&p, &q).map_err(|e| e.to_string())
    }

    fn aux_blocking(&self) -> Result<(), String> {
        let primes = self.primes()?;
        self.set_aux(AuxStatus::Running);
        let committee = self.committee();
        let parties = Self::parties(&committee);
        let sid = SessionId(ids::aux_session(
            self.inner.cluster.cluster_id(),
            &committee,
        ));
        tracing::info!("running ECDSA aux info with {} nodes", committee.len());
        let t = std::time::Instant::now();
        let mut rng = fresh_rng()?;
        let me = parties[&self.me()];
        let ps: Vec<PartyIndex> = parties.values().copied().collect();
        let mut session =
            ecdsa::aux_info(&sid, me, &ps, primes, &mut rng).map_err(|e| e.to_string())?;
        let mut rng2 = fresh_rng()?;
        let aux = self
            .inner
            .hub
            .run(sid.0, &parties, &mut session, &mut rng2, AUX_TIMEOUT)
            .map_err(|e| e.reason)?;
        let bytes = Zeroizing::new(mpc_protocol::encode(&aux).map_err(|e| e.to_string())?);
        self.inner
            .shares
            .put(AUX_KEY, RecordKind::AuxInfo, &bytes)
            .map_err(|e| e.to_string())?;
        tracing::info!("aux info done in {:.1} s", t.elapsed().as_secs_f64());
        Ok(())
    }

    // ----- vault DKG -----

    async fn vault_dkg(self, vault_id: String, log_index: u64, committee: Vec<NodeId>, t: u16) {
        let this = self.clone();
        let vid = vault_id.clone();
        let res =
            tokio::task::spawn_blocking(move || this.dkg_blocking(&vid, log_index, &committee, t))
                .await;
        let report = match res {
            Ok(Ok(keys)) => Report::VaultKeys { vault_id, keys },
            Ok(Err(reason)) => {
                tracing::warn!(vault = %vault_id, "DKG failed: {reason}");
                Report::VaultFailed { vault_id, reason }
            }
            Err(e) => Report::VaultFailed {
                vault_id,
                reason: format!("DKG task: {e}"),
            },
        };
        self.report(report).await;
    }

    fn share_key(vault_id: &str, kt: KeyType) -> String {
        format!("vault/{vault_id}/{}", kt.as_str())
    }

    fn dkg_blocking(
        &self,
        vault_id: &str,
        log_index: u64,
        committee: &[NodeId],
        t: u16,
    ) -> Result<VaultPublicKeys, String> {
        let parties = Self::parties(committee);
        let me = parties[&self.me()];
        let ps: Vec<PartyIndex> = parties.values().copied().collect();
        let cluster = self.inner.cluster.cluster_id().to_string();
        let sid =
            |kt: KeyType| SessionId(ids::dkg_session(&cluster, vault_id, log_index, kt.as_str()));
        let started = std::time::Instant::now();
        // ECDSA (cggmp21 keygen; aux info completes the share at signing time).
        let ek = Self::share_key(vault_id, KeyType::EcdsaSecp256k1);
        let ecdsa_share = match self.load::<cggmp21::IncompleteKeyShare<ecdsa::Secp256k1>>(&ek)? {
            Some(s) => s,
            None => {
                let s = sid(KeyType::EcdsaSecp256k1);
                self.join_once(&s, "DKG")?;
                let mut rng = fresh_rng()?;
                let mut session =
                    ecdsa::keygen(&s, me, &ps, t, &mut rng).map_err(|e| e.to_string())?;
                let mut rng2 = fresh_rng()?;
                let share = self
                    .inner
                    .hub
                    .run(s.0, &parties, &mut session, &mut rng2, DKG_TIMEOUT)
                    .map_err(|e| format!("ECDSA keygen: {e}"))?;
                self.store(&ek, &share)?;
                share
            }
        };
        let (pk, cc) = ecdsa::public_parts(&ecdsa_share);
        let ed = self.frost_dkg::<Ed25519>(
            vault_id,
            KeyType::Ed25519,
            sid(KeyType::Ed25519),
            &parties,
            me,
            &ps,
            t,
        )?;
        let tr = self.frost_dkg::<Secp256k1Tr>(
            vault_id,
            KeyType::Secp256k1Tr,
            sid(KeyType::Secp256k1Tr),
            &parties,
            me,
            &ps,
            t,
        )?;
        tracing::info!(vault = %vault_id, "DKG done in {} ms", started.elapsed().as_millis());
        Ok(VaultPublicKeys {
            ecdsa_public_key: hex::encode(pk),
            ecdsa_chain_code: hex::encode(cc.ok_or("ECDSA key has no chain code")?),
            ed25519_public_key: ed,
            secp256k1_tr_public_key: tr,
        })
    }

    #[allow(clippy::too_many_arguments)]
    fn frost_dkg<C: frost_core::Ciphersuite>(
        &self,
        vault_id: &str,
        kt: KeyType,
        sid: SessionId,
        parties: &BTreeMap<NodeId, PartyIndex>,
        me: PartyIndex,
        ps: &[PartyIndex],
        t: u16,
    ) -> Result<String, String> {
        let key = Self::share_key(vault_id, kt);
        let pkp = match self.load::<(
            frost_core::keys::KeyPackage<C>,
            frost_core::keys::PublicKeyPackage<C>,
        )>(&key)?
        {
            Some((_, pkp)) => pkp,
            None => {
                self.join_once(&sid, "DKG")?;
                let mut session = FrostDkg::<C>::new(sid, me, ps, t, DkgMode::Fresh)
                    .map_err(|e| e.to_string())?;
                let mut rng = fresh_rng()?;
                let out = self
                    .inner
                    .hub
                    .run(sid.0, parties, &mut session, &mut rng, DKG_TIMEOUT)
                    .map_err(|e| format!("{} DKG: {e}", kt.as_str()))?;
                self.store(&key, &(out.key_package, out.public_key_package.clone()))?;
                out.public_key_package
            }
        };
        pkp.verifying_key()
            .serialize()
            .map(hex::encode)
            .map_err(|e| e.to_string())
    }

    /// Records that this node joins session `sid`; an error if it already did (before a
    /// restart): a session is never re-entered with fresh randomness under the same id.
    fn join_once(&self, sid: &SessionId, what: &str) -> Result<(), String> {
        match self.inner.shares.join_session_once(&sid.0) {
            Ok(true) => Ok(()),
            Ok(false) => Err(format!(
                "this node already joined this {what} session (before a restart)"
            )),
            Err(e) => Err(e.to_string()),
        }
    }

    fn store<T: Serialize>(&self, key: &str, value: &T) -> Result<(), String> {
        let bytes = Zeroizing::new(mpc_protocol::encode(value).map_err(|e| e.to_string())?);
        self.inner
            .shares
            .put(key, RecordKind::KeyShare, &bytes)
            .map_err(|e| e.to_string())
    }

    fn load<T: serde::de::DeserializeOwned>(&self, key: &str) -> Result<Option<T>, String> {
        match self
            .inner
            .shares
            .get(key, RecordKind::KeyShare)
            .map_err(|e| e.to_string())?
        {
            Some(b) => mpc_protocol::decode(&b, 4 * 1024 * 1024)
                .map(Some)
                .map_err(|e| e.to_string()),
            None => Ok(None),
        }
    }

    // ----- signing -----

    async fn sign(self, job: SigningJob) {
        self.inner.signing_sessions.fetch_add(1, Ordering::Relaxed);
        let this = self.clone();
        let (rid, attempt) = (job.request_id.clone(), job.attempt);
        let started = std::time::Instant::now();
        let res = tokio::task::spawn_blocking(move || this.sign_blocking(&job)).await;
        let report = match res {
            Ok(Ok(sigs)) => {
                tracing::info!(request = %rid, attempt, "signed in {} ms", started.elapsed().as_millis());
                Report::Signature {
                    request_id: rid,
                    attempt,
                    signatures: sigs.into_iter().map(hex::encode).collect(),
                }
            }
            Ok(Err(e)) => {
                tracing::warn!(request = %rid, attempt, "signing failed: {e}");
                Report::SignFailed {
                    request_id: rid,
                    attempt,
                    reason: e.reason,
                    unresponsive: e.unresponsive,
                }
            }
            Err(e) => Report::SignFailed {
                request_id: rid,
                attempt,
                reason: format!("signing task: {e}"),
                unresponsive: vec![],
            },
        };
        self.report(report).await;
    }

    fn sign_blocking(&self, job: &SigningJob) -> Result<Vec<Vec<u8>>, RunError> {
        let err = |reason: String| RunError {
            reason,
            unresponsive: vec![],
        };
        let committee = self.committee();
        let all = Self::parties(&committee);
        let parties: BTreeMap<NodeId, PartyIndex> =
            job.signers.iter().map(|n| (*n, all[n])).collect();
        let me = parties
            .get(&self.me())
            .copied()
            .ok_or_else(|| err("not a signer".into()))?;
        let ps: Vec<PartyIndex> = parties.values().copied().collect();
        // This node joins each signing session once, ever: a restart does not re-enter it.
        self.join_once(&SessionId(job.session_id), "signing")
            .map_err(err)?;
        // Every pool presignature of this attempt leaves the share store (flushed) before any
        // partial signature is issued, so none can be used twice whatever happens next.
        let mut presigs = job
            .presignatures
            .iter()
            .map(|(seq, key)| self.take_presignature(*seq, key).map(Some))
            .collect::<Result<Vec<_>, String>>()
            .map_err(err)?;
        if !presigs.is_empty() && presigs.len() != job.messages.len() {
            return Err(err("one presignature per message is needed".into()));
        }
        let mut out = Vec::with_capacity(job.messages.len());
        for (i, msg) in job.messages.iter().enumerate() {
            let sid = SessionId(ids::sign_message_session(
                self.inner.cluster.cluster_id(),
                &job.session_id,
                i as u32,
            ));
            let sig = match (job.key_type, msg) {
                (KeyType::EcdsaSecp256k1, ToSign::Ecdsa(digest)) if !presigs.is_empty() => {
                    let presig = presigs
                        .get_mut(i)
                        .and_then(Option::take)
                        .ok_or_else(|| err("no presignature for this message".into()))?;
                    self.sign_ecdsa_presig(job, presig, sid, &parties, me, &ps, digest)?
                }
                (KeyType::EcdsaSecp256k1, ToSign::Ecdsa(digest)) => {
                    self.sign_ecdsa(job, sid, &parties, me, &ps, &committee, digest)?
                }
                (KeyType::Ed25519, m) => {
                    self.sign_frost::<Ed25519>(job, sid, &parties, me, &ps, &m.message())?
                }
                (KeyType::Secp256k1Tr, m) => {
                    self.sign_frost::<Secp256k1Tr>(job, sid, &parties, me, &ps, &m.message())?
                }
                _ => return Err(err("message kind does not match the key type".into())),
            };
            out.push(sig);
        }
        Ok(out)
    }

    /// Takes pool presignature `seq` out of the share store (a flushed delete).
    fn take_presignature(&self, seq: u64, key: &str) -> Result<ecdsa::BoundPresignature, String> {
        let bytes = self
            .inner
            .shares
            .take(key, RecordKind::Presignature)
            .map_err(|e| e.to_string())?
            .ok_or_else(|| format!("presignature {seq} is not in this node's store"))?;
        let stored: ecdsa::StoredPresignature =
            mpc_protocol::decode(&bytes, 64 * 1024).map_err(|e| e.to_string())?;
        Ok(ecdsa::BoundPresignature::from_stored(stored))
    }

    /// Online signing with a pool presignature (already out of the share store): one round.
    #[allow(clippy::too_many_arguments)]
    fn sign_ecdsa_presig(
        &self,
        job: &SigningJob,
        presig: ecdsa::BoundPresignature,
        sid: SessionId,
        parties: &BTreeMap<NodeId, PartyIndex>,
        me: PartyIndex,
        ps: &[PartyIndex],
        digest: &ecdsa::MessageDigest,
    ) -> Result<Vec<u8>, RunError> {
        let err = |reason: String| RunError {
            reason,
            unresponsive: vec![],
        };
        let path =
            keys::ecdsa_path(job.chain, job.network, job.index).map_err(|e| err(e.to_string()))?;
        let mut session = EcdsaPresigSign::new(
            sid,
            me,
            ps,
            presig,
            &presig_key_id(&job.vault_id, job.chain, job.network, job.index),
            &path,
            *digest,
            &job.wallet.public_key,
        )
        .map_err(|e| err(e.to_string()))?;
        let mut rng = fresh_rng().map_err(err)?;
        let sig = self
            .inner
            .hub
            .run(sid.0, parties, &mut session, &mut rng, SIGN_TIMEOUT)?;
        Ok(ecdsa::signature_bytes(&sig))
    }

    /// Removes the presignatures an attempt consumed in the log (this node will not use them).
    fn discard_presignatures(&self, request_id: &str, attempt: u32) {
        let keys = self.inner.cluster.read_state(|s| {
            let Some(r) = s.request(request_id) else {
                return Vec::new();
            };
            r.attempts
                .iter()
                .filter(|a| a.attempt == attempt)
                .flat_map(|a| a.presignatures.iter())
                .map(|seq| presig_store_key(&r.wallet_id, *seq))
                .collect::<Vec<_>>()
        });
        for key in keys.unwrap_or_default() {
            if let Err(e) = self.inner.shares.take(&key, RecordKind::Presignature) {
                tracing::warn!("discarding presignature {key}: {e}");
            }
        }
    }

    // ----- presignature pool -----

    async fn presign(self, w: PresignWork) {
        let this = self.clone();
        let (wallet_id, seq) = (w.wallet_id.clone(), w.seq);
        let started = std::time::Instant::now();
        let res = tokio::task::spawn_blocking(move || this.presign_blocking(&w)).await;
        let report = match res {
            Ok(Ok(())) => {
                tracing::info!(wallet = %wallet_id, seq, "presignature stored in {} ms", started.elapsed().as_millis());
                Report::PresigReady { wallet_id, seq }
            }
            Ok(Err(reason)) => {
                tracing::warn!(wallet = %wallet_id, seq, "presigning failed: {reason}");
                Report::PresigFailed {
                    wallet_id,
                    seq,
                    reason,
                }
            }
            Err(e) => Report::PresigFailed {
                wallet_id,
                seq,
                reason: format!("presigning task: {e}"),
            },
        };
        self.report(report).await;
    }

    fn presign_blocking(&self, w: &PresignWork) -> Result<(), String> {
        // Already made (restart before the report was committed): report it again.
        if self
            .inner
            .shares
            .get(&w.store_key, RecordKind::Presignature)
            .map_err(|e| e.to_string())?
            .is_some()
        {
            return Ok(());
        }
        // Joined once, ever: a presigning session interrupted by a restart is reported failed
        // (the pool schedules a new sequence number) rather than re-entered.
        self.join_once(&SessionId(w.sid), "presigning")?;
        let committee = self.committee();
        let all = Self::parties(&committee);
        let parties: BTreeMap<NodeId, PartyIndex> =
            w.signers.iter().map(|n| (*n, all[n])).collect();
        let me = *parties.get(&self.me()).ok_or("not a pool signer")?;
        let ps: Vec<PartyIndex> = parties.values().copied().collect();
        let share = self.complete_ecdsa_share(&w.vault_id)?;
        let keygen_indices = Self::keygen_indices(&parties, &committee)?;
        let path = keys::ecdsa_path(w.chain, w.network, w.index).map_err(|e| e.to_string())?;
        let sid = SessionId(w.sid);
        let mut rng = fresh_rng()?;
        let mut session = ecdsa::presign(&sid, me, &ps, &keygen_indices, &share, &path, &mut rng)
            .map_err(|e| e.to_string())?;
        let mut rng2 = fresh_rng()?;
        let presig = self
            .inner
            .hub
            .run(sid.0, &parties, &mut session, &mut rng2, PRESIGN_TIMEOUT)
            .map_err(|e| format!("presigning: {e}"))?;
        let key_id = presig_key_id(&w.vault_id, w.chain, w.network, w.index);
        let stored = ecdsa::BoundPresignature::new(&key_id, &path, presig).into_stored();
        let bytes = Zeroizing::new(mpc_protocol::encode(&stored).map_err(|e| e.to_string())?);
        self.inner
            .shares
            .put(&w.store_key, RecordKind::Presignature, &bytes)
            .map_err(|e| e.to_string())
    }

    /// This node's complete ECDSA key share of `vault_id` (its keygen share and the committee's
    /// aux info, waiting up to `AUX_WAIT` for the latter).
    fn complete_ecdsa_share(&self, vault_id: &str) -> Result<ecdsa::EcdsaKeyShare, String> {
        let waited = std::time::Instant::now();
        let aux: EcdsaAuxInfo = loop {
            match self
                .inner
                .shares
                .get(AUX_KEY, RecordKind::AuxInfo)
                .map_err(|e| e.to_string())?
            {
                Some(b) => {
                    break mpc_protocol::decode(&b, 4 * 1024 * 1024).map_err(|e| e.to_string())?
                }
                None if waited.elapsed() < AUX_WAIT => {
                    std::thread::sleep(Duration::from_millis(250))
                }
                None => return Err("ECDSA aux info is not ready".into()),
            }
        };
        let incomplete: cggmp21::IncompleteKeyShare<ecdsa::Secp256k1> = self
            .load(&Self::share_key(vault_id, KeyType::EcdsaSecp256k1))?
            .ok_or("no ECDSA share for this vault")?;
        ecdsa::complete(incomplete, aux).map_err(|e| e.to_string())
    }

    /// Keygen-time (0-based) indices of the signers, in signer order.
    fn keygen_indices(
        parties: &BTreeMap<NodeId, PartyIndex>,
        committee: &[NodeId],
    ) -> Result<Vec<u16>, String> {
        parties
            .keys()
            .map(|n| committee.iter().position(|c| c == n).map(|i| i as u16))
            .collect::<Option<_>>()
            .ok_or_else(|| "signer outside the committee".to_string())
    }

    #[allow(clippy::too_many_arguments)]
    fn sign_ecdsa(
        &self,
        job: &SigningJob,
        sid: SessionId,
        parties: &BTreeMap<NodeId, PartyIndex>,
        me: PartyIndex,
        ps: &[PartyIndex],
        committee: &[NodeId],
        digest: &ecdsa::MessageDigest,
    ) -> Result<Vec<u8>, RunError> {
        let err = |reason: String| RunError {
            reason,
            unresponsive: vec![],
        };
        let share = self.complete_ecdsa_share(&job.vault_id).map_err(err)?;
        let keygen_indices = Self::keygen_indices(parties, committee).map_err(err)?;
        let path =
            keys::ecdsa_path(job.chain, job.network, job.index).map_err(|e| err(e.to_string()))?;
        let mut rng = fresh_rng().map_err(err)?;
        let mut session = ecdsa::sign(
            &sid,
            me,
            ps,
            &keygen_indices,
            &share,
            &path,
            digest,
            &mut rng,
        )
        .map_err(|e| err(e.to_string()))?;
        let mut rng2 = fresh_rng().map_err(err)?;
        let sig =
            self.inner
                .hub
                .run(sid.0, parties, &mut session, &mut rng2, ECDSA_SIGN_TIMEOUT)?;
        Ok(ecdsa::signature_bytes(&sig))
    }

    fn sign_frost<C: frost_core::Ciphersuite>(
        &self,
        job: &SigningJob,
        sid: SessionId,
        parties: &BTreeMap<NodeId, PartyIndex>,
        me: PartyIndex,
        ps: &[PartyIndex],
        message: &[u8],
    ) -> Result<Vec<u8>, RunError> {
        let err = |reason: String| RunError {
            reason,
            unresponsive: vec![],
        };
        let (kp, pkp): (
            frost_core::keys::KeyPackage<C>,
            frost_core::keys::PublicKeyPackage<C>,
        ) = self
            .load(&Self::share_key(&job.vault_id, job.key_type))
            .map_err(err)?
            .ok_or_else(|| err("no FROST share for this vault".into()))?;
        let gk = pkp
            .verifying_key()
            .serialize()
            .map_err(|e| err(e.to_string()))?;
        let t = keys::frost_tweak::<C>(job.key_type, &gk, job.chain, job.network, job.index)
            .map_err(|e| err(e.to_string()))?;
        let (kp, pkp) = keys::frost_tweak_packages(&kp, &pkp, t);
        let mut session = FrostSignOnline::<C>::new(sid, me, ps, kp, pkp, message)
            .map_err(|e| err(e.to_string()))?;
        let mut rng = fresh_rng().map_err(err)?;
        let sig = self
            .inner
            .hub
            .run(sid.0, parties, &mut session, &mut rng, SIGN_TIMEOUT)?;
        let _ = frost::identifier::<C>;
        sig.serialize().map_err(|e| err(e.to_string()))
    }

    /// TEST BUILDS ONLY: treat every pending request as approved and try to sign it with no
    /// check (see [`crate::forge`]).
    #[cfg(feature = "forge-for-tests")]
    fn forge_scan(&self) {
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
            if !self.first_start(format!("forge/{rid}")) {
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
                let res = tokio::task::spawn_blocking(move || this.sign_blocking(&job)).await;
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
}
