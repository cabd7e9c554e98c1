//! Solana JSON-RPC adapter (a validator's RPC or a hosted provider; tested against LiteSVM
//! behind the same API, `testnet/litesvm/rpc.cjs`).
//!
//! Confirmations: a signature's `confirmations` plus one (it counts the blocks on top), and 32
//! once the provider calls it `finalized` (what `mpc_custody::chain_status` needs on mainnet).
//! A transaction the provider does not know is *dropped* when it can no longer land: its
//! recent blockhash is no longer valid, or its durable nonce account holds another nonce.

use crate::{BuildRequest, Built, ChainError, JsonRpc, Observed};
use base64::Engine as _;
use mpc_protocol::chain::{Chain, Intent, Network};
use serde_json::{json, Value};
use std::time::Duration;

/// Mainnet-beta's genesis hash.
pub const MAINNET_GENESIS: &str = "5eykt4UsFv8P8NJdTREpY1vzqKqZKvdpKuc147dw2N9d";
/// Confirmations reported for a finalized signature.
pub const FINALIZED_CONFIRMATIONS: u64 = 32;

/// A durable nonce account's state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NonceAccount {
    /// Who may advance it.
    pub authority: String,
    /// The stored nonce (base58), the "blockhash" of a transaction that uses it.
    pub nonce: String,
}

/// The [`crate::Adapter`] over one Solana JSON-RPC endpoint.
pub struct SolAdapter {
    rpc: JsonRpc,
    network: Network,
    url: String,
}

fn key32(s: &str, what: &str) -> Result<[u8; 32], ChainError> {
    bs58::decode(s)
        .into_vec()
        .ok()
        .and_then(|v| v.try_into().ok())
        .ok_or_else(|| ChainError::Unsupported(format!("{what} is not a Solana address")))
}

fn malformed(what: &str) -> ChainError {
    ChainError::Malformed(format!("{what} missing or of the wrong type"))
}

impl SolAdapter {
    /// Connects: reads the genesis hash and checks it belongs to `network` (mainnet-beta's
    /// genesis for mainnet; any other for a test network).
    pub fn connect(url: &str, network: Network, timeout: Duration) -> Result<Self, ChainError> {
        let rpc = JsonRpc::new(url, timeout);
        let genesis = rpc.call("getGenesisHash", json!([]))?;
        let genesis = genesis.as_str().ok_or_else(|| malformed("genesis hash"))?;
        if (genesis == MAINNET_GENESIS) != (network == Network::Mainnet) {
            return Err(ChainError::Unsupported(format!(
                "provider {} has genesis {genesis}, which is not Solana {network:?}",
                crate::redact_url(url)
            )));
        }
        Ok(SolAdapter {
            rpc,
            network,
            url: url.to_string(),
        })
    }

    /// The JSON-RPC client.
    pub fn rpc(&self) -> &JsonRpc {
        &self.rpc
    }

    /// The latest blockhash (base58).
    pub fn latest_blockhash(&self) -> Result<String, ChainError> {
        let v = self
            .rpc
            .call("getLatestBlockhash", json!([{ "commitment": "finalized" }]))?;
        v["value"]["blockhash"]
            .as_str()
            .map(str::to_string)
            .ok_or_else(|| malformed("blockhash"))
    }

    /// A durable nonce account (`None` when it does not exist).
    pub fn nonce_account(&self, address: &str) -> Result<Option<NonceAccount>, ChainError> {
        let v = self.rpc.call(
            "getAccountInfo",
            json!([address, { "encoding": "base64", "commitment": "finalized" }]),
        )?;
        if v["value"].is_null() {
            return Ok(None);
        }
        if v["value"]["owner"] != "11111111111111111111111111111111" {
            return Err(ChainError::Unsupported(format!(
                "{address} is not a System-owned nonce account"
            )));
        }
        let data = v["value"]["data"][0]
            .as_str()
            .and_then(|d| base64::engine::general_purpose::STANDARD.decode(d).ok())
            .ok_or_else(|| malformed("account data"))?;
        // Versions (u32), State (u32: 1 = initialised), authority, nonce, fee calculator.
        if data.len() != 80 || data[4..8] != 1u32.to_le_bytes() {
            return Err(ChainError::Unsupported(format!(
                "{address} is not an initialised nonce account"
            )));
        }
        Ok(Some(NonceAccount {
            authority: bs58::encode(&data[8..40]).into_string(),
            nonce: bs58::encode(&data[40..72]).into_string(),
        }))
    }
}

impl crate::Adapter for SolAdapter {
    fn describe(&self) -> String {
        format!(
            "solana {:?} at {}",
            self.network,
            crate::redact_url(&self.url)
        )
        .to_lowercase()
    }

    fn serves(&self, intent: &Intent) -> bool {
        intent.chain == Chain::Solana && intent.network == self.network
    }

    fn serves_wallet(&self, chain: Chain, network: Network) -> bool {
        chain == Chain::Solana && network == self.network
    }

