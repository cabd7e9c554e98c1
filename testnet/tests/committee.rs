//! Changing the network's nodes, with real processes (issue 14, item 4; decision 0027): add a
//! fourth node, remove one, and sign.
//!
//! Three `mpc-node` processes, one vault with a wallet on every chain; one transfer per chain is
//! signed and checked by independent implementations. Then:
//!
//! 1. a fourth host is initialised and started with `--joining`; one genesis admin's `node_add`
//!    changes nothing; with the second, the vault repairs a share in for it (at its own
//!    evaluation point, no key reconstructed) and refreshes among the four, new aux info is
//!    made with it, and the Raft leader makes it a learner, then a voter;
//! 2. the genesis admins remove a genesis node that is not the Raft leader (it keeps running,
//!    as the host of an operator who left would): the vault refreshes among the three staying
//!    nodes (the removed node's shares no longer fit), new aux info is made without it, it
//!    leaves the Raft voters and the staying nodes drop its connections;
//! 3. one more genesis node is stopped: the remaining genesis node and the added node sign one
//!    transfer per chain — same addresses, checked independently.
#![allow(clippy::unwrap_used)] // tests fail loudly on purpose

mod common;

use common::verify_independently;
use mpc_custody::command::Action;
use mpc_custody::membership::NodeCard;
use mpc_custody::types::UserKey;
use mpc_testnet::demo::{self, Net, Users};
use mpc_testnet::{wait_until, Cluster};
use serde_json::{json, Value};
use std::time::{Duration, Instant};

const ORG: &str = "committee";
const VAULT: &str = "committee-vault";

fn cluster(c: &Cluster, via: u64) -> Value {
    c.anonymous_client(via)
        .call("cluster_status", json!({}))
        .unwrap()
}

fn aux_ready(c: &Cluster, nodes: &[u64], attempt: u64) -> bool {
    nodes.iter().all(|n| {
        let a = &c.status(*n).unwrap()["ecdsa_aux_info"];
        a["attempt"] == attempt && a["state"] == "ready"
    })
}

