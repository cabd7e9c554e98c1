//! Work that fills stores ahead of need (presigning, aux info) runs on its own thread at the
//! lowest CPU priority of the host, so that it never slows a signature people wait for, nor
//! consensus (decision 0031): Linux's `SCHED_IDLE` policy, under which the thread runs only on a
//! core nothing else wants and any normal thread that wakes takes the core at once (nice 19
//! alone still let a presigning thread finish its time slice first: an ECDSA signature from the
//! pool took 76 ms at p50 while the pool refilled, 22 ms with the pool idle), and nice 19 as
//! well. The thread ends with the work: the priority cannot leak into tokio's blocking pool,
//! whose threads also run signing sessions (and an unprivileged process cannot raise a thread's
//! priority back).

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

/// Puts the calling thread (only it) under `SCHED_IDLE` at [`BACKGROUND_NICE`].
fn lowest_priority() {
    #[cfg(target_os = "linux")]
    {
        use thread_priority::unix::{
            set_thread_priority_and_policy, thread_native_id, NormalThreadSchedulePolicy,
            ThreadSchedulePolicy,
        };
        let idle = ThreadSchedulePolicy::Normal(NormalThreadSchedulePolicy::Idle);
        let min = thread_priority::ThreadPriority::Min;
        if let Err(e) = set_thread_priority_and_policy(thread_native_id(), min, idle) {
            tracing::warn!("background work runs under the normal scheduling policy: {e:?}");
        }
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

    #[allow(clippy::unwrap_used)] // a test helper: fail loudly
    fn my_policy() -> thread_priority::unix::ThreadSchedulePolicy {
        thread_priority::unix::thread_schedule_policy().unwrap()
    }

    #[tokio::test]
    async fn background_work_runs_at_the_lowest_priority_and_nothing_else_does() {
        use thread_priority::unix::{NormalThreadSchedulePolicy, ThreadSchedulePolicy};
        let idle = ThreadSchedulePolicy::Normal(NormalThreadSchedulePolicy::Idle);
        let (before, policy) = (my_nice(), my_policy());
        assert_ne!(policy, idle);
        let (nice, inside) = run_in_background(|| (my_nice(), my_policy()))
            .await
            .unwrap();
        assert_eq!(nice, BACKGROUND_NICE);
        assert_eq!(inside, idle);
        // The caller's thread, and tokio's blocking pool, keep their priority and policy.
        assert_eq!((my_nice(), my_policy()), (before, policy));
        let blocking = tokio::task::spawn_blocking(|| (my_nice(), my_policy()))
            .await
            .unwrap();
        assert_eq!(blocking, (before, policy));
    }
}
