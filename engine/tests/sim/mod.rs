//! A deterministic multi-node simulator: N × (custody state + engine + real FROST sessions) over
//! a seeded in-memory network and log sequencer, with injected clock and RNG.
//!
//! - **Log sequencer**: stands in for Raft's guarantee (one total order of committed entries).
//!   Proposals travel to it over the faulty network; it stamps each with the simulated clock and
//!   appends it; each live node applies the committed log in order, after its own delay.
//! - **Sessions**: FROST DKG (ed25519, secp256k1-tr) and FROST ed25519 signing run as the real
//!   `mpc_protocol` sessions; their messages travel over the same faulty network.
//! - **Faults**: message drop, delay, duplication and reordering (random delays), partitions,
//!   crash and restart (engine, sessions and unapplied inputs lost; the share store — key
//!   packages and the set of sessions joined — survives; state rebuilt by replaying the log), and
//!   a Byzantine node that answers every session message with garbage.
//!
//! - **ECDSA** (aux info, presigning, signing) runs as an ideal functionality (`ecdsa.rs`): a
//!   trusted party completes a session once every party joined it and can reach the others;
//!   everything around the session — ids, joined-once, aux info per attempt, presignatures
//!   stored and taken out once, reports — is the engine's and the share store's real
//!   behaviour. Vaults carry a fixed ECDSA key (`G`) whose wallet secrets the ideal signer
//!   derives, so ECDSA signatures verify. cggmp21 itself is covered by protocol tests and the
//!   e2e tests against real nodes.
//!
//! The change feed overflows now and then (the engine then looks at every record once).
//!
//! Everything is ordered (BTreeMap, sorted vectors) and every random choice comes from one
//! ChaCha20 stream seeded by the seed, so a seed replays exactly: `MPC_SIM_SEED=<n>`.

#![allow(dead_code, clippy::unwrap_used, clippy::large_enum_variant)]

mod ecdsa;
pub use ecdsa::Taken;

use ed25519_dalek::{Signer, SigningKey};
use frost_core::keys::{KeyPackage, PublicKeyPackage};
use mpc_custody::command::{Action as Cmd, CommandBody, SignedCommand};
use mpc_custody::entry::{LogCommand, Proposal};
use mpc_custody::state::{CustodyState, EntryContext, GenesisParams, RecordKey};
use mpc_custody::types::{OrgId, Role, UserId, UserKey};
use mpc_custody::{PolicyRules, Report, ReportBody, Request, RequestStatus, SignedReport};
use mpc_engine::{
    Action, Changed, DeliveryOutcome, Engine, Input, Job, SessionOutcome, SessionSpec,
};
use mpc_protocol::chain::keys::{self, VaultPublicKeys};
use mpc_protocol::chain::{Chain, KeyType, Network};
use mpc_protocol::frost::dkg::{DkgMode, FrostDkg};
use mpc_protocol::frost::online::FrostSignOnline;
use mpc_protocol::frost::{Ed25519, Secp256k1Tr};
use mpc_protocol::session::{Outgoing, PartyIndex, Recipient, Session, SessionError, Step};
use rand_chacha::ChaCha20Rng;
use rand_core::{RngCore, SeedableRng};
use std::collections::{BTreeMap, BTreeSet, VecDeque};

pub type NodeId = u64;

pub const CLUSTER: &str = "sim-cluster";
/// Idle timeout of a simulated session (sim ms).
pub const SESSION_IDLE_MS: u64 = 5_000;
/// Time after which an unanswered proposal is reported not committed (sim ms).
pub const PROPOSAL_TIMEOUT_MS: u64 = 2_000;
/// Simulated time step (ms).
pub const TICK_MS: u64 = 10;

/// Fault settings of one run.
#[derive(Debug, Clone)]
pub struct Faults {
    /// Per-message drop probability, percent.
    pub drop_pct: u32,
    /// Per-message duplication probability, percent.
    pub dup_pct: u32,
    /// Largest random delay of a message or proposal, ms (reordering comes from it).
    pub max_delay_ms: u64,
    /// Largest delay before a node applies a committed entry, ms.
    pub max_apply_lag_ms: u64,
    /// Node that answers session messages with garbage.
    pub byzantine: Option<NodeId>,
}

impl Faults {
    /// Faults drawn from the seed.
    pub fn from_rng(rng: &mut ChaCha20Rng) -> Self {
        Faults {
            drop_pct: rng.next_u32() % 3,
            dup_pct: rng.next_u32() % 5,
            max_delay_ms: 1 + u64::from(rng.next_u32() % 200),
            max_apply_lag_ms: u64::from(rng.next_u32() % 300),
            byzantine: None,
        }
    }
}

/// A running session of a node.
enum Sess {
    DkgEd(FrostDkg<Ed25519>),
    DkgTr(FrostDkg<Secp256k1Tr>),
    SignEd(FrostSignOnline<Ed25519>),
}

struct Run {
    job: Job,
    spec: SessionSpec,
    /// Stage: DKG 0 = ed25519, 1 = secp256k1-tr; signing = message index.
    stage: usize,
    sid: [u8; 32],
    sess: Sess,
    parties: BTreeMap<NodeId, PartyIndex>,
    heard: BTreeSet<NodeId>,
    last_activity_ms: u64,
    ed_key: Option<String>,
    sigs: Vec<String>,
}

/// A share in the simulated store: (vault, share generation).
pub type ShareId = (mpc_custody::types::VaultId, u64);

/// What survives a crash: the share store.
#[derive(Default)]
pub struct Store {
    pub ed: BTreeMap<ShareId, (KeyPackage<Ed25519>, PublicKeyPackage<Ed25519>)>,
    pub tr: BTreeMap<ShareId, (KeyPackage<Secp256k1Tr>, PublicKeyPackage<Secp256k1Tr>)>,
    /// Every share generation this node deleted, with the generation its state had in force
    /// at that moment.
    pub deleted: Vec<(ShareId, u64)>,
    /// Every session id this node joined, ever.
    pub joined: BTreeSet<[u8; 32]>,
    /// Every time it joined one (a second join of an id would be a nonce reuse).
    pub join_log: Vec<[u8; 32]>,
    /// Aux-info attempts stored (ideal ECDSA).
    pub aux: BTreeSet<u32>,
    /// Presignatures stored, by share-store key (ideal ECDSA).
    pub presigs: BTreeSet<String>,
    /// Every presignature taken out for a signing attempt.
    pub taken: Vec<Taken>,
}

pub struct Node {
    pub id: NodeId,
    key: SigningKey,
    pub up: bool,
    pub state: CustodyState,
    /// Log entries applied (= applied index).
    pub applied: usize,
    engine: Engine,
    runs: BTreeMap<[u8; 32], Run>,
    /// Session messages that arrived before their session started here (bounded).
    early: BTreeMap<[u8; 32], Vec<(NodeId, Vec<u8>)>>,
    pub store: Store,
    wake_at: Option<u64>,
    /// Delivery ids of proposals in flight: (log index once appended, deadline).
    proposals: BTreeMap<u64, (Option<usize>, u64)>,
    inputs: VecDeque<Input>,
    /// When the next committed entry may be applied.
    apply_at: u64,
    /// Sign sessions this node started: (request, attempt).
    pub signs_started: Vec<(mpc_custody::types::RequestId, u32)>,
    /// Restarts so far.
    pub incarnation: u32,
    /// Every session the engine asked this node to start: (incarnation, session id).
    pub starts: Vec<(u32, [u8; 32])>,
    /// For each ECDSA signing session started: whether this node's state showed aux info
    /// complete at that moment.
    pub ecdsa_sign_starts: Vec<bool>,
}

