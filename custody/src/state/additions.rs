//! Node addition (decision 0027): genesis admins' `node_add` signatures, admission, and what
//! admission asks of the network — a share of every vault key for the new node (a repair at its
//! own evaluation point by `t` helpers), then a refresh among the enlarged committee, and new
//! aux info with it. See [`crate::membership::NodeAddition`].

use super::{ActionResult, CustodyState, Exec, RecordKey};
use crate::ids::NodeId;
use crate::membership::{
    network_quorum, KeyRepair, NodeAddition, NodeCard, ReplacementStatus, REPLACEMENT_TTL_MS,
};
use crate::VaultStatus;
use std::collections::BTreeSet;

impl CustodyState {
    /// Every addition record (pending or admitted), by node id.
    pub fn additions(&self) -> impl Iterator<Item = &NodeAddition> {
        self.additions.values()
    }

    /// `node`'s admitted addition, **re-verified against the genesis admins' keys**.
    pub fn verified_addition(&self, node: NodeId) -> Result<&NodeAddition, String> {
        let rec = self
            .additions
            .get(&node)
            .filter(|a| a.is_admitted())
            .ok_or_else(|| format!("node {node} was not added"))?;
        rec.verify(&self.genesis.cluster_id, &self.genesis.admins)?;
        Ok(rec)
    }

    pub(super) fn node_add(
        &mut self,
        x: &Exec<'_>,
        node_id: NodeId,
        card: &NodeCard,
    ) -> Result<ActionResult, String> {
        if !self.genesis.admins.contains(&x.signer) {
            return Err("only a genesis admin may sign node_add".into());
        }
        let quorum = network_quorum(self.genesis.admins.len()).ok_or(
            "the genesis names a single admin: adding a node needs two genesis admins' \
             signatures, so this network cannot add nodes",
        )?;
        // Ids only grow: the new node's evaluation point is new, and keygen order (ids in
        // order) puts it last in every committee.
        let highest = self
            .genesis
            .nodes
            .keys()
            .chain(
                self.additions
                    .values()
                    .filter(|a| a.is_admitted())
                    .map(|a| &a.node_id),
            )
            .max()
            .copied()
            .unwrap_or(0);
        if node_id <= highest {
            return Err(format!(
                "node ids only grow: the new node's id must be above {highest}"
            ));
        }
        self.card_unused(card)?;
        if let Some(busy) = self.network_change_under_way() {
            return Err(format!(
                "a network change is still under way ({busy}); add the node after it"
            ));
        }
        let now = x.now_ms;
        let open = self
            .additions
            .get(&node_id)
            .filter(|r| r.status == ReplacementStatus::Pending && now <= r.expires_at_ms);
        let mut rec = match open {
            Some(r) if r.card != *card => {
                return Err(format!(
                    "another card is pending as node {node_id} (signed by {} genesis admin(s)); \
                     sign that one or let it expire",
                    r.approvals.len()
                ))
            }
            Some(r) if r.approvals.contains_key(&x.signer) => {
                return Err("this genesis admin already signed this addition".into())
            }
            Some(r) => r.clone(),
            None => NodeAddition {
                node_id,
                card: card.clone(),
                approvals: Default::default(),
                quorum: u16::try_from(quorum).unwrap_or(u16::MAX),
                status: ReplacementStatus::Pending,
                created_at_ms: now,
                expires_at_ms: now.saturating_add(REPLACEMENT_TTL_MS),
            },
        };
        x.countersign(&mut rec.approvals, &mut rec.status, quorum);
        self.additions.insert(node_id, rec.clone());
        self.dirty.insert(RecordKey::Addition(node_id));
        if rec.is_admitted() {
            self.admit_addition(node_id, x.ctx.log_index);
        }
        Ok(ActionResult::NodeAddition {
            addition: Box::new(rec),
        })
    }

    /// The node is in: the committee's aux info starts over with it (at once), presignature
    /// pools start over, and every active vault gives it a share (a repair at its evaluation
    /// point; replacement number 0 marks an addition), which a refresh among the enlarged
    /// committee follows.
    fn admit_addition(&mut self, node: NodeId, log_index: u64) {
        self.aux = crate::AuxRecord {
            attempt: self.aux.attempt.saturating_add(1),
            ready: Default::default(),
            complete: false,
            last_failure: None,
        };
        self.dirty.insert(RecordKey::Aux);
        for (id, pool) in self.presig_pools.iter_mut() {
            pool.restart(pool.epoch);
            self.dirty.insert(RecordKey::PresigPool(id.clone()));
        }
        let t = usize::from(self.genesis.threshold);
        for vault in self.vaults.values_mut() {
            if vault.status != VaultStatus::Active {
                continue;
            }
            vault.repair = Some(KeyRepair {
                node_id: node,
                replacement: 0,
                admitted_log_index: log_index,
                attempt: 1,
                attempt_log_index: log_index,
                helpers: super::nodes::repair_helpers(
                    &vault.committee,
                    node,
                    t,
                    1,
                    &BTreeSet::new(),
                ),
                last_failure: None,
            });
            self.dirty.insert(RecordKey::Vault(vault.vault_id.clone()));
        }
    }
}
