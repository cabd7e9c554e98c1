//! The session hub: carries threshold-session messages between nodes over per-session Noise KK
//! channels (one per sender → receiver direction), and drives a [`Session`] on a blocking thread.
//!
//! - Outbound, per (session, peer): a task performs the KK handshake (`Hello`) keyed by the
//!   peer's pinned X25519 key, then seals each message into frames and sends them one request at
//!   a time, so frames arrive in order (snow's stateful nonces require it).
//! - Inbound: a `Hello` from node N is answered only with N's pinned key (KK fails otherwise);
//!   data frames decrypt with that channel and the sender is the authenticated node, never a
//!   field of the message. Messages for a session that has not started here yet are kept briefly
//!   (bounded) and handed over when it registers.

use crate::p2p::messages::{FrameKind, PeerRequest, PeerResponse, SessionFrame};
use crate::p2p::{P2pHandle, PeerTable};
use libp2p::PeerId;
use mpc_consensus::raft::NodeId;
use mpc_protocol::channel::{self, PeerChannel};
use mpc_protocol::session::{PartyIndex, Recipient, Session, SessionError, Step};
use rand_core::{CryptoRng, RngCore};
use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::mpsc;
use zeroize::Zeroizing;

// Per-peer bounds: an authenticated peer can make this node keep state for sessions that have
// not started here (or never will). Everything such a peer can grow is bounded per peer, so one
// flooding peer cannot crowd out the others or exhaust memory.
/// Most messages one peer may have waiting for one session that has not started locally.
const MAX_EARLY_PER_PEER_SESSION: usize = 64;
/// Most not-yet-started sessions one peer may have messages waiting for.
const MAX_EARLY_SESSIONS_PER_PEER: usize = 32;
/// Most bytes of early messages kept for one peer.
const MAX_EARLY_BYTES_PER_PEER: usize = 16 * 1024 * 1024;
/// Most channels one peer may hold open for sessions that have not started here.
const MAX_UNSTARTED_CHANNELS_PER_PEER: usize = 32;
/// Most messages one peer may send into one running session (protocols need a few dozen).
const MAX_MESSAGES_PER_PEER_SESSION: usize = 256;
/// How long early messages, and channels of sessions that never start, are kept.
const EARLY_TTL: Duration = Duration::from_secs(60);
/// Most inbound channels at once (all peers).
const MAX_INBOUND_CHANNELS: usize = 4096;
/// Timeout of one frame request.
const FRAME_TIMEOUT: Duration = Duration::from_secs(10);
/// Longest any session may run, however steadily its messages arrive.
const MAX_SESSION: Duration = Duration::from_secs(15 * 60);

type Sid = [u8; 32];
type Inbox = std::sync::mpsc::Sender<(NodeId, Vec<u8>)>;
/// Messages that arrived before their session started here, with the time of the first.
type Early = (Instant, Vec<(NodeId, Vec<u8>)>);

/// Cloneable hub.
#[derive(Clone)]
pub struct SessionHub {
    inner: Arc<Inner>,
}

struct Inner {
    me: NodeId,
    noise_secret: Zeroizing<[u8; 32]>,
    /// Pinned peers and Noise keys (genesis, or a verified replacement).
    peers: PeerTable,
    p2p: P2pHandle,
    runtime: tokio::runtime::Handle,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    sessions: HashMap<Sid, Inbox>,
    early: HashMap<Sid, Early>,
    /// Inbound channels with the time they were opened.
    inbound: HashMap<(Sid, NodeId), (Instant, PeerChannel)>,
    /// Messages delivered to running sessions, per (session, sender).
    delivered: HashMap<(Sid, NodeId), usize>,
    /// Most bytes of early messages held at once since start.
    early_bytes_peak: usize,
    /// Frames refused by a per-peer bound since start.
    refused_frames: u64,
    outbound: HashMap<(Sid, NodeId), mpsc::UnboundedSender<Vec<u8>>>,
    finished: VecDeque<Sid>,
}

impl State {
    /// Closes channels of sessions that never started here within [`EARLY_TTL`].
    fn drop_stale_channels(&mut self, now: Instant) {
        let sessions = &self.sessions;
        self.inbound.retain(|(sid, _), (opened, _)| {
            sessions.contains_key(sid) || now.duration_since(*opened) < EARLY_TTL
        });
    }

