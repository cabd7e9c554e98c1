//! JSON-RPC method implementations.

use super::auth::{authed, authorize};
use super::errors::RpcError;
use super::paging::paged_params;
use crate::cluster::ClusterHandle;
use jsonrpsee::types::{ErrorObjectOwned, Params};
use jsonrpsee::RpcModule;
use mpc_custody::command::{CommandBody, SignedCommand};
use mpc_custody::read_auth::ReadScope;
use mpc_custody::state::CommandOutcome;
use mpc_custody::types::{OrgId, UserKey};
use openraft::ServerState;
use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_json::{json, Value};

/// Most audit entries returned by one `audit_list` call.
const MAX_AUDIT_PAGE: u64 = 1000;

pub(super) type RpcResult = Result<Value, ErrorObjectOwned>;

pub(super) fn parse<T: DeserializeOwned + Default>(params: &Params<'_>) -> Result<T, RpcError> {
    match params.as_str() {
        None => Ok(T::default()),
        Some(raw) => serde_json::from_str(raw)
            .map_err(|e| RpcError::InvalidParams(format!("invalid params: {e}"))),
    }
}

#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct NoParams {}

paged_params! {
    struct ReadParams {
        linearizable: bool,
    }
}

paged_params! {
    struct MemberListParams {
        org_id: String,
        linearizable: bool,
    }
}

#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct OrgParams {
    #[serde(default)]
    org_id: String,
    #[serde(default)]
    linearizable: bool,
}

#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct AuditListParams {
    /// The organisation whose entries to list; only a genesis admin may omit it (all entries).
    #[serde(default)]
    org_id: Option<String>,
    #[serde(default)]
    offset: u64,
    #[serde(default)]
    limit: Option<u64>,
    #[serde(default)]
    linearizable: bool,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct WriteParams {
    command: SignedCommand,
}

/// The name of a Raft role, as `node_status` and `/metrics` show it.
pub fn role_name(s: ServerState) -> &'static str {
    match s {
        ServerState::Leader => "leader",
        ServerState::Follower => "follower",
        ServerState::Candidate => "candidate",
        ServerState::Learner => "learner",
        ServerState::Shutdown => "shutdown",
    }
}

pub(super) fn to_value<T: serde::Serialize>(v: &T) -> RpcResult {
    serde_json::to_value(v).map_err(|e| RpcError::Internal(e.to_string()).into())
}

/// Builds the module with every method.
pub fn module(cluster: ClusterHandle) -> anyhow::Result<RpcModule<ClusterHandle>> {
    let mut m = RpcModule::new(cluster);
    // node_status is registered with the engine's methods (rpc::custody): it shows aux info.
    m.register_async_method(
        "cluster_status",
        |p, c, _| async move { cluster_status(&p, &c) },
    )?;
    // Every signed write: params `{command}`, the command's action named as the method.
    for &action in super::WRITE_METHODS {
        m.register_async_method(
            action,
            move |p, c, _| async move { write(&p, &c, action).await },
        )?;
    }
    m.register_async_method("org_get", |p, c, _| async move { org_get(&p, &c).await })?;
    m.register_async_method("org_list", |p, c, _| async move { org_list(&p, &c).await })?;
    m.register_async_method(
        "member_list",
        |p, c, _| async move { member_list(&p, &c).await },
    )?;
    m.register_async_method(
        "audit_list",
        |p, c, _| async move { audit_list(&p, &c).await },
    )?;
    m.register_async_method("audit_verify", |p, c, _| async move {
        audit_verify(&p, &c).await
    })?;
    Ok(m)
}

