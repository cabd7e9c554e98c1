//! Threshold ECDSA on secp256k1 with cggmp21 (CGGMP21, ia.cr/2021/060; the crate's own spec for
//! the threshold variant), as sessions of the common shape.
//!
//! - [`machine::MachineSession`] adapts a round_based sync state machine to [`Session`]
//!   (envelopes, sender checks, replay rejection).
//! - [`aux_info`], [`keygen`], [`presign`], [`sign`]: the protocols. Aux info is made once per
//!   committee and completes every key share of that committee.
//! - [`BoundPresignature`] ties a presignature to the key id and HD path it was generated for and
//!   is consumed by use, and [`MessageDigest`] can only be computed from a preimage: the
//!   RUSTSEC-2025-0127 rules (docs/decisions/0007).
//!
//! - [`refresh`]: proactive refresh of threshold shares (cggmp21 0.6 has none): frost-core's
//!   refresh DKG over the same Shamir shares, then back to cggmp21 key shares.
//!
//! Limits: cggmp21 0.6 has no identifiable abort (aborts carry no culprits); the refresh does
//! (it runs frost-core's verifiable secret sharing).

pub mod machine;
pub mod online;
pub mod refresh;
pub mod reshare;

#[cfg(test)]
mod tests;

use crate::session::{PartyIndex, SessionError, SessionId};
use cggmp21::generic_ec::{Point, Scalar};
use cggmp21::key_share::AuxInfo;
use cggmp21::security_level::SecurityLevel128;
use cggmp21::{
    DataToSign, ExecutionId, IncompleteKeyShare, KeyShare, PartialSignature, Presignature,
    Signature,
};
use machine::MachineSession;
use rand_chacha::ChaCha20Rng;
use sha2::{Digest, Sha256};
use std::fmt;

/// The curve.
pub type Secp256k1 = cggmp21::supported_curves::Secp256k1;
/// The security level (128-bit; 1024-bit safe primes, 2048-bit Paillier moduli).
pub type Level = SecurityLevel128;
/// A complete ECDSA key share.
pub type EcdsaKeyShare = KeyShare<Secp256k1, Level>;
/// Aux info of one party.
pub type EcdsaAuxInfo = AuxInfo<Level>;
/// Pregenerated Paillier safe primes.
pub type Primes = cggmp21::PregeneratedPrimes<Level>;

/// Errors outside sessions.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EcdsaError {
    /// A presignature was presented for another key or HD path than it was made for.
    #[error("presignature was generated for key '{bound_key}' path {bound_path:?}, not '{key}' path {path:?}")]
    WrongBinding {
        /// Key id it is bound to.
        bound_key: String,
        /// Path it is bound to.
        bound_path: Vec<u32>,
        /// Key id asked for.
        key: String,
        /// Path asked for.
        path: Vec<u32>,
    },
    /// An HD path component is hardened or invalid.
    #[error("invalid HD path: {0}")]
    Path(String),
    /// Partial signatures did not combine into a valid signature.
    #[error("partial signatures do not combine into a valid signature")]
    Combine,
    /// The key shares do not fit together.
    #[error("invalid key share: {0}")]
    KeyShare(String),
}

/// The digest of a message to sign. It can only be computed here, from the preimage that the node
/// parsed: there is no way to sign a bare hash handed over by a client (RUSTSEC-2025-0127).
///
/// A digest cannot be built from bytes outside this crate:
///
/// ```compile_fail
/// let bare_hash = [7u8; 32];
/// let d = mpc_protocol::ecdsa::MessageDigest(bare_hash);
/// ```
///
/// Only from a preimage:
///
/// ```
/// let d = mpc_protocol::ecdsa::MessageDigest::sha256(b"unsigned transaction bytes");
/// assert_eq!(d.bytes().len(), 32);
/// ```
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct MessageDigest([u8; 32]);

impl fmt::Debug for MessageDigest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "MessageDigest({})", hex::encode(self.0))
    }
}

impl MessageDigest {
    /// SHA-256 of `preimage`.
    pub fn sha256(preimage: &[u8]) -> Self {
        MessageDigest(Sha256::digest(preimage).into())
    }

    /// A chain's own signing hash, computed by the chain parsers in this crate from the payload
    /// they parsed (Ethereum keccak, BIP-143 sighash).
    pub(crate) fn from_chain_hash(hash: [u8; 32]) -> Self {
        MessageDigest(hash)
    }

    /// The digest bytes.
    pub fn bytes(&self) -> [u8; 32] {
        self.0
    }

