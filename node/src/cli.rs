//! Command line of `mpc-node`: `init`, `genesis`, `card`, `start`.

use crate::node::{self, NodeOptions};
use crate::primes;
use crate::share_store::ShareStore;
use anyhow::Context;
use clap::{Parser, Subcommand};
use mpc_bootstrap::genesis::{Genesis, GenesisAdmin};
use mpc_bootstrap::identity::{IdentityCard, NodeIdentity, CARD_FILE};
use mpc_bootstrap::passphrase::{self, NODE_PASSPHRASE_ENV};
use mpc_bootstrap::sealed::{read_bounded, KdfParams};
use mpc_bootstrap::userkey::UserKeyFile;
use std::path::PathBuf;

/// mpc-node: a peer-to-peer threshold-signature custody node.
#[derive(Debug, Parser)]
#[command(name = "mpc-node", version, about)]
pub struct Args {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Create a node identity (libp2p + Noise keys, sealed under the passphrase) and print its
    /// public identity card.
    Init(InitArgs),
    /// Print the identity card of an initialised node (no passphrase needed).
    Card {
        /// Data directory.
        #[arg(long)]
        data_dir: PathBuf,
    },
    /// Build genesis.json from identity cards, the threshold and the initial admin keys, and
    /// print its hash.
    Genesis(GenesisArgs),
    /// Start the node (runs until SIGINT / SIGTERM).
    Start(StartArgs),
    /// Make a recovery key pair for backup kits (run it offline, on the recovery holder's
    /// machine); prints the public key.
    RecoveryKey(crate::backup::cli::RecoveryKeyArgs),
    /// Write this (stopped) node's backup kit, encrypted to a recovery public key.
    Backup(crate::backup::cli::BackupArgs),
    /// Check a kit offline with its recovery key: every share against its public commitments,
    /// without reconstructing any key; which vaults it covers and how old it is.
    Drill(crate::backup::cli::DrillArgs),
    /// Write a fresh data directory from a kit: the same node, to start again.
    Restore(crate::backup::cli::RestoreArgs),
}

/// The Argon2id parameters of newly sealed files (`init`, `restore`).
#[derive(Debug, clap::Args)]
pub struct KdfArgs {
    /// Argon2id memory cost in KiB (floor 19456).
    #[arg(long, default_value_t = KdfParams::default().memory_kib)]
    pub kdf_memory_kib: u32,
    /// Argon2id iterations (floor 2).
    #[arg(long, default_value_t = KdfParams::default().iterations)]
    pub kdf_iterations: u32,
}

impl KdfArgs {
    /// The parameters, refused below the floor.
    pub fn params(&self) -> anyhow::Result<KdfParams> {
        let kdf = KdfParams {
            memory_kib: self.kdf_memory_kib,
            iterations: self.kdf_iterations,
            ..KdfParams::default()
        };
        kdf.check_floor()?;
        Ok(kdf)
    }
}

/// Arguments of `mpc-node init`.
#[derive(Debug, clap::Args)]
pub struct InitArgs {
    /// Data directory (created if missing).
    #[arg(long)]
    pub data_dir: PathBuf,
    /// Raft node id (≥ 1, unique in the network).
    #[arg(long)]
    pub node_id: u64,
    /// libp2p listen address.
    #[arg(long, default_value = "/ip4/127.0.0.1/tcp/7001")]
    pub p2p_addr: String,
    /// JSON-RPC listen address.
    #[arg(long, default_value = "127.0.0.1:8001")]
    pub rpc_addr: String,
    /// Read the passphrase from this file instead of MPC_PASSPHRASE or a prompt.
    #[arg(long)]
    pub passphrase_file: Option<PathBuf>,
    /// Argon2id parameters of the sealed files.
    #[command(flatten)]
    pub kdf: KdfArgs,
    /// INSECURE, tests only (debug builds; a release build refuses it): store this node's
    /// Paillier primes from the published test fixture instead of generating them.
    #[arg(long)]
    pub insecure_test_primes: Option<PathBuf>,
}