pub(super) fn node_status(p: &Params<'_>, c: &ClusterHandle) -> RpcResult {
    let _: NoParams = parse(p)?;
    let metrics = c.raft().metrics().borrow().clone();
    let card = c.genesis().node(c.node_id());
    // A replacement host's own card is in its replacement record, not in the genesis.
    let (replaced, replacement) = c
        .read_state(|s| {
            s.current_replacement(c.node_id())
                .map(|r| (Some(r.card.clone()), r.replacement))
        })
        .ok()
        .flatten()
        .unwrap_or((None, 0));
    let removed = c.read_state(|s| s.is_removed(c.node_id())).unwrap_or(false);
    let connected: Vec<Value> = c
        .p2p()
        .connected_peers()
        .into_iter()
        .map(|peer| {
            let node_id = c.peers().node_of(&peer);
            json!({ "node_id": node_id, "peer_id": peer.to_string() })
        })
        .collect();
    Ok(json!({
        "node_id": c.node_id(),
        "peer_id": c.p2p().local_peer_id().to_string(),
        "network": c.genesis().network,
        "cluster_id": c.cluster_id(),
        "version": env!("CARGO_PKG_VERSION"),
        "role": role_name(metrics.state),
        "term": metrics.current_term,
        "leader": metrics.current_leader,
        "applied_index": metrics.last_applied.map(|l| l.index),
        "last_log_index": metrics.last_log_index,
        "connected_peers": connected,
        "refused_raft_rpcs": c.refused_rpcs(),
        "sealed": false,
        "p2p_addr": replaced.as_ref().map(|r| r.p2p_addr.clone()).or(card.map(|n| n.p2p_addr.clone())),
        "rpc_addr": replaced.as_ref().map(|r| r.rpc_addr.clone()).or(card.map(|n| n.rpc_addr.clone())),
        "replacement": replaced.as_ref().map(|_| replacement),
        "removed": removed,
    }))
}

/// A node as `cluster_status` lists it.
struct Member {
    node_id: u64,
    peer_id: String,
    p2p_addr: String,
    rpc_addr: String,
}

fn cluster_status(p: &Params<'_>, c: &ClusterHandle) -> RpcResult {
    let _: NoParams = parse(p)?;
    let metrics = c.raft().metrics().borrow().clone();
    let statuses = c.statuses().snapshot();
    let connected = c.p2p().connected_peers();
    let replaced: std::collections::BTreeMap<u64, (mpc_custody::membership::NodeCard, u32)> = c
        .read_state(|s| {
            s.genesis()
                .nodes
                .keys()
                .filter_map(|n| {
                    s.current_replacement(*n)
                        .map(|r| (*n, (r.card.clone(), r.replacement)))
                })
                .collect()
        })
        .unwrap_or_default();
    let removed: std::collections::BTreeSet<u64> = c
        .read_state(|s| s.removed_nodes().collect())
        .unwrap_or_default();
    let voters: Vec<u64> = metrics.membership_config.membership().voter_ids().collect();
    let now = crate::clock::now_ms();
    // The genesis nodes, then the nodes added since (as their verified cards name them).
    let added: Vec<Member> = c
        .read_state(|s| {
            s.additions()
                .filter(|a| s.verified_addition(a.node_id).is_ok())
                .filter_map(|a| {
                    let peer = crate::p2p::peers::peer_id_of(&a.card.identity_key.0).ok()?;
                    Some(Member {
                        node_id: a.node_id,
                        peer_id: peer.to_string(),
                        p2p_addr: a.card.p2p_addr.clone(),
                        rpc_addr: a.card.rpc_addr.clone(),
                    })
                })
                .collect()
        })
        .unwrap_or_default();
    let genesis_nodes = c.genesis().nodes.iter().map(|n| Member {
        node_id: n.node_id,
        peer_id: n.peer_id.clone(),
        p2p_addr: n.p2p_addr.clone(),
        rpc_addr: n.rpc_addr.clone(),
    });
    let members: Vec<Value> = genesis_nodes
        .chain(added)
        .map(|n| {
            let is_self = n.node_id == c.node_id();
            // A node does not receive its own gossip: report itself from local metrics.
            let own;
            let entry = if is_self {
                own = (
                    crate::heartbeat::Heartbeat {
                        node_id: n.node_id,
                        role: role_name(metrics.state).to_string(),
                        term: metrics.current_term,
                        applied_index: metrics.last_applied.map(|l| l.index).unwrap_or(0),
                        leader: metrics.current_leader,
                        version: env!("CARGO_PKG_VERSION").to_string(),
                        sent_at_ms: now,
                    },
                    now,
                );
                Some(&own)
            } else {
                statuses.get(&n.node_id)
            };
            let hb = entry.map(|(hb, at)| {
                json!({
                    "received_at_ms": at,
                    "age_ms": now.saturating_sub(*at),
                    "role": hb.role,
                    "term": hb.term,
                    "applied_index": hb.applied_index,
                    "leader": hb.leader,
                    "version": hb.version,
                })
            });
            // A replaced node: its new host, as pinned from the verified replacement.
            let pinned = c.peers().get(n.node_id);
            let card = replaced.get(&n.node_id);
            let peer_id = pinned
                .as_ref()
                .map(|p| p.peer.to_string())
                .unwrap_or_else(|| n.peer_id.clone());
            json!({
                "node_id": n.node_id,
                "peer_id": peer_id,
                "p2p_addr": card.map_or(n.p2p_addr.clone(), |(c, _)| c.p2p_addr.clone()),
                "rpc_addr": card.map_or(n.rpc_addr.clone(), |(c, _)| c.rpc_addr.clone()),
                "replacement": card.map(|(_, r)| *r),
                "removed": removed.contains(&n.node_id),
                "raft_voter": voters.contains(&n.node_id),
                "self": is_self,
                "connected": is_self || connected.iter().any(|p| p.to_string() == peer_id),
                "last_heartbeat": hb,
            })
        })
        .collect();
    Ok(json!({
        "network": c.genesis().network,
        "cluster_id": c.cluster_id(),
        "threshold": c.genesis().threshold,
        "leader": metrics.current_leader,
        "term": metrics.current_term,
        "members": members,
    }))
}

