//! Share repair (the Repairable Threshold Scheme of Laing and Stinson, ia.cr/2017/1155, as
//! frost-core's `keys::repairable`) with commitments that name a cheating helper.
//!
//! `t` *helpers* holding shares give a *participant* the share `f(j)` at identifier `j` — a lost
//! share at its old identifier, or a new identifier — without anyone learning more than the
//! public key material, and without any key being reconstructed:
//!
//! 1. **Deltas.** Helper `i` splits `λ_i·s_i` (its share times its Lagrange coefficient for `j`
//!    over the helper set) into random `δ_i→k`, one per helper `k` (frost-core's
//!    `repair_share_part1`), and sends helper `k` its `δ_i→k`; it sends every party (helpers and
//!    participant) the commitments `D_i→k = δ_i→k·G` for every `k`.
//! 2. **Sigmas.** Helper `k` checks every `δ_i→k·G = D_i→k` and `Σ_k D_i→k = λ_i·Y_i` (`Y_i` the
//!    public share of `i`), then sends the participant `σ_k = Σ_i δ_i→k` (`repair_share_part2`)
//!    and the hash of every commitment vector it saw.
//! 3. **Share.** The participant checks every helper's commitments against `λ_i·Y_i`, that every
//!    helper saw the same commitments (an equivocation aborts, naming nobody), and
//!    `σ_k·G = Σ_i D_i→k`; then `s_j = Σ_k σ_k` (`repair_share_part3`) and finally
//!    `s_j·G = Y_j` (the public share at `j`: the group's, or interpolated from the helpers' for a
//!    new identifier).
//!
//! A helper whose delta does not match its commitment, or whose commitments do not add up to
//! `λ_i·Y_i`, or whose sigma does not match the commitments, is **named**; no share is output and
//! nothing a party holds changes. Helpers output the public key package (with `Y_j` added for a
//! new identifier); the participant outputs its key package too.

use super::{abort, identifier};
use crate::session::{
    Envelope, Outgoing, PartyIndex, Recipient, Session, SessionError, SessionId, Step,
};
use frost_core::keys::repairable::{self, Delta, Sigma};
use frost_core::keys::{KeyPackage, PublicKeyPackage, SigningShare, VerifyingShare};
use frost_core::{Ciphersuite, Group, Identifier};
use rand_core::{CryptoRng, RngCore};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, BTreeSet};

const ROUND_DELTAS: u16 = 1;
const ROUND_SIGMA: u16 = 2;

/// Round payloads.
#[derive(Serialize, Deserialize)]
#[serde(bound = "C: Ciphersuite")]
pub enum RepairMessage<C: Ciphersuite> {
    /// Round 1 (helper → every other party): the commitments to every delta, and, to a helper,
    /// its delta.
    Deltas {
        /// `D_i→k` for every helper `k`.
        commitments: BTreeMap<PartyIndex, VerifyingShare<C>>,
        /// `δ_i→k` (to helper `k` only).
        delta: Option<Delta<C>>,
    },
    /// Round 2 (helper → participant): `σ_k` and the hash of every helper's commitments seen.
    Sigma {
        /// `σ_k`.
        sigma: Sigma<C>,
        /// Hash of the commitment vectors this helper received (its own included).
        view: [u8; 32],
    },
}

/// What a repair session gives its party.
pub struct RepairOutput<C: Ciphersuite> {
    /// The participant's repaired key package (`None` for a helper). Secret; never logged.
    pub key_package: Option<KeyPackage<C>>,
    /// The group's public key package, with the participant's public share.
    pub public_key_package: PublicKeyPackage<C>,
}

impl<C: Ciphersuite> std::fmt::Debug for RepairOutput<C> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RepairOutput")
            .field(
                "key_package",
                &self.key_package.as_ref().map(|_| "<redacted>"),
            )
            .finish()
    }
}

/// The public key package with the public share of `party` added (when it is new): `Y_j =
/// Σ_h λ_h·Y_h` over `helpers` (any t parties give the same point, the polynomial having degree
/// t − 1). Public data only: every party of the committee computes the same package.
pub fn extend_public_key_package<C: Ciphersuite>(
    pkp: &PublicKeyPackage<C>,
    helpers: &[PartyIndex],
    party: PartyIndex,
) -> Result<PublicKeyPackage<C>, SessionError> {
    let j = identifier::<C>(party)?;
    if pkp.verifying_shares().contains_key(&j) {
        return Ok(pkp.clone());
    }
    let set: BTreeSet<Identifier<C>> = helpers
        .iter()
        .map(|h| identifier::<C>(*h))
        .collect::<Result<_, _>>()?;
    let mut y = <C::Group as Group>::identity();
    for h in &set {
        let lambda = frost_core::compute_lagrange_coefficient(&set, Some(j), *h)
            .map_err(|e| SessionError::Bug(format!("Lagrange coefficient: {e}")))?;
        let yh = pkp
            .verifying_shares()
            .get(h)
            .ok_or_else(|| SessionError::Bug("a helper has no public share".into()))?
            .to_element();
        y = y + yh * lambda;
    }
    let mut shares = pkp.verifying_shares().clone();
    shares.insert(j, VerifyingShare::new(y));
    Ok(PublicKeyPackage::new(
        shares,
        *pkp.verifying_key(),
        pkp.min_signers(),
    ))
}

