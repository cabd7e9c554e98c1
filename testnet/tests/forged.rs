//! Invariant 2 with real processes: a faulty node cannot make honest nodes sign.
//!
//! Node 1 runs `mpc-node-forger` (mpc-node built with the test-only `forge-for-tests` feature):
//! it treats every pending request as if its state said `approved`, computes a signer set and
//! session id as a real attempt would, and starts the signing session with the other signer,
//! skipping every check. Nodes 2 and 3 are the real `mpc-node`. With no approvals committed,
//! the honest nodes must send nothing into that session — no FROST commitment or share, no
//! ECDSA presigning message — so the forger times out having heard from nobody, and the
//! request stays `pending` everywhere with no attempt and no signature. Then two real approvals
//! are given and the same request is signed normally (the honest path still works).
//!
//! The same forger also attacks Raft and the session layer (`MPC_FORGE_ATTACKS`):
//! - `snapshot`: once a request is pending, it sends every honest node an InstallSnapshot with a
//!   higher vote and a forged state in which that request is approved by an auto-approve policy
//!   and signing with the forger (issue 9, 7a). Honest nodes refuse it: had they installed it,
//!   they would join the forged session and the forger would hear from them.
//! - `impersonate`: AppendEntries and Vote sent to node 2 claiming to come from node 3 (7b).
//! - `flood`: 1 GiB of session messages for sessions that never start, to node 2 (7f): node 2's
//!   memory stays within its per-peer bounds and it keeps signing.

#![allow(clippy::unwrap_used)] // tests fail loudly on purpose

use mpc_cli::client::RpcClient;
use mpc_protocol::chain::Chain;
use mpc_testnet::demo::{self, Net, Users};
use mpc_testnet::{binary, wait_until, Cluster, FORGER};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::time::Duration;

const ORG: &str = "acme";
const VAULT: &str = "treasury";

fn forged_outcomes(c: &Cluster) -> Vec<Value> {
    c.forge_records(1)
}

