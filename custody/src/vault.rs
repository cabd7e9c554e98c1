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
    /// Key-share epoch: 0 after DKG, one more after each completed refresh. Nodes keep only
    /// the shares of this epoch.
    #[serde(default)]
    pub epoch: u32,
    /// Log index of the entry that made `epoch` current (0 for the DKG epoch). Signing attempts
    /// fixed before it are not signed with the new shares (they fail and are retried).
    #[serde(default)]
    pub epoch_log_index: u64,
    /// Names the current shares in every node's store: the log index of the refresh entry whose
    /// sessions made them (0: the DKG's).
    #[serde(default)]
    pub share_generation: u64,
    /// The refresh under way, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refresh: Option<KeyRefresh>,
    /// The last refresh that finished or failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_refresh: Option<KeyRefresh>,
    /// The share repair under way for a replaced node, if any (a refresh follows it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub repair: Option<crate::membership::KeyRepair>,
}

/// Where a proactive refresh stands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum RefreshStatus {
    /// Every committee node runs the refresh sessions.
    Running,
    /// Every node reported the same new public shares (signed reports kept): `epoch` is current.
    Done {
        /// Log time it completed (ms).
        at_ms: u64,
    },
    /// A node failed or the reports disagree: nothing changed, the old shares stay in force.
    Failed {
        /// Log time (ms).
        at_ms: u64,
        /// Why.
        reason: String,
        /// Nodes a session named as having sent a bad sub-share.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        culprits: Vec<NodeId>,
    },
}

/// A proactive refresh of a vault's key shares (every key type; same keys, new shares).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyRefresh {
    /// The epoch it makes current.
    pub epoch: u32,
    /// Log index of the entry that started it (session ids derive from it).
    pub started_log_index: u64,
    /// Log time it started (ms).
    pub started_at_ms: u64,
    /// Why: `on demand (proposal …)` or `scheduled`.
    pub reason: String,
    /// Status.
    pub status: RefreshStatus,
    /// Each committee node's signed `vault_refreshed` report (the digest of the new public
    /// shares it holds). A node deletes its old shares only after checking every one of these
    /// signatures against the genesis keys of the committee.
    #[serde(default)]
    pub reports: BTreeMap<NodeId, crate::SignedReport>,
    /// Committee nodes this refresh drops (removed from the network, decision 0027): the
    /// refresh runs among the others only, and they are the committee once it is done.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub removes: Vec<NodeId>,
    /// Nodes this refresh adds to the committee (added to the network, decision 0027; they
    /// received their shares by a repair): the refresh runs among everyone.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub adds: Vec<NodeId>,
}

impl KeyRefresh {
    /// The committee once this refresh is done: `committee` without the nodes it drops, then
    /// the nodes it adds (keygen order).
    pub fn new_committee(&self, committee: &[NodeId]) -> Vec<NodeId> {
        committee
            .iter()
            .copied()
            .filter(|n| !self.removes.contains(n))
            .chain(self.adds.iter().copied())
            .collect()
    }
}

/// Digest of a refresh's new public key material (hex): the group keys and every party's new
/// public share, for each key type, as the reporting node computed them.
pub fn refresh_digest(parts: &[(&str, Vec<u8>)]) -> String {
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    h.update(mpc_protocol::domain::KEY_REFRESH);
    for (name, bytes) in parts {
        h.update((name.len() as u64).to_be_bytes());
        h.update(name.as_bytes());
        h.update((bytes.len() as u64).to_be_bytes());
        h.update(bytes);
    }
    hex::encode(h.finalize())
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
