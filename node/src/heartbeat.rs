//! Signed node-status heartbeats on the gossipsub topic `TOPIC_NODE_STATUS`.
//!
//! Gossipsub signs each message with the sender's libp2p key (strict validation). Before a
//! heartbeat is accepted, and so before it propagates, [`validate`] checks that its author is a
//! genesis member, that the node id inside matches that member, and that it decodes within the
//! size limit.

use mpc_protocol::limits::MAX_GOSSIP_MESSAGE_BYTES;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

/// What a node announces about itself every heartbeat interval.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Heartbeat {
    /// Sender's node id.
    pub node_id: u64,
    /// Raft role: `leader`, `follower`, `candidate` or `learner`.
    pub role: String,
    /// Current Raft term.
    pub term: u64,
    /// Last applied log index.
    pub applied_index: u64,
    /// Leader the sender knows of.
    pub leader: Option<u64>,
    /// Software version.
    pub version: String,
    /// Sender's clock when sent (ms since the epoch; informational only).
    pub sent_at_ms: u64,
}

/// Checks a received heartbeat. `expected_node_id` is the node id the genesis gives the message's
/// signed author (`None` if the author is not a member).
pub fn validate(data: &[u8], expected_node_id: Option<u64>) -> Result<Heartbeat, String> {
    let Some(expected) = expected_node_id else {
        return Err("author is not a member of the genesis".into());
    };
    let hb: Heartbeat =
        mpc_protocol::decode(data, MAX_GOSSIP_MESSAGE_BYTES).map_err(|e| e.to_string())?;
    if hb.node_id != expected {
        return Err(format!(
            "heartbeat claims node {} but is signed by node {expected}",
            hb.node_id
        ));
    }
    if !["leader", "follower", "candidate", "learner", "shutdown"].contains(&hb.role.as_str()) {
        return Err(format!("unknown role '{}'", hb.role));
    }
    if hb.version.len() > 32 {
        return Err("version string too long".into());
    }
    Ok(hb)
}

/// The last heartbeat received from each node, with the local receive time.
#[derive(Debug, Clone, Default)]
pub struct PeerStatusTable {
    inner: Arc<Mutex<BTreeMap<u64, (Heartbeat, u64)>>>,
}

impl PeerStatusTable {
    /// Records a heartbeat received at `now_ms`.
    pub fn record(&self, hb: Heartbeat, now_ms: u64) {
        if let Ok(mut m) = self.inner.lock() {
            m.insert(hb.node_id, (hb, now_ms));
        }
    }

    /// Snapshot of the table.
    pub fn snapshot(&self) -> BTreeMap<u64, (Heartbeat, u64)> {
        self.inner.lock().map(|m| m.clone()).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hb(node_id: u64) -> Heartbeat {
        Heartbeat {
            node_id,
            role: "follower".into(),
            term: 3,
            applied_index: 10,
            leader: Some(1),
            version: "0.1.0".into(),
            sent_at_ms: 1,
        }
    }

    #[test]
    fn validation_table() {
        let good = mpc_protocol::encode(&hb(2)).unwrap();
        assert!(validate(&good, Some(2)).is_ok());
        assert!(validate(&good, Some(3))
            .unwrap_err()
            .contains("claims node 2"));
        assert!(validate(&good, None).unwrap_err().contains("not a member"));
        assert!(validate(&[0xff; 8], Some(2)).is_err());
        assert!(validate(&vec![0u8; MAX_GOSSIP_MESSAGE_BYTES + 1], Some(2)).is_err());
        let mut bad_role = hb(2);
        bad_role.role = "king".into();
        assert!(validate(&mpc_protocol::encode(&bad_role).unwrap(), Some(2)).is_err());
    }
}
