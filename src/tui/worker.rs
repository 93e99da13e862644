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

use super::control::{Cancelled, Control};
use super::models::{reporter, ModelJob, ModelThread, SharedEncoder};
use super::protocol::{Cmd, EvalLabels, EvalOutcome, FusionLab, Msg, Part, Reply, SparseOutcome};
use super::rerank::{Job, ProxyReranker, RerankThread};
use crate::bm25::{Analyzer, Bm25Index};
use crate::data::Corpus;
use crate::dense::DenseIndex;
use crate::eval::{EvalQuery, GradedSettings, LabelsReport, Methods};
use crate::judgments::Judgments;
use crate::metrics::Gain;
use crate::model::{Embedder, Embeddings, Progress, Reranker, Side};
use crate::pipeline::{Method, MethodResult, Pipeline, SearchParams};
use crate::session::{self, Event, Options};
use crate::teach::{self, DocFreq};

/// What reaches the worker: the UI's commands and the other threads' results.
pub enum Inbox {
    Cmd(Cmd),
    Dense(Result<(SharedEncoder, DenseIndex), String>),
    Reranker(Result<Option<Box<dyn Reranker>>, String>),
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
            move || work(&opts, &ui, inbox, rx, c),
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

fn say(ui: &Sender<Msg>, reply: Reply) {
    // The UI is gone only when quitting; nothing to do then.
    let _ = ui.send(Msg::Worker(reply));
}

fn work(
    opts: &Options,
    ui: &Sender<Msg>,
    inbox: Sender<Inbox>,
    rx: Receiver<Inbox>,
    control: Arc<Control>,
) {
    let mut report = reporter(ui, &control);
    if let Err(e) = opts.validate() {
        fail_all(ui, &format!("{e:#}"));
        return;
    }
    let runtime = opts.runtime().map_err(|e| format!("{e:#}"));
    say(
        ui,
        Reply::Device(match &runtime {
            Ok(r) => r.describe(),
            Err(_) => "no device".into(),
        }),
    );
    let corpus = match session::load_corpus(opts, &mut report) {
        Ok(c) => Arc::new(c),
        Err(e) => {
            report(Event::Finish);
            fail_all(ui, &format!("{e:#}"));
            return;
        }
    };
    tracing::info!("{}", corpus.summary());
    say(ui, Reply::Corpus(corpus.clone()));
    let judgments = open_judgments(opts, &corpus, ui);
    let mut pipeline = Pipeline::new(corpus.clone(), opts.retrieval.params());

    let analyzer = session::analyzer(opts).unwrap_or_else(|e| {
        report(Event::Warning(format!(
            "{e:#}; BM25 uses the bigram analyzer"
        )));
        Analyzer::Bigram
    });
    match session::build_bm25(&corpus, analyzer.clone(), &mut report) {
        Ok(index) => {
            warn_about_analyzer(&analyzer, &corpus, &mut report);
            pipeline.set_bm25(Arc::new(index));
            say(ui, Reply::Bm25Ready(analyzer));
        }
        Err(e) => {
            report(Event::Finish);
            pipeline.bm25_missing = format!("{e:#}");
            say(ui, Reply::Failed(Part::Bm25, pipeline.bm25_missing.clone()));
        }
    }

    let (rerank_tx, rerank_rx) = channel();
    let rerank = RerankThread::new(rerank_rx, ui.clone(), control.clone());
    let failed = ui.clone();
    if let Err(e) = control.spawn(
        "bigyo-rerank",
        move || rerank.run(),
        move |why| say(&failed, Reply::Failed(Part::Reranker, why)),
    ) {
        say(
            ui,
            Reply::Failed(Part::Reranker, format!("starting the rerank thread: {e}")),
        );
    }

    let mut models = None;
    match runtime {
        Ok(runtime) => {
            let (jobs_tx, jobs) = channel();
            let thread = ModelThread {
                opts: opts.clone(),
                corpus: corpus.clone(),
                runtime,
                ui: ui.clone(),
                inbox: inbox.clone(),
                control: control.clone(),
            };
            let failed = ui.clone();
            let spawned = control.spawn(
                "bigyo-models",
                move || thread.run(jobs),
                move |why| say(&failed, Reply::Failed(Part::Dense, why)),
            );
            match spawned {
                Ok(()) => models = Some(jobs_tx),
                Err(e) => {
                    let why = format!("starting the model thread: {e}");
                    pipeline.dense_missing = why.clone();
                    say(ui, Reply::Failed(Part::Dense, why.clone()));
                    let _ = rerank_tx.send(Job::Model(Err(why.clone())));
                    say(ui, Reply::Failed(Part::Reranker, why));
                }
            }
        }
        Err(why) => {
            pipeline.dense_missing = why.clone();
            say(ui, Reply::Failed(Part::Dense, why.clone()));
            let _ = rerank_tx.send(Job::Model(Err(why.clone())));
            say(ui, Reply::Failed(Part::Reranker, why));
        }
    }

    let mut worker = Worker {
        opts,
        pipeline,
        ui,
        control: control.clone(),
        inbox,
        models,
        rerank: rerank_tx,
        encoder: None,
        reranker_state: Err("the reranker is still loading".into()),
        doc_freq: None,
        bm25_generation: 0,
        previous_bm25: None,
        eval_cancel: None,
        runtime: runtime_label(opts),
        judgments,
    };
    worker.serve(&rx);
}

fn runtime_label(opts: &Options) -> String {
    opts.runtime().map_or_else(
        |_| "no device".into(),
        |r| format!("{} {:?}", r.describe(), r.kind),
    )
}

/// Opens the corpus's judgments file and sends its grades to the UI; a torn or malformed
/// line is a warning, never fatal.
fn open_judgments(opts: &Options, corpus: &Corpus, ui: &Sender<Msg>) -> Result<Judgments, String> {
    let path = session::judgments_path(opts, corpus);
    match Judgments::open(&path) {
        Ok((store, warnings)) => {
            for w in warnings {
                say(
                    ui,
                    Reply::Session(Event::Warning(format!("{} {w}", path.display()))),
                );
            }
            let mut grades: BTreeMap<String, BTreeMap<usize, u8>> = BTreeMap::new();
            for (_, query, passage, grade) in store.all() {
                if let Some(p) = crate::judgments::parse_passage_id(&passage, corpus.passages.len())
                {
                    grades
                        .entry(crate::judgments::normalize_query(&query))
                        .or_default()
                        .insert(p, grade);
                }
            }
            say(
                ui,
                Reply::Judgments {
                    file: path.display().to_string(),
                    grades,
                },
            );
            Ok(store)
        }
        Err(e) => {
            let why = format!("{}: {e}", path.display());
            say(
                ui,
                Reply::Session(Event::Warning(format!("judgments: {why}"))),
            );
            Err(why)
        }
    }
}

/// Marks every part failed when there is no corpus to work on.
fn fail_all(ui: &Sender<Msg>, why: &str) {
    say(ui, Reply::Failed(Part::Corpus, why.to_owned()));
    for part in [Part::Bm25, Part::Dense, Part::Reranker] {
        say(ui, Reply::Failed(part, "no corpus".into()));
    }
}

/// The wordpiece analyzer over a tokenizer that does not know Korean ruins BM25 quietly:
/// say so, naming the tokenizer.
fn warn_about_analyzer(analyzer: &Analyzer, corpus: &Corpus, report: &mut impl FnMut(Event)) {
    let texts: Vec<&str> = corpus.texts().into_iter().take(200).collect();
    if let Some(w) = analyzer.coverage_warning(&texts) {
        report(Event::Warning(w));
    }
}

/// The worker's state: the pipeline and the ways to the other threads.
struct Worker<'a> {
    opts: &'a Options,
    pipeline: Pipeline,
    ui: &'a Sender<Msg>,
    control: Arc<Control>,
    /// The worker's own inbox, for the threads it starts to answer through.
    inbox: Sender<Inbox>,
    /// `None` when the model thread could not start (no device).
    models: Option<Sender<ModelJob>>,
    rerank: Sender<Job>,
    /// The bi-encoder, for the evaluation's question embeddings.
    encoder: Option<SharedEncoder>,
    /// Whether a query's hybrid list goes to the rerank thread, or why not.
    reranker_state: Result<String, String>,
    /// Document frequencies for the playground's IDF, with the analyzer they were fitted with.
    doc_freq: Option<(String, DocFreq)>,
    /// The newest analyzer switch; older builds arriving late are dropped.
    bm25_generation: u64,
    /// The index in use before a switch, put back when the new one cannot be built.
    previous_bm25: Option<Arc<Bm25Index>>,
    /// The running evaluation's cancel flag.
    eval_cancel: Option<Arc<AtomicBool>>,
    /// Device and dtype, for the evaluation header.
    runtime: String,
    /// The corpus's relevance judgments, or why they cannot be kept.
    judgments: Result<Judgments, String>,
}