enum Net {
    Session {
        to: NodeId,
        from: NodeId,
        sid: [u8; 32],
        bytes: Vec<u8>,
    },
    Proposal {
        from: NodeId,
        id: u64,
        proposal: Proposal,
    },
}

pub struct Sim {
    pub seed: u64,
    rng: ChaCha20Rng,
    pub now_ms: u64,
    pub nodes: Vec<Node>,
    pub log: Vec<LogCommand>,
    /// Proposal (node, delivery id) of each log entry, if a node's.
    log_origin: Vec<Option<(NodeId, u64)>>,
    net: BTreeMap<(u64, u64), Net>,
    net_seq: u64,
    pub faults: Faults,
    /// Nodes cut off from everyone (messages and the sequencer).
    pub partitioned: BTreeSet<NodeId>,
    pub genesis: GenesisParams,
    users: BTreeMap<u8, SigningKey>,
    idem: u64,
    /// State hash of each node at each applied index it reached: index → (node → hash).
    pub hashes: BTreeMap<usize, BTreeMap<NodeId, [u8; 32]>>,
    /// The sequencer's own replica: the whole log applied (what a caught-up node holds).
    reference: CustodyState,
    /// ECDSA sessions in flight (ideal functionality, `ecdsa.rs`).
    ideal: ecdsa::Ideal,
    /// The nodes were told the network formed (aux info may run).
    pub formed: bool,
}

fn user_key(seed: u8) -> SigningKey {
    SigningKey::from_bytes(&[seed; 32])
}

fn node_key(n: NodeId) -> SigningKey {
    SigningKey::from_bytes(&[100 + n as u8; 32])
}

/// Node `n`'s signed report.
pub fn signed_report(n: NodeId, report: Report) -> SignedReport {
    let body = serde_json::to_string(&ReportBody {
        cluster: CLUSTER.into(),
        report,
    })
    .unwrap();
    let sig = node_key(n).sign(&mpc_custody::report_message(&body));
    SignedReport {
        node_id: n,
        body,
        signature: hex::encode(sig.to_bytes()),
    }
}

pub fn pk(k: &SigningKey) -> UserKey {
    UserKey(k.verifying_key().to_bytes())
}

/// The simulated vault's policy: 2 of a1, a2, a3, with an optional request time-to-live.
fn two_of_three(request_ttl_secs: Option<u64>) -> PolicyRules {
    PolicyRules {
        approvers: ["a1", "a2", "a3"]
            .iter()
            .map(|u| UserId(u.to_string()))
            .collect(),
        threshold: 2,
        whitelist_required: false,
        limits: vec![],
        auto_approve: vec![],
        max_fee: vec![],
        allowed_calls: vec![],
        request_ttl_secs,
    }
}

/// A fixed ECDSA public key (`G`, secret key 1) and chain code (zero) for simulated vaults: the
/// ideal ECDSA signer (`ecdsa.rs`) derives the wallet secrets from them.
fn ecdsa_placeholder() -> (String, String) {
    (
        "0279be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798".into(),
        "00".repeat(32),
    )
}

impl Sim {
    /// A network of `n` nodes with threshold `t`.
    pub fn new(seed: u64, n: u64, t: u16) -> Self {
        let mut rng = ChaCha20Rng::seed_from_u64(seed);
        let faults = Faults::from_rng(&mut rng);
        let admin = user_key(1);
        let genesis = GenesisParams {
            cluster_id: CLUSTER.into(),
            admins: [pk(&admin)].into_iter().collect(),
            nodes: (1..=n).map(|i| (i, pk(&node_key(i)))).collect(),
            threshold: t,
        };
        let nodes = (1..=n)
            .map(|id| {
                let state = CustodyState::new(genesis.clone());
                let engine = Engine::new(id, &state);
                Node {
                    id,
                    key: node_key(id),
                    up: true,
                    state,
                    applied: 0,
                    engine,
                    runs: BTreeMap::new(),
                    early: BTreeMap::new(),
                    store: Store::default(),
                    wake_at: None,
                    proposals: BTreeMap::new(),
                    inputs: VecDeque::from([Input::Applied(Changed::All), Input::NetworkFormed]),
                    apply_at: 0,
                    signs_started: Vec::new(),
                    ecdsa_sign_starts: Vec::new(),
                    incarnation: 0,
                    starts: Vec::new(),
                }
            })
            .collect();
        let users = [1u8, 11, 12, 13, 20]
            .into_iter()
            .map(|s| (s, user_key(s)))
            .collect();
        Sim {
            seed,
            rng,
            now_ms: 1_000_000,
            nodes,
            log: Vec::new(),
            log_origin: Vec::new(),
            net: BTreeMap::new(),
            net_seq: 0,
            faults,
            partitioned: BTreeSet::new(),
            genesis: genesis.clone(),
            users,
            idem: 0,
            hashes: BTreeMap::new(),
            reference: CustodyState::new(genesis),
            ideal: ecdsa::Ideal::default(),
            formed: true,
        }
    }

    pub fn rand_below(&mut self, n: u64) -> u64 {
        if n == 0 {
            0
        } else {
            self.rng.next_u64() % n
        }
    }

    fn percent(&mut self, p: u32) -> bool {
        self.rand_below(100) < u64::from(p)
    }

    fn send(&mut self, msg: Net) {
        let delay = 1 + self.rand_below(self.faults.max_delay_ms);
        self.net_seq += 1;
        self.net.insert((self.now_ms + delay, self.net_seq), msg);
    }

    // ----- users -----

    /// Appends a user's signed command directly to the log (users talk to a healthy node).
    pub fn user(&mut self, who: u8, action: Cmd) {
        self.idem += 1;
        let body = CommandBody {
            cluster: CLUSTER.into(),
            idempotency_key: format!("k{}", self.idem),
            action,
        };
        let key = self.users.get(&who).unwrap().clone();
        let cmd = SignedCommand::sign(&body, &key).unwrap();
        self.append(Proposal::User(cmd), None);
    }

    fn append(&mut self, proposal: Proposal, origin: Option<(NodeId, u64)>) {
        let entry = LogCommand {
            proposed_at_ms: self.now_ms,
            proposal,
        };
        self.reference.apply(
            EntryContext {
                log_index: self.log.len() as u64 + 1,
            },
            &entry,
        );
        let _ = self.reference.take_dirty();
        let _ = self.reference.take_request_changes();
        self.log.push(entry);
        self.log_origin.push(origin);
    }

