//! The custody state machine store: [`CustodyState`] in memory, persisted record by record.

use super::{corrupt, io_err};
use crate::custody::Request;
use crate::raft::{NodeId, PeerNode, TypeConfig};
use crate::state::{
    CommandOutcome, CustodyState, EntryContext, GenesisParams, RecordKey, RecordValue,
};
use mpc_protocol::limits::MAX_RECORD_BYTES;
use mpc_protocol::{decode, encode};
use openraft::storage::{RaftStateMachine, Snapshot};
use openraft::{
    Entry, EntryPayload, LogId, OptionalSend, RaftSnapshotBuilder, SnapshotMeta, StorageError,
    StorageIOError, StoredMembership,
};
use serde::{Deserialize, Serialize};
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

struct Inner {
    state: CustodyState,
    applied: AppliedMeta,
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
            inner: Arc::new(RwLock::new(Inner { state, applied })),
            request_events: broadcast::channel(REQUEST_EVENTS).0,
        })
    }

    /// Runs `f` on the current custody state (read lock held for the duration).
    pub fn read<T>(&self, f: impl FnOnce(&CustodyState) -> T) -> Result<T, String> {
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

    /// Last applied log id.
    pub fn last_applied(&self) -> Option<LogId<NodeId>> {
        self.inner.read().ok().and_then(|g| g.applied.last_applied)
    }

    /// Writes the given records (or their deletion) and the applied metadata, then flushes.
    async fn persist(
        &self,
        changes: Vec<(RecordKey, Option<RecordValue>)>,
        applied: &AppliedMeta,
    ) -> Result<(), StorageError<NodeId>> {
        let mut batch = sled::Batch::default();
        for (key, value) in changes {
            let k = encode(&key).map_err(write_err)?;
            match value {
                Some(v) => batch.insert(k, encode(&v).map_err(write_err)?),
                None => batch.remove(k),
            }
        }
        self.records.apply_batch(batch).map_err(write_err)?;
        self.meta
            .insert(KEY_APPLIED, encode(applied).map_err(write_err)?)
            .map_err(write_err)?;
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
                EntryPayload::Normal(cmd) => inner.state.apply(
                    EntryContext {
                        log_index: entry.log_id.index,
                    },
                    &cmd,
                ),
                EntryPayload::Membership(m) => {
                    inner.applied.membership = StoredMembership::new(Some(entry.log_id), m);
                    CommandOutcome::default()
                }
            };
            outcomes.push(outcome);
        }
        inner.applied.last_timestamp_ms = inner.state.last_timestamp_ms();
        let changes = inner
            .state
            .take_dirty()
            .into_iter()
            .map(|k| {
                let v = inner.state.record(&k);
                (k, v)
            })
            .collect();
        let requests = inner.state.take_request_changes();
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
        Ok(Box::new(Cursor::new(Vec::new())))
    }

    async fn install_snapshot(
        &mut self,
        meta: &SnapshotMeta<NodeId, PeerNode>,
        snapshot: Box<Cursor<Vec<u8>>>,
    ) -> Result<(), StorageError<NodeId>> {
        let data = snapshot.into_inner();
        let body: SnapshotBody =
            decode(&data, MAX_RECORD_BYTES).map_err(|e| corrupt("received snapshot", e))?;
        let mut state = body.state;
        {
            let guard = self.inner.read().map_err(|_| poisoned())?;
            if state.genesis() != guard.state.genesis() {
                return Err(corrupt("received snapshot", "it is for another genesis"));
            }
        }
        let applied = AppliedMeta {
            last_applied: meta.last_log_id,
            membership: meta.last_membership.clone(),
            last_timestamp_ms: state.last_timestamp_ms(),
        };
        // Replace every record: clear, then write the snapshot's records.
        self.records.clear().map_err(write_err)?;
        let _ = state.take_dirty();
        let _ = state.take_request_changes();
        let changes = state
            .record_keys()
            .into_iter()
            .map(|k| {
                let v = state.record(&k);
                (k, v)
            })
            .collect();
        self.persist(changes, &applied).await?;
        let stored = StoredSnapshot {
            meta: meta.clone(),
            data,
        };
        self.meta
            .insert(KEY_SNAPSHOT, encode(&stored).map_err(write_err)?)
            .map_err(write_err)?;
        self.db.flush_async().await.map_err(write_err)?;
        let mut guard = self.inner.write().map_err(|_| poisoned())?;
        guard.state = state;
        guard.applied = applied;
        Ok(())
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
