//! Proactive refresh of a vault's key shares: started by a governed `vault_refresh` or by the
//! organisation's schedule (`refresh_due` reports, checked against log time), finished when every
//! committee node reported the same new public key material, abandoned when any node fails.
//!
//! Nothing changes for signing until the refresh is done: nodes keep signing with the shares of
//! the current epoch. At completion the epoch moves on, attempts fixed before it are not signed
//! with the new shares, and every presignature pool of the vault starts over (presignatures of
//! the old shares are discarded). Each node deletes its old shares only after
//! [`CustodyState::verify_refresh_completion`] — every committee node's signed report checked
//! against its genesis key (or its replacement's, verified against the genesis admins) — so a
//! forged "done" record cannot make a node throw its shares away.

use super::{ActionResult, At, CustodyState, Exec, RecordKey, ReportResult};
use crate::ids::NodeId;
use crate::types::{OrgId, VaultId};
use crate::{KeyRefresh, RefreshStatus, Report, SignedReport, Vault, VaultStatus};

/// After a failed refresh, the schedule waits this long (log time) before the next try.
pub const REFRESH_RETRY_MS: u64 = 3_600_000;
/// After a failed refresh that removes a node, the next try waits this long (log time).
pub const REMOVAL_RETRY_MS: u64 = 30_000;

impl CustodyState {
    pub(super) fn vault_refresh(
        &mut self,
        x: &Exec<'_>,
        org_id: &OrgId,
        vault_id: &VaultId,
        reason: &str,
    ) -> Result<ActionResult, String> {
        let vault = self.vault_in_org(org_id, vault_id)?;
        Self::refreshable(vault)?;
        let proposal = x
            .adoption
            .as_ref()
            .and_then(|a| a.proposal_id.as_ref())
            .map(|p| format!(" ({p})"))
            .unwrap_or_default();
        let reason = format!("on demand{proposal}: {reason}");
        let vault = self.start_refresh(vault_id, x.ctx.log_index, x.now_ms, reason)?;
        Ok(ActionResult::Vault {
            vault: Box::new(vault),
        })
    }

    fn refreshable(vault: &Vault) -> Result<(), String> {
        if vault.status != VaultStatus::Active {
            return Err(format!("vault '{}' is not active", vault.vault_id));
        }
        if vault.refresh.is_some() {
            return Err(format!(
                "vault '{}' is already being refreshed",
                vault.vault_id
            ));
        }
        if let Some(r) = &vault.repair {
            return Err(format!(
                "vault '{}' is repairing node {}'s shares (a refresh follows it)",
                vault.vault_id, r.node_id
            ));
        }
        Ok(())
    }

    pub(super) fn start_refresh(
        &mut self,
        vault_id: &str,
        log_index: u64,
        now_ms: u64,
        reason: String,
    ) -> Result<Vault, String> {
        let removed: Vec<NodeId> = self.removed_nodes().collect();
        let members = self.members();
        let vault = self
            .vaults
            .get_mut(vault_id)
            .ok_or_else(|| format!("no vault '{vault_id}'"))?;
        let removes: Vec<NodeId> = vault
            .committee
            .iter()
            .copied()
            .filter(|n| removed.contains(n))
            .collect();
        // Added nodes join once their shares were repaired in (no repair under way).
        let adds: Vec<NodeId> = if vault.repair.is_none() {
            members
                .iter()
                .copied()
                .filter(|n| !vault.committee.contains(n))
                .collect()
        } else {
            Vec::new()
        };
        let epoch = vault
            .epoch
            .checked_add(1)
            .ok_or("the vault's epoch is exhausted")?;
        vault.refresh = Some(KeyRefresh {
            epoch,
            started_log_index: log_index,
            started_at_ms: now_ms,
            reason,
            status: RefreshStatus::Running,
            reports: Default::default(),
            removes,
            adds,
        });
        let vault = vault.clone();
        self.dirty.insert(RecordKey::Vault(vault_id.into()));
        Ok(vault)
    }

    /// When the schedule wants the vault's next refresh (log time, ms), if it has one.
    pub fn refresh_due_at(&self, vault: &Vault) -> Option<u64> {
        if vault.status != VaultStatus::Active || vault.refresh.is_some() || vault.repair.is_some()
        {
            return None;
        }
        if let Some(admitted) = self.removal_pending_in(vault) {
            // A removed node is still in the committee: the removal refresh is due at once,
            // and again a short pause after each failure.
            return Some(match &vault.last_refresh {
                Some(KeyRefresh {
                    status: RefreshStatus::Failed { at_ms, .. },
                    ..
                }) if *at_ms > admitted => at_ms.saturating_add(REMOVAL_RETRY_MS),
                _ => admitted,
            });
        }
        let interval = self.orgs.get(&vault.org_id)?.settings.refresh_interval_ms();
        if interval == 0 {
            return None;
        }
        let last_done = match &vault.last_refresh {
            Some(KeyRefresh {
                status: RefreshStatus::Done { at_ms },
                ..
            }) => *at_ms,
            _ => vault.created_at_ms,
        };
        let mut due = last_done.saturating_add(interval);
        if let Some(KeyRefresh {
            status: RefreshStatus::Failed { at_ms, .. },
            ..
        }) = &vault.last_refresh
        {
            due = due.max(at_ms.saturating_add(REFRESH_RETRY_MS.min(interval)));
        }
        Some(due)
    }