    fn data_to_sign(&self) -> DataToSign<Secp256k1> {
        DataToSign::from_scalar(Scalar::from_be_bytes_mod_order(self.0))
    }
}

/// A presignature bound to the key and HD path it was generated for. Using it consumes it, and
/// it cannot be copied, so it cannot be used twice:
///
/// ```compile_fail
/// # fn twice(p: mpc_protocol::ecdsa::BoundPresignature, d: &mpc_protocol::ecdsa::MessageDigest) {
/// let first = p.issue("key", &[], d);
/// let second = p.issue("key", &[], d); // use after move: refused by the compiler
/// # }
/// ```
///
/// ```compile_fail
/// # fn copy(p: &mpc_protocol::ecdsa::BoundPresignature) {
/// let again: mpc_protocol::ecdsa::BoundPresignature = p.clone(); // not Clone
/// # }
/// ```
pub struct BoundPresignature {
    key_id: String,
    path: Vec<u32>,
    presignature: Presignature<Secp256k1>,
}

impl fmt::Debug for BoundPresignature {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BoundPresignature")
            .field("key_id", &self.key_id)
            .field("path", &self.path)
            .field("presignature", &"<redacted>")
            .finish()
    }
}

impl BoundPresignature {
    /// Binds a presignature produced by [`presign`] for `key_id` / `path`.
    pub fn new(key_id: &str, path: &[u32], presignature: Presignature<Secp256k1>) -> Self {
        BoundPresignature {
            key_id: key_id.to_string(),
            path: path.to_vec(),
            presignature,
        }
    }

    /// Issues this party's partial signature for `digest` with key `key_id` at `path`. Refuses a
    /// key or path other than the bound ones. Consumes the presignature.
    pub fn issue(
        self,
        key_id: &str,
        path: &[u32],
        digest: &MessageDigest,
    ) -> Result<PartialSignature<Secp256k1>, EcdsaError> {
        if self.key_id != key_id || self.path != path {
            return Err(EcdsaError::WrongBinding {
                bound_key: self.key_id,
                bound_path: self.path,
                key: key_id.to_string(),
                path: path.to_vec(),
            });
        }
        Ok(self
            .presignature
            .issue_partial_signature(digest.data_to_sign()))
    }
}

/// A presignature as kept in the share store (encrypted there): what it is bound to, and the
/// presignature itself. Only [`BoundPresignature::from_stored`] turns it back into something
/// usable, once.
#[derive(serde::Serialize, serde::Deserialize)]
pub struct StoredPresignature {
    key_id: String,
    path: Vec<u32>,
    presignature: Presignature<Secp256k1>,
}

impl BoundPresignature {
    /// The form kept in the share store. Consumes `self`: the in-memory copy is gone.
    pub fn into_stored(self) -> StoredPresignature {
        StoredPresignature {
            key_id: self.key_id,
            path: self.path,
            presignature: self.presignature,
        }
    }

    /// Back from the share store (the caller has already removed it there).
    pub fn from_stored(s: StoredPresignature) -> Self {
        BoundPresignature {
            key_id: s.key_id,
            path: s.path,
            presignature: s.presignature,
        }
    }
}

/// Combines t partial signatures and verifies the result against `public_key`.
pub fn combine(
    partials: &[PartialSignature<Secp256k1>],
    public_key: &Point<Secp256k1>,
    digest: &MessageDigest,
) -> Result<Signature<Secp256k1>, EcdsaError> {
    let sig = PartialSignature::combine(partials).ok_or(EcdsaError::Combine)?;
    sig.verify(public_key, &digest.data_to_sign())
        .map_err(|_| EcdsaError::Combine)?;
    Ok(sig.normalize_s())
}

