//! One owner per heavy resource (text-embeddings-inference's backend shape): a model lives on
//! a thread of its own, which runs the jobs sent to it one after another. Callers hold an
//! [`Owner`] handle (cheap to clone); a call waits for its answer while relaying the job's
//! progress, and a long job stops between chunks when its [`Cancel`] token is set. No lock is
//! held across threads and nothing unwinds to stop a job.
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{channel, Sender};
use std::sync::Arc;

use super::{Embedder, Embeddings, ModelError, Pooling, Progress, Result, Side, Usage};

/// A flag that asks a running job to stop at its next chunk. Clones share the flag.
#[derive(Debug, Clone, Default)]
pub struct Cancel(Arc<AtomicBool>);

impl Cancel {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn cancel(&self) {
        self.0.store(true, Ordering::Relaxed);
    }

    pub fn is_cancelled(&self) -> bool {
        self.0.load(Ordering::Relaxed)
    }

    /// Whether either token is set (a job's own, or the session's quit token).
    pub fn either(&self, other: &Cancel) -> bool {
        self.is_cancelled() || other.is_cancelled()
    }
}

/// A job for the owner: the value and a way to report progress to the caller.
type Job<E> = Box<dyn FnOnce(&mut E, &mut dyn FnMut(Progress)) + Send>;

/// What the owner sends back for one call.
enum Answer<R> {
    Progress(Progress),
    Done(R),
}

/// A handle to a value owned by one thread.
pub struct Owner<E> {
    jobs: Sender<Job<E>>,
    name: String,
}

impl<E> Clone for Owner<E> {
    fn clone(&self) -> Self {
        Self {
            jobs: self.jobs.clone(),
            name: self.name.clone(),
        }
    }
}

/// The owner's thread has ended (its value failed, or the session is closing).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0} has stopped")]
pub struct Gone(pub String);

impl<E: Send + 'static> Owner<E> {
    /// Moves `value` onto a thread started by `spawn` (so the caller can register and join
    /// it); the thread ends when every handle is dropped.
    pub fn start(
        name: &str,
        mut value: E,
        spawn: impl FnOnce(Box<dyn FnOnce() + Send>) -> std::io::Result<()>,
    ) -> std::io::Result<Self> {
        let (tx, rx) = channel::<Job<E>>();
        spawn(Box::new(move || {
            while let Ok(job) = rx.recv() {
                job(&mut value, &mut |_| {});
            }
        }))?;
        Ok(Self {
            jobs: tx,
            name: name.to_owned(),
        })
    }

    /// Runs `job` on the owner's thread and waits for its answer, handing each progress
    /// report the job makes to `progress` on this thread.
    pub fn call<R: Send + 'static>(
        &self,
        job: impl FnOnce(&mut E, &mut dyn FnMut(Progress)) -> R + Send + 'static,
        progress: &mut dyn FnMut(Progress),
    ) -> std::result::Result<R, Gone> {
        let (tx, rx) = channel();
        let boxed: Job<E> = Box::new(move |value, _| {
            let reports = tx.clone();
            let mut relay = |p: Progress| {
                let _ = reports.send(Answer::Progress(p));
            };
            let answer = job(value, &mut relay);
            let _ = tx.send(Answer::Done(answer));
        });
        self.jobs.send(boxed).map_err(|_| Gone(self.name.clone()))?;
        loop {
            match rx.recv() {
                Ok(Answer::Progress(p)) => progress(p),
                Ok(Answer::Done(r)) => return Ok(r),
                Err(_) => return Err(Gone(self.name.clone())),
            }
        }
    }
}

/// Texts per chunk between two looks at the cancel token.
const CHUNK: usize = 64;

/// An encoder owned by another thread, as an [`Embedder`]: each call runs there a chunk of
/// [`CHUNK`] texts at a time, stopping between chunks when `cancel` is set. `pooling`, when set, is the
/// pooling this handle embeds with (one loaded model serves every pooling a pane asks for).
#[derive(Clone)]
pub struct OwnedEmbedder {
    owner: Owner<Box<dyn Embedder>>,
    pooling: Option<Pooling>,
    cancel: Cancel,
    identity: String,
    dim: usize,
}

