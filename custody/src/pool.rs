//! ECDSA presignature pools (decision 0011).

use crate::ids::{presign_session, NodeId};
use crate::types::WalletId;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet, VecDeque};

/// Fewest ECDSA presignatures kept ready (or being made) per ECDSA wallet.
pub const PRESIG_POOL_MIN: usize = 4;
/// Most ECDSA presignatures kept ready (or being made) per ECDSA wallet.
pub const PRESIG_POOL_MAX: usize = 32;
/// A pool holds as many presignatures as its wallet's requests asked for in this much log
/// time before the latest request (at least [`PRESIG_POOL_MIN`], at most [`PRESIG_POOL_MAX`]).
pub const PRESIG_DEMAND_WINDOW_MS: u64 = 10 * 60 * 1000;
/// A FROST pool's nonce pairs are made in blocks of this many consecutive sequence numbers, one
/// preprocessing session each (decision 0034).
pub const FROST_NONCE_BLOCK: u64 = 32;
/// Fewest FROST nonce pairs kept ready (or being made) per FROST wallet: one block.
pub const FROST_POOL_MIN: usize = FROST_NONCE_BLOCK as usize;
/// Most FROST nonce pairs kept ready (or being made) per FROST wallet.
pub const FROST_POOL_MAX: usize = 256;
/// Consecutive presigning failures after which a pool stops refilling until its wallet's next
/// request (so a node that is down does not cause endless failing sessions).
pub const PRESIG_MAX_FAILURES: u32 = 3;

/// A wallet's pool of ECDSA presignatures (decision 0011). Each presignature is made by the
/// pool's signer set for the wallet's key *and HD path*, fixed when the wallet was created
/// (RUSTSEC-2025-0127), and is identified by a sequence number that is never reused. It
/// becomes usable once every signer reported it stored; an attempt that uses it removes it
/// here, in the log, before any partial signature exists (invariant 4), and each signer takes
/// it out of its share store (flushed) before issuing its partial.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PresigPool {
    /// Wallet.
    pub wallet_id: WalletId,
    /// The t nodes that make and use this pool's presignatures (sorted).
    pub signers: Vec<NodeId>,
    /// Next sequence number to schedule.
    pub next_seq: u64,
    /// Scheduled presignatures and the signers that reported them stored so far.
    pub generating: BTreeMap<u64, BTreeSet<NodeId>>,
    /// Presignatures every signer holds, not yet used.
    pub ready: BTreeSet<u64>,
    /// How many were used by signing attempts.
    pub used: u64,
    /// Failed presigning sessions since the last success or request.
    pub failures_in_row: u32,
    /// The vault's key-share epoch these presignatures are made from.
    #[serde(default)]
    pub epoch: u32,
    /// Log time of each presignature the wallet's recent requests asked for (one entry per
    /// message to sign, whether the pool had it or not; at most [`PRESIG_POOL_MAX`], those older
    /// than [`PRESIG_DEMAND_WINDOW_MS`] before the latest request dropped).
    #[serde(default)]
    pub demand: VecDeque<u64>,
    /// Presignatures to keep ready or being made: the recent demand, within
    /// [`PRESIG_POOL_MIN`]..=[`PRESIG_POOL_MAX`].
    #[serde(default = "min_target")]
    pub target: usize,
    /// A FROST wallet's pool (decision 0034): each "presignature" is one nonce pair per signer
    /// with every signer's commitment, made in blocks of [`FROST_NONCE_BLOCK`] sequence numbers
    /// (one preprocessing session and one report per signer per block), so that signing with
    /// it is one online round. False: an ECDSA presignature pool.
    #[serde(default)]
    pub frost: bool,
}

fn min_target() -> usize {
    PRESIG_POOL_MIN
}

impl PresigPool {
    /// A pool for `wallet_id` made by `signers`, with its first presignatures scheduled.
    pub fn new(wallet_id: &str, signers: Vec<NodeId>) -> Self {
        let mut p = PresigPool {
            wallet_id: wallet_id.into(),
            signers,
            next_seq: 0,
            generating: BTreeMap::new(),
            ready: BTreeSet::new(),
            used: 0,
            failures_in_row: 0,
            epoch: 0,
            demand: VecDeque::new(),
            target: PRESIG_POOL_MIN,
            frost: false,
        };
        p.top_up();
        p
    }

    /// A FROST wallet's nonce pool for `wallet_id`, made by `signers`, with its first block
    /// scheduled (decision 0034).
    pub fn new_frost(wallet_id: &str, signers: Vec<NodeId>) -> Self {
        let mut p = PresigPool::new(wallet_id, signers);
        p.frost = true;
        p.generating.clear();
        p.next_seq = 0;
        p.target = FROST_POOL_MIN;
        p.top_up();
        p
    }

    /// Fewest and most entries this pool keeps ready or being made.
    fn bounds(&self) -> (usize, usize) {
        if self.frost {
            (FROST_POOL_MIN, FROST_POOL_MAX)
        } else {
            (PRESIG_POOL_MIN, PRESIG_POOL_MAX)
        }
    }

    /// The block of a FROST pool that sequence number `seq` belongs to: its first sequence
    /// number and length (an ECDSA pool's "block" is the one presignature).
    pub fn block_of(&self, seq: u64) -> (u64, u64) {
        if self.frost {
            (seq - seq % FROST_NONCE_BLOCK, FROST_NONCE_BLOCK)
        } else {
            (seq, 1)
        }
    }

