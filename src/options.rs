//! What a session is asked to do, as plain values: the models, the data, retrieval and a
//! remote encoder's endpoint. The command line (`src/cli/`) fills them from flags; the library
//! and the explorer read them and name a bad value by its [`Setting`], never by a flag.
use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

use anyhow::{bail, Context, Result};

use crate::bm25::AnalyzerKind;
use crate::fusion::{Fusion, FusionMethod, Norm, RrfParams};
use crate::model::cpu::KernelChoice;
use crate::model::remote::{self, ApiKey, RemoteOptions, DEFAULT_API_BASE};
use crate::model::{BatchOptions, DTypeChoice, DeviceChoice};
use crate::model::{ModelDir, ModelSpec, Pooling, Runtime};
use crate::pipeline::SearchParams;
pub use crate::setting::{Invalid, Setting};

/// The bi-encoder users get when online (REFERENCE.md).
pub const DEFAULT_MODEL: &str = "snunlp/KR-SBERT-V40K-klueNLI-augSTS";
/// The textbook's cross-encoder reranker.
pub const DEFAULT_RERANKER: &str = "shangrilar/klue-roberta-small-cross-encoder";
/// KLUE MRC on the hub.
pub const DEFAULT_DATASET: &str = "klue/klue";
pub const DEFAULT_CONFIG: &str = "mrc";
pub const DEFAULT_SPLIT: &str = "validation";

/// The models and how they run.
#[derive(Debug, Clone, PartialEq)]
pub struct ModelOptions {
    /// Bi-encoder: a hub id, a local directory, or `openai:NAME`.
    pub model: String,
    /// Whether the user named the bi-encoder (`--model`); the default one may be replaced by
    /// the set-up's local model when the hub cannot provide it
    /// ([`crate::session::settle_model`]).
    pub model_given: bool,
    /// Cross-encoder reranker: a hub id, a local directory, or `none`.
    pub reranker: String,
    /// A hub revision for the bi-encoder.
    pub revision: Option<String>,
    pub device: DeviceChoice,
    pub dtype: DTypeChoice,
    pub cpu_kernels: KernelChoice,
    /// libtorch intra-op threads (`None`: libtorch's choice).
    pub threads: Option<usize>,
    /// Use only the local hub cache.
    pub offline: bool,
    /// The bi-encoder's pooling instead of the model's own.
    pub pooling: Option<String>,
    /// Token budget per batch (rows x longest row); `None` for the device's own.
    pub batch_tokens: Option<usize>,
    /// Prefixes replacing the model's own query and passage prompts.
    pub query_prompt: Option<String>,
    pub passage_prompt: Option<String>,
}

impl Default for ModelOptions {
    fn default() -> Self {
        Self {
            model: DEFAULT_MODEL.to_owned(),
            model_given: false,
            reranker: DEFAULT_RERANKER.to_owned(),
            revision: None,
            device: DeviceChoice::Auto,
            dtype: DTypeChoice::Auto,
            cpu_kernels: KernelChoice::Auto,
            threads: None,
            offline: false,
            pooling: None,
            batch_tokens: None,
            query_prompt: None,
            passage_prompt: None,
        }
    }
}

impl ModelOptions {
    pub fn reranker_enabled(&self) -> bool {
        !self.reranker.eq_ignore_ascii_case("none")
    }
}

/// A remote encoder's endpoint (`openai:NAME` models). The key comes from `OPENAI_API_KEY`
/// only.
#[derive(Debug, Clone, PartialEq)]
pub struct ApiOptions {
    /// The OpenAI-compatible base URL (`None`: OpenAI's).
    pub api_base: Option<String>,
    /// `input_type` values for queries and passages, `Q,P` (sent only when given).
    pub input_types: Option<String>,
    /// US dollars per million tokens.
    pub price_per_mtok: Option<f64>,
    pub api_batch: usize,
    pub api_batch_chars: usize,
    pub api_concurrency: usize,
    /// Seconds one request may take, and one batch may wait on retries.
    pub api_timeout: f64,
    pub api_max_wait: f64,
}

impl Default for ApiOptions {
    fn default() -> Self {
        Self {
            api_base: None,
            input_types: None,
            price_per_mtok: None,
            api_batch: 32,
            api_batch_chars: 100_000,
            api_concurrency: 4,
            api_timeout: 120.0,
            api_max_wait: 120.0,
        }
    }
}

