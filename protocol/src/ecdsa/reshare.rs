//! Changing the committee of a cggmp21 threshold key without changing the key (issue 14, item 4):
//! the same group key, chain code and addresses, held by another set of parties.
//!
//! A cggmp21 t-of-n share is a Shamir share at an evaluation point (`vss_setup.I`), i.e. a
//! FROST(secp256k1) key package with that identifier ([`super::refresh`]). Both changes reuse the
//! sessions the FROST key types use; no new cryptography:
//!
//! - **Remove parties** ([`removal_session`], [`after_removal`]): the parties that stay (at least
//!   t) run frost-core's refresh DKG among themselves only. Their new shares lie on a new
//!   polynomial with the same constant term; the public key package keeps only their public
//!   shares; the removed parties' shares do not fit the new ones (checked in the tests). Each
//!   party keeps its evaluation point; its keygen index becomes its position among the staying.
//! - **Add a party** ([`addition_session`], [`after_addition`], [`extended_share`]): t helpers
//!   repair a share at a new evaluation point (frost-core's repairable threshold scheme with our
//!   commitments, [`crate::frost::repair`]); every member extends its key info with the new
//!   party's public share, computed from public data. A refresh among everyone should follow
//!   when the new party's share must be unrelated to older copies of the helpers' (it is not
//!   needed for the addition itself).
//!
//! The threshold stays: frost-core's refresh keeps `min_signers`, and a t change needs a
//! resharing to a polynomial of another degree that neither frost-core nor cggmp21 provides.
//! Aux info (Paillier keys) belongs to a committee: a changed committee needs new aux info
//! before it signs.

use super::refresh::{from_frost_at, party_at, public_package, to_frost};
use super::Secp256k1;
use crate::frost::dkg::{DkgMode, DkgOutput, FrostDkg};
use crate::frost::repair::{extend_public_key_package, FrostRepair, RepairOutput};
use crate::frost::Secp256k1 as FrostSecp256k1;
use crate::session::{PartyIndex, SessionError, SessionId};
use cggmp21::generic_ec::{NonZero, Scalar};
use cggmp21::key_share::{DirtyKeyInfo, IncompleteKeyShare};

type F = FrostSecp256k1;

fn bug(reason: &str) -> SessionError {
    SessionError::Bug(reason.into())
}

fn points(info: &DirtyKeyInfo<Secp256k1>) -> Result<Vec<NonZero<Scalar<Secp256k1>>>, SessionError> {
    Ok(info
        .vss_setup
        .as_ref()
        .ok_or_else(|| bug("the ECDSA key is not a threshold key"))?
        .I
        .clone())
}

fn sorted(indices: &[u16]) -> Vec<u16> {
    let mut v = indices.to_vec();
    v.sort_unstable();
    v.dedup();
    v
}

/// The refresh, among the parties at keygen indices `staying` only, that removes every other
/// party of the key's committee; the session of `share`, which must stay. At least t stay.
pub fn removal_session(
    sid: SessionId,
    share: &IncompleteKeyShare<Secp256k1>,
    staying: &[u16],
) -> Result<FrostDkg<F>, SessionError> {
    let staying = sorted(staying);
    let n = share.public_shares.len();
    if staying.iter().any(|i| usize::from(*i) >= n) {
        return Err(bug("a staying index is not in the committee"));
    }
    if !staying.contains(&share.i) {
        return Err(bug("this party is removed: it takes no part"));
    }
    let (key_package, public_key_package) = to_frost(share)?;
    let t = *key_package.min_signers();
    if staying.len() < usize::from(t) {
        return Err(bug("fewer than t parties would stay"));
    }
    if staying.len() == n {
        return Err(bug("nobody is removed (that is a refresh)"));
    }
    let parties = staying
        .iter()
        .map(|i| party_at(&share.key_info, *i))
        .collect::<Result<Vec<_>, _>>()?;
    FrostDkg::new(
        sid,
        party_at(&share.key_info, share.i)?,
        &parties,
        t,
        DkgMode::Refresh {
            key_package: Box::new(key_package),
            public_key_package: Box::new(public_key_package),
        },
    )
}

