//! Organisations and members: create an organisation, add and remove members, and who is an
//! admin.

use super::{ActionResult, CustodyState, Exec, RecordKey};
use crate::governance::{change_hash, Adoption};
use crate::org::{Member, Org};
use crate::types::{OrgId, Role, UserId, UserKey};

impl CustodyState {
    pub(super) fn org_create(
        &mut self,
        x: &Exec<'_>,
        org_id: &OrgId,
        name: &str,
        admin_user_id: &UserId,
        admin_public_key: &Option<UserKey>,
    ) -> Result<ActionResult, String> {
        if !self.genesis.admins.contains(&x.signer) {
            return Err("only a genesis admin may create an organisation".into());
        }
        if self.orgs.contains_key(org_id) {
            return Err(format!("organisation '{org_id}' already exists"));
        }
        let org = Org {
            org_id: org_id.clone(),
            name: name.to_string(),
            created_at_ms: x.now_ms,
            created_by: x.signer,
            settings: Default::default(),
            settings_adoption: None,
            webauthn: None,
            webauthn_adoption: None,
        };
        // The first admin is adopted by the genesis admin's signed command itself.
        let adoption = Adoption {
            proposal_id: None,
            change_hash: change_hash(&self.genesis.cluster_id, &x.cmd.body.action),
            commands: vec![x.cmd.signed()],
            admins: Vec::new(),
            quorum: 0,
            adopted_at_ms: x.now_ms,
        };
        let admin = Member {
            org_id: org_id.clone(),
            user_id: admin_user_id.clone(),
            public_key: admin_public_key.unwrap_or(x.signer),
            roles: vec![Role::Admin],
            added_at_ms: x.now_ms,
            adoption: Some(Box::new(adoption)),
            passkeys: Vec::new(),
            invitations: Vec::new(),
        };
        self.orgs.insert(org_id.clone(), org.clone());
        self.dirty.insert(RecordKey::Org(org_id.clone()));
        self.put_member(admin.clone());
        Ok(ActionResult::OrgCreated { org, admin })
    }

    pub(super) fn member_add(
        &mut self,
        x: &Exec<'_>,
        org_id: &OrgId,
        user_id: &UserId,
        public_key: &UserKey,
        roles: &[Role],
    ) -> Result<ActionResult, String> {
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
        let mut roles = roles.to_vec();
        roles.sort();
        let member = Member {
            org_id: org_id.clone(),
            user_id: user_id.clone(),
            public_key: *public_key,
            roles,
            added_at_ms: x.now_ms,
            adoption: x.adoption.clone().map(Box::new),
            passkeys: Vec::new(),
            invitations: Vec::new(),
        };
        self.put_member(member.clone());
        Ok(ActionResult::MemberAdded { member })
    }

    pub(super) fn member_remove(
        &mut self,
        org_id: &OrgId,
        user_id: &UserId,
    ) -> Result<ActionResult, String> {
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
        let explicit = self
            .orgs
            .get(org_id)
            .map_or(0, |o| usize::from(o.settings.admin_quorum));
        if member.roles.contains(&Role::Admin) && admins - 1 < explicit {
            return Err(format!(
                "removing this admin would leave fewer admins than the quorum of {explicit}"
            ));
        }
        self.members.remove(&key);
        self.dirty
            .insert(RecordKey::Member(org_id.clone(), user_id.clone()));
        Ok(ActionResult::MemberRemoved { member })
    }

    /// Whether `key` is an admin member of `org_id` (genesis admins are not, unless the
    /// organisation made them members).
    pub(super) fn is_org_admin(&self, org_id: &OrgId, key: &UserKey) -> bool {
        self.member_with_key(org_id, key)
            .is_some_and(|m| m.roles.contains(&Role::Admin))
    }

    pub(super) fn member_with_key(&self, org_id: &OrgId, key: &UserKey) -> Option<&Member> {
        self.members
            .values()
            .find(|m| &m.org_id == org_id && &m.public_key == key)
    }

    pub(super) fn require_org_admin(&self, org_id: &OrgId, signer: &UserKey) -> Result<(), String> {
        if !self.orgs.contains_key(org_id) {
            return Err(format!("no organisation '{org_id}'"));
        }
        if !self.is_org_admin(org_id, signer) {
            return Err(format!("signer is not an admin of '{org_id}'"));
        }
        Ok(())
    }

