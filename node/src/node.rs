//! Start-up and shutdown of a node.
//!
//! Order matters: the identity is unsealed first (a wrong passphrase stops here, nothing
//! written), then the genesis is loaded and checked against the identity, then its hash is
//! pinned, and only then are the stores opened and the network started.

use crate::cluster::ClusterHandle;
use crate::heartbeat::{Heartbeat, PeerStatusTable};
use crate::p2p::{build_swarm, P2pEventLoop, PeerTable, PinnedPeer};
use crate::runner::Runner;
use crate::sessions::SessionHub;
use crate::share_store::ShareStore;
use crate::transport::Libp2pTransport;
use anyhow::Context;
use libp2p::{Multiaddr, PeerId};
use mpc_bootstrap::genesis::{pin_genesis, Genesis};
use mpc_bootstrap::identity::{IdentityCard, NodeIdentity};
use mpc_bootstrap::sealed::KdfParams;
use mpc_consensus::network::Network;
use mpc_consensus::raft::{PeerNode, Raft};
use mpc_custody::state::GenesisParams;
use mpc_custody::types::UserKey;
use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;
use zeroize::Zeroizing;

/// How often a node publishes its status heartbeat.
const STATUS_INTERVAL: Duration = Duration::from_millis(1000);
/// Most inbound peer requests queued before new ones are dropped.
const INBOUND_QUEUE: usize = 1024;

/// What `start` needs.
#[derive(Debug, Clone)]
pub struct NodeOptions {
    /// Data directory.
    pub data_dir: PathBuf,
    /// genesis.json.
    pub genesis_path: PathBuf,
    /// Raft heartbeat interval, ms.
    pub heartbeat_ms: u64,
    /// Raft election timeout lower bound, ms.
    pub election_timeout_ms: u64,
    /// INSECURE test fixture of Paillier primes (tests and local testnets only).
    pub insecure_test_primes: Option<PathBuf>,
    /// Chain providers (broadcast, confirmations, balances, transaction building).
    pub chain_providers: Vec<mpc_chains::Provider>,
    /// Where to serve the web console (loopback only), if anywhere.
    pub console_addr: Option<std::net::SocketAddr>,
    /// Where to serve `/metrics`, `/health` and `/ready` (plain HTTP), if anywhere.
    pub metrics_addr: Option<std::net::SocketAddr>,
    /// This host replaces the genesis node of its node id (first start; a marker in the data
    /// directory remembers it).
    pub replacement_host: bool,
    /// This host is a node being added to the network: its node id is not in the genesis
    /// (first start; a marker in the data directory remembers it).
    pub joining: bool,
}

/// In a replacement host's data directory: it may start with a card the genesis does not name.
const REPLACEMENT_MARKER: &str = "replacement-host";
/// In an added node's data directory: its node id is not in the genesis.
const JOINING_MARKER: &str = "joining-host";

fn raft_config(opts: &NodeOptions, network: &str) -> anyhow::Result<openraft::Config> {
    let cfg = openraft::Config {
        cluster_name: network.to_string(),
        heartbeat_interval: opts.heartbeat_ms,
        election_timeout_min: opts.election_timeout_ms,
        election_timeout_max: opts.election_timeout_ms * 8 / 5,
        // A batch of the largest entries fits one p2p message (proposals are size-checked).
        max_payload_entries: mpc_protocol::limits::MAX_APPEND_ENTRIES as u64,
        // Custody state is never built into a snapshot for a peer nor installed from one
        // (decision 0012): without snapshots no log is purged, so a lagging node always
        // replays signed entries.
        snapshot_policy: openraft::SnapshotPolicy::Never,
        // A node restored from a backup kit starts with an empty log: it does not campaign
        // until it has caught up (`ClusterHandle::catch_up_after_restore`).
        enable_elect: !crate::backup::restored_marker(&opts.data_dir).exists(),
        ..Default::default()
    };
    Ok(cfg.validate()?)
}

/// Runs the node until SIGINT or SIGTERM.
pub async fn run(opts: NodeOptions, passphrase: Zeroizing<String>) -> anyhow::Result<()> {
    let identity = NodeIdentity::load(&opts.data_dir, passphrase.as_bytes())?;
    let shares = Arc::new(
        ShareStore::open(
            &opts.data_dir.join("shares"),
            identity.card.node_id,
            passphrase.as_bytes(),
            KdfParams::default(),
        )
        .context("opening the share store")?,
    );
    drop(passphrase);
    let node_id = identity.card.node_id;
    let services = start_services(&opts, &identity, shares).await?;
    drop(identity);
    wait_for_signal().await;
    tracing::info!(node_id, "shutting down");
    services.shutdown().await;
    Ok(())
}

