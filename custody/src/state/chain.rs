//! Broadcast and chain observations of signed requests (see [`crate::chain_status`]).

use super::{At, CustodyState, ReportResult};
use crate::chain_status::{Broadcast, ChainStatus, Observation, Seen};
use crate::ids::NodeId;
use crate::request::{Request, RequestStatus};

/// How long each node of the broadcaster rota has before the next one takes over, ms.
pub const BROADCAST_SLOT_MS: u64 = 15_000;

impl CustodyState {
    /// Keeps [`CustodyState::chain_open`] in step with a request written.
    pub(super) fn index_chain_open(&mut self, req: &Request) {
        let open = req.status == RequestStatus::Signed
            && req.chain.as_ref().is_some_and(|c| !c.state.is_final());
        if open {
            self.chain_open.insert(req.request_id.clone());
        } else {
            self.chain_open.remove(&req.request_id);
        }
    }

    /// Signed requests whose transaction is not final on its chain, in request-id order.
    pub fn chain_open_requests(&self) -> impl Iterator<Item = &Request> {
        self.chain_open
            .iter()
            .filter_map(|id| self.requests.get(id))
    }

    /// The broadcaster rota of a request: every node of the network now ([`Self::members`]:
    /// removed nodes out, added ones in), in an order fixed by the request
    /// id (so that different requests start at different nodes). The node at position
    /// `(now − signed_at) / BROADCAST_SLOT_MS mod n` broadcasts (and re-broadcasts) in that slot:
    /// a node without a provider for the chain, or a dead one, costs one slot.
    pub fn broadcaster_rota(&self, request_id: &str) -> Vec<NodeId> {
        use sha2::{Digest, Sha256};
        let mut nodes: Vec<(Vec<u8>, NodeId)> = self
            .members()
            .into_iter()
            .map(|n| {
                let mut h = Sha256::new();
                h.update(request_id.as_bytes());
                h.update(n.to_be_bytes());
                (h.finalize().to_vec(), n)
            })
            .collect();
        nodes.sort();
        nodes.into_iter().map(|(_, n)| n).collect()
    }

    /// The node whose broadcast slot `now_ms` falls in, for a signed request.
    pub fn broadcaster_at(&self, req: &Request, now_ms: u64) -> Option<NodeId> {
        let c = req.chain.as_ref()?;
        let rota = self.broadcaster_rota(&req.request_id);
        if rota.is_empty() {
            return None;
        }
        let slot = now_ms.saturating_sub(c.signed_at_ms) / BROADCAST_SLOT_MS;
        let i = usize::try_from(slot % rota.len() as u64).unwrap_or(0);
        rota.get(i).copied()
    }

    /// Runs `change` on the chain record of a signed request whose transaction is not final, after
    /// checking the reported id is the one the state machine computed; `change` returns the audit
    /// text, or `None` when the report changes nothing. The state is derived again with `t` and
    /// the request written back.
    fn update_chain(
        &mut self,
        request_id: &str,
        txid: &str,
        at: At,
        change: impl FnOnce(&mut ChainStatus) -> Option<String>,
    ) -> ReportResult {
        let req = self
            .requests
            .get(request_id)
            .ok_or_else(|| format!("no request '{request_id}'"))?;
        let Some(c) = &req.chain else {
            return Ok(None);
        };
        if c.txid != txid {
            return Err(format!(
                "transaction id {txid} is not the request's ({})",
                c.txid
            ));
        }
        if c.state.is_final() || req.status != RequestStatus::Signed {
            return Ok(None);
        }
        let mut req = req.clone();
        let t = usize::from(self.genesis.threshold);
        let Some(c) = req.chain.as_mut() else {
            return Ok(None);
        };
        let before = c.state;
        let Some(mut text) = change(c) else {
            return Ok(None);
        };
        c.updated_at_ms = at.now_ms;
        c.derive(t);
        if c.state != before {
            text = format!("{text}; now {}", c.state.name());
        }
        req.updated_at_ms = at.now_ms;
        let org = req.org_id.clone();
        Ok(Some((Some(org), text, self.put_request(req))))
    }

    /// A node sent the signed transaction. The first report moves it to `broadcast`.
    pub(super) fn report_broadcast(
        &mut self,
        node: NodeId,
        request_id: &str,
        txid: &str,
        at: At,
    ) -> ReportResult {
        self.update_chain(request_id, txid, at, |c| {
            if c.broadcast.is_some() {
                return None;
            }
            c.broadcast = Some(Broadcast {
                node,
                at_ms: at.now_ms,
            });
            Some(format!("transaction {txid} broadcast by node {node}"))
        })
    }

    /// A node's provider saw the transaction (or its absence). Stored per node; the state
    /// becomes final when `t` nodes agree.
    pub(super) fn report_chain_observed(
        &mut self,
        node: NodeId,
        request_id: &str,
        txid: &str,
        seen: &Seen,
        at: At,
    ) -> ReportResult {
        self.update_chain(request_id, txid, at, |c| {
            let seen = seen.normalised(c.confirmations_required);
            let changes = c.observations.get(&node).map_or(0, |o| o.changes);
            if c.observations.get(&node).is_some_and(|o| o.seen == seen)
                || changes >= crate::chain_status::MAX_OBSERVATION_CHANGES
            {
                return None;
            }
            let text = match &seen {
                Seen::Included {
                    confirmations,
                    block,
                }
                | Seen::Reverted {
                    confirmations,
                    block,
                    ..
                } => format!(
                    "node {node} sees {txid} {} in block {block} with {confirmations} confirmation(s)",
                    seen.name()
                ),
                other => format!("node {node} sees {txid} {}", other.name()),
            };
            c.observations.insert(
                node,
                Observation {
                    seen,
                    at_ms: at.now_ms,
                    changes: changes.saturating_add(1),
                },
            );
            Some(text)
        })
    }
}
