//! The rerank thread: owns the cross-encoder, so the slow part of a query never holds up
//! the other panes. It scores a query's candidates in small chunks, reporting progress
//! after each; a newer query stops the older one between chunks. Evaluations send their
//! pairs here too and wait: a query typed meanwhile is scored first.
//!
//! Scores of (query, passage) pairs are kept for the session, so running a query again
//! (a setting changed, the history recalled it) rescoring nothing already scored.
use std::collections::hash_map::DefaultHasher;
use std::collections::{HashMap, VecDeque};
use std::hash::{Hash, Hasher};
use std::sync::atomic::Ordering;
use std::sync::mpsc::{Receiver, RecvTimeoutError, Sender};
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::control::Control;
use super::protocol::{Msg, Reply};
use crate::model::owner::Cancel;
use crate::model::ModelError;
use crate::model::{Progress, Reranker};
use crate::panes::{Kind, PaneId};
use crate::pipeline::{reranked, Hit, MethodResult, Missing, Phase};

/// Pairs scored between two looks at the inbox: small enough that a newer query waits at
/// most one chunk, large enough to fill a batch of long passages (4 x 512 tokens).
pub const CHUNK: usize = 8;

/// Session cache bound; past it the cache starts over.
const CACHE_MAX: usize = 100_000;

pub enum Job {
    /// The loaded cross-encoder, or why there is none (`Ok(None)`: `--reranker none`).
    Model(Result<Option<Box<dyn Reranker>>, Missing>),
    /// The explorer's query: candidates in hybrid order with their texts.
    Query {
        /// The rerank pane the answer is for.
        pane: PaneId,
        generation: u64,
        query: String,
        candidates: Vec<(Hit, String)>,
        top_k: usize,
    },
    /// An evaluation's pairs; the logits go back on `reply`.
    Batch {
        query: String,
        texts: Vec<String>,
        cancel: Cancel,
        reply: Sender<Result<Vec<f32>, Missing>>,
    },
}

type CacheKey = (String, u64);

fn key(query: &str, text: &str) -> CacheKey {
    let mut h = DefaultHasher::new();
    text.hash(&mut h);
    (query.to_owned(), h.finish())
}

pub struct RerankThread {
    rx: Receiver<Job>,
    ui: Sender<Msg>,
    control: Arc<Control>,
    reranker: Result<Box<dyn Reranker>, Missing>,
    cache: HashMap<CacheKey, f32>,
    query: Option<Job>,
    batches: VecDeque<Job>,
}

impl RerankThread {
    pub fn new(rx: Receiver<Job>, ui: Sender<Msg>, control: Arc<Control>) -> Self {
        Self {
            rx,
            ui,
            control,
            reranker: Err(Missing::pending("the reranker is still loading")),
            cache: HashMap::new(),
            query: None,
            batches: VecDeque::new(),
        }
    }

    /// Serves jobs until the worker goes away or the user quits; the cross-encoder is
    /// dropped here, on the thread that used it.
    pub fn run(mut self) {
        loop {
            if self.query.is_none() && self.batches.is_empty() {
                match self.rx.recv_timeout(Duration::from_millis(200)) {
                    Ok(job) => self.take(job),
                    Err(RecvTimeoutError::Timeout) => {}
                    Err(RecvTimeoutError::Disconnected) => return,
                }
            }
            if self.control.quitting() || !self.drain() {
                return;
            }
            if let Some(job) = self.query.take() {
                self.score_query(job);
            } else if let Some(job) = self.batches.pop_front() {
                self.score_batch(job);
            }
        }
    }

    /// Files a job: the newest query replaces an older one not yet started.
    fn take(&mut self, job: Job) {
        match job {
            Job::Model(m) => {
                self.cache.clear();
                self.reranker = match m {
                    Ok(Some(r)) => Ok(r),
                    Ok(None) => Err(Missing::Off("--reranker none".into())),
                    Err(why) => Err(why),
                };
            }
            q @ Job::Query { .. } => self.query = Some(q),
            b @ Job::Batch { .. } => self.batches.push_back(b),
        }
    }

    /// Takes every waiting job; false when the worker has gone.
    fn drain(&mut self) -> bool {
        loop {
            match self.rx.try_recv() {
                Ok(job) => self.take(job),
                Err(std::sync::mpsc::TryRecvError::Empty) => return true,
                Err(std::sync::mpsc::TryRecvError::Disconnected) => return false,
            }
        }
    }

    fn say(&self, reply: Reply) {
        let _ = self.ui.send(Msg::Worker(reply));
    }

    /// Whether the query of `generation` is no longer the one on screen.
    fn superseded(&mut self, generation: u64) -> bool {
        let connected = self.drain();
        !connected
            || self.control.quitting()
            || self.query.is_some()
            || self.control.latest.load(Ordering::Relaxed) != generation
    }

