//! The drill's check of one backed-up key share against the public commitments stored with it,
//! without reconstructing any key (each check uses only this node's share and public data):
//!
//! - ECDSA (cggmp21): decoding validates the share (key-share's `Valid`): `x·G` equals this
//!   party's public share, and the public shares interpolate (VSS, `t` of them) to the shared
//!   public key and agree with the others.
//! - FROST (ed25519, secp256k1-tr): `signing_share·G` equals the key package's verifying share,
//!   which equals this identifier's verifying share in the group's public key package, whose
//!   verifying key the key package names.

use mpc_protocol::chain::KeyType;
use mpc_protocol::ecdsa;
use mpc_protocol::frost::{Ed25519, Secp256k1Tr};
use serde::Serialize;

/// What the drill found for one key share.
#[derive(Debug, Clone, Serialize)]
pub struct ShareCheck {
    /// The vault.
    pub vault_id: String,
    /// Key type.
    pub key_type: String,
    /// Share generation: 0 for the DKG's shares, else the log index of the refresh that made
    /// them. Only the vault's current generation (`share_generation` in `mpc vault get`) signs:
    /// a kit older than the last refresh restores shares that no longer fit.
    pub generation: u64,
    /// The group public key (hex) the share belongs to: compare with `mpc vault get`.
    pub group_public_key: String,
    /// Threshold t of the key.
    pub threshold: u16,
    /// How many parties hold shares.
    pub parties: usize,
    /// "ok", or why the share does not match its commitments.
    pub result: String,
}

/// Checks a key-share record (`vault/<vault>/<key type>[/refresh-<generation>]`).
pub fn check_key_share(key_id: &str, bytes: &[u8]) -> ShareCheck {
    let parts: Vec<&str> = key_id.split('/').collect();
    let (vault_id, kt, generation) = match parts.as_slice() {
        ["vault", v, k] => (v.to_string(), k.to_string(), Some(0)),
        ["vault", v, k, g] => (
            v.to_string(),
            k.to_string(),
            g.strip_prefix("refresh-").and_then(|g| g.parse().ok()),
        ),
        _ => (key_id.to_string(), String::new(), None),
    };
    let kt = if generation.is_some() {
        kt
    } else {
        String::new()
    };
    let mut out = ShareCheck {
        vault_id,
        key_type: kt.clone(),
        generation: generation.unwrap_or(0),
        group_public_key: String::new(),
        threshold: 0,
        parties: 0,
        result: String::new(),
    };
    let r = match kt.as_str() {
        k if k == KeyType::EcdsaSecp256k1.as_str() => check_ecdsa(bytes, &mut out),
        k if k == KeyType::Ed25519.as_str() => check_frost::<Ed25519>(bytes, &mut out),
        k if k == KeyType::Secp256k1Tr.as_str() => check_frost::<Secp256k1Tr>(bytes, &mut out),
        _ => Err(format!("unknown key share '{key_id}'")),
    };
    out.result = match r {
        Ok(()) => "ok".into(),
        Err(e) => e,
    };
    out
}

fn check_ecdsa(bytes: &[u8], out: &mut ShareCheck) -> Result<(), String> {
    // Decoding a `Valid` share runs key-share's validation (see the module documentation).
    let share: cggmp21::IncompleteKeyShare<ecdsa::Secp256k1> =
        mpc_protocol::decode(bytes, 4 * 1024 * 1024)
            .map_err(|e| format!("the ECDSA share does not match its public shares: {e}"))?;
    let (pk, _) = ecdsa::public_parts(&share);
    out.group_public_key = hex::encode(pk);
    out.parties = share.public_shares.len();
    out.threshold = share.vss_setup.as_ref().map_or(0, |v| v.min_signers);
    Ok(())
}

fn check_frost<C: frost_core::Ciphersuite>(
    bytes: &[u8],
    out: &mut ShareCheck,
) -> Result<(), String> {
    use frost_core::keys::{KeyPackage, PublicKeyPackage, VerifyingShare};
    let (kp, pkp): (KeyPackage<C>, PublicKeyPackage<C>) =
        mpc_protocol::decode(bytes, 4 * 1024 * 1024).map_err(|e| format!("malformed: {e}"))?;
    out.group_public_key = pkp
        .verifying_key()
        .serialize()
        .map(hex::encode)
        .map_err(|e| e.to_string())?;
    out.parties = pkp.verifying_shares().len();
    out.threshold = *kp.min_signers();
    let derived = VerifyingShare::<C>::from(*kp.signing_share());
    if &derived != kp.verifying_share() {
        return Err("the signing share does not match its verifying share".into());
    }
    if pkp.verifying_shares().get(kp.identifier()) != Some(kp.verifying_share()) {
        return Err("the verifying share is not this party's in the group's public package".into());
    }
    if kp.verifying_key() != pkp.verifying_key() {
        return Err("the key package names another group key".into());
    }
    Ok(())
}