pub(super) fn outcome_to_result(outcome: CommandOutcome) -> RpcResult {
    if let Some(reason) = outcome.error {
        return Err(RpcError::Rejected {
            reason,
            audit_seq: outcome.audit_seq,
            log_index: outcome.log_index,
        }
        .into());
    }
    Ok(json!({
        "result": outcome.result,
        "audit_seq": outcome.audit_seq,
        "log_index": outcome.log_index,
        "replayed": outcome.replayed,
    }))
}

pub(super) async fn write(p: &Params<'_>, c: &ClusterHandle, expected_action: &str) -> RpcResult {
    let Some(raw) = p.as_str() else {
        return Err(RpcError::InvalidParams("params must be {\"command\": {...}}".into()).into());
    };
    let params: WriteParams = serde_json::from_str(raw)
        .map_err(|e| RpcError::InvalidParams(format!("invalid params: {e}")))?;
    // Cheap syntax check of the action kind before the full verification in `submit`.
    let body: CommandBody = serde_json::from_str(&params.command.body)
        .map_err(|e| RpcError::InvalidCommand(format!("malformed command body: {e}")))?;
    if body.action.kind() != expected_action {
        return Err(RpcError::InvalidCommand(format!(
            "this method takes a {expected_action} command, not {}",
            body.action.kind()
        ))
        .into());
    }
    let outcome = c.submit(params.command).await.map_err(RpcError::from)?;
    if let Some(mpc_custody::state::ActionResult::Request { request }) = &outcome.result {
        tracing::debug!(
            method = expected_action,
            request_id = %request.request_id,
            status = request.status.name(),
            log_index = outcome.log_index,
            replayed = outcome.replayed,
            "request write committed"
        );
    }
    outcome_to_result(outcome)
}

pub(super) async fn barrier(c: &ClusterHandle, linearizable: bool) -> Result<(), ErrorObjectOwned> {
    if linearizable {
        c.read_barrier().await.map_err(RpcError::from)?;
    }
    Ok(())
}

fn org_id(raw: String) -> Result<OrgId, ErrorObjectOwned> {
    let id = OrgId(raw);
    id.validate()
        .map_err(|e| ErrorObjectOwned::from(RpcError::InvalidParams(e)))?;
    Ok(id)
}

async fn org_get(p: &Params<'_>, c: &ClusterHandle) -> RpcResult {
    let (params, reader): (OrgParams, _) = authed(p, c, "org_get")?;
    let id = org_id(params.org_id)?;
    authorize(c, &reader, &id, ReadScope::Org)?;
    barrier(c, params.linearizable).await?;
    match c
        .read_state(|s| s.org(&id).cloned())
        .map_err(RpcError::from)?
    {
        Some(org) => to_value(&org),
        None => Err(RpcError::NotFound(format!("no organisation '{id}'")).into()),
    }
}

