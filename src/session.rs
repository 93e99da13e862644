//! Building what a session needs from the options: the corpus, the BM25 analyzer and index,
//! the bi-encoder with its (cached) passage embeddings, and the reranker. Each step reports
//! through [`Report`] so the CLI can draw progress bars and the TUI its status bar.
//!
//! With `--backend milvus://…` ([`connect_backend`]), the default dense and BM25 retrievers
//! are Milvus's: the session loads the encoder and the analyzer for the query side only and
//! embeds nothing locally.
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};

use crate::bm25::{Analyzer, AnalyzerKind, Bm25Index};
use crate::data::hub::DatasetSpec;
use crate::data::{Columns, Corpus, LoadOptions, SAMPLE_NAME};
use crate::dense::{CacheMeta, CacheMiss, DenseIndex, EmbeddingCache};
use crate::model::remote::RemoteEncoder;
use crate::model::{
    load_tokenizer, CrossEncoder, Embedder, EncoderOptions, ModelDir, Pooling, Progress, Reach,
    Runtime, SentenceEncoder, Side, Usage,
};
use crate::options::DEFAULT_DATASET;
use crate::panes::{Bm25Key, DenseKey};
use crate::paths;
use crate::pipeline::{Missing, Phase, Pipeline};
use crate::plan::{Job, Plan};

mod backend;
pub use backend::{connect_backend, Backend};

/// What a long step tells its observer.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    /// A step begins; `total` units when known.
    Start { step: Step, total: Option<u64> },
    /// `done` units of the current step.
    Progress { done: u64 },
    /// The current step ended.
    Finish,
    /// Something the user should know that does not stop the session.
    Warning(String),
    /// Something worth showing that is no problem (what a remote encoder's passages cost).
    Note(String),
}

/// The steps of starting a session, as the status bar names them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    LoadData(String),
    BuildBm25,
    LoadModel(String),
    /// Embedding the passages with the encoder named.
    Embed(String),
    LoadReranker(String),
    /// Connecting to and checking the backend's collection.
    ConnectBackend(String),
}

impl std::fmt::Display for Step {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Step::LoadData(s) => write!(f, "loading {s}"),
            Step::BuildBm25 => f.write_str("building BM25"),
            Step::LoadModel(m) => write!(f, "loading {m}"),
            Step::Embed(m) => write!(f, "embedding passages with {m}"),
            Step::LoadReranker(m) => write!(f, "loading reranker {m}"),
            Step::ConnectBackend(url) => write!(f, "connecting to {url}"),
        }
    }
}

pub type Report<'a> = &'a mut dyn FnMut(Event);

pub use crate::options::Options;

/// `opts` as the bi-encoder of `key` needs them ([`Options::for_dense`]).
pub fn options_for(opts: &Options, key: &DenseKey) -> Options {
    opts.for_dense(key)
}

/// The analyzer of a BM25 pane: its own, or `--bm25-analyzer`.
pub fn analyzer_for(opts: &Options, key: Bm25Key) -> Result<Analyzer> {
    let mut o = opts.clone();
    if let Some(kind) = key {
        o.retrieval.bm25_analyzer = kind;
    }
    analyzer(&o)
}

/// A pipeline with every part its panes need, and how each encoder's passages were embedded.
pub struct Built {
    pub pipeline: Pipeline,
    /// Per bi-encoder: its key, the model it ran and how its passage embeddings were had.
    pub embeds: Vec<(DenseKey, String, EmbedStats)>,
    /// The parts that could not load, each with why (their panes say so too).
    pub failed: Vec<String>,
}

/// Runs `plan`'s jobs over `corpus` in one go: a BM25 index per analyzer key (on a helper
/// thread while the encoders load and embed), a bi-encoder and dense index per dense key, and
/// the cross-encoder. The CLI draws `report` as progress bars; the explorer runs the same
/// jobs on its own threads.
pub fn build(
    opts: &Options,
    plan: &Plan,
    corpus: Arc<Corpus>,
    runtime: Runtime,
    report: Report,
) -> Result<Built> {
    let backend = connect_backend(opts, report)?;
    build_on(opts, plan, corpus, runtime, backend, report)
}

