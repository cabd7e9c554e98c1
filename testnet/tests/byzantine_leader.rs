//! A compromised *leader* (issue 9, 7c and 7e), with real processes.
//!
//! Node 1 runs `mpc-node-forger` with the `lead` attack: it keeps calling elections until it is
//! the Raft leader, so every write the honest nodes forward is committed (or not) by it.
//! - `fake-write-outcome`: the leader acknowledges a forwarded `member_remove` it never
//!   proposes. The honest node that the client talks to answers with what *it* applied at that
//!   index, so the client gets an error, not a false success, and the member is still there.
//! - `swap-batch-item`: the leader batches forwarded request submissions into shared entries
//!   and answers each with its *neighbour's* place in the entry. The honest node the client
//!   talks to finds another command there, so the client gets an error (and, retrying with the
//!   same idempotency key, its own outcome), never another client's.
//! - a clock one day behind: every entry it stamps is a day old (apply keeps time monotonic, so
//!   log time freezes there). An approved request's spend reservation is then a day away from
//!   the honest signers' clocks: they refuse to sign, and no signature exists.
//! - a clock one day ahead: honest followers refuse entries stamped more than 5 min in the
//!   future, so nothing the leader stamps commits; starved of AppendEntries they elect an
//!   honest leader and carry on at real time (no spend window was moved a day forward).

#![allow(clippy::unwrap_used)] // tests fail loudly on purpose

use mpc_custody::command::Action;
use mpc_custody::types::{OrgId, Role, UserId, UserKey};
use mpc_protocol::chain::Chain;
use mpc_testnet::demo::{self, Net, Users};
use mpc_testnet::{binary, wait_until, Cluster, FORGER};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

const DAY_MS: i64 = 24 * 3600 * 1000;

fn forger_cluster(port_base: u16, env: Vec<(&str, String)>) -> Cluster {
    let forger = binary(FORGER).unwrap();
    let env = env.into_iter().map(|(k, v)| (k.to_string(), v)).collect();
    let mut c = Cluster::start_with_env(
        3,
        port_base,
        BTreeMap::from([(1, forger)]),
        BTreeMap::from([(1, env)]),
    )
    .unwrap();
    // The forger takes the lead before any write.
    wait_until(Duration::from_secs(60), || {
        (1..=3).all(|i| c.status(i).is_ok_and(|s| s["leader"] == 1))
    })
    .unwrap_or_else(|e| panic!("the forger did not become leader: {e}\n{}", c.log_of(1)));
    let _ = c.wait_for_leader(None, Duration::from_secs(5));
    c
}

fn forged_records(c: &Cluster) -> Vec<Value> {
    c.forge_records(1)
}

fn members(net: &Net, org: &str) -> Vec<String> {
    let r = net.read("member_list", json!({ "org_id": org })).unwrap();
    r["members"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["user_id"].as_str().unwrap().to_string())
        .collect()
}