/// The organisations the reader may see: those it is a member of (every one for a genesis
/// admin).
async fn org_list(p: &Params<'_>, c: &ClusterHandle) -> RpcResult {
    let (mut params, reader): (ReadParams, _) = authed(p, c, "org_list")?;
    let page = params.page("org_list")?;
    barrier(c, params.linearizable).await?;
    let (orgs, next) = c
        .read_state(|s| {
            let readable = s.readable_orgs(&reader, ReadScope::Org);
            let all = s
                .orgs()
                .filter(|o| readable.contains(&o.org_id))
                .map(|o| (o.org_id.to_string(), o))
                .collect();
            let (items, next) = page.take(all);
            (items.into_iter().cloned().collect::<Vec<_>>(), next)
        })
        .map_err(RpcError::from)?;
    to_value(&json!({ "orgs": orgs, "next_cursor": next }))
}

async fn member_list(p: &Params<'_>, c: &ClusterHandle) -> RpcResult {
    let (mut params, reader): (MemberListParams, _) = authed(p, c, "member_list")?;
    let page = params.page("member_list")?;
    let id = org_id(params.org_id)?;
    authorize(c, &reader, &id, ReadScope::Book)?;
    barrier(c, params.linearizable).await?;
    let members = c
        .read_state(|s| {
            s.org(&id).map(|_| {
                let all = s
                    .org_members(&id)
                    .map(|m| (m.user_id.to_string(), m))
                    .collect();
                let (items, next) = page.take(all);
                (items.into_iter().cloned().collect::<Vec<_>>(), next)
            })
        })
        .map_err(RpcError::from)?;
    match members {
        Some((m, next)) => to_value(&json!({ "org_id": id, "members": m, "next_cursor": next })),
        None => Err(RpcError::NotFound(format!("no organisation '{id}'")).into()),
    }
}

/// Refuses a whole-log audit read unless the reader is a genesis admin.
fn audit_scope(
    c: &ClusterHandle,
    reader: &UserKey,
    org: Option<String>,
) -> Result<Option<OrgId>, ErrorObjectOwned> {
    match org {
        Some(raw) => {
            let id = org_id(raw)?;
            authorize(c, reader, &id, ReadScope::Audit)?;
            Ok(Some(id))
        }
        None => {
            let genesis = c
                .read_state(|s| s.is_genesis_admin(reader))
                .map_err(RpcError::from)?;
            if genesis {
                Ok(None)
            } else {
                Err(RpcError::Forbidden(
                    "only a genesis admin may read the whole audit log; pass org_id".into(),
                )
                .into())
            }
        }
    }
}

async fn audit_list(p: &Params<'_>, c: &ClusterHandle) -> RpcResult {
    let (params, reader): (AuditListParams, _) = authed(p, c, "audit_list")?;
    let limit = params.limit.unwrap_or(100);
    if limit == 0 || limit > MAX_AUDIT_PAGE {
        return Err(RpcError::InvalidParams(format!("limit must be 1 to {MAX_AUDIT_PAGE}")).into());
    }
    let org = audit_scope(c, &reader, params.org_id)?;
    barrier(c, params.linearizable).await?;
    // `offset` and `total` count the entries the reader may see (the organisation's, or all).
    let (total, entries) = c
        .read_state(|s| {
            let all = s.audit();
            let visible: Vec<&mpc_custody::audit::AuditEntry> = all
                .iter()
                .filter(|e| org.is_none() || e.org_id == org)
                .collect();
            let start = usize::try_from(params.offset)
                .unwrap_or(usize::MAX)
                .min(visible.len());
            let end = start.saturating_add(limit as usize).min(visible.len());
            (
                visible.len() as u64,
                visible[start..end]
                    .iter()
                    .map(|e| (*e).clone())
                    .collect::<Vec<_>>(),
            )
        })
        .map_err(RpcError::from)?;
    let next = params.offset.saturating_add(entries.len() as u64);
    to_value(&json!({
        "org_id": org,
        "total": total,
        "offset": params.offset,
        "entries": entries,
        "next_offset": if next < total { Some(next) } else { None },
    }))
}

async fn audit_verify(p: &Params<'_>, c: &ClusterHandle) -> RpcResult {
    let (params, reader): (OrgParams, _) = authed(p, c, "audit_verify")?;
    let org = (!params.org_id.is_empty()).then_some(params.org_id);
    audit_scope(c, &reader, org)?;
    barrier(c, params.linearizable).await?;
    let report = c.read_state(|s| s.audit_verify()).map_err(RpcError::from)?;
    to_value(&report)
}