/// [`build`] with the backend connected already ([`connect_backend`]; `None` for none): the
/// CLI connects before it loads the corpus, so a wrong address fails before anything heavy.
pub fn build_on(
    opts: &Options,
    plan: &Plan,
    corpus: Arc<Corpus>,
    runtime: Runtime,
    backend: Option<Backend>,
    report: Report,
) -> Result<Built> {
    let served_dense = DenseKey::default();
    let analyzers = plan
        .bm25_keys()
        .into_iter()
        .map(|k| Ok((k, analyzer_for(opts, k)?)))
        .collect::<Result<Vec<_>>>()?;
    let dense_keys = plan.dense_keys();
    let mut pipeline = Pipeline::new(corpus.clone(), opts.retrieval.params(), plan.panes.clone());
    if let Some(b) = &backend {
        if let Some(w) = b
            .info
            .corpus_warning(&corpus.content_hash(), corpus.passages.len())
        {
            report(Event::Warning(w));
        }
        pipeline.set_backend(b.milvus.clone(), b.analyzer.clone());
    }
    // A part that cannot load takes only its own panes with it (the rule both front ends
    // share): its panes say why, the others answer, and `failed` tells the caller.
    let mut failed = Vec::new();
    let (bm25, dense) = bm25_alongside(&corpus, analyzers, || {
        let mut out = Vec::new();
        for key in dense_keys {
            let o = options_for(opts, &key);
            let served = backend.as_ref().filter(|_| key == served_dense);
            let part = dense_part(&o, &corpus, runtime, served, report);
            out.push((key, o.model.model.clone(), part));
        }
        out
    });
    for (key, index) in bm25? {
        pipeline.set_bm25(key, Arc::new(index));
    }
    let mut embeds = Vec::new();
    for (key, model, part) in dense {
        match part {
            Ok((encoder, Some((index, stats)))) => {
                pipeline.set_dense(&key, encoder, index);
                embeds.push((key, model, stats));
            }
            Ok((encoder, None)) => pipeline.set_backend_encoder(encoder),
            Err(e) => {
                let why = format!("{e:#}");
                let missing = Missing::failed(Phase::Load, &why);
                if backend.is_some() && key == served_dense {
                    pipeline.set_backend_encoder_missing(missing.clone());
                }
                pipeline.set_dense_missing(&key, missing);
                failed.push(format!("the bi-encoder {model}: {why}"));
            }
        }
    }
    if plan.has(&Job::Reranker) {
        match load_reranker(opts, runtime, report) {
            Ok(Some(r)) => pipeline.set_reranker(Box::new(r)),
            Ok(None) => pipeline.set_reranker_missing(Missing::Off("--reranker none".into())),
            Err(e) => {
                let why = format!("{e:#}");
                pipeline.set_reranker_missing(Missing::failed(Phase::Load, &why));
                failed.push(format!("the reranker {}: {why}", opts.model.reranker));
            }
        }
    }
    Ok(Built {
        pipeline,
        embeds,
        failed,
    })
}

/// An encoder, with its passages' dense index unless the backend serves them (`served`).
type DensePart = (Box<dyn Embedder>, Option<(DenseIndex, EmbedStats)>);

/// Loads one dense key's encoder and embeds the passages (or checks the backend's vectors).
fn dense_part(
    o: &Options,
    corpus: &Corpus,
    runtime: Runtime,
    served: Option<&Backend>,
    report: Report,
) -> Result<DensePart> {
    let mut encoder = load_embedder(o, runtime, o.pooling()?, report)?;
    if let Some(b) = served {
        // The passages' vectors are on the server: only the query side runs here.
        if let Some(w) = b.check_encoder(&o.model.model, &*encoder)? {
            report(Event::Warning(w));
        }
        return Ok((encoder, None));
    }
    let (index, stats) = build_dense(corpus, &mut *encoder, runtime, cache(o).as_ref(), report)?;
    Ok((encoder, Some((index, stats))))
}

