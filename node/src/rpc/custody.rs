//! JSON-RPC methods for vaults, wallets, the address book, policies and signing requests, and
//! the `request_subscribe` WebSocket subscription.

use super::auth::{authed, authorize};
use super::errors::RpcError;
use super::methods::{barrier, node_status, to_value};
use super::paging::{paged_params, request_key};
use crate::cluster::ClusterHandle;
use crate::runner::Runner;
use jsonrpsee::types::Params;
use jsonrpsee::{PendingSubscriptionSink, RpcModule, SubscriptionMessage};
use mpc_custody::read_auth::ReadScope;
use mpc_custody::types::OrgId;
use mpc_custody::Request;
use serde_json::json;

paged_params! {
    struct IdParams {
        vault_id: Option<String>,
        wallet_id: Option<String>,
        request_id: Option<String>,
        org_id: Option<String>,
        status: Option<String>,
        linearizable: bool,
    }
}

fn need(v: Option<String>, what: &str) -> Result<String, RpcError> {
    match v {
        Some(s) if !s.is_empty() && s.len() <= 200 => Ok(s),
        _ => Err(RpcError::InvalidParams(format!("{what} is required"))),
    }
}

fn org(v: Option<String>) -> Result<Option<OrgId>, RpcError> {
    v.map(|s| {
        let id = OrgId(s);
        id.validate().map(|_| id).map_err(RpcError::InvalidParams)
    })
    .transpose()
}

