//! Ethereum JSON-RPC adapter (any EVM node: geth, reth, anvil, a hosted provider).
//!
//! Quantities travel as `0x` hex (JSON-RPC's encoding) and are returned as `u128`; addresses and
//! hashes as `0x` hex strings. Responses over [`crate::MAX_RESPONSE_BYTES`] are refused.

use crate::{ChainError, Observed};
use mpc_protocol::chain::{Chain, Intent, Network};
use serde_json::{json, Value};
use std::time::Duration;

/// A mined transaction's receipt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Receipt {
    /// Transaction hash.
    pub transaction_hash: String,
    /// `true` when the transaction succeeded (status 1).
    pub success: bool,
    /// Block number.
    pub block_number: u64,
    /// Gas used.
    pub gas_used: u128,
    /// Price paid per gas (wei).
    pub effective_gas_price: u128,
}

impl Receipt {
    /// The fee paid, wei.
    pub fn fee_wei(&self) -> u128 {
        self.gas_used.saturating_mul(self.effective_gas_price)
    }
}

/// Fee suggestion for an EIP-1559 transaction, wei per gas.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FeeSuggestion {
    /// Base fee of the next block.
    pub next_base_fee: u128,
    /// Suggested priority fee (the median reward of recent blocks, at least 1 gwei).
    pub max_priority_fee_per_gas: u128,
    /// Suggested cap: twice the next base fee plus the priority fee.
    pub max_fee_per_gas: u128,
}

fn quantity(v: &Value, what: &str) -> Result<u128, ChainError> {
    let s = v
        .as_str()
        .ok_or_else(|| ChainError::Malformed(format!("{what} is not a hex string: {v}")))?;
    let digits = s
        .strip_prefix("0x")
        .ok_or_else(|| ChainError::Malformed(format!("{what} '{s}' has no 0x")))?;
    if digits.is_empty() {
        return Ok(0);
    }
    u128::from_str_radix(digits, 16)
        .map_err(|_| ChainError::Malformed(format!("{what} '{s}' is not a quantity")))
}

/// A client of one Ethereum JSON-RPC endpoint.
pub struct EthRpc {
    inner: crate::JsonRpc,
}

impl EthRpc {
    /// A client for `url` (`http(s)://…`) with a per-call timeout.
    pub fn new(url: &str, timeout: Duration) -> Self {
        EthRpc {
            inner: crate::JsonRpc::new(url, timeout),
        }
    }

    /// Calls `method` with positional `params`.
    pub fn call(&self, method: &str, params: Value) -> Result<Value, ChainError> {
        self.inner.call(method, params)
    }

    /// `eth_chainId`.
    pub fn chain_id(&self) -> Result<u64, ChainError> {
        let id = quantity(&self.call("eth_chainId", json!([]))?, "chain id")?;
        u64::try_from(id).map_err(|_| ChainError::Malformed("chain id too large".into()))
    }

    /// Balance of `address` at the latest block, wei.
    pub fn balance(&self, address: &str) -> Result<u128, ChainError> {
        quantity(
            &self.call("eth_getBalance", json!([address, "latest"]))?,
            "balance",
        )
    }

    /// Next nonce of `address`, counting its pending transactions.
    pub fn nonce(&self, address: &str) -> Result<u64, ChainError> {
        let n = quantity(
            &self.call("eth_getTransactionCount", json!([address, "pending"]))?,
            "nonce",
        )?;
        u64::try_from(n).map_err(|_| ChainError::Malformed("nonce too large".into()))
    }

    /// Fee suggestion from `eth_feeHistory` over the last 10 blocks (50th-percentile rewards).
    pub fn fee_suggestion(&self) -> Result<FeeSuggestion, ChainError> {
        let h = self.call("eth_feeHistory", json!(["0xa", "latest", [50]]))?;
        let bases = h["baseFeePerGas"]
            .as_array()
            .ok_or_else(|| ChainError::Malformed("feeHistory without baseFeePerGas".into()))?;
        let next_base_fee = quantity(
            bases
                .last()
                .ok_or_else(|| ChainError::Malformed("empty baseFeePerGas".into()))?,
            "base fee",
        )?;
        let mut rewards: Vec<u128> = h["reward"]
            .as_array()
            .map(|blocks| {
                blocks
                    .iter()
                    .filter_map(|b| b.get(0).and_then(|r| quantity(r, "reward").ok()))
                    .collect()
            })
            .unwrap_or_default();
        rewards.sort_unstable();
        let median = rewards.get(rewards.len() / 2).copied().unwrap_or(0);
        let prio = median.max(1_000_000_000);
        Ok(FeeSuggestion {
            next_base_fee,
            max_priority_fee_per_gas: prio,
            max_fee_per_gas: next_base_fee.saturating_mul(2).saturating_add(prio),
        })
    }

