//! The custody state machine: pure and deterministic.
//!
//! [`CustodyState::apply`] takes the log position and timestamp from the entry (see
//! [`EntryContext`]) and a [`LogCommand`]; it returns a [`CommandOutcome`] and records which
//! records changed so the store can persist exactly those ([`CustodyState::take_dirty`]).
//!
//! One file per concept, one handler per action: [`members`](self) (organisations, members),
//! vaults and wallets, the address book, policies, requests, signing attempts, presignature
//! pools, node reports, and the signer's own check (invariant 2) in `signer_check.rs`.

use crate::audit::{genesis_prev_hash, verify_chain, AuditEntry, ChainReport};
use crate::command::{Action, VerifiedCommand};
use crate::entry::{LogCommand, Proposal, MAX_BATCHED_COMMANDS};
use crate::ids::NodeId;
use crate::org::{Member, Org};
use crate::types::{OrgId, ProposalId, RequestId, UserId, UserKey, VaultId, WalletId};
use crate::{AddressBookEntry, Policy, PresigPool, Request, Vault, Wallet};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};

mod additions;
mod address_book;
mod assets;
mod attempts;
mod aux;
mod btc_inputs;
mod chain;
#[cfg(feature = "forge-for-tests")]
mod forge;
mod governance;
mod members;
mod nodes;
mod outcome;
mod passkeys;
mod policy;
mod pools;
mod records;
mod refresh;
mod removal;
mod reports;
mod requests;
mod reservations;
mod signer_check;
mod vaults;

pub use chain::BROADCAST_SLOT_MS;
pub use nodes::{PinnedNode, RepairJob};
pub use outcome::{ActionResult, CommandOutcome, IdempotencyRecord};
pub use records::{RecordKey, RecordValue};
pub use requests::log_position;
pub use signer_check::SigningJob;

/// Where in the log a command sits; everything `apply` needs to know about time and position.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EntryContext {
    /// Raft log index.
    pub log_index: u64,
}

/// What an action handler knows about the command it executes.
pub(crate) struct Exec<'a> {
    /// The verified command.
    pub cmd: &'a VerifiedCommand,
    /// Its signer.
    pub signer: UserKey,
    /// Its place in the log.
    pub ctx: EntryContext,
    /// Its place in a batch entry ([`Proposal::Users`]); 0 alone.
    pub item: u32,
    /// Log time (ms), monotonic.
    pub now_ms: u64,
    /// For a governed change being executed: the admin quorum that adopted it.
    pub adoption: Option<crate::Adoption>,
}

impl Exec<'_> {
    /// The command as signed, kept as evidence (network changes re-verify it).
    pub fn signed_command(&self) -> crate::command::SignedCommand {
        crate::command::SignedCommand {
            body: self.cmd.body_text.clone(),
            signer: self.signer,
            signature: self.cmd.signature.clone(),
        }
    }

    /// Adds this command's genesis-admin signature to a network change's `approvals`; with
    /// `quorum` of them the change is admitted at this entry. Returns whether it is admitted.
    pub fn countersign(
        &self,
        approvals: &mut BTreeMap<UserKey, crate::command::SignedCommand>,
        status: &mut crate::membership::ReplacementStatus,
        quorum: usize,
    ) -> bool {
        approvals.insert(self.signer, self.signed_command());
        if approvals.len() >= quorum {
            *status = crate::membership::ReplacementStatus::Admitted {
                log_index: self.ctx.log_index,
                at_ms: self.now_ms,
            };
        }
        status.is_admitted()
    }
}

/// Where and when a node report is applied.
#[derive(Debug, Clone, Copy)]
pub(crate) struct At {
    /// Its place in the log.
    pub ctx: EntryContext,
    /// Log time (ms), monotonic.
    pub now_ms: u64,
}