    /// The organisation, members, a vault and a 2-of-3 policy; returns nothing (check with
    /// [`Sim::vault_active`]).
    pub fn setup_org(&mut self) {
        let org = OrgId("acme".into());
        self.user(
            1,
            Cmd::OrgCreate {
                org_id: org.clone(),
                name: "Acme".into(),
                admin_user_id: UserId("admin".into()),
                admin_public_key: None,
            },
        );
        for (u, k, r) in [
            ("a1", 11u8, Role::Approver),
            ("a2", 12, Role::Approver),
            ("a3", 13, Role::Approver),
            ("ini", 20, Role::Initiator),
        ] {
            let public_key = pk(self.users.get(&k).unwrap());
            self.user(
                1,
                Cmd::MemberAdd {
                    org_id: org.clone(),
                    user_id: UserId(u.into()),
                    public_key,
                    roles: vec![r],
                },
            );
        }
        self.user(
            1,
            Cmd::VaultCreate {
                org_id: org,
                vault_id: "v1".into(),
                name: "Vault".into(),
            },
        );
    }

    /// The organisation and its vault, DKG run on a quiet network (a vault whose DKG fails stays
    /// failed — there is no DKG retry in the state machine yet — and the real session transport
    /// is a reliable channel); then the wallet and policy, and the seed's faults come back.
    pub fn setup_vault(&mut self) {
        let faults = std::mem::replace(
            &mut self.faults,
            Faults {
                drop_pct: 0,
                dup_pct: 0,
                max_delay_ms: 20,
                max_apply_lag_ms: 20,
                byzantine: None,
            },
        );
        self.setup_org();
        let seed = self.seed;
        assert!(
            self.run_until(60_000, |s| s.vault_active()),
            "seed {seed}: the vault never became active: {}",
            self.summary()
        );
        self.setup_wallet();
        self.run_for(200);
        self.faults = faults;
    }

    /// After the vault is active: a Solana wallet and the 2-of-3 policy.
    pub fn setup_wallet(&mut self) {
        let org = OrgId("acme".into());
        self.user(
            1,
            Cmd::WalletCreate {
                org_id: org.clone(),
                vault_id: "v1".into(),
                chain: Chain::Solana,
                network: Network::Testnet,
                index: 0,
                chain_id: None,
            },
        );
        self.user(
            1,
            Cmd::PolicySet {
                org_id: org,
                vault_id: "v1".into(),
                rules: two_of_three(None),
            },
        );
    }

    /// Replaces v1's policy by the 2-of-3 one with a request time-to-live of `secs`.
    #[allow(dead_code)]
    pub fn set_request_ttl(&mut self, secs: u64) {
        self.user(
            1,
            Cmd::PolicySet {
                org_id: OrgId("acme".into()),
                vault_id: "v1".into(),
                rules: two_of_three(Some(secs)),
            },
        );
    }

    /// A wallet of `chain` on `network` (index 0) in vault v1.
    pub fn create_wallet(&mut self, chain: Chain, network: Network) {
        self.user(
            1,
            Cmd::WalletCreate {
                org_id: OrgId("acme".into()),
                vault_id: "v1".into(),
                chain,
                network,
                index: 0,
                chain_id: None,
            },
        );
    }

    /// A request on `wallet_id` with `payload` (hex), submitted by the initiator.
    pub fn submit_to(&mut self, wallet_id: &str, payload: String) {
        self.user(
            20,
            Cmd::RequestSubmit {
                org_id: OrgId("acme".into()),
                wallet_id: wallet_id.into(),
                payload,
                extras: Default::default(),
            },
        );
    }

    /// The wallet's public key (as the healthiest node sees it).
    pub fn wallet_pk(&self) -> Option<Vec<u8>> {
        let s = self.reference_state();
        s.wallets(None)
            .next()
            .and_then(|w| hex::decode(&w.public_key).ok())
    }

    /// A Solana transfer of `lamports` from the wallet, submitted by the initiator.
    pub fn submit(&mut self, lamports: u64) {
        let wpk = self.wallet_pk().unwrap();
        let wallet_id = self
            .reference_state()
            .wallets(None)
            .next()
            .unwrap()
            .wallet_id
            .clone();
        self.user(
            20,
            Cmd::RequestSubmit {
                org_id: OrgId("acme".into()),
                wallet_id,
                payload: sol_transfer(&wpk, &[8u8; 32], lamports),
                extras: Default::default(),
            },
        );
    }

    /// Runs until request `rid` satisfies `done` in the reference state (up to 60 s of simulated
    /// time); panics naming `what` otherwise.
    #[allow(dead_code)]
    pub fn run_until_request(&mut self, rid: &str, what: &str, done: impl Fn(&Request) -> bool) {
        assert!(
            self.run_until(60_000, |s| s
                .reference_state()
                .request(rid)
                .is_some_and(&done)),
            "request {rid} never {what}: {}",
            self.summary()
        );
    }

    /// `who` approves request `rid` with the digest the reference state shows.
    pub fn approve(&mut self, who: u8, rid: &str) {
        let digest = self
            .reference_state()
            .request(rid)
            .unwrap()
            .intent_digest
            .clone();
        self.user(
            who,
            Cmd::RequestApprove {
                org_id: OrgId("acme".into()),
                request_id: rid.into(),
                intent_digest: digest,
            },
        );
    }

    /// `state` after every node reported that it stored aux-info attempt `attempt` (the
    /// simulator runs no ECDSA; this stands for a completed aux-info run).
    pub fn with_aux_ready(&self, state: &CustodyState, attempt: u32) -> CustodyState {
        let mut s = state.clone();
        for n in self.genesis.nodes.keys() {
            let proposal = Proposal::Node(signed_report(*n, Report::AuxReady { attempt }));
            let entry = LogCommand {
                proposed_at_ms: self.now_ms,
                proposal,
            };
            let log_index = self.log.len() as u64 + 1 + n;
            let out = s.apply(EntryContext { log_index }, &entry);
            assert!(
                out.error.is_none(),
                "aux_ready from node {n}: {:?}",
                out.error
            );
        }
        let _ = s.take_dirty();
        s
    }

    /// The state of a node that applied the whole log.
    pub fn reference_state(&self) -> &CustodyState {
        &self.reference
    }

    pub fn requests(&self) -> Vec<Request> {
        self.reference_state().requests(None).cloned().collect()
    }

    pub fn vault_active(&self) -> bool {
        self.reference_state()
            .vault("v1")
            .is_some_and(|v| v.status == mpc_custody::VaultStatus::Active)
    }

    /// A one-paragraph summary for failure messages.
    pub fn summary(&self) -> String {
        let mut out = format!("t={} log={} ", self.now_ms, self.log.len());
        for n in &self.nodes {
            out += &format!(
                "[node {} up={} applied={} runs={} jobs={:?} reports={}] ",
                n.id,
                n.up,
                n.applied,
                n.runs.len(),
                n.engine.jobs(),
                n.engine.pending_reports()
            );
        }
        if let Some(v) = self.reference.vault("v1") {
            out += &format!(
                "vault {:?} reports from {:?}",
                v.status,
                v.reports.keys().collect::<Vec<_>>()
            );
        }
        out
    }

