//! What `mpc` prints for people (everything but `--json`): per-command summaries and the
//! intent of a request in human units.

use crate::args::{AuditCmd, Cmd, MemberCmd, OrgCmd, ProposalCmd, RequestCmd, VaultCmd, WalletCmd};
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

/// Prints `rows` under `headers`, each column as wide as its widest cell (the last one
/// unpadded); "(none)" when there are no rows.
pub(crate) fn print_table(headers: &[&str], rows: &[Vec<String>]) {
    print!("{}", table(headers, rows));
}

/// [`print_table`]'s text.
pub(crate) fn table(headers: &[&str], rows: &[Vec<String>]) -> String {
    if rows.is_empty() {
        return "(none)\n".into();
    }
    let mut widths: Vec<usize> = headers.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    let mut line = |cells: Vec<&str>| {
        let n = cells.len();
        let text: Vec<String> = cells
            .into_iter()
            .zip(&widths)
            .enumerate()
            .map(|(i, (c, w))| {
                if i + 1 == n {
                    c.to_string()
                } else {
                    format!("{c:<w$}")
                }
            })
            .collect();
        out.push_str(text.join("  ").trim_end());
        out.push('\n');
    };
    line(headers.to_vec());
    for row in rows {
        line(row.iter().map(String::as_str).collect());
    }
    out
}

/// How long ago `ms` (Unix ms) was, shortly: `42s`, `5m`, `3h`, `2d`.
pub(crate) fn age(ms: u64, now_ms: u64) -> String {
    let s = now_ms.saturating_sub(ms) / 1000;
    match s {
        0..=59 => format!("{s}s"),
        60..=3599 => format!("{}m", s / 60),
        3600..=86_399 => format!("{}h", s / 3600),
        _ => format!("{}d", s / 86_400),
    }
}

/// A state name from `{"state": "…"}` or a plain string.
fn state_name(v: &Value) -> String {
    v.get("state")
        .and_then(Value::as_str)
        .or_else(|| v.as_str())
        .unwrap_or("?")
        .to_string()
}

/// One row per request: id, status, amount in the asset's units, destination, age.
pub(crate) fn request_rows(requests: &[Value], now_ms: u64) -> Vec<Vec<String>> {
    use mpc_protocol::chain::units::display_intent_amount;
    requests
        .iter()
        .map(|r| {
            let intent: Option<mpc_protocol::chain::Intent> =
                serde_json::from_value(r["intent"].clone()).ok();
            let (amount, to) = match &intent {
                Some(i) => {
                    let to = match i.transfers.as_slice() {
                        [] => "-".to_string(),
                        [one] => one.to.clone(),
                        [first, rest @ ..] => format!("{} (+{} more)", first.to, rest.len()),
                    };
                    (display_intent_amount(i, i.amount), to)
                }
                None => ("?".into(), "?".into()),
            };
            vec![
                r["request_id"].as_str().unwrap_or("?").to_string(),
                state_name(&r["status"]),
                amount,
                to,
                age(r["created_at_ms"].as_u64().unwrap_or(now_ms), now_ms),
            ]
        })
        .collect()
}

fn cell(v: &Value, k: &str) -> String {
    match v.get(k) {
        Some(Value::String(s)) => s.clone(),
        None | Some(Value::Null) => "-".into(),
        Some(other) => other.to_string(),
    }
}

/// One row per vault: id, organisation, name, status, threshold of committee, epoch, age.
pub(crate) fn vault_rows(vaults: &[Value], now_ms: u64) -> Vec<Vec<String>> {
    vaults
        .iter()
        .map(|x| {
            let committee = x["committee"]
                .as_array()
                .map(|c| c.iter().map(Value::to_string).collect::<Vec<_>>().join(","))
                .unwrap_or_default();
            vec![
                cell(x, "vault_id"),
                cell(x, "org_id"),
                cell(x, "name"),
                state_name(&x["status"]),
                format!("{} of [{committee}]", cell(x, "threshold")),
                cell(x, "epoch"),
                age(x["created_at_ms"].as_u64().unwrap_or(now_ms), now_ms),
            ]
        })
        .collect()
}

/// One row per wallet: id, vault, chain and network, index, address.
pub(crate) fn wallet_rows(wallets: &[Value]) -> Vec<Vec<String>> {
    wallets
        .iter()
        .map(|w| {
            vec![
                cell(w, "wallet_id"),
                cell(w, "vault_id"),
                format!("{} {}", cell(w, "chain"), cell(w, "network")),
                cell(w, "index"),
                cell(w, "address"),
            ]
        })
        .collect()
}

fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

fn items<'a>(v: &'a Value, field: &str) -> &'a [Value] {
    v.get(field)
        .and_then(Value::as_array)
        .map_or(&[], Vec::as_slice)
}

