//! The model thread: loads each model once onto its own owner thread
//! ([`OwnedEmbedder`]), embeds the passages for every dense pane's key (the session's encoder
//! first, then the reranker, then every other pane's model, pooling or endpoint), and later
//! builds the part of any key a pane switches to (a pooling asked for in the settings). It also
//! serves the playground's dense column. A long step stops at its next chunk when the user quits
//! (the handles carry the session's quit token).
use std::collections::HashMap;
use std::sync::mpsc::{Receiver, Sender};
use std::sync::Arc;

use anyhow::Result;

use super::control::Control;
use super::inbox::{DensePart, Inbox};
use super::protocol::{DenseOutcome, Msg, PoolingState, Reply};
use crate::data::Corpus;
use crate::model::owner::OwnedEmbedder;
use crate::model::{Embedder, Reranker, Runtime, Side};
use crate::panes::DenseKey;
use crate::pipeline::{Missing, Phase};
use crate::plan::Job;
use crate::session::{self, Event, Options};
use crate::teach;

/// What the worker asks of the model thread once the start-up is done.
pub enum ModelJob {
    Similar {
        generation: u64,
        sentences: Vec<String>,
    },
    /// Build the part of `key` (load its model if no pane has yet, embed the passages or read
    /// them from the cache) and send it to the worker.
    Dense(DenseKey),
}

fn say(ui: &Sender<Msg>, reply: Reply) {
    let _ = ui.send(Msg::Worker(reply));
}

/// Session events to the status bar (warnings to the log too).
pub fn reporter(ui: &Sender<Msg>) -> impl FnMut(Event) + '_ {
    move |e| {
        if let Event::Warning(w) = &e {
            tracing::warn!("{w}");
        }
        say(ui, Reply::Session(e))
    }
}

/// The model thread's whole life.
pub struct ModelThread {
    pub opts: Options,
    /// The plan's jobs; this thread runs the dense and reranker ones.
    pub jobs: Vec<Job>,
    /// With a Milvus backend, Milvus holds the session model's passage vectors: its encoder
    /// loads, nothing is embedded.
    pub backend: Option<Arc<session::Backend>>,
    pub corpus: Arc<Corpus>,
    pub runtime: Runtime,
    pub ui: Sender<Msg>,
    pub inbox: Sender<Inbox>,
    pub control: Arc<Control>,
    /// Each loaded model's owner, by model id: pooling variants share one.
    pub loaded: HashMap<String, OwnedEmbedder>,
}

impl ModelThread {
    pub fn run(mut self, jobs: Receiver<ModelJob>) {
        self.start();
        while let Ok(job) = jobs.recv() {
            if self.control.quitting() {
                return;
            }
            match job {
                ModelJob::Similar {
                    generation,
                    sentences,
                } => {
                    let result = self.dense_matrix(&sentences);
                    say(&self.ui, Reply::PlaygroundDense { generation, result });
                }
                ModelJob::Dense(key) => {
                    let part = self.part(&key);
                    if self.inbox.send(Inbox::Dense { key, part }).is_err() {
                        return;
                    }
                }
            }
        }
    }

    /// The plan's model jobs, in its order: each dense key's part, the reranker.
    fn start(&mut self) {
        let mut reranker = Ok(None);
        for job in self.jobs.clone() {
            if self.control.quitting() {
                return;
            }
            let sent = match job {
                Job::Dense(key) => {
                    let part = self.part(&key);
                    self.inbox.send(Inbox::Dense { key, part })
                }
                Job::Reranker => {
                    reranker = self.reranker();
                    self.inbox
                        .send(Inbox::Reranker(std::mem::replace(&mut reranker, Ok(None))))
                }
                _ => Ok(()),
            };
            if sent.is_err() {
                return;
            }
        }
        if !self.jobs.contains(&Job::Reranker) {
            // No rerank pane: the worker learns there is no reranker to wait for.
            let _ = self.inbox.send(Inbox::Reranker(reranker));
        }
    }

    fn reranker(&mut self) -> Result<Option<Box<dyn Reranker>>, Missing> {
        let ui = self.ui.clone();
        let mut report = reporter(&ui);
        let loaded = session::load_reranker(&self.opts, self.runtime, &mut report)
            .map(|r| r.map(|r| Box::new(r) as Box<dyn Reranker>));
        loaded.map_err(|e| {
            report(Event::Finish);
            Missing::failed(Phase::Load, format!("{e:#}"))
        })
    }