    pub(super) fn put_member(&mut self, m: Member) {
        self.dirty
            .insert(RecordKey::Member(m.org_id.clone(), m.user_id.clone()));
        self.members
            .insert((m.org_id.clone(), m.user_id.clone()), m);
    }

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

    /// Whether a node should propose `cmd` at all: its signer must be a genesis admin (for
    /// `org_create`) or a member of the organisation the action names. Nodes refuse anyone else
    /// *before* the log, so a stranger's key gets no log entry, audit entry or idempotency
    /// record. (`apply` checks authorisation again, fully.)
    pub fn signer_known(&self, cmd: &crate::command::VerifiedCommand) -> Result<(), String> {
        match &cmd.body.action {
            crate::command::Action::OrgCreate { .. }
            | crate::command::Action::NodeReplace { .. }
            | crate::command::Action::NodeRemove { .. }
            | crate::command::Action::NodeAdd { .. } => {
                if self.genesis.admins.contains(&cmd.signer) {
                    Ok(())
                } else {
                    Err(format!(
                        "only a genesis admin may sign {}",
                        cmd.body.action.kind()
                    ))
                }
            }
            crate::command::Action::PasskeyRegister {
                org_id, user_id, ..
            } => {
                let open = self
                    .members
                    .get(&(org_id.clone(), user_id.clone()))
                    .is_some_and(|m| m.invitations.iter().any(|i| i.invite_key == cmd.signer));
                if open {
                    Ok(())
                } else {
                    Err("the signer is not an open passkey invitation for this member".into())
                }
            }
            a => match a.org_id() {
                Some(org) if self.member_with_key(org, &cmd.signer).is_some() => Ok(()),
                Some(org) => Err(format!(
                    "the signer is not a member of organisation '{org}'"
                )),
                None => Err("only a genesis admin may sign a network change".into()),
            },
        }
    }

    /// Whether `reader` may make a read of `scope` about organisation `org_id` (decision 0017).
    /// Decided from the committed membership; the node has already checked the reader's
    /// signature. Genesis admins, who bootstrap organisations, may read the organisation
    /// record and the audit log, not the custody book.
    pub fn may_read(
        &self,
        reader: &UserKey,
        org_id: &OrgId,
        scope: crate::read_auth::ReadScope,
    ) -> Result<(), String> {
        use crate::read_auth::ReadScope;
        let genesis = self.genesis.admins.contains(reader);
        if genesis && matches!(scope, ReadScope::Org | ReadScope::Audit) {
            return Ok(());
        }
        let Some(member) = self.member_with_key(org_id, reader) else {
            return Err(format!(
                "the reader is not a member of organisation '{org_id}'"
            ));
        };
        let allowed: &[Role] = match scope {
            ReadScope::Org => &Role::ALL,
            ReadScope::Book => &[
                Role::Admin,
                Role::Initiator,
                Role::Approver,
                Role::Auditor,
                Role::Viewer,
            ],
            ReadScope::Audit => &[Role::Admin, Role::Auditor],
        };
        if member.roles.iter().any(|r| allowed.contains(r)) {
            Ok(())
        } else {
            Err(format!(
                "member '{}' of '{org_id}' has no role that may read this ({})",
                member.user_id,
                match scope {
                    ReadScope::Org => "any member",
                    ReadScope::Book => "admin, initiator, approver, auditor or viewer",
                    ReadScope::Audit => "admin or auditor",
                }
            ))
        }
    }

    /// The organisations whose `scope` `reader` may read (for list reads: one membership check
    /// per organisation, not per record).
    pub fn readable_orgs(
        &self,
        reader: &UserKey,
        scope: crate::read_auth::ReadScope,
    ) -> std::collections::BTreeSet<OrgId> {
        self.orgs
            .keys()
            .filter(|o| self.may_read(reader, o, scope).is_ok())
            .cloned()
            .collect()
    }

    /// Whether `reader` is a genesis admin.
    pub fn is_genesis_admin(&self, reader: &UserKey) -> bool {
        self.genesis.admins.contains(reader)
    }

    /// The member of `org_id` whose key signed, or why there is none.
    pub(super) fn signing_member(&self, org_id: &OrgId, key: &UserKey) -> Result<Member, String> {
        self.member_with_key(org_id, key)
            .cloned()
            .ok_or_else(|| "signer is not a member of this organisation".to_string())
    }
}