/// One party's repair session.
pub struct FrostRepair<C: Ciphersuite> {
    session_id: SessionId,
    me: PartyIndex,
    helpers: Vec<PartyIndex>,
    participant: PartyIndex,
    /// This helper's key package (`None` for the participant).
    key_package: Option<KeyPackage<C>>,
    public_key_package: PublicKeyPackage<C>,
    commitments: BTreeMap<PartyIndex, BTreeMap<PartyIndex, VerifyingShare<C>>>,
    deltas: BTreeMap<PartyIndex, Delta<C>>,
    sigmas: BTreeMap<PartyIndex, (Sigma<C>, [u8; 32])>,
    sent_sigma: bool,
    started: bool,
    finished: bool,
}

impl<C: Ciphersuite> FrostRepair<C> {
    /// A session for `me`, which is one of `helpers` (with its `key_package`) or the
    /// `participant` (with `None`). `public_key_package` is the group's, as committed.
    pub fn new(
        session_id: SessionId,
        me: PartyIndex,
        helpers: &[PartyIndex],
        participant: PartyIndex,
        key_package: Option<KeyPackage<C>>,
        public_key_package: PublicKeyPackage<C>,
    ) -> Result<Self, SessionError> {
        let mut helpers = helpers.to_vec();
        helpers.sort();
        helpers.dedup();
        let t = public_key_package
            .min_signers()
            .ok_or_else(|| SessionError::Bug("the public key package has no threshold".into()))?;
        if helpers.len() != usize::from(t) {
            return Err(SessionError::Bug(format!(
                "a repair needs exactly t = {t} helpers, not {}",
                helpers.len()
            )));
        }
        if helpers.contains(&participant) {
            return Err(SessionError::Bug(
                "the participant cannot help itself".into(),
            ));
        }
        for h in &helpers {
            if !public_key_package
                .verifying_shares()
                .contains_key(&identifier::<C>(*h)?)
            {
                return Err(SessionError::Bug(format!("{h} holds no share of this key")));
            }
        }
        match (&key_package, me == participant, helpers.contains(&me)) {
            (None, true, _) => {}
            (Some(kp), false, true) => {
                if kp.identifier() != &identifier::<C>(me)?
                    || kp.verifying_key() != public_key_package.verifying_key()
                {
                    return Err(SessionError::Bug(
                        "the key package is not this party's".into(),
                    ));
                }
            }
            _ => {
                return Err(SessionError::Bug(format!(
                    "{me} is neither a helper with a share nor the participant"
                )))
            }
        }
        Ok(FrostRepair {
            session_id,
            me,
            helpers,
            participant,
            key_package,
            public_key_package,
            commitments: BTreeMap::new(),
            deltas: BTreeMap::new(),
            sigmas: BTreeMap::new(),
            sent_sigma: false,
            started: false,
            finished: false,
        })
    }

    fn is_helper(&self) -> bool {
        self.key_package.is_some()
    }

    fn envelope(
        &self,
        round: u16,
        body: RepairMessage<C>,
        to: PartyIndex,
    ) -> Result<Outgoing, SessionError> {
        Envelope::outgoing(self.session_id, round, self.me, body, Recipient::One(to))
    }

    fn ids(&self) -> Result<Vec<Identifier<C>>, SessionError> {
        self.helpers.iter().map(|h| identifier::<C>(*h)).collect()
    }

    /// `λ_h·Y_h`: what helper `h`'s commitments must add up to.
    fn lambda_y(&self, h: PartyIndex) -> Result<frost_core::Element<C>, SessionError> {
        let set: BTreeSet<Identifier<C>> = self.ids()?.into_iter().collect();
        let id = identifier::<C>(h)?;
        let lambda = frost_core::compute_lagrange_coefficient(
            &set,
            Some(identifier::<C>(self.participant)?),
            id,
        )
        .map_err(|e| SessionError::Bug(format!("Lagrange coefficient: {e}")))?;
        let y = self
            .public_key_package
            .verifying_shares()
            .get(&id)
            .ok_or_else(|| SessionError::Bug(format!("no public share of {h}")))?
            .to_element();
        Ok(y * lambda)
    }

