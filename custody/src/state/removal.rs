//! Node removal (decision 0027): genesis admins' `node_remove` signatures, admission, and what
//! admission asks of the staying nodes — a refresh of every vault among them, new aux info for
//! the smaller committee, presignature pools without the removed node. See
//! [`crate::membership::NodeRemoval`].

use super::{ActionResult, CustodyState, Exec, RecordKey};
use crate::ids::NodeId;
use crate::membership::{network_quorum, NodeRemoval, ReplacementStatus, REPLACEMENT_TTL_MS};
use crate::{Vault, VaultStatus};

impl CustodyState {
    /// Every removal record (pending or admitted), by node id.
    pub fn removals(&self) -> impl Iterator<Item = &NodeRemoval> {
        self.removals.values()
    }

    /// Whether `node` was removed from the network (an admitted removal).
    pub fn is_removed(&self, node: NodeId) -> bool {
        self.removals
            .get(&node)
            .is_some_and(NodeRemoval::is_admitted)
    }

    /// Nodes removed from the network.
    pub fn removed_nodes(&self) -> impl Iterator<Item = NodeId> + '_ {
        self.removals
            .values()
            .filter(|r| r.is_admitted())
            .map(|r| r.node_id)
    }

    /// The network's nodes now: the genesis nodes and the added ones, less removed nodes, in id
    /// order (the committee of new vaults, of the aux info and of presignature pools).
    pub fn members(&self) -> Vec<NodeId> {
        let added = self
            .additions
            .values()
            .filter(|a| a.is_admitted())
            .map(|a| a.node_id);
        let mut all: Vec<NodeId> = self
            .genesis
            .nodes
            .keys()
            .copied()
            .chain(added)
            .filter(|n| !self.is_removed(*n))
            .collect();
        all.sort_unstable();
        all
    }

    /// Whether `node` is in the genesis or was added (removed or not).
    pub fn is_known_node(&self, node: NodeId) -> bool {
        self.genesis.nodes.contains_key(&node)
            || self.additions.get(&node).is_some_and(|a| a.is_admitted())
    }

    /// `node`'s removal, **re-verified against the genesis admins' keys**: an error when it was
    /// not removed or the record's evidence does not verify (a forged snapshot, a lying leader).
    pub fn verified_removal(&self, node: NodeId) -> Result<&NodeRemoval, String> {
        let rec = self
            .removals
            .get(&node)
            .filter(|r| r.is_admitted())
            .ok_or_else(|| format!("node {node} was not removed"))?;
        rec.verify(&self.genesis.cluster_id, &self.genesis.admins)?;
        Ok(rec)
    }

    /// When the removal of a node still in `vault`'s committee was admitted (log time, ms):
    /// the vault owes a refresh among the staying nodes.
    pub fn removal_pending_in(&self, vault: &Vault) -> Option<u64> {
        vault
            .committee
            .iter()
            .filter_map(|n| self.removals.get(n))
            .filter_map(|r| match r.status {
                ReplacementStatus::Admitted { at_ms, .. } => Some(at_ms),
                ReplacementStatus::Pending => None,
            })
            .min()
    }

    /// A network change still being carried out: a vault repairing a replaced node's shares,
    /// or still holding a removed node in its committee. Another change waits for it.
    pub(super) fn network_change_under_way(&self) -> Option<String> {
        self.vaults.values().find_map(|v| {
            if let Some(r) = &v.repair {
                return Some(format!(
                    "vault '{}' is still repairing node {}'s shares",
                    v.vault_id, r.node_id
                ));
            }
            if self.removal_pending_in(v).is_some() {
                return Some(format!(
                    "vault '{}' has not yet refreshed without a removed node",
                    v.vault_id
                ));
            }
            let joining = v.status == VaultStatus::Active
                && self.members().iter().any(|m| !v.committee.contains(m));
            joining.then(|| {
                format!(
                    "vault '{}' has not yet refreshed with an added node",
                    v.vault_id
                )
            })
        })
    }

    pub(super) fn node_remove(
        &mut self,
        x: &Exec<'_>,
        node_id: NodeId,
    ) -> Result<ActionResult, String> {
        if !self.genesis.admins.contains(&x.signer) {
            return Err("only a genesis admin may sign node_remove".into());
        }
        if !self.is_known_node(node_id) {
            return Err(format!("node {node_id} is not a node of this network"));
        }
        if self.is_removed(node_id) {
            return Err(format!("node {node_id} was already removed"));
        }
        let quorum = network_quorum(self.genesis.admins.len()).ok_or(
            "the genesis names a single admin: removing a node needs two genesis admins' \
             signatures, so this network cannot remove nodes",
        )?;
        let staying = self.members().len().saturating_sub(1);
        let t = usize::from(self.genesis.threshold);
        if staying < t.max(2) {
            return Err(format!(
                "removing node {node_id} would leave {staying} node(s); the threshold is {t} \
                 and the network needs at least two"
            ));
        }
        if let Some(busy) = self.network_change_under_way() {
            return Err(format!(
                "a network change is still under way ({busy}); remove the node after it"
            ));
        }
        let now = x.now_ms;
        let open = self
            .removals
            .get(&node_id)
            .filter(|r| r.status == ReplacementStatus::Pending && now <= r.expires_at_ms);
        let mut rec = match open {
            Some(r) if r.approvals.contains_key(&x.signer) => {
                return Err("this genesis admin already signed this removal".into())
            }
            Some(r) => r.clone(),
            None => NodeRemoval {
                node_id,
                approvals: Default::default(),
                quorum: u16::try_from(quorum).unwrap_or(u16::MAX),
                status: ReplacementStatus::Pending,
                created_at_ms: now,
                expires_at_ms: now.saturating_add(REPLACEMENT_TTL_MS),
            },
        };
        x.countersign(&mut rec.approvals, &mut rec.status, quorum);
        self.removals.insert(node_id, rec.clone());
        self.dirty.insert(RecordKey::Removal(node_id));
        if rec.is_admitted() {
            self.admit_removal(node_id, now);
        }
        Ok(ActionResult::NodeRemoval {
            removal: Box::new(rec),
        })
    }

    /// The node is out: the committee's aux info starts over without it (at once), every
    /// presignature pool starts over (one it signed for gets new signers), and every active
    /// vault abandons a refresh it was running; each vault holding the node then owes a refresh
    /// among the staying nodes, which the nodes' `refresh_due` reports start
    /// ([`CustodyState::refresh_due_at`]).
    fn admit_removal(&mut self, node: NodeId, now: u64) {
        self.aux = crate::AuxRecord {
            attempt: self.aux.attempt.saturating_add(1),
            ready: Default::default(),
            complete: false,
            last_failure: None,
        };
        self.dirty.insert(RecordKey::Aux);
        let ids: Vec<_> = self.presig_pools.keys().cloned().collect();
        for id in ids {
            let signers = self.pool_signers(&id);
            if let Some(pool) = self.presig_pools.get_mut(&id) {
                if pool.signers.contains(&node) {
                    pool.signers = signers;
                }
                pool.restart(pool.epoch);
                self.dirty.insert(RecordKey::PresigPool(id));
            }
        }
        for vault in self.vaults.values_mut() {
            if vault.status != VaultStatus::Active || !vault.committee.contains(&node) {
                continue;
            }
            if let Some(mut abandoned) = vault.refresh.take() {
                abandoned.status = crate::RefreshStatus::Failed {
                    at_ms: now,
                    reason: format!("node {node} was removed during the refresh"),
                    culprits: Vec::new(),
                };
                vault.last_refresh = Some(abandoned);
            }
            self.dirty.insert(RecordKey::Vault(vault.vault_id.clone()));
        }
    }
}
