//! Chain formats: parse an unsigned transaction into an [`Intent`] and the messages to sign,
//! derive wallet addresses from vault keys, verify signatures and assemble signed transactions.
//!
//! What policy checks and approvers see is what [`parse`] read from the exact payload bytes, never
//! fields a client declares. Each parser re-encodes what it decoded and refuses a payload whose
//! re-encoding differs, so the bytes that are signed are the bytes that were shown.
//!
//! - Ethereum ([`eth`]): EIP-1559 (type 2) and legacy EIP-155 transactions via alloy; plain ETH
//!   transfers and ERC-20 `transfer(address,uint256)` calls (value 0); any other calldata is
//!   refused. EIP-55 addresses.
//! - Bitcoin ([`btc`]): rust-bitcoin; P2WPKH (BIP-143 sighash, ECDSA) and P2TR key path (BIP-341
//!   sighash, FROST secp256k1-tr); the client supplies the spent outputs.
//! - Solana ([`sol`]): legacy messages made only of System Program transfers from the wallet.

pub mod btc;
pub mod eth;
pub mod keys;
pub mod sol;
pub mod units;

use crate::ecdsa::MessageDigest;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;

/// Largest unsigned payload accepted, bytes.
pub const MAX_PAYLOAD_BYTES: usize = 16 * 1024;
/// Most Bitcoin inputs per request (each is one signature).
pub const MAX_BTC_INPUTS: usize = 16;

/// A chain and address kind a wallet lives on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Chain {
    /// Ethereum (and EVM chains by chain id), ECDSA secp256k1.
    Ethereum,
    /// Bitcoin native SegWit v0 (bech32), ECDSA secp256k1.
    BitcoinP2wpkh,
    /// Bitcoin Taproot key path (bech32m), FROST secp256k1-tr.
    BitcoinP2tr,
    /// Solana, FROST ed25519.
    Solana,
}

impl Chain {
    /// The vault key a wallet on this chain uses.
    pub fn key_type(self) -> KeyType {
        match self {
            Chain::Ethereum | Chain::BitcoinP2wpkh => KeyType::EcdsaSecp256k1,
            Chain::BitcoinP2tr => KeyType::Secp256k1Tr,
            Chain::Solana => KeyType::Ed25519,
        }
    }

    /// The native asset symbol.
    pub fn asset(self) -> &'static str {
        match self {
            Chain::Ethereum => "ETH",
            Chain::BitcoinP2wpkh | Chain::BitcoinP2tr => "BTC",
            Chain::Solana => "SOL",
        }
    }

    /// Stable short name.
    pub fn as_str(self) -> &'static str {
        match self {
            Chain::Ethereum => "ethereum",
            Chain::BitcoinP2wpkh => "bitcoin_p2wpkh",
            Chain::BitcoinP2tr => "bitcoin_p2tr",
            Chain::Solana => "solana",
        }
    }
}

impl fmt::Display for Chain {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Main network or a test network.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Network {
    /// Ethereum chain id 1, Bitcoin mainnet (bc1…), Solana mainnet-beta.
    Mainnet,
    /// Any Ethereum chain id other than 1, Bitcoin testnet/signet (tb1…), Solana devnet/testnet.
    Testnet,
}

/// The three vault key types.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum KeyType {
    /// Threshold ECDSA (cggmp21), HD (SLIP-10 non-hardened).
    EcdsaSecp256k1,
    /// FROST ed25519.
    Ed25519,
    /// FROST secp256k1 with BIP-340 / BIP-341 (the group key is the Taproot output key).
    Secp256k1Tr,
}

impl KeyType {
    /// All key types, in the order DKG runs them.
    pub const ALL: [KeyType; 3] = [
        KeyType::EcdsaSecp256k1,
        KeyType::Ed25519,
        KeyType::Secp256k1Tr,
    ];

    /// Stable short name.
    pub fn as_str(self) -> &'static str {
        match self {
            KeyType::EcdsaSecp256k1 => "ecdsa_secp256k1",
            KeyType::Ed25519 => "ed25519",
            KeyType::Secp256k1Tr => "secp256k1_tr",
        }
    }
}

/// An amount in the chain's smallest unit (wei, satoshi, lamport), serialised as a decimal string.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Amount(pub u128);

