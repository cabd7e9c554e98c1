//! Bitcoin: P2WPKH (BIP-143) and P2TR key-path (BIP-341) spends, with rust-bitcoin.
//!
//! The client sends the unsigned transaction (consensus encoding, no witnesses) and the outputs it
//! spends; every input must spend an output of the wallet. Outputs paying the wallet's own script
//! are change; the others are the transfers policy checks.

use super::{
    payload_err, Amount, Chain, ChainError, Intent, Network, Parsed, PayloadExtras, ToSign,
    Transfer, WalletKey, MAX_BTC_INPUTS,
};
use crate::ecdsa::MessageDigest;
use bitcoin::hashes::Hash;
use bitcoin::key::TweakedPublicKey;
use bitcoin::secp256k1;
use bitcoin::sighash::{EcdsaSighashType, Prevouts, SighashCache, TapSighashType};
use bitcoin::{
    Address, CompressedPublicKey, ScriptBuf, Transaction, TxOut, Witness, XOnlyPublicKey,
};
use std::collections::BTreeMap;

fn network(n: Network) -> bitcoin::Network {
    match n {
        Network::Mainnet => bitcoin::Network::Bitcoin,
        Network::Testnet => bitcoin::Network::Testnet,
    }
}

/// P2WPKH address (bech32) of a 33-byte compressed key.
pub fn p2wpkh_address(public_key: &[u8], net: Network) -> Result<String, ChainError> {
    let pk = CompressedPublicKey::from_slice(public_key)
        .map_err(|e| ChainError::Key(format!("compressed public key: {e}")))?;
    Ok(Address::p2wpkh(&pk, network(net)).to_string())
}

/// P2TR address (bech32m) whose output key is the 32-byte x-only `output_key`. FROST
/// secp256k1-tr group keys are already BIP-341 output keys (`Q = P + H_TapTweak(P)·G`, no script
/// path), so no further tweak is applied.
pub fn p2tr_address(output_key: &[u8], net: Network) -> Result<String, ChainError> {
    let x = XOnlyPublicKey::from_slice(output_key)
        .map_err(|e| ChainError::Key(format!("x-only public key: {e}")))?;
    Ok(
        Address::p2tr_tweaked(TweakedPublicKey::dangerous_assume_tweaked(x), network(net))
            .to_string(),
    )
}

fn wallet_script(wallet: &WalletKey) -> Result<ScriptBuf, ChainError> {
    let addr: Address<bitcoin::address::NetworkUnchecked> = wallet
        .address
        .parse()
        .map_err(|e| ChainError::Key(format!("wallet address: {e}")))?;
    let addr = addr
        .require_network(network(wallet.network))
        .map_err(|e| ChainError::Key(format!("wallet address: {e}")))?;
    Ok(addr.script_pubkey())
}

fn decode(payload: &[u8]) -> Result<Transaction, ChainError> {
    let tx: Transaction = bitcoin::consensus::deserialize(payload)
        .map_err(|e| payload_err(format!("bitcoin transaction: {e}")))?;
    if bitcoin::consensus::serialize(&tx) != payload {
        return Err(payload_err("payload is not the canonical encoding"));
    }
    Ok(tx)
}

/// The outputs an unsigned transaction spends, as `txid:vout`, in input order.
pub fn spent_outpoints(payload: &[u8]) -> Result<Vec<String>, ChainError> {
    Ok(decode(payload)?
        .input
        .iter()
        .map(|i| i.previous_output.to_string())
        .collect())
}

