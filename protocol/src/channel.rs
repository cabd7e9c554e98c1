//! Noise peer channels for threshold-round messages (snow, `Noise_KK_25519_ChaChaPoly_BLAKE2s`).
//!
//! Both static keys are pinned: each side knows the other's X25519 public key from the genesis /
//! membership before the handshake starts (the KK pattern), so a peer holding any other key fails
//! the handshake — the first handshake message already carries an authentication tag over
//! `es` and `ss` — before any payload is accepted.
//!
//! One channel per sender → receiver pair of nodes carries the messages of every threshold
//! session between them: each message's plaintext starts with the 32-byte session id it belongs
//! to ([`PeerChannel::seal_session`] / [`PeerChannel::open_session`]), so the id is encrypted and
//! authenticated with the message and a frame cannot be moved into another session.
//!
//! Transport messages use snow's stateful nonces: every frame must arrive exactly once and in
//! order, so a replayed, reordered or forged frame fails to decrypt. A message longer than one
//! Noise message (65,535 bytes including the 16-byte tag) is split into chunks; each chunk's
//! plaintext starts with a flag byte (1 = last chunk). Session messages are limited to
//! `MAX_SESSION_MESSAGE_BYTES` (plus the session id) and frames to `NOISE_MAX_FRAME_BYTES`, both
//! checked before work.

use crate::domain;
use crate::limits::MAX_SESSION_MESSAGE_BYTES;
use zeroize::Zeroizing;

/// Largest Noise message (protocol limit), bytes.
pub const NOISE_MAX_FRAME_BYTES: usize = 65_535;
/// AEAD tag length, bytes.
const TAG_BYTES: usize = 16;
/// Length of the session id in front of each session message, bytes.
pub const SESSION_ID_BYTES: usize = 32;
/// A session id and one whole message of that session, as opened from a channel.
pub type SessionMessage = ([u8; SESSION_ID_BYTES], Vec<u8>);
/// Largest message on a channel: a session message and its session id.
const MAX_CHANNEL_MESSAGE_BYTES: usize = MAX_SESSION_MESSAGE_BYTES + SESSION_ID_BYTES;
/// Largest plaintext per frame (one flag byte + data).
const MAX_CHUNK_DATA: usize = NOISE_MAX_FRAME_BYTES - TAG_BYTES - 1;

/// Channel failures.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChannelError {
    /// The handshake failed: wrong or unknown key, or a corrupted handshake message.
    #[error("noise handshake failed: {0}")]
    Handshake(String),
    /// A frame did not decrypt: forged, corrupted, replayed or out of order.
    #[error("frame rejected: {0}")]
    Frame(String),
    /// A frame or message exceeds its limit.
    #[error("{what} of {len} bytes exceeds the limit of {max}")]
    TooLarge {
        /// Frame or message.
        what: &'static str,
        /// Its length.
        len: usize,
        /// The limit.
        max: usize,
    },
}

/// snow's cryptography with the caller's randomness: the handshake's ephemeral key comes from a
/// ChaCha20 stream seeded by the caller's RNG, never from snow's own OS RNG (so the sans-IO
/// core stays deterministic under a seeded RNG, and the node draws OS randomness at its edge).
struct CallerRng(rand_chacha::ChaCha20Rng);

impl snow::types::Random for CallerRng {
    fn try_fill_bytes(&mut self, dest: &mut [u8]) -> Result<(), snow::Error> {
        rand_core::RngCore::fill_bytes(&mut self.0, dest);
        Ok(())
    }
}

struct Resolver {
    seed: std::sync::Mutex<Option<Zeroizing<[u8; 32]>>>,
}

