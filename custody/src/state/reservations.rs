//! Spend reservations by vault, for spending windows in logarithmic time.
//!
//! A limit check sums, per asset, what the vault's requests `signing` or `signed` reserved in a
//! window of log time (decision 0012). Scanning them costs the requests in the window — with a
//! daily limit at a few hundred signatures a second, every request of the day, on every node,
//! for every request and every signer's re-check. Here each vault keeps its reservations in
//! (log time, request log index) order with, per asset, a Fenwick tree of the amounts: a
//! window's sum is two prefix sums. Sums are 256-bit, so no number of `u128` amounts can wrap.
//!
//! Reservations arrive in order almost always (log time only moves forward); one that does not
//! — two in the same millisecond, the later-created one reserved first — is inserted in place
//! and the vault's trees rebuilt. A released reservation leaves a zero slot until then.

use crate::types::{RequestId, VaultId};
use crate::Request;
use std::collections::BTreeMap;

/// Where a reservation sits: (log time it was reserved at, the request's log position
/// (`requests::log_position`), request).
pub(super) type Key = (u64, u64, RequestId);

/// Every vault's reservations.
#[derive(Debug, Clone, Default)]
pub(super) struct Reservations {
    vaults: BTreeMap<VaultId, Ledger>,
}

/// One vault's reservations, in key order.
#[derive(Debug, Clone, Default)]
struct Ledger {
    keys: Vec<Key>,
    /// What each slot reserved, per asset (empty once released).
    amounts: Vec<Vec<(String, u128)>>,
    /// The slot of each live reservation.
    slot: BTreeMap<RequestId, usize>,
    /// Per asset, a Fenwick tree over the slots.
    sums: BTreeMap<String, Fenwick>,
}

impl Ledger {
    /// Appends a slot (`key` after every key held).
    fn push(&mut self, key: Key, amounts: Vec<(String, u128)>) {
        let slot = self.keys.len();
        for (asset, _) in &amounts {
            if !self.sums.contains_key(asset) {
                self.sums.insert(asset.clone(), Fenwick::zeros(slot));
            }
        }
        for (asset, f) in &mut self.sums {
            f.push(amounts.iter().find(|(a, _)| a == asset).map_or(0, |x| x.1));
        }
        self.slot.insert(key.2.clone(), slot);
        self.keys.push(key);
        self.amounts.push(amounts);
    }
}

/// Two equal indexes hold the same live reservations (slots and released ones may differ).
impl PartialEq for Reservations {
    fn eq(&self, other: &Self) -> bool {
        self.live().eq(other.live())
    }
}
impl Eq for Reservations {}

impl Reservations {
    /// Live reservations in order: (vault, key, amounts).
    fn live(&self) -> impl Iterator<Item = (&VaultId, &Key, &Vec<(String, u128)>)> {
        self.vaults.iter().flat_map(|(v, l)| {
            l.keys
                .iter()
                .zip(&l.amounts)
                .enumerate()
                .filter(|(i, (k, a))| !a.is_empty() && l.slot.get(&k.2) == Some(i))
                .map(move |(_, (k, a))| (v, k, a))
        })
    }

    /// The key `req` is reserved at in `vault`, if it is.
    pub(super) fn key_of(&self, vault: &VaultId, req: &RequestId) -> Option<&Key> {
        let l = self.vaults.get(vault)?;
        l.slot.get(req).and_then(|s| l.keys.get(*s))
    }

    /// Whether no vault holds a live reservation.
    #[cfg(test)]
    pub(super) fn is_empty(&self) -> bool {
        self.vaults.values().all(|l| l.slot.is_empty())
    }

    /// Drops `req`'s reservation, if it has one.
    pub(super) fn release(&mut self, vault: &VaultId, req: &RequestId) {
        let Some(l) = self.vaults.get_mut(vault) else {
            return;
        };
        let Some(slot) = l.slot.remove(req) else {
            return;
        };
        let amounts = std::mem::take(&mut l.amounts[slot]);
        for (asset, amount) in amounts {
            if let Some(f) = l.sums.get_mut(&asset) {
                f.sub(slot, amount);
            }
        }
        if l.slot.is_empty() {
            self.vaults.remove(vault);
        }
    }