    /// A network whose nodes are not yet told it formed (aux info waits): see
    /// [`Sim::form_network`].
    pub fn new_unformed(seed: u64, n: u64, t: u16) -> Self {
        let mut sim = Sim::new(seed, n, t);
        sim.formed = false;
        for node in &mut sim.nodes {
            node.inputs.retain(|i| *i != Input::NetworkFormed);
        }
        sim
    }

    /// Tells every live node the network formed.
    pub fn form_network(&mut self) {
        self.formed = true;
        for node in self.nodes.iter_mut().filter(|n| n.up) {
            node.inputs.push_back(Input::NetworkFormed);
        }
    }

    // ----- faults -----

    pub fn crash(&mut self, node: NodeId) {
        let n = &mut self.nodes[(node - 1) as usize];
        n.up = false;
        n.runs.clear();
        n.early.clear();
        n.inputs.clear();
        n.proposals.clear();
        n.wake_at = None;
    }

    /// Restarts a crashed node: state replayed from the log it had applied, a fresh engine.
    pub fn restart(&mut self, node: NodeId) {
        let genesis = self.genesis.clone();
        let formed = self.formed;
        let n = &mut self.nodes[(node - 1) as usize];
        let mut state = CustodyState::new(genesis);
        for (i, e) in self.log.iter().take(n.applied).enumerate() {
            state.apply(
                EntryContext {
                    log_index: i as u64 + 1,
                },
                e,
            );
        }
        n.state = state;
        n.engine = Engine::new(node, &n.state);
        n.inputs = VecDeque::from([Input::Applied(Changed::All)]);
        if formed {
            n.inputs.push_back(Input::NetworkFormed);
        }
        n.incarnation += 1;
        n.up = true;
    }

    // ----- the run loop -----

    /// Advances simulated time by `ms`.
    pub fn run_for(&mut self, ms: u64) {
        let end = self.now_ms + ms;
        while self.now_ms < end {
            self.now_ms += TICK_MS;
            self.deliver_network();
            self.ideal_turn();
            for i in 0..self.nodes.len() {
                self.node_turn(i);
            }
        }
    }

    /// Runs until `done` holds or `max_ms` of simulated time passed; true if it held.
    pub fn run_until(&mut self, max_ms: u64, done: impl Fn(&Sim) -> bool) -> bool {
        let end = self.now_ms + max_ms;
        while self.now_ms < end {
            self.run_for(100);
            if done(self) {
                return true;
            }
        }
        false
    }

    fn cut(&self, a: NodeId, b: NodeId) -> bool {
        self.partitioned.contains(&a) != self.partitioned.contains(&b)
    }

    fn deliver_network(&mut self) {
        let due: Vec<(u64, u64)> = self
            .net
            .range(..(self.now_ms + 1, 0))
            .map(|(k, _)| *k)
            .collect();
        for k in due {
            let Some(msg) = self.net.remove(&k) else {
                continue;
            };
            match msg {
                Net::Session {
                    to,
                    from,
                    sid,
                    bytes,
                } => {
                    let n = &mut self.nodes[(to - 1) as usize];
                    if !n.up || self.partitioned.contains(&to) != self.partitioned.contains(&from) {
                        continue;
                    }
                    let q = n.early.entry(sid).or_default();
                    if q.len() < 64 {
                        q.push((from, bytes));
                    }
                }
                Net::Proposal { from, id, proposal } => {
                    // The sequencer sits with the majority side of a partition.
                    if self.partitioned.contains(&from) {
                        continue;
                    }
                    self.append(proposal, Some((from, id)));
                }
            }
        }
    }

    fn node_turn(&mut self, i: usize) {
        if !self.nodes[i].up {
            return;
        }
        let id = self.nodes[i].id;
        let now = self.now_ms;
        // Apply committed entries, one per turn, after this node's lag.
        let cut_off = self.partitioned.contains(&id);
        if !cut_off && self.nodes[i].applied < self.log.len() && now >= self.nodes[i].apply_at {
            let idx = self.nodes[i].applied;
            let entry = self.log[idx].clone();
            let origin = self.log_origin[idx];
            let lag = self.rand_below(self.faults.max_apply_lag_ms + 1);
            // Now and then the change feed overflows and the engine looks at everything.
            let overflow = self.percent(5);
            let n = &mut self.nodes[i];
            n.state.apply(
                EntryContext {
                    log_index: idx as u64 + 1,
                },
                &entry,
            );
            n.applied += 1;
            n.apply_at = now + lag;
            let dirty: Vec<RecordKey> = n.state.take_dirty().into_iter().collect();
            let _ = n.state.take_request_changes();
            n.inputs.push_back(Input::Applied(Changed::Keys(dirty)));
            if overflow {
                n.inputs.push_back(Input::Applied(Changed::All));
            }
            if let Some((from, did)) = origin {
                if from == id && n.proposals.remove(&did).is_some() {
                    n.inputs.push_back(Input::Delivered {
                        id: did,
                        outcome: DeliveryOutcome::Applied,
                    });
                }
            }
            let h = state_hash(&n.state);
            self.hashes.entry(n.applied).or_default().insert(id, h);
        }
        // Proposals that never made it.
        let n = &mut self.nodes[i];
        let lost: Vec<u64> = n
            .proposals
            .iter()
            .filter(|(_, (_, deadline))| *deadline <= now)
            .map(|(k, _)| *k)
            .collect();
        for did in lost {
            n.proposals.remove(&did);
            n.inputs.push_back(Input::Delivered {
                id: did,
                outcome: DeliveryOutcome::NotCommitted("lost".into()),
            });
        }
        if n.wake_at.is_some_and(|t| t <= now) {
            n.wake_at = None;
            n.inputs.push_back(Input::Tick);
        }
        // Session messages.
        self.feed_sessions(i);
        // Engine steps.
        while let Some(input) = self.nodes[i].inputs.pop_front() {
            let n = &mut self.nodes[i];
            let actions = n.engine.step(now, &n.state, input);
            for a in actions {
                self.execute(i, a);
            }
        }
    }

    fn execute(&mut self, i: usize, action: Action) {
        let now = self.now_ms;
        match action {
            Action::Start { job, spec } => self.start(i, job, spec),
            Action::DiscardPresignatures { .. } => {}
            // No simulation refreshes shares (refresh is covered by custody, protocol and e2e
            // tests); a refresh spec reaching `start` fails the test loudly.
            Action::TidyShares { vault_id } => self.tidy(i, &vault_id),
            Action::Propose { id, report } => {
                // A Byzantine node reports a made-up signature instead of its real report.
                let report = match report {
                    Report::Signature {
                        request_id,
                        attempt,
                        ..
                    }
                    | Report::SignFailed {
                        request_id,
                        attempt,
                        ..
                    } if self.faults.byzantine == Some(self.nodes[i].id) => {
                        let mut fake = [0u8; 64];
                        self.rng.fill_bytes(&mut fake);
                        Report::Signature {
                            request_id,
                            attempt,
                            signatures: vec![hex::encode(fake)],
                        }
                    }
                    r => r,
                };
                let n = &mut self.nodes[i];
                let body = serde_json::to_string(&ReportBody {
                    cluster: CLUSTER.into(),
                    report,
                })
                .unwrap();
                let sig = n.key.sign(&mpc_custody::report_message(&body));
                let rep = SignedReport {
                    node_id: n.id,
                    body,
                    signature: hex::encode(sig.to_bytes()),
                };
                n.proposals.insert(id, (None, now + PROPOSAL_TIMEOUT_MS));
                let from = n.id;
                if !self.percent(self.faults.drop_pct) {
                    self.send(Net::Proposal {
                        from,
                        id,
                        proposal: Proposal::Node(rep),
                    });
                }
            }
            Action::WakeAt(t) => self.nodes[i].wake_at = Some(t),
        }
    }

