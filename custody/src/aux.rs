//! The committee's ECDSA aux info (Paillier keys and ring-Pedersen parameters, made by every
//! node together), as the log records it: which attempt is current and who stored it.
//!
//! Attempts are replicated so that every node runs the same session: attempt `k` has the
//! session id [`crate::ids::aux_session`]`(cluster, committee, k)`. A node that stored the
//! attempt's aux info reports `aux_ready`; one whose run failed (or that joined it before a
//! restart) reports `aux_failed`, which starts attempt `k + 1` for everyone. Presigning and
//! ECDSA signing use the aux info of a complete attempt only: every committee node stored it.

use crate::ids::NodeId;
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;

/// Longest failure reason kept, in characters.
pub const MAX_AUX_REASON_CHARS: usize = 500;

/// The aux-info record.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuxRecord {
    /// The current attempt (0 first).
    pub attempt: u32,
    /// Nodes that stored the current attempt's aux info.
    pub ready: BTreeSet<NodeId>,
    /// Every committee node stored the current attempt: it is final.
    pub complete: bool,
    /// Why the previous attempt failed (node and reason), if one did.
    pub last_failure: Option<String>,
}
