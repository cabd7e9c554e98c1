//! Work that fills stores ahead of need (presigning, aux info) runs on its own thread at the
//! lowest CPU priority of the host, so that it never slows a signature people wait for, nor
//! consensus (decision 0031). The thread ends with the work: the priority cannot leak into
//! tokio's blocking pool, whose threads also run signing sessions (and an unprivileged
//! process cannot raise a thread's priority back).

/// Niceness of background threads: the lowest priority of Linux's normal scheduler.
pub const BACKGROUND_NICE: i32 = 19;

/// Runs `f` on a new thread at [`BACKGROUND_NICE`] and returns its result.
pub async fn run_in_background<T: Send + 'static>(
    f: impl FnOnce() -> T + Send + 'static,
) -> Result<T, String> {
    let (tx, rx) = tokio::sync::oneshot::channel();
    std::thread::Builder::new()
        .name("mpc-background".into())
        .spawn(move || {
            lowest_priority();
            let _ = tx.send(f());
        })
        .map_err(|e| format!("starting a background thread: {e}"))?;
    rx.await
        .map_err(|_| "the background thread ended without a result".to_string())
}

/// Lowers the calling thread (only it) to [`BACKGROUND_NICE`].
fn lowest_priority() {
    #[cfg(target_os = "linux")]
    {
        let me = rustix::thread::gettid();
        if let Err(e) = rustix::process::setpriority_process(Some(me), BACKGROUND_NICE) {
            tracing::warn!("background work runs at normal priority: {e}");
        }
    }
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;

    #[allow(clippy::unwrap_used)] // a test helper: fail loudly
    fn my_nice() -> i32 {
        rustix::process::getpriority_process(Some(rustix::thread::gettid())).unwrap()
    }

    #[tokio::test]
    async fn background_work_runs_at_the_lowest_priority_and_nothing_else_does() {
        let before = my_nice();
        let inside = run_in_background(my_nice).await.unwrap();
        assert_eq!(inside, BACKGROUND_NICE);
        // The caller's thread, and tokio's blocking pool, keep their priority.
        assert_eq!(my_nice(), before);
        let blocking = tokio::task::spawn_blocking(my_nice).await.unwrap();
        assert_eq!(blocking, before);
    }
}