/// Registers the custody reads, `node_status`, `engine_status` and the subscription (the
/// writes are registered from `rpc::WRITE_METHODS`).
pub fn register(m: &mut RpcModule<ClusterHandle>, runner: Runner) -> anyhow::Result<()> {
    m.register_async_method("vault_get", |p, c, _| async move {
        let (q, reader): (IdParams, _) = authed(&p, &c, "vault_get")?;
        let id = need(q.vault_id, "vault_id")?;
        barrier(&c, q.linearizable).await?;
        match c
            .read_state(|s| s.vault(&id).cloned())
            .map_err(RpcError::from)?
        {
            Some(v) => {
                authorize(&c, &reader, &v.org_id, ReadScope::Book)?;
                to_value(&v)
            }
            None => Err(RpcError::NotFound(format!("no vault '{id}'")).into()),
        }
    })?;
    m.register_async_method("vault_list", |p, c, _| async move {
        let (mut q, reader): (IdParams, _) = authed(&p, &c, "vault_list")?;
        let page = q.page("vault_list")?;
        let o = org(q.org_id)?;
        if let Some(o) = &o {
            authorize(&c, &reader, o, ReadScope::Book)?;
        }
        barrier(&c, q.linearizable).await?;
        let v = c
            .read_state(|s| {
                let readable = s.readable_orgs(&reader, ReadScope::Book);
                let all = s
                    .vaults(o.as_ref())
                    .filter(|v| readable.contains(&v.org_id))
                    .map(|v| (v.vault_id.to_string(), v))
                    .collect();
                let (items, next) = page.take(all);
                (items.into_iter().cloned().collect::<Vec<_>>(), next)
            })
            .map_err(RpcError::from)?;
        to_value(&json!({ "vaults": v.0, "next_cursor": v.1 }))
    })?;
    m.register_async_method("wallet_get", |p, c, _| async move {
        let (q, reader): (IdParams, _) = authed(&p, &c, "wallet_get")?;
        let id = need(q.wallet_id, "wallet_id")?;
        barrier(&c, q.linearizable).await?;
        match c
            .read_state(|s| s.wallet(&id).cloned())
            .map_err(RpcError::from)?
        {
            Some(w) => {
                authorize(&c, &reader, &w.org_id, ReadScope::Book)?;
                to_value(&w)
            }
            None => Err(RpcError::NotFound(format!("no wallet '{id}'")).into()),
        }
    })?;
    m.register_async_method("wallet_presignatures", |p, c, _| async move {
        let (q, reader): (IdParams, _) = authed(&p, &c, "wallet_presignatures")?;
        let id = need(q.wallet_id, "wallet_id")?;
        barrier(&c, q.linearizable).await?;
        let (wallet, pool) = c
            .read_state(|s| (s.wallet(&id).cloned(), s.presig_pool(&id).cloned()))
            .map_err(RpcError::from)?;
        let Some(wallet) = wallet else {
            return Err(RpcError::NotFound(format!("no wallet '{id}'")).into());
        };
        authorize(&c, &reader, &wallet.org_id, ReadScope::Org)?;
        match pool {
            Some(p) => to_value(&json!({
                "wallet_id": id,
                "kind": if p.frost { "frost_nonces" } else { "ecdsa_presignatures" },
                "signers": p.signers,
                "ready": p.ready.len(),
                "ready_seqs": p.ready,
                "generating": p.generating.len(),
                "epoch": p.epoch,
                "used": p.used,
                "failures_in_row": p.failures_in_row,
                "target": p.target,
            })),
            None => Err(RpcError::NotFound(format!(
                "wallet '{id}' has no presignature or nonce pool"
            ))
            .into()),
        }
    })?;
    m.register_async_method("wallet_list", |p, c, _| async move {
        let (mut q, reader): (IdParams, _) = authed(&p, &c, "wallet_list")?;
        let page = q.page("wallet_list")?;
        barrier(&c, q.linearizable).await?;
        let v = c
            .read_state(|s| {
                let readable = s.readable_orgs(&reader, ReadScope::Book);
                let all = s
                    .wallets(q.vault_id.as_deref())
                    .filter(|w| readable.contains(&w.org_id))
                    .map(|w| (w.wallet_id.to_string(), w))
                    .collect();
                let (items, next) = page.take(all);
                (items.into_iter().cloned().collect::<Vec<_>>(), next)
            })
            .map_err(RpcError::from)?;
        to_value(&json!({ "wallets": v.0, "next_cursor": v.1 }))
    })?;
    m.register_async_method("addressbook_list", |p, c, _| async move {
        let (mut q, reader): (IdParams, _) = authed(&p, &c, "addressbook_list")?;
        let page = q.page("addressbook_list")?;
        let o =
            org(q.org_id)?.ok_or_else(|| RpcError::InvalidParams("org_id is required".into()))?;
        authorize(&c, &reader, &o, ReadScope::Book)?;
        barrier(&c, q.linearizable).await?;
        let v = c
            .read_state(|s| {
                let all = s
                    .address_book(&o)
                    .map(|e| (format!("{:?}/{:?}/{}", e.chain, e.network, e.address), e))
                    .collect();
                let (items, next) = page.take(all);
                (items.into_iter().cloned().collect::<Vec<_>>(), next)
            })
            .map_err(RpcError::from)?;
        to_value(&json!({ "org_id": o, "entries": v.0, "next_cursor": v.1 }))
    })?;
    m.register_async_method("asset_list", |p, c, _| async move {
        let (mut q, reader): (IdParams, _) = authed(&p, &c, "asset_list")?;
        let page = q.page("asset_list")?;
        let o =
            org(q.org_id)?.ok_or_else(|| RpcError::InvalidParams("org_id is required".into()))?;
        authorize(&c, &reader, &o, ReadScope::Book)?;
        barrier(&c, q.linearizable).await?;
        let v = c
            .read_state(|s| {
                let all = s
                    .assets(&o)
                    .map(|a| {
                        let key =
                            format!("{:?}/{:?}/{}/{}", a.chain, a.network, a.symbol, a.contract);
                        (key, a)
                    })
                    .collect();
                let (items, next) = page.take(all);
                (items.into_iter().cloned().collect::<Vec<_>>(), next)
            })
            .map_err(RpcError::from)?;
        to_value(&json!({ "org_id": o, "assets": v.0, "next_cursor": v.1 }))
    })?;
    m.register_async_method("policy_get", |p, c, _| async move {
        let (q, reader): (IdParams, _) = authed(&p, &c, "policy_get")?;
        let id = need(q.vault_id, "vault_id")?;
        barrier(&c, q.linearizable).await?;
        let (vault, policy) = c
            .read_state(|s| (s.vault(&id).cloned(), s.policy(&id).cloned()))
            .map_err(RpcError::from)?;
        let Some(vault) = vault else {
            return Err(RpcError::NotFound(format!("no vault '{id}'")).into());
        };
        authorize(&c, &reader, &vault.org_id, ReadScope::Book)?;
        match policy {
            Some(v) => to_value(&v),
            None => Err(RpcError::NotFound(format!("vault '{id}' has no policy")).into()),
        }
    })?;
    m.register_async_method("request_get", |p, c, _| async move {
        let (q, reader): (IdParams, _) = authed(&p, &c, "request_get")?;
        let id = need(q.request_id, "request_id")?;
        barrier(&c, q.linearizable).await?;
        match c
            .read_state(|s| s.request(&id).cloned())
            .map_err(RpcError::from)?
        {
            Some(r) => {
                authorize(&c, &reader, &r.org_id, ReadScope::Book)?;
                to_value(&r)
            }
            None => Err(RpcError::NotFound(format!("no request '{id}'")).into()),
        }
    })?;
    m.register_async_method("request_list", |p, c, _| async move {
        let (mut q, reader): (IdParams, _) = authed(&p, &c, "request_list")?;
        let page = q.page("request_list")?;
        let o = org(q.org_id)?;
        if let Some(o) = &o {
            authorize(&c, &reader, o, ReadScope::Book)?;
        }
        barrier(&c, q.linearizable).await?;
        let status = q.status;
        let v = c
            .read_state(|s| {
                let readable = s.readable_orgs(&reader, ReadScope::Book);
                let all = s
                    .requests(o.as_ref())
                    .filter(|r| readable.contains(&r.org_id))
                    .filter(|r| status.as_deref().is_none_or(|st| r.status.name() == st))
                    .map(|r| (request_key(&r.request_id), r))
                    .collect();
                let (items, next) = page.take(all);
                (items.into_iter().cloned().collect::<Vec<_>>(), next)
            })
            .map_err(RpcError::from)?;
        to_value(&json!({ "requests": v.0, "next_cursor": v.1 }))
    })?;
    let r = runner.clone();
    m.register_async_method("node_status", move |p, c, _| {
        let r = r.clone();
        async move {
            let mut v = node_status(&p, &c)?;
            v["ecdsa_aux_info"] = to_value(&r.aux_status())?;
            Ok::<_, jsonrpsee::types::ErrorObjectOwned>(v)
        }
    })?;
    m.register_async_method("engine_status", move |_p, _c, _| {
        let r = runner.clone();
        async move {
            to_value(&json!({
                "ecdsa_aux_info": r.aux_status(),
                "signing_sessions_started": r.signing_sessions(),
                "engine": r.engine_stats(),
                "session_hub": r.hub_stats(),
            }))
        }
    })?;
    m.register_subscription(
        "request_subscribe",
        "request_status",
        "request_unsubscribe",
        |p, pending, c, _| async move { subscribe(p, pending, c).await },
    )?;
    Ok(())
}

