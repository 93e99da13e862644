//! The explorer's start-up on the worker thread: options checked, the corpus, the judgments,
//! the pipeline of the panes with every BM25 index (or the Milvus backend), then the rerank
//! and model threads; the worker then serves queries.
use std::collections::{BTreeMap, HashMap};
use std::sync::mpsc::{channel, Receiver, Sender};
use std::sync::Arc;

use anyhow::Context;

use super::control::Control;
use super::inbox::Inbox;
use super::models::{reporter, ModelJob, ModelThread};
use super::protocol::{Msg, Part, Reply};
use super::rerank::{Job, RerankThread};
use super::worker::{say, warn_about_analyzer, Worker};
use crate::bm25::Analyzer;
use crate::data::Corpus;
use crate::judgments::Judgments;
use crate::panes::DenseKey;
use crate::pipeline::{Missing, Phase, Pipeline};
use crate::plan::Plan;
use crate::session::{self, Event, Options};

/// Starts the worker; it builds the session stage by stage, reporting to `ui`, then serves.
pub fn spawn(
    opts: Options,
    (plan, corpus): (Plan, Option<Arc<Corpus>>),
    ui: Sender<Msg>,
    control: Arc<Control>,
) -> anyhow::Result<Sender<Inbox>> {
    let (tx, rx) = channel();
    let inbox = tx.clone();
    let c = control.clone();
    let failed = ui.clone();
    control
        .spawn(
            "bigyo-worker",
            move || work(&opts, (&plan, corpus), &ui, (inbox, rx), c),
            move |why| {
                let why = Missing::failed(Phase::Load, format!("the worker stopped: {why}"));
                say(&failed, Reply::Failed(Part::Corpus, why))
            },
        )
        .context("starting the worker thread")?;
    Ok(tx)
}

/// Runs the plan's jobs on the explorer's threads: the backend, the corpus and every BM25
/// index here (BM25 answers first), the dense keys and the reranker on the model thread; then
/// serves queries. The options were checked when the plan was made; a local data file was
/// read then too (`corpus`).
fn work(
    opts: &Options,
    (plan, corpus): (&Plan, Option<Arc<Corpus>>),
    ui: &Sender<Msg>,
    (inbox, rx): (Sender<Inbox>, Receiver<Inbox>),
    control: Arc<Control>,
) {
    let mut report = reporter(ui);
    let runtime = opts
        .runtime()
        .map_err(|e| Missing::failed(Phase::Load, format!("{e:#}")));
    say(
        ui,
        Reply::Device(match &runtime {
            Ok(r) => r.describe(),
            Err(_) => "no device".into(),
        }),
    );
    let corpus =
        match corpus.map_or_else(|| session::load_corpus(opts, &mut report).map(Arc::new), Ok) {
            Ok(c) => c,
            Err(e) => {
                report(Event::Finish);
                fail_all(ui, Missing::failed(Phase::Load, format!("{e:#}")));
                return;
            }
        };
    tracing::info!("{}", corpus.summary());
    say(ui, Reply::Corpus(corpus.clone()));
    let judgments = open_judgments(opts, &corpus, ui);
    let Some((mut pipeline, backend)) = start_pipeline(opts, plan, &corpus, ui, &mut report) else {
        return;
    };

    let (rerank_tx, rerank_rx) = channel();
    let rerank = RerankThread::new(rerank_rx, ui.clone(), control.clone());
    let failed = ui.clone();
    if let Err(e) = control.spawn(
        "bigyo-rerank",
        move || rerank.run(),
        move |why| {
            say(
                &failed,
                Reply::Failed(Part::Reranker, Missing::failed(Phase::Rerank, why)),
            )
        },
    ) {
        let why = Missing::failed(Phase::Rerank, format!("starting the rerank thread: {e}"));
        say(ui, Reply::Failed(Part::Reranker, why));
    }

    let models = start_models(
        (opts, plan),
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
        encoders: Vec::new(),
        reranker_state: Err(Missing::pending("the reranker is still loading")),
        doc_freq: None,
        playground: None,
        eval_cancel: None,
        runtime: runtime_label(opts),
        judgments,
    };
    worker.serve(&rx);
}

