//! `mpc`: command-line client for mpc-node admins and approvers.

use anyhow::Context;
use clap::{Parser, Subcommand};
use mpc_bootstrap::passphrase::{self, KEY_PASSPHRASE_ENV};
use mpc_bootstrap::sealed::KdfParams;
use mpc_bootstrap::userkey::UserKeyFile;
use mpc_cli::client::RpcClient;
use mpc_cli::sign::{random_idempotency_key, sign_action};
use mpc_consensus::command::Action;
use mpc_consensus::types::{OrgId, Role, UserId, UserKey};
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
