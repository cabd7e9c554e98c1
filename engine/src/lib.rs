//! # mpc-engine
//!
//! The threshold engine of a node as a pure state machine (house style: sans-IO core, thin
//! driver). [`Engine::step`] takes the time, the node's applied custody state and one [`Input`]
//! — records changed by applied entries, a session result, a report's delivery outcome, a timer
//! tick — and returns the [`Action`]s the node's driver executes in order: start a session, delete
//! presignatures, propose a signed report, wake me at a time. It never reads a clock, draws
//! randomness or does I/O; `.ci/run` checks its dependency tree and `clippy.toml` bans clocks and
//! OS randomness.
//!
//! One small state machine per job kind:
//! - **aux info** (`Waiting → Running → Ready`, `RetryAt` after a failure): started as soon as the
//!   network forms, so the first ECDSA request does not wait for it;
//! - **DKG** for each pending vault this node has not reported;
//! - **presigning** for each scheduled presignature of a pool this node signs for, once aux info
//!   is ready, lowest sequence number first;
//! - **signing** for each current attempt naming this node, only after its own check
//!   (`CustodyState::signing_job_at`, invariant 2) — a failed check reports `sign_failed` and
//!   discards the attempt's presignatures;
//! - **attempt deadlines**: any current attempt past its deadline (this node's clock) is reported
//!   `attempt_expired`, again every 10 s while it stays current;
//! - **report delivery** ([`delivery`]): every report is proposed until applied, with backoff,
//!   and dropped only when the log shows it no longer matters — never after a fixed count.
//!
//! Work is found from the records that applied entries changed ([`Changed::Keys`]); the whole
//! state is looked at only at start-up or when the change feed overflowed ([`Changed::All`]).
//! Memory is bounded by what the log asks of this node now: a job is forgotten once its record
//! shows it done or moot. Every session id comes from `mpc_custody::ids`.
//!
//! What the engine does not decide: whether a request may be signed (the custody state machine
//! and `signing_job_at` do), and how a session runs (the driver joins it once, takes
//! presignatures out of the share store before any partial, runs it over Noise channels).

pub mod delivery;
mod engine;
pub mod io;

pub use engine::{
    aux_retry_ms, party, AuxState, Engine, AUX_RETRY_MAX_MS, AUX_RETRY_MS,
    BACKUP_SIGNATURE_REPORT_MS, EXPIRY_RESEND_MS,
};
pub use io::{Action, Changed, DeliveryOutcome, Input, Job, SessionOutcome, SessionSpec};
