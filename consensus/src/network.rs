//! openraft's network traits over a pluggable [`RaftTransport`].
//!
//! The node implements [`RaftTransport`] over libp2p request-response; the messages are the
//! [`RaftRpc`] / [`RaftRpcReply`] enums of [`crate::rpc`], CBOR-encoded and size-bounded by the
//! transport.

use crate::raft::{NodeId, PeerNode, TypeConfig};
use crate::rpc::{RaftRpc, RaftRpcReply};
use crate::rpc_guard::{RpcGuard, RpcRefusal};
use openraft::error::{
    InstallSnapshotError, NetworkError, RPCError, RaftError, RemoteError, Unreachable,
};
use openraft::network::{RPCOption, RaftNetwork, RaftNetworkFactory};
use openraft::raft::{
    AppendEntriesRequest, AppendEntriesResponse, InstallSnapshotRequest, InstallSnapshotResponse,
    VoteRequest, VoteResponse,
};
use std::future::Future;
use std::time::Duration;

/// Why a transport could not deliver an RPC or get its answer.
#[derive(Debug, Clone, thiserror::Error)]
pub enum TransportError {
    /// The peer is not connected or could not be dialled.
    #[error("peer unreachable: {0}")]
    Unreachable(String),
    /// The request was sent but failed (timeout, stream error, bad reply).
    #[error("network error: {0}")]
    Network(String),
}

/// Carries Raft RPCs to peers. Implemented by the node over libp2p request-response.
pub trait RaftTransport: Clone + Send + Sync + 'static {
    /// Sends `rpc` to `target` and waits at most `timeout` for the reply.
    fn send(
        &self,
        target: NodeId,
        node: &PeerNode,
        rpc: RaftRpc,
        timeout: Duration,
    ) -> impl Future<Output = Result<RaftRpcReply, TransportError>> + Send;
}

/// openraft network factory over a transport.
#[derive(Clone)]
pub struct Network<T: RaftTransport> {
    transport: T,
}

impl<T: RaftTransport> Network<T> {
    /// Wraps a transport.
    pub fn new(transport: T) -> Self {
        Network { transport }
    }
}

/// A connection to one peer, as openraft sees it.
pub struct PeerClient<T: RaftTransport> {
    transport: T,
    target: NodeId,
    node: PeerNode,
}

impl<T: RaftTransport> RaftNetworkFactory<TypeConfig> for Network<T> {
    type Network = PeerClient<T>;

    async fn new_client(&mut self, target: NodeId, node: &PeerNode) -> Self::Network {
        PeerClient {
            transport: self.transport.clone(),
            target,
            node: node.clone(),
        }
    }
}

type RpcResult<R, E> = Result<R, RPCError<NodeId, PeerNode, RaftError<NodeId, E>>>;

impl<T: RaftTransport> PeerClient<T> {
    async fn call<E: std::error::Error>(
        &self,
        rpc: RaftRpc,
        option: &RPCOption,
    ) -> RpcResult<RaftRpcReply, E> {
        self.transport
            .send(self.target, &self.node, rpc, option.hard_ttl())
            .await
            .map_err(|e| match &e {
                TransportError::Unreachable(_) => RPCError::Unreachable(Unreachable::new(&e)),
                TransportError::Network(_) => RPCError::Network(NetworkError::new(&e)),
            })
    }

    fn unexpected<E: std::error::Error>() -> RPCError<NodeId, PeerNode, RaftError<NodeId, E>> {
        let e = TransportError::Network("reply does not match the request".into());
        RPCError::Network(NetworkError::new(&e))
    }

    fn refused<E: std::error::Error>(
        why: String,
    ) -> RPCError<NodeId, PeerNode, RaftError<NodeId, E>> {
        // As unreachable, so that openraft backs off instead of retrying at once.
        let e = TransportError::Unreachable(format!("peer refused the RPC: {why}"));
        RPCError::Unreachable(Unreachable::new(&e))
    }

    fn remote<R, E: std::error::Error>(
        &self,
        r: Result<R, RaftError<NodeId, E>>,
    ) -> RpcResult<R, E> {
        r.map_err(|e| {
            RPCError::RemoteError(RemoteError::new_with_node(
                self.target,
                self.node.clone(),
                e,
            ))
        })
    }
}