    // ----- sessions -----

    fn start(&mut self, i: usize, job: Job, spec: SessionSpec) {
        let now = self.now_ms;
        let me = self.nodes[i].id;
        if let SessionSpec::Sign { job: sj, .. } = &spec {
            if sj.key_type == KeyType::EcdsaSecp256k1 {
                self.nodes[i]
                    .signs_started
                    .push((sj.request_id.clone(), sj.attempt));
            }
        }
        if self.start_ecdsa(i, job.clone(), &spec) {
            return;
        }
        match &spec {
            SessionSpec::Aux { .. }
            | SessionSpec::Presign { .. }
            | SessionSpec::FrostNonces { .. } => {}
            SessionSpec::Refresh { .. } => self.start_refresh_stage(i, job, spec, 0),
            SessionSpec::Repair { .. } => panic!("the simulation never replaces a node"),
            SessionSpec::Dkg { .. } => self.start_stage(i, job, spec, 0, Vec::new()),
            SessionSpec::Sign { job: sj, .. } => {
                self.nodes[i]
                    .signs_started
                    .push((sj.request_id.clone(), sj.attempt));
                let _ = (me, now);
                self.start_stage(i, job, spec, 0, Vec::new());
            }
        }
    }

    /// Starts stage `stage` of a job (a DKG key type, or a message of a signing job).
    fn start_stage(
        &mut self,
        i: usize,
        job: Job,
        spec: SessionSpec,
        stage: usize,
        sigs: Vec<String>,
    ) {
        let now = self.now_ms;
        let me = self.nodes[i].id;
        let (sid, parties, sess) = match self.make_session(i, &spec, stage) {
            Ok(x) => x,
            Err(reason) => {
                self.nodes[i].inputs.push_back(Input::SessionDone {
                    job,
                    outcome: SessionOutcome::Failed {
                        reason,
                        unresponsive: vec![],
                    },
                });
                return;
            }
        };
        let incarnation = self.nodes[i].incarnation;
        self.nodes[i].starts.push((incarnation, sid));
        // Joined once, ever (the share store remembers it across restarts).
        let store = &mut self.nodes[i].store;
        if !store.joined.insert(sid) {
            self.nodes[i].inputs.push_back(Input::SessionDone {
                job,
                outcome: SessionOutcome::Failed {
                    reason: "already joined this session (before a restart)".into(),
                    unresponsive: vec![],
                },
            });
            return;
        }
        store.join_log.push(sid);
        let mut run = Run {
            job,
            spec,
            stage,
            sid,
            sess,
            parties,
            heard: BTreeSet::from([me]),
            last_activity_ms: now,
            ed_key: None,
            sigs,
        };
        let mut rng = self.session_rng(me, &sid);
        let out = match &mut run.sess {
            Sess::DkgEd(s) => s.start(&mut rng),
            Sess::DkgTr(s) => s.start(&mut rng),
            Sess::SignEd(s) => s.start(&mut rng),
        };
        match out {
            Ok(msgs) => {
                self.route(me, &run, msgs);
                self.nodes[i].runs.insert(sid, run);
            }
            Err(e) => {
                let job = run.job.clone();
                self.nodes[i].inputs.push_back(Input::SessionDone {
                    job,
                    outcome: SessionOutcome::Failed {
                        reason: e.to_string(),
                        unresponsive: vec![],
                    },
                });
            }
        }
    }

    fn session_rng(&mut self, me: NodeId, sid: &[u8; 32]) -> ChaCha20Rng {
        let mut seed = [0u8; 32];
        self.rng.fill_bytes(&mut seed);
        seed[0] ^= me as u8;
        seed[1] ^= sid[0];
        ChaCha20Rng::from_seed(seed)
    }

    #[allow(clippy::type_complexity)]
    fn make_session(
        &self,
        i: usize,
        spec: &SessionSpec,
        stage: usize,
    ) -> Result<([u8; 32], BTreeMap<NodeId, PartyIndex>, Sess), String> {
        let me = self.nodes[i].id;
        match spec {
            SessionSpec::Dkg {
                parties,
                threshold,
                sessions,
                ..
            } => {
                let (kt, sid, ps, mine) = frost_stage(sessions, parties, me, stage)?;
                let sess = match kt {
                    KeyType::Ed25519 => Sess::DkgEd(
                        FrostDkg::new(sid, mine, &ps, *threshold, DkgMode::Fresh)
                            .map_err(|e| e.to_string())?,
                    ),
                    _ => Sess::DkgTr(
                        FrostDkg::new(sid, mine, &ps, *threshold, DkgMode::Fresh)
                            .map_err(|e| e.to_string())?,
                    ),
                };
                Ok((sid.0, parties.clone(), sess))
            }
            SessionSpec::Refresh {
                vault_id,
                from_generation,
                parties,
                sessions,
                ..
            } => {
                let (kt, sid, ps, mine) = frost_stage(sessions, parties, me, stage)?;
                let from = (vault_id.clone(), *from_generation);
                let store = &self.nodes[i].store;
                let sess = match kt {
                    KeyType::Ed25519 => {
                        Sess::DkgEd(refresh_session(store.ed.get(&from), sid, mine, &ps)?)
                    }
                    _ => Sess::DkgTr(refresh_session(store.tr.get(&from), sid, mine, &ps)?),
                };
                Ok((sid.0, parties.clone(), sess))
            }
            SessionSpec::Sign {
                job,
                parties,
                message_sessions,
                ..
            } => {
                let sid = *message_sessions.get(stage).ok_or("no message session")?;
                let (kp, pkp) = self.nodes[i]
                    .store
                    .ed
                    .get(&(job.vault_id.clone(), job.share_generation))
                    .cloned()
                    .ok_or("no ed25519 share")?;
                let gk = pkp.verifying_key().serialize().map_err(|e| e.to_string())?;
                let t = keys::frost_tweak::<Ed25519>(
                    job.key_type,
                    &gk,
                    job.chain,
                    job.network,
                    job.index,
                )
                .map_err(|e| e.to_string())?;
                let (kp, pkp) = keys::frost_tweak_packages(&kp, &pkp, t);
                let ps: Vec<PartyIndex> = parties.values().copied().collect();
                let mine = *parties.get(&me).ok_or("not a signer")?;
                let msg = job.messages.get(stage).ok_or("no message")?.message();
                let s = FrostSignOnline::new(sid, mine, &ps, kp, pkp, &msg)
                    .map_err(|e| e.to_string())?;
                Ok((sid.0, parties.clone(), Sess::SignEd(s)))
            }
            _ => Err("not simulated".into()),
        }
    }

