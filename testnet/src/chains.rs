//! Real chain software for the chain tests, started and stopped by PID: `anvil` (a local Ethereum
//! node from Foundry, installed from npm by `testnet/ensure-chains.sh`).

use anyhow::{bail, Context};
use mpc_chains::eth::EthRpc;
use serde_json::json;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The anvil binary, installed first when missing (`testnet/ensure-chains.sh`).
pub fn anvil_binary() -> anyhow::Result<PathBuf> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let status = Command::new("bash")
        .arg(root.join("ensure-chains.sh"))
        .status()
        .context("running testnet/ensure-chains.sh")?;
    if !status.success() {
        bail!("testnet/ensure-chains.sh failed: anvil could not be installed");
    }
    Ok(root.join(".tools/node_modules/@foundry-rs/anvil-linux-amd64/bin/anvil"))
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
        let bin = anvil_binary()?;
        let child = Command::new(&bin)
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
