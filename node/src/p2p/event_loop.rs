//! Swarm construction and the event loop.

use super::codec::PeerCodec;
use super::messages::{PeerRequest, PeerResponse};
use super::peers::PeerTable;
use crate::heartbeat::{self, PeerStatusTable};
use futures::StreamExt;
use libp2p::request_response::{self, OutboundRequestId, ProtocolSupport, ResponseChannel};
use libp2p::swarm::{NetworkBehaviour, SwarmEvent};
use libp2p::{
    allow_block_list, connection_limits, gossipsub, identify, noise, tcp, yamux, Multiaddr, PeerId,
    StreamProtocol, Swarm,
};
use mpc_consensus::network::TransportError;
use mpc_protocol::domain;
use mpc_protocol::limits::MAX_GOSSIP_MESSAGE_BYTES;
use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, RwLock};
use std::time::Duration;
use tokio::sync::{broadcast, mpsc, oneshot};

/// Most commands queued for the event loop.
const COMMAND_QUEUE: usize = 1024;
/// Disconnections kept for a slow subscriber of [`P2pHandle::disconnects`].
const DISCONNECT_QUEUE: usize = 64;
/// How often disconnected member peers are dialled again.
const REDIAL_INTERVAL: Duration = Duration::from_millis(1000);
/// Timeout of one request-response exchange inside libp2p.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// The combined behaviour.
#[derive(NetworkBehaviour)]
pub struct Behaviour {
    allow: allow_block_list::Behaviour<allow_block_list::AllowedPeers>,
    limits: connection_limits::Behaviour,
    identify: identify::Behaviour,
    gossipsub: gossipsub::Behaviour,
    rpc: request_response::Behaviour<PeerCodec>,
}

/// Builds the swarm: only `peers` are allowed to connect.
pub fn build_swarm(
    keypair: libp2p::identity::Keypair,
    peers: &PeerTable,
) -> anyhow::Result<Swarm<Behaviour>> {
    let swarm = libp2p::SwarmBuilder::with_existing_identity(keypair)
        .with_tokio()
        .with_tcp(
            tcp::Config::default().nodelay(true),
            noise::Config::new,
            yamux::Config::default,
        )?
        .with_behaviour(|key| {
            let mut allow =
                allow_block_list::Behaviour::<allow_block_list::AllowedPeers>::default();
            for (_, p) in peers.all() {
                allow.allow_peer(p.peer);
            }
            let limits = connection_limits::Behaviour::new(
                connection_limits::ConnectionLimits::default()
                    .with_max_pending_incoming(Some(32))
                    .with_max_pending_outgoing(Some(64))
                    .with_max_established_incoming(Some(128))
                    .with_max_established_per_peer(Some(2)),
            );
            let identify = identify::Behaviour::new(identify::Config::new(
                domain::IDENTIFY_PROTOCOL.to_string(),
                key.public(),
            ));
            let gs_config = gossipsub::ConfigBuilder::default()
                .heartbeat_interval(Duration::from_millis(500))
                .validation_mode(gossipsub::ValidationMode::Strict)
                .validate_messages()
                .max_transmit_size(MAX_GOSSIP_MESSAGE_BYTES * 2)
                .mesh_n_low(1)
                .mesh_outbound_min(1)
                .build()
                .map_err(|e| anyhow::anyhow!("gossipsub config: {e}"))?;
            let gossipsub = gossipsub::Behaviour::new(
                gossipsub::MessageAuthenticity::Signed(key.clone()),
                gs_config,
            )
            .map_err(|e| anyhow::anyhow!("gossipsub: {e}"))?;
            let rpc = request_response::Behaviour::with_codec(
                PeerCodec,
                [(
                    StreamProtocol::new(domain::PROTOCOL_RAFT),
                    ProtocolSupport::Full,
                )],
                request_response::Config::default()
                    .with_request_timeout(REQUEST_TIMEOUT)
                    .with_max_concurrent_streams(256),
            );
            Ok(Behaviour {
                allow,
                limits,
                identify,
                gossipsub,
                rpc,
            })
        })?
        .with_swarm_config(|c| c.with_idle_connection_timeout(Duration::from_secs(24 * 3600)))
        .build();
    Ok(swarm)
}

