//! Bitcoin through an Esplora REST API (Blockstream's esplora, mempool.space, electrs'
//! esplora mode), one adapter for both wallet kinds (P2WPKH and P2TR).
//!
//! No Bitcoin node can be installed where this is developed: the tests serve fixtures written
//! to the published API contract (`GET /address/:a/utxo`, `/fee-estimates`, `/tx/:id/status`,
//! `/tx/:id/outspend/:vout`, `/blocks/tip/height`, `/block-height/0`, `POST /tx`) over HTTP,
//! and the transactions built here are checked by Bitcoin Core's script interpreter in the
//! end-to-end tests once signed.
//!
//! Building selects confirmed UTXOs largest first, pays the destination, returns change above
//! the dust limit to the wallet and offers the provider's fee rate for 1 (fast), 6 (normal) or
//! 144 (slow) blocks, at least 1 sat/vB.

use crate::{BuildRequest, Built, ChainError, FeeLevel, Observed, MAX_RESPONSE_BYTES};
use bitcoin::{
    absolute, transaction, Address, OutPoint, ScriptBuf, Sequence, TxIn, TxOut, Witness,
};
use mpc_protocol::chain::{Amount, Chain, Intent, Network, PayloadExtras, SpentOutput};
use serde_json::Value;
use std::io::Read;
use std::time::Duration;

/// Bitcoin mainnet's genesis block hash.
pub const MAINNET_GENESIS: &str =
    "000000000019d6689c085ae165831e934ff763ae46a2a6c172b3f1b60a8ce26f";
/// Most UTXOs a built transaction spends (the parser's limit).
pub const MAX_INPUTS: usize = mpc_protocol::chain::MAX_BTC_INPUTS;

/// The [`crate::Adapter`] over one Esplora endpoint.
pub struct EsploraAdapter {
    base: String,
    agent: ureq::Agent,
    network: Network,
}

/// One unspent output, as Esplora lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Utxo {
    /// Outpoint.
    pub outpoint: OutPoint,
    /// Value, satoshi.
    pub value: u64,
    /// Whether it is in a block.
    pub confirmed: bool,
}

fn malformed(what: &str) -> ChainError {
    ChainError::Malformed(format!("{what} missing or of the wrong type"))
}

impl EsploraAdapter {
    /// Connects: reads the genesis block hash (`/block-height/0`) and checks it belongs to
    /// `network` (the main network's for mainnet; any other for a test network).
    pub fn connect(url: &str, network: Network, timeout: Duration) -> Result<Self, ChainError> {
        let a = EsploraAdapter {
            base: url.trim_end_matches('/').to_string(),
            agent: ureq::AgentBuilder::new().timeout(timeout).build(),
            network,
        };
        let genesis = a.get_text("/block-height/0")?;
        if (genesis.trim() == MAINNET_GENESIS) != (network == Network::Mainnet) {
            return Err(ChainError::Unsupported(format!(
                "provider {} has genesis {}, which is not Bitcoin {network:?}",
                crate::redact_url(url),
                genesis.trim()
            )));
        }
        Ok(a)
    }

    fn read(resp: ureq::Response) -> Result<String, ChainError> {
        let mut text = String::new();
        resp.into_reader()
            .take(MAX_RESPONSE_BYTES + 1)
            .read_to_string(&mut text)
            .map_err(|e| ChainError::Transport(e.to_string().chars().take(300).collect()))?;
        if text.len() as u64 > MAX_RESPONSE_BYTES {
            return Err(ChainError::Malformed("answer too large".into()));
        }
        Ok(text)
    }

    /// `GET path`: `Ok(None)` on 404.
    fn get_opt(&self, path: &str) -> Result<Option<String>, ChainError> {
        match self.agent.get(&format!("{}{path}", self.base)).call() {
            Ok(r) => Self::read(r).map(Some),
            Err(ureq::Error::Status(404, _)) => Ok(None),
            Err(e) => Err(self.failed(e)),
        }
    }

    /// A failed call as an adapter error: the provider's status and (shortened) answer, or the
    /// transport error without the URL's secrets.
    fn failed(&self, e: ureq::Error) -> ChainError {
        match e {
            ureq::Error::Status(code, r) => ChainError::Provider {
                code: i64::from(code),
                message: Self::read(r)
                    .unwrap_or_default()
                    .chars()
                    .take(300)
                    .collect(),
            },
            e => crate::transport(&self.base, e),
        }
    }

    fn get_text(&self, path: &str) -> Result<String, ChainError> {
        self.get_opt(path)?.ok_or(ChainError::Provider {
            code: 404,
            message: format!("{path} not found"),
        })
    }

    fn get_json(&self, path: &str) -> Result<Value, ChainError> {
        serde_json::from_str(&self.get_text(path)?)
            .map_err(|e| ChainError::Malformed(format!("{path}: not JSON: {e}")))
    }

