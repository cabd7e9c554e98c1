//! The custody state machine: pure and deterministic.
//!
//! [`CustodyState::apply`] takes the log position and timestamp from the entry (see
//! [`EntryContext`]) and a [`LogCommand`]; it returns a [`CommandOutcome`] and records which
//! records changed so the store can persist exactly those ([`CustodyState::take_dirty`]).

use crate::audit::{genesis_prev_hash, verify_chain, AuditEntry, ChainReport};
use crate::command::{Action, VerifiedCommand};
use crate::custody::{AddressBookEntry, NodeId, Policy, PresigPool, Request, Vault, Wallet};
use crate::raft::{LogCommand, Proposal};
use crate::types::{OrgId, Role, UserId, UserKey};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};

/// Where in the log a command sits; everything `apply` needs to know about time and position.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EntryContext {
    /// Raft log index.
    pub log_index: u64,
}

/// An organisation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Org {
    /// Id.
    pub org_id: OrgId,
    /// Display name.
    pub name: String,
    /// Creation time from the log (ms).
    pub created_at_ms: u64,
    /// Key of the genesis admin who created it.
    pub created_by: UserKey,
}

/// A member of an organisation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Member {
    /// Organisation.
    pub org_id: OrgId,
    /// User id within the organisation.
    pub user_id: UserId,
    /// The user's Ed25519 key; commands signed by it act as this member.
    pub public_key: UserKey,
    /// Roles, sorted.
    pub roles: Vec<Role>,
    /// When added (ms, from the log).
    pub added_at_ms: u64,
}

/// What a successful command produced.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ActionResult {
    /// A new organisation (and its first admin).
    OrgCreated {
        /// The organisation.
        org: Org,
        /// Its first admin.
        admin: Member,
    },
    /// A new member.
    MemberAdded {
        /// The member.
        member: Member,
    },
    /// A member removed.
    MemberRemoved {
        /// The member as it was.
        member: Member,
    },
    /// A vault created or changed (DKG report).
    Vault {
        /// The vault now.
        vault: Vault,
    },
    /// A wallet created.
    WalletCreated {
        /// The wallet.
        wallet: Wallet,
    },
    /// An address-book entry added or removed.
    AddressBook {
        /// The entry.
        entry: AddressBookEntry,
        /// True when removed.
        removed: bool,
    },
    /// A policy set.
    PolicySet {
        /// The policy in force.
        policy: Policy,
    },
    /// A request created or changed.
    Request {
        /// The request now.
        request: Box<Request>,
    },
    /// A presignature pool changed (node report).
    PresigPool {
        /// The pool now.
        pool: PresigPool,
    },
}

/// The result of applying one log entry.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CommandOutcome {
    /// `Some` when the command succeeded.
    pub result: Option<ActionResult>,
    /// `Some(reason)` when it was rejected (deterministically, on every node).
    pub error: Option<String>,
    /// Audit entry written for it.
    pub audit_seq: Option<u64>,
    /// Raft log index of the entry that first applied it.
    pub log_index: u64,
    /// True when this is a replay of an already applied command: nothing changed.
    pub replayed: bool,
}

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
    Vault(String),
    /// A wallet.
    Wallet(String),
    /// An address-book entry.
    AddressBook(OrgId, String, String),
    /// A vault's policy.
    Policy(String),
    /// A request.
    Request(String),
    /// A wallet's presignature pool.
    PresigPool(String),
}

/// A record's value, as persisted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum RecordValue {
    /// An organisation.
    Org(Org),
    /// A member.
    Member(Member),
    /// An idempotency record.
    Idempotency(IdempotencyRecord),
    /// An audit entry.
    Audit(AuditEntry),
    /// A vault.
    Vault(Vault),
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
}

/// What was remembered about an applied command, for replays.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IdempotencyRecord {
    /// Hash of the body first applied under this key.
    pub body_hash: [u8; 32],
    /// Its outcome.
    pub outcome: CommandOutcome,
}

/// Fixed parameters from the genesis document.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GenesisParams {
    /// Hex genesis hash; commands must name it.
    pub cluster_id: String,
    /// Keys allowed to create organisations.
    pub admins: BTreeSet<UserKey>,
    /// Every node's Ed25519 identity key (signs its reports).
    pub nodes: BTreeMap<NodeId, UserKey>,
    /// Signing threshold t.
    pub threshold: u16,
}

