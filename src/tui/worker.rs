//! The worker: one thread owns the [`Pipeline`] (libtorch tensors are `Send` but not `Sync`)
//! and answers the UI's commands; a second thread, the model thread, loads the models and
//! embeds the passages, then hands them over through the same inbox, so BM25 answers while
//! embedding runs. The model thread stays: it embeds the playground's sentences and, for a
//! pooling switch, embeds the passages again while the worker keeps serving BM25.
use std::collections::BTreeMap;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::mpsc::{channel, Receiver, Sender};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::thread;

use anyhow::{Context, Result};

use super::app::{Cmd, DenseOutcome, EvalOutcome, Msg, Part, PoolingState, Reply, SparseOutcome};
use crate::data::Corpus;
use crate::dense::DenseIndex;
use crate::model::{
    Embedder, Embeddings, Pooling, Progress, Reranker, Runtime, SentenceEncoder, Side,
};
use crate::pipeline::{Method, Pipeline};
use crate::session::{self, Event, Options};
use crate::teach::{self, DocFreq};

/// What reaches the worker: the UI's commands and the model thread's results.
pub enum Inbox {
    Cmd(Cmd),
    Dense(Result<(Box<dyn Embedder>, DenseIndex), String>),
    Reranker(Result<Option<Box<dyn Reranker>>, String>),
}

/// What the worker asks of the model thread once the models are loaded.
enum ModelJob {
    Similar {
        generation: u64,
        sentences: Vec<String>,
    },
    /// Embed the passages with this pooling and send the new dense index to the worker.
    Repool(Pooling),
}

/// The bi-encoder, shared by the pipeline (query embeddings) and the model thread (the
/// playground, re-embedding). The worker takes the dense index out of the pipeline before
/// the model thread changes the pooling, so a query never meets passages pooled otherwise.
#[derive(Clone)]
struct SharedEncoder(Arc<Mutex<SentenceEncoder>>);

impl SharedEncoder {
    fn lock(&self) -> MutexGuard<'_, SentenceEncoder> {
        // A panic mid-embedding leaves the encoder's weights as they were.
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Embedder for SharedEncoder {
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
}

/// Starts the worker; it builds the session stage by stage, reporting to `ui`.
pub fn spawn(opts: Options, ui: Sender<Msg>) -> Result<Sender<Inbox>> {
    let (tx, rx) = channel();
    let inbox = tx.clone();
    thread::Builder::new()
        .name("bigyo-worker".into())
        .spawn(move || {
            let outcome = catch_unwind(AssertUnwindSafe(|| work(&opts, &ui, inbox, rx)));
            if let Err(panic) = outcome {
                let why = panic
                    .downcast_ref::<String>()
                    .cloned()
                    .or_else(|| panic.downcast_ref::<&str>().map(|s| (*s).to_owned()))
                    .unwrap_or_else(|| "a panic".into());
                tracing::error!("the worker stopped: {why}");
                say(
                    &ui,
                    Reply::Failed(Part::Corpus, format!("the worker stopped: {why}")),
                );
            }
        })
        .context("starting the worker thread")?;
    Ok(tx)
}

fn say(ui: &Sender<Msg>, reply: Reply) {
    // The UI is gone only when quitting; nothing to do then.
    let _ = ui.send(Msg::Worker(reply));
}

fn reporter(ui: &Sender<Msg>) -> impl FnMut(Event) + '_ {
    move |e| {
        if let Event::Warning(w) = &e {
            tracing::warn!("{w}");
        }
        say(ui, Reply::Session(e))
    }
}

fn work(opts: &Options, ui: &Sender<Msg>, inbox: Sender<Inbox>, rx: Receiver<Inbox>) {
    let mut report = reporter(ui);
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
    let mut pipeline = Pipeline::new(corpus.clone(), opts.retrieval.params());

    let analyzer = session::analyzer(opts).unwrap_or_else(|e| {
        report(Event::Warning(format!(
            "{e:#}; BM25 uses the bigram analyzer"
        )));
        crate::bm25::Analyzer::Bigram
    });
    match session::build_bm25(&corpus, analyzer.clone(), &mut report) {
        Ok(index) => {
            pipeline.set_bm25(Arc::new(index));
            say(ui, Reply::Bm25Ready(analyzer));
        }
        Err(e) => {
            report(Event::Finish);
            pipeline.bm25_missing = format!("{e:#}");
            say(ui, Reply::Failed(Part::Bm25, pipeline.bm25_missing.clone()));
        }
    }

    let mut models = None;
    match runtime {
        Ok(runtime) => {
            let (jobs_tx, jobs) = channel();
            let args = (opts.clone(), corpus.clone(), ui.clone());
            let spawned = thread::Builder::new()
                .name("bigyo-models".into())
                .spawn(move || {
                    let (opts, corpus, ui) = args;
                    let encoder = load_models(&opts, &corpus, runtime, &ui, &inbox);
                    serve_models(&opts, &corpus, runtime, &ui, &inbox, encoder, &jobs);
                });
            match spawned {
                Ok(_) => models = Some(jobs_tx),
                Err(e) => {
                    let why = format!("starting the model thread: {e}");
                    pipeline.dense_missing = why.clone();
                    pipeline.reranker_missing = why.clone();
                    say(ui, Reply::Failed(Part::Dense, why.clone()));
                    say(ui, Reply::Failed(Part::Reranker, why));
                }
            }
        }
        Err(why) => {
            pipeline.dense_missing = why.clone();
            pipeline.reranker_missing = why.clone();
            say(ui, Reply::Failed(Part::Dense, why.clone()));
            say(ui, Reply::Failed(Part::Reranker, why));
        }
    }

    let mut worker = Worker {
        opts,
        pipeline,
        ui,
        models,
        doc_freq: None,
    };
    worker.serve(&rx);
}

