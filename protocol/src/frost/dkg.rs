//! FROST distributed key generation and refresh with an echo broadcast of round 1.
//!
//! Rounds (our numbering):
//! 1. each party sends its round-1 package (coefficient commitments + proof of knowledge,
//!    RFC 9591 appendix C, `dkg::part1`) to every other party;
//! 2. once it has all n−1 packages, each party sends every other party the hash of the complete
//!    round-1 view (session id and every party's package). If any echo differs from its own hash,
//!    some party equivocated: every honest party aborts, and no secret share has been sent yet;
//! 3. after all echoes match, each party verifies the proofs (`part2`, culprits named) and sends
//!    each other party its secret share; with all shares it finishes (`part3`, culprits named).
//!
//! Refresh (`DkgMode::Refresh`) runs the same rounds with frost-core's `refresh_dkg_*`: the group
//! key stays, the shares change, the threshold cannot change.

use super::{abort, identifier};
use crate::domain;
use crate::session::{
    Envelope, Outgoing, PartyIndex, Recipient, Session, SessionError, SessionId, Step,
};
use frost_core::keys::dkg::{self, round1, round2};
use frost_core::keys::{KeyPackage, PublicKeyPackage};
use frost_core::{Ciphersuite, Identifier};
use rand_core::{CryptoRng, RngCore};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::fmt;

const ROUND_COMMIT: u16 = 1;
const ROUND_ECHO: u16 = 2;
const ROUND_SHARE: u16 = 3;

/// Fresh key generation, or refresh of an existing key.
pub enum DkgMode<C: Ciphersuite> {
    /// New key.
    Fresh,
    /// New shares of the key in these packages (same threshold).
    Refresh {
        /// This party's current key package.
        key_package: Box<KeyPackage<C>>,
        /// The current public key package.
        public_key_package: Box<PublicKeyPackage<C>>,
    },
}

/// The result: this party's key package (secret) and the public key package (shared).
pub struct DkgOutput<C: Ciphersuite> {
    /// Secret share and its verifying data. Never logged.
    pub key_package: KeyPackage<C>,
    /// Group key and every party's verifying share.
    pub public_key_package: PublicKeyPackage<C>,
}

impl<C: Ciphersuite> fmt::Debug for DkgOutput<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DkgOutput")
            .field("key_package", &"<redacted>")
            .field(
                "group_key",
                &self
                    .public_key_package
                    .verifying_key()
                    .serialize()
                    .ok()
                    .map(hex::encode),
            )
            .finish()
    }
}

/// Round payloads.
#[derive(Serialize, Deserialize)]
#[serde(bound = "C: Ciphersuite")]
pub enum DkgMessage<C: Ciphersuite> {
    /// Round 1: commitments and proof of knowledge.
    Commit(round1::Package<C>),
    /// Round 2: hash of the whole round-1 view.
    Echo([u8; 32]),
    /// Round 3: the secret share for the recipient.
    Share(round2::Package<C>),
}

enum State<C: Ciphersuite> {
    Init,
    AwaitCommits(round1::SecretPackage<C>),
    AwaitEchoes(round1::SecretPackage<C>),
    AwaitShares(round2::SecretPackage<C>),
    Finished,
}

/// One party's DKG (or refresh) session.
pub struct FrostDkg<C: Ciphersuite> {
    session_id: SessionId,
    me: PartyIndex,
    parties: Vec<PartyIndex>,
    threshold: u16,
    mode: DkgMode<C>,
    state: State<C>,
    commits: BTreeMap<PartyIndex, round1::Package<C>>,
    echoes: BTreeMap<PartyIndex, [u8; 32]>,
    shares: BTreeMap<PartyIndex, round2::Package<C>>,
    my_digest: Option<[u8; 32]>,
    own_commit: Option<round1::Package<C>>,
}

impl<C: Ciphersuite> FrostDkg<C> {
    /// A session for party `me` among `parties` (which must include `me`) with threshold `t`.
    pub fn new(
        session_id: SessionId,
        me: PartyIndex,
        parties: &[PartyIndex],
        threshold: u16,
        mode: DkgMode<C>,
    ) -> Result<Self, SessionError> {
        let mut parties = parties.to_vec();
        parties.sort();
        parties.dedup();
        if !parties.contains(&me) {
            return Err(SessionError::Bug(format!(
                "{me} is not a party of the session"
            )));
        }
        if threshold < 2 || usize::from(threshold) > parties.len() {
            return Err(SessionError::Bug(format!(
                "threshold {threshold} is not within 2..={}",
                parties.len()
            )));
        }
        Ok(FrostDkg {
            session_id,
            me,
            parties,
            threshold,
            mode,
            state: State::Init,
            commits: BTreeMap::new(),
            echoes: BTreeMap::new(),
            shares: BTreeMap::new(),
            my_digest: None,
            own_commit: None,
        })
    }

