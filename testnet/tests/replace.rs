//! Replacing a node whose disk is lost, with real processes (issue 14, item 2).
//!
//! Three `mpc-node` processes, one vault with a wallet on every chain; one transfer per chain is
//! signed and checked by independent implementations. Then node 3 is SIGKILLed and its data
//! directory deleted (its shares are gone):
//!
//! 1. nodes 1 and 2 keep signing (a lost disk stops no funds);
//! 2. a new host is initialised for node 3 (new keys, new ports) and started as a replacement;
//!    nobody talks to it until the genesis admins admit it — one admin's signature is not
//!    enough;
//! 3. with the second genesis admin's signature the network pins the new host, repairs its
//!    share of every key of the vault from two helpers (no key reconstructed), and refreshes
//!    every share so the lost host's share becomes useless;
//! 4. with node 1 stopped, nodes 2 and 3 (the new host) sign one transfer per chain: same
//!    addresses, checked independently.
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

const ORG: &str = "replace";
const VAULT: &str = "replace-vault";

fn node_replace(card_path: &std::path::Path) -> Action {
    let id: mpc_bootstrap::identity::IdentityCard =
        serde_json::from_slice(&std::fs::read(card_path).unwrap()).unwrap();
    Action::NodeReplace {
        node_id: 3,
        replacement: 1,
        card: NodeCard {
            identity_key: UserKey(id.identity_key().unwrap()),
            noise_key: id.noise_public_key,
            p2p_addr: id.p2p_addr,
            rpc_addr: id.rpc_addr,
            rpc_tls_sha256: id.rpc_tls_sha256,
        },
    }
}

fn vault(net: &Net) -> Value {
    net.read("vault_get", json!({ "vault_id": VAULT })).unwrap()
}

