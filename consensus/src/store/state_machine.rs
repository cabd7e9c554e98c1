//! The custody state machine store: [`CustodyState`] in memory, persisted record by record.

use super::{corrupt, io_err};
use crate::raft::{NodeId, PeerNode, TypeConfig};
use mpc_custody::entry::Proposal;
use mpc_custody::state::{
    CommandOutcome, CustodyState, EntryContext, GenesisParams, RecordKey, RecordValue,
};
use mpc_custody::Request;
use mpc_protocol::limits::MAX_RECORD_BYTES;
use mpc_protocol::{decode, encode};
use openraft::storage::{RaftStateMachine, Snapshot};
use openraft::{
    Entry, EntryPayload, LogId, OptionalSend, RaftSnapshotBuilder, SnapshotMeta, StorageError,
    StorageIOError, StoredMembership,
};
use serde::{Deserialize, Serialize};
use sled::Transactional;
use std::collections::{BTreeMap, BTreeSet};
use std::io::Cursor;
use std::sync::{Arc, RwLock, RwLockReadGuard};
use tokio::sync::broadcast;

const KEY_GENESIS: &[u8] = b"genesis";
const KEY_APPLIED: &[u8] = b"applied";
const KEY_SNAPSHOT: &[u8] = b"snapshot";

/// What the store remembers about Raft alongside the custody state.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct AppliedMeta {
    last_applied: Option<LogId<NodeId>>,
    membership: StoredMembership<NodeId, PeerNode>,
    last_timestamp_ms: u64,
}

/// The body of a snapshot: the applied position and the whole custody state.
#[derive(Serialize, Deserialize)]
struct SnapshotBody {
    applied: AppliedMeta,
    state: CustodyState,
}

/// The latest snapshot, as persisted.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StoredSnapshot {
    /// openraft's metadata.
    pub meta: SnapshotMeta<NodeId, PeerNode>,
    /// The encoded [`SnapshotBody`].
    pub data: Vec<u8>,
}

/// Outcomes of a batch, the records it changed, the new applied position, and every request
/// write in order.
type AppliedBatch = (
    Vec<CommandOutcome>,
    Vec<(RecordKey, Option<RecordValue>)>,
    AppliedMeta,
    Vec<Request>,
);

/// Request changes kept for slow subscribers before they must resynchronise from the state.
const REQUEST_EVENTS: usize = 4096;

/// Outcomes of the most recent commands kept for [`StateMachineStore::applied_outcome`].
const RECENT_OUTCOMES: usize = 1024;

/// What this node applied at one log index (and item of a batch entry): the proposal's hash
/// and its outcome.
#[derive(Debug, Clone)]
pub struct AppliedOutcome {
    /// SHA-256 of the CBOR-encoded [`Proposal`] of the entry ([`proposal_hash`]); for an item of
    /// a [`Proposal::Users`] batch, of that command as its own `Proposal::User`.
    pub proposal_hash: [u8; 32],
    /// What applying it produced here.
    pub outcome: CommandOutcome,
}

/// SHA-256 of a proposal's CBOR encoding: identifies an entry's content independently of the
/// leader's timestamp.
pub fn proposal_hash(p: &Proposal) -> [u8; 32] {
    use sha2::{Digest, Sha256};
    let bytes = encode(p).unwrap_or_default();
    Sha256::digest(bytes).into()
}

struct Inner {
    state: CustodyState,
    applied: AppliedMeta,
    /// Outcomes of the last [`RECENT_OUTCOMES`] commands applied here, by log index and item
    /// (0 for an entry of its own).
    recent: BTreeMap<(u64, u32), AppliedOutcome>,
    /// Records changed since the last [`StateMachineStore::take_changes`].
    changes: ChangeFeed,
}

/// Most changed records the feed holds before it overflows (its reader then looks at
/// everything once).
pub const MAX_CHANGE_FEED: usize = 65_536;

