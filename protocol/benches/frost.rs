//! FROST benchmarks: DKG and signing for each curve, (2,3) and (3,5), all parties in one thread
//! through the in-process network. Run: `cargo bench -p mpc-protocol --bench frost`.
//! Prints the mean over the iterations; per-party time is the total divided by n (or t).

// Benchmarks measure wall time: the pure-crate clock ban (clippy.toml) does not apply here.
#![allow(clippy::disallowed_types, clippy::disallowed_methods)]

use frost_core::Ciphersuite;
use mpc_protocol::frost::dkg::{DkgMode, DkgOutput, FrostDkg};
use mpc_protocol::frost::nonces::NonceStore;
use mpc_protocol::frost::sign::FrostSign;
use mpc_protocol::frost::{Ed25519, Secp256k1, Secp256k1Tr};
use mpc_protocol::session::{PartyIndex, SessionId};
use mpc_protocol::sim;
use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng;
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

fn dkg<C: Ciphersuite>(
    n: u16,
    t: u16,
    rng: &mut ChaCha20Rng,
    tag: u8,
) -> BTreeMap<PartyIndex, DkgOutput<C>> {
    let ps: Vec<PartyIndex> = (1..=n).map(PartyIndex).collect();
    let sessions = ps
        .iter()
        .map(|p| {
            (
                *p,
                FrostDkg::<C>::new(SessionId([tag; 32]), *p, &ps, t, DkgMode::Fresh)
                    .expect("session"),
            )
        })
        .collect();
    sim::run(sessions, rng, sim::honest)
        .outputs
        .into_iter()
        .map(|(p, o)| (p, o.expect("dkg")))
        .collect()
}

fn sign_once<C: Ciphersuite>(
    keys: &BTreeMap<PartyIndex, DkgOutput<C>>,
    t: u16,
    rng: &mut ChaCha20Rng,
    tag: u8,
) {
    let signers: Vec<PartyIndex> = (1..=t).map(PartyIndex).collect();
    let mut commitments = BTreeMap::new();
    let mut nonces = BTreeMap::new();
    for p in &signers {
        let mut store = NonceStore::default();
        let (id, c) = store.generate(&keys[p].key_package, 1, rng).remove(0);
        commitments.insert(*p, c);
        nonces.insert(*p, store.take(id).expect("nonce"));
    }
    let sessions = signers
        .iter()
        .map(|p| {
            let k = &keys[p];
            let s = FrostSign::new(
                SessionId([tag; 32]),
                *p,
                k.key_package.clone(),
                k.public_key_package.clone(),
                &[9u8; 32],
                &commitments,
                nonces.remove(p).expect("nonces"),
            )
            .expect("session");
            (*p, s)
        })
        .collect();
    let res = sim::run(sessions, rng, sim::honest);
    assert!(res.outputs.values().all(|o| o.is_ok()));
}

fn mean(f: &mut dyn FnMut(), iters: u32) -> Duration {
    let start = Instant::now();
    for _ in 0..iters {
        f();
    }
    start.elapsed() / iters
}

fn bench<C: Ciphersuite>(name: &str, n: u16, t: u16) {
    let mut rng = ChaCha20Rng::seed_from_u64(42);
    let d = mean(&mut || drop(dkg::<C>(n, t, &mut rng, 1)), 20);
    let keys = dkg::<C>(n, t, &mut rng, 2);
    let s = mean(&mut || sign_once(&keys, t, &mut rng, 3), 200);
    println!(
        "| {name} | {t}-of-{n} | {:.2} ms | {:.2} ms | {:.3} ms | {:.3} ms |",
        d.as_secs_f64() * 1e3,
        d.as_secs_f64() * 1e3 / f64::from(n),
        s.as_secs_f64() * 1e3,
        s.as_secs_f64() * 1e3 / f64::from(t),
    );
}

fn main() {
    println!("| scheme | t-of-n | DKG total | DKG per party | sign total (commit+sign+aggregate, all signers) | sign per signer |");
    println!("|---|---|---|---|---|---|");
    for (n, t) in [(3, 2), (5, 3)] {
        bench::<Ed25519>("FROST ed25519", n, t);
        bench::<Secp256k1>("FROST secp256k1", n, t);
        bench::<Secp256k1Tr>("FROST secp256k1-tr", n, t);
    }
}
