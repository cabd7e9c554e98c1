//! `mpc-node start --config FILE` (issue 16): the start settings in a TOML file, each of which
//! a command-line flag (or its environment variable) overrides. Unknown keys are refused, so a
//! misspelt setting is an error rather than silently ignored. Example:
//!
//! ```toml
//! data_dir = "/var/lib/mpc-node"
//! genesis = "/etc/mpc-node/genesis.json"
//! passphrase_file = "/run/credentials/mpc-node.service/passphrase"
//! log_json = true
//! metrics_listen = "127.0.0.1:9201"
//! console_listen = "127.0.0.1:8080"
//! heartbeat_ms = 100
//! election_timeout_ms = 400
//! chain_providers = ["ethereum:mainnet=https://eth.example.net"]
//! ```
//!
//! Test-only and first-start-only flags (`--insecure-test-primes`, `--replacement-host`,
//! `--joining`) are not settings: they stay on the command line.

use anyhow::Context;
use serde::Deserialize;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

/// Largest configuration file read.
const MAX_CONFIG_BYTES: u64 = 64 * 1024;
/// Raft heartbeat interval when neither flag nor file sets it, ms.
pub const DEFAULT_HEARTBEAT_MS: u64 = 100;
/// Raft election timeout lower bound when neither flag nor file sets it, ms (decision 0030).
pub const DEFAULT_ELECTION_TIMEOUT_MS: u64 = 400;

/// The file's settings (all optional: flags may give them instead).
#[derive(Debug, Default, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StartConfig {
    /// Data directory made by `init`.
    pub data_dir: Option<PathBuf>,
    /// The network's genesis.json.
    pub genesis: Option<PathBuf>,
    /// The node passphrase's file.
    pub passphrase_file: Option<PathBuf>,
    /// Raft heartbeat interval, ms.
    pub heartbeat_ms: Option<u64>,
    /// Raft election timeout lower bound, ms.
    pub election_timeout_ms: Option<u64>,
    /// Log as JSON lines.
    pub log_json: Option<bool>,
    /// Chain providers, `chain:network=url` each.
    pub chain_providers: Option<Vec<String>>,
    /// Web console listener (loopback).
    pub console_listen: Option<SocketAddr>,
    /// `/metrics`, `/health`, `/ready` listener.
    pub metrics_listen: Option<SocketAddr>,
}

impl StartConfig {
    /// Reads and parses `path` (at most 64 KiB); errors name the file and the line.
    pub fn read(path: &Path) -> anyhow::Result<StartConfig> {
        let text = mpc_bootstrap::sealed::read_bounded(path, MAX_CONFIG_BYTES)
            .with_context(|| format!("reading the configuration file {}", path.display()))?;
        Self::parse(&text).with_context(|| format!("in the configuration file {}", path.display()))
    }

    /// Parses TOML text.
    pub fn parse(text: &str) -> anyhow::Result<StartConfig> {
        toml::from_str(text).map_err(|e| anyhow::anyhow!("{e}"))
    }
}

/// The settings `start` runs with: each from its flag, else the file, else the default.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resolved {
    /// Data directory.
    pub data_dir: PathBuf,
    /// genesis.json.
    pub genesis: PathBuf,
    /// Passphrase file, if any (else `MPC_PASSPHRASE` or a prompt).
    pub passphrase_file: Option<PathBuf>,
    /// Raft heartbeat, ms.
    pub heartbeat_ms: u64,
    /// Raft election timeout, ms.
    pub election_timeout_ms: u64,
    /// JSON logs.
    pub log_json: bool,
    /// Chain providers.
    pub chain_providers: Vec<mpc_chains::Provider>,
    /// Console listener.
    pub console_listen: Option<SocketAddr>,
    /// Metrics listener.
    pub metrics_listen: Option<SocketAddr>,
}

/// What the command line gave (`None` / empty / false: not given).
#[derive(Debug, Default, Clone)]
pub struct Flags {
    /// `--data-dir`.
    pub data_dir: Option<PathBuf>,
    /// `--genesis`.
    pub genesis: Option<PathBuf>,
    /// `--passphrase-file`.
    pub passphrase_file: Option<PathBuf>,
    /// `--heartbeat-ms`.
    pub heartbeat_ms: Option<u64>,
    /// `--election-timeout-ms`.
    pub election_timeout_ms: Option<u64>,
    /// `--log-json`.
    pub log_json: bool,
    /// `--chain-provider` (or `MPC_CHAIN_PROVIDERS`).
    pub chain_providers: Vec<mpc_chains::Provider>,
    /// `--console-listen` (or `MPC_CONSOLE_LISTEN`).
    pub console_listen: Option<SocketAddr>,
    /// `--metrics-listen` (or `MPC_METRICS_LISTEN`).
    pub metrics_listen: Option<SocketAddr>,
}