/// Marks every part failed when there is no corpus to work on.
fn fail_all(ui: &Sender<Msg>, why: &str) {
    say(ui, Reply::Failed(Part::Corpus, why.to_owned()));
    for part in [Part::Bm25, Part::Dense, Part::Reranker] {
        say(ui, Reply::Failed(part, "no corpus".into()));
    }
}

/// The model thread's start: bi-encoder and passage embeddings, then the reranker. Returns
/// the encoder for later jobs, or why there is none.
fn load_models(
    opts: &Options,
    corpus: &Corpus,
    runtime: Runtime,
    ui: &Sender<Msg>,
    inbox: &Sender<Inbox>,
) -> Result<SharedEncoder, String> {
    let mut report = reporter(ui);
    let mut dense = || -> Result<(SharedEncoder, DenseIndex)> {
        let pooling = opts.pooling()?;
        let mut encoder = session::load_encoder(opts, runtime, pooling, &mut report)?;
        let cache = session::cache(opts);
        let (index, stats) =
            session::build_dense(corpus, &mut encoder, runtime, cache.as_ref(), &mut report)?;
        tracing::info!(
            "dense index: {} passages in {:.2}s (cached: {})",
            stats.passages,
            stats.seconds,
            stats.from_cache
        );
        Ok((SharedEncoder(Arc::new(Mutex::new(encoder))), index))
    };
    let dense = dense().map_err(|e| format!("{e:#}"));
    let encoder = match dense {
        Ok((encoder, index)) => {
            say(ui, Reply::Pooling(pooling_state(&encoder)));
            let _ = inbox.send(Inbox::Dense(Ok((Box::new(encoder.clone()), index))));
            Ok(encoder)
        }
        Err(why) => {
            report(Event::Finish);
            let _ = inbox.send(Inbox::Dense(Err(why.clone())));
            Err(why)
        }
    };
    let reranker = session::load_reranker(opts, runtime, &mut report)
        .map(|r| r.map(|r| Box::new(r) as Box<dyn Reranker>))
        .map_err(|e| format!("{e:#}"));
    if reranker.is_err() {
        report(Event::Finish);
    }
    let _ = inbox.send(Inbox::Reranker(reranker));
    encoder
}

fn pooling_state(encoder: &SharedEncoder) -> PoolingState {
    let e = encoder.lock();
    PoolingState {
        current: e.pooling().clone(),
        default: e.default_pooling().clone(),
    }
}

/// The model thread after loading: the playground's embeddings and pooling switches, in
/// order, until the worker goes away.
fn serve_models(
    opts: &Options,
    corpus: &Corpus,
    runtime: Runtime,
    ui: &Sender<Msg>,
    inbox: &Sender<Inbox>,
    encoder: Result<SharedEncoder, String>,
    jobs: &Receiver<ModelJob>,
) {
    while let Ok(job) = jobs.recv() {
        match job {
            ModelJob::Similar {
                generation,
                sentences,
            } => {
                let result = match &encoder {
                    Ok(e) => dense_matrix(e, &sentences),
                    Err(why) => Err(format!("no encoder: {why}")),
                };
                say(ui, Reply::PlaygroundDense { generation, result });
            }
            ModelJob::Repool(pooling) => {
                let dense = match &encoder {
                    Ok(e) => repool(opts, corpus, runtime, ui, e, pooling),
                    Err(why) => Err(format!("no encoder: {why}")),
                };
                if let Ok(e) = &encoder {
                    say(ui, Reply::Pooling(pooling_state(e)));
                }
                if inbox.send(Inbox::Dense(dense)).is_err() {
                    return;
                }
            }
        }
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

/// Switches the encoder's pooling and embeds the passages again (each pooling has its own
/// cache entry, since the encoder's identity names it). On failure the previous pooling
/// comes back, from the cache when it was there.
fn repool(
    opts: &Options,
    corpus: &Corpus,
    runtime: Runtime,
    ui: &Sender<Msg>,
    encoder: &SharedEncoder,
    pooling: Pooling,
) -> Result<(Box<dyn Embedder>, DenseIndex), String> {
    let mut report = reporter(ui);
    let cache = session::cache(opts);
    let mut e = encoder.lock();
    let previous = e.pooling().clone();
    e.set_pooling(pooling.clone());
    let built = session::build_dense(corpus, &mut *e, runtime, cache.as_ref(), &mut report);
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
            session::build_dense(corpus, &mut *e, runtime, cache.as_ref(), &mut report)
                .map_err(|e| format!("{e:#}"))?
                .0
        }
    };
    drop(e);
    Ok((Box::new(encoder.clone()), index))
}

