//! # mpc-testnet
//!
//! An end-to-end harness that runs real `mpc-node` processes on 127.0.0.1: it initialises N
//! nodes with the real `mpc-node init` / `mpc-node genesis` commands, starts them, waits for a
//! leader, and lets tests kill (SIGKILL), stop (SIGTERM) and restart them. Every process it
//! starts is stopped by PID when the [`Cluster`] is dropped.
//!
//! Binaries are taken from `MPC_NODE_BIN` if set, else from the target directory next to the
//! running test (`target/<profile>/mpc-node`); build them first (`cargo build --bins`).
//!
//! Test key-derivation parameters are the floor (19 MiB, 2 iterations) so start-up is quick;
//! they are still accepted by release nodes because they are not below the floor.

use anyhow::{bail, Context};
use ed25519_dalek::SigningKey;
use mpc_bootstrap::sealed::{KdfParams, MIN_ITERATIONS, MIN_MEMORY_KIB};
use mpc_bootstrap::userkey::UserKeyFile;
use mpc_cli::client::RpcClient;
pub use mpc_cli::tls::Endpoint;
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// Clusters in one test binary run one at a time, so that timing assertions (failover) are not
/// disturbed by another cluster competing for the machine's two cores.
static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

pub mod chains;
pub mod demo;

/// The INSECURE published Paillier primes fixture (tests only).
pub fn insecure_primes_fixture() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../protocol/tests/fixtures/INSECURE-test-only-paillier-primes.json")
}

/// Passphrase of every test node and key (test only).
pub const TEST_PASSPHRASE: &str = "insecure-test-passphrase";

/// The deliberately faulty test node (`mpc-node` built with `forge-for-tests`).
pub const FORGER: &str = "mpc-node-forger";

/// Path of a workspace binary.
pub fn binary(name: &str) -> anyhow::Result<PathBuf> {
    if name == "mpc-node" {
        if let Ok(p) = std::env::var("MPC_NODE_BIN") {
            return Ok(PathBuf::from(p));
        }
    }
    let exe = std::env::current_exe()?;
    // target/<profile>/deps/<test> -> target/<profile>/<name>
    let dir = exe
        .parent()
        .and_then(Path::parent)
        .context("cannot locate the target directory")?;
    let p = dir.join(name);
    if !p.exists() {
        if name == FORGER {
            bail!(
                "{} not found: run `cargo build -p mpc-node --features forge-for-tests --bin {FORGER}` first (testnet/test.sh does)",
                p.display()
            );
        }
        bail!("{} not found: run `cargo build --bins` first", p.display());
    }
    Ok(p)
}

/// The endpoints (TLS certificates pinned from `run_dir/genesis.json`) of `urls`, and the
/// network id (the genesis hash): what the demo and benchmarks talk to.
pub fn endpoints_from_run(
    run_dir: &Path,
    urls: &[String],
) -> anyhow::Result<(Vec<Endpoint>, String)> {
    let genesis = mpc_bootstrap::genesis::Genesis::load(&run_dir.join("genesis.json"))?;
    let endpoints = urls
        .iter()
        .map(|u| Endpoint::from_genesis(u, &genesis).map_err(anyhow::Error::msg))
        .collect::<anyhow::Result<Vec<_>>>()?;
    Ok((endpoints, genesis.hash()))
}

/// One node: its files, ports and (when running) its process.
pub struct NodeProc {
    /// Node id.
    pub node_id: u64,
    /// Data directory.
    pub data_dir: PathBuf,
    /// JSON-RPC URL (`https://…`) and the node's pinned TLS certificate.
    pub endpoint: Endpoint,
    /// Log file.
    pub log: PathBuf,
    child: Option<Child>,
}

impl NodeProc {
    /// Whether the process is running.
    pub fn is_running(&mut self) -> bool {
        match &mut self.child {
            Some(c) => matches!(c.try_wait(), Ok(None)),
            None => false,
        }
    }

    /// PID of the running process.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }
}