/// Vaults, requests and presignature pools changed by applied entries, for the node's engine.
#[derive(Debug, Default)]
struct ChangeFeed {
    keys: BTreeSet<RecordKey>,
    overflowed: bool,
}

/// What [`StateMachineStore::take_changes`] returns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Changes {
    /// These records changed.
    Keys(Vec<RecordKey>),
    /// More changed than the feed holds: look at everything.
    Overflowed,
}

/// State-machine store. Clones share the same state; [`StateMachineStore::read`] gives the node's
/// RPC handlers a consistent view.
#[derive(Clone)]
pub struct StateMachineStore {
    db: sled::Db,
    records: sled::Tree,
    meta: sled::Tree,
    inner: Arc<RwLock<Inner>>,
    request_events: broadcast::Sender<Arc<Request>>,
}

fn write_err<E: std::error::Error + 'static>(e: E) -> StorageError<NodeId> {
    io_err(StorageIOError::write_state_machine, e)
}

fn read_err<E: std::error::Error + 'static>(e: E) -> StorageError<NodeId> {
    io_err(StorageIOError::read_state_machine, e)
}

fn snapshot_refused() -> StorageError<NodeId> {
    corrupt(
        "snapshot",
        "refused: this network never installs custody state from a peer (decision 0012)",
    )
}

fn poisoned() -> StorageError<NodeId> {
    corrupt("state machine", "lock poisoned by an earlier panic")
}

impl StateMachineStore {
    pub(super) async fn new(
        db: sled::Db,
        genesis: GenesisParams,
    ) -> Result<Self, StorageError<NodeId>> {
        let records = db.open_tree("sm_records").map_err(read_err)?;
        let meta = db.open_tree("sm_meta").map_err(read_err)?;
        match meta.get(KEY_GENESIS).map_err(read_err)? {
            Some(bytes) => {
                let stored: GenesisParams =
                    decode(&bytes, MAX_RECORD_BYTES).map_err(|e| corrupt("genesis", e))?;
                if stored != genesis {
                    return Err(corrupt(
                        "data directory",
                        "it belongs to a network with another genesis",
                    ));
                }
            }
            None => {
                let bytes = encode(&genesis).map_err(write_err)?;
                meta.insert(KEY_GENESIS, bytes).map_err(write_err)?;
                db.flush_async().await.map_err(write_err)?;
            }
        }
        let applied: AppliedMeta = match meta.get(KEY_APPLIED).map_err(read_err)? {
            Some(b) => decode(&b, MAX_RECORD_BYTES).map_err(|e| corrupt("applied state", e))?,
            None => AppliedMeta::default(),
        };
        let mut loaded = Vec::new();
        for item in records.iter() {
            let (k, v) = item.map_err(read_err)?;
            let key: RecordKey =
                decode(&k, MAX_RECORD_BYTES).map_err(|e| corrupt("record key", e))?;
            let value: RecordValue =
                decode(&v, MAX_RECORD_BYTES).map_err(|e| corrupt("record", e))?;
            loaded.push((key, value));
        }
        let state = CustodyState::from_records(genesis, applied.last_timestamp_ms, loaded)
            .map_err(|e| corrupt("custody state", e))?;
        Ok(StateMachineStore {
            db,
            records,
            meta,
            inner: Arc::new(RwLock::new(Inner {
                state,
                applied,
                recent: BTreeMap::new(),
                changes: ChangeFeed::default(),
            })),
            request_events: broadcast::channel(REQUEST_EVENTS).0,
        })
    }

    /// Vaults, requests and presignature pools changed by entries applied since the last call
    /// (`None` when nothing changed).
    pub fn take_changes(&self) -> Option<Changes> {
        let mut guard = self.inner.write().ok()?;
        let feed = std::mem::take(&mut guard.changes);
        if feed.overflowed {
            Some(Changes::Overflowed)
        } else if feed.keys.is_empty() {
            None
        } else {
            Some(Changes::Keys(feed.keys.into_iter().collect()))
        }
    }

