//! Several FROST signatures in one session (issue 15: "sign many messages per session, one nonce
//! pair per message").
//!
//! Each item is one message with its own key (a wallet's tweaked key package), its own
//! pre-published commitments and this party's nonces for it (taken from the nonce pool, hence
//! already consumed). Every item has the same signer set. Round 1: each signer sends one message
//! holding its signature share for every item it signs. With every other signer's message in,
//! each signer aggregates and verifies every item on its own: an item fails alone — a share
//! missing (the peer did not sign that item) or invalid (the sender is named) — and the others
//! still sign. Items are named by a 32-byte id both sides derive from the log, so a peer that
//! signs fewer or other items than this party cannot make a share count for the wrong message.

use super::{abort, identifier};
use crate::session::{
    Envelope, Outgoing, PartyIndex, Recipient, Session, SessionError, SessionId, Step,
};
use frost_core::keys::{KeyPackage, PublicKeyPackage};
use frost_core::round1::{SigningCommitments, SigningNonces};
use frost_core::round2::{self, SignatureShare};
use frost_core::{Ciphersuite, Signature, SigningPackage};
use rand_core::{CryptoRng, RngCore};
use std::collections::{BTreeMap, BTreeSet};

const ROUND_SHARES: u16 = 1;

/// Most items in one batch session (a peer's message naming more is refused).
pub const MAX_BATCH_ITEMS: usize = 256;

/// One message to sign in a batch.
pub struct BatchItem<C: Ciphersuite> {
    /// Names the item on both sides (derived from the log, unique within the batch).
    pub id: [u8; 32],
    /// This party's key package for the item's key.
    pub key_package: KeyPackage<C>,
    /// The item key's public key package.
    pub public_key_package: PublicKeyPackage<C>,
    /// The message.
    pub message: Vec<u8>,
    /// Every signer's commitment for this item (one entry per signer, `me` included).
    pub commitments: BTreeMap<PartyIndex, SigningCommitments<C>>,
    /// This party's nonces behind its commitment.
    pub nonces: SigningNonces<C>,
}

/// Why one item of a batch did not sign.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ItemFailure {
    /// What went wrong.
    pub reason: String,
    /// Signers whose share was invalid.
    pub culprits: Vec<PartyIndex>,
}

struct Prepared<C: Ciphersuite> {
    id: [u8; 32],
    key_package: KeyPackage<C>,
    public_key_package: PublicKeyPackage<C>,
    signing_package: SigningPackage<C>,
    nonces: Option<SigningNonces<C>>,
    own_failure: Option<String>,
}

/// One party's batch signing session.
pub struct FrostSignBatch<C: Ciphersuite> {
    session_id: SessionId,
    me: PartyIndex,
    signers: Vec<PartyIndex>,
    items: Vec<Prepared<C>>,
    /// Shares by sender, then by item id (own shares included).
    shares: BTreeMap<PartyIndex, BTreeMap<[u8; 32], SignatureShare<C>>>,
    started: bool,
    finished: bool,
}

impl<C: Ciphersuite> FrostSignBatch<C> {
    /// A session for `me` among `signers` (sorted, `me` included). Every item must hold exactly
    /// one commitment per signer, this party's nonces must be the ones behind its commitment,
    /// and item ids must be distinct; between 1 and [`MAX_BATCH_ITEMS`] items.
    pub fn new(
        session_id: SessionId,
        me: PartyIndex,
        signers: &[PartyIndex],
        items: Vec<BatchItem<C>>,
    ) -> Result<Self, SessionError> {
        let bug = |s: String| Err(SessionError::Bug(s));
        if items.is_empty() || items.len() > MAX_BATCH_ITEMS {
            return bug(format!(
                "{} items: a batch holds 1 to {MAX_BATCH_ITEMS}",
                items.len()
            ));
        }
        let signer_set: BTreeSet<PartyIndex> = signers.iter().copied().collect();
        if signer_set.len() != signers.len() || !signer_set.contains(&me) {
            return bug(format!("{me} is not one of distinct signers {signers:?}"));
        }
        let mut ids = BTreeSet::new();
        let mut prepared = Vec::with_capacity(items.len());
        for item in items {
            if !ids.insert(item.id) {
                return bug("two items of the batch have the same id".into());
            }
            if !item
                .commitments
                .keys()
                .copied()
                .eq(signer_set.iter().copied())
            {
                return bug("an item's commitments are not one per signer".into());
            }
            if signers.len() < usize::from(*item.key_package.min_signers()) {
                return bug(format!(
                    "{} signers is below the threshold {}",
                    signers.len(),
                    item.key_package.min_signers()
                ));
            }
            if item.commitments.get(&me) != Some(item.nonces.commitments()) {
                return bug("nonces do not match this party's commitment".into());
            }
            let by_id = item
                .commitments
                .iter()
                .map(|(p, c)| Ok((identifier::<C>(*p)?, *c)))
                .collect::<Result<BTreeMap<_, _>, SessionError>>()?;
            prepared.push(Prepared {
                id: item.id,
                key_package: item.key_package,
                public_key_package: item.public_key_package,
                signing_package: SigningPackage::new(by_id, &item.message),
                nonces: Some(item.nonces),
                own_failure: None,
            });
        }
        Ok(FrostSignBatch {
            session_id,
            me,
            signers: signer_set.into_iter().collect(),
            items: prepared,
            shares: BTreeMap::new(),
            started: false,
            finished: false,
        })
    }

