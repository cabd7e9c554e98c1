//! Governance: governed changes become proposals, admins approve, veto or execute them, and the
//! signer re-verifies the adoption of what it relies on (see [`crate::governance`]).

use super::{ActionResult, CustodyState, Exec, RecordKey};
use crate::command::Action;
use crate::governance::{change_hash, Adoption, OrgSettings, PROPOSAL_TTL_MS};
use crate::types::{OrgId, ProposalId, Role, UserKey};
use crate::{book_chain, Member, Policy, Proposal, ProposalStatus};
use mpc_protocol::chain;

impl CustodyState {
    /// Keys of an organisation's admins, sorted.
    pub(super) fn admin_keys(&self, org_id: &OrgId) -> Vec<UserKey> {
        let mut keys: Vec<UserKey> = self
            .org_members(org_id)
            .filter(|m| m.roles.contains(&Role::Admin))
            .map(|m| m.public_key)
            .collect();
        keys.sort();
        keys
    }

    /// The admin quorum in force for an organisation.
    pub(super) fn quorum_of(&self, org_id: &OrgId) -> usize {
        let settings = self
            .orgs
            .get(org_id)
            .map(|o| o.settings)
            .unwrap_or_default();
        settings.quorum(self.admin_keys(org_id).len())
    }

    /// A governed change signed by an org admin: executed at once when the organisation's quorum
    /// is one and it has no time-lock, else recorded as a proposal for the other admins.
    pub(super) fn propose(
        &mut self,
        x: &Exec<'_>,
        change: &Action,
    ) -> Result<ActionResult, String> {
        let org_id = change
            .org_id()
            .ok_or("a network change is not an organisation's proposal")?;
        self.require_org_admin(org_id, &x.signer)?;
        let proposer = self.signing_member(org_id, &x.signer)?;
        let settings = self
            .orgs
            .get(org_id)
            .map(|o| o.settings)
            .unwrap_or_default();
        let quorum = self.quorum_of(org_id);
        let mut p = Proposal {
            proposal_id: ProposalId(format!("prop-{}", x.ctx.log_index)),
            org_id: org_id.clone(),
            kind: change.kind().to_string(),
            change: change.clone(),
            change_hash: change_hash(&self.genesis.cluster_id, change),
            proposed_by: proposer.user_id,
            proposal: x.cmd.signed(),
            approvals: Default::default(),
            quorum: u16::try_from(quorum).unwrap_or(u16::MAX),
            timelock_ms: settings.timelock_ms(),
            status: ProposalStatus::Pending,
            created_at_ms: x.now_ms,
            expires_at_ms: x.now_ms.saturating_add(PROPOSAL_TTL_MS),
            executable_at_ms: None,
            closed_at_ms: None,
            note: None,
        };
        if quorum <= 1 && p.timelock_ms == 0 {
            // Nothing to wait for: the change is adopted by its proposer alone.
            return self.adopt(x, &p);
        }
        if quorum <= 1 {
            p.status = ProposalStatus::Queued;
            p.executable_at_ms = Some(x.now_ms.saturating_add(p.timelock_ms));
        }
        self.put_proposal(p.clone());
        Ok(ActionResult::Proposal {
            proposal: Box::new(p),
        })
    }

    pub(super) fn proposal_approve(
        &mut self,
        x: &Exec<'_>,
        org_id: &OrgId,
        proposal_id: &ProposalId,
        hash: &str,
    ) -> Result<ActionResult, String> {
        let mut p = self.open_proposal(x, org_id, proposal_id)?;
        if p.status != ProposalStatus::Pending {
            return Err(format!("proposal {proposal_id} already has its quorum"));
        }
        if p.change_hash != hash {
            return Err(
                "change hash does not match the proposal: the approver saw a different change"
                    .into(),
            );
        }
        let approver = self.signing_member(org_id, &x.signer)?;
        if approver.public_key == p.proposal.signer || p.approvals.contains_key(&approver.user_id) {
            return Err(format!(
                "{} has already approved proposal {proposal_id}",
                approver.user_id
            ));
        }
        p.approvals.insert(approver.user_id, x.cmd.signed());
        let quorum = self.quorum_of(org_id);
        p.quorum = u16::try_from(quorum).unwrap_or(u16::MAX);
        if self.approving_admins(&p) < quorum {
            self.put_proposal(p.clone());
            return Ok(ActionResult::Proposal {
                proposal: Box::new(p),
            });
        }
        let timelock = self
            .orgs
            .get(org_id)
            .map(|o| o.settings.timelock_ms())
            .unwrap_or(0)
            .max(p.timelock_ms);
        if timelock == 0 {
            return self.execute_proposal(x, p);
        }
        p.timelock_ms = timelock;
        p.status = ProposalStatus::Queued;
        p.executable_at_ms = Some(x.now_ms.saturating_add(timelock));
        self.put_proposal(p.clone());
        Ok(ActionResult::Proposal {
            proposal: Box::new(p),
        })
    }