enum Command {
    Request {
        peer: PeerId,
        request: PeerRequest,
        reply: oneshot::Sender<Result<PeerResponse, TransportError>>,
    },
    Respond {
        channel: ResponseChannel<PeerResponse>,
        response: PeerResponse,
    },
    Publish(Vec<u8>),
    /// A node was replaced: its old peer is refused and disconnected, the new one allowed.
    Repin {
        old: Option<PeerId>,
        new: PeerId,
        addr: Multiaddr,
    },
    Unpin(PeerId),
}

/// An inbound request waiting for an answer through [`P2pHandle::respond`].
pub struct Inbound {
    /// Sender.
    pub peer: PeerId,
    /// Its node id (inbound requests come only from pinned member peers).
    pub node_id: u64,
    /// The request.
    pub request: PeerRequest,
    /// Where the answer goes.
    pub channel: ResponseChannel<PeerResponse>,
}

/// Cloneable front end of the event loop.
#[derive(Clone)]
pub struct P2pHandle {
    tx: mpsc::Sender<Command>,
    connected: Arc<RwLock<BTreeSet<PeerId>>>,
    disconnects: broadcast::Sender<PeerId>,
    local_peer_id: PeerId,
}

impl P2pHandle {
    /// Sends `request` to `peer` and waits at most `timeout` for its answer. Fails at once when
    /// the peer is not connected (the event loop keeps redialling member peers).
    pub async fn request(
        &self,
        peer: PeerId,
        request: PeerRequest,
        timeout: Duration,
    ) -> Result<PeerResponse, TransportError> {
        if !self.is_connected(&peer) {
            return Err(TransportError::Unreachable(format!(
                "{peer} is not connected"
            )));
        }
        let (reply, rx) = oneshot::channel();
        self.tx
            .send(Command::Request {
                peer,
                request,
                reply,
            })
            .await
            .map_err(|_| TransportError::Network("event loop stopped".into()))?;
        match tokio::time::timeout(timeout, rx).await {
            Ok(Ok(r)) => r,
            Ok(Err(_)) => Err(TransportError::Network("request dropped".into())),
            Err(_) => Err(TransportError::Network(format!(
                "no answer within {timeout:?}"
            ))),
        }
    }

    /// Answers an inbound request.
    pub async fn respond(&self, channel: ResponseChannel<PeerResponse>, response: PeerResponse) {
        let _ = self.tx.send(Command::Respond { channel, response }).await;
    }

    /// Publishes a heartbeat on the status topic.
    pub async fn publish_status(&self, data: Vec<u8>) {
        let _ = self.tx.send(Command::Publish(data)).await;
    }

    /// A replaced node's old peer (if any) is refused and disconnected; its new one is allowed
    /// and dialled at `addr` (the peer table already pins it).
    pub async fn repin(&self, old: Option<PeerId>, new: PeerId, addr: Multiaddr) {
        let _ = self.tx.send(Command::Repin { old, new, addr }).await;
    }

    /// A removed node's peer is refused and disconnected from now on.
    pub async fn unpin(&self, old: PeerId) {
        let _ = self.tx.send(Command::Unpin(old)).await;
    }

    /// Whether `peer` has an established connection.
    pub fn is_connected(&self, peer: &PeerId) -> bool {
        self.connected
            .read()
            .map(|c| c.contains(peer))
            .unwrap_or(false)
    }

    /// Connected peers.
    pub fn connected_peers(&self) -> Vec<PeerId> {
        self.connected
            .read()
            .map(|c| c.iter().copied().collect())
            .unwrap_or_default()
    }

    /// Peers whose last connection closed, as they close (a slow receiver misses some: it
    /// sees `Lagged`).
    pub fn disconnects(&self) -> broadcast::Receiver<PeerId> {
        self.disconnects.subscribe()
    }

    /// This node's peer id.
    pub fn local_peer_id(&self) -> PeerId {
        self.local_peer_id
    }
}

/// Owns the swarm; executes commands and turns swarm events into inbound requests.
pub struct P2pEventLoop {
    swarm: Swarm<Behaviour>,
    commands: mpsc::Receiver<Command>,
    inbound: mpsc::Sender<Inbound>,
    pending: HashMap<OutboundRequestId, oneshot::Sender<Result<PeerResponse, TransportError>>>,
    peers: PeerTable,
    statuses: PeerStatusTable,
    connected: Arc<RwLock<BTreeSet<PeerId>>>,
    disconnects: broadcast::Sender<PeerId>,
    topic: gossipsub::IdentTopic,
}

