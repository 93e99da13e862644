//! The explorer's threads (each owns what it computes with; libtorch tensors are `Send` but
//! not `Sync`):
//!
//! - the **worker** owns the [`Pipeline`] without its cross-encoder and answers a query
//!   with dense, BM25 and hybrid at once (milliseconds), then hands the hybrid top M to
//! - the **rerank thread** ([`super::rerank`]), which scores them in chunks with progress;
//!   a newer query stops it between chunks;
//! - the **model thread** ([`super::models`]) loads the models and embeds the passages
//!   (BM25 answers meanwhile), then serves the playground and pooling switches;
//! - an **evaluation thread** per evaluation and a **BM25 thread** per analyzer switch, so
//!   neither ever holds up a query.
//!
//! Quitting sets [`Control::quit`]; each thread stops at its next batch and drops its models
//! itself, and the event loop joins them before the process ends.
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{channel, Receiver, Sender};
use std::sync::Arc;

use anyhow::{Context, Result};

use super::control::Control;
use super::models::{reporter, Extra, ModelJob, SharedEmbedder, SharedEncoder};
use super::protocol::{Cmd, Msg, Part, Reply, SparseOutcome};
use super::rerank::Job;
use super::startup::warn_about_analyzer;
use crate::bm25::{Analyzer, Bm25Index};
use crate::dense::DenseIndex;
use crate::judgments::Judgments;
use crate::model::{Embedder, Reranker};
use crate::panes::{DenseKey, Kind, PaneId};
use crate::pipeline::{MethodResult, Pipeline, SearchParams};
use crate::session::{self, Event, Options};
use crate::teach::{self, DocFreq};

/// What reaches the worker: the UI's commands and the other threads' results.
pub enum Inbox {
    Cmd(Cmd),
    /// The session's bi-encoder with its passages' index, or without one when Milvus serves
    /// its vectors (`--backend`).
    Dense(Result<(SharedEncoder, Option<DenseIndex>), String>),
    Reranker(Result<Option<Box<dyn Reranker>>, String>),
    /// Another dense pane's encoder and index (a second model, a pooling variant, a remote
    /// endpoint), or why it could not be had.
    Extra {
        key: DenseKey,
        extra: Result<Extra, String>,
    },
    /// A BM25 index built with another analyzer, for switch number `generation`.
    Bm25 {
        generation: u64,
        built: Result<(Analyzer, Bm25Index), String>,
    },
}

/// Starts the worker; it builds the session stage by stage, reporting to `ui`.
pub fn spawn(opts: Options, ui: Sender<Msg>, control: Arc<Control>) -> Result<Sender<Inbox>> {
    let (tx, rx) = channel();
    let inbox = tx.clone();
    let c = control.clone();
    let failed = ui.clone();
    control
        .spawn(
            "bigyo-worker",
            move || super::startup::work(&opts, &ui, inbox, rx, c),
            move |why| {
                say(
                    &failed,
                    Reply::Failed(Part::Corpus, format!("the worker stopped: {why}")),
                )
            },
        )
        .context("starting the worker thread")?;
    Ok(tx)
}

pub(super) fn say(ui: &Sender<Msg>, reply: Reply) {
    // The UI is gone only when quitting; nothing to do then.
    let _ = ui.send(Msg::Worker(reply));
}