    /// Runs `f` on the current custody state (read lock held for the duration). A read from
    /// inside `f` on the same thread is refused with an error: with a writer (apply) waiting
    /// between the two, std's lock would deadlock the whole node.
    pub fn read<T>(&self, f: impl FnOnce(&CustodyState) -> T) -> Result<T, String> {
        let _reading = ReadingHere::enter()?;
        let guard: RwLockReadGuard<'_, Inner> = self
            .inner
            .read()
            .map_err(|_| "state lock poisoned".to_string())?;
        Ok(f(&guard.state))
    }

    /// Every request change from now on, in apply order, each sent only once it is durable
    /// (after the flush). A receiver that falls more than 4096 changes behind gets
    /// `Lagged` and should re-read the state.
    pub fn subscribe_requests(&self) -> broadcast::Receiver<Arc<Request>> {
        self.request_events.subscribe()
    }

    /// What this node itself applied at `log_index` (`item` of a batch entry, else 0), if it
    /// is among the last 1024 commands applied since this process started. A node answering a
    /// client whose write was committed by another node (the leader) answers with this, never
    /// with the leader's word.
    pub fn applied_outcome(&self, log_index: u64, item: u32) -> Option<AppliedOutcome> {
        self.inner
            .read()
            .ok()
            .and_then(|g| g.recent.get(&(log_index, item)).cloned())
    }

    /// TEST BUILDS ONLY (feature `forge-for-tests`): a snapshot of this node's state with
    /// every pending request forged into `signing` with `me` as a signer and an auto-approve
    /// policy ([`CustodyState::forge_approvals_for_tests`]), as a malicious node would send it.
    #[cfg(feature = "forge-for-tests")]
    #[allow(clippy::type_complexity)]
    pub fn forged_snapshot_for_tests(
        &self,
        me: NodeId,
        term: u64,
        now_ms: u64,
    ) -> Result<(SnapshotMeta<NodeId, PeerNode>, Vec<u8>, usize), String> {
        let guard = self.inner.read().map_err(|_| "lock poisoned".to_string())?;
        let mut state = guard.state.clone();
        let forged = state.forge_approvals_for_tests(me, now_ms);
        // Claims to be well ahead of the receiver, so that Raft would install it.
        let index = guard.applied.last_applied.map_or(0, |l| l.index) + 1_000;
        let last_log_id = Some(LogId::new(
            openraft::CommittedLeaderId::new(term, me),
            index,
        ));
        let mut applied = guard.applied.clone();
        applied.last_applied = last_log_id;
        let body = SnapshotBody { applied, state };
        let meta = SnapshotMeta {
            last_log_id,
            last_membership: guard.applied.membership.clone(),
            snapshot_id: "forged".into(),
        };
        Ok((meta, encode(&body).map_err(|e| e.to_string())?, forged))
    }

    /// Last applied log id.
    pub fn last_applied(&self) -> Option<LogId<NodeId>> {
        self.inner.read().ok().and_then(|g| g.applied.last_applied)
    }

    /// Writes the given records (or their deletion) and the applied metadata in one sled
    /// transaction over both trees (a crash leaves all of it or none of it), then flushes.
    async fn persist(
        &self,
        changes: Vec<(RecordKey, Option<RecordValue>)>,
        applied: &AppliedMeta,
    ) -> Result<(), StorageError<NodeId>> {
        let mut encoded = Vec::with_capacity(changes.len());
        for (key, value) in changes {
            let k = encode(&key).map_err(write_err)?;
            let v = match value {
                Some(v) => Some(encode(&v).map_err(write_err)?),
                None => None,
            };
            encoded.push((k, v));
        }
        let applied_bytes = encode(applied).map_err(write_err)?;
        (&self.records, &self.meta)
            .transaction(|(records, meta)| {
                for (k, v) in &encoded {
                    match v {
                        Some(v) => records.insert(k.as_slice(), v.as_slice())?,
                        None => records.remove(k.as_slice())?,
                    };
                }
                meta.insert(KEY_APPLIED, applied_bytes.as_slice())?;
                Ok::<(), sled::transaction::ConflictableTransactionError<()>>(())
            })
            .map_err(|e| write_err(std::io::Error::other(format!("{e:?}"))))?;
        self.db.flush_async().await.map_err(write_err)?;
        Ok(())
    }

