//! FROST preprocessing for a fixed signer set (RFC 9591 §5.1, decision 0034): each signer makes
//! `count` nonce pairs and sends their commitments to every other signer in one message. The
//! output is this party's secret nonces and every signer's commitments, one per slot; the node
//! stores slot `i` sealed, and a later [`FrostSign`](super::sign::FrostSign) for the pool
//! presignature behind slot `i` is then a single online round.
//!
//! Each nonce pair may be used once: the node takes a slot out of its share store (a flushed
//! delete) before computing a signature share with it (invariant 4).

use crate::session::{
    Envelope, Outgoing, PartyIndex, Recipient, Session, SessionError, SessionId, Step,
};
use frost_core::keys::KeyPackage;
use frost_core::round1::{self, SigningCommitments, SigningNonces};
use frost_core::Ciphersuite;
use rand_core::{CryptoRng, RngCore};
use std::collections::BTreeMap;
use std::fmt;

const ROUND_COMMITMENTS: u16 = 0;

/// Most nonce pairs one session may make (bounds a peer's message).
pub const MAX_PREPROCESS_COUNT: usize = 256;

/// What a preprocessing session produces: per slot, this party's nonces and every signer's
/// commitments (this party's included).
pub struct Preprocessed<C: Ciphersuite> {
    /// This party's secret nonces, one per slot (zeroized on drop by frost-core).
    pub nonces: Vec<SigningNonces<C>>,
    /// Every signer's commitments, one per slot.
    pub commitments: BTreeMap<PartyIndex, Vec<SigningCommitments<C>>>,
}

impl<C: Ciphersuite> fmt::Debug for Preprocessed<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Preprocessed")
            .field("slots", &self.nonces.len())
            .field("signers", &self.commitments.len())
            .finish_non_exhaustive()
    }
}

/// One party's preprocessing session.
pub struct FrostPreprocess<C: Ciphersuite> {
    session_id: SessionId,
    me: PartyIndex,
    signers: Vec<PartyIndex>,
    count: usize,
    key_package: KeyPackage<C>,
    nonces: Option<Vec<SigningNonces<C>>>,
    commitments: BTreeMap<PartyIndex, Vec<SigningCommitments<C>>>,
}

impl<C: Ciphersuite> FrostPreprocess<C> {
    /// A session for `me` among `signers` (at least the threshold) making `count` nonce pairs
    /// (1..=[`MAX_PREPROCESS_COUNT`]). The key package only hedges the nonces' randomness
    /// (RFC 9591 `nonce_generate`); the nonces fit any key the signers later sign for.
    pub fn new(
        session_id: SessionId,
        me: PartyIndex,
        signers: &[PartyIndex],
        key_package: KeyPackage<C>,
        count: usize,
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
        if count == 0 || count > MAX_PREPROCESS_COUNT {
            return Err(SessionError::Bug(format!(
                "{count} nonce pairs is outside 1..={MAX_PREPROCESS_COUNT}"
            )));
        }
        Ok(FrostPreprocess {
            session_id,
            me,
            signers,
            count,
            key_package,
            nonces: None,
            commitments: BTreeMap::new(),
        })
    }

    fn try_finish(&mut self) -> Result<Step<Preprocessed<C>>, SessionError> {
        if self.commitments.len() < self.signers.len() {
            return Ok(Step::Continue(Vec::new()));
        }
        let nonces = self
            .nonces
            .take()
            .ok_or_else(|| SessionError::Bug("session already finished".into()))?;
        Ok(Step::Done(
            Preprocessed {
                nonces,
                commitments: std::mem::take(&mut self.commitments),
            },
            Vec::new(),
        ))
    }
}

impl<C: Ciphersuite> Session for FrostPreprocess<C> {
    type Output = Preprocessed<C>;

    fn start<R: RngCore + CryptoRng>(
        &mut self,
        rng: &mut R,
    ) -> Result<Vec<Outgoing>, SessionError> {
        if self.nonces.is_some() || self.commitments.contains_key(&self.me) {
            return Err(SessionError::Bug("session already started".into()));
        }
        let (nonces, commitments): (Vec<_>, Vec<_>) = (0..self.count)
            .map(|_| round1::commit(self.key_package.signing_share(), rng))
            .unzip();
        self.nonces = Some(nonces);
        self.commitments.insert(self.me, commitments.clone());
        Ok(vec![Envelope::outgoing(
            self.session_id,
            ROUND_COMMITMENTS,
            self.me,
            commitments,
            Recipient::All,
        )?])
    }

    fn handle<R: RngCore + CryptoRng>(
        &mut self,
        from: PartyIndex,
        bytes: &[u8],
        _rng: &mut R,
    ) -> Result<Step<Preprocessed<C>>, SessionError> {
        let reject = |reason: String| SessionError::Rejected { from, reason };
        if from == self.me || !self.signers.contains(&from) {
            return Err(reject(
                "sender is not another signer of this session".into(),
            ));
        }
        if self.nonces.is_none() {
            return Err(SessionError::Bug(
                "handle called before start or after the end".into(),
            ));
        }
        let env: Envelope<Vec<SigningCommitments<C>>> =
            Envelope::open(bytes, from, &self.session_id, |r| r == ROUND_COMMITMENTS)?;
        if env.body.len() != self.count {
            return Err(reject(format!(
                "{} commitments where {} were agreed",
                env.body.len(),
                self.count
            )));
        }
        if self.commitments.contains_key(&from) {
            return Err(reject("duplicate commitments (replay)".into()));
        }
        self.commitments.insert(from, env.body);
        self.try_finish()
    }
}
