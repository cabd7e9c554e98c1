//! Handing public data to a party that has none, without trusting any one sender: each of the
//! `senders` sends its copy of the same public bytes (e.g. a key's public shares) to the
//! `receiver`, which outputs them only when **every** sender sent byte-identical bytes. One
//! honest sender is enough to turn a lie into an abort; nobody is blamed (the receiver cannot
//! tell which copy is the true one).
//!
//! One round. Senders send their bytes; the receiver sends each sender an empty
//! acknowledgement, which ends the sender's session (so no party waits for a message that is
//! never sent).

use crate::session::{
    Envelope, Outgoing, PartyIndex, Recipient, Session, SessionError, SessionId, Step,
};
use rand_core::{CryptoRng, RngCore};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

const ROUND: u16 = 1;

#[derive(Serialize, Deserialize)]
enum Message {
    /// A sender's copy.
    Copy(Vec<u8>),
    /// The receiver's acknowledgement.
    Ack,
}

/// One party's session.
pub struct AgreePublic {
    session_id: SessionId,
    me: PartyIndex,
    senders: Vec<PartyIndex>,
    receiver: PartyIndex,
    /// A sender's copy (`None` for the receiver).
    mine: Option<Vec<u8>>,
    copies: BTreeMap<PartyIndex, Vec<u8>>,
    started: bool,
    finished: bool,
}

impl AgreePublic {
    /// A session for `me`: one of `senders` (with `Some(bytes)`) or the `receiver` (with
    /// `None`).
    pub fn new(
        session_id: SessionId,
        me: PartyIndex,
        senders: &[PartyIndex],
        receiver: PartyIndex,
        mine: Option<Vec<u8>>,
    ) -> Result<Self, SessionError> {
        let mut senders = senders.to_vec();
        senders.sort();
        senders.dedup();
        if senders.is_empty() || senders.contains(&receiver) {
            return Err(SessionError::Bug(
                "public data needs senders other than its receiver".into(),
            ));
        }
        match (&mine, senders.contains(&me), me == receiver) {
            (Some(_), true, false) | (None, false, true) => {}
            _ => {
                return Err(SessionError::Bug(format!(
                    "{me} is neither a sender with data nor the receiver"
                )))
            }
        }
        Ok(AgreePublic {
            session_id,
            me,
            senders,
            receiver,
            mine,
            copies: BTreeMap::new(),
            started: false,
            finished: false,
        })
    }

    fn envelope(&self, body: Message, to: PartyIndex) -> Result<Outgoing, SessionError> {
        Envelope::outgoing(self.session_id, ROUND, self.me, body, Recipient::One(to))
    }
}

impl Session for AgreePublic {
    /// The agreed bytes for the receiver; `None` for a sender.
    type Output = Option<Vec<u8>>;

    fn start<R: RngCore + CryptoRng>(
        &mut self,
        _rng: &mut R,
    ) -> Result<Vec<Outgoing>, SessionError> {
        if self.started {
            return Err(SessionError::Bug("session started twice".into()));
        }
        self.started = true;
        match &self.mine {
            Some(bytes) => Ok(vec![
                self.envelope(Message::Copy(bytes.clone()), self.receiver)?
            ]),
            None => self
                .senders
                .iter()
                .map(|s| self.envelope(Message::Ack, *s))
                .collect(),
        }
    }

    fn handle<R: RngCore + CryptoRng>(
        &mut self,
        from: PartyIndex,
        bytes: &[u8],
        _rng: &mut R,
    ) -> Result<Step<Self::Output>, SessionError> {
        let reject = |reason: &str| SessionError::Rejected {
            from,
            reason: reason.into(),
        };
        if !self.started || self.finished {
            return Err(reject("the session is not running"));
        }
        let env: Envelope<Message> = Envelope::open(bytes, from, &self.session_id, |r| r == ROUND)?;
        match (env.body, self.mine.is_some()) {
            (Message::Ack, true) if from == self.receiver => {
                self.finished = true;
                Ok(Step::Done(None, Vec::new()))
            }
            (Message::Copy(copy), false) if self.senders.contains(&from) => {
                if self.copies.contains_key(&from) {
                    return Err(reject("a second copy"));
                }
                self.copies.insert(from, copy);
                if self.copies.len() < self.senders.len() {
                    return Ok(Step::Continue(Vec::new()));
                }
                self.finished = true;
                let mut all = self.copies.values();
                let first = all.next().cloned().unwrap_or_default();
                if all.any(|c| *c != first) {
                    return Err(SessionError::Abort {
                        culprits: Vec::new(),
                        reason: "the senders' copies of the public data differ".into(),
                    });
                }
                Ok(Step::Done(Some(first), Vec::new()))
            }
            _ => Err(reject(
                "a message this party does not expect from that sender",
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use rand_chacha::rand_core::SeedableRng;
    use rand_chacha::ChaCha20Rng;

    fn run(copies: [&[u8]; 2]) -> Result<Option<Vec<u8>>, SessionError> {
        let mut rng = ChaCha20Rng::seed_from_u64(7);
        let sid = SessionId([3; 32]);
        let (a, b, r) = (PartyIndex(1), PartyIndex(2), PartyIndex(3));
        let mut sa = AgreePublic::new(sid, a, &[a, b], r, Some(copies[0].to_vec())).unwrap();
        let mut sb = AgreePublic::new(sid, b, &[a, b], r, Some(copies[1].to_vec())).unwrap();
        let mut sr = AgreePublic::new(sid, r, &[a, b], r, None).unwrap();
        let ma = sa.start(&mut rng).unwrap();
        let mb = sb.start(&mut rng).unwrap();
        let acks = sr.start(&mut rng).unwrap();
        assert_eq!(acks.len(), 2);
        assert!(matches!(
            sa.handle(r, &acks[0].bytes, &mut rng).unwrap(),
            Step::Done(None, _)
        ));
        // An ack sent to a cannot end b's session as if from a sender.
        assert!(sb.handle(a, &ma[0].bytes, &mut rng).is_err());
        assert!(matches!(
            sr.handle(a, &ma[0].bytes, &mut rng)?,
            Step::Continue(_)
        ));
        assert!(sr.handle(a, &ma[0].bytes, &mut rng).is_err());
        match sr.handle(b, &mb[0].bytes, &mut rng)? {
            Step::Done(out, _) => Ok(out),
            Step::Continue(_) => panic!("the receiver has every copy"),
        }
    }

    #[test]
    fn the_receiver_outputs_the_bytes_every_sender_sent() {
        assert_eq!(run([b"pk", b"pk"]).unwrap(), Some(b"pk".to_vec()));
    }

    #[test]
    fn one_lying_sender_makes_the_receiver_abort() {
        let e = run([b"pk", b"forged"]).unwrap_err();
        assert!(matches!(e, SessionError::Abort { .. }), "{e}");
    }
}