impl ApiOptions {
    /// The input types `Q,P` split, checked.
    pub fn input_types(&self) -> Result<Option<(String, String)>, Invalid> {
        let Some(raw) = &self.input_types else {
            return Ok(None);
        };
        match raw.split(',').map(str::trim).collect::<Vec<_>>().as_slice() {
            [q, p] if !q.is_empty() && !p.is_empty() => {
                Ok(Some(((*q).to_owned(), (*p).to_owned())))
            }
            _ => Err(Invalid::new(
                Setting::InputTypes,
                format!("{raw:?}: expected two names, query side first, e.g. query,passage"),
            )),
        }
    }

    /// Checks the values before any request.
    pub fn validate(&self) -> Result<(), Invalid> {
        self.input_types()?;
        if let Some(base) = &self.api_base {
            if !(base.starts_with("http://") || base.starts_with("https://")) {
                return Err(Invalid::new(
                    Setting::ApiBase,
                    format!("{base:?}: expected an http:// or https:// URL"),
                ));
            }
        }
        if let Some(p) = self.price_per_mtok {
            if !p.is_finite() || p < 0.0 {
                return Err(Invalid::new(
                    Setting::PricePerMtok,
                    format!("{p}: expected dollars >= 0"),
                ));
            }
        }
        for (setting, v) in [
            (Setting::ApiBatch, self.api_batch),
            (Setting::ApiBatchChars, self.api_batch_chars),
            (Setting::ApiConcurrency, self.api_concurrency),
        ] {
            if v == 0 {
                return Err(Invalid::new(setting, "must be at least 1"));
            }
        }
        for (setting, v) in [
            (Setting::ApiTimeout, self.api_timeout),
            (Setting::ApiMaxWait, self.api_max_wait),
        ] {
            if !v.is_finite() || v <= 0.0 || v > 86_400.0 {
                return Err(Invalid::new(
                    setting,
                    format!("{v}: expected seconds in (0, 86400]"),
                ));
            }
        }
        Ok(())
    }
}

/// Where the corpus comes from.
#[derive(Debug, Clone, PartialEq)]
pub struct DataOptions {
    /// A local parquet file, or `sample`; `None`: the hub dataset.
    pub data: Option<PathBuf>,
    /// A hub dataset repository (`None`: klue/klue).
    pub dataset: Option<String>,
    pub config: String,
    pub split: String,
    pub dataset_revision: Option<String>,
    /// Only the first N rows.
    pub limit: Option<usize>,
    pub context_column: String,
    pub question_column: String,
    pub title_column: String,
    pub answers_column: String,
    /// The relevance-judgments file (`None`: the corpus's default one).
    pub judgments: Option<PathBuf>,
}

impl Default for DataOptions {
    fn default() -> Self {
        Self {
            data: None,
            dataset: None,
            config: DEFAULT_CONFIG.to_owned(),
            split: DEFAULT_SPLIT.to_owned(),
            dataset_revision: None,
            limit: None,
            context_column: "context".to_owned(),
            question_column: "question".to_owned(),
            title_column: "title".to_owned(),
            answers_column: "answers".to_owned(),
            judgments: None,
        }
    }
}

/// CLIP: images and texts in one space (`bigyo similar --image`, the explorer's image search).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ClipOptions {
    /// A CLIP model directory in transformers' `CLIPModel` layout (images, and texts unless
    /// `clip_text` is given).
    pub clip: Option<PathBuf>,
    /// A multilingual CLIP text encoder (sentence-transformers layout: an encoder, pooling, a
    /// Dense layer into the CLIP model's space).
    pub clip_text: Option<PathBuf>,
    /// An image folder to open in the explorer's image search.
    pub images: Option<PathBuf>,
}

/// The panes and the session-wide retrieval settings (a pane's own options win).
#[derive(Debug, Clone, PartialEq)]
pub struct RetrievalOptions {
    /// The pane spec (`None`: the default four).
    pub panes: Option<String>,
    pub bm25_analyzer: AnalyzerKind,
    /// Where the wordpiece analyzer takes its tokenizer (`None`: the bi-encoder's).
    pub bm25_tokenizer: Option<String>,
    pub top_k: usize,
    pub rrf_k: f64,
    /// How many hits of each list a fusion reads.
    pub rrf_depth: usize,
    pub fusion: FusionMethod,
    pub fusion_norm: Norm,
    pub alpha: f64,
    /// The saved fusion setting (`None`: `<config dir>/fusion.json`).
    pub config_file: Option<PathBuf>,
    pub dense_weight: f64,
    pub bm25_weight: f64,
    pub rerank_depth: usize,
    /// Neither read nor write the passage-embedding cache.
    pub no_cache: bool,
    /// A Milvus collection, `milvus://HOST:PORT/COLLECTION`.
    pub backend: Option<String>,
    pub backend_timeout: f64,
}