/// Arguments of `mpc-node genesis`.
#[derive(Debug, clap::Args)]
pub struct GenesisArgs {
    /// Identity card files (`card.json` of each node), one per node.
    #[arg(long = "card", required = true)]
    pub cards: Vec<PathBuf>,
    /// Signing threshold t (2 ≤ t ≤ number of nodes).
    #[arg(long)]
    pub threshold: u32,
    /// Initial admin as NAME=ED25519_PUBLIC_KEY_HEX (repeatable).
    #[arg(long = "admin")]
    pub admins: Vec<String>,
    /// Initial admin from a user key file made by `mpc key create` (repeatable).
    #[arg(long = "admin-key-file")]
    pub admin_key_files: Vec<PathBuf>,
    /// Network name.
    #[arg(long, default_value = "mpc-local")]
    pub network: String,
    /// Output file.
    #[arg(long, default_value = "genesis.json")]
    pub out: PathBuf,
    /// Overwrite an existing output file.
    #[arg(long)]
    pub force: bool,
}

/// Arguments of `mpc-node start`.
#[derive(Debug, clap::Args)]
pub struct StartArgs {
    /// A TOML file with these settings (docs/operations.md); a flag given here wins over it.
    #[arg(long, env = "MPC_CONFIG")]
    pub config: Option<PathBuf>,
    /// Data directory made by `init` (or `data_dir` in the config file).
    #[arg(long)]
    pub data_dir: Option<PathBuf>,
    /// The network's genesis.json (or `genesis` in the config file).
    #[arg(long)]
    pub genesis: Option<PathBuf>,
    /// Read the passphrase from this file instead of MPC_PASSPHRASE or a prompt.
    #[arg(long)]
    pub passphrase_file: Option<PathBuf>,
    /// Raft heartbeat interval, ms [default: 100].
    #[arg(long)]
    pub heartbeat_ms: Option<u64>,
    /// Raft election timeout lower bound, ms (upper bound is 1.6×, which is also the leader
    /// lease; decision 0030) [default: 400].
    #[arg(long)]
    pub election_timeout_ms: Option<u64>,
    /// Log as JSON lines instead of text.
    #[arg(long)]
    pub log_json: bool,
    /// INSECURE, tests only (debug builds; a release build refuses it): take this node's
    /// Paillier primes from the published test fixture instead of generating them.
    #[arg(long)]
    pub insecure_test_primes: Option<PathBuf>,
    /// A chain provider this node broadcasts through, watches with and reads balances from:
    /// `chain:network=url`, e.g. `ethereum:testnet=http://127.0.0.1:8545`. Repeatable (one
    /// per chain and network; in the environment, comma-separated); each node may use its own
    /// providers.
    #[arg(
        long = "chain-provider",
        env = "MPC_CHAIN_PROVIDERS",
        value_delimiter = ','
    )]
    pub chain_providers: Vec<mpc_chains::Provider>,
    /// Serve the web console on this loopback address (plain HTTP), e.g. `127.0.0.1:8080`.
    /// Approvers open it in a browser and sign in with a passkey.
    #[arg(long, env = "MPC_CONSOLE_LISTEN")]
    pub console_listen: Option<std::net::SocketAddr>,
    /// Serve Prometheus `/metrics`, `/health` and `/ready` on this address (plain HTTP; bind
    /// it where only the monitoring system reaches it), e.g. `127.0.0.1:9101`.
    #[arg(long, env = "MPC_METRICS_LISTEN")]
    pub metrics_listen: Option<std::net::SocketAddr>,
    /// This host replaces the genesis node of its node id (whose host and shares were lost):
    /// its identity card differs from the genesis entry. It waits, refusing to vote, until the
    /// genesis admins' `node_replace` is committed and it has caught up with the log; the
    /// network then repairs its shares. Needed on the first start only.
    #[arg(long)]
    pub replacement_host: bool,
    /// This host is a node being added to the network (its node id is not in the genesis). It
    /// waits, refusing to vote, until the genesis admins' `node_add` is committed and it has
    /// caught up with the log; the network then gives it its shares. Needed on the first start
    /// only.
    #[arg(long, conflicts_with = "replacement_host")]
    pub joining: bool,
}

