//! ECDSA presignature pools (decision 0011).

use crate::ids::{presign_session, NodeId};
use crate::types::WalletId;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};

/// ECDSA presignatures kept ready per ECDSA wallet (for the wallet's pool signer set).
pub const PRESIG_POOL_TARGET: usize = 4;
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
        };
        p.top_up();
        p
    }

    /// Schedules presignatures up to the target, unless paused by failures.
    pub fn top_up(&mut self) {
        if self.failures_in_row >= PRESIG_MAX_FAILURES {
            return;
        }
        while self.ready.len() + self.generating.len() < PRESIG_POOL_TARGET {
            self.generating.insert(self.next_seq, BTreeSet::new());
            self.next_seq += 1;
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
