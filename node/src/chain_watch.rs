//! Broadcast and watch signed transactions through this node's chain providers (issue 12).
//!
//! I/O at the edge: every [`WATCH_INTERVAL`] the node reads the signed requests whose
//! transaction is not final (`CustodyState::chain_open_requests`, an index, not a scan), asks its
//! provider for each one it serves, and reports through Raft what changed:
//! - in its slot of the request's broadcaster rota (`CustodyState::broadcaster_at`), it sends a
//!   transaction its provider does not know — the first time, and again every
//!   [`REBROADCAST_MS`] while the provider still does not know it (the same signed bytes, so a
//!   re-broadcast can never spend twice);
//! - what its provider sees (pending, included with N confirmations, reverted, dropped) whenever
//!   that differs from its last report. A final state needs `t` nodes to agree (see
//!   `mpc_custody::chain_status`), so one lying provider or node cannot fake it.

use crate::clock::now_ms;
use crate::cluster::ClusterHandle;
use crate::runner::Runner;
use mpc_chains::{Adapter, Observed, Provider};
use mpc_custody::chain_status::{ChainState, Seen};
use mpc_custody::types::RequestId;
use mpc_custody::Report;
use mpc_protocol::chain::{Chain, Intent, Network};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// How often the node looks at open transactions.
pub const WATCH_INTERVAL: Duration = Duration::from_secs(2);
/// How long a broadcaster waits before sending a transaction its provider still does not know.
pub const REBROADCAST_MS: u64 = 30_000;
/// Most open transactions looked at per round (in request-id order, among those this node has a
/// provider for).
pub const MAX_PER_ROUND: usize = 256;
/// How long after a failed connection a provider is tried again.
const RECONNECT_MS: u64 = 30_000;

struct Slot {
    spec: Provider,
    adapter: Option<Arc<dyn Adapter>>,
    last_try_ms: u64,
    last_error: Option<String>,
}

/// This node's chain providers (from `--chain-provider`), connected lazily and reconnected
/// after a failure.
pub struct Adapters {
    slots: Mutex<Vec<Slot>>,
}

/// A provider as `node_status` shows it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ProviderStatus {
    /// What was configured (`chain:network`; the URL is not shown: it may carry an API key).
    pub provider: String,
    /// What it serves, once connected.
    pub connected: Option<String>,
    /// The last connection error.
    pub error: Option<String>,
}

impl Adapters {
    /// Providers to connect to.
    pub fn new(providers: Vec<Provider>) -> Self {
        Adapters {
            slots: Mutex::new(
                providers
                    .into_iter()
                    .map(|spec| Slot {
                        spec,
                        adapter: None,
                        last_try_ms: 0,
                        last_error: None,
                    })
                    .collect(),
            ),
        }
    }

    /// Whether any provider is configured.
    pub fn is_empty(&self) -> bool {
        self.slots.lock().map(|s| s.is_empty()).unwrap_or(true)
    }

    /// Connects the providers not connected yet (blocking I/O; at most once per
    /// [`RECONNECT_MS`] each).
    fn connect_pending(&self) {
        let now = now_ms();
        let todo: Vec<(usize, Provider)> = match self.slots.lock() {
            Ok(s) => s
                .iter()
                .enumerate()
                .filter(|(_, s)| s.adapter.is_none() && now >= s.last_try_ms + RECONNECT_MS)
                .map(|(i, s)| (i, s.spec.clone()))
                .collect(),
            Err(_) => return,
        };
        for (i, spec) in todo {
            let res = mpc_chains::connect(&spec);
            if let Ok(mut slots) = self.slots.lock() {
                let Some(slot) = slots.get_mut(i) else {
                    continue;
                };
                slot.last_try_ms = now;
                match res {
                    Ok(a) => {
                        tracing::info!("chain provider connected: {}", a.describe());
                        slot.adapter = Some(Arc::from(a));
                        slot.last_error = None;
                    }
                    Err(e) => {
                        tracing::warn!(
                            "chain provider {:?}:{:?} unavailable: {e}",
                            spec.family,
                            spec.network
                        );
                        slot.last_error = Some(e.to_string());
                    }
                }
            }
        }
    }

    fn find(&self, f: impl Fn(&dyn Adapter) -> bool) -> Option<Arc<dyn Adapter>> {
        self.connect_pending();
        self.connected().into_iter().find(|a| f(a.as_ref()))
    }

    /// The providers connected now (no I/O).
    fn connected(&self) -> Vec<Arc<dyn Adapter>> {
        self.slots
            .lock()
            .map(|s| s.iter().filter_map(|s| s.adapter.clone()).collect())
            .unwrap_or_default()
    }

    /// The provider serving wallets of this chain and network (blocking: may connect).
    pub fn for_wallet(&self, chain: Chain, network: Network) -> Option<Arc<dyn Adapter>> {
        self.find(|a| a.serves_wallet(chain, network))
    }

    /// What `node_status` shows.
    pub fn status(&self) -> Vec<ProviderStatus> {
        self.slots
            .lock()
            .map(|s| {
                s.iter()
                    .map(|s| ProviderStatus {
                        provider: format!("{:?}:{:?}", s.spec.family, s.spec.network)
                            .to_lowercase(),
                        connected: s.adapter.as_ref().map(|a| a.describe()),
                        error: s.last_error.clone(),
                    })
                    .collect()
            })
            .unwrap_or_default()
    }
}

