//! Online ECDSA signing from a pool presignature: one round. Each signer issues its partial
//! signature for the digest it computed itself (consuming its [`BoundPresignature`]), sends it
//! to the other signers, and every signer combines the t partials and verifies the result
//! against the wallet key before returning it.
//!
//! A partial signature reveals nothing about the key on its own (cggmp21), but a presignature
//! used for two digests leaks the key: the caller must have removed the presignature from
//! durable storage before constructing this session (the node does, `ShareStore::take`).

use super::{combine, BoundPresignature, MessageDigest, Secp256k1};
use crate::session::{
    Envelope, Outgoing, PartyIndex, Recipient, Session, SessionError, SessionId, Step,
};
use cggmp21::generic_ec::Point;
use cggmp21::{PartialSignature, Signature};
use rand_core::{CryptoRng, RngCore};
use std::collections::BTreeMap;

const ROUND_PARTIAL: u16 = 0;

/// One signer's session.
pub struct EcdsaPresigSign {
    session_id: SessionId,
    me: PartyIndex,
    signers: Vec<PartyIndex>,
    presignature: Option<BoundPresignature>,
    key_id: String,
    path: Vec<u32>,
    digest: MessageDigest,
    public_key: Point<Secp256k1>,
    partials: BTreeMap<PartyIndex, PartialSignature<Secp256k1>>,
}

impl std::fmt::Debug for EcdsaPresigSign {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EcdsaPresigSign")
            .field("me", &self.me)
            .field("signers", &self.signers)
            .field("key_id", &self.key_id)
            .field("digest", &self.digest)
            .finish_non_exhaustive()
    }
}

impl EcdsaPresigSign {
    /// A session for `me` among `signers` (exactly the presignature's signer set) signing
    /// `digest` with key `key_id` at `path`, whose public key is `public_key` (SEC1 bytes).
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        session_id: SessionId,
        me: PartyIndex,
        signers: &[PartyIndex],
        presignature: BoundPresignature,
        key_id: &str,
        path: &[u32],
        digest: MessageDigest,
        public_key: &[u8],
    ) -> Result<Self, SessionError> {
        let mut signers = signers.to_vec();
        signers.sort();
        signers.dedup();
        if !signers.contains(&me) || signers.len() < 2 {
            return Err(SessionError::Bug("bad signer set".into()));
        }
        let public_key = Point::<Secp256k1>::from_bytes(public_key)
            .map_err(|e| SessionError::Bug(format!("wallet public key: {e}")))?;
        Ok(EcdsaPresigSign {
            session_id,
            me,
            signers,
            presignature: Some(presignature),
            key_id: key_id.to_string(),
            path: path.to_vec(),
            digest,
            public_key,
            partials: BTreeMap::new(),
        })
    }

    fn try_finish(&self) -> Result<Step<Signature<Secp256k1>>, SessionError> {
        if self.partials.len() < self.signers.len() {
            return Ok(Step::Continue(Vec::new()));
        }
        let partials: Vec<_> = self.partials.values().cloned().collect();
        match combine(&partials, &self.public_key, &self.digest) {
            Ok(sig) => Ok(Step::Done(sig, Vec::new())),
            Err(e) => Err(SessionError::Abort {
                culprits: Vec::new(),
                reason: format!("partial signatures do not combine to a valid signature: {e}"),
            }),
        }
    }
}

impl Session for EcdsaPresigSign {
    type Output = Signature<Secp256k1>;

    fn start<R: RngCore + CryptoRng>(
        &mut self,
        _rng: &mut R,
    ) -> Result<Vec<Outgoing>, SessionError> {
        let presig = self
            .presignature
            .take()
            .ok_or_else(|| SessionError::Bug("presignature already used".into()))?;
        let partial = presig
            .issue(&self.key_id, &self.path, &self.digest)
            .map_err(|e| SessionError::Bug(e.to_string()))?;
        self.partials.insert(self.me, partial.clone());
        Ok(vec![Envelope::outgoing(
            self.session_id,
            ROUND_PARTIAL,
            self.me,
            partial,
            Recipient::All,
        )?])
    }

    fn handle<R: RngCore + CryptoRng>(
        &mut self,
        from: PartyIndex,
        bytes: &[u8],
        _rng: &mut R,
    ) -> Result<Step<Signature<Secp256k1>>, SessionError> {
        if from == self.me || !self.signers.contains(&from) {
            return Err(SessionError::Rejected {
                from,
                reason: "sender is not another signer of this session".into(),
            });
        }
        let env: Envelope<PartialSignature<Secp256k1>> =
            Envelope::open(bytes, from, &self.session_id, |r| r == ROUND_PARTIAL)?;
        if self.partials.contains_key(&from) {
            return Err(SessionError::Rejected {
                from,
                reason: "duplicate partial signature (replay)".into(),
            });
        }
        self.partials.insert(from, env.body);
        if self.presignature.is_some() {
            // Not started yet: our own partial is still to come.
            return Ok(Step::Continue(Vec::new()));
        }
        self.try_finish()
    }
}
