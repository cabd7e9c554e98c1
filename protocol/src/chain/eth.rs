//! Ethereum: EIP-1559 (type 2) and legacy EIP-155 transactions, parsed and encoded with alloy.

use super::{
    payload_err, Amount, ChainError, Intent, Network, Parsed, ToSign, TokenRef, TokenStandard,
    Transfer, WalletKey,
};
use crate::ecdsa::MessageDigest;
use alloy_consensus::{SignableTransaction, TxEip1559, TxLegacy};
use alloy_primitives::{Address, Signature, TxKind, U256};
use alloy_rlp::Decodable;
use std::collections::BTreeMap;

/// Mainnet chain id.
const MAINNET_CHAIN_ID: u64 = 1;

/// EIP-55 address of a secp256k1 public key (33-byte compressed or 65-byte uncompressed).
pub fn address(public_key: &[u8]) -> Result<String, ChainError> {
    let pk = k256::PublicKey::from_sec1_bytes(public_key)
        .map_err(|e| ChainError::Key(format!("secp256k1 public key: {e}")))?;
    let point = k256::elliptic_curve::sec1::ToEncodedPoint::to_encoded_point(&pk, false);
    Ok(Address::from_raw_public_key(&point.as_bytes()[1..]).to_checksum(None))
}

enum Tx {
    Eip1559(TxEip1559),
    Legacy(TxLegacy),
}

fn decode(payload: &[u8]) -> Result<Tx, ChainError> {
    let rlp = |e: alloy_rlp::Error| payload_err(format!("RLP: {e}"));
    let (tx, reencoded) = match payload.first() {
        Some(0x02) => {
            let mut buf = &payload[1..];
            let tx = TxEip1559::decode(&mut buf).map_err(rlp)?;
            if !buf.is_empty() {
                return Err(payload_err("trailing bytes after the transaction"));
            }
            let mut out = Vec::with_capacity(payload.len());
            tx.encode_for_signing(&mut out);
            (Tx::Eip1559(tx), out)
        }
        Some(b) if *b >= 0xc0 => {
            let mut buf = payload;
            let tx = TxLegacy::decode(&mut buf).map_err(rlp)?;
            if !buf.is_empty() {
                return Err(payload_err("trailing bytes after the transaction"));
            }
            if tx.chain_id.is_none() {
                return Err(payload_err(
                    "legacy transaction without an EIP-155 chain id (replayable on every chain)",
                ));
            }
            let mut out = Vec::with_capacity(payload.len());
            tx.encode_for_signing(&mut out);
            (Tx::Legacy(tx), out)
        }
        Some(t) if *t < 0x7f => {
            return Err(payload_err(format!(
                "transaction type {t} is not supported (EIP-1559 or legacy EIP-155 only)"
            )))
        }
        _ => return Err(payload_err("not an Ethereum transaction")),
    };
    if reencoded != payload {
        return Err(payload_err(
            "payload is not the canonical unsigned encoding (re-encoding differs)",
        ));
    }
    Ok(tx)
}

fn amount(v: U256, what: &str) -> Result<Amount, ChainError> {
    u128::try_from(v)
        .map(Amount)
        .map_err(|_| payload_err(format!("{what} does not fit in 128 bits")))
}

/// Parses an unsigned transaction: `0x02 || rlp(fields)` or an EIP-155 legacy `rlp(fields, chain
/// id, 0, 0)`. Only plain ETH transfers (empty calldata, no access list) are accepted.
pub fn parse(wallet: &WalletKey, payload: &[u8]) -> Result<Parsed, ChainError> {
    let tx = decode(payload)?;
    let mut details = BTreeMap::new();
    let (chain_id, nonce, gas_limit, to, value, input, max_fee, kind) = match &tx {
        Tx::Eip1559(t) => {
            if !t.access_list.0.is_empty() {
                return Err(payload_err("access lists are not supported"));
            }
            if t.max_priority_fee_per_gas > t.max_fee_per_gas {
                return Err(payload_err("max priority fee exceeds max fee"));
            }
            details.insert(
                "max_priority_fee_per_gas".into(),
                t.max_priority_fee_per_gas.to_string(),
            );
            details.insert("max_fee_per_gas".into(), t.max_fee_per_gas.to_string());
            (
                t.chain_id,
                t.nonce,
                t.gas_limit,
                t.to,
                t.value,
                &t.input,
                t.max_fee_per_gas,
                "eip1559",
            )
        }
        Tx::Legacy(t) => {
            details.insert("gas_price".into(), t.gas_price.to_string());
            (
                t.chain_id.unwrap_or_default(),
                t.nonce,
                t.gas_limit,
                t.to,
                t.value,
                &t.input,
                t.gas_price,
                "legacy_eip155",
            )
        }
    };
    match (wallet.network, chain_id == MAINNET_CHAIN_ID) {
        (Network::Mainnet, false) => {
            return Err(payload_err(format!(
                "chain id {chain_id} is not Ethereum mainnet (1) but the wallet is a mainnet wallet"
            )))
        }
        (Network::Testnet, true) => {
            return Err(payload_err("chain id 1 (mainnet) on a test-network wallet"))
        }
        _ => {}
    }
    let TxKind::Call(to) = to else {
        return Err(payload_err("contract creation is not supported"));
    };
    let fee = u128::from(gas_limit)
        .checked_mul(max_fee)
        .ok_or_else(|| payload_err("fee overflows"))?;
    let value = amount(value, "value")?;
    // An ERC-20 transfer: the recipient and amount come from the calldata, the token is the
    // called contract.
    let (asset, recipient, value, token) = if input.is_empty() {
        ("ETH".to_string(), to, value, None)
    } else if input.len() < 4 {
        return Err(payload_err("calldata shorter than a function selector"));
    } else if input[..4] != ERC20_TRANSFER {
        // Another contract call: parsed as what it is (the contract, the ETH it sends, the
        // selector and the calldata); the custody layer refuses it unless the policy allows
        // this selector on this contract.
        details.insert(CALL_SELECTOR.into(), hex::encode(&input[..4]));
        details.insert("calldata".into(), hex::encode(input));
        ("ETH".to_string(), to, value, None)
    } else {
        let (recipient, units) = erc20_transfer(input)?;
        if value.0 != 0 {
            return Err(payload_err("a token transfer must not also send ETH"));
        }
        details.insert("contract".into(), to.to_checksum(None));
        (
            String::new(),
            recipient,
            units,
            Some(TokenRef {
                standard: TokenStandard::Erc20,
                contract: to.to_checksum(None),
                decimals: 0,
            }),
        )
    };
    details.insert("type".into(), kind.into());
    details.insert("chain_id".into(), chain_id.to_string());
    details.insert("nonce".into(), nonce.to_string());
    details.insert("gas_limit".into(), gas_limit.to_string());
    let hash = match &tx {
        Tx::Eip1559(t) => t.signature_hash(),
        Tx::Legacy(t) => t.signature_hash(),
    };
    Ok(Parsed {
        intent: Intent {
            chain: wallet.chain,
            network: wallet.network,
            from: wallet.address.clone(),
            asset,
            transfers: vec![Transfer {
                to: recipient.to_checksum(None),
                amount: value,
            }],
            amount: value,
            fee: Amount(fee),
            details,
            token,
        },
        to_sign: vec![ToSign::Ecdsa(MessageDigest::from_chain_hash(hash.0))],
    })
}