/// The public key at `path` (non-hardened SLIP-10 / BIP-32 derivation) of `share`'s key.
pub fn child_public_key(
    share: &EcdsaKeyShare,
    path: &[u32],
) -> Result<Point<Secp256k1>, EcdsaError> {
    if path.is_empty() {
        return Ok(*share.shared_public_key);
    }
    let epub = share
        .extended_public_key()
        .ok_or_else(|| EcdsaError::Path("key was not generated as an HD key".into()))?;
    let idx = path
        .iter()
        .map(|i| {
            cggmp21::hd_wallet::NonHardenedIndex::try_from(*i)
                .map_err(|e| EcdsaError::Path(format!("{i}: {e}")))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let child = <cggmp21::hd_wallet::Slip10 as cggmp21::hd_wallet::HdWallet<Secp256k1>>::derive_child_public_key_with_path(&epub, idx);
    Ok(child.public_key)
}

/// Generates Paillier safe primes (slow: seconds to a minute on one core).
pub fn generate_primes<R: rand_core::RngCore + rand_core::CryptoRng>(rng: &mut R) -> Primes {
    Primes::generate(rng)
}

/// Primes from hex (as stored sealed by the node, or from the INSECURE test fixture). Checks
/// that they are safe primes of the right size.
pub fn primes_from_hex(p: &str, q: &str) -> Result<Primes, EcdsaError> {
    let int = |s: &str| {
        cggmp21::rug::Integer::from_str_radix(s, 16)
            .map_err(|e| EcdsaError::KeyShare(format!("prime is not hex: {e}")))
    };
    Primes::new(int(p)?, int(q)?)
        .ok_or_else(|| EcdsaError::KeyShare("not valid safe primes for this security level".into()))
}

/// Primes as hex `(p, q)`, for sealed storage. The integers taken out of `primes` are wiped
/// ([`wipe_integer`]) before they are freed.
pub fn primes_to_hex(primes: Primes) -> (zeroize::Zeroizing<String>, zeroize::Zeroizing<String>) {
    let (mut p, mut q) = primes.split();
    let out = (
        zeroize::Zeroizing::new(p.to_string_radix(16)),
        zeroize::Zeroizing::new(q.to_string_radix(16)),
    );
    wipe_integer(&mut p);
    wipe_integer(&mut q);
    out
}

/// Overwrites a GMP integer's limbs in place with a public value of the same length, then sets
/// it to zero, so that a secret (a Paillier prime) is gone from its buffer before the buffer is
/// freed. GMP reuses a destination's allocation when it is large enough, and the filler
/// (2^bits − 1) has exactly as many limbs as the secret, so nothing is reallocated (and so
/// copied elsewhere) on the way. rug (GMP) does not zeroize on drop; cggmp21 keeps its own copies
/// of the primes inside `PregeneratedPrimes` and the Paillier keys of its aux info, which it does
/// not zeroize either (docs/threat-model.md, "Not (yet) defended").
pub fn wipe_integer(i: &mut cggmp21::rug::Integer) {
    use cggmp21::rug::Assign;
    let bits = i.significant_bits();
    if bits > 0 {
        let filler = (cggmp21::rug::Integer::from(1) << bits) - 1u32;
        i.assign(&filler);
    }
    i.assign(0);
}

/// Compressed public key and chain code of an ECDSA key share (as every party reports them).
pub fn public_parts(share: &IncompleteKeyShare<Secp256k1>) -> (Vec<u8>, Option<[u8; 32]>) {
    (
        share.shared_public_key.to_bytes(true).to_vec(),
        share.chain_code,
    )
}

/// `r || s` (64 bytes) of a signature.
pub fn signature_bytes(sig: &Signature<Secp256k1>) -> Vec<u8> {
    let mut out = sig.r.to_be_bytes().to_vec();
    out.extend_from_slice(&sig.s.to_be_bytes());
    out
}

fn index_of(parties: &[PartyIndex], p: PartyIndex) -> Result<u16, SessionError> {
    parties
        .iter()
        .position(|x| *x == p)
        .map(|i| i as u16)
        .ok_or_else(|| SessionError::Bug(format!("{p} is not a party of the session")))
}

fn sorted(parties: &[PartyIndex]) -> Vec<PartyIndex> {
    let mut v = parties.to_vec();
    v.sort();
    v.dedup();
    v
}

/// Aux-info generation for `me` among `parties` (Paillier keys, ring-Pedersen parameters and
/// their proofs). Run once per committee.
pub fn aux_info<'r>(
    sid: &'r SessionId,
    me: PartyIndex,
    parties: &[PartyIndex],
    primes: Primes,
    rng: &'r mut ChaCha20Rng,
) -> Result<
    MachineSession<
        impl machine::Machine<Output = Result<EcdsaAuxInfo, cggmp21::KeyRefreshError>> + 'r,
    >,
    SessionError,
> {
    let parties = sorted(parties);
    let i = index_of(&parties, me)?;
    let n = parties.len() as u16;
    let builder = cggmp21::aux_info_gen(ExecutionId::new(&sid.0), i, n, primes);
    let sm =
        cggmp21::round_based::state_machine::wrap_protocol(move |party| builder.start(rng, party));
    Ok(MachineSession::new(sm, *sid, me, parties, "EcdsaAuxInfo"))
}

/// Threshold key generation (HD-capable) for `me` among `parties` with threshold `t`.
pub fn keygen<'r>(
    sid: &'r SessionId,
    me: PartyIndex,
    parties: &[PartyIndex],
    t: u16,
    rng: &'r mut ChaCha20Rng,
) -> Result<
    MachineSession<
        impl machine::Machine<Output = Result<IncompleteKeyShare<Secp256k1>, cggmp21::KeygenError>> + 'r,
    >,
    SessionError,
