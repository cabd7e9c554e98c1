//! `mpc`: command-line client for mpc-node admins and approvers.

mod args;
mod governance;
mod human;
mod nodes;
mod progress;
mod requests;
mod vaults;

use anyhow::Context;
use args::{
    Args, AssetCmd, AuditCmd, BookCmd, Cmd, KeyCmd, MemberCmd, OrgCmd, PolicyCmd, Signer, TxCmd,
};
use clap::Parser;
use human::print_human;
use mpc_bootstrap::genesis::Genesis;
use mpc_bootstrap::passphrase::{self, KEY_PASSPHRASE_ENV};
use mpc_bootstrap::sealed::KdfParams;
use mpc_bootstrap::userkey::UserKeyFile;
use mpc_cli::client::{Reader, RpcClient};
use mpc_cli::sign::{random_idempotency_key, sign_action};
use mpc_cli::tls::Endpoint;
use mpc_custody::command::Action;
use mpc_custody::types::{OrgId, Role, UserId, UserKey};
use mpc_protocol::chain::{Chain, Network};
use serde_json::{json, Value};
use std::path::Path;
use std::time::Duration;

fn chain_arg(s: &str) -> anyhow::Result<Chain> {
    serde_json::from_value(json!(s)).map_err(|_| {
        anyhow::anyhow!("unknown chain '{s}' (ethereum, bitcoin_p2wpkh, bitcoin_p2tr, solana)")
    })
}

fn network_arg(s: &str) -> anyhow::Result<Network> {
    serde_json::from_value(json!(s))
        .map_err(|_| anyhow::anyhow!("unknown network '{s}' (mainnet, testnet)"))
}

fn signed(
    args: &Args,
    client: &RpcClient,
    method: &str,
    s: &Signer,
    action: Action,
) -> anyhow::Result<Value> {
    submit(args, client, method, &s.idempotency_key, action)
}

/// Asks `question` on the terminal; an error unless the answer is yes.
fn confirm(question: &str) -> anyhow::Result<()> {
    eprint!("{question} [y/N] ");
    let mut line = String::new();
    std::io::stdin().read_line(&mut line)?;
    if !matches!(line.trim(), "y" | "Y" | "yes") {
        anyhow::bail!("not confirmed");
    }
    Ok(())
}

fn org_of(s: &Signer) -> OrgId {
    OrgId(s.org.clone())
}

