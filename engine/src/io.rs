//! What goes into the engine ([`Input`]) and what comes out ([`Action`]).

use mpc_custody::state::{RecordKey, RepairJob, SigningJob};
use mpc_custody::types::{RequestId, VaultId, WalletId};
use mpc_custody::{NodeId, Report};
use mpc_protocol::chain::keys::VaultPublicKeys;
use mpc_protocol::chain::{Chain, KeyType, Network};
use mpc_protocol::session::PartyIndex;
use mpc_protocol::session::SessionId;
use std::collections::BTreeMap;

/// A piece of threshold work this node runs, named by what the log fixed.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Job {
    /// Attempt `attempt` of the committee's ECDSA aux info.
    Aux {
        /// Attempt (the log's [`mpc_custody::AuxRecord`]).
        attempt: u32,
    },
    /// DKG of a vault's three keys.
    Dkg {
        /// Vault.
        vault_id: VaultId,
    },
    /// Presignature `seq` of a wallet's pool.
    Presign {
        /// Wallet.
        wallet_id: WalletId,
        /// Sequence number.
        seq: u64,
    },
    /// One signing attempt.
    Sign {
        /// Request.
        request_id: RequestId,
        /// Attempt.
        attempt: u32,
    },
    /// The refresh of a vault's shares to `epoch` (every key type).
    Refresh {
        /// Vault.
        vault_id: VaultId,
        /// The epoch it makes.
        epoch: u32,
        /// The refresh (the log index that started it).
        generation: u64,
    },
    /// A repair attempt of a replaced node's shares of a vault (every key type).
    Repair {
        /// Vault.
        vault_id: VaultId,
        /// The node's replacement number.
        replacement: u32,
        /// Attempt.
        attempt: u32,
    },
}

/// How a session ended, as its driver saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SessionOutcome {
    /// Aux info stored.
    AuxReady,
    /// DKG done: the public keys this node holds shares of.
    VaultKeys(VaultPublicKeys),
    /// The presignature is stored.
    PresigStored,
    /// Signatures (hex), one per message.
    Signed(Vec<String>),
    /// Refresh done: the new shares are stored (not yet in force); the digest of the new
    /// public key material.
    Refreshed(String),
    /// The refresh failed; `culprits` sent bad sub-shares.
    RefreshFailed {
        /// Why.
        reason: String,
        /// Nodes a session named.
        culprits: Vec<NodeId>,
    },
    /// Repair done: as the repaired node, this node stored a share of every key of the vault
    /// and checked each against the vault's public shares; as a helper, it sent its part.
    Repaired,
    /// The repair failed; `culprits` sent bad sub-shares.
    RepairFailed {
        /// Why.
        reason: String,
        /// Helpers a session named.
        culprits: Vec<NodeId>,
    },
    /// The session failed.
    Failed {
        /// Why.
        reason: String,
        /// Peers from which nothing arrived.
        unresponsive: Vec<NodeId>,
    },
}

/// What became of a proposed report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeliveryOutcome {
    /// Committed and applied (whether or not it changed anything).
    Applied,
    /// Not committed (no leader, network, timeout): try again.
    NotCommitted(String),
}

/// Which records applied entries changed since the last [`Input::Applied`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Changed {
    /// These records.
    Keys(Vec<RecordKey>),
    /// Unknown (start-up, or the change feed overflowed): look at everything once.
    All,
}

/// An input to [`crate::Engine::step`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Input {
    /// Applied log entries changed these records (the state passed to `step` is after them).
    Applied(Changed),
    /// A leader is known and every node is connected: the network has formed.
    NetworkFormed,
    /// A session the engine started ended.
    SessionDone {
        /// Which.
        job: Job,
        /// How.
        outcome: SessionOutcome,
    },
    /// A proposed report was delivered or not.
    Delivered {
        /// The id of the [`Action::Propose`].
        id: u64,
        /// What happened.
        outcome: DeliveryOutcome,
    },
    /// Time passed (a timer the engine asked for fired).
    Tick,
}