#[test]
fn a_lost_node_is_replaced_and_every_wallet_signs_with_the_same_address() {
    let mut c = Cluster::start(3, 23_100).unwrap();
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
    let vault0 = vault(&net);

    // Node 3's host is lost with its disk.
    c.kill_node(3);
    let old_peer = {
        let s = c.status(1).unwrap();
        eprintln!("--> node 1 before: {s}");
        s["connected_peers"].clone()
    };
    let net12 = Net::new(&endpoints[..2], &c.cluster_id, c.admin.clone());
    // 1. Nodes 1 and 2 still sign.
    let sol: Vec<_> = wallets
        .iter()
        .filter(|(ch, _)| *ch == mpc_protocol::chain::Chain::Solana)
        .cloned()
        .collect();
    for r in demo::transfers(&net12, &users, ORG, &sol, None, None, &say).unwrap() {
        verify_independently(&r);
    }

    // 2. A new host for node 3: new keys, new ports, empty disk.
    let card = c
        .replace_host(3)
        .unwrap_or_else(|e| panic!("{e:#}\nnode 3 log:\n{}", c.log_of(3)));
    let new_status = c.status(3).unwrap();
    eprintln!("--> new host: {new_status}");
    assert_ne!(new_status["peer_id"], Value::Null);
    let action = node_replace(&card);
    let first = net12
        .write(&c.admin, "node_replace", action.clone())
        .unwrap();
    eprintln!("--> first signature: {first}");
    assert_eq!(
        first["result"]["replacement"]["status"]["state"], "pending",
        "{first}"
    );
    // One genesis admin is not enough: no repair starts and nobody connects to the new host.
    std::thread::sleep(Duration::from_secs(3));
    assert!(vault(&net12)["repair"].is_null());
    let connected = c.status(1).unwrap()["connected_peers"].clone();
    assert!(
        !connected
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p["peer_id"] == new_status["peer_id"]),
        "node 1 talks to a host no quorum admitted: {connected}"
    );

    // 3. The second genesis admin's signature admits it; the network repairs and refreshes.
    let t0 = Instant::now();
    let second = net12.write(&c.admin2, "node_replace", action).unwrap();
    assert_eq!(
        second["result"]["replacement"]["status"]["state"], "admitted",
        "{second}"
    );
    wait_until(Duration::from_secs(240), || {
        let v = vault(&net12);
        v["repair"].is_null() && v["refresh"].is_null() && v["epoch"] == 1
    })
    .unwrap_or_else(|e| panic!("{e}: {}\nnode 3 log:\n{}", vault(&net12), c.log_of(3)));
    let v = vault(&net12);
    for line in c.log_of(3).lines().filter(|l| l.contains("repair")) {
        eprintln!("    node 3: {line}");
    }
    eprintln!(
        "--> repaired and refreshed in {:.1} s: {}",
        t0.elapsed().as_secs_f64(),
        v["last_refresh"]
    );
    assert_eq!(v["last_refresh"]["status"]["state"], "done", "{v}");
    assert!(
        v["last_refresh"]["reason"]
            .as_str()
            .unwrap()
            .contains("node 3 was replaced"),
        "{v}"
    );
    assert_eq!(v["keys"], vault0["keys"], "a vault key changed");
    let s1 = c.status(1).unwrap();
    assert!(
        s1["connected_peers"]
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p["peer_id"] == new_status["peer_id"] && p["node_id"] == 3),
        "node 1 does not know the new host as node 3: {s1} (before: {old_peer})"
    );
    // `mpc cluster` shows the new host in node 3's place.
    let cluster = c
        .anonymous_client(2)
        .call("cluster_status", json!({}))
        .unwrap();
    let three = cluster["members"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["node_id"] == 3)
        .unwrap()
        .clone();
    assert_eq!(three["peer_id"], new_status["peer_id"], "{cluster}");
    assert_eq!(three["replacement"], 1, "{cluster}");
    assert_eq!(three["connected"], true, "{cluster}");
    assert_eq!(c.status(3).unwrap()["replacement"], 1);
    assert!(
        c.log_of(1).contains("node replaced: new host pinned"),
        "{}",
        c.log_of(1)
    );

    // The new committee's ECDSA aux info (the lost host's Paillier key went with it) needs
    // every node; ECDSA signing waits for it.
    wait_until(Duration::from_secs(180), || {
        (1..=3).all(|n| {
            let a = &c.status(n).unwrap()["ecdsa_aux_info"];
            a["attempt"] == 1 && a["state"] == "ready"
        })
    })
    .unwrap_or_else(|e| {
        panic!(
            "{e}: aux info of the new committee not ready: {}",
            c.status(3).unwrap()
        )
    });
    eprintln!(
        "--> new aux info ready {:.1} s after the admission",
        t0.elapsed().as_secs_f64()
    );

    // 4. Without node 1, nodes 2 and 3 sign on every chain; same addresses.
    let endpoints: Vec<mpc_testnet::Endpoint> =
        c.nodes.iter().map(|n| n.endpoint.clone()).collect();
    c.stop_node(1);
    c.wait_for_leader(Some(1), Duration::from_secs(30)).unwrap();
    let net23 = Net::new(&endpoints[1..], &c.cluster_id, c.admin.clone());
    let after = demo::transfers(&net23, &users, ORG, &wallets, None, None, &say).unwrap();
    assert_eq!(after.len(), 4);
    for (a, b) in after.iter().zip(&before) {
        assert_eq!(a.address, b.address, "{:?}", a.chain);
        verify_independently(a);
    }
    // The replacement, its repair and its refresh are in the audit log; the chain is intact.
    let audit = net23
        .read("audit_list", json!({ "org_id": ORG, "limit": 1000 }))
        .unwrap();
    let kinds: Vec<&str> = audit["entries"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["action"].as_str())
        .collect();
    assert!(kinds.contains(&"vault_repaired"), "{kinds:?}");
    assert!(kinds.contains(&"vault_refreshed"), "{kinds:?}");
    assert_eq!(net23.read("audit_verify", json!({})).unwrap()["ok"], true);
}
