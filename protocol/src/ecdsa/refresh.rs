//! Proactive refresh of cggmp21 (threshold ECDSA) key shares.
//!
//! cggmp21 0.6 has no threshold refresh. A cggmp21 t-of-n key share is a plain Shamir share over
//! secp256k1: party `i` (0-based keygen index) holds `x_i = f(I_i)` with evaluation point
//! `I_i = i + 1` (cggmp21-keygen, threshold mode) and everyone knows `X_j = x_j·G` and
//! `X = f(0)·G`. That is exactly a FROST(secp256k1) key package with identifier `i + 1`, so the
//! refresh is frost-core's refresh DKG (`keys::refresh`, the Zcash Foundation's implementation
//! of proactive secret sharing, HJKY95 with Feldman commitments) run by [`FrostDkg`] in
//! [`DkgMode::Refresh`] — the same session, echo broadcast and culprit naming as the FROST key
//! types — over the shares converted to FROST types and back:
//!
//! - [`refresh_session`]: the session for keygen index `i` (party `PartyIndex(i + 1)`);
//! - [`refreshed_share`]: the new cggmp21 share from the session's output, checked: same group
//!   key, same evaluation points and threshold, same chain code, `x'_i·G = X'_i`, and the new
//!   public shares interpolate to the group key (`Valid::validate`).
//!
//! Every refreshed public share comes from the commitments every party echoed, so all parties
//! agree on them; the group key (and every address) is unchanged because each party's
//! refreshing polynomial has a zero constant term (frost-core inserts the identity commitment
//! itself; a party cannot send one). Aux info (Paillier keys) is independent of the shares and
//! stays valid. Presignatures made from the old shares must be discarded by the caller.

use super::Secp256k1;
use crate::frost::dkg::{DkgMode, DkgOutput, FrostDkg};
use crate::frost::repair::{FrostRepair, RepairOutput};
use crate::frost::Secp256k1 as FrostSecp256k1;
use crate::session::{PartyIndex, SessionError, SessionId};
use cggmp21::generic_ec::{NonZero, Point, Scalar, SecretScalar};
use cggmp21::key_share::{DirtyIncompleteKeyShare, DirtyKeyInfo, IncompleteKeyShare, Validate};
use frost_core::keys::{KeyPackage, PublicKeyPackage, SigningShare, VerifyingShare};
use frost_core::{Identifier, VerifyingKey};
use std::collections::BTreeMap;

type F = FrostSecp256k1;

fn bug(what: &str, e: impl std::fmt::Display) -> SessionError {
    SessionError::Bug(format!("{what}: {e}"))
}

/// The refresh-session party of keygen index `i` of a key made by keygen (evaluation point
/// `i + 1`; after a committee change use [`party_at`]).
pub fn refresh_party(keygen_index: u16) -> Result<PartyIndex, SessionError> {
    keygen_index
        .checked_add(1)
        .map(PartyIndex)
        .ok_or_else(|| SessionError::Bug("keygen index out of range".into()))
}

/// The FROST party (identifier) of a small evaluation point.
pub(crate) fn point_party(point: &NonZero<Scalar<Secp256k1>>) -> Result<PartyIndex, SessionError> {
    let bytes = point.to_be_bytes();
    let b = bytes.as_ref();
    let (high, low) = b.split_at(b.len() - 2);
    if high.iter().any(|x| *x != 0) {
        return Err(SessionError::Bug(
            "an evaluation point does not fit a party index".into(),
        ));
    }
    Ok(PartyIndex(u16::from_be_bytes([low[0], low[1]])))
}

/// The refresh / repair party of keygen index `i` of the key `info`: its evaluation point
/// (`i + 1` after keygen; kept by a party through committee changes).
pub fn party_at(
    info: &DirtyKeyInfo<Secp256k1>,
    keygen_index: u16,
) -> Result<PartyIndex, SessionError> {
    let vss = info
        .vss_setup
        .as_ref()
        .ok_or_else(|| SessionError::Bug("the ECDSA key is not a threshold key".into()))?;
    let point = vss
        .I
        .get(usize::from(keygen_index))
        .ok_or_else(|| SessionError::Bug("keygen index out of range".into()))?;
    point_party(point)
}

fn identifier(point: &NonZero<Scalar<Secp256k1>>) -> Result<Identifier<F>, SessionError> {
    Identifier::deserialize(point.to_be_bytes().as_ref()).map_err(|e| bug("evaluation point", e))
}

fn verifying_share(p: &NonZero<Point<Secp256k1>>) -> Result<VerifyingShare<F>, SessionError> {
    VerifyingShare::deserialize(&p.to_bytes(true)).map_err(|e| bug("public share", e))
}