    /// Channels `peer` holds for sessions that have not started here.
    fn unstarted_channels_of(&self, peer: NodeId) -> usize {
        self.inbound
            .keys()
            .filter(|(sid, n)| *n == peer && !self.sessions.contains_key(sid))
            .count()
    }

    /// Keeps a message from `from` for session `sid`, which has not started here, within the
    /// per-peer bounds.
    fn keep_early(
        &mut self,
        sid: Sid,
        from: NodeId,
        message: Vec<u8>,
        now: Instant,
    ) -> Result<(), String> {
        self.early
            .retain(|_, (t, _)| now.duration_since(*t) < EARLY_TTL);
        let (mut sessions, mut bytes, mut here) = (0usize, 0usize, 0usize);
        for (s, (_, msgs)) in &self.early {
            let mine = msgs.iter().filter(|(n, _)| *n == from);
            let (count, size) = mine.fold((0, 0), |(c, b), (_, m)| (c + 1, b + m.len()));
            if count > 0 {
                sessions += 1;
            }
            bytes += size;
            if *s == sid {
                here = count;
            }
        }
        if here == 0 && sessions >= MAX_EARLY_SESSIONS_PER_PEER {
            return Err("too many sessions waiting to start".into());
        }
        if here >= MAX_EARLY_PER_PEER_SESSION {
            return Err("too many early messages for this session".into());
        }
        if bytes + message.len() > MAX_EARLY_BYTES_PER_PEER {
            return Err("too many bytes of early messages".into());
        }
        let entry = self.early.entry(sid).or_insert_with(|| (now, Vec::new()));
        entry.1.push((from, message));
        self.early_bytes_peak = self.early_bytes_peak.max(self.early_bytes());
        Ok(())
    }

    fn early_bytes(&self) -> usize {
        self.early
            .values()
            .flat_map(|(_, msgs)| msgs.iter().map(|(_, m)| m.len()))
            .sum()
    }
}

/// What the hub holds for peers (`engine_status.session_hub`).
#[derive(Debug, Clone, Copy, serde::Serialize)]
pub struct HubStats {
    /// Sessions running here.
    pub sessions: usize,
    /// Inbound channels open.
    pub inbound_channels: usize,
    /// Sessions with messages waiting for them to start here.
    pub early_sessions: usize,
    /// Bytes of such messages held now.
    pub early_bytes: usize,
    /// Most bytes of such messages held at once since start.
    pub early_bytes_peak: usize,
    /// Frames refused by a per-peer bound since start.
    pub refused_frames: u64,
}

/// Why a session run failed.
#[derive(Debug, Clone)]
pub struct RunError {
    /// What happened.
    pub reason: String,
    /// Parties from which nothing arrived.
    pub unresponsive: Vec<NodeId>,
    /// Parties the session named as misbehaving (an abort with culprits).
    pub culprits: Vec<NodeId>,
}

impl std::fmt::Display for RunError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.reason)
    }
}

impl SessionHub {
    /// A hub for node `me`.
    pub fn new(
        me: NodeId,
        noise_secret: Zeroizing<[u8; 32]>,
        peers: PeerTable,
        p2p: P2pHandle,
    ) -> Self {
        SessionHub {
            inner: Arc::new(Inner {
                me,
                noise_secret,
                peers,
                p2p,
                runtime: tokio::runtime::Handle::current(),
                state: Mutex::new(State::default()),
            }),
        }
    }