    fn score_query(&mut self, job: Job) {
        let Job::Query {
            pane,
            generation,
            query,
            candidates,
            top_k,
        } = job
        else {
            return;
        };
        if let Err(why) = &self.reranker {
            let why = why.clone();
            self.say(Reply::Reranked {
                generation,
                result: MethodResult::failed(pane, Kind::Rerank, why),
                passes: 0,
                cached: 0,
            });
            return;
        }
        let started = Instant::now();
        let total = candidates.len();
        let texts: Vec<&str> = candidates.iter().map(|(_, t)| t.as_str()).collect();
        let mut logits: Vec<Option<f32>> = texts
            .iter()
            .map(|t| self.cache.get(&key(&query, t)).copied())
            .collect();
        let todo: Vec<usize> = (0..total).filter(|&i| logits[i].is_none()).collect();
        let cached = total - todo.len();
        let mut done = cached;
        self.say(Reply::RerankProgress {
            generation,
            done,
            total,
        });
        for chunk in todo.chunks(CHUNK) {
            if self.superseded(generation) {
                tracing::debug!("rerank of generation {generation} stopped at {done}/{total}");
                return;
            }
            let chunk_texts: Vec<&str> = chunk.iter().map(|&i| texts[i]).collect();
            let ui = self.ui.clone();
            let base = done;
            let mut progress = |p: Progress| {
                let _ = ui.send(Msg::Worker(Reply::RerankProgress {
                    generation,
                    done: base + p.done,
                    total,
                }));
            };
            match self.score_cached(&query, &chunk_texts, &mut progress) {
                Ok(values) => {
                    for (&i, v) in chunk.iter().zip(values) {
                        logits[i] = Some(v);
                    }
                    done += chunk.len();
                }
                Err(why) => {
                    self.say(Reply::Reranked {
                        generation,
                        result: MethodResult::failed(pane, Kind::Rerank, why),
                        passes: done,
                        cached,
                    });
                    return;
                }
            }
        }
        let hits: Vec<Hit> = candidates.into_iter().map(|(h, _)| h).collect();
        let logits: Vec<f32> = logits.into_iter().map(|l| l.unwrap_or(f32::MIN)).collect();
        let result = reranked(pane, &hits, &logits, top_k, started.elapsed());
        // The design's cost: one cross-encoder pass per candidate (cached pairs included,
        // and counted apart: the cost line must not time the cache as the cross-encoder).
        self.say(Reply::Reranked {
            generation,
            result,
            passes: total,
            cached,
        });
    }

    /// An evaluation's pairs, chunk by chunk; a waiting query is scored between chunks.
    fn score_batch(&mut self, job: Job) {
        let Job::Batch {
            query,
            texts,
            cancel,
            reply,
        } = job
        else {
            return;
        };
        let mut out: Vec<f32> = Vec::with_capacity(texts.len());
        for chunk in texts.chunks(CHUNK) {
            if !self.drain() || self.control.quitting() {
                return;
            }
            if let Some(q) = self.query.take() {
                self.score_query(q);
            }
            if cancel.is_cancelled() {
                let _ = reply.send(Err(Missing::pending("cancelled")));
                return;
            }
            let refs: Vec<&str> = chunk.iter().map(String::as_str).collect();
            match self.score_cached(&query, &refs, &mut |_| {}) {
                Ok(values) => out.extend(values),
                Err(why) => {
                    let _ = reply.send(Err(why));
                    return;
                }
            }
        }
        let _ = reply.send(Ok(out));
    }

    /// The logits of (query, text) pairs: from the session cache where scored before, the
    /// rest in one cross-encoder call (then cached). `progress` counts the pairs scored now.
    fn score_cached(
        &mut self,
        query: &str,
        texts: &[&str],
        progress: &mut dyn FnMut(Progress),
    ) -> Result<Vec<f32>, Missing> {
        let mut scored: Vec<Option<f32>> = texts
            .iter()
            .map(|t| self.cache.get(&key(query, t)).copied())
            .collect();
        let missing: Vec<usize> = (0..texts.len()).filter(|&i| scored[i].is_none()).collect();
        if !missing.is_empty() {
            let refs: Vec<&str> = missing.iter().map(|&i| texts[i]).collect();
            let values = match &mut self.reranker {
                Ok(r) => r.score(query, &refs, progress).map_err(|e| {
                    Missing::failed(Phase::Rerank, format!("cross-encoder failed: {e}"))
                })?,
                Err(why) => return Err(why.clone()),
            };
            for (&i, v) in missing.iter().zip(values) {
                scored[i] = Some(v);
                if self.cache.len() >= CACHE_MAX {
                    self.cache.clear();
                }
                self.cache.insert(key(query, texts[i]), v);
            }
        }
        Ok(scored.into_iter().map(|v| v.unwrap_or(f32::MIN)).collect())
    }
}

/// The evaluation's reranker: sends its pairs to the rerank thread and waits, stopping
/// (with [`ModelError::Cancelled`]) when the evaluation is cancelled or the user quits.
pub struct ProxyReranker {
    pub jobs: Sender<Job>,
    pub cancel: Cancel,
    pub control: Arc<Control>,
    pub identity: String,
}

impl Reranker for ProxyReranker {
    fn identity(&self) -> String {
        self.identity.clone()
    }

    fn score(
        &mut self,
        query: &str,
        passages: &[&str],
        _progress: &mut dyn FnMut(Progress),
    ) -> crate::model::Result<Vec<f32>> {
        let (tx, rx) = std::sync::mpsc::channel();
        let sent = self.jobs.send(Job::Batch {
            query: query.to_owned(),
            texts: passages.iter().map(|s| (*s).to_owned()).collect(),
            cancel: self.cancel.clone(),
            reply: tx,
        });
        if sent.is_err() {
            return Err(ModelError::Unavailable(
                "the rerank thread has stopped".into(),
            ));
        }
        loop {
            if self.cancel.either(&self.control.quit) {
                return Err(ModelError::Cancelled);
            }
            match rx.recv_timeout(Duration::from_millis(100)) {
                Ok(Ok(logits)) => return Ok(logits),
                Ok(Err(why)) => return Err(ModelError::Unavailable(why.to_string())),
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => {
                    return Err(ModelError::Unavailable(
                        "the rerank thread has stopped".into(),
                    ))
                }
            }
        }
    }
}
