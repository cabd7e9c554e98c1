//! Wallet keys from vault keys.
//!
//! - ECDSA wallets: SLIP-10 non-hardened derivation (the scheme cggmp21 signs with) from the
//!   vault's extended public key along `[coin, index]` (Ethereum 60; Bitcoin mainnet 0, test
//!   networks 1), so Ethereum and Bitcoin wallets of one vault never share a key.
//! - FROST wallets: an additive tweak `t = H(domain, key type, group key, chain, network, index)`
//!   (the ciphersuite's hash-to-scalar); the wallet key is `Y + t·G` and each share becomes
//!   `s_i + t` (the Lagrange coefficients sum to one, so the shares still interpolate to the new
//!   secret). Secp256k1-tr group keys are already BIP-341 output keys; the tweak keeps that form.

use super::{Chain, ChainError, KeyType, Network, WalletKey};
use crate::domain;
use cggmp21::generic_ec::Point;
use frost_core::keys::{KeyPackage, PublicKeyPackage, SigningShare, VerifyingShare};
use frost_core::{Ciphersuite, Group, VerifyingKey};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

type Scalar<C> = <<<C as Ciphersuite>::Group as Group>::Field as frost_core::Field>::Scalar;

/// The public keys of a vault, as every node reports them after DKG.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VaultPublicKeys {
    /// ECDSA group key, 33-byte compressed, hex.
    pub ecdsa_public_key: String,
    /// ECDSA SLIP-10 chain code, hex.
    pub ecdsa_chain_code: String,
    /// FROST ed25519 group key, 32 bytes, hex.
    pub ed25519_public_key: String,
    /// FROST secp256k1-tr group key (BIP-341 output key), frost serialisation, hex.
    pub secp256k1_tr_public_key: String,
}

fn unhex(s: &str, what: &str) -> Result<Vec<u8>, ChainError> {
    hex::decode(s).map_err(|_| ChainError::Key(format!("{what} is not hex")))
}

/// The ECDSA derivation path of a wallet.
pub fn ecdsa_path(chain: Chain, network: Network, index: u32) -> Result<Vec<u32>, ChainError> {
    if index >= 1 << 31 {
        return Err(ChainError::Key(
            "wallet index must be below 2^31 (non-hardened)".into(),
        ));
    }
    // SLIP-44 coin types, non-hardened (threshold HD derivation is public). Test networks use
    // coin 1 — never a mainnet key — and Ethereum's test networks 1/60 under it, so that no
    // testnet wallet shares a key with a mainnet wallet or with a Bitcoin testnet wallet.
    Ok(match (chain, network) {
        (Chain::Ethereum, Network::Mainnet) => vec![60, index],
        (Chain::Ethereum, Network::Testnet) => vec![1, 60, index],
        (_, Network::Mainnet) => vec![0, index],
        (_, Network::Testnet) => vec![1, index],
    })
}

