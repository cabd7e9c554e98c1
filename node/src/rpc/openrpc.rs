//! The OpenRPC document `rpc.discover` returns (issue 16): every method the server registers,
//! with its params, result and errors, built from the same lists that class the methods
//! (signed writes, authenticated reads, open reads, passkey methods) and a table of each read's
//! params here. A test checks that the document names exactly the served methods and that
//! `docs/openrpc.json` is this document; `testnet/tests/openrpc.rs` validates it against the
//! OpenRPC meta-schema.

use serde_json::{json, Value};

/// One param of a read: name, whether required, JSON schema, description.
type Param = (&'static str, bool, Value, &'static str);

fn string() -> Value {
    json!({ "type": "string" })
}
fn boolean() -> Value {
    json!({ "type": "boolean" })
}
fn integer() -> Value {
    json!({ "type": "integer", "minimum": 0 })
}

fn org_id(required: bool) -> Param {
    (
        "org_id",
        required,
        string(),
        "Organisation id (`[a-z0-9._-]`, 1–64)",
    )
}
fn linearizable() -> Param {
    (
        "linearizable",
        false,
        boolean(),
        "Wait until this node has applied everything committed before the call (a read barrier)",
    )
}
fn paging() -> [Param; 2] {
    [
        (
            "cursor",
            false,
            string(),
            "The previous page's next_cursor (opaque)",
        ),
        (
            "limit",
            false,
            json!({ "type": "integer", "minimum": 1, "maximum": 500 }),
            "Most items to return (default 500)",
        ),
    ]
}
fn auth() -> Param {
    (
        "auth",
        true,
        json!({ "$ref": "#/components/schemas/ReadAuth" }),
        "The reader's signature over method, params and time (docs/api.md, Authenticated reads)",
    )
}