/// Runs a parsed command line.
pub fn run(args: Args) -> anyhow::Result<()> {
    match args.command {
        Command::Init(a) => init(a),
        Command::RecoveryKey(a) => crate::backup::cli::recovery_key(a),
        Command::Backup(a) => crate::backup::cli::backup(a),
        Command::Drill(a) => crate::backup::cli::drill(a),
        Command::Restore(a) => crate::backup::cli::restore(a),
        Command::Card { data_dir } => {
            let text = read_bounded(&data_dir.join(CARD_FILE), 64 * 1024)?;
            let card: IdentityCard = serde_json::from_str(&text)?;
            println!("{}", serde_json::to_string_pretty(&card)?);
            Ok(())
        }
        Command::Genesis(a) => genesis(a),
        Command::Start(a) => start(a),
    }
}

/// `mpc-node init`: the sealed identity, the Paillier primes, the public card.
/// Refuses `--insecure-test-primes` in a build that has the test primes compiled out.
fn check_test_primes(flag: &Option<PathBuf>) -> anyhow::Result<()> {
    if flag.is_some() && !crate::primes::INSECURE_PRIMES_COMPILED_IN {
        anyhow::bail!(crate::primes::INSECURE_PRIMES_REFUSED);
    }
    Ok(())
}

fn init(a: InitArgs) -> anyhow::Result<()> {
    check_test_primes(&a.insecure_test_primes)?;
    let kdf = a.kdf.params()?;
    let pass = passphrase::obtain(
        a.passphrase_file.as_deref(),
        NODE_PASSPHRASE_ENV,
        "New node passphrase: ",
        true,
    )?;
    std::fs::create_dir_all(&a.data_dir)
        .with_context(|| format!("creating {}", a.data_dir.display()))?;
    make_private(&a.data_dir)?;
    let id = NodeIdentity::create(
        &a.data_dir,
        a.node_id,
        &a.p2p_addr,
        &a.rpc_addr,
        pass.as_bytes(),
        kdf,
    )?;
    make_primes(
        &a.data_dir,
        a.node_id,
        pass.as_bytes(),
        kdf,
        a.insecure_test_primes,
    )?;
    println!("{}", serde_json::to_string_pretty(&id.card)?);
    eprintln!(
        "identity sealed in {}; public card in {}",
        NodeIdentity::path(&a.data_dir).display(),
        a.data_dir.join(CARD_FILE).display()
    );
    Ok(())
}

/// `mpc-node genesis`: genesis.json from the cards, threshold and admins; prints its hash.
fn genesis(a: GenesisArgs) -> anyhow::Result<()> {
    let mut parsed = Vec::new();
    for path in &a.cards {
        let text = read_bounded(path, 64 * 1024)?;
        let card: IdentityCard = serde_json::from_str(&text)
            .with_context(|| format!("parsing identity card {}", path.display()))?;
        parsed.push(card);
    }
    let mut admin_list = Vec::new();
    for admin in &a.admins {
        let (name, key) = admin
            .split_once('=')
            .ok_or_else(|| anyhow::anyhow!("--admin takes NAME=PUBLIC_KEY_HEX, got '{admin}'"))?;
        admin_list.push(GenesisAdmin {
            name: name.to_string(),
            public_key: key.to_string(),
        });
    }
    for f in &a.admin_key_files {
        let p = UserKeyFile::read_public(f)?;
        admin_list.push(GenesisAdmin {
            name: p.name,
            public_key: p.public_key,
        });
    }
    let genesis = Genesis::build(&a.network, a.threshold, parsed, admin_list)?;
    genesis.save(&a.out, a.force)?;
    println!("{}", genesis.hash());
    eprintln!(
        "genesis for {} nodes (t = {}) written to {}",
        genesis.nodes.len(),
        genesis.threshold,
        a.out.display()
    );
    Ok(())
}