impl P2pEventLoop {
    /// Creates the loop and its handle. Inbound requests are delivered on `inbound`.
    pub fn new(
        mut swarm: Swarm<Behaviour>,
        listen: Multiaddr,
        peers: PeerTable,
        statuses: PeerStatusTable,
        inbound: mpsc::Sender<Inbound>,
    ) -> anyhow::Result<(Self, P2pHandle)> {
        swarm.listen_on(listen)?;
        let topic = gossipsub::IdentTopic::new(domain::TOPIC_NODE_STATUS);
        swarm.behaviour_mut().gossipsub.subscribe(&topic)?;
        let local = *swarm.local_peer_id();
        for (_, p) in peers.all() {
            if p.peer != local {
                swarm.add_peer_address(p.peer, p.addr.clone());
            }
        }
        let (tx, commands) = mpsc::channel(COMMAND_QUEUE);
        let connected = Arc::new(RwLock::new(BTreeSet::new()));
        let (disconnects, _) = broadcast::channel(DISCONNECT_QUEUE);
        let handle = P2pHandle {
            tx,
            connected: connected.clone(),
            disconnects: disconnects.clone(),
            local_peer_id: local,
        };
        Ok((
            P2pEventLoop {
                swarm,
                commands,
                inbound,
                pending: HashMap::new(),
                peers,
                statuses,
                connected,
                disconnects,
                topic,
            },
            handle,
        ))
    }