/// The worker's state: the pipeline and the ways to the other threads.
pub(super) struct Worker<'a> {
    pub(super) opts: &'a Options,
    pub(super) pipeline: Pipeline,
    pub(super) ui: &'a Sender<Msg>,
    pub(super) control: Arc<Control>,
    /// The worker's own inbox, for the threads it starts to answer through.
    pub(super) inbox: Sender<Inbox>,
    /// `None` when the model thread could not start (no device).
    pub(super) models: Option<Sender<ModelJob>>,
    pub(super) rerank: Sender<Job>,
    /// The bi-encoder, for the evaluation's question embeddings.
    pub(super) encoder: Option<SharedEncoder>,
    /// The other dense panes' encoders, shared with the evaluation.
    pub(super) extras: Vec<(DenseKey, SharedEmbedder)>,
    /// Whether a query's hybrid list goes to the rerank thread, or why not.
    pub(super) reranker_state: Result<String, String>,
    /// Document frequencies for the playground's IDF, with the analyzer they were fitted with.
    pub(super) doc_freq: Option<(String, DocFreq)>,
    /// The newest analyzer switch; older builds arriving late are dropped.
    pub(super) bm25_generation: u64,
    /// The index in use before a switch, put back when the new one cannot be built.
    pub(super) previous_bm25: Option<Arc<Bm25Index>>,
    /// The running evaluation's cancel flag.
    pub(super) eval_cancel: Option<Arc<AtomicBool>>,
    /// Device and dtype, for the evaluation header.
    pub(super) runtime: String,
    /// The corpus's relevance judgments, or why they cannot be kept.
    pub(super) judgments: Result<Judgments, String>,
}

