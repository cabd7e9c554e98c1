//! Vaults and wallets: creation, DKG reports, reads.

use super::{ActionResult, CustodyState, Exec, RecordKey, ReportResult};
use crate::ids::NodeId;
use crate::types::{OrgId, VaultId};
use crate::{PresigPool, Vault, VaultStatus, Wallet};
use mpc_protocol::chain::keys::{self, VaultPublicKeys};
use mpc_protocol::chain::{Chain, KeyType, Network};

impl CustodyState {
    pub(super) fn vault_create(
        &mut self,
        x: &Exec<'_>,
        org_id: &OrgId,
        vault_id: &VaultId,
        name: &str,
    ) -> Result<ActionResult, String> {
        if self.vaults.contains_key(vault_id) {
            return Err(format!("vault '{vault_id}' already exists"));
        }
        let vault = Vault {
            vault_id: vault_id.clone(),
            org_id: org_id.clone(),
            name: name.to_string(),
            status: VaultStatus::Pending,
            created_log_index: x.ctx.log_index,
            created_at_ms: x.now_ms,
            committee: self.members(),
            threshold: self.genesis.threshold,
            keys: None,
            reports: Default::default(),
            epoch: 0,
            epoch_log_index: 0,
            share_generation: 0,
            refresh: None,
            last_refresh: None,
            repair: None,
        };
        self.dirty.insert(RecordKey::Vault(vault_id.into()));
        self.vaults.insert(vault_id.clone(), vault.clone());
        Ok(ActionResult::Vault {
            vault: Box::new(vault),
        })
    }

    pub(super) fn wallet_create(
        &mut self,
        x: &Exec<'_>,
        org_id: &OrgId,
        vault_id: &VaultId,
        (chain, network, index): (Chain, Network, u32),
        chain_id: Option<u64>,
    ) -> Result<ActionResult, String> {
        let (chain, network, index) = (&chain, &network, &index);
        let vault = self.vault_in_org(org_id, vault_id)?;
        let Some(vkeys) = vault
            .keys
            .as_ref()
            .filter(|_| vault.status == VaultStatus::Active)
        else {
            return Err(format!("vault '{vault_id}' is not active"));
        };
        let wallet_id = Wallet::id_for(vault_id, *chain, *network, *index);
        if self.wallets.contains_key(&wallet_id) {
            return Err(format!("wallet '{wallet_id}' already exists"));
        }
        let key = keys::wallet_key(vkeys, *chain, *network, *index).map_err(|e| e.to_string())?;
        let wallet = Wallet {
            wallet_id: wallet_id.clone(),
            org_id: org_id.clone(),
            vault_id: vault_id.clone(),
            chain: *chain,
            network: *network,
            index: *index,
            key_type: chain.key_type(),
            public_key: hex::encode(&key.public_key),
            address: key.address,
            created_at_ms: x.now_ms,
            chain_id,
        };
        let signers = self.pool_signers(&wallet_id);
        let pool = if wallet.key_type == KeyType::EcdsaSecp256k1 {
            PresigPool::new(&wallet_id, signers)
        } else {
            PresigPool::new_frost(&wallet_id, signers)
        };
        self.dirty.insert(RecordKey::PresigPool(wallet_id.clone()));
        self.presig_pools.insert(wallet_id.clone(), pool);
        self.dirty.insert(RecordKey::Wallet(wallet_id.clone()));
        self.wallets.insert(wallet_id, wallet.clone());
        Ok(ActionResult::WalletCreated { wallet })
    }

    pub(super) fn report_vault_keys(
        &mut self,
        node: NodeId,
        vault_id: &str,
        keys: &VaultPublicKeys,
    ) -> ReportResult {
        let Some(vault) = self.vaults.get_mut(vault_id) else {
            return Err(format!("no vault '{vault_id}'"));
        };
        if vault.status != VaultStatus::Pending || !vault.committee.contains(&node) {
            return Ok(None);
        }
        if vault.reports.contains_key(&node) {
            return Ok(None);
        }
        vault.reports.insert(node, keys.clone());
        let mut text = format!("node {node} reported keys");
        if vault.reports.len() == vault.committee.len() {
            let first = vault.reports.values().next().cloned();
            if vault.reports.values().all(|k| Some(k) == first.as_ref()) {
                vault.status = VaultStatus::Active;
                vault.keys = first;
                text = "vault active: every node reported the same keys".into();
            } else {
                vault.status = VaultStatus::Failed {
                    reason: "nodes reported different public keys".into(),
                };
                text = "vault failed: reports disagree".into();
            }
        }
        let (org, vault) = (vault.org_id.clone(), vault.clone());
        self.dirty.insert(RecordKey::Vault(vault_id.into()));
        Ok(Some((
            Some(org),
            text,
            ActionResult::Vault {
                vault: Box::new(vault),
            },
        )))
    }

    pub(super) fn report_vault_failed(
        &mut self,
        node: NodeId,
        vault_id: &str,
        reason: &str,
    ) -> ReportResult {
        let Some(vault) = self.vaults.get_mut(vault_id) else {
            return Err(format!("no vault '{vault_id}'"));
        };
        if vault.status != VaultStatus::Pending || !vault.committee.contains(&node) {
            return Ok(None);
        }
        let reason: String = reason.chars().take(500).collect();
        vault.status = VaultStatus::Failed {
            reason: format!("DKG failed on node {node}: {reason}"),
        };
        let (org, vault) = (vault.org_id.clone(), vault.clone());
        self.dirty.insert(RecordKey::Vault(vault_id.into()));
        Ok(Some((
            Some(org),
            "vault failed".into(),
            ActionResult::Vault {
                vault: Box::new(vault),
            },
        )))
    }

    pub(super) fn vault_in_org(&self, org_id: &OrgId, vault_id: &str) -> Result<&Vault, String> {
        match self.vaults.get(vault_id) {
            Some(v) if &v.org_id == org_id => Ok(v),
            _ => Err(format!("no vault '{vault_id}' in '{org_id}'")),
        }
    }

    /// One vault.
    pub fn vault(&self, id: &str) -> Option<&Vault> {
        self.vaults.get(id)
    }

    /// Vaults of an organisation (or all).
    pub fn vaults<'a>(&'a self, org: Option<&'a OrgId>) -> impl Iterator<Item = &'a Vault> + 'a {
        self.vaults
            .values()
            .filter(move |v| org.is_none_or(|o| &v.org_id == o))
    }

    /// One wallet.
    pub fn wallet(&self, id: &str) -> Option<&Wallet> {
        self.wallets.get(id)
    }

    /// Wallets, optionally of one vault.
    pub fn wallets<'a>(&'a self, vault: Option<&'a str>) -> impl Iterator<Item = &'a Wallet> + 'a {
        self.wallets
            .values()
            .filter(move |w| vault.is_none_or(|v| w.vault_id == v))
    }

    /// Vaults still waiting for DKG, with their creation log index.
    pub fn pending_vaults(&self) -> Vec<(VaultId, u64)> {
        self.vaults
            .values()
            .filter(|v| v.status == VaultStatus::Pending)
            .map(|v| (v.vault_id.clone(), v.created_log_index))
            .collect()
    }
}