pub(crate) fn print_human(cmd: &Cmd, v: &Value) -> anyhow::Result<()> {
    let s = cell;
    if let Some(p) = governed_result(v) {
        print_proposal_line(p);
        return Ok(());
    }
    match cmd {
        Cmd::Request(RequestCmd::List { .. }) => print_table(
            &["REQUEST", "STATUS", "AMOUNT", "TO", "AGE"],
            &request_rows(items(v, "requests"), now_ms()),
        ),
        Cmd::Vault(VaultCmd::List { .. }) => print_table(
            &["VAULT", "ORG", "NAME", "STATUS", "SIGNERS", "EPOCH", "AGE"],
            &vault_rows(items(v, "vaults"), now_ms()),
        ),
        Cmd::Wallet(WalletCmd::List { .. }) => print_table(
            &["WALLET", "VAULT", "CHAIN", "INDEX", "ADDRESS"],
            &wallet_rows(items(v, "wallets")),
        ),
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

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use serde_json::json;

    fn request(id: &str, state: &str, intent: Value, created_at_ms: u64) -> Value {
        json!({ "request_id": id, "status": { "state": state }, "intent": intent,
                "created_at_ms": created_at_ms })
    }

    /// `mpc request list` for people: amounts in the asset's units, one destination (and how
    /// many more), the age; a request whose intent cannot be read shows "?" rather than failing.
    #[test]
    fn request_list_snapshot() {
        let sol = json!({
            "chain": "solana", "network": "testnet", "from": "Fm1x", "asset": "SOL",
            "transfers": [{ "to": "9xQe", "amount": "1500000000" }],
            "amount": "1500000000", "fee": "5000", "details": {}
        });
        let eth = json!({
            "chain": "ethereum", "network": "testnet", "from": "0xab", "asset": "ETH",
            "transfers": [{ "to": "0x11", "amount": "250000000000000000" },
                          { "to": "0x22", "amount": "1" }],
            "amount": "250000000000000001", "fee": "21000000000000", "details": {}
        });
        let now = 1_000_000_000;
        let rows = request_rows(
            &[
                request("req-12", "signed", sol, now - 42_000),
                request("req-40-3", "pending", eth, now - 7_200_000),
                request("req-41", "failed", json!({"bogus": true}), now - 90_000_000),
            ],
            now,
        );
        let got = table(&["REQUEST", "STATUS", "AMOUNT", "TO", "AGE"], &rows);
        let want = "\
REQUEST   STATUS   AMOUNT                                             TO              AGE
req-12    signed   1.5 SOL (1500000000 lamport)                       9xQe            42s
req-40-3  pending  0.250000000000000001 ETH (250000000000000001 wei)  0x11 (+1 more)  2h
req-41    failed   ?                                                  ?               1d
";
        assert_eq!(got, want, "\n{got}");
        assert_eq!(table(&["A"], &[]), "(none)\n");
    }

    /// `mpc vault list` and `mpc wallet list` for people.
    #[test]
    fn vault_and_wallet_list_snapshots() {
        let now = 1_000_000_000;
        let vaults = [json!({
            "vault_id": "treasury", "org_id": "acme", "name": "Treasury",
            "status": { "state": "active" }, "threshold": 2, "committee": [1, 2, 3],
            "epoch": 1, "created_at_ms": now - 300_000
        })];
        let got = table(
            &["VAULT", "ORG", "NAME", "STATUS", "SIGNERS", "EPOCH", "AGE"],
            &vault_rows(&vaults, now),
        );
        assert_eq!(
            got,
            "VAULT     ORG   NAME      STATUS  SIGNERS       EPOCH  AGE\n\
             treasury  acme  Treasury  active  2 of [1,2,3]  1      5m\n"
        );
        let wallets = [
            json!({ "wallet_id": "treasury-solana-testnet-0", "vault_id": "treasury",
                    "chain": "solana", "network": "testnet", "index": 0, "address": "6Eod" }),
            json!({ "wallet_id": "treasury-ethereum-mainnet-3", "vault_id": "treasury",
                    "chain": "ethereum", "network": "mainnet", "index": 3, "address": "0xA5" }),
        ];
        let got = table(
            &["WALLET", "VAULT", "CHAIN", "INDEX", "ADDRESS"],
            &wallet_rows(&wallets),
        );
        assert_eq!(
            got,
            "WALLET                       VAULT     CHAIN             INDEX  ADDRESS\n\
             treasury-solana-testnet-0    treasury  solana testnet    0      6Eod\n\
             treasury-ethereum-mainnet-3  treasury  ethereum mainnet  3      0xA5\n"
        );
    }

    #[test]
    fn ages_read_shortly() {
        assert_eq!(age(1_000, 1_000), "0s");
        assert_eq!(age(0, 59_999), "59s");
        assert_eq!(age(0, 60_000), "1m");
        assert_eq!(age(0, 3_600_000), "1h");
        assert_eq!(age(0, 86_400_000 * 3), "3d");
        assert_eq!(age(5_000, 1_000), "0s", "a clock behind the log");
    }
}
