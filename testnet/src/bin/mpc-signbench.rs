//! `mpc-signbench`: end-to-end signing latency and throughput against a running testnet
//! (`testnet/run.sh`), with an auto-approve policy so no human is in the loop. Latency is measured
//! from sending `request_submit` to seeing the request `signed` (pushed by the `request_subscribe`
//! WebSocket subscription of the node the request was sent to — the way an integrator waits; one
//! subscription per node for the whole run, as polling each request with signed `request_get`
//! reads would itself cost the nodes more than the signing), per key type, at several
//! concurrencies; for ECDSA also with a presignature ready in the wallet's pool (waiting for the
//! pool between requests, outside the timing: once until one is ready, once until the pool is
//! full and idle).
//!
//! So that the figures explain themselves, the same run measures the library alone (a 2-of-3
//! FROST signature with both signers and the aggregation in this process, one core: the compute
//! ceiling) and, for every batch, the CPU the node processes spent per signature (from
//! `/proc/<pid>/stat` of the PIDs in `<run-dir>/pids`), its ratio to the library alone (the node's
//! overhead), the benchmark client's own CPU per signature, and the largest node RSS. For ECDSA
//! it times the library's 2-of-3 presignature (aux info from the INSECURE fixture primes, a
//! timing aid only) and prints each batch's throughput as a fraction of that presign-compute
//! ceiling, also counting the presignatures the pool gained or spent during the batch.
//!
//! ```text
//! mpc-signbench <testnet/.run> <rpc-url>... [--frost-only] [--rounds K] [-- <concurrency>...]
//! ```