    fn apply_batch(
        &self,
        entries: impl IntoIterator<Item = Entry<TypeConfig>>,
    ) -> Result<AppliedBatch, StorageError<NodeId>> {
        let mut guard = self.inner.write().map_err(|_| poisoned())?;
        let inner = &mut *guard;
        let mut outcomes = Vec::new();
        for entry in entries {
            inner.applied.last_applied = Some(entry.log_id);
            let outcome = match entry.payload {
                EntryPayload::Blank => CommandOutcome::default(),
                EntryPayload::Normal(cmd) => {
                    let outcome = inner.state.apply(
                        EntryContext {
                            log_index: entry.log_id.index,
                        },
                        &cmd,
                    );
                    let index = entry.log_id.index;
                    match &cmd.proposal {
                        Proposal::Users(cmds) => {
                            for (o, c) in outcome.items.iter().zip(cmds) {
                                let one = Proposal::User(c.clone());
                                inner.recent.insert(
                                    (index, o.item),
                                    AppliedOutcome {
                                        proposal_hash: proposal_hash(&one),
                                        outcome: o.clone(),
                                    },
                                );
                            }
                        }
                        p => {
                            let applied = AppliedOutcome {
                                proposal_hash: proposal_hash(p),
                                outcome: outcome.clone(),
                            };
                            inner.recent.insert((index, 0), applied);
                        }
                    }
                    while inner.recent.len() > RECENT_OUTCOMES {
                        inner.recent.pop_first();
                    }
                    outcome
                }
                EntryPayload::Membership(m) => {
                    inner.applied.membership = StoredMembership::new(Some(entry.log_id), m);
                    CommandOutcome::default()
                }
            };
            outcomes.push(outcome);
        }
        inner.applied.last_timestamp_ms = inner.state.last_timestamp_ms();
        let changes: Vec<(RecordKey, Option<RecordValue>)> = inner
            .state
            .take_dirty()
            .into_iter()
            .map(|k| {
                let v = inner.state.record(&k);
                (k, v)
            })
            .collect();
        let requests = inner.state.take_request_changes();
        let feed = &mut inner.changes;
        for (k, _) in &changes {
            if matches!(
                k,
                RecordKey::Vault(_)
                    | RecordKey::Request(_)
                    | RecordKey::PresigPool(_)
                    | RecordKey::Aux
            ) && !feed.overflowed
            {
                feed.keys.insert(k.clone());
                if feed.keys.len() > MAX_CHANGE_FEED {
                    feed.keys.clear();
                    feed.overflowed = true;
                }
            }
        }
        Ok((outcomes, changes, inner.applied.clone(), requests))
    }

    fn snapshot_from(stored: StoredSnapshot) -> Snapshot<TypeConfig> {
        Snapshot {
            meta: stored.meta,
            snapshot: Box::new(Cursor::new(stored.data)),
        }
    }
}

impl RaftSnapshotBuilder<TypeConfig> for StateMachineStore {
    async fn build_snapshot(&mut self) -> Result<Snapshot<TypeConfig>, StorageError<NodeId>> {
        let (data, applied) = {
            let guard = self.inner.read().map_err(|_| poisoned())?;
            let body = SnapshotBody {
                applied: guard.applied.clone(),
                state: guard.state.clone(),
            };
            (encode(&body).map_err(write_err)?, guard.applied.clone())
        };
        let snapshot_id = match applied.last_applied {
            Some(id) => format!(
                "{}-{}-{}",
                id.leader_id.term, id.leader_id.node_id, id.index
            ),
            None => "empty".to_string(),
        };
        let stored = StoredSnapshot {
            meta: SnapshotMeta {
                last_log_id: applied.last_applied,
                last_membership: applied.membership.clone(),
                snapshot_id,
            },
            data,
        };
        self.meta
            .insert(KEY_SNAPSHOT, encode(&stored).map_err(write_err)?)
            .map_err(write_err)?;
        self.db.flush_async().await.map_err(write_err)?;
        Ok(Self::snapshot_from(stored))
    }
}

