//! The explorer's start-up on the worker thread: options checked, the corpus, the judgments,
//! the pipeline of the panes with every BM25 index (or the Milvus backend), then the rerank
//! and model threads; the worker then serves queries.
use std::collections::BTreeMap;
use std::sync::mpsc::{channel, Receiver, Sender};
use std::sync::Arc;

use super::control::Control;
use super::models::{reporter, ModelJob, ModelThread};
use super::protocol::{Msg, Part, Reply};
use super::rerank::{Job, RerankThread};
use super::worker::{say, Inbox, Worker};
use crate::bm25::Analyzer;
use crate::data::Corpus;
use crate::judgments::Judgments;
use crate::panes::DenseKey;
use crate::pipeline::Pipeline;
use crate::session::{self, Event, Options};

pub(super) fn work(
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
/// had falls back to bigram, with a warning, except a morph analyzer without its dictionary:
/// its panes say what to run.
fn build_bm25(
    opts: &Options,
    corpus: &Corpus,
    key: crate::panes::Bm25Key,
    pipeline: &mut Pipeline,
    report: &mut impl FnMut(Event),
) -> Result<Analyzer, String> {
    let kind = key.unwrap_or(opts.retrieval.bm25_analyzer);
    let analyzer = match session::analyzer_for(opts, key) {
        Ok(a) => a,
        // A missing dictionary is the pane's message, never bigram under a morph title.
        Err(e) if kind.needs_dictionary() => {
            pipeline.set_bm25_missing(key, format!("{e:#}"));
            return Err(format!("{e:#}"));
        }
        Err(e) => {
            report(Event::Warning(format!(
                "{e:#}; BM25 uses the bigram analyzer"
            )));
            Analyzer::Bigram
        }
    };
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
pub(super) fn warn_about_analyzer(
    analyzer: &Analyzer,
    corpus: &Corpus,
    report: &mut impl FnMut(Event),
) {
    let texts: Vec<&str> = corpus.texts().into_iter().take(200).collect();
    if let Some(w) = analyzer.coverage_warning(&texts) {
        report(Event::Warning(w));
    }
}