/// Loads the corpus the options name. Without `--data` and `--dataset`, the default hub
/// dataset is tried and the bundled sample used (with a warning) when it cannot be had.
pub fn load_corpus(opts: &Options, report: Report) -> Result<Corpus> {
    let d = &opts.data;
    let load = LoadOptions {
        columns: Columns {
            context: d.context_column.clone(),
            question: d.question_column.clone(),
            title: d.title_column.clone(),
            answers: d.answers_column.clone(),
        },
        limit: d.limit,
    };
    if let Some(path) = &d.data {
        if path.as_os_str() == SAMPLE_NAME && !path.exists() {
            return Ok(Corpus::sample(&load)?);
        }
        report(Event::Start {
            step: Step::LoadData(path.display().to_string()),
            total: None,
        });
        let corpus = Corpus::from_parquet(path, &load)?;
        report(Event::Finish);
        return Ok(corpus);
    }
    let spec = DatasetSpec {
        id: d
            .dataset
            .clone()
            .unwrap_or_else(|| DEFAULT_DATASET.to_owned()),
        config: d.config.clone(),
        split: d.split.clone(),
        revision: d.dataset_revision.clone(),
        offline: opts.model.offline,
        progress: opts.download_progress,
    };
    report(Event::Start {
        step: Step::LoadData(spec.describe()),
        total: None,
    });
    let result = crate::data::hub::load(&spec, &load);
    report(Event::Finish);
    match result {
        Ok(corpus) => Ok(corpus),
        Err(e) if d.dataset.is_none() => {
            report(Event::Warning(format!(
                "{e}; using the bundled sample corpus instead"
            )));
            Ok(Corpus::sample(&load)?)
        }
        Err(e) => Err(e.into()),
    }
}

/// The BM25 analyzer the options name; `wordpiece` loads a tokenizer (from
/// `--bm25-tokenizer`, else the bi-encoder's).
pub fn analyzer(opts: &Options) -> Result<Analyzer> {
    Ok(match opts.retrieval.bm25_analyzer {
        AnalyzerKind::Bigram => Analyzer::Bigram,
        AnalyzerKind::Whitespace => Analyzer::Whitespace,
        AnalyzerKind::Morph(d) => Analyzer::morph(d, false)?,
        AnalyzerKind::MorphBigram(d) => Analyzer::morph(d, true)?,
        AnalyzerKind::Wordpiece => {
            let id = opts
                .retrieval
                .bm25_tokenizer
                .clone()
                .unwrap_or_else(|| opts.model.model.clone());
            let spec = opts.spec(&id, None);
            let dir = ModelDir::resolve_tokenizer(&spec)
                .with_context(|| format!("finding the wordpiece tokenizer {id}"))?;
            let tdir = dir.transformer_dir()?;
            let tokenizer = load_tokenizer(&tdir, usize::MAX)
                .with_context(|| format!("loading the wordpiece tokenizer of {id}"))?;
            Analyzer::wordpiece(tokenizer, &id)
        }
    })
}

/// Builds the BM25 index over the corpus's passages.
pub fn build_bm25(corpus: &Corpus, analyzer: Analyzer, report: Report) -> Result<Bm25Index> {
    let texts = corpus.texts();
    report(Event::Start {
        step: Step::BuildBm25,
        total: Some(texts.len() as u64),
    });
    let index = Bm25Index::build(&texts, analyzer, &mut |done| {
        report(Event::Progress { done: done as u64 })
    })?;
    report(Event::Finish);
    Ok(index)
}

/// Builds a BM25 index per analyzer on a helper thread while `other` (model loading,
/// embedding) runs on this one; start-up costs the longer of the two instead of their sum.
pub fn bm25_alongside<T>(
    corpus: &Corpus,
    analyzers: Vec<(Bm25Key, Analyzer)>,
    other: impl FnOnce() -> T,
) -> (Result<Vec<(Bm25Key, Bm25Index)>>, T) {
    std::thread::scope(|scope| {
        let bm25 = scope.spawn(|| {
            let texts = corpus.texts();
            analyzers
                .into_iter()
                .map(|(key, a)| Ok((key, Bm25Index::build(&texts, a, &mut |_| {})?)))
                .collect::<Result<Vec<_>>>()
        });
        let value = other();
        let bm25 = bm25
            .join()
            .unwrap_or_else(|_| Err(anyhow::anyhow!("the BM25 indexing thread failed")));
        (bm25, value)
    })
}

