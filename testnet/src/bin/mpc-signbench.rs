//! `mpc-signbench`: end-to-end signing latency and throughput against a running testnet
//! (`testnet/run.sh`), with an auto-approve policy so no human is in the loop. Latency is measured
//! from sending `request_submit` to seeing the request `signed` (polling `request_get` every
//! 5 ms on the node the request was sent to), per key type, at several concurrencies; for ECDSA
//! also with a presignature ready in the wallet's pool (waiting for the pool between requests,
//! outside the timing).
//!
//! ```text
//! mpc-signbench <testnet/.run> <rpc-url>... [-- <concurrency>...]
//! ```

use anyhow::{bail, Context};
use mpc_bootstrap::userkey::UserKeyFile;
use mpc_custody::command::Action;
use mpc_custody::types::{OrgId, UserId};
use mpc_custody::{AutoApprove, PolicyRules};
use mpc_protocol::chain::{Amount, Chain};
use mpc_testnet::demo::{self, Net, Users};
use serde_json::{json, Value};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

fn main() -> anyhow::Result<()> {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    let conc: Vec<usize> = match args.iter().position(|a| a == "--") {
        Some(i) => {
            let c = args[i + 1..]
                .iter()
                .map(|s| s.parse())
                .collect::<Result<_, _>>()?;
            args.truncate(i);
            c
        }
        None => vec![1, 16, 64],
    };
    let run_dir = PathBuf::from(
        args.first()
            .context("usage: mpc-signbench <run-dir> <rpc-url>...")?,
    );
    let urls: Vec<String> = args[1..].to_vec();
    anyhow::ensure!(!urls.is_empty(), "give at least one node URL");
    let pass = std::fs::read_to_string(run_dir.join("secrets/admin.pass"))?;
    let admin = UserKeyFile::load(
        &run_dir.join("admin.key"),
        pass.trim_end_matches('\n').as_bytes(),
    )?;
    let (endpoints, cluster) = mpc_testnet::endpoints_from_run(&run_dir, &urls)?;
    let net = Net::new(&endpoints, &cluster, admin.signing_key);
    let users = Users::random();
    let stamp = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)?
        .as_secs();
    let (org, vault) = (format!("bench-{stamp}"), format!("bench-{stamp}"));
    let quiet = |_: &str| {};
    let wallets = demo::setup(&net, &users, &org, &vault, &quiet)?;
    let rules = PolicyRules {
        approvers: ["alice", "bob", "carol"]
            .iter()
            .map(|u| UserId(u.to_string()))
            .collect(),
        threshold: 2,
        whitelist_required: true,
        limits: vec![],
        max_fee: vec![],
        allowed_calls: vec![],
        request_ttl_secs: None,
        auto_approve: vec![
            AutoApprove {
                asset: "ETH".into(),
                max_amount: Amount(1_000_000_000_000_000_000),
            },
            AutoApprove {
                asset: "BTC".into(),
                max_amount: Amount(1_000_000),
            },
            AutoApprove {
                asset: "SOL".into(),
                max_amount: Amount(1_000_000_000),
            },
        ],
    };
    net.write(
        &net.admin,
        "policy_set",
        Action::PolicySet {
            org_id: OrgId(org.clone()),
            vault_id: vault.as_str().into(),
            rules,
        },
    )?;
    // Let the one-off background work finish first — ECDSA aux info (made with the first vault)
    // and the ECDSA wallets' presignature pools — so that it does not run during the
    // measurements of the other key types.
    let t = Instant::now();
    loop {
        let mut quiet = true;
        for c in &net.clients {
            let e = c.call("engine_status", json!({}))?;
            quiet &= e["ecdsa_aux_info"]["state"] == "ready";
        }
        for (chain, w) in &wallets {
            if matches!(chain, Chain::Ethereum | Chain::BitcoinP2wpkh) {
                let p = net.read(
                    "wallet_presignatures",
                    json!({ "wallet_id": w["wallet_id"] }),
                )?;
                quiet &= p["ready"] == p["target"];
            }
        }
        if quiet {
            break;
        }
        if t.elapsed() > Duration::from_secs(600) {
            bail!("aux info or presignature pools not ready after 600 s");
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    eprintln!(
        "aux info and presignature pools ready after {:.1} s",
        t.elapsed().as_secs_f64()
    );
    println!("| key type (chain) | concurrency | requests | p50 | p99 | max | throughput |");
    println!("|---|---|---|---|---|---|---|");
    for (chain, label) in [
        (Chain::Solana, "FROST ed25519 (Solana)"),
        (Chain::BitcoinP2tr, "FROST secp256k1-tr (Bitcoin P2TR)"),
        (Chain::Ethereum, "cggmp21 ECDSA (Ethereum)"),
    ] {
        let w = wallets
            .iter()
            .find(|(c, _)| *c == chain)
            .context("wallet")?
            .1
            .clone();
        // Warm-up (the first ECDSA request may wait for aux info).
        run_batch(
            &net,
            &users,
            &org,
            chain,
            &w,
            1,
            1,
            Duration::from_secs(300),
        )?;
        if chain == Chain::Ethereum {
            // Latency when the wallet's presignature pool has one ready (the normal case for a
            // custody workload): wait for the pool before each request, outside the timing.
            let wid = w["wallet_id"].as_str().context("wallet id")?;
            let mut lat = Vec::new();
            for _ in 0..POOL_SAMPLES {
                let t = Instant::now();
                while net.read("wallet_presignatures", json!({ "wallet_id": wid }))?["ready"]
                    .as_u64()
                    .unwrap_or(0)
                    == 0
                {
                    if t.elapsed() > Duration::from_secs(300) {
                        bail!("the presignature pool did not refill within 300 s");
                    }
                    std::thread::sleep(Duration::from_millis(50));
                }
                let (l, _) = run_batch(
                    &net,
                    &users,
                    &org,
                    chain,
                    &w,
                    1,
                    1,
                    Duration::from_secs(120),
                )?;
                lat.extend(l);
            }
            lat.sort();
            let pct = |p: f64| lat[((lat.len() as f64 - 1.0) * p).round() as usize];
            println!(
                "| {label}, presignature ready | 1 | {POOL_SAMPLES} | {:.0} ms | {:.0} ms | {:.0} ms | — |",
                ms(pct(0.5)),
                ms(pct(0.99)),
                ms(*lat.last().unwrap_or(&Duration::ZERO)),
            );
        }
        for &c in &conc {
            // ECDSA beyond the pool is bounded by presigning (about a second per signature).
            let (n, timeout) = match chain {
                Chain::Ethereum => (c.max(10), Duration::from_secs(600)),
                _ => ((c * 8).max(50), Duration::from_secs(120)),
            };
            let (lat, wall) = run_batch(&net, &users, &org, chain, &w, n, c, timeout)?;
            let mut l = lat.clone();
            l.sort();
            let pct = |p: f64| l[((l.len() as f64 - 1.0) * p).round() as usize];
            println!(
                "| {label} | {c} | {n} | {:.0} ms | {:.0} ms | {:.0} ms | {:.1} signatures/s |",
                ms(pct(0.5)),
                ms(pct(0.99)),
                ms(*l.last().unwrap_or(&Duration::ZERO)),
                n as f64 / wall.as_secs_f64()
            );
        }
    }
    Ok(())
}

/// Requests measured with a presignature ready (ECDSA).
const POOL_SAMPLES: usize = 20;

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

#[allow(clippy::too_many_arguments)]
fn run_batch(
    net: &Net,
    users: &Users,
    org: &str,
    chain: Chain,
    wallet: &Value,
    n: usize,
    concurrency: usize,
    timeout: Duration,
) -> anyhow::Result<(Vec<Duration>, Duration)> {
    // Build and sign every request up front: only the network is timed.
    let mut jobs = Vec::with_capacity(n);
    for i in 0..n {
        let (payload, extras) = demo::transfer_for(chain, wallet, 1_000 + i as u64)?;
        let cmd = mpc_cli::sign::sign_action(
            &users.ivan,
            &net.cluster_id,
            &mpc_cli::sign::random_idempotency_key(),
            Action::RequestSubmit {
                org_id: OrgId(org.into()),
                wallet_id: wallet["wallet_id"].as_str().context("wallet id")?.into(),
                payload: hex::encode(payload),
                extras,
            },
        )
        .map_err(anyhow::Error::msg)?;
        jobs.push(cmd);
    }
    let jobs = Arc::new(Mutex::new(jobs));
    let results = Arc::new(Mutex::new(Vec::with_capacity(n)));
    let urls: Vec<mpc_testnet::Endpoint> =
        net.clients.iter().map(|c| c.endpoint().clone()).collect();
    let t0 = Instant::now();
    let mut handles = Vec::new();
    for w in 0..concurrency {
        let (jobs, results, url) = (jobs.clone(), results.clone(), urls[w % urls.len()].clone());
        // The initiator reads its own requests back.
        let reader = mpc_cli::client::Reader::new(users.ivan.clone(), &net.cluster_id);
        handles.push(std::thread::spawn(move || -> anyhow::Result<()> {
            let client =
                mpc_cli::client::RpcClient::new(&url, Duration::from_secs(30)).with_reader(reader);
            loop {
                let Some(cmd) = jobs.lock().map_err(|_| anyhow::anyhow!("lock"))?.pop() else {
                    return Ok(());
                };
                let start = Instant::now();
                let r = client.call("request_submit", json!({ "command": cmd }))?;
                let id = r["result"]["request"]["request_id"]
                    .as_str()
                    .context("request id")?
                    .to_string();
                loop {
                    let s = client.call("request_get", json!({ "request_id": id }))?;
                    match s["status"]["state"].as_str() {
                        Some("signed") => break,
                        Some("rejected") | Some("failed") => bail!("request {id}: {}", s["status"]),
                        _ => {}
                    }
                    if start.elapsed() > timeout {
                        bail!("request {id} not signed within {timeout:?}");
                    }
                    std::thread::sleep(Duration::from_millis(5));
                }
                results
                    .lock()
                    .map_err(|_| anyhow::anyhow!("lock"))?
                    .push(start.elapsed());
            }
        }));
    }
    for h in handles {
        h.join().map_err(|_| anyhow::anyhow!("worker panicked"))??;
    }
    let wall = t0.elapsed();
    let lat = results.lock().map_err(|_| anyhow::anyhow!("lock"))?.clone();
    Ok((lat, wall))
}
