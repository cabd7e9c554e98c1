//! `rpc.discover` (issue 16): a running node serves an OpenRPC document that is exactly the one
//! checked in as `docs/openrpc.json`, valid against the OpenRPC meta-schema, listing every method
//! the node answers — and no method it does not.
//!
//! After changing a method: `MPC_WRITE_OPENRPC=1 cargo test -p mpc-testnet --test openrpc`
//! rewrites `docs/openrpc.json` (then review the diff).
#![allow(clippy::unwrap_used)] // tests fail loudly on purpose

use mpc_cli::client::{CallError, Reader, RpcClient};
use mpc_testnet::Cluster;
use serde_json::{json, Value};
use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

#[test]
fn rpc_discover_serves_the_checked_in_valid_openrpc_document() {
    let c = Cluster::start(2, 23_800).unwrap();
    let client = RpcClient::new(&c.nodes[0].endpoint, Duration::from_secs(10));
    let served = client.call("rpc.discover", json!({})).unwrap();
    let path = root().join("docs/openrpc.json");
    if std::env::var_os("MPC_WRITE_OPENRPC").is_some() {
        let text = serde_json::to_string_pretty(&served).unwrap() + "\n";
        std::fs::write(&path, text).unwrap();
    }
    let checked_in: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    assert!(
        served == checked_in,
        "docs/openrpc.json differs from what the node serves: regenerate it with \
         MPC_WRITE_OPENRPC=1 cargo test -p mpc-testnet --test openrpc"
    );

    // Every listed method is answered (not "method not found"); a signed write with no command
    // is refused as invalid params, like every bad-params call.
    let methods = served["methods"].as_array().unwrap();
    assert!(methods.len() > 40, "{} methods", methods.len());
    let writes = ["org_create", "request_submit", "passkey_register"];
    for m in methods {
        let name = m["name"].as_str().unwrap();
        if name.contains("subscribe") {
            continue; // WebSocket only
        }
        match client.call(name, json!({})) {
            Err(CallError::Rpc { code: -32601, .. }) => panic!("{name} is listed, not served"),
            Err(CallError::Rpc { code, message, .. }) if writes.contains(&name) => {
                assert_eq!(code, -32602, "{name}: {message}")
            }
            _ => {}
        }
    }
    // Every authenticated read refuses an unknown param with -32602 (after checking the
    // reader's signature, which covers the params).
    let reader = RpcClient::new(&c.nodes[0].endpoint, Duration::from_secs(10))
        .with_reader(Reader::new(c.admin.clone(), &c.cluster_id));
    for m in methods {
        let name = m["name"].as_str().unwrap();
        let authenticated = m["params"]
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p["name"] == "auth");
        if !authenticated || name.contains("subscribe") {
            continue;
        }
        match reader.call(name, json!({ "no_such_param": 1 })) {
            Err(CallError::Rpc { code, message, .. }) => {
                assert_eq!(code, -32602, "{name}: {message}")
            }
            other => panic!("{name} took an unknown param: {other:?}"),
        }
    }
    // A method the node does not serve is not listed.
    match client.call("vault_delete", json!({})) {
        Err(CallError::Rpc { code: -32601, .. }) => {}
        other => panic!("vault_delete answered: {other:?}"),
    }
    assert!(!methods.iter().any(|m| m["name"] == "vault_delete"));

    // The meta-schema: node + ajv (pinned in testnet/openrpc/package-lock.json).
    let dir = root().join("testnet/openrpc");
    if !dir.join("node_modules/ajv/package.json").exists() {
        let ok = Command::new("npm")
            .args(["ci", "--no-audit", "--no-fund", "--loglevel=error"])
            .current_dir(&dir)
            .status()
            .unwrap();
        assert!(ok.success(), "npm ci in testnet/openrpc failed");
    }
    let out = Command::new("node")
        .arg("validate.mjs")
        .arg(&path)
        .current_dir(&dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "docs/openrpc.json is not valid OpenRPC:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    eprintln!("--> {}", String::from_utf8_lossy(&out.stdout).trim());
}
