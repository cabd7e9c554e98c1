//! Passkey approvals in a real browser (issue 13): three real nodes, each serving the web
//! console; Debian's chromium driven by playwright-core (`testnet/browser/console.mjs`) with the
//! DevTools virtual authenticator (user verification on).
//!
//! The admin sets the organisation's relying party (RP id `localhost`, the consoles of nodes 1
//! and 2 as allowed origins — node 3's console is deliberately not) and invites two approvers;
//! each registers a passkey in the browser through their invitation link, signs in, reviews the
//! request (parsed by the console from its bytes) and approves it with the passkey; the request
//! is signed. Then four assertions are each refused by the nodes (their JSON-RPC answers): one
//! made for another request's challenge, one without user verification, one from an origin not
//! allowed, one by a revoked passkey; the revoked passkey no longer signs in; the other request
//! is rejected in the console with a passkey and a reason. Screenshots of the main screens land in
//! `target/console-screenshots` (CI artefacts).
#![allow(clippy::unwrap_used)] // tests fail loudly on purpose
use mpc_custody::command::Action;
use mpc_custody::passkey::{decision_challenge, Decision};
use mpc_custody::types::{OrgId, UserId, UserKey};
use mpc_custody::webauthn::b64url;
use mpc_protocol::chain::Chain;
use mpc_testnet::demo::{self, Net, Users};
use mpc_testnet::Cluster;
use serde_json::{json, Value};
use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

const ORG: &str = "console";
const VAULT: &str = "console-vault";
const CONSOLE_PORTS: [u16; 3] = [21_781, 21_782, 21_783];
/// The browser script's own bound (each of its steps has 30 s).
const BROWSER_TIMEOUT: Duration = Duration::from_secs(300);

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

