//! End-to-end custody flow against three real `mpc-node` processes: vault DKG, wallets on every
//! chain, policy, approvals, signing — every signature checked by an independent implementation
//! (alloy sender recovery, rust-bitcoin sighash + libsecp256k1, ed25519-dalek) — and the
//! refusals: M−1 approvals, wrong digest, non-approver, removed approver, destination outside the
//! whitelist, spend beyond a window (REJECT and REQUIRE_ADMIN), a signer dead during signing;
//! ECDSA from the presignature pool;
//! status changes pushed over the WebSocket subscription.
//! One cluster for all of it: ECDSA aux info is made once per committee.

#![allow(clippy::unwrap_used)] // tests fail loudly on purpose

mod common;

use common::verify_independently;
use mpc_custody::command::Action;
use mpc_custody::types::{OrgId, UserId};
use mpc_protocol::chain::{Chain, Network};
use mpc_testnet::demo::{self, ChainResult, Net, Users};
use mpc_testnet::Cluster;
use serde_json::{json, Value};
use std::time::{Duration, Instant};

const ORG: &str = "acme";
const VAULT: &str = "treasury";

fn rejected_with(res: Result<Value, anyhow::Error>, text: &str) {
    let e = res.expect_err("should be rejected").to_string();
    assert!(e.contains(text), "wanted '{text}' in: {e}");
}

fn state(net: &Net, id: &str) -> Value {
    net.read("request_get", json!({ "request_id": id }))
        .unwrap()
}

