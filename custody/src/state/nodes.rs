//! Node replacement: genesis admins' `node_replace` signatures, admission, and the share repair
//! every vault then runs for the new host (followed by a refresh). See [`crate::membership`].

use super::{ActionResult, At, CustodyState, Exec, RecordKey, ReportResult};
use crate::ids::{subsets, NodeId};
use crate::membership::{
    network_quorum, KeyRepair, NodeCard, NodeReplacement, ReplacementStatus, MAX_REPAIR_ATTEMPTS,
    REPLACEMENT_TTL_MS,
};
use crate::types::{UserKey, VaultId};
use crate::{RefreshStatus, VaultStatus};
use mpc_protocol::chain::keys::VaultPublicKeys;
use std::collections::BTreeSet;

/// A node's identity as this node pins it, every replacement re-verified against the genesis.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PinnedNode {
    /// Node id.
    pub node_id: NodeId,
    /// 0: the genesis host; else the replacement in force.
    pub replacement: u32,
    /// The identity key its reports are verified with.
    pub identity_key: UserKey,
    /// The replacement's card (none for the genesis host: its card is in the genesis).
    pub card: Option<NodeCard>,
}

/// What a party of one repair attempt needs, produced only after its own checks.
#[derive(Debug, Clone)]
pub struct RepairJob {
    /// Vault.
    pub vault_id: VaultId,
    /// The node whose shares are rebuilt (the new host holds its place).
    pub node_id: NodeId,
    /// Its replacement number.
    pub replacement: u32,
    /// Attempt.
    pub attempt: u32,
    /// Log index that started the attempt.
    pub attempt_log_index: u64,
    /// The helpers (t nodes, sorted).
    pub helpers: Vec<NodeId>,
    /// The vault's committee (keygen order) and threshold.
    pub committee: Vec<NodeId>,
    /// Threshold t.
    pub threshold: u16,
    /// The vault's public keys (the new host checks its rebuilt shares against them).
    pub keys: VaultPublicKeys,
    /// The share generation being rebuilt (names the shares in every store).
    pub share_generation: u64,
    /// The new host's card, re-verified against the genesis admins.
    pub card: NodeCard,
    /// A new node (decision 0027): its share is made at its own evaluation point (its node
    /// id), outside the committee; else a replaced node's share at its place in the committee.
    pub addition: bool,
}

impl CustodyState {
    /// Every replacement record, by (node id, replacement number).
    pub fn replacements(&self) -> impl Iterator<Item = &NodeReplacement> {
        self.replacements.values()
    }

    /// The admitted replacement holding `node`'s place now, if any.
    pub fn current_replacement(&self, node: NodeId) -> Option<&NodeReplacement> {
        self.replacements
            .range((node, 0)..=(node, u32::MAX))
            .rev()
            .map(|(_, r)| r)
            .find(|r| r.is_admitted())
    }

    /// The key the state machine verifies `node`'s reports with: its admitted replacement's,
    /// else its genesis key.
    pub fn node_key(&self, node: NodeId) -> Option<UserKey> {
        if self.is_removed(node) {
            return None;
        }
        if let Some(a) = self.additions.get(&node).filter(|a| a.is_admitted()) {
            return Some(a.card.identity_key);
        }
        if !self.genesis.nodes.contains_key(&node) {
            return None;
        }
        match self.current_replacement(node) {
            Some(r) => Some(r.card.identity_key),
            None => self.genesis.nodes.get(&node).copied(),
        }
    }

    /// `node`'s identity as this node pins it: its replacement in force, **re-verified against
    /// the genesis admins' keys**, else its genesis identity. An admitted record whose evidence
    /// does not verify (a forged snapshot, a lying leader) is an error, never a new key.
    pub fn pinned_node(&self, node: NodeId) -> Result<PinnedNode, String> {
        if let Some(a) = self.additions.get(&node).filter(|a| a.is_admitted()) {
            a.verify(&self.genesis.cluster_id, &self.genesis.admins)?;
            return Ok(PinnedNode {
                node_id: node,
                replacement: 0,
                identity_key: a.card.identity_key,
                card: Some(a.card.clone()),
            });
        }
        let genesis_key = self
            .genesis
            .nodes
            .get(&node)
            .copied()
            .ok_or_else(|| format!("node {node} is not in the genesis"))?;
        match self.current_replacement(node) {
            None => Ok(PinnedNode {
                node_id: node,
                replacement: 0,
                identity_key: genesis_key,
                card: None,
            }),
            Some(r) => {
                r.verify(&self.genesis.cluster_id, &self.genesis.admins)?;
                Ok(PinnedNode {
                    node_id: node,
                    replacement: r.replacement,
                    identity_key: r.card.identity_key,
                    card: Some(r.card.clone()),
                })
            }
        }
    }

