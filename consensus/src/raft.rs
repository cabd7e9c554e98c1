//! openraft type configuration and the values carried in the replicated log.

use crate::command::SignedCommand;
use crate::custody::SignedReport;
use crate::state::CommandOutcome;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::io::Cursor;

/// Raft node id. Node ids come from the genesis document.
pub type NodeId = u64;

/// What the Raft membership knows about a node.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PeerNode {
    /// libp2p peer id (base58).
    pub peer_id: String,
    /// libp2p multiaddress.
    pub p2p_addr: String,
}

impl fmt::Display for PeerNode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}@{}", self.peer_id, self.p2p_addr)
    }
}

/// What is proposed: a user's signed command or a node's signed report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Proposal {
    /// A user's signed command.
    User(SignedCommand),
    /// A node's signed report (DKG result, signature, failure).
    Node(SignedReport),
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
            Proposal::Node(r) => {
                write!(f, "report by node {} at {}", r.node_id, self.proposed_at_ms)
            }
        }
    }
}

openraft::declare_raft_types!(
    /// Type configuration of the custody Raft group.
    pub TypeConfig:
        D = LogCommand,
        R = CommandOutcome,
        NodeId = NodeId,
        Node = PeerNode,
        Entry = openraft::Entry<TypeConfig>,
        SnapshotData = Cursor<Vec<u8>>,
        AsyncRuntime = openraft::TokioRuntime,
);

/// The Raft handle type used throughout.
pub type Raft = openraft::Raft<TypeConfig>;
