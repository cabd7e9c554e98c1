//! The session hub: carries threshold-session messages between nodes over long-lived Noise KK
//! channels (four "lanes", `LANES`, per sender → receiver pair of nodes; a session always uses
//! the same lane), so no handshake per session, and drives a [`Session`] on a blocking thread.
//!
//! - Outbound, per peer and lane: one task performs the KK handshake (`Hello`) keyed by the peer's pinned
//!   X25519 key, then seals each queued message — tagged with its session id inside the
//!   encryption — and sends everything queued so far in one request, waiting for its answer
//!   before the next, so frames arrive in order (snow's stateful nonces require it). Under load
//!   the messages of many sessions share each request; when idle a message leaves at once. A
//!   failed request drops the channel (its nonces may no longer agree) and the next message
//!   opens a new one; the messages of the failed request are not resent (a duplicate could make
//!   a session blame an honest peer), so their sessions time out and are retried — except when
//!   the peer answers that it has no channel on that lane (it restarted, or is a new host in a
//!   replaced node's place): it opened none of them, so they go again, once, on a new channel.
//! - Inbound: a `Hello` from node N is answered only with N's pinned key (KK fails otherwise) and
//!   replaces N's channel on that lane here; data frames decrypt with N's channel and the sender is the
//!   authenticated node, never a field of the message. A frame that fails to decrypt closes the
//!   channel. Messages for a session that has not started here yet are kept briefly (bounded
//!   per peer) and handed over when it registers; messages for a session already over here are
//!   dropped.

use crate::p2p::messages::{PeerRequest, PeerResponse, SessionFrame};
use crate::p2p::{P2pHandle, PeerTable};
use libp2p::PeerId;
use mpc_consensus::raft::NodeId;
use mpc_protocol::channel::{self, PeerChannel};
use mpc_protocol::session::{PartyIndex, Recipient, Session, SessionError, Step};
use rand_core::{CryptoRng, RngCore};
use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::mpsc;
use zeroize::Zeroizing;

mod progress;
use progress::{Progress, PEER_GONE};

// Per-peer bounds: an authenticated peer can make this node keep state for sessions that have
// not started here (or never will). Everything such a peer can grow is bounded per peer, so one
// flooding peer cannot crowd out the others or exhaust memory.
/// Most messages one peer may have waiting for one session that has not started locally.
const MAX_EARLY_PER_PEER_SESSION: usize = 64;
/// Most not-yet-started sessions one peer may have messages waiting for. A healthy peer runs
/// ahead of this node by as many signing sessions as are in flight (it applied their entries
/// first); at 32 a burst of 64 requests lost early messages, and a lost signature share of a
/// one-round pooled FROST session (decision 0034) cost its attempt a 15 s idle timeout. The
/// byte bound below still caps what a flooding peer can make this node hold.
const MAX_EARLY_SESSIONS_PER_PEER: usize = 1024;
/// Most bytes of early messages kept for one peer.
const MAX_EARLY_BYTES_PER_PEER: usize = 16 * 1024 * 1024;
/// Most messages one peer may send into one running session (protocols need a few dozen).
const MAX_MESSAGES_PER_PEER_SESSION: usize = 256;
/// How long early messages are kept, and how long an outgoing message may wait for its peer.
const EARLY_TTL: Duration = Duration::from_secs(60);
/// Timeout of one request (a handshake, or a batch of frames).
const FRAME_TIMEOUT: Duration = Duration::from_secs(10);
/// Most bytes of frames sent in one request (well under the peer-to-peer message limit; one
/// session message, at most 1 MiB, always fits).
const MAX_BATCH_BYTES: usize = 4 * 1024 * 1024;
/// Pause before a new handshake after a failed one.
const HANDSHAKE_RETRY: Duration = Duration::from_millis(200);
/// Channels ("lanes") per sender → receiver pair. A session always uses lane `sid[0] % LANES`,
/// so its messages stay in order; several lanes keep several requests in flight per peer, so a
/// loaded peer's round trip (or one large message) holds up fewer sessions.
const LANES: u8 = 4;
/// The answer to frames on a lane with no channel here (this node restarted, or it is a new
/// host in the place of a replaced one): none of them was opened, so the sender may open a new
/// channel and send the same messages again.
const NO_CHANNEL: &str = "no channel from this sender on this lane: handshake first";
/// Sessions remembered as over here (their late messages are dropped).
const FINISHED_REMEMBERED: usize = 4096;
/// Longest any session may run, however steadily its messages arrive.
const MAX_SESSION: Duration = Duration::from_secs(15 * 60);
/// How often a waiting session looks at its participants' connections.
const GONE_CHECK: Duration = Duration::from_millis(250);

