//! The one shape every threshold session has: messages in, messages / output / error out.
//!
//! A session is a plain struct. [`start`](Session::start) produces the first messages;
//! [`handle`](Session::handle) takes one message from an authenticated sender and returns a
//! [`Step`]. No I/O, no clock; randomness is a parameter. The driver (the node) carries the
//! [`Outgoing`] bytes over authenticated, encrypted point-to-point channels.
//!
//! Every message is an [`Envelope`] carrying the session id, the round and the sender; a message
//! whose session id, round or sender is wrong, or that repeats one already received, is rejected
//! with [`SessionError::Rejected`] and leaves the session unchanged.

use crate::limits::MAX_SESSION_MESSAGE_BYTES;
use rand_core::{CryptoRng, RngCore};
use serde::{de::DeserializeOwned, Deserialize, Serialize};
use std::fmt;

/// 1-based index of a party in a committee (matches the node's position in the signer set).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct PartyIndex(pub u16);

impl fmt::Display for PartyIndex {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "party {}", self.0)
    }
}

/// A session id: 32 bytes, unique per session (the node derives it from the Raft log).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct SessionId(pub [u8; 32]);

/// Where an outgoing message goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Recipient {
    /// Every other party of the session (sent point to point to each).
    All,
    /// One party.
    One(PartyIndex),
}

/// A message to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outgoing {
    /// Destination.
    pub to: Recipient,
    /// The encoded [`Envelope`].
    pub bytes: Vec<u8>,
}

/// What `handle` produced.
#[derive(Debug)]
pub enum Step<O> {
    /// Messages to send; the session is waiting for more input.
    Continue(Vec<Outgoing>),
    /// The session finished with this output (and possibly last messages to send).
    Done(O, Vec<Outgoing>),
}

/// Session failures, in the three kinds of the house style.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SessionError {
    /// A single message was refused (wrong session, round or sender; replay; malformed). The
    /// session is unchanged and can continue.
    #[error("message from {from} rejected: {reason}")]
    Rejected {
        /// Who sent it (as authenticated by the channel).
        from: PartyIndex,
        /// Why.
        reason: String,
    },
    /// The protocol cannot complete; `culprits` are the parties proven to have misbehaved (empty
    /// when the protocol cannot attribute the fault).
    #[error("session aborted: {reason} (culprits: {culprits:?})")]
    Abort {
        /// Misbehaving parties, if identifiable.
        culprits: Vec<PartyIndex>,
        /// What went wrong.
        reason: String,
    },
    /// A local invariant failed (a bug). Never sent to peers.
    #[error("internal error: {0}")]
    Bug(String),
}

/// A threshold session.
pub trait Session {
    /// What the session produces.
    type Output;
    /// Produces the first messages.
    fn start<R: RngCore + CryptoRng>(&mut self, rng: &mut R)
        -> Result<Vec<Outgoing>, SessionError>;
    /// Handles one message from `from` (the sender authenticated by the channel).
    fn handle<R: RngCore + CryptoRng>(
        &mut self,
        from: PartyIndex,
        bytes: &[u8],
        rng: &mut R,
    ) -> Result<Step<Self::Output>, SessionError>;

    /// A short name of the session's kind, for metrics and logs: the type's own name
    /// (`FrostSign`), unless the session says better.
    fn kind(&self) -> &'static str {
        short_type_name(std::any::type_name::<Self>())
    }
}

/// `a::b::Name<T>` → `Name`.
pub fn short_type_name(full: &'static str) -> &'static str {
    let base = full.split('<').next().unwrap_or(full);
    base.rsplit("::").next().unwrap_or(base)
}

/// The wire form of every session message.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Envelope<B> {
    /// Session this message belongs to.
    pub session_id: SessionId,
    /// Protocol round (scheme-specific numbering).
    pub round: u16,
    /// Sender.
    pub sender: PartyIndex,
    /// Round payload.
    pub body: B,
}

impl<B: Serialize + DeserializeOwned> Envelope<B> {
    /// Encodes the envelope.
    pub fn encode(&self) -> Result<Vec<u8>, SessionError> {
        crate::encode(self).map_err(|e| SessionError::Bug(e.to_string()))
    }

    /// The message `body` of `round` from `sender` in session `session_id`, encoded for `to`.
    pub fn outgoing(
        session_id: SessionId,
        round: u16,
        sender: PartyIndex,
        body: B,
        to: Recipient,
    ) -> Result<Outgoing, SessionError> {
        let bytes = Envelope {
            session_id,
            round,
            sender,
            body,
        }
        .encode()?;
        Ok(Outgoing { to, bytes })
    }

    /// Decodes and checks session id, sender and round against what the session expects.
    pub fn open(
        bytes: &[u8],
        from: PartyIndex,
        session_id: &SessionId,
        expected_round: impl Fn(u16) -> bool,
    ) -> Result<Self, SessionError> {
        let reject = |reason: String| SessionError::Rejected { from, reason };
        let env: Envelope<B> =
            crate::decode(bytes, MAX_SESSION_MESSAGE_BYTES).map_err(|e| reject(e.to_string()))?;
        if env.session_id != *session_id {
            return Err(reject("message belongs to another session".into()));
        }
        if env.sender != from {
            return Err(reject(format!(
                "envelope names {} but the channel authenticated {from}",
                env.sender
            )));
        }
        if !expected_round(env.round) {
            return Err(reject(format!("unexpected round {}", env.round)));
        }
        Ok(env)
    }
}

#[cfg(test)]
mod kind_tests {
    use super::short_type_name;

    #[test]
    fn session_kinds_are_short_type_names() {
        assert_eq!(
            short_type_name("mpc_protocol::frost::sign::FrostSign<frost_ed25519::Ed25519Sha512>"),
            "FrostSign"
        );
        assert_eq!(short_type_name("Plain"), "Plain");
    }
}
