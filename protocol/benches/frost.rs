//! FROST benchmarks: DKG and signing for each curve, (2,3) and (3,5), all parties in one thread
//! through the in-process network. Run: `cargo bench -p mpc-protocol --bench frost`.
//! Prints the mean over the iterations; per-party time is the total divided by n (or t).

// Benchmarks measure wall time: the pure-crate clock ban (clippy.toml) does not apply here.
#![allow(clippy::disallowed_types, clippy::disallowed_methods)]

use frost_core::Ciphersuite;
use mpc_protocol::frost::workload::{dkg, sign_once};
use mpc_protocol::frost::{Ed25519, Secp256k1, Secp256k1Tr};
use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng;
use std::time::{Duration, Instant};

fn mean(f: &mut dyn FnMut(), iters: u32) -> Duration {
    let start = Instant::now();
    for _ in 0..iters {
        f();
    }
    start.elapsed() / iters
}

fn bench<C: Ciphersuite>(name: &str, n: u16, t: u16) {
    let mut rng = ChaCha20Rng::seed_from_u64(42);
    let d = mean(
        &mut || drop(dkg::<C, _>(n, t, &mut rng, 1).expect("dkg")),
        20,
    );
    let keys = dkg::<C, _>(n, t, &mut rng, 2).expect("dkg");
    let s = mean(&mut || sign_once(&keys, t, &mut rng, 3).expect("sign"), 200);
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