/// Everything the driver needs to run one session; the engine derived it from the log.
#[derive(Debug, Clone)]
pub enum SessionSpec {
    /// ECDSA aux info with the whole committee.
    Aux {
        /// Attempt: the driver keeps each attempt's aux info apart.
        attempt: u32,
        /// Session id.
        session_id: SessionId,
        /// Every committee node and its party index.
        parties: BTreeMap<NodeId, PartyIndex>,
    },
    /// DKG of the three key types of a vault.
    Dkg {
        /// Vault.
        vault_id: VaultId,
        /// Every committee node and its party index.
        parties: BTreeMap<NodeId, PartyIndex>,
        /// Threshold.
        threshold: u16,
        /// One session id per key type, in DKG order.
        sessions: Vec<(KeyType, SessionId)>,
    },
    /// One presignature of a wallet's pool.
    Presign {
        /// Wallet.
        wallet_id: WalletId,
        /// Sequence number.
        seq: u64,
        /// Session id.
        session_id: SessionId,
        /// The pool's signers and their party indices.
        parties: BTreeMap<NodeId, PartyIndex>,
        /// Keygen-time (0-based) indices of the signers, in signer order.
        keygen_indices: Vec<u16>,
        /// The complete aux-info attempt to use.
        aux_attempt: u32,
        /// Share-store key the presignature is kept under.
        store_key: String,
        /// The wallet's vault, chain, network and index (its key and HD path).
        vault_id: VaultId,
        /// Chain.
        chain: Chain,
        /// Network.
        network: Network,
        /// Index.
        index: u32,
        /// The vault's current share generation (the pool makes presignatures from it).
        share_generation: u64,
    },
    /// One block of a FROST wallet's nonce pool (decision 0034): nonce pairs for pool sequence
    /// numbers `first_seq .. first_seq + count`, their commitments exchanged among the pool's
    /// signers in one round, each slot stored sealed under its key.
    FrostNonces {
        /// Wallet.
        wallet_id: WalletId,
        /// First sequence number of the block (the job's and the report's `seq`).
        first_seq: u64,
        /// Sequence numbers in the block.
        count: u64,
        /// Session id.
        session_id: SessionId,
        /// The pool's signers and their party indices.
        parties: BTreeMap<NodeId, PartyIndex>,
        /// The wallet's vault and key type (the share that hedges the nonces' randomness).
        vault_id: VaultId,
        /// Key type (ed25519 or secp256k1-tr).
        key_type: KeyType,
        /// The vault's current share generation.
        share_generation: u64,
    },
    /// The refresh of a vault's shares of every key type, among the whole committee or, when
    /// it removes nodes, among the staying ones.
    Refresh {
        /// Vault.
        vault_id: VaultId,
        /// The share generation refreshed (the vault's current one).
        from_generation: u64,
        /// The generation the refresh makes (the log index that started it).
        generation: u64,
        /// Every taking part (staying) node and its party index (FROST key types).
        parties: BTreeMap<NodeId, PartyIndex>,
        /// The committee holding the current shares, in keygen order (ECDSA key-share indices).
        committee: Vec<NodeId>,
        /// The nodes taking part, in keygen order: the committee once the refresh is done
        /// (the whole committee unless nodes were removed, decision 0027).
        staying: Vec<NodeId>,
        /// One session id per key type.
        sessions: Vec<(KeyType, SessionId)>,
    },
    /// A repair attempt, after this node's own checks of the replacement.
    Repair {
        /// The verified job.
        job: Box<RepairJob>,
        /// Helpers and the repaired node with their party indices (FROST identifiers).
        parties: BTreeMap<NodeId, PartyIndex>,
        /// One session id per key type.
        sessions: Vec<(KeyType, SessionId)>,
        /// The session in which the helpers hand the repaired node the vault's public shares.
        public_session: SessionId,
    },
    /// One signing attempt, after this node's own checks (invariant 2).
    Sign {
        /// The verified job.
        job: Box<SigningJob>,
        /// The signers and their party indices.
        parties: BTreeMap<NodeId, PartyIndex>,
        /// Keygen-time (0-based) indices of the signers, in signer order.
        keygen_indices: Vec<u16>,
        /// The complete aux-info attempt ECDSA uses (0 and unused for FROST).
        aux_attempt: u32,
        /// One session id per message.
        message_sessions: Vec<SessionId>,
    },
}

/// What the engine asks its driver to do, in order.
#[derive(Debug, Clone)]
pub enum Action {
    /// Run a session and answer with [`Input::SessionDone`]. The driver joins each session id
    /// once, ever (the share store remembers it across restarts), and for a signing job takes
    /// its presignatures out of the share store (flushed) before any partial signature leaves.
    Start {
        /// Which job.
        job: Job,
        /// What to run.
        spec: SessionSpec,
    },
    /// Delete these presignatures from the share store (an attempt this node will not sign).
    DiscardPresignatures {
        /// Share-store keys.
        keys: Vec<String>,
    },
    /// A refresh of the vault finished or failed: delete the shares no longer needed — those
    /// a failed refresh left, and (only after checking every committee node's signed report,
    /// `CustodyState::verify_refresh_completion`) those a completed refresh replaced.
    /// Idempotent.
    TidyShares {
        /// Vault.
        vault_id: VaultId,
    },
    /// Sign `report` with the node key, propose it through Raft and answer with
    /// [`Input::Delivered`].
    Propose {
        /// Delivery id.
        id: u64,
        /// The report.
        report: Report,
    },
    /// Send [`Input::Tick`] at this time (ms, the driver's clock) or earlier.
    WakeAt(u64),
}
