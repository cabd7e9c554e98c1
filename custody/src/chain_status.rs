//! Where a signed transaction stands on its chain: broadcast and confirmation (issue 12).
//!
//! Nodes broadcast and watch through their own chain providers (I/O at the edge, `mpc-chains`)
//! and report what they did and saw through Raft. No signing decision depends on this record.
//! Since a compromised node or a lying provider can report anything, a final state —
//! confirmed, failed or dropped — needs the same observation from `t` distinct genesis nodes
//! (the network's signing threshold); one node's word only ever moves a request to `broadcast`.
//! The transaction id is computed by the state machine from the signed bytes, never reported.

use crate::ids::NodeId;
use mpc_protocol::chain::{Chain, Network};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Most changes of one node's observation of one transaction that are recorded. An honest node
/// changes it once per new confirmation up to the required number (at most 32) and a few times
/// more; a compromised node flipping its report to grow the log is ignored past this.
pub const MAX_OBSERVATION_CHANGES: u32 = 64;

/// Longest reason text kept from a report, characters.
pub const MAX_REASON_CHARS: usize = 200;

/// Confirmations after which an included transaction counts as confirmed.
pub fn required_confirmations(chain: Chain, network: Network) -> u64 {
    match (chain, network) {
        (Chain::Ethereum, Network::Mainnet) => 12,
        (Chain::Ethereum, Network::Testnet) => 2,
        (Chain::BitcoinP2wpkh | Chain::BitcoinP2tr, Network::Mainnet) => 6,
        (Chain::BitcoinP2wpkh | Chain::BitcoinP2tr, Network::Testnet) => 2,
        // Solana: 32 is "finalized" (the adapter reports 32 for a finalized signature).
        (Chain::Solana, Network::Mainnet) => 32,
        (Chain::Solana, Network::Testnet) => 1,
    }
}

/// Lifecycle of a signed transaction on its chain.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ChainState {
    /// Signed; not yet sent by any node.
    Signed,
    /// Sent to the chain by a node (or seen there); not final yet.
    Broadcast,
    /// Included and buried under the required confirmations (`t` nodes agree).
    Confirmed,
    /// Included but failed (reverted; the fee was paid) (`t` nodes agree).
    Failed,
    /// Will never be included: its nonce, inputs or blockhash were used or expired otherwise
    /// (`t` nodes agree).
    Dropped,
}

impl ChainState {
    /// Whether the state can no longer change.
    pub fn is_final(self) -> bool {
        matches!(
            self,
            ChainState::Confirmed | ChainState::Failed | ChainState::Dropped
        )
    }

    /// Short name.
    pub fn name(self) -> &'static str {
        match self {
            ChainState::Signed => "signed",
            ChainState::Broadcast => "broadcast",
            ChainState::Confirmed => "confirmed",
            ChainState::Failed => "failed",
            ChainState::Dropped => "dropped",
        }
    }
}

/// What one node's provider says about a transaction.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "seen", rename_all = "snake_case", deny_unknown_fields)]
pub enum Seen {
    /// Known to the provider (mempool), not in a block.
    Pending,
    /// In a block and succeeded.
    Included {
        /// Blocks on top, counting its own (1 = in the newest block).
        confirmations: u64,
        /// Block height (Solana: slot).
        block: u64,
    },
    /// In a block and failed.
    Reverted {
        /// Blocks on top, counting its own.
        confirmations: u64,
        /// Block height (Solana: slot).
        block: u64,
        /// The chain's reason, if it gives one.
        reason: String,
    },
    /// Can never be included.
    Dropped {
        /// Why (e.g. "nonce 4 already used").
        reason: String,
    },
}

impl Seen {
    /// The same observation with confirmations capped at `required` and reasons shortened:
    /// what is stored, so that a node's reports stop changing the record once it is final.
    pub fn normalised(&self, required: u64) -> Seen {
        let short = |r: &str| r.chars().take(MAX_REASON_CHARS).collect::<String>();
        match self {
            Seen::Pending => Seen::Pending,
            Seen::Included {
                confirmations,
                block,
            } => Seen::Included {
                confirmations: (*confirmations).min(required),
                block: *block,
            },
            Seen::Reverted {
                confirmations,
                block,
                reason,
            } => Seen::Reverted {
                confirmations: (*confirmations).min(required),
                block: *block,
                reason: short(reason),
            },
            Seen::Dropped { reason } => Seen::Dropped {
                reason: short(reason),
            },
        }
    }