/// Starts the model thread (the encoders, the passages' embeddings, the reranker); without a
/// device or a thread, the dense and rerank panes say why.
fn start_models(
    (opts, plan): (&Options, &Plan),
    corpus: &Arc<Corpus>,
    runtime: Result<crate::model::Runtime, Missing>,
    (pipeline, backend): (&mut Pipeline, Option<Arc<session::Backend>>),
    (ui, inbox, control): (&Sender<Msg>, &Sender<Inbox>, &Arc<Control>),
    rerank: &Sender<Job>,
) -> Option<Sender<ModelJob>> {
    let mut fail = |why: Missing| {
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
        jobs: plan.jobs.clone(),
        backend,
        corpus: corpus.clone(),
        runtime,
        ui: ui.clone(),
        inbox: inbox.clone(),
        control: control.clone(),
        loaded: HashMap::new(),
    };
    let failed = ui.clone();
    let spawned = control.spawn(
        "bigyo-models",
        move || thread.run(jobs),
        move |why| {
            say(
                &failed,
                Reply::Failed(Part::Dense, Missing::failed(Phase::Load, why)),
            )
        },
    );
    match spawned {
        Ok(()) => Some(jobs_tx),
        Err(e) => fail(Missing::failed(
            Phase::Load,
            format!("starting the model thread: {e}"),
        )),
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
fn open_judgments(opts: &Options, corpus: &Corpus, ui: &Sender<Msg>) -> Result<Judgments, Missing> {
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
            Err(Missing::failed(Phase::Judgments, why))
        }
    }
}

/// The pipeline of the options' panes with its BM25 parts: the backend's (`--backend`, checked
/// before anything is built, as the command line does) and every local analyzer's index; then
/// one answer for the status bar: the session's analyzer (or the first pane's). `None` when
/// the panes or the backend are unusable (every part says why).
fn start_pipeline(
    opts: &Options,
    plan: &Plan,
    corpus: &Arc<Corpus>,
    ui: &Sender<Msg>,
    report: &mut impl FnMut(Event),
) -> Option<(Pipeline, Option<Arc<session::Backend>>)> {
    let backend = match session::connect_backend(opts, &mut *report) {
        Ok(backend) => backend.map(Arc::new),
        Err(e) => {
            report(Event::Finish);
            fail_all(ui, Missing::failed(Phase::Backend, format!("{e:#}")));
            return None;
        }
    };
    let panes = plan.panes.clone();
    let mut pipeline = Pipeline::new(corpus.clone(), opts.retrieval.params(), panes);
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
    for key in plan.bm25_keys() {
        built.push((
            key,
            build_bm25(opts, corpus, key, (&mut pipeline, ui), report),
        ));
    }
    built.sort_by_key(|(key, _)| key.is_some());
    match built.into_iter().next() {
        Some((_, Ok(analyzer))) => say(ui, Reply::Bm25Ready(analyzer)),
        Some((_, Err(why))) => say(ui, Reply::Failed(Part::Bm25, why)),
        None => say(ui, Reply::Failed(Part::Bm25, Missing::Unused)),
    }
    Some((pipeline, backend))
}

/// Runs one BM25 job of the plan into the pipeline. An analyzer that cannot be had is that
/// job's failure, as on the command line (the panes of its key say why; no other analyzer
/// stands in for it).
fn build_bm25(
    opts: &Options,
    corpus: &Corpus,
    key: crate::panes::Bm25Key,
    (pipeline, ui): (&mut Pipeline, &Sender<Msg>),
    report: &mut impl FnMut(Event),
) -> Result<Analyzer, Missing> {
    let built = session::analyzer_for(opts, key).and_then(|analyzer| {
        let index = session::build_bm25(corpus, analyzer.clone(), &mut *report)?;
        Ok((analyzer, index))
    });
    match built {
        Ok((analyzer, index)) => {
            warn_about_analyzer(&analyzer, corpus, ui);
            pipeline.set_bm25(key, Arc::new(index));
            Ok(analyzer)
        }
        Err(e) => {
            report(Event::Finish);
            let why = Missing::failed(Phase::Load, format!("{e:#}"));
            pipeline.set_bm25_missing(key, why.clone());
            Err(why)
        }
    }
}

/// Marks every part failed when there is no corpus to work on.
fn fail_all(ui: &Sender<Msg>, why: Missing) {
    say(ui, Reply::Failed(Part::Corpus, why));
    for part in [Part::Bm25, Part::Dense, Part::Reranker] {
        say(ui, Reply::Failed(part, Missing::NoCorpus));
    }
}