#[test]
fn a_node_is_added_another_removed_and_the_new_committee_signs_with_the_same_addresses() {
    let mut c = Cluster::start(3, 23_300).unwrap();
    let endpoints: Vec<mpc_testnet::Endpoint> =
        c.nodes.iter().map(|n| n.endpoint.clone()).collect();
    let net = Net::new(&endpoints, &c.cluster_id, c.admin.clone());
    let users = Users::random();
    let say = |s: &str| eprintln!("--> {s}");
    let wallets = demo::setup(&net, &users, ORG, VAULT, &say).unwrap();
    let before = demo::transfers(&net, &users, ORG, &wallets, None, None, &say).unwrap();
    for r in &before {
        verify_independently(r);
    }
    let vault = |net: &Net| net.read("vault_get", json!({ "vault_id": VAULT })).unwrap();
    let vault0 = vault(&net);
    assert_eq!(vault0["committee"], json!([1, 2, 3]), "{vault0}");

    // 1. A fourth node.
    let (four, card) = c.add_host().unwrap();
    assert_eq!(four, 4);
    let id: mpc_bootstrap::identity::IdentityCard =
        serde_json::from_slice(&std::fs::read(&card).unwrap()).unwrap();
    let add = Action::NodeAdd {
        node_id: four,
        card: NodeCard {
            identity_key: UserKey(id.identity_key().unwrap()),
            noise_key: id.noise_public_key,
            p2p_addr: id.p2p_addr,
            rpc_addr: id.rpc_addr,
            rpc_tls_sha256: id.rpc_tls_sha256,
        },
    };
    let first = net.write(&c.admin, "node_add", add.clone()).unwrap();
    assert_eq!(
        first["result"]["addition"]["status"]["state"], "pending",
        "{first}"
    );
    std::thread::sleep(Duration::from_secs(2));
    assert!(vault(&net)["repair"].is_null());
    let t0 = Instant::now();
    let second = net.write(&c.admin2, "node_add", add).unwrap();
    assert_eq!(
        second["result"]["addition"]["status"]["state"], "admitted",
        "{second}"
    );
    wait_until(Duration::from_secs(240), || {
        let v = vault(&net);
        v["repair"].is_null() && v["refresh"].is_null() && v["epoch"] == 1
    })
    .unwrap_or_else(|e| panic!("{e}: {}\nnode 4 log:\n{}", vault(&net), c.log_of(four)));
    let v = vault(&net);
    eprintln!(
        "--> node 4 received its shares and the vault refreshed among four in {:.1} s",
        t0.elapsed().as_secs_f64()
    );
    assert_eq!(v["committee"], json!([1, 2, 3, 4]), "{v}");
    assert_eq!(v["last_refresh"]["status"]["state"], "done", "{v}");
    assert_eq!(v["last_refresh"]["adds"], json!([4]), "{v}");
    assert_eq!(v["keys"], vault0["keys"], "a vault key changed");
    wait_until(Duration::from_secs(180), || aux_ready(&c, &[1, 2, 3, 4], 1))
        .unwrap_or_else(|e| panic!("{e}: {}", c.status(four).unwrap()));
    wait_until(Duration::from_secs(60), || {
        cluster(&c, 1)["members"]
            .as_array()
            .unwrap()
            .iter()
            .any(|m| m["node_id"] == four && m["raft_voter"] == true)
    })
    .unwrap_or_else(|e| panic!("{e}: {}", cluster(&c, 1)));
    eprintln!(
        "--> node 4 is a Raft voter with aux info {:.1} s after its admission",
        t0.elapsed().as_secs_f64()
    );

    // 2. Remove a genesis node that is not the leader.
    let leader = c.wait_for_leader(None, Duration::from_secs(10)).unwrap();
    let gone = (1..=3u64).rev().find(|n| *n != leader).unwrap();
    let staying: Vec<u64> = (1..=4u64).filter(|n| *n != gone).collect();
    let staying_endpoints: Vec<mpc_testnet::Endpoint> = staying
        .iter()
        .map(|n| c.nodes[(*n - 1) as usize].endpoint.clone())
        .collect();
    let net3 = Net::new(&staying_endpoints, &c.cluster_id, c.admin.clone());
    let gone_peer = c.status(gone).unwrap()["peer_id"].clone();
    let remove = Action::NodeRemove { node_id: gone };
    let first = net3.write(&c.admin, "node_remove", remove.clone()).unwrap();
    assert_eq!(
        first["result"]["removal"]["status"]["state"], "pending",
        "{first}"
    );
    let t1 = Instant::now();
    let second = net3.write(&c.admin2, "node_remove", remove).unwrap();
    assert_eq!(
        second["result"]["removal"]["status"]["state"], "admitted",
        "{second}"
    );
    wait_until(Duration::from_secs(180), || {
        let v = vault(&net3);
        v["refresh"].is_null() && v["epoch"] == 2
    })
    .unwrap_or_else(|e| panic!("{e}: {}", vault(&net3)));
    let v = vault(&net3);
    eprintln!(
        "--> vault refreshed among {staying:?} in {:.1} s",
        t1.elapsed().as_secs_f64()
    );
    assert_eq!(v["last_refresh"]["status"]["state"], "done", "{v}");
    assert_eq!(v["last_refresh"]["removes"], json!([gone]), "{v}");
    assert!(
        v["last_refresh"]["reason"]
            .as_str()
            .unwrap()
            .contains("removed from the network"),
        "{v}"
    );
    assert_eq!(v["committee"], json!(staying), "{v}");
    assert_eq!(v["keys"], vault0["keys"], "a vault key changed");
    wait_until(Duration::from_secs(180), || aux_ready(&c, &staying, 2))
        .unwrap_or_else(|e| panic!("{e}: {}", c.status(staying[0]).unwrap()));
    eprintln!(
        "--> aux info of {staying:?} ready {:.1} s after the removal",
        t1.elapsed().as_secs_f64()
    );
    // Raft voters without it; the staying nodes no longer talk to it.
    wait_until(Duration::from_secs(30), || {
        cluster(&c, staying[0])["members"]
            .as_array()
            .unwrap()
            .iter()
            .all(|m| {
                let is_gone = m["node_id"] == gone;
                m["removed"] == is_gone
                    && m["raft_voter"] == !is_gone
                    && (!is_gone || m["connected"] == false)
            })
    })
    .unwrap_or_else(|e| panic!("{e}: {}", cluster(&c, staying[0])));
    for n in &staying {
        let s = c.status(*n).unwrap();
        let peers = s["connected_peers"].as_array().unwrap();
        assert!(
            !peers.iter().any(|p| p["peer_id"] == gone_peer),
            "node {n} still talks to the removed node: {s}"
        );
    }
    // The removed node says so once it applied its removal. The staying nodes cut it off as soon
    // as they apply it, which can be before the leader's next heartbeat told the removed node
    // that the entry is committed: then it never learns (seen once in a few runs; noted on issue
    // 15). Either way it is out: removed, or talking to nobody.
    wait_until(Duration::from_secs(15), || {
        let s = c.status(gone).unwrap();
        s["removed"] == true
            || s["connected_peers"]
                .as_array()
                .is_some_and(|p| p.is_empty())
    })
    .unwrap_or_else(|e| panic!("{e}: {}", c.status(gone).unwrap()));
    eprintln!(
        "--> the removed node's own status: removed = {}",
        c.status(gone).unwrap()["removed"]
    );

    // 3. One more genesis node stops: the other one and node 4 sign on every chain.
    let stopped = staying
        .iter()
        .copied()
        .find(|n| *n != four && *n != leader)
        .unwrap_or(leader);
    c.stop_node(stopped);
    let pair: Vec<u64> = staying.iter().copied().filter(|n| *n != stopped).collect();
    c.wait_for_leader(Some(stopped), Duration::from_secs(30))
        .unwrap();
    let pair_endpoints: Vec<mpc_testnet::Endpoint> = pair
        .iter()
        .map(|n| c.nodes[(*n - 1) as usize].endpoint.clone())
        .collect();
    let net2 = Net::new(&pair_endpoints, &c.cluster_id, c.admin.clone());
    let after = demo::transfers(&net2, &users, ORG, &wallets, None, None, &say).unwrap();
    assert_eq!(after.len(), 4);
    for (a, b) in after.iter().zip(&before) {
        assert_eq!(a.address, b.address, "{:?}", a.chain);
        verify_independently(a);
    }
    eprintln!("--> nodes {pair:?} signed on every chain with the same addresses");
    let audit = net2
        .read("audit_list", json!({ "org_id": ORG, "limit": 1000 }))
        .unwrap();
    let refreshed = audit["entries"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["action"] == "vault_refreshed")
        .map(|e| e["outcome"].as_str().unwrap_or_default().to_string())
        .collect::<Vec<_>>();
    assert!(
        refreshed
            .iter()
            .any(|t| t.contains("left the vault's committee")),
        "{refreshed:?}"
    );
    assert_eq!(net2.read("audit_verify", json!({})).unwrap()["ok"], true);
}