impl Worker<'_> {
    /// Serves commands until the UI quits. Of several queued searches only the newest runs.
    fn serve(&mut self, rx: &Receiver<Inbox>) {
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
                        self.pipeline.set_dense(Box::new(encoder.clone()), index);
                        self.encoder = Some(encoder);
                        say(self.ui, Reply::DenseReady);
                    }
                    Inbox::Dense(Err(why)) => {
                        self.pipeline.dense_missing = why.clone();
                        say(self.ui, Reply::Failed(Part::Dense, why));
                    }
                    Inbox::Reranker(r) => self.set_reranker(r),
                    Inbox::Bm25 { generation, built } => self.bm25_built(generation, built),
                }
            }
        }
    }

    fn command(&mut self, cmd: Cmd) {
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
            Cmd::SetPooling(p) => self.set_pooling(p),
            Cmd::Search { .. } | Cmd::Quit => {}
        }
    }

    /// Dense, BM25 and hybrid go to the UI at once; the hybrid top M goes to the rerank
    /// thread, whose answer follows.
    fn search(&mut self, generation: u64, query: String) {
        self.control.latest.store(generation, Ordering::Relaxed);
        let mut results = self
            .pipeline
            .search(&query, &[Method::Dense, Method::Bm25, Method::Hybrid]);
        let blank = query.trim().is_empty();
        let job = match (
            &self.reranker_state,
            self.pipeline.rerank_candidates(&results),
        ) {
            _ if blank => Err(MethodResult::empty(Method::Rerank)),
            (Err(why), _) => Err(MethodResult::failed(Method::Rerank, why.clone())),
            (Ok(_), Err(why)) => Err(MethodResult::failed(Method::Rerank, why)),
            (Ok(_), Ok(candidates)) if candidates.is_empty() => {
                Err(MethodResult::empty(Method::Rerank))
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
                        Method::Rerank,
                        "the rerank thread has stopped".into(),
                    ),
                    passes: 0,
                },
            );
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
                    result: Err(self.pipeline.dense_missing.clone()),
                },
            );
        }
        let result = self.sparse(&sentences);
        say(self.ui, Reply::PlaygroundSparse { generation, result });
    }

    fn sparse(&mut self, sentences: &[String]) -> Result<SparseOutcome, String> {
        let analyzer = self
            .pipeline
            .bm25()
            .map(|b| b.analyzer().clone())
            .ok_or_else(|| format!("no BM25 analyzer: {}", self.pipeline.bm25_missing))?;
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
        // The evaluation's vectors would mix two poolings.
        self.command(Cmd::CancelEval);
        let models = match &self.models {
            Some(m) if self.pipeline.has_dense() => m,
            // The UI switches only a ready encoder; whatever happened, it must not wait.
            _ => {
                let why = self.pipeline.dense_missing.clone();
                say(self.ui, Reply::Failed(Part::Dense, why));
                return;
            }
        };
        let taken = self.pipeline.take_dense();
        self.pipeline.dense_missing =
            format!("embedding the passages again with {pooling} pooling");
        if models.send(ModelJob::Repool(pooling)).is_err() {
            if let Some((encoder, index)) = taken {
                self.pipeline.set_dense(encoder, index);
            }
            say(self.ui, Reply::DenseReady);
        }
    }

    /// Builds BM25 with another analyzer on a thread of its own; queries meanwhile run
    /// without BM25 (the pane says why), and the old index comes back if the build fails.
    fn rebuild_bm25(&mut self, kind: crate::bm25::AnalyzerKind) {
        self.bm25_generation += 1;
        let generation = self.bm25_generation;
        if let Some(old) = self.pipeline.take_bm25() {
            self.previous_bm25 = Some(old);
        }
        self.pipeline.bm25_missing = format!("rebuilding the BM25 index with the {kind} analyzer");
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
                self.pipeline.set_bm25(Arc::new(index));
                say(self.ui, Reply::Bm25Ready(analyzer));
            }
            Err(why) => {
                say(self.ui, Reply::Session(Event::Warning(why.clone())));
                match self.previous_bm25.take() {
                    Some(old) => {
                        let analyzer = old.analyzer().clone();
                        self.pipeline.set_bm25(old);
                        say(self.ui, Reply::Bm25Ready(analyzer));
                    }
                    None => {
                        self.pipeline.bm25_missing = why.clone();
                        say(self.ui, Reply::Failed(Part::Bm25, why));
                    }
                }
            }
        }
    }

    /// Runs the evaluation on a thread of its own over a second pipeline that shares the
    /// indexes and the bi-encoder; its cross-encoder pairs go through the rerank thread,
    /// which scores a query typed meanwhile first.
    fn evaluate(&mut self, generation: u64, labels: EvalLabels) {
        self.command(Cmd::CancelEval);
        let corpus = self.pipeline.corpus.clone();
        let (queries, labels) = match (labels, &self.judgments) {
            (EvalLabels::Judgments, Ok(store)) => {
                let mut report = LabelsReport {
                    source: "judgments",
                    file: Some(store.path().display().to_string()),
                    ndcg_gain: Some(Gain::Linear.name()),
                    rel_threshold: Some(1),
                    ..Default::default()
                };
                let queries = crate::eval::judged_queries(&corpus, store, &mut report);
                (queries, report.describe())
            }
            (EvalLabels::Judgments, Err(why)) => {
                say(
                    self.ui,
                    Reply::EvalDone {
                        generation,
                        outcome: Err(format!("no judgments: {why}")),
                    },
                );
                return;
            }
            (EvalLabels::Gold, _) => {
                let queries = crate::eval::gold_queries(&corpus);
                let report = LabelsReport {
                    source: "gold",
                    queries: queries.len(),
                    judgments: queries.len(),
                    ..Default::default()
                };
                (queries, report.describe())
            }
        };
        if queries.is_empty() {
            say(
                self.ui,
                Reply::EvalDone {
                    generation,
                    outcome: Err(format!(
                        "nothing to evaluate on: {labels}; grade hits (m then 0-3 in a pane, or the judge view, F6)"
                    )),
                },
            );
            return;
        }
        let cancel = Arc::new(AtomicBool::new(false));
        self.eval_cancel = Some(cancel.clone());
        let mut pipeline =
            Pipeline::new(self.pipeline.corpus.clone(), self.pipeline.params.clone());
        if let Some(b) = self.pipeline.bm25() {
            pipeline.set_bm25(b.clone());
        }
        pipeline.bm25_missing = self.pipeline.bm25_missing.clone();
        pipeline.dense_missing = self.pipeline.dense_missing.clone();
        if let (Some(encoder), Some(index)) = (&self.encoder, self.pipeline.dense_index()) {
            let chunked = ChunkedEncoder {
                inner: encoder.clone(),
                cancel: cancel.clone(),
                control: self.control.clone(),
            };
            pipeline.set_dense(Box::new(chunked), index.share());
        }
        match &self.reranker_state {
            Ok(identity) => pipeline.set_reranker(Box::new(ProxyReranker {
                jobs: self.rerank.clone(),
                cancel: cancel.clone(),
                control: self.control.clone(),
                identity: identity.clone(),
            })),
            Err(why) => pipeline.reranker_missing = why.clone(),
        }
        let job = EvalJob {
            generation,
            queries,
            labels,
            settings: self.settings_line(),
        };
        let ui = self.ui.clone();
        let control = self.control.clone();
        let failed = self.ui.clone();
        let spawned = self.control.spawn(
            "bigyo-eval",
            move || evaluate(pipeline, &ui, &cancel, &control, job),
            move |why| {
                say(
                    &failed,
                    Reply::EvalDone {
                        generation,
                        outcome: Err(why),
                    },
                )
            },
        );
        if let Err(e) = spawned {
            say(
                self.ui,
                Reply::EvalDone {
                    generation,
                    outcome: Err(format!("starting the evaluation thread: {e}")),
                },
            );
        }
    }

    /// The fusion lab on a thread of its own: each question's lists once (the questions are
    /// encoded a few at a time, so a typed query is encoded between them), then the grid on a
    /// seeded half, reported on the other half.
    fn tune(&mut self, generation: u64) {
        let (Some(encoder), Some(index), Some(bm25)) = (
            self.encoder.clone(),
            self.pipeline.dense_index().map(DenseIndex::share),
            self.pipeline.bm25().cloned(),
        ) else {
            say(
                self.ui,
                Reply::Tuned {
                    generation,
                    result: Err(format!(
                        "the fusion lab needs both lists: {}",
                        if self.pipeline.bm25().is_none() {
                            self.pipeline.bm25_missing.clone()
                        } else {
                            self.pipeline.dense_missing.clone()
                        }
                    )),
                },
            );
            return;
        };
        let corpus = self.pipeline.corpus.clone();
        let depth = self.pipeline.params.rrf.depth;
        let ui = self.ui.clone();
        let control = self.control.clone();
        let failed = self.ui.clone();
        let spawned = self.control.spawn(
            "bigyo-tune",
            move || {
                let mut chunked = ChunkedEncoder {
                    inner: encoder,
                    cancel: Arc::new(AtomicBool::new(false)),
                    control: control.clone(),
                };
                let result = fusion_lab(
                    &corpus,
                    &mut chunked,
                    &index,
                    &bm25,
                    depth,
                    &mut |done, total| {
                        control.check_quit();
                        say(
                            &ui,
                            Reply::TuneProgress {
                                generation,
                                done,
                                total,
                            },
                        );
                    },
                );
                say(&ui, Reply::Tuned { generation, result });
            },
            move |why| {
                say(
                    &failed,
                    Reply::Tuned {
                        generation,
                        result: Err(why),
                    },
                )
            },
        );
        if let Err(e) = spawned {
            say(
                self.ui,
                Reply::Tuned {
                    generation,
                    result: Err(format!("starting the fusion lab: {e}")),
                },
            );
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
    fn settings_line(&self) -> String {
        let p: &SearchParams = &self.pipeline.params;
        let analyzer = self
            .pipeline
            .bm25()
            .map_or_else(|| "none".into(), |b| b.analyzer().describe());
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

/// The evaluation's bi-encoder: the shared encoder, locked for a few questions at a time so
/// that a query typed meanwhile is encoded between chunks.
struct ChunkedEncoder {
    inner: SharedEncoder,
    cancel: Arc<AtomicBool>,
    control: Arc<Control>,
}

impl Embedder for ChunkedEncoder {
    fn identity(&self) -> String {
        self.inner.identity()
    }

    fn dim(&self) -> usize {
        self.inner.dim()
    }

    fn embed(
        &mut self,
        side: Side,
        texts: &[&str],
        progress: &mut dyn FnMut(Progress),
    ) -> crate::model::Result<Embeddings> {
        let mut data = Vec::new();
        let mut dim = self.inner.dim();
        for (i, chunk) in texts.chunks(16).enumerate() {
            super::control::check(&self.cancel);
            self.control.check_quit();
            let e = self.inner.embed(side, chunk, &mut |_| {})?;
            dim = e.dim;
            data.extend(e.data);
            progress(Progress {
                done: (i * 16 + chunk.len()).min(texts.len()),
                total: texts.len(),
            });
        }
        Ok(Embeddings { dim, data })
    }
}

/// The seeded half the fusion lab chooses on (the other half reports), as `bigyo tune`'s
/// defaults.
const LAB_SPLIT: crate::tune::Split = crate::tune::Split::Holdout {
    ratio: 0.5,
    seed: 42,
};

fn fusion_lab(
    corpus: &Corpus,
    encoder: &mut ChunkedEncoder,
    index: &DenseIndex,
    bm25: &Bm25Index,
    depth: usize,
    progress: &mut dyn FnMut(usize, usize),
) -> Result<Box<FusionLab>, String> {
    use crate::tune;
    let questions: Vec<(&str, usize)> = corpus
        .eval_questions()
        .map(|q| (q.text.as_str(), q.passage))
        .collect();
    let queries = tune::query_lists(
        &questions,
        &mut |texts| Ok(encoder.embed(Side::Query, texts, &mut |_| {})?),
        index,
        bm25,
        depth,
        progress,
    )
    .map_err(|e| format!("{e:#}"))?;
    let report = tune::tune(&queries, &tune::grid(depth), LAB_SPLIT).map_err(|e| e.to_string())?;
    let tune_idx = match LAB_SPLIT {
        tune::Split::Holdout { ratio, seed } => {
            tune::holdout(queries.len(), ratio, seed)
                .map_err(|e| e.to_string())?
                .0
        }
        tune::Split::Folds { .. } => (0..queries.len()).collect(),
    };
    let default = crate::fusion::Fusion::Rrf {
        k: 60.0,
        depth,
        dense_weight: 1.0,
        bm25_weight: 1.0,
    };
    let default_test = tune::held_out(&queries, &default, LAB_SPLIT).map_err(|e| e.to_string())?;
    Ok(Box::new(FusionLab {
        tune_baselines: tune::baselines_on(&queries, &tune_idx),
        report,
        default_test,
    }))
}

/// What an evaluation runs on: its queries and the line that names their labels.
struct EvalJob {
    generation: u64,
    queries: Vec<EvalQuery>,
    labels: String,
    settings: String,
}

fn evaluate(
    mut pipeline: Pipeline,
    ui: &Sender<Msg>,
    cancel: &AtomicBool,
    control: &Control,
    job: EvalJob,
) {
    let EvalJob {
        generation,
        queries,
        labels,
        settings,
    } = job;
    let methods: Vec<Method> = Method::ALL.to_vec();
    let outcome = crate::eval::evaluate_on(
        &mut pipeline,
        &methods,
        &queries,
        GradedSettings::default(),
        None,
        &mut |done, total| {
            if cancel.load(Ordering::Relaxed) || control.quitting() {
                std::panic::resume_unwind(Box::new(Cancelled));
            }
            say(
                ui,
                Reply::EvalProgress {
                    generation,
                    done,
                    total,
                },
            )
        },
    )
    .map(|(methods, skipped, outcomes)| {
        let (reports, judged) = match methods {
            Methods::Gold(reports) => (reports, BTreeMap::new()),
            Methods::Graded(graded) => {
                let judged = graded
                    .iter()
                    .map(|(&m, r)| (m, r.metrics.judged_10))
                    .collect();
                let reports = graded
                    .into_iter()
                    .map(|(m, r)| {
                        let g = r.metrics;
                        let metrics = crate::metrics::Metrics {
                            recall_1: g.recall_1,
                            recall_5: g.recall_5,
                            recall_10: g.recall_10,
                            mrr_10: g.mrr_10,
                            ndcg_10: g.ndcg_10,
                        };
                        (
                            m,
                            crate::eval::MethodReport {
                                metrics,
                                qps: r.qps,
                            },
                        )
                    })
                    .collect();
                (reports, judged)
            }
        };
        EvalOutcome {
            questions: queries.len(),
            reports,
            skipped,
            settings,
            labels,
            judged,
            outcomes,
        }
    })
    .map_err(|e| format!("{e:#}"));
    say(
        ui,
        Reply::EvalDone {
            generation,
            outcome,
        },
    );
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, Instant};

    use clap::Parser;

    use super::*;
    use crate::options::{ApiArgs, DataArgs, ModelArgs, RetrievalArgs};

    #[derive(Debug, Parser)]
    struct Cli {
        #[command(flatten)]
        model: ModelArgs,
        #[command(flatten)]
        data: DataArgs,
        #[command(flatten)]
        retrieval: RetrievalArgs,
    }

    fn options() -> Options {
        let cli = Cli::parse_from(["bigyo", "--data", "sample"]);
        Options {
            model: cli.model,
            data: cli.data,
            retrieval: cli.retrieval,
            api: ApiArgs::default(),
            download_progress: false,
        }
    }

    /// The next reply within `wait`, or `None`.
    fn next_reply(ui: &Receiver<Msg>, wait: Duration) -> Option<Reply> {
        match ui.recv_timeout(wait) {
            Ok(Msg::Worker(reply)) => Some(reply),
            _ => None,
        }
    }

    /// An evaluation whose cross-encoder never answers (its pairs wait on a rerank thread
    /// that is not serving) stays running; a query sent meanwhile is answered at once, and
    /// cancelling ends the evaluation's thread.
    #[test]
    fn a_query_sent_during_an_evaluation_is_answered_before_it_ends() {
        let opts = options();
        let corpus = Arc::new(crate::tui::fixture::corpus());
        let mut pipeline = Pipeline::new(corpus.clone(), opts.retrieval.params());
        let index = session::build_bm25(&corpus, Analyzer::Bigram, &mut |_| {}).unwrap();
        pipeline.set_bm25(Arc::new(index));
        pipeline.dense_missing = "no model in this test".into();
        let (ui_tx, ui) = channel();
        let (inbox, rx) = channel();
        let (rerank, stalled) = channel();
        let control = Control::new();
        let (opts, ui_tx, own_inbox, own_control) = (&opts, &ui_tx, inbox.clone(), control.clone());
        std::thread::scope(|s| {
            let serving = s.spawn(move || {
                let mut worker = Worker {
                    opts,
                    pipeline,
                    ui: ui_tx,
                    control: own_control,
                    inbox: own_inbox,
                    models: None,
                    rerank,
                    encoder: None,
                    reranker_state: Ok("a cross-encoder that never answers".into()),
                    doc_freq: None,
                    bm25_generation: 0,
                    previous_bm25: None,
                    eval_cancel: None,
                    runtime: "test".into(),
                    judgments: Err("none in this test".into()),
                };
                worker.serve(&rx);
            });
            let send = |cmd| inbox.send(Inbox::Cmd(cmd)).unwrap();
            send(Cmd::Evaluate {
                generation: 1,
                labels: EvalLabels::Gold,
            });
            // The evaluation's first question reaches the cross-encoder and waits there.
            let Ok(Job::Batch { .. }) = stalled.recv_timeout(Duration::from_secs(10)) else {
                panic!("the evaluation never asked for its rerank scores");
            };
            let asked = Instant::now();
            send(Cmd::Search {
                generation: 7,
                query: "장마 비".into(),
            });
            let answered = loop {
                match next_reply(&ui, Duration::from_secs(10)) {
                    Some(Reply::Results {
                        generation: 7,
                        results,
                        ..
                    }) => break results,
                    Some(Reply::EvalDone { outcome, .. }) => {
                        panic!("the evaluation ended first: {:?}", outcome.err())
                    }
                    Some(_) => {}
                    None => panic!("no answer to the query"),
                }
            };
            assert!(asked.elapsed() < Duration::from_secs(5));
            let bm25 = answered.get(Method::Bm25).unwrap();
            assert_eq!(bm25.hits[0].passage, 0, "{:?}", bm25.hits);
            assert!(!bm25.hits[0].spans.is_empty(), "the hit carries its spans");
            // Still running: cancel it, and its thread ends.
            send(Cmd::CancelEval);
            send(Cmd::Quit);
            serving.join().unwrap();
            assert!(control.shut_down(Duration::from_secs(5)));
            while let Some(reply) = next_reply(&ui, Duration::ZERO) {
                assert!(
                    !matches!(reply, Reply::EvalDone { .. }),
                    "a cancelled evaluation reports nothing"
                );
            }
        });
    }
}