    /// `eth_estimateGas` of a plain call from `from` to `to` with `value` wei and `data`.
    pub fn estimate_gas(
        &self,
        from: &str,
        to: &str,
        value: u128,
        data: &[u8],
    ) -> Result<u64, ChainError> {
        let tx = json!({
            "from": from,
            "to": to,
            "value": format!("0x{value:x}"),
            "data": format!("0x{}", hex::encode(data)),
        });
        let g = quantity(&self.call("eth_estimateGas", json!([tx]))?, "gas")?;
        u64::try_from(g).map_err(|_| ChainError::Malformed("gas too large".into()))
    }

    /// ERC-20 `balanceOf(holder)` of `contract` at the latest block.
    pub fn erc20_balance(&self, contract: &str, holder: &str) -> Result<u128, ChainError> {
        let h = holder
            .strip_prefix("0x")
            .filter(|h| h.len() == 40 && h.bytes().all(|b| b.is_ascii_hexdigit()))
            .ok_or_else(|| ChainError::Unsupported(format!("'{holder}' is not an address")))?;
        let data = format!("0x70a08231{:0>64}", h.to_ascii_lowercase());
        let v = self.call(
            "eth_call",
            json!([{ "to": contract, "data": data }, "latest"]),
        )?;
        let s = v
            .as_str()
            .and_then(|s| s.strip_prefix("0x"))
            .ok_or_else(|| ChainError::Malformed("balanceOf answer is not hex".into()))?;
        if s.len() != 64 {
            return Err(ChainError::Malformed(format!(
                "balanceOf answered {} bytes, not 32 (is {contract} an ERC-20 contract?)",
                s.len() / 2
            )));
        }
        if s[..32].bytes().any(|b| b != b'0') {
            return Err(ChainError::Malformed(
                "token balance exceeds 128 bits".into(),
            ));
        }
        u128::from_str_radix(&s[32..], 16)
            .map_err(|_| ChainError::Malformed("balanceOf answer is not hex".into()))
    }

    /// Broadcasts a signed raw transaction (`0x…` EIP-2718 hex); returns its hash.
    pub fn send_raw(&self, raw_hex: &str) -> Result<String, ChainError> {
        self.call("eth_sendRawTransaction", json!([raw_hex]))?
            .as_str()
            .map(str::to_string)
            .ok_or_else(|| ChainError::Malformed("transaction hash is not a string".into()))
    }

    /// The receipt of `tx_hash`, once mined.
    pub fn receipt(&self, tx_hash: &str) -> Result<Option<Receipt>, ChainError> {
        let r = self.call("eth_getTransactionReceipt", json!([tx_hash]))?;
        if r.is_null() {
            return Ok(None);
        }
        let block = quantity(&r["blockNumber"], "block number")?;
        Ok(Some(Receipt {
            transaction_hash: r["transactionHash"].as_str().unwrap_or(tx_hash).to_string(),
            success: quantity(&r["status"], "status")? == 1,
            block_number: u64::try_from(block)
                .map_err(|_| ChainError::Malformed("block number too large".into()))?,
            gas_used: quantity(&r["gasUsed"], "gas used")?,
            effective_gas_price: quantity(&r["effectiveGasPrice"], "effective gas price")?,
        }))
    }

    /// The latest block number.
    pub fn block_number(&self) -> Result<u64, ChainError> {
        let n = quantity(&self.call("eth_blockNumber", json!([]))?, "block number")?;
        u64::try_from(n).map_err(|_| ChainError::Malformed("block number too large".into()))
    }
}

/// The [`crate::Adapter`] over one Ethereum JSON-RPC endpoint of one chain id.
pub struct EthAdapter {
    rpc: EthRpc,
    network: Network,
    chain_id: u64,
    url: String,
}

impl EthAdapter {
    /// Connects: reads the endpoint's chain id and checks it belongs to `network` (chain id 1
    /// is mainnet, any other a test network — the same rule the transaction parser applies).
    pub fn connect(url: &str, network: Network, timeout: Duration) -> Result<Self, ChainError> {
        let rpc = EthRpc::new(url, timeout);
        let chain_id = rpc.chain_id()?;
        if (chain_id == 1) != (network == Network::Mainnet) {
            return Err(ChainError::Unsupported(format!(
                "provider {} serves chain id {chain_id}, which is not {network:?}",
                crate::redact_url(url)
            )));
        }
        Ok(EthAdapter {
            rpc,
            network,
            chain_id,
            url: url.to_string(),
        })
    }

    /// The chain id the provider serves.
    pub fn chain_id(&self) -> u64 {
        self.chain_id
    }

    /// The JSON-RPC client.
    pub fn rpc(&self) -> &EthRpc {
        &self.rpc
    }
}

impl crate::Adapter for EthAdapter {
    fn describe(&self) -> String {
        format!(
            "ethereum chain id {} at {}",
            self.chain_id,
            crate::redact_url(&self.url)
        )
    }

