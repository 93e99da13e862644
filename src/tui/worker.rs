//! The worker: one thread owns the [`Pipeline`] (libtorch tensors are `Send` but not `Sync`)
//! and answers the UI's commands; a second thread loads the models and embeds the passages,
//! then hands them over through the same inbox, so BM25 answers while embedding runs.
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::mpsc::{channel, Receiver, Sender};
use std::sync::Arc;
use std::thread;

use anyhow::{Context, Result};

use super::app::{Cmd, EvalOutcome, Msg, Part, Reply};
use crate::data::Corpus;
use crate::dense::DenseIndex;
use crate::model::{Embedder, Reranker, Runtime};
use crate::pipeline::{Method, Pipeline};
use crate::session::{self, Event, Options};

/// What reaches the worker: the UI's commands and the model thread's results.
pub enum Inbox {
    Cmd(Cmd),
    Dense(Result<(Box<dyn Embedder>, DenseIndex), String>),
    Reranker(Result<Option<Box<dyn Reranker>>, String>),
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
    let runtime = Runtime::resolve(opts.model.device, opts.model.dtype, opts.model.threads)
        .context("choosing the device")
        .map_err(|e| format!("{e:#}"));
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

    match runtime {
        Ok(runtime) => {
            let models = (opts.clone(), corpus.clone(), ui.clone());
            let spawned = thread::Builder::new()
                .name("bigyo-models".into())
                .spawn(move || load_models(&models.0, &models.1, runtime, &models.2, &inbox));
            if let Err(e) = spawned {
                let why = format!("starting the model thread: {e}");
                pipeline.dense_missing = why.clone();
                pipeline.reranker_missing = why.clone();
                say(ui, Reply::Failed(Part::Dense, why.clone()));
                say(ui, Reply::Failed(Part::Reranker, why));
            }
        }
        Err(why) => {
            pipeline.dense_missing = why.clone();
            pipeline.reranker_missing = why.clone();
            say(ui, Reply::Failed(Part::Dense, why.clone()));
            say(ui, Reply::Failed(Part::Reranker, why));
        }
    }

    serve(opts, &mut pipeline, ui, &rx);
}

/// Marks every part failed when there is no corpus to work on.
fn fail_all(ui: &Sender<Msg>, why: &str) {
    say(ui, Reply::Failed(Part::Corpus, why.to_owned()));
    for part in [Part::Bm25, Part::Dense, Part::Reranker] {
        say(ui, Reply::Failed(part, "no corpus".into()));
    }
}

/// The model thread: bi-encoder and passage embeddings, then the reranker.
fn load_models(
    opts: &Options,
    corpus: &Corpus,
    runtime: Runtime,
    ui: &Sender<Msg>,
    inbox: &Sender<Inbox>,
) {
    let mut report = reporter(ui);
    let mut dense = || -> Result<(Box<dyn Embedder>, DenseIndex)> {
        let mut encoder = session::load_encoder(opts, runtime, None, &mut report)?;
        let cache = session::cache(opts);
        let (index, stats) =
            session::build_dense(corpus, &mut encoder, runtime, cache.as_ref(), &mut report)?;
        tracing::info!(
            "dense index: {} passages in {:.2}s (cached: {})",
            stats.passages,
            stats.seconds,
            stats.from_cache
        );
        Ok((Box::new(encoder), index))
    };
    let dense = dense().map_err(|e| format!("{e:#}"));
    if dense.is_err() {
        report(Event::Finish);
    }
    if inbox.send(Inbox::Dense(dense)).is_err() {
        return;
    }
    let reranker = session::load_reranker(opts, runtime, &mut report)
        .map(|r| r.map(|r| Box::new(r) as Box<dyn Reranker>))
        .map_err(|e| format!("{e:#}"));
    if reranker.is_err() {
        report(Event::Finish);
    }
    let _ = inbox.send(Inbox::Reranker(reranker));
}

/// Serves commands until the UI quits. Of several queued searches only the newest runs.
fn serve(opts: &Options, pipeline: &mut Pipeline, ui: &Sender<Msg>, rx: &Receiver<Inbox>) {
    while let Ok(first) = rx.recv() {
        let mut batch = vec![first];
        batch.extend(rx.try_iter());
        let newest = batch
            .iter()
            .rposition(|m| matches!(m, Inbox::Cmd(Cmd::Search { .. })));
        for (i, m) in batch.into_iter().enumerate() {
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
                Inbox::Cmd(Cmd::SetAnalyzer(kind)) => rebuild_bm25(opts, pipeline, ui, kind),
                Inbox::Cmd(Cmd::Evaluate) => evaluate(pipeline, ui),
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