    /// The unspent outputs of `address`.
    pub fn utxos(&self, address: &str) -> Result<Vec<Utxo>, ChainError> {
        let v = self.get_json(&format!("/address/{address}/utxo"))?;
        v.as_array()
            .ok_or_else(|| malformed("utxo list"))?
            .iter()
            .map(|u| {
                let txid = u["txid"].as_str().ok_or_else(|| malformed("utxo txid"))?;
                let vout = u["vout"].as_u64().ok_or_else(|| malformed("utxo vout"))?;
                Ok(Utxo {
                    outpoint: format!("{txid}:{vout}")
                        .parse()
                        .map_err(|_| malformed("utxo outpoint"))?,
                    value: u["value"].as_u64().ok_or_else(|| malformed("utxo value"))?,
                    confirmed: u["status"]["confirmed"].as_bool().unwrap_or(false),
                })
            })
            .collect()
    }

    /// The provider's fee rate (sat/vB, rounded up, at least 1) for `level`.
    pub fn fee_rate(&self, level: FeeLevel) -> Result<u64, ChainError> {
        let v = self.get_json("/fee-estimates")?;
        let target = match level {
            FeeLevel::Fast => "1",
            FeeLevel::Normal => "6",
            FeeLevel::Slow => "144",
        };
        let rate = v[target]
            .as_f64()
            .or_else(|| {
                // The nearest target the provider does give.
                v.as_object()?
                    .iter()
                    .filter_map(|(k, r)| Some((k.parse::<u32>().ok()?, r.as_f64()?)))
                    .min_by_key(|(k, _)| k.abs_diff(target.parse().unwrap_or(6)))
                    .map(|(_, r)| r)
            })
            .ok_or_else(|| malformed("fee estimates"))?;
        if !rate.is_finite() || !(0.0..=100_000.0).contains(&rate) {
            return Err(ChainError::Malformed(format!("fee rate {rate} sat/vB")));
        }
        Ok((rate.ceil() as u64).max(1))
    }

    fn tip_height(&self) -> Result<u64, ChainError> {
        self.get_text("/blocks/tip/height")?
            .trim()
            .parse()
            .map_err(|_| malformed("tip height"))
    }

    fn address(&self, s: &str) -> Result<Address, ChainError> {
        let net = match self.network {
            Network::Mainnet => bitcoin::Network::Bitcoin,
            Network::Testnet => bitcoin::Network::Testnet,
        };
        s.parse::<Address<bitcoin::address::NetworkUnchecked>>()
            .ok()
            .and_then(|a| a.require_network(net).ok())
            .ok_or_else(|| ChainError::Unsupported(format!("'{s}' is not a {net} address")))
    }
}

/// Virtual size of spending one output of `script` (witness discounted), rounded up.
fn input_vbytes(script: &ScriptBuf) -> u64 {
    if script.is_p2tr() {
        58
    } else {
        68
    }
}

/// Virtual size of an output paying `script`.
fn output_vbytes(script: &ScriptBuf) -> u64 {
    8 + 1 + script.len() as u64
}

/// Smallest output the network relays to `script` (dust limit).
fn dust(script: &ScriptBuf) -> u64 {
    if script.is_p2tr() {
        330
    } else {
        546
    }
}

impl crate::Adapter for EsploraAdapter {
    fn describe(&self) -> String {
        format!(
            "bitcoin {:?} esplora at {}",
            self.network,
            crate::redact_url(&self.base)
        )
        .to_lowercase()
    }

    fn serves(&self, intent: &Intent) -> bool {
        matches!(intent.chain, Chain::BitcoinP2wpkh | Chain::BitcoinP2tr)
            && intent.network == self.network
    }

    fn serves_wallet(&self, chain: Chain, network: Network) -> bool {
        matches!(chain, Chain::BitcoinP2wpkh | Chain::BitcoinP2tr) && network == self.network
    }

    fn broadcast(&self, signed: &str) -> Result<String, ChainError> {
        match self
            .agent
            .post(&format!("{}/tx", self.base))
            .send_string(signed)
        {
            Ok(r) => Ok(Self::read(r)?.trim().to_string()),
            Err(e) => Err(self.failed(e)),
        }
    }