    fn serves(&self, intent: &Intent) -> bool {
        intent.chain == Chain::Ethereum
            && intent.network == self.network
            && intent.details.get("chain_id") == Some(&self.chain_id.to_string())
    }

    fn serves_wallet(&self, chain: Chain, network: Network) -> bool {
        chain == Chain::Ethereum && network == self.network
    }

    fn broadcast(&self, signed: &str) -> Result<String, ChainError> {
        self.rpc.send_raw(signed)
    }

    fn observe(&self, txid: &str, intent: &Intent, _signed: &str) -> Result<Observed, ChainError> {
        if let Some(r) = self.rpc.receipt(txid)? {
            let head = self.rpc.block_number()?;
            return Ok(Observed::Included {
                confirmations: head.saturating_sub(r.block_number).saturating_add(1),
                block: r.block_number,
                success: r.success,
                reason: if r.success {
                    String::new()
                } else {
                    "reverted (receipt status 0)".into()
                },
            });
        }
        if !self
            .rpc
            .call("eth_getTransactionByHash", json!([txid]))?
            .is_null()
        {
            return Ok(Observed::Pending);
        }
        // Unknown to the provider: dropped if its nonce has been used by a mined transaction.
        let nonce: u64 = intent
            .details
            .get("nonce")
            .and_then(|n| n.parse().ok())
            .ok_or_else(|| ChainError::Unsupported("intent has no nonce".into()))?;
        let mined = quantity(
            &self
                .rpc
                .call("eth_getTransactionCount", json!([intent.from, "latest"]))?,
            "nonce",
        )?;
        if mined > u128::from(nonce) {
            return Ok(Observed::Dropped {
                reason: format!("nonce {nonce} was used by another transaction"),
            });
        }
        Ok(Observed::Unknown)
    }

    fn balance(&self, address: &str) -> Result<u128, ChainError> {
        self.rpc.balance(address)
    }

    fn token_balance(&self, address: &str, contract: &str) -> Result<u128, ChainError> {
        self.rpc.erc20_balance(contract, address)
    }

    fn build_transfer(&self, req: &crate::BuildRequest) -> Result<crate::Built, ChainError> {
        use alloy_consensus::{SignableTransaction, TxEip1559};
        use alloy_primitives::{Address, TxKind, U256};
        if req.chain_id != Some(self.chain_id) {
            return Err(ChainError::Unsupported(format!(
                "the wallet signs for chain id {:?}; this provider serves {}",
                req.chain_id, self.chain_id
            )));
        }
        let to: Address = req.to.parse().map_err(|_| {
            ChainError::Unsupported("destination is not an Ethereum address".into())
        })?;
        // A token transfer calls the contract with `transfer(to, amount)` and sends no ETH.
        let (call_to, value, data) = match &req.token {
            Some(contract) => {
                let c: Address = contract.parse().map_err(|_| {
                    ChainError::Unsupported("token contract is not an Ethereum address".into())
                })?;
                (
                    c,
                    0u128,
                    mpc_protocol::chain::eth::erc20_transfer_calldata(&to, req.amount),
                )
            }
            None => (to, req.amount, Vec::new()),
        };
        let nonce = self.rpc.nonce(&req.from)?;
        let fee = self.rpc.fee_suggestion()?;
        let tip = match req.fee {
            crate::FeeLevel::Slow => (fee.max_priority_fee_per_gas / 2).max(1),
            crate::FeeLevel::Normal => fee.max_priority_fee_per_gas,
            crate::FeeLevel::Fast => fee.max_priority_fee_per_gas.saturating_mul(2),
        };
        let gas = self
            .rpc
            .estimate_gas(&req.from, &format!("{call_to:#x}"), value, &data)?;
        let tx = TxEip1559 {
            chain_id: self.chain_id,
            nonce,
            gas_limit: gas,
            max_fee_per_gas: fee.next_base_fee.saturating_mul(2).saturating_add(tip),
            max_priority_fee_per_gas: tip,
            to: TxKind::Call(call_to),
            value: U256::from(value),
            input: data.into(),
            ..Default::default()
        };
        let mut payload = Vec::new();
        tx.encode_for_signing(&mut payload);
        Ok(crate::Built {
            payload,
            extras: Default::default(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantities() {
        assert_eq!(quantity(&json!("0x0"), "q").unwrap(), 0);
        assert_eq!(quantity(&json!("0x"), "q").unwrap(), 0);
        assert_eq!(quantity(&json!("0xaa36a7"), "q").unwrap(), 11_155_111);
        assert!(quantity(&json!("aa"), "q").is_err());
        assert!(quantity(&json!("0xzz"), "q").is_err());
        assert!(quantity(&json!(5), "q").is_err());
        assert!(quantity(&json!(format!("0x{}", "f".repeat(40))), "q").is_err());
    }
}
