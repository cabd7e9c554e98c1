//! openraft's own storage test suite, run against the sled log and state-machine stores.

#![allow(clippy::unwrap_used)] // tests fail loudly on purpose

use mpc_consensus::raft::{NodeId, TypeConfig};
use mpc_consensus::state::GenesisParams;
use mpc_consensus::store::{self, LogStore, StateMachineStore};
use openraft::testing::{StoreBuilder, Suite};
use openraft::StorageError;

struct SledBuilder;

impl StoreBuilder<TypeConfig, LogStore, StateMachineStore, tempfile::TempDir> for SledBuilder {
    async fn build(
        &self,
    ) -> Result<(tempfile::TempDir, LogStore, StateMachineStore), StorageError<NodeId>> {
        let dir = tempfile::tempdir().map_err(|e| StorageError::IO {
            source: openraft::StorageIOError::write(openraft::AnyError::new(&e)),
        })?;
        let genesis = GenesisParams {
            cluster_id: "suite".into(),
            admins: Default::default(),
            nodes: Default::default(),
            threshold: 2,
        };
        let (log, sm) = store::open(&dir.path().join("db"), genesis).await?;
        Ok((dir, log, sm))
    }
}

#[test]
fn openraft_storage_suite_on_sled() -> Result<(), StorageError<NodeId>> {
    Suite::test_all(SledBuilder)
}
