//! Real chain software for the chain tests, started and stopped by PID, installed from npm by
//! `testnet/ensure-chains.sh`: `anvil` (a local Ethereum node from Foundry) and LiteSVM (the
//! Solana runtime, behind Solana's JSON-RPC API in `testnet/litesvm/rpc.cjs`).

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

/// LiteSVM (the real Solana runtime, in a Node.js process) behind Solana's JSON-RPC API
/// (`testnet/litesvm/rpc.cjs`), on 127.0.0.1; killed on drop. Signature verification, blockhash
/// and durable-nonce checks are on.
pub struct LiteSvm {
    child: Child,
    /// Its JSON-RPC URL.
    pub url: String,
    rpc: mpc_chains::JsonRpc,
}

impl LiteSvm {
    /// Starts `node testnet/litesvm/rpc.cjs <port>` and waits (at most 20 s) until it answers.
    pub fn start(port: u16) -> anyhow::Result<LiteSvm> {
        let tools = tools()?;
        let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("litesvm/rpc.cjs");
        let child = Command::new("node")
            .arg(&script)
            .arg(port.to_string())
            .env("NODE_PATH", tools.join("node_modules"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .context("starting node testnet/litesvm/rpc.cjs")?;
        let url = format!("http://127.0.0.1:{port}");
        let svm = LiteSvm {
            child,
            rpc: mpc_chains::JsonRpc::new(&url, Duration::from_secs(10)),
            url,
        };
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            match svm.rpc.call("getSlot", json!([])) {
                Ok(_) => return Ok(svm),
                Err(_) if Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(100))
                }
                Err(e) => bail!("litesvm on port {port} did not answer within 20 s: {e}"),
            }
        }
    }

    /// Calls a JSON-RPC method.
    pub fn call(
        &self,
        method: &str,
        params: serde_json::Value,
    ) -> anyhow::Result<serde_json::Value> {
        Ok(self.rpc.call(method, params)?)
    }

    /// The local chain's faucet.
    pub fn airdrop(&self, address: &str, lamports: u64) -> anyhow::Result<()> {
        self.call("litesvm_airdrop", json!([address, lamports]))?;
        Ok(())
    }

    /// A new durable nonce account advanced by `authority`; returns its address.
    pub fn create_nonce_account(&self, authority: &str) -> anyhow::Result<String> {
        let v = self.call("litesvm_createNonceAccount", json!([authority]))?;
        Ok(v.as_str().context("nonce account address")?.to_string())
    }

    /// Lamports of `address`.
    pub fn balance(&self, address: &str) -> anyhow::Result<u64> {
        let v = self.call("getBalance", json!([address]))?;
        v["value"].as_u64().context("balance")
    }

    /// The latest blockhash.
    pub fn blockhash(&self) -> anyhow::Result<String> {
        let v = self.call("getLatestBlockhash", json!([]))?;
        Ok(v["value"]["blockhash"]
            .as_str()
            .context("blockhash")?
            .to_string())
    }

    /// Makes every earlier blockhash invalid: what the passage of about a minute does.
    pub fn expire_blockhash(&self) -> anyhow::Result<()> {
        self.call("litesvm_expireBlockhash", json!([]))?;
        Ok(())
    }

    /// Sends a signed transaction (base64); returns its signature.
    pub fn send(&self, tx_base64: &str) -> anyhow::Result<String> {
        let v = self.call(
            "sendTransaction",
            json!([tx_base64, { "encoding": "base64" }]),
        )?;
        Ok(v.as_str().context("signature")?.to_string())
    }

    /// The process id.
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