    /// Checks helper `h`'s commitments: one per helper, adding up to `λ_h·Y_h`.
    fn check_commitments(
        &self,
        h: PartyIndex,
        c: &BTreeMap<PartyIndex, VerifyingShare<C>>,
    ) -> Result<(), SessionError> {
        let blame = |reason: &str| SessionError::Abort {
            culprits: vec![h],
            reason: format!("{h} {reason}"),
        };
        if c.keys().copied().collect::<Vec<_>>() != self.helpers {
            return Err(blame("sent commitments for another helper set"));
        }
        let sum = c.values().fold(<C::Group as Group>::identity(), |acc, d| {
            acc + d.to_element()
        });
        if sum != self.lambda_y(h)? {
            return Err(blame(
                "sent delta commitments that do not add up to its weighted public share",
            ));
        }
        Ok(())
    }

    /// Hash of every helper's commitment vector, in helper order.
    fn view(&self) -> Result<[u8; 32], SessionError> {
        let mut h = Sha256::new();
        h.update(crate::domain::FROST_REPAIR_VIEW);
        h.update(self.session_id.0);
        for helper in &self.helpers {
            let c = self
                .commitments
                .get(helper)
                .ok_or_else(|| SessionError::Bug("missing commitments".into()))?;
            for d in c.values() {
                let bytes = d
                    .serialize()
                    .map_err(|e| SessionError::Bug(format!("commitment: {e}")))?;
                h.update((bytes.len() as u32).to_be_bytes());
                h.update(bytes);
            }
        }
        Ok(h.finalize().into())
    }

    fn advance(&mut self) -> Result<Step<RepairOutput<C>>, SessionError> {
        let t = self.helpers.len();
        if self.is_helper() {
            if self.sent_sigma || self.deltas.len() < t || self.commitments.len() < t {
                return Ok(Step::Continue(Vec::new()));
            }
            let deltas: Vec<Delta<C>> = self.deltas.values().copied().collect();
            let sigma = repairable::repair_share_part2(&deltas);
            let view = self.view()?;
            let out = self.envelope(
                ROUND_SIGMA,
                RepairMessage::Sigma { sigma, view },
                self.participant,
            )?;
            self.sent_sigma = true;
            self.finished = true;
            return Ok(Step::Done(
                RepairOutput {
                    key_package: None,
                    public_key_package: self.extended_public_key_package()?,
                },
                vec![out],
            ));
        }
        if self.commitments.len() < t || self.sigmas.len() < t {
            return Ok(Step::Continue(Vec::new()));
        }
        let mine = self.view()?;
        if self.sigmas.values().any(|(_, v)| *v != mine) {
            return Err(SessionError::Abort {
                culprits: Vec::new(),
                reason: "the helpers saw different delta commitments: some helper equivocated"
                    .into(),
            });
        }
        let mut culprits = Vec::new();
        for k in &self.helpers {
            let expected = self
                .commitments
                .values()
                .map(|c| c.get(k).map(|d| d.to_element()))
                .try_fold(<C::Group as Group>::identity(), |acc, d| d.map(|d| acc + d))
                .ok_or_else(|| SessionError::Bug("missing commitment".into()))?;
            let (sigma, _) = self
                .sigmas
                .get(k)
                .ok_or_else(|| SessionError::Bug("missing sigma".into()))?;
            let got: VerifyingShare<C> = SigningShare::<C>::new(sigma.to_scalar()).into();
            if got.to_element() != expected {
                culprits.push(*k);
            }
        }
        if !culprits.is_empty() {
            return Err(SessionError::Abort {
                reason: format!(
                    "{} sent a sigma that does not match the delta commitments",
                    culprits
                        .iter()
                        .map(|p| p.to_string())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
                culprits,
            });
        }
        let sigmas: Vec<Sigma<C>> = self.sigmas.values().map(|(s, _)| *s).collect();
        let pkp = self.extended_public_key_package()?;
        let kp = repairable::repair_share_part3(&sigmas, identifier::<C>(self.me)?, &pkp)
            .map_err(|e| abort(e, &self.helpers, "repairing the share"))?;
        let want = pkp
            .verifying_shares()
            .get(kp.identifier())
            .ok_or_else(|| SessionError::Bug("no public share for the participant".into()))?;
        if kp.verifying_share() != want {
            return Err(SessionError::Abort {
                culprits: Vec::new(),
                reason: "the repaired share does not match its public share".into(),
            });
        }
        self.finished = true;
        Ok(Step::Done(
            RepairOutput {
                key_package: Some(kp),
                public_key_package: pkp,
            },
            Vec::new(),
        ))
    }

    /// The group's public key package with the participant's public share: the committed one,
    /// or, for a new identifier, `Σ_h λ_h·Y_h`.
    fn extended_public_key_package(&self) -> Result<PublicKeyPackage<C>, SessionError> {
        extend_public_key_package(&self.public_key_package, &self.helpers, self.participant)
    }
}

impl<C: Ciphersuite> Session for FrostRepair<C> {
    type Output = RepairOutput<C>;

