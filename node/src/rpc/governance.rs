//! JSON-RPC methods for governance: organisation settings and the proposals that change what an
//! organisation governs (`org_settings_set`, `proposal_approve`, `proposal_veto`,
//! `proposal_execute`, `proposal_list`, `proposal_get`).

use super::auth::{authed, authorize};
use super::errors::RpcError;
use super::methods::{barrier, to_value};
use super::paging::{numbered_key, paged_params};
use crate::cluster::ClusterHandle;
use jsonrpsee::RpcModule;
use mpc_custody::read_auth::ReadScope;
use mpc_custody::types::OrgId;
use serde_json::json;

paged_params! {
    struct ProposalParams {
        org_id: String,
        proposal_id: String,
        /// `open` (pending or queued, the default), `all`, or one status name.
        status: Option<String>,
        linearizable: bool,
    }
}

/// Registers the governance reads (the writes are registered from `rpc::WRITE_METHODS`).
pub fn register(m: &mut RpcModule<ClusterHandle>) -> anyhow::Result<()> {
    m.register_async_method("proposal_list", |p, c, _| async move {
        let (mut q, reader): (ProposalParams, _) = authed(&p, &c, "proposal_list")?;
        let page = q.page("proposal_list")?;
        let org = OrgId(q.org_id);
        org.validate().map_err(RpcError::InvalidParams)?;
        authorize(&c, &reader, &org, ReadScope::Book)?;
        let filter = q.status.unwrap_or_else(|| "open".into());
        if !matches!(
            filter.as_str(),
            "open" | "all" | "pending" | "queued" | "executed" | "vetoed" | "failed" | "expired"
        ) {
            return Err(RpcError::InvalidParams(format!("unknown status '{filter}'")).into());
        }
        barrier(&c, q.linearizable).await?;
        let list = c
            .read_state(|s| {
                s.org(&org).map(|_| {
                    let all = s
                        .proposals(&org)
                        .filter(|p| match filter.as_str() {
                            "open" => p.status.is_open(),
                            "all" => true,
                            name => p.status.name() == name,
                        })
                        .map(|p| (numbered_key(&p.proposal_id, "prop-"), p))
                        .collect();
                    let (items, next) = page.take(all);
                    (items.into_iter().cloned().collect::<Vec<_>>(), next)
                })
            })
            .map_err(RpcError::from)?;
        match list {
            Some((l, next)) => {
                to_value(&json!({ "org_id": org, "proposals": l, "next_cursor": next }))
            }
            None => Err(RpcError::NotFound(format!("no organisation '{org}'")).into()),
        }
    })?;
    m.register_async_method("proposal_get", |p, c, _| async move {
        let (q, reader): (ProposalParams, _) = authed(&p, &c, "proposal_get")?;
        if q.proposal_id.is_empty() || q.proposal_id.len() > 200 {
            return Err(RpcError::InvalidParams("proposal_id is required".into()).into());
        }
        barrier(&c, q.linearizable).await?;
        let id = q.proposal_id;
        match c
            .read_state(|s| s.proposal(&id).cloned())
            .map_err(RpcError::from)?
        {
            Some(p) => {
                authorize(&c, &reader, &p.org_id, ReadScope::Book)?;
                to_value(&p)
            }
            None => Err(RpcError::NotFound(format!("no proposal '{id}'")).into()),
        }
    })?;
    Ok(())
}
