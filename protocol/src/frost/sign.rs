//! One FROST signing session (RFC 9591 §5.2–5.3) without a coordinator.
//!
//! Inputs fixed before the session: the signer set, the message, every signer's published
//! commitments and this party's nonces (taken from its [`NonceStore`](super::nonces::NonceStore),
//! hence already consumed). Round 1: each signer sends its signature share to every other signer.
//! With all shares, every signer aggregates; aggregation verifies the group signature and, if it
//! fails, names every signer whose share is invalid.

use super::{abort, identifier};
use crate::session::{
    Envelope, Outgoing, PartyIndex, Recipient, Session, SessionError, SessionId, Step,
};
use frost_core::keys::{KeyPackage, PublicKeyPackage};
use frost_core::round1::{SigningCommitments, SigningNonces};
use frost_core::round2::{self, SignatureShare};
use frost_core::{Ciphersuite, Signature, SigningPackage};
use rand_core::{CryptoRng, RngCore};
use std::collections::BTreeMap;

const ROUND_SHARE: u16 = 1;

/// One party's signing session.
pub struct FrostSign<C: Ciphersuite> {
    session_id: SessionId,
    me: PartyIndex,
    signers: Vec<PartyIndex>,
    key_package: KeyPackage<C>,
    public_key_package: PublicKeyPackage<C>,
    signing_package: SigningPackage<C>,
    nonces: Option<SigningNonces<C>>,
    shares: BTreeMap<PartyIndex, SignatureShare<C>>,
    finished: bool,
}

impl<C: Ciphersuite> FrostSign<C> {
    /// A session for `me`. `commitments` must hold exactly one entry per signer (including `me`),
    /// and `nonces` must be the ones behind `me`'s commitment.
    pub fn new(
        session_id: SessionId,
        me: PartyIndex,
        key_package: KeyPackage<C>,
        public_key_package: PublicKeyPackage<C>,
        message: &[u8],
        commitments: &BTreeMap<PartyIndex, SigningCommitments<C>>,
        nonces: SigningNonces<C>,
    ) -> Result<Self, SessionError> {
        let signers: Vec<PartyIndex> = commitments.keys().copied().collect();
        if !signers.contains(&me) {
            return Err(SessionError::Bug(format!("{me} is not a signer")));
        }
        if signers.len() < usize::from(*key_package.min_signers()) {
            return Err(SessionError::Bug(format!(
                "{} signers is below the threshold {}",
                signers.len(),
                key_package.min_signers()
            )));
        }
        if commitments.get(&me) != Some(nonces.commitments()) {
            return Err(SessionError::Bug(
                "nonces do not match this party's commitment".into(),
            ));
        }
        let by_id = commitments
            .iter()
            .map(|(p, c)| Ok((identifier::<C>(*p)?, *c)))
            .collect::<Result<BTreeMap<_, _>, SessionError>>()?;
        Ok(FrostSign {
            session_id,
            me,
            signers,
            key_package,
            public_key_package,
            signing_package: SigningPackage::new(by_id, message),
            nonces: Some(nonces),
            shares: BTreeMap::new(),
            finished: false,
        })
    }

    fn try_finish(&mut self) -> Result<Step<Signature<C>>, SessionError> {
        if self.shares.len() < self.signers.len() {
            return Ok(Step::Continue(Vec::new()));
        }
        let by_id = self
            .shares
            .iter()
            .map(|(p, s)| Ok((identifier::<C>(*p)?, *s)))
            .collect::<Result<BTreeMap<_, _>, SessionError>>()?;
        self.finished = true;
        let sig = frost_core::aggregate_custom(
            &self.signing_package,
            &by_id,
            &self.public_key_package,
            frost_core::CheaterDetection::AllCheaters,
        )
        .map_err(|e| abort(e, &self.signers, "aggregating signature shares"))?;
        Ok(Step::Done(sig, Vec::new()))
    }
}

impl<C: Ciphersuite> Session for FrostSign<C> {
    type Output = Signature<C>;

    fn start<R: RngCore + CryptoRng>(
        &mut self,
        _rng: &mut R,
    ) -> Result<Vec<Outgoing>, SessionError> {
        // The nonces leave the session here and are dropped (zeroized) after this call.
        let nonces = self.nonces.take().ok_or_else(|| {
            SessionError::Bug("session already started: nonces are single-use".into())
        })?;
        let share = round2::sign(&self.signing_package, &nonces, &self.key_package)
            .map_err(|e| SessionError::Bug(format!("computing own share: {e}")))?;
        drop(nonces);
        self.shares.insert(self.me, share);
        Ok(vec![Envelope::outgoing(
            self.session_id,
            ROUND_SHARE,
            self.me,
            share,
            Recipient::All,
        )?])
    }

    fn handle<R: RngCore + CryptoRng>(
        &mut self,
        from: PartyIndex,
        bytes: &[u8],
        _rng: &mut R,
    ) -> Result<Step<Signature<C>>, SessionError> {
        let reject = |reason: &str| SessionError::Rejected {
            from,
            reason: reason.to_string(),
        };
        if from == self.me || !self.signers.contains(&from) {
            return Err(reject("sender is not another signer of this session"));
        }
        if self.finished {
            return Err(reject("session already finished"));
        }
        if self.nonces.is_some() {
            return Err(SessionError::Bug("handle called before start".into()));
        }
        let env: Envelope<SignatureShare<C>> =
            Envelope::open(bytes, from, &self.session_id, |r| r == ROUND_SHARE)?;
        if self.shares.contains_key(&from) {
            return Err(reject("duplicate signature share (replay)"));
        }
        self.shares.insert(from, env.body);
        self.try_finish()
    }
}