    fn broadcast(&self, signed: &str) -> Result<String, ChainError> {
        let v = self.rpc.call(
            "sendTransaction",
            json!([signed, { "encoding": "base64", "preflightCommitment": "confirmed" }]),
        )?;
        v.as_str()
            .map(str::to_string)
            .ok_or_else(|| malformed("signature"))
    }

    fn observe(&self, txid: &str, intent: &Intent, _signed: &str) -> Result<Observed, ChainError> {
        let v = self.rpc.call(
            "getSignatureStatuses",
            json!([[txid], { "searchTransactionHistory": true }]),
        )?;
        let st = &v["value"][0];
        if !st.is_null() {
            let block = st["slot"].as_u64().ok_or_else(|| malformed("slot"))?;
            let confirmations = if st["confirmationStatus"] == "finalized" {
                FINALIZED_CONFIRMATIONS
            } else {
                st["confirmations"].as_u64().unwrap_or(0).saturating_add(1)
            };
            let success = st["err"].is_null();
            return Ok(Observed::Included {
                confirmations,
                block,
                success,
                reason: if success {
                    String::new()
                } else {
                    st["err"].to_string().chars().take(200).collect()
                },
            });
        }
        // Unknown: can it still land?
        if let (Some(account), Some(nonce)) = (
            intent.details.get("durable_nonce_account"),
            intent.details.get("durable_nonce"),
        ) {
            return Ok(match self.nonce_account(account)? {
                Some(n) if &n.nonce == nonce => Observed::Unknown,
                Some(_) => Observed::Dropped {
                    reason: format!("nonce account {account} was advanced by another transaction"),
                },
                None => Observed::Dropped {
                    reason: format!("nonce account {account} does not exist"),
                },
            });
        }
        if let Some(hash) = intent.details.get("recent_blockhash") {
            let v = self.rpc.call(
                "isBlockhashValid",
                json!([hash, { "commitment": "processed" }]),
            )?;
            if v["value"] == Value::Bool(false) {
                return Ok(Observed::Dropped {
                    reason: format!("blockhash {hash} expired before the transaction landed"),
                });
            }
        }
        Ok(Observed::Unknown)
    }

    fn balance(&self, address: &str) -> Result<u128, ChainError> {
        let v = self.rpc.call(
            "getBalance",
            json!([address, { "commitment": "confirmed" }]),
        )?;
        v["value"]
            .as_u64()
            .map(u128::from)
            .ok_or_else(|| malformed("balance"))
    }

    fn token_balance(&self, address: &str, mint: &str) -> Result<u128, ChainError> {
        let account = mpc_protocol::chain::sol::associated_token_account(
            &key32(address, "owner")?,
            &key32(mint, "mint")?,
        )
        .map_err(|e| ChainError::Unsupported(e.to_string()))?;
        let account = bs58::encode(account).into_string();
        match self.rpc.call(
            "getTokenAccountBalance",
            json!([account, { "commitment": "confirmed" }]),
        ) {
            Ok(v) => v["value"]["amount"]
                .as_str()
                .and_then(|a| a.parse::<u128>().ok())
                .ok_or_else(|| malformed("token amount")),
            // No associated account yet: nothing held.
            Err(ChainError::Provider { message, .. })
                if message.contains("could not find account") =>
            {
                Ok(0)
            }
            Err(e) => Err(e),
        }
    }

    fn build_transfer(&self, req: &BuildRequest) -> Result<Built, ChainError> {
        // The fee level does not matter here: the base fee is fixed, and priority fees (a
        // Compute Budget instruction) are not offered yet.
        let from = key32(&req.from, "wallet")?;
        let to = key32(&req.to, "destination")?;
        let lamports = u64::try_from(req.amount)
            .map_err(|_| ChainError::Unsupported("amount exceeds 64 bits".into()))?;
        let (hash, nonce_account) = match &req.durable_nonce_account {
            Some(account) => {
                let n = self.nonce_account(account)?.ok_or_else(|| {
                    ChainError::Unsupported(format!("nonce account {account} does not exist"))
                })?;
                if n.authority != req.from {
                    return Err(ChainError::Unsupported(format!(
                        "nonce account {account} is advanced by {}, not by this wallet",
                        n.authority
                    )));
                }
                (n.nonce, Some(key32(account, "nonce account")?))
            }
            None => (self.latest_blockhash()?, None),
        };
        let hash = key32(&hash, "blockhash")?;
        let payload = match &req.token {
            None => mpc_protocol::chain::sol::transfer_message(
                &from,
                &to,
                lamports,
                &hash,
                nonce_account.as_ref(),
            ),
            Some(mint) => {
                let decimals = req
                    .token_decimals
                    .ok_or_else(|| ChainError::Unsupported("token decimals missing".into()))?;
                mpc_protocol::chain::sol::token_transfer_message(
                    &from,
                    &to,
                    &key32(mint, "mint")?,
                    lamports,
                    decimals,
                    &hash,
                    nonce_account.as_ref(),
                )
                .map_err(|e| ChainError::Unsupported(e.to_string()))?
            }
        };
        Ok(Built {
            payload,
            extras: Default::default(),
        })
    }
}
