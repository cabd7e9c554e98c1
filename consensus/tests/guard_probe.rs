//! A node being added catches up although the leader's first probe lands mid-log (the
//! committee flake of session 16): the guard cannot yet accept a membership that lists the new
//! node, because the genesis admins' `node_add` signatures sit earlier in the log; the probe must
//! get Raft's own answer (a conflict, this node's log is shorter) so that the leader probes lower
//! and replays the log in order — not a refusal the leader resends forever.

#![allow(clippy::unwrap_used)] // tests fail loudly on purpose

use mpc_consensus::network::{serve_rpc, Network, RaftTransport, TransportError};
use mpc_consensus::raft::{NodeId, PeerNode, Raft, TypeConfig};
use mpc_consensus::rpc::{RaftRpc, RaftRpcReply};
use mpc_consensus::rpc_guard::RpcGuard;
use mpc_consensus::store;
use mpc_custody::state::GenesisParams;
use openraft::raft::{AppendEntriesRequest, AppendEntriesResponse};
use openraft::{CommittedLeaderId, Entry, EntryPayload, LogId, Membership, Vote};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

#[derive(Clone)]
struct Nowhere;

impl RaftTransport for Nowhere {
    async fn send(
        &self,
        _: NodeId,
        _: &PeerNode,
        _: RaftRpc,
        _: Duration,
    ) -> Result<RaftRpcReply, TransportError> {
        Err(TransportError::Unreachable("test".into()))
    }
}

fn peer(i: u64) -> PeerNode {
    PeerNode {
        peer_id: format!("peer-{i}"),
        p2p_addr: format!("/ip4/127.0.0.1/tcp/{i}"),
    }
}

/// The membership the leader writes once node 4's addition is admitted: 1-3 vote, 4 learns.
fn with_learner_four() -> Membership<NodeId, PeerNode> {
    let voters: BTreeSet<NodeId> = (1..=3).collect();
    let nodes: BTreeMap<NodeId, PeerNode> = (1..=4).map(|i| (i, peer(i))).collect();
    Membership::new(vec![voters], nodes)
}

fn append(prev: Option<u64>, first: u64) -> RaftRpc {
    let leader = CommittedLeaderId::new(2, 1);
    RaftRpc::AppendEntries(AppendEntriesRequest {
        vote: Vote::new_committed(2, 1),
        prev_log_id: prev.map(|i| LogId::new(leader, i)),
        entries: vec![Entry::<TypeConfig> {
            log_id: LogId::new(leader, first),
            payload: EntryPayload::Membership(with_learner_four()),
        }],
        leader_commit: None,
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_probe_past_the_log_gets_a_conflict_not_a_refusal() {
    let dir = tempfile::tempdir().unwrap();
    let genesis = GenesisParams {
        cluster_id: "probe".into(),
        admins: Default::default(),
        nodes: Default::default(),
        threshold: 2,
    };
    let (log, sm) = store::open(&dir.path().join("db"), genesis).await.unwrap();
    let config = Arc::new(openraft::Config::default().validate().unwrap());
    // Node 4, joining: an empty log, not initialised (it waits for the leader).
    let raft = Raft::new(4, config, Network::new(Nowhere), log, sm)
        .await
        .unwrap();
    let guard = RpcGuard::new((1..=3).map(|i| (i, peer(i))).collect());

    // The leader's first probe to a new node starts mid-log (entry 41 of 80) and carries the
    // membership listing node 4; node 4 has not read the `node_add` entries before it.
    let reply = serve_rpc(&raft, &guard, 1, append(Some(40), 41), 0).await;
    assert!(
        matches!(
            reply,
            RaftRpcReply::AppendEntries(Ok(AppendEntriesResponse::Conflict))
        ),
        "{reply:?}"
    );
    // From the start of the log the same membership would be appended: still refused (the
    // guard has not verified node 4's addition), which is the protection itself.
    let reply = serve_rpc(&raft, &guard, 1, append(None, 1), 0).await;
    assert!(
        matches!(&reply, RaftRpcReply::Refused(why) if why.contains("membership")),
        "{reply:?}"
    );
    // And a probe from a node that is not the leader named in the vote is refused as before.
    let reply = serve_rpc(&raft, &guard, 3, append(Some(40), 41), 0).await;
    assert!(
        matches!(&reply, RaftRpcReply::Refused(why) if why.contains("claims")),
        "{reply:?}"
    );
    raft.shutdown().await.unwrap();
}
