//! Property-based fuzzing of everything a peer or client can send (issue 9, item 8): arbitrary
//! bytes, and mutations of valid messages, through the node's own decoders and checks
//! (`mpc_node::fuzz_targets`). None may panic. The budget is `MPC_FUZZ_CASES` cases per target
//! (CI: the default, 512); the coverage-guided runs are in `fuzz/` and `docs/fuzzing.md`.

#![allow(clippy::unwrap_used)] // tests fail loudly on purpose

use mpc_node::fuzz_targets as t;
use proptest::prelude::*;

fn cases() -> u32 {
    std::env::var("MPC_FUZZ_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(512)
}

/// Valid inputs to start mutations from: encodings of real messages.
fn seeds() -> Vec<Vec<u8>> {
    t::seeds().into_iter().map(|(_, b)| b).collect()
}

/// A valid seed with random byte edits (replace, insert, delete, truncate).
fn mutated() -> impl Strategy<Value = Vec<u8>> {
    let seeds = seeds();
    (
        0..seeds.len(),
        proptest::collection::vec((any::<u16>(), any::<u8>(), 0u8..4), 1..8),
    )
        .prop_map(move |(i, edits)| {
            let mut b = seeds[i].clone();
            for (pos, byte, op) in edits {
                if b.is_empty() {
                    break;
                }
                let p = usize::from(pos) % b.len();
                match op {
                    0 => b[p] = byte,
                    1 => b.insert(p, byte),
                    2 => {
                        b.remove(p);
                    }
                    _ => b.truncate(p),
                }
            }
            b
        })
}

fn bytes() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![proptest::collection::vec(any::<u8>(), 0..2048), mutated()]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(), ..ProptestConfig::default() })]

    #[test]
    fn peer_messages_never_panic(b in bytes()) {
        t::peer_message(&b);
    }

    #[test]
    fn noise_channel_input_never_panics(b in bytes()) {
        t::noise_channel(&b);
    }

    #[test]
    fn session_envelopes_never_panic(b in bytes()) {
        t::session_envelope(&b);
    }

    #[test]
    fn chain_payloads_never_panic(b in proptest::collection::vec(any::<u8>(), 0..1024)) {
        t::chain_payload(&b);
    }

    #[test]
    fn signed_commands_never_panic(b in bytes()) {
        t::signed_command(&b);
    }

    #[test]
    fn passkey_decisions_never_panic(b in proptest::collection::vec(any::<u8>(), 0..2048)) {
        t::passkey_decision(&b);
    }
}

/// The seeds themselves are accepted where they should be (the mutations start from real
/// messages, not from garbage).
#[test]
fn seeds_are_valid_messages() {
    use mpc_node::p2p::messages::PeerRequest;
    let seeds = t::seeds();
    assert!(seeds.len() >= 7);
    for (target, s) in &seeds {
        match *target {
            "peer_message" => {
                mpc_protocol::decode::<PeerRequest>(s, 1 << 20).unwrap();
            }
            "signed_command" => {
                serde_json::from_slice::<serde_json::Value>(s).unwrap();
            }
            other => panic!("seed for unknown target {other}"),
        }
    }
}