impl<T: RaftTransport> RaftNetwork<TypeConfig> for PeerClient<T> {
    async fn append_entries(
        &mut self,
        rpc: AppendEntriesRequest<TypeConfig>,
        option: RPCOption,
    ) -> RpcResult<AppendEntriesResponse<NodeId>, openraft::error::Infallible> {
        match self.call(RaftRpc::AppendEntries(rpc), &option).await? {
            RaftRpcReply::AppendEntries(r) => self.remote(r),
            RaftRpcReply::Refused(why) => Err(Self::refused(why)),
            _ => Err(Self::unexpected()),
        }
    }

    async fn install_snapshot(
        &mut self,
        rpc: InstallSnapshotRequest<TypeConfig>,
        option: RPCOption,
    ) -> RpcResult<InstallSnapshotResponse<NodeId>, InstallSnapshotError> {
        match self.call(RaftRpc::InstallSnapshot(rpc), &option).await? {
            RaftRpcReply::InstallSnapshot(r) => self.remote(r),
            RaftRpcReply::Refused(why) => Err(Self::refused(why)),
            _ => Err(Self::unexpected()),
        }
    }

    async fn vote(
        &mut self,
        rpc: VoteRequest<NodeId>,
        option: RPCOption,
    ) -> RpcResult<VoteResponse<NodeId>, openraft::error::Infallible> {
        match self.call(RaftRpc::Vote(rpc), &option).await? {
            RaftRpcReply::Vote(r) => self.remote(r),
            RaftRpcReply::Refused(why) => Err(Self::refused(why)),
            _ => Err(Self::unexpected()),
        }
    }
}

/// Whether `prev` lies past the end of this node's log: an AppendEntries after it cannot append
/// anything here (Raft answers it with a conflict). A log only grows between the read and the
/// answer, so "past the end" may be stale only towards a conflict the leader can take: it probes
/// with `prev` above what it knows this node holds.
fn beyond_the_log(raft: &crate::raft::Raft, prev: Option<&openraft::LogId<NodeId>>) -> bool {
    let Some(prev) = prev else {
        return false;
    };
    let last = raft.metrics().borrow().last_log_index;
    last.is_none_or(|last| prev.index > last)
}

/// Answers an incoming [`RaftRpc`] from the authenticated node `sender` with the local Raft
/// node, after [`RpcGuard::check`]: an RPC that does not come from the role it claims is refused
/// (and never reaches Raft). Used by the node's transport.
pub async fn serve_rpc(
    raft: &crate::raft::Raft,
    guard: &RpcGuard,
    sender: NodeId,
    rpc: RaftRpc,
    now_ms: u64,
) -> RaftRpcReply {
    if let Err(why) = guard.check(sender, &rpc, now_ms) {
        if let (RpcRefusal::ForeignMembership(_), RaftRpc::AppendEntries(req)) = (&why, &rpc) {
            if beyond_the_log(raft, req.prev_log_id.as_ref()) {
                // The leader is probing where this node's log ends (openraft's binary search
                // starts mid-log for a new follower), with entries this node would not append
                // anyway. Their membership may list a node whose `node_add` signatures sit
                // earlier in the log, where the guard has not read them yet. Answer what Raft
                // itself would — a conflict — so that the leader probes lower and replays the
                // log in order (the guard then learns each change before the membership that
                // follows it). Refusing instead made the leader resend the same probe forever:
                // an added node never caught up (seen in the committee test).
                return RaftRpcReply::AppendEntries(Ok(AppendEntriesResponse::Conflict));
            }
        }
        return RaftRpcReply::Refused(why.to_string());
    }
    match rpc {
        RaftRpc::AppendEntries(r) => RaftRpcReply::AppendEntries(raft.append_entries(r).await),
        RaftRpc::Vote(r) => RaftRpcReply::Vote(raft.vote(r).await),
        // The guard refuses every snapshot; this arm only keeps the match total.
        RaftRpc::InstallSnapshot(_) => {
            RaftRpcReply::Refused(RpcRefusal::Snapshot(sender).to_string())
        }
    }
}