    /// Runs until the command channel closes.
    pub async fn run(mut self) {
        let mut redial = tokio::time::interval(REDIAL_INTERVAL);
        redial.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                cmd = self.commands.recv() => match cmd {
                    Some(c) => self.on_command(c),
                    None => break,
                },
                event = self.swarm.select_next_some() => self.on_event(event).await,
                _ = redial.tick() => self.redial(),
            }
        }
        tracing::info!("p2p event loop stopped");
    }

    fn redial(&mut self) {
        let local = *self.swarm.local_peer_id();
        let missing: Vec<(PeerId, Multiaddr)> = self
            .peers
            .all()
            .into_iter()
            .filter(|(_, p)| p.peer != local && !self.swarm.is_connected(&p.peer))
            .map(|(_, p)| (p.peer, p.addr))
            .collect();
        for (peer, addr) in missing {
            let opts = libp2p::swarm::dial_opts::DialOpts::peer_id(peer)
                .addresses(vec![addr])
                .condition(libp2p::swarm::dial_opts::PeerCondition::DisconnectedAndNotDialing)
                .build();
            if let Err(e) = self.swarm.dial(opts) {
                tracing::debug!(%peer, "dial not started: {e}");
            }
        }
    }

    fn on_command(&mut self, cmd: Command) {
        match cmd {
            Command::Request {
                peer,
                request,
                reply,
            } => {
                let id = self.swarm.behaviour_mut().rpc.send_request(&peer, request);
                self.pending.insert(id, reply);
            }
            Command::Respond { channel, response } => {
                if self
                    .swarm
                    .behaviour_mut()
                    .rpc
                    .send_response(channel, response)
                    .is_err()
                {
                    tracing::debug!("response dropped: the requester went away");
                }
            }
            Command::Repin { old, new, addr } => {
                if let Some(old) = old {
                    self.refuse(old);
                    tracing::warn!(peer = %old, "a replaced node's old host is refused from now on");
                }
                self.swarm.behaviour_mut().allow.allow_peer(new);
                self.swarm.add_peer_address(new, addr);
                tracing::info!(peer = %new, "a replacement host is allowed");
            }
            Command::Unpin(old) => {
                self.refuse(old);
                tracing::warn!(peer = %old, "a removed node is refused from now on");
            }
            Command::Publish(data) => {
                let topic = self.topic.clone();
                if let Err(e) = self.swarm.behaviour_mut().gossipsub.publish(topic, data) {
                    tracing::trace!("heartbeat not published: {e}");
                }
            }
        }
    }

    /// Drops `peer` from the allow-list, which closes every connection it has.
    fn refuse(&mut self, peer: PeerId) {
        self.swarm.behaviour_mut().allow.disallow_peer(peer);
        let _ = self.swarm.disconnect_peer_id(peer);
        self.set_connected(peer, false);
    }

    fn set_connected(&self, peer: PeerId, connected: bool) {
        if let Ok(mut c) = self.connected.write() {
            if connected {
                c.insert(peer);
            } else {
                c.remove(&peer);
            }
        }
    }

    async fn on_event(&mut self, event: SwarmEvent<BehaviourEvent>) {
        match event {
            SwarmEvent::NewListenAddr { address, .. } => {
                tracing::info!(%address, "p2p listening");
            }
            SwarmEvent::ConnectionEstablished { peer_id, .. } => {
                if self.peers.node_of(&peer_id).is_some() {
                    tracing::info!(peer = %peer_id, "peer connected");
                    self.set_connected(peer_id, true);
                } else {
                    // The allow-list denies these before they are established; belt and braces.
                    tracing::warn!(peer = %peer_id, "disconnecting a peer that is not in the genesis");
                    let _ = self.swarm.disconnect_peer_id(peer_id);
                }
            }
            SwarmEvent::ConnectionClosed {
                peer_id,
                num_established: 0,
                ..
            } => {
                tracing::info!(peer = %peer_id, "peer disconnected");
                self.set_connected(peer_id, false);
                // No receiver (yet) is not an error.
                let _ = self.disconnects.send(peer_id);
            }
            SwarmEvent::IncomingConnectionError {
                send_back_addr,
                error,
                peer_id,
                ..
            } => {
                tracing::warn!(from = %send_back_addr, peer = ?peer_id, "incoming connection refused: {error}");
            }
            SwarmEvent::OutgoingConnectionError { peer_id, error, .. } => {
                tracing::debug!(peer = ?peer_id, "dial failed: {error}");
            }
            SwarmEvent::Behaviour(BehaviourEvent::Rpc(e)) => self.on_rpc(e).await,
            SwarmEvent::Behaviour(BehaviourEvent::Gossipsub(gossipsub::Event::Message {
                propagation_source,
                message_id,
                message,
            })) => {
                let expected = message.source.and_then(|s| self.peers.node_of(&s));
                let acceptance = match heartbeat::validate(&message.data, expected) {
                    Ok(hb) => {
                        self.statuses.record(hb, crate::clock::now_ms());
                        gossipsub::MessageAcceptance::Accept
                    }
                    Err(e) => {
                        tracing::warn!(from = %propagation_source, "rejected heartbeat: {e}");
                        gossipsub::MessageAcceptance::Reject
                    }
                };
                let _ = self
                    .swarm
                    .behaviour_mut()
                    .gossipsub
                    .report_message_validation_result(&message_id, &propagation_source, acceptance);
            }
            _ => {}
        }
    }

    async fn on_rpc(&mut self, event: request_response::Event<PeerRequest, PeerResponse>) {
        match event {
            request_response::Event::Message { peer, message, .. } => match message {
                request_response::Message::Request {
                    request, channel, ..
                } => {
                    let Some(node_id) = self.peers.node_of(&peer) else {
                        tracing::warn!(%peer, "request from a peer outside the membership dropped");
                        return;
                    };
                    let inbound = Inbound {
                        peer,
                        node_id,
                        request,
                        channel,
                    };
                    if self.inbound.try_send(inbound).is_err() {
                        tracing::warn!(%peer, "inbound queue full: request dropped");
                    }
                }
                request_response::Message::Response {
                    request_id,
                    response,
                } => {
                    if let Some(tx) = self.pending.remove(&request_id) {
                        let _ = tx.send(Ok(response));
                    }
                }
            },
            request_response::Event::OutboundFailure {
                request_id, error, ..
            } => {
                if let Some(tx) = self.pending.remove(&request_id) {
                    let _ = tx.send(Err(TransportError::Network(error.to_string())));
                }
            }
            request_response::Event::InboundFailure { peer, error, .. } => {
                tracing::debug!(%peer, "inbound request failed: {error}");
            }
            request_response::Event::ResponseSent { .. } => {}
        }
    }
}