    fn route(&mut self, from: NodeId, run: &Run, msgs: Vec<Outgoing>) {
        for m in msgs {
            let targets: Vec<NodeId> = match m.to {
                Recipient::All => run.parties.keys().copied().filter(|n| *n != from).collect(),
                Recipient::One(p) => run
                    .parties
                    .iter()
                    .filter(|(_, q)| **q == p)
                    .map(|(n, _)| *n)
                    .collect(),
            };
            for to in targets {
                if self.cut(from, to) || self.percent(self.faults.drop_pct) {
                    continue;
                }
                let copies = if self.percent(self.faults.dup_pct) {
                    2
                } else {
                    1
                };
                for _ in 0..copies {
                    self.send(Net::Session {
                        to,
                        from,
                        sid: run.sid,
                        bytes: m.bytes.clone(),
                    });
                }
            }
        }
    }

    fn feed_sessions(&mut self, i: usize) {
        let now = self.now_ms;
        let me = self.nodes[i].id;
        let sids: Vec<[u8; 32]> = self.nodes[i].runs.keys().copied().collect();
        for sid in sids {
            let msgs = self.nodes[i].early.remove(&sid).unwrap_or_default();
            for (from, bytes) in msgs {
                if self.faults.byzantine == Some(me) {
                    // A Byzantine node answers every message with garbage.
                    if !self.cut(me, from) {
                        self.send(Net::Session {
                            to: from,
                            from: me,
                            sid,
                            bytes: vec![0xde, 0xad, 0xbe, 0xef],
                        });
                    }
                    continue;
                }
                self.handle_message(i, sid, from, &bytes);
            }
            if let Some(run) = self.nodes[i].runs.get(&sid) {
                if now.saturating_sub(run.last_activity_ms) > SESSION_IDLE_MS {
                    self.fail_run(i, sid, "session timed out".into());
                }
            }
        }
        // Messages for sessions this node already finished are dropped; early messages for
        // sessions that never start here are bounded (64 per session id, 256 ids).
        let n = &mut self.nodes[i];
        let finished: Vec<[u8; 32]> = n
            .early
            .keys()
            .filter(|k| n.store.joined.contains(*k) && !n.runs.contains_key(*k))
            .copied()
            .collect();
        for k in finished {
            n.early.remove(&k);
        }
        if self.nodes[i].early.len() > 256 {
            let first = self.nodes[i].early.keys().next().copied();
            if let Some(k) = first {
                self.nodes[i].early.remove(&k);
            }
        }
    }

    fn fail_run(&mut self, i: usize, sid: [u8; 32], reason: String) {
        let Some(run) = self.nodes[i].runs.remove(&sid) else {
            return;
        };
        let unresponsive = run
            .parties
            .keys()
            .copied()
            .filter(|n| !run.heard.contains(n))
            .collect();
        self.nodes[i].inputs.push_back(Input::SessionDone {
            job: run.job,
            outcome: SessionOutcome::Failed {
                reason,
                unresponsive,
            },
        });
    }

    fn handle_message(&mut self, i: usize, sid: [u8; 32], from: NodeId, bytes: &[u8]) {
        let me = self.nodes[i].id;
        let mut rng = self.session_rng(me, &sid);
        let now = self.now_ms;
        let Some(mut run) = self.nodes[i].runs.remove(&sid) else {
            return;
        };
        let Some(p) = run.parties.get(&from).copied() else {
            self.nodes[i].runs.insert(sid, run);
            return;
        };
        run.heard.insert(from);
        run.last_activity_ms = now;
        enum Done {
            Continue(Vec<Outgoing>),
            DkgEd(
                KeyPackage<Ed25519>,
                PublicKeyPackage<Ed25519>,
                Vec<Outgoing>,
            ),
            DkgTr(
                KeyPackage<Secp256k1Tr>,
                PublicKeyPackage<Secp256k1Tr>,
                Vec<Outgoing>,
            ),
            Sig(Vec<u8>, Vec<Outgoing>),
            Failed(String),
        }
        let done = match &mut run.sess {
            // A rejected message (duplicate, garbage) is ignored, as the node's session hub
            // does; any other error ends the session.
            Sess::DkgEd(s) => match s.handle(p, bytes, &mut rng) {
                Ok(Step::Continue(m)) => Done::Continue(m),
                Ok(Step::Done(o, m)) => Done::DkgEd(o.key_package, o.public_key_package, m),
                Err(SessionError::Rejected { .. }) => Done::Continue(Vec::new()),
                Err(e) => Done::Failed(e.to_string()),
            },
            Sess::DkgTr(s) => match s.handle(p, bytes, &mut rng) {
                Ok(Step::Continue(m)) => Done::Continue(m),
                Ok(Step::Done(o, m)) => Done::DkgTr(o.key_package, o.public_key_package, m),
                Err(SessionError::Rejected { .. }) => Done::Continue(Vec::new()),
                Err(e) => Done::Failed(e.to_string()),
            },
            Sess::SignEd(s) => match s.handle(p, bytes, &mut rng) {
                Ok(Step::Continue(m)) => Done::Continue(m),
                Ok(Step::Done(sig, m)) => match sig.serialize() {
                    Ok(b) => Done::Sig(b, m),
                    Err(e) => Done::Failed(e.to_string()),
                },
                Err(SessionError::Rejected { .. }) => Done::Continue(Vec::new()),
                Err(e) => Done::Failed(e.to_string()),
            },
        };
        match done {
            Done::Continue(m) => {
                self.route(me, &run, m);
                self.nodes[i].runs.insert(sid, run);
            }
            Done::Failed(reason) => {
                self.nodes[i].runs.insert(sid, run);
                self.fail_run(i, sid, reason);
            }
            Done::DkgEd(kp, pkp, m) => {
                self.route(me, &run, m);
                if let SessionSpec::Refresh {
                    vault_id,
                    generation,
                    ..
                } = &run.spec
                {
                    let id = (vault_id.clone(), *generation);
                    self.nodes[i].store.ed.insert(id, (kp, pkp));
                    self.start_refresh_stage(i, run.job, run.spec, 1);
                    return;
                }
                let SessionSpec::Dkg { vault_id, .. } = &run.spec else {
                    return;
                };
                let gk = hex::encode(pkp.verifying_key().serialize().unwrap_or_default());
                self.nodes[i]
                    .store
                    .ed
                    .insert((vault_id.clone(), 0), (kp, pkp));
                let mut sigs = run.sigs.clone();
                sigs.push(gk);
                self.start_stage(i, run.job, run.spec, 1, sigs);
            }
            Done::DkgTr(kp, pkp, m) => {
                self.route(me, &run, m);
                if let SessionSpec::Refresh {
                    vault_id,
                    generation,
                    ..
                } = &run.spec
                {
                    let id = (vault_id.clone(), *generation);
                    self.nodes[i].store.tr.insert(id, (kp, pkp));
                    self.start_refresh_stage(i, run.job, run.spec, 2);
                    return;
                }
                let SessionSpec::Dkg { vault_id, .. } = &run.spec else {
                    return;
                };
                let tr = hex::encode(pkp.verifying_key().serialize().unwrap_or_default());
                self.nodes[i]
                    .store
                    .tr
                    .insert((vault_id.clone(), 0), (kp, pkp));
                let (ecdsa_public_key, ecdsa_chain_code) = ecdsa_placeholder();
                let keys = VaultPublicKeys {
                    ecdsa_public_key,
                    ecdsa_chain_code,
                    ed25519_public_key: run.sigs.first().cloned().unwrap_or_default(),
                    secp256k1_tr_public_key: tr,
                };
                self.nodes[i].inputs.push_back(Input::SessionDone {
                    job: run.job,
                    outcome: SessionOutcome::VaultKeys(keys),
                });
            }
            Done::Sig(sig, m) => {
                self.route(me, &run, m);
                let mut sigs = run.sigs.clone();
                sigs.push(hex::encode(sig));
                let SessionSpec::Sign { job, .. } = &run.spec else {
                    return;
                };
                if run.stage + 1 < job.messages.len() {
                    self.start_stage(i, run.job, run.spec, run.stage + 1, sigs);
                } else {
                    self.nodes[i].inputs.push_back(Input::SessionDone {
                        job: run.job,
                        outcome: SessionOutcome::Signed(sigs),
                    });
                }
            }
        }
    }
}