    /// Records `req`'s reservation at `key` (released first if it had one).
    pub(super) fn reserve(&mut self, vault: &VaultId, key: Key, req: &Request) {
        let amounts: Vec<(String, u128)> = req
            .intent
            .assets_spent()
            .into_iter()
            .map(|a| {
                let n = req.intent.spend_in(&a);
                (a, n)
            })
            .collect();
        self.reserve_amounts(vault, key, amounts);
    }

    /// Records a reservation of `amounts` at `key` (the request's earlier one released first).
    fn reserve_amounts(&mut self, vault: &VaultId, key: Key, amounts: Vec<(String, u128)>) {
        self.release(vault, &key.2);
        let l = self.vaults.entry(vault.clone()).or_default();
        if l.keys.last().is_none_or(|last| *last < key) {
            l.push(key, amounts);
        } else {
            // Out of order: insert in place, keep only live slots, rebuild.
            let mut live: Vec<(Key, Vec<(String, u128)>)> = l
                .keys
                .drain(..)
                .zip(l.amounts.drain(..))
                .filter(|(k, a)| !a.is_empty() && l.slot.contains_key(&k.2))
                .collect();
            let at = live.partition_point(|(k, _)| *k < key);
            live.insert(at, (key, amounts));
            l.slot.clear();
            l.sums.clear();
            for (k, a) in live {
                l.push(k, a);
            }
        }
    }

    /// What the vault's live reservations in a window reserved of `asset`, leaving out `skip`'s.
    /// The window is given by two predicates, each true for a prefix of the key order:
    /// `before_start(k)` for the keys before the window, `in_reach(k)` for those up to its end.
    pub(super) fn sum(
        &self,
        vault: &VaultId,
        asset: &str,
        before_start: impl Fn(&Key) -> bool,
        in_reach: impl Fn(&Key) -> bool,
        skip: &RequestId,
    ) -> u128 {
        let Some(l) = self.vaults.get(vault) else {
            return 0;
        };
        let Some(f) = l.sums.get(asset) else {
            return 0;
        };
        let start = l.keys.partition_point(|k| before_start(k));
        let end = l.keys.partition_point(|k| in_reach(k));
        if start >= end {
            return 0;
        }
        let mut total = f.prefix(end).wrapping_sub(f.prefix(start));
        if let Some(&s) = l.slot.get(skip) {
            if (start..end).contains(&s) {
                let own = l.amounts[s]
                    .iter()
                    .find(|(a, _)| a == asset)
                    .map_or(0, |x| x.1);
                total = total.wrapping_sub(U256::from(own));
            }
        }
        total.saturating_u128()
    }
}

/// A 256-bit unsigned number (high, low), wrapping: enough for any sum of `u128` amounts.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct U256(u128, u128);

impl From<u128> for U256 {
    fn from(n: u128) -> Self {
        U256(0, n)
    }
}

impl U256 {
    fn wrapping_add(self, o: U256) -> U256 {
        let (lo, carry) = self.1.overflowing_add(o.1);
        U256(self.0.wrapping_add(o.0).wrapping_add(u128::from(carry)), lo)
    }

    fn wrapping_sub(self, o: U256) -> U256 {
        let (lo, borrow) = self.1.overflowing_sub(o.1);
        U256(
            self.0.wrapping_sub(o.0).wrapping_sub(u128::from(borrow)),
            lo,
        )
    }

    fn saturating_u128(self) -> u128 {
        if self.0 == 0 {
            self.1
        } else {
            u128::MAX
        }
    }
}

/// A Fenwick (binary indexed) tree of 256-bit sums over slots 0.., growing at the end.
#[derive(Debug, Clone, Default)]
struct Fenwick {
    /// 1-based: `tree[i - 1]` holds the sum of slots `(i - lowbit(i), i]` (1-based).
    tree: Vec<U256>,
}

fn lowbit(i: usize) -> usize {
    i & i.wrapping_neg()
}

