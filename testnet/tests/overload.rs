//! Overload never fails an approved request (issue 15, item 3), with real processes.
//!
//! Three `mpc-node` processes; an auto-approve policy; a burst of interactive ECDSA requests far
//! above what two cores sign at once (presignatures run out after the first few). Interactive
//! attempts beyond `MAX_INTERACTIVE_SIGNING` wait in the log's queue — no attempt, no deadline —
//! instead of starving each other until every attempt times out: every request signs, later
//! rather than never, and the queue is seen in use. All those sessions share one Noise channel
//! per pair of nodes (decision 0029).
#![allow(clippy::unwrap_used)] // tests fail loudly on purpose

use mpc_custody::command::Action;
use mpc_custody::types::OrgId;
use mpc_protocol::chain::Chain;
use mpc_testnet::demo::{self, Demo, Net, Users};
use mpc_testnet::Cluster;
use serde_json::json;
use std::time::{Duration, Instant};

const ORG: &str = "overload";
const VAULT: &str = "overload-vault";
/// FROST requests in flight when the leader is killed.
const IN_FLIGHT: u64 = 16;
/// Requests in the burst: eight times the interactive slots (`MAX_INTERACTIVE_SIGNING` = 4).
const BURST: u64 = 32;
/// Solana requests submitted at once to see pooled attempts sign together (fewer than the
/// pool's first block of 32 slots).
const FROST_BURST: u64 = 24;

