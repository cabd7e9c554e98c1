//! Entry points for fuzzing everything a peer or a client can send (issue 9, item 8).
//!
//! Each function takes arbitrary bytes, runs them through the same code the node runs on input
//! from the network or a user, and must return without panicking (whatever the outcome). They
//! are driven two ways:
//! - coverage-guided, by the cargo-fuzz targets in `fuzz/` (libFuzzer; see `docs/fuzzing.md`
//!   for how to run them on this toolchain and the execution counts of the recorded runs);
//! - property-based, by `testnet/tests/fuzz_props.rs` with a budget (`MPC_FUZZ_CASES`), a short
//!   one in CI.
//!
//! Targets: [`peer_message`] (the CBOR request-response frames of the p2p protocol: Raft RPCs
//! through the RPC guard, forwarded writes through verification and apply, session frames),
//! [`noise_channel`] (session handshakes and transport frames), [`session_envelope`] (threshold
//! session envelopes), [`chain_payload`] (unsigned Ethereum / Bitcoin / Solana transactions),
//! [`signed_command`] (the JSON a client signs and submits, verified and applied),
//! [`passkey_decision`] (a browser's passkey decision and the WebAuthn parsers).

use crate::p2p::messages::{PeerRequest, PeerResponse};
use mpc_consensus::raft::{NodeId, PeerNode};
use mpc_consensus::rpc::RaftRpc;
use mpc_consensus::rpc_guard::RpcGuard;
use mpc_custody::command::SignedCommand;
use mpc_custody::entry::{LogCommand, Proposal};
use mpc_custody::state::{CustodyState, EntryContext, GenesisParams};
use mpc_custody::types::UserKey;
use mpc_protocol::chain::{self, Chain, Network, PayloadExtras, WalletKey};
use mpc_protocol::limits::{MAX_P2P_MESSAGE_BYTES, MAX_SESSION_MESSAGE_BYTES};
use mpc_protocol::session::{Envelope, PartyIndex, SessionId};
use std::collections::BTreeMap;
use zeroize::Zeroizing;

/// The cluster id every fuzz input is checked against.
pub const FUZZ_CLUSTER: &str = "fuzz-cluster";

/// The Ed25519 secret of the genesis admin of the fuzz state (commands signed with it are
/// authorised, so that fuzzed commands reach the deep parts of `apply`).
pub const FUZZ_ADMIN_SECRET: [u8; 32] = [1; 32];

fn fuzz_state() -> CustodyState {
    let admin = ed25519_dalek::SigningKey::from_bytes(&FUZZ_ADMIN_SECRET);
    CustodyState::new(GenesisParams {
        cluster_id: FUZZ_CLUSTER.into(),
        admins: [UserKey(admin.verifying_key().to_bytes())]
            .into_iter()
            .collect(),
        nodes: (1..=3u64)
            .map(|n| {
                let k = ed25519_dalek::SigningKey::from_bytes(&[100 + n as u8; 32]);
                (n, UserKey(k.verifying_key().to_bytes()))
            })
            .collect(),
        threshold: 2,
    })
}

fn fuzz_guard() -> RpcGuard {
    let nodes: BTreeMap<NodeId, PeerNode> = (1..=3u64)
        .map(|n| {
            (
                n,
                PeerNode {
                    peer_id: format!("peer-{n}"),
                    p2p_addr: format!("/ip4/127.0.0.1/tcp/{n}"),
                },
            )
        })
        .collect();
    RpcGuard::new(nodes)
}