    fn others(&self) -> usize {
        self.parties.len() - 1
    }

    fn envelope(
        &self,
        round: u16,
        body: DkgMessage<C>,
        to: Recipient,
    ) -> Result<Outgoing, SessionError> {
        Envelope::outgoing(self.session_id, round, self.me, body, to)
    }

    fn by_identifier<T: Clone>(
        &self,
        m: &BTreeMap<PartyIndex, T>,
    ) -> Result<BTreeMap<Identifier<C>, T>, SessionError> {
        m.iter()
            .map(|(p, v)| Ok((identifier::<C>(*p)?, v.clone())))
            .collect()
    }

    /// Refresh only: checks every received sub-share against its sender's commitment (with the
    /// zero constant term put back), naming the senders of bad ones. frost-core's
    /// `refresh_dkg_shares` makes the same check but names no culprit.
    fn check_refresh_shares(&self) -> Result<(), SessionError> {
        use frost_core::keys::{
            CoefficientCommitment, SecretShare, VerifiableSecretSharingCommitment,
        };
        use frost_core::Group;
        let me = identifier::<C>(self.me)?;
        let mut culprits = Vec::new();
        for (p, share) in &self.shares {
            let commit = self
                .commits
                .get(p)
                .ok_or_else(|| SessionError::Bug(format!("no commitment from {p}")))?;
            let mut coefficients = vec![CoefficientCommitment::new(C::Group::identity())];
            coefficients.extend_from_slice(commit.commitment().coefficients());
            let vss = VerifiableSecretSharingCommitment::new(coefficients);
            if SecretShare::new(me, *share.signing_share(), vss)
                .verify()
                .is_err()
            {
                culprits.push(*p);
            }
        }
        if culprits.is_empty() {
            return Ok(());
        }
        Err(SessionError::Abort {
            reason: format!(
                "verifying refresh sub-shares: {} sent a sub-share that does not match its commitment",
                culprits.iter().map(|p| p.to_string()).collect::<Vec<_>>().join(", ")
            ),
            culprits,
        })
    }

    /// Hash of the complete round-1 view: session id, then every party's package in order.
    fn view_digest(&self, own: &round1::Package<C>) -> Result<[u8; 32], SessionError> {
        let mut h = Sha256::new();
        h.update(domain::FROST_DKG_ECHO);
        h.update(self.session_id.0);
        for p in &self.parties {
            let pkg = if *p == self.me {
                own
            } else {
                self.commits
                    .get(p)
                    .ok_or_else(|| SessionError::Bug("missing commit".into()))?
            };
            let bytes = crate::encode(pkg).map_err(|e| SessionError::Bug(e.to_string()))?;
            h.update(p.0.to_be_bytes());
            h.update((bytes.len() as u64).to_be_bytes());
            h.update(&bytes);
        }
        Ok(h.finalize().into())
    }