    fn observe(&self, txid: &str, _intent: &Intent, signed: &str) -> Result<Observed, ChainError> {
        if let Some(text) = self.get_opt(&format!("/tx/{txid}/status"))? {
            let st: Value = serde_json::from_str(&text)
                .map_err(|e| ChainError::Malformed(format!("tx status: {e}")))?;
            if st["confirmed"].as_bool() != Some(true) {
                return Ok(Observed::Pending);
            }
            let block = st["block_height"]
                .as_u64()
                .ok_or_else(|| malformed("block height"))?;
            let tip = self.tip_height()?;
            return Ok(Observed::Included {
                confirmations: tip.saturating_sub(block).saturating_add(1),
                block,
                success: true,
                reason: String::new(),
            });
        }
        // Unknown: dropped once another transaction spends one of its inputs.
        let raw = hex::decode(signed)
            .map_err(|_| ChainError::Unsupported("signed tx is not hex".into()))?;
        let tx: bitcoin::Transaction = bitcoin::consensus::deserialize(&raw)
            .map_err(|_| ChainError::Unsupported("signed tx does not decode".into()))?;
        for input in &tx.input {
            let op = input.previous_output;
            let v = self.get_json(&format!("/tx/{}/outspend/{}", op.txid, op.vout))?;
            if v["spent"].as_bool() == Some(true) {
                let by = v["txid"].as_str().unwrap_or("?");
                if by != txid {
                    return Ok(Observed::Dropped {
                        reason: format!("input {op} was spent by {by}"),
                    });
                }
            }
        }
        Ok(Observed::Unknown)
    }

    fn balance(&self, address: &str) -> Result<u128, ChainError> {
        let v = self.get_json(&format!("/address/{address}"))?;
        let s = &v["chain_stats"];
        let funded = s["funded_txo_sum"]
            .as_u64()
            .ok_or_else(|| malformed("funded sum"))?;
        let spent = s["spent_txo_sum"]
            .as_u64()
            .ok_or_else(|| malformed("spent sum"))?;
        Ok(u128::from(funded.saturating_sub(spent)))
    }

    fn build_transfer(&self, req: &BuildRequest) -> Result<Built, ChainError> {
        if req.token.is_some() {
            return Err(ChainError::Unsupported("Bitcoin has no tokens".into()));
        }
        let from = self.address(&req.from)?.script_pubkey();
        let to = self.address(&req.to)?.script_pubkey();
        let amount = u64::try_from(req.amount)
            .ok()
            .filter(|a| *a >= dust(&to))
            .ok_or_else(|| {
                ChainError::Unsupported(format!(
                    "amount must be at least the dust limit ({} sat)",
                    dust(&to)
                ))
            })?;
        let rate = self.fee_rate(req.fee)?;
        let mut utxos: Vec<Utxo> = self
            .utxos(&req.from)?
            .into_iter()
            .filter(|u| u.confirmed)
            .collect();
        utxos.sort_by(|a, b| b.value.cmp(&a.value).then(a.outpoint.cmp(&b.outpoint)));
        let fee_for = |inputs: usize, change: bool| -> u64 {
            let outs = output_vbytes(&to) + if change { output_vbytes(&from) } else { 0 };
            (11 + inputs as u64 * input_vbytes(&from) + outs) * rate
        };
        let mut chosen = Vec::new();
        let mut total: u64 = 0;
        for u in utxos {
            if total >= amount.saturating_add(fee_for(chosen.len(), true)) {
                break;
            }
            if chosen.len() == MAX_INPUTS {
                break;
            }
            total = total.saturating_add(u.value);
            chosen.push(u);
        }
        let with_change = fee_for(chosen.len(), true);
        let without = fee_for(chosen.len(), false);
        let change = match total.checked_sub(amount.saturating_add(with_change)) {
            Some(c) if c >= dust(&from) => Some(c),
            // No change output: what is left above the amount all goes to the fee.
            _ if total >= amount.saturating_add(without) => None,
            _ => {
                return Err(ChainError::Unsupported(format!(
                    "{total} sat confirmed in {} UTXOs cannot pay {amount} sat and a fee of {without} sat at {rate} sat/vB",
                    chosen.len()
                )))
            }
        };
        let mut output = vec![TxOut {
            value: bitcoin::Amount::from_sat(amount),
            script_pubkey: to,
        }];
        if let Some(c) = change {
            output.push(TxOut {
                value: bitcoin::Amount::from_sat(c),
                script_pubkey: from.clone(),
            });
        }
        let tx = bitcoin::Transaction {
            version: transaction::Version::TWO,
            lock_time: absolute::LockTime::ZERO,
            input: chosen
                .iter()
                .map(|u| TxIn {
                    previous_output: u.outpoint,
                    script_sig: ScriptBuf::new(),
                    sequence: Sequence::ENABLE_RBF_NO_LOCKTIME,
                    witness: Witness::new(),
                })
                .collect(),
            output,
        };
        Ok(Built {
            payload: bitcoin::consensus::serialize(&tx),
            extras: PayloadExtras {
                spent_outputs: chosen
                    .iter()
                    .map(|u| SpentOutput {
                        amount: Amount(u128::from(u.value)),
                        script_pubkey: hex::encode(from.as_bytes()),
                    })
                    .collect(),
            },
        })
    }
}

#[cfg(test)]
mod tests;
