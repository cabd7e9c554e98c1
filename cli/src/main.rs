//! `mpc`: command-line client for mpc-node admins and approvers.

use anyhow::Context;
use clap::{Parser, Subcommand};
use mpc_bootstrap::passphrase::{self, KEY_PASSPHRASE_ENV};
use mpc_bootstrap::sealed::KdfParams;
use mpc_bootstrap::userkey::UserKeyFile;
use mpc_cli::client::RpcClient;
use mpc_cli::sign::{random_idempotency_key, sign_action};
use mpc_custody::command::Action;
use mpc_custody::types::{OrgId, Role, UserId, UserKey};
use mpc_protocol::chain::{Chain, Network, SpentOutput};
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Command-line client for mpc-node.
#[derive(Debug, Parser)]
#[command(name = "mpc", version, about)]
struct Args {
    /// JSON-RPC URL of any node.
    #[arg(
        long,
        env = "MPC_RPC",
        default_value = "http://127.0.0.1:8001",
        global = true
    )]
    rpc: String,
    /// Print raw JSON (for scripts).
    #[arg(long, global = true)]
    json: bool,
    /// Network id (genesis hash) to sign for; fetched from the node when absent.
    #[arg(long, env = "MPC_CLUSTER_ID", global = true)]
    cluster_id: Option<String>,
    /// File holding the user-key passphrase (else MPC_KEY_PASSPHRASE, else a prompt).
    #[arg(long, global = true)]
    passphrase_file: Option<PathBuf>,
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Debug, Subcommand)]
enum Cmd {
    /// User keys.
    #[command(subcommand)]
    Key(KeyCmd),
    /// This node's status.
    Status,
    /// Every member node and its last heartbeat.
    Cluster,
    /// Organisations.
    #[command(subcommand)]
    Org(OrgCmd),
    /// Members.
    #[command(subcommand)]
    Member(MemberCmd),
    /// The audit log.
    #[command(subcommand)]
    Audit(AuditCmd),
    /// Vaults (keys made by DKG on every node).
    #[command(subcommand)]
    Vault(VaultCmd),
    /// Wallets derived from vault keys.
    #[command(subcommand)]
    Wallet(WalletCmd),
    /// The organisation's address book (whitelist).
    #[command(subcommand)]
    Addressbook(BookCmd),
    /// Vault policies.
    #[command(subcommand)]
    Policy(PolicyCmd),
    /// Signing requests: submit, inspect, approve, reject.
    #[command(subcommand)]
    Request(RequestCmd),
    /// Build unsigned transactions (for testing and demos).
    #[command(subcommand)]
    Tx(TxCmd),
}

/// Arguments every signed write takes.
#[derive(Debug, clap::Args)]
struct Signer {
    /// Signing key file.
    #[arg(long)]
    key: PathBuf,
    /// Organisation id.
    #[arg(long)]
    org: String,
    /// Idempotency key (random when absent).
    #[arg(long)]
    idempotency_key: Option<String>,
}

#[derive(Debug, Subcommand)]
enum VaultCmd {
    /// Create a vault (org admins); every node then runs DKG.
    Create {
        #[command(flatten)]
        signer: Signer,
        /// Vault id.
        #[arg(long)]
        vault: String,
        /// Display name.
        #[arg(long)]
        name: String,
        /// Wait until the vault is active or failed.
        #[arg(long)]
        wait: bool,
    },
    /// Show a vault.
    Get {
        /// Vault id.
        #[arg(long)]
        vault: String,
    },
    /// List vaults.
    List {
        /// Only this organisation's.
        #[arg(long)]
        org: Option<String>,
    },
}

#[derive(Debug, Subcommand)]
enum WalletCmd {
    /// Derive a wallet (org admins).
    Create {
        #[command(flatten)]
        signer: Signer,
        /// Vault id.
        #[arg(long)]
        vault: String,
        /// ethereum, bitcoin_p2wpkh, bitcoin_p2tr or solana.
        #[arg(long)]
        chain: String,
        /// mainnet or testnet.
        #[arg(long, default_value = "testnet")]
        network: String,
        /// Derivation index.
        #[arg(long, default_value_t = 0)]
        index: u32,
    },
    /// Show a wallet.
    Get {
        /// Wallet id.
        #[arg(long)]
        wallet: String,
    },
    /// List wallets.
    List {
        /// Only this vault's.
        #[arg(long)]
        vault: Option<String>,
    },
}