/// The whole replicated custody state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CustodyState {
    genesis: GenesisParams,
    orgs: BTreeMap<OrgId, Org>,
    members: BTreeMap<(OrgId, UserId), Member>,
    idempotency: BTreeMap<(UserKey, String), IdempotencyRecord>,
    audit: Vec<AuditEntry>,
    vaults: BTreeMap<String, Vault>,
    wallets: BTreeMap<String, Wallet>,
    address_book: BTreeMap<(OrgId, String, String), AddressBookEntry>,
    policies: BTreeMap<String, Policy>,
    requests: BTreeMap<String, Request>,
    /// ECDSA presignature pools by wallet id.
    #[serde(default)]
    presig_pools: BTreeMap<String, PresigPool>,
    last_timestamp_ms: u64,
    #[serde(skip)]
    dirty: BTreeSet<RecordKey>,
    /// Every request write since the last [`CustodyState::take_request_changes`], in order.
    #[serde(skip)]
    request_changes: Vec<Request>,
}

impl CustodyState {
    /// An empty state for a network with these genesis parameters.
    pub fn new(genesis: GenesisParams) -> Self {
        CustodyState {
            genesis,
            orgs: BTreeMap::new(),
            members: BTreeMap::new(),
            idempotency: BTreeMap::new(),
            audit: Vec::new(),
            vaults: BTreeMap::new(),
            wallets: BTreeMap::new(),
            address_book: BTreeMap::new(),
            policies: BTreeMap::new(),
            requests: BTreeMap::new(),
            presig_pools: BTreeMap::new(),
            last_timestamp_ms: 0,
            dirty: BTreeSet::new(),
            request_changes: Vec::new(),
        }
    }

    /// The genesis parameters.
    pub fn genesis(&self) -> &GenesisParams {
        &self.genesis
    }

    /// Applies one command. Never panics; every failure is a recorded outcome.
    pub fn apply(&mut self, ctx: EntryContext, entry: &LogCommand) -> CommandOutcome {
        // Time only moves forward, whatever the proposing leader's clock said.
        let now_ms = entry.proposed_at_ms.max(self.last_timestamp_ms);
        self.last_timestamp_ms = now_ms;
        let cmd = match &entry.proposal {
            Proposal::User(cmd) => cmd,
            Proposal::Node(report) => return self.apply_report(ctx, now_ms, report),
        };
        let verified = match cmd.verify(&self.genesis.cluster_id) {
            Ok(v) => v,
            Err(reason) => {
                let hash = crate::command::body_hash(&cmd.body);
                let seq =
                    self.append_audit(ctx, now_ms, cmd.signer, None, "invalid", hash, &reason);
                return CommandOutcome {
                    error: Some(reason),
                    audit_seq: Some(seq),
                    log_index: ctx.log_index,
                    ..Default::default()
                };
            }
        };
        let idem_key = (verified.signer, verified.body.idempotency_key.clone());
        if let Some(rec) = self.idempotency.get(&idem_key) {
            if rec.body_hash == verified.body_hash {
                return CommandOutcome {
                    replayed: true,
                    ..rec.outcome.clone()
                };
            }
            let reason = "idempotency key was already used for a different command".to_string();
            let action = verified.body.action.kind();
            let org = Some(verified.body.action.org_id().clone());
            let seq = self.append_audit(
                ctx,
                now_ms,
                verified.signer,
                org,
                action,
                verified.body_hash,
                &reason,
            );
            return CommandOutcome {
                error: Some(reason),
                audit_seq: Some(seq),
                log_index: ctx.log_index,
                ..Default::default()
            };
        }
        let result = self.execute(&verified, ctx, now_ms);
        let org = Some(verified.body.action.org_id().clone());
        let outcome_text = match &result {
            Ok(_) => "ok".to_string(),
            Err(e) => format!("rejected: {e}"),
        };
        let seq = self.append_audit(
            ctx,
            now_ms,
            verified.signer,
            org,
            verified.body.action.kind(),
            verified.body_hash,
            &outcome_text,
        );
        let (result, error) = match result {
            Ok(r) => (Some(r), None),
            Err(e) => (None, Some(e)),
        };
        let outcome = CommandOutcome {
            result,
            error,
            audit_seq: Some(seq),
            log_index: ctx.log_index,
            replayed: false,
        };
        self.idempotency.insert(
            idem_key.clone(),
            IdempotencyRecord {
                body_hash: verified.body_hash,
                outcome: outcome.clone(),
            },
        );
        self.dirty
            .insert(RecordKey::Idempotency(idem_key.0, idem_key.1));
        outcome
    }

    fn is_org_admin(&self, org_id: &OrgId, key: &UserKey) -> bool {
        self.genesis.admins.contains(key)
            || self
                .member_with_key(org_id, key)
                .is_some_and(|m| m.roles.contains(&Role::Admin))
    }