/// The intent detail that marks a contract call other than a token transfer: its 4-byte
/// function selector, hex.
pub const CALL_SELECTOR: &str = "call_selector";

/// `transfer(address,uint256)`'s selector.
pub const ERC20_TRANSFER: [u8; 4] = [0xa9, 0x05, 0x9c, 0xbb];

/// Reads an ERC-20 `transfer(address,uint256)` call: exactly the selector and two canonical ABI
/// words (an address with 12 zero bytes before it, an amount). Anything else with this selector
/// is refused.
fn erc20_transfer(input: &[u8]) -> Result<(Address, Amount), ChainError> {
    if input.len() != 68 || input[..4] != ERC20_TRANSFER {
        return Err(payload_err(
            "calldata with the ERC-20 transfer selector is not exactly transfer(address,uint256)",
        ));
    }
    if input[4..16].iter().any(|b| *b != 0) {
        return Err(payload_err(
            "ERC-20 recipient is not a canonical address word",
        ));
    }
    let recipient = Address::from_slice(&input[16..36]);
    let units = amount(U256::from_be_slice(&input[36..68]), "token amount")?;
    if units.0 == 0 {
        return Err(payload_err("a token transfer of 0"));
    }
    Ok((recipient, units))
}

/// The calldata of an ERC-20 `transfer(to, units)`.
pub fn erc20_transfer_calldata(to: &Address, units: u128) -> Vec<u8> {
    let mut d = ERC20_TRANSFER.to_vec();
    d.extend_from_slice(&[0u8; 12]);
    d.extend_from_slice(to.as_slice());
    d.extend_from_slice(&U256::from(units).to_be_bytes::<32>());
    d
}

/// Raw signed transaction (EIP-2718 encoding, hex with 0x).
pub fn assemble(
    wallet: &WalletKey,
    payload: &[u8],
    parsed: &Parsed,
    sig: &[u8],
) -> Result<String, ChainError> {
    let Some(ToSign::Ecdsa(digest)) = parsed.to_sign.first() else {
        return Err(ChainError::Signature("nothing to sign".into()));
    };
    if sig.len() != 64 {
        return Err(ChainError::Signature(
            "ECDSA signature must be 64 bytes".into(),
        ));
    }
    let k_sig = k256::ecdsa::Signature::from_slice(sig)
        .map_err(|e| ChainError::Signature(e.to_string()))?;
    let want = k256::ecdsa::VerifyingKey::from_sec1_bytes(&wallet.public_key)
        .map_err(|e| ChainError::Key(e.to_string()))?;
    let parity = [0u8, 1]
        .into_iter()
        .find(|v| {
            k256::ecdsa::RecoveryId::from_byte(*v)
                .and_then(|id| {
                    k256::ecdsa::VerifyingKey::recover_from_prehash(&digest.bytes(), &k_sig, id)
                        .ok()
                })
                .is_some_and(|k| k == want)
        })
        .ok_or_else(|| {
            ChainError::Signature("signature does not recover to the wallet key".into())
        })?;
    let signature = Signature::new(
        U256::from_be_slice(&sig[..32]),
        U256::from_be_slice(&sig[32..]),
        parity == 1,
    );
    let mut out = Vec::new();
    match decode(payload)? {
        Tx::Eip1559(t) => t.into_signed(signature).eip2718_encode(&mut out),
        Tx::Legacy(t) => t.into_signed(signature).eip2718_encode(&mut out),
    }
    Ok(format!("0x{}", hex::encode(out)))
}
