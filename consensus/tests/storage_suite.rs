//! openraft's own storage test suite, run against the sled log and state-machine stores.

#![allow(clippy::unwrap_used)] // tests fail loudly on purpose

use mpc_consensus::raft::{NodeId, TypeConfig};
use mpc_consensus::store::{self, LogStore, StateMachineStore};
use mpc_custody::state::GenesisParams;
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

type S = Suite<TypeConfig, LogStore, StateMachineStore, SledBuilder, tempfile::TempDir>;

/// Every test of openraft's storage suite except `transfer_snapshot`: this store never installs
/// a snapshot (decision 0012), which `never_installs_a_snapshot` checks instead.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn openraft_storage_suite_on_sled() -> Result<(), StorageError<NodeId>> {
    macro_rules! run {
        ($($name:ident),* $(,)?) => {$(
            let (_dir, log, sm) = SledBuilder.build().await?;
            S::$name(log, sm).await?;
        )*};
    }
    run!(
        last_membership_in_log_initial,
        last_membership_in_log,
        last_membership_in_log_multi_step,
        get_membership_initial,
        get_membership_from_log_and_empty_sm,
        get_membership_from_empty_log_and_sm,
        get_membership_from_log_le_sm_last_applied,
        get_membership_from_log_gt_sm_last_applied_1,
        get_membership_from_log_gt_sm_last_applied_2,
        get_initial_state_without_init,
        get_initial_state_membership_from_log_and_sm,
        get_initial_state_with_state,
        get_initial_state_last_log_gt_sm,
        get_initial_state_last_log_lt_sm,
        get_initial_state_log_ids,
        get_initial_state_re_apply_committed,
        save_vote,
        get_log_entries,
        limited_get_log_entries,
        try_get_log_entry,
        initial_logs,
        get_log_state,
        get_log_id,
        last_id_in_log,
        last_applied_state,
        purge_logs_upto_0,
        purge_logs_upto_5,
        purge_logs_upto_20,
        delete_logs_since_11,
        delete_logs_since_0,
        append_to_log,
        snapshot_meta,
        apply_single,
        apply_multiple,
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn never_installs_a_snapshot() -> Result<(), StorageError<NodeId>> {
    use openraft::storage::RaftStateMachine;
    let (_dir, _log, mut sm) = SledBuilder.build().await?;
    assert!(sm.begin_receiving_snapshot().await.is_err());
    let meta = openraft::SnapshotMeta::default();
    let body = Box::new(std::io::Cursor::new(vec![0u8; 16]));
    let err = sm.install_snapshot(&meta, body).await.unwrap_err();
    assert!(err.to_string().contains("never installs"), "{err}");
    Ok(())
}