#[test]
fn forged_approval_gets_no_partial_signature_from_honest_nodes() {
    let forger = binary(FORGER).unwrap();
    let attacks = (
        "MPC_FORGE_ATTACKS".to_string(),
        "sign,snapshot,impersonate,flood".into(),
    );
    let mut c = Cluster::start_with_env(
        3,
        22_400,
        BTreeMap::from([(1, forger)]),
        BTreeMap::from([(1, vec![attacks])]),
    )
    .unwrap();
    let urls: Vec<mpc_testnet::Endpoint> = c.nodes.iter().map(|n| n.endpoint.clone()).collect();
    // Every write and read goes through honest nodes.
    let net = Net::new(&urls[1..], &c.cluster_id, c.admin.clone());
    let users = Users::random();
    let say = |s: &str| eprintln!("--> {s}");
    let wallets = demo::setup(&net, &users, ORG, VAULT, &say).unwrap();
    let wallet = |chain: Chain| wallets.iter().find(|(c, _)| *c == chain).unwrap().1.clone();

    // One FROST (Solana, ed25519) and one ECDSA (Ethereum) request, never approved.
    let mut requests = Vec::new();
    for chain in [Chain::Solana, Chain::Ethereum] {
        let w = wallet(chain);
        let (payload, extras) = demo::transfer_for(chain, &w, 1_000).unwrap();
        let req = demo::submit(
            &net,
            &users,
            ORG,
            w["wallet_id"].as_str().unwrap(),
            &payload,
            &extras,
        )
        .unwrap();
        assert_eq!(req["status"]["state"], "pending", "{req}");
        requests.push(req);
    }
    let ids: Vec<String> = requests
        .iter()
        .map(|r| r["request_id"].as_str().unwrap().to_string())
        .collect();

    // The forger tries both (ECDSA waits for aux info first, then its 15 s session timeout).
    wait_until(Duration::from_secs(240), || {
        let done = forged_outcomes(&c);
        ids.iter()
            .all(|id| done.iter().any(|o| o["request_id"] == **id))
    })
    .unwrap_or_else(|e| panic!("forger did not finish: {e}\n{}", c.log_of(1)));
    let outcomes = forged_outcomes(&c);
    for id in &ids {
        let o = outcomes.iter().find(|o| o["request_id"] == **id).unwrap();
        // It really asked an honest node (the forged job was built, the session ran)...
        assert_eq!(o["outcome"], "failed", "{o}");
        let asked = o["signers_asked"].as_array().unwrap();
        assert!(!asked.is_empty(), "{o}");
        assert!(asked.iter().all(|n| n != 1), "{o}");
        // ...and heard nothing back: no partial signature (or any session message) left them.
        assert_eq!(o["heard_from"], json!([]), "{o}");
        assert!(o["error"].as_str().unwrap().contains("timed out"), "{o}");
    }
    eprintln!("--> forged sessions: {outcomes:?}");

    // Honest nodes: still pending, no attempt, no signature, no signing session ever started.
    for (i, url) in urls.iter().enumerate().skip(1) {
        let one = Net::new(std::slice::from_ref(url), &c.cluster_id, c.admin.clone());
        for id in &ids {
            let r = one
                .read("request_get", json!({ "request_id": id }))
                .unwrap();
            assert_eq!(r["status"]["state"], "pending", "node {}: {r}", i + 1);
            assert!(r["attempts"].as_array().unwrap().is_empty(), "{r}");
            assert!(r["signatures"].as_array().unwrap().is_empty(), "{r}");
            assert!(r["signed_transaction"].is_null(), "{r}");
        }
        let engine = one.read("engine_status", json!({})).unwrap();
        assert_eq!(engine["signing_sessions_started"], 0, "node {}", i + 1);
        let log = c.log_of(i as u64 + 1);
        assert!(!log.contains("signed in"), "node {} signed:\n{log}", i + 1);
    }

    // The forged snapshot reached both honest nodes and was refused; so were the impersonated
    // AppendEntries and Vote; each honest node counted and logged the refusals.
    wait_until(Duration::from_secs(30), || {
        forged_outcomes(&c)
            .iter()
            .filter(|o| o["attack"] == "snapshot" || o["attack"] == "impersonate")
            .count()
            >= 4
    })
    .unwrap_or_else(|e| panic!("attacks not made: {e}\n{}", c.log_of(1)));
    // The honest nodes' own state is untouched: no forged auto-approve policy, no forged
    // address-book entries (had they installed the snapshot, both would be there).
    std::thread::sleep(Duration::from_secs(2));
    for url in &urls[1..] {
        let one = RpcClient::new(url, Duration::from_secs(10))
            .with_reader(mpc_cli::client::Reader::new(c.admin.clone(), &c.cluster_id));
        let policy = one
            .call("policy_get", json!({ "vault_id": VAULT }))
            .unwrap();
        assert_eq!(
            policy["rules"]["auto_approve"],
            json!([]),
            "{url}: {policy}"
        );
        let book = one
            .call("addressbook_list", json!({ "org_id": ORG }))
            .unwrap();
        assert!(
            !book.to_string().contains("forged"),
            "{url}: forged address book {book}"
        );
    }
    for o in forged_outcomes(&c)
        .iter()
        .filter(|o| o["attack"].is_string())
    {
        if o["attack"] == "snapshot" {
            assert!(o["forged_requests"].as_u64().unwrap() >= 1, "{o}");
        }
        if o["attack"] != "flood" {
            assert_eq!(o["result"]["refused"], true, "accepted: {o}");
        }
    }
    let refused = |id: u64| c.status(id).unwrap()["refused_raft_rpcs"].clone();
    assert!(
        refused(2)["install_snapshot"].as_u64().unwrap() >= 1,
        "{}",
        refused(2)
    );
    assert!(
        refused(3)["install_snapshot"].as_u64().unwrap() >= 1,
        "{}",
        refused(3)
    );
    assert!(
        refused(2)["append_entries"].as_u64().unwrap() >= 1,
        "{}",
        refused(2)
    );
    assert!(refused(2)["vote"].as_u64().unwrap() >= 1, "{}", refused(2));
    assert!(c.log_of(2).contains("refused a Raft RPC"));

    // With two real approvals the same request is signed by the network (honest path intact).
    let sol = &requests[0];
    demo::approve(&net, &users.alice, ORG, sol).unwrap();
    demo::approve(&net, &users.bob, ORG, sol).unwrap();
    let done = net.wait_request(&ids[0], Duration::from_secs(60)).unwrap();
    assert_eq!(done["status"]["state"], "signed", "{done}");
    // The ECDSA request, never approved, is still pending.
    let r = net
        .read("request_get", json!({ "request_id": ids[1] }))
        .unwrap();
    assert_eq!(r["status"]["state"], "pending", "{r}");

    // Once a request is signed the forger floods node 2 (64 sessions × 64 messages × 256 KiB
    // offered). Node 2's memory stays within its per-peer bounds (compared with node 3, not
    // flooded) and the network keeps signing: the ECDSA request, approved now, is signed.
    wait_until(Duration::from_secs(30), || {
        forged_outcomes(&c).iter().any(|o| o["attack"] == "flood")
    })
    .unwrap_or_else(|e| panic!("no flood was sent: {e}"));
    std::thread::sleep(Duration::from_secs(20));
    let eth = &requests[1];
    demo::approve(&net, &users.alice, ORG, eth).unwrap();
    demo::approve(&net, &users.bob, ORG, eth).unwrap();
    let done = net.wait_request(&ids[1], Duration::from_secs(180)).unwrap();
    assert_eq!(done["status"]["state"], "signed", "{done}");
    // What node 2 kept for the flood never exceeded its per-peer bound on early messages
    // (16 MiB), and it refused the rest.
    let one = RpcClient::new(&urls[1], Duration::from_secs(10));
    let hub = one.call("engine_status", json!({})).unwrap()["session_hub"].clone();
    eprintln!("--> node 2 session hub after the flood: {hub}");
    assert!(
        hub["early_bytes_peak"].as_u64().unwrap() <= 16 * 1024 * 1024,
        "{hub}"
    );
    assert!(hub["refused_frames"].as_u64().unwrap() > 0, "{hub}");
    let (rss2, rss3) = (
        rss_kib(c.nodes[1].pid().unwrap()),
        rss_kib(c.nodes[2].pid().unwrap()),
    );
    eprintln!("--> RSS after the flood: node 2 (flooded) {rss2} KiB, node 3 {rss3} KiB");
    assert!(
        rss2 < rss3 + 128 * 1024,
        "flooded node 2 holds {rss2} KiB, node 3 {rss3} KiB"
    );
    c.stop_node(1);
}

/// Resident memory of a process, KiB.
fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap()
}