/// One open transaction, as read from the state.
struct Open {
    request_id: RequestId,
    txid: String,
    intent: Intent,
    signed: String,
    state: ChainState,
    required: u64,
    mine: Option<Seen>,
    my_turn: bool,
}

/// The watcher's memory between rounds: when it last sent each transaction.
#[derive(Default)]
struct Sent {
    at: HashMap<RequestId, u64>,
}

/// Runs until the node stops.
pub async fn run(cluster: ClusterHandle, runner: Runner, adapters: Arc<Adapters>) {
    if adapters.is_empty() {
        return;
    }
    let me = cluster.node_id();
    let sent = Arc::new(Mutex::new(Sent::default()));
    let mut tick = tokio::time::interval(WATCH_INTERVAL);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        // Only transactions this node can serve count toward a round's bound, so that requests
        // on chains it has no provider for never crowd out the ones it has.
        let a = adapters.clone();
        let live = tokio::task::spawn_blocking(move || {
            a.connect_pending();
            a.connected()
        })
        .await
        .unwrap_or_default();
        if live.is_empty() {
            continue;
        }
        let now = now_ms();
        let open = cluster.read_state(|s| {
            s.chain_open_requests()
                .filter(|r| live.iter().any(|a| a.serves(&r.intent)))
                .take(MAX_PER_ROUND)
                .filter_map(|r| {
                    let c = r.chain.as_ref()?;
                    Some(Open {
                        request_id: r.request_id.clone(),
                        txid: c.txid.clone(),
                        intent: r.intent.clone(),
                        signed: r.signed_transaction.clone()?,
                        state: c.state,
                        required: c.confirmations_required,
                        mine: c.observations.get(&me).map(|o| o.seen.clone()),
                        my_turn: s.broadcaster_at(r, now) == Some(me),
                    })
                })
                .collect::<Vec<_>>()
        });
        let Ok(open) = open else {
            continue;
        };
        if open.is_empty() {
            continue;
        }
        let s = sent.clone();
        let reports = tokio::task::spawn_blocking(move || round(&live, &s, open))
            .await
            .unwrap_or_default();
        for report in reports {
            match runner.signed_report(report) {
                Ok(rep) => {
                    if let Err(e) = cluster.submit_report(rep).await {
                        tracing::debug!("chain report not committed (retried next round): {e}");
                    }
                }
                Err(e) => tracing::error!("signing a chain report: {e}"),
            }
        }
    }
}

/// One round over the open transactions with the providers connected at its start (blocking
/// I/O); returns the reports to propose.
fn round(live: &[Arc<dyn Adapter>], sent: &Mutex<Sent>, open: Vec<Open>) -> Vec<Report> {
    let now = now_ms();
    let mut reports = Vec::new();
    let Ok(mut sent) = sent.lock() else {
        return reports;
    };
    sent.at
        .retain(|id, _| open.iter().any(|o| &o.request_id == id));
    for o in open {
        let Some(adapter) = live.iter().find(|a| a.serves(&o.intent)) else {
            continue;
        };
        let observed = match adapter.observe(&o.txid, &o.intent, &o.signed) {
            Ok(x) => x,
            Err(e) => {
                tracing::warn!(request = %o.request_id, "observing {}: {e}", o.txid);
                continue;
            }
        };
        if o.my_turn && observed == Observed::Unknown {
            let due = sent
                .at
                .get(&o.request_id)
                .is_none_or(|t| now >= t + REBROADCAST_MS);
            if due {
                sent.at.insert(o.request_id.clone(), now);
                match adapter.broadcast(&o.signed) {
                    Ok(txid) => {
                        if !txid.eq_ignore_ascii_case(&o.txid) {
                            tracing::warn!(
                                request = %o.request_id,
                                "provider names the transaction {txid}, the network computed {}",
                                o.txid
                            );
                        }
                        tracing::info!(request = %o.request_id, txid = %o.txid, "broadcast");
                        if o.state == ChainState::Signed {
                            reports.push(Report::Broadcast {
                                request_id: o.request_id.clone(),
                                txid: o.txid.clone(),
                            });
                        }
                    }
                    Err(e) => {
                        tracing::warn!(request = %o.request_id, "broadcast of {} refused: {e}", o.txid)
                    }
                }
            }
        }
        let seen = match observed {
            Observed::Unknown => continue,
            Observed::Pending => Seen::Pending,
            Observed::Included {
                confirmations,
                block,
                success: true,
                ..
            } => Seen::Included {
                confirmations,
                block,
            },
            Observed::Included {
                confirmations,
                block,
                reason,
                ..
            } => Seen::Reverted {
                confirmations,
                block,
                reason,
            },
            Observed::Dropped { reason } => Seen::Dropped { reason },
        }
        .normalised(o.required);
        if o.mine.as_ref() != Some(&seen) {
            reports.push(Report::ChainObserved {
                request_id: o.request_id,
                txid: o.txid,
                seen,
            });
        }
    }
    reports
}