/// A staying party's share after the removal: the committee is the parties at `staying` (keygen
/// order kept), this share at its position among them.
pub fn after_removal(
    old: &IncompleteKeyShare<Secp256k1>,
    staying: &[u16],
    out: &DkgOutput<F>,
) -> Result<IncompleteKeyShare<Secp256k1>, SessionError> {
    let staying = sorted(staying);
    let all = points(&old.key_info)?;
    let kept = staying
        .iter()
        .map(|i| all.get(usize::from(*i)).cloned())
        .collect::<Option<Vec<_>>>()
        .ok_or_else(|| bug("a staying index is not in the committee"))?;
    let i = staying
        .iter()
        .position(|x| *x == old.i)
        .and_then(|p| u16::try_from(p).ok())
        .ok_or_else(|| bug("this party was removed"))?;
    from_frost_at(
        &old.key_info,
        kept,
        i,
        &out.key_package,
        &out.public_key_package,
    )
}

/// A party's role in an addition.
pub enum AdditionRole<'a> {
    /// A helper, with its share.
    Helper(&'a IncompleteKeyShare<Secp256k1>),
    /// The new party, with the key's public material (as every helper handed it over).
    Newcomer(&'a DirtyKeyInfo<Secp256k1>),
}

fn check_new_point(
    info: &DirtyKeyInfo<Secp256k1>,
    new_point: u16,
) -> Result<PartyIndex, SessionError> {
    if new_point == 0 {
        return Err(bug("an evaluation point cannot be 0 (it is the key)"));
    }
    let n = u16::try_from(info.public_shares.len()).map_err(|_| bug("committee size"))?;
    for i in 0..n {
        if party_at(info, i)?.0 == new_point {
            return Err(bug(
                "the new party's evaluation point is already a member's",
            ));
        }
    }
    Ok(PartyIndex(new_point))
}

/// The repair that gives a new party, at evaluation point `new_point` (not a member's), a share
/// of the key, helped by the shares at keygen indices `helpers` (t of them).
pub fn addition_session(
    sid: SessionId,
    helpers: &[u16],
    new_point: u16,
    role: AdditionRole<'_>,
) -> Result<FrostRepair<F>, SessionError> {
    let info = match &role {
        AdditionRole::Helper(share) => &share.key_info,
        AdditionRole::Newcomer(info) => *info,
    };
    let newcomer = check_new_point(info, new_point)?;
    let helper_parties = sorted(helpers)
        .iter()
        .map(|i| party_at(info, *i))
        .collect::<Result<Vec<_>, _>>()?;
    let (me, kp, pkp) = match role {
        AdditionRole::Helper(share) => {
            let (kp, pkp) = to_frost(share)?;
            (party_at(&share.key_info, share.i)?, Some(kp), pkp)
        }
        AdditionRole::Newcomer(info) => (newcomer, None, public_package(info)?),
    };
    FrostRepair::new(sid, me, &helper_parties, newcomer, kp, pkp)
}

/// The new party's share from the addition's output: the committee is the key's followed by the
/// new party (its keygen index is the old committee size).
pub fn after_addition(
    info: &DirtyKeyInfo<Secp256k1>,
    new_point: u16,
    out: &RepairOutput<F>,
) -> Result<IncompleteKeyShare<Secp256k1>, SessionError> {
    check_new_point(info, new_point)?;
    let kp = out
        .key_package
        .as_ref()
        .ok_or_else(|| bug("a helper's repair output has no share"))?;
    let mut all = points(info)?;
    let i = u16::try_from(all.len()).map_err(|_| bug("committee size"))?;
    all.push(point_scalar(new_point)?);
    from_frost_at(info, all, i, kp, &out.public_key_package)
}

/// A member's share (helper or not) with the key info extended by the new party at
/// `new_point`; its secret is unchanged. The new public share is computed from public data, so
/// every member gets the same one as the helpers and the new party.
pub fn extended_share(
    old: &IncompleteKeyShare<Secp256k1>,
    new_point: u16,
) -> Result<IncompleteKeyShare<Secp256k1>, SessionError> {
    let newcomer = check_new_point(&old.key_info, new_point)?;
    let (kp, pkp) = to_frost(old)?;
    let t = usize::from(*kp.min_signers());
    let basis = (0..t)
        .map(|i| {
            u16::try_from(i)
                .map_err(|_| bug("threshold"))
                .and_then(|i| party_at(&old.key_info, i))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let extended = extend_public_key_package(&pkp, &basis, newcomer)?;
    let mut all = points(&old.key_info)?;
    all.push(point_scalar(new_point)?);
    from_frost_at(&old.key_info, all, old.i, &kp, &extended)
}

fn point_scalar(p: u16) -> Result<NonZero<Scalar<Secp256k1>>, SessionError> {
    NonZero::from_scalar(Scalar::<Secp256k1>::from(u64::from(p)))
        .ok_or_else(|| bug("an evaluation point cannot be 0"))
}