/// A p2p request-response frame body (CBOR), as a peer sends it.
pub fn peer_message(bytes: &[u8]) {
    if let Ok(req) = mpc_protocol::decode::<PeerRequest>(bytes, MAX_P2P_MESSAGE_BYTES) {
        match req {
            PeerRequest::Raft(rpc) => {
                let guard = fuzz_guard();
                for sender in 0..=4 {
                    let _ = guard.check(sender, &rpc, 1_700_000_000_000);
                }
                if let RaftRpc::AppendEntries(a) = rpc {
                    let mut state = fuzz_state();
                    for e in a.entries.iter().take(64) {
                        if let openraft::EntryPayload::Normal(cmd) = &e.payload {
                            apply(&mut state, e.log_id.index, cmd);
                        }
                    }
                }
            }
            PeerRequest::Write(p) => {
                let mut state = fuzz_state();
                apply(
                    &mut state,
                    1,
                    &LogCommand {
                        proposed_at_ms: 1,
                        proposal: p,
                    },
                );
            }
            PeerRequest::Session(frame) => {
                use crate::p2p::messages::SessionFrame;
                match frame {
                    SessionFrame::Hello { hello, .. } => noise_channel(&hello),
                    SessionFrame::Data { frames, .. } => {
                        frames.iter().for_each(|f| noise_channel(f))
                    }
                }
            }
            PeerRequest::ReadIndex => {}
        }
    }
    let _ = mpc_protocol::decode::<PeerResponse>(bytes, MAX_P2P_MESSAGE_BYTES);
}

fn apply(state: &mut CustodyState, index: u64, cmd: &LogCommand) {
    let _ = state.apply(EntryContext { log_index: index }, cmd);
}

/// Bytes offered to a session channel: the first 2 bytes give the length of a handshake
/// message answered by the responder (the only peer key accepted is a fixed one); the rest is
/// cut into frames opened by an established channel.
pub fn noise_channel(bytes: &[u8]) {
    use mpc_protocol::channel::{respond, Initiator};
    let me = Zeroizing::new([3u8; 32]);
    let peer = Zeroizing::new([4u8; 32]);
    let peer_public = x25519_dalek::PublicKey::from(&x25519_dalek::StaticSecret::from(*peer));
    let my_public = x25519_dalek::PublicKey::from(&x25519_dalek::StaticSecret::from(*me));
    let (hello_len, rest) = match bytes {
        [a, b, rest @ ..] => (usize::from(u16::from_be_bytes([*a, *b])), rest),
        _ => return,
    };
    let hello = rest.get(..hello_len.min(rest.len())).unwrap_or_default();
    // Fuzzing wants reproducible runs: a fixed-seed RNG for the ephemeral keys.
    let mut rng: rand_chacha::ChaCha20Rng = rand_core::SeedableRng::seed_from_u64(0);
    let _ = respond(&me, peer_public.as_bytes(), hello, &mut rng);
    // A real handshake, then arbitrary frames into the responder's channel.
    let Ok((init, first)) = Initiator::start(&peer, my_public.as_bytes(), &mut rng) else {
        return;
    };
    let Ok((mut chan, reply)) = respond(&me, peer_public.as_bytes(), &first, &mut rng) else {
        return;
    };
    let Ok(mut sender) = init.finish(&reply) else {
        return;
    };
    let frames = rest.get(hello_len.min(rest.len())..).unwrap_or_default();
    for (i, frame) in frames.chunks(1024).enumerate() {
        let _ = chan.open_session(frame);
        // Interleave genuine frames so the fuzzer also reaches reassembly after valid data.
        if i % 2 == 0 {
            if let Ok(sealed) = sender.seal_session(&[9; 32], frame) {
                for f in sealed {
                    let _ = chan.open_session(&f);
                }
            }
        }
    }
}

/// A threshold-session message as it arrives from a channel, opened for several round bodies.
pub fn session_envelope(bytes: &[u8]) {
    let sid = SessionId([9; 32]);
    let from = PartyIndex(2);
    let _ = Envelope::<Vec<u8>>::open(bytes, from, &sid, |r| r < 8);
    let _ = Envelope::<BTreeMap<u16, Vec<u8>>>::open(bytes, from, &sid, |_| true);
    let _ = mpc_protocol::decode::<serde_json::Value>(bytes, MAX_SESSION_MESSAGE_BYTES);
}

