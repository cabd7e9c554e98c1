//! JSON-RPC methods that use this node's chain providers (issue 12): `wallet_balance` and
//! `tx_build`. Both are authenticated reads of the wallet's book; both answer from the
//! provider *this node* is configured with, and say which.

use super::auth::{authed, authorize};
use super::errors::RpcError;
use super::methods::{barrier, to_value};
use crate::chain_watch::Adapters;
use crate::cluster::ClusterHandle;
use jsonrpsee::RpcModule;
use mpc_chains::{BuildRequest, FeeLevel};
use mpc_custody::read_auth::ReadScope;
use mpc_custody::Wallet;
use mpc_protocol::chain::units::{base_unit, format_units, native_decimals, parse_units};
use mpc_protocol::chain::{self, Amount};
use serde::Deserialize;
use serde_json::json;
use std::sync::Arc;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct BalanceParams {
    wallet_id: String,
    /// A token of the organisation's registry; the native asset when absent.
    #[serde(default)]
    asset: Option<String>,
    #[serde(default)]
    linearizable: bool,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct BuildParams {
    wallet_id: String,
    /// Destination address.
    to: String,
    /// Amount in the asset's units as people write them ("0.5"), or …
    #[serde(default)]
    amount: Option<String>,
    /// … in the smallest unit ("500000000000000000").
    #[serde(default)]
    amount_base_units: Option<String>,
    /// Asset symbol; the chain's native asset when absent.
    #[serde(default)]
    asset: Option<String>,
    #[serde(default)]
    fee_level: FeeLevel,
    /// Solana: build over this durable nonce account instead of a recent blockhash.
    #[serde(default)]
    durable_nonce_account: Option<String>,
    #[serde(default)]
    linearizable: bool,
}

/// The wallet, once the reader may see its book.
fn wallet(
    c: &ClusterHandle,
    reader: &mpc_custody::types::UserKey,
    id: &str,
) -> Result<Wallet, RpcError> {
    if id.is_empty() || id.len() > 200 {
        return Err(RpcError::InvalidParams("wallet_id is required".into()));
    }
    let w = c
        .read_state(|s| s.wallet(id).cloned())
        .map_err(RpcError::from)?
        .ok_or_else(|| RpcError::NotFound(format!("no wallet '{id}'")))?;
    authorize(c, reader, &w.org_id, ReadScope::Book)?;
    Ok(w)
}

/// What a balance or a build is in: the native asset, or a registered token (its contract and
/// decimals).
struct AssetInfo {
    symbol: String,
    decimals: u32,
    contract: Option<String>,
}

fn asset_of(c: &ClusterHandle, w: &Wallet, asset: Option<&str>) -> Result<AssetInfo, RpcError> {
    let native = w.chain.asset();
    match asset {
        None => Ok(AssetInfo {
            symbol: native.into(),
            decimals: native_decimals(w.chain),
            contract: None,
        }),
        Some(a) if a == native => Ok(AssetInfo {
            symbol: native.into(),
            decimals: native_decimals(w.chain),
            contract: None,
        }),
        Some(a) => {
            let found = c
                .read_state(|s| {
                    s.assets(&w.org_id)
                        .find(|x| x.symbol == a && x.chain == w.chain && x.network == w.network)
                        .cloned()
                })
                .map_err(RpcError::from)?;
            let asset = found.ok_or_else(|| {
                RpcError::InvalidParams(format!(
                    "'{a}' is not a token of the organisation's registry on {} {:?}",
                    w.chain, w.network
                ))
            })?;
            Ok(AssetInfo {
                symbol: asset.symbol,
                decimals: u32::from(asset.decimals),
                contract: Some(asset.contract),
            })
        }
    }
}

/// Runs blocking provider I/O off the async threads.
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, RpcError> + Send + 'static,
) -> Result<T, RpcError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| RpcError::Internal(format!("provider task: {e}")))?
}

fn provider_err(e: mpc_chains::ChainError) -> RpcError {
    RpcError::Unavailable(format!("chain provider: {e}"))
}

