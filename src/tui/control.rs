//! What the explorer's threads share to stop in order: a quit flag, the newest query's
//! generation (older reranks stop between batches), and every thread's handle, so that
//! quitting joins them before libtorch is torn down.
//!
//! Stopping is cooperative: the quit flag is a [`Cancel`] token that every long step looks at
//! between chunks (the encoders' owner handles carry it), and a step that sees it returns.
//! Nothing unwinds on purpose; [`Control::spawn`] catches only real panics.
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use crate::model::owner::Cancel;

#[derive(Default)]
pub struct Control {
    /// Set when the user quits; every thread's long steps stop at their next chunk.
    pub quit: Cancel,
    /// The newest query's generation, set by the worker as a search arrives.
    pub latest: AtomicU64,
    threads: Mutex<Vec<JoinHandle<()>>>,
}

impl Control {
    pub fn new() -> Arc<Self> {
        Arc::new(Self::default())
    }

    pub fn quitting(&self) -> bool {
        self.quit.is_cancelled()
    }

    /// Starts a named thread that the quit sequence waits for; a panic is logged and handed
    /// to `on_panic`.
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
        self.quit.cancel();
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
    use std::sync::atomic::Ordering;

    #[test]
    fn threads_stop_at_the_quit_token_and_shut_down_joins_them() {
        let control = Control::new();
        let c = control.clone();
        let panicked = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let p = panicked.clone();
        control
            .spawn(
                "test-loop",
                move || {
                    while !c.quitting() {
                        thread::sleep(Duration::from_millis(1));
                    }
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
