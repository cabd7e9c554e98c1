//! [`RaftTransport`] over the libp2p request-response protocol.

use crate::p2p::messages::{PeerRequest, PeerResponse};
use crate::p2p::P2pHandle;
use libp2p::PeerId;
use mpc_consensus::network::{RaftTransport, TransportError};
use mpc_consensus::raft::{NodeId, PeerNode};
use mpc_consensus::rpc::{RaftRpc, RaftRpcReply};
use std::time::Duration;

/// Carries Raft RPCs as [`PeerRequest::Raft`].
#[derive(Clone)]
pub struct Libp2pTransport {
    handle: P2pHandle,
}

impl Libp2pTransport {
    /// Wraps the p2p handle.
    pub fn new(handle: P2pHandle) -> Self {
        Libp2pTransport { handle }
    }
}

impl RaftTransport for Libp2pTransport {
    async fn send(
        &self,
        _target: NodeId,
        node: &PeerNode,
        rpc: RaftRpc,
        timeout: Duration,
    ) -> Result<RaftRpcReply, TransportError> {
        let peer: PeerId = node
            .peer_id
            .parse()
            .map_err(|e| TransportError::Unreachable(format!("bad peer id in membership: {e}")))?;
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
