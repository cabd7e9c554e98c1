//! What the replicated log carries: a [`LogCommand`] (a user's signed command or a node's
//! signed report, stamped with the proposing leader's clock), and the bound on how far that
//! stamp may be from a node's own clock.

use crate::command::SignedCommand;
use crate::passkey::PasskeyDecision;
use crate::report::SignedReport;
use serde::{Deserialize, Serialize};
use std::fmt;

/// Furthest a log timestamp may be from a node's own clock, in ms (both directions), for a
/// follower to accept the entry (ahead only) and for a signer to act on a spend reservation.
///
/// Why 5 minutes: it is far above the skew of NTP-synchronised hosts (milliseconds) and above
/// the time a healthy attempt takes to sign (seconds; retries add idle timeouts of 15–30 s), and
/// it bounds what a leader with a wrong clock can do to a spend window: shift it by at most
/// this much, 0.35 % of a daily window.
pub const MAX_CLOCK_SKEW_MS: u64 = 5 * 60 * 1000;

/// Most user commands one [`Proposal::Users`] entry may carry (decision 0035). A batch of none
/// or more changes nothing.
pub const MAX_BATCHED_COMMANDS: usize = 64;

/// What is proposed: a user's signed command or a node's signed report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Proposal {
    /// A user's signed command.
    User(SignedCommand),
    /// A node's signed report (DKG result, signature, failure).
    Node(SignedReport),
    /// A member's passkey decision on a request (the assertion authenticates it).
    Passkey(PasskeyDecision),
    /// Several users' signed commands proposed together by the leader (group commit,
    /// decision 0035): each is verified and applied on its own, in order, exactly as if it were
    /// its own `User` entry, and only kinds for which that holds may be batched
    /// ([`crate::command::Action::batchable`]); anything else in a batch is refused on its own.
    Users(Vec<SignedCommand>),
}

/// A log entry's application payload, stamped by the leader that proposed it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogCommand {
    /// Leader's wall clock at proposal (ms since the Unix epoch). `apply` uses this (made
    /// monotonic), never its own clock.
    pub proposed_at_ms: u64,
    /// The proposal.
    pub proposal: Proposal,
}

impl fmt::Display for LogCommand {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.proposal {
            Proposal::User(c) => write!(f, "command by {} at {}", c.signer, self.proposed_at_ms),
            Proposal::Passkey(d) => write!(
                f,
                "passkey {} of {} at {}",
                d.decision.name(),
                d.request_id,
                self.proposed_at_ms
            ),
            Proposal::Node(r) => {
                write!(f, "report by node {} at {}", r.node_id, self.proposed_at_ms)
            }
            Proposal::Users(cs) => write!(f, "{} commands at {}", cs.len(), self.proposed_at_ms),
        }
    }
}