    /// Short name.
    pub fn name(&self) -> &'static str {
        match self {
            Seen::Pending => "pending",
            Seen::Included { .. } => "included",
            Seen::Reverted { .. } => "reverted",
            Seen::Dropped { .. } => "dropped",
        }
    }
}

/// One node's latest observation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Observation {
    /// What it saw.
    pub seen: Seen,
    /// Log time of the report (ms).
    pub at_ms: u64,
    /// How many times this node's observation of this transaction changed (bounded by
    /// [`MAX_OBSERVATION_CHANGES`]).
    #[serde(default)]
    pub changes: u32,
}

/// A node's broadcast.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Broadcast {
    /// The node.
    pub node: NodeId,
    /// Log time of its report (ms).
    pub at_ms: u64,
}

/// The chain-side record of a signed request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChainStatus {
    /// Transaction id, computed from the signed transaction.
    pub txid: String,
    /// Derived state (see the module docs).
    pub state: ChainState,
    /// Confirmations that make an inclusion final on this chain and network.
    pub confirmations_required: u64,
    /// Confirmations at least `t` nodes vouch for.
    pub confirmations: u64,
    /// Block height (Solana: slot) at least `t` nodes agree on, once final.
    pub block: Option<u64>,
    /// Log time the request was signed (ms): the broadcaster rota starts then.
    pub signed_at_ms: u64,
    /// The first node that reported a broadcast.
    pub broadcast: Option<Broadcast>,
    /// Each node's latest observation.
    pub observations: BTreeMap<NodeId, Observation>,
    /// Why it failed or was dropped, once final.
    pub reason: Option<String>,
    /// Last change (ms).
    pub updated_at_ms: u64,
}

impl ChainStatus {
    /// A freshly signed transaction.
    pub fn signed(txid: String, chain: Chain, network: Network, now_ms: u64) -> Self {
        ChainStatus {
            txid,
            state: ChainState::Signed,
            confirmations_required: required_confirmations(chain, network),
            confirmations: 0,
            block: None,
            signed_at_ms: now_ms,
            broadcast: None,
            observations: BTreeMap::new(),
            reason: None,
            updated_at_ms: now_ms,
        }
    }

    /// Recomputes `state`, `confirmations`, `block` and `reason` from the observations, with
    /// `t` the number of distinct nodes a final state needs. A final state never changes.
    pub fn derive(&mut self, t: usize) {
        if self.state.is_final() {
            return;
        }
        let t = t.max(1);
        let req = self.confirmations_required;
        // Confirmations at least t nodes vouch for: the t-th largest among inclusions.
        let mut included: Vec<(u64, u64)> = self
            .observations
            .values()
            .filter_map(|o| match &o.seen {
                Seen::Included {
                    confirmations,
                    block,
                } => Some((*confirmations, *block)),
                _ => None,
            })
            .collect();
        included.sort_unstable_by(|a, b| b.cmp(a));
        self.confirmations = included.get(t - 1).map(|c| c.0).unwrap_or(0);
        // A final state: t nodes report the same block (inclusions) or the same kind.
        let final_included = agreeing_block(&included, req, t);
        let mut reverted: Vec<(u64, u64)> = Vec::new();
        let mut reverted_reason = None;
        let mut dropped = 0usize;
        let mut dropped_reason = None;
        for o in self.observations.values() {
            match &o.seen {
                Seen::Reverted {
                    confirmations,
                    block,
                    reason,
                } => {
                    reverted.push((*confirmations, *block));
                    reverted_reason.get_or_insert_with(|| reason.clone());
                }
                Seen::Dropped { reason } => {
                    dropped += 1;
                    dropped_reason.get_or_insert_with(|| reason.clone());
                }
                _ => {}
            }
        }
        if let Some(block) = final_included {
            self.state = ChainState::Confirmed;
            self.block = Some(block);
            self.confirmations = req;
        } else if let Some(block) = agreeing_block(&reverted, req, t) {
            self.state = ChainState::Failed;
            self.block = Some(block);
            self.confirmations = req;
            self.reason = reverted_reason;
        } else if dropped >= t {
            self.state = ChainState::Dropped;
            self.reason = dropped_reason;
        } else if self.broadcast.is_some() || !self.observations.is_empty() {
            self.state = ChainState::Broadcast;
        }
    }
}

