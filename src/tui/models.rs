//! The model thread: loads the bi-encoder and embeds the passages, then loads the
//! cross-encoder (handed to the rerank thread), then the encoder of every other dense pane
//! (another model, a pooling variant, a remote endpoint), then serves the playground's
//! embeddings and pooling switches. Every long step stops at its next batch when the user
//! quits.
use std::sync::mpsc::{Receiver, Sender};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use anyhow::Result;

use super::control::Control;
use super::protocol::{DenseOutcome, Msg, PoolingState, Reply};
use super::worker::Inbox;
use crate::data::Corpus;
use crate::dense::DenseIndex;
use crate::model::{
    Embedder, Embeddings, Pooling, Progress, Reranker, Runtime, SentenceEncoder, Side, Usage,
};
use crate::panes::{DenseKey, Kind, Panes};
use crate::session::{self, Event, Options};
use crate::teach;

/// What the worker asks of the model thread once the models are loaded.
pub enum ModelJob {
    Similar {
        generation: u64,
        sentences: Vec<String>,
    },
    /// Embed the passages with this pooling and send the new dense index to the worker.
    Repool(Pooling),
}

/// An encoder shared by the worker (query embeddings), the evaluation (question embeddings)
/// and the model thread, locked for each call.
pub struct Shared<E>(Arc<Mutex<E>>);

/// The session's bi-encoder: the model thread also uses it for the playground and
/// re-embedding. The worker takes the dense index out of the pipeline before the model thread
/// changes the pooling, so a query never meets passages pooled otherwise.
pub type SharedEncoder = Shared<SentenceEncoder>;

/// Another dense pane's encoder (any [`Embedder`], local or remote).
pub type SharedEmbedder = Shared<Box<dyn Embedder>>;

impl<E> Shared<E> {
    fn new(encoder: E) -> Self {
        Self(Arc::new(Mutex::new(encoder)))
    }

    fn lock(&self) -> MutexGuard<'_, E> {
        // A panic mid-embedding leaves the encoder's weights as they were.
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl<E> Clone for Shared<E> {
    fn clone(&self) -> Self {
        Self(self.0.clone())
    }
}

impl<E: Embedder> Embedder for Shared<E> {
    fn identity(&self) -> String {
        self.lock().identity()
    }

    fn dim(&self) -> usize {
        self.lock().dim()
    }

    fn embed(
        &mut self,
        side: Side,
        texts: &[&str],
        progress: &mut dyn FnMut(Progress),
    ) -> crate::model::Result<Embeddings> {
        self.lock().embed(side, texts, progress)
    }

    fn usage(&self) -> Option<Usage> {
        self.lock().usage()
    }
}

/// A dense pane's encoder and index, ready, with the line the status bar shows for it.
pub struct Extra {
    pub encoder: SharedEmbedder,
    pub index: DenseIndex,
    pub line: String,
}

fn say(ui: &Sender<Msg>, reply: Reply) {
    let _ = ui.send(Msg::Worker(reply));
}

/// Session events to the status bar; every event is also a point where quitting stops the
/// step in progress.
pub fn reporter<'a>(ui: &'a Sender<Msg>, control: &'a Control) -> impl FnMut(Event) + 'a {
    move |e| {
        control.check_quit();
        if let Event::Warning(w) = &e {
            tracing::warn!("{w}");
        }
        say(ui, Reply::Session(e))
    }
}

/// The model thread's whole life.
pub struct ModelThread {
    pub opts: Options,
    pub panes: Arc<Panes>,
    /// With `--backend`, Milvus holds the passages' vectors: the encoder loads, nothing is
    /// embedded.
    pub backend: Option<Arc<session::Backend>>,
    pub corpus: Arc<Corpus>,
    pub runtime: Runtime,
    pub ui: Sender<Msg>,
    pub inbox: Sender<Inbox>,
    pub control: Arc<Control>,
}

impl ModelThread {
    pub fn run(self, jobs: Receiver<ModelJob>) {
        let encoder = self.load();
        while let Ok(job) = jobs.recv() {
            if self.control.quitting() {
                return;
            }
            match job {
                ModelJob::Similar {
                    generation,
                    sentences,
                } => {
                    let result = match &encoder {
                        Ok(e) => dense_matrix(e, &sentences),
                        Err(why) => Err(format!("no encoder: {why}")),
                    };
                    say(&self.ui, Reply::PlaygroundDense { generation, result });
                }
                ModelJob::Repool(pooling) => {
                    let dense = match &encoder {
                        Ok(e) => self.repool(e, pooling),
                        Err(why) => Err(format!("no encoder: {why}")),
                    };
                    if let Ok(e) = &encoder {
                        say(&self.ui, Reply::Pooling(pooling_state(e)));
                    }
                    if self.inbox.send(Inbox::Dense(dense)).is_err() {
                        return;
                    }
                }
            }
        }
    }

