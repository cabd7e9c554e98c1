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
    /// Ethereum: the one chain id this wallet signs for (mainnet 1; a test network's own id).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chain_id: Option<u64>,
}

/// The chain id of an Ethereum test-network wallet created without one: Sepolia.
pub const DEFAULT_ETH_TESTNET_CHAIN_ID: u64 = 11_155_111;

impl Wallet {
    /// The chain id an Ethereum wallet of `network` is created with: `requested`, checked, or
    /// the network's default (mainnet 1, test networks Sepolia). Other chains take none.
    pub fn chain_id_for(
        chain: Chain,
        network: Network,
        requested: Option<u64>,
    ) -> Result<Option<u64>, String> {
        match (chain, network, requested) {
            (Chain::Ethereum, Network::Mainnet, None | Some(1)) => Ok(Some(1)),
            (Chain::Ethereum, Network::Mainnet, Some(id)) => Err(format!(
                "a mainnet Ethereum wallet signs for chain id 1, not {id} (other EVM chains are \
                 not supported yet)"
            )),
            (Chain::Ethereum, Network::Testnet, None) => Ok(Some(DEFAULT_ETH_TESTNET_CHAIN_ID)),
            (Chain::Ethereum, Network::Testnet, Some(0 | 1)) => {
                Err("a test-network Ethereum wallet cannot sign for chain id 0 or 1".into())
            }
            (Chain::Ethereum, Network::Testnet, Some(id)) => Ok(Some(id)),
            (_, _, None) => Ok(None),
            (_, _, Some(_)) => Err("only Ethereum wallets take a chain id".into()),
        }
    }

    /// Refuses an intent this wallet may not sign: for Ethereum, any chain id but the wallet's.
    pub fn check_intent(&self, intent: &mpc_protocol::chain::Intent) -> Result<(), String> {
        if self.chain != Chain::Ethereum {
            return Ok(());
        }
        let Some(mine) = self.chain_id else {
            return Err(format!("wallet {} has no chain id", self.wallet_id));
        };
        let theirs = intent
            .details
            .get("chain_id")
            .and_then(|c| c.parse::<u64>().ok())
            .ok_or("the transaction has no chain id")?;
        if theirs != mine {
            return Err(format!(
                "the transaction is for chain id {theirs}; wallet {} signs only for chain id {mine}",
                self.wallet_id
            ));
        }
        Ok(())
    }

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