    fn member_with_key(&self, org_id: &OrgId, key: &UserKey) -> Option<&Member> {
        self.members
            .values()
            .find(|m| &m.org_id == org_id && &m.public_key == key)
    }

    fn execute(
        &mut self,
        cmd: &VerifiedCommand,
        ctx: EntryContext,
        now_ms: u64,
    ) -> Result<ActionResult, String> {
        let signer = cmd.signer;
        match &cmd.body.action {
            Action::OrgCreate {
                org_id,
                name,
                admin_user_id,
            } => {
                if !self.genesis.admins.contains(&signer) {
                    return Err("only a genesis admin may create an organisation".into());
                }
                if self.orgs.contains_key(org_id) {
                    return Err(format!("organisation '{org_id}' already exists"));
                }
                let org = Org {
                    org_id: org_id.clone(),
                    name: name.clone(),
                    created_at_ms: now_ms,
                    created_by: signer,
                };
                let admin = Member {
                    org_id: org_id.clone(),
                    user_id: admin_user_id.clone(),
                    public_key: signer,
                    roles: vec![Role::Admin],
                    added_at_ms: now_ms,
                };
                self.orgs.insert(org_id.clone(), org.clone());
                self.dirty.insert(RecordKey::Org(org_id.clone()));
                self.put_member(admin.clone());
                Ok(ActionResult::OrgCreated { org, admin })
            }
            Action::MemberAdd {
                org_id,
                user_id,
                public_key,
                roles,
            } => {
                self.require_org_admin(org_id, &signer)?;
                if self
                    .members
                    .contains_key(&(org_id.clone(), user_id.clone()))
                {
                    return Err(format!("member '{user_id}' already exists in '{org_id}'"));
                }
                if let Some(m) = self.member_with_key(org_id, public_key) {
                    return Err(format!(
                        "this public key already belongs to member '{}'",
                        m.user_id
                    ));
                }
                let mut roles = roles.clone();
                roles.sort();
                let member = Member {
                    org_id: org_id.clone(),
                    user_id: user_id.clone(),
                    public_key: *public_key,
                    roles,
                    added_at_ms: now_ms,
                };
                self.put_member(member.clone());
                Ok(ActionResult::MemberAdded { member })
            }
            Action::MemberRemove { org_id, user_id } => {
                self.require_org_admin(org_id, &signer)?;
                let key = (org_id.clone(), user_id.clone());
                let Some(member) = self.members.get(&key).cloned() else {
                    return Err(format!("no member '{user_id}' in '{org_id}'"));
                };
                let admins = self
                    .org_members(org_id)
                    .filter(|m| m.roles.contains(&Role::Admin))
                    .count();
                if member.roles.contains(&Role::Admin) && admins <= 1 {
                    return Err("cannot remove the last admin of an organisation".into());
                }
                self.members.remove(&key);
                self.dirty
                    .insert(RecordKey::Member(org_id.clone(), user_id.clone()));
                Ok(ActionResult::MemberRemoved { member })
            }
            _ => self.execute_custody(cmd, ctx, now_ms),
        }
    }

    fn require_org_admin(&self, org_id: &OrgId, signer: &UserKey) -> Result<(), String> {
        if !self.orgs.contains_key(org_id) {
            return Err(format!("no organisation '{org_id}'"));
        }
        if !self.is_org_admin(org_id, signer) {
            return Err(format!("signer is not an admin of '{org_id}'"));
        }
        Ok(())
    }

    fn put_member(&mut self, m: Member) {
        self.dirty
            .insert(RecordKey::Member(m.org_id.clone(), m.user_id.clone()));
        self.members
            .insert((m.org_id.clone(), m.user_id.clone()), m);
    }

    #[allow(clippy::too_many_arguments)]
    pub(crate) fn append_audit(
        &mut self,
        ctx: EntryContext,
        now_ms: u64,
        actor: UserKey,
        org_id: Option<OrgId>,
        action: &str,
        command_hash: [u8; 32],
        outcome: &str,
    ) -> u64 {
        let seq = self.audit.len() as u64;
        let prev_hash = self
            .audit
            .last()
            .map(|e| e.hash.clone())
            .unwrap_or_else(genesis_prev_hash);
        let mut entry = AuditEntry {
            seq,
            log_index: ctx.log_index,
            timestamp_ms: now_ms,
            actor,
            org_id,
            action: action.to_string(),
            command_hash: hex::encode(command_hash),
            outcome: outcome.to_string(),
            prev_hash,
            hash: String::new(),
        };
        entry.hash = entry.compute_hash();
        self.audit.push(entry);
        self.dirty.insert(RecordKey::Audit(seq));
        seq
    }