#[derive(Debug, Subcommand)]
enum BookCmd {
    /// Whitelist an address (org admins).
    Add {
        #[command(flatten)]
        signer: Signer,
        /// Chain.
        #[arg(long)]
        chain: String,
        /// Network.
        #[arg(long, default_value = "testnet")]
        network: String,
        /// Address.
        #[arg(long)]
        address: String,
        /// Label.
        #[arg(long)]
        label: String,
    },
    /// Remove an address (org admins).
    Remove {
        #[command(flatten)]
        signer: Signer,
        /// Chain.
        #[arg(long)]
        chain: String,
        /// Network.
        #[arg(long, default_value = "testnet")]
        network: String,
        /// Address.
        #[arg(long)]
        address: String,
    },
    /// List the address book.
    List {
        /// Organisation.
        #[arg(long)]
        org: String,
    },
}

#[derive(Debug, Subcommand)]
enum PolicyCmd {
    /// Set a vault's policy from a JSON rules file (org admins).
    Set {
        #[command(flatten)]
        signer: Signer,
        /// Vault id.
        #[arg(long)]
        vault: String,
        /// Rules file: {"approvers": [...], "threshold": M, "whitelist_required": bool,
        /// "limits": [...], "auto_approve": [...]}.
        #[arg(long)]
        rules: PathBuf,
    },
    /// Show a vault's policy.
    Get {
        /// Vault id.
        #[arg(long)]
        vault: String,
    },
}

#[derive(Debug, Subcommand)]
enum RequestCmd {
    /// Submit an unsigned transaction (initiators).
    Submit {
        #[command(flatten)]
        signer: Signer,
        /// Wallet id.
        #[arg(long)]
        wallet: String,
        /// Unsigned payload, hex.
        #[arg(long)]
        payload: String,
        /// Bitcoin: JSON file with the spent outputs [{"amount": "…", "script_pubkey": "…"}].
        #[arg(long)]
        spent_outputs: Option<PathBuf>,
    },
    /// Show a request (the parsed intent, approvals, status, signed transaction).
    Get {
        /// Request id.
        #[arg(long)]
        request: String,
    },
    /// Follow status changes over WebSocket (one request until it is final, or all requests),
    /// printing one JSON line per change.
    Watch {
        /// Request id (default: every request).
        #[arg(long)]
        request: Option<String>,
    },
    /// List requests.
    List {
        /// Organisation.
        #[arg(long)]
        org: Option<String>,
        /// Only this status.
        #[arg(long)]
        status: Option<String>,
    },
    /// Approve: shows the parsed intent, then signs its digest.
    Approve {
        #[command(flatten)]
        signer: Signer,
        /// Request id.
        #[arg(long)]
        request: String,
        /// Do not ask for confirmation.
        #[arg(long)]
        yes: bool,
    },
    /// Reject a request.
    Reject {
        #[command(flatten)]
        signer: Signer,
        /// Request id.
        #[arg(long)]
        request: String,
        /// Reason.
        #[arg(long)]
        reason: String,
    },
    /// Let a request exceed a REQUIRE_ADMIN spending limit (org admins).
    AdminApprove {
        #[command(flatten)]
        signer: Signer,
        /// Request id.
        #[arg(long)]
        request: String,
        /// Do not ask for confirmation.
        #[arg(long)]
        yes: bool,
    },
    /// Wait until a request is signed, rejected or failed.
    Wait {
        /// Request id.
        #[arg(long)]
        request: String,
        /// Give up after this many seconds.
        #[arg(long, default_value_t = 120)]
        timeout_secs: u64,
    },
}

