//! FROST signing in two rounds, for signers that have not pre-published commitments: round 0
//! sends fresh commitments to every other signer; once all are in, the session continues as
//! [`FrostSign`](super::sign::FrostSign).
//!
//! The nonces are generated inside the session and never stored anywhere, so they are single-use
//! by construction (invariant 4): a restarted or retried session generates new ones.

use super::sign::FrostSign;
use crate::session::{
    Envelope, Outgoing, PartyIndex, Recipient, Session, SessionError, SessionId, Step,
};
use frost_core::keys::{KeyPackage, PublicKeyPackage};
use frost_core::round1::{self, SigningCommitments, SigningNonces};
use frost_core::{Ciphersuite, Signature};
use rand_core::{CryptoRng, RngCore};
use std::collections::BTreeMap;

const ROUND_COMMIT: u16 = 0;

/// One party's two-round signing session.
pub struct FrostSignOnline<C: Ciphersuite> {
    session_id: SessionId,
    me: PartyIndex,
    signers: Vec<PartyIndex>,
    key_package: Option<(KeyPackage<C>, PublicKeyPackage<C>)>,
    message: Vec<u8>,
    nonces: Option<SigningNonces<C>>,
    commitments: BTreeMap<PartyIndex, SigningCommitments<C>>,
    early: BTreeMap<PartyIndex, Vec<u8>>,
    inner: Option<FrostSign<C>>,
}

impl<C: Ciphersuite> FrostSignOnline<C> {
    /// A session for `me` among `signers` (at least the threshold) signing `message`.
    pub fn new(
        session_id: SessionId,
        me: PartyIndex,
        signers: &[PartyIndex],
        key_package: KeyPackage<C>,
        public_key_package: PublicKeyPackage<C>,
        message: &[u8],
    ) -> Result<Self, SessionError> {
        let mut signers = signers.to_vec();
        signers.sort();
        signers.dedup();
        if !signers.contains(&me) {
            return Err(SessionError::Bug(format!("{me} is not a signer")));
        }
        if signers.len() < usize::from(*key_package.min_signers()) {
            return Err(SessionError::Bug("fewer signers than the threshold".into()));
        }
        Ok(FrostSignOnline {
            session_id,
            me,
            signers,
            key_package: Some((key_package, public_key_package)),
            message: message.to_vec(),
            nonces: None,
            commitments: BTreeMap::new(),
            early: BTreeMap::new(),
            inner: None,
        })
    }

    fn advance<R: RngCore + CryptoRng>(
        &mut self,
        rng: &mut R,
    ) -> Result<Step<Signature<C>>, SessionError> {
        if self.commitments.len() < self.signers.len() {
            return Ok(Step::Continue(Vec::new()));
        }
        let (kp, pkp) = self
            .key_package
            .take()
            .ok_or_else(|| SessionError::Bug("key package already used".into()))?;
        let nonces = self
            .nonces
            .take()
            .ok_or_else(|| SessionError::Bug("nonces already used".into()))?;
        let mut inner = FrostSign::new(
            self.session_id,
            self.me,
            kp,
            pkp,
            &self.message,
            &self.commitments,
            nonces,
        )?;
        let mut out = inner.start(rng)?;
        let early = std::mem::take(&mut self.early);
        let mut done = None;
        for (from, bytes) in early {
            match inner.handle(from, &bytes, rng)? {
                Step::Continue(o) => out.extend(o),
                Step::Done(sig, o) => {
                    out.extend(o);
                    done = Some(sig);
                }
            }
        }
        self.inner = Some(inner);
        Ok(match done {
            Some(sig) => Step::Done(sig, out),
            None => Step::Continue(out),
        })
    }
}

impl<C: Ciphersuite> Session for FrostSignOnline<C> {
    type Output = Signature<C>;

    fn start<R: RngCore + CryptoRng>(
        &mut self,
        rng: &mut R,
    ) -> Result<Vec<Outgoing>, SessionError> {
        if self.nonces.is_some() || self.inner.is_some() {
            return Err(SessionError::Bug("session already started".into()));
        }
        let (kp, _) = self
            .key_package
            .as_ref()
            .ok_or_else(|| SessionError::Bug("key package already used".into()))?;
        let (nonces, commitments) = round1::commit(kp.signing_share(), rng);
        self.nonces = Some(nonces);
        self.commitments.insert(self.me, commitments);
        Ok(vec![Envelope::outgoing(
            self.session_id,
            ROUND_COMMIT,
            self.me,
            commitments,
            Recipient::All,
        )?])
    }

    fn handle<R: RngCore + CryptoRng>(
        &mut self,
        from: PartyIndex,
        bytes: &[u8],
        rng: &mut R,
    ) -> Result<Step<Signature<C>>, SessionError> {
        if let Some(inner) = self.inner.as_mut() {
            return inner.handle(from, bytes, rng);
        }
        if from == self.me || !self.signers.contains(&from) {
            return Err(SessionError::Rejected {
                from,
                reason: "sender is not another signer of this session".into(),
            });
        }
        let head: Envelope<ciborium::Value> =
            Envelope::open(bytes, from, &self.session_id, |r| r <= 1)?;
        if head.round != ROUND_COMMIT {
            // A share that overtook the last commitment: keep one per sender until we can use it.
            if self.early.contains_key(&from) {
                return Err(SessionError::Rejected {
                    from,
                    reason: "duplicate early share".into(),
                });
            }
            self.early.insert(from, bytes.to_vec());
            return Ok(Step::Continue(Vec::new()));
        }
        let env: Envelope<SigningCommitments<C>> =
            Envelope::open(bytes, from, &self.session_id, |r| r == ROUND_COMMIT)?;
        if self.commitments.contains_key(&from) {
            return Err(SessionError::Rejected {
                from,
                reason: "duplicate commitments (replay)".into(),
            });
        }
        self.commitments.insert(from, env.body);
        self.advance(rng)
    }
}
