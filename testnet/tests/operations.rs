//! Operators' endpoints (issue 16) on real processes: `/metrics` has the named series and
//! they move when a request is signed; `/health` answers; `/ready` is true only on a node that
//! has caught up with a leader's committed log — false on a node cut off from its quorum, and
//! true again on a restarted node only once it has applied what was committed while it was down.
#![allow(clippy::unwrap_used)] // tests fail loudly on purpose

use mpc_protocol::chain::Chain;
use mpc_testnet::demo::{self, Demo, Net};
use mpc_testnet::Cluster;
use std::time::{Duration, Instant};

const ORG: &str = "ops";
const VAULT: &str = "ops-vault";

/// The value of the first sample line starting with `series` (name and labels), if any.
fn sample(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .find(|l| l.starts_with(series) && l[series.len()..].starts_with([' ', '{']))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
}

/// Polls node `id`'s `/ready` every 100 ms until it answers `status`; returns that answer's
/// body. Fails the test after `limit`.
fn ready_answer(c: &Cluster, id: u64, status: u16, limit: Duration) -> String {
    let t0 = Instant::now();
    loop {
        let (got, body) = c.http_get(id, "/ready").unwrap();
        if got == status {
            return body;
        }
        assert!(
            t0.elapsed() < limit,
            "node {id}'s /ready still {got} after {limit:?}, not {status}: {body}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn metrics_health_and_readiness_on_a_running_network() {
    let mut c = Cluster::start(3, 23_600).unwrap();
    let d = Demo::with_auto_approve(&c, ORG, VAULT, &[("SOL", 1_000_000_000_000)]).unwrap();
    let sol = d.wallet(Chain::Solana).unwrap().clone();
    let Demo {
        net,
        users,
        endpoints,
        ..
    } = d;

    for id in 1..=3 {
        assert_eq!(c.http_get(id, "/health").unwrap(), (200, "ok\n".into()));
        let (status, body) = c.http_get(id, "/ready").unwrap();
        assert_eq!(status, 200, "node {id}: {body}");
    }
    assert_eq!(c.http_get(1, "/nope").unwrap().0, 404);

    // The named series, before and after one signature.
    let before = c.http_get(1, "/metrics").unwrap().1;
    for series in [
        "mpc_raft_term",
        "mpc_raft_last_log_index",
        "mpc_raft_applied_index",
        "mpc_raft_leader",
        "mpc_raft_role{role=\"leader\"}",
        "mpc_signatures",
        "mpc_pool_ready{",
        "mpc_session_duration_seconds_count{",
        "mpc_rpc_duration_seconds_count{method=",
        "mpc_share_store_operations_total{",
        "mpc_raft_log_appends_total",
        "mpc_raft_log_append_seconds_total",
    ] {
        assert!(
            before.lines().any(|l| l.starts_with(series)),
            "no {series} in:\n{before}"
        );
    }
    let signed_before = sample(&before, "mpc_signatures").unwrap();
    // A pooled first attempt signs in a batch session (decision 0039).
    let frost_sessions_before = c.session_count("FrostSignBatch");
    let (payload, extras) = demo::transfer_for(Chain::Solana, &sol, 1_000).unwrap();
    let req = demo::submit(
        &net,
        &users,
        ORG,
        sol["wallet_id"].as_str().unwrap(),
        &payload,
        &extras,
    )
    .unwrap();
    let id = req["request_id"].as_str().unwrap();
    let done = net.wait_request(id, Duration::from_secs(60)).unwrap();
    assert_eq!(done["status"]["state"], "signed", "{done}");
    // Every node applies the signature; node 1's scrape shows it once it has.
    let t0 = Instant::now();
    let after = loop {
        let text = c.http_get(1, "/metrics").unwrap().1;
        if sample(&text, "mpc_signatures") > Some(signed_before) {
            break text;
        }
        assert!(t0.elapsed() < Duration::from_secs(10), "{text}");
        std::thread::sleep(Duration::from_millis(100));
    };
    assert_eq!(sample(&after, "mpc_signatures"), Some(signed_before + 1.0));
    assert!(sample(&after, "mpc_requests{state=\"signed\"}") >= Some(1.0));
    // The signature came from a FROST session on two of the three nodes.
    let frost_sessions_after = c.session_count("FrostSignBatch");
    assert!(
        frost_sessions_after > frost_sessions_before,
        "{frost_sessions_before} -> {frost_sessions_after}"
    );

    // Cut node 1 off from its quorum: it can no longer confirm it is caught up.
    c.kill_node(2);
    c.kill_node(3);
    let body = ready_answer(&c, 1, 503, Duration::from_secs(20));
    eprintln!("--> node 1 alone: {}", body.trim());
    assert_eq!(c.http_get(1, "/health").unwrap().0, 200, "alive, not ready");

    // Node 2 back: a quorum again; writes go on while node 3 is down.
    c.start_node(2).unwrap();
    c.wait_for_leader(Some(3), Duration::from_secs(30)).unwrap();
    let quorum = Net::new(&endpoints[..2], &c.cluster_id, c.admin.clone());
    for i in 0..5 {
        let (payload, extras) = demo::transfer_for(Chain::Solana, &sol, 2_000 + i).unwrap();
        demo::submit(
            &quorum,
            &users,
            ORG,
            sol["wallet_id"].as_str().unwrap(),
            &payload,
            &extras,
        )
        .unwrap();
    }
    let committed = sample(
        &c.http_get(1, "/metrics").unwrap().1,
        "mpc_raft_applied_index",
    )
    .unwrap();
    // Node 3 restarts behind: whenever it says ready, it has applied at least that much.
    c.start_node(3).unwrap();
    let body = ready_answer(&c, 3, 200, Duration::from_secs(30));
    // The index it had applied when it answered (`ready: leader L, applied index N`).
    let applied: f64 = body
        .trim()
        .rsplit(' ')
        .next()
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("{body}"));
    assert!(
        applied >= committed,
        "node 3 ready at applied index {applied} < {committed} committed: {body}"
    );
    eprintln!("--> node 3 ready after restart: {}", body.trim());
}
