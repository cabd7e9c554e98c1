//! cggmp21 threshold ECDSA benchmarks: aux info, keygen, presign, sign from presignature and full
//! signing for 2-of-3 and 3-of-5, all parties in one thread through the in-process network.
//! Aux info uses the INSECURE fixture primes (safe-prime generation is timed separately by
//! `cargo run -p mpc-protocol --example gen_insecure_primes`).
//! Run: `cargo bench -p mpc-protocol --bench ecdsa`.

// Benchmarks measure wall time: the pure-crate clock ban (clippy.toml) does not apply here.
#![allow(clippy::disallowed_types, clippy::disallowed_methods)]

use mpc_protocol::ecdsa::{self, BoundPresignature, MessageDigest, Primes};
use mpc_protocol::session::{PartyIndex, SessionId};
use mpc_protocol::sim;
use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng;
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

const PRIMES: &str = include_str!("../tests/fixtures/INSECURE-test-only-paillier-primes.json");

fn primes(n: usize) -> Vec<Primes> {
    let v: serde_json::Value = serde_json::from_str(PRIMES).expect("fixture");
    v["parties"].as_array().expect("parties")[..n]
        .iter()
        .map(|p| {
            let int = |k: &str| {
                cggmp21::rug::Integer::from_str_radix(p[k].as_str().expect("hex"), 16).expect("int")
            };
            Primes::new(int("p"), int("q")).expect("primes")
        })
        .collect()
}

fn rngs(n: usize, seed: u64) -> Vec<ChaCha20Rng> {
    (0..n)
        .map(|i| ChaCha20Rng::seed_from_u64(seed * 1000 + i as u64))
        .collect()
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

fn bench(n: u16, t: u16) {
    let ps: Vec<PartyIndex> = (1..=n).map(PartyIndex).collect();
    let mut zero = ChaCha20Rng::seed_from_u64(0);

    let sid = SessionId([1; 32]);
    let mut rs = rngs(n as usize, 1);
    let sessions: BTreeMap<_, _> = ps
        .iter()
        .zip(primes(n as usize))
        .zip(rs.iter_mut())
        .map(|((p, pr), r)| (*p, ecdsa::aux_info(&sid, *p, &ps, pr, r).expect("aux")))
        .collect();
    let t0 = Instant::now();
    let mut aux = sim::run(sessions, &mut zero, sim::honest).outputs;
    let aux_time = t0.elapsed();

    let sid = SessionId([2; 32]);
    let mut rs = rngs(n as usize, 2);
    let sessions: BTreeMap<_, _> = ps
        .iter()
        .zip(rs.iter_mut())
        .map(|(p, r)| (*p, ecdsa::keygen(&sid, *p, &ps, t, r).expect("keygen")))
        .collect();
    let t0 = Instant::now();
    let kg = sim::run(sessions, &mut zero, sim::honest).outputs;
    let keygen_time = t0.elapsed();
    let shares: BTreeMap<_, _> = kg
        .into_iter()
        .map(|(p, inc)| {
            let a = aux.remove(&p).expect("aux").expect("aux ok");
            (
                p,
                ecdsa::complete(inc.expect("keygen ok"), a).expect("complete"),
            )
        })
        .collect();

    let signers: Vec<PartyIndex> = ps[..t as usize].to_vec();
    let idx: Vec<u16> = signers.iter().map(|p| p.0 - 1).collect();
    let path = [0u32, 1];
    let iters = 5u32;
    let mut presign_total = Duration::ZERO;
    let mut online_total = Duration::ZERO;
    for k in 0..iters {
        let sid = SessionId([10 + k as u8; 32]);
        let mut rs = rngs(t as usize, 10 + k as u64);
        let sessions: BTreeMap<_, _> = signers
            .iter()
            .zip(rs.iter_mut())
            .map(|(p, r)| {
                (
                    *p,
                    ecdsa::presign(&sid, *p, &signers, &idx, &shares[p], &path, r)
                        .expect("presign"),
                )
            })
            .collect();
        let t0 = Instant::now();
        let pre = sim::run(sessions, &mut zero, sim::honest).outputs;
        presign_total += t0.elapsed();
        let digest = MessageDigest::sha256(b"bench");
        let public = ecdsa::child_public_key(&shares[&signers[0]], &path).expect("child");
        let t0 = Instant::now();
        let partials: Vec<_> = pre
            .into_values()
            .map(|p| {
                BoundPresignature::new("k", &path, p.expect("presig"))
                    .issue("k", &path, &digest)
                    .expect("issue")
            })
            .collect();
        ecdsa::combine(&partials, &public, &digest).expect("combine");
        online_total += t0.elapsed();
    }

    let mut full_total = Duration::ZERO;
    for k in 0..iters {
        let sid = SessionId([40 + k as u8; 32]);
        let digest = MessageDigest::sha256(b"full");
        let mut rs = rngs(t as usize, 40 + k as u64);
        let sessions: BTreeMap<_, _> = signers
            .iter()
            .zip(rs.iter_mut())
            .map(|(p, r)| {
                (
                    *p,
                    ecdsa::sign(&sid, *p, &signers, &idx, &shares[p], &path, &digest, r)
                        .expect("sign"),
                )
            })
            .collect();
        let t0 = Instant::now();
        let out = sim::run(sessions, &mut zero, sim::honest).outputs;
        full_total += t0.elapsed();
        assert!(out.values().all(|o| o.is_ok()));
    }
    let nf = f64::from(n);
    let tf = f64::from(t);
    println!(
        "| {t}-of-{n} | {:.0} ms ({:.0}/party) | {:.0} ms ({:.0}/party) | {:.0} ms ({:.0}/signer) | {:.3} ms | {:.0} ms ({:.0}/signer) |",
        ms(aux_time), ms(aux_time) / nf,
        ms(keygen_time), ms(keygen_time) / nf,
        ms(presign_total / iters), ms(presign_total / iters) / tf,
        ms(online_total / iters),
        ms(full_total / iters), ms(full_total / iters) / tf,
    );
}

fn main() {
    println!("| t-of-n | aux info | keygen | presign | sign from presign (all partials + combine + verify) | full sign |");
    println!("|---|---|---|---|---|---|");
    bench(3, 2);
    bench(5, 3);
}