impl snow::resolvers::CryptoResolver for Resolver {
    fn resolve_rng(&self) -> Option<Box<dyn snow::types::Random>> {
        // One RNG per handshake: the seed is handed out once.
        let seed = self.seed.lock().ok()?.take()?;
        Some(Box::new(CallerRng(rand_core::SeedableRng::from_seed(
            *seed,
        ))))
    }
    fn resolve_dh(&self, c: &snow::params::DHChoice) -> Option<Box<dyn snow::types::Dh>> {
        snow::resolvers::DefaultResolver.resolve_dh(c)
    }
    fn resolve_hash(&self, c: &snow::params::HashChoice) -> Option<Box<dyn snow::types::Hash>> {
        snow::resolvers::DefaultResolver.resolve_hash(c)
    }
    fn resolve_cipher(
        &self,
        c: &snow::params::CipherChoice,
    ) -> Option<Box<dyn snow::types::Cipher>> {
        snow::resolvers::DefaultResolver.resolve_cipher(c)
    }
}

fn builder<'a>(
    params: &'a snow::params::NoiseParams,
    local_secret: &'a [u8; 32],
    remote_public: &'a [u8; 32],
    rng: &mut (impl rand_core::RngCore + rand_core::CryptoRng),
) -> Result<snow::Builder<'a>, ChannelError> {
    let e = |e: snow::Error| ChannelError::Handshake(e.to_string());
    let mut seed = Zeroizing::new([0u8; 32]);
    rng.fill_bytes(seed.as_mut());
    let resolver = Resolver {
        seed: std::sync::Mutex::new(Some(seed)),
    };
    snow::Builder::with_resolver(params.clone(), Box::new(resolver))
        .local_private_key(local_secret)
        .map_err(e)?
        .remote_public_key(remote_public)
        .map_err(e)?
        .prologue(domain::NOISE_PROLOGUE)
        .map_err(e)
}

fn params() -> Result<snow::params::NoiseParams, ChannelError> {
    domain::NOISE_PATTERN
        .parse()
        .map_err(|e: snow::Error| ChannelError::Handshake(e.to_string()))
}

/// The initiator's side of a handshake in progress.
pub struct Initiator {
    state: snow::HandshakeState,
}

impl Initiator {
    /// Starts a handshake to the peer whose static public key is `remote_public`; returns the
    /// first handshake message to send. The ephemeral key is drawn from `rng`.
    pub fn start(
        local_secret: &Zeroizing<[u8; 32]>,
        remote_public: &[u8; 32],
        rng: &mut (impl rand_core::RngCore + rand_core::CryptoRng),
    ) -> Result<(Initiator, Vec<u8>), ChannelError> {
        let p = params()?;
        let mut state = builder(&p, local_secret, remote_public, rng)?
            .build_initiator()
            .map_err(|e| ChannelError::Handshake(e.to_string()))?;
        let mut buf = vec![0u8; NOISE_MAX_FRAME_BYTES];
        let n = state
            .write_message(&[], &mut buf)
            .map_err(|e| ChannelError::Handshake(e.to_string()))?;
        buf.truncate(n);
        Ok((Initiator { state }, buf))
    }

    /// Reads the responder's answer and switches to transport mode.
    pub fn finish(mut self, reply: &[u8]) -> Result<PeerChannel, ChannelError> {
        check_frame(reply)?;
        let mut buf = vec![0u8; NOISE_MAX_FRAME_BYTES];
        self.state
            .read_message(reply, &mut buf)
            .map_err(|e| ChannelError::Handshake(e.to_string()))?;
        PeerChannel::from_handshake(self.state)
    }
}

