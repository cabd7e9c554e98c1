//! The records the store persists, one per key, and the state rebuilt from them.

use super::{ActionResult, CustodyState, GenesisParams, IdempotencyRecord};
use crate::audit::AuditEntry;
use crate::org::{Member, Org};
use crate::types::{OrgId, ProposalId, RequestId, UserId, UserKey, VaultId, WalletId};
use crate::{AddressBookEntry, Policy, PresigPool, Request, Vault, Wallet};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

/// A record the store persists; [`CustodyState::take_dirty`] lists the changed ones.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub enum RecordKey {
    /// An organisation.
    Org(OrgId),
    /// A member.
    Member(OrgId, UserId),
    /// An idempotency record.
    Idempotency(UserKey, String),
    /// An audit entry.
    Audit(u64),
    /// A vault.
    Vault(VaultId),
    /// A wallet.
    Wallet(WalletId),
    /// An address-book entry.
    AddressBook(OrgId, String, String, String),
    /// A vault's policy.
    Policy(VaultId),
    /// A request.
    Request(RequestId),
    /// A wallet's presignature pool.
    PresigPool(WalletId),
    /// The committee's aux-info record.
    Aux,
    /// A governance proposal.
    Proposal(ProposalId),
    /// The amount fixed for a Bitcoin output (`txid:vout`).
    BtcInput(String),
    /// A token in an organisation's asset registry (organisation, symbol).
    Asset(OrgId, String),
    /// A node replacement (node id, replacement number).
    Replacement(crate::ids::NodeId, u32),
    /// A node removal (node id).
    Removal(crate::ids::NodeId),
    /// A node addition (node id).
    Addition(crate::ids::NodeId),
}

/// A record's value, as persisted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum RecordValue {
    /// An organisation.
    Org(Org),
    /// A member.
    Member(Member),
    /// An idempotency record.
    Idempotency(Box<IdempotencyRecord>),
    /// An audit entry.
    Audit(AuditEntry),
    /// A vault.
    Vault(Box<Vault>),
    /// A wallet.
    Wallet(Wallet),
    /// An address-book entry.
    AddressBook(AddressBookEntry),
    /// A policy.
    Policy(Policy),
    /// A request.
    Request(Box<Request>),
    /// A presignature pool.
    PresigPool(PresigPool),
    /// The aux-info record.
    Aux(crate::AuxRecord),
    /// A governance proposal.
    Proposal(Box<crate::Proposal>),
    /// The amount fixed for a Bitcoin output.
    BtcInput(crate::request::InputClaim),
    /// A registered token.
    Asset(crate::Asset),
    /// A node replacement.
    Replacement(Box<crate::membership::NodeReplacement>),
    /// A node removal.
    Removal(Box<crate::membership::NodeRemoval>),
    /// A node addition.
    Addition(Box<crate::membership::NodeAddition>),
}

impl CustodyState {
    /// Records changed since the last call, in key order.
    pub fn take_dirty(&mut self) -> BTreeSet<RecordKey> {
        std::mem::take(&mut self.dirty)
    }

    /// The current value of a record (`None` if it was deleted).
    pub fn record(&self, key: &RecordKey) -> Option<RecordValue> {
        match key {
            RecordKey::Org(id) => self.orgs.get(id).cloned().map(RecordValue::Org),
            RecordKey::Member(o, u) => self
                .members
                .get(&(o.clone(), u.clone()))
                .cloned()
                .map(RecordValue::Member),
            RecordKey::Idempotency(k, i) => self
                .idempotency
                .get(&(*k, i.clone()))
                .cloned()
                .map(|r| RecordValue::Idempotency(Box::new(r))),
            RecordKey::Audit(seq) => usize::try_from(*seq)
                .ok()
                .and_then(|i| self.audit.get(i))
                .cloned()
                .map(RecordValue::Audit),
            RecordKey::Vault(id) => self
                .vaults
                .get(id)
                .cloned()
                .map(|v| RecordValue::Vault(Box::new(v))),
            RecordKey::Wallet(id) => self.wallets.get(id).cloned().map(RecordValue::Wallet),
            RecordKey::AddressBook(o, c, n, a) => self
                .address_book
                .get(&(o.clone(), c.clone(), n.clone(), a.clone()))
                .cloned()
                .map(RecordValue::AddressBook),
            RecordKey::Policy(id) => self
                .policies
                .get(id)
                .map(|p| RecordValue::Policy((**p).clone())),
            RecordKey::Request(id) => self
                .requests
                .get(id)
                .cloned()
                .map(|r| RecordValue::Request(Box::new(r))),
            RecordKey::PresigPool(id) => self
                .presig_pools
                .get(id)
                .cloned()
                .map(RecordValue::PresigPool),
            RecordKey::Aux => Some(RecordValue::Aux(self.aux.clone())),
            RecordKey::Proposal(id) => self
                .proposals
                .get(id)
                .cloned()
                .map(|p| RecordValue::Proposal(Box::new(p))),
            RecordKey::BtcInput(op) => self.btc_inputs.get(op).cloned().map(RecordValue::BtcInput),
            RecordKey::Asset(o, sym) => self
                .assets
                .get(&(o.clone(), sym.clone()))
                .cloned()
                .map(RecordValue::Asset),
            RecordKey::Replacement(n, r) => self
                .replacements
                .get(&(*n, *r))
                .cloned()
                .map(|x| RecordValue::Replacement(Box::new(x))),
            RecordKey::Removal(n) => self
                .removals
                .get(n)
                .cloned()
                .map(|x| RecordValue::Removal(Box::new(x))),
            RecordKey::Addition(n) => self
                .additions
                .get(n)
                .cloned()
                .map(|x| RecordValue::Addition(Box::new(x))),
        }
    }

