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
    Init {
        /// Data directory (created if missing).
        #[arg(long)]
        data_dir: PathBuf,
        /// Raft node id (≥ 1, unique in the network).
        #[arg(long)]
        node_id: u64,
        /// libp2p listen address.
        #[arg(long, default_value = "/ip4/127.0.0.1/tcp/7001")]
        p2p_addr: String,
        /// JSON-RPC listen address.
        #[arg(long, default_value = "127.0.0.1:8001")]
        rpc_addr: String,
        /// Read the passphrase from this file instead of MPC_PASSPHRASE or a prompt.
        #[arg(long)]
        passphrase_file: Option<PathBuf>,
        /// Argon2id memory cost in KiB (floor 19456).
        #[arg(long, default_value_t = KdfParams::default().memory_kib)]
        kdf_memory_kib: u32,
        /// Argon2id iterations (floor 2).
        #[arg(long, default_value_t = KdfParams::default().iterations)]
        kdf_iterations: u32,
        /// INSECURE, tests and local testnets only: store this node's Paillier primes from the
        /// published test fixture instead of generating them.
        #[arg(long, env = "MPC_INSECURE_TEST_PRIMES")]
        insecure_test_primes: Option<PathBuf>,
    },
    /// Print the identity card of an initialised node (no passphrase needed).
    Card {
        /// Data directory.
        #[arg(long)]
        data_dir: PathBuf,
    },
    /// Build genesis.json from identity cards, the threshold and the initial admin keys, and
    /// print its hash.
    Genesis {
        /// Identity card files (`card.json` of each node), one per node.
        #[arg(long = "card", required = true)]
        cards: Vec<PathBuf>,
        /// Signing threshold t (2 ≤ t ≤ number of nodes).
        #[arg(long)]
        threshold: u32,
        /// Initial admin as NAME=ED25519_PUBLIC_KEY_HEX (repeatable).
        #[arg(long = "admin")]
        admins: Vec<String>,
        /// Initial admin from a user key file made by `mpc key create` (repeatable).
        #[arg(long = "admin-key-file")]
        admin_key_files: Vec<PathBuf>,
        /// Network name.
        #[arg(long, default_value = "mpc-local")]
        network: String,
        /// Output file.
        #[arg(long, default_value = "genesis.json")]
        out: PathBuf,
        /// Overwrite an existing output file.
        #[arg(long)]
        force: bool,
    },
    /// Start the node (runs until SIGINT / SIGTERM).
    Start {
        /// Data directory made by `init`.
        #[arg(long)]
        data_dir: PathBuf,
        /// The network's genesis.json.
        #[arg(long)]
        genesis: PathBuf,
        /// Read the passphrase from this file instead of MPC_PASSPHRASE or a prompt.
        #[arg(long)]
        passphrase_file: Option<PathBuf>,
        /// Raft heartbeat interval, ms.
        #[arg(long, default_value_t = 100)]
        heartbeat_ms: u64,
        /// Raft election timeout lower bound, ms (upper bound is 1.6×).
        #[arg(long, default_value_t = 400)]
        election_timeout_ms: u64,
        /// Log as JSON lines instead of text.
        #[arg(long)]
        log_json: bool,
        /// INSECURE, tests and local testnets only: take this node's Paillier primes from the
        /// published test fixture instead of generating them.
        #[arg(long, env = "MPC_INSECURE_TEST_PRIMES")]
        insecure_test_primes: Option<PathBuf>,
    },
}

/// Runs a parsed command line.
pub fn run(args: Args) -> anyhow::Result<()> {
    match args.command {
        Command::Init {
            data_dir,
            node_id,
            p2p_addr,
            rpc_addr,
            passphrase_file,
            kdf_memory_kib,
            kdf_iterations,
            insecure_test_primes,
        } => {
            let kdf = KdfParams {
                memory_kib: kdf_memory_kib,
                iterations: kdf_iterations,
                ..KdfParams::default()
            };
            kdf.check_floor()?;
            let pass = passphrase::obtain(
                passphrase_file.as_deref(),
                NODE_PASSPHRASE_ENV,
                "New node passphrase: ",
                true,
            )?;
            std::fs::create_dir_all(&data_dir)
                .with_context(|| format!("creating {}", data_dir.display()))?;
            let id = NodeIdentity::create(
                &data_dir,
                node_id,
                &p2p_addr,
                &rpc_addr,
                pass.as_bytes(),
                kdf,
            )?;
            make_primes(
                &data_dir,
                node_id,
                pass.as_bytes(),
                kdf,
                insecure_test_primes,
            )?;
            println!("{}", serde_json::to_string_pretty(&id.card)?);
            eprintln!(
                "identity sealed in {}; public card in {}",
                NodeIdentity::path(&data_dir).display(),
                data_dir.join(CARD_FILE).display()
            );
            Ok(())
        }
        Command::Card { data_dir } => {
            let text = read_bounded(&data_dir.join(CARD_FILE), 64 * 1024)?;
            let card: IdentityCard = serde_json::from_str(&text)?;
            println!("{}", serde_json::to_string_pretty(&card)?);
            Ok(())
        }
        Command::Genesis {
            cards,
            threshold,
            admins,
            admin_key_files,
            network,
            out,
            force,
        } => {
            let mut parsed = Vec::new();
            for path in &cards {
                let text = read_bounded(path, 64 * 1024)?;
                let card: IdentityCard = serde_json::from_str(&text)
                    .with_context(|| format!("parsing identity card {}", path.display()))?;
                parsed.push(card);
            }
            let mut admin_list = Vec::new();
            for a in &admins {
                let (name, key) = a.split_once('=').ok_or_else(|| {
                    anyhow::anyhow!("--admin takes NAME=PUBLIC_KEY_HEX, got '{a}'")
                })?;
                admin_list.push(GenesisAdmin {
                    name: name.to_string(),
                    public_key: key.to_string(),
                });
            }
            for f in &admin_key_files {
                let p = UserKeyFile::read_public(f)?;
                admin_list.push(GenesisAdmin {
                    name: p.name,
                    public_key: p.public_key,
                });
            }
            let genesis = Genesis::build(&network, threshold, parsed, admin_list)?;
            genesis.save(&out, force)?;
            println!("{}", genesis.hash());
            eprintln!(
                "genesis for {} nodes (t = {}) written to {}",
                genesis.nodes.len(),
                genesis.threshold,
                out.display()
            );
            Ok(())
        }
        Command::Start {
            data_dir,
            genesis,
            passphrase_file,
            heartbeat_ms,
            election_timeout_ms,
            log_json,
            insecure_test_primes,
        } => {
            init_tracing(log_json);
            let pass = passphrase::obtain(
                passphrase_file.as_deref(),
                NODE_PASSPHRASE_ENV,
                "Node passphrase: ",
                false,
            )?;
            let opts = NodeOptions {
                data_dir,
                genesis_path: genesis,
                heartbeat_ms,
                election_timeout_ms,
                insecure_test_primes,
            };
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()?;
            let res = runtime.block_on(node::run(opts, pass));
            // Threshold sessions run on blocking threads; abandon the ones still running
            // instead of waiting for their timeouts (up to minutes for presigning). Nothing is
            // lost: every write was flushed before it was acknowledged, and the peers time out
            // and retry.
            runtime.shutdown_timeout(std::time::Duration::from_secs(2));
            res
        }
    }
}

/// Makes this node's Paillier primes for ECDSA aux info now (tens of seconds of one core), sealed
/// in the share store, so that the network's first ECDSA signature does not wait for them.
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