/// SLIP-10 child of an ECDSA extended public key (33-byte compressed result).
pub fn ecdsa_child(
    public_key: &[u8],
    chain_code: &[u8],
    path: &[u32],
) -> Result<Vec<u8>, ChainError> {
    type E = cggmp21::supported_curves::Secp256k1;
    let point = Point::<E>::from_bytes(public_key)
        .map_err(|_| ChainError::Key("invalid ECDSA public key".into()))?;
    let chain_code: [u8; 32] = chain_code
        .try_into()
        .map_err(|_| ChainError::Key("chain code must be 32 bytes".into()))?;
    let epub = cggmp21::hd_wallet::ExtendedPublicKey {
        public_key: point,
        chain_code,
    };
    let idx = path
        .iter()
        .map(|i| {
            cggmp21::hd_wallet::NonHardenedIndex::try_from(*i)
                .map_err(|e| ChainError::Key(format!("HD index {i}: {e}")))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let child = <cggmp21::hd_wallet::Slip10 as cggmp21::hd_wallet::HdWallet<E>>::derive_child_public_key_with_path(&epub, idx);
    Ok(child.public_key.to_bytes(true).to_vec())
}

/// The FROST tweak scalar of a wallet.
pub fn frost_tweak<C: Ciphersuite>(
    key_type: KeyType,
    group_key: &[u8],
    chain: Chain,
    network: Network,
    index: u32,
) -> Result<Scalar<C>, ChainError> {
    let mut m = domain::WALLET_TWEAK.to_vec();
    m.extend_from_slice(key_type.as_str().as_bytes());
    m.push(0);
    m.extend_from_slice(group_key);
    m.extend_from_slice(chain.as_str().as_bytes());
    m.push(match network {
        Network::Mainnet => 0,
        Network::Testnet => 1,
    });
    m.extend_from_slice(&index.to_be_bytes());
    C::HID(&m).ok_or_else(|| ChainError::Key("ciphersuite has no hash-to-scalar".into()))
}

/// `Y + t·G`, frost serialisation.
pub fn frost_child_key<C: Ciphersuite>(
    group_key: &[u8],
    t: Scalar<C>,
) -> Result<Vec<u8>, ChainError> {
    let vk = VerifyingKey::<C>::deserialize(group_key)
        .map_err(|e| ChainError::Key(format!("group key: {e}")))?;
    let child = VerifyingKey::<C>::new(vk.to_element() + C::Group::generator() * t);
    child
        .serialize()
        .map_err(|e| ChainError::Key(format!("child key: {e}")))
}

/// Tweaks this party's key package and the public key package by `t` (see the module docs).
pub fn frost_tweak_packages<C: Ciphersuite>(
    key_package: &KeyPackage<C>,
    public_key_package: &PublicKeyPackage<C>,
    t: Scalar<C>,
) -> (KeyPackage<C>, PublicKeyPackage<C>) {
    let tp = C::Group::generator() * t;
    let vk = VerifyingKey::<C>::new(key_package.verifying_key().to_element() + tp);
    let kp = KeyPackage::new(
        *key_package.identifier(),
        SigningShare::new(key_package.signing_share().to_scalar() + t),
        VerifyingShare::new(key_package.verifying_share().to_element() + tp),
        vk,
        *key_package.min_signers(),
    );
    let shares: BTreeMap<_, _> = public_key_package
        .verifying_shares()
        .iter()
        .map(|(i, s)| (*i, VerifyingShare::new(s.to_element() + tp)))
        .collect();
    let pkp = PublicKeyPackage::new_internal(
        shares,
        VerifyingKey::<C>::new(public_key_package.verifying_key().to_element() + tp),
        public_key_package.min_signers(),
    );
    (kp, pkp)
}

/// The wallet key and address for `(chain, network, index)` of a vault.
pub fn wallet_key(
    keys: &VaultPublicKeys,
    chain: Chain,
    network: Network,
    index: u32,
) -> Result<WalletKey, ChainError> {
    let (public_key, address) = match chain {
        Chain::Ethereum | Chain::BitcoinP2wpkh => {
            let pk = unhex(&keys.ecdsa_public_key, "ECDSA key")?;
            let cc = unhex(&keys.ecdsa_chain_code, "chain code")?;
            let child = ecdsa_child(&pk, &cc, &ecdsa_path(chain, network, index)?)?;
            let addr = if chain == Chain::Ethereum {
                super::eth::address(&child)?
            } else {
                super::btc::p2wpkh_address(&child, network)?
            };
            (child, addr)
        }
        Chain::BitcoinP2tr => {
            let gk = unhex(&keys.secp256k1_tr_public_key, "secp256k1-tr key")?;
            let t = frost_tweak::<crate::frost::Secp256k1Tr>(
                KeyType::Secp256k1Tr,
                &gk,
                chain,
                network,
                index,
            )?;
            let child = frost_child_key::<crate::frost::Secp256k1Tr>(&gk, t)?;
            let x = match child.len() {
                33 => child[1..].to_vec(),
                32 => child,
                n => return Err(ChainError::Key(format!("unexpected key length {n}"))),
            };
            let addr = super::btc::p2tr_address(&x, network)?;
            (x, addr)
        }
        Chain::Solana => {
            let gk = unhex(&keys.ed25519_public_key, "ed25519 key")?;
            let t =
                frost_tweak::<crate::frost::Ed25519>(KeyType::Ed25519, &gk, chain, network, index)?;
            let child = frost_child_key::<crate::frost::Ed25519>(&gk, t)?;
            let addr = super::sol::address(&child)?;
            (child, addr)
        }
    };
    Ok(WalletKey {
        chain,
        network,
        public_key,
        address,
    })
}
