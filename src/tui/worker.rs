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
use super::models::{reporter, Extra, ModelJob, ModelThread, SharedEmbedder, SharedEncoder};
use super::protocol::{Cmd, Msg, Part, Reply, SparseOutcome};
use super::rerank::{Job, RerankThread};
use crate::bm25::{Analyzer, Bm25Index};
use crate::data::Corpus;
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

pub(super) fn say(ui: &Sender<Msg>, reply: Reply) {
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
    let Some((mut pipeline, backend)) = start_pipeline(opts, &corpus, ui, &mut report) else {
        return;
    };

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

    let models = start_models(
        opts,
        &corpus,
        runtime,
        (&mut pipeline, backend),
        (ui, &inbox, &control),
        &rerank_tx,
    );

    let mut worker = Worker {
        opts,
        pipeline,
        ui,
        control: control.clone(),
        inbox,
        models,
        rerank: rerank_tx,
        encoder: None,
        extras: Vec::new(),
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

/// Starts the model thread (the encoders, the passages' embeddings, the reranker); without a
/// device or a thread, the dense and rerank panes say why.
fn start_models(
    opts: &Options,
    corpus: &Arc<Corpus>,
    runtime: Result<crate::model::Runtime, String>,
    (pipeline, backend): (&mut Pipeline, Option<Arc<session::Backend>>),
    (ui, inbox, control): (&Sender<Msg>, &Sender<Inbox>, &Arc<Control>),
    rerank: &Sender<Job>,
) -> Option<Sender<ModelJob>> {
    let panes = pipeline.panes().clone();
    let mut fail = |why: String| {
        pipeline.set_dense_missing(&DenseKey::default(), why.clone());
        say(ui, Reply::Failed(Part::Dense, why.clone()));
        let _ = rerank.send(Job::Model(Err(why.clone())));
        say(ui, Reply::Failed(Part::Reranker, why));
        None
    };
    let runtime = match runtime {
        Ok(r) => r,
        Err(why) => return fail(why),
    };
    let (jobs_tx, jobs) = channel();
    let thread = ModelThread {
        opts: opts.clone(),
        panes,
        backend,
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
        Ok(()) => Some(jobs_tx),
        Err(e) => fail(format!("starting the model thread: {e}")),
    }
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

/// The pipeline of the options' panes with its BM25 parts: the backend's (`--backend`, checked
/// before anything is built, as the command line does) and every local analyzer's index; then
/// one answer for the status bar: the session's analyzer (or the first pane's). `None` when
/// the panes or the backend are unusable (every part says why).
fn start_pipeline(
    opts: &Options,
    corpus: &Arc<Corpus>,
    ui: &Sender<Msg>,
    report: &mut impl FnMut(Event),
) -> Option<(Pipeline, Option<Arc<session::Backend>>)> {
    let started = session::panes(opts, None)
        .and_then(|panes| Ok((panes, session::connect_backend(opts, &mut *report)?)));
    let (panes, backend) = match started {
        Ok((panes, backend)) => (panes, backend.map(Arc::new)),
        Err(e) => {
            report(Event::Finish);
            fail_all(ui, &format!("{e:#}"));
            return None;
        }
    };
    let mut pipeline = Pipeline::new(corpus.clone(), opts.retrieval.params(), panes.clone());
    let mut built = Vec::new();
    if let Some(b) = &backend {
        if let Some(w) = b
            .info
            .corpus_warning(&corpus.content_hash(), corpus.passages.len())
        {
            report(Event::Warning(w));
        }
        pipeline.set_backend(b.milvus.clone(), b.analyzer.clone());
        built.push((None, Ok(b.analyzer.clone())));
    }
    for key in panes.bm25_keys() {
        if !(key.is_none() && backend.is_some()) {
            built.push((key, build_bm25(opts, corpus, key, &mut pipeline, report)));
        }
    }
    built.sort_by_key(|(key, _)| key.is_some());
    match built.into_iter().next() {
        Some((_, Ok(analyzer))) => say(ui, Reply::Bm25Ready(analyzer)),
        Some((_, Err(why))) => say(ui, Reply::Failed(Part::Bm25, why)),
        None => say(ui, Reply::Failed(Part::Bm25, "no pane uses BM25".into())),
    }
    Some((pipeline, backend))
}

/// Builds the BM25 index of one analyzer key into the pipeline; an analyzer that cannot be
/// had falls back to bigram, with a warning.
fn build_bm25(
    opts: &Options,
    corpus: &Corpus,
    key: crate::panes::Bm25Key,
    pipeline: &mut Pipeline,
    report: &mut impl FnMut(Event),
) -> Result<Analyzer, String> {
    let analyzer = session::analyzer_for(opts, key).unwrap_or_else(|e| {
        report(Event::Warning(format!(
            "{e:#}; BM25 uses the bigram analyzer"
        )));
        Analyzer::Bigram
    });
    match session::build_bm25(corpus, analyzer.clone(), report) {
        Ok(index) => {
            warn_about_analyzer(&analyzer, corpus, report);
            pipeline.set_bm25(key, Arc::new(index));
            Ok(analyzer)
        }
        Err(e) => {
            report(Event::Finish);
            pipeline.set_bm25_missing(key, format!("{e:#}"));
            Err(format!("{e:#}"))
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
    bm25_generation: u64,
    /// The index in use before a switch, put back when the new one cannot be built.
    previous_bm25: Option<Arc<Bm25Index>>,
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
        let rerank = panes.first(Kind::Rerank).unwrap_or(PaneId(3));
        let mut results = self.pipeline.search_with(&query, &[], &fast);
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
                self.extras.push((key, e.encoder));
                say(self.ui, Reply::Session(Event::Note(e.line)));
            }
            Err(why) => {
                self.pipeline.set_dense_missing(&key, why.clone());
                say(self.ui, Reply::Session(Event::Warning(why)));
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