/// Loads the bi-encoder, local or remote (`--model openai:NAME`, which costs no request
/// until something is embedded).
pub fn load_embedder(
    opts: &Options,
    runtime: Runtime,
    pooling: Option<Pooling>,
    report: Report,
) -> Result<Box<dyn Embedder>> {
    if let Some(name) = opts.remote_model() {
        let remote = RemoteEncoder::new(opts.remote_options(name)?);
        tracing::info!("remote encoder {}", remote.identity());
        return Ok(Box::new(remote));
    }
    Ok(Box::new(load_encoder(opts, runtime, pooling, report)?))
}

/// With no `--model` given, the session's bi-encoder is the default hub model. When the hub
/// cannot provide it (not cached, and offline or unreachable) and the set-up installed its
/// local multilingual-e5-small ([`paths::offline_model_dir`]), the session uses that instead:
/// `opts` then names it, so every title and line says which model runs, and the returned
/// notice says why. Nothing changes for a model the user named, or when the default can be
/// had. Both front ends call this before their plan's model jobs.
pub fn settle_model(opts: &mut Options) -> Option<String> {
    if opts.model.model_given || opts.remote_model().is_some() {
        return None;
    }
    let spec = opts.spec(&opts.model.model, opts.model.revision.clone());
    let why = match ModelDir::reach(&spec) {
        Reach::Here | Reach::Hub => return None,
        Reach::Unreachable(why) => why,
    };
    let Some(dir) = paths::offline_model_dir() else {
        tracing::warn!("{}: {why}; no local model installed", opts.model.model);
        return None;
    };
    let notice = format!(
        "using the local multilingual-e5-small: {} {why} (the set-up's model, {})",
        opts.model.model,
        dir.display(),
    );
    tracing::warn!("{notice}");
    opts.model.model = dir.display().to_string();
    opts.model.revision = None;
    Some(notice)
}

/// An encoder's name from its cache identity: a remote model with its endpoint
/// (`openai|URL|MODEL|…` reads `MODEL at URL`), a local directory by its last part, a hub id
/// as it is.
fn encoder_name(identity: &str) -> String {
    let parts: Vec<&str> = identity.split('|').collect();
    match parts.as_slice() {
        ["openai", url, model, ..] => format!("{model} at {url}"),
        [model, ..] => {
            let model = model.rsplit_once('#').map_or(*model, |(m, _)| m);
            let model = model.rsplit_once('@').map_or(model, |(m, _)| m);
            let path = std::path::Path::new(model);
            match path.file_name() {
                Some(n) if path.is_absolute() => n.to_string_lossy().into_owned(),
                _ => model.to_owned(),
            }
        }
        [] => identity.to_owned(),
    }
}

/// Loads the local bi-encoder.
pub fn load_encoder(
    opts: &Options,
    runtime: Runtime,
    pooling: Option<Pooling>,
    report: Report,
) -> Result<SentenceEncoder> {
    if opts.remote_model().is_some() {
        bail!(
            "{} is a remote model: it embeds through its endpoint (load_embedder), not as a local \
             encoder",
            opts.model.model
        );
    }
    report(Event::Start {
        step: Step::LoadModel(opts.model.model.clone()),
        total: None,
    });
    let dir = opts.model_dir()?;
    let encoder = SentenceEncoder::load(
        &dir,
        &EncoderOptions {
            runtime,
            batch: opts.batch(),
            pooling,
            query_prompt: opts.model.query_prompt.clone(),
            passage_prompt: opts.model.passage_prompt.clone(),
        },
    )
    .with_context(|| format!("loading the encoder {}", opts.model.model))?;
    report(Event::Finish);
    Ok(encoder)
}

/// Loads the reranker, or `None` for `--reranker none`.
pub fn load_reranker(
    opts: &Options,
    runtime: Runtime,
    report: Report,
) -> Result<Option<CrossEncoder>> {
    let Some(dir) = opts.reranker_dir()? else {
        return Ok(None);
    };
    report(Event::Start {
        step: Step::LoadReranker(opts.model.reranker.clone()),
        total: None,
    });
    let reranker = CrossEncoder::load(&dir, runtime, opts.batch())
        .with_context(|| format!("loading the reranker {}", opts.model.reranker))?;
    report(Event::Finish);
    Ok(Some(reranker))
}

