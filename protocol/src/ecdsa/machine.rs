//! Adapter from a round_based sync state machine (what cggmp21 provides) to [`Session`].
//!
//! The envelope's `round` field carries the sender's message sequence number (1, 2, …, over all
//! its messages of the session): a message whose number is not above the last one received from
//! that sender is a replay and is rejected. The body records whether the message was a broadcast.

use crate::session::{
    Envelope, Outgoing, PartyIndex, Recipient, Session, SessionError, SessionId, Step,
};
use cggmp21::round_based::state_machine::{ProceedResult, StateMachine};
use cggmp21::round_based::{Incoming, MessageDestination, MessageType};
use rand_core::{CryptoRng, RngCore};
use serde::{de::DeserializeOwned, Deserialize, Serialize};
use std::collections::BTreeMap;

/// A round_based state machine whose messages can travel (serde).
pub trait Machine: StateMachine<Msg = <Self as Machine>::Wire> {
    /// The protocol message type.
    type Wire: Serialize + DeserializeOwned;
}

impl<T> Machine for T
where
    T: StateMachine,
    T::Msg: Serialize + DeserializeOwned,
{
    type Wire = T::Msg;
}

#[derive(Serialize, Deserialize)]
struct Wire<M> {
    broadcast: bool,
    msg: M,
}

/// Most `proceed` steps between two inputs before the adapter gives up (a bug guard).
const MAX_STEPS: usize = 100_000;

/// A cggmp21 protocol run as a [`Session`]. The RNG was captured when the state machine was
/// built, so the RNG parameters of `start` / `handle` are not used.
pub struct MachineSession<SM: Machine> {
    sm: SM,
    session_id: SessionId,
    me: PartyIndex,
    parties: Vec<PartyIndex>,
    next_seq: u16,
    last_seen: BTreeMap<PartyIndex, u16>,
    next_id: u64,
    started: bool,
    finished: bool,
    kind: &'static str,
}

impl<SM: Machine> MachineSession<SM> {
    pub(crate) fn new(
        sm: SM,
        session_id: SessionId,
        me: PartyIndex,
        parties: Vec<PartyIndex>,
        kind: &'static str,
    ) -> Self {
        MachineSession {
            kind,
            sm,
            session_id,
            me,
            parties,
            next_seq: 0,
            last_seen: BTreeMap::new(),
            next_id: 0,
            started: false,
            finished: false,
        }
    }

    fn wrap(
        &mut self,
        out: cggmp21::round_based::Outgoing<SM::Wire>,
    ) -> Result<Outgoing, SessionError> {
        self.next_seq = self
            .next_seq
            .checked_add(1)
            .ok_or_else(|| SessionError::Bug("too many messages in one session".into()))?;
        let (to, broadcast) = match out.recipient {
            MessageDestination::AllParties => (Recipient::All, true),
            MessageDestination::OneParty(j) => {
                let p = self.parties.get(usize::from(j)).copied().ok_or_else(|| {
                    SessionError::Bug(format!("recipient index {j} out of range"))
                })?;
                (Recipient::One(p), false)
            }
        };
        let bytes = Envelope {
            session_id: self.session_id,
            round: self.next_seq,
            sender: self.me,
            body: Wire {
                broadcast,
                msg: out.msg,
            },
        }
        .encode()?;
        Ok(Outgoing { to, bytes })
    }

    fn pump<O, E: std::fmt::Display>(&mut self) -> Result<Step<O>, SessionError>
    where
        SM: StateMachine<Output = Result<O, E>>,
    {
        let mut out = Vec::new();
        for _ in 0..MAX_STEPS {
            match self.sm.proceed() {
                ProceedResult::SendMsg(m) => out.push(self.wrap(m)?),
                ProceedResult::NeedsOneMoreMessage => return Ok(Step::Continue(out)),
                ProceedResult::Yielded => {}
                ProceedResult::Output(Ok(o)) => {
                    self.finished = true;
                    return Ok(Step::Done(o, out));
                }
                ProceedResult::Output(Err(e)) => {
                    self.finished = true;
                    // cggmp21 0.6 has no identifiable abort: no culprits.
                    return Err(SessionError::Abort {
                        culprits: Vec::new(),
                        reason: e.to_string(),
                    });
                }
                ProceedResult::Error(e) => {
                    self.finished = true;
                    return Err(SessionError::Bug(format!("state machine: {e}")));
                }
            }
        }
        Err(SessionError::Bug(
            "state machine does not make progress".into(),
        ))
    }
}

impl<SM, O, E> Session for MachineSession<SM>
where
    SM: Machine + StateMachine<Output = Result<O, E>>,
    E: std::fmt::Display,
{
    type Output = O;

    fn kind(&self) -> &'static str {
        self.kind
    }

    fn start<R: RngCore + CryptoRng>(
        &mut self,
        _rng: &mut R,
    ) -> Result<Vec<Outgoing>, SessionError> {
        if self.started {
            return Err(SessionError::Bug("session already started".into()));
        }
        self.started = true;
        match self.pump()? {
            Step::Continue(out) => Ok(out),
            Step::Done(..) => Err(SessionError::Bug("finished without any message".into())),
        }
    }

    fn handle<R: RngCore + CryptoRng>(
        &mut self,
        from: PartyIndex,
        bytes: &[u8],
        _rng: &mut R,
    ) -> Result<Step<O>, SessionError> {
        let reject = |reason: &str| SessionError::Rejected {
            from,
            reason: reason.to_string(),
        };
        if !self.started {
            return Err(SessionError::Bug("handle called before start".into()));
        }
        if self.finished {
            return Err(reject("session already finished"));
        }
        let sender = self
            .parties
            .iter()
            .position(|p| *p == from)
            .filter(|_| from != self.me)
            .ok_or_else(|| reject("sender is not another party of this session"))?
            as u16;
        let env: Envelope<Wire<SM::Wire>> =
            Envelope::open(bytes, from, &self.session_id, |r| r > 0)?;
        if env.round <= self.last_seen.get(&from).copied().unwrap_or(0) {
            return Err(reject("message sequence number already seen (replay)"));
        }
        let incoming = Incoming {
            id: self.next_id,
            sender,
            msg_type: if env.body.broadcast {
                MessageType::Broadcast
            } else {
                MessageType::P2P
            },
            msg: env.body.msg,
        };
        if self.sm.received_msg(incoming).is_err() {
            return Err(reject("the protocol did not accept this message now"));
        }
        self.next_id += 1;
        self.last_seen.insert(from, env.round);
        self.pump()
    }
}
