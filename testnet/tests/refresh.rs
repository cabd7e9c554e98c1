//! Proactive refresh with real processes (issue 14, item 3).
//!
//! Three `mpc-node` processes, one vault with a wallet on every chain; one transfer per chain is
//! signed and checked by independent implementations. Then:
//!
//! 1. with node 3 stopped, an admin's `vault_refresh` starts; nodes 1 and 2 wait for node 3 and
//!    report the refresh failed — nothing changes: epoch 0, the same shares sign (nodes 1 and 2);
//! 2. node 3 comes back; a second `vault_refresh` completes on every node: epoch 1, the same
//!    vault keys and wallet addresses, every presignature made from the old shares discarded,
//!    and each node deletes its old shares only after checking every node's signed report;
//! 3. one transfer per chain is signed again with the new shares and checked independently.
#![allow(clippy::unwrap_used)] // tests fail loudly on purpose

mod common;

use common::verify_independently;
use mpc_custody::command::Action;
use mpc_custody::types::OrgId;
use mpc_protocol::chain::Chain;
use mpc_testnet::demo::{self, Net, Users};
use mpc_testnet::{wait_until, Cluster};
use serde_json::{json, Value};
use std::time::{Duration, Instant};

const ORG: &str = "refresh";
const VAULT: &str = "refresh-vault";

fn refresh(net: &Net, reason: &str) -> Value {
    net.write(
        &net.admin,
        "vault_refresh",
        Action::VaultRefresh {
            org_id: OrgId(ORG.into()),
            vault_id: VAULT.into(),
            reason: reason.into(),
        },
    )
    .unwrap()
}

/// Waits until the vault has no refresh running and returns it.
fn settled(net: &Net, timeout: Duration) -> Value {
    let t0 = Instant::now();
    loop {
        let v = net.read("vault_get", json!({ "vault_id": VAULT })).unwrap();
        if v["refresh"].is_null() {
            return v;
        }
        assert!(t0.elapsed() < timeout, "refresh still running: {v}");
        std::thread::sleep(Duration::from_millis(250));
    }
}