impl Serialize for Amount {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0.to_string())
    }
}

impl<'de> Deserialize<'de> for Amount {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        if s.is_empty() || s.len() > 39 || !s.bytes().all(|b| b.is_ascii_digit()) {
            return Err(serde::de::Error::custom("amount must be a decimal string"));
        }
        s.parse::<u128>()
            .map(Amount)
            .map_err(|_| serde::de::Error::custom("amount does not fit in 128 bits"))
    }
}

impl fmt::Display for Amount {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// One movement of value to a destination.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Transfer {
    /// Destination address (chain's canonical text form).
    pub to: String,
    /// Amount in the smallest unit.
    pub amount: Amount,
}

/// What a transaction does, as parsed from its bytes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Intent {
    /// Chain.
    pub chain: Chain,
    /// Network.
    pub network: Network,
    /// The wallet address that pays.
    pub from: String,
    /// Asset symbol.
    pub asset: String,
    /// Value leaving the wallet to other addresses (change excluded).
    pub transfers: Vec<Transfer>,
    /// Sum of `transfers`.
    pub amount: Amount,
    /// Fee (Ethereum: the most the transaction can pay, gas limit × max fee per gas).
    pub fee: Amount,
    /// Chain-specific facts shown to approvers (nonce, chain id, gas, blockhash, change, …).
    pub details: BTreeMap<String, String>,
    /// A token transfer: the contract (or mint) moved, and — once the organisation's asset
    /// registry resolved it — its symbol and decimals. `amount` and `transfers` are then in the
    /// token's smallest unit; `fee` stays in the chain's native asset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token: Option<TokenRef>,
}

/// Token standards the parsers read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TokenStandard {
    /// An ERC-20 `transfer(address,uint256)` call.
    Erc20,
    /// An SPL Token `TransferChecked` between associated token accounts.
    SplToken,
}

/// The token a transaction moves.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TokenRef {
    /// Standard.
    pub standard: TokenStandard,
    /// Contract address (EIP-55) or SPL mint (base58).
    pub contract: String,
    /// Decimals: ERC-20 from the registry (0 until resolved); SPL from the instruction itself
    /// (`TransferChecked` carries them and the runtime checks them against the mint), which the
    /// registry must agree with.
    pub decimals: u8,
}

impl Intent {
    /// The native asset of the intent's chain: what fees are paid in.
    pub fn native_asset(&self) -> &'static str {
        self.chain.asset()
    }

    /// What the request takes from the wallet in `asset`'s smallest unit: for the native asset
    /// the amount (when native) plus the fee; for a token its amount. Spending windows,
    /// auto-approval and the demo count this.
    pub fn spend_in(&self, asset: &str) -> u128 {
        let mut n = 0u128;
        if self.asset == asset {
            n = n.saturating_add(self.amount.0);
        }
        if self.native_asset() == asset {
            n = n.saturating_add(self.fee.0);
        }
        n
    }

    /// The assets the request spends (its own, and the native asset for the fee).
    pub fn assets_spent(&self) -> Vec<String> {
        let mut v = vec![self.asset.clone()];
        if self.asset != self.native_asset() {
            v.push(self.native_asset().to_string());
        }
        v
    }
}

/// One message a signing session signs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ToSign {
    /// ECDSA over a digest computed here from the payload.
    Ecdsa(MessageDigest),
    /// BIP-340 Schnorr over a 32-byte BIP-341 sighash.
    Schnorr([u8; 32]),
    /// Ed25519 over the whole message.
    Ed25519(Vec<u8>),
}

impl ToSign {
    /// The bytes the signature scheme takes as its message.
    pub fn message(&self) -> Vec<u8> {
        match self {
            ToSign::Ecdsa(d) => d.bytes().to_vec(),
            ToSign::Schnorr(m) => m.to_vec(),
            ToSign::Ed25519(m) => m.clone(),
        }
    }
}

/// Extra inputs some chains need beside the transaction bytes.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PayloadExtras {
    /// Bitcoin: the outputs being spent, one per input, in input order.
    #[serde(default)]
    pub spent_outputs: Vec<SpentOutput>,
}