    pub(super) fn report_refresh_due(
        &mut self,
        vault_id: &str,
        epoch: u32,
        at: At,
    ) -> ReportResult {
        let Some(vault) = self.vaults.get(vault_id) else {
            return Err(format!("no vault '{vault_id}'"));
        };
        if vault.epoch != epoch {
            return Ok(None);
        }
        match self.refresh_due_at(vault) {
            Some(due) if due <= at.now_ms => {}
            _ => return Ok(None),
        }
        let org = vault.org_id.clone();
        let removed: Vec<NodeId> = vault
            .committee
            .iter()
            .copied()
            .filter(|n| self.is_removed(*n))
            .collect();
        let reason = if removed.is_empty() {
            "scheduled".to_string()
        } else {
            format!("node(s) {removed:?} removed from the network")
        };
        let vault = self.start_refresh(vault_id, at.ctx.log_index, at.now_ms, reason)?;
        Ok(Some((
            Some(org),
            format!("scheduled refresh to epoch {} started", vault.epoch + 1),
            ActionResult::Vault {
                vault: Box::new(vault),
            },
        )))
    }

    pub(super) fn report_vault_refreshed(
        &mut self,
        rep: &SignedReport,
        vault_id: &str,
        (epoch, generation): (u32, u64),
        digest: &str,
        at: At,
    ) -> ReportResult {
        let node = rep.node_id;
        let Some(vault) = self.vaults.get_mut(vault_id) else {
            return Err(format!("no vault '{vault_id}'"));
        };
        // A report counts only for the refresh it was made in (a late report of an abandoned
        // refresh to the same epoch must not count for the next one).
        let Some(refresh) = vault
            .refresh
            .as_mut()
            .filter(|r| r.epoch == epoch && r.started_log_index == generation)
        else {
            return Ok(None);
        };
        let committee = refresh.new_committee(&vault.committee);
        if !committee.contains(&node) || refresh.reports.contains_key(&node) {
            return Ok(None);
        }
        if digest.len() != 64 || hex::decode(digest).is_err() {
            return Err("refresh digest must be 32 bytes of hex".into());
        }
        refresh.reports.insert(node, rep.clone());
        let org = vault.org_id.clone();
        let mut text = format!("node {node} refreshed its shares to epoch {epoch}");
        if refresh.reports.len() == committee.len() {
            let cluster = self.genesis.cluster_id.clone();
            let digests: Vec<Option<String>> = refresh
                .reports
                .values()
                .map(|r| refreshed_digest(r, &cluster))
                .collect();
            let agree = digests.iter().all(|d| d.as_deref() == Some(digest));
            let Some(mut done) = vault.refresh.take() else {
                return Ok(None);
            };
            if agree {
                done.status = RefreshStatus::Done { at_ms: at.now_ms };
                vault.epoch = epoch;
                vault.epoch_log_index = at.ctx.log_index;
                vault.share_generation = done.started_log_index;
                vault.committee = committee;
                text = format!("refresh done: every node holds new shares of epoch {epoch}");
                if !done.removes.is_empty() {
                    text = format!(
                        "{text}; node(s) {:?} left the vault's committee (their shares no longer \
                         fit)",
                        done.removes
                    );
                }
            } else {
                done.status = RefreshStatus::Failed {
                    at_ms: at.now_ms,
                    reason: "nodes reported different new public shares".into(),
                    culprits: Vec::new(),
                };
                text = "refresh failed: the nodes' reports disagree".into();
            }
            vault.last_refresh = Some(done);
            if agree {
                self.restart_pools_of(vault_id, epoch);
            }
        }
        let vault = self.vaults.get(vault_id).cloned();
        self.dirty.insert(RecordKey::Vault(vault_id.into()));
        Ok(vault.map(|vault| {
            (
                Some(org),
                text,
                ActionResult::Vault {
                    vault: Box::new(vault),
                },
            )
        }))
    }

