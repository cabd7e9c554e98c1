//! This node's Paillier safe primes for cggmp21 aux info, kept sealed in the share store.
//!
//! Generating a pair takes tens of seconds of one core, so `mpc-node init` makes them (with a
//! progress line) and the node only falls back to generating them at start for a data directory
//! initialised before that. The INSECURE published test fixture may stand in for tests and local
//! testnets only (`--insecure-test-primes`).

use crate::share_store::{RecordKind, ShareStore};
use mpc_protocol::ecdsa::{self, Primes};
use serde::{Deserialize, Serialize};
use std::io::{IsTerminal, Write};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};
use zeroize::Zeroizing;

/// Share-store key of this node's Paillier primes.
pub const PRIMES_KEY: &str = "committee/primes";

#[derive(Serialize, Deserialize)]
struct StoredPrimes {
    p: String,
    q: String,
}

impl Drop for StoredPrimes {
    fn drop(&mut self) {
        use zeroize::Zeroize;
        self.p.zeroize();
        self.q.zeroize();
    }
}

/// Where a node's primes came from (for the caller's message).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PrimesSource {
    /// Already in the share store.
    Stored,
    /// Generated now.
    Generated,
    /// The INSECURE test fixture.
    InsecureFixture,
}

/// The stored primes, if any.
pub fn load(shares: &ShareStore) -> Result<Option<Primes>, String> {
    let Some(rec) = shares
        .get(PRIMES_KEY, RecordKind::AuxInfo)
        .map_err(|e| e.to_string())?
    else {
        return Ok(None);
    };
    let sp: StoredPrimes = mpc_protocol::decode(&rec, 64 * 1024).map_err(|e| e.to_string())?;
    ecdsa::primes_from_hex(&sp.p, &sp.q)
        .map(Some)
        .map_err(|e| e.to_string())
}

/// Makes sure the share store holds primes for `node_id`: the stored ones, else the INSECURE
/// fixture's pair for this node when `insecure_fixture` is given, else freshly generated ones
/// (`on_progress` is called about once a second with the seconds elapsed while generating).
pub fn ensure(
    shares: &ShareStore,
    node_id: u64,
    insecure_fixture: Option<&Path>,
    on_progress: &(dyn Fn(u64) + Sync),
) -> Result<(Primes, PrimesSource), String> {
    if let Some(p) = load(shares)? {
        return Ok((p, PrimesSource::Stored));
    }
    let (primes, source) = match insecure_fixture {
        Some(path) => (fixture(path, node_id)?, PrimesSource::InsecureFixture),
        None => (generate(on_progress), PrimesSource::Generated),
    };
    let (p, q) = ecdsa::primes_to_hex(primes);
    let sp = StoredPrimes {
        p: p.to_string(),
        q: q.to_string(),
    };
    let bytes = Zeroizing::new(mpc_protocol::encode(&sp).map_err(|e| e.to_string())?);
    shares
        .put(PRIMES_KEY, RecordKind::AuxInfo, &bytes)
        .map_err(|e| e.to_string())?;
    let primes = ecdsa::primes_from_hex(&p, &q).map_err(|e| e.to_string())?;
    Ok((primes, source))
}

/// This node's pair from the INSECURE published fixture (party `node_id − 1`).
/// Whether this build may read the INSECURE test primes: debug builds and builds with the
/// `insecure-test-primes` feature only. A release build refuses them whatever the command line
/// or the environment says (the code that reads the fixture is not compiled in).
pub const INSECURE_PRIMES_COMPILED_IN: bool =
    cfg!(any(debug_assertions, feature = "insecure-test-primes"));

/// The refusal a release build gives for `--insecure-test-primes`.
pub const INSECURE_PRIMES_REFUSED: &str = "this is a release build: the INSECURE test primes are \
     compiled out (they exist only in debug builds and builds with the insecure-test-primes \
     feature, for tests)";

#[cfg(not(any(debug_assertions, feature = "insecure-test-primes")))]
fn fixture(_path: &Path, _node_id: u64) -> Result<Primes, String> {
    Err(INSECURE_PRIMES_REFUSED.into())
}

#[cfg(any(debug_assertions, feature = "insecure-test-primes"))]
fn fixture(path: &Path, node_id: u64) -> Result<Primes, String> {
    tracing::warn!(
        "using INSECURE published test primes from {} — never do this with real funds",
        path.display()
    );
    let text = mpc_bootstrap::sealed::read_bounded(path, 1024 * 1024)
        .map_err(|e| format!("{}: {e}", path.display()))?;
    let v: serde_json::Value = serde_json::from_str(&text).map_err(|e| e.to_string())?;
    let i = usize::try_from(node_id.saturating_sub(1)).map_err(|e| e.to_string())?;
    let party = v["parties"]
        .get(i)
        .ok_or("the primes fixture has too few parties")?;
    let hex = |k: &str| party[k].as_str().ok_or(format!("fixture field {k}"));
    ecdsa::primes_from_hex(hex("p")?, hex("q")?).map_err(|e| e.to_string())
}

/// Generates a pair from the OS RNG, calling `on_progress(seconds)` about once a second.
fn generate(on_progress: &(dyn Fn(u64) + Sync)) -> Primes {
    let started = Instant::now();
    let done = AtomicBool::new(false);
    std::thread::scope(|scope| {
        scope.spawn(|| {
            let mut last = 0;
            while !done.load(Ordering::Relaxed) {
                std::thread::sleep(Duration::from_millis(200));
                let s = started.elapsed().as_secs();
                if s > last {
                    last = s;
                    on_progress(s);
                }
            }
        });
        let primes = ecdsa::generate_primes(&mut rand_core::OsRng);
        done.store(true, Ordering::Relaxed);
        primes
    })
}

/// A progress printer for `mpc-node init` on stderr: a line rewritten in place on a terminal,
/// else one line every 15 s.
pub fn stderr_progress() -> impl Fn(u64) + Sync {
    let tty = std::io::stderr().is_terminal();
    move |secs: u64| {
        let spinner = ["|", "/", "-", "\\"][(secs % 4) as usize];
        if tty {
            eprint!("\r  generating Paillier safe primes {spinner} {secs} s ");
            let _ = std::io::stderr().flush();
        } else if secs % 15 == 0 {
            eprintln!("  generating Paillier safe primes … {secs} s");
        }
    }
}