impl Sim {
    /// Stage `stage` of a refresh (0 ed25519, 1 secp256k1-tr, 2 finished), as the node's
    /// runner does it: a key type whose new generation is already stored (a restart after the
    /// session) is not run again; at the end the digest of the new public key material is
    /// reported. ECDSA is an ideal functionality here (its share never changes in the
    /// simulator); the real ECDSA refresh is covered by protocol and e2e tests.
    fn start_refresh_stage(&mut self, i: usize, job: Job, spec: SessionSpec, stage: usize) {
        let SessionSpec::Refresh {
            vault_id,
            generation,
            ..
        } = &spec
        else {
            return;
        };
        let id = (vault_id.clone(), *generation);
        let store = &self.nodes[i].store;
        let have = [store.ed.contains_key(&id), store.tr.contains_key(&id)];
        let mut stage = stage;
        while stage < 2 && have[stage] {
            stage += 1;
        }
        if stage < 2 {
            self.start_stage(i, job, spec, stage, Vec::new());
            return;
        }
        let outcome = match self.public_digest(i, &id) {
            Some(d) => SessionOutcome::Refreshed(d),
            None => SessionOutcome::Failed {
                reason: "refreshed shares missing".into(),
                unresponsive: vec![],
            },
        };
        self.nodes[i]
            .inputs
            .push_back(Input::SessionDone { job, outcome });
    }

    /// The digest of a node's stored public key material of one generation.
    pub fn public_digest(&self, i: usize, id: &ShareId) -> Option<String> {
        let store = &self.nodes[i].store;
        let ed = frost_public(&store.ed.get(id)?.1);
        let tr = frost_public(&store.tr.get(id)?.1);
        Some(mpc_custody::refresh_digest(&[
            (KeyType::EcdsaSecp256k1.as_str(), b"ideal".to_vec()),
            (KeyType::Ed25519.as_str(), ed),
            (KeyType::Secp256k1Tr.as_str(), tr),
        ]))
    }

    /// The runner's tidy-up: shares a failed refresh left go at once; replaced generations go
    /// only once `verify_refresh_completion` accepts every node's signed report.
    fn tidy(&mut self, i: usize, vault_id: &mpc_custody::types::VaultId) {
        let state = &self.nodes[i].state;
        let Some(v) = state.vault(vault_id) else {
            return;
        };
        let current = v.share_generation;
        let running = v.refresh.as_ref().map(|r| r.started_log_index);
        let failed: Vec<u64> = v
            .last_refresh
            .iter()
            .filter(|r| matches!(r.status, mpc_custody::RefreshStatus::Failed { .. }))
            .map(|r| r.started_log_index)
            .collect();
        let old_ok = current > 0
            && self
                .public_digest(i, &(vault_id.clone(), current))
                .is_some_and(|d| state.verify_refresh_completion(vault_id, &d).is_ok());
        let store = &mut self.nodes[i].store;
        let gens: BTreeSet<u64> = store
            .ed
            .keys()
            .chain(store.tr.keys())
            .filter(|(v, _)| v == vault_id)
            .map(|(_, g)| *g)
            .collect();
        for g in gens {
            let delete = g != current
                && Some(g) != running
                && (failed.contains(&g) || (old_ok && g < current));
            if delete {
                let id = (vault_id.clone(), g);
                store.ed.remove(&id);
                store.tr.remove(&id);
                store.deleted.push((id, current));
            }
        }
    }
}

/// Key type, session id, parties and this node's party of stage `stage` (0 ed25519, 1
/// secp256k1-tr) of a FROST DKG or refresh.
#[allow(clippy::type_complexity)]
fn frost_stage(
    sessions: &[(KeyType, mpc_protocol::session::SessionId)],
    parties: &BTreeMap<NodeId, PartyIndex>,
    me: NodeId,
    stage: usize,
) -> Result<
    (
        KeyType,
        mpc_protocol::session::SessionId,
        Vec<PartyIndex>,
        PartyIndex,
    ),
    String,
> {
    let kt = *[KeyType::Ed25519, KeyType::Secp256k1Tr]
        .get(stage)
        .ok_or("no such stage")?;
    let sid = sessions
        .iter()
        .find(|(k, _)| *k == kt)
        .map(|(_, s)| *s)
        .ok_or("no sid")?;
    let ps: Vec<PartyIndex> = parties.values().copied().collect();
    let mine = *parties.get(&me).ok_or("not in committee")?;
    Ok((kt, sid, ps, mine))
}

/// The refresh session of a stored FROST share.
fn refresh_session<C: frost_core::Ciphersuite>(
    share: Option<&(KeyPackage<C>, PublicKeyPackage<C>)>,
    sid: mpc_protocol::session::SessionId,
    mine: PartyIndex,
    ps: &[PartyIndex],
) -> Result<FrostDkg<C>, String> {
    let (kp, pkp) = share.cloned().ok_or("no share of the current generation")?;
    let t = *kp.min_signers();
    let mode = DkgMode::Refresh {
        key_package: Box::new(kp),
        public_key_package: Box::new(pkp),
    };
    FrostDkg::new(sid, mine, ps, t, mode).map_err(|e| e.to_string())
}