    pub(super) fn proposal_veto(
        &mut self,
        x: &Exec<'_>,
        org_id: &OrgId,
        proposal_id: &ProposalId,
        reason: &str,
    ) -> Result<ActionResult, String> {
        let mut p = self.open_proposal(x, org_id, proposal_id)?;
        let admin = self.signing_member(org_id, &x.signer)?;
        p.status = ProposalStatus::Vetoed;
        p.closed_at_ms = Some(x.now_ms);
        p.note = Some(format!("vetoed by {}: {reason}", admin.user_id));
        self.put_proposal(p.clone());
        Ok(ActionResult::Proposal {
            proposal: Box::new(p),
        })
    }

    pub(super) fn proposal_execute(
        &mut self,
        x: &Exec<'_>,
        org_id: &OrgId,
        proposal_id: &ProposalId,
    ) -> Result<ActionResult, String> {
        let p = self.open_proposal(x, org_id, proposal_id)?;
        let Some(at) = p
            .executable_at_ms
            .filter(|_| p.status == ProposalStatus::Queued)
        else {
            return Err(format!(
                "proposal {proposal_id} has not reached its quorum yet"
            ));
        };
        if x.now_ms < at {
            return Err(format!(
                "proposal {proposal_id} is time-locked for another {} s",
                (at - x.now_ms).div_ceil(1000)
            ));
        }
        let quorum = self.quorum_of(org_id);
        if self.approving_admins(&p) < quorum {
            return Err(format!(
                "proposal {proposal_id} no longer has the quorum of {quorum} current admins"
            ));
        }
        self.execute_proposal(x, p)
    }

    /// The open proposal `proposal_id` of `org_id`, the signer being one of its admins. An
    /// expired proposal is closed here (and the command rejected).
    fn open_proposal(
        &mut self,
        x: &Exec<'_>,
        org_id: &OrgId,
        proposal_id: &ProposalId,
    ) -> Result<Proposal, String> {
        self.require_org_admin(org_id, &x.signer)?;
        let mut p = self
            .proposals
            .get(proposal_id)
            .filter(|p| &p.org_id == org_id)
            .cloned()
            .ok_or_else(|| format!("no proposal '{proposal_id}' in '{org_id}'"))?;
        if !p.status.is_open() {
            return Err(format!("proposal {proposal_id} is {}", p.status.name()));
        }
        if x.now_ms > p.expires_at_ms {
            p.status = ProposalStatus::Expired;
            p.closed_at_ms = Some(x.now_ms);
            self.put_proposal(p);
            return Err(format!("proposal {proposal_id} has expired"));
        }
        Ok(p)
    }

    /// Distinct current admins among the proposer and the approvers of `p`.
    fn approving_admins(&self, p: &Proposal) -> usize {
        let admins = self.admin_keys(&p.org_id);
        let mut keys: Vec<UserKey> = std::iter::once(p.proposal.signer)
            .chain(p.approvals.values().map(|c| c.signer))
            .filter(|k| admins.contains(k))
            .collect();
        keys.sort();
        keys.dedup();
        keys.len()
    }

    /// Executes a proposal that has its quorum (and whose time-lock has passed).
    fn execute_proposal(&mut self, x: &Exec<'_>, mut p: Proposal) -> Result<ActionResult, String> {
        match self.adopt(x, &p) {
            Ok(result) => {
                p.status = ProposalStatus::Executed;
                p.closed_at_ms = Some(x.now_ms);
                self.put_proposal(p.clone());
                Ok(ActionResult::ProposalExecuted {
                    proposal: Box::new(p),
                    result: Box::new(result),
                })
            }
            Err(reason) => {
                p.status = ProposalStatus::Failed;
                p.closed_at_ms = Some(x.now_ms);
                p.note = Some(reason.clone());
                self.put_proposal(p);
                Err(format!("the change could not be applied: {reason}"))
            }
        }
    }

    /// Applies the change of `p` with its adoption evidence: the proposer's command, then the
    /// approvals, the admin set and the quorum now in force.
    fn adopt(&mut self, x: &Exec<'_>, p: &Proposal) -> Result<ActionResult, String> {
        let proposer = p.proposal.verify(&self.genesis.cluster_id)?;
        let adoption = Adoption {
            proposal_id: Some(p.proposal_id.clone()),
            change_hash: p.change_hash.clone(),
            commands: std::iter::once(p.proposal.clone())
                .chain(p.approvals.values().cloned())
                .collect(),
            admins: self.admin_keys(&p.org_id),
            quorum: u16::try_from(self.quorum_of(&p.org_id)).unwrap_or(u16::MAX),
            adopted_at_ms: x.now_ms,
        };
        let exec = Exec {
            cmd: &proposer,
            signer: proposer.signer,
            ctx: x.ctx,
            item: x.item,
            now_ms: x.now_ms,
            adoption: Some(adoption),
        };
        self.apply_change(&exec, &p.change)
    }