#[derive(Debug, Subcommand)]
enum TxCmd {
    /// An EIP-1559 ETH transfer (unsigned, hex).
    Eth {
        /// Chain id (1 mainnet, 11155111 Sepolia).
        #[arg(long, default_value_t = 11_155_111)]
        chain_id: u64,
        /// Nonce.
        #[arg(long, default_value_t = 0)]
        nonce: u64,
        /// Destination.
        #[arg(long)]
        to: String,
        /// Value, wei.
        #[arg(long)]
        value_wei: u128,
        /// Max fee per gas, wei.
        #[arg(long, default_value_t = 30_000_000_000)]
        max_fee_per_gas: u128,
        /// Max priority fee per gas, wei.
        #[arg(long, default_value_t = 1_000_000_000)]
        max_priority_fee_per_gas: u128,
    },
    /// A Bitcoin spend of one UTXO with change (unsigned hex and the spent output).
    Btc {
        /// The wallet address (owner of the UTXO, receives change).
        #[arg(long)]
        from: String,
        /// The UTXO, txid:vout.
        #[arg(long)]
        utxo: String,
        /// Its value, sat.
        #[arg(long)]
        input_sats: u64,
        /// Destination.
        #[arg(long)]
        to: String,
        /// Amount, sat.
        #[arg(long)]
        amount_sats: u64,
        /// Fee, sat.
        #[arg(long, default_value_t = 500)]
        fee_sats: u64,
    },
    /// A Solana System transfer message (unsigned hex).
    Sol {
        /// The wallet address (fee payer).
        #[arg(long)]
        from: String,
        /// Destination.
        #[arg(long)]
        to: String,
        /// Lamports.
        #[arg(long)]
        lamports: u64,
        /// Recent blockhash (base58).
        #[arg(long)]
        blockhash: String,
    },
}

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
    submit(args, client, method, &s.key, &s.idempotency_key, action)
}

fn org_of(s: &Signer) -> OrgId {
    OrgId(s.org.clone())
}

/// The intent in human units (the asset's decimals, base units beside them).
fn print_intent_summary(intent: &Value) {
    use mpc_protocol::chain::units::display_amount;
    let Ok(i) = serde_json::from_value::<mpc_protocol::chain::Intent>(intent.clone()) else {
        eprintln!("  (the intent could not be read)");
        return;
    };
    let network = format!("{:?}", i.network).to_lowercase();
    eprintln!("  chain     {} {network}", i.chain);
    eprintln!("  from      {}", i.from);
    for t in &i.transfers {
        eprintln!(
            "  sends     {} to {}",
            display_amount(i.chain, &i.asset, t.amount),
            t.to
        );
    }
    eprintln!(
        "  total     {}",
        display_amount(i.chain, &i.asset, i.amount)
    );
    eprintln!("  fee (max) {}", display_amount(i.chain, &i.asset, i.fee));
    for (k, v) in &i.details {
        eprintln!("  {k:<9} {v}");
    }
}

/// Fetches a request, prints its parsed intent and asks for confirmation.
fn show_and_confirm(
    client: &RpcClient,
    request: &str,
    yes: bool,
    what: &str,
) -> anyhow::Result<String> {
    let r = client.call(
        "request_get",
        json!({ "request_id": request, "linearizable": true }),
    )?;
    let intent = r.get("intent").cloned().unwrap_or(Value::Null);
    eprintln!(
        "request {request} ({})",
        r["status"]["state"].as_str().unwrap_or("?")
    );
    eprintln!("  parsed from the transaction bytes by the node:");
    print_intent_summary(&intent);
    eprintln!("{}", serde_json::to_string_pretty(&intent)?);
    eprintln!(
        "  intent digest {}",
        r["intent_digest"].as_str().unwrap_or("?")
    );
    if !yes {
        eprint!("{what} this request? [y/N] ");
        let mut line = String::new();
        std::io::stdin().read_line(&mut line)?;
        if !matches!(line.trim(), "y" | "Y" | "yes") {
            anyhow::bail!("not confirmed");
        }
    }
    r.get("intent_digest")
        .and_then(Value::as_str)
        .map(str::to_string)
        .ok_or_else(|| anyhow::anyhow!("request has no intent digest"))
}

#[derive(Debug, Subcommand)]
enum KeyCmd {
    /// Create a sealed Ed25519 user key file.
    Create {
        /// Output file.
        #[arg(long)]
        out: PathBuf,
        /// Label.
        #[arg(long)]
        name: String,
    },
    /// Show the public key of a key file.
    Show {
        /// Key file.
        #[arg(long)]
        key: PathBuf,
    },
}

#[derive(Debug, Subcommand)]
enum OrgCmd {
    /// Create an organisation (genesis admins only).
    Create {
        /// Signing key file.
        #[arg(long)]
        key: PathBuf,
        /// Organisation id (a-z, 0-9, '-', '_').
        #[arg(long)]
        org: String,
        /// Display name.
        #[arg(long)]
        name: String,
        /// User id under which you become the first admin.
        #[arg(long, default_value = "admin")]
        admin_user_id: String,
        /// Idempotency key (random when absent).
        #[arg(long)]
        idempotency_key: Option<String>,
    },
    /// Show one organisation.
    Get {
        /// Organisation id.
        #[arg(long)]
        org: String,
        /// Read through the leader (linearizable).
        #[arg(long)]
        linearizable: bool,
    },
    /// List organisations.
    List {
        /// Read through the leader (linearizable).
        #[arg(long)]
        linearizable: bool,
    },
}