    fn start<R: RngCore + CryptoRng>(
        &mut self,
        rng: &mut R,
    ) -> Result<Vec<Outgoing>, SessionError> {
        if self.started {
            return Err(SessionError::Bug("session already started".into()));
        }
        self.started = true;
        let Some(kp) = self.key_package.clone() else {
            return Ok(Vec::new());
        };
        let ids = self.ids()?;
        let deltas = repairable::repair_share_part1(
            &ids,
            &kp,
            &mut *rng,
            identifier::<C>(self.participant)?,
        )
        .map_err(|e| SessionError::Bug(format!("repair part 1: {e}")))?;
        let mut commitments = BTreeMap::new();
        let mut mine = BTreeMap::new();
        for h in &self.helpers {
            let d = deltas
                .get(&identifier::<C>(*h)?)
                .copied()
                .ok_or_else(|| SessionError::Bug(format!("no delta for {h}")))?;
            commitments.insert(*h, SigningShare::<C>::new(d.to_scalar()).into());
            mine.insert(*h, d);
        }
        let mut out = Vec::new();
        for h in self.helpers.clone() {
            if h == self.me {
                continue;
            }
            let body = RepairMessage::Deltas {
                commitments: commitments.clone(),
                delta: mine.get(&h).copied(),
            };
            out.push(self.envelope(ROUND_DELTAS, body, h)?);
        }
        let body = RepairMessage::Deltas {
            commitments: commitments.clone(),
            delta: None,
        };
        out.push(self.envelope(ROUND_DELTAS, body, self.participant)?);
        let own = mine
            .get(&self.me)
            .copied()
            .ok_or_else(|| SessionError::Bug("no own delta".into()))?;
        self.deltas.insert(self.me, own);
        self.commitments.insert(self.me, commitments);
        Ok(out)
    }

    fn handle<R: RngCore + CryptoRng>(
        &mut self,
        from: PartyIndex,
        bytes: &[u8],
        _rng: &mut R,
    ) -> Result<Step<RepairOutput<C>>, SessionError> {
        let reject = |reason: &str| SessionError::Rejected {
            from,
            reason: reason.to_string(),
        };
        if from == self.me || !self.helpers.contains(&from) {
            return Err(reject("sender is not a helper of this repair"));
        }
        if self.finished {
            return Err(reject("session already finished"));
        }
        let env: Envelope<RepairMessage<C>> = Envelope::open(bytes, from, &self.session_id, |r| {
            (ROUND_DELTAS..=ROUND_SIGMA).contains(&r)
        })?;
        match (env.round, env.body) {
            (ROUND_DELTAS, RepairMessage::Deltas { commitments, delta }) => {
                if self.commitments.contains_key(&from) {
                    return Err(reject("duplicate deltas (replay)"));
                }
                self.check_commitments(from, &commitments)?;
                match (self.is_helper(), delta) {
                    (true, Some(d)) => {
                        let want = commitments
                            .get(&self.me)
                            .ok_or_else(|| reject("no commitment for this helper"))?;
                        let got: VerifyingShare<C> = SigningShare::<C>::new(d.to_scalar()).into();
                        if got != *want {
                            return Err(SessionError::Abort {
                                culprits: vec![from],
                                reason: format!(
                                    "{from} sent a delta that does not match its commitment"
                                ),
                            });
                        }
                        self.deltas.insert(from, d);
                    }
                    (false, None) => {}
                    _ => return Err(reject("a delta for the wrong party")),
                }
                self.commitments.insert(from, commitments);
            }
            (ROUND_SIGMA, RepairMessage::Sigma { sigma, view }) => {
                if self.is_helper() {
                    return Err(reject("sigmas go to the participant"));
                }
                if self.sigmas.contains_key(&from) {
                    return Err(reject("duplicate sigma (replay)"));
                }
                self.sigmas.insert(from, (sigma, view));
            }
            _ => return Err(reject("round number does not match the message")),
        }
        self.advance()
    }
}
