//! What applying a log entry produced.

use crate::org::{Member, Org};
use crate::{AddressBookEntry, AuxRecord, Policy, PresigPool, Request, Vault, Wallet};
use serde::{Deserialize, Serialize};

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
    /// A governance proposal created or changed (approved, vetoed, expired).
    Proposal {
        /// The proposal now.
        proposal: Box<crate::Proposal>,
    },
    /// A proposal reached its quorum (and time-lock) and its change took effect.
    ProposalExecuted {
        /// The proposal now.
        proposal: Box<crate::Proposal>,
        /// What the change produced.
        result: Box<ActionResult>,
    },
    /// An organisation's governance settings changed.
    OrgSettingsSet {
        /// The organisation now.
        org: Org,
    },
    /// A new member.
    MemberAdded {
        /// The member.
        member: Member,
    },
    /// A member's passkeys or invitations changed.
    MemberUpdated {
        /// The member now.
        member: Member,
    },
    /// A member removed.
    MemberRemoved {
        /// The member as it was.
        member: Member,
    },
    /// The committee's aux-info record changed (aux-info report).
    Aux {
        /// The record now.
        aux: AuxRecord,
    },
    /// A vault created or changed (DKG report).
    Vault {
        /// The vault now.
        vault: Box<Vault>,
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
    /// A token added to or removed from the asset registry.
    Asset {
        /// The entry.
        asset: crate::Asset,
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
    /// A node's batch of signature reports ([`crate::Report::Signatures`]) signed these
    /// requests (the others in the batch changed nothing).
    RequestsSigned {
        /// The requests it signed, in the batch's order.
        request_ids: Vec<crate::types::RequestId>,
    },
    /// A presignature pool changed (node report).
    PresigPool {
        /// The pool now.
        pool: PresigPool,
    },
    /// A node replacement signed by one more genesis admin (or admitted).
    NodeReplacement {
        /// The replacement now.
        replacement: Box<crate::membership::NodeReplacement>,
    },
    /// A node removal signed by one more genesis admin (or admitted).
    NodeRemoval {
        /// The removal now.
        removal: Box<crate::membership::NodeRemoval>,
    },
    /// A node addition signed by one more genesis admin (or admitted).
    NodeAddition {
        /// The addition now.
        addition: Box<crate::membership::NodeAddition>,
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
    /// The command's place in its entry when the leader proposed it with others
    /// ([`crate::entry::Proposal::Users`]); 0 for an entry of its own.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub item: u32,
    /// For a [`crate::entry::Proposal::Users`] entry: each command's own outcome, in order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub items: Vec<CommandOutcome>,
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

/// What was remembered about an applied command, for replays.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IdempotencyRecord {
    /// Hash of the body first applied under this key.
    pub body_hash: [u8; 32],
    /// Its outcome.
    pub outcome: CommandOutcome,
}