/// An unsigned transaction for one of the chains: the first byte picks the wallet, a second
/// optional part (after a 0xff 0xff separator) is JSON `extras` (Bitcoin spent outputs).
pub fn chain_payload(bytes: &[u8]) {
    let Some((&pick, rest)) = bytes.split_first() else {
        return;
    };
    let (payload, extras) = match rest.windows(2).position(|w| w == [0xff, 0xff]) {
        Some(i) => (&rest[..i], &rest[i + 2..]),
        None => (rest, &[][..]),
    };
    let extras: PayloadExtras = serde_json::from_slice(extras).unwrap_or_default();
    for wallet in fuzz_wallets().iter().skip(usize::from(pick) % 4).take(1) {
        if let Ok(parsed) = chain::parse(wallet, payload, &extras) {
            // Whatever parses must re-encode to the same bytes (the parsers promise it).
            let again = chain::parse(wallet, payload, &extras);
            assert_eq!(again.ok().map(|p| p.intent), Some(parsed.intent));
        }
    }
}

fn fuzz_wallets() -> Vec<WalletKey> {
    // secp256k1 generator (compressed) and its x-only form; the ed25519 base point.
    let g = hex::decode("0279be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798")
        .unwrap_or_default();
    let x = g.get(1..).unwrap_or_default().to_vec();
    let ed = hex::decode("5866666666666666666666666666666666666666666666666666666666666666")
        .unwrap_or_default();
    let mut w = Vec::new();
    if let Ok(a) = chain::eth::address(&g) {
        w.push(WalletKey {
            chain: Chain::Ethereum,
            network: Network::Mainnet,
            public_key: g.clone(),
            address: a,
        });
    }
    if let Ok(a) = chain::btc::p2wpkh_address(&g, Network::Testnet) {
        w.push(WalletKey {
            chain: Chain::BitcoinP2wpkh,
            network: Network::Testnet,
            public_key: g.clone(),
            address: a,
        });
    }
    if let Ok(a) = chain::btc::p2tr_address(&x, Network::Testnet) {
        w.push(WalletKey {
            chain: Chain::BitcoinP2tr,
            network: Network::Testnet,
            public_key: x,
            address: a,
        });
    }
    if let Ok(a) = chain::sol::address(&ed) {
        w.push(WalletKey {
            chain: Chain::Solana,
            network: Network::Mainnet,
            public_key: ed,
            address: a,
        });
    }
    w
}

/// The JSON of a signed command as a client submits it (`{"body", "signer", "signature"}`), or,
/// when it is not one, a command body signed here by the fuzz admin: verified, then applied.
pub fn signed_command(bytes: &[u8]) {
    let cmd = match serde_json::from_slice::<SignedCommand>(bytes) {
        Ok(c) => c,
        Err(_) => {
            let Ok(body) = std::str::from_utf8(bytes) else {
                return;
            };
            use ed25519_dalek::Signer;
            let admin = ed25519_dalek::SigningKey::from_bytes(&FUZZ_ADMIN_SECRET);
            let sig = admin.sign(&mpc_custody::command::signing_message(body));
            SignedCommand {
                body: body.to_string(),
                signer: UserKey(admin.verifying_key().to_bytes()),
                signature: hex::encode(sig.to_bytes()),
            }
        }
    };
    let _ = cmd.verify(FUZZ_CLUSTER);
    let mut state = fuzz_state();
    apply(
        &mut state,
        1,
        &LogCommand {
            proposed_at_ms: 1,
            proposal: Proposal::User(cmd),
        },
    );
}

