//! TEST BUILDS ONLY (feature `forge-for-tests`): a faulty node for the forged-approval test.
//!
//! Once [`enable`]d (only `mpc-node-forger` does), the runner treats every `pending` request as
//! if its state said `approved` / `signing` with this node as a signer, and starts the signing
//! session with the other signers without any check. Each outcome is appended as one JSON line
//! to the file named by `MPC_FORGE_REPORT`, so the test can see what the honest nodes sent
//! back: nothing, if invariant 2 holds.

use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};

static ENABLED: AtomicBool = AtomicBool::new(false);

/// Turns forging on for this process.
pub fn enable() {
    ENABLED.store(true, Ordering::SeqCst);
}

/// Whether forging is on.
pub fn enabled() -> bool {
    ENABLED.load(Ordering::SeqCst)
}

/// Appends `outcome` to `$MPC_FORGE_REPORT` (if set) as one JSON line.
pub fn record(outcome: &serde_json::Value) {
    tracing::warn!("FORGED signing session: {outcome}");
    let Ok(path) = std::env::var("MPC_FORGE_REPORT") else {
        return;
    };
    let line = format!("{outcome}\n");
    let res = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)
        .and_then(|mut f| f.write_all(line.as_bytes()).and_then(|()| f.sync_all()));
    if let Err(e) = res {
        tracing::error!("writing {path}: {e}");
    }
}

/// Whether attack `name` is selected in `MPC_FORGE_ATTACKS` (comma-separated; forging must be
/// enabled): `lead` (become and stay leader), `snapshot` (send a forged InstallSnapshot to every
/// peer once a request is pending), `impersonate` (send AppendEntries and Vote claiming to come
/// from another node), `fake-write-outcome` (as leader, acknowledge forwarded `member_remove`
/// commands without committing them), `swap-batch-item` (as leader, answer a forwarded command
/// batched with others with its neighbour's place in the entry), `flood` (once a request is signed, flood a peer with
/// session messages), `sign` (forge signing sessions; the default when none is selected).
pub fn attack(name: &str) -> bool {
    enabled()
        && std::env::var("MPC_FORGE_ATTACKS")
            .map(|v| v.split(',').any(|a| a.trim() == name))
            .unwrap_or(false)
}

/// Whether the runner forges signing sessions for pending requests: always when forging is
/// enabled and no attack is selected, otherwise when `sign` is selected.
pub fn forging_sessions() -> bool {
    enabled() && (std::env::var("MPC_FORGE_ATTACKS").is_err() || attack("sign"))
}