/// The secret scalar's big-endian bytes (zeroized on drop).
pub(crate) fn secret_bytes(x: &NonZero<SecretScalar<Secp256k1>>) -> zeroize::Zeroizing<Vec<u8>> {
    let secret: &SecretScalar<Secp256k1> = x.as_ref();
    let s: &Scalar<Secp256k1> = secret.as_ref();
    zeroize::Zeroizing::new(s.to_be_bytes().as_ref().to_vec())
}

/// The public key material of an ECDSA key as a FROST(secp256k1) public key package.
pub(crate) fn public_package(
    info: &DirtyKeyInfo<Secp256k1>,
) -> Result<PublicKeyPackage<F>, SessionError> {
    let vss = info
        .vss_setup
        .as_ref()
        .ok_or_else(|| SessionError::Bug("the ECDSA key is not a threshold key".into()))?;
    if vss.I.len() != info.public_shares.len() {
        return Err(SessionError::Bug(
            "evaluation points and public shares differ".into(),
        ));
    }
    let mut shares = BTreeMap::new();
    for (point, public) in vss.I.iter().zip(&info.public_shares) {
        shares.insert(identifier(point)?, verifying_share(public)?);
    }
    let group = VerifyingKey::<F>::deserialize(&info.shared_public_key.to_bytes(true))
        .map_err(|e| bug("group key", e))?;
    Ok(PublicKeyPackage::new(shares, group, Some(vss.min_signers)))
}

/// The share as FROST(secp256k1) packages (secret, public).
pub(crate) fn to_frost(
    share: &IncompleteKeyShare<Secp256k1>,
) -> Result<(KeyPackage<F>, PublicKeyPackage<F>), SessionError> {
    let pkp = public_package(&share.key_info)?;
    let vss = share
        .vss_setup
        .as_ref()
        .ok_or_else(|| SessionError::Bug("the ECDSA share is not a threshold share".into()))?;
    let me = usize::from(share.i);
    let my_id = identifier(vss.I.get(me).ok_or_else(|| bug("index", "out of range"))?)?;
    let my_public = verifying_share(&share.public_shares[me])?;
    let secret = SigningShare::<F>::deserialize(secret_bytes(&share.x).as_ref())
        .map_err(|e| bug("secret share", e))?;
    Ok((
        KeyPackage::new(
            my_id,
            secret,
            my_public,
            *pkp.verifying_key(),
            vss.min_signers,
        ),
        pkp,
    ))
}

/// The refresh session of this party's ECDSA share among the `n` parties of its committee (all
/// of them take part). Party indices are `keygen index + 1`.
pub fn refresh_session(
    sid: SessionId,
    share: &IncompleteKeyShare<Secp256k1>,
) -> Result<FrostDkg<F>, SessionError> {
    let (key_package, public_key_package) = to_frost(share)?;
    let n = u16::try_from(share.public_shares.len()).map_err(|e| bug("committee size", e))?;
    let parties = (0..n)
        .map(|i| party_at(&share.key_info, i))
        .collect::<Result<Vec<_>, _>>()?;
    let t = key_package.min_signers();
    FrostDkg::new(
        sid,
        party_at(&share.key_info, share.i)?,
        &parties,
        *t,
        DkgMode::Refresh {
            key_package: Box::new(key_package),
            public_key_package: Box::new(public_key_package),
        },
    )
}

/// The refreshed cggmp21 share from a refresh session's output, checked against the old share.
pub fn refreshed_share(
    old: &IncompleteKeyShare<Secp256k1>,
    out: &DkgOutput<F>,
) -> Result<IncompleteKeyShare<Secp256k1>, SessionError> {
    from_frost(
        &old.key_info,
        old.i,
        &out.key_package,
        &out.public_key_package,
    )
}