impl RaftStateMachine<TypeConfig> for StateMachineStore {
    type SnapshotBuilder = Self;

    async fn applied_state(
        &mut self,
    ) -> Result<(Option<LogId<NodeId>>, StoredMembership<NodeId, PeerNode>), StorageError<NodeId>>
    {
        let guard = self.inner.read().map_err(|_| poisoned())?;
        Ok((guard.applied.last_applied, guard.applied.membership.clone()))
    }

    async fn apply<I>(&mut self, entries: I) -> Result<Vec<CommandOutcome>, StorageError<NodeId>>
    where
        I: IntoIterator<Item = Entry<TypeConfig>> + OptionalSend,
        I::IntoIter: OptionalSend,
    {
        let (outcomes, changes, applied, requests) = self.apply_batch(entries)?;
        self.persist(changes, &applied).await?;
        for r in requests {
            // No subscriber is not an error.
            let _ = self.request_events.send(Arc::new(r));
        }
        Ok(outcomes)
    }

    async fn get_snapshot_builder(&mut self) -> Self::SnapshotBuilder {
        self.clone()
    }

    async fn begin_receiving_snapshot(
        &mut self,
    ) -> Result<Box<Cursor<Vec<u8>>>, StorageError<NodeId>> {
        Err(snapshot_refused())
    }

    /// Never installs a snapshot (decision 0012): custody state that a peer hands over cannot be
    /// verified, so it is never applied. The node's RPC guard refuses InstallSnapshot before
    /// Raft sees it; this is the second line. Snapshots are never needed: logs are not purged,
    /// so a lagging node replays the log, whose entries are signed by users and nodes.
    async fn install_snapshot(
        &mut self,
        _meta: &SnapshotMeta<NodeId, PeerNode>,
        _snapshot: Box<Cursor<Vec<u8>>>,
    ) -> Result<(), StorageError<NodeId>> {
        Err(snapshot_refused())
    }

    async fn get_current_snapshot(
        &mut self,
    ) -> Result<Option<Snapshot<TypeConfig>>, StorageError<NodeId>> {
        match self.meta.get(KEY_SNAPSHOT).map_err(read_err)? {
            None => Ok(None),
            Some(b) => {
                let stored: StoredSnapshot =
                    decode(&b, MAX_RECORD_BYTES).map_err(|e| corrupt("snapshot", e))?;
                Ok(Some(Self::snapshot_from(stored)))
            }
        }
    }
}