/// Offset added to this process's wall clock (`MPC_FORGE_CLOCK_OFFSET_MS`, signed), when
/// forging is enabled: a leader whose clock is wrong.
pub fn clock_offset_ms() -> i64 {
    if !enabled() {
        return 0;
    }
    std::env::var("MPC_FORGE_CLOCK_OFFSET_MS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

/// Runs the selected attacks until the process ends.
pub async fn run_attacks(cluster: crate::cluster::ClusterHandle, hub: crate::sessions::SessionHub) {
    use std::time::Duration;
    tracing::warn!("FORGER attacks: {:?}", std::env::var("MPC_FORGE_ATTACKS"));
    let mut snapshot_sent = false;
    let mut impersonated = false;
    let mut flooded = false;
    let started = std::time::Instant::now();
    loop {
        tokio::time::sleep(Duration::from_millis(500)).await;
        let metrics = cluster.raft().metrics().borrow().clone();
        if attack("lead") && metrics.current_leader != Some(cluster.node_id()) {
            let _ = cluster.raft().trigger().elect().await;
        }
        let connected = cluster.p2p().connected_peers().len();
        if attack("impersonate")
            && !impersonated
            && connected >= 2
            && started.elapsed() > Duration::from_secs(3)
        {
            impersonated = true;
            impersonate(&cluster, metrics.current_term).await;
        }
        if attack("snapshot") && !snapshot_sent {
            let pending = cluster
                .read_state(|s| {
                    s.requests(None)
                        .any(|r| r.status == mpc_custody::RequestStatus::Pending)
                })
                .unwrap_or(false);
            if pending {
                snapshot_sent = true;
                forged_snapshot(&cluster, metrics.current_term).await;
            }
        }
        // The flood starts once a request is signed, so it does not starve the forger's own
        // part in the vault's DKG (its messages share its per-peer bounds at the victim).
        if attack("flood") && !flooded {
            let signed = cluster
                .read_state(|s| {
                    s.requests(None)
                        .any(|r| r.status == mpc_custody::RequestStatus::Signed)
                })
                .unwrap_or(false);
            if signed {
                flooded = true;
                flood(&cluster, &hub);
            }
        }
    }
}

fn others(cluster: &crate::cluster::ClusterHandle) -> Vec<u64> {
    cluster
        .genesis()
        .nodes
        .iter()
        .map(|n| n.node_id)
        .filter(|n| *n != cluster.node_id())
        .collect()
}

async fn send_raft(
    cluster: &crate::cluster::ClusterHandle,
    to: u64,
    rpc: mpc_consensus::rpc::RaftRpc,
) -> serde_json::Value {
    use crate::p2p::messages::{PeerRequest, PeerResponse};
    use mpc_consensus::rpc::RaftRpcReply;
    let Some(peer) = cluster.peer_of(to) else {
        return serde_json::json!({ "error": "unknown peer" });
    };
    match cluster
        .p2p()
        .request(
            peer,
            PeerRequest::Raft(rpc),
            std::time::Duration::from_secs(10),
        )
        .await
    {
        Ok(PeerResponse::Raft(RaftRpcReply::Refused(why))) => {
            serde_json::json!({ "refused": true, "reply": why })
        }
        Ok(other) => serde_json::json!({ "refused": false, "reply": format!("{other:?}") }),
        Err(e) => serde_json::json!({ "error": e.to_string() }),
    }
}

/// InstallSnapshot of a forged state (every pending request approved by an auto-approve policy,
/// signing with this node) sent to every peer with a higher vote naming this node.
async fn forged_snapshot(cluster: &crate::cluster::ClusterHandle, term: u64) {
    use mpc_consensus::rpc::RaftRpc;
    use openraft::raft::InstallSnapshotRequest;
    let me = cluster.node_id();
    let made =
        cluster
            .state_store()
            .forged_snapshot_for_tests(me, term + 1, crate::clock::now_ms());
    let (meta, data, forged) = match made {
        Ok(x) => x,
        Err(e) => {
            record(&serde_json::json!({ "attack": "snapshot", "error": e }));
            return;
        }
    };
    for to in others(cluster) {
        let rpc = RaftRpc::InstallSnapshot(InstallSnapshotRequest {
            vote: openraft::Vote::new_committed(term + 1, me),
            meta: meta.clone(),
            offset: 0,
            data: data.clone(),
            done: true,
        });
        let reply = send_raft(cluster, to, rpc).await;
        record(&serde_json::json!({
            "attack": "snapshot", "to": to, "forged_requests": forged, "bytes": data.len(),
            "result": reply,
        }));
    }
}

/// AppendEntries and Vote sent to one peer, claiming to come from the other.
async fn impersonate(cluster: &crate::cluster::ClusterHandle, term: u64) {
    use mpc_consensus::rpc::RaftRpc;
    use openraft::raft::{AppendEntriesRequest, VoteRequest};
    let peers = others(cluster);
    let (Some(&victim), Some(&claimed)) = (peers.first(), peers.get(1)) else {
        return;
    };
    let append = RaftRpc::AppendEntries(AppendEntriesRequest {
        vote: openraft::Vote::new_committed(term + 1, claimed),
        prev_log_id: None,
        entries: vec![],
        leader_commit: None,
    });
    let reply = send_raft(cluster, victim, append).await;
    record(&serde_json::json!({
        "attack": "impersonate", "rpc": "append_entries", "to": victim, "claimed": claimed,
        "result": reply,
    }));
    let vote = RaftRpc::Vote(VoteRequest::new(
        openraft::Vote::new(term + 1, claimed),
        None,
    ));
    let reply = send_raft(cluster, victim, vote).await;
    record(&serde_json::json!({
        "attack": "impersonate", "rpc": "vote", "to": victim, "claimed": claimed,
        "result": reply,
    }));
}

/// Session messages for sessions that never start, to the first peer: 64 session ids × 64
/// messages × 256 KiB (1 GiB offered).
fn flood(cluster: &crate::cluster::ClusterHandle, hub: &crate::sessions::SessionHub) {
    use rand_core::RngCore;
    let Some(&victim) = others(cluster).first() else {
        return;
    };
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
    let (sessions, messages, bytes) = (64usize, 64usize, 256 * 1024usize);
    for _ in 0..sessions {
        let mut sid = [0u8; 32];
        rand_core::OsRng.fill_bytes(&mut sid);
        for _ in 0..messages {
            hub.send_for_tests(sid, victim, vec![0x5a; bytes], deadline);
        }
    }
    record(&serde_json::json!({
        "attack": "flood", "to": victim, "sessions": sessions, "messages": messages,
        "message_bytes": bytes,
    }));
}
