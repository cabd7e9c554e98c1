//! Builders of *unsigned* transactions, as a wallet integrator would produce them: an EIP-1559
//! Ethereum transfer (alloy), a Bitcoin spend of one UTXO with change (rust-bitcoin), and a Solana
//! System transfer message. The node parses whatever bytes it is given; these only make it easy
//! to produce valid ones.

use alloy_consensus::{SignableTransaction, TxEip1559};
use alloy_primitives::{Address, TxKind, U256};
use anyhow::Context;
use mpc_protocol::chain::{Amount, SpentOutput};

/// EIP-1559 transfer of `value_wei` to `to` (gas limit 21 000).
pub fn eth_transfer(
    chain_id: u64,
    nonce: u64,
    to: &str,
    value_wei: u128,
    max_fee_per_gas: u128,
    max_priority_fee_per_gas: u128,
) -> anyhow::Result<Vec<u8>> {
    let to: Address = to
        .parse()
        .context("destination is not an Ethereum address")?;
    let tx = TxEip1559 {
        chain_id,
        nonce,
        gas_limit: 21_000,
        max_fee_per_gas,
        max_priority_fee_per_gas,
        to: TxKind::Call(to),
        value: U256::from(value_wei),
        ..Default::default()
    };
    let mut out = Vec::new();
    tx.encode_for_signing(&mut out);
    Ok(out)
}

/// A Bitcoin spend of one UTXO (`txid:vout` worth `input_sats`, owned by `from`) paying
/// `amount_sats` to `to` and the rest minus `fee_sats` back to `from`. Returns the unsigned
/// transaction and the spent output.
pub fn btc_spend(
    from: &str,
    utxo: &str,
    input_sats: u64,
    to: &str,
    amount_sats: u64,
    fee_sats: u64,
) -> anyhow::Result<(Vec<u8>, SpentOutput)> {
    use bitcoin::{
        absolute, transaction, Amount as Sat, OutPoint, ScriptBuf, Sequence, TxIn, TxOut, Witness,
    };
    let parse = |a: &str| -> anyhow::Result<bitcoin::Address> {
        let u: bitcoin::Address<bitcoin::address::NetworkUnchecked> = a
            .parse()
            .with_context(|| format!("'{a}' is not a Bitcoin address"))?;
        Ok(u.assume_checked())
    };
    let from = parse(from)?;
    let to = parse(to)?;
    let outpoint: OutPoint = utxo.parse().context("utxo must be txid:vout")?;
    let change = input_sats
        .checked_sub(amount_sats)
        .and_then(|r| r.checked_sub(fee_sats))
        .context("amount plus fee exceed the input")?;
    let mut output = vec![TxOut {
        value: Sat::from_sat(amount_sats),
        script_pubkey: to.script_pubkey(),
    }];
    if change > 0 {
        output.push(TxOut {
            value: Sat::from_sat(change),
            script_pubkey: from.script_pubkey(),
        });
    }
    let tx = bitcoin::Transaction {
        version: transaction::Version::TWO,
        lock_time: absolute::LockTime::ZERO,
        input: vec![TxIn {
            previous_output: outpoint,
            script_sig: ScriptBuf::new(),
            sequence: Sequence::ENABLE_RBF_NO_LOCKTIME,
            witness: Witness::new(),
        }],
        output,
    };
    Ok((
        bitcoin::consensus::serialize(&tx),
        SpentOutput {
            amount: Amount(u128::from(input_sats)),
            script_pubkey: hex::encode(from.script_pubkey().as_bytes()),
        },
    ))
}

/// A legacy Solana message: one System transfer of `lamports` from `from` (fee payer) to `to`.
pub fn sol_transfer(
    from: &str,
    to: &str,
    lamports: u64,
    recent_blockhash: &str,
) -> anyhow::Result<Vec<u8>> {
    let key = |s: &str, what: &str| -> anyhow::Result<[u8; 32]> {
        bs58::decode(s)
            .into_vec()
            .ok()
            .and_then(|v| v.try_into().ok())
            .with_context(|| format!("{what} must be 32 bytes of base58"))
    };
    let (from, to, hash) = (
        key(from, "from")?,
        key(to, "to")?,
        key(recent_blockhash, "blockhash")?,
    );
    Ok(mpc_protocol::chain::sol::transfer_message(
        &from, &to, lamports, &hash, None,
    ))
}