/// Creates organisation `acme` with member `user` (key from `seed`) in `role`.
fn acme_with(net: &Net, user: &str, seed: u8, role: Role) -> (OrgId, ed25519_dalek::SigningKey) {
    let org = OrgId("acme".into());
    net.write(
        &net.admin,
        "org_create",
        Action::OrgCreate {
            org_id: org.clone(),
            name: "Acme".into(),
            admin_user_id: UserId("admin".into()),
            admin_public_key: None,
        },
    )
    .unwrap();
    let key = ed25519_dalek::SigningKey::from_bytes(&[seed; 32]);
    net.write(
        &net.admin,
        "member_add",
        Action::MemberAdd {
            org_id: org.clone(),
            user_id: UserId(user.into()),
            public_key: UserKey(key.verifying_key().to_bytes()),
            roles: vec![role],
        },
    )
    .unwrap();
    (org, key)
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

#[test]
fn a_leader_cannot_fake_the_outcome_of_a_forwarded_write() {
    let c = forger_cluster(
        22_600,
        vec![("MPC_FORGE_ATTACKS", "lead,fake-write-outcome".into())],
    );
    let urls: Vec<mpc_testnet::Endpoint> = c.nodes.iter().map(|n| n.endpoint.clone()).collect();
    let net = Net::new(&urls[1..2], &c.cluster_id, c.admin.clone());
    let (org, _carol) = acme_with(&net, "carol", 7, Role::Approver);
    assert!(members(&net, "acme").contains(&"carol".to_string()));

    // The leader acknowledges the removal without committing it: node 2 must not pass that on.
    let removed = net.write(
        &net.admin,
        "member_remove",
        Action::MemberRemove {
            org_id: org.clone(),
            user_id: UserId("carol".into()),
        },
    );
    assert!(
        forged_records(&c)
            .iter()
            .any(|r| r["attack"] == "fake-write-outcome"),
        "the leader did not fake an outcome:\n{}",
        c.log_of(1)
    );
    let err = removed.expect_err("the client was told a removal that never happened succeeded");
    eprintln!("--> client saw: {err}");
    assert!(
        err.to_string().contains("may not be committed")
            || err.to_string().contains("not committed"),
        "{err}"
    );
    for url in &urls[1..] {
        let one = Net::new(std::slice::from_ref(url), &c.cluster_id, c.admin.clone());
        assert!(
            members(&one, "acme").contains(&"carol".to_string()),
            "{url}"
        );
    }
}

/// Concurrent request submissions forwarded by node 2 share entries at the forger (group
/// commit); it answers each batched one with the previous item's place. Each submission names its
/// own (non-existent) wallet, so every outcome is distinguishable: a client must hear its own
/// refusal or "may not be committed", never another submission's.
#[test]
fn a_leader_cannot_hand_a_client_another_command_s_outcome_from_a_batch() {
    const CLIENTS: usize = 24;
    let c = forger_cluster(
        22_500,
        vec![("MPC_FORGE_ATTACKS", "lead,swap-batch-item".into())],
    );
    let urls: Vec<mpc_testnet::Endpoint> = c.nodes.iter().map(|n| n.endpoint.clone()).collect();
    let net = Net::new(&urls[1..2], &c.cluster_id, c.admin.clone());
    let (org, ivan) = acme_with(&net, "ivan", 9, Role::Initiator);

    let submit = |i: usize, idem: &str| -> Result<Value, String> {
        let cmd = mpc_cli::sign::sign_action(
            &ivan,
            &c.cluster_id,
            idem,
            Action::RequestSubmit {
                org_id: org.clone(),
                wallet_id: format!("w-{i}").as_str().into(),
                payload: "00".into(),
                extras: Default::default(),
            },
        )
        .unwrap();
        mpc_cli::client::RpcClient::new(&urls[1], Duration::from_secs(30))
            .call("request_submit", json!({ "command": cmd }))
            .map_err(|e| e.to_string())
    };
    let own = |i: usize| format!("no wallet 'w-{i}' in 'acme'");
    let someone_elses =
        |i: usize, text: &str| (0..CLIENTS).any(|j| j != i && text.contains(&format!("'w-{j}'")));
    let mut detected = 0;
    // A few rounds: batches form when submissions arrive while two proposals wait.
    for round in 0..5 {
        let answers: Vec<(usize, String, Result<Value, String>)> = std::thread::scope(|s| {
            let handles: Vec<_> = (0..CLIENTS)
                .map(|i| {
                    s.spawn(move || {
                        let idem = format!("swap-{round}-{i}");
                        (i, idem.clone(), submit(i, &idem))
                    })
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        for (i, idem, answer) in answers {
            let text = match &answer {
                Ok(v) => v.to_string(),
                Err(e) => e.clone(),
            };
            assert!(
                !someone_elses(i, &text),
                "client {i} was handed another submission's outcome: {text}"
            );
            if text.contains(&own(i)) {
                continue;
            }
            assert!(text.contains("may not be committed"), "client {i}: {text}");
            detected += 1;
            // The write did commit: the same command again (same idempotency key) is a replay
            // answered from the node's own record of it.
            let again = submit(i, &idem).unwrap_err();
            assert!(again.contains(&own(i)), "client {i} retrying: {again}");
        }
        let swaps = forged_records(&c)
            .iter()
            .filter(|r| r["attack"] == "swap-batch-item")
            .count();
        eprintln!("--> round {round}: {swaps} answers swapped so far, {detected} caught");
        if swaps > 0 && detected > 0 {
            break;
        }
    }
    assert!(
        detected > 0,
        "no batched answer was swapped (no batch formed?):\n{}",
        c.log_of(1)
    );
}

#[test]
fn a_leader_with_a_clock_a_day_behind_gets_no_signature() {
    let c = forger_cluster(
        22_700,
        vec![
            ("MPC_FORGE_ATTACKS", "lead".into()),
            ("MPC_FORGE_CLOCK_OFFSET_MS", (-DAY_MS).to_string()),
        ],
    );
    let urls: Vec<mpc_testnet::Endpoint> = c.nodes.iter().map(|n| n.endpoint.clone()).collect();
    let net = Net::new(&urls[1..], &c.cluster_id, c.admin.clone());
    let users = Users::random();
    let say = |s: &str| eprintln!("--> {s}");
    let wallets = demo::setup(&net, &users, "acme", "treasury", &say).unwrap();
    let w = &wallets.iter().find(|(c, _)| *c == Chain::Solana).unwrap().1;
    let (payload, extras) = demo::transfer_for(Chain::Solana, w, 1_000).unwrap();
    let req = demo::submit(
        &net,
        &users,
        "acme",
        w["wallet_id"].as_str().unwrap(),
        &payload,
        &extras,
    )
    .unwrap();
    let id = req["request_id"].as_str().unwrap().to_string();
    demo::approve(&net, &users.alice, "acme", &req).unwrap();
    demo::approve(&net, &users.bob, "acme", &req).unwrap();

    // The log's time is a day old: the honest signers refuse, and say why.
    let mut last = Value::Null;
    wait_until(Duration::from_secs(90), || {
        last = net
            .read("request_get", json!({ "request_id": id }))
            .unwrap();
        last["attempts"].as_array().unwrap().iter().any(|a| {
            a["failure"]
                .as_str()
                .or_else(|| a["failure"]["reason"].as_str())
                .is_some_and(|f| f.contains("clock"))
        })
    })
    .unwrap_or_else(|e| panic!("no signer refused on its clock: {e}\n{last}"));
    let reserved = last["reserved_at_ms"].as_i64().unwrap_or_default();
    eprintln!("--> reserved at {reserved}, real time {}", now_ms());
    assert!(now_ms() - reserved > DAY_MS - 60_000, "{last}");
    std::thread::sleep(Duration::from_secs(5));
    for url in &urls[1..] {
        let one = Net::new(std::slice::from_ref(url), &c.cluster_id, c.admin.clone());
        let r = one
            .read("request_get", json!({ "request_id": id }))
            .unwrap();
        assert_ne!(r["status"]["state"], "signed", "{r}");
        assert!(r["signatures"].as_array().unwrap().is_empty(), "{r}");
        assert!(r["signed_transaction"].is_null(), "{r}");
    }
}

#[test]
fn a_leader_with_a_clock_a_day_ahead_commits_nothing_it_stamps() {
    let c = forger_cluster(
        22_800,
        vec![
            ("MPC_FORGE_ATTACKS", "lead".into()),
            ("MPC_FORGE_CLOCK_OFFSET_MS", DAY_MS.to_string()),
        ],
    );
    let urls: Vec<mpc_testnet::Endpoint> = c.nodes.iter().map(|n| n.endpoint.clone()).collect();
    let net = Net::new(&urls[1..], &c.cluster_id, c.admin.clone());
    let create = |org: &str| {
        net.write(
            &net.admin,
            "org_create",
            Action::OrgCreate {
                org_id: OrgId(org.into()),
                name: "Acme".into(),
                admin_user_id: UserId("admin".into()),
                admin_public_key: None,
            },
        )
    };
    // The forger stamps the write a day ahead; both followers refuse the entry, so it cannot
    // commit. Starved of AppendEntries they elect an honest leader, which commits the client's
    // retry at real time; the forger, whose log is now behind, cannot lead again.
    let first = create("first");
    eprintln!("--> first write: {first:?}");
    wait_until(Duration::from_secs(60), || create("later").is_ok())
        .unwrap_or_else(|e| panic!("no honest leader took over: {e}\n{}", c.log_of(2)));
    // Nothing committed carries the leader's day-ahead time: spend windows never moved.
    let all_at_real_time = || {
        for url in &urls[1..] {
            let one = Net::new(std::slice::from_ref(url), &c.cluster_id, c.admin.clone());
            let audit = one.read("audit_list", json!({ "limit": 1000 })).unwrap();
            let entries = audit["entries"].as_array().unwrap();
            assert!(entries.len() >= 2, "{audit}");
            for e in entries {
                let t = e["timestamp_ms"].as_i64().unwrap();
                assert!(
                    (t - now_ms()).abs() < 10 * 60_000,
                    "audit entry at {t}: {e}"
                );
            }
        }
    };
    all_at_real_time();
    let refused: u64 = (2..=3)
        .map(|i| {
            c.status(i).unwrap()["refused_raft_rpcs"]["append_entries"]
                .as_u64()
                .unwrap()
        })
        .sum();
    assert!(refused >= 1, "no follower refused the leader's entries");
    assert!(
        c.log_of(2).contains("ahead of this node's clock")
            || c.log_of(3).contains("ahead of this node's clock")
    );
    // Once it has caught up from the honest leader, the skewed node may win a later election
    // (under load, heartbeats run late); whatever it stamps is refused again, so the honest
    // nodes keep committing, and only at real time.
    // (A write whose answer was lost but which committed makes the retry "already exists".)
    wait_until(Duration::from_secs(60), || {
        create("after").map_or_else(|e| e.to_string().contains("already exists"), |_| true)
    })
    .unwrap_or_else(|e| panic!("the honest nodes stopped committing: {e}\n{}", c.log_of(2)));
    all_at_real_time();
}