#[test]
fn a_refresh_changes_every_share_and_no_address() {
    let mut c = Cluster::start(3, 22_900).unwrap();
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
    let vault0 = net.read("vault_get", json!({ "vault_id": VAULT })).unwrap();
    assert_eq!(vault0["epoch"], 0, "{vault0}");
    let eth = &wallets
        .iter()
        .find(|(c, _)| *c == Chain::Ethereum)
        .unwrap()
        .1;
    let eth_id = eth["wallet_id"].as_str().unwrap();
    let pool = |net: &Net| {
        net.read("wallet_presignatures", json!({ "wallet_id": eth_id }))
            .unwrap()
    };
    // Wait for the pool's presignatures (made from the current shares).
    wait_until(Duration::from_secs(180), || {
        pool(&net)["ready"].as_u64().unwrap_or(0) >= 1
    })
    .unwrap_or_else(|e| panic!("no presignature became ready: {e}: {}", pool(&net)));
    // Stop node 3 first: the pool then cannot make (or use) more presignatures meanwhile.
    // While it is down, talk to nodes 1 and 2 only.
    c.stop_node(3);
    let net12 = Net::new(&endpoints[..2], &c.cluster_id, c.admin.clone());
    let pool0 = pool(&net12);
    eprintln!("--> pool before: {pool0}");
    assert_eq!(pool0["epoch"], 0, "{pool0}");

    // 1. A refresh that cannot finish (node 3 is down) changes nothing.
    let started = refresh(&net12, "drill: node 3 down");
    assert_eq!(
        started["result"]["vault"]["refresh"]["status"]["state"], "running",
        "{started}"
    );
    let t0 = Instant::now();
    let v = settled(&net12, Duration::from_secs(180));
    eprintln!(
        "--> refresh settled after {:.1} s: {}",
        t0.elapsed().as_secs_f64(),
        v["last_refresh"]["status"]
    );
    assert_eq!(v["last_refresh"]["status"]["state"], "failed", "{v}");
    assert_eq!(v["epoch"], 0, "{v}");
    assert_eq!(v["share_generation"], 0, "{v}");
    assert_eq!(v["keys"], vault0["keys"]);
    // Nodes 1 and 2 still sign with the shares they had.
    let sol = wallets.iter().find(|(c, _)| *c == Chain::Solana).unwrap();
    let again = demo::transfers(
        &net12,
        &users,
        ORG,
        std::slice::from_ref(sol),
        None,
        None,
        &say,
    )
    .unwrap();
    verify_independently(&again[0]);

    // 2. With every node up, the refresh completes.
    c.start_node(3).unwrap();
    let applied = |id: u64| c.status(id).unwrap()["applied_index"].as_u64().unwrap_or(0);
    let target = applied(1);
    wait_until(Duration::from_secs(60), || applied(3) >= target).unwrap();
    refresh(&net, "operator left");
    let t0 = Instant::now();
    let v = settled(&net, Duration::from_secs(180));
    eprintln!(
        "--> refresh done in {:.1} s: {}",
        t0.elapsed().as_secs_f64(),
        v["last_refresh"]["status"]
    );
    assert_eq!(v["last_refresh"]["status"]["state"], "done", "{v}");
    assert_eq!(v["epoch"], 1, "{v}");
    assert_eq!(v["last_refresh"]["reports"].as_object().unwrap().len(), 3);
    assert!(v["share_generation"].as_u64().unwrap() > 0, "{v}");
    assert_eq!(v["keys"], vault0["keys"], "a refresh changed a vault key");
    // Every node shows the same wallets, same addresses.
    for u in &endpoints {
        let one = Net::new(std::slice::from_ref(u), &c.cluster_id, c.admin.clone());
        let w = one
            .read("wallet_list", json!({ "vault_id": VAULT }))
            .unwrap();
        for (_, expected) in &wallets {
            let ws = w["wallets"].as_array().unwrap();
            assert!(ws.contains(expected), "{u}: {expected} not in {w}");
        }
    }
    // Every node deleted its replaced shares after checking every node's signed report (and
    // the shares the failed refresh left behind).
    for n in 1..=3 {
        wait_until(Duration::from_secs(30), || {
            c.log_of(n).contains("deleted 3 replaced key shares")
        })
        .unwrap_or_else(|_| panic!("node {n} kept its old shares:\n{}", c.log_of(n)));
        assert!(
            !c.log_of(n).contains("old shares kept"),
            "node {n}:\n{}",
            c.log_of(n)
        );
    }
    // Both refreshes are in the audit log: the admin's two `vault_refresh`, a failure report,
    // and one signed `vault_refreshed` per node; the hash chain is intact.
    let audit = net
        .read("audit_list", json!({ "org_id": ORG, "limit": 1000 }))
        .unwrap();
    let outcomes = |kind: &str| -> Vec<String> {
        audit["entries"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["action"] == kind)
            .map(|e| e["outcome"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(outcomes("vault_refresh"), ["ok", "ok"], "{audit}");
    let failed = outcomes("vault_refresh_failed");
    assert_eq!(failed.len(), 1, "{audit}");
    assert!(failed[0].contains("shares unchanged"), "{failed:?}");
    let refreshed = outcomes("vault_refreshed");
    assert_eq!(refreshed.len(), 3, "{audit}");
    assert!(refreshed[2].contains("refresh done"), "{refreshed:?}");
    assert_eq!(net.read("audit_verify", json!({})).unwrap()["ok"], true);
    // The pool starts over: every presignature of the old shares is gone.
    let p = pool(&net);
    eprintln!("--> pool after: {p}");
    assert_eq!(p["epoch"], 1, "{p}");
    let old: Vec<&Value> = pool0["ready_seqs"].as_array().unwrap().iter().collect();
    for s in p["ready_seqs"].as_array().unwrap() {
        assert!(
            !old.contains(&s),
            "presignature {s} of the old shares still usable: {p}"
        );
    }

    // 3. The new shares sign on every chain, same addresses, checked independently.
    let after = demo::transfers(&net, &users, ORG, &wallets, None, None, &say).unwrap();
    assert_eq!(after.len(), 4);
    for (a, b) in after.iter().zip(&before) {
        assert_eq!(a.address, b.address, "{:?}", a.chain);
        verify_independently(a);
    }
}