    /// Keys of every record the state holds, in order (used to write a whole snapshot).
    pub fn record_keys(&self) -> Vec<RecordKey> {
        let orgs = self.orgs.keys().map(|k| RecordKey::Org(k.clone()));
        let members = self
            .members
            .keys()
            .map(|(o, u)| RecordKey::Member(o.clone(), u.clone()));
        let idem = self
            .idempotency
            .keys()
            .map(|(k, i)| RecordKey::Idempotency(*k, i.clone()));
        let audit = self.audit.iter().map(|e| RecordKey::Audit(e.seq));
        let vaults = self.vaults.keys().map(|k| RecordKey::Vault(k.clone()));
        let wallets = self.wallets.keys().map(|k| RecordKey::Wallet(k.clone()));
        let book = self
            .address_book
            .keys()
            .map(|(o, c, n, a)| RecordKey::AddressBook(o.clone(), c.clone(), n.clone(), a.clone()));
        let policies = self.policies.keys().map(|k| RecordKey::Policy(k.clone()));
        let requests = self.requests.keys().map(|k| RecordKey::Request(k.clone()));
        let pools = self
            .presig_pools
            .keys()
            .map(|k| RecordKey::PresigPool(k.clone()));
        let proposals = self
            .proposals
            .keys()
            .map(|k| RecordKey::Proposal(k.clone()));
        let inputs = self
            .btc_inputs
            .keys()
            .map(|k| RecordKey::BtcInput(k.clone()));
        orgs.chain(members)
            .chain(idem)
            .chain(audit)
            .chain(vaults)
            .chain(wallets)
            .chain(book)
            .chain(policies)
            .chain(requests)
            .chain(pools)
            .chain(proposals)
            .chain(inputs)
            .chain(
                self.assets
                    .keys()
                    .map(|(o, sym)| RecordKey::Asset(o.clone(), sym.clone())),
            )
            .chain(
                self.replacements
                    .keys()
                    .map(|(n, r)| RecordKey::Replacement(*n, *r)),
            )
            .chain(self.removals.keys().map(|n| RecordKey::Removal(*n)))
            .chain(self.additions.keys().map(|n| RecordKey::Addition(*n)))
            .chain(std::iter::once(RecordKey::Aux))
            .collect()
    }