use anyhow::{bail, Context};
use mpc_bootstrap::userkey::UserKeyFile;
use mpc_custody::command::Action;
use mpc_custody::types::OrgId;
use mpc_protocol::chain::Chain;
use mpc_protocol::frost::workload;
use mpc_protocol::frost::{Ed25519, Secp256k1Tr};
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
    // `--rounds K`: K times the usual number of FROST requests per batch (a longer saturated
    // run, e.g. for a CPU profile).
    let rounds: usize = match args.iter().position(|a| a == "--rounds") {
        Some(i) => {
            let k = args
                .get(i + 1)
                .context("--rounds needs a number")?
                .parse()?;
            args.drain(i..i + 2);
            k
        }
        None => 1,
    };
    let frost_only = match args.iter().position(|a| a == "--frost-only") {
        Some(i) => {
            args.remove(i);
            true
        }
        None => false,
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
    demo::auto_approve(
        &net,
        &org,
        &vault,
        &[
            ("ETH", 1_000_000_000_000_000_000),
            ("BTC", 1_000_000),
            ("SOL", 1_000_000_000),
        ],
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
                // Full: as many ready as the pool's (demand-sized) target, none being made.
                quiet &= p["generating"] == 0 && p["ready"].as_u64() >= p["target"].as_u64();
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
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let mut rng = rand::rngs::OsRng;
    let keys = workload::dkg::<Ed25519, _>(3, 2, &mut rng, 1).map_err(anyhow::Error::msg)?;
    let lib_ed = library_alone(|| workload::sign_once(&keys, 2, &mut rand::rngs::OsRng, 2))?;
    let keys = workload::dkg::<Secp256k1Tr, _>(3, 2, &mut rng, 1).map_err(anyhow::Error::msg)?;
    let lib_tr = library_alone(|| workload::sign_once(&keys, 2, &mut rand::rngs::OsRng, 2))?;
    for (label, d) in [("FROST ed25519", lib_ed), ("FROST secp256k1-tr", lib_tr)] {
        println!(
            "library alone: {label} 2-of-3, {:.3} ms per signature (both signers and the \
             aggregation, one core) -> compute ceiling {:.0} signatures/s on {cores} cores",
            ms(d),
            cores as f64 / d.as_secs_f64()
        );
    }
    // The ECDSA presign-compute ceiling, measured in this run (both signers of a presignature,
    // one core each way: `cores` presignatures at a time at best).
    let presign = if frost_only {
        None
    } else {
        eprintln!("timing the library's 2-of-3 presigning (aux info from the INSECURE fixture primes first, about 30 s)");
        let d = library_presign()?;
        println!(
            "library alone: cggmp21 ECDSA 2-of-3 presignature {:.0} ms (both signers, one core) \
             -> presign-compute ceiling {:.2} signatures/s on {cores} cores",
            ms(d),
            cores as f64 / d.as_secs_f64()
        );
        Some(cores as f64 / d.as_secs_f64())
    };
    let mut ratios = Vec::new();
    let procs = Procs::from_run_dir(&run_dir);
    let done = watch_requests(&net, &users)?;
    println!();
    println!(
        "| key type (chain) | concurrency | requests | p50 | p99 | max | throughput | node CPU / signature | overhead vs library | client CPU / signature | node RSS (max) |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|---|");
    let chains: &[(Chain, &str)] = if frost_only {
        &[
            (Chain::Solana, "FROST ed25519 (Solana)"),
            (Chain::BitcoinP2tr, "FROST secp256k1-tr (Bitcoin P2TR)"),
        ]
    } else {
        &[
            (Chain::Solana, "FROST ed25519 (Solana)"),
            (Chain::BitcoinP2tr, "FROST secp256k1-tr (Bitcoin P2TR)"),
            (Chain::Ethereum, "cggmp21 ECDSA (Ethereum)"),
        ]
    };
    for &(chain, label) in chains {
        let library = match chain {
            Chain::Solana => Some(lib_ed),
            Chain::BitcoinP2tr => Some(lib_tr),
            _ => None,
        };
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
            &done,
        )?;
        if chain == Chain::Ethereum {
            // Latency when the wallet's presignature pool has one ready (the normal case for a
            // custody workload): wait for the pool before each request, outside the timing —
            // first only until one is ready (the pool may still be refilling, on the same
            // cores), then until the pool is full and idle (requests far apart).
            let wid = w["wallet_id"].as_str().context("wallet id")?;
            for (idle, what) in [
                (false, "presignature ready"),
                (true, "presignature ready, pool idle"),
            ] {
                let mut lat = Vec::new();
                for _ in 0..POOL_SAMPLES {
                    let t = Instant::now();
                    loop {
                        let p = net.read("wallet_presignatures", json!({ "wallet_id": wid }))?;
                        let ready = p["ready"].as_u64().unwrap_or(0);
                        let full =
                            p["generating"] == 0 && ready >= p["target"].as_u64().unwrap_or(0);
                        if ready > 0 && (!idle || full) {
                            break;
                        }
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
                        &done,
                    )?;
                    lat.extend(l);
                }
                lat.sort();
                let pct = |p: f64| lat[((lat.len() as f64 - 1.0) * p).round() as usize];
                println!(
                    "| {label}, {what} | 1 | {POOL_SAMPLES} | {:.0} ms | {:.0} ms | {:.0} ms | — | — | — | — | — |",
                    ms(pct(0.5)),
                    ms(pct(0.99)),
                    ms(*lat.last().unwrap_or(&Duration::ZERO)),
                );
            }
        }
        for &c in &conc {
            // ECDSA beyond the pool is bounded by presigning (about a second per signature).
            let (n, timeout) = match chain {
                Chain::Ethereum => (c.max(10), Duration::from_secs(600)),
                _ => ((c * 8).max(50) * rounds.max(1), Duration::from_secs(120)),
            };
            let pool_ready = || -> anyhow::Result<i64> {
                let p = net.read(
                    "wallet_presignatures",
                    json!({ "wallet_id": w["wallet_id"] }),
                )?;
                Ok(p["ready"].as_i64().unwrap_or(0))
            };
            let pool_before = if chain == Chain::Ethereum {
                pool_ready()?
            } else {
                0
            };
            let before = procs.sample();
            let (lat, wall) = run_batch(&net, &users, &org, chain, &w, n, c, timeout, &done)?;
            let after = procs.sample();
            if let (Chain::Ethereum, Some(ceiling)) = (chain, presign) {
                let rate = n as f64 / wall.as_secs_f64();
                // Presignatures made during the batch, counting each interactive signature as
                // one: with p of the n signed from the pool and m made into it, the pool changed
                // by m - p, and (n - p) + m = n + that change.
                let made = n as i64 + (pool_ready()? - pool_before);
                ratios.push(if made <= 0 {
                    format!(
                        "ECDSA at concurrency {c}: {rate:.2} signatures/s, all from presignatures \
                         made before the batch (the pool fell by {}): not bound by presigning",
                        n as i64 - made
                    )
                } else {
                    let per_s = made as f64 / wall.as_secs_f64();
                    format!(
                        "ECDSA at concurrency {c}: {rate:.2} signatures/s; {made} presignatures made \
                         during the batch ({n} signed, the pool changed by {:+}) in {:.1} s = \
                         {per_s:.2}/s = {:.2} × the presign-compute ceiling ({ceiling:.2}/s)",
                        made - n as i64,
                        wall.as_secs_f64(),
                        per_s / ceiling
                    )
                });
            }
            let mut l = lat.clone();
            l.sort();
            let pct = |p: f64| l[((l.len() as f64 - 1.0) * p).round() as usize];
            let per_sig = |cpu: Option<Duration>| cpu.map(|d| d / n as u32);
            let node_cpu = per_sig(
                after
                    .nodes_cpu
                    .zip(before.nodes_cpu)
                    .map(|(a, b)| a.saturating_sub(b)),
            );
            let client_cpu = per_sig(
                after
                    .self_cpu
                    .zip(before.self_cpu)
                    .map(|(a, b)| a.saturating_sub(b)),
            );
            let shown =
                |d: Option<Duration>| d.map_or("—".to_string(), |d| format!("{:.2} ms", ms(d)));
            let overhead = node_cpu.zip(library).map_or("—".to_string(), |(n, l)| {
                format!("{:.1}×", n.as_secs_f64() / l.as_secs_f64())
            });
            println!(
                "| {label} | {c} | {n} | {:.0} ms | {:.0} ms | {:.0} ms | {:.1} signatures/s | {} | {overhead} | {} | {} |",
                ms(pct(0.5)),
                ms(pct(0.99)),
                ms(*l.last().unwrap_or(&Duration::ZERO)),
                n as f64 / wall.as_secs_f64(),
                shown(node_cpu),
                shown(client_cpu),
                after
                    .max_rss_kib
                    .map_or("—".to_string(), |k| format!("{:.0} MiB", k as f64 / 1024.0)),
            );
        }
    }
    if !ratios.is_empty() {
        println!();
    }
    for r in ratios {
        println!("{r}");
    }
    Ok(())
}

