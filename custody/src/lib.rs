//! # mpc-custody
//!
//! The replicated custody state of an mpc-node network, as a pure state machine: no I/O, no
//! clock, no randomness, no async runtime. `mpc-consensus` replicates it with openraft and
//! persists it with sled; the node's engine reads it; the deterministic simulator drives it.
//! `.ci/run` checks that tokio, sled and openraft stay out of this crate's dependency tree, and
//! `clippy.toml` here forbids wall clocks and OS randomness.
//!
//! Bird's-eye view, lowest first:
//! - [`types`], [`ids`]: identifiers, roles, node ids, signer subsets and every session-id
//!   derivation of the network.
//! - [`policy`], [`org`], [`vault`], [`address_book`], [`asset`], [`pool`]: the records admins
//!   manage;
//!   [`governance`]: the proposals that change them, each adopted by an admin quorum;
//!   [`aux`]: the committee's ECDSA aux-info attempts.
//! - [`chain_status`]: where a signed transaction stands on its chain (broadcast, confirmed),
//!   final only when `t` nodes agree.
//! - [`webauthn`]: WebAuthn assertion and registration checks; [`passkey`]: passkeys as member
//!   credentials (registered through admin-adopted invitations) and the challenges they sign.
//! - [`read_auth`]: the signed `auth` of a JSON-RPC read and who may read what.
//! - [`command`]: what users sign. A [`command::SignedCommand`] carries the exact JSON text of a
//!   [`command::CommandBody`], the signer's Ed25519 public key and a signature over a
//!   domain-separated hash of that text. Nodes verify it before proposing; `apply` verifies again.
//! - [`request`], [`report`]: signing requests (which carry the approvals users signed) and node
//!   reports (signed by a node's genesis key).
//! - [`entry`]: what a log entry carries ([`entry::LogCommand`]) and the clock-skew bound.
//! - [`audit`]: the hash-chained audit log.
//! - [`state`]: [`state::CustodyState`], the deterministic state machine. `apply` takes its
//!   timestamp and position from the log entry, never from a clock.
//!
//! Invariants:
//! - `apply` is deterministic: same state + same entry ⇒ same outcome and same next state. A
//!   failed command (bad signature, missing role, unknown org …) is a recorded outcome, never a
//!   panic.
//! - A command with the same signer and idempotency key is applied at most once; a replay returns
//!   the first outcome.
//! - Every applied command appends one audit entry whose hash covers the previous entry's hash.
//! - A signer acts only on [`state::CustodyState::signing_job`], its own re-verification of the
//!   request against signatures anchored in the genesis (invariant 2).
//!
//! Caveats: the whole custody state is held in memory; very large audit logs will want paging
//! from disk.

pub mod address_book;
pub mod asset;
pub mod audit;
pub mod aux;
pub mod chain_status;
pub mod command;
pub mod entry;
pub mod governance;
pub mod ids;
pub mod membership;
pub mod org;
pub mod passkey;
pub mod policy;
pub mod pool;
pub mod read_auth;
pub mod report;
pub mod request;
pub mod state;
pub mod types;
pub mod vault;
pub mod webauthn;
#[cfg(test)]
pub(crate) mod webauthn_soft;

pub use address_book::{book_chain, AddressBookEntry};
pub use asset::Asset;
pub use aux::AuxRecord;
pub use governance::{Adoption, OrgSettings, Proposal, ProposalStatus};
pub use ids::{session_id, subsets, NodeId};
pub use org::{Member, Org};
pub use policy::{
    AutoApprove, FeeCap, LimitAction, Policy, PolicyRules, SpendLimit, DEFAULT_REQUEST_TTL_SECS,
    MAX_APPROVERS, MAX_LIMITS, MAX_WINDOW_SECS,
};
pub use pool::{
    presig_store_key, PresigPool, FROST_NONCE_BLOCK, FROST_POOL_MAX, FROST_POOL_MIN,
    PRESIG_DEMAND_WINDOW_MS, PRESIG_MAX_FAILURES, PRESIG_POOL_MAX, PRESIG_POOL_MIN,
};
pub use report::{
    report_message, Report, ReportBody, SignedAttempt, SignedReport, MAX_SIGNATURE_ITEMS,
};
pub use request::{
    attempt_deadline_ms, check_approval, intent_digest, Request, RequestStatus, SignAttempt,
    ATTEMPT_DEADLINE_INTERACTIVE_MS, ATTEMPT_DEADLINE_ONLINE_MS, MAX_SIGN_ATTEMPTS,
};
pub use vault::{
    refresh_digest, KeyRefresh, RefreshStatus, Vault, VaultStatus, Wallet,
    DEFAULT_ETH_TESTNET_CHAIN_ID,
};