/// Answers a handshake from the peer whose static public key is `remote_public` (the only key
/// accepted); returns the channel and the reply to send. The ephemeral key is drawn from `rng`.
pub fn respond(
    local_secret: &Zeroizing<[u8; 32]>,
    remote_public: &[u8; 32],
    first: &[u8],
    rng: &mut (impl rand_core::RngCore + rand_core::CryptoRng),
) -> Result<(PeerChannel, Vec<u8>), ChannelError> {
    check_frame(first)?;
    let p = params()?;
    let mut state = builder(&p, local_secret, remote_public, rng)?
        .build_responder()
        .map_err(|e| ChannelError::Handshake(e.to_string()))?;
    let mut buf = vec![0u8; NOISE_MAX_FRAME_BYTES];
    state
        .read_message(first, &mut buf)
        .map_err(|e| ChannelError::Handshake(e.to_string()))?;
    let n = state
        .write_message(&[], &mut buf)
        .map_err(|e| ChannelError::Handshake(e.to_string()))?;
    buf.truncate(n);
    Ok((PeerChannel::from_handshake(state)?, buf))
}

fn check_frame(frame: &[u8]) -> Result<(), ChannelError> {
    if frame.len() > NOISE_MAX_FRAME_BYTES {
        return Err(ChannelError::TooLarge {
            what: "frame",
            len: frame.len(),
            max: NOISE_MAX_FRAME_BYTES,
        });
    }
    Ok(())
}

/// An established channel: encrypts messages into frames and decrypts frames into messages.
pub struct PeerChannel {
    transport: snow::TransportState,
    partial: Zeroizing<Vec<u8>>,
}

impl PeerChannel {
    fn from_handshake(state: snow::HandshakeState) -> Result<Self, ChannelError> {
        let transport = state
            .into_transport_mode()
            .map_err(|e| ChannelError::Handshake(e.to_string()))?;
        Ok(PeerChannel {
            transport,
            partial: Zeroizing::new(Vec::new()),
        })
    }

    /// Encrypts one message of session `sid` into one or more frames, to be delivered in order.
    pub fn seal_session(
        &mut self,
        sid: &[u8; SESSION_ID_BYTES],
        message: &[u8],
    ) -> Result<Vec<Vec<u8>>, ChannelError> {
        if message.len() > MAX_SESSION_MESSAGE_BYTES {
            return Err(ChannelError::TooLarge {
                what: "message",
                len: message.len(),
                max: MAX_SESSION_MESSAGE_BYTES,
            });
        }
        let mut plain = Zeroizing::new(Vec::with_capacity(SESSION_ID_BYTES + message.len()));
        plain.extend_from_slice(sid);
        plain.extend_from_slice(message);
        self.seal(&plain)
    }

    /// Decrypts one frame. Returns the session id and the whole session message when its last
    /// frame arrives.
    pub fn open_session(&mut self, frame: &[u8]) -> Result<Option<SessionMessage>, ChannelError> {
        let Some(mut plain) = self.open(frame)? else {
            return Ok(None);
        };
        if plain.len() < SESSION_ID_BYTES {
            return Err(ChannelError::Frame(
                "message shorter than a session id".into(),
            ));
        }
        let message = plain.split_off(SESSION_ID_BYTES);
        let mut sid = [0u8; SESSION_ID_BYTES];
        sid.copy_from_slice(&plain);
        Ok(Some((sid, message)))
    }

    /// Encrypts one message into one or more frames, to be delivered in order.
    fn seal(&mut self, message: &[u8]) -> Result<Vec<Vec<u8>>, ChannelError> {
        if message.len() > MAX_CHANNEL_MESSAGE_BYTES {
            return Err(ChannelError::TooLarge {
                what: "message",
                len: message.len(),
                max: MAX_CHANNEL_MESSAGE_BYTES,
            });
        }
        let chunks: Vec<&[u8]> = if message.is_empty() {
            vec![&[][..]]
        } else {
            message.chunks(MAX_CHUNK_DATA).collect()
        };
        let last = chunks.len() - 1;
        let mut frames = Vec::with_capacity(chunks.len());
        let mut plain = Zeroizing::new(Vec::with_capacity(MAX_CHUNK_DATA + 1));
        for (i, chunk) in chunks.into_iter().enumerate() {
            plain.clear();
            plain.push(u8::from(i == last));
            plain.extend_from_slice(chunk);
            let mut frame = vec![0u8; plain.len() + TAG_BYTES];
            let n = self
                .transport
                .write_message(&plain, &mut frame)
                .map_err(|e| ChannelError::Frame(e.to_string()))?;
            frame.truncate(n);
            frames.push(frame);
        }
        Ok(frames)
    }