    /// Schedules presignatures up to the target, unless paused by failures.
    pub fn top_up(&mut self) {
        if self.failures_in_row >= PRESIG_MAX_FAILURES {
            return;
        }
        let (min, max) = self.bounds();
        let target = self.target.clamp(min, max);
        let (_, block) = self.block_of(self.next_seq);
        // A FROST pool schedules whole blocks, aligned to the block size.
        if self.next_seq % block != 0 {
            self.next_seq += block - self.next_seq % block;
        }
        while self.ready.len() + self.generating.len() < target {
            for _ in 0..block {
                self.generating.insert(self.next_seq, BTreeSet::new());
                self.next_seq += 1;
            }
        }
    }

    /// Starts over after a refresh of the vault's shares to `epoch`: every scheduled or ready
    /// presignature (made from the old shares) is dropped; new ones are scheduled under new
    /// sequence numbers.
    pub fn restart(&mut self, epoch: u32) {
        self.generating.clear();
        self.ready.clear();
        self.failures_in_row = 0;
        self.epoch = epoch;
        self.top_up();
    }

    /// A request for `messages` signatures arrived at log time `now_ms`: the pool's target
    /// becomes the number asked for in the last [`PRESIG_DEMAND_WINDOW_MS`] (a wallet that
    /// signs often keeps more ready, an idle one the minimum). Does not schedule; see
    /// [`PresigPool::top_up`].
    pub fn note_demand(&mut self, now_ms: u64, messages: usize) {
        let (min, max) = self.bounds();
        for _ in 0..messages.min(max) {
            self.demand.push_back(now_ms);
        }
        let cutoff = now_ms.saturating_sub(PRESIG_DEMAND_WINDOW_MS);
        while self.demand.len() > max || self.demand.front().is_some_and(|t| *t < cutoff) {
            self.demand.pop_front();
        }
        self.target = self.demand.len().clamp(min, max);
    }

    /// Removes and returns `n` usable presignatures (lowest first), or none if fewer are ready.
    pub fn take(&mut self, n: usize) -> Vec<u64> {
        if n == 0 || self.ready.len() < n {
            return Vec::new();
        }
        let seqs: Vec<u64> = self.ready.iter().take(n).copied().collect();
        for s in &seqs {
            self.ready.remove(s);
        }
        self.used += seqs.len() as u64;
        seqs
    }

    /// Session id of presignature `seq`.
    pub fn session_id(&self, cluster_id: &str, seq: u64) -> crate::ids::SessionId {
        presign_session(cluster_id, &self.wallet_id, &self.signers, seq)
    }

    /// Share-store key under which each signer keeps presignature `seq`.
    pub fn store_key(&self, seq: u64) -> String {
        presig_store_key(&self.wallet_id, seq)
    }
}

/// Share-store key of presignature `seq` of `wallet_id`'s pool.
pub fn presig_store_key(wallet_id: &str, seq: u64) -> String {
    format!("presig/{wallet_id}/{seq}")
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIN: u64 = 60_000;

    #[test]
    fn the_pool_follows_the_demand_of_the_last_ten_minutes_within_its_bounds() {
        let mut p = PresigPool::new("w", vec![1, 2]);
        assert_eq!(
            (p.target, p.generating.len()),
            (PRESIG_POOL_MIN, PRESIG_POOL_MIN)
        );
        // Ten single-message requests one minute apart: the target grows to ten, and the pool
        // schedules up to it (three ready ones count).
        for i in 0..10 {
            p.note_demand(i * MIN, 1);
        }
        assert_eq!(p.target, 10);
        p.ready.extend([100, 101, 102]);
        p.top_up();
        assert_eq!(p.ready.len() + p.generating.len(), 10);
        // Eleven minutes of quiet, then one request: only it is recent; back to the minimum.
        p.note_demand(20 * MIN, 1);
        assert_eq!(p.target, PRESIG_POOL_MIN);
        // Nothing already scheduled or made is dropped; nothing more is scheduled.
        let before = p.ready.len() + p.generating.len();
        p.top_up();
        assert_eq!(p.ready.len() + p.generating.len(), before);
        // A Bitcoin transaction with 100 inputs counts as 100, but the pool stops at the maximum
        // and remembers no more than that many.
        p.note_demand(21 * MIN, 100);
        assert_eq!(p.target, PRESIG_POOL_MAX);
        assert_eq!(p.demand.len(), PRESIG_POOL_MAX);
        p.generating.clear();
        p.ready.clear();
        p.top_up();
        assert_eq!(p.generating.len(), PRESIG_POOL_MAX);
    }

    #[test]
    fn a_pool_stored_before_demand_sizing_reads_with_the_minimum_target() {
        #[derive(Serialize)]
        struct Old {
            wallet_id: String,
            signers: Vec<NodeId>,
            next_seq: u64,
            generating: BTreeMap<u64, BTreeSet<NodeId>>,
            ready: BTreeSet<u64>,
            used: u64,
            failures_in_row: u32,
        }
        let old = Old {
            wallet_id: "w".into(),
            signers: vec![1, 2],
            next_seq: 4,
            generating: BTreeMap::new(),
            ready: [0, 1, 2, 3].into(),
            used: 0,
            failures_in_row: 0,
        };
        let json = serde_json::to_vec(&old).unwrap();
        let p: PresigPool = serde_json::from_slice(&json).unwrap();
        assert_eq!(p.target, PRESIG_POOL_MIN);
        assert!(p.demand.is_empty());
    }
}