    /// Bi-encoder and passage embeddings, then the reranker. Returns the encoder for later
    /// jobs, or why there is none.
    fn load(&self) -> Result<SharedEncoder, String> {
        let mut report = reporter(&self.ui, &self.control);
        let mut dense = || -> Result<(SharedEncoder, Option<DenseIndex>)> {
            let pooling = self.opts.pooling()?;
            let mut encoder =
                session::load_encoder(&self.opts, self.runtime, pooling, &mut report)?;
            if let Some(b) = &self.backend {
                if let Some(w) = b.check_encoder(&self.opts.model.model, &encoder)? {
                    report(Event::Warning(w));
                }
                return Ok((Shared::new(encoder), None));
            }
            let cache = session::cache(&self.opts);
            let (index, stats) = session::build_dense(
                &self.corpus,
                &mut encoder,
                self.runtime,
                cache.as_ref(),
                &mut report,
            )?;
            tracing::info!(
                "dense index: {} passages in {:.2}s (cached: {})",
                stats.passages,
                stats.seconds,
                stats.from_cache
            );
            Ok((Shared::new(encoder), Some(index)))
        };
        // A remote --model embeds on its endpoint, like another dense pane's encoder (below);
        // the playground's dense column and the pooling switch need a local one.
        let remote = self.opts.remote_model().is_some();
        let wanted = self.panes.dense_keys().contains(&DenseKey::default()) && !remote;
        let dense = if wanted {
            dense().map_err(|e| format!("{e:#}"))
        } else if remote {
            Err(format!(
                "{} embeds on its endpoint; the playground's dense column and the pooling \
                 switch need a local --model",
                self.opts.model.model
            ))
        } else {
            Err(format!("no pane shows {}", self.opts.model.model))
        };
        let encoder = match dense {
            Ok((encoder, index)) => {
                say(&self.ui, Reply::Pooling(pooling_state(&encoder)));
                let _ = self.inbox.send(Inbox::Dense(Ok((encoder.clone(), index))));
                Ok(encoder)
            }
            Err(why) => {
                if wanted {
                    report(Event::Finish);
                }
                if !remote {
                    let _ = self.inbox.send(Inbox::Dense(Err(why.clone())));
                }
                Err(why)
            }
        };
        let reranker = if self.panes.uses(Kind::Rerank) {
            session::load_reranker(&self.opts, self.runtime, &mut report)
                .map(|r| r.map(|r| Box::new(r) as Box<dyn Reranker>))
                .map_err(|e| format!("{e:#}"))
        } else {
            Ok(None)
        };
        if reranker.is_err() {
            report(Event::Finish);
        }
        let _ = self.inbox.send(Inbox::Reranker(reranker));
        for key in self.panes.dense_keys() {
            if key != DenseKey::default() || remote {
                let extra = self.extra(&key, &mut report).map_err(|e| {
                    report(Event::Finish);
                    format!("{e:#}")
                });
                if self.inbox.send(Inbox::Extra { key, extra }).is_err() {
                    break;
                }
            }
        }
        encoder
    }

