//! The Raft RPC messages nodes exchange: [`RaftRpc`] and its answer [`RaftRpcReply`].

use crate::raft::{NodeId, TypeConfig};
use openraft::error::{InstallSnapshotError, RaftError};
use openraft::raft::{
    AppendEntriesRequest, AppendEntriesResponse, InstallSnapshotRequest, InstallSnapshotResponse,
    VoteRequest, VoteResponse,
};
use serde::{Deserialize, Serialize};

/// A Raft RPC sent to one peer.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum RaftRpc {
    /// AppendEntries (also the heartbeat).
    AppendEntries(AppendEntriesRequest<TypeConfig>),
    /// RequestVote.
    Vote(VoteRequest<NodeId>),
    /// One chunk of a snapshot.
    InstallSnapshot(InstallSnapshotRequest<TypeConfig>),
}

/// The peer's answer to a [`RaftRpc`].
#[derive(Debug, Serialize, Deserialize)]
pub enum RaftRpcReply {
    /// The receiver refused the RPC before Raft saw it (see `rpc_guard::RpcGuard`).
    Refused(String),
    /// Answer to AppendEntries.
    AppendEntries(Result<AppendEntriesResponse<NodeId>, RaftError<NodeId>>),
    /// Answer to RequestVote.
    Vote(Result<VoteResponse<NodeId>, RaftError<NodeId>>),
    /// Answer to InstallSnapshot.
    InstallSnapshot(
        Result<InstallSnapshotResponse<NodeId>, RaftError<NodeId, InstallSnapshotError>>,
    ),
}
