//! `mpc-demo`: the custody demo against the testnet started by `testnet/run.sh` (see
//! `testnet/demo.sh`). Writes user keys and one JSON file per chain under `testnet/.run/demo/`.

use anyhow::Context;
use mpc_bootstrap::sealed::KdfParams;
use mpc_bootstrap::userkey::UserKeyFile;
use mpc_testnet::demo::{self, Net, Users};
use serde_json::json;
use std::path::PathBuf;

fn main() -> std::process::ExitCode {
    match run() {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("demo failed: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

fn run() -> anyhow::Result<()> {
    let run_dir = PathBuf::from(
        std::env::args()
            .nth(1)
            .context("usage: mpc-demo <testnet/.run> <rpc-url>...")?,
    );
    let urls: Vec<String> = std::env::args().skip(2).collect();
    anyhow::ensure!(!urls.is_empty(), "give at least one node URL");
    let pass = std::fs::read_to_string(run_dir.join("secrets/admin.pass"))?;
    let pass = pass.trim_end_matches('\n');
    let admin = UserKeyFile::load(&run_dir.join("admin.key"), pass.as_bytes())?;
    // Each node's TLS certificate is pinned from the genesis, which also names the network.
    let (endpoints, cluster_id) = mpc_testnet::endpoints_from_run(&run_dir, &urls)?;
    let net = Net::new(&endpoints, &cluster_id, admin.signing_key);
    let out = run_dir.join("demo");
    std::fs::create_dir_all(&out)?;
    let key = |name: &str| -> anyhow::Result<ed25519_dalek::SigningKey> {
        let file = out.join(format!("{name}.key"));
        let _ = std::fs::remove_file(&file);
        Ok(UserKeyFile::create(&file, name, pass.as_bytes(), KdfParams::floor())?.signing_key)
    };
    let users = Users {
        alice: key("alice")?,
        bob: key("bob")?,
        carol: key("carol")?,
        ivan: key("ivan")?,
    };
    let stamp = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)?
        .as_secs();
    let org = format!("acme-{stamp}");
    let vault = format!("treasury-{stamp}");
    let say = |s: &str| println!("==> {s}");
    let wallets = demo::setup(&net, &users, &org, &vault, &say)?;
    // `testnet/run.sh` starts a local anvil and points every node at it (`anvil.url`): the
    // Ethereum transfer is then broadcast by the network and confirmed on that chain.
    let anvil = std::fs::read_to_string(run_dir.join("anvil.url"))
        .ok()
        .map(|u| mpc_chains::eth::EthRpc::new(u.trim(), std::time::Duration::from_secs(10)));
    let results = demo::transfers(
        &net,
        &users,
        &org,
        &wallets,
        Some(&out),
        anvil.as_ref(),
        &say,
    )?;
    println!();
    println!(
        "Signed transactions (also in {}/<chain>.json):",
        out.display()
    );
    for r in &results {
        println!(
            "{} ({}): {} [{}: {}]",
            r.chain, r.address, r.signed_transaction, r.txid, r.final_status
        );
    }
    let audit = net.read("audit_verify", json!({}))?;
    println!();
    println!(
        "audit chain: {} entries, intact: {}",
        audit["entries"], audit["ok"]
    );
    println!(
        "user keys (passphrase = admin passphrase): {}/<name>.key",
        out.display()
    );
    Ok(())
}
