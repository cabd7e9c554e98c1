//! [`RaftTransport`] over the libp2p request-response protocol.

use crate::p2p::messages::{PeerRequest, PeerResponse};
use crate::p2p::{P2pHandle, PeerTable};
use libp2p::PeerId;
use mpc_consensus::network::{RaftTransport, TransportError};
use mpc_consensus::raft::{NodeId, PeerNode};
use mpc_consensus::rpc::{RaftRpc, RaftRpcReply};
use std::time::Duration;

/// Carries Raft RPCs as [`PeerRequest::Raft`], to the peer pinned for the target node (the
/// genesis host, or its verified replacement; Raft's membership keeps the genesis entries).
#[derive(Clone)]
pub struct Libp2pTransport {
    handle: P2pHandle,
    peers: PeerTable,
}

impl Libp2pTransport {
    /// Wraps the p2p handle.
    pub fn new(handle: P2pHandle, peers: PeerTable) -> Self {
        Libp2pTransport { handle, peers }
    }
}

impl RaftTransport for Libp2pTransport {
    async fn send(
        &self,
        target: NodeId,
        _node: &PeerNode,
        rpc: RaftRpc,
        timeout: Duration,
    ) -> Result<RaftRpcReply, TransportError> {
        let peer: PeerId = self
            .peers
            .peer_of(target)
            .ok_or_else(|| TransportError::Unreachable(format!("node {target} is not pinned")))?;
        match self
            .handle
            .request(peer, PeerRequest::Raft(rpc), timeout)
            .await?
        {
            PeerResponse::Raft(reply) => Ok(reply),
            _ => Err(TransportError::Network(
                "peer answered with the wrong message".into(),
            )),
        }
    }
}