    fn put_proposal(&mut self, p: Proposal) {
        self.dirty
            .insert(RecordKey::Proposal(p.proposal_id.clone()));
        self.proposals.insert(p.proposal_id.clone(), p);
    }

    pub(super) fn org_settings_set(
        &mut self,
        x: &Exec<'_>,
        org_id: &OrgId,
        settings: &OrgSettings,
    ) -> Result<ActionResult, String> {
        let admins = self.admin_keys(org_id).len();
        if usize::from(settings.admin_quorum) > admins {
            return Err(format!(
                "admin_quorum {} exceeds the organisation's {admins} admin(s)",
                settings.admin_quorum
            ));
        }
        let org = self
            .orgs
            .get_mut(org_id)
            .ok_or_else(|| format!("no organisation '{org_id}'"))?;
        org.settings = *settings;
        org.settings_adoption = x.adoption.clone().map(Box::new);
        let org = org.clone();
        self.dirty.insert(RecordKey::Org(org_id.clone()));
        Ok(ActionResult::OrgSettingsSet { org })
    }

    /// Proposals of an organisation, newest first.
    pub fn proposals<'a>(&'a self, org_id: &'a OrgId) -> impl Iterator<Item = &'a Proposal> + 'a {
        self.proposals
            .values()
            .rev()
            .filter(move |p| &p.org_id == org_id)
    }

    /// One proposal.
    pub fn proposal(&self, proposal_id: &str) -> Option<&Proposal> {
        self.proposals.get(proposal_id)
    }

    // ----- the signer's re-verification (invariant 2) -----

    /// The policy in force was adopted by an admin quorum, by signatures this node verifies.
    pub(super) fn policy_adopted(&self, policy: &Policy, org_id: &OrgId) -> Result<(), String> {
        let adoption = policy
            .adoption
            .as_ref()
            .ok_or("the policy carries no adoption evidence")?;
        adoption
            .verify(&self.genesis.cluster_id, &self.genesis.admins, |a, _| {
                matches!(a, Action::PolicySet { org_id: o, vault_id, rules }
                    if o == org_id && vault_id == &policy.vault_id && rules == &policy.rules)
            })
            .map_err(|e| format!("policy version {}: {e}", policy.version))
    }

    /// A member was adopted by an admin quorum (or, for an organisation's first admin, by the
    /// genesis admin's `org_create`), by signatures this node verifies.
    pub(super) fn member_adopted(&self, m: &Member) -> Result<(), String> {
        let adoption = m
            .adoption
            .as_ref()
            .ok_or("the member carries no adoption evidence")?;
        adoption.verify(
            &self.genesis.cluster_id,
            &self.genesis.admins,
            |a, signer| match a {
                Action::MemberAdd {
                    org_id,
                    user_id,
                    public_key,
                    roles,
                } => {
                    let mut roles = roles.clone();
                    roles.sort();
                    org_id == &m.org_id
                        && user_id == &m.user_id
                        && public_key == &m.public_key
                        && roles == m.roles
                }
                Action::OrgCreate {
                    org_id,
                    admin_user_id,
                    admin_public_key,
                    ..
                } => {
                    org_id == &m.org_id
                        && admin_user_id == &m.user_id
                        && admin_public_key.unwrap_or(*signer) == m.public_key
                        && m.roles == [Role::Admin]
                }
                _ => false,
            },
        )
    }

    /// Every destination of `req` is in the address book by an entry an admin quorum adopted.
    pub(super) fn destinations_adopted(&self, req: &crate::Request) -> Result<(), String> {
        for t in &req.intent.transfers {
            let key = super::address_book::book_key(
                &req.org_id,
                req.intent.chain,
                req.intent.network,
                &t.to,
            );
            let entry = self
                .address_book
                .get(&key)
                .ok_or_else(|| format!("{} is not in the address book", t.to))?;
            let adoption = entry
                .adoption
                .as_ref()
                .ok_or("an address-book entry carries no adoption evidence")?;
            adoption
                .verify(&self.genesis.cluster_id, &self.genesis.admins, |a, _| {
                    matches!(a, Action::AddressBookAdd { org_id, chain: ch, network, address, .. }
                        if org_id == &entry.org_id
                            && book_chain(*ch) == entry.chain
                            && *network == entry.network
                            && chain::normalize_address(*ch, *network, address)
                                .is_ok_and(|n| n == entry.address))
                })
                .map_err(|e| format!("address-book entry {}: {e}", entry.address))?;
        }
        Ok(())
    }
}
