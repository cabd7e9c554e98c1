//! The libp2p side of a node: TCP + Noise + Yamux, identify, connection limits, an allow-list of
//! genesis peers, gossipsub for heartbeats, and request-response for Raft RPCs and forwarded
//! client requests.
//!
//! [`P2pEventLoop`] owns the swarm and does nothing clever; [`P2pHandle`] is the cloneable front
//! end used by the Raft transport, the RPC server and the heartbeat task.

mod codec;
mod event_loop;
pub mod messages;
pub mod peers;

pub use codec::PeerCodec;
pub use event_loop::{build_swarm, Inbound, P2pEventLoop, P2pHandle};
pub use peers::{PeerTable, PinnedPeer};