    /// This node's id.
    pub fn me(&self) -> NodeId {
        self.inner.me
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.inner.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// What the hub holds now.
    pub fn stats(&self) -> HubStats {
        let st = self.state();
        HubStats {
            sessions: st.sessions.len(),
            inbound_channels: st.inbound.len(),
            early_sessions: st.early.len(),
            early_bytes: st.early_bytes(),
            early_bytes_peak: st.early_bytes_peak,
            refused_frames: st.refused_frames,
        }
    }

    /// Handles a frame from the authenticated node `from`.
    pub fn handle_frame(
        &self,
        from: NodeId,
        frame: SessionFrame,
    ) -> Result<Option<Vec<u8>>, String> {
        let res = self.handle_frame_inner(from, frame);
        if res.as_ref().is_err_and(|e| e.starts_with("too many")) {
            self.state().refused_frames += 1;
        }
        res
    }

    fn handle_frame_inner(
        &self,
        from: NodeId,
        frame: SessionFrame,
    ) -> Result<Option<Vec<u8>>, String> {
        let sid = frame.session_id;
        match frame.kind {
            FrameKind::Hello(msg) => {
                let key = self
                    .inner
                    .peers
                    .noise_of(from)
                    .ok_or("sender has no pinned Noise key")?;
                let (chan, reply) =
                    channel::respond(&self.inner.noise_secret, &key, &msg, &mut rand_core::OsRng)
                        .map_err(|e| e.to_string())?;
                let mut st = self.state();
                if st.finished.contains(&sid) {
                    return Err("session already finished here".into());
                }
                let now = Instant::now();
                if !st.inbound.contains_key(&(sid, from)) {
                    st.drop_stale_channels(now);
                    if !st.sessions.contains_key(&sid)
                        && st.unstarted_channels_of(from) >= MAX_UNSTARTED_CHANNELS_PER_PEER
                    {
                        return Err("too many channels for sessions not started here".into());
                    }
                    if st.inbound.len() >= MAX_INBOUND_CHANNELS {
                        return Err("too many open session channels".into());
                    }
                }
                // A new handshake from the same authenticated peer replaces its channel (it
                // restarted its side); only that peer's static key can complete KK.
                st.inbound.insert((sid, from), (now, chan));
                Ok(Some(reply))
            }
            FrameKind::Data(bytes) => {
                let mut st = self.state();
                let (_, chan) = st
                    .inbound
                    .get_mut(&(sid, from))
                    .ok_or("no channel for this session and sender")?;
                let Some(message) = chan.open(&bytes).map_err(|e| e.to_string())? else {
                    return Ok(None);
                };
                if st.sessions.contains_key(&sid) {
                    let n = st.delivered.entry((sid, from)).or_insert(0);
                    if *n >= MAX_MESSAGES_PER_PEER_SESSION {
                        return Err("too many messages from this peer in this session".into());
                    }
                    *n += 1;
                    if let Some(inbox) = st.sessions.get(&sid) {
                        let _ = inbox.send((from, message));
                    }
                    return Ok(None);
                }
                st.keep_early(sid, from, message, Instant::now())?;
                Ok(None)
            }
        }
    }

    /// Registers a session; returns its inbox (early messages already in it).
    fn register(&self, sid: Sid) -> std::sync::mpsc::Receiver<(NodeId, Vec<u8>)> {
        let (tx, rx) = std::sync::mpsc::channel();
        let mut st = self.state();
        if let Some((_, early)) = st.early.remove(&sid) {
            for m in early {
                *st.delivered.entry((sid, m.0)).or_insert(0) += 1;
                let _ = tx.send(m);
            }
        }
        st.sessions.insert(sid, tx);
        rx
    }

    fn unregister(&self, sid: Sid) {
        let mut st = self.state();
        st.sessions.remove(&sid);
        st.early.remove(&sid);
        st.inbound.retain(|(s, _), _| *s != sid);
        st.delivered.retain(|(s, _), _| *s != sid);
        st.outbound.retain(|(s, _), _| *s != sid);
        st.finished.push_back(sid);
        while st.finished.len() > 1024 {
            st.finished.pop_front();
        }
    }

    /// TEST BUILDS ONLY: queues a message as [`SessionHub::send`] does, for the forger.
    #[cfg(feature = "forge-for-tests")]
    pub(crate) fn send_for_tests(&self, sid: Sid, to: NodeId, message: Vec<u8>, deadline: Instant) {
        self.send(sid, to, message, deadline);
    }

    /// Queues `message` to `to` in session `sid` (in order per peer).
    fn send(&self, sid: Sid, to: NodeId, message: Vec<u8>, deadline: Instant) {
        let mut st = self.state();
        if let Some(q) = st.outbound.get(&(sid, to)) {
            if q.send(message.clone()).is_ok() {
                return;
            }
        }
        let (tx, rx) = mpsc::unbounded_channel();
        let _ = tx.send(message);
        st.outbound.insert((sid, to), tx);
        drop(st);
        let this = self.clone();
        self.inner
            .runtime
            .spawn(async move { this.outbox(sid, to, rx, deadline).await });
    }

    async fn request(&self, peer: PeerId, frame: SessionFrame) -> Result<Option<Vec<u8>>, String> {
        match self
            .inner
            .p2p
            .request(peer, PeerRequest::Session(frame), FRAME_TIMEOUT)
            .await
        {
            Ok(PeerResponse::Session(r)) => r,
            Ok(_) => Err("peer answered with the wrong message".into()),
            Err(e) => Err(e.to_string()),
        }
    }

    /// The Noise handshake with `to` for session `sid`, retried until `deadline` while the peer
    /// may still be connecting; `None` when it fails or the session ended.
    async fn handshake(
        &self,
        sid: Sid,
        to: NodeId,
        peer: PeerId,
        key: &[u8; 32],
        rx: &mpsc::UnboundedReceiver<Vec<u8>>,
        deadline: Instant,
    ) -> Option<PeerChannel> {
        loop {
            let (init, hello) = match channel::Initiator::start(
                &self.inner.noise_secret,
                key,
                &mut rand_core::OsRng,
            ) {
                Ok(x) => x,
                Err(e) => {
                    tracing::warn!(to, "noise start: {e}");
                    return None;
                }
            };
            let frame = SessionFrame {
                session_id: sid,
                kind: FrameKind::Hello(hello),
            };
            match self.request(peer, frame).await {
                Ok(Some(reply)) => match init.finish(&reply) {
                    Ok(c) => return Some(c),
                    Err(e) => {
                        tracing::warn!(to, "noise handshake: {e}");
                        return None;
                    }
                },
                Ok(None) => {
                    tracing::warn!(to, "peer sent no handshake reply");
                    return None;
                }
                Err(e) => {
                    if Instant::now() >= deadline || rx.is_closed() {
                        tracing::warn!(to, "session handshake gave up: {e}");
                        return None;
                    }
                    tracing::debug!(to, "session handshake retry: {e}");
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
            }
        }
    }

    async fn outbox(
        self,
        sid: Sid,
        to: NodeId,
        mut rx: mpsc::UnboundedReceiver<Vec<u8>>,
        deadline: Instant,
    ) {
        let (Some(peer), Some(key)) = (self.inner.peers.peer_of(to), self.inner.peers.noise_of(to))
        else {
            tracing::warn!(to, "session peer unknown");
            return;
        };
        let Some(mut chan) = self.handshake(sid, to, peer, &key, &rx, deadline).await else {
            return;
        };
        while let Some(message) = rx.recv().await {
            let frames = match chan.seal(&message) {
                Ok(f) => f,
                Err(e) => {
                    tracing::warn!(to, "sealing a session message: {e}");
                    return;
                }
            };
            for f in frames {
                let frame = SessionFrame {
                    session_id: sid,
                    kind: FrameKind::Data(f),
                };
                if let Err(e) = self.request(peer, frame).await {
                    tracing::warn!(to, "session frame not delivered: {e}");
                    return;
                }
            }
        }
    }

    /// Sends a session's outgoing messages: to every other party, or to one.
    fn send_outgoing(
        &self,
        sid: Sid,
        out: Vec<mpc_protocol::session::Outgoing>,
        others: &[NodeId],
        node_of: &BTreeMap<PartyIndex, NodeId>,
        deadline: Instant,
    ) {
        for o in out {
            match o.to {
                Recipient::All => {
                    for n in others {
                        self.send(sid, *n, o.bytes.clone(), deadline);
                    }
                }
                Recipient::One(p) => {
                    if let Some(n) = node_of.get(&p) {
                        self.send(sid, *n, o.bytes, deadline);
                    }
                }
            }
        }
    }

    /// Runs `session` to completion on the calling (blocking) thread. `parties` maps every
    /// participant's node id to its party index (including this node). `idle` is how long the
    /// session may go without a message from any peer before it fails (a dead or withholding
    /// peer); a session making progress runs on, up to 15 minutes — so a loaded machine slows
    /// sessions down instead of failing them.
    pub fn run<S: Session, R: RngCore + CryptoRng>(
        &self,
        sid: Sid,
        parties: &BTreeMap<NodeId, PartyIndex>,
        session: &mut S,
        rng: &mut R,
        idle: Duration,
    ) -> Result<S::Output, RunError> {
        let inbox = self.register(sid);
        let result = self.drive(sid, parties, session, rng, idle, &inbox);
        self.unregister(sid);
        result
    }

    fn drive<S: Session, R: RngCore + CryptoRng>(
        &self,
        sid: Sid,
        parties: &BTreeMap<NodeId, PartyIndex>,
        session: &mut S,
        rng: &mut R,
        idle: Duration,
        inbox: &std::sync::mpsc::Receiver<(NodeId, Vec<u8>)>,
    ) -> Result<S::Output, RunError> {
        let me = self.inner.me;
        let mut progress = Progress::new(parties.keys().copied().filter(|n| *n != me).collect());
        let node_of: BTreeMap<PartyIndex, NodeId> = parties.iter().map(|(n, p)| (*p, *n)).collect();
        let send_all = |out: Vec<mpc_protocol::session::Outgoing>, p: &Progress| {
            self.send_outgoing(sid, out, &p.others, &node_of, p.deadline)
        };
        let out = session
            .start(rng)
            .map_err(|e| progress.fail(e.to_string()))?;
        send_all(out, &progress);
        loop {
            let left = progress.wait_left(idle);
            if left.is_zero() {
                return Err(progress.timed_out());
            }
            let Ok((from, bytes)) = inbox.recv_timeout(left) else {
                return Err(progress.timed_out());
            };
            let Some(party) = parties.get(&from).copied() else {
                tracing::warn!(from, "message from a node outside the session");
                continue;
            };
            // Only a participant's message counts as progress.
            progress.heard_from(from);
            match session.handle(party, &bytes, rng) {
                Ok(Step::Continue(out)) => send_all(out, &progress),
                Ok(Step::Done(output, out)) => {
                    send_all(out, &progress);
                    return Ok(output);
                }
                Err(SessionError::Rejected { from, reason }) => {
                    tracing::warn!(%from, "session message rejected: {reason}");
                }
                Err(e) => {
                    let mut fail = progress.fail(e.to_string());
                    if let SessionError::Abort { culprits, .. } = &e {
                        fail.culprits = culprits
                            .iter()
                            .filter_map(|p| node_of.get(p).copied())
                            .collect();
                    }
                    return Err(fail);
                }
            }
        }
    }
}

/// A running session's view of its peers and of time: who has been heard from, when the last
/// participant's message came, and the session's hard deadline.
struct Progress {
    others: Vec<NodeId>,
    heard: BTreeSet<NodeId>,
    deadline: Instant,
    last_message: Instant,
}

impl Progress {
    fn new(others: Vec<NodeId>) -> Self {
        let now = Instant::now();
        Progress {
            others,
            heard: BTreeSet::new(),
            deadline: now + MAX_SESSION,
            last_message: now,
        }
    }

    fn heard_from(&mut self, node: NodeId) {
        self.heard.insert(node);
        self.last_message = Instant::now();
    }

    /// How long to wait for the next message: until the idle timeout or the hard deadline.
    fn wait_left(&self, idle: Duration) -> Duration {
        let until = self.deadline.min(self.last_message + idle);
        until.saturating_duration_since(Instant::now())
    }

    /// A failure naming the participants never heard from.
    fn fail(&self, reason: String) -> RunError {
        RunError {
            reason,
            culprits: Vec::new(),
            unresponsive: self
                .others
                .iter()
                .copied()
                .filter(|n| !self.heard.contains(n))
                .collect(),
        }
    }

    fn timed_out(&self) -> RunError {
        let why = if Instant::now() >= self.deadline {
            format!("session timed out (ran {} s)", MAX_SESSION.as_secs())
        } else {
            format!(
                "session timed out (no message for {:.0} s)",
                self.last_message.elapsed().as_secs_f64()
            )
        };
        self.fail(why)
    }
}
