//! Real chain software for the chain tests, started and stopped by PID, installed from npm by
//! `testnet/ensure-chains.sh`: `anvil` (a local Ethereum node from Foundry) and LiteSVM (the
//! Solana runtime, driven by `testnet/litesvm/svm.cjs`).

use anyhow::{bail, Context};
use mpc_chains::eth::EthRpc;
use serde_json::json;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// `testnet/.tools`, with anvil and litesvm installed (`testnet/ensure-chains.sh` runs first).
pub fn tools() -> anyhow::Result<PathBuf> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let status = Command::new("bash")
        .arg(root.join("ensure-chains.sh"))
        .status()
        .context("running testnet/ensure-chains.sh")?;
    if !status.success() {
        bail!("testnet/ensure-chains.sh failed: the chain software could not be installed");
    }
    Ok(root.join(".tools"))
}

/// The anvil binary, installed first when missing.
pub fn anvil_binary() -> anyhow::Result<PathBuf> {
    Ok(tools()?.join("node_modules/@foundry-rs/anvil-linux-amd64/bin/anvil"))
}

/// A LiteSVM (the real Solana runtime, in a Node.js process) driven line by line; killed on
/// drop. Signature verification and the blockhash check are on.
pub struct LiteSvm {
    child: Child,
    stdin: std::process::ChildStdin,
    lines: std::sync::mpsc::Receiver<String>,
}

impl LiteSvm {
    /// Starts `node testnet/litesvm/svm.cjs`.
    pub fn start() -> anyhow::Result<LiteSvm> {
        let tools = tools()?;
        let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("litesvm/svm.cjs");
        let mut child = Command::new("node")
            .arg(&script)
            .env("NODE_PATH", tools.join("node_modules"))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .context("starting node testnet/litesvm/svm.cjs")?;
        let stdin = child.stdin.take().context("litesvm stdin")?;
        let stdout = child.stdout.take().context("litesvm stdout")?;
        let (tx, lines) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            use std::io::BufRead;
            for line in std::io::BufReader::new(stdout).lines() {
                let Ok(line) = line else { return };
                if tx.send(line).is_err() {
                    return;
                }
            }
        });
        Ok(LiteSvm {
            child,
            stdin,
            lines,
        })
    }

    /// One request, its answer (at most 30 s).
    pub fn request(&mut self, req: serde_json::Value) -> anyhow::Result<serde_json::Value> {
        use std::io::Write;
        writeln!(self.stdin, "{req}")?;
        self.stdin.flush()?;
        let line = self
            .lines
            .recv_timeout(Duration::from_secs(30))
            .context("litesvm did not answer within 30 s")?;
        let v: serde_json::Value = serde_json::from_str(&line)?;
        if let Some(e) = v.get("error") {
            bail!("litesvm: {e}");
        }
        Ok(v)
    }

    /// The latest blockhash (base58).
    pub fn blockhash(&mut self) -> anyhow::Result<String> {
        let v = self.request(json!({ "op": "blockhash" }))?;
        Ok(v["blockhash"].as_str().context("blockhash")?.to_string())
    }

    /// Gives `address` `lamports`.
    pub fn airdrop(&mut self, address: &str, lamports: u64) -> anyhow::Result<()> {
        let v = self.request(
            json!({ "op": "airdrop", "address": address, "lamports": lamports.to_string() }),
        )?;
        if v["ok"] != true {
            bail!("airdrop failed: {v}");
        }
        Ok(())
    }

    /// Balance of `address`, lamports.
    pub fn balance(&mut self, address: &str) -> anyhow::Result<u64> {
        let v = self.request(json!({ "op": "balance", "address": address }))?;
        Ok(v["lamports"].as_str().context("lamports")?.parse()?)
    }

    /// Executes a signed wire transaction (base64); `Err` with the runtime's reason if it fails.
    pub fn send(&mut self, tx_base64: &str) -> anyhow::Result<Vec<String>> {
        let v = self.request(json!({ "op": "send", "tx": tx_base64 }))?;
        if v["ok"] != true {
            bail!("transaction failed: {} (logs {})", v["err"], v["logs"]);
        }
        Ok(v["logs"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|l| l.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default())
    }

    /// The runtime's PID.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for LiteSvm {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A running anvil on 127.0.0.1, killed on drop.
pub struct Anvil {
    child: Child,
    /// Its JSON-RPC URL.
    pub url: String,
    /// Its chain id.
    pub chain_id: u64,
}

impl Anvil {
    /// Starts anvil on `port` with `chain_id` (one block per transaction, as anvil does by
    /// default) and waits (at most 20 s) until it answers with that chain id.
    pub fn start(port: u16, chain_id: u64) -> anyhow::Result<Anvil> {
        Self::start_with(port, chain_id, None)
    }

    /// Like [`Anvil::start`]; with `block_time_s`, anvil mines a block every that many seconds
    /// (so that transactions gather confirmations) instead of one per transaction.
    pub fn start_with(
        port: u16,
        chain_id: u64,
        block_time_s: Option<u64>,
    ) -> anyhow::Result<Anvil> {
        let bin = anvil_binary()?;
        let mut cmd = Command::new(&bin);
        if let Some(s) = block_time_s {
            cmd.args(["--block-time", &s.to_string()]);
        }
        let child = cmd
            .args(["--host", "127.0.0.1", "--port", &port.to_string()])
            .args(["--chain-id", &chain_id.to_string(), "--silent"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .with_context(|| format!("starting {}", bin.display()))?;
        let anvil = Anvil {
            child,
            url: format!("http://127.0.0.1:{port}"),
            chain_id,
        };
        let rpc = anvil.rpc();
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            match rpc.chain_id() {
                Ok(id) if id == chain_id => return Ok(anvil),
                Ok(id) => bail!("anvil on port {port} reports chain id {id}, not {chain_id}"),
                Err(_) if Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(100))
                }
                Err(e) => bail!("anvil on port {port} did not answer within 20 s: {e}"),
            }
        }
    }

    /// A client of this anvil.
    pub fn rpc(&self) -> EthRpc {
        EthRpc::new(&self.url, Duration::from_secs(10))
    }

    /// Sets `address`'s balance (anvil's `anvil_setBalance`): funds the vault's wallet.
    pub fn set_balance(&self, address: &str, wei: u128) -> anyhow::Result<()> {
        self.rpc()
            .call("anvil_setBalance", json!([address, format!("0x{wei:x}")]))?;
        Ok(())
    }

    /// anvil's PID.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for Anvil {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
