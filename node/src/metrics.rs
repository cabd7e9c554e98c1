//! Operators' endpoints (issue 16) on their own plain-HTTP listener (`--metrics-listen`):
//!
//! - `GET /metrics`: Prometheus text exposition (`prometheus-client`, decision 0036). Counters
//!   and histograms recorded as things happen — threshold sessions by kind and outcome with
//!   durations, JSON-RPC calls by method with durations, Raft commits at the leader, share-store
//!   operations — and gauges read from the node's own state at each scrape: Raft (term, role,
//!   last log / applied index, leader), requests by state, signatures made, each wallet's
//!   presignature or nonce pool level.
//! - `GET /health`: 200 while the process serves HTTP (liveness).
//! - `GET /ready`: 200 only when this node is unsealed (it is, once it serves), knows a leader
//!   and has applied everything the leader had committed when asked (a read barrier within
//!   2 s); 503 with the reason otherwise — e.g. a restarted node still catching up.
//!
//! Nothing here is secret: no key material, no request contents beyond counts and states, wallet
//! ids as labels. The listener should still be reachable by the monitoring system only
//! (docs/operations.md).

use crate::cluster::ClusterHandle;
use jsonrpsee::server::{HttpBody, HttpResponse};
use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;
use std::collections::BTreeMap;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

type Labels = Vec<(String, String)>;
type Timings = Family<Labels, Histogram, fn() -> Histogram>;

/// How long `/ready` waits for the read barrier.
const READY_WAIT: Duration = Duration::from_secs(2);

fn seconds_buckets() -> Histogram {
    // 1 ms … 65 s.
    Histogram::new(exponential_buckets(0.001, 2.0, 17))
}

/// What the node records as it runs (process-wide, like Prometheus' default registry).
struct Recorded {
    sessions: Timings,
    rpc: Timings,
    raft_commit: Histogram,
    share_store: Family<Labels, Counter>,
}

fn recorded() -> &'static Recorded {
    static R: OnceLock<Recorded> = OnceLock::new();
    R.get_or_init(|| Recorded {
        sessions: Family::new_with_constructor(seconds_buckets),
        rpc: Family::new_with_constructor(seconds_buckets),
        raft_commit: seconds_buckets(),
        share_store: Family::default(),
    })
}

/// A threshold session of `kind` ended (`ok` or not) after `took`.
pub fn session_ended(kind: &str, ok: bool, took: Duration) {
    let labels = vec![
        ("kind".to_string(), kind.to_string()),
        (
            "outcome".to_string(),
            if ok { "ok" } else { "failed" }.to_string(),
        ),
    ];
    recorded()
        .sessions
        .get_or_create(&labels)
        .observe(took.as_secs_f64());
}

/// A JSON-RPC call of `method` was answered after `took`.
pub fn rpc_answered(method: &str, took: Duration) {
    // Method names come from the client: only registered ones get their own series.
    let method = if crate::rpc::is_known_method(method) {
        method
    } else {
        "unknown"
    };
    recorded()
        .rpc
        .get_or_create(&vec![("method".to_string(), method.to_string())])
        .observe(took.as_secs_f64());
}

/// An entry this node proposed as leader was committed and applied after `took`.
pub fn raft_committed(took: Duration) {
    recorded().raft_commit.observe(took.as_secs_f64());
}

/// The share store did `op` (`put`, `take`, `get`, `delete`).
pub fn share_store_op(op: &'static str) {
    recorded()
        .share_store
        .get_or_create(&vec![("op".to_string(), op.to_string())])
        .inc();
}

fn gauge(registry: &mut Registry, name: &str, help: &str, value: i64) {
    let g: Gauge = Gauge::default();
    g.set(value);
    registry.register(name, help, g);
}

fn gauges(registry: &mut Registry, name: &str, help: &str, values: Vec<(Labels, i64)>) {
    let f: Family<Labels, Gauge> = Family::default();
    for (labels, v) in values {
        f.get_or_create(&labels).set(v);
    }
    registry.register(name, help, f);
}

