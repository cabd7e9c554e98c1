//! What `mpc` prints for people (everything but `--json`): per-command summaries and the
//! intent of a request in human units.

use crate::args::{AuditCmd, Cmd, MemberCmd, OrgCmd, ProposalCmd};
use serde_json::Value;

/// The intent in human units (the asset's decimals, base units beside them), each destination
/// with its label from the organisation's address book (`book`: an `addressbook_list` result).
pub(crate) fn print_intent_summary(i: &mpc_protocol::chain::Intent, book: &Value) {
    use mpc_protocol::chain::units::{display_fee, display_intent_amount};
    let network = format!("{:?}", i.network).to_lowercase();
    let label = |addr: &str| {
        book["entries"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|e| e["address"] == addr && e["network"] == network.as_str())
            .and_then(|e| e["label"].as_str())
            .map(|l| format!("\"{l}\" (address book)"))
            .unwrap_or_else(|| "NOT in the address book".to_string())
    };
    eprintln!("  chain     {} {network}", i.chain);
    if let Some(id) = i.details.get("chain_id") {
        eprintln!("  chain id  {id}");
    }
    eprintln!("  from      {}", i.from);
    for t in &i.transfers {
        eprintln!(
            "  sends     {} to {} {}",
            display_intent_amount(i, t.amount),
            t.to,
            label(&t.to)
        );
    }
    eprintln!("  total     {}", display_intent_amount(i, i.amount));
    eprintln!("  fee (max) {}", display_fee(i));
    for (k, v) in &i.details {
        eprintln!("  {k:<9} {v}");
    }
}

/// The proposal of a governed write that has not taken effect yet, or that a proposal command
/// changed.
fn governed_result(v: &Value) -> Option<&Value> {
    let r = v.get("result")?;
    match r["type"].as_str()? {
        "proposal" | "proposal_executed" => r.get("proposal"),
        _ => None,
    }
}

/// One line per proposal: id, kind, status, approvals, and what happens next.
fn print_proposal_line(p: &Value) {
    let approvals = 1 + p["approvals"].as_object().map_or(0, |a| a.len());
    let quorum = p["quorum"].as_u64().unwrap_or(0);
    let id = p["proposal_id"].as_str().unwrap_or("?");
    let org = p["org_id"].as_str().unwrap_or("?");
    let status = p["status"].as_str().unwrap_or("?");
    let next = match status {
        "pending" => format!(
            "needs {} more admin approval(s): mpc proposal approve --org {org} --id {id}",
            quorum.saturating_sub(approvals as u64)
        ),
        "queued" => format!(
            "time-locked until log time {} ms; then mpc proposal execute --org {org} --id {id} \
             (any admin may veto before)",
            p["executable_at_ms"]
        ),
        "executed" => "in effect".to_string(),
        _ => p["note"].as_str().unwrap_or("").to_string(),
    };
    println!(
        "{id}  {}  {status}  approvals {approvals}/{quorum}  {next}",
        p["kind"].as_str().unwrap_or("?")
    );
}

pub(crate) fn print_human(cmd: &Cmd, v: &Value) -> anyhow::Result<()> {
    let s = |v: &Value, k: &str| {
        v.get(k)
            .map(|x| match x {
                Value::String(s) => s.clone(),
                Value::Null => "-".into(),
                other => other.to_string(),
            })
            .unwrap_or_else(|| "-".into())
    };
    if let Some(p) = governed_result(v) {
        print_proposal_line(p);
        return Ok(());
    }
    match cmd {
        Cmd::Proposal(ProposalCmd::List { .. }) => {
            for p in v
                .get("proposals")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                print_proposal_line(p);
            }
        }
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
        Cmd::Audit(AuditCmd::Verify { .. }) => {
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