/// A block that at least `t` observations place the transaction in with `req` confirmations.
fn agreeing_block(obs: &[(u64, u64)], req: u64, t: usize) -> Option<u64> {
    let mut by_block: BTreeMap<u64, usize> = BTreeMap::new();
    for (c, b) in obs {
        if *c >= req {
            *by_block.entry(*b).or_default() += 1;
        }
    }
    by_block.into_iter().find(|(_, n)| *n >= t).map(|(b, _)| b)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn obs(seen: Seen) -> Observation {
        Observation {
            seen,
            at_ms: 1,
            changes: 1,
        }
    }

    fn status() -> ChainStatus {
        ChainStatus::signed("0xabc".into(), Chain::Ethereum, Network::Testnet, 10)
    }

    #[test]
    fn one_node_cannot_make_a_transaction_final() {
        let mut s = status();
        s.observations.insert(
            1,
            obs(Seen::Included {
                confirmations: 99,
                block: 5,
            }),
        );
        s.derive(2);
        assert_eq!(s.state, ChainState::Broadcast);
        assert_eq!(s.confirmations, 0, "one node's count is not vouched for");
        s.observations.insert(
            2,
            obs(Seen::Dropped {
                reason: "lie".into(),
            }),
        );
        s.derive(2);
        assert_eq!(s.state, ChainState::Broadcast);
    }

    #[test]
    fn t_nodes_agreeing_on_the_block_confirm() {
        let mut s = status();
        for (n, block) in [(1, 5), (2, 6)] {
            s.observations.insert(
                n,
                obs(Seen::Included {
                    confirmations: 2,
                    block,
                }),
            );
        }
        s.derive(2);
        assert_eq!(
            s.state,
            ChainState::Broadcast,
            "different blocks do not agree"
        );
        s.observations.insert(
            3,
            obs(Seen::Included {
                confirmations: 3,
                block: 5,
            }),
        );
        s.derive(2);
        assert_eq!(s.state, ChainState::Confirmed);
        assert_eq!(s.block, Some(5));
        // Final is final.
        s.observations.clear();
        s.derive(2);
        assert_eq!(s.state, ChainState::Confirmed);
    }

    #[test]
    fn confirmations_shown_are_those_t_nodes_vouch_for() {
        let mut s = status();
        s.observations.insert(
            1,
            obs(Seen::Included {
                confirmations: 1,
                block: 5,
            }),
        );
        s.observations.insert(
            2,
            obs(Seen::Included {
                confirmations: 1,
                block: 5,
            }),
        );
        s.derive(2);
        assert_eq!((s.state, s.confirmations), (ChainState::Broadcast, 1));
    }

    #[test]
    fn t_nodes_seeing_it_dropped_or_reverted_end_it() {
        let mut s = status();
        for n in [1, 3] {
            s.observations.insert(
                n,
                obs(Seen::Dropped {
                    reason: "nonce used".into(),
                }),
            );
        }
        s.derive(2);
        assert_eq!(s.state, ChainState::Dropped);
        assert_eq!(s.reason.as_deref(), Some("nonce used"));

        let mut s = status();
        for n in [1, 2] {
            s.observations.insert(
                n,
                obs(Seen::Reverted {
                    confirmations: 2,
                    block: 9,
                    reason: "status 0".into(),
                }),
            );
        }
        s.derive(2);
        assert_eq!(s.state, ChainState::Failed);
    }
}