impl Default for RetrievalOptions {
    fn default() -> Self {
        let p = SearchParams::default();
        Self {
            panes: None,
            bm25_analyzer: AnalyzerKind::best_available(),
            bm25_tokenizer: None,
            top_k: p.top_k,
            rrf_k: p.rrf.k,
            rrf_depth: p.rrf.depth,
            fusion: p.fusion,
            fusion_norm: p.norm,
            alpha: p.alpha,
            config_file: None,
            dense_weight: p.dense_weight,
            bm25_weight: p.bm25_weight,
            rerank_depth: p.rerank_depth,
            no_cache: false,
            backend: None,
            backend_timeout: 30.0,
        }
    }
}

impl RetrievalOptions {
    pub fn params(&self) -> SearchParams {
        SearchParams {
            top_k: self.top_k,
            rrf: RrfParams {
                k: self.rrf_k,
                depth: self.rrf_depth,
            },
            dense_weight: self.dense_weight,
            bm25_weight: self.bm25_weight,
            rerank_depth: self.rerank_depth,
            fusion: self.fusion,
            alpha: self.alpha,
            norm: self.fusion_norm,
        }
    }

    /// Applies a saved fusion setting to every fusion option the user did not give
    /// explicitly (`explicit(id)`, as for [`Preset::apply`]). Returns whether the setting
    /// changed anything that is in force.
    pub fn apply_fusion(&mut self, fusion: &Fusion, explicit: &dyn Fn(&str) -> bool) -> bool {
        if explicit("fusion") && self.fusion != fusion.method() {
            // The user picked the other method: none of the saved numbers apply.
            return false;
        }
        let mut changed = false;
        let mut set = |id: &str, apply: &mut dyn FnMut()| {
            if !explicit(id) {
                apply();
                changed = true;
            }
        };
        set("fusion", &mut || self.fusion = fusion.method());
        match *fusion {
            Fusion::Rrf {
                k,
                depth,
                dense_weight,
                bm25_weight,
            } => {
                set("rrf_k", &mut || self.rrf_k = k);
                set("rrf_depth", &mut || self.rrf_depth = depth);
                set("dense_weight", &mut || self.dense_weight = dense_weight);
                set("bm25_weight", &mut || self.bm25_weight = bm25_weight);
            }
            Fusion::Convex { alpha, norm, depth } => {
                set("alpha", &mut || self.alpha = alpha);
                set("fusion_norm", &mut || self.fusion_norm = norm);
                set("rrf_depth", &mut || self.rrf_depth = depth);
            }
        }
        changed
    }
}

/// Everything the options say, in one place.
#[derive(Debug, Clone)]
pub struct Options {
    pub model: ModelOptions,
    pub data: DataOptions,
    pub retrieval: RetrievalOptions,
    /// The endpoint of a remote encoder (`openai:NAME` models).
    pub api: ApiOptions,
    /// Draw hf-hub's own download bars (CLI on a terminal).
    pub download_progress: bool,
}

impl Options {
    pub fn batch(&self) -> BatchOptions {
        BatchOptions {
            max_tokens: self.model.batch_tokens.unwrap_or(0),
            ..BatchOptions::default()
        }
    }

    pub(crate) fn spec(&self, id: &str, revision: Option<String>) -> ModelSpec {
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

    /// The remote encoder's settings: the base URL given (the command line reads
    /// `OPENAI_BASE_URL` into it), else OpenAI's; the key from `OPENAI_API_KEY`.
    pub fn remote_options(&self, name: &str) -> Result<RemoteOptions> {
        let api = &self.api;
        let mut o = RemoteOptions::new(
            api.api_base
                .clone()
                .unwrap_or_else(|| DEFAULT_API_BASE.to_owned()),
            name,
        );
        o.api_key = ApiKey::new(std::env::var("OPENAI_API_KEY").ok());
        o.input_types = api.input_types()?;
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
                    .map_err(|e: String| Invalid::new(Setting::Pooling, format!(": {e}")).into())
            })
            .transpose()
    }

    /// The options as the bi-encoder of a dense pane's `key` needs them: the key's model and
    /// pooling replace the session's.
    pub fn for_dense(&self, key: &crate::panes::DenseKey) -> Options {
        let mut o = self.clone();
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

    /// Checks option values before any heavy work.
    pub fn validate(&self) -> Result<()> {
        self.retrieval.params().validate()?;
        if self.data.limit == Some(0) {
            return Err(Invalid::new(Setting::Limit, "must be at least 1").into());
        }
        if self.model.batch_tokens == Some(0) {
            return Err(Invalid::new(Setting::BatchTokens, "must be at least 1").into());
        }
        self.pooling()?;
        self.api.validate()?;
        if let Some(name) = self.remote_model() {
            if name.trim().is_empty() {
                bail!("--model openai: needs a model name, e.g. openai:text-embedding-3-small");
            }
            if self.model.pooling.is_some() {
                return Err(Invalid::new(
                    Setting::Pooling,
                    format!(
                        "applies to local models; {} pools on the server",
                        self.model.model
                    ),
                )
                .into());
            }
        }
        if self.data.split.trim().is_empty() {
            return Err(Invalid::new(Setting::Split, "is empty").into());
        }
        Ok(())
    }
}

