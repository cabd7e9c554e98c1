//! Generates the INSECURE test fixture `tests/fixtures/INSECURE-test-only-paillier-primes.json`:
//! safe-prime pairs for cggmp21 aux-info generation in tests (5 parties). The primes are public,
//! so anything built from them is insecure: only test code may load this file.
//!
//! Run: `cargo run -p mpc-protocol --example gen_insecure_primes` (about 80 s per party here).

// A command-line tool at the edge: it times itself and draws OS randomness, which the pure
// library code may not (clippy.toml).
#![allow(clippy::disallowed_types, clippy::disallowed_methods)]

use cggmp21::security_level::SecurityLevel128;
use cggmp21::PregeneratedPrimes;
use std::time::Instant;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let parties = 5;
    let mut out = Vec::new();
    for i in 0..parties {
        let t = Instant::now();
        let primes = PregeneratedPrimes::<SecurityLevel128>::generate(&mut rand_core::OsRng);
        let (p, q) = primes.split();
        eprintln!(
            "party {i}: safe primes in {:.1} s",
            t.elapsed().as_secs_f64()
        );
        out.push(serde_json::json!({ "p": p.to_string_radix(16), "q": q.to_string_radix(16) }));
    }
    let doc = serde_json::json!({
        "WARNING": "INSECURE: published test-only Paillier primes. Never load outside tests.",
        "security_level": "SecurityLevel128",
        "parties": out,
    });
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/INSECURE-test-only-paillier-primes.json"
    );
    std::fs::write(path, serde_json::to_string_pretty(&doc)?)?;
    eprintln!("wrote {path}");
    Ok(())
}