/// Sends `{request_id, status, chain, request}` for the current state of the request (or of every
/// request), then once per change as it is applied here — every transition, in order. A
/// subscriber that falls far behind is resynchronised from the state (changes it missed in
/// between are then reported as the latest state only).
async fn subscribe(
    p: Params<'static>,
    pending: PendingSubscriptionSink,
    c: std::sync::Arc<ClusterHandle>,
) {
    let (q, reader): (IdParams, _) = match authed(&p, &c, "request_subscribe") {
        Ok(q) => q,
        Err(e) => {
            pending
                .reject(jsonrpsee::types::ErrorObjectOwned::from(e))
                .await;
            return;
        }
    };
    let Ok(sink) = pending.accept().await else {
        return;
    };
    let filter = q.request_id;
    // Only requests of organisations whose book the reader may read, checked at each event
    // against the membership then in force (a member removed stops receiving). Takes the
    // state it checks against: one read, never a read inside another (that deadlocked the node
    // against a waiting apply).
    let wanted = |s: &mpc_custody::state::CustodyState, r: &Request| {
        filter.as_deref().is_none_or(|f| r.request_id == f)
            && s.may_read(&reader, &r.org_id, ReadScope::Book).is_ok()
    };
    let send = |r: &Request| {
        let msg = json!({
            "request_id": r.request_id,
            "status": r.status.name(),
            "chain": r.chain.as_ref().map(|c| c.state.name()),
            "request": r,
        });
        serde_json::value::to_raw_value(&msg).map(SubscriptionMessage::from)
    };
    // Subscribe before reading the state, so nothing falls between the two.
    let mut events = c.subscribe_requests();
    let mut resync = true;
    // Log time of the latest change sent. Log time never goes backwards, so after a lag the
    // changes missed are among the requests updated at or after it: a resync sends those, not
    // every request ever made (that took seconds on a busy network and delayed every event).
    let mut since_ms = 0u64;
    loop {
        if resync {
            resync = false;
            let current: Vec<Request> = c
                .read_state(|s| {
                    s.requests(None)
                        .filter(|r| r.updated_at_ms >= since_ms && wanted(s, r))
                        .cloned()
                        .collect()
                })
                .unwrap_or_default();
            for r in &current {
                since_ms = since_ms.max(r.updated_at_ms);
                let Ok(m) = send(r) else { return };
                if sink.send(m).await.is_err() {
                    return;
                }
            }
        }
        tokio::select! {
            _ = sink.closed() => return,
            ev = events.recv() => match ev {
                Ok(r) if c.read_state(|s| wanted(s, &r)).unwrap_or(false) => {
                    since_ms = since_ms.max(r.updated_at_ms);
                    let Ok(m) = send(&r) else { return };
                    if sink.send(m).await.is_err() {
                        return;
                    }
                }
                Ok(_) => {}
                Err(tokio::sync::broadcast::error::RecvError::Lagged(n)) => {
                    tracing::info!(missed = n, "a request subscriber fell behind: resending the requests changed since");
                    resync = true;
                }
                Err(tokio::sync::broadcast::error::RecvError::Closed) => return,
            }
        }
    }
}