#[test]
fn a_burst_of_interactive_ecdsa_requests_far_above_capacity_all_sign() {
    let mut c = Cluster::start(3, 23_400).unwrap();
    let d = Demo::with_auto_approve(
        &c,
        ORG,
        VAULT,
        &[
            ("ETH", 1_000_000_000_000_000_000),
            ("SOL", 1_000_000_000_000),
        ],
    )
    .unwrap();
    let w = d.wallet(Chain::Ethereum).unwrap().clone();
    let Demo {
        net,
        users,
        endpoints,
        ..
    } = &d;
    // The burst: every request submitted at once, from one thread each, through all three nodes
    // (two forward to the leader), each approved by the policy on submission.
    let t0 = Instant::now();
    let ids = submit_at_once(endpoints, &c.cluster_id, users, Chain::Ethereum, &w, BURST);
    eprintln!(
        "--> {BURST} requests submitted in {:.1} s; ids {ids:?}",
        t0.elapsed().as_secs_f64()
    );
    every_request_once_in_pages_of_five(net, &ids);
    // Every one signs; none fails; some waited for a slot. Each poll is one state snapshot
    // (`request_list`), so the counts are of one moment.
    let mut most_queued = 0;
    let mut most_interactive = 0;
    let mut slow_reads = 0;
    loop {
        // A read may time out while the nodes are saturated: try again.
        let Ok(list) = net.read("request_list", json!({ "org_id": ORG })) else {
            slow_reads += 1;
            std::thread::sleep(Duration::from_millis(100));
            continue;
        };
        let (mut signed, mut queued, mut interactive) = (0, 0, 0);
        for r in list["requests"].as_array().unwrap() {
            let id = r["request_id"].as_str().unwrap_or_default();
            if !ids.iter().any(|i| i == id) {
                continue;
            }
            match r["status"]["state"].as_str().unwrap_or_default() {
                "signed" => signed += 1,
                "signing" if r["queued"] == true => queued += 1,
                "signing" => {
                    let last = r["attempts"].as_array().and_then(|a| a.last()).cloned();
                    let from_pool = last
                        .as_ref()
                        .and_then(|a| a["presignatures"].as_array())
                        .is_some_and(|p| !p.is_empty());
                    if last.is_some() && !from_pool {
                        interactive += 1;
                    }
                }
                other => panic!("request {id} is {other}: {r}"),
            }
        }
        most_queued = most_queued.max(queued);
        most_interactive = most_interactive.max(interactive);
        if signed == ids.len() {
            break;
        }
        assert!(
            t0.elapsed() < Duration::from_secs(900),
            "{signed} of {BURST} signed after 900 s"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    eprintln!(
        "--> all {BURST} signed in {:.1} s; at most {most_queued} waited for a slot and {most_interactive} signed interactively at once; {slow_reads} reads timed out",
        t0.elapsed().as_secs_f64()
    );
    assert!(most_queued > 0, "the burst never filled the slots");
    assert!(
        most_interactive <= mpc_custody::request::MAX_INTERACTIVE_SIGNING,
        "{most_interactive} interactive attempts at once"
    );
    // Every session between two nodes shares a few long-lived Noise channels (four lanes,
    // decision 0029): after DKG, aux info, the pools' presigning and the burst's signatures, each node
    // has answered at most one handshake per peer and lane — not one per session and direction.
    for n in &net.clients {
        let hub = n.call("engine_status", json!({})).unwrap()["session_hub"].clone();
        eprintln!("--> session hub: {hub}");
        let handshakes = hub["handshakes"].as_u64().unwrap();
        assert!(
            (1..=8).contains(&handshakes),
            "{handshakes} channel handshakes for two peers: {hub}"
        );
        assert!(hub["inbound_channels"].as_u64().unwrap() <= 8, "{hub}");
    }
    frost_burst_signs_in_shared_sessions(&c, &d);
    failover_under_load(&mut c, &d);
}

/// A burst of Solana requests (decision 0039): the pooled first attempts one log entry fixes
/// for the same two signers sign in one batch session — fewer sessions than signed requests on
/// their signers — and every request still signs (each report's signature is checked against
/// the wallet's key when it is applied).
fn frost_burst_signs_in_shared_sessions(c: &Cluster, d: &Demo) {
    let sol = d.wallet(Chain::Solana).unwrap().clone();
    let before = c.session_count("FrostSignBatch");
    let t0 = Instant::now();
    let ids = submit_at_once(
        &d.endpoints,
        &c.cluster_id,
        &d.users,
        Chain::Solana,
        &sol,
        FROST_BURST,
    );
    let pooled = loop {
        assert!(
            t0.elapsed() < Duration::from_secs(120),
            "the Solana burst did not sign in 120 s"
        );
        std::thread::sleep(Duration::from_millis(100));
        let Ok(list) = d.net.read("request_list", json!({ "org_id": ORG })) else {
            continue;
        };
        let mine: Vec<&serde_json::Value> = list["requests"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|r| ids.iter().any(|i| r["request_id"] == i.as_str()))
            .collect();
        let signed = mine
            .iter()
            .filter(|r| r["status"]["state"] == "signed")
            .count();
        if signed < ids.len() {
            continue;
        }
        // Signed by their first attempt, from the pool.
        break mine
            .iter()
            .filter(|r| {
                r["attempts"].as_array().is_some_and(|a| {
                    a.len() == 1
                        && a[0]["presignatures"]
                            .as_array()
                            .is_some_and(|p| !p.is_empty())
                })
            })
            .count() as f64;
    };
    // Both signers' sessions have ended once the report is in; give their scrapes a moment.
    std::thread::sleep(Duration::from_millis(500));
    let sessions = c.session_count("FrostSignBatch") - before;
    eprintln!(
        "--> {FROST_BURST} Solana requests signed in {:.1} s; {pooled} from the pool, in {sessions} batch sessions (both signers counted)",
        t0.elapsed().as_secs_f64()
    );
    assert!(
        pooled >= 2.0,
        "only {pooled} of the burst signed from the pool"
    );
    assert!(
        sessions >= 2.0 && sessions < 2.0 * pooled,
        "{sessions} batch sessions for {pooled} pooled signatures: no two shared a session"
    );
}

/// `count` transfers on `chain` from `wallet`, each submitted at the same moment by its own
/// thread through node `i % 3`; their request ids. The leader puts commands that arrive while
/// its proposals wait into one log entry (decision 0035): each caller must still hear its own
/// command's outcome (the request for its own amount), every id must differ, and some must
/// come from a shared entry (`req-<index>-<item>`).
fn submit_at_once(
    endpoints: &[mpc_testnet::Endpoint],
    cluster_id: &str,
    users: &Users,
    chain: Chain,
    wallet: &serde_json::Value,
    count: u64,
) -> Vec<String> {
    let start = std::sync::Barrier::new(count as usize);
    let ids: Vec<String> = std::thread::scope(|scope| {
        let threads: Vec<_> = (0..count)
            .map(|i| {
                let start = &start;
                scope.spawn(move || {
                    let net = Net::new(endpoints, cluster_id, users.ivan.clone());
                    let amount = 1_000 + i;
                    let (payload, extras) = demo::transfer_for(chain, wallet, amount).unwrap();
                    let payload = hex::encode(payload);
                    let action = Action::RequestSubmit {
                        org_id: OrgId(ORG.into()),
                        wallet_id: wallet["wallet_id"].as_str().unwrap().into(),
                        payload: payload.clone(),
                        extras,
                    };
                    let idem = mpc_cli::sign::random_idempotency_key();
                    let cmd =
                        mpc_cli::sign::sign_action(&users.ivan, cluster_id, &idem, action).unwrap();
                    start.wait();
                    let r = net.clients[i as usize % net.clients.len()]
                        .call("request_submit", json!({ "command": cmd }))
                        .unwrap();
                    let req = &r["result"]["request"];
                    assert_eq!(
                        req["payload"].as_str(),
                        Some(payload.as_str()),
                        "request {i} heard another command's outcome: {r}"
                    );
                    req["request_id"].as_str().unwrap().to_string()
                })
            })
            .collect();
        threads.into_iter().map(|t| t.join().unwrap()).collect()
    });
    let distinct: std::collections::BTreeSet<&String> = ids.iter().collect();
    assert_eq!(distinct.len(), ids.len(), "{ids:?}");
    assert!(
        ids.iter().any(|id| id.matches('-').count() == 2),
        "no two of {count} simultaneous requests shared a log entry: {ids:?}"
    );
    ids
}

/// `request_list` in pages of five (issue 16), while the burst's requests are signing (their
/// records changing): every request of the burst exactly once, in log order.
fn every_request_once_in_pages_of_five(net: &Net, ids: &[String]) {
    let mut seen: Vec<String> = Vec::new();
    let mut cursor = serde_json::Value::Null;
    for _ in 0..100 {
        let mut params = json!({ "org_id": ORG, "limit": 5 });
        if !cursor.is_null() {
            params["cursor"] = cursor.clone();
        }
        let page = net.read("request_list", params).unwrap();
        let items = page["requests"].as_array().unwrap();
        assert!(items.len() <= 5, "{page}");
        seen.extend(
            items
                .iter()
                .map(|r| r["request_id"].as_str().unwrap().to_string()),
        );
        cursor = page["next_cursor"].clone();
        if cursor.is_null() {
            break;
        }
    }
    let unique: std::collections::BTreeSet<&String> = seen.iter().collect();
    assert_eq!(unique.len(), seen.len(), "a request on two pages: {seen:?}");
    for id in ids {
        assert!(unique.contains(id), "{id} on no page: {seen:?}");
    }
}

/// A transfer of `amount` from `wallet` submitted by ivan (approved by the policy on
/// submission); its request id.
fn submit(
    net: &Net,
    users: &Users,
    chain: Chain,
    wallet: &serde_json::Value,
    amount: u64,
) -> String {
    let (payload, extras) = demo::transfer_for(chain, wallet, amount).unwrap();
    let action = Action::RequestSubmit {
        org_id: OrgId(ORG.into()),
        wallet_id: wallet["wallet_id"].as_str().unwrap().into(),
        payload: hex::encode(payload),
        extras,
    };
    let r = net.write(&users.ivan, "request_submit", action).unwrap();
    r["result"]["request"]["request_id"]
        .as_str()
        .unwrap_or_else(|| panic!("{r}"))
        .to_string()
}

/// FROST requests in flight when the leader is killed (issue 15, item 6; decision 0030): the
/// survivors elect a new leader as soon as the leader's connection closes and its lease has run
/// out, a write sent at the kill commits within a second, and every request still signs.
fn failover_under_load(c: &mut Cluster, d: &Demo) {
    let users = &d.users;
    let sol = d.wallet(Chain::Solana).unwrap().clone();
    let leader = c.wait_for_leader(None, Duration::from_secs(10)).unwrap();
    let survivors: Vec<mpc_testnet::Endpoint> = c
        .nodes
        .iter()
        .enumerate()
        .filter(|(i, _)| *i as u64 + 1 != leader)
        .map(|(_, n)| n.endpoint.clone())
        .collect();
    let snet = Net::new(&survivors, &c.cluster_id, c.admin.clone());
    let submit = |amount: u64| submit(&snet, users, Chain::Solana, &sol, amount);
    let mut ids: Vec<String> = (0..IN_FLIGHT).map(|i| submit(5_000 + i)).collect();
    let killed_at = Instant::now();
    c.kill_node(leader);
    // A write sent at the kill, through a survivor, which retries until a new leader commits it.
    ids.push(submit(6_000));
    let served = killed_at.elapsed();
    let mut left: Vec<String> = ids.clone();
    while !left.is_empty() {
        // (Generous: the bound asserted below is 12 s; this loop only keeps a broken run short.)
        assert!(
            killed_at.elapsed() < Duration::from_secs(180),
            "{} of {} requests not signed 180 s after the leader died: {left:?}",
            left.len(),
            ids.len()
        );
        std::thread::sleep(Duration::from_millis(100));
        let Ok(list) = snet.read("request_list", json!({ "org_id": ORG })) else {
            continue;
        };
        for r in list["requests"].as_array().unwrap() {
            let id = r["request_id"].as_str().unwrap_or_default();
            match r["status"]["state"].as_str().unwrap_or_default() {
                "signed" => left.retain(|l| l != id),
                "failed" | "rejected" if ids.iter().any(|i| i == id) => {
                    panic!("request {id} did not sign after the leader died: {r}")
                }
                _ => {}
            }
        }
    }
    eprintln!(
        "--> leader {leader} killed with {IN_FLIGHT} FROST requests in flight: a write sent at the kill committed after {served:?}; all {} signed after {:.1} s",
        ids.len(),
        killed_at.elapsed().as_secs_f64()
    );
    // Idle, a write commits ≈ 0.75 s after the kill (e2e `cluster`); here the survivors are
    // busy with the failing sessions, their retries and the pools' presigning on two cores, in a
    // debug build: measured 0.75–1.04 s. The bound leaves room for a slower CI machine; without
    // the campaign on a closed connection it is 1.0–1.4 s idle.
    assert!(
        served < Duration::from_millis(1_500),
        "no write committed for {served:?} after the leader died"
    );
    // A signing session with the dead node fails once it has had no connection for 3 s and the
    // request's next attempt avoids it (decision 0030), well before the 15 s idle timeout.
    let all_signed = killed_at.elapsed();
    assert!(
        all_signed < Duration::from_secs(12),
        "in-flight requests took {all_signed:?} to sign after the leader died"
    );
}