/// Installs chromium and playwright-core if needed; the chromium path.
fn ensure_browser() -> String {
    let out = Command::new("bash")
        .arg(root().join("testnet/ensure-browser.sh"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "testnet/ensure-browser.sh failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .last()
        .unwrap()
        .trim()
        .to_string()
}

/// Invites `user` to register a passkey; the invitation link for node `node`'s console.
fn invite(net: &Net, user: &str, node: usize) -> String {
    let secret = ed25519_dalek::SigningKey::generate(&mut rand::rngs::OsRng);
    net.write(
        &net.admin,
        "passkey_invite",
        Action::PasskeyInvite {
            org_id: OrgId(ORG.into()),
            user_id: UserId(user.into()),
            invite_key: UserKey(secret.verifying_key().to_bytes()),
            ttl_secs: 3600,
        },
    )
    .unwrap();
    format!(
        "http://localhost:{}/#/invite?org={ORG}&user={user}&key={}",
        CONSOLE_PORTS[node],
        hex::encode(secret.to_bytes())
    )
}

fn approval_challenge(net: &Net, r: &Value) -> String {
    b64url(&decision_challenge(
        &net.cluster_id,
        &OrgId(ORG.into()),
        r["request_id"].as_str().unwrap(),
        r["intent_digest"].as_str().unwrap(),
        u32::try_from(r["policy"]["version"].as_u64().unwrap()).unwrap(),
        Decision::Approve,
        "",
    ))
}

#[test]
fn passkeys_approve_in_a_real_browser_and_the_nodes_refuse_bad_assertions() {
    let chromium = ensure_browser();
    let env = (1..=3u64)
        .map(|i| {
            let port = CONSOLE_PORTS[(i - 1) as usize];
            (
                i,
                vec![(
                    "MPC_CONSOLE_LISTEN".to_string(),
                    format!("127.0.0.1:{port}"),
                )],
            )
        })
        .collect();
    let c = Cluster::start_with_env(3, 21_700, Default::default(), env).unwrap();
    let endpoints: Vec<mpc_testnet::Endpoint> =
        c.nodes.iter().map(|n| n.endpoint.clone()).collect();
    let net = Net::new(&endpoints, &c.cluster_id, c.admin.clone());
    let users = Users::random();
    let say = |s: &str| eprintln!("--> {s}");
    let wallets = demo::setup(&net, &users, ORG, VAULT, &say).unwrap();
    let sol = wallets
        .iter()
        .find(|(ch, _)| *ch == Chain::Solana)
        .unwrap()
        .1
        .clone();

    // The relying party: node 1's and node 2's consoles; node 3's is not allowed.
    let origins: Vec<String> = CONSOLE_PORTS[..2]
        .iter()
        .map(|p| format!("http://localhost:{p}"))
        .collect();
    net.write(
        &net.admin,
        "webauthn_set",
        Action::WebauthnSet {
            org_id: OrgId(ORG.into()),
            rp_id: "localhost".into(),
            origins,
        },
    )
    .unwrap();
    let alice_link = invite(&net, "alice", 0);
    let bob_link = invite(&net, "bob", 1);

    // Two requests: A is approved in the browser; B collects only refused assertions.
    let (payload, extras) = demo::transfer_for(Chain::Solana, &sol, 1_500_000).unwrap();
    let sol_id = sol["wallet_id"].as_str().unwrap();
    let a = demo::submit(&net, &users, ORG, sol_id, &payload, &extras).unwrap();
    let (payload_b, extras_b) = demo::transfer_for(Chain::Solana, &sol, 2_500_000).unwrap();
    let b = demo::submit(&net, &users, ORG, sol_id, &payload_b, &extras_b).unwrap();
    let (id_a, id_b) = (
        a["request_id"].as_str().unwrap(),
        b["request_id"].as_str().unwrap(),
    );
    assert_eq!(a["status"]["state"], "pending", "{a}");

    let shots = root().join("target/console-screenshots");
    let cfg = json!({
        "chromium": chromium,
        "consoles": CONSOLE_PORTS.iter().map(|p| format!("http://localhost:{p}")).collect::<Vec<_>>(),
        "org": ORG,
        "cluster": net.cluster_id,
        "admin_seed": hex::encode(net.admin.to_bytes()),
        "invites": { "alice": alice_link, "bob": bob_link },
        "request_a": id_a,
        "request_b": id_b,
        "challenge_a": approval_challenge(&net, &a),
        "challenge_b": approval_challenge(&net, &b),
        "screenshots": shots,
    });
    let cfg_path = c.dir.path().join("browser.json");
    std::fs::write(&cfg_path, cfg.to_string()).unwrap();
    let mut child = Command::new("node")
        .arg(root().join("testnet/browser/console.mjs"))
        .arg(&cfg_path)
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Bounded: the script is stopped by PID if it overruns.
    let t0 = std::time::Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if t0.elapsed() > BROWSER_TIMEOUT {
            let _ = child.kill();
            panic!("the browser script ran over {BROWSER_TIMEOUT:?}");
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    let mut out = String::new();
    std::io::Read::read_to_string(child.stdout.as_mut().unwrap(), &mut out).unwrap();
    assert!(status.success(), "browser script failed: {out}");
    let results: Value = serde_json::from_str(out.lines().last().unwrap()).unwrap();
    eprintln!("--> browser results: {results}");

    // Checked here too, through JSON-RPC: A was signed by the passkey approvals alone...
    let signed = net.wait_request(id_a, Duration::from_secs(60)).unwrap();
    assert_eq!(signed["status"]["state"], "signed", "{signed}");
    let approvals = signed["approvals"].as_object().unwrap();
    assert_eq!(approvals.len(), 2, "{signed}");
    for who in ["alice", "bob"] {
        assert!(
            approvals[who]["authenticator_data"].is_string(),
            "{who}'s approval is a passkey assertion: {signed}"
        );
    }
    // ...and each bad assertion was refused with its reason, B untouched.
    for (case, want) in [
        ("another_requests_challenge", "another challenge"),
        ("user_verification_false", "user-verified"),
        ("wrong_origin", "origin"),
        ("revoked_credential", "revoked"),
    ] {
        let msg = results[case].as_str().unwrap_or_default();
        assert!(msg.contains(want), "{case}: {msg}");
    }
    // B collected no approval from the refused assertions, and Alice's rejection in the console
    // (a passkey assertion over the rejection's challenge, with her reason) rejected it.
    let b_now = net
        .read("request_get", json!({ "request_id": id_b }))
        .unwrap();
    assert!(
        b_now["approvals"].as_object().unwrap().is_empty(),
        "{b_now}"
    );
    assert_eq!(b_now["status"]["state"], "rejected", "{b_now}");
    let reason = b_now["status"]["reason"].as_str().unwrap();
    assert!(
        reason.contains("alice") && reason.contains("not a payment we expect"),
        "{reason}"
    );
    assert_eq!(results["rejected_in_console"], true, "{results}");
    let signin = results["revoked_sign_in"].as_str().unwrap_or_default();
    assert!(signin.contains("revoked"), "{signin}");
    for s in [
        "console-sign-in.png",
        "console-dashboard.png",
        "console-review.png",
        "console-signed.png",
    ] {
        assert!(shots.join(s).exists(), "{s} was not saved");
    }
}