    fn try_finish(&mut self) -> Step<Vec<Result<Signature<C>, ItemFailure>>> {
        if self.shares.len() < self.signers.len() {
            return Step::Continue(Vec::new());
        }
        self.finished = true;
        let out = self
            .items
            .iter()
            .map(|item| self.finish_item(item))
            .collect();
        Step::Done(out, Vec::new())
    }

    fn finish_item(&self, item: &Prepared<C>) -> Result<Signature<C>, ItemFailure> {
        let fail = |reason: String| ItemFailure {
            reason,
            culprits: vec![],
        };
        if let Some(reason) = &item.own_failure {
            return Err(fail(reason.clone()));
        }
        let mut by_id = BTreeMap::new();
        for p in &self.signers {
            let share = self
                .shares
                .get(p)
                .and_then(|s| s.get(&item.id))
                .ok_or_else(|| fail(format!("signer {p} sent no signature share for this item")))?;
            let id = identifier::<C>(*p).map_err(|e| fail(e.to_string()))?;
            by_id.insert(id, *share);
        }
        frost_core::aggregate_custom(
            &item.signing_package,
            &by_id,
            &item.public_key_package,
            frost_core::CheaterDetection::AllCheaters,
        )
        .map_err(
            |e| match abort(e, &self.signers, "aggregating signature shares") {
                SessionError::Abort { culprits, reason } => ItemFailure { reason, culprits },
                other => fail(other.to_string()),
            },
        )
    }
}

impl<C: Ciphersuite> Session for FrostSignBatch<C> {
    type Output = Vec<Result<Signature<C>, ItemFailure>>;

    fn start<R: RngCore + CryptoRng>(
        &mut self,
        _rng: &mut R,
    ) -> Result<Vec<Outgoing>, SessionError> {
        if self.started {
            return Err(SessionError::Bug(
                "session already started: nonces are single-use".into(),
            ));
        }
        self.started = true;
        let mut mine = BTreeMap::new();
        for item in &mut self.items {
            // The nonces leave the item here and are dropped (zeroized) after this iteration.
            let Some(nonces) = item.nonces.take() else {
                item.own_failure = Some("no nonces for this item".into());
                continue;
            };
            match round2::sign(&item.signing_package, &nonces, &item.key_package) {
                Ok(share) => {
                    mine.insert(item.id, share);
                }
                Err(e) => item.own_failure = Some(format!("computing own share: {e}")),
            }
        }
        let body: Vec<([u8; 32], SignatureShare<C>)> =
            mine.iter().map(|(id, s)| (*id, *s)).collect();
        self.shares.insert(self.me, mine);
        Ok(vec![Envelope::outgoing(
            self.session_id,
            ROUND_SHARES,
            self.me,
            body,
            Recipient::All,
        )?])
    }

    fn handle<R: RngCore + CryptoRng>(
        &mut self,
        from: PartyIndex,
        bytes: &[u8],
        _rng: &mut R,
    ) -> Result<Step<Self::Output>, SessionError> {
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
        if !self.started {
            return Err(SessionError::Bug("handle called before start".into()));
        }
        if self.shares.contains_key(&from) {
            return Err(reject("duplicate signature shares (replay)"));
        }
        let env: Envelope<Vec<([u8; 32], SignatureShare<C>)>> =
            Envelope::open(bytes, from, &self.session_id, |r| r == ROUND_SHARES)?;
        if env.body.len() > MAX_BATCH_ITEMS {
            return Err(reject("more shares than a batch may hold"));
        }
        let mut theirs = BTreeMap::new();
        for (id, share) in env.body {
            if theirs.insert(id, share).is_some() {
                return Err(reject("two shares for one item"));
            }
        }
        // Shares for items this party does not sign are kept out: they can never count.
        theirs.retain(|id, _| self.items.iter().any(|i| i.id == *id));
        self.shares.insert(from, theirs);
        Ok(self.try_finish())
    }
}
