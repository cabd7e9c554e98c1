//! ECDSA presignature pools: their signer sets, the signers' reports, and the work they ask
//! of a node.

use super::{ActionResult, CustodyState, RecordKey, ReportResult};
use crate::ids::{subsets, NodeId};
use crate::types::OrgId;
use crate::PresigPool;

impl CustodyState {
    /// The signer set of a new ECDSA wallet's presignature pool: one t-subset of the committee
    /// chosen by the wallet id, so pools spread over the nodes.
    pub(super) fn pool_signers(&self, wallet_id: &str) -> Vec<NodeId> {
        use sha2::{Digest, Sha256};
        let committee = self.members();
        let all = subsets(&committee, usize::from(self.genesis.threshold));
        let h = Sha256::digest(wallet_id.as_bytes());
        let mut first = [0u8; 8];
        first.copy_from_slice(&h[..8]);
        let i = (u64::from_be_bytes(first) % all.len().max(1) as u64) as usize;
        all.get(i).cloned().unwrap_or_default()
    }

    /// A signer stored presignature `seq` — for a FROST pool, the whole nonce block that starts
    /// at `seq` (decision 0034; a `seq` that does not start a block changes nothing).
    pub(super) fn report_presig_ready(
        &mut self,
        node: NodeId,
        wallet_id: &str,
        seq: &u64,
    ) -> ReportResult {
        let (org, pool) = self.pool_of(wallet_id)?;
        if !pool.signers.contains(&node) {
            return Err(format!("node {node} is not a signer of this pool"));
        }
        let (first, len) = pool.block_of(*seq);
        if first != *seq {
            return Ok(None);
        }
        let mut changed = false;
        let mut now_ready = 0;
        for s in first..first + len {
            let Some(reported) = pool.generating.get_mut(&s) else {
                continue;
            };
            if !reported.insert(node) {
                continue;
            }
            changed = true;
            if reported.len() == pool.signers.len() {
                pool.generating.remove(&s);
                pool.ready.insert(s);
                now_ready += 1;
            }
        }
        if !changed {
            return Ok(None);
        }
        let what = if pool.frost {
            "nonce block"
        } else {
            "presignature"
        };
        let text = if now_ready > 0 {
            pool.failures_in_row = 0;
            format!("{what} {seq} ready ({} ready)", pool.ready.len())
        } else {
            format!("node {node} stored {what} {seq}")
        };
        let pool = pool.clone();
        self.dirty.insert(RecordKey::PresigPool(wallet_id.into()));
        Ok(Some((Some(org), text, ActionResult::PresigPool { pool })))
    }

    /// Presignature `seq` (for a FROST pool, the nonce block starting at `seq`) could not be
    /// made on `node`: it is dropped, and the pool schedules new sequence numbers.
    pub(super) fn report_presig_failed(
        &mut self,
        node: NodeId,
        wallet_id: &str,
        seq: &u64,
        reason: &str,
    ) -> ReportResult {
        let (org, pool) = self.pool_of(wallet_id)?;
        let (first, len) = pool.block_of(*seq);
        if !pool.signers.contains(&node) || first != *seq {
            return Ok(None);
        }
        let dropped = (first..first + len)
            .filter(|s| pool.generating.remove(s).is_some())
            .count();
        if dropped == 0 {
            return Ok(None);
        }
        pool.failures_in_row += 1;
        pool.top_up();
        let reason: String = reason.chars().take(500).collect();
        let what = if pool.frost {
            "nonce block"
        } else {
            "presignature"
        };
        let text = format!("{what} {seq} failed on node {node}: {reason}");
        let pool = pool.clone();
        self.dirty.insert(RecordKey::PresigPool(wallet_id.into()));
        Ok(Some((Some(org), text, ActionResult::PresigPool { pool })))
    }

    /// A wallet's organisation and presignature pool (for a pool report).
    fn pool_of(&mut self, wallet_id: &str) -> Result<(OrgId, &mut PresigPool), String> {
        let org = self
            .wallets
            .get(wallet_id)
            .map(|w| w.org_id.clone())
            .ok_or_else(|| format!("no wallet '{wallet_id}'"))?;
        let pool = self
            .presig_pools
            .get_mut(wallet_id)
            .ok_or_else(|| format!("wallet '{wallet_id}' has no presignature pool"))?;
        Ok((org, pool))
    }

    /// Every presignature pool, by wallet id.
    pub fn presig_pools(&self) -> impl Iterator<Item = &PresigPool> {
        self.presig_pools.values()
    }

    /// The numbers of `wallet_id`'s pool a signer may still need — ready, being made, or named
    /// by the current attempt of a request still signing — and the pool's next number. A
    /// share-store record of any other number below it is never used again (numbers are not
    /// reused): a node may delete it.
    pub fn pool_seqs_in_use(
        &self,
        wallet_id: &str,
    ) -> Option<(std::collections::BTreeSet<u64>, u64)> {
        let pool = self.presig_pools.get(wallet_id)?;
        let mut in_use: std::collections::BTreeSet<u64> = pool
            .ready
            .iter()
            .chain(pool.generating.keys())
            .copied()
            .collect();
        for r in self.requests.values() {
            if r.wallet_id != wallet_id || r.status != crate::RequestStatus::Signing {
                continue;
            }
            if let Some(a) = r.current_attempt() {
                in_use.extend(a.presignatures.iter().copied());
            }
        }
        Some((in_use, pool.next_seq))
    }

    /// A wallet's presignature pool.
    pub fn presig_pool(&self, wallet_id: &str) -> Option<&PresigPool> {
        self.presig_pools.get(wallet_id)
    }

    /// ECDSA presignatures `node` should make: `(pool, seq)` for every scheduled one it has not
    /// reported, lowest first (so every signer runs them in the same order).
    pub fn presig_work(&self, node: NodeId) -> Vec<(PresigPool, u64)> {
        let mut out = Vec::new();
        for pool in self.presig_pools.values() {
            if pool.frost || !pool.signers.contains(&node) {
                continue;
            }
            for (seq, reported) in &pool.generating {
                if !reported.contains(&node) {
                    out.push((pool.clone(), *seq));
                }
            }
        }
        out
    }
}