/// Signatures timed for the library-alone figure.
const LIBRARY_SAMPLES: u32 = 300;

/// Mean time of one 2-of-3 FROST signature by the library alone (both signers and the
/// aggregation in this thread, messages encoded as on the wire), after a warm-up.
fn library_alone(
    mut sign: impl FnMut() -> Result<(), mpc_protocol::session::SessionError>,
) -> anyhow::Result<Duration> {
    for _ in 0..20 {
        sign().map_err(|e| anyhow::anyhow!("{e}"))?;
    }
    let t = Instant::now();
    for _ in 0..LIBRARY_SAMPLES {
        sign().map_err(|e| anyhow::anyhow!("{e}"))?;
    }
    Ok(t.elapsed() / LIBRARY_SAMPLES)
}

/// Presignatures timed for the ECDSA library-alone figure (≈ 1.4 s each on this machine).
const PRESIGN_SAMPLES: u32 = 3;

/// Mean CPU of one 2-of-3 cggmp21 presignature by the library alone (both signers in this
/// thread, messages encoded as on the wire): what a node pair must spend per pool presignature,
/// hence the presign-compute ceiling. Aux info for it comes from the INSECURE fixture primes —
/// a timing aid only; the key made here never leaves this process.
fn library_presign() -> anyhow::Result<Duration> {
    use mpc_protocol::ecdsa;
    use mpc_protocol::session::{PartyIndex, SessionId};
    use mpc_protocol::sim;
    use rand::SeedableRng;
    use std::collections::BTreeMap;
    let fixture: Value = serde_json::from_str(&std::fs::read_to_string(
        mpc_testnet::insecure_primes_fixture(),
    )?)?;
    let parties = fixture["parties"].as_array().context("fixture parties")?;
    let ps: Vec<PartyIndex> = (1..=3).map(PartyIndex).collect();
    let rng = || rand_chacha::ChaCha20Rng::from_rng(rand::rngs::OsRng);
    let mut driver = rng()?;
    let sid = SessionId([1; 32]);
    let mut rngs = (0..3).map(|_| rng()).collect::<Result<Vec<_>, _>>()?;
    let mut sessions = BTreeMap::new();
    for ((p, fx), r) in ps.iter().zip(parties).zip(rngs.iter_mut()) {
        let hex = |k: &str| fx[k].as_str().context("fixture prime");
        let primes = ecdsa::primes_from_hex(hex("p")?, hex("q")?)?;
        sessions.insert(*p, ecdsa::aux_info(&sid, *p, &ps, primes, r)?);
    }
    let mut aux = sim::run(sessions, &mut driver, sim::honest).outputs;
    let sid = SessionId([2; 32]);
    let mut rngs = (0..3).map(|_| rng()).collect::<Result<Vec<_>, _>>()?;
    let mut sessions = BTreeMap::new();
    for (p, r) in ps.iter().zip(rngs.iter_mut()) {
        sessions.insert(*p, ecdsa::keygen(&sid, *p, &ps, 2, r)?);
    }
    let mut shares = BTreeMap::new();
    for (p, inc) in sim::run(sessions, &mut driver, sim::honest).outputs {
        let a = aux.remove(&p).context("aux info")?;
        let inc = inc.map_err(|e| anyhow::anyhow!("{e}"))?;
        let a = a.map_err(|e| anyhow::anyhow!("{e}"))?;
        shares.insert(p, ecdsa::complete(inc, a)?);
    }
    let signers = &ps[..2];
    let idx: Vec<u16> = signers.iter().map(|p| p.0 - 1).collect();
    let mut total = Duration::ZERO;
    for k in 0..PRESIGN_SAMPLES {
        let sid = SessionId([10 + k as u8; 32]);
        let mut rngs = (0..2).map(|_| rng()).collect::<Result<Vec<_>, _>>()?;
        let mut sessions = BTreeMap::new();
        for (p, r) in signers.iter().zip(rngs.iter_mut()) {
            let share = shares.get(p).context("share")?;
            sessions.insert(
                *p,
                ecdsa::presign(&sid, *p, signers, &idx, share, &[0, 1], r)?,
            );
        }
        let t = Instant::now();
        let out = sim::run(sessions, &mut driver, sim::honest).outputs;
        total += t.elapsed();
        for o in out.into_values() {
            o.map_err(|e| anyhow::anyhow!("{e}"))?;
        }
    }
    Ok(total / PRESIGN_SAMPLES)
}