/// Registers the chain methods.
pub(super) fn register(
    m: &mut RpcModule<ClusterHandle>,
    adapters: Arc<Adapters>,
) -> anyhow::Result<()> {
    let a = adapters.clone();
    m.register_async_method("wallet_balance", move |p, c, _| {
        let adapters = a.clone();
        async move {
            let (q, reader): (BalanceParams, _) = authed(&p, &c, "wallet_balance")?;
            barrier(&c, q.linearizable).await?;
            let w = wallet(&c, &reader, &q.wallet_id)?;
            let asset = asset_of(&c, &w, q.asset.as_deref())?;
            let (chain, network, address) = (w.chain, w.network, w.address.clone());
            let contract = asset.contract.clone();
            let (balance, provider) = blocking(move || {
                let adapter = adapters.for_wallet(chain, network).ok_or_else(|| {
                    RpcError::Unavailable(format!(
                        "this node has no provider for {chain} {network:?} (mpc-node start --chain-provider)"
                    ))
                })?;
                let b = match &contract {
                    Some(c) => adapter.token_balance(&address, c),
                    None => adapter.balance(&address),
                };
                Ok((b.map_err(provider_err)?, adapter.describe()))
            })
            .await?;
            let unit = match &asset.contract {
                Some(_) => "base units",
                None => base_unit(chain),
            };
            to_value(&json!({
                "wallet_id": w.wallet_id,
                "address": w.address,
                "asset": asset.symbol,
                "contract": asset.contract,
                "decimals": asset.decimals,
                "balance": Amount(balance),
                "display": format!("{} {} ({balance} {unit})", format_units(balance, asset.decimals), asset.symbol),
                "provider": provider,
            }))
        }
    })?;
    m.register_async_method("tx_build", move |p, c, _| {
        let adapters = adapters.clone();
        async move {
            let (q, reader): (BuildParams, _) = authed(&p, &c, "tx_build")?;
            barrier(&c, q.linearizable).await?;
            let w = wallet(&c, &reader, &q.wallet_id)?;
            let asset = asset_of(&c, &w, q.asset.as_deref())?;
            let decimals = asset.decimals;
            let amount = match (&q.amount, &q.amount_base_units) {
                (Some(a), None) => parse_units(a, decimals).map_err(RpcError::InvalidParams)?,
                (None, Some(b)) => parse_units(b, 0).map_err(RpcError::InvalidParams)?,
                _ => {
                    return Err(RpcError::InvalidParams(
                        "give exactly one of amount (e.g. \"0.5\") or amount_base_units".into(),
                    )
                    .into())
                }
            };
            if amount == 0 {
                return Err(RpcError::InvalidParams("amount must be above zero".into()).into());
            }
            let to = chain::normalize_address(w.chain, w.network, &q.to)
                .map_err(|e| RpcError::InvalidParams(e.to_string()))?;
            if let Some(n) = &q.durable_nonce_account {
                if w.chain != mpc_protocol::chain::Chain::Solana {
                    return Err(RpcError::InvalidParams(
                        "durable_nonce_account is for Solana wallets".into(),
                    )
                    .into());
                }
                chain::normalize_address(w.chain, w.network, n)
                    .map_err(|e| RpcError::InvalidParams(format!("durable_nonce_account: {e}")))?;
            }
            let key = mpc_protocol::chain::WalletKey {
                chain: w.chain,
                network: w.network,
                public_key: hex::decode(&w.public_key)
                    .map_err(|_| RpcError::Internal("wallet key is not hex".into()))?,
                address: w.address.clone(),
            };
            let req = BuildRequest {
                from: w.address.clone(),
                chain_id: w.chain_id,
                to,
                amount,
                fee: q.fee_level,
                token: asset.contract.clone(),
                token_decimals: asset
                    .contract
                    .as_ref()
                    .and_then(|_| u8::try_from(asset.decimals).ok()),
                durable_nonce_account: q.durable_nonce_account.clone(),
            };
            let (chain, network) = (w.chain, w.network);
            let (built, provider) = blocking(move || {
                let adapter = adapters.for_wallet(chain, network).ok_or_else(|| {
                    RpcError::Unavailable(format!(
                        "this node has no provider for {chain} {network:?} (mpc-node start --chain-provider)"
                    ))
                })?;
                Ok((adapter.build_transfer(&req).map_err(provider_err)?, adapter.describe()))
            })
            .await?;
            // What the network will parse from these bytes at submission: shown here too.
            let mut parsed = chain::parse(&key, &built.payload, &built.extras)
                .map_err(|e| RpcError::Internal(format!("built transaction does not parse: {e}")))?;
            if let Some(t) = parsed.intent.token.as_mut() {
                if u32::from(t.decimals) != asset.decimals
                    && t.standard == mpc_protocol::chain::TokenStandard::SplToken
                {
                    return Err(RpcError::Internal("built token decimals differ from the registry's".into()).into());
                }
                t.decimals = u8::try_from(asset.decimals).unwrap_or(0);
                parsed.intent.asset = asset.symbol.clone();
            }
            to_value(&json!({
                "wallet_id": w.wallet_id,
                "payload": hex::encode(&built.payload),
                "extras": built.extras,
                "intent": parsed.intent,
                "provider": provider,
            }))
        }
    })?;
    Ok(())
}
