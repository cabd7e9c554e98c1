//! `mpc vault …` and `mpc wallet …`: creating vaults (following their DKG), refreshing their
//! shares, and deriving wallets.

use crate::args::{Args, VaultCmd, WalletCmd};
use crate::{chain_arg, governance, network_arg, org_of, progress, signed};
use mpc_cli::client::RpcClient;
use mpc_custody::command::Action;
use serde_json::{json, Value};
use std::time::Duration;

/// Runs a vault command.
pub(crate) fn run_vault(args: &Args, client: &RpcClient, cmd: &VaultCmd) -> anyhow::Result<Value> {
    Ok(match cmd {
        VaultCmd::Create {
            signer,
            vault,
            name,
            wait,
        } => {
            let out = signed(
                args,
                client,
                "vault_create",
                signer,
                Action::VaultCreate {
                    org_id: org_of(signer),
                    vault_id: vault.as_str().into(),
                    name: name.clone(),
                },
            )?;
            if *wait && !governance::is_proposal(&out) {
                let mut progress = progress::Progress::start();
                loop {
                    let v = client.call("vault_get", json!({ "vault_id": vault }))?;
                    let st = v["status"]["state"].as_str().unwrap_or("").to_string();
                    if st != "pending" {
                        progress.finish(&format!("vault {vault} is {st}"));
                        break v;
                    }
                    if progress.secs() > 180 {
                        anyhow::bail!(
                            "vault still pending after 180 s ({}); see `mpc cluster` for a node \
                             that is down, and its log",
                            progress::dkg_status(&v)
                        );
                    }
                    progress.update(&progress::dkg_status(&v));
                    std::thread::sleep(Duration::from_millis(500));
                }
            } else {
                out
            }
        }
        VaultCmd::Refresh {
            signer,
            vault,
            reason,
            wait,
        } => {
            let before = client.call("vault_get", json!({ "vault_id": vault }))?;
            let out = signed(
                args,
                client,
                "vault_refresh",
                signer,
                Action::VaultRefresh {
                    org_id: org_of(signer),
                    vault_id: vault.as_str().into(),
                    reason: reason.clone(),
                },
            )?;
            if *wait && !governance::is_proposal(&out) {
                wait_for_refresh(client, vault, &before)?
            } else {
                out
            }
        }
        VaultCmd::Get { vault } => client.call("vault_get", json!({ "vault_id": vault }))?,
        VaultCmd::List { org } => {
            client.call_all_pages("vault_list", json!({ "org_id": org }), "vaults")?
        }
    })
}

/// Runs a wallet command; `None` when it printed its own output (`balance` for a person).
pub(crate) fn run_wallet(
    args: &Args,
    client: &RpcClient,
    cmd: &WalletCmd,
) -> anyhow::Result<Option<Value>> {
    Ok(Some(match cmd {
        WalletCmd::Create {
            signer,
            vault,
            chain,
            network,
            index,
            chain_id,
        } => signed(
            args,
            client,
            "wallet_create",
            signer,
            Action::WalletCreate {
                org_id: org_of(signer),
                vault_id: vault.as_str().into(),
                chain: chain_arg(chain)?,
                network: network_arg(network)?,
                index: *index,
                chain_id: *chain_id,
            },
        )?,
        WalletCmd::Get { wallet } => client.call("wallet_get", json!({ "wallet_id": wallet }))?,
        WalletCmd::List { vault } => {
            client.call_all_pages("wallet_list", json!({ "vault_id": vault }), "wallets")?
        }
        WalletCmd::Balance { wallet, asset } => {
            let b = client.call(
                "wallet_balance",
                json!({ "wallet_id": wallet, "asset": asset }),
            )?;
            if !args.json {
                println!(
                    "{}: {} (provider: {})",
                    b["address"].as_str().unwrap_or("?"),
                    b["display"].as_str().unwrap_or("?"),
                    b["provider"].as_str().unwrap_or("?")
                );
                return Ok(None);
            }
            b
        }
    }))
}

/// Waits until the vault's refresh started after `before` is done or failed; an error if it
/// failed (with the reason and the nodes blamed) or takes longer than three minutes.
fn wait_for_refresh(client: &RpcClient, vault: &str, before: &Value) -> anyhow::Result<Value> {
    let started_after = before["last_refresh"]["started_log_index"].as_u64();
    let mut progress = progress::Progress::start();
    loop {
        let v = client.call("vault_get", json!({ "vault_id": vault }))?;
        let last = &v["last_refresh"];
        if v["refresh"].is_null() && last["started_log_index"].as_u64() != started_after {
            match last["status"]["state"].as_str() {
                Some("done") => {
                    progress.finish(&format!(
                        "refreshed: epoch {}, addresses unchanged",
                        v["epoch"]
                    ));
                    return Ok(v);
                }
                _ => anyhow::bail!(
                    "the refresh failed: {} (blamed nodes: {}); the old shares stay in force",
                    last["status"]["reason"].as_str().unwrap_or("no reason"),
                    last["status"]["culprits"]
                ),
            }
        }
        if progress.secs() > 180 {
            anyhow::bail!(
                "the refresh is still running after 180 s; see `mpc cluster` for a node that is \
                 down, and `mpc vault get --vault {vault}` for its reports"
            );
        }
        progress.update("refresh running on every node");
        std::thread::sleep(Duration::from_millis(1000));
    }
}