/// The node processes (from `<run-dir>/pids`) and this one, for CPU and memory figures.
struct Procs {
    nodes: Vec<u32>,
    ticks_per_s: u64,
}

/// CPU used so far (user + system) and the largest resident set.
struct ProcSample {
    nodes_cpu: Option<Duration>,
    self_cpu: Option<Duration>,
    max_rss_kib: Option<u64>,
}

impl Procs {
    fn from_run_dir(run_dir: &std::path::Path) -> Procs {
        let nodes = std::fs::read_to_string(run_dir.join("pids"))
            .unwrap_or_default()
            .lines()
            .filter_map(|l| l.trim().parse().ok())
            .collect();
        let ticks_per_s = std::process::Command::new("getconf")
            .arg("CLK_TCK")
            .output()
            .ok()
            .and_then(|o| String::from_utf8(o.stdout).ok())
            .and_then(|s| s.trim().parse().ok())
            .unwrap_or(100);
        Procs { nodes, ticks_per_s }
    }

    /// utime + stime of `/proc/<pid>/stat` (fields 14 and 15, after the command name).
    fn cpu(&self, pid: &str) -> Option<Duration> {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
        let rest = &stat[stat.rfind(')')? + 2..];
        let f: Vec<&str> = rest.split_whitespace().collect();
        let ticks = f.get(11)?.parse::<u64>().ok()? + f.get(12)?.parse::<u64>().ok()?;
        Some(Duration::from_millis(
            ticks * 1000 / self.ticks_per_s.max(1),
        ))
    }

