//! Removing a node from the network, with real processes (issue 14, item 4; decision 0027).
//!
//! Three `mpc-node` processes, one vault with a wallet on every chain; one transfer per chain is
//! signed and checked by independent implementations. Then the genesis admins remove a node
//! that is not the Raft leader (it keeps running — as an operator who left would):
//!
//! 1. one genesis admin's signature changes nothing;
//! 2. with the second, the vault refreshes among the two staying nodes (its committee shrinks;
//!    the removed node's shares no longer fit), the staying nodes make new aux info without it,
//!    the Raft leader takes it out of the voters, and the staying nodes drop its connections;
//! 3. the staying nodes sign one transfer per chain: same addresses, checked independently.
#![allow(clippy::unwrap_used)] // tests fail loudly on purpose

mod common;

use common::verify_independently;
use mpc_custody::command::Action;
use mpc_testnet::demo::{self, Net, Users};
use mpc_testnet::{wait_until, Cluster};
use serde_json::json;
use std::time::{Duration, Instant};

const ORG: &str = "remove";
const VAULT: &str = "remove-vault";

#[test]
fn a_removed_node_leaves_every_committee_and_the_others_sign_with_the_same_addresses() {
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

    // The node removed: one that is not the leader.
    let leader = c.wait_for_leader(None, Duration::from_secs(10)).unwrap();
    let gone = (1..=3u64).rev().find(|n| *n != leader).unwrap();
    let staying: Vec<u64> = (1..=3u64).filter(|n| *n != gone).collect();
    let staying_endpoints: Vec<mpc_testnet::Endpoint> = staying
        .iter()
        .map(|n| endpoints[(*n - 1) as usize].clone())
        .collect();
    let net2 = Net::new(&staying_endpoints, &c.cluster_id, c.admin.clone());
    let gone_peer = c.status(gone).unwrap()["peer_id"].clone();
    let action = Action::NodeRemove { node_id: gone };

    // 1. One genesis admin's signature is not enough.
    let first = net2.write(&c.admin, "node_remove", action.clone()).unwrap();
    assert_eq!(
        first["result"]["removal"]["status"]["state"], "pending",
        "{first}"
    );
    std::thread::sleep(Duration::from_secs(2));
    assert!(vault(&net2)["refresh"].is_null());

    // 2. The second signature removes it.
    let t0 = Instant::now();
    let second = net2.write(&c.admin2, "node_remove", action).unwrap();
    assert_eq!(
        second["result"]["removal"]["status"]["state"], "admitted",
        "{second}"
    );
    wait_until(Duration::from_secs(180), || {
        let v = vault(&net2);
        v["refresh"].is_null() && v["epoch"] == 1
    })
    .unwrap_or_else(|e| {
        panic!(
            "{e}: {}\nnode {} log:\n{}",
            vault(&net2),
            staying[0],
            c.log_of(staying[0])
        )
    });
    let v = vault(&net2);
    eprintln!(
        "--> vault refreshed among {staying:?} in {:.1} s: {}",
        t0.elapsed().as_secs_f64(),
        v["last_refresh"]
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

    // New aux info for the committee of two; the removed node takes no part.
    wait_until(Duration::from_secs(180), || {
        staying.iter().all(|n| {
            let a = &c.status(*n).unwrap()["ecdsa_aux_info"];
            a["attempt"] == 1 && a["state"] == "ready"
        })
    })
    .unwrap_or_else(|e| panic!("{e}: {}", c.status(staying[0]).unwrap()));
    eprintln!(
        "--> aux info of {staying:?} ready {:.1} s after the removal",
        t0.elapsed().as_secs_f64()
    );

    // Raft voters without it; the staying nodes no longer talk to it.
    wait_until(Duration::from_secs(30), || {
        let cluster = c
            .anonymous_client(staying[0])
            .call("cluster_status", json!({}))
            .unwrap();
        cluster["members"].as_array().unwrap().iter().all(|m| {
            let is_gone = m["node_id"] == gone;
            m["removed"] == is_gone
                && m["raft_voter"] == !is_gone
                && (!is_gone || m["connected"] == false)
        })
    })
    .unwrap_or_else(|e| {
        panic!(
            "{e}: {}",
            c.anonymous_client(staying[0])
                .call("cluster_status", json!({}))
                .unwrap()
        )
    });
    for n in &staying {
        let s = c.status(*n).unwrap();
        let peers = s["connected_peers"].as_array().unwrap();
        assert!(
            !peers.iter().any(|p| p["peer_id"] == gone_peer),
            "node {n} still talks to the removed node: {s}"
        );
    }
    assert_eq!(c.status(gone).unwrap()["removed"], true);

    // 3. The staying nodes sign on every chain; same addresses.
    let after = demo::transfers(&net2, &users, ORG, &wallets, None, None, &say).unwrap();
    assert_eq!(after.len(), 4);
    for (a, b) in after.iter().zip(&before) {
        assert_eq!(a.address, b.address, "{:?}", a.chain);
        verify_independently(a);
    }
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