fn main() -> std::process::ExitCode {
    let args = Args::parse();
    match run(args) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

fn load_key(args: &Args, path: &Path) -> anyhow::Result<UserKeyFile> {
    let pass = passphrase::obtain(
        args.passphrase_file.as_deref(),
        KEY_PASSPHRASE_ENV,
        "Key passphrase: ",
        false,
    )?;
    Ok(UserKeyFile::load(path, pass.as_bytes())?)
}

pub(crate) fn cluster_id(args: &Args, client: &RpcClient) -> anyhow::Result<String> {
    if let Some(c) = &args.cluster_id {
        return Ok(c.clone());
    }
    // The genesis the operator gave names the network; a node is not asked.
    if let Some(g) = &args.genesis {
        return Ok(Genesis::load(g)?.hash());
    }
    let status = client.call("node_status", json!({}))?;
    status
        .get("cluster_id")
        .and_then(Value::as_str)
        .map(str::to_string)
        .ok_or_else(|| anyhow::anyhow!("node_status has no cluster_id"))
}

/// Signs `action` with the key the client was set up with (`--key`) and sends it.
pub(crate) fn submit(
    _args: &Args,
    client: &RpcClient,
    method: &str,
    idem: &Option<String>,
    action: Action,
) -> anyhow::Result<Value> {
    let reader = client
        .reader()
        .context("this command signs: pass --key FILE (or set MPC_KEY)")?;
    let idem = idem.clone().unwrap_or_else(random_idempotency_key);
    let cmd = sign_action(reader.signing_key(), reader.cluster_id(), &idem, action)
        .map_err(|e| anyhow::anyhow!(e))?;
    Ok(client.call(method, json!({ "command": cmd }))?)
}

/// Whether a command signs or reads custody data, and so needs `--key`.
fn uses_key(cmd: &Cmd) -> bool {
    !matches!(cmd, Cmd::Key(_) | Cmd::Status | Cmd::Cluster | Cmd::Tx(_))
}

/// Commands that need no node: key files and unsigned-transaction builders.
fn offline(args: &Args) -> anyhow::Result<Value> {
    Ok(match &args.command {
        Cmd::Key(KeyCmd::Create { out, name }) => {
            let pass = passphrase::obtain(
                args.passphrase_file.as_deref(),
                KEY_PASSPHRASE_ENV,
                "New key passphrase: ",
                true,
            )?;
            let k = UserKeyFile::create(out, name, pass.as_bytes(), KdfParams::default())?;
            json!({ "name": k.public.name, "public_key": k.public.public_key, "file": out })
        }
        Cmd::Key(KeyCmd::Show) => {
            let key = args.key.as_deref().context("pass --key FILE")?;
            serde_json::to_value(UserKeyFile::read_public(key)?)?
        }
        Cmd::Tx(TxCmd::Eth {
            chain_id,
            nonce,
            to,
            value_wei,
            max_fee_per_gas,
            max_priority_fee_per_gas,
        }) => {
            let b = mpc_cli::txbuild::eth_transfer(
                *chain_id,
                *nonce,
                to,
                *value_wei,
                *max_fee_per_gas,
                *max_priority_fee_per_gas,
            )?;
            json!({ "payload": hex::encode(b) })
        }
        Cmd::Tx(TxCmd::Btc {
            from,
            utxo,
            input_sats,
            to,
            amount_sats,
            fee_sats,
        }) => {
            let (b, spent) =
                mpc_cli::txbuild::btc_spend(from, utxo, *input_sats, to, *amount_sats, *fee_sats)?;
            json!({ "payload": hex::encode(b), "spent_outputs": [spent] })
        }
        Cmd::Tx(TxCmd::Sol {
            from,
            to,
            lamports,
            blockhash,
        }) => {
            let b = mpc_cli::txbuild::sol_transfer(from, to, *lamports, blockhash)?;
            json!({ "payload": hex::encode(b) })
        }
        _ => anyhow::bail!("this command needs a node"),
    })
}

/// The node's URL with its certificate pinned: from `--tls-sha256`, else from the genesis card
/// whose `rpc_addr` is the URL's host and port.
fn endpoint(args: &Args) -> anyhow::Result<Endpoint> {
    if let Some(h) = &args.tls_sha256 {
        return Endpoint::new(&args.rpc, h).map_err(anyhow::Error::msg);
    }
    let Some(g) = &args.genesis else {
        anyhow::bail!(
            "pin the node's TLS certificate: pass --genesis FILE (or set MPC_GENESIS), or \
             --tls-sha256 HEX (rpc_tls_sha256 of the node's card)"
        );
    };
    let genesis = Genesis::load(g).with_context(|| format!("reading {}", g.display()))?;
    Endpoint::from_genesis(&args.rpc, &genesis).map_err(anyhow::Error::msg)
}

fn run(args: Args) -> anyhow::Result<()> {
    if let Cmd::Completions { shell } = args.command {
        use clap::CommandFactory;
        clap_complete::generate(shell, &mut Args::command(), "mpc", &mut std::io::stdout());
        return Ok(());
    }
    if matches!(args.command, Cmd::Key(_) | Cmd::Tx(_)) {
        let out = offline(&args)?;
        return print_out(&args, &out);
    }
    let mut client = RpcClient::new(&endpoint(&args)?, Duration::from_secs(30));
    if uses_key(&args.command) {
        let path = args.key.as_deref().context(
            "this command signs or reads custody data as a member: pass --key FILE (or set MPC_KEY)",
        )?;
        let key = load_key(&args, path)?;
        let cluster = cluster_id(&args, &client)?;
        client = client.with_reader(Reader::new(key.signing_key.clone(), &cluster));
    }
    let out = match &args.command {
        Cmd::Status => client.call("node_status", json!({}))?,
        Cmd::Cluster => client.call("cluster_status", json!({}))?,
        Cmd::Node(args::NodeCmd::Replace {
            node_id,
            replacement,
            card,
            idempotency_key,
        }) => submit(
            &args,
            &client,
            "node_replace",
            idempotency_key,
            nodes::replace_action(*node_id, *replacement, card)?,
        )?,
        Cmd::Node(args::NodeCmd::Add {
            node_id,
            card,
            idempotency_key,
        }) => submit(
            &args,
            &client,
            "node_add",
            idempotency_key,
            nodes::add_action(*node_id, card)?,
        )?,
        Cmd::Node(args::NodeCmd::Remove {
            node_id,
            idempotency_key,
        }) => submit(
            &args,
            &client,
            "node_remove",
            idempotency_key,
            Action::NodeRemove { node_id: *node_id },
        )?,
        Cmd::Org(OrgCmd::Create {
            org,
            name,
            admin_user_id,
            admin_public_key,
            idempotency_key,
        }) => submit(
            &args,
            &client,
            "org_create",
            idempotency_key,
            Action::OrgCreate {
                org_id: OrgId(org.clone()),
                name: name.clone(),
                admin_user_id: UserId(admin_user_id.clone()),
                admin_public_key: admin_public_key
                    .as_deref()
                    .map(UserKey::from_hex)
                    .transpose()
                    .map_err(|e| anyhow::anyhow!(e))?,
            },
        )?,
        Cmd::Org(OrgCmd::Settings {
            signer,
            admin_quorum,
            timelock_secs,
            refresh_interval_hours,
        }) => signed(
            &args,
            &client,
            "org_settings_set",
            signer,
            Action::OrgSettingsSet {
                org_id: org_of(signer),
                settings: mpc_custody::OrgSettings {
                    admin_quorum: *admin_quorum,
                    timelock_secs: *timelock_secs,
                    refresh_interval_hours: *refresh_interval_hours,
                },
            },
        )?,
        Cmd::Proposal(p) => governance::run(&args, &client, p)?,
        Cmd::Org(OrgCmd::Get { org, linearizable }) => client.call(
            "org_get",
            json!({ "org_id": org, "linearizable": linearizable }),
        )?,
        Cmd::Org(OrgCmd::List { linearizable }) => {
            client.call_all_pages("org_list", json!({ "linearizable": linearizable }), "orgs")?
        }
        Cmd::Member(MemberCmd::Add {
            org,
            user,
            public_key,
            user_key_file,
            roles,
            idempotency_key,
        }) => {
            let pk = match (public_key, user_key_file) {
                (Some(h), _) => h.clone(),
                (None, Some(f)) => UserKeyFile::read_public(f)?.public_key,
                (None, None) => anyhow::bail!("give --public-key or --user-key-file"),
            };
            let roles = roles
                .iter()
                .map(|r| Role::parse(r))
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| anyhow::anyhow!(e))?;
            submit(
                &args,
                &client,
                "member_add",
                idempotency_key,
                Action::MemberAdd {
                    org_id: OrgId(org.clone()),
                    user_id: UserId(user.clone()),
                    public_key: UserKey::from_hex(&pk).map_err(|e| anyhow::anyhow!(e))?,
                    roles,
                },
            )?
        }
        Cmd::Member(MemberCmd::Remove {
            org,
            user,
            idempotency_key,
        }) => submit(
            &args,
            &client,
            "member_remove",
            idempotency_key,
            Action::MemberRemove {
                org_id: OrgId(org.clone()),
                user_id: UserId(user.clone()),
            },
        )?,
        Cmd::Member(MemberCmd::List { org }) => {
            client.call_all_pages("member_list", json!({ "org_id": org }), "members")?
        }
        Cmd::Member(MemberCmd::Invite {
            org,
            user,
            ttl_secs,
            console_url,
            idempotency_key,
        }) => {
            let secret = ed25519_dalek::SigningKey::generate(&mut rand::rngs::OsRng);
            let invite_key = UserKey(secret.verifying_key().to_bytes());
            let out = submit(
                &args,
                &client,
                "passkey_invite",
                idempotency_key,
                Action::PasskeyInvite {
                    org_id: OrgId(org.clone()),
                    user_id: UserId(user.clone()),
                    invite_key,
                    ttl_secs: *ttl_secs,
                },
            )?;
            let seed = zeroize::Zeroizing::new(hex::encode(secret.to_bytes()));
            json!({
                "outcome": out,
                "invite_key": invite_key,
                "invitation_link": format!(
                    "{}/#/invite?org={org}&user={user}&key={}",
                    console_url.trim_end_matches('/'),
                    seed.as_str()
                ),
                "note": "the link holds a one-time secret: give it to the member yourself; it \
                         works once the invitation is adopted and until it expires",
            })
        }
        Cmd::Member(MemberCmd::PasskeyRevoke {
            org,
            user,
            credential_id,
            idempotency_key,
        }) => submit(
            &args,
            &client,
            "passkey_revoke",
            idempotency_key,
            Action::PasskeyRevoke {
                org_id: OrgId(org.clone()),
                user_id: UserId(user.clone()),
                credential_id: credential_id.clone(),
            },
        )?,
        Cmd::Org(OrgCmd::Webauthn {
            org,
            rp_id,
            origins,
            idempotency_key,
        }) => submit(
            &args,
            &client,
            "webauthn_set",
            idempotency_key,
            Action::WebauthnSet {
                org_id: OrgId(org.clone()),
                rp_id: rp_id.clone(),
                origins: origins.clone(),
            },
        )?,
        Cmd::Audit(AuditCmd::List { org, offset, limit }) => {
            let mut params = json!({ "offset": offset, "limit": limit });
            if let Some(o) = org {
                params["org_id"] = json!(o);
            }
            client.call("audit_list", params)?
        }
        Cmd::Audit(AuditCmd::Verify { org }) => {
            let mut params = json!({});
            if let Some(o) = org {
                params["org_id"] = json!(o);
            }
            client.call("audit_verify", params)?
        }
        Cmd::Asset(AssetCmd::Add {
            signer,
            symbol,
            chain,
            network,
            contract,
            decimals,
        }) => signed(
            &args,
            &client,
            "asset_add",
            signer,
            Action::AssetAdd {
                org_id: org_of(signer),
                symbol: symbol.clone(),
                chain: chain_arg(chain)?,
                network: network_arg(network)?,
                contract: contract.clone(),
                decimals: *decimals,
            },
        )?,
        Cmd::Asset(AssetCmd::Remove { signer, symbol }) => signed(
            &args,
            &client,
            "asset_remove",
            signer,
            Action::AssetRemove {
                org_id: org_of(signer),
                symbol: symbol.clone(),
            },
        )?,
        Cmd::Asset(AssetCmd::List { org }) => {
            client.call_all_pages("asset_list", json!({ "org_id": org }), "assets")?
        }
        Cmd::Addressbook(BookCmd::Add {
            signer,
            chain,
            network,
            address,
            label,
        }) => signed(
            &args,
            &client,
            "addressbook_add",
            signer,
            Action::AddressBookAdd {
                org_id: org_of(signer),
                chain: chain_arg(chain)?,
                network: network_arg(network)?,
                address: address.clone(),
                label: label.clone(),
            },
        )?,
        Cmd::Addressbook(BookCmd::Remove {
            signer,
            chain,
            network,
            address,
        }) => signed(
            &args,
            &client,
            "addressbook_remove",
            signer,
            Action::AddressBookRemove {
                org_id: org_of(signer),
                chain: chain_arg(chain)?,
                network: network_arg(network)?,
                address: address.clone(),
            },
        )?,
        Cmd::Addressbook(BookCmd::List { org }) => {
            client.call_all_pages("addressbook_list", json!({ "org_id": org }), "entries")?
        }
        Cmd::Policy(PolicyCmd::Set {
            signer,
            vault,
            rules,
        }) => {
            let text = std::fs::read_to_string(rules)
                .with_context(|| format!("reading {}", rules.display()))?;
            let rules = serde_json::from_str(&text).context("rules file")?;
            signed(
                &args,
                &client,
                "policy_set",
                signer,
                Action::PolicySet {
                    org_id: org_of(signer),
                    vault_id: vault.as_str().into(),
                    rules,
                },
            )?
        }
        Cmd::Policy(PolicyCmd::Get { vault }) => {
            client.call("policy_get", json!({ "vault_id": vault }))?
        }
        Cmd::Request(r) => match requests::run(&args, &client, r)? {
            Some(out) => out,
            None => return Ok(()),
        },
        Cmd::Vault(v) => vaults::run_vault(&args, &client, v)?,
        Cmd::Wallet(w) => match vaults::run_wallet(&args, &client, w)? {
            Some(out) => out,
            None => return Ok(()),
        },
        Cmd::Key(_) | Cmd::Tx(_) | Cmd::Completions { .. } => offline(&args)?,
    };
    print_out(&args, &out)
}

fn print_out(args: &Args, out: &Value) -> anyhow::Result<()> {
    if args.json {
        println!("{}", serde_json::to_string(out)?);
    } else {
        print_human(&args.command, out).context("printing")?;
    }
    Ok(())
}
