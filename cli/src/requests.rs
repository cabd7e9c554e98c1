//! `mpc request …`: building, submitting, watching and deciding on signing requests. An
//! approver's decision is over the digest computed *here* from the transaction bytes
//! ([`show_and_confirm`]), never the node's word.

use crate::args::{Args, RequestCmd};
use crate::human::print_intent_summary;
use crate::{cluster_id, org_of, signed};
use anyhow::Context;
use mpc_cli::client::RpcClient;
use mpc_custody::command::Action;
use mpc_protocol::chain::SpentOutput;
use serde_json::{json, Value};
use std::time::Duration;

/// Runs a request command; `None` when it printed its own output (`watch`).
pub(crate) fn run(
    args: &Args,
    client: &RpcClient,
    cmd: &RequestCmd,
) -> anyhow::Result<Option<Value>> {
    Ok(Some(match cmd {
        RequestCmd::Build {
            wallet,
            to,
            amount,
            fee_level,
            asset,
            durable_nonce_account,
        } => {
            if !matches!(fee_level.as_str(), "slow" | "normal" | "fast") {
                anyhow::bail!("--fee-level must be slow, normal or fast");
            }
            client.call(
                "tx_build",
                json!({
                    "wallet_id": wallet,
                    "to": to,
                    "amount": amount,
                    "fee_level": fee_level,
                    "asset": asset,
                    "durable_nonce_account": durable_nonce_account,
                }),
            )?
        }
        RequestCmd::Submit {
            signer,
            wallet,
            payload,
            spent_outputs,
        } => {
            let spent: Vec<SpentOutput> = match spent_outputs {
                Some(f) => serde_json::from_str(&std::fs::read_to_string(f)?)
                    .context("spent outputs file")?,
                None => vec![],
            };
            signed(
                args,
                client,
                "request_submit",
                signer,
                Action::RequestSubmit {
                    org_id: org_of(signer),
                    wallet_id: wallet.as_str().into(),
                    payload: payload.trim_start_matches("0x").to_string(),
                    extras: mpc_protocol::chain::PayloadExtras {
                        spent_outputs: spent,
                    },
                },
            )?
        }
        RequestCmd::Get { request } => {
            client.call("request_get", json!({ "request_id": request }))?
        }
        RequestCmd::Watch {
            request,
            until_final,
        } => {
            let reader = client.reader().context("pass --key FILE")?;
            let mut watch = mpc_cli::watch::Watch::connect(
                client.endpoint(),
                reader,
                request.as_deref(),
                Duration::from_secs(30),
            )?;
            loop {
                let change = watch.next(None)?;
                println!("{change}");
                let chain_final = matches!(
                    change["chain"].as_str(),
                    Some("confirmed" | "failed" | "dropped")
                );
                let last = match change["status"].as_str() {
                    Some("signed") => !*until_final || chain_final,
                    Some("rejected" | "failed" | "expired" | "cancelled") => true,
                    _ => false,
                };
                if request.is_some() && last {
                    return Ok(None);
                }
            }
        }
        RequestCmd::List { org, status } => client.call_all_pages(
            "request_list",
            json!({ "org_id": org, "status": status }),
            "requests",
        )?,
        RequestCmd::Approve {
            signer,
            request,
            yes,
        } => {
            let digest = show_and_confirm(args, client, request, *yes, "Approve")?;
            signed(
                args,
                client,
                "request_approve",
                signer,
                Action::RequestApprove {
                    org_id: org_of(signer),
                    request_id: request.as_str().into(),
                    intent_digest: digest,
                },
            )?
        }
        RequestCmd::Reject {
            signer,
            request,
            reason,
        } => {
            let digest = show_and_confirm(args, client, request, true, "Reject")?;
            signed(
                args,
                client,
                "request_reject",
                signer,
                Action::RequestReject {
                    org_id: org_of(signer),
                    request_id: request.as_str().into(),
                    intent_digest: digest,
                    reason: reason.clone(),
                },
            )?
        }
        RequestCmd::Cancel {
            signer,
            request,
            reason,
        } => signed(
            args,
            client,
            "request_cancel",
            signer,
            Action::RequestCancel {
                org_id: org_of(signer),
                request_id: request.as_str().into(),
                reason: reason.clone(),
            },
        )?,
        RequestCmd::AdminApprove {
            signer,
            request,
            yes,
        } => {
            let digest = show_and_confirm(args, client, request, *yes, "Admin-approve")?;
            signed(
                args,
                client,
                "request_admin_approve",
                signer,
                Action::RequestAdminApprove {
                    org_id: org_of(signer),
                    request_id: request.as_str().into(),
                    intent_digest: digest,
                },
            )?
        }
        RequestCmd::Wait {
            request,
            timeout_secs,
        } => {
            let t0 = std::time::Instant::now();
            loop {
                let r = client.call("request_get", json!({ "request_id": request }))?;
                let st = r["status"]["state"].as_str().unwrap_or("").to_string();
                if matches!(st.as_str(), "signed" | "rejected" | "failed") {
                    break r;
                }
                if t0.elapsed() > Duration::from_secs(*timeout_secs) {
                    anyhow::bail!("request {request} still {st} after {timeout_secs} s");
                }
                std::thread::sleep(Duration::from_millis(200));
            }
        }
    }))
}

/// Fetches a request, re-parses its payload here and checks the node's intent and digest
/// against this parse (refusing on any difference), prints the intent in human units with the
/// address-book labels, and asks for confirmation. Returns the digest computed here.
fn show_and_confirm(
    args: &Args,
    client: &RpcClient,
    request: &str,
    yes: bool,
    what: &str,
) -> anyhow::Result<String> {
    let read = |method: &str, params: Value| -> anyhow::Result<Value> {
        let mut params = params;
        params["linearizable"] = json!(true);
        Ok(client.call(method, params)?)
    };
    let r: mpc_custody::Request =
        serde_json::from_value(read("request_get", json!({ "request_id": request }))?)
            .context("reading the request")?;
    let wallet: mpc_custody::Wallet =
        serde_json::from_value(read("wallet_get", json!({ "wallet_id": r.wallet_id }))?)
            .context("reading the wallet")?;
    let vault: mpc_custody::Vault =
        serde_json::from_value(read("vault_get", json!({ "vault_id": wallet.vault_id }))?)
            .context("reading the vault")?;
    let cluster = cluster_id(args, client)?;
    let checked = mpc_cli::verify::verify_request(&cluster, &r, &wallet, &vault)?;
    // Every page: a destination on a later page must not show as "NOT in the address book".
    let book = client.call_all_pages(
        "addressbook_list",
        json!({ "org_id": r.org_id, "linearizable": true }),
        "entries",
    )?;
    eprintln!("request {request} ({})", r.status.name());
    eprintln!("  parsed HERE from the transaction bytes (the node's intent and digest match):");
    print_intent_summary(&checked.intent, &book);
    eprintln!("  intent digest {}", checked.digest);
    if !yes {
        crate::confirm(&format!("{what} this request?"))?;
    }
    Ok(checked.digest)
}