    /// Rebuilds a state from persisted records. Audit entries must be contiguous from 0.
    pub fn from_records(
        genesis: GenesisParams,
        last_timestamp_ms: u64,
        records: impl IntoIterator<Item = (RecordKey, RecordValue)>,
    ) -> Result<Self, String> {
        let mut s = CustodyState::new(genesis);
        s.last_timestamp_ms = last_timestamp_ms;
        let mut audit = BTreeMap::new();
        for (key, value) in records {
            match (key, value) {
                (RecordKey::Org(id), RecordValue::Org(o)) if id == o.org_id => {
                    s.orgs.insert(id, o);
                }
                (RecordKey::Member(o, u), RecordValue::Member(m))
                    if o == m.org_id && u == m.user_id =>
                {
                    s.members.insert((o, u), m);
                }
                (RecordKey::Idempotency(k, i), RecordValue::Idempotency(rec)) => {
                    s.idempotency.insert((k, i), *rec);
                }
                (RecordKey::Audit(seq), RecordValue::Audit(a)) if seq == a.seq => {
                    audit.insert(seq, a);
                }
                (RecordKey::Vault(id), RecordValue::Vault(v)) if id == v.vault_id => {
                    s.vaults.insert(id, *v);
                }
                (RecordKey::Wallet(id), RecordValue::Wallet(w)) if id == w.wallet_id => {
                    s.wallets.insert(id, w);
                }
                (RecordKey::AddressBook(o, c, n, a), RecordValue::AddressBook(e))
                    if o == e.org_id && a == e.address =>
                {
                    s.address_book.insert((o, c, n, a), e);
                }
                (RecordKey::Policy(id), RecordValue::Policy(p)) if id == p.vault_id => {
                    s.policies.insert(id, std::sync::Arc::new(p));
                }
                (RecordKey::Request(id), RecordValue::Request(r)) if id == r.request_id => {
                    s.index_chain_open(&r);
                    s.requests.insert(id, *r);
                }
                (RecordKey::PresigPool(id), RecordValue::PresigPool(p)) if id == p.wallet_id => {
                    s.presig_pools.insert(id, p);
                }
                (RecordKey::Aux, RecordValue::Aux(a)) => s.aux = a,
                (RecordKey::Proposal(id), RecordValue::Proposal(p)) if id == p.proposal_id => {
                    s.proposals.insert(id, *p);
                }
                (RecordKey::BtcInput(op), RecordValue::BtcInput(c)) if op == c.outpoint => {
                    s.btc_inputs.insert(op, c);
                }
                (RecordKey::Asset(o, sym), RecordValue::Asset(a))
                    if o == a.org_id && sym == a.symbol =>
                {
                    s.assets.insert((o, sym), a);
                }
                (RecordKey::Replacement(n, r), RecordValue::Replacement(x))
                    if n == x.node_id && r == x.replacement =>
                {
                    s.replacements.insert((n, r), *x);
                }
                (RecordKey::Removal(n), RecordValue::Removal(x)) if n == x.node_id => {
                    s.removals.insert(n, *x);
                }
                (RecordKey::Addition(n), RecordValue::Addition(x)) if n == x.node_id => {
                    s.additions.insert(n, *x);
                }
                (key, _) => return Err(format!("record {key:?} does not match its key")),
            }
        }
        // The signing-slot indexes look at wallets too: built once every record is in, so that
        // the order records come back in cannot change them.
        // In reservation order, so that the spend-reservation ledger is built by appending (one
        // out of order costs a rebuild of its vault's ledger; decision 0032).
        let mut requests: Vec<crate::Request> = s.requests.values().cloned().collect();
        requests.sort_by_key(|r| {
            (
                r.reserved_at_ms,
                super::requests::log_position(&r.request_id),
            )
        });
        for r in &requests {
            s.index_signing(r);
        }
        for (i, (seq, e)) in audit.into_iter().enumerate() {
            if seq != i as u64 {
                return Err(format!("audit entry {i} is missing"));
            }
            s.audit.push(e);
        }
        s.share_policies();
        Ok(s)
    }

    /// One copy in memory of each policy version. A request holds the policy it was submitted
    /// under (half of its size); applied here, every request of one version shares its `Arc`,
    /// but requests decoded from their records (and the outcomes kept for replays) each hold
    /// their own: equal ones share one again.
    fn share_policies(&mut self) {
        type Key = (VaultId, u32);
        let mut seen: HashMap<Key, Arc<Policy>> = self
            .policies
            .values()
            .map(|p| ((p.vault_id.clone(), p.version), p.clone()))
            .collect();
        let mut share = |policy: &mut Arc<Policy>| {
            let key = (policy.vault_id.clone(), policy.version);
            match seen.get(&key) {
                Some(known) if **known == **policy => *policy = known.clone(),
                Some(_) => {}
                None => {
                    seen.insert(key, policy.clone());
                }
            }
        };
        for r in self.requests.values_mut() {
            share(&mut r.policy);
        }
        for rec in self.idempotency.values_mut() {
            if let Some(ActionResult::Request { request }) = &mut rec.outcome.result {
                share(&mut request.policy);
            }
        }
    }

    /// Last timestamp applied (ms).
    pub fn last_timestamp_ms(&self) -> u64 {
        self.last_timestamp_ms
    }
}