/// Group key and every verifying share of a FROST public key package (as the node digests it).
fn frost_public<C: frost_core::Ciphersuite>(pkp: &PublicKeyPackage<C>) -> Vec<u8> {
    let mut out = pkp.verifying_key().serialize().unwrap_or_default();
    for (id, share) in pkp.verifying_shares() {
        out.extend_from_slice(&id.serialize());
        out.extend_from_slice(&share.serialize().unwrap_or_default());
    }
    out
}

/// SHA-256 over every record of a state (key and value, CBOR, in key order) and its clock.
/// The signing job among an engine's actions, if it starts one.
#[allow(dead_code)]
pub fn sign_start(actions: &[Action]) -> Option<Job> {
    actions.iter().find_map(|a| match a {
        Action::Start {
            job: job @ Job::Sign { .. },
            ..
        } => Some(job.clone()),
        _ => None,
    })
}

pub fn state_hash(s: &CustodyState) -> [u8; 32] {
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    h.update(s.last_timestamp_ms().to_be_bytes());
    for key in s.record_keys() {
        h.update(mpc_protocol::encode(&key).unwrap());
        h.update(mpc_protocol::encode(&s.record(&key)).unwrap());
    }
    h.finalize().into()
}

/// A Solana legacy message: one System Program transfer from `payer`.
/// An unsigned EIP-1559 transfer on mainnet (chain id 1): 1000 wei to 0xdd…dd.
pub fn eth_transfer() -> String {
    let mut p = vec![0x02, 0xe1, 0x01, 0x80, 0x01, 0x02, 0x82, 0x52, 0x08, 0x94];
    p.extend_from_slice(&[0xdd; 20]);
    p.extend_from_slice(&[0x82, 0x03, 0xe8, 0x80, 0xc0]);
    hex::encode(p)
}

pub fn sol_transfer(payer: &[u8], to: &[u8; 32], lamports: u64) -> String {
    let mut m = vec![1, 0, 1, 3];
    m.extend_from_slice(payer);
    m.extend_from_slice(to);
    m.extend_from_slice(&[0u8; 32]);
    m.extend_from_slice(&[9u8; 32]);
    m.extend_from_slice(&[1, 2, 2, 0, 1, 12]);
    m.extend_from_slice(&2u32.to_le_bytes());
    m.extend_from_slice(&lamports.to_le_bytes());
    hex::encode(m)
}

/// The seeds to run: `MPC_SIM_SEED` (one, to replay), else `MPC_SIM_SEEDS` (default `n`).
pub fn seeds(n: u64) -> Vec<u64> {
    if let Some(s) = std::env::var("MPC_SIM_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
    {
        return vec![s];
    }
    let count = std::env::var("MPC_SIM_SEEDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(n);
    (0..count).collect()
}

/// Runs `check` for every seed; a failure names the seed to replay.
pub fn for_each_seed(n: u64, check: impl Fn(u64) + std::panic::RefUnwindSafe) {
    for seed in seeds(n) {
        if std::panic::catch_unwind(|| check(seed)).is_err() {
            panic!("simulation failed at seed {seed}; replay with MPC_SIM_SEED={seed}");
        }
    }
}

/// The standard scenario: vault, wallet, `requests` Solana transfers each approved by two
/// approvers, with crashes, a partition and the seed's faults along the way; then the network
/// heals and runs until every request is final (or `max_ms`).
pub fn scenario(seed: u64, requests: usize) -> Sim {
    scenario_with(seed, requests, None)
}

/// [`scenario`] with a Byzantine node.
pub fn scenario_with(seed: u64, requests: usize, byzantine: Option<NodeId>) -> Sim {
    let mut sim = Sim::new(seed, 3, 2);
    sim.setup_vault();
    sim.faults.byzantine = byzantine;
    for k in 0..requests {
        sim.submit(1_000 + k as u64);
    }
    sim.run_for(100);
    sim.approve_all_under_a_fault();
    sim.heal_and_finish();
    sim
}

/// The ECDSA scenario: the vault and an Ethereum wallet (with its presignature pool), then
/// two rounds of `requests` Ethereum transfers, each approved by two approvers while a fault
/// picked by the seed strikes, then healed and run until every request is final. The network
/// forms (aux info starts) at a moment the seed picks among the first round's approvals, so
/// those requests wait for aux info and sign interactively; the second round signs from the
/// pool where it has presignatures ready.
pub fn scenario_ecdsa(seed: u64, requests: usize, byzantine: Option<NodeId>) -> Sim {
    let mut sim = Sim::new_unformed(seed, 3, 2);
    sim.setup_vault();
    sim.create_wallet(Chain::Ethereum, Network::Mainnet);
    sim.run_for(200);
    let wallet_id = sim
        .reference_state()
        .wallets(None)
        .find(|w| w.chain == Chain::Ethereum)
        .map(|w| w.wallet_id.clone())
        .unwrap_or_else(|| panic!("seed {seed}: no Ethereum wallet: {}", sim.summary()));
    sim.faults.byzantine = byzantine;
    // Two rounds: the first before aux info (the network forms during its approvals), the
    // second later, mostly from the pool; each under a fault of its own.
    for _ in 0..2 {
        for _ in 0..requests {
            sim.submit_to(&wallet_id, eth_transfer());
            let pause = sim.rand_below(2_000);
            sim.run_for(pause);
        }
        sim.approve_all_under_a_fault();
        sim.heal_and_finish();
    }
    sim
}

impl Sim {
    /// Approves every request (two approvers) while a fault picked by the seed strikes: a
    /// crash, a partition, or nothing (always nothing with a Byzantine node).
    fn approve_all_under_a_fault(&mut self) {
        let ids: Vec<mpc_custody::types::RequestId> =
            self.requests().into_iter().map(|r| r.request_id).collect();
        let victim = 1 + self.rand_below(3);
        let fault = if self.faults.byzantine.is_some() {
            3
        } else {
            self.rand_below(4)
        };
        match fault {
            0 => self.crash(victim),
            1 => {
                self.partitioned.insert(victim);
            }
            _ => {}
        }
        // In an unformed network, aux info starts at a moment picked by the seed: some
        // approvals come before it is ready (interactive signing, held until it is).
        let form_at = (!self.formed).then(|| self.rand_below(ids.len() as u64 + 1) as usize);
        for (k, rid) in ids.iter().enumerate() {
            if form_at == Some(k) {
                self.form_network();
            }
            self.approve(11, rid);
            self.approve(12, rid);
            let pause = self.rand_below(500);
            self.run_for(pause);
        }
        if !self.formed {
            self.form_network();
        }
        let settle = self.rand_below(3_000);
        self.run_for(settle);
    }

    /// Restarts crashed nodes, ends partitions, and runs until every request is final.
    fn heal_and_finish(&mut self) {
        for n in 1..=3 {
            if !self.nodes[(n - 1) as usize].up {
                self.restart(n);
            }
        }
        self.partitioned.clear();
        self.run_until(900_000, |s| {
            s.requests().iter().all(|r| {
                matches!(
                    r.status,
                    RequestStatus::Signed
                        | RequestStatus::Failed { .. }
                        | RequestStatus::Rejected { .. }
                )
            })
        });
        // Let every node catch up with the log.
        self.run_for(2_000);
    }
}