/// How the passage embeddings were obtained.
#[derive(Debug, Clone, PartialEq)]
pub struct EmbedStats {
    pub passages: usize,
    pub seconds: f64,
    pub from_cache: bool,
    /// What a remote endpoint billed for the passages (`None` for local models and caches).
    pub usage: Option<Usage>,
}

impl EmbedStats {
    pub fn passages_per_s(&self) -> f64 {
        self.passages as f64 / self.seconds.max(1e-9)
    }
}

/// Embeds the passages (or reads them from the cache) and builds the dense index.
pub fn build_dense(
    corpus: &Corpus,
    encoder: &mut dyn Embedder,
    runtime: Runtime,
    cache: Option<&EmbeddingCache>,
    report: Report,
) -> Result<(DenseIndex, EmbedStats)> {
    let meta = CacheMeta {
        model: encoder.identity(),
        corpus: corpus.content_hash(),
        rows: corpus.passages.len(),
        dim: encoder.dim(),
    };
    let started = Instant::now();
    if let Some(cache) = cache {
        match cache.load(&meta) {
            Ok(embeddings) => {
                let index = DenseIndex::new(&embeddings, runtime.device)?;
                tracing::info!("embeddings from cache {}", cache.path(&meta).display());
                return Ok((
                    index,
                    EmbedStats {
                        passages: meta.rows,
                        seconds: started.elapsed().as_secs_f64(),
                        from_cache: true,
                        usage: None,
                    },
                ));
            }
            Err(CacheMiss::Absent) => {}
            Err(miss) => report(Event::Warning(miss.to_string())),
        }
    }
    let texts = corpus.texts();
    report(Event::Start {
        step: Step::Embed(encoder_name(&meta.model)),
        total: Some(texts.len() as u64),
    });
    let billed_before = encoder.usage();
    let embeddings = encoder
        .embed(Side::Passage, &texts, &mut |p: Progress| {
            report(Event::Progress {
                done: p.done as u64,
            })
        })
        .context("embedding the passages")?;
    report(Event::Finish);
    let seconds = started.elapsed().as_secs_f64();
    let usage = encoder
        .usage()
        .map(|after| after.since(billed_before.unwrap_or_default()));
    if embeddings.len() != meta.rows {
        bail!(
            "the encoder returned {} vectors for {} passages",
            embeddings.len(),
            meta.rows
        );
    }
    if let Some(cache) = cache {
        if let Err(e) = cache.store(&meta, &embeddings) {
            report(Event::Warning(format!(
                "could not write the embedding cache {}: {e}",
                cache.path(&meta).display()
            )));
        }
    }
    let index = DenseIndex::new(&embeddings, runtime.device)?;
    Ok((
        index,
        EmbedStats {
            passages: meta.rows,
            seconds,
            from_cache: false,
            usage,
        },
    ))
}

/// The embedding cache the options allow: `None` with `--no-cache`.
pub fn cache(opts: &Options) -> Option<EmbeddingCache> {
    (!opts.retrieval.no_cache).then(|| {
        let cache = EmbeddingCache::default_location();
        crate::dense::tidy(&crate::paths::cache_dir().join("embeddings"));
        cache
    })
}

/// What a remote encoder's tokens cost: `embedding 67 passages cost $0.0001 (… tokens, …
/// requests at $0.02/1M tokens)`, or the tokens alone without `--price-per-mtok`.
pub fn cost_line(opts: &Options, what: &str, count: usize, usage: Usage) -> String {
    let detail = format!("{} tokens, {} requests", usage.tokens, usage.requests);
    match opts.api.price_per_mtok {
        Some(price) => format!(
            "embedding {count} {what} cost ${:.4} ({detail} at ${price}/1M tokens)",
            usage.cost(price)
        ),
        None => format!("embedding {count} {what}: {detail} (--price-per-mtok gives the cost)"),
    }
}

/// Elapsed time in milliseconds, as tables and JSON print it.
pub fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// The judgments file of `corpus`: `--judgments`, else the corpus's default file
/// ([`crate::judgments::default_path`]).
pub fn judgments_path(opts: &Options, corpus: &Corpus) -> std::path::PathBuf {
    opts.data
        .judgments
        .clone()
        .unwrap_or_else(|| crate::judgments::default_path(&corpus.content_hash()))
}