fn as_i64(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// The Prometheus text of this node now.
pub fn render(cluster: &ClusterHandle) -> String {
    let r = recorded();
    let mut reg = Registry::default();
    reg.register(
        "mpc_session_duration_seconds",
        "Threshold sessions this node ran, by kind and outcome",
        r.sessions.clone(),
    );
    reg.register(
        "mpc_rpc_duration_seconds",
        "JSON-RPC calls answered, by method",
        r.rpc.clone(),
    );
    reg.register(
        "mpc_raft_commit_duration_seconds",
        "Entries this node proposed as leader, from proposal to applied here",
        r.raft_commit.clone(),
    );
    reg.register(
        "mpc_share_store_operations",
        "Share-store operations (each put and take flushed to disk)",
        r.share_store.clone(),
    );
    let (appends, append_secs) = mpc_consensus::store::APPENDS.totals();
    let c: Counter = Counter::default();
    c.inc_by(appends);
    reg.register(
        "mpc_raft_log_appends",
        "Raft log appends here (each one sled batch and one flush)",
        c,
    );
    let c: Counter<f64> = Counter::default();
    c.inc_by(append_secs);
    reg.register(
        "mpc_raft_log_append_seconds",
        "Time spent in Raft log appends, flush included (divide by mpc_raft_log_appends_total for the mean)",
        c,
    );
    let m = cluster.raft().metrics().borrow().clone();
    gauge(
        &mut reg,
        "mpc_raft_term",
        "Current Raft term",
        as_i64(m.current_term),
    );
    gauge(
        &mut reg,
        "mpc_raft_last_log_index",
        "Last Raft log index stored here",
        as_i64(m.last_log_index.unwrap_or(0)),
    );
    gauge(
        &mut reg,
        "mpc_raft_applied_index",
        "Last Raft log index applied here",
        as_i64(m.last_applied.map_or(0, |l| l.index)),
    );
    gauge(
        &mut reg,
        "mpc_raft_leader",
        "Node id of the leader this node knows (0: none)",
        as_i64(m.current_leader.unwrap_or(0)),
    );
    let role = crate::rpc::role_name(m.state);
    gauges(
        &mut reg,
        "mpc_raft_role",
        "1 for this node's Raft role",
        ["leader", "follower", "candidate", "learner"]
            .iter()
            .map(|r| {
                (
                    vec![("role".to_string(), r.to_string())],
                    i64::from(*r == role),
                )
            })
            .collect(),
    );
    let state = cluster.read_state(|s| {
        let mut by_state: BTreeMap<&'static str, i64> = BTreeMap::new();
        let mut signatures = 0u64;
        for req in s.requests(None) {
            *by_state.entry(req.status.name()).or_default() += 1;
            if req.status == mpc_custody::RequestStatus::Signed {
                signatures += req.signatures.len() as u64;
            }
        }
        let pools: Vec<(Labels, i64)> = s
            .presig_pools()
            .map(|p| {
                let kind = if p.frost {
                    "frost_nonces"
                } else {
                    "ecdsa_presignatures"
                };
                (
                    vec![
                        ("wallet".to_string(), p.wallet_id.to_string()),
                        ("kind".to_string(), kind.to_string()),
                    ],
                    p.ready.len() as i64,
                )
            })
            .collect();
        (by_state, signatures, pools)
    });
    if let Ok((by_state, signatures, pools)) = state {
        gauges(
            &mut reg,
            "mpc_requests",
            "Signing requests by state",
            by_state
                .into_iter()
                .map(|(st, n)| (vec![("state".to_string(), st.to_string())], n))
                .collect(),
        );
        gauge(
            &mut reg,
            "mpc_signatures",
            "Signatures in signed requests",
            as_i64(signatures),
        );
        gauges(
            &mut reg,
            "mpc_pool_ready",
            "Presignatures or FROST nonce slots ready in each wallet's pool",
            pools,
        );
    }
    let mut out = String::new();
    if encode(&mut out, &reg).is_err() {
        return "# encoding failed\n".into();
    }
    out
}

/// Whether this node is ready, and why (see the module docs).
pub async fn readiness(cluster: &ClusterHandle) -> (bool, String) {
    let m = cluster.raft().metrics().borrow().clone();
    let Some(leader) = m.current_leader else {
        return (false, "no leader known".into());
    };
    match tokio::time::timeout(READY_WAIT, cluster.read_barrier()).await {
        Ok(Ok(())) => {
            let applied = cluster.raft().metrics().borrow().last_applied;
            (
                true,
                format!(
                    "ready: leader {leader}, applied index {}",
                    applied.map_or(0, |l| l.index)
                ),
            )
        }
        Ok(Err(e)) => (false, format!("not caught up: {e}")),
        Err(_) => (
            false,
            format!("not caught up: the committed log was not applied here within {READY_WAIT:?}"),
        ),
    }
}

fn text(status: u16, body: String, content_type: &str) -> HttpResponse {
    http::Response::builder()
        .status(status)
        .header("content-type", content_type)
        .header("cache-control", "no-store")
        .body(HttpBody::from(body))
        .unwrap_or_else(|_| http::Response::new(HttpBody::empty()))
}

/// The answer to one request on the metrics listener.
pub async fn respond(cluster: &ClusterHandle, method: &http::Method, path: &str) -> HttpResponse {
    if method != http::Method::GET {
        return text(405, "GET only\n".into(), "text/plain");
    }
    match path {
        "/metrics" => {
            let started = Instant::now();
            let body = render(cluster);
            tracing::trace!(took = ?started.elapsed(), "metrics scraped");
            text(200, body, "text/plain; version=0.0.4; charset=utf-8")
        }
        "/health" => text(200, "ok\n".into(), "text/plain"),
        "/ready" => {
            let (ok, why) = readiness(cluster).await;
            text(if ok { 200 } else { 503 }, format!("{why}\n"), "text/plain")
        }
        _ => text(
            404,
            "not found: /metrics, /health, /ready\n".into(),
            "text/plain",
        ),
    }
}

type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// The listener's HTTP service.
#[derive(Clone)]
struct Service {
    cluster: ClusterHandle,
}

impl tower::Service<http::Request<hyper::body::Incoming>> for Service {
    type Response = HttpResponse;
    type Error = BoxError;
    type Future =
        std::pin::Pin<Box<dyn std::future::Future<Output = Result<HttpResponse, BoxError>> + Send>>;

    fn poll_ready(
        &mut self,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Result<(), BoxError>> {
        std::task::Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: http::Request<hyper::body::Incoming>) -> Self::Future {
        let cluster = self.cluster.clone();
        Box::pin(async move { Ok(respond(&cluster, req.method(), req.uri().path()).await) })
    }
}

/// Most connections the metrics listener serves at once.
const MAX_CONNECTIONS: usize = 16;

/// Serves `/metrics`, `/health` and `/ready` on `listener` until the process ends.
pub fn serve(listener: tokio::net::TcpListener, cluster: ClusterHandle) {
    tokio::spawn(async move {
        let permits = std::sync::Arc::new(tokio::sync::Semaphore::new(MAX_CONNECTIONS));
        loop {
            let Ok((tcp, peer)) = listener.accept().await else {
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            };
            let Ok(permit) = permits.clone().try_acquire_owned() else {
                tracing::debug!(%peer, "metrics connection refused: {MAX_CONNECTIONS} open");
                continue;
            };
            let service = Service {
                cluster: cluster.clone(),
            };
            tokio::spawn(async move {
                let _permit = permit;
                // A connection lives at most a minute (scrapes are short).
                let served = jsonrpsee::server::serve_with_graceful_shutdown(
                    tcp,
                    service,
                    tokio::time::sleep(Duration::from_secs(60)),
                );
                if let Err(e) = served.await {
                    tracing::debug!(%peer, "metrics connection ended: {e}");
                }
            });
        }
    });
}