    /// The part of `key`: its model's owner (loaded now if no key had it yet) with the key's
    /// pooling, and the passages embedded (or read from the cache).
    fn part(&mut self, key: &DenseKey) -> Result<DensePart, Missing> {
        let ui = self.ui.clone();
        let mut report = reporter(&ui);
        let built = self.build(key, &mut report);
        built.map_err(|e| {
            report(Event::Finish);
            match e.downcast_ref::<crate::model::ModelError>() {
                Some(crate::model::ModelError::Cancelled) => Missing::pending("quitting"),
                _ => Missing::failed(Phase::Load, format!("{e:#}")),
            }
        })
    }

    fn build(&mut self, key: &DenseKey, report: &mut dyn FnMut(Event)) -> Result<DensePart> {
        let o = session::options_for(&self.opts, key);
        let model = o.model.model.clone();
        let owner = match self.loaded.get(&model) {
            Some(owner) => owner.clone(),
            None => {
                // Loaded with the model's own pooling: each handle names the pooling it embeds with.
                let encoder = session::load_embedder(&o, self.runtime, None, report)?;
                let control = self.control.clone();
                let owner =
                    OwnedEmbedder::start(&format!("the encoder {model}"), encoder, |body| {
                        control.spawn("bigyo-encoder", body, |_| {})
                    })?
                    .cancelled_by(self.control.quit.clone());
                self.loaded.insert(model.clone(), owner.clone());
                owner
            }
        };
        let mut encoder = owner.with_pooling(o.pooling()?)?;
        if let (Some(b), true) = (&self.backend, *key == DenseKey::default()) {
            if let Some(w) = b.check_encoder(&model, &encoder)? {
                report(Event::Warning(w));
            }
            return Ok(DensePart {
                encoder,
                index: None,
                line: None,
            });
        }
        let cache = session::cache(&o);
        let (index, stats) = session::build_dense(
            &self.corpus,
            &mut encoder,
            self.runtime,
            cache.as_ref(),
            report,
        )?;
        tracing::info!(
            "dense index {}: {} passages in {:.2}s (cached: {})",
            encoder.identity(),
            stats.passages,
            stats.seconds,
            stats.from_cache
        );
        let line = (*key != DenseKey::default() || o.remote_model().is_some())
            .then(|| status_line(&o, &stats));
        Ok(DensePart {
            encoder,
            index: Some(index),
            line,
        })
    }

    /// The playground's sentences' dense cosine matrix, with the session's encoder.
    fn dense_matrix(&mut self, sentences: &[String]) -> Result<DenseOutcome, Missing> {
        let key = DenseKey::default();
        let o = session::options_for(&self.opts, &key);
        if o.remote_model().is_some() {
            return Err(Missing::Off(format!(
                "{} embeds on its endpoint; the playground's dense column needs a local model",
                o.model.model
            )));
        }
        let Some(owner) = self.loaded.get(&o.model.model) else {
            return Err(Missing::pending("the encoder is not loaded"));
        };
        let mut encoder = owner
            .with_pooling(o.pooling().map_err(|e| Missing::failed(Phase::Load, e))?)
            .map_err(|e| Missing::failed(Phase::Load, e))?;
        let pooling = encoder
            .pooling_state()
            .map_or_else(String::new, |(current, _)| current.to_string());
        let refs: Vec<&str> = sentences.iter().map(String::as_str).collect();
        let embeddings = encoder
            .embed(Side::Plain, &refs, &mut |_| {})
            .map_err(|e| Missing::failed(Phase::Embed, format!("embedding the sentences: {e}")))?;
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
}

/// What the status bar says of a dense key's passages: a remote endpoint's cost, or where the
/// vectors came from.
fn status_line(o: &Options, stats: &session::EmbedStats) -> String {
    let model = &o.model.model;
    let endpoint = o
        .api
        .api_base
        .clone()
        .unwrap_or_else(|| crate::model::remote::DEFAULT_API_BASE.to_owned());
    let line = match (stats.usage, o.remote_model()) {
        (Some(u), Some(_)) => format!(
            "{model} at {endpoint}: {}",
            session::cost_line(o, "passages", stats.passages, u)
        ),
        (None, Some(_)) => format!("{model} at {endpoint}: passages from the cache, no requests"),
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
    line
}

/// The pooling a handle embeds with, as the status bar and the settings show it.
pub fn pooling_state(encoder: &OwnedEmbedder) -> Option<PoolingState> {
    encoder
        .pooling_state()
        .map(|(current, default)| PoolingState { current, default })
}