/// A party's role in the repair of an ECDSA share.
pub enum EcdsaRepairRole<'a> {
    /// A helper, with its share.
    Helper(&'a IncompleteKeyShare<Secp256k1>),
    /// The participant, with the key's public material (as committed) and its keygen index.
    Participant(&'a DirtyKeyInfo<Secp256k1>, u16),
}

/// The repair session of an ECDSA share at keygen index `participant`, helped by the shares at
/// keygen indices `helpers` (t of them). Party indices are the evaluation points
/// ([`party_at`]).
pub fn repair_session(
    sid: SessionId,
    helpers: &[u16],
    participant: u16,
    role: EcdsaRepairRole<'_>,
) -> Result<FrostRepair<F>, SessionError> {
    let info = match &role {
        EcdsaRepairRole::Helper(share) => &share.key_info,
        EcdsaRepairRole::Participant(info, _) => *info,
    };
    let helper_parties = helpers
        .iter()
        .map(|i| party_at(info, *i))
        .collect::<Result<Vec<_>, _>>()?;
    let target = party_at(info, participant)?;
    let (me, kp, pkp) = match role {
        EcdsaRepairRole::Helper(share) => {
            let (kp, pkp) = to_frost(share)?;
            (party_at(&share.key_info, share.i)?, Some(kp), pkp)
        }
        EcdsaRepairRole::Participant(info, i) => {
            if i != participant {
                return Err(SessionError::Bug(
                    "the participant repairs its own index".into(),
                ));
            }
            (target, None, public_package(info)?)
        }
    };
    FrostRepair::new(sid, me, &helper_parties, target, kp, pkp)
}

/// The participant's cggmp21 share at keygen index `i` from a repair session's output, checked
/// against the key's public material.
pub fn repaired_share(
    info: &DirtyKeyInfo<Secp256k1>,
    i: u16,
    out: &RepairOutput<F>,
) -> Result<IncompleteKeyShare<Secp256k1>, SessionError> {
    let kp = out
        .key_package
        .as_ref()
        .ok_or_else(|| SessionError::Bug("a helper's repair output has no share".into()))?;
    from_frost(info, i, kp, &out.public_key_package)
}

/// A cggmp21 share at keygen index `i` of the key described by `info` from FROST packages:
/// same group key, evaluation points, threshold and chain code; validated by key-share.
fn from_frost(
    info: &DirtyKeyInfo<Secp256k1>,
    i: u16,
    kp: &KeyPackage<F>,
    pkp: &PublicKeyPackage<F>,
) -> Result<IncompleteKeyShare<Secp256k1>, SessionError> {
    let vss = info
        .vss_setup
        .clone()
        .ok_or_else(|| SessionError::Bug("the ECDSA key is not a threshold key".into()))?;
    from_frost_at(info, vss.I, i, kp, pkp)
}

/// [`from_frost`] for the committee whose evaluation points are `points` (in keygen order; the
/// share is at index `i`): the same key with another committee.
pub(crate) fn from_frost_at(
    info: &DirtyKeyInfo<Secp256k1>,
    points: Vec<NonZero<Scalar<Secp256k1>>>,
    i: u16,
    kp: &KeyPackage<F>,
    pkp: &PublicKeyPackage<F>,
) -> Result<IncompleteKeyShare<Secp256k1>, SessionError> {
    let mut vss = info
        .vss_setup
        .clone()
        .ok_or_else(|| SessionError::Bug("the ECDSA key is not a threshold key".into()))?;
    vss.I = points;
    let group = pkp
        .verifying_key()
        .serialize()
        .map_err(|e| bug("group key", e))?;
    if group != info.shared_public_key.to_bytes(true).to_vec() {
        return Err(SessionError::Bug(
            "the group key changed (every address would change)".into(),
        ));
    }
    if *kp.min_signers() != vss.min_signers {
        return Err(SessionError::Bug("the threshold changed".into()));
    }
    if pkp.verifying_shares().len() != vss.I.len() {
        return Err(SessionError::Bug("the committee size changed".into()));
    }
    let mut public_shares = Vec::with_capacity(vss.I.len());
    for point in &vss.I {
        let id = identifier(point)?;
        let vs = pkp
            .verifying_shares()
            .get(&id)
            .ok_or_else(|| SessionError::Bug("a party has no public share".into()))?;
        let bytes = vs.serialize().map_err(|e| bug("public share", e))?;
        let p = Point::<Secp256k1>::from_bytes(&bytes).map_err(|e| bug("public share", e))?;
        public_shares.push(
            NonZero::from_point(p)
                .ok_or_else(|| SessionError::Bug("public share is zero".into()))?,
        );
    }
    let mut scalar = Scalar::<Secp256k1>::from_be_bytes(kp.signing_share().serialize())
        .map_err(|e| bug("secret share", e))?;
    let secret = SecretScalar::new(&mut scalar);
    let x = NonZero::from_secret_scalar(secret)
        .ok_or_else(|| SessionError::Bug("secret share is zero".into()))?;
    let mut key_info = info.clone();
    key_info.public_shares = public_shares;
    key_info.vss_setup = Some(vss);
    DirtyIncompleteKeyShare { i, key_info, x }
        .validate()
        .map_err(|e| SessionError::Bug(format!("the ECDSA share is invalid: {e}")))
}
