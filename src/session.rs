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
use crate::model::remote::{self, ApiKey, RemoteEncoder, RemoteOptions, DEFAULT_API_BASE};
use crate::model::{
    load_tokenizer, BatchOptions, CrossEncoder, Embedder, EncoderOptions, ModelDir, ModelSpec,
    Pooling, Progress, Runtime, SentenceEncoder, Side, Usage,
};
use crate::options::{ApiArgs, DataArgs, ModelArgs, RetrievalArgs, DEFAULT_DATASET};
use crate::panes::{Bm25Key, DenseKey, Kind, Panes};
use crate::pipeline::Pipeline;

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
    Embed,
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
            Step::Embed => f.write_str("embedding passages"),
            Step::LoadReranker(m) => write!(f, "loading reranker {m}"),
            Step::ConnectBackend(url) => write!(f, "connecting to {url}"),
        }
    }
}

pub type Report<'a> = &'a mut dyn FnMut(Event);

/// Everything the options say, in one place.
#[derive(Debug, Clone)]
pub struct Options {
    pub model: ModelArgs,
    pub data: DataArgs,
    pub retrieval: RetrievalArgs,
    /// The endpoint of a remote encoder (`--model openai:NAME`).
    pub api: ApiArgs,
    /// Draw hf-hub's own download bars (CLI on a terminal).
    pub download_progress: bool,
}

impl Options {
    pub fn batch(&self) -> BatchOptions {
        BatchOptions {
            max_tokens: self.model.batch_tokens,
            ..BatchOptions::default()
        }
    }

    fn spec(&self, id: &str, revision: Option<String>) -> ModelSpec {
        ModelSpec {
            id: id.to_owned(),
            revision,
            offline: self.model.offline,
            progress: self.download_progress,
        }
    }

    /// The model name of `--model openai:NAME`, `None` for a local or hub model.
    pub fn remote_model(&self) -> Option<&str> {
        remote::remote_name(&self.model.model)
    }

    /// The remote encoder's settings: base URL from `--api-base`, else `OPENAI_BASE_URL`
    /// (clap reads it into the same field), else OpenAI's; the key from `OPENAI_API_KEY`.
    pub fn remote_options(&self, name: &str) -> Result<RemoteOptions> {
        let api = &self.api;
        let mut o = RemoteOptions::new(
            api.api_base
                .clone()
                .unwrap_or_else(|| DEFAULT_API_BASE.to_owned()),
            name,
        );
        o.api_key = ApiKey::new(std::env::var("OPENAI_API_KEY").ok());
        o.input_types = api.input_types().map_err(anyhow::Error::msg)?;
        o.query_prompt = self.model.query_prompt.clone().unwrap_or_default();
        o.passage_prompt = self.model.passage_prompt.clone().unwrap_or_default();
        o.batch_inputs = api.api_batch;
        o.batch_chars = api.api_batch_chars;
        o.in_flight = api.api_concurrency;
        o.timeout = Duration::from_secs_f64(api.api_timeout);
        o.max_wait = Duration::from_secs_f64(api.api_max_wait);
        Ok(o)
    }

    /// Finds the bi-encoder's files (downloading when needed).
    pub fn model_dir(&self) -> Result<ModelDir> {
        if self.remote_model().is_some() {
            bail!(
                "{} is a remote model (OpenAI-compatible endpoint), not a directory or hub id",
                self.model.model
            );
        }
        let spec = self.spec(&self.model.model, self.model.revision.clone());
        ModelDir::resolve(&spec).with_context(|| format!("finding model {}", self.model.model))
    }

    /// Finds the reranker's files, or `None` for `--reranker none`.
    pub fn reranker_dir(&self) -> Result<Option<ModelDir>> {
        if !self.model.reranker_enabled() {
            return Ok(None);
        }
        let spec = self.spec(&self.model.reranker, None);
        ModelDir::resolve(&spec)
            .map(Some)
            .with_context(|| format!("finding reranker {}", self.model.reranker))
    }

    /// The device, dtype and thread count the options ask for; fails before any heavy work
    /// when they cannot be honoured (e.g. CUDA where none exists).
    pub fn runtime(&self) -> Result<Runtime> {
        Runtime::resolve(self.model.device, self.model.dtype, self.model.threads)
            .map(|r| r.with_kernels(self.model.cpu_kernels))
            .context("choosing the device")
    }

    /// The `--pooling` override, parsed.
    pub fn pooling(&self) -> Result<Option<Pooling>> {
        self.model
            .pooling
            .as_deref()
            .map(|p| {
                p.parse()
                    .map(Pooling::single)
                    .map_err(|e: String| anyhow::anyhow!("--pooling: {e}"))
            })
            .transpose()
    }

    /// Checks option values before any heavy work.
    pub fn validate(&self) -> Result<()> {
        self.retrieval
            .params()
            .validate()
            .map_err(anyhow::Error::msg)?;
        if self.data.limit == Some(0) {
            bail!("--limit must be at least 1");
        }
        if self.model.batch_tokens == 0 {
            bail!("--batch-tokens must be at least 1");
        }
        self.pooling()?;
        self.api.validate().map_err(anyhow::Error::msg)?;
        if let Some(name) = self.remote_model() {
            if name.trim().is_empty() {
                bail!("--model openai: needs a model name, e.g. openai:text-embedding-3-small");
            }
            if self.model.pooling.is_some() {
                bail!(
                    "--pooling applies to local models; {} pools on the server",
                    self.model.model
                );
            }
        }
        if self.data.split.trim().is_empty() {
            bail!("--split is empty");
        }
        Ok(())
    }
}