    pub(super) fn report_refresh_failed(
        &mut self,
        node: NodeId,
        vault_id: &str,
        (epoch, generation): (u32, u64),
        reason: &str,
        culprits: &[NodeId],
        at: At,
    ) -> ReportResult {
        let Some(vault) = self.vaults.get_mut(vault_id) else {
            return Err(format!("no vault '{vault_id}'"));
        };
        let this_refresh = |r: &KeyRefresh| r.epoch == epoch && r.started_log_index == generation;
        let party = vault
            .refresh
            .as_ref()
            .filter(|r| this_refresh(r))
            .is_some_and(|r| r.new_committee(&vault.committee).contains(&node));
        if !party {
            return Ok(None);
        }
        let Some(mut failed) = vault.refresh.take() else {
            return Ok(None);
        };
        let reason: String = reason.chars().take(500).collect();
        let culprits: Vec<NodeId> = culprits
            .iter()
            .copied()
            .filter(|c| vault.committee.contains(c))
            .collect();
        failed.status = RefreshStatus::Failed {
            at_ms: at.now_ms,
            reason: format!("node {node}: {reason}"),
            culprits: culprits.clone(),
        };
        vault.last_refresh = Some(failed);
        let (org, vault) = (vault.org_id.clone(), vault.clone());
        self.dirty.insert(RecordKey::Vault(vault_id.into()));
        let blamed = if culprits.is_empty() {
            String::new()
        } else {
            format!(" (bad sub-shares from node(s) {culprits:?})")
        };
        Ok(Some((
            Some(org),
            format!("refresh to epoch {epoch} failed on node {node}: {reason}{blamed}; shares unchanged"),
            ActionResult::Vault {
                vault: Box::new(vault),
            },
        )))
    }

    /// Every presignature pool of the vault's wallets starts over at `epoch`: its scheduled and
    /// ready presignatures (made from the old shares) are dropped, new ones scheduled.
    pub(super) fn restart_pools_of(&mut self, vault_id: &str, epoch: u32) {
        let wallets: Vec<_> = self
            .wallets
            .values()
            .filter(|w| w.vault_id == vault_id)
            .map(|w| w.wallet_id.clone())
            .collect();
        for w in wallets {
            if let Some(pool) = self.presig_pools.get_mut(&w) {
                pool.restart(epoch);
                self.dirty.insert(RecordKey::PresigPool(w));
            }
        }
    }

    /// Whether node `me` may delete its shares of epochs before the vault's current one: the
    /// last refresh is done, made the current epoch, and carries a `vault_refreshed` report from
    /// **every** committee node, each signed by that node's pinned key
    /// ([`CustodyState::pinned_node`]), for this vault and epoch, with the digest this node computed itself. Records one peer handed over (a forged
    /// snapshot, a lying leader) cannot pass this.
    pub fn verify_refresh_completion(
        &self,
        vault_id: &str,
        my_digest: &str,
    ) -> Result<u32, String> {
        let vault = self
            .vaults
            .get(vault_id)
            .ok_or_else(|| format!("no vault '{vault_id}'"))?;
        let done = vault
            .last_refresh
            .as_ref()
            .filter(|r| matches!(r.status, RefreshStatus::Done { .. }) && r.epoch == vault.epoch)
            .ok_or("the vault's last refresh did not make its current epoch")?;
        // A node the refresh dropped must have been removed by the genesis admins, as this
        // node verifies: a forged removal must not make it give up its old shares.
        for node in &done.removes {
            self.verified_removal(*node)?;
        }
        for node in &done.adds {
            self.verified_addition(*node)?;
        }
        for node in &vault.committee {
            let rep = done
                .reports
                .get(node)
                .ok_or_else(|| format!("no refresh report from node {node}"))?;
            if rep.node_id != *node {
                return Err(format!(
                    "the report filed for node {node} is another node's"
                ));
            }
            let key = self.pinned_node(*node)?.identity_key;
            match rep.verify(&self.genesis.cluster_id, &key.0)? {
                Report::VaultRefreshed {
                    vault_id: v,
                    epoch,
                    generation,
                    digest,
                } if v == vault_id
                    && epoch == vault.epoch
                    && generation == vault.share_generation
                    && digest == my_digest => {}
                _ => {
                    return Err(format!(
                        "node {node}'s report is not a refresh of this vault to epoch {} with \
                         the public shares this node holds",
                        vault.epoch
                    ))
                }
            }
        }
        Ok(vault.epoch)
    }

    /// Vaults with a refresh this node must run: (vault, refresh).
    pub fn refreshes_running(&self) -> impl Iterator<Item = (&Vault, &KeyRefresh)> {
        self.vaults
            .values()
            .filter_map(|v| v.refresh.as_ref().map(|r| (v, r)))
    }
}

/// The digest of a `vault_refreshed` report (its signature was checked when it was applied).
fn refreshed_digest(rep: &SignedReport, cluster: &str) -> Option<String> {
    let body: crate::ReportBody = serde_json::from_str(&rep.body).ok()?;
    if body.cluster != cluster {
        return None;
    }
    match body.report {
        Report::VaultRefreshed { digest, .. } => Some(digest),
        _ => None,
    }
}