    /// A new host's keys must be nobody's: not a genesis node's, nor a replacement's or an
    /// added node's in force.
    pub(super) fn card_unused(&self, card: &NodeCard) -> Result<(), String> {
        let cards = self
            .replacements
            .values()
            .filter(|r| r.is_admitted())
            .map(|r| &r.card)
            .chain(
                self.additions
                    .values()
                    .filter(|a| a.is_admitted())
                    .map(|a| &a.card),
            );
        let mut identity = self.genesis.nodes.values().copied();
        if identity.any(|k| k == card.identity_key)
            || cards.clone().any(|c| c.identity_key == card.identity_key)
        {
            return Err("the new host's identity key is already a node's key".into());
        }
        if cards.clone().any(|c| c.noise_key == card.noise_key) {
            return Err("the new host's Noise key is already a node's key".into());
        }
        Ok(())
    }

    pub(super) fn node_replace(
        &mut self,
        x: &Exec<'_>,
        node_id: NodeId,
        replacement: u32,
        card: &NodeCard,
    ) -> Result<ActionResult, String> {
        if !self.genesis.admins.contains(&x.signer) {
            return Err("only a genesis admin may sign node_replace".into());
        }
        if !self.genesis.nodes.contains_key(&node_id) {
            return Err(format!("node {node_id} is not in the genesis"));
        }
        if self.is_removed(node_id) {
            return Err(format!("node {node_id} was removed from the network"));
        }
        let removing = self
            .vaults
            .values()
            .find(|v| self.removal_pending_in(v).is_some());
        if let Some(v) = removing {
            return Err(format!(
                "a node removal is still under way (vault '{}' has not yet refreshed without \
                 it); replace the node after it",
                v.vault_id
            ));
        }
        let quorum = network_quorum(self.genesis.admins.len()).ok_or(
            "the genesis names a single admin: replacing a node needs two genesis admins' \
             signatures, so this network cannot replace nodes",
        )?;
        let next = self
            .current_replacement(node_id)
            .map_or(0, |r| r.replacement)
            + 1;
        if replacement != next {
            return Err(format!(
                "node {node_id}'s next replacement is number {next}, not {replacement}"
            ));
        }
        self.card_unused(card)?;
        let key = (node_id, replacement);
        let now = x.now_ms;
        let open = self
            .replacements
            .get(&key)
            .filter(|r| r.status == ReplacementStatus::Pending && now <= r.expires_at_ms);
        let mut rec = match open {
            Some(r) if r.card != *card => {
                return Err(format!(
                    "another card is pending as node {node_id}'s replacement {replacement} \
                     (signed by {} genesis admin(s)); sign that one or let it expire",
                    r.approvals.len()
                ))
            }
            Some(r) if r.approvals.contains_key(&x.signer) => {
                return Err("this genesis admin already signed this replacement".into())
            }
            Some(r) => r.clone(),
            None => NodeReplacement {
                node_id,
                replacement,
                card: card.clone(),
                approvals: Default::default(),
                quorum: u16::try_from(quorum).unwrap_or(u16::MAX),
                status: ReplacementStatus::Pending,
                created_at_ms: now,
                expires_at_ms: now.saturating_add(REPLACEMENT_TTL_MS),
            },
        };
        x.countersign(&mut rec.approvals, &mut rec.status, quorum);
        self.replacements.insert(key, rec.clone());
        self.dirty
            .insert(RecordKey::Replacement(node_id, replacement));
        if rec.is_admitted() {
            self.admit(&rec, x.ctx.log_index, now);
        }
        Ok(ActionResult::NodeReplacement {
            replacement: Box::new(rec),
        })
    }