/// A Bitcoin output being spent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SpentOutput {
    /// Value in satoshi.
    pub amount: Amount,
    /// scriptPubKey, hex.
    pub script_pubkey: String,
}

/// The wallet a payload is parsed for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WalletKey {
    /// Chain.
    pub chain: Chain,
    /// Network.
    pub network: Network,
    /// The wallet's public key (ECDSA: 33-byte compressed; Taproot: 32-byte x-only output key;
    /// ed25519: 32 bytes).
    pub public_key: Vec<u8>,
    /// The wallet's address.
    pub address: String,
}

/// A parsed payload: its intent and what to sign.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Parsed {
    /// What the transaction does.
    pub intent: Intent,
    /// Messages to sign, in order (Bitcoin: one per input).
    pub to_sign: Vec<ToSign>,
}

/// Why a payload or signature was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChainError {
    /// The payload is malformed or not supported.
    #[error("invalid payload: {0}")]
    Payload(String),
    /// A key or address could not be derived.
    #[error("invalid key: {0}")]
    Key(String),
    /// A signature does not verify or has the wrong form.
    #[error("invalid signature: {0}")]
    Signature(String),
}

pub(crate) fn payload_err(s: impl Into<String>) -> ChainError {
    ChainError::Payload(s.into())
}

/// Parses `payload` for `wallet`.
pub fn parse(
    wallet: &WalletKey,
    payload: &[u8],
    extras: &PayloadExtras,
) -> Result<Parsed, ChainError> {
    if payload.is_empty() || payload.len() > MAX_PAYLOAD_BYTES {
        return Err(payload_err(format!(
            "payload must be 1 to {MAX_PAYLOAD_BYTES} bytes"
        )));
    }
    if wallet.chain != Chain::BitcoinP2wpkh
        && wallet.chain != Chain::BitcoinP2tr
        && !extras.spent_outputs.is_empty()
    {
        return Err(payload_err("spent_outputs are only for Bitcoin"));
    }
    match wallet.chain {
        Chain::Ethereum => eth::parse(wallet, payload),
        Chain::BitcoinP2wpkh | Chain::BitcoinP2tr => btc::parse(wallet, payload, extras),
        Chain::Solana => sol::parse(wallet, payload),
    }
}

/// Checks one signature (ECDSA: 64-byte `r || s`; Schnorr and ed25519: 64 bytes) over `msg`
/// against the wallet key.
pub fn verify(wallet: &WalletKey, msg: &ToSign, sig: &[u8]) -> Result<(), ChainError> {
    let bad = |e: &dyn fmt::Display| ChainError::Signature(e.to_string());
    match msg {
        ToSign::Ecdsa(d) => {
            use k256::ecdsa::signature::hazmat::PrehashVerifier;
            let vk = k256::ecdsa::VerifyingKey::from_sec1_bytes(&wallet.public_key)
                .map_err(|e| bad(&e))?;
            let s = k256::ecdsa::Signature::from_slice(sig).map_err(|e| bad(&e))?;
            vk.verify_prehash(&d.bytes(), &s).map_err(|e| bad(&e))
        }
        ToSign::Schnorr(m) => {
            let vk =
                k256::schnorr::VerifyingKey::from_bytes(&wallet.public_key).map_err(|e| bad(&e))?;
            let s = k256::schnorr::Signature::try_from(sig).map_err(|e| bad(&e))?;
            vk.verify_raw(m, &s).map_err(|e| bad(&e))
        }
        ToSign::Ed25519(m) => {
            let pk: [u8; 32] = wallet
                .public_key
                .as_slice()
                .try_into()
                .map_err(|_| ChainError::Key("ed25519 key must be 32 bytes".into()))?;
            let vk = ed25519_dalek::VerifyingKey::from_bytes(&pk).map_err(|e| bad(&e))?;
            let s = ed25519_dalek::Signature::from_slice(sig).map_err(|e| bad(&e))?;
            vk.verify_strict(m, &s).map_err(|e| bad(&e))
        }
    }
}

