//! What the explorer's threads share to stop in order: a quit flag, the newest query's
//! generation (older reranks stop between batches), and every thread's handle, so that
//! quitting joins them before libtorch is torn down.
//!
//! A long step stops by unwinding with [`Cancelled`] from its progress callback (between
//! batches, never inside a libtorch call); [`Control::spawn`] catches it silently.
use std::panic::{catch_unwind, resume_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

/// The unwind payload of a step stopped on purpose (quit, a newer query, a cancelled
/// evaluation). `resume_unwind` does not run the panic hook, so nothing is printed.
pub struct Cancelled;

/// Stops the current thread's step when `flag` is set.
pub fn check(flag: &AtomicBool) {
    if flag.load(Ordering::Relaxed) {
        resume_unwind(Box::new(Cancelled));
    }
}

#[derive(Default)]
pub struct Control {
    pub quit: AtomicBool,
    /// The newest query's generation, set by the worker as a search arrives.
    pub latest: AtomicU64,
    threads: Mutex<Vec<JoinHandle<()>>>,
}

impl Control {
    pub fn new() -> Arc<Self> {
        Arc::new(Self::default())
    }

    pub fn quitting(&self) -> bool {
        self.quit.load(Ordering::Relaxed)
    }

    /// Unwinds the calling thread's step when the user quits.
    pub fn check_quit(&self) {
        check(&self.quit);
    }

    /// Starts a named thread that the quit sequence waits for. A [`Cancelled`] unwind ends
    /// it quietly; any other panic is logged and handed to `on_panic`.
    pub fn spawn(
        self: &Arc<Self>,
        name: &str,
        body: impl FnOnce() + Send + 'static,
        on_panic: impl FnOnce(String) + Send + 'static,
    ) -> std::io::Result<()> {
        if self.quitting() {
            return Ok(());
        }
        let thread_name = name.to_owned();
        let handle = thread::Builder::new().name(name.into()).spawn(move || {
            if let Err(payload) = catch_unwind(AssertUnwindSafe(body)) {
                if payload.downcast_ref::<Cancelled>().is_some() {
                    tracing::debug!("{thread_name}: stopped");
                    return;
                }
                let why = crate::panic_message(payload.as_ref());
                tracing::error!("{thread_name} stopped: {why}");
                on_panic(why);
            }
        })?;
        let mut threads = self.threads.lock().unwrap_or_else(PoisonError::into_inner);
        threads.retain(|t| !t.is_finished());
        threads.push(handle);
        Ok(())
    }

    /// Sets the quit flag and waits up to `bound` for every thread to end (each stops at
    /// its next batch boundary and drops its models itself). True when all have ended.
    pub fn shut_down(&self, bound: Duration) -> bool {
        self.quit.store(true, Ordering::Relaxed);
        let deadline = Instant::now() + bound;
        loop {
            let mut threads = self.threads.lock().unwrap_or_else(PoisonError::into_inner);
            // Threads may start others while ending (none after quit): take what is there.
            let (done, running): (Vec<_>, Vec<_>) =
                threads.drain(..).partition(|t| t.is_finished());
            *threads = running;
            let left = threads.len();
            drop(threads);
            for t in done {
                let _ = t.join();
            }
            if left == 0 {
                return true;
            }
            if Instant::now() >= deadline {
                tracing::warn!("{left} thread(s) still busy after {bound:?} at quit");
                return false;
            }
            thread::sleep(Duration::from_millis(10));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cancelled_threads_end_quietly_and_shut_down_joins_them() {
        let control = Control::new();
        let c = control.clone();
        let panicked = Arc::new(AtomicBool::new(false));
        let p = panicked.clone();
        control
            .spawn(
                "test-loop",
                move || loop {
                    c.check_quit();
                    thread::sleep(Duration::from_millis(1));
                },
                move |_| p.store(true, Ordering::Relaxed),
            )
            .unwrap();
        assert!(control.shut_down(Duration::from_secs(5)));
        assert!(!panicked.load(Ordering::Relaxed));
        // Nothing starts after quit.
        control.spawn("late", || unreachable!(), |_| {}).unwrap();
    }

    #[test]
    fn shut_down_gives_up_on_a_thread_that_does_not_stop() {
        let control = Control::new();
        control
            .spawn(
                "sleeper",
                || thread::sleep(Duration::from_millis(500)),
                |_| {},
            )
            .unwrap();
        assert!(!control.shut_down(Duration::from_millis(20)));
        assert!(control.shut_down(Duration::from_secs(5)));
    }
}