    // ----- reads -----

    /// One organisation.
    pub fn org(&self, org_id: &OrgId) -> Option<&Org> {
        self.orgs.get(org_id)
    }

    /// All organisations, sorted by id.
    pub fn orgs(&self) -> impl Iterator<Item = &Org> {
        self.orgs.values()
    }

    /// Members of an organisation, sorted by user id.
    pub fn org_members<'a>(&'a self, org_id: &'a OrgId) -> impl Iterator<Item = &'a Member> + 'a {
        self.members
            .range((org_id.clone(), UserId(String::new()))..)
            .take_while(move |((o, _), _)| o == org_id)
            .map(|(_, m)| m)
    }

    /// The audit log.
    pub fn audit(&self) -> &[AuditEntry] {
        &self.audit
    }

    /// Recomputes the audit chain.
    pub fn audit_verify(&self) -> ChainReport {
        verify_chain(&self.audit)
    }

    /// The first outcome recorded for (signer, idempotency key), if any.
    pub fn idempotent_outcome(&self, signer: &UserKey, key: &str) -> Option<&IdempotencyRecord> {
        self.idempotency.get(&(*signer, key.to_string()))
    }

    // ----- persistence support -----

    /// Every request written since the last call, in apply order (for status subscriptions;
    /// nothing here is persisted).
    pub fn take_request_changes(&mut self) -> Vec<Request> {
        std::mem::take(&mut self.request_changes)
    }

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
                .map(RecordValue::Idempotency),
            RecordKey::Audit(seq) => usize::try_from(*seq)
                .ok()
                .and_then(|i| self.audit.get(i))
                .cloned()
                .map(RecordValue::Audit),
            RecordKey::Vault(id) => self.vaults.get(id).cloned().map(RecordValue::Vault),
            RecordKey::Wallet(id) => self.wallets.get(id).cloned().map(RecordValue::Wallet),
            RecordKey::AddressBook(o, c, a) => self
                .address_book
                .get(&(o.clone(), c.clone(), a.clone()))
                .cloned()
                .map(RecordValue::AddressBook),
            RecordKey::Policy(id) => self.policies.get(id).cloned().map(RecordValue::Policy),
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
            .map(|(o, c, a)| RecordKey::AddressBook(o.clone(), c.clone(), a.clone()));
        let policies = self.policies.keys().map(|k| RecordKey::Policy(k.clone()));
        let requests = self.requests.keys().map(|k| RecordKey::Request(k.clone()));
        let pools = self
            .presig_pools
            .keys()
            .map(|k| RecordKey::PresigPool(k.clone()));
        orgs.chain(members)
            .chain(idem)
            .chain(audit)
            .chain(vaults)
            .chain(wallets)
            .chain(book)
            .chain(policies)
            .chain(requests)
            .chain(pools)
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
                    s.idempotency.insert((k, i), rec);
                }
                (RecordKey::Audit(seq), RecordValue::Audit(a)) if seq == a.seq => {
                    audit.insert(seq, a);
                }
                (RecordKey::Vault(id), RecordValue::Vault(v)) if id == v.vault_id => {
                    s.vaults.insert(id, v);
                }
                (RecordKey::Wallet(id), RecordValue::Wallet(w)) if id == w.wallet_id => {
                    s.wallets.insert(id, w);
                }
                (RecordKey::AddressBook(o, c, a), RecordValue::AddressBook(e))
                    if o == e.org_id && a == e.address =>
                {
                    s.address_book.insert((o, c, a), e);
                }
                (RecordKey::Policy(id), RecordValue::Policy(p)) if id == p.vault_id => {
                    s.policies.insert(id, p);
                }
                (RecordKey::Request(id), RecordValue::Request(r)) if id == r.request_id => {
                    s.requests.insert(id, *r);
                }
                (RecordKey::PresigPool(id), RecordValue::PresigPool(p)) if id == p.wallet_id => {
                    s.presig_pools.insert(id, p);
                }
                (key, _) => return Err(format!("record {key:?} does not match its key")),
            }
        }
        for (i, (seq, e)) in audit.into_iter().enumerate() {
            if seq != i as u64 {
                return Err(format!("audit entry {i} is missing"));
            }
            s.audit.push(e);
        }
        Ok(s)
    }

    /// Last timestamp applied (ms).
    pub fn last_timestamp_ms(&self) -> u64 {
        self.last_timestamp_ms
    }
}

mod flows;
pub use flows::SigningJob;

#[cfg(test)]
mod tests;