/// The tasks of a running node, stopped in order on shutdown.
struct Services {
    rpc: jsonrpsee::server::ServerHandle,
    raft: openraft::Raft<mpc_consensus::raft::TypeConfig>,
    status_task: tokio::task::JoinHandle<()>,
    runner_task: tokio::task::JoinHandle<()>,
    chain_task: tokio::task::JoinHandle<()>,
    inbound_task: tokio::task::JoinHandle<()>,
    p2p_task: tokio::task::JoinHandle<()>,
}

impl Services {
    async fn shutdown(self) {
        let _ = self.rpc.stop();
        self.status_task.abort();
        self.runner_task.abort();
        self.chain_task.abort();
        self.inbound_task.abort();
        if let Err(e) = self.raft.shutdown().await {
            tracing::warn!("raft shutdown: {e}");
        }
        self.p2p_task.abort();
    }
}

/// Opens the database, joins the peer network, starts Raft, the session hub, the runner and
/// JSON-RPC.
async fn start_services(
    opts: &NodeOptions,
    identity: &NodeIdentity,
    shares: Arc<ShareStore>,
) -> anyhow::Result<Services> {
    let genesis = load_genesis(opts, &identity.card)?;
    let node_id = identity.card.node_id;
    let cluster_id = genesis.hash();
    let me = identity.card.clone();
    let params = genesis_params(&genesis, &cluster_id)?;
    let (log_store, sm_store) = mpc_consensus::store::open(&opts.data_dir.join("db"), params)
        .await
        .context("opening the node database")?;
    let (peers, members) = peer_table(&genesis, &me)?;
    // Replacements already in the local log are pinned before the first connection.
    let pins = sm_store
        .read(|s| crate::p2p::peers::unpinned(s, &peers, node_id))
        .map_err(|e| anyhow::anyhow!(e))?;
    for (node, entry) in pins {
        match entry {
            Ok(p) => {
                peers.pin(node, p);
            }
            Err(e) => tracing::error!(node, "replacement not pinned: {e}"),
        }
    }
    let statuses = PeerStatusTable::default();
    let (p2p, p2p_task, inbound_rx) = start_p2p(identity, &peers, statuses.clone())?;
    let transport = Libp2pTransport::new(p2p.clone(), peers.clone());
    let raft = start_raft(
        opts,
        &genesis,
        node_id,
        transport,
        log_store,
        sm_store.clone(),
        members,
    )
    .await?;
    let cluster = ClusterHandle::new(
        node_id,
        raft.clone(),
        sm_store,
        p2p.clone(),
        genesis.clone(),
        peers.clone(),
        statuses,
    );
    let marker = crate::backup::restored_marker(&opts.data_dir);
    if marker.exists() {
        cluster.catch_up_after_restore(marker);
    }
    tokio::spawn(crate::p2p::peers::follow_replacements(
        cluster.clone(),
        peers.clone(),
    ));
    tokio::spawn(cluster.clone().campaign_when_the_leader_goes());
    let hub = SessionHub::new(node_id, identity.noise_secret().clone(), peers, p2p);
    let runner = Runner::new(
        cluster.clone(),
        hub.clone(),
        shares,
        identity.libp2p_keypair()?,
        opts.insecure_test_primes.clone(),
    );
    let runner_task = tokio::spawn(runner.clone().run());
    #[cfg(feature = "forge-for-tests")]
    if crate::forge::enabled() {
        tokio::spawn(crate::forge::run_attacks(cluster.clone(), hub.clone()));
    }
    let adapters = Arc::new(crate::chain_watch::Adapters::new(
        opts.chain_providers.clone(),
    ));
    let chain_task = tokio::spawn(crate::chain_watch::run(
        cluster.clone(),
        runner.clone(),
        adapters.clone(),
    ));
    let inbound_task = tokio::spawn(cluster.clone().run_inbound_server(inbound_rx, hub));
    let status_task = tokio::spawn(publish_status(cluster.clone()));
    if let Some(at) = opts.metrics_addr {
        let listener = tokio::net::TcpListener::bind(at)
            .await
            .with_context(|| format!("binding the metrics listener on {at}"))?;
        tracing::info!(node_id, metrics = %listener.local_addr()?, "metrics, health and readiness at http://{at}/metrics");
        crate::metrics::serve(listener, cluster.clone());
    }
    let rpc_addr = me.rpc_addr.parse()?;
    let tls = crate::rpc::tls_config(identity.tls_cert_der(), identity.tls_key_der())
        .context("the JSON-RPC TLS certificate")?;
    identity.write_cert_pem(&opts.data_dir)?;
    let (rpc, bound) =
        crate::rpc::start(rpc_addr, opts.console_addr, tls, cluster, runner, adapters)
            .await
            .with_context(|| format!("starting JSON-RPC on {rpc_addr}"))?;
    tracing::info!(node_id, rpc = %bound.rpc, "JSON-RPC listening");
    if let Some(console) = bound.console {
        tracing::info!(node_id, console = %console, "web console at http://{console}/");
    }
    Ok(Services {
        rpc,
        raft,
        status_task,
        runner_task,
        chain_task,
        inbound_task,
        p2p_task,
    })
}