    /// The encoder of another dense pane, and its passages embedded (or from the cache).
    fn extra(&self, key: &DenseKey, report: &mut dyn FnMut(Event)) -> Result<Extra> {
        let o = session::options_for(&self.opts, key);
        let mut encoder = session::load_embedder(&o, self.runtime, o.pooling()?, report)?;
        let cache = session::cache(&o);
        let (index, stats) = session::build_dense(
            &self.corpus,
            &mut *encoder,
            self.runtime,
            cache.as_ref(),
            report,
        )?;
        let model = &o.model.model;
        let endpoint = o
            .api
            .api_base
            .clone()
            .unwrap_or_else(|| crate::model::remote::DEFAULT_API_BASE.to_owned());
        let line = match (stats.usage, crate::model::remote::remote_name(model)) {
            (Some(u), Some(_)) => format!(
                "{model} at {endpoint}: {}",
                session::cost_line(&o, "passages", stats.passages, u)
            ),
            (None, Some(_)) => {
                format!("{model} at {endpoint}: passages from the cache, no requests")
            }
            _ => format!(
                "{model}: {} passages{}",
                stats.passages,
                if stats.from_cache {
                    " from the cache"
                } else {
                    ""
                }
            ),
        };
        tracing::info!("{line}");
        Ok(Extra {
            encoder: Shared::new(encoder),
            index,
            line,
        })
    }

    /// Switches the encoder's pooling and embeds the passages again (each pooling has its
    /// own cache entry, since the encoder's identity names it). On failure the previous
    /// pooling comes back, from the cache when it was there.
    fn repool(
        &self,
        encoder: &SharedEncoder,
        pooling: Pooling,
    ) -> Result<(SharedEncoder, Option<DenseIndex>), String> {
        let mut report = reporter(&self.ui, &self.control);
        let cache = session::cache(&self.opts);
        let mut e = encoder.lock();
        let previous = e.pooling().clone();
        e.set_pooling(pooling.clone());
        let built = session::build_dense(
            &self.corpus,
            &mut *e,
            self.runtime,
            cache.as_ref(),
            &mut report,
        );
        let index = match built {
            Ok((index, stats)) => {
                tracing::info!(
                    "re-embedded with {pooling} pooling: {} passages in {:.2}s (cached: {})",
                    stats.passages,
                    stats.seconds,
                    stats.from_cache
                );
                index
            }
            Err(err) => {
                report(Event::Finish);
                report(Event::Warning(format!(
                    "could not switch pooling to {pooling}: {err:#}"
                )));
                e.set_pooling(previous);
                session::build_dense(
                    &self.corpus,
                    &mut *e,
                    self.runtime,
                    cache.as_ref(),
                    &mut report,
                )
                .map_err(|e| format!("{e:#}"))?
                .0
            }
        };
        drop(e);
        Ok((encoder.clone(), Some(index)))
    }
}

pub fn pooling_state(encoder: &SharedEncoder) -> PoolingState {
    let e = encoder.lock();
    PoolingState {
        current: e.pooling().clone(),
        default: e.default_pooling().clone(),
    }
}

/// The sentences' dense cosine matrix.
fn dense_matrix(encoder: &SharedEncoder, sentences: &[String]) -> Result<DenseOutcome, String> {
    let refs: Vec<&str> = sentences.iter().map(String::as_str).collect();
    let mut e = encoder.lock();
    let pooling = e.pooling().to_string();
    let embeddings = e
        .embed(Side::Plain, &refs, &mut |_| {})
        .map_err(|e| format!("embedding the sentences: {e}"))?;
    let rows: Vec<Vec<f64>> = embeddings
        .rows()
        .map(|r| r.iter().map(|&x| f64::from(x)).collect())
        .collect();
    let matrix = rows
        .iter()
        .map(|a| rows.iter().map(|b| teach::cosine(a, b)).collect())
        .collect();
    Ok(DenseOutcome { matrix, pooling })
}