/// Summary and params of each read (authenticated, open or passkey), without `auth`.
fn read_params(method: &str) -> Option<(&'static str, Vec<Param>)> {
    let id = |name: &'static str, what: &'static str| (name, true, string(), what);
    let lin = linearizable();
    let list = |summary: &'static str, mut p: Vec<Param>| {
        p.extend(paging());
        p.push(linearizable());
        Some((summary, p))
    };
    match method {
        "node_status" => Some((
            "This node: role, term, leader, applied index, peers",
            vec![],
        )),
        "cluster_status" => Some(("Every member node and its last heartbeat", vec![])),
        "engine_status" => Some((
            "This node's threshold engine: aux info, sessions, session hub",
            vec![],
        )),
        "rpc.discover" => Some(("This OpenRPC document", vec![])),
        "org_get" => Some(("One organisation", vec![org_id(true), lin])),
        "org_list" => list("The reader's organisations, by id (paged)", vec![]),
        "member_list" => list(
            "Members of an organisation, by user id (paged)",
            vec![org_id(true)],
        ),
        "audit_list" => Some((
            "The audit log, paged by offset",
            vec![
                org_id(false),
                ("offset", false, integer(), "First entry to return"),
                ("limit", false, integer(), "Most entries to return"),
                lin,
            ],
        )),
        "audit_verify" => Some(("Recompute the audit hash chain", vec![org_id(false), lin])),
        "vault_get" => Some(("One vault", vec![id("vault_id", "Vault id"), lin])),
        "vault_list" => list("Vaults, by id (paged)", vec![org_id(false)]),
        "wallet_get" => Some(("One wallet", vec![id("wallet_id", "Wallet id"), lin])),
        "wallet_list" => list(
            "Wallets, by id (paged)",
            vec![("vault_id", false, string(), "Only this vault's")],
        ),
        "wallet_presignatures" => Some((
            "A wallet's presignature (ECDSA) or nonce (FROST) pool",
            vec![id("wallet_id", "Wallet id"), lin],
        )),
        "wallet_balance" => Some((
            "A wallet's balance through this node's chain provider",
            vec![
                id("wallet_id", "Wallet id"),
                (
                    "asset",
                    false,
                    string(),
                    "A registered token's symbol (default: native)",
                ),
                lin,
            ],
        )),
        "tx_build" => Some((
            "An unsigned transfer built from the chain (payload for request_submit)",
            vec![
                id("wallet_id", "Wallet id"),
                id("to", "Destination address"),
                (
                    "amount",
                    false,
                    string(),
                    "Amount in the asset's units (e.g. \"0.5\")",
                ),
                (
                    "amount_base_units",
                    false,
                    string(),
                    "Amount in base units, instead of amount",
                ),
                ("asset", false, string(), "A registered token's symbol"),
                (
                    "fee_level",
                    false,
                    json!({ "type": "string", "enum": ["low", "medium", "high"] }),
                    "Fee level",
                ),
                (
                    "durable_nonce_account",
                    false,
                    string(),
                    "Solana: build over this durable nonce account",
                ),
                lin,
            ],
        )),
        "addressbook_list" => list("An organisation's address book (paged)", vec![org_id(true)]),
        "asset_list" => list(
            "An organisation's token registry (paged)",
            vec![org_id(true)],
        ),
        "policy_get" => Some((
            "A vault's policy in force",
            vec![id("vault_id", "Vault id"), lin],
        )),
        "request_get" => Some((
            "One signing request",
            vec![id("request_id", "Request id"), lin],
        )),
        "request_list" => list(
            "Signing requests in log order (paged)",
            vec![
                org_id(false),
                ("status", false, string(), "Only requests in this state"),
            ],
        ),
        "request_subscribe" => Some((
            "WebSocket subscription to request changes (notifications: the request)",
            vec![(
                "request_id",
                false,
                string(),
                "Only this request (default: every request the reader may read)",
            )],
        )),
        "request_unsubscribe" => Some((
            "Ends a request_subscribe subscription",
            vec![(
                "subscription",
                true,
                string(),
                "The subscription id request_subscribe returned",
            )],
        )),
        "proposal_list" => list(
            "An organisation's governance proposals in log order (paged)",
            vec![
                org_id(true),
                (
                    "status",
                    false,
                    string(),
                    "open (default), all, or one status",
                ),
            ],
        ),
        "proposal_get" => Some((
            "One governance proposal",
            vec![id("proposal_id", "Proposal id"), lin],
        )),
        "console_challenge" => Some((
            "A sign-in challenge for the web console (nonce to sign with a passkey)",
            vec![],
        )),
        "console_sign_in" => Some((
            "Sign in to the web console with a passkey assertion over a challenge",
            vec![
                org_id(true),
                id("nonce", "The challenge's nonce (base64url)"),
                id("credential_id", "Passkey credential id (base64url)"),
                id(
                    "authenticator_data",
                    "WebAuthn authenticator data (base64url)",
                ),
                id("client_data_json", "WebAuthn client data JSON (base64url)"),
                id("signature", "WebAuthn assertion signature (base64url)"),
            ],
        )),
        "console_sign_out" => Some((
            "End a console session",
            vec![id("session", "The session token")],
        )),
        "request_passkey_decide" => Some((
            "Approve or reject a request with a passkey assertion bound to it",
            vec![(
                "decision",
                true,
                json!({ "type": "object" }),
                "org_id, request_id, decision (approve|reject), reason, and the WebAuthn \
                 assertion (credential_id, authenticator_data, client_data_json, signature)",
            )],
        )),
        _ => None,
    }
}

/// The result's schema: lists and their paging, the key fields of single records; other
/// results an object (docs/api.md describes each in full).
fn result_schema(method: &str) -> Value {
    let list = |field: &str| {
        json!({
            "type": "object",
            "required": [field, "next_cursor"],
            "properties": {
                field: { "type": "array", "items": { "type": "object" } },
                "next_cursor": { "type": ["string", "null"],
                                 "description": "Pass as cursor for the next page; null on the last" },
            },
        })
    };
    let record = |required: &[&str]| {
        let properties: serde_json::Map<String, Value> = required
            .iter()
            .map(|f| (f.to_string(), json!({})))
            .collect();
        json!({ "type": "object", "required": required, "properties": properties })
    };
    match method {
        "request_list" => list("requests"),
        "vault_list" => list("vaults"),
        "wallet_list" => list("wallets"),
        "addressbook_list" => list("entries"),
        "asset_list" => list("assets"),
        "proposal_list" => list("proposals"),
        "org_list" => list("orgs"),
        "member_list" => list("members"),
        "audit_list" => record(&["entries", "total", "offset", "next_offset"]),
        "request_get" => record(&["request_id", "status", "intent", "intent_digest", "payload"]),
        "vault_get" => record(&["vault_id", "org_id", "status", "committee", "threshold"]),
        "wallet_get" => record(&["wallet_id", "vault_id", "chain", "network", "address"]),
        "proposal_get" => record(&["proposal_id", "org_id", "status"]),
        "org_get" => record(&["org_id", "name"]),
        "node_status" => record(&["node_id", "role", "term", "applied_index"]),
        "cluster_status" => record(&["members"]),
        "wallet_presignatures" => record(&["wallet_id", "kind", "ready", "target"]),
        "rpc.discover" => record(&["openrpc", "info", "methods"]),
        _ => json!({ "type": "object" }),
    }
}