    fn advance(&mut self) -> Result<Step<DkgOutput<C>>, SessionError> {
        let mut out = Vec::new();
        loop {
            match std::mem::replace(&mut self.state, State::Finished) {
                State::AwaitCommits(secret) if self.commits.len() == self.others() => {
                    let own = self
                        .own_commit
                        .clone()
                        .ok_or_else(|| SessionError::Bug("no own commitment".into()))?;
                    let digest = self.view_digest(&own)?;
                    self.my_digest = Some(digest);
                    out.push(self.envelope(
                        ROUND_ECHO,
                        DkgMessage::Echo(digest),
                        Recipient::All,
                    )?);
                    self.state = State::AwaitEchoes(secret);
                }
                State::AwaitEchoes(secret) if self.echoes.len() == self.others() => {
                    let mine = self
                        .my_digest
                        .ok_or_else(|| SessionError::Bug("no digest".into()))?;
                    if self.echoes.values().any(|d| *d != mine) {
                        return Err(SessionError::Abort {
                            culprits: Vec::new(),
                            reason: "round-1 broadcast was inconsistent: some party sent different commitments to different peers".into(),
                        });
                    }
                    let r1 = self.by_identifier(&self.commits)?;
                    let result = match self.mode {
                        DkgMode::Fresh => dkg::part2(secret, &r1),
                        DkgMode::Refresh { .. } => {
                            frost_core::keys::refresh::refresh_dkg_part2(secret, &r1)
                        }
                    };
                    let (secret2, packages) =
                        result.map_err(|e| abort(e, &self.parties, "verifying round-1 proofs"))?;
                    for p in self.parties.clone() {
                        if p == self.me {
                            continue;
                        }
                        let pkg = packages
                            .get(&identifier::<C>(p)?)
                            .cloned()
                            .ok_or_else(|| SessionError::Bug(format!("no share for {p}")))?;
                        out.push(self.envelope(
                            ROUND_SHARE,
                            DkgMessage::Share(pkg),
                            Recipient::One(p),
                        )?);
                    }
                    self.state = State::AwaitShares(secret2);
                }
                State::AwaitShares(secret2) if self.shares.len() == self.others() => {
                    let r1 = self.by_identifier(&self.commits)?;
                    let r2 = self.by_identifier(&self.shares)?;
                    if matches!(self.mode, DkgMode::Refresh { .. }) {
                        self.check_refresh_shares()?;
                    }
                    let result = match &self.mode {
                        DkgMode::Fresh => dkg::part3(&secret2, &r1, &r2),
                        DkgMode::Refresh {
                            key_package,
                            public_key_package,
                        } => frost_core::keys::refresh::refresh_dkg_shares(
                            &secret2,
                            &r1,
                            &r2,
                            (**public_key_package).clone(),
                            (**key_package).clone(),
                        ),
                    };
                    let (key_package, public_key_package) =
                        result.map_err(|e| abort(e, &self.parties, "verifying secret shares"))?;
                    self.state = State::Finished;
                    return Ok(Step::Done(
                        DkgOutput {
                            key_package,
                            public_key_package,
                        },
                        out,
                    ));
                }
                other => {
                    self.state = other;
                    return Ok(Step::Continue(out));
                }
            }
        }
    }
}

impl<C: Ciphersuite> Session for FrostDkg<C> {
    type Output = DkgOutput<C>;

    fn start<R: RngCore + CryptoRng>(
        &mut self,
        rng: &mut R,
    ) -> Result<Vec<Outgoing>, SessionError> {
        if !matches!(self.state, State::Init) {
            return Err(SessionError::Bug("session already started".into()));
        }
        let id = identifier::<C>(self.me)?;
        let n = self.parties.len() as u16;
        let result = match self.mode {
            DkgMode::Fresh => dkg::part1(id, n, self.threshold, &mut *rng),
            DkgMode::Refresh { .. } => {
                frost_core::keys::refresh::refresh_dkg_part1(id, n, self.threshold, &mut *rng)
            }
        };
        let (secret, package) = result.map_err(|e| SessionError::Bug(e.to_string()))?;
        self.own_commit = Some(package.clone());
        let msg = self.envelope(ROUND_COMMIT, DkgMessage::Commit(package), Recipient::All)?;
        self.state = State::AwaitCommits(secret);
        match self.advance()? {
            Step::Continue(mut more) => {
                let mut all = vec![msg];
                all.append(&mut more);
                Ok(all)
            }
            Step::Done(..) => Err(SessionError::Bug("finished during start".into())),
        }
    }

    fn handle<R: RngCore + CryptoRng>(
        &mut self,
        from: PartyIndex,
        bytes: &[u8],
        _rng: &mut R,
    ) -> Result<Step<DkgOutput<C>>, SessionError> {
        let reject = |reason: &str| SessionError::Rejected {
            from,
            reason: reason.to_string(),
        };
        if from == self.me || !self.parties.contains(&from) {
            return Err(reject("sender is not another party of this session"));
        }
        if matches!(self.state, State::Finished) {
            return Err(reject("session already finished"));
        }
        let env: Envelope<DkgMessage<C>> = Envelope::open(bytes, from, &self.session_id, |r| {
            (ROUND_COMMIT..=ROUND_SHARE).contains(&r)
        })?;
        match (env.round, env.body) {
            (ROUND_COMMIT, DkgMessage::Commit(p)) => {
                if self.commits.contains_key(&from) {
                    return Err(reject("duplicate round-1 message (replay)"));
                }
                self.commits.insert(from, p);
            }
            (ROUND_ECHO, DkgMessage::Echo(d)) => {
                if self.echoes.contains_key(&from) {
                    return Err(reject("duplicate echo (replay)"));
                }
                self.echoes.insert(from, d);
            }
            (ROUND_SHARE, DkgMessage::Share(s)) => {
                if self.shares.contains_key(&from) {
                    return Err(reject("duplicate share (replay)"));
                }
                self.shares.insert(from, s);
            }
            _ => return Err(reject("round number does not match the message")),
        }
        self.advance()
    }
}