/// Builds the signed transaction from the parsed payload and one verified signature per message.
/// Returns the chain's usual text form (Ethereum and Bitcoin: hex; Solana: base64).
pub fn assemble(
    wallet: &WalletKey,
    payload: &[u8],
    extras: &PayloadExtras,
    signatures: &[Vec<u8>],
) -> Result<String, ChainError> {
    let parsed = parse(wallet, payload, extras)?;
    if signatures.len() != parsed.to_sign.len() {
        return Err(ChainError::Signature(format!(
            "{} signatures for {} messages",
            signatures.len(),
            parsed.to_sign.len()
        )));
    }
    for (m, s) in parsed.to_sign.iter().zip(signatures) {
        verify(wallet, m, s)?;
    }
    match wallet.chain {
        Chain::Ethereum => eth::assemble(wallet, payload, &parsed, &signatures[0]),
        Chain::BitcoinP2wpkh | Chain::BitcoinP2tr => btc::assemble(wallet, payload, signatures),
        Chain::Solana => Ok(sol::assemble(payload, &signatures[0])),
    }
}

#[cfg(test)]
mod tests;

/// Checks an address for `chain` / `network` and returns its canonical text (EIP-55 for
/// Ethereum, lower-case bech32 for Bitcoin, base58 for Solana). Both Bitcoin wallet kinds accept
/// any standard Bitcoin address as a destination.
pub fn normalize_address(chain: Chain, network: Network, s: &str) -> Result<String, ChainError> {
    let bad = |r: &str| {
        ChainError::Key(format!(
            "address '{}': {r}",
            s.chars().take(100).collect::<String>()
        ))
    };
    if s.is_empty() || s.len() > 100 {
        return Err(bad("must be 1 to 100 characters"));
    }
    match chain {
        Chain::Ethereum => {
            let a: alloy_primitives::Address =
                s.parse().map_err(|_| bad("not an Ethereum address"))?;
            Ok(a.to_checksum(None))
        }
        Chain::BitcoinP2wpkh | Chain::BitcoinP2tr => {
            let a: bitcoin::Address<bitcoin::address::NetworkUnchecked> =
                s.parse().map_err(|_| bad("not a Bitcoin address"))?;
            let net = match network {
                Network::Mainnet => bitcoin::Network::Bitcoin,
                Network::Testnet => bitcoin::Network::Testnet,
            };
            Ok(a.require_network(net)
                .map_err(|_| bad("address is for another network"))?
                .to_string())
        }
        Chain::Solana => {
            let b = bs58::decode(s).into_vec().map_err(|_| bad("not base58"))?;
            if b.len() != 32 {
                return Err(bad("a Solana address is 32 bytes"));
            }
            Ok(bs58::encode(b).into_string())
        }
    }
}

/// The transaction id of a signed transaction in [`assemble`]'s text form, as the chain's
/// explorers and nodes name it: Ethereum `0x` + Keccak-256 of the EIP-2718 bytes; Bitcoin the
/// txid (double SHA-256 of the non-witness serialisation, byte-reversed hex); Solana the base58
/// of the first signature. Computed from the signed bytes, so no provider's word is needed.
pub fn txid(chain: Chain, signed: &str) -> Result<String, ChainError> {
    let bad = |r: &str| payload_err(format!("signed transaction: {r}"));
    match chain {
        Chain::Ethereum => {
            let raw = hex::decode(signed.strip_prefix("0x").unwrap_or(signed))
                .map_err(|_| bad("not hex"))?;
            Ok(format!("{:#x}", alloy_primitives::keccak256(&raw)))
        }
        Chain::BitcoinP2wpkh | Chain::BitcoinP2tr => {
            let raw = hex::decode(signed).map_err(|_| bad("not hex"))?;
            let tx: bitcoin::Transaction =
                bitcoin::consensus::deserialize(&raw).map_err(|_| bad("not a transaction"))?;
            Ok(tx.compute_txid().to_string())
        }
        Chain::Solana => {
            use base64::Engine as _;
            let raw = base64::engine::general_purpose::STANDARD
                .decode(signed)
                .map_err(|_| bad("not base64"))?;
            // A compact-u16 signature count below 128 is one byte.
            match raw.first() {
                Some(n) if (1..0x80).contains(n) && raw.len() >= 65 => {
                    Ok(bs58::encode(&raw[1..65]).into_string())
                }
                _ => Err(bad("no signature")),
            }
        }
    }
}