/// A running test network.
pub struct Cluster {
    /// Working directory (removed on drop).
    pub dir: tempfile::TempDir,
    /// The nodes, index `i` is node `i + 1`.
    pub nodes: Vec<NodeProc>,
    /// Genesis file.
    pub genesis: PathBuf,
    /// Genesis hash.
    pub cluster_id: String,
    /// The first genesis admin's signing key.
    pub admin: SigningKey,
    /// The second genesis admin's signing key (a node replacement needs two signatures).
    pub admin2: SigningKey,
    node_bin: PathBuf,
    /// Ports: node `i` uses p2p `port_base + i`, RPC `port_base + 50 + i` and metrics
    /// `port_base + 40 + i`; a replacement host
    /// of node `i`, `port_base + 20 + i` and `port_base + 70 + i`.
    port_base: u16,
    /// Nodes now run by a replacement host (started with `--replacement-host`).
    replacement_hosts: std::collections::BTreeSet<u64>,
    /// Nodes started with `--joining` (added after the genesis).
    joining_hosts: std::collections::BTreeSet<u64>,
    /// Nodes that run another binary (the forger), by id.
    node_bin_overrides: std::collections::BTreeMap<u64, PathBuf>,
    /// Extra environment of a node's process, by id (e.g. the forger's attacks); applies to
    /// every later (re)start of that node.
    pub node_env: std::collections::BTreeMap<u64, Vec<(String, String)>>,
    _turn: MutexGuard<'static, ()>,
}