type Sid = [u8; 32];
type Inbox = std::sync::mpsc::Sender<(NodeId, Vec<u8>)>;
/// Messages that arrived before their session started here, with the time of the first.
type Early = (Instant, Vec<(NodeId, Vec<u8>)>);

/// Why a request to a peer failed.
#[derive(Debug)]
enum SendError {
    /// It never left this node (the peer is not connected): nothing was delivered.
    NotSent(String),
    /// The peer answered with an error.
    Refused(String),
    /// Lost on the way or unanswered: some of it may have been delivered.
    Lost(String),
}

impl std::fmt::Display for SendError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SendError::NotSent(e) | SendError::Refused(e) | SendError::Lost(e) => f.write_str(e),
        }
    }
}

/// A message waiting for this node's channel to its peer.
struct Queued {
    sid: Sid,
    message: Vec<u8>,
    /// Dropped unsent after this (the session's deadline, at most [`EARLY_TTL`] from queueing).
    expires: Instant,
    /// Sent once already to a peer that had no channel (it is sent again at most once).
    resent: bool,
}

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
    /// Each peer's channels to this node, per lane (from its latest handshake on that lane).
    inbound: HashMap<(NodeId, u8), PeerChannel>,
    /// Messages delivered to running sessions, per (session, sender).
    delivered: HashMap<(Sid, NodeId), usize>,
    /// Most bytes of early messages held at once since start.
    early_bytes_peak: usize,
    /// Messages refused by a per-peer bound since start.
    refused_frames: u64,
    /// Handshakes answered since start (one per peer and restart, not one per session).
    handshakes: u64,
    /// The queue of this node's channel to each peer, per lane.
    outbound: HashMap<(NodeId, u8), mpsc::UnboundedSender<Queued>>,
    finished: VecDeque<Sid>,
    finished_set: HashSet<Sid>,
}