impl Worker<'_> {
    /// Why the dense panes cannot run, or that they can.
    pub(super) fn dense_missing(&self) -> String {
        match self.pipeline.dense(&DenseKey::default()) {
            Ok(_) => "the encoder is busy".into(),
            Err(why) => why.0,
        }
    }

    /// Serves commands until the UI quits. Of several queued searches only the newest runs.
    pub(super) fn serve(&mut self, rx: &Receiver<Inbox>) {
        while let Ok(first) = rx.recv() {
            let mut batch = vec![first];
            batch.extend(rx.try_iter());
            let newest = batch
                .iter()
                .rposition(|m| matches!(m, Inbox::Cmd(Cmd::Search { .. })));
            for (i, m) in batch.into_iter().enumerate() {
                if self.control.quitting() {
                    return;
                }
                match m {
                    Inbox::Cmd(Cmd::Search { generation, query }) => {
                        if Some(i) == newest {
                            self.search(generation, query);
                        }
                    }
                    Inbox::Cmd(Cmd::Quit) => return,
                    Inbox::Cmd(cmd) => self.command(cmd),
                    Inbox::Dense(Ok((encoder, index))) => {
                        match index {
                            Some(index) => self.pipeline.set_dense(
                                &DenseKey::default(),
                                Box::new(encoder.clone()),
                                index,
                            ),
                            None => self.pipeline.set_backend_encoder(Box::new(encoder.clone())),
                        }
                        self.encoder = Some(encoder);
                        say(self.ui, Reply::DenseReady);
                    }
                    Inbox::Dense(Err(why)) => {
                        self.pipeline
                            .set_dense_missing(&DenseKey::default(), why.clone());
                        self.pipeline.set_backend_encoder_missing(why.clone());
                        say(self.ui, Reply::Failed(Part::Dense, why));
                    }
                    Inbox::Reranker(r) => self.set_reranker(r),
                    Inbox::Extra { key, extra } => self.set_extra(key, extra),
                    Inbox::Bm25 { generation, built } => self.bm25_built(generation, built),
                }
            }
        }
    }

    pub(super) fn command(&mut self, cmd: Cmd) {
        match cmd {
            Cmd::SetParams(p) => self.pipeline.params = p,
            Cmd::SetAnalyzer(kind) => self.rebuild_bm25(kind),
            Cmd::Evaluate { generation, labels } => self.evaluate(generation, labels),
            Cmd::Tune { generation } => self.tune(generation),
            Cmd::Grade {
                query,
                passage,
                grade,
            } => self.grade(query, passage, grade),
            Cmd::CancelEval => {
                if let Some(c) = self.eval_cancel.take() {
                    c.store(true, Ordering::Relaxed);
                }
            }
            Cmd::Similar {
                generation,
                sentences,
            } => self.similar(generation, sentences),
            Cmd::Word2vec {
                generation,
                words,
                trained,
            } => super::words::serve(self, generation, words, trained),
            Cmd::SetPooling(p) => self.set_pooling(p),
            Cmd::Search { .. } | Cmd::Quit => {}
        }
    }

    /// Dense, BM25 and hybrid go to the UI at once; the hybrid top M goes to the rerank
    /// thread, whose answer follows.
    fn search(&mut self, generation: u64, query: String) {
        self.control.latest.store(generation, Ordering::Relaxed);
        let panes = self.pipeline.panes().clone();
        let fast: Vec<PaneId> = panes
            .shown()
            .filter(|&id| panes.get(id).kind() != Kind::Rerank)
            .collect();
        let mut results = self.pipeline.search_with(&query, &[], &fast);
        let Some(rerank) = panes.first(Kind::Rerank) else {
            let rerank_total = None;
            say(
                self.ui,
                Reply::Results {
                    generation,
                    results,
                    rerank_total,
                },
            );
            return;
        };
        let blank = query.trim().is_empty();
        let job = match (
            &self.reranker_state,
            self.pipeline.rerank_candidates(&results, rerank),
        ) {
            _ if blank => Err(MethodResult::empty(rerank, Kind::Rerank)),
            (Err(why), _) => Err(MethodResult::failed(rerank, Kind::Rerank, why.clone())),
            (Ok(_), Err(why)) => Err(MethodResult::failed(rerank, Kind::Rerank, why)),
            (Ok(_), Ok(candidates)) if candidates.is_empty() => {
                Err(MethodResult::empty(rerank, Kind::Rerank))
            }
            (Ok(_), Ok(candidates)) => Ok(candidates),
        };
        let candidates = match job {
            Err(result) => {
                results.results.push(result);
                None
            }
            Ok(candidates) => Some(candidates),
        };
        // The three fast lists go out first: the rerank answer must never overtake them.
        say(
            self.ui,
            Reply::Results {
                generation,
                results,
                rerank_total: candidates.as_ref().map(Vec::len),
            },
        );
        let Some(candidates) = candidates else {
            return;
        };
        let corpus = self.pipeline.corpus.clone();
        let candidates = candidates
            .into_iter()
            .map(|h| {
                let text = corpus
                    .passages
                    .get(h.passage)
                    .map_or_else(String::new, |p| p.text.clone());
                (h, text)
            })
            .collect();
        let sent = self.rerank.send(Job::Query {
            pane: rerank,
            generation,
            query,
            candidates,
            top_k: self.pipeline.params.top_k,
        });
        if sent.is_err() {
            say(
                self.ui,
                Reply::Reranked {
                    generation,
                    result: MethodResult::failed(
                        rerank,
                        Kind::Rerank,
                        "the rerank thread has stopped".into(),
                    ),
                    passes: 0,
                },
            );
        }
    }

    fn set_extra(&mut self, key: DenseKey, extra: Result<Extra, String>) {
        match extra {
            Ok(e) => {
                self.pipeline
                    .set_dense(&key, Box::new(e.encoder.clone()), e.index);
                let session_model = key == DenseKey::default();
                self.extras.push((key, e.encoder));
                say(self.ui, Reply::Session(Event::Note(e.line)));
                if session_model {
                    // A remote --model: its panes are ready now.
                    say(self.ui, Reply::DenseReady);
                }
            }
            Err(why) => {
                self.pipeline.set_dense_missing(&key, why.clone());
                if key == DenseKey::default() {
                    say(self.ui, Reply::Failed(Part::Dense, why));
                } else {
                    say(self.ui, Reply::Session(Event::Warning(why)));
                }
            }
        }
    }

    fn set_reranker(&mut self, r: Result<Option<Box<dyn Reranker>>, String>) {
        let (state, reply) = match &r {
            Ok(Some(m)) => (Ok(m.identity()), Reply::RerankerReady),
            Ok(None) => (Err("--reranker none".to_owned()), Reply::RerankerDisabled),
            Err(why) => (Err(why.clone()), Reply::Failed(Part::Reranker, why.clone())),
        };
        self.reranker_state = state;
        let _ = self.rerank.send(Job::Model(r));
        say(self.ui, reply);
    }

    /// The playground: the dense half goes to the model thread first, then the sparse half
    /// is computed here while it runs.
    fn similar(&mut self, generation: u64, sentences: Vec<String>) {
        let asked = self.models.as_ref().is_some_and(|m| {
            m.send(ModelJob::Similar {
                generation,
                sentences: sentences.clone(),
            })
            .is_ok()
        });
        if !asked {
            say(
                self.ui,
                Reply::PlaygroundDense {
                    generation,
                    result: Err(self.dense_missing()),
                },
            );
        }
        let result = self.sparse(&sentences);
        say(self.ui, Reply::PlaygroundSparse { generation, result });
    }

    fn sparse(&mut self, sentences: &[String]) -> Result<SparseOutcome, String> {
        let analyzer = self
            .pipeline
            .bm25(None)
            .map(|b| b.analyzer().clone())
            .map_err(|m| format!("no BM25 analyzer: {m}"))?;
        let key = analyzer.describe();
        if self.doc_freq.as_ref().is_none_or(|(k, _)| *k != key) {
            let corpus = self.pipeline.corpus.clone();
            let texts: Vec<&str> = corpus.texts();
            self.doc_freq = Some((key.clone(), DocFreq::fit(&texts, &analyzer)));
        }
        let Some((_, df)) = &self.doc_freq else {
            return Err("no document frequencies".into());
        };
        let refs: Vec<&str> = sentences.iter().map(String::as_str).collect();
        let matrices: BTreeMap<_, _> = teach::similarity_matrices(&refs, &analyzer, df, None);
        let shared = teach::shared_terms(&refs, &analyzer);
        Ok(SparseOutcome {
            matrices,
            idf: format!("IDF over {} passages, analyzer {key}", df.documents),
            shared,
        })
    }

    /// Takes the dense index out of the pipeline (dense and the dense half of hybrid say why
    /// meanwhile; BM25 answers) and asks the model thread for one built with `pooling`.
    fn set_pooling(&mut self, pooling: crate::model::Pooling) {
        if let Some(b) = self.pipeline.backend() {
            let why = format!(
                "the passages' vectors live in {}: switch pooling with `bigyo index --drop` and another --pooling",
                b.milvus.url()
            );
            say(self.ui, Reply::Session(Event::Warning(why)));
            say(self.ui, Reply::DenseReady);
            return;
        }
        // The evaluation's vectors would mix two poolings.
        self.command(Cmd::CancelEval);
        let key = DenseKey::default();
        let models = match &self.models {
            Some(m) if self.pipeline.dense(&key).is_ok() => m,
            // The UI switches only a ready encoder; whatever happened, it must not wait.
            _ => {
                say(self.ui, Reply::Failed(Part::Dense, self.dense_missing()));
                return;
            }
        };
        let taken = self.pipeline.take_dense(
            &key,
            format!("embedding the passages again with {pooling} pooling"),
        );
        if models.send(ModelJob::Repool(pooling)).is_err() {
            if let Some(part) = taken {
                self.pipeline.set_dense(&key, part.encoder, part.index);
            }
            say(self.ui, Reply::DenseReady);
        }
    }

    /// Builds BM25 with another analyzer on a thread of its own; queries meanwhile run
    /// without BM25 (the pane says why), and the old index comes back if the build fails.
    fn rebuild_bm25(&mut self, kind: crate::bm25::AnalyzerKind) {
        if let Some(b) = self.pipeline.backend() {
            let why = format!(
                "the BM25 terms live in {}: switch analyzers with `bigyo index --drop` and another --bm25-analyzer",
                b.milvus.url()
            );
            let analyzer = b.analyzer.clone();
            say(self.ui, Reply::Session(Event::Warning(why)));
            say(self.ui, Reply::Bm25Ready(analyzer));
            return;
        }
        self.bm25_generation += 1;
        let generation = self.bm25_generation;
        let why = format!("rebuilding the BM25 index with the {kind} analyzer");
        if let Some(old) = self.pipeline.take_bm25(None, why) {
            self.previous_bm25 = Some(old);
        }
        let mut o = self.opts.clone();
        o.retrieval.bm25_analyzer = kind;
        let corpus = self.pipeline.corpus.clone();
        let ui = self.ui.clone();
        let control = self.control.clone();
        let inbox = self.inbox.clone();
        let failed = self.ui.clone();
        let spawned = self.control.spawn(
            "bigyo-bm25",
            move || {
                let mut report = reporter(&ui, &control);
                let built = session::analyzer(&o)
                    .and_then(|a| {
                        let index = session::build_bm25(&corpus, a.clone(), &mut report)?;
                        warn_about_analyzer(&a, &corpus, &mut report);
                        Ok((a, index))
                    })
                    .map_err(|e| {
                        report(Event::Finish);
                        format!("could not switch BM25 to {kind}: {e:#}")
                    });
                let _ = inbox.send(Inbox::Bm25 { generation, built });
            },
            move |why| say(&failed, Reply::Failed(Part::Bm25, why)),
        );
        if let Err(e) = spawned {
            self.bm25_built(generation, Err(format!("starting the BM25 thread: {e}")));
        }
    }

    fn bm25_built(&mut self, generation: u64, built: Result<(Analyzer, Bm25Index), String>) {
        if generation != self.bm25_generation {
            return;
        }
        match built {
            Ok((analyzer, index)) => {
                self.previous_bm25 = None;
                self.pipeline.set_bm25(None, Arc::new(index));
                say(self.ui, Reply::Bm25Ready(analyzer));
            }
            Err(why) => {
                say(self.ui, Reply::Session(Event::Warning(why.clone())));
                match self.previous_bm25.take() {
                    Some(old) => {
                        let analyzer = old.analyzer().clone();
                        self.pipeline.set_bm25(None, old);
                        say(self.ui, Reply::Bm25Ready(analyzer));
                    }
                    None => {
                        self.pipeline.set_bm25_missing(None, why.clone());
                        say(self.ui, Reply::Failed(Part::Bm25, why));
                    }
                }
            }
        }
    }

    /// Writes one grade (or its removal) to the judgments file; the UI shows it once it is
    /// on disk.
    fn grade(&mut self, query: String, passage: usize, grade: Option<u8>) {
        let result = match &mut self.judgments {
            Ok(store) => {
                let id = crate::judgments::passage_id(passage);
                match grade {
                    Some(g) => store.grade(&query, &id, g),
                    None => store.remove(&query, &id),
                }
                .map_err(|e| format!("{e}"))
            }
            Err(why) => Err(format!("judgments unavailable: {why}")),
        };
        say(
            self.ui,
            Reply::Graded {
                query,
                passage,
                grade,
                result,
            },
        );
    }

    /// Every setting that shapes the evaluation's numbers, for its header.
    pub(super) fn settings_line(&self) -> String {
        let p: &SearchParams = &self.pipeline.params;
        let analyzer = self
            .pipeline
            .bm25(None)
            .map_or_else(|_| "none".into(), |b| b.analyzer().describe());
        let pooling = self
            .encoder
            .as_ref()
            .map_or_else(|| "-".into(), |e| e.identity());
        let fusion = match p.fusion {
            crate::fusion::FusionMethod::Rrf => format!(
                "RRF k {} over top {} · weights dense {} BM25 {}",
                p.rrf.k, p.rrf.depth, p.dense_weight, p.bm25_weight
            ),
            crate::fusion::FusionMethod::Convex => format!(
                "convex alpha {} {} over top {}",
                p.alpha,
                p.norm.name(),
                p.rrf.depth
            ),
        };
        format!(
            "{fusion} · rerank depth {} · BM25 {} · encoder {} · {}",
            p.rerank_depth, analyzer, pooling, self.runtime
        )
    }
}

#[cfg(test)]
#[path = "tests/worker.rs"]
mod tests;