fn run_ok(cmd: &mut Command) -> anyhow::Result<String> {
    let out = cmd.output().with_context(|| format!("running {cmd:?}"))?;
    if !out.status.success() {
        bail!(
            "{cmd:?} failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(String::from_utf8_lossy(&out.stdout).to_string())
}

/// Writes the test passphrase to `dir/pass` and returns its path.
fn passphrase_file(dir: &Path) -> anyhow::Result<PathBuf> {
    let p = dir.join("pass");
    std::fs::write(&p, TEST_PASSPHRASE)?;
    Ok(p)
}

/// Initialises a node with the real `mpc-node init`.
pub fn init_node(
    node_bin: &Path,
    data_dir: &Path,
    node_id: u64,
    p2p_port: u16,
    rpc_port: u16,
    pass: &Path,
) -> anyhow::Result<()> {
    run_ok(
        Command::new(node_bin)
            .arg("init")
            .arg("--data-dir")
            .arg(data_dir)
            .args(["--node-id", &node_id.to_string()])
            .args(["--p2p-addr", &format!("/ip4/127.0.0.1/tcp/{p2p_port}")])
            .args(["--rpc-addr", &format!("127.0.0.1:{rpc_port}")])
            .arg("--passphrase-file")
            .arg(pass)
            .args(["--kdf-memory-kib", &MIN_MEMORY_KIB.to_string()])
            .args(["--kdf-iterations", &MIN_ITERATIONS.to_string()])
            // Tests use the INSECURE published primes (generating real ones takes minutes);
            // only debug builds accept them.
            .arg("--insecure-test-primes")
            .arg(insecure_primes_fixture()),
    )?;
    Ok(())
}

/// Builds a genesis with the real `mpc-node genesis`; returns its hash.
pub fn make_genesis(
    node_bin: &Path,
    cards: &[PathBuf],
    threshold: u32,
    admin_file: &Path,
    out: &Path,
) -> anyhow::Result<String> {
    make_genesis_with_admins(node_bin, cards, threshold, &[admin_file], out)
}

/// [`make_genesis`] with several genesis admins.
pub fn make_genesis_with_admins(
    node_bin: &Path,
    cards: &[PathBuf],
    threshold: u32,
    admin_files: &[&Path],
    out: &Path,
) -> anyhow::Result<String> {
    let mut cmd = Command::new(node_bin);
    cmd.arg("genesis");
    for c in cards {
        cmd.arg("--card").arg(c);
    }
    cmd.args(["--threshold", &threshold.to_string()]);
    for f in admin_files {
        cmd.arg("--admin-key-file").arg(f);
    }
    cmd.arg("--out").arg(out);
    Ok(run_ok(&mut cmd)?.trim().to_string())
}

impl Cluster {
    /// Initialises and starts `n` nodes: node `i` uses p2p port `port_base + i` and RPC port
    /// `port_base + 50 + i`. Returns once a leader is elected.
    pub fn start(n: u64, port_base: u16) -> anyhow::Result<Cluster> {
        Self::start_with(n, port_base, Default::default())
    }

    /// Like [`Cluster::start`], but the nodes in `overrides` run another binary (e.g. the
    /// forger). Such a node gets `MPC_FORGE_REPORT=<data dir>/forged-sessions.jsonl`.
    pub fn start_with(
        n: u64,
        port_base: u16,
        overrides: std::collections::BTreeMap<u64, PathBuf>,
    ) -> anyhow::Result<Cluster> {
        Self::start_with_env(n, port_base, overrides, Default::default())
    }

    /// Like [`Cluster::start_with`], with extra environment variables per node.
    pub fn start_with_env(
        n: u64,
        port_base: u16,
        overrides: std::collections::BTreeMap<u64, PathBuf>,
        node_env: std::collections::BTreeMap<u64, Vec<(String, String)>>,
    ) -> anyhow::Result<Cluster> {
        let turn = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
        let node_bin = binary("mpc-node")?;
        let dir = tempfile::tempdir()?;
        let pass = passphrase_file(dir.path())?;
        let admin_file = dir.path().join("admin.key");
        let admin = UserKeyFile::create(
            &admin_file,
            "admin",
            TEST_PASSPHRASE.as_bytes(),
            KdfParams::floor(),
        )?;
        let admin2_file = dir.path().join("admin2.key");
        let admin2 = UserKeyFile::create(
            &admin2_file,
            "admin2",
            TEST_PASSPHRASE.as_bytes(),
            KdfParams::floor(),
        )?;
        let mut nodes = Vec::new();
        let mut cards = Vec::new();
        for i in 1..=n {
            let data_dir = dir.path().join(format!("node{i}"));
            let p2p = port_base + i as u16;
            let rpc = port_base + 50 + i as u16;
            init_node(&node_bin, &data_dir, i, p2p, rpc, &pass)?;
            let card: mpc_bootstrap::identity::IdentityCard =
                serde_json::from_slice(&std::fs::read(data_dir.join("card.json"))?)?;
            cards.push(data_dir.join("card.json"));
            nodes.push(NodeProc {
                node_id: i,
                log: dir.path().join(format!("node{i}.log")),
                data_dir,
                endpoint: Endpoint::new(&format!("https://127.0.0.1:{rpc}"), &card.rpc_tls_sha256)
                    .map_err(anyhow::Error::msg)?,
                child: None,
            });
        }
        let genesis = dir.path().join("genesis.json");
        let threshold = (n / 2 + 1).max(2) as u32;
        let cluster_id = make_genesis_with_admins(
            &node_bin,
            &cards,
            threshold,
            &[&admin_file, &admin2_file],
            &genesis,
        )?;
        let mut c = Cluster {
            dir,
            nodes,
            genesis,
            cluster_id,
            admin: admin.signing_key,
            admin2: admin2.signing_key,
            port_base,
            replacement_hosts: Default::default(),
            joining_hosts: Default::default(),
            node_bin,
            node_bin_overrides: overrides,
            node_env,
            _turn: turn,
        };
        for i in 1..=n {
            c.start_node(i)?;
        }
        c.wait_for_leader(None, Duration::from_secs(30))?;
        Ok(c)
    }

    /// Where node `id` serves `/metrics`, `/health` and `/ready`: port `port_base + 40 + id`.
    pub fn metrics_addr(&self, id: u64) -> std::net::SocketAddr {
        std::net::SocketAddr::from(([127, 0, 0, 1], self.port_base + 40 + id as u16))
    }

    /// Threshold sessions of `kind` (e.g. `FrostSignBatch`) the running nodes finished, as
    /// their `/metrics` count them (any outcome; a node that does not answer counts 0).
    pub fn session_count(&self, kind: &str) -> f64 {
        let label = format!("kind=\"{kind}\"");
        (1..=self.nodes.len() as u64)
            .filter_map(|n| self.http_get(n, "/metrics").ok())
            .map(|(_, text)| metric_sum(&text, "mpc_session_duration_seconds_count", &[&label]))
            .sum()
    }

    /// `GET path` on node `id`'s metrics listener: the HTTP status and body.
    pub fn http_get(&self, id: u64, path: &str) -> anyhow::Result<(u16, String)> {
        use std::io::{Read, Write};
        let addr = self.metrics_addr(id);
        let mut s = std::net::TcpStream::connect_timeout(&addr, Duration::from_secs(2))?;
        s.set_read_timeout(Some(Duration::from_secs(10)))?;
        write!(
            s,
            "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
        )?;
        let mut text = String::new();
        s.read_to_string(&mut text)?;
        let status = text
            .split_whitespace()
            .nth(1)
            .and_then(|c| c.parse().ok())
            .ok_or_else(|| anyhow::anyhow!("not an HTTP answer: {text}"))?;
        let body = text
            .split_once("\r\n\r\n")
            .map(|(_, b)| b.to_string())
            .unwrap_or_default();
        Ok((status, body))
    }

    /// The node with id `id`.
    pub fn node(&mut self, id: u64) -> &mut NodeProc {
        &mut self.nodes[(id - 1) as usize]
    }

    /// Starts (or restarts) node `id`; its log is appended to.
    pub fn start_node(&mut self, id: u64) -> anyhow::Result<()> {
        let bin = self
            .node_bin_overrides
            .get(&id)
            .unwrap_or(&self.node_bin)
            .clone();
        let overridden = self.node_bin_overrides.contains_key(&id);
        let replacement = self.replacement_hosts.contains(&id);
        let joining = self.joining_hosts.contains(&id);
        let extra_env = self.node_env.get(&id).cloned().unwrap_or_default();
        let genesis = self.genesis.clone();
        let pass = self.dir.path().join("pass");
        let metrics = self.metrics_addr(id);
        let node = self.node(id);
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&node.log)?;
        let mut cmd = Command::new(bin);
        cmd.envs(extra_env);
        if overridden {
            cmd.env(
                "MPC_FORGE_REPORT",
                node.data_dir.join("forged-sessions.jsonl"),
            );
        }
        cmd.arg("start");
        cmd.args(["--metrics-listen", &metrics.to_string()]);
        if replacement {
            cmd.arg("--replacement-host");
        }
        if joining {
            cmd.arg("--joining");
        }
        let child = cmd
            .arg("--data-dir")
            .arg(&node.data_dir)
            .arg("--genesis")
            .arg(&genesis)
            .arg("--passphrase-file")
            .arg(&pass)
            .arg("--insecure-test-primes")
            .arg(insecure_primes_fixture())
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .spawn()?;
        node.child = Some(child);
        let endpoint = node.endpoint.clone();
        wait_until(Duration::from_secs(20), || {
            RpcClient::new(&endpoint, Duration::from_secs(1))
                .call("node_status", json!({}))
                .is_ok()
        })
        .with_context(|| format!("node {id} did not answer JSON-RPC"))
    }

    /// What the forger running as node `id` recorded (`MPC_FORGE_REPORT`, one JSON value a line):
    /// its forged sessions and attacks, in order.
    pub fn forge_records(&self, id: u64) -> Vec<Value> {
        let path = self.nodes[(id - 1) as usize]
            .data_dir
            .join("forged-sessions.jsonl");
        std::fs::read_to_string(path)
            .unwrap_or_default()
            .lines()
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect()
    }

    /// Replaces node `id`'s host: SIGKILLs it, deletes its data directory (shares and log
    /// gone), initialises a new host with new keys and ports for the same node id with the real
    /// `mpc-node init`, and starts it with `--replacement-host`. Returns the new card's path
    /// (for the genesis admins' `node_replace`).
    pub fn replace_host(&mut self, id: u64) -> anyhow::Result<PathBuf> {
        self.kill_node(id);
        let p2p = self.port_base + 20 + id as u16;
        let rpc = self.port_base + 70 + id as u16;
        let pass = self.dir.path().join("pass");
        let node_bin = self.node_bin.clone();
        let data_dir = self.node(id).data_dir.clone();
        std::fs::remove_dir_all(&data_dir)?;
        init_node(&node_bin, &data_dir, id, p2p, rpc, &pass)?;
        let card_path = data_dir.join("card.json");
        let card: mpc_bootstrap::identity::IdentityCard =
            serde_json::from_slice(&std::fs::read(&card_path)?)?;
        self.node(id).endpoint =
            Endpoint::new(&format!("https://127.0.0.1:{rpc}"), &card.rpc_tls_sha256)
                .map_err(anyhow::Error::msg)?;
        self.replacement_hosts.insert(id);
        self.start_node(id)?;
        Ok(card_path)
    }

    /// A new node for the network: the next node id, initialised with the real `mpc-node init`
    /// and started with `--joining` (it waits for the genesis admins' `node_add`). Returns its
    /// id and its card's path.
    pub fn add_host(&mut self) -> anyhow::Result<(u64, PathBuf)> {
        let id = self.nodes.len() as u64 + 1;
        let p2p = self.port_base + id as u16;
        let rpc = self.port_base + 50 + id as u16;
        let pass = self.dir.path().join("pass");
        let data_dir = self.dir.path().join(format!("node{id}"));
        init_node(&self.node_bin, &data_dir, id, p2p, rpc, &pass)?;
        let card_path = data_dir.join("card.json");
        let card: mpc_bootstrap::identity::IdentityCard =
            serde_json::from_slice(&std::fs::read(&card_path)?)?;
        self.nodes.push(NodeProc {
            node_id: id,
            log: self.dir.path().join(format!("node{id}.log")),
            data_dir,
            endpoint: Endpoint::new(&format!("https://127.0.0.1:{rpc}"), &card.rpc_tls_sha256)
                .map_err(anyhow::Error::msg)?,
            child: None,
        });
        self.joining_hosts.insert(id);
        self.start_node(id)?;
        Ok((id, card_path))
    }

    /// SIGKILLs node `id` (no chance to flush anything).
    pub fn kill_node(&mut self, id: u64) {
        if let Some(mut c) = self.node(id).child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// SIGTERMs node `id` and waits for it to exit (SIGKILL after 10 s).
    pub fn stop_node(&mut self, id: u64) {
        if let Some(mut c) = self.node(id).child.take() {
            let _ = Command::new("kill")
                .args(["-TERM", &c.id().to_string()])
                .status();
            let deadline = Instant::now() + Duration::from_secs(10);
            while Instant::now() < deadline {
                if let Ok(Some(_)) = c.try_wait() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// A JSON-RPC client for node `id`; it signs reads as the genesis admin (a member of the
    /// organisations it creates naming itself first admin).
    pub fn client(&self, id: u64) -> RpcClient {
        self.anonymous_client(id)
            .with_reader(mpc_cli::client::Reader::new(
                self.admin.clone(),
                &self.cluster_id,
            ))
    }

    /// A JSON-RPC client for node `id` that signs nothing.
    pub fn anonymous_client(&self, id: u64) -> RpcClient {
        RpcClient::new(
            &self.nodes[(id - 1) as usize].endpoint,
            Duration::from_secs(15),
        )
    }

    /// `node_status` of node `id`.
    pub fn status(&self, id: u64) -> anyhow::Result<Value> {
        Ok(self.client(id).call("node_status", json!({}))?)
    }

    /// Waits until a running node other than `exclude` reports itself leader; returns its id.
    pub fn wait_for_leader(
        &mut self,
        exclude: Option<u64>,
        timeout: Duration,
    ) -> anyhow::Result<u64> {
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            let ids: Vec<u64> = self.nodes.iter().map(|n| n.node_id).collect();
            for id in ids {
                if Some(id) == exclude || !self.node(id).is_running() {
                    continue;
                }
                let client = RpcClient::new(
                    &self.nodes[(id - 1) as usize].endpoint,
                    Duration::from_millis(500),
                );
                if let Ok(s) = client.call("node_status", json!({})) {
                    if s["role"] == "leader" {
                        return Ok(id);
                    }
                }
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        bail!("no leader within {timeout:?}")
    }

    /// The log of node `id`.
    pub fn log_of(&self, id: u64) -> String {
        std::fs::read_to_string(&self.nodes[(id - 1) as usize].log).unwrap_or_default()
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let ids: Vec<u64> = self.nodes.iter().map(|n| n.node_id).collect();
        for id in ids {
            self.kill_node(id);
        }
    }
}

/// Sum of every sample of metric `name` whose labels contain each of `labels` (for example
/// `kind="FrostSignBatch"`), in a `/metrics` text.
pub fn metric_sum(text: &str, name: &str, labels: &[&str]) -> f64 {
    text.lines()
        .filter(|l| !l.starts_with('#') && l.starts_with(name))
        .filter(|l| l[name.len()..].starts_with([' ', '{']))
        .filter(|l| labels.iter().all(|label| l.contains(label)))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

/// Polls `f` every 50 ms until it is true or `timeout` passes.
pub fn wait_until(timeout: Duration, mut f: impl FnMut() -> bool) -> anyhow::Result<()> {
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if f() {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    bail!("condition not met within {timeout:?}")
}
