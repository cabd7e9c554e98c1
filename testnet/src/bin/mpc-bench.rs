//! `mpc-bench`: measures write latency and throughput against a running testnet
//! (`testnet/run.sh`). Each write is a signed `member_add` sent to a node of your choice (a
//! follower measures the forwarded path), answered once committed and applied there.
//!
//! ```text
//! mpc-bench [--run-dir testnet/.run] [--rpc https://127.0.0.1:8102] [--writes 300] [--concurrency 1]
//! ```

use anyhow::{bail, Context};
use mpc_bootstrap::userkey::UserKeyFile;
use mpc_cli::client::RpcClient;
use mpc_cli::sign::{random_idempotency_key, sign_action};
use mpc_custody::command::Action;
use mpc_custody::types::{OrgId, Role, UserId, UserKey};
use serde_json::json;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

struct Opts {
    run_dir: PathBuf,
    rpc: String,
    writes: usize,
    concurrency: usize,
}

fn parse_args() -> anyhow::Result<Opts> {
    let mut o = Opts {
        run_dir: PathBuf::from("testnet/.run"),
        rpc: "https://127.0.0.1:8102".into(),
        writes: 300,
        concurrency: 1,
    };
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let mut val = || args.next().context("missing value");
        match a.as_str() {
            "--run-dir" => o.run_dir = PathBuf::from(val()?),
            "--rpc" => o.rpc = val()?,
            "--writes" => o.writes = val()?.parse()?,
            "--concurrency" => o.concurrency = val()?.parse()?,
            other => bail!("unknown argument {other}"),
        }
    }
    if o.writes == 0 || o.concurrency == 0 || o.concurrency > 256 {
        bail!("--writes must be > 0 and --concurrency 1..=256");
    }
    Ok(o)
}

fn main() -> anyhow::Result<()> {
    let o = parse_args()?;
    let pass = std::fs::read_to_string(o.run_dir.join("secrets/admin.pass"))?;
    let admin = UserKeyFile::load(&o.run_dir.join("admin.key"), pass.trim().as_bytes())?;
    let (endpoints, cluster) =
        mpc_testnet::endpoints_from_run(&o.run_dir, std::slice::from_ref(&o.rpc))?;
    let endpoint = endpoints.into_iter().next().context("no endpoint")?;
    let client = RpcClient::new(&endpoint, Duration::from_secs(30));
    let org = format!("bench-{}", &random_idempotency_key()[..8]);
    let create = sign_action(
        &admin.signing_key,
        &cluster,
        &random_idempotency_key(),
        Action::OrgCreate {
            org_id: OrgId(org.clone()),
            name: "bench".into(),
            admin_user_id: UserId("admin".into()),
            admin_public_key: None,
        },
    )
    .map_err(anyhow::Error::msg)?;
    client.call("org_create", json!({ "command": create }))?;

    // Sign everything up front so that only the RPC round trip is timed.
    let mut cmds = Vec::with_capacity(o.writes);
    for i in 0..o.writes {
        let mut seed = [0u8; 32];
        seed[..8].copy_from_slice(&(i as u64).to_le_bytes());
        seed[8] = 1;
        let pk = ed25519_dalek::SigningKey::from_bytes(&seed).verifying_key();
        let cmd = sign_action(
            &admin.signing_key,
            &cluster,
            &random_idempotency_key(),
            Action::MemberAdd {
                org_id: OrgId(org.clone()),
                user_id: UserId(format!("u{i}")),
                public_key: UserKey(pk.to_bytes()),
                roles: vec![Role::Auditor],
            },
        )
        .map_err(anyhow::Error::msg)?;
        cmds.push(cmd);
    }
    let queue = Arc::new(std::sync::Mutex::new(cmds));
    let started = Instant::now();
    let mut handles = Vec::new();
    for _ in 0..o.concurrency {
        let queue = queue.clone();
        let endpoint = endpoint.clone();
        handles.push(std::thread::spawn(
            move || -> anyhow::Result<Vec<Duration>> {
                let c = RpcClient::new(&endpoint, Duration::from_secs(30));
                let mut times = Vec::new();
                loop {
                    let next = queue.lock().map_err(|_| anyhow::anyhow!("poisoned"))?.pop();
                    let Some(cmd) = next else { break };
                    let t = Instant::now();
                    c.call("member_add", json!({ "command": cmd }))?;
                    times.push(t.elapsed());
                }
                Ok(times)
            },
        ));
    }
    let mut all = Vec::new();
    for h in handles {
        all.extend(h.join().map_err(|_| anyhow::anyhow!("worker panicked"))??);
    }
    let elapsed = started.elapsed();
    all.sort();
    let pct = |p: f64| all[((all.len() - 1) as f64 * p).round() as usize];
    println!(
        "writes {}  concurrency {}  via {}  p50 {:.2} ms  p99 {:.2} ms  max {:.2} ms  throughput {:.0} writes/s",
        all.len(),
        o.concurrency,
        o.rpc,
        pct(0.5).as_secs_f64() * 1e3,
        pct(0.99).as_secs_f64() * 1e3,
        all[all.len() - 1].as_secs_f64() * 1e3,
        all.len() as f64 / elapsed.as_secs_f64()
    );
    Ok(())
}
