//! Messages carried by the `/mpc-node/raft/1` request-response protocol.

use mpc_consensus::rpc::{RaftRpc, RaftRpcReply};
use mpc_custody::entry::Proposal;
use mpc_custody::state::CommandOutcome;
use serde::{Deserialize, Serialize};

/// A request from one node to another.
#[derive(Debug, Serialize, Deserialize)]
pub enum PeerRequest {
    /// A Raft RPC.
    Raft(RaftRpc),
    /// A client command or node report forwarded to the node believed to be leader.
    Write(Proposal),
    /// Frames of the sender's Noise channel carrying threshold-session messages.
    Session(SessionFrame),
    /// Ask the leader for a read index (linearizable reads on followers).
    ReadIndex,
}

/// The answer to a [`PeerRequest`].
#[derive(Debug, Serialize, Deserialize)]
pub enum PeerResponse {
    /// Answer to a Raft RPC.
    Raft(RaftRpcReply),
    /// Answer to a forwarded write: the committed outcome, or why it was not committed.
    Write(Result<CommandOutcome, ForwardError>),
    /// Answer to a read-index request: the log index the reader must have applied.
    ReadIndex(Result<u64, ForwardError>),
    /// Answer to session frames: the handshake reply for a `Hello`, nothing for data.
    Session(Result<Option<Vec<u8>>, String>),
}

/// What travels on this node's Noise KK channels to a peer: a few long-lived channels ("lanes")
/// per sender → receiver pair carry the messages of every threshold session between them; a
/// session always uses the same lane.
#[derive(Debug, Serialize, Deserialize)]
pub enum SessionFrame {
    /// First Noise KK handshake message of the sender's channel on `lane` to the receiver (it
    /// replaces the sender's earlier channel on that lane there); the answer carries the second.
    Hello {
        /// Which of the sender's channels.
        lane: u8,
        /// Handshake message 1.
        hello: Vec<u8>,
    },
    /// Transport frames of the sender's channel on `lane`, in order: parts of session messages,
    /// each message tagged with its session id inside the encryption.
    Data {
        /// Which of the sender's channels.
        lane: u8,
        /// Noise transport frames.
        frames: Vec<Vec<u8>>,
    },
}

/// Why a forwarded request was not served.
#[derive(Debug, Clone, Serialize, Deserialize, thiserror::Error)]
pub enum ForwardError {
    /// The receiver is not the leader (it names the leader it knows, if any).
    #[error("not the leader (leader is {0:?})")]
    NotLeader(Option<u64>),
    /// The command failed local verification on the receiver.
    #[error("invalid command: {0}")]
    Invalid(String),
    /// Raft failed (shutting down, storage error).
    #[error("raft error: {0}")]
    Raft(String),
}