impl OwnedEmbedder {
    /// Starts the owner thread of `encoder` (through `spawn`) and returns its first handle.
    pub fn start(
        name: &str,
        encoder: Box<dyn Embedder>,
        spawn: impl FnOnce(Box<dyn FnOnce() + Send>) -> std::io::Result<()>,
    ) -> std::io::Result<Self> {
        let identity = encoder.identity();
        let dim = encoder.dim();
        Ok(Self {
            owner: Owner::start(name, encoder, spawn)?,
            pooling: None,
            cancel: Cancel::new(),
            identity,
            dim,
        })
    }

    /// A handle to the same encoder that embeds with `pooling` (`None`: the encoder's own);
    /// an encoder that cannot change its pooling says so.
    pub fn with_pooling(&self, pooling: Option<Pooling>) -> Result<Self> {
        let p = pooling.clone();
        let (identity, dim) = self
            .owner
            .call(
                move |e, _| -> Result<(String, usize)> {
                    let before = e.pooling();
                    if let Some(p) = p {
                        if !e.set_pooling(p.clone()) {
                            return Err(ModelError::Unavailable(format!(
                                "{} pools on its own; {p} pooling needs a local model",
                                e.identity()
                            )));
                        }
                    }
                    let out = (e.identity(), e.dim());
                    if let Some((current, _)) = before {
                        e.set_pooling(current);
                    }
                    Ok(out)
                },
                &mut |_| {},
            )
            .map_err(gone)??;
        Ok(Self {
            pooling,
            identity,
            dim,
            ..self.clone()
        })
    }

    /// The same handle stopping at `cancel` (another job's token).
    pub fn cancelled_by(&self, cancel: Cancel) -> Self {
        Self {
            cancel,
            ..self.clone()
        }
    }

    /// The pooling this handle embeds with and the model's own, for local encoders.
    pub fn pooling_state(&self) -> Option<(Pooling, Pooling)> {
        let fixed = self.pooling.clone();
        self.owner
            .call(
                move |e, _| {
                    e.pooling()
                        .map(|(current, default)| (fixed.unwrap_or(current), default))
                },
                &mut |_| {},
            )
            .ok()
            .flatten()
    }
}

fn gone(e: Gone) -> ModelError {
    ModelError::Unavailable(e.to_string())
}

impl Embedder for OwnedEmbedder {
    fn identity(&self) -> String {
        self.identity.clone()
    }

    fn dim(&self) -> usize {
        self.dim
    }

    /// One job per chunk of [`CHUNK`] texts, so other callers' jobs (a typed query) run
    /// between two chunks; the cancel token is looked at before each.
    fn embed(
        &mut self,
        side: Side,
        texts: &[&str],
        progress: &mut dyn FnMut(Progress),
    ) -> Result<Embeddings> {
        let total = texts.len();
        let mut out = Embeddings {
            dim: self.dim,
            data: Vec::new(),
        };
        for (i, chunk) in texts.chunks(CHUNK).enumerate() {
            if self.cancel.is_cancelled() {
                return Err(ModelError::Cancelled);
            }
            let chunk: Vec<String> = chunk.iter().map(|t| (*t).to_owned()).collect();
            let pooling = self.pooling.clone();
            let offset = i * CHUNK;
            let stop = self.cancel.0.clone();
            let part = self
                .owner
                .call(
                    move |e, progress| {
                        // A remote call stops waiting when this handle's token is set.
                        e.watch(stop);
                        embed_pooled(e.as_mut(), pooling, side, &chunk, progress)
                    },
                    &mut |p| {
                        progress(Progress {
                            done: offset + p.done,
                            total,
                        })
                    },
                )
                .map_err(gone)??;
            out.dim = part.dim;
            out.data.extend(part.data);
        }
        if self.dim == 0 {
            self.dim = out.dim;
        }
        Ok(out)
    }

    fn usage(&self) -> Option<Usage> {
        self.owner
            .call(|e, _| e.usage(), &mut |_| {})
            .ok()
            .flatten()
    }
}