fn error(code: i32, message: &str) -> Value {
    json!({ "code": code, "message": message })
}

/// Errors any method may answer.
fn common_errors() -> Vec<Value> {
    use super::errors::*;
    vec![
        error(INVALID_PARAMS, "invalid params"),
        error(UNAVAILABLE, "unavailable"),
        error(INTERNAL, "internal error"),
    ]
}

fn param_values(params: Vec<Param>) -> Vec<Value> {
    params
        .into_iter()
        .map(|(name, required, schema, description)| {
            json!({ "name": name, "required": required, "schema": schema,
                    "description": description })
        })
        .collect()
}

/// The document for a server answering `methods`, in that order (`None`: a method neither
/// signed nor described here).
pub fn document(methods: &[&str]) -> Result<Value, String> {
    use super::errors::*;
    use mpc_custody::read_auth::needs_auth;
    let mut out = Vec::new();
    let mut names: Vec<&str> = methods.to_vec();
    names.sort_unstable();
    for name in names {
        let m = if super::WRITE_METHODS.contains(&name) {
            let mut errors = common_errors();
            errors.extend([
                error(INVALID_COMMAND, "invalid command"),
                error(COMMAND_REJECTED, "command rejected"),
                error(REFUSED, "refused before the log"),
            ]);
            json!({
                "name": name,
                "summary": format!("Signed `{name}` command (docs/api.md)"),
                "paramStructure": "by-name",
                "params": [{
                    "name": "command", "required": true,
                    "schema": { "$ref": "#/components/schemas/SignedCommand" },
                    "description": format!("A user's signed command whose action type is {name}"),
                }],
                "result": { "name": "outcome",
                            "schema": { "$ref": "#/components/schemas/CommandOutcome" } },
                "errors": errors,
            })
        } else {
            let (summary, mut params) =
                read_params(name).ok_or_else(|| format!("method {name} is not described"))?;
            let mut errors = common_errors();
            if needs_auth(name) {
                params.push(auth());
                errors.extend([
                    error(UNAUTHENTICATED, "unauthenticated"),
                    error(FORBIDDEN, "forbidden"),
                    error(REFUSED, "refused (rate)"),
                ]);
            }
            if name.ends_with("_get") || name == "wallet_presignatures" {
                errors.push(error(NOT_FOUND, "not found"));
            }
            json!({
                "name": name,
                "summary": summary,
                "paramStructure": "by-name",
                "params": param_values(params),
                "result": { "name": "result", "schema": result_schema(name) },
                "errors": errors,
            })
        };
        out.push(m);
    }
    Ok(json!({
        "openrpc": "1.2.6",
        "info": {
            "title": "mpc-node JSON-RPC",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "Threshold-signature custody node. Every call over TLS 1.3 with the \
                node's pinned certificate; docs/api.md explains each method in full.",
            "license": { "name": "Apache-2.0" },
        },
        "methods": out,
        "components": { "schemas": {
            "SignedCommand": {
                "type": "object",
                "required": ["body", "signer", "signature"],
                "additionalProperties": false,
                "properties": {
                    "body": { "type": "string", "description": "The command body's JSON text, exactly as signed" },
                    "signer": { "type": "string", "description": "The signer's Ed25519 public key (hex)" },
                    "signature": { "type": "string", "description": "Ed25519 signature (hex)" },
                },
            },
            "CommandOutcome": {
                "type": "object",
                "required": ["log_index", "replayed"],
                "properties": {
                    "result": { "type": "object" },
                    "audit_seq": { "type": "integer" },
                    "log_index": { "type": "integer" },
                    "replayed": { "type": "boolean" },
                    "item": { "type": "integer", "description": "Place in a batch entry (decision 0035)" },
                },
            },
            "ReadAuth": {
                "type": "object",
                "required": ["signer", "timestamp_ms", "signature"],
                "additionalProperties": false,
                "properties": {
                    "signer": { "type": "string" },
                    "timestamp_ms": { "type": "integer" },
                    "signature": { "type": "string" },
                },
            },
        } },
    }))
}