/// Flags over the file over the defaults.
pub fn resolve(flags: Flags, file: StartConfig) -> anyhow::Result<Resolved> {
    let data_dir = flags.data_dir.or(file.data_dir).ok_or_else(|| {
        anyhow::anyhow!("no data directory: give --data-dir, or data_dir in the --config file")
    })?;
    let genesis = flags.genesis.or(file.genesis).ok_or_else(|| {
        anyhow::anyhow!("no genesis: give --genesis, or genesis in the --config file")
    })?;
    let chain_providers = if flags.chain_providers.is_empty() {
        file.chain_providers
            .unwrap_or_default()
            .iter()
            .map(|p| {
                p.parse::<mpc_chains::Provider>()
                    .map_err(|e| anyhow::anyhow!("chain_providers entry '{p}': {e}"))
            })
            .collect::<anyhow::Result<Vec<_>>>()?
    } else {
        flags.chain_providers
    };
    Ok(Resolved {
        data_dir,
        genesis,
        passphrase_file: flags.passphrase_file.or(file.passphrase_file),
        heartbeat_ms: flags
            .heartbeat_ms
            .or(file.heartbeat_ms)
            .unwrap_or(DEFAULT_HEARTBEAT_MS),
        election_timeout_ms: flags
            .election_timeout_ms
            .or(file.election_timeout_ms)
            .unwrap_or(DEFAULT_ELECTION_TIMEOUT_MS),
        log_json: flags.log_json || file.log_json.unwrap_or(false),
        chain_providers,
        console_listen: flags.console_listen.or(file.console_listen),
        metrics_listen: flags.metrics_listen.or(file.metrics_listen),
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    const FILE: &str = r#"
data_dir = "/var/lib/mpc-node"
genesis = "/etc/mpc-node/genesis.json"
passphrase_file = "/run/credentials/pass"
heartbeat_ms = 150
election_timeout_ms = 600
log_json = true
chain_providers = ["ethereum:testnet=http://127.0.0.1:8545"]
metrics_listen = "127.0.0.1:9201"
"#;

    #[test]
    fn the_file_fills_what_flags_leave_and_flags_win() {
        let file = StartConfig::parse(FILE).unwrap();
        let r = resolve(Flags::default(), file.clone()).unwrap();
        assert_eq!(r.data_dir, PathBuf::from("/var/lib/mpc-node"));
        assert_eq!(r.heartbeat_ms, 150);
        assert_eq!(r.election_timeout_ms, 600);
        assert!(r.log_json);
        assert_eq!(r.chain_providers.len(), 1);
        assert_eq!(r.metrics_listen, Some("127.0.0.1:9201".parse().unwrap()));
        assert_eq!(r.console_listen, None);
        let flags = Flags {
            data_dir: Some("/tmp/other".into()),
            heartbeat_ms: Some(80),
            metrics_listen: Some("127.0.0.1:9999".parse().unwrap()),
            ..Flags::default()
        };
        let r = resolve(flags, file).unwrap();
        assert_eq!(r.data_dir, PathBuf::from("/tmp/other"));
        assert_eq!(r.genesis, PathBuf::from("/etc/mpc-node/genesis.json"));
        assert_eq!(r.heartbeat_ms, 80);
        assert_eq!(r.election_timeout_ms, 600);
        assert_eq!(r.metrics_listen, Some("127.0.0.1:9999".parse().unwrap()));
        // Neither: the defaults.
        let flags = Flags {
            data_dir: Some("/d".into()),
            genesis: Some("/g".into()),
            ..Flags::default()
        };
        let r = resolve(flags, StartConfig::default()).unwrap();
        assert_eq!(
            (r.heartbeat_ms, r.election_timeout_ms, r.log_json),
            (DEFAULT_HEARTBEAT_MS, DEFAULT_ELECTION_TIMEOUT_MS, false)
        );
    }

    #[test]
    fn mistakes_are_named() {
        let e = StartConfig::parse("data_dir = \"/d\"\nheartbeat = 5\n").unwrap_err();
        assert!(e.to_string().contains("heartbeat"), "{e}");
        let e = StartConfig::parse("heartbeat_ms = \"fast\"\n").unwrap_err();
        assert!(e.to_string().contains("heartbeat_ms"), "{e}");
        let e = resolve(Flags::default(), StartConfig::default()).unwrap_err();
        assert!(e.to_string().contains("--data-dir"), "{e}");
        let bad = StartConfig {
            data_dir: Some("/d".into()),
            genesis: Some("/g".into()),
            chain_providers: Some(vec!["nonsense".into()]),
            ..StartConfig::default()
        };
        let e = resolve(Flags::default(), bad).unwrap_err();
        assert!(e.to_string().contains("nonsense"), "{e}");
    }
}

#[cfg(test)]
mod example_tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    /// The example in docs/examples stays a valid configuration.
    #[test]
    fn the_documented_example_parses() {
        let c = StartConfig::parse(include_str!("../../docs/examples/config.toml")).unwrap();
        let r = resolve(Flags::default(), c).unwrap();
        assert_eq!(r.data_dir, PathBuf::from("/var/lib/mpc-node"));
        assert_eq!(r.chain_providers.len(), 2);
        assert!(r.log_json);
    }
}