#[test]
fn custody_flow_end_to_end() {
    let mut c = Cluster::start(3, 22_000).unwrap();
    let urls: Vec<mpc_testnet::Endpoint> = c.nodes.iter().map(|n| n.endpoint.clone()).collect();
    let net = Net::new(&urls, &c.cluster_id, c.admin.clone());
    let users = Users::random();
    let say = |s: &str| eprintln!("--> {s}");
    let wallets = demo::setup(&net, &users, ORG, VAULT, &say).unwrap();

    // Every node derived the same wallets.
    for u in &urls {
        let one = Net::new(std::slice::from_ref(u), &c.cluster_id, c.admin.clone());
        let w = one
            .read("wallet_list", json!({ "vault_id": VAULT }))
            .unwrap();
        for (_, expected) in &wallets {
            assert!(w["wallets"].as_array().unwrap().contains(expected), "{u}");
        }
    }

    // The demo: one transfer per chain, 2-of-3 approvals, checked independently.
    let results = demo::transfers(&net, &users, ORG, &wallets, None, None, &say).unwrap();
    assert_eq!(results.len(), 4);
    for r in &results {
        verify_independently(r);
    }
    // The audit log holds the signatures and is intact.
    let audit = net.read("audit_verify", json!({})).unwrap();
    assert_eq!(audit["ok"], true);

    let wallet = |chain: Chain| wallets.iter().find(|(c, _)| *c == chain).unwrap().1.clone();

    // ECDSA from the presignature pool: once the Ethereum wallet's pool has a presignature, a
    // request's first attempt uses it (one online round), and it is gone from the pool.
    let eth = wallet(Chain::Ethereum);
    let eth_id = eth["wallet_id"].as_str().unwrap().to_string();
    let pool = |net: &Net| {
        net.read("wallet_presignatures", json!({ "wallet_id": eth_id }))
            .unwrap()
    };
    mpc_testnet::wait_until(Duration::from_secs(180), || {
        pool(&net)["ready"].as_u64().unwrap_or(0) >= 1
    })
    .unwrap_or_else(|e| panic!("no presignature became ready: {e}: {}", pool(&net)));
    let before = pool(&net);
    let from_pool = demo::transfers(
        &net,
        &users,
        ORG,
        &[(Chain::Ethereum, eth.clone())],
        None,
        None,
        &say,
    )
    .unwrap();
    verify_independently(&from_pool[0]);
    let r = state(&net, &from_pool[0].request_id);
    let first = &r["attempts"][0];
    assert_eq!(first["presignatures"].as_array().unwrap().len(), 1, "{r}");
    assert_eq!(first["signers"], before["signers"], "{r}");
    let after = pool(&net);
    assert_eq!(
        after["used"].as_u64().unwrap(),
        before["used"].as_u64().unwrap() + 1,
        "{after}"
    );
    // (That the number is never handed out again: consensus unit test
    // presignature_pool_is_filled_by_reports_and_each_presignature_used_once.)
    assert_eq!(after["kind"], "ecdsa_presignatures", "{after}");
    // The Solana (FROST) wallet has a nonce pool (decision 0034), made in blocks of 32.
    let sol = wallet(Chain::Solana);
    let sol_id = sol["wallet_id"].as_str().unwrap().to_string();
    let sol_pool = |net: &Net| {
        net.read("wallet_presignatures", json!({ "wallet_id": sol_id }))
            .unwrap()
    };
    mpc_testnet::wait_until(Duration::from_secs(30), || {
        sol_pool(&net)["ready"].as_u64().unwrap_or(0) >= 32
    })
    .unwrap_or_else(|e| panic!("no nonce block became ready: {e}: {}", sol_pool(&net)));
    let sol_before = sol_pool(&net);
    assert_eq!(sol_before["kind"], "frost_nonces", "{sol_before}");

    // M−1 approvals never sign.
    let (payload, extras) = demo::transfer_for(Chain::Solana, &sol, 5_000).unwrap();
    let req = demo::submit(&net, &users, ORG, &sol_id, &payload, &extras).unwrap();
    let rid = req["request_id"].as_str().unwrap().to_string();
    // A WebSocket subscriber (on another node than the writes) sees every status change.
    // It authenticates as an approver of the organisation.
    let reader = mpc_cli::client::Reader::new(users.alice.clone(), &net.cluster_id);
    let mut watch =
        mpc_cli::watch::Watch::connect(&urls[2], &reader, Some(&rid), Duration::from_secs(10))
            .unwrap();
    let first = watch.next(Some(Duration::from_secs(10))).unwrap();
    assert_eq!(first["request_id"], rid.as_str(), "{first}");
    assert_eq!(first["status"], "pending", "{first}");
    demo::approve(&net, &users.alice, ORG, &req).unwrap();
    approver_software_refuses_a_lying_node(&net, &rid);
    // Approvals over another digest, from a non-approver: refused.
    let mut wrong = req.clone();
    wrong["intent_digest"] = json!("00".repeat(32));
    rejected_with(demo::approve(&net, &users.bob, ORG, &wrong), "digest");
    rejected_with(
        demo::approve(&net, &users.ivan, ORG, &req),
        "not an approver",
    );
    std::thread::sleep(Duration::from_millis(1500));
    let s = state(&net, &rid);
    assert_eq!(s["status"]["state"], "pending", "{s}");
    assert!(s["signatures"].as_array().unwrap().is_empty());
    assert!(s["attempts"].as_array().unwrap().is_empty());

    // A removed approver's key no longer approves.
    net.write(
        &net.admin,
        "member_remove",
        Action::MemberRemove {
            org_id: OrgId(ORG.into()),
            user_id: UserId("carol".into()),
        },
    )
    .unwrap();
    rejected_with(demo::approve(&net, &users.carol, ORG, &req), "not a member");
    assert_eq!(state(&net, &rid)["status"]["state"], "pending");
    demo::approve(&net, &users.bob, ORG, &req).unwrap();
    let done = net.wait_request(&rid, Duration::from_secs(60)).unwrap();
    assert_eq!(done["status"]["state"], "signed");
    // Pushed: `signing` (the attempt fixed in the log), then `signed` with the transaction.
    let mut seen = Vec::new();
    while seen.last().map(String::as_str) != Some("signed") {
        let m = watch.next(Some(Duration::from_secs(10))).unwrap();
        assert_eq!(m["request_id"], rid.as_str(), "{m}");
        seen.push(m["status"].as_str().unwrap().to_string());
        if m["status"] == "signed" {
            assert_eq!(
                m["request"]["signed_transaction"],
                done["signed_transaction"]
            );
            assert!(m["request"]["signed_transaction"].is_string(), "{m}");
        }
    }
    assert!(seen.contains(&"signing".to_string()), "{seen:?}");
    drop(watch);
    // It signed from the nonce pool: its first attempt took a slot (one online round), by the
    // pool's signers, and the slot is gone from the pool.
    let first = &done["attempts"][0];
    assert_eq!(
        first["presignatures"].as_array().map(Vec::len),
        Some(1),
        "{done}"
    );
    assert_eq!(first["signers"], sol_before["signers"], "{done}");
    let seq = &first["presignatures"][0];
    let sol_after = sol_pool(&net);
    assert!(
        !sol_after["ready_seqs"].as_array().unwrap().contains(seq),
        "{sol_after}"
    );
    assert!(
        sol_after["used"].as_u64() > sol_before["used"].as_u64(),
        "{sol_after}"
    );

    // A destination outside the address book is rejected (whitelist required).
    let outsider = bs58::encode([0x77u8; 32]).into_string();
    let msg = mpc_cli::txbuild::sol_transfer(
        sol["address"].as_str().unwrap(),
        &outsider,
        1,
        &bs58::encode([9u8; 32]).into_string(),
    )
    .unwrap();
    let r = demo::submit(&net, &users, ORG, &sol_id, &msg, &Default::default()).unwrap();
    assert_eq!(r["status"]["state"], "rejected", "{r}");
    assert!(r["status"]["reason"]
        .as_str()
        .unwrap()
        .contains("address book"));

    // BTC beyond its 0.5 BTC / 1 h window: rejected after the approvals.
    let btc = wallet(Chain::BitcoinP2wpkh);
    let (payload, extras) = demo::transfer_for(Chain::BitcoinP2wpkh, &btc, 60_000_000).unwrap();
    let req = demo::submit(
        &net,
        &users,
        ORG,
        btc["wallet_id"].as_str().unwrap(),
        &payload,
        &extras,
    )
    .unwrap();
    demo::approve(&net, &users.alice, ORG, &req).unwrap();
    demo::approve(&net, &users.bob, ORG, &req).unwrap();
    let s = state(&net, req["request_id"].as_str().unwrap());
    assert_eq!(s["status"]["state"], "rejected", "{s}");
    assert!(s["status"]["reason"]
        .as_str()
        .unwrap()
        .contains("spending limit"));

    // ETH beyond 5 ETH / 24 h: waits for an admin, then signs — with one of its signers dead.
    // The victim is a signer of the wallet's presignature pool, killed once the pool has a
    // presignature and before the admin approval fixes the attempt: attempt 1 (pool signers,
    // presignature) cannot complete, the live signer reports the victim unresponsive, and
    // attempt 2 signs interactively with the other two nodes.
    let eth = wallet(Chain::Ethereum);
    let (payload, extras) = demo::transfer_for(Chain::Ethereum, &eth, 0).unwrap();
    let _ = payload;
    let big = mpc_cli::txbuild::eth_transfer(
        demo::ETH_CHAIN_ID,
        1,
        demo::ETH_TO,
        6_000_000_000_000_000_000,
        30_000_000_000,
        1_000_000_000,
    )
    .unwrap();
    let req = demo::submit(
        &net,
        &users,
        ORG,
        eth["wallet_id"].as_str().unwrap(),
        &big,
        &extras,
    )
    .unwrap();
    let rid = req["request_id"].as_str().unwrap().to_string();
    demo::approve(&net, &users.alice, ORG, &req).unwrap();
    demo::approve(&net, &users.bob, ORG, &req).unwrap();
    let s = state(&net, &rid);
    assert_eq!(s["status"]["state"], "awaiting_admin", "{s}");
    mpc_testnet::wait_until(Duration::from_secs(180), || {
        pool(&net)["ready"].as_u64().unwrap_or(0) >= 1
    })
    .unwrap_or_else(|e| panic!("no presignature became ready: {e}: {}", pool(&net)));
    let victim = pool(&net)["signers"][1].as_u64().unwrap();
    c.kill_node(victim);
    let t0 = Instant::now();
    let survivors: Vec<mpc_testnet::Endpoint> = c
        .nodes
        .iter()
        .filter(|n| n.node_id != victim)
        .map(|n| n.endpoint.clone())
        .collect();
    let net2 = Net::new(&survivors, &c.cluster_id, c.admin.clone());
    // The victim may have been the leader: retry until a new one takes the write.
    let mut approved = false;
    for _ in 0..40 {
        let r = net2.write(
            &net2.admin,
            "request_admin_approve",
            Action::RequestAdminApprove {
                org_id: OrgId(ORG.into()),
                request_id: rid.as_str().into(),
                intent_digest: req["intent_digest"].as_str().unwrap().into(),
            },
        );
        if r.is_ok() || state(&net2, &rid)["status"]["state"] != "awaiting_admin" {
            approved = true;
            break;
        }
        std::thread::sleep(Duration::from_millis(250));
    }
    assert!(approved, "admin approval not accepted by the survivors");
    let done = net2.wait_request(&rid, Duration::from_secs(90)).unwrap();
    assert_eq!(done["status"]["state"], "signed", "{done}");
    eprintln!(
        "--> signed with node {victim} dead after {} ms, attempts {}",
        t0.elapsed().as_millis(),
        done["attempts"]
    );
    let attempts = done["attempts"].as_array().unwrap();
    assert_eq!(attempts.len(), 2, "{done}");
    assert!(attempts[0]["signers"]
        .as_array()
        .unwrap()
        .contains(&json!(victim)));
    assert_eq!(attempts[0]["presignatures"].as_array().unwrap().len(), 1);
    // The surviving signer gave up 3 s after the victim's connection was gone (decision 0030),
    // not after the session's idle timeout.
    let failure = attempts[0]["failure"].as_str().unwrap();
    assert!(
        failure.contains(&format!("node {victim} has had no connection")),
        "{failure}"
    );
    assert!(attempts[1]["presignatures"].as_array().unwrap().is_empty());
    let last = done["attempts"].as_array().unwrap().last().unwrap();
    let signed_by: Vec<u64> = last["signers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_u64().unwrap())
        .collect();
    assert!(!signed_by.contains(&victim), "{done}");
    verify_independently(&ChainResult {
        chain: Chain::Ethereum,
        network: Network::Testnet,
        wallet_id: eth["wallet_id"].as_str().unwrap().into(),
        address: eth["address"].as_str().unwrap().into(),
        public_key: String::new(),
        unsigned_payload: hex::encode(&big),
        spent_outputs: vec![],
        request_id: rid,
        intent: Value::Null,
        signed_transaction: done["signed_transaction"].as_str().unwrap().into(),
        txid: done["chain"]["txid"].as_str().unwrap().into(),
        final_status: "signed".into(),
        chain_status: Value::Null,
    });

    governance_needs_two_admins(&net2);
}

/// The approver's CLI re-parses the payload with the wallet key it derives itself and recomputes
/// intent and digest: the real node's answer passes; a node that changes the intent, the
/// digest, the payload or the wallet is refused (`mpc request approve` calls this same check).
fn approver_software_refuses_a_lying_node(net: &Net, rid: &str) {
    use mpc_cli::verify::verify_request;
    let req: mpc_custody::Request =
        serde_json::from_value(state(net, rid)).expect("request parses");
    let wallet: mpc_custody::Wallet = serde_json::from_value(
        net.read("wallet_get", json!({ "wallet_id": req.wallet_id }))
            .unwrap(),
    )
    .unwrap();
    let vault: mpc_custody::Vault = serde_json::from_value(
        net.read("vault_get", json!({ "vault_id": wallet.vault_id }))
            .unwrap(),
    )
    .unwrap();
    let ok = verify_request(&net.cluster_id, &req, &wallet, &vault).unwrap();
    assert_eq!(ok.digest, req.intent_digest);
    let refused = |req: &mpc_custody::Request, wallet: &mpc_custody::Wallet, want: &str| {
        let e = verify_request(&net.cluster_id, req, wallet, &vault).unwrap_err();
        assert!(e.to_string().contains(want), "wanted '{want}': {e}");
    };
    // A node showing a smaller amount than the bytes move.
    let mut lie = req.clone();
    lie.intent.amount.0 /= 10;
    refused(&lie, &wallet, "intent differs");
    // A node handing out another digest to collect approvals for something else.
    let mut lie = req.clone();
    lie.intent_digest = "00".repeat(32);
    refused(&lie, &wallet, "digest");
    // A node swapping the payload (another destination) under the same intent.
    let mut lie = req.clone();
    let to = bs58::encode([0x55u8; 32]).into_string();
    lie.payload = hex::encode(
        mpc_cli::txbuild::sol_transfer(
            &wallet.address,
            &to,
            1,
            &bs58::encode([9u8; 32]).into_string(),
        )
        .unwrap(),
    );
    refused(&lie, &wallet, "intent differs");
    // A node claiming another wallet address than the vault key gives.
    let mut w = wallet.clone();
    w.address = to;
    refused(&req, &w, "derived here");
    // The digest is bound to the network: another cluster id gives another digest.
    assert!(verify_request("another-network", &req, &wallet, &vault).is_err());
}

/// With a second admin, a policy change by one admin is only a proposal until the other admin
/// approves the change hash it computed itself; nothing changes before.
fn governance_needs_two_admins(net: &Net) {
    use mpc_custody::governance::change_hash;
    use mpc_custody::types::{ProposalId, Role, UserKey};
    let dora = ed25519_dalek::SigningKey::generate(&mut rand::rngs::OsRng);
    let org = OrgId(ORG.into());
    // One admin: adding the second takes effect at once.
    let out = net
        .write(
            &net.admin,
            "member_add",
            Action::MemberAdd {
                org_id: org.clone(),
                user_id: UserId("dora".into()),
                public_key: UserKey(dora.verifying_key().to_bytes()),
                roles: vec![Role::Admin],
            },
        )
        .unwrap();
    assert_eq!(out["result"]["type"], "member_added", "{out}");
    let before = net
        .read("policy_get", json!({ "vault_id": VAULT }))
        .unwrap();
    let mut rules: mpc_custody::PolicyRules =
        serde_json::from_value(before["rules"].clone()).unwrap();
    rules.threshold = 1;
    rules.approvers.retain(|a| a != "carol"); // removed above
    let change = Action::PolicySet {
        org_id: org.clone(),
        vault_id: VAULT.into(),
        rules,
    };
    let out = net.write(&net.admin, "policy_set", change.clone()).unwrap();
    assert_eq!(out["result"]["type"], "proposal", "{out}");
    let pid = out["result"]["proposal"]["proposal_id"]
        .as_str()
        .unwrap()
        .to_string();
    let now = net
        .read("policy_get", json!({ "vault_id": VAULT }))
        .unwrap();
    assert_eq!(
        now["version"], before["version"],
        "one admin changed the policy"
    );
    let open = net.read("proposal_list", json!({ "org_id": ORG })).unwrap();
    assert_eq!(open["proposals"][0]["proposal_id"], pid.as_str(), "{open}");
    let approve = |key: &ed25519_dalek::SigningKey, hash: String| {
        net.write(
            key,
            "proposal_approve",
            Action::ProposalApprove {
                org_id: org.clone(),
                proposal_id: ProposalId(pid.clone()),
                change_hash: hash,
            },
        )
    };
    let cluster = net.cluster_id.clone();
    rejected_with(
        approve(&net.admin, change_hash(&cluster, &change)),
        "already approved",
    );
    let out = approve(&dora, change_hash(&cluster, &change)).unwrap();
    assert_eq!(out["result"]["type"], "proposal_executed", "{out}");
    let after = net
        .read("policy_get", json!({ "vault_id": VAULT }))
        .unwrap();
    assert_eq!(after["rules"]["threshold"], 1, "{after}");
    assert_eq!(
        after["adoption"]["commands"].as_array().unwrap().len(),
        2,
        "{after}"
    );
}
