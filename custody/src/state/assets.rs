//! The asset registry: governed adds and removals, and resolving the token a request moves.

use super::{ActionResult, CustodyState, Exec, RecordKey};
use crate::command::Action;
use crate::types::OrgId;
use crate::Asset;
use mpc_protocol::chain::{self, Chain, Intent, Network};

impl CustodyState {
    pub(super) fn asset_add(
        &mut self,
        x: &Exec<'_>,
        org_id: &OrgId,
        symbol: &str,
        (chain, network): (Chain, Network),
        contract: &str,
        decimals: u8,
    ) -> Result<ActionResult, String> {
        if !matches!(chain, Chain::Ethereum | Chain::Solana) {
            return Err(format!(
                "{chain} has no tokens (ERC-20 on ethereum, SPL on solana)"
            ));
        }
        let contract =
            chain::normalize_address(chain, network, contract).map_err(|e| e.to_string())?;
        let key = (org_id.clone(), symbol.to_string());
        if self.assets.contains_key(&key) {
            return Err(format!("{symbol} is already in the asset registry"));
        }
        if let Some(other) = self.asset_by_contract(org_id, chain, network, &contract) {
            return Err(format!(
                "contract {contract} is already registered as {}",
                other.symbol
            ));
        }
        let asset = Asset {
            org_id: org_id.clone(),
            symbol: symbol.to_string(),
            chain,
            network,
            contract,
            decimals,
            added_at_ms: x.now_ms,
            adoption: x.adoption.clone().map(Box::new),
        };
        self.dirty
            .insert(RecordKey::Asset(org_id.clone(), symbol.to_string()));
        self.assets.insert(key, asset.clone());
        Ok(ActionResult::Asset {
            asset,
            removed: false,
        })
    }

    pub(super) fn asset_remove(
        &mut self,
        org_id: &OrgId,
        symbol: &str,
    ) -> Result<ActionResult, String> {
        let Some(asset) = self.assets.remove(&(org_id.clone(), symbol.to_string())) else {
            return Err(format!("{symbol} is not in the asset registry"));
        };
        self.dirty
            .insert(RecordKey::Asset(org_id.clone(), symbol.to_string()));
        Ok(ActionResult::Asset {
            asset,
            removed: true,
        })
    }

    fn asset_by_contract(
        &self,
        org_id: &OrgId,
        chain: Chain,
        network: Network,
        contract: &str,
    ) -> Option<&Asset> {
        self.assets.values().find(|a| {
            &a.org_id == org_id
                && a.chain == chain
                && a.network == network
                && a.contract == contract
        })
    }

    /// An organisation's registered tokens.
    pub fn assets<'a>(&'a self, org: &'a OrgId) -> impl Iterator<Item = &'a Asset> + 'a {
        self.assets.values().filter(move |a| &a.org_id == org)
    }

    /// Names the token a parsed intent moves from the organisation's registry: its symbol
    /// becomes the intent's asset and its decimals the token's. A native transfer is returned
    /// unchanged; a token not in the registry is refused.
    pub(super) fn resolve_token(
        &self,
        org_id: &OrgId,
        mut intent: Intent,
    ) -> Result<Intent, String> {
        let Some(token) = intent.token.as_mut() else {
            return Ok(intent);
        };
        let asset = self
            .asset_by_contract(org_id, intent.chain, intent.network, &token.contract)
            .ok_or_else(|| {
                format!(
                    "token contract {} is not in the organisation's asset registry (asset_add)",
                    token.contract
                )
            })?;
        match token.standard {
            // TransferChecked carries the decimals and the runtime checks them against the mint:
            // they must be the registry's.
            chain::TokenStandard::SplToken if token.decimals != asset.decimals => {
                return Err(format!(
                    "the transfer says {} decimals; the registry says {} has {}",
                    token.decimals, asset.symbol, asset.decimals
                ))
            }
            _ => token.decimals = asset.decimals,
        }
        intent.asset = asset.symbol.clone();
        Ok(intent)
    }

    /// The signer's check of the registry entry a token request relies on: an admin quorum of
    /// the organisation adopted exactly this contract under this symbol with these decimals.
    pub(super) fn token_adopted(&self, req: &crate::Request) -> Result<(), String> {
        let Some(token) = &req.intent.token else {
            return Ok(());
        };
        let asset = self
            .assets
            .get(&(req.org_id.clone(), req.intent.asset.clone()))
            .ok_or_else(|| format!("{} is no longer in the asset registry", req.intent.asset))?;
        if asset.contract != token.contract || asset.decimals != token.decimals {
            return Err(format!("the registry entry of {} changed", asset.symbol));
        }
        let adoption = asset
            .adoption
            .as_ref()
            .ok_or("an asset-registry entry carries no adoption evidence")?;
        adoption
            .verify(&self.genesis.cluster_id, &self.genesis.admins, |a, _| {
                matches!(a, Action::AssetAdd { org_id, symbol, chain: ch, network, contract, decimals }
                    if org_id == &asset.org_id
                        && symbol == &asset.symbol
                        && *ch == asset.chain
                        && *network == asset.network
                        && *decimals == asset.decimals
                        && chain::normalize_address(*ch, *network, contract)
                            .is_ok_and(|n| n == asset.contract))
            })
            .map_err(|e| format!("asset-registry entry {}: {e}", asset.symbol))
    }
}