#[derive(Debug, Subcommand)]
enum MemberCmd {
    /// Add a member (org admins).
    Add {
        /// Signing key file.
        #[arg(long)]
        key: PathBuf,
        /// Organisation id.
        #[arg(long)]
        org: String,
        /// New member's user id.
        #[arg(long)]
        user: String,
        /// New member's public key (hex)...
        #[arg(long, conflicts_with = "user_key_file")]
        public_key: Option<String>,
        /// ...or their key file (only its public part is read).
        #[arg(long)]
        user_key_file: Option<PathBuf>,
        /// Role (repeatable): admin, operator, initiator, approver, auditor.
        #[arg(long = "role", required = true)]
        roles: Vec<String>,
        /// Idempotency key (random when absent).
        #[arg(long)]
        idempotency_key: Option<String>,
    },
    /// Remove a member (org admins).
    Remove {
        /// Signing key file.
        #[arg(long)]
        key: PathBuf,
        /// Organisation id.
        #[arg(long)]
        org: String,
        /// Member's user id.
        #[arg(long)]
        user: String,
        /// Idempotency key (random when absent).
        #[arg(long)]
        idempotency_key: Option<String>,
    },
    /// List an organisation's members.
    List {
        /// Organisation id.
        #[arg(long)]
        org: String,
    },
}

