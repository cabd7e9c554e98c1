//! TEST BUILDS ONLY (feature `forge-for-tests`): a faulty node for the forged-approval test.
//!
//! Once [`enable`]d (only `mpc-node-forger` does), the runner treats every `pending` request as
//! if its state said `approved` / `signing` with this node as a signer, and starts the signing
//! session with the other signers without any check. Each outcome is appended as one JSON line
//! to the file named by `MPC_FORGE_REPORT`, so the test can see what the honest nodes sent
//! back: nothing, if invariant 2 holds.

use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};

static ENABLED: AtomicBool = AtomicBool::new(false);

/// Turns forging on for this process.
pub fn enable() {
    ENABLED.store(true, Ordering::SeqCst);
}

/// Whether forging is on.
pub fn enabled() -> bool {
    ENABLED.load(Ordering::SeqCst)
}

/// Appends `outcome` to `$MPC_FORGE_REPORT` (if set) as one JSON line.
pub fn record(outcome: &serde_json::Value) {
    tracing::warn!("FORGED signing session: {outcome}");
    let Ok(path) = std::env::var("MPC_FORGE_REPORT") else {
        return;
    };
    let line = format!("{outcome}\n");
    let res = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)
        .and_then(|mut f| f.write_all(line.as_bytes()).and_then(|()| f.sync_all()));
    if let Err(e) = res {
        tracing::error!("writing {path}: {e}");
    }
}