/// Joins the peer network: the libp2p swarm's event loop, and the queue of peers' requests.
#[allow(clippy::type_complexity)]
fn start_p2p(
    identity: &NodeIdentity,
    peers: &PeerTable,
    statuses: PeerStatusTable,
) -> anyhow::Result<(
    crate::p2p::P2pHandle,
    tokio::task::JoinHandle<()>,
    mpsc::Receiver<crate::p2p::Inbound>,
)> {
    let swarm = build_swarm(identity.libp2p_keypair()?, peers)?;
    let (inbound_tx, inbound_rx) = mpsc::channel(INBOUND_QUEUE);
    let listen: Multiaddr = identity.card.p2p_addr.parse()?;
    let (event_loop, p2p) = P2pEventLoop::new(swarm, listen, peers.clone(), statuses, inbound_tx)?;
    Ok((p2p, tokio::spawn(event_loop.run()), inbound_rx))
}

/// Creates the Raft node and, on a fresh database, initialises it with the genesis membership.
async fn start_raft(
    opts: &NodeOptions,
    genesis: &Genesis,
    node_id: u64,
    transport: Libp2pTransport,
    log_store: mpc_consensus::store::LogStore,
    sm_store: mpc_consensus::store::StateMachineStore,
    members: BTreeMap<u64, PeerNode>,
) -> anyhow::Result<Raft> {
    let config = Arc::new(raft_config(opts, &genesis.network)?);
    let raft = Raft::new(
        node_id,
        config,
        Network::new(transport),
        log_store,
        sm_store,
    )
    .await?;
    if !raft.is_initialized().await? {
        // Every node initialises with the same genesis membership; openraft accepts that.
        if let Err(e) = raft.initialize(members).await {
            tracing::debug!("initialize: {e}");
        }
    }
    Ok(raft)
}

/// The genesis for a node being added (its id is not in it): only with `--joining` (or its
/// marker), with keys no genesis node has. It abstains from votes until it has caught up; the
/// network lets it in once the genesis admins' `node_add` is committed.
fn load_genesis_joining(
    opts: &NodeOptions,
    card: &IdentityCard,
    genesis: Genesis,
) -> anyhow::Result<Genesis> {
    let node_id = card.node_id;
    let marker = opts.data_dir.join(JOINING_MARKER);
    if !opts.joining && !marker.exists() {
        anyhow::bail!(
            "node {node_id} is not in this genesis (a node being added to the network starts \
             with --joining)"
        );
    }
    let reused = genesis
        .nodes
        .iter()
        .any(|n| n.peer_id == card.peer_id || n.noise_public_key == card.noise_public_key);
    if reused {
        anyhow::bail!("a node being added needs its own keys, not a genesis node's");
    }
    if !marker.exists() {
        std::fs::write(&marker, b"").with_context(|| format!("writing {}", marker.display()))?;
        std::fs::write(crate::backup::restored_marker(&opts.data_dir), b"")
            .context("writing the catch-up marker")?;
    }
    tracing::warn!(
        node_id,
        "joining host: waiting for the genesis admins' node_add and its shares"
    );
    let cluster_id = genesis.hash();
    pin_genesis(&opts.data_dir, &cluster_id)?;
    tracing::info!(node_id, network = %genesis.network, %cluster_id, "starting");
    Ok(genesis)
}