impl Fenwick {
    fn zeros(n: usize) -> Fenwick {
        Fenwick {
            tree: vec![U256::default(); n],
        }
    }

    /// Sum of slots `0..n`.
    fn prefix(&self, n: usize) -> U256 {
        let mut i = n.min(self.tree.len());
        let mut s = U256::default();
        while i > 0 {
            s = s.wrapping_add(self.tree[i - 1]);
            i -= lowbit(i);
        }
        s
    }

    /// Appends a slot holding `n`.
    fn push(&mut self, n: u128) {
        let i = self.tree.len() + 1;
        // Node i covers (i - lowbit(i), i]: the new value plus slots i - lowbit(i) + 1 .. i - 1.
        let below = self.prefix(i - 1).wrapping_sub(self.prefix(i - lowbit(i)));
        self.tree.push(U256::from(n).wrapping_add(below));
    }

    /// Takes `n` off slot `slot`.
    fn sub(&mut self, slot: usize, n: u128) {
        let mut i = slot + 1;
        while i <= self.tree.len() {
            self.tree[i - 1] = self.tree[i - 1].wrapping_sub(U256::from(n));
            i += lowbit(i);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Reservations made out of order (as two in one millisecond can be), released and made
    /// again: every window's sum is what a plain list gives.
    #[test]
    fn sums_match_a_plain_list_whatever_the_order_of_reservations_and_releases() {
        let mut r = Reservations::default();
        let vault = VaultId::from("v");
        let mut plain: BTreeMap<Key, u128> = BTreeMap::new();
        let mut x: u64 = 11;
        let mut next = |n: u64| {
            x = x.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
            (x >> 33) % n
        };
        for step in 0..400u64 {
            let id = RequestId::from(format!("req-{}", next(60)).as_str());
            let old = plain.keys().find(|k| k.2 == id).cloned();
            if next(4) == 0 {
                r.release(&vault, &id);
                if let Some(k) = old {
                    plain.remove(&k);
                }
            } else {
                // Times cluster, so that equal times with any log index order are common.
                let key = (step / 3 + next(3), next(100), id);
                let amount = u128::from(next(1000)) + 1;
                r.reserve_amounts(&vault, key.clone(), vec![("SOL".into(), amount)]);
                if let Some(k) = old {
                    plain.remove(&k);
                }
                plain.insert(key, amount);
            }
            for (from, to) in [
                (0, step / 3 + 3),
                (step / 6, step / 3),
                (step / 3, step / 3),
            ] {
                let skip = RequestId::from("req-7");
                let want: u128 = plain
                    .iter()
                    .filter(|(k, _)| k.0 > from && k.0 <= to && k.2 != skip)
                    .map(|(_, a)| a)
                    .sum();
                let got = r.sum(&vault, "SOL", |k| k.0 <= from, |k| k.0 <= to, &skip);
                assert_eq!(got, want, "step {step}, window ({from}, {to}]");
            }
        }
        assert_eq!(r.sum(&vault, "ETH", |_| false, |_| true, &"x".into()), 0);
    }

    #[test]
    fn fenwick_prefix_sums_match_a_plain_sum_through_appends_and_removals() {
        let mut f = Fenwick::default();
        let mut plain: Vec<u128> = Vec::new();
        for i in 0..200u128 {
            let n = (i * 7919) % 1000 + u128::from(i % 3 == 0) * u128::MAX / 2;
            f.push(n);
            plain.push(n);
            if i % 5 == 0 {
                let s = (i as usize * 31) % plain.len();
                f.sub(s, plain[s]);
                plain[s] = 0;
            }
            for n in [0, plain.len() / 3, plain.len()] {
                let want = plain[..n]
                    .iter()
                    .fold(U256::default(), |a, x| a.wrapping_add(U256::from(*x)));
                assert_eq!(f.prefix(n), want, "prefix {n} after {i}");
            }
        }
        // Sums beyond u128 do not wrap: they saturate when read.
        assert_eq!(f.prefix(plain.len()).saturating_u128(), u128::MAX);
    }
}
