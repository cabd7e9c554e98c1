//! openraft type configuration (the log entry types themselves are `mpc_custody::entry`).

use mpc_custody::entry::LogCommand;
use mpc_custody::state::CommandOutcome;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::io::Cursor;

/// Raft node id. Node ids come from the genesis document.
pub use mpc_custody::NodeId;

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
