//! sled-backed openraft storage.
//!
//! One sled database per node holds four trees:
//! - `raft_log`: log entries keyed by big-endian index (CBOR values);
//! - `raft_meta`: vote, committed log id, last purged log id;
//! - `sm_meta`: genesis parameters, last applied log id, membership, current snapshot;
//! - `sm_records`: the custody state, one record per organisation / member / idempotency key /
//!   audit entry (see [`mpc_custody::state::RecordKey`]).
//!
//! Durability: every write that openraft must be able to rely on (appended entries, vote,
//! truncation, purge, applied state, installed snapshot) is followed by `flush_async` before the
//! call returns or the `LogFlushed` callback fires.

mod log_store;
mod state_machine;

pub use log_store::{AppendTimings, LogStore, APPENDS};
pub use state_machine::{
    proposal_hash, AppliedOutcome, Changes, StateMachineStore, StoredSnapshot, MAX_CHANGE_FEED,
};

use crate::raft::NodeId;
use mpc_custody::state::GenesisParams;
use openraft::{AnyError, StorageError, StorageIOError};
use std::path::Path;

/// Bytes of sled's page cache. The custody state is held in memory (`CustodyState`) and only
/// written through sled, and Raft reads back recent entries only, so sled's default (1 GiB) would
/// only let a node's memory grow with its history (docs/performance.md, "Memory per request").
pub const SLED_CACHE_BYTES: u64 = 64 * 1024 * 1024;

/// Opens (or creates) the node's sled database and returns its log and state-machine stores.
///
/// Refuses a database that was created for another genesis.
pub async fn open(
    path: &Path,
    genesis: GenesisParams,
) -> Result<(LogStore, StateMachineStore), StorageError<NodeId>> {
    let db = sled::Config::new()
        .path(path)
        .mode(sled::Mode::HighThroughput)
        .cache_capacity(SLED_CACHE_BYTES)
        .open()
        .map_err(|e| io_err(StorageIOError::read, e))?;
    let log = LogStore::new(db.clone())?;
    let sm = StateMachineStore::new(db, genesis).await?;
    Ok((log, sm))
}

pub(crate) fn io_err<E: std::error::Error + 'static>(
    ctor: fn(AnyError) -> StorageIOError<NodeId>,
    e: E,
) -> StorageError<NodeId> {
    StorageError::IO {
        source: ctor(AnyError::new(&e)),
    }
}

pub(crate) fn corrupt(what: &str, detail: impl std::fmt::Display) -> StorageError<NodeId> {
    let e = std::io::Error::new(
        std::io::ErrorKind::InvalidData,
        format!("corrupt {what}: {detail}"),
    );
    io_err(StorageIOError::read, e)
}
