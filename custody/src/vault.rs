//! Vaults (one key of each type, shared by the committee) and wallets (addresses derived
//! from a vault key).

use crate::ids::NodeId;
use crate::types::{OrgId, VaultId, WalletId};
use mpc_protocol::chain::keys::VaultPublicKeys;
use mpc_protocol::chain::{Chain, KeyType, Network};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Lifecycle of a vault.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum VaultStatus {
    /// Committed; nodes are running DKG.
    Pending,
    /// Every node reported the same public keys.
    Active,
    /// DKG failed or the reports disagree.
    Failed {
        /// Why.
        reason: String,
    },
}

/// A vault: one key of each type, shared among all nodes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Vault {
    /// Id (unique in the network).
    pub vault_id: VaultId,
    /// Owning organisation.
    pub org_id: OrgId,
    /// Display name.
    pub name: String,
    /// Status.
    pub status: VaultStatus,
    /// Log index of the creating entry (DKG session ids derive from it).
    pub created_log_index: u64,
    /// Creation time (ms, from the log).
    pub created_at_ms: u64,
    /// Nodes that run the DKG (the whole committee) and the threshold.
    pub committee: Vec<NodeId>,
    /// Threshold t.
    pub threshold: u16,
    /// Public keys, once active.
    pub keys: Option<VaultPublicKeys>,
    /// Each node's report.
    pub reports: BTreeMap<NodeId, VaultPublicKeys>,
}

/// A wallet: an address derived from a vault key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Wallet {
    /// `vault-chain-network-index`.
    pub wallet_id: WalletId,
    /// Organisation.
    pub org_id: OrgId,
    /// Vault.
    pub vault_id: VaultId,
    /// Chain.
    pub chain: Chain,
    /// Network.
    pub network: Network,
    /// Derivation index.
    pub index: u32,
    /// Key type.
    pub key_type: KeyType,
    /// Public key (hex): ECDSA compressed, Taproot x-only output key, ed25519.
    pub public_key: String,
    /// Address.
    pub address: String,
    /// Creation time (ms).
    pub created_at_ms: u64,
}

impl Wallet {
    /// The id of a wallet.
    pub fn id_for(vault_id: &str, chain: Chain, network: Network, index: u32) -> WalletId {
        let net = match network {
            Network::Mainnet => "mainnet",
            Network::Testnet => "testnet",
        };
        WalletId(format!("{vault_id}-{chain}-{net}-{index}"))
    }

    /// The chain module's view of the wallet.
    pub fn key(&self) -> Result<mpc_protocol::chain::WalletKey, String> {
        Ok(mpc_protocol::chain::WalletKey {
            chain: self.chain,
            network: self.network,
            public_key: hex::decode(&self.public_key).map_err(|_| "wallet key is not hex")?,
            address: self.address.clone(),
        })
    }
}