/// The panes the options ask for: `--panes`, else `methods` (`--methods`, the default kinds),
/// else the default four (a rerank pane stays with `--reranker none` and says so). Checked
/// before anything loads, including each dense pane's own model options.
pub fn panes(opts: &Options, methods: Option<&str>) -> Result<Panes> {
    let panes = match (&opts.retrieval.panes, methods) {
        (Some(_), Some(_)) => bail!(
            "--panes and --methods both given; --methods is the short form of --panes, keep one"
        ),
        (Some(spec), None) => Panes::parse(spec)?,
        (None, Some(list)) => Panes::from_methods(list)?,
        (None, None) => Panes::standard(),
    };
    let mut panes = panes;
    // The backend serves the default keys; their panes say so, and `hybrid:server` needs it.
    let served = DenseKey::default();
    panes.on_backend(opts.retrieval.backend.is_some().then_some((&served, None)))?;
    let remote = |key: &DenseKey| {
        remote::remote_name(key.model.as_deref().unwrap_or(&opts.model.model)).is_some()
    };
    if opts.api.input_types.is_some() && !panes.dense_keys().iter().any(remote) {
        bail!("--input-types applies to remote models (--model openai:NAME, or a dense:model=openai:NAME pane) only");
    }
    for key in panes.dense_keys() {
        if key != DenseKey::default() {
            options_for(opts, &key).validate().with_context(|| {
                format!(
                    "the dense pane with model {}",
                    key.model.as_deref().unwrap_or(&opts.model.model)
                )
            })?;
        }
    }
    Ok(panes)
}

/// `opts` as the bi-encoder of `key` needs them: the key's model and pooling replace the
/// session's `--model` and `--pooling`.
pub fn options_for(opts: &Options, key: &DenseKey) -> Options {
    let mut o = opts.clone();
    if let Some(m) = &key.model {
        o.model.model = m.clone();
        o.model.revision = None;
        if remote::remote_name(m).is_none() {
            o.api.input_types = None;
        }
    }
    if let Some(p) = key.pooling {
        o.model.pooling = Some(p.name().to_owned());
    }
    o
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
}

/// Builds what `panes` need over `corpus`: a BM25 index per analyzer (on a helper thread
/// while the encoders load and embed), a bi-encoder and dense index per dense key, and the
/// cross-encoder when a rerank pane is shown. The CLI draws `report` as progress bars; the
/// explorer runs the same steps on its own threads.
pub fn build(
    opts: &Options,
    panes: Panes,
    corpus: Arc<Corpus>,
    runtime: Runtime,
    report: Report,
) -> Result<Built> {
    let backend = connect_backend(opts, report)?;
    build_on(opts, panes, corpus, runtime, backend, report)
}

/// [`build`] with the backend connected already ([`connect_backend`]; `None` for none): the
/// CLI connects before it loads the corpus, so a wrong address fails before anything heavy.
pub fn build_on(
    opts: &Options,
    panes: Panes,
    corpus: Arc<Corpus>,
    runtime: Runtime,
    backend: Option<Backend>,
    report: Report,
) -> Result<Built> {
    let served_dense = DenseKey::default();
    let on_backend = |key: &Bm25Key| backend.is_some() && key.is_none();
    let analyzers = panes
        .bm25_keys()
        .into_iter()
        .filter(|k| !on_backend(k))
        .map(|k| Ok((k, analyzer_for(opts, k)?)))
        .collect::<Result<Vec<_>>>()?;
    let dense_keys = panes.dense_keys();
    let uses_rerank = panes.uses(Kind::Rerank);
    let mut pipeline = Pipeline::new(corpus.clone(), opts.retrieval.params(), panes);
    if let Some(b) = &backend {
        if let Some(w) = b
            .info
            .corpus_warning(&corpus.content_hash(), corpus.passages.len())
        {
            report(Event::Warning(w));
        }
        pipeline.set_backend(b.milvus.clone(), b.analyzer.clone());
    }
    let (bm25, dense) = bm25_alongside(&corpus, analyzers, || -> Result<_> {
        let mut out = Vec::new();
        for key in dense_keys {
            let o = options_for(opts, &key);
            let mut encoder = load_embedder(&o, runtime, o.pooling()?, report)?;
            if let (Some(b), true) = (&backend, key == served_dense) {
                // The passages' vectors are on the server: only the query side runs here.
                if let Some(w) = b.check_encoder(&o.model.model, &*encoder)? {
                    report(Event::Warning(w));
                }
                out.push((key, o.model.model.clone(), encoder, None));
                continue;
            }
            let (index, stats) =
                build_dense(&corpus, &mut *encoder, runtime, cache(&o).as_ref(), report)?;
            out.push((key, o.model.model.clone(), encoder, Some((index, stats))));
        }
        Ok(out)
    });
    for (key, index) in bm25? {
        pipeline.set_bm25(key, Arc::new(index));
    }
    let mut embeds = Vec::new();
    for (key, model, encoder, local) in dense? {
        match local {
            Some((index, stats)) => {
                pipeline.set_dense(&key, encoder, index);
                embeds.push((key, model, stats));
            }
            None => pipeline.set_backend_encoder(encoder),
        }
    }
    if uses_rerank {
        match load_reranker(opts, runtime, report)? {
            Some(r) => pipeline.set_reranker(Box::new(r)),
            None => pipeline.set_reranker_missing("--reranker none"),
        }
    }
    Ok(Built { pipeline, embeds })
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
        step: Step::Embed,
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