impl State {
    /// Hands a message from `from` to its session, keeps it until the session starts here, or
    /// drops it when the session is already over here.
    fn deliver(
        &mut self,
        sid: Sid,
        from: NodeId,
        message: Vec<u8>,
        now: Instant,
    ) -> Result<(), String> {
        if self.finished_set.contains(&sid) {
            return Ok(());
        }
        if let Some(inbox) = self.sessions.get(&sid) {
            let n = self.delivered.entry((sid, from)).or_insert(0);
            if *n >= MAX_MESSAGES_PER_PEER_SESSION {
                return Err("too many messages from this peer in this session".into());
            }
            *n += 1;
            let _ = inbox.send((from, message));
            return Ok(());
        }
        self.keep_early(sid, from, message, now)
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
    /// Inbound channels open (one per peer that has sent session messages since start).
    pub inbound_channels: usize,
    /// Handshakes answered since start (one per peer and restart, not one per session).
    pub handshakes: u64,
    /// Sessions with messages waiting for them to start here.
    pub early_sessions: usize,
    /// Bytes of such messages held now.
    pub early_bytes: usize,
    /// Most bytes of such messages held at once since start.
    pub early_bytes_peak: usize,
    /// Messages refused by a per-peer bound since start.
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
            handshakes: st.handshakes,
            early_sessions: st.early.len(),
            early_bytes: st.early_bytes(),
            early_bytes_peak: st.early_bytes_peak,
            refused_frames: st.refused_frames,
        }
    }

    /// Handles frames from the authenticated node `from`.
    pub fn handle_frame(
        &self,
        from: NodeId,
        frame: SessionFrame,
    ) -> Result<Option<Vec<u8>>, String> {
        match frame {
            SessionFrame::Hello { lane, hello } => {
                if lane >= LANES {
                    return Err(format!("no lane {lane} (there are {LANES})"));
                }
                let key = self
                    .inner
                    .peers
                    .noise_of(from)
                    .ok_or("sender has no pinned Noise key")?;
                let (chan, reply) = channel::respond(
                    &self.inner.noise_secret,
                    &key,
                    &hello,
                    &mut rand_core::OsRng,
                )
                .map_err(|e| e.to_string())?;
                let mut st = self.state();
                // A new handshake from the same authenticated peer replaces its channel (it
                // restarted, or lost its side after a failed request); only that peer's static
                // key can complete KK.
                st.inbound.insert((from, lane), chan);
                st.handshakes += 1;
                Ok(Some(reply))
            }
            SessionFrame::Data { lane, frames } => {
                let mut st = self.state();
                let now = Instant::now();
                for f in frames {
                    let opened = match st.inbound.get_mut(&(from, lane)) {
                        Some(chan) => chan.open_session(&f),
                        None => return Err(NO_CHANNEL.into()),
                    };
                    match opened {
                        Ok(None) => {}
                        Ok(Some((sid, message))) => {
                            if let Err(e) = st.deliver(sid, from, message, now) {
                                st.refused_frames += 1;
                                tracing::debug!(from, "session message refused: {e}");
                            }
                        }
                        Err(e) => {
                            // The sender must open a new channel; nothing after this frame can
                            // decrypt with this one.
                            st.inbound.remove(&(from, lane));
                            return Err(format!("channel closed: {e}"));
                        }
                    }
                }
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
        st.delivered.retain(|(s, _), _| *s != sid);
        if st.finished_set.insert(sid) {
            st.finished.push_back(sid);
        }
        while st.finished.len() > FINISHED_REMEMBERED {
            if let Some(old) = st.finished.pop_front() {
                st.finished_set.remove(&old);
            }
        }
    }

    /// TEST BUILDS ONLY: queues a message as [`SessionHub::send`] does, for the forger.
    #[cfg(feature = "forge-for-tests")]
    pub(crate) fn send_for_tests(&self, sid: Sid, to: NodeId, message: Vec<u8>, deadline: Instant) {
        self.send(sid, to, message, deadline);
    }

    /// Queues `message` to `to` in session `sid` (in order per peer), on this node's channel to
    /// `to`; starts the channel's task on first use.
    fn send(&self, sid: Sid, to: NodeId, message: Vec<u8>, deadline: Instant) {
        let mut queued = Queued {
            sid,
            message,
            expires: deadline.min(Instant::now() + EARLY_TTL),
            resent: false,
        };
        let lane = sid[0] % LANES;
        let mut st = self.state();
        if let Some(q) = st.outbound.get(&(to, lane)) {
            match q.send(queued) {
                Ok(()) => return,
                Err(back) => queued = back.0,
            }
        }
        let (tx, rx) = mpsc::unbounded_channel();
        let _ = tx.send(queued);
        st.outbound.insert((to, lane), tx);
        drop(st);
        let this = self.clone();
        self.inner
            .runtime
            .spawn(async move { this.link(to, lane, rx).await });
    }

    async fn request(
        &self,
        peer: PeerId,
        frame: SessionFrame,
    ) -> Result<Option<Vec<u8>>, SendError> {
        match self
            .inner
            .p2p
            .request(peer, PeerRequest::Session(frame), FRAME_TIMEOUT)
            .await
        {
            Ok(PeerResponse::Session(Ok(r))) => Ok(r),
            Ok(PeerResponse::Session(Err(e))) => Err(SendError::Refused(e)),
            Ok(_) => Err(SendError::Lost(
                "peer answered with the wrong message".into(),
            )),
            Err(e @ mpc_consensus::network::TransportError::Unreachable(_)) => {
                Err(SendError::NotSent(e.to_string()))
            }
            Err(e) => Err(SendError::Lost(e.to_string())),
        }
    }

    /// Opens this node's channel to `to` (a Noise KK handshake with its pinned key, looked up
    /// now so a replaced host's new key is used).
    async fn handshake(&self, to: NodeId, lane: u8, peer: PeerId) -> Result<PeerChannel, String> {
        let key = self
            .inner
            .peers
            .noise_of(to)
            .ok_or("peer has no pinned Noise key")?;
        let (init, hello) =
            channel::Initiator::start(&self.inner.noise_secret, &key, &mut rand_core::OsRng)
                .map_err(|e| format!("noise start: {e}"))?;
        match self
            .request(peer, SessionFrame::Hello { lane, hello })
            .await
            .map_err(|e| e.to_string())?
        {
            Some(reply) => init
                .finish(&reply)
                .map_err(|e| format!("noise handshake: {e}")),
            None => Err("peer sent no handshake reply".into()),
        }
    }

    /// This node's channel to `to` on `lane`: sends the queued messages of the lane's sessions,
    /// in order, as many as are waiting per request.
    async fn link(self, to: NodeId, lane: u8, mut rx: mpsc::UnboundedReceiver<Queued>) {
        let mut chan: Option<PeerChannel> = None;
        let mut pending: VecDeque<Queued> = VecDeque::new();
        let mut failing = false;
        loop {
            if pending.is_empty() {
                match rx.recv().await {
                    Some(q) => pending.push_back(q),
                    None => return,
                }
            }
            while let Ok(q) = rx.try_recv() {
                pending.push_back(q);
            }
            let now = Instant::now();
            pending.retain(|q| q.expires > now);
            if pending.is_empty() {
                continue;
            }
            let Some(peer) = self.inner.peers.peer_of(to) else {
                tracing::warn!(to, "session peer unknown: its messages are dropped");
                pending.clear();
                continue;
            };
            let c = match chan.as_mut() {
                Some(c) => c,
                None => match self.handshake(to, lane, peer).await {
                    Ok(c) => {
                        if failing {
                            tracing::info!(to, "session channel open again");
                            failing = false;
                        }
                        chan.insert(c)
                    }
                    Err(e) => {
                        // The peer may still be connecting (or restarting): try again while
                        // messages are waiting for it.
                        if !failing {
                            tracing::warn!(to, "session channel: {e}; retrying");
                            failing = true;
                        }
                        tokio::time::sleep(HANDSHAKE_RETRY).await;
                        continue;
                    }
                },
            };
            let mut frames = Vec::new();
            let mut sealed = Vec::new();
            let mut bytes = 0usize;
            let mut broken = false;
            while let Some(q) = pending.front() {
                if bytes > 0 && bytes + q.message.len() > MAX_BATCH_BYTES {
                    break;
                }
                let Some(q) = pending.pop_front() else { break };
                match c.seal_session(&q.sid, &q.message) {
                    Ok(fs) => {
                        bytes += fs.iter().map(Vec::len).sum::<usize>();
                        frames.extend(fs);
                        sealed.push(q);
                    }
                    Err(e @ channel::ChannelError::TooLarge { .. }) => {
                        tracing::warn!(to, "session message dropped: {e}");
                    }
                    Err(e) => {
                        tracing::warn!(to, "sealing a session message: {e}");
                        broken = true;
                        break;
                    }
                }
            }
            if broken {
                chan = None;
                continue;
            }
            if frames.is_empty() {
                continue;
            }
            match self
                .request(peer, SessionFrame::Data { lane, frames })
                .await
            {
                Ok(_) => {}
                Err(SendError::NotSent(e)) => {
                    // Never left this node (the peer is not connected: restarting, or a new
                    // host still connecting): keep the messages for a new channel. The sealed
                    // frames used up this channel's nonces, so it goes too.
                    if !failing {
                        tracing::warn!(to, "session channel: {e}; retrying");
                        failing = true;
                    }
                    chan = None;
                    for q in sealed.into_iter().rev() {
                        pending.push_front(q);
                    }
                    tokio::time::sleep(HANDSHAKE_RETRY).await;
                }
                Err(SendError::Refused(e)) if e == NO_CHANNEL => {
                    // The peer opened none of these frames (it restarted, or a new host took
                    // its place): open a new channel and send them again, once.
                    tracing::info!(to, lane, "peer has no session channel: opening a new one");
                    chan = None;
                    for mut q in sealed.into_iter().rev().filter(|q| !q.resent) {
                        q.resent = true;
                        pending.push_front(q);
                    }
                }
                Err(e) => {
                    tracing::warn!(to, "session messages not delivered: {e}");
                    chan = None;
                }
            }
        }
    }

    /// Whether `node` has an established connection to this node.
    fn connected(&self, node: NodeId) -> bool {
        self.inner
            .peers
            .get(node)
            .is_some_and(|p| self.inner.p2p.is_connected(&p.peer))
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
        self.run_with(sid, parties, session, rng, idle, None)
    }

    /// As [`SessionHub::run`], and fails as soon as a participant has had no connection to
    /// this node for `PEER_GONE` (3 s), naming it unresponsive. For signing: a signer that
    /// crashed or restarted cannot finish its session, and the request's next attempt should go
    /// to other signers now rather than after the idle timeout. (DKG, aux info and refresh keep
    /// waiting: a node restarted within their idle timeout rejoins them from the log.)
    pub fn run_while_connected<S: Session, R: RngCore + CryptoRng>(
        &self,
        sid: Sid,
        parties: &BTreeMap<NodeId, PartyIndex>,
        session: &mut S,
        rng: &mut R,
        idle: Duration,
    ) -> Result<S::Output, RunError> {
        self.run_with(sid, parties, session, rng, idle, Some(PEER_GONE))
    }

    fn run_with<S: Session, R: RngCore + CryptoRng>(
        &self,
        sid: Sid,
        parties: &BTreeMap<NodeId, PartyIndex>,
        session: &mut S,
        rng: &mut R,
        idle: Duration,
        peer_gone: Option<Duration>,
    ) -> Result<S::Output, RunError> {
        let inbox = self.register(sid);
        let started = Instant::now();
        let result = self.drive(sid, parties, session, rng, idle, peer_gone, &inbox);
        self.unregister(sid);
        crate::metrics::session_ended(session.kind(), result.is_ok(), started.elapsed());
        result
    }

    #[allow(clippy::too_many_arguments)]
    fn drive<S: Session, R: RngCore + CryptoRng>(
        &self,
        sid: Sid,
        parties: &BTreeMap<NodeId, PartyIndex>,
        session: &mut S,
        rng: &mut R,
        idle: Duration,
        peer_gone: Option<Duration>,
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
            let (from, bytes) = match inbox.recv_timeout(left.min(GONE_CHECK)) {
                Ok(m) => m,
                Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {
                    if let Some(after) = peer_gone {
                        let now = Instant::now();
                        if let Some(gone) = progress.gone(now, after, |n| self.connected(n)) {
                            return Err(progress.peer_gone(gone, now));
                        }
                    }
                    continue;
                }
                Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => {
                    return Err(progress.timed_out());
                }
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

#[cfg(test)]
mod tests {
    use super::*;

    fn sid(i: u32) -> Sid {
        let mut s = [0u8; 32];
        s[..4].copy_from_slice(&i.to_be_bytes());
        s
    }

    #[test]
    fn a_peer_ahead_by_a_burst_of_sessions_loses_none_of_their_first_messages() {
        let mut st = State::default();
        let now = Instant::now();
        // A peer that applied 500 signing entries before this node started their sessions:
        // each session's first message is kept until it starts here.
        for i in 0..500 {
            st.deliver(sid(i), 2, vec![7u8; 200], now).unwrap();
        }
        assert_eq!(st.early.len(), 500);
        // Up to the per-peer session bound; another peer has its own room.
        for i in 500..MAX_EARLY_SESSIONS_PER_PEER as u32 {
            st.deliver(sid(i), 2, vec![7u8; 200], now).unwrap();
        }
        let over = MAX_EARLY_SESSIONS_PER_PEER as u32;
        assert!(st.deliver(sid(over), 2, vec![7u8; 200], now).is_err());
        st.deliver(sid(over), 3, vec![7u8; 200], now).unwrap();
        // The bytes a flooding peer can park stay bounded.
        let big = vec![0u8; MAX_EARLY_BYTES_PER_PEER];
        assert!(st.deliver(sid(0), 3, big, now).is_err());
    }
}
