//! Messages carried by the `/mpc-node/raft/1` request-response protocol.

use mpc_consensus::command::SignedCommand;
use mpc_consensus::network::{RaftRpc, RaftRpcReply};
use mpc_consensus::state::CommandOutcome;
use serde::{Deserialize, Serialize};

/// A request from one node to another.
#[derive(Debug, Serialize, Deserialize)]
pub enum PeerRequest {
    /// A Raft RPC.
    Raft(RaftRpc),
    /// A client write forwarded to the node believed to be leader.
    Write(SignedCommand),
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