/// Parses the unsigned transaction and computes one sighash per input.
pub fn parse(
    wallet: &WalletKey,
    payload: &[u8],
    extras: &PayloadExtras,
) -> Result<Parsed, ChainError> {
    let tx = decode(payload)?;
    if tx.input.is_empty() || tx.input.len() > MAX_BTC_INPUTS {
        return Err(payload_err(format!(
            "a transaction needs 1 to {MAX_BTC_INPUTS} inputs"
        )));
    }
    if tx.output.is_empty() {
        return Err(payload_err("a transaction needs at least one output"));
    }
    if tx
        .input
        .iter()
        .any(|i| !i.script_sig.is_empty() || !i.witness.is_empty())
    {
        return Err(payload_err(
            "inputs must be unsigned (empty scriptSig and witness)",
        ));
    }
    if extras.spent_outputs.len() != tx.input.len() {
        return Err(payload_err(format!(
            "{} spent outputs given for {} inputs",
            extras.spent_outputs.len(),
            tx.input.len()
        )));
    }
    let own = wallet_script(wallet)?;
    let mut prevouts = Vec::with_capacity(tx.input.len());
    let mut total_in: u64 = 0;
    for (i, so) in extras.spent_outputs.iter().enumerate() {
        let script = ScriptBuf::from_bytes(
            hex::decode(&so.script_pubkey)
                .map_err(|_| payload_err(format!("spent output {i}: scriptPubKey is not hex")))?,
        );
        if script != own {
            return Err(payload_err(format!(
                "input {i} spends an output that does not belong to this wallet"
            )));
        }
        let value = u64::try_from(so.amount.0)
            .ok()
            .filter(|v| *v <= bitcoin::Amount::MAX_MONEY.to_sat())
            .ok_or_else(|| payload_err(format!("spent output {i}: amount out of range")))?;
        total_in = total_in
            .checked_add(value)
            .ok_or_else(|| payload_err("input total overflows"))?;
        prevouts.push(TxOut {
            value: bitcoin::Amount::from_sat(value),
            script_pubkey: script,
        });
    }
    let mut transfers = Vec::new();
    let mut total_out: u64 = 0;
    let mut change: u64 = 0;
    for (i, out) in tx.output.iter().enumerate() {
        let v = out.value.to_sat();
        total_out = total_out
            .checked_add(v)
            .ok_or_else(|| payload_err("output total overflows"))?;
        if out.script_pubkey == own {
            change += v;
            continue;
        }
        let addr = Address::from_script(&out.script_pubkey, network(wallet.network))
            .map_err(|e| payload_err(format!("output {i} has no standard address: {e}")))?;
        transfers.push(Transfer {
            to: addr.to_string(),
            amount: Amount(u128::from(v)),
        });
    }
    let fee = total_in
        .checked_sub(total_out)
        .ok_or_else(|| payload_err("outputs exceed inputs"))?;
    let mut cache = SighashCache::new(&tx);
    let mut to_sign = Vec::with_capacity(tx.input.len());
    for (i, prev) in prevouts.iter().enumerate() {
        match wallet.chain {
            Chain::BitcoinP2wpkh => {
                let h = cache
                    .p2wpkh_signature_hash(
                        i,
                        &prev.script_pubkey,
                        prev.value,
                        EcdsaSighashType::All,
                    )
                    .map_err(|e| payload_err(format!("sighash of input {i}: {e}")))?;
                to_sign.push(ToSign::Ecdsa(MessageDigest::from_chain_hash(
                    h.to_byte_array(),
                )));
            }
            _ => {
                let h = cache
                    .taproot_key_spend_signature_hash(
                        i,
                        &Prevouts::All(&prevouts),
                        TapSighashType::Default,
                    )
                    .map_err(|e| payload_err(format!("sighash of input {i}: {e}")))?;
                to_sign.push(ToSign::Schnorr(h.to_byte_array()));
            }
        }
    }
    let amount: u128 = transfers.iter().map(|t| t.amount.0).sum();
    let mut details = BTreeMap::new();
    details.insert("inputs".into(), tx.input.len().to_string());
    details.insert("input_total".into(), total_in.to_string());
    details.insert("change".into(), change.to_string());
    details.insert("txid".into(), tx.compute_txid().to_string());
    details.insert(
        "locktime".into(),
        tx.lock_time.to_consensus_u32().to_string(),
    );
    Ok(Parsed {
        intent: Intent {
            chain: wallet.chain,
            network: wallet.network,
            from: wallet.address.clone(),
            asset: "BTC".into(),
            transfers,
            amount: Amount(amount),
            fee: Amount(u128::from(fee)),
            details,
            token: None,
        },
        to_sign,
    })
}

/// Adds the witnesses and returns the signed transaction, hex.
pub fn assemble(
    wallet: &WalletKey,
    payload: &[u8],
    signatures: &[Vec<u8>],
) -> Result<String, ChainError> {
    let mut tx = decode(payload)?;
    let bad = |e: &dyn std::fmt::Display| ChainError::Signature(e.to_string());
    for (input, sig) in tx.input.iter_mut().zip(signatures) {
        input.witness = match wallet.chain {
            Chain::BitcoinP2wpkh => {
                let s = secp256k1::ecdsa::Signature::from_compact(sig).map_err(|e| bad(&e))?;
                let pk =
                    secp256k1::PublicKey::from_slice(&wallet.public_key).map_err(|e| bad(&e))?;
                Witness::p2wpkh(
                    &bitcoin::ecdsa::Signature {
                        signature: s,
                        sighash_type: EcdsaSighashType::All,
                    },
                    &pk,
                )
            }
            _ => {
                let s = secp256k1::schnorr::Signature::from_slice(sig).map_err(|e| bad(&e))?;
                Witness::p2tr_key_spend(&bitcoin::taproot::Signature {
                    signature: s,
                    sighash_type: TapSighashType::Default,
                })
            }
        };
    }
    Ok(bitcoin::consensus::encode::serialize_hex(&tx))
}