/// Loads the genesis, checks this node's entry in it is this node's identity card (or, on a
/// replacement host, that its node id is in it), and pins its hash on first start (refusing any
/// other genesis afterwards).
fn load_genesis(opts: &NodeOptions, card: &IdentityCard) -> anyhow::Result<Genesis> {
    let genesis = Genesis::load(&opts.genesis_path)
        .with_context(|| format!("loading {}", opts.genesis_path.display()))?;
    let node_id = card.node_id;
    let Some(me) = genesis.node(node_id) else {
        return load_genesis_joining(opts, card, genesis);
    };
    let marker = opts.data_dir.join(REPLACEMENT_MARKER);
    if me != card {
        if !opts.replacement_host && !marker.exists() {
            anyhow::bail!(
                "the genesis entry for node {node_id} does not match this node's identity card \
                 (a host replacing a lost node {node_id} starts with --replacement-host)"
            );
        }
        if me.peer_id == card.peer_id || me.noise_public_key == card.noise_public_key {
            anyhow::bail!("a replacement host needs new keys, not node {node_id}'s genesis keys");
        }
        if !marker.exists() {
            // First start: abstain from votes until caught up, as a restored node does.
            std::fs::write(&marker, b"")
                .with_context(|| format!("writing {}", marker.display()))?;
            std::fs::write(crate::backup::restored_marker(&opts.data_dir), b"")
                .context("writing the catch-up marker")?;
        }
        tracing::warn!(
            node_id,
            "replacement host: waiting for the genesis admins' node_replace and the share repair"
        );
    }
    let cluster_id = genesis.hash();
    pin_genesis(&opts.data_dir, &cluster_id)?;
    tracing::info!(node_id, network = %genesis.network, %cluster_id, "starting");
    Ok(genesis)
}

/// The state machine's genesis parameters (admins, node report keys, threshold), from the
/// genesis document.
fn genesis_params(genesis: &Genesis, cluster_id: &str) -> anyhow::Result<GenesisParams> {
    let admins: BTreeSet<UserKey> = genesis
        .admins
        .iter()
        .map(|a| UserKey::from_hex(&a.public_key).map_err(|e| anyhow::anyhow!(e)))
        .collect::<anyhow::Result<_>>()?;
    let mut node_keys = BTreeMap::new();
    for card in &genesis.nodes {
        node_keys.insert(card.node_id, UserKey(ed25519_of_peer(&card.peer_id)?));
    }
    let threshold = u16::try_from(genesis.threshold).context("threshold")?;
    Ok(GenesisParams {
        cluster_id: cluster_id.to_string(),
        admins,
        nodes: node_keys,
        threshold,
    })
}

/// The pinned peers (from the genesis; this node's own entry from its own card, which differs
/// on a replacement host) and the Raft membership (the genesis entries, as every node
/// initialised it).
fn peer_table(
    genesis: &Genesis,
    me: &IdentityCard,
) -> anyhow::Result<(PeerTable, BTreeMap<u64, PeerNode>)> {
    let mut entries = BTreeMap::new();
    let mut members = BTreeMap::new();
    for card in &genesis.nodes {
        let own = if card.node_id == me.node_id { me } else { card };
        let addr: Multiaddr = own
            .p2p_addr
            .parse()
            .with_context(|| format!("p2p address of node {}", own.node_id))?;
        let noise_key: [u8; 32] = hex::decode(&own.noise_public_key)
            .ok()
            .and_then(|b| b.try_into().ok())
            .ok_or_else(|| anyhow::anyhow!("noise key of node {} is not 32 bytes", own.node_id))?;
        entries.insert(
            card.node_id,
            PinnedPeer {
                peer: own.peer_id.parse()?,
                noise_key,
                addr,
                replacement: 0,
            },
        );
        members.insert(
            card.node_id,
            PeerNode {
                peer_id: card.peer_id.clone(),
                p2p_addr: card.p2p_addr.clone(),
            },
        );
    }
    Ok((PeerTable::new(entries), members))
}

/// The Ed25519 public key inside an Ed25519 libp2p peer id (identity multihash).
fn ed25519_of_peer(peer_id: &str) -> anyhow::Result<[u8; 32]> {
    let peer: PeerId = peer_id.parse()?;
    let mh: &libp2p::multihash::Multihash<64> = peer.as_ref();
    let pk = libp2p_identity::PublicKey::try_decode_protobuf(mh.digest())
        .map_err(|e| anyhow::anyhow!("peer id {peer_id} does not embed its key: {e}"))?;
    let ed = pk
        .try_into_ed25519()
        .map_err(|_| anyhow::anyhow!("peer id {peer_id} is not an Ed25519 key"))?;
    Ok(ed.to_bytes())
}

async fn publish_status(cluster: ClusterHandle) {
    let mut tick = tokio::time::interval(STATUS_INTERVAL);
    loop {
        tick.tick().await;
        let m = cluster.raft().metrics().borrow().clone();
        let hb = Heartbeat {
            node_id: cluster.node_id(),
            role: format!("{:?}", m.state).to_lowercase(),
            term: m.current_term,
            applied_index: m.last_applied.map(|l| l.index).unwrap_or(0),
            leader: m.current_leader,
            version: env!("CARGO_PKG_VERSION").to_string(),
            sent_at_ms: crate::clock::now_ms(),
        };
        if let Ok(bytes) = mpc_protocol::encode(&hb) {
            cluster.p2p().publish_status(bytes).await;
        }
    }
}

async fn wait_for_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {},
                    _ = term.recv() => {},
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