/// The worker's state: the pipeline and a way to the model thread.
struct Worker<'a> {
    opts: &'a Options,
    pipeline: Pipeline,
    ui: &'a Sender<Msg>,
    /// `None` when the model thread could not start (no device).
    models: Option<Sender<ModelJob>>,
    /// Document frequencies for the playground's IDF, with the analyzer they were fitted with.
    doc_freq: Option<(String, DocFreq)>,
}

impl Worker<'_> {
    /// Serves commands until the UI quits. Of several queued searches only the newest runs.
    fn serve(&mut self, rx: &Receiver<Inbox>) {
        let ui = self.ui;
        while let Ok(first) = rx.recv() {
            let mut batch = vec![first];
            batch.extend(rx.try_iter());
            let newest = batch
                .iter()
                .rposition(|m| matches!(m, Inbox::Cmd(Cmd::Search { .. })));
            for (i, m) in batch.into_iter().enumerate() {
                let pipeline = &mut self.pipeline;
                match m {
                    Inbox::Cmd(Cmd::Search { generation, query }) => {
                        if Some(i) == newest {
                            let results = pipeline.search(&query, &Method::ALL);
                            say(
                                ui,
                                Reply::Results {
                                    generation,
                                    results,
                                },
                            );
                        }
                    }
                    Inbox::Cmd(Cmd::SetParams(p)) => pipeline.params = p,
                    Inbox::Cmd(Cmd::SetAnalyzer(kind)) => {
                        rebuild_bm25(self.opts, pipeline, ui, kind)
                    }
                    Inbox::Cmd(Cmd::Evaluate) => evaluate(pipeline, ui),
                    Inbox::Cmd(Cmd::Similar {
                        generation,
                        sentences,
                    }) => self.similar(generation, sentences),
                    Inbox::Cmd(Cmd::SetPooling(p)) => self.set_pooling(p),
                    Inbox::Cmd(Cmd::Quit) => return,
                    Inbox::Dense(Ok((encoder, index))) => {
                        pipeline.set_dense(encoder, index);
                        say(ui, Reply::DenseReady);
                    }
                    Inbox::Dense(Err(why)) => {
                        pipeline.dense_missing = why.clone();
                        say(ui, Reply::Failed(Part::Dense, why));
                    }
                    Inbox::Reranker(Ok(Some(r))) => {
                        pipeline.set_reranker(r);
                        say(ui, Reply::RerankerReady);
                    }
                    Inbox::Reranker(Ok(None)) => {
                        pipeline.reranker_missing = "--reranker none".into();
                        say(ui, Reply::RerankerDisabled);
                    }
                    Inbox::Reranker(Err(why)) => {
                        pipeline.reranker_missing = why.clone();
                        say(ui, Reply::Failed(Part::Reranker, why));
                    }
                }
            }
        }
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
        Ok(SparseOutcome {
            matrices,
            idf: format!("IDF over {} passages, analyzer {key}", df.documents),
        })
    }

    /// Takes the dense index out of the pipeline (dense and the dense half of hybrid say why
    /// meanwhile; BM25 answers) and asks the model thread for one built with `pooling`.
    fn set_pooling(&mut self, pooling: Pooling) {
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
}

/// Rebuilds BM25 with another analyzer; on failure the old index stays.
fn rebuild_bm25(
    opts: &Options,
    pipeline: &mut Pipeline,
    ui: &Sender<Msg>,
    kind: crate::bm25::AnalyzerKind,
) {
    let mut report = reporter(ui);
    let mut o = opts.clone();
    o.retrieval.bm25_analyzer = kind;
    let corpus = pipeline.corpus.clone();
    let built = session::analyzer(&o)
        .and_then(|a| session::build_bm25(&corpus, a.clone(), &mut report).map(|index| (a, index)));
    match built {
        Ok((analyzer, index)) => {
            pipeline.set_bm25(Arc::new(index));
            say(ui, Reply::Bm25Ready(analyzer));
        }
        Err(e) => {
            report(Event::Finish);
            report(Event::Warning(format!(
                "could not switch BM25 to {kind}: {e:#}"
            )));
            match pipeline.bm25() {
                Some(old) => say(ui, Reply::Bm25Ready(old.analyzer().clone())),
                None => say(ui, Reply::Failed(Part::Bm25, format!("{e:#}"))),
            }
        }
    }
}

fn evaluate(pipeline: &mut Pipeline, ui: &Sender<Msg>) {
    let methods: Vec<Method> = Method::ALL.to_vec();
    let questions = pipeline.corpus.eval_questions().count();
    let outcome = crate::eval::evaluate(pipeline, &methods, None, &mut |done, total| {
        say(ui, Reply::EvalProgress { done, total })
    })
    .map(|(reports, skipped)| EvalOutcome {
        questions,
        reports,
        skipped,
    })
    .map_err(|e| format!("{e:#}"));
    say(ui, Reply::EvalDone(outcome));
}