#[derive(Debug, Subcommand)]
enum AuditCmd {
    /// List audit entries.
    List {
        /// First entry.
        #[arg(long, default_value_t = 0)]
        offset: u64,
        /// How many (1–1000).
        #[arg(long, default_value_t = 50)]
        limit: u64,
    },
    /// Recompute the hash chain.
    Verify,
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

fn cluster_id(args: &Args, client: &RpcClient) -> anyhow::Result<String> {
    if let Some(c) = &args.cluster_id {
        return Ok(c.clone());
    }
    let status = client.call("node_status", json!({}))?;
    status
        .get("cluster_id")
        .and_then(Value::as_str)
        .map(str::to_string)
        .ok_or_else(|| anyhow::anyhow!("node_status has no cluster_id"))
}

fn submit(
    args: &Args,
    client: &RpcClient,
    method: &str,
    key: &Path,
    idem: &Option<String>,
    action: Action,
) -> anyhow::Result<Value> {
    let key = load_key(args, key)?;
    let cluster = cluster_id(args, client)?;
    let idem = idem.clone().unwrap_or_else(random_idempotency_key);
    let cmd =
        sign_action(&key.signing_key, &cluster, &idem, action).map_err(|e| anyhow::anyhow!(e))?;
    Ok(client.call(method, json!({ "command": cmd }))?)
}

fn run(args: Args) -> anyhow::Result<()> {
    let client = RpcClient::new(&args.rpc, Duration::from_secs(30));
    let out = match &args.command {
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
        Cmd::Key(KeyCmd::Show { key }) => serde_json::to_value(UserKeyFile::read_public(key)?)?,
        Cmd::Status => client.call("node_status", json!({}))?,
        Cmd::Cluster => client.call("cluster_status", json!({}))?,
        Cmd::Org(OrgCmd::Create {
            key,
            org,
            name,
            admin_user_id,
            idempotency_key,
        }) => submit(
            &args,
            &client,
            "org_create",
            key,
            idempotency_key,
            Action::OrgCreate {
                org_id: OrgId(org.clone()),
                name: name.clone(),
                admin_user_id: UserId(admin_user_id.clone()),
            },
        )?,
        Cmd::Org(OrgCmd::Get { org, linearizable }) => client.call(
            "org_get",
            json!({ "org_id": org, "linearizable": linearizable }),
        )?,
        Cmd::Org(OrgCmd::List { linearizable }) => {
            client.call("org_list", json!({ "linearizable": linearizable }))?
        }
        Cmd::Member(MemberCmd::Add {
            key,
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
                key,
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
            key,
            org,
            user,
            idempotency_key,
        }) => submit(
            &args,
            &client,
            "member_remove",
            key,
            idempotency_key,
            Action::MemberRemove {
                org_id: OrgId(org.clone()),
                user_id: UserId(user.clone()),
            },
        )?,
        Cmd::Member(MemberCmd::List { org }) => {
            client.call("member_list", json!({ "org_id": org }))?
        }
        Cmd::Audit(AuditCmd::List { offset, limit }) => {
            client.call("audit_list", json!({ "offset": offset, "limit": limit }))?
        }
        Cmd::Audit(AuditCmd::Verify) => client.call("audit_verify", json!({}))?,
        Cmd::Vault(VaultCmd::Create {
            signer,
            vault,
            name,
            wait,
        }) => {
            let out = signed(
                &args,
                &client,
                "vault_create",
                signer,
                Action::VaultCreate {
                    org_id: org_of(signer),
                    vault_id: vault.as_str().into(),
                    name: name.clone(),
                },
            )?;
            if *wait {
                let t0 = std::time::Instant::now();
                loop {
                    let v = client.call("vault_get", json!({ "vault_id": vault }))?;
                    let st = v["status"]["state"].as_str().unwrap_or("").to_string();
                    if st != "pending" {
                        break v;
                    }
                    if t0.elapsed() > Duration::from_secs(180) {
                        anyhow::bail!("vault still pending after 180 s");
                    }
                    eprintln!(
                        "  DKG running on every node… ({} s)",
                        t0.elapsed().as_secs()
                    );
                    std::thread::sleep(Duration::from_millis(1000));
                }
            } else {
                out
            }
        }
        Cmd::Vault(VaultCmd::Get { vault }) => {
            client.call("vault_get", json!({ "vault_id": vault }))?
        }
        Cmd::Vault(VaultCmd::List { org }) => {
            client.call("vault_list", json!({ "org_id": org }))?
        }
        Cmd::Wallet(WalletCmd::Create {
            signer,
            vault,
            chain,
            network,
            index,
        }) => signed(
            &args,
            &client,
            "wallet_create",
            signer,
            Action::WalletCreate {
                org_id: org_of(signer),
                vault_id: vault.as_str().into(),
                chain: chain_arg(chain)?,
                network: network_arg(network)?,
                index: *index,
            },
        )?,
        Cmd::Wallet(WalletCmd::Get { wallet }) => {
            client.call("wallet_get", json!({ "wallet_id": wallet }))?
        }
        Cmd::Wallet(WalletCmd::List { vault }) => {
            client.call("wallet_list", json!({ "vault_id": vault }))?
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
            client.call("addressbook_list", json!({ "org_id": org }))?
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
        Cmd::Request(RequestCmd::Submit {
            signer,
            wallet,
            payload,
            spent_outputs,
        }) => {
            let spent: Vec<SpentOutput> = match spent_outputs {
                Some(f) => serde_json::from_str(&std::fs::read_to_string(f)?)
                    .context("spent outputs file")?,
                None => vec![],
            };
            signed(
                &args,
                &client,
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
        Cmd::Request(RequestCmd::Get { request }) => {
            client.call("request_get", json!({ "request_id": request }))?
        }
        Cmd::Request(RequestCmd::Watch { request }) => {
            let mut watch = mpc_cli::watch::Watch::connect(
                &args.rpc,
                request.as_deref(),
                Duration::from_secs(30),
            )?;
            loop {
                let change = watch.next(None)?;
                println!("{change}");
                let last = matches!(
                    change["status"].as_str(),
                    Some("signed" | "rejected" | "failed")
                );
                if request.is_some() && last {
                    return Ok(());
                }
            }
        }
        Cmd::Request(RequestCmd::List { org, status }) => {
            client.call("request_list", json!({ "org_id": org, "status": status }))?
        }
        Cmd::Request(RequestCmd::Approve {
            signer,
            request,
            yes,
        }) => {
            let digest = show_and_confirm(&client, request, *yes, "Approve")?;
            signed(
                &args,
                &client,
                "request_approve",
                signer,
                Action::RequestApprove {
                    org_id: org_of(signer),
                    request_id: request.as_str().into(),
                    intent_digest: digest,
                },
            )?
        }
        Cmd::Request(RequestCmd::Reject {
            signer,
            request,
            reason,
        }) => {
            let digest = show_and_confirm(&client, request, true, "Reject")?;
            signed(
                &args,
                &client,
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
        Cmd::Request(RequestCmd::AdminApprove {
            signer,
            request,
            yes,
        }) => {
            let digest = show_and_confirm(&client, request, *yes, "Admin-approve")?;
            signed(
                &args,
                &client,
                "request_admin_approve",
                signer,
                Action::RequestAdminApprove {
                    org_id: org_of(signer),
                    request_id: request.as_str().into(),
                    intent_digest: digest,
                },
            )?
        }
        Cmd::Request(RequestCmd::Wait {
            request,
            timeout_secs,
        }) => {
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
    };
    if args.json {
        println!("{}", serde_json::to_string(&out)?);
    } else {
        print_human(&args.command, &out).context("printing")?;
    }
    Ok(())
}

fn print_human(cmd: &Cmd, v: &Value) -> anyhow::Result<()> {
    let s = |v: &Value, k: &str| {
        v.get(k)
            .map(|x| match x {
                Value::String(s) => s.clone(),
                Value::Null => "-".into(),
                other => other.to_string(),
            })
            .unwrap_or_else(|| "-".into())
    };
    match cmd {
        Cmd::Status => {
            println!(
                "node {} ({}) on network {}",
                s(v, "node_id"),
                s(v, "peer_id"),
                s(v, "network")
            );
            println!(
                "  role {}  term {}  leader {}  applied {}",
                s(v, "role"),
                s(v, "term"),
                s(v, "leader"),
                s(v, "applied_index")
            );
            let peers = v
                .get("connected_peers")
                .and_then(Value::as_array)
                .map(|a| a.len())
                .unwrap_or(0);
            println!("  connected peers {peers}  sealed {}", s(v, "sealed"));
            let aux = &v["ecdsa_aux_info"];
            let state = aux["state"].as_str().unwrap_or("?");
            let attempt = aux["attempt"].as_u64().unwrap_or(0);
            let what = match state {
                "not_started" => "waiting for the network to form".to_string(),
                "generating_primes" => format!("generating Paillier primes (attempt {attempt})"),
                "running" => format!("running with every node (attempt {attempt})"),
                "retrying" => format!(
                    "attempt {attempt} starts shortly; last failure: {}",
                    s(aux, "last_failure")
                ),
                "waiting_for_nodes" => {
                    format!("stored here, waiting for the other nodes (attempt {attempt})")
                }
                "ready" => format!("ready (attempt {attempt})"),
                other => other.to_string(),
            };
            println!("  ECDSA aux info  {what}");
        }
        Cmd::Cluster => {
            println!(
                "network {}  leader {}  term {}  threshold {}",
                s(v, "network"),
                s(v, "leader"),
                s(v, "term"),
                s(v, "threshold")
            );
            for m in v
                .get("members")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                let hb = m.get("last_heartbeat").cloned().unwrap_or(Value::Null);
                let hb_text = if hb.is_null() {
                    "no heartbeat".to_string()
                } else {
                    format!(
                        "{} term {} applied {} ({} ms ago)",
                        s(&hb, "role"),
                        s(&hb, "term"),
                        s(&hb, "applied_index"),
                        s(&hb, "age_ms")
                    )
                };
                println!(
                    "  node {}  rpc {}  connected {}  {}",
                    s(m, "node_id"),
                    s(m, "rpc_addr"),
                    s(m, "connected"),
                    hb_text
                );
            }
        }
        Cmd::Org(OrgCmd::List { .. }) => {
            for o in v
                .get("orgs")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                println!("{}  {}", s(o, "org_id"), s(o, "name"));
            }
        }
        Cmd::Member(MemberCmd::List { .. }) => {
            for m in v
                .get("members")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                println!(
                    "{}  {}  roles {}",
                    s(m, "user_id"),
                    s(m, "public_key"),
                    s(m, "roles")
                );
            }
        }
        Cmd::Audit(AuditCmd::List { .. }) => {
            for e in v
                .get("entries")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                println!(
                    "#{} idx {} {} {} by {}… {}",
                    s(e, "seq"),
                    s(e, "log_index"),
                    s(e, "timestamp_ms"),
                    s(e, "action"),
                    &s(e, "actor")[..8.min(s(e, "actor").len())],
                    s(e, "outcome")
                );
            }
            println!("total {}", s(v, "total"));
        }
        Cmd::Audit(AuditCmd::Verify) => {
            if v.get("ok").and_then(Value::as_bool) == Some(true) {
                println!(
                    "audit chain intact: {} entries, head {}",
                    s(v, "entries"),
                    s(v, "head_hash")
                );
            } else {
                println!(
                    "audit chain BROKEN at entry {}: {}",
                    s(v, "broken_at"),
                    s(v, "reason")
                );
            }
        }
        _ => println!("{}", serde_json::to_string_pretty(v)?),
    }
    Ok(())
}