/// `mpc-node start`: runs the node until SIGINT / SIGTERM.
fn start(a: StartArgs) -> anyhow::Result<()> {
    check_test_primes(&a.insecure_test_primes)?;
    let file = match &a.config {
        Some(path) => crate::config::StartConfig::read(path)?,
        None => Default::default(),
    };
    let flags = crate::config::Flags {
        data_dir: a.data_dir,
        genesis: a.genesis,
        passphrase_file: a.passphrase_file,
        heartbeat_ms: a.heartbeat_ms,
        election_timeout_ms: a.election_timeout_ms,
        log_json: a.log_json,
        chain_providers: a.chain_providers,
        console_listen: a.console_listen,
        metrics_listen: a.metrics_listen,
    };
    let s = crate::config::resolve(flags, file)?;
    init_tracing(s.log_json);
    check_private(&s.data_dir)?;
    let pass = passphrase::obtain(
        s.passphrase_file.as_deref(),
        NODE_PASSPHRASE_ENV,
        "Node passphrase: ",
        false,
    )?;
    let opts = NodeOptions {
        data_dir: s.data_dir,
        genesis_path: s.genesis,
        heartbeat_ms: s.heartbeat_ms,
        election_timeout_ms: s.election_timeout_ms,
        insecure_test_primes: a.insecure_test_primes,
        chain_providers: s.chain_providers,
        console_addr: s.console_listen,
        metrics_addr: s.metrics_listen,
        replacement_host: a.replacement_host,
        joining: a.joining,
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let res = runtime.block_on(node::run(opts, pass));
    // Threshold sessions run on blocking threads; abandon the ones still running instead of
    // waiting for their timeouts (up to minutes for presigning). Nothing is lost: every write
    // was flushed before it was acknowledged, and the peers time out and retry.
    runtime.shutdown_timeout(std::time::Duration::from_secs(2));
    res
}

/// Makes this node's Paillier primes for ECDSA aux info now (tens of seconds of one core), sealed
/// in the share store, so that the network's first ECDSA signature does not wait for them.
/// Restricts a data directory to its owner (mode 0700 on Unix).
fn make_private(dir: &std::path::Path) -> anyhow::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
            .with_context(|| format!("restricting {} to its owner", dir.display()))?;
    }
    let _ = dir;
    Ok(())
}

/// Refuses a data directory other users can enter or read (it holds the sealed identity, the
/// share store and the database).
fn check_private(dir: &std::path::Path) -> anyhow::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(dir)
            .with_context(|| format!("data directory {}", dir.display()))?
            .permissions()
            .mode();
        if mode & 0o077 != 0 {
            anyhow::bail!(
                "data directory {} is open to other users (mode {:o}); restrict it with: chmod 700 {}",
                dir.display(),
                mode & 0o777,
                dir.display()
            );
        }
    }
    let _ = dir;
    Ok(())
}

fn make_primes(
    data_dir: &std::path::Path,
    node_id: u64,
    passphrase: &[u8],
    kdf: KdfParams,
    insecure_fixture: Option<PathBuf>,
) -> anyhow::Result<()> {
    let shares = ShareStore::open(&data_dir.join("shares"), node_id, passphrase, kdf)
        .context("creating the share store")?;
    if insecure_fixture.is_none() {
        eprintln!("generating Paillier safe primes for ECDSA (one-off; often 20 s to 2 min)");
    }
    let started = std::time::Instant::now();
    let (_, source) = primes::ensure(
        &shares,
        node_id,
        insecure_fixture.as_deref(),
        &primes::stderr_progress(),
    )
    .map_err(|e| anyhow::anyhow!("making Paillier primes: {e}"))?;
    if source == primes::PrimesSource::Generated {
        eprintln!(
            "\nPaillier primes ready in {:.0} s, sealed in the share store",
            started.elapsed().as_secs_f64()
        );
    }
    Ok(())
}

fn init_tracing(json: bool) {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_env("MPC_LOG")
        .unwrap_or_else(|_| EnvFilter::new("info,openraft=warn,libp2p_gossipsub=warn,sled=warn"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    if json {
        builder.json().init();
    } else {
        builder.with_ansi(false).init();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(unix)]
    #[test]
    fn a_data_directory_open_to_others_is_refused_until_restricted() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("node");
        std::fs::create_dir(&data).unwrap();
        std::fs::set_permissions(&data, std::fs::Permissions::from_mode(0o755)).unwrap();
        let err = check_private(&data).unwrap_err().to_string();
        assert!(err.contains("chmod 700"), "{err}");
        make_private(&data).unwrap();
        check_private(&data).unwrap();
        let mode = std::fs::metadata(&data).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o700);
    }
}