    /// The new host holds the node's place: the committee's aux info starts over (the lost
    /// host's Paillier key went with it), presignature pools start over, and every active vault
    /// repairs the node's shares (a refresh it was running is abandoned: it needs every node).
    fn admit(&mut self, rec: &NodeReplacement, log_index: u64, now_ms: u64) {
        let node = rec.node_id;
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
            if vault.status != VaultStatus::Active || !vault.committee.contains(&node) {
                continue;
            }
            if let Some(mut abandoned) = vault.refresh.take() {
                abandoned.status = RefreshStatus::Failed {
                    at_ms: now_ms,
                    reason: format!("node {node} was replaced during the refresh"),
                    culprits: Vec::new(),
                };
                vault.last_refresh = Some(abandoned);
            }
            vault.repair = Some(KeyRepair {
                node_id: node,
                replacement: rec.replacement,
                admitted_log_index: log_index,
                attempt: 1,
                attempt_log_index: log_index,
                helpers: repair_helpers(&vault.committee, node, t, 1, &BTreeSet::new()),
                last_failure: None,
            });
            self.dirty.insert(RecordKey::Vault(vault.vault_id.clone()));
        }
    }

    /// Node `me`'s part in the current repair attempt of `vault_id`, after its own checks: the
    /// vault is active with a repair under way, `me` is a helper or the repaired node, and the
    /// replacement it serves is admitted **with a quorum of genesis-admin signatures this node
    /// verified itself**. A helper sends sub-shares to the card returned here and nowhere else.
    pub fn repair_job(&self, vault_id: &str, me: NodeId) -> Result<RepairJob, String> {
        let vault = self
            .vaults
            .get(vault_id)
            .ok_or_else(|| format!("no vault '{vault_id}'"))?;
        if vault.status != VaultStatus::Active {
            return Err(format!("vault '{vault_id}' is not active"));
        }
        let keys = vault.keys.clone().ok_or("the vault has no keys")?;
        let rep = vault
            .repair
            .as_ref()
            .ok_or_else(|| format!("vault '{vault_id}' has no repair under way"))?;
        if me != rep.node_id && !rep.helpers.contains(&me) {
            return Err(format!("node {me} is not a party of this repair attempt"));
        }
        let addition = rep.replacement == 0;
        let card = if addition {
            // A new node: a share at its own evaluation point, outside the committee.
            let rec = self.verified_addition(rep.node_id)?;
            if rec.admitted_log_index() != Some(rep.admitted_log_index)
                || vault.committee.contains(&rep.node_id)
            {
                return Err("the repair's addition is not the admitted one".into());
            }
            rec.card.clone()
        } else {
            let rec = self
                .replacements
                .get(&(rep.node_id, rep.replacement))
                .ok_or("the repair names no replacement record")?;
            if rec.admitted_log_index() != Some(rep.admitted_log_index) {
                return Err("the repair's replacement is not the admitted one".into());
            }
            rec.verify(&self.genesis.cluster_id, &self.genesis.admins)?;
            let pinned = self.pinned_node(rep.node_id)?;
            if pinned.replacement != rep.replacement {
                return Err(format!(
                    "node {} has been replaced again since this repair started",
                    rep.node_id
                ));
            }
            rec.card.clone()
        };
        let t = usize::from(vault.threshold);
        let helpers_ok = rep.helpers.len() == t
            && !rep.helpers.contains(&rep.node_id)
            && rep.helpers.iter().all(|h| vault.committee.contains(h))
            && rep.helpers.windows(2).all(|w| w[0] < w[1]);
        if !helpers_ok {
            return Err("the repair's helpers are not t distinct other committee nodes".into());
        }
        Ok(RepairJob {
            vault_id: vault.vault_id.clone(),
            node_id: rep.node_id,
            replacement: rep.replacement,
            attempt: rep.attempt,
            attempt_log_index: rep.attempt_log_index,
            helpers: rep.helpers.clone(),
            committee: vault.committee.clone(),
            threshold: vault.threshold,
            keys,
            share_generation: vault.share_generation,
            card,
            addition,
        })
    }

    /// Vaults with a repair under way.
    pub fn repairs_running(&self) -> impl Iterator<Item = (&crate::Vault, &KeyRepair)> {
        self.vaults
            .values()
            .filter_map(|v| v.repair.as_ref().map(|r| (v, r)))
    }

    pub(super) fn report_vault_repaired(
        &mut self,
        node: NodeId,
        vault_id: &str,
        (replacement, attempt): (u32, u32),
        at: At,
    ) -> ReportResult {
        let Some(vault) = self.vaults.get_mut(vault_id) else {
            return Err(format!("no vault '{vault_id}'"));
        };
        let current = vault.repair.as_ref().is_some_and(|r| {
            r.node_id == node && r.replacement == replacement && r.attempt == attempt
        });
        if !current {
            return Ok(None);
        }
        vault.repair = None;
        let org = vault.org_id.clone();
        self.dirty.insert(RecordKey::Vault(vault_id.into()));
        let (reason, text) = if replacement == 0 {
            (
                format!("node {node} was added"),
                format!(
                    "node {node} received its shares (repair attempt {attempt}); a refresh to \
                     epoch {} among the enlarged committee starts",
                    self.vaults.get(vault_id).map_or(0, |v| v.epoch) + 1
                ),
            )
        } else {
            (
                format!("node {node} was replaced (replacement {replacement})"),
                format!(
                    "node {node}'s new host rebuilt its shares (repair attempt {attempt}); a \
                     refresh to epoch {} starts so the lost host's shares become useless",
                    self.vaults.get(vault_id).map_or(0, |v| v.epoch) + 1
                ),
            )
        };
        let vault = self.start_refresh(vault_id, at.ctx.log_index, at.now_ms, reason)?;
        Ok(Some((
            Some(org),
            text,
            ActionResult::Vault {
                vault: Box::new(vault),
            },
        )))
    }

    pub(super) fn report_repair_failed(
        &mut self,
        node: NodeId,
        vault_id: &str,
        (replacement, attempt): (u32, u32),
        reason: &str,
        culprits: &[NodeId],
        at: At,
    ) -> ReportResult {
        let t = usize::from(self.genesis.threshold);
        let Some(vault) = self.vaults.get_mut(vault_id) else {
            return Err(format!("no vault '{vault_id}'"));
        };
        let Some(rep) = vault.repair.as_mut() else {
            return Ok(None);
        };
        let party = node == rep.node_id || rep.helpers.contains(&node);
        if !party || rep.replacement != replacement || rep.attempt != attempt {
            return Ok(None);
        }
        let reason: String = reason.chars().take(500).collect();
        let culprits: BTreeSet<NodeId> = culprits
            .iter()
            .copied()
            .filter(|c| rep.helpers.contains(c))
            .collect();
        let blamed = if culprits.is_empty() {
            String::new()
        } else {
            let named: Vec<NodeId> = culprits.iter().copied().collect();
            format!(" (bad sub-shares from node(s) {named:?})")
        };
        rep.last_failure = Some(format!(
            "attempt {attempt} on node {node}: {reason}{blamed}"
        ));
        let text = if attempt >= MAX_REPAIR_ATTEMPTS {
            format!(
                "repair attempt {attempt} of node {} failed on node {node}: {reason}{blamed}; no \
                 attempts left (replace the node again to start over)",
                rep.node_id
            )
        } else {
            rep.attempt = attempt + 1;
            rep.attempt_log_index = at.ctx.log_index;
            rep.helpers = repair_helpers(&vault.committee, rep.node_id, t, rep.attempt, &culprits);
            format!(
                "repair attempt {attempt} of node {} failed on node {node}: {reason}{blamed}; \
                 attempt {} with helpers {:?}",
                rep.node_id, rep.attempt, rep.helpers
            )
        };
        let (org, vault) = (vault.org_id.clone(), vault.clone());
        self.dirty.insert(RecordKey::Vault(vault_id.into()));
        Ok(Some((
            Some(org),
            text,
            ActionResult::Vault {
                vault: Box::new(vault),
            },
        )))
    }
}

/// The helpers of repair attempt `attempt` of `node`: a t-subset of the other committee nodes,
/// one without a blamed node when there is one, rotated by attempt so retries move on.
pub(super) fn repair_helpers(
    committee: &[NodeId],
    node: NodeId,
    t: usize,
    attempt: u32,
    avoid: &BTreeSet<NodeId>,
) -> Vec<NodeId> {
    let mut others: Vec<NodeId> = committee.iter().copied().filter(|n| *n != node).collect();
    others.sort_unstable();
    let all = subsets(&others, t);
    let clean: Vec<&Vec<NodeId>> = all
        .iter()
        .filter(|s| !s.iter().any(|n| avoid.contains(n)))
        .collect();
    let pick: Vec<&Vec<NodeId>> = if clean.is_empty() {
        all.iter().collect()
    } else {
        clean
    };
    let i = (attempt.saturating_sub(1) as usize) % pick.len().max(1);
    pick.get(i).map(|s| (*s).clone()).unwrap_or_default()
}