/// Named bundles of defaults.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Preset {
    /// The textbook chapter's demo: KLUE MRC train, first 1,000 rows, KR-SBERT, BM25 over
    /// klue/roberta-base subword tokens, RRF k = 20 over the top 100 of each list.
    Textbook,
}

impl FromStr for Preset {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "textbook" => Ok(Self::Textbook),
            _ => Err(format!("unknown preset {s:?}; known: textbook")),
        }
    }
}

/// The tokenizer the textbook's BM25 uses.
pub const TEXTBOOK_TOKENIZER: &str = "klue/roberta-base";

impl Preset {
    /// Applies the preset to every option the user did not give explicitly
    /// (`explicit(id)` says whether option `id`, the field's name, was given).
    pub fn apply(
        self,
        model: &mut ModelOptions,
        data: &mut DataOptions,
        retrieval: &mut RetrievalOptions,
        explicit: &dyn Fn(&str) -> bool,
    ) {
        match self {
            Preset::Textbook => {
                let set = |id: &str| !explicit(id);
                if set("model") {
                    model.model = DEFAULT_MODEL.to_owned();
                }
                if set("split") {
                    data.split = "train".to_owned();
                }
                if set("limit") {
                    data.limit = Some(1000);
                }
                if set("bm25_analyzer") {
                    retrieval.bm25_analyzer = AnalyzerKind::Wordpiece;
                }
                if set("bm25_tokenizer") {
                    retrieval.bm25_tokenizer = Some(TEXTBOOK_TOKENIZER.to_owned());
                }
                if set("rrf_k") {
                    retrieval.rrf_k = 20.0;
                }
                if set("rrf_depth") {
                    retrieval.rrf_depth = 100;
                }
                if set("rerank_depth") {
                    retrieval.rerank_depth = 30;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn preset(given: &[&str]) -> (ModelOptions, DataOptions, RetrievalOptions) {
        let mut model = ModelOptions::default();
        let mut data = DataOptions::default();
        let mut retrieval = RetrievalOptions::default();
        for id in given {
            match *id {
                "limit" => data.limit = Some(50),
                "rrf_k" => retrieval.rrf_k = 60.0,
                "bm25_tokenizer" => retrieval.bm25_tokenizer = Some("/tmp/tok".into()),
                _ => {}
            }
        }
        Preset::Textbook.apply(&mut model, &mut data, &mut retrieval, &|id| {
            given.contains(&id)
        });
        (model, data, retrieval)
    }

    #[test]
    fn textbook_preset_sets_the_chapter_configuration() {
        let (model, data, retrieval) = preset(&[]);
        assert_eq!(data.split, "train");
        assert_eq!(data.limit, Some(1000));
        assert_eq!(model.model, DEFAULT_MODEL);
        assert_eq!(retrieval.bm25_analyzer, AnalyzerKind::Wordpiece);
        assert_eq!(
            retrieval.bm25_tokenizer.as_deref(),
            Some("klue/roberta-base")
        );
        assert_eq!(retrieval.rrf_k, 20.0);
        assert_eq!(retrieval.rrf_depth, 100);
    }

    #[test]
    fn explicit_options_win_over_the_preset() {
        let (_, data, retrieval) = preset(&["limit", "rrf_k", "bm25_tokenizer"]);
        assert_eq!(data.limit, Some(50));
        assert_eq!(retrieval.rrf_k, 60.0);
        assert_eq!(retrieval.bm25_tokenizer.as_deref(), Some("/tmp/tok"));
        assert_eq!(data.split, "train");
    }
}