> {
    let parties = sorted(parties);
    let i = index_of(&parties, me)?;
    let n = parties.len() as u16;
    let builder = cggmp21::keygen::<Secp256k1>(ExecutionId::new(&sid.0), i, n)
        .set_threshold(t)
        .hd_wallet(true);
    let sm =
        cggmp21::round_based::state_machine::wrap_protocol(move |party| builder.start(rng, party));
    Ok(MachineSession::new(sm, *sid, me, parties, "EcdsaKeygen"))
}

/// Completes a key share with the committee's aux info.
pub fn complete(
    incomplete: IncompleteKeyShare<Secp256k1>,
    aux: EcdsaAuxInfo,
) -> Result<EcdsaKeyShare, EcdsaError> {
    KeyShare::from_parts((incomplete, aux)).map_err(|e| EcdsaError::KeyShare(e.to_string()))
}

fn hd_indices(path: &[u32]) -> Result<Vec<cggmp21::hd_wallet::NonHardenedIndex>, SessionError> {
    path.iter()
        .map(|i| {
            cggmp21::hd_wallet::NonHardenedIndex::try_from(*i)
                .map_err(|e| SessionError::Bug(format!("HD index {i}: {e}")))
        })
        .collect()
}

/// The signing builder for `me` among `signers`, with the HD path set on it (before any
/// presignature exists).
fn signing_builder<'r>(
    sid: &'r SessionId,
    me: PartyIndex,
    signers: &[PartyIndex],
    keygen_indices: &'r [u16],
    share: &'r EcdsaKeyShare,
    path: &[u32],
) -> Result<
    (
        cggmp21::signing::SigningBuilder<'r, Secp256k1, Level>,
        Vec<PartyIndex>,
    ),
    SessionError,
> {
    let signers = sorted(signers);
    let i = index_of(&signers, me)?;
    let mut builder = cggmp21::signing(ExecutionId::new(&sid.0), i, keygen_indices, share);
    if !path.is_empty() {
        builder = builder
            .set_derivation_path(hd_indices(path)?)
            .map_err(|e| SessionError::Bug(format!("HD path: {e}")))?;
    }
    Ok((builder, signers))
}

/// Presignature generation among `signers` (exactly t parties; `keygen_index[k]` is the
/// keygen-time 0-based index of the k-th signer), **for the HD path `path` fixed now**.
pub fn presign<'r>(
    sid: &'r SessionId,
    me: PartyIndex,
    signers: &[PartyIndex],
    keygen_indices: &'r [u16],
    share: &'r EcdsaKeyShare,
    path: &[u32],
    rng: &'r mut ChaCha20Rng,
) -> Result<
    MachineSession<
        impl machine::Machine<Output = Result<Presignature<Secp256k1>, cggmp21::SigningError>> + 'r,
    >,
    SessionError,
> {
    let (builder, signers) = signing_builder(sid, me, signers, keygen_indices, share, path)?;
    let sm = builder.generate_presignature_sync(rng);
    Ok(MachineSession::new(sm, *sid, me, signers, "EcdsaPresign"))
}

/// Full interactive signing of `digest` at `path` among `signers`.
#[allow(clippy::too_many_arguments)]
pub fn sign<'r>(
    sid: &'r SessionId,
    me: PartyIndex,
    signers: &[PartyIndex],
    keygen_indices: &'r [u16],
    share: &'r EcdsaKeyShare,
    path: &[u32],
    digest: &MessageDigest,
    rng: &'r mut ChaCha20Rng,
) -> Result<
    MachineSession<
        impl machine::Machine<Output = Result<Signature<Secp256k1>, cggmp21::SigningError>> + 'r,
    >,
    SessionError,
> {
    let (builder, signers) = signing_builder(sid, me, signers, keygen_indices, share, path)?;
    let sm = builder.sign_sync(rng, digest.data_to_sign());
    Ok(MachineSession::new(sm, *sid, me, signers, "EcdsaSign"))
}
