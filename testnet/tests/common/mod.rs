//! Shared by the end-to-end tests: every signed transaction checked by an implementation other
//! than ours — alloy sender recovery (Ethereum), Bitcoin Core's script interpreter
//! (libbitcoinconsensus) plus rust-bitcoin sighashes and libsecp256k1 (Bitcoin), ed25519-dalek
//! (Solana).
#![allow(clippy::unwrap_used, dead_code)] // tests fail loudly on purpose

use base64::Engine;
use mpc_protocol::chain::Chain;
use mpc_testnet::demo::ChainResult;

/// Bitcoin Core's script interpreter (libbitcoinconsensus, with segwit and Taproot) accepts
/// every input of the signed transaction against the outputs it spends — and refuses it once a
/// byte of a signature is changed.
fn consensus_accepts(signed_hex: &str, spent: &[mpc_protocol::chain::SpentOutput]) {
    let raw = hex::decode(signed_hex).unwrap();
    let scripts: Vec<Vec<u8>> = spent
        .iter()
        .map(|s| hex::decode(&s.script_pubkey).unwrap())
        .collect();
    let utxos: Vec<bitcoinconsensus::Utxo> = spent
        .iter()
        .zip(&scripts)
        .map(|(s, script)| bitcoinconsensus::Utxo {
            script_pubkey: script.as_ptr(),
            script_pubkey_len: script.len() as u32,
            value: s.amount.0 as i64,
        })
        .collect();
    let flags = bitcoinconsensus::VERIFY_ALL_PRE_TAPROOT | bitcoinconsensus::VERIFY_TAPROOT;
    let verify = |tx: &[u8], i: usize| {
        bitcoinconsensus::verify_with_flags(
            &scripts[i],
            spent[i].amount.0 as u64,
            tx,
            Some(&utxos),
            i,
            flags,
        )
    };
    for i in 0..spent.len() {
        verify(&raw, i).unwrap_or_else(|e| panic!("Bitcoin Core refuses input {i}: {e:?}"));
    }
    // Change one byte inside the first input's first witness item (the signature): refused.
    let mut tx: bitcoin::Transaction = bitcoin::consensus::deserialize(&raw).unwrap();
    let mut items: Vec<Vec<u8>> = tx.input[0].witness.iter().map(<[u8]>::to_vec).collect();
    items[0][10] ^= 1;
    tx.input[0].witness = bitcoin::Witness::from_slice(&items);
    let bad = bitcoin::consensus::serialize(&tx);
    assert!(verify(&bad, 0).is_err(), "a changed signature was accepted");
}

pub fn verify_independently(r: &ChainResult) {
    match r.chain {
        Chain::Ethereum => {
            use alloy_consensus::private::alloy_eips::eip2718::Decodable2718;
            let raw = hex::decode(r.signed_transaction.trim_start_matches("0x")).unwrap();
            let env = alloy_consensus::TxEnvelope::decode_2718(&mut raw.as_slice()).unwrap();
            let sender = env.as_eip1559().unwrap().recover_signer().unwrap();
            assert_eq!(sender.to_checksum(None), r.address, "recovered sender");
        }
        Chain::BitcoinP2wpkh | Chain::BitcoinP2tr => {
            use bitcoin::secp256k1::{Message, Secp256k1};
            let secp = Secp256k1::verification_only();
            let tx: bitcoin::Transaction =
                bitcoin::consensus::deserialize(&hex::decode(&r.signed_transaction).unwrap())
                    .unwrap();
            let spent = &r.spent_outputs[0];
            let script = bitcoin::ScriptBuf::from_bytes(hex::decode(&spent.script_pubkey).unwrap());
            let prev = bitcoin::TxOut {
                value: bitcoin::Amount::from_sat(spent.amount.0 as u64),
                script_pubkey: script.clone(),
            };
            let addr: bitcoin::Address<bitcoin::address::NetworkUnchecked> =
                r.address.parse().unwrap();
            assert_eq!(addr.assume_checked().script_pubkey(), script);
            consensus_accepts(&r.signed_transaction, &r.spent_outputs);
            let wit = &tx.input[0].witness;
            let mut cache = bitcoin::sighash::SighashCache::new(&tx);
            if r.chain == Chain::BitcoinP2wpkh {
                let sig = bitcoin::ecdsa::Signature::from_slice(wit.nth(0).unwrap()).unwrap();
                let pk = bitcoin::CompressedPublicKey::from_slice(wit.nth(1).unwrap()).unwrap();
                assert_eq!(bitcoin::ScriptBuf::new_p2wpkh(&pk.wpubkey_hash()), script);
                let h = cache
                    .p2wpkh_signature_hash(0, &script, prev.value, sig.sighash_type)
                    .unwrap();
                secp.verify_ecdsa(&Message::from(h), &sig.signature, &pk.0)
                    .unwrap();
            } else {
                let sig = bitcoin::taproot::Signature::from_slice(wit.nth(0).unwrap()).unwrap();
                let key = bitcoin::XOnlyPublicKey::from_slice(&script.as_bytes()[2..34]).unwrap();
                let h = cache
                    .taproot_key_spend_signature_hash(
                        0,
                        &bitcoin::sighash::Prevouts::All(&[prev]),
                        sig.sighash_type,
                    )
                    .unwrap();
                secp.verify_schnorr(&sig.signature, &Message::from(h), &key)
                    .unwrap();
            }
        }
        Chain::Solana => {
            let tx = base64::engine::general_purpose::STANDARD
                .decode(&r.signed_transaction)
                .unwrap();
            assert_eq!(tx[0], 1);
            assert_eq!(hex::encode(&tx[65..]), r.unsigned_payload);
            let pk: [u8; 32] = bs58::decode(&r.address)
                .into_vec()
                .unwrap()
                .try_into()
                .unwrap();
            let vk = ed25519_dalek::VerifyingKey::from_bytes(&pk).unwrap();
            let sig = ed25519_dalek::Signature::from_slice(&tx[1..65]).unwrap();
            vk.verify_strict(&tx[65..], &sig).unwrap();
        }
    }
}