/// Runs on the owner's thread: embeds `texts` with `pooling` (then puts the encoder's own
/// back).
fn embed_pooled(
    e: &mut dyn Embedder,
    pooling: Option<Pooling>,
    side: Side,
    texts: &[String],
    progress: &mut dyn FnMut(Progress),
) -> Result<Embeddings> {
    let restore = match pooling {
        Some(p) => {
            let before = e.pooling().map(|(current, _)| current);
            e.set_pooling(p);
            before
        }
        None => None,
    };
    let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
    let result = e.embed(side, &refs, progress);
    if let Some(p) = restore {
        e.set_pooling(p);
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Counts its calls; each text becomes `[len]`.
    struct Lengths {
        pooling: Pooling,
    }

    impl Embedder for Lengths {
        fn identity(&self) -> String {
            format!("lengths|{}", self.pooling)
        }
        fn dim(&self) -> usize {
            1
        }
        fn embed(
            &mut self,
            _: Side,
            texts: &[&str],
            progress: &mut dyn FnMut(Progress),
        ) -> Result<Embeddings> {
            progress(Progress {
                done: texts.len(),
                total: texts.len(),
            });
            let scale = if self.pooling.to_string() == "cls" {
                10.0
            } else {
                1.0
            };
            Ok(Embeddings {
                dim: 1,
                data: texts.iter().map(|t| t.len() as f32 * scale).collect(),
            })
        }
        fn pooling(&self) -> Option<(Pooling, Pooling)> {
            Some((
                self.pooling.clone(),
                "mean".parse().map(Pooling::single).ok()?,
            ))
        }
        fn set_pooling(&mut self, pooling: Pooling) -> bool {
            self.pooling = pooling;
            true
        }
    }

    fn thread(body: Box<dyn FnOnce() + Send>) -> std::io::Result<()> {
        std::thread::spawn(body);
        Ok(())
    }

    fn mean() -> Pooling {
        Pooling::single("mean".parse().expect("mean"))
    }

    #[test]
    fn an_owned_encoder_embeds_on_its_thread_with_each_handles_pooling() {
        let owned = OwnedEmbedder::start("test", Box::new(Lengths { pooling: mean() }), thread)
            .expect("started");
        let mut plain = owned.clone();
        let cls = Pooling::single("cls".parse().expect("cls"));
        let mut pooled = owned.with_pooling(Some(cls.clone())).expect("pooling");
        assert_eq!(pooled.identity(), "lengths|cls");
        assert_eq!(plain.identity(), "lengths|mean");
        let texts: Vec<String> = (0..150).map(|i| "x".repeat(i % 7)).collect();
        let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
        let mut seen = Vec::new();
        let a = plain
            .embed(Side::Plain, &refs, &mut |p| seen.push(p.done))
            .expect("embedded");
        let b = pooled
            .embed(Side::Plain, &refs, &mut |_| {})
            .expect("embedded");
        assert_eq!(a.len(), 150);
        assert_eq!(b.data[3], a.data[3] * 10.0);
        // Progress counts over the whole call, chunk after chunk.
        assert_eq!(seen, vec![64, 128, 150]);
        // The encoder's own pooling is back after a pooled call.
        assert_eq!(plain.pooling_state().map(|(c, _)| c), Some(mean()));
        assert_eq!(pooled.pooling_state().map(|(c, _)| c), Some(cls));
    }

    #[test]
    fn a_cancelled_call_stops_between_chunks_with_an_error() {
        let owned = OwnedEmbedder::start("test", Box::new(Lengths { pooling: mean() }), thread)
            .expect("started");
        let cancel = Cancel::new();
        cancel.cancel();
        let mut stopped = owned.cancelled_by(cancel);
        let err = stopped.embed(Side::Plain, &["a"], &mut |_| {}).unwrap_err();
        assert!(matches!(err, ModelError::Cancelled), "{err}");
        // Other handles are not affected.
        let mut plain = owned.clone();
        assert!(plain.embed(Side::Plain, &["a"], &mut |_| {}).is_ok());
    }

    #[test]
    fn a_call_to_a_stopped_owner_says_so() {
        let owner: Owner<u8> = Owner::start("the test model", 1, |_| Ok(())).expect("handle");
        let err = owner.call(|v, _| *v, &mut |_| {}).unwrap_err();
        assert_eq!(err.to_string(), "the test model has stopped");
    }
}