/// A passkey decision as a browser submits it (JSON), or, when the bytes are not one, a decision
/// whose authenticatorData, clientDataJSON and signature are cut from the bytes: decoded, checked
/// as the node does before the log, then applied; the same bytes also go through the WebAuthn
/// parsers (authenticatorData, COSE key, attestation object).
pub fn passkey_decision(bytes: &[u8]) {
    use mpc_custody::passkey::{Decision, PasskeyDecision};
    use mpc_custody::webauthn::{self, b64url};
    let _ = webauthn::AuthenticatorData::parse(bytes);
    let _ = webauthn::PasskeyKey::from_cose(bytes);
    let challenge = [0u8; 32];
    let origins = ["http://localhost:1".to_string()];
    let want = webauthn::Expected {
        rp_id: "localhost",
        origins: &origins,
        challenge: &challenge,
    };
    let _ = webauthn::verify_registration(bytes, bytes, &want);
    let d = match serde_json::from_slice::<PasskeyDecision>(bytes) {
        Ok(d) => d,
        Err(_) => {
            let third = bytes.len() / 3;
            let (a, rest) = bytes.split_at(third);
            let (c, sig) = rest.split_at(third.min(rest.len()));
            PasskeyDecision {
                org_id: mpc_custody::types::OrgId("fuzz".into()),
                request_id: "req-1".into(),
                decision: Decision::Approve,
                reason: None,
                credential_id: b64url(&bytes[..bytes.len().min(16)]),
                authenticator_data: b64url(a),
                client_data_json: b64url(c),
                signature: b64url(sig),
            }
        }
    };
    let _ = d.decode();
    let mut state = fuzz_state();
    let _ = state.passkey_decision_check(&d);
    apply(
        &mut state,
        1,
        &LogCommand {
            proposed_at_ms: 1,
            proposal: Proposal::Passkey(d),
        },
    );
}

/// Valid inputs to start mutation from (property tests) or to seed a corpus (`cargo run -p
/// mpc-node --example fuzz_seeds -- fuzz/corpus`): `(target, bytes)` encodings of real messages.
pub fn seeds() -> Vec<(&'static str, Vec<u8>)> {
    use crate::p2p::messages::SessionFrame;
    use mpc_custody::command::{Action, CommandBody};
    use mpc_custody::types::{OrgId, UserId};
    use openraft::raft::{AppendEntriesRequest, VoteRequest};
    use openraft::{CommittedLeaderId, Entry, EntryPayload, LogId, Vote};
    let admin = ed25519_dalek::SigningKey::from_bytes(&FUZZ_ADMIN_SECRET);
    let body = CommandBody {
        cluster: FUZZ_CLUSTER.into(),
        idempotency_key: "k1".into(),
        action: Action::OrgCreate {
            org_id: OrgId("acme".into()),
            name: "Acme".into(),
            admin_user_id: UserId("root".into()),
            admin_public_key: None,
        },
    };
    let Ok(cmd) = SignedCommand::sign(&body, &admin) else {
        return Vec::new();
    };
    let entry = Entry {
        log_id: LogId::new(CommittedLeaderId::new(1, 1), 1),
        payload: EntryPayload::Normal(LogCommand {
            proposed_at_ms: 1_700_000_000_000,
            proposal: Proposal::User(cmd.clone()),
        }),
    };
    let reqs = [
        PeerRequest::Raft(RaftRpc::AppendEntries(AppendEntriesRequest {
            vote: Vote::new_committed(1, 1),
            prev_log_id: None,
            entries: vec![entry],
            leader_commit: None,
        })),
        PeerRequest::Raft(RaftRpc::Vote(VoteRequest::new(Vote::new(2, 2), None))),
        PeerRequest::Write(Proposal::User(cmd.clone())),
        PeerRequest::Session(SessionFrame::Data {
            lane: 1,
            frames: vec![vec![7; 64], vec![8; 32]],
        }),
        PeerRequest::ReadIndex,
    ];
    let mut out: Vec<(&'static str, Vec<u8>)> = reqs
        .iter()
        .filter_map(|r| mpc_protocol::encode(r).ok())
        .map(|b| ("peer_message", b))
        .collect();
    out.extend(serde_json::to_vec(&cmd).ok().map(|b| ("signed_command", b)));
    out.push(("signed_command", cmd.body.into_bytes()));
    out
}