std::thread_local! {
    /// Whether this thread is inside [`StateMachineStore::read`].
    static READING: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Marks this thread as reading the state until dropped; refuses a nested read.
struct ReadingHere;

impl ReadingHere {
    fn enter() -> Result<Self, String> {
        if READING.with(|r| r.replace(true)) {
            return Err(
                "a state read inside another state read (refused: it could deadlock \
                        against a waiting writer)"
                    .into(),
            );
        }
        Ok(ReadingHere)
    }
}

impl Drop for ReadingHere {
    fn drop(&mut self) {
        READING.with(|r| r.set(false));
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use ed25519_dalek::SigningKey;
    use mpc_custody::command::{Action, CommandBody, SignedCommand};
    use mpc_custody::entry::LogCommand;
    use mpc_custody::types::{OrgId, UserId, UserKey};
    use openraft::{CommittedLeaderId, LogId};

    fn genesis(admin: &SigningKey) -> GenesisParams {
        GenesisParams {
            cluster_id: "big".into(),
            admins: [UserKey(admin.verifying_key().to_bytes())]
                .into_iter()
                .collect(),
            nodes: Default::default(),
            threshold: 2,
        }
    }

    /// A state read inside another on the same thread is refused with an error, never taken:
    /// with an apply waiting for the write lock between the two, std's lock deadlocks — a
    /// `request_subscribe` did exactly that and hung a node under load (session 15). The
    /// writer here waits on another thread while the nested read is attempted; without the
    /// guard this test never finishes.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_nested_state_read_is_refused_instead_of_deadlocking_against_a_writer() {
        let admin = SigningKey::from_bytes(&[1; 32]);
        let dir = tempfile::tempdir().unwrap();
        let (_log, sm) = crate::store::open(&dir.path().join("db"), genesis(&admin))
            .await
            .unwrap();
        let writer_waiting = std::sync::Arc::new(std::sync::Barrier::new(2));
        let nested = sm
            .read(|_| {
                let (sm2, w) = (sm.clone(), writer_waiting.clone());
                let writer = std::thread::spawn(move || {
                    w.wait();
                    // Blocks until the outer read ends (a writer queued behind a reader).
                    sm2.take_changes();
                });
                writer_waiting.wait();
                std::thread::sleep(std::time::Duration::from_millis(100));
                let inner = sm.read(|_| ());
                (inner, writer)
            })
            .unwrap();
        let (inner, writer) = nested;
        assert!(inner.unwrap_err().contains("inside another state read"));
        writer.join().unwrap();
        // The guard is released: reads work again.
        assert!(sm.read(|_| ()).is_ok());
    }

    /// The custody state is persisted record by record and never decoded as one blob: a state
    /// far larger than the 16 MiB record cap survives a restart (the old snapshot cap was a
    /// time bomb for restarts and snapshot transfer; decision 0012).
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_state_larger_than_16_mib_survives_a_restart() {
        let admin = SigningKey::from_bytes(&[1; 32]);
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("db");
        let orgs = 14_000u64;
        {
            let (_log, mut sm) = crate::store::open(&path, genesis(&admin)).await.unwrap();
            let mut index = 0u64;
            for batch in 0..orgs / 500 {
                let entries: Vec<Entry<TypeConfig>> = (0..500)
                    .map(|i| {
                        index += 1;
                        let n = batch * 500 + i;
                        let body = CommandBody {
                            cluster: "big".into(),
                            idempotency_key: format!("{n:0>120}"),
                            action: Action::OrgCreate {
                                org_id: OrgId(format!("{n:0>60}")),
                                name: format!("{n:x>200}"),
                                admin_user_id: UserId(format!("{n:a>60}")),
                                admin_public_key: None,
                            },
                        };
                        Entry {
                            log_id: LogId::new(CommittedLeaderId::new(1, 1), index),
                            payload: EntryPayload::Normal(LogCommand {
                                proposed_at_ms: 1_000 + index,
                                proposal: Proposal::User(
                                    SignedCommand::sign(&body, &admin).unwrap(),
                                ),
                            }),
                        }
                    })
                    .collect();
                let out = sm.apply(entries).await.unwrap();
                assert!(out.iter().all(|o| o.error.is_none()), "{:?}", out[0]);
            }
        }
        let db = sled::open(&path).unwrap();
        let bytes: usize = db
            .open_tree("sm_records")
            .unwrap()
            .iter()
            .map(|kv| kv.map(|(k, v)| k.len() + v.len()).unwrap())
            .sum();
        drop(db);
        assert!(bytes > MAX_RECORD_BYTES, "state is only {bytes} bytes");
        let (_log, sm) = crate::store::open(&path, genesis(&admin)).await.unwrap();
        let n = sm.read(|s| s.orgs().count()).unwrap();
        assert_eq!(
            n as u64, orgs,
            "after a restart with {bytes} bytes of state"
        );
    }
}