/// What a report handler returns: `Ok(None)` when the report changed nothing (duplicate or
/// late), else the organisation (none for network-wide records), the audit text and the result.
pub(crate) type ReportResult = Result<Option<(Option<OrgId>, String, ActionResult)>, String>;

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
    vaults: BTreeMap<VaultId, Vault>,
    wallets: BTreeMap<WalletId, Wallet>,
    address_book: BTreeMap<address_book::BookKey, AddressBookEntry>,
    /// Each organisation's token registry, by symbol.
    #[serde(default)]
    assets: BTreeMap<(OrgId, String), crate::Asset>,
    policies: BTreeMap<VaultId, std::sync::Arc<Policy>>,
    requests: BTreeMap<RequestId, Request>,
    /// Governance proposals.
    #[serde(default)]
    proposals: BTreeMap<ProposalId, crate::Proposal>,
    /// The amount fixed for each Bitcoin P2WPKH output a reserved request spends.
    #[serde(default)]
    btc_inputs: BTreeMap<String, crate::request::InputClaim>,
    /// ECDSA presignature pools by wallet id.
    #[serde(default)]
    presig_pools: BTreeMap<WalletId, PresigPool>,
    /// The committee's ECDSA aux-info attempts.
    #[serde(default)]
    aux: crate::AuxRecord,
    /// Node replacements by (node id, replacement number).
    #[serde(default)]
    replacements: BTreeMap<(NodeId, u32), crate::membership::NodeReplacement>,
    /// Node removals by node id (pending or admitted).
    #[serde(default)]
    removals: BTreeMap<NodeId, crate::membership::NodeRemoval>,
    /// Node additions by node id (pending or admitted).
    #[serde(default)]
    additions: BTreeMap<NodeId, crate::membership::NodeAddition>,
    last_timestamp_ms: u64,
    #[serde(skip)]
    dirty: BTreeSet<RecordKey>,
    /// Requests whose current attempt is interactive ECDSA (derived from `requests`).
    #[serde(skip)]
    interactive_running: BTreeSet<RequestId>,
    /// Requests waiting for a signing slot, by request log index (derived from `requests`).
    #[serde(skip)]
    sign_queue: BTreeSet<(u64, RequestId)>,
    /// Every request write since the last [`CustodyState::take_request_changes`], in order.
    #[serde(skip)]
    request_changes: Vec<Request>,
    /// Signed requests whose transaction is not final on its chain (derived from `requests`):
    /// what the nodes' broadcasters and watchers look at, without scanning every request.
    #[serde(skip)]
    chain_open: BTreeSet<RequestId>,
    /// The spend reservations that count against limits — requests `signing` or `signed` — by
    /// vault, with per-asset prefix sums (derived from `requests`): a limit check costs two
    /// prefix sums, never a scan of the requests (`state/reservations.rs`).
    #[serde(skip)]
    reservations: reservations::Reservations,
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
            assets: BTreeMap::new(),
            policies: BTreeMap::new(),
            requests: BTreeMap::new(),
            proposals: BTreeMap::new(),
            btc_inputs: BTreeMap::new(),
            presig_pools: BTreeMap::new(),
            aux: crate::AuxRecord::default(),
            replacements: BTreeMap::new(),
            removals: BTreeMap::new(),
            additions: BTreeMap::new(),
            last_timestamp_ms: 0,
            dirty: BTreeSet::new(),
            request_changes: Vec::new(),
            chain_open: BTreeSet::new(),
            interactive_running: BTreeSet::new(),
            sign_queue: BTreeSet::new(),
            reservations: reservations::Reservations::default(),
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
        let outcome = match &entry.proposal {
            Proposal::User(cmd) => self.apply_command(ctx, now_ms, cmd, None),
            Proposal::Users(cmds) => self.apply_commands(ctx, now_ms, cmds),
            Proposal::Node(report) => self.apply_report(ctx, now_ms, report),
            Proposal::Passkey(decision) => self.apply_passkey_decision(ctx, now_ms, decision),
        };
        // A signing slot this entry freed goes to the longest-waiting queued request.
        self.admit_queued(At { ctx, now_ms });
        outcome
    }

    /// Several users' commands the leader proposed together (decision 0035): each applied on
    /// its own, in order, as [`Self::apply_command`] applies a lone one — verified again, its
    /// idempotency checked, executed, audited — with its own outcome in `items`. One that is
    /// refused (a bad signature, a kind that may not be batched) changes nothing and leaves the
    /// others as they are. A batch of none or more than [`MAX_BATCHED_COMMANDS`] changes nothing.
    fn apply_commands(
        &mut self,
        ctx: EntryContext,
        now_ms: u64,
        cmds: &[crate::command::SignedCommand],
    ) -> CommandOutcome {
        if cmds.is_empty() || cmds.len() > MAX_BATCHED_COMMANDS {
            return CommandOutcome {
                error: Some(format!(
                    "a batch of {} commands (1 to {MAX_BATCHED_COMMANDS}): nothing was applied",
                    cmds.len()
                )),
                log_index: ctx.log_index,
                ..Default::default()
            };
        }
        let items = (0u32..)
            .zip(cmds)
            .map(|(item, cmd)| CommandOutcome {
                item,
                ..self.apply_command(ctx, now_ms, cmd, Some(item))
            })
            .collect();
        CommandOutcome {
            log_index: ctx.log_index,
            items,
            ..Default::default()
        }
    }

    /// A user's command: verified again, idempotency checked, executed, audited, remembered.
    /// `batch_item` is its place in a batch entry (`None` alone): every command of a batch must
    /// be of a batchable kind ([`Action::batchable`]).
    fn apply_command(
        &mut self,
        ctx: EntryContext,
        now_ms: u64,
        cmd: &crate::command::SignedCommand,
        batch_item: Option<u32>,
    ) -> CommandOutcome {
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
        if batch_item.is_some() && !verified.body.action.batchable() {
            let reason = format!(
                "a {} command may not share a log entry with others; nothing was applied",
                verified.body.action.kind()
            );
            return self.refuse_verified(ctx, now_ms, &verified, reason);
        }
        let idem_key = (verified.signer, verified.body.idempotency_key.clone());
        if let Some(rec) = self.idempotency.get(&idem_key) {
            if rec.body_hash == verified.body_hash {
                return CommandOutcome {
                    replayed: true,
                    ..rec.outcome.clone()
                };
            }
            let reason = "idempotency key was already used for a different command".to_string();
            return self.refuse_verified(ctx, now_ms, &verified, reason);
        }
        self.execute_and_record(&verified, ctx, now_ms, batch_item.unwrap_or(0))
    }

    /// A verified command refused before it ran: audited with `reason`, nothing else changed.
    fn refuse_verified(
        &mut self,
        ctx: EntryContext,
        now_ms: u64,
        verified: &VerifiedCommand,
        reason: String,
    ) -> CommandOutcome {
        let action = verified.body.action.kind();
        let org = verified.body.action.org_id().cloned();
        let seq = self.append_audit(
            ctx,
            now_ms,
            verified.signer,
            org,
            action,
            verified.body_hash,
            &reason,
        );
        CommandOutcome {
            error: Some(reason),
            audit_seq: Some(seq),
            log_index: ctx.log_index,
            ..Default::default()
        }
    }

    /// Executes a verified, new command; audits it and records its outcome under its
    /// idempotency key.
    fn execute_and_record(
        &mut self,
        verified: &VerifiedCommand,
        ctx: EntryContext,
        now_ms: u64,
        item: u32,
    ) -> CommandOutcome {
        let idem_key = (verified.signer, verified.body.idempotency_key.clone());
        let result = self.execute(verified, ctx, now_ms, item);
        let org = verified.body.action.org_id().cloned();
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
            item,
            items: Vec::new(),
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

    fn execute(
        &mut self,
        cmd: &VerifiedCommand,
        ctx: EntryContext,
        now_ms: u64,
        item: u32,
    ) -> Result<ActionResult, String> {
        let x = Exec {
            cmd,
            signer: cmd.signer,
            ctx,
            item,
            now_ms,
            adoption: None,
        };
        let action = &cmd.body.action;
        if action.is_governed() {
            return self.propose(&x, action);
        }
        match action {
            Action::NodeReplace {
                node_id,
                replacement,
                card,
            } => self.node_replace(&x, *node_id, *replacement, card),
            Action::NodeRemove { node_id } => self.node_remove(&x, *node_id),
            Action::NodeAdd { node_id, card } => self.node_add(&x, *node_id, card),
            Action::OrgCreate {
                org_id,
                name,
                admin_user_id,
                admin_public_key,
            } => self.org_create(&x, org_id, name, admin_user_id, admin_public_key),
            Action::ProposalApprove {
                org_id,
                proposal_id,
                change_hash,
            } => self.proposal_approve(&x, org_id, proposal_id, change_hash),
            Action::ProposalVeto {
                org_id,
                proposal_id,
                reason,
            } => self.proposal_veto(&x, org_id, proposal_id, reason),
            Action::ProposalExecute {
                org_id,
                proposal_id,
            } => self.proposal_execute(&x, org_id, proposal_id),
            Action::RequestSubmit {
                org_id,
                wallet_id,
                payload,
                extras,
            } => self.request_submit(&x, org_id, wallet_id, payload, extras),
            Action::RequestApprove {
                org_id,
                request_id,
                intent_digest,
            } => self.request_approve(&x, org_id, request_id, intent_digest),
            Action::RequestReject {
                org_id,
                request_id,
                intent_digest,
                reason,
            } => self.request_reject(&x, org_id, request_id, intent_digest, reason),
            Action::RequestAdminApprove {
                org_id,
                request_id,
                intent_digest,
            } => self.request_admin_approve(&x, org_id, request_id, intent_digest),
            Action::RequestCancel {
                org_id,
                request_id,
                reason,
            } => self.request_cancel(&x, org_id, request_id, reason),
            Action::PasskeyRegister {
                org_id,
                user_id,
                attestation_object,
                client_data_json,
            } => self.passkey_register(&x, org_id, user_id, attestation_object, client_data_json),
            _ => Err(format!("{} is a governed change", action.kind())),
        }
    }

    /// Executes a governed change whose authorisation (the admin quorum recorded in
    /// `x.adoption`) has been established by the governance handlers.
    pub(super) fn apply_change(
        &mut self,
        x: &Exec<'_>,
        action: &Action,
    ) -> Result<ActionResult, String> {
        match action {
            Action::MemberAdd {
                org_id,
                user_id,
                public_key,
                roles,
            } => self.member_add(x, org_id, user_id, public_key, roles),
            Action::MemberRemove { org_id, user_id } => self.member_remove(org_id, user_id),
            Action::VaultCreate {
                org_id,
                vault_id,
                name,
            } => self.vault_create(x, org_id, vault_id, name),
            Action::VaultRefresh {
                org_id,
                vault_id,
                reason,
            } => self.vault_refresh(x, org_id, vault_id, reason),
            Action::WalletCreate {
                org_id,
                vault_id,
                chain,
                network,
                index,
                chain_id,
            } => {
                let chain_id = Wallet::chain_id_for(*chain, *network, *chain_id)?;
                self.wallet_create(x, org_id, vault_id, (*chain, *network, *index), chain_id)
            }
            Action::AddressBookAdd {
                org_id,
                chain,
                network,
                address,
                label,
            } => self.address_book_add(x, org_id, chain, network, address, label),
            Action::AddressBookRemove {
                org_id,
                chain,
                network,
                address,
            } => self.address_book_remove(org_id, chain, network, address),
            Action::AssetAdd {
                org_id,
                symbol,
                chain,
                network,
                contract,
                decimals,
            } => self.asset_add(x, org_id, symbol, (*chain, *network), contract, *decimals),
            Action::AssetRemove { org_id, symbol } => self.asset_remove(org_id, symbol),
            Action::PolicySet {
                org_id,
                vault_id,
                rules,
            } => self.policy_set(x, org_id, vault_id, rules),
            Action::OrgSettingsSet { org_id, settings } => {
                self.org_settings_set(x, org_id, settings)
            }
            Action::WebauthnSet {
                org_id,
                rp_id,
                origins,
            } => self.webauthn_set(x, org_id, rp_id, origins),
            Action::PasskeyInvite {
                org_id,
                user_id,
                invite_key,
                ttl_secs,
            } => self.passkey_invite(x, org_id, user_id, invite_key, *ttl_secs),
            Action::PasskeyRevoke {
                org_id,
                user_id,
                credential_id,
            } => self.passkey_revoke(org_id, user_id, credential_id),
            _ => Err(format!("{} is not a governed change", action.kind())),
        }
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
}

#[cfg(test)]
mod tests;