    fn rss_kib(pid: u32) -> Option<u64> {
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
        let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
        line.split_whitespace().nth(1)?.parse().ok()
    }

    fn sample(&self) -> ProcSample {
        let nodes_cpu = if self.nodes.is_empty() {
            None
        } else {
            self.nodes
                .iter()
                .map(|p| self.cpu(&p.to_string()))
                .sum::<Option<Duration>>()
        };
        ProcSample {
            nodes_cpu,
            self_cpu: self.cpu("self"),
            max_rss_kib: self.nodes.iter().filter_map(|p| Self::rss_kib(*p)).max(),
        }
    }
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
    done: &Arc<Done>,
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
        let done = Arc::clone(done);
        handles.push(std::thread::spawn(move || -> anyhow::Result<()> {
            let client = mpc_cli::client::RpcClient::new(&url, Duration::from_secs(30));
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
                let (at, signed) = done.wait(&id, start + timeout)?;
                if !signed {
                    bail!("request {id} was not signed");
                }
                results
                    .lock()
                    .map_err(|_| anyhow::anyhow!("lock"))?
                    .push(at.saturating_duration_since(start));
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

/// Subscribes to the requests `users.ivan` may read on the first node only, for the whole run, as
/// an integrator's one client would (every node applies every request, so one sees them all); a
/// thread records when each request was seen finished.
fn watch_requests(net: &Net, users: &Users) -> anyhow::Result<Arc<Done>> {
    let done: Arc<Done> = Arc::default();
    for c in net.clients.iter().take(1) {
        let reader = mpc_cli::client::Reader::new(users.ivan.clone(), &net.cluster_id);
        let mut watch =
            mpc_cli::watch::Watch::connect(c.endpoint(), &reader, None, Duration::from_secs(30))?;
        let done = done.clone();
        std::thread::spawn(move || {
            // Runs until the process ends; a closed subscription ends the thread (the waiting
            // workers then time out with a clear error).
            while let Ok(ev) = watch.next(None) {
                let state = ev["status"].as_str().unwrap_or_default();
                if !matches!(state, "pending" | "awaiting_admin" | "signing") {
                    if let Some(id) = ev["request_id"].as_str() {
                        done.finish(id, Instant::now(), state == "signed");
                    }
                }
            }
        });
    }
    Ok(done)
}

/// Requests seen finished by the subscriptions: when, and whether signed.
#[derive(Default)]
struct Done {
    seen: Mutex<std::collections::HashMap<String, (Instant, bool)>>,
    changed: std::sync::Condvar,
}

impl Done {
    fn finish(&self, id: &str, at: Instant, signed: bool) {
        if let Ok(mut seen) = self.seen.lock() {
            seen.entry(id.to_string()).or_insert((at, signed));
        }
        self.changed.notify_all();
    }

    /// Waits until request `id` is seen finished, or `deadline`.
    fn wait(&self, id: &str, deadline: Instant) -> anyhow::Result<(Instant, bool)> {
        let mut seen = self.seen.lock().map_err(|_| anyhow::anyhow!("lock"))?;
        loop {
            if let Some(r) = seen.get(id) {
                return Ok(*r);
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                bail!("request {id} not finished before the timeout");
            }
            seen = self
                .changed
                .wait_timeout(seen, left)
                .map_err(|_| anyhow::anyhow!("lock"))?
                .0;
        }
    }
}