    /// Decrypts one frame. Returns the whole message when its last frame arrives.
    fn open(&mut self, frame: &[u8]) -> Result<Option<Vec<u8>>, ChannelError> {
        check_frame(frame)?;
        if frame.len() < TAG_BYTES + 1 {
            return Err(ChannelError::Frame("frame too short".into()));
        }
        let mut plain = Zeroizing::new(vec![0u8; frame.len()]);
        let n = self
            .transport
            .read_message(frame, &mut plain)
            .map_err(|e| {
                ChannelError::Frame(format!(
                    "does not decrypt (forged, replayed or out of order): {e}"
                ))
            })?;
        let (flag, data) = plain[..n]
            .split_first()
            .ok_or_else(|| ChannelError::Frame("empty frame".into()))?;
        if self.partial.len() + data.len() > MAX_CHANNEL_MESSAGE_BYTES {
            let len = self.partial.len() + data.len();
            self.partial.clear();
            return Err(ChannelError::TooLarge {
                what: "message",
                len,
                max: MAX_CHANNEL_MESSAGE_BYTES,
            });
        }
        self.partial.extend_from_slice(data);
        match flag {
            1 => Ok(Some(std::mem::take(&mut *self.partial))),
            0 => Ok(None),
            _ => Err(ChannelError::Frame("bad chunk flag".into())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keypair(seed: u8) -> (Zeroizing<[u8; 32]>, [u8; 32]) {
        let secret = [seed; 32];
        let public = x25519_public(&secret);
        (Zeroizing::new(secret), public)
    }

    fn x25519_public(secret: &[u8; 32]) -> [u8; 32] {
        let s = x25519_dalek::StaticSecret::from(*secret);
        x25519_dalek::PublicKey::from(&s).to_bytes()
    }

    fn rng() -> rand_chacha::ChaCha20Rng {
        rand_core::SeedableRng::seed_from_u64(7)
    }

    #[test]
    fn the_handshake_draws_its_ephemeral_key_from_the_callers_rng() {
        // Same keys and same caller RNG seed ⇒ byte-identical handshake messages; another seed
        // ⇒ different ones. Fails if snow draws from its own OS RNG.
        let (a_sk, _) = keypair(1);
        let (_, b_pk) = keypair(2);
        let seeded = |seed: u64| {
            let mut r: rand_chacha::ChaCha20Rng = rand_core::SeedableRng::seed_from_u64(seed);
            Initiator::start(&a_sk, &b_pk, &mut r).unwrap().1
        };
        assert_eq!(seeded(1), seeded(1));
        assert_ne!(seeded(1), seeded(2));
    }

    fn pair() -> (PeerChannel, PeerChannel) {
        let (a_sk, a_pk) = keypair(1);
        let (b_sk, b_pk) = keypair(2);
        let (init, m1) = Initiator::start(&a_sk, &b_pk, &mut rng()).unwrap();
        let (b, m2) = respond(&b_sk, &a_pk, &m1, &mut rng()).unwrap();
        (init.finish(&m2).unwrap(), b)
    }

    #[test]
    fn round_trip_small_and_chunked() {
        let (mut a, mut b) = pair();
        for len in [0usize, 1, 1000, MAX_CHUNK_DATA, MAX_CHUNK_DATA + 1, 200_000] {
            let msg: Vec<u8> = (0..len).map(|i| (i % 251) as u8).collect();
            let frames = a.seal(&msg).unwrap();
            assert_eq!(frames.len(), len.div_ceil(MAX_CHUNK_DATA).max(1));
            let mut got = None;
            for f in &frames {
                assert!(f.len() <= NOISE_MAX_FRAME_BYTES);
                got = b.open(f).unwrap();
            }
            assert_eq!(got.unwrap(), msg);
        }
    }

    #[test]
    fn wrong_or_unknown_key_fails_the_handshake() {
        let (a_sk, a_pk) = keypair(1);
        let (b_sk, b_pk) = keypair(2);
        let (_, c_pk) = keypair(3);
        // The initiator expects c's key but talks to b.
        let (_, m1) = Initiator::start(&a_sk, &c_pk, &mut rng()).unwrap();
        assert!(matches!(
            respond(&b_sk, &a_pk, &m1, &mut rng()),
            Err(ChannelError::Handshake(_))
        ));
        // b expects c, but a connects.
        let (_, m1) = Initiator::start(&a_sk, &b_pk, &mut rng()).unwrap();
        assert!(matches!(
            respond(&b_sk, &c_pk, &m1, &mut rng()),
            Err(ChannelError::Handshake(_))
        ));
        // A corrupted answer fails the initiator.
        let (init, m1) = Initiator::start(&a_sk, &b_pk, &mut rng()).unwrap();
        let (_, mut m2) = respond(&b_sk, &a_pk, &m1, &mut rng()).unwrap();
        m2[40] ^= 1;
        assert!(matches!(init.finish(&m2), Err(ChannelError::Handshake(_))));
    }

    #[test]
    fn replayed_forged_and_oversized_frames_are_rejected() {
        let (mut a, mut b) = pair();
        let f1 = a.seal(b"one").unwrap().remove(0);
        let f2 = a.seal(b"two").unwrap().remove(0);
        assert_eq!(b.open(&f1).unwrap().unwrap(), b"one");
        assert!(
            matches!(b.open(&f1), Err(ChannelError::Frame(_))),
            "replay accepted"
        );
        let mut forged = f2.clone();
        forged[0] ^= 1;
        assert!(matches!(b.open(&forged), Err(ChannelError::Frame(_))));
        let huge = vec![0u8; NOISE_MAX_FRAME_BYTES + 1];
        assert!(matches!(b.open(&huge), Err(ChannelError::TooLarge { .. })));
        let too_long = vec![0u8; MAX_SESSION_MESSAGE_BYTES + 1];
        assert!(matches!(
            a.seal_session(&[1; 32], &too_long),
            Err(ChannelError::TooLarge { .. })
        ));
    }

    #[test]
    fn one_channel_carries_many_sessions_with_their_ids_authenticated() {
        let (mut a, mut b) = pair();
        let largest = vec![5u8; MAX_SESSION_MESSAGE_BYTES];
        for (sid, msg) in [
            ([1u8; 32], &b"first"[..]),
            ([2; 32], &largest),
            ([1; 32], b""),
        ] {
            let mut got = None;
            for f in a.seal_session(&sid, msg).unwrap() {
                got = b.open_session(&f).unwrap();
            }
            assert_eq!(got.unwrap(), (sid, msg.to_vec()));
        }
        // The id travels inside the encryption: changing any byte of a frame (where an id
        // would sit in a cleartext header) fails the frame instead of moving the message.
        let frame = pair().0.seal_session(&[3; 32], b"x").unwrap().remove(0);
        for i in 0..frame.len() {
            let mut f = frame.clone();
            f[i] ^= 1;
            assert!(
                pair().1.open_session(&f).is_err(),
                "tampered byte {i} accepted"
            );
        }
        assert_eq!(
            pair().1.open_session(&frame).unwrap().unwrap(),
            ([3; 32], b"x".to_vec())
        );
        // A message too short to hold a session id is refused (the frame itself decrypts).
        let short = a.seal(&[0u8; SESSION_ID_BYTES - 1]).unwrap().remove(0);
        let err = b.open_session(&short).unwrap_err();
        assert_eq!(
            err,
            ChannelError::Frame("message shorter than a session id".into())
        );
    }
}
