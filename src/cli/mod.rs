//! Subcommands and their output formats.
use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use anyhow::{bail, Context, Result};
use bigyo::data::Corpus;
use bigyo::eval::{
    self, Billing, CorpusCounts, EmbeddingReport, EvalQuery, EvalReport, GradedSettings,
    LabelsReport, TrecRuns,
};
use bigyo::fusion::Fusion;
use bigyo::judgments::{self, Judgments};
use bigyo::metrics::{Gain, Metrics};
use bigyo::model::{
    sigmoid, Embedder, EncoderOptions, Progress, Reranker, Runtime, SentenceEncoder, Side,
};
use bigyo::options::{ApiArgs, DataArgs, ModelArgs, Preset, RetrievalArgs};
use bigyo::panes::{PaneId, Panes};
use bigyo::pipeline::Pipeline;
use bigyo::session::{self, EmbedStats, Event, Options};
use bigyo::tune::{self, Split};
use bigyo::{render, teach};
use clap::{Parser, Subcommand, ValueEnum};

mod index;

#[derive(Debug, Parser)]
#[command(
    name = "bigyo",
    version,
    about = "비교 — explore Korean retrieval side by side: dense, BM25, hybrid RRF and reranking",
    after_help = "Logs: <cache>/logs/bigyo.log (BIGYO_LOG=debug for more). Models come from a local \
                  directory in the Hugging Face layout or a hub id (HF_ENDPOINT and HF_HOME honoured)."
)]
pub struct Args {
    /// Apply a named bundle of defaults: `textbook` = the chapter's demo (train split, first
    /// 1,000 rows, KR-SBERT, BM25 over klue/roberta-base subwords, RRF k = 20 over the top 100).
    /// Options given explicitly win.
    #[arg(long, global = true, value_enum)]
    pub preset: Option<Preset>,
    #[command(flatten)]
    pub model: ModelArgs,
    #[command(flatten)]
    pub data: DataArgs,
    #[command(flatten)]
    pub retrieval: RetrievalArgs,
    #[command(flatten)]
    pub api: ApiArgs,
    #[command(subcommand)]
    pub command: Option<Command>,
    /// The fusion options given on the command line (clap ids); they win over a saved setting.
    #[arg(skip)]
    pub explicit_fusion: Vec<&'static str>,
}

/// The options a saved fusion setting (`bigyo tune --apply`) may set.
const FUSION_IDS: [&str; 7] = [
    "fusion",
    "fusion_norm",
    "alpha",
    "rrf_k",
    "rrf_depth",
    "dense_weight",
    "bm25_weight",
];

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Embed texts with the bi-encoder.
    Embed {
        /// Texts to embed; with none, reads --input.
        texts: Vec<String>,
        /// A file with one text per line (`-` for stdin), or a JSONL file of strings.
        #[arg(long, short)]
        input: Option<PathBuf>,
        #[arg(long, value_enum, default_value_t = EmbedFormat::Summary)]
        format: EmbedFormat,
        /// Embed as queries, as passages (each with its prompt and input type), or plainly
        /// (the model's default prompt only, like sentence-transformers' `encode`).
        #[arg(long, value_enum, default_value_t = SideArg::Plain)]
        side: SideArg,
    },
    /// Score passages against a query with the cross-encoder.
    Rerank {
        query: String,
        passages: Vec<String>,
        #[arg(long, value_enum, default_value_t = TableOrJson::Table)]
        format: TableOrJson,
    },
    /// Show what bigyo reads from a model: architecture, pooling, lengths, unused tensors.
    ModelInfo,
    /// What bigyo sees of this machine: CPU model, the ISA extensions that matter, the dtype
    /// `--dtype auto` picks, and which kernels run the dense layers and why.
    Doctor,
    /// The four-pane explorer (also what `bigyo` alone starts).
    Tui,
    /// Search the corpus with every method and print the ranked lists.
    Search {
        query: String,
        /// Comma-separated default panes: dense, bm25, hybrid, rerank [default: all four];
        /// the short form of --panes.
        #[arg(long)]
        methods: Option<String>,
        #[arg(long, value_enum, default_value_t = TableOrJson::Table)]
        format: TableOrJson,
    },
    /// Write the corpus into a Milvus collection, the scale-out backend: passages, the
    /// encoder's vectors, and the analyzer's terms for the server's BM25. Resumable: passages
    /// already there with the same content are skipped. Where to write: --backend.
    Index {
        /// Drop the collection first and rebuild it.
        #[arg(long)]
        drop: bool,
        /// Passages per upsert.
        #[arg(long, default_value_t = 256)]
        batch: usize,
        /// The dense index Milvus builds: flat (exact), hnsw or ivf_flat (approximate, for
        /// millions of passages).
        #[arg(long, default_value = "flat")]
        vector_index: String,
    },
    /// Pairwise cosine similarity of sentences under one-hot, bag-of-words, TF-IDF (IDF from
    /// the loaded corpus) and the dense encoder.
    Similar {
        /// Two or more sentences.
        #[arg(required = true, num_args = 2..)]
        sentences: Vec<String>,
        #[arg(long, value_enum, default_value_t = TableOrJson::Table)]
        format: TableOrJson,
    },
    /// Evaluate every method over the corpus's questions (recall@1/5/10, MRR@10, nDCG@10, q/s).
    Eval {
        /// Comma-separated default panes: dense, bm25, hybrid, rerank [default: all four;
        /// rerank is skipped with --reranker none]; the short form of --panes.
        #[arg(long)]
        methods: Option<String>,
        /// Print exactly one JSON object on the last line of stdout.
        #[arg(long)]
        json: bool,
        /// Write one TREC run file per method (and qrels.txt, qrels.topics.tsv) into DIR.
        #[arg(long, value_name = "DIR")]
        trec_run: Option<PathBuf>,
        /// Evaluate on a TREC qrels file (`qid 0 docid grade`, graded; docids are bigyo's
        /// passage ids `p<N>`) instead of the dataset's gold passages.
        #[arg(long, value_name = "FILE")]
        qrels: Option<PathBuf>,
        /// The query texts of --qrels (`qid<TAB>query` per line) [default: the companion
        /// `<qrels stem>.topics.tsv` beside it when it exists; query ids that are the corpus's
        /// question ids need no topic].
        #[arg(long, value_name = "FILE", requires = "qrels")]
        topics: Option<PathBuf>,
        /// Which labels to evaluate on [default: `judgments` with --judgments FILE or when the
        /// corpus has no questions, else `gold`].
        #[arg(long, value_enum, conflicts_with = "qrels")]
        labels: Option<LabelChoice>,
        /// nDCG gain on graded labels: `linear` (gain = grade, trec_eval's ndcg_cut) or `exp`
        /// (2^grade - 1, Burges et al.; ranx's ndcg_burges).
        #[arg(long, value_enum, default_value_t = GainChoice::Linear)]
        ndcg_gain: GainChoice,
        /// On graded labels, MRR@10 and recall@k count a passage as relevant when its grade
        /// is at least this (trec_eval's -l).
        #[arg(long, default_value_t = 1)]
        rel_threshold: u32,
        /// Write one JSON line per question: the gold passage's rank in every method (null
        /// when not in its top 10 or more) and its reciprocal rank@10.
        #[arg(long, value_name = "FILE.jsonl")]
        per_query: Option<PathBuf>,
    },
    /// Search the hybrid fusion's settings (RRF k and dense weight, convex alpha and
    /// normalisation) on the labelled questions: chosen on one part, reported on the other.
    Tune {
        /// The share of questions the setting is chosen on; the rest are held out.
        #[arg(long, default_value_t = 0.5)]
        split_ratio: f64,
        /// K-fold instead of one split: each fold is scored by the setting chosen on the
        /// others.
        #[arg(long, value_name = "K", conflicts_with = "split_ratio")]
        folds: Option<usize>,
        /// Seed of the split's shuffle.
        #[arg(long, default_value_t = 42)]
        seed: u64,
        /// Print exactly one JSON object on the last line of stdout.
        #[arg(long)]
        json: bool,
        /// Save the chosen setting (to --config-file) for later runs to use.
        #[arg(long)]
        apply: bool,
    },
    /// Relevance judgments: export or import TREC qrels, grade from a script, list.
    Qrels {
        #[command(subcommand)]
        action: QrelsAction,
    },
}

#[derive(Debug, Subcommand)]
pub enum QrelsAction {
    /// Write the judgments as TREC qrels (`qid 0 p<N> grade`) and the query texts as a topics
    /// file (`qid<TAB>query`).
    Export {
        /// The qrels file to write.
        out: PathBuf,
        /// The topics file [default: `<out stem>.topics.tsv` beside OUT].
        #[arg(long, value_name = "FILE")]
        topics: Option<PathBuf>,
    },
    /// Add TREC qrels (grades 0..=3, docids `p<N>`) to the judgments; query texts from the
    /// topics file, or the corpus's question ids.
    Import {
        /// The qrels file to read.
        qrels: PathBuf,
        /// The topics file [default: `<qrels stem>.topics.tsv` beside it when it exists].
        #[arg(long, value_name = "FILE")]
        topics: Option<PathBuf>,
    },
    /// Grade from standard input, one `query<TAB>p<N><TAB>grade` per line (grade `-` removes
    /// the judgment); prints `ok N` once line N is on disk.
    Grade,
    /// List the judged queries: id, judged passages, relevant ones, text.
    List,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LabelChoice {
    /// The dataset's gold passage of each question.
    Gold,
    /// The judgments file (--judgments, or the corpus's default one).
    Judgments,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum GainChoice {
    Linear,
    Exp,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum EmbedFormat {
    /// Count, dimension, timing and passages per second.
    Summary,
    /// One JSON array of vectors.
    Json,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum SideArg {
    Query,
    Passage,
    Plain,
}

impl From<SideArg> for Side {
    fn from(s: SideArg) -> Self {
        match s {
            SideArg::Query => Side::Query,
            SideArg::Passage => Side::Passage,
            SideArg::Plain => Side::Plain,
        }
    }
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum TableOrJson {
    Table,
    Json,
}

/// Parses the command line and applies `--preset` to the options not given explicitly.
pub fn parse() -> Args {
    use clap::{CommandFactory, FromArgMatches};
    let matches = Args::command().get_matches();
    let mut args = Args::from_arg_matches(&matches).unwrap_or_else(|e| e.exit());
    let explicit = |id: &str| {
        let from_cli = |m: &clap::ArgMatches| {
            m.try_get_raw(id).is_ok_and(|v| v.is_some())
                && m.value_source(id) == Some(clap::parser::ValueSource::CommandLine)
        };
        from_cli(&matches) || matches.subcommand().is_some_and(|(_, sub)| from_cli(sub))
    };
    args.explicit_fusion = FUSION_IDS.into_iter().filter(|id| explicit(id)).collect();
    if let Some(preset) = args.preset {
        preset.apply(
            &mut args.model,
            &mut args.data,
            &mut args.retrieval,
            &explicit,
        );
    }
    args
}

/// Applies the saved fusion setting (`bigyo tune --apply`) to the fusion options not given on
/// the command line, and says so on stderr.
fn apply_saved_fusion(args: &mut Args) -> Result<()> {
    let r = &mut args.retrieval;
    let path = r
        .config_file
        .clone()
        .unwrap_or_else(tune::default_config_file);
    let Some(saved) = tune::load_setting(&path)? else {
        if r.config_file.is_some() {
            bail!("--config-file {}: no such file", path.display());
        }
        return Ok(());
    };
    let explicit = &args.explicit_fusion;
    if r.apply_fusion(&saved, &|id| explicit.contains(&id)) {
        let in_force = r.params().fusion();
        let mut line = format!(
            "bigyo: fusion from {}: {}",
            path.display(),
            in_force.describe()
        );
        if !explicit.is_empty() {
            let flags: Vec<String> = explicit
                .iter()
                .map(|id| format!("--{}", id.replace('_', "-")))
                .collect();
            line.push_str(&format!(" ({} given explicitly)", flags.join(", ")));
        }
        eprintln!("{line}");
    } else {
        eprintln!(
            "bigyo: fusion from {} not used: --fusion {} given",
            path.display(),
            r.fusion
        );
    }
    Ok(())
}

pub fn run(mut args: Args) -> Result<()> {
    if matches!(
        args.command,
        None | Some(Command::Tui) | Some(Command::Search { .. }) | Some(Command::Eval { .. })
    ) {
        apply_saved_fusion(&mut args)?;
    }
    let opts = Options {
        model: args.model.clone(),
        data: args.data.clone(),
        retrieval: args.retrieval.clone(),
        api: args.api.clone(),
        download_progress: std::io::stderr().is_terminal(),
    };
    if opts.retrieval.backend.is_some() {
        match &args.command {
            None | Some(Command::Tui) => bail!(
                "--backend: the explorer does not query Milvus yet; use `bigyo search` or \
                 `bigyo eval` with --backend"
            ),
            Some(Command::Tune { .. }) => bail!(
                "--backend: `bigyo tune` searches the fusion settings over the in-process \
                 indexes; run it without --backend"
            ),
            _ => {}
        }
    }
    match &args.command {
        Some(Command::Search {
            query,
            methods,
            format,
        }) => return search(&opts, query, methods.as_deref(), *format),
        Some(Command::Index {
            drop,
            batch,
            vector_index,
        }) => {
            let Some(backend) = &opts.retrieval.backend else {
                bail!("bigyo index needs --backend milvus://HOST:PORT/COLLECTION (where to write)");
            };
            return index::index(
                &opts,
                backend,
                *drop,
                *batch,
                vector_index,
                opts.retrieval.backend_timeout,
            );
        }
        Some(Command::Eval {
            methods,
            json,
            trec_run,
            per_query,
            qrels,
            topics,
            labels,
            ndcg_gain,
            rel_threshold,
        }) => {
            let labels = match (qrels, labels) {
                (Some(q), _) => LabelSource::Qrels {
                    qrels: q.clone(),
                    topics: topics.clone(),
                },
                (None, Some(LabelChoice::Gold)) => LabelSource::Gold,
                (None, Some(LabelChoice::Judgments)) => LabelSource::Judgments,
                (None, None) if opts.data.judgments.is_some() => LabelSource::Judgments,
                (None, None) => LabelSource::Auto,
            };
            let settings = GradedSettings {
                gain: match ndcg_gain {
                    GainChoice::Linear => Gain::Linear,
                    GainChoice::Exp => Gain::Exp,
                },
                rel_threshold: *rel_threshold,
            };
            return eval(
                &opts,
                methods.as_deref(),
                *json,
                trec_run.as_deref(),
                per_query.as_deref(),
                labels,
                settings,
            );
        }
        Some(Command::Qrels { action }) => return qrels(&opts, action),
        Some(Command::Tune {
            split_ratio,
            folds,
            seed,
            json,
            apply,
        }) => {
            let split = match folds {
                Some(k) => Split::Folds {
                    folds: *k,
                    seed: *seed,
                },
                None => Split::Holdout {
                    ratio: *split_ratio,
                    seed: *seed,
                },
            };
            return tune(&opts, split, *json, *apply);
        }
        Some(Command::Similar { sentences, format }) => return similar(&opts, sentences, *format),
        _ => {}
    }
    let command = match args.command {
        None | Some(Command::Tui) => return bigyo::tui::run(opts),
        Some(command) => command,
    };
    let runtime = opts.runtime()?;
    match command {
        Command::Embed {
            texts,
            input,
            format,
            side,
        } => {
            opts.validate()?;
            let texts = match (texts.is_empty(), input) {
                (false, None) => texts,
                (true, Some(path)) => read_texts(&path)?,
                (false, Some(_)) => bail!("give texts as arguments or --input, not both"),
                (true, None) => bail!("nothing to embed: give texts as arguments or --input FILE"),
            };
            let loading = Instant::now();
            let mut encoder =
                session::load_embedder(&opts, runtime, opts.pooling()?, &mut reporter())?;
            let load_s = loading.elapsed().as_secs_f64();
            let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
            let started = Instant::now();
            let bar = progress_bar(refs.len() as u64, "embedding");
            let embeddings = encoder.embed(side.into(), &refs, &mut |p: Progress| {
                bar.set_position(p.done as u64)
            })?;
            bar.finish_and_clear();
            let secs = started.elapsed().as_secs_f64();
            let mut out = std::io::stdout().lock();
            match format {
                EmbedFormat::Json => {
                    let rows: Vec<&[f32]> = embeddings.rows().collect();
                    serde_json::to_writer(&mut out, &rows)?;
                    writeln!(out)?;
                }
                EmbedFormat::Summary => writeln!(
                    out,
                    "{} texts, dim {}, {} on {}, load {load_s:.2}s, embed {secs:.3}s, {:.1} texts/s",
                    embeddings.len(),
                    embeddings.dim,
                    encoder.identity(),
                    runtime.describe(),
                    embeddings.len() as f64 / secs.max(1e-9)
                )?,
            }
            if let Some(usage) = encoder.usage() {
                eprintln!(
                    "bigyo: {}",
                    session::cost_line(&opts, "texts", refs.len(), usage)
                );
            }
        }
        Command::Rerank {
            query,
            passages,
            format,
        } => {
            let Some(mut reranker) = session::load_reranker(&opts, runtime, &mut reporter())?
            else {
                bail!("--reranker none: there is no cross-encoder to score with");
            };
            let refs: Vec<&str> = passages.iter().map(String::as_str).collect();
            let started = Instant::now();
            let bar = progress_bar(refs.len() as u64, "scoring");
            let logits = reranker.score(&query, &refs, &mut |p: Progress| {
                bar.set_position(p.done as u64)
            })?;
            bar.finish_and_clear();
            eprintln!(
                "bigyo: scored {} pairs in {:.3}s ({}, dense layers on {})",
                refs.len(),
                started.elapsed().as_secs_f64(),
                reranker.dtype_name(),
                reranker.kernel_plan().path
            );
            let mut out = std::io::stdout().lock();
            match format {
                TableOrJson::Json => {
                    let rows: Vec<_> = logits
                        .iter()
                        .zip(&passages)
                        .map(|(&l, p)| serde_json::json!({"passage": p, "logit": l, "score": sigmoid(l)}))
                        .collect();
                    serde_json::to_writer(&mut out, &rows)?;
                    writeln!(out)?;
                }
                TableOrJson::Table => {
                    writeln!(out, "{:>10} {:>8}  passage", "logit", "sigmoid")?;
                    for (l, p) in logits.iter().zip(&passages) {
                        writeln!(out, "{l:>10.4} {:>8.4}  {p}", sigmoid(*l))?;
                    }
                }
            }
        }
        Command::Doctor => doctor(&opts, runtime),
        // Handled above, before the model-only set-up.
        Command::Search { .. }
        | Command::Index { .. }
        | Command::Eval { .. }
        | Command::Tune { .. }
        | Command::Similar { .. }
        | Command::Qrels { .. }
        | Command::Tui => {}
        Command::ModelInfo => {
            if let Some(name) = opts.remote_model() {
                opts.validate()?;
                let remote = opts.remote_options(name)?;
                let (q, p) = remote
                    .input_types
                    .clone()
                    .unwrap_or_else(|| ("-".into(), "-".into()));
                println!("model:          {name} (remote, OpenAI-compatible)");
                println!("endpoint:       {}", remote.url());
                println!(
                    "api key:        {}",
                    if remote.api_key.is_set() {
                        "OPENAI_API_KEY is set"
                    } else {
                        "none (OPENAI_API_KEY is not set)"
                    }
                );
                println!("input types:    query {q}, passage {p}");
                println!("query prompt:   {:?}", remote.query_prompt);
                println!("passage prompt: {:?}", remote.passage_prompt);
                println!(
                    "batches:        {} inputs / {} characters, {} in flight, timeout {}s",
                    remote.batch_inputs,
                    remote.batch_chars,
                    remote.in_flight,
                    remote.timeout.as_secs_f64()
                );
                return Ok(());
            }
            let dir = opts.model_dir()?;
            let encoder = SentenceEncoder::load(
                &dir,
                &EncoderOptions {
                    runtime,
                    batch: opts.batch(),
                    pooling: None,
                    query_prompt: opts.model.query_prompt.clone(),
                    passage_prompt: opts.model.passage_prompt.clone(),
                },
            )
            .with_context(|| format!("loading the encoder {}", opts.model.model))?;
            println!("model:          {}", dir.identity);
            println!("directory:      {}", dir.root.display());
            println!("architecture:   {}", encoder.architecture().name());
            println!("dimension:      {}", encoder.dim());
            println!("pooling:        {}", encoder.pooling());
            println!("normalize:      {}", encoder.normalizes());
            println!("max_seq_length: {}", encoder.max_seq_length());
            println!("device:         {}", runtime.describe());
            let named = encoder.model_prompts();
            println!(
                "prompts:        {}",
                if named.named.is_empty() {
                    "none".to_owned()
                } else {
                    named
                        .named
                        .iter()
                        .map(|(k, v)| format!("{k}={v:?}"))
                        .collect::<Vec<_>>()
                        .join(", ")
                }
            );
            if let Some(d) = &named.default_name {
                println!("default prompt: {d}");
            }
            println!("query prompt:   {:?}", encoder.prompts().query);
            println!("passage prompt: {:?}", encoder.prompts().passage);
            println!(
                "include_prompt: {}",
                if encoder.include_prompt() {
                    "true (prompt tokens are pooled)"
                } else {
                    "false (prompt tokens are left out of pooling)"
                }
            );
            println!(
                "dtype:          {} (--dtype {})",
                encoder.dtype_name(),
                opts.model.dtype
            );
            let plan = encoder.kernel_plan();
            println!("dense layers:   {} ({})", plan.path, plan.reason);
            let unused = encoder.unexpected_tensors();
            println!(
                "unused tensors: {}",
                if unused.is_empty() {
                    "none".to_owned()
                } else {
                    unused.join(", ")
                }
            );
        }
    }
    Ok(())
}

/// `bigyo doctor`: the machine as bigyo sees it, then the models' kernel choices (a model
/// that cannot be loaded is reported, not fatal: the machine part is what matters here).
fn doctor(opts: &Options, runtime: Runtime) {
    use bigyo::model::cpu::{self, CpuInfo};
    let info = CpuInfo::detect();
    println!("{}", cpu::describe(&info));
    println!("libtorch:       {}", cpu::torch_version());
    println!(
        "device:         {} (--device {}, --dtype {} -> {}{})",
        runtime.describe(),
        opts.model.device,
        opts.model.dtype,
        runtime.dtype_name(),
        match (opts.model.dtype, runtime.device) {
            (bigyo::model::DTypeChoice::Auto, tch::Device::Cpu) if info.has_bf16() =>
                ": the CPU computes bf16 natively (avx512_bf16/AMX)",
            (bigyo::model::DTypeChoice::Auto, tch::Device::Cpu) =>
                ": no avx512_bf16 or AMX, where bf16 would be slower than fp32",
            _ => "",
        }
    );
    match cpu::known_plan(&info) {
        Some(plan) => println!("fp32 rule:      {} ({})", plan.path, plan.reason),
        None => {
            println!("fp32 rule:      none for this CPU: measured once per model shape and cached")
        }
    }
    println!(
        "cache:          {}",
        bigyo::paths::cache_dir().join("cpu-calibration").display()
    );
    let mut report = |_event: Event| {};
    match session::load_encoder(opts, runtime, None, &mut report) {
        Ok(encoder) => {
            let plan = encoder.kernel_plan();
            println!(
                "encoder:        {} ({}): {} ({})",
                opts.model.model,
                encoder.dtype_name(),
                plan.path,
                plan.reason
            );
        }
        Err(e) => println!("encoder:        not loaded: {e:#}"),
    }
    match session::load_reranker(opts, runtime, &mut report) {
        Ok(Some(reranker)) => {
            let plan = reranker.kernel_plan();
            println!(
                "reranker:       {} ({}): {} ({})",
                opts.model.reranker,
                reranker.dtype_name(),
                plan.path,
                plan.reason
            );
        }
        Ok(None) => println!("reranker:       none"),
        Err(e) => println!("reranker:       not loaded: {e:#}"),
    }
}

/// Draws session events on stderr: progress bars on a terminal, warnings always.
pub(crate) fn reporter() -> impl FnMut(Event) {
    let tty = std::io::stderr().is_terminal();
    let mut bar: Option<indicatif::ProgressBar> = None;
    move |event| match event {
        Event::Start { step, total } => {
            if let Some(b) = bar.take() {
                b.finish_and_clear();
            }
            tracing::info!("{step}");
            if tty {
                bar = Some(match total {
                    Some(t) => progress_bar(t, &step.to_string()),
                    None => {
                        let b = indicatif::ProgressBar::new_spinner();
                        b.set_message(step.to_string());
                        b.enable_steady_tick(std::time::Duration::from_millis(120));
                        b
                    }
                });
            }
        }
        Event::Progress { done } => {
            if let Some(b) = &bar {
                b.set_position(done);
            }
        }
        Event::Finish => {
            if let Some(b) = bar.take() {
                b.finish_and_clear();
            }
        }
        Event::Warning(w) => {
            tracing::warn!("{w}");
            eprintln!("bigyo: warning: {w}");
        }
        Event::Note(n) => {
            tracing::info!("{n}");
            eprintln!("bigyo: {n}");
        }
    }
}

/// The corpus and the checked backend connection (`None` without `--backend`).
type Loaded = (Arc<Corpus>, Option<session::Backend>);

/// Checks the options, connects to the backend (when given: a wrong address or a missing
/// collection fails before anything heavy) and loads the corpus (printing its summary on
/// stderr).
fn load(opts: &Options) -> Result<Loaded> {
    opts.validate()?;
    // Device choice fails early (e.g. CUDA asked where none exists), before any heavy work.
    opts.runtime()?;
    let backend = session::connect_backend(opts, &mut reporter())?;
    let corpus = Arc::new(session::load_corpus(opts, &mut reporter())?);
    tracing::info!("{}", corpus.summary());
    eprintln!("bigyo: {}", corpus.summary());
    if let Some(b) = &backend {
        eprintln!(
            "bigyo: backend {} ({} passages, {} index, embedded with {})",
            b.milvus.url(),
            b.info.passages,
            b.info.index_type,
            b.info.model
        );
    }
    Ok((corpus, backend))
}

/// The pipeline, each encoder's model and embedding stats, and the runtime.
type BuiltSession = (Pipeline, Vec<(String, EmbedStats)>, Runtime);

/// Builds the pipeline `panes` need over `corpus` and prints what a remote encoder cost.
fn build(opts: &Options, panes: Panes, (corpus, backend): Loaded) -> Result<BuiltSession> {
    let runtime = opts.runtime()?;
    let built = session::build_on(opts, panes, corpus, runtime, backend, &mut reporter())?;
    let mut embeds = Vec::new();
    for (key, model, s) in built.embeds {
        if bigyo::model::remote::remote_name(&model).is_some() {
            let line = match s.usage {
                Some(u) => session::cost_line(opts, "passages", s.passages, u),
                None => format!(
                    "embedding {} passages: from the cache, no requests",
                    s.passages
                ),
            };
            let line = if key.model.is_some() {
                format!("{model}: {line}")
            } else {
                line
            };
            tracing::info!("{line}");
            eprintln!("bigyo: {line}");
        }
        embeds.push((model, s));
    }
    Ok((built.pipeline, embeds, runtime))
}

fn search(opts: &Options, query: &str, methods: Option<&str>, format: TableOrJson) -> Result<()> {
    let panes = session::panes(opts, methods)?;
    if query.chars().count() > 30_000 {
        bail!(
            "the query is {} characters; bigyo searches at most 30000",
            query.chars().count()
        );
    }
    let (mut pipeline, _, _) = build(opts, panes, load(opts)?)?;
    let results = pipeline.search(query);
    let corpus = pipeline.corpus.clone();
    let gold = corpus.gold_for(query);
    let mut out = std::io::stdout().lock();
    match format {
        TableOrJson::Table => write!(out, "{}", render::table(&corpus, &results, gold))?,
        TableOrJson::Json => writeln!(out, "{}", render::json(&corpus, &results, gold))?,
    }
    Ok(())
}

fn similar(opts: &Options, sentences: &[String], format: TableOrJson) -> Result<()> {
    opts.validate()?;
    let runtime = opts.runtime()?;
    let mut report = reporter();
    let corpus = session::load_corpus(opts, &mut report)?;
    let analyzer = session::analyzer(opts)?;
    let df = teach::DocFreq::fit(&corpus.texts(), &analyzer);
    let refs: Vec<&str> = sentences.iter().map(String::as_str).collect();
    // The dense column is optional: without a model the sparse ones still teach the point.
    let dense =
        session::load_embedder(opts, runtime, opts.pooling()?, &mut report).and_then(|mut enc| {
            let e = enc.embed(Side::Plain, &refs, &mut |_| {})?;
            Ok(e.rows()
                .map(|r| r.iter().map(|&x| x as f64).collect::<Vec<f64>>())
                .collect::<Vec<_>>())
        });
    let (dense, dense_error) = match dense {
        Ok(d) => (Some(d), None),
        Err(e) => (None, Some(format!("{e:#}"))),
    };
    let matrices = teach::similarity_matrices(&refs, &analyzer, &df, dense.as_deref());
    let mut out = std::io::stdout().lock();
    match format {
        TableOrJson::Table => {
            writeln!(
                out,
                "IDF from {}: {} passages, analyzer {}",
                corpus.source,
                corpus.passages.len(),
                analyzer.describe()
            )?;
            write!(
                out,
                "{}",
                teach::table(&refs, &matrices, dense_error.as_deref())
            )?;
        }
        TableOrJson::Json => {
            let m: serde_json::Map<String, serde_json::Value> = matrices
                .iter()
                .map(|(r, v)| {
                    (
                        serde_json::to_value(r)
                            .map(|s| s.as_str().unwrap_or_default().to_owned())
                            .unwrap_or_default(),
                        serde_json::json!(v),
                    )
                })
                .collect();
            writeln!(
                out,
                "{}",
                serde_json::json!({
                    "sentences": refs,
                    "idf_corpus": corpus.source,
                    "idf_documents": corpus.passages.len(),
                    "analyzer": analyzer.describe(),
                    "matrices": m,
                    "dense_error": dense_error,
                })
            )?;
        }
    }
    Ok(())
}

/// Where `bigyo eval` takes its labels from.
enum LabelSource {
    /// Gold when the corpus has questions, else the default judgments file.
    Auto,
    Gold,
    Judgments,
    Qrels {
        qrels: PathBuf,
        topics: Option<PathBuf>,
    },
}

/// Reads a topics file: the one given, else the qrels file's companion when it exists.
fn read_topics(
    qrels: &Path,
    topics: Option<&Path>,
) -> Result<(BTreeMap<String, String>, Option<PathBuf>)> {
    let path = match topics {
        Some(t) => t.to_owned(),
        None => {
            let c = judgments::companion_topics(qrels);
            if !c.exists() {
                return Ok((BTreeMap::new(), None));
            }
            c
        }
    };
    Ok((judgments::parse_topics(&path)?, Some(path)))
}

/// Opens the judgments store, printing its warnings; returns how many lines were skipped.
fn open_judgments(path: &Path) -> Result<(Judgments, usize)> {
    let (store, warnings) = Judgments::open(path)?;
    for w in &warnings {
        eprintln!("bigyo: warning: {} {w}", path.display());
    }
    Ok((store, warnings.len()))
}

/// The queries and labels `source` names, with the report of what was used.
fn eval_labels(
    opts: &Options,
    corpus: &Corpus,
    source: LabelSource,
    settings: GradedSettings,
) -> Result<(Vec<EvalQuery>, LabelsReport)> {
    let graded = |source: &'static str, file: &Path| LabelsReport {
        source,
        file: Some(file.display().to_string()),
        ndcg_gain: Some(settings.gain.name()),
        rel_threshold: Some(settings.rel_threshold),
        ..Default::default()
    };
    let source = match source {
        LabelSource::Auto if corpus.eval_questions().next().is_some() => LabelSource::Gold,
        LabelSource::Auto => LabelSource::Judgments,
        other => other,
    };
    let (queries, report) = match source {
        LabelSource::Auto | LabelSource::Gold => {
            let queries = eval::gold_queries(corpus);
            if queries.is_empty() {
                bail!(
                    "{} has no questions to take gold passages from; grade queries in the \
                     explorer, `bigyo qrels import`, or give --qrels FILE",
                    corpus.source
                );
            }
            let report = LabelsReport {
                source: "gold",
                queries: queries.len(),
                judgments: queries.len(),
                ..Default::default()
            };
            (queries, report)
        }
        LabelSource::Judgments => {
            let path = session::judgments_path(opts, corpus);
            let (store, bad) = open_judgments(&path)?;
            let mut report = graded("judgments", &path);
            report.bad_lines = bad;
            let queries = eval::judged_queries(corpus, &store, &mut report);
            if queries.is_empty() {
                bail!(
                    "no judged queries in {} for {}{}; grade hits in the explorer, \
                     `bigyo qrels import FILE`, or give --qrels FILE",
                    path.display(),
                    corpus.source,
                    if corpus.eval_questions().next().is_none() {
                        " (which has no questions of its own)"
                    } else {
                        ""
                    }
                );
            }
            (queries, report)
        }
        LabelSource::Qrels { qrels, topics } => {
            let rows = judgments::parse_qrels(&qrels)?;
            let (topic_map, topics_path) = read_topics(&qrels, topics.as_deref())?;
            let mut report = graded("qrels", &qrels);
            report.topics = topics_path.map(|t| t.display().to_string());
            let queries = eval::qrels_queries(corpus, &rows, &topic_map, &mut report);
            if queries.is_empty() {
                bail!(
                    "{}: none of its {} judgments can be used ({} with passage ids that are \
                     not this corpus's p0..p{}, {} queries without text: give --topics FILE)",
                    qrels.display(),
                    rows.len(),
                    report.unknown_passages,
                    corpus.passages.len().saturating_sub(1),
                    report.queries_without_text
                );
            }
            (queries, report)
        }
    };
    if report.unknown_passages > 0 {
        eprintln!(
            "bigyo: warning: skipped {} judgments whose passage id is not one of this corpus's \
             p0..p{}",
            report.unknown_passages,
            corpus.passages.len().saturating_sub(1)
        );
    }
    if report.queries_without_text > 0 {
        eprintln!(
            "bigyo: warning: skipped {} query ids with no text (not in the topics file nor \
             the corpus's question ids)",
            report.queries_without_text
        );
    }
    Ok((queries, report))
}

fn eval(
    opts: &Options,
    methods: Option<&str>,
    json: bool,
    trec_run: Option<&Path>,
    per_query: Option<&Path>,
    labels: LabelSource,
    settings: GradedSettings,
) -> Result<()> {
    let panes = session::panes(opts, methods)?;
    let (corpus, backend) = load(opts)?;
    // Labels are read before any model loads, so a bad qrels file fails fast.
    let (queries, labels) = eval_labels(opts, &corpus, labels, settings)?;
    eprintln!("bigyo: {}", labels.describe());
    if per_query.is_some() && labels.source != "gold" {
        bail!(
            "--per-query writes each question's gold rank; it needs the dataset's gold \
             passages, not {} labels",
            labels.source
        );
    }
    let (mut pipeline, embeds, runtime) = build(opts, panes, (corpus, backend))?;
    let all = pipeline.panes().clone();
    let shown: Vec<PaneId> = all.shown().collect();
    // The report's embedding section is the first encoder's; its key.
    let first_key = all.dense_keys().into_iter().next().unwrap_or_default();
    let mut trec = match trec_run {
        Some(dir) => Some(
            TrecRuns::create(dir, &all, &shown, &queries)
                .with_context(|| format!("creating TREC run files in {}", dir.display()))?,
        ),
        None => None,
    };
    let total = queries.len() as u64;
    let billed_before = pipeline.encoder_mut(&first_key).and_then(|e| e.usage());
    let bar = progress_bar(total, "evaluating");
    // Created before the run so that an unwritable path fails before the heavy work.
    let mut per_query_file = match per_query {
        Some(path) => Some((
            path,
            std::io::BufWriter::new(
                std::fs::File::create(path)
                    .with_context(|| format!("creating --per-query {}", path.display()))?,
            ),
        )),
        None => None,
    };
    let (reports, skipped, outcomes) = eval::evaluate_on(
        &mut pipeline,
        &shown,
        &queries,
        settings,
        trec.as_mut(),
        &mut |done, _| bar.set_position(done as u64),
    )?;
    bar.finish_and_clear();
    if let Some((path, file)) = per_query_file.as_mut() {
        let write = |file: &mut std::io::BufWriter<std::fs::File>| -> std::io::Result<()> {
            for o in &outcomes {
                let line = serde_json::json!({
                    "id": o.id,
                    "question": o.question,
                    "gold": o.gold,
                    "ranks": o.ranks,
                    "rr@10": o.rr_at_10(),
                });
                writeln!(file, "{line}")?;
            }
            file.flush()
        };
        write(file).with_context(|| format!("writing --per-query {}", path.display()))?;
    }
    if let Some(t) = trec {
        t.finish().context("writing TREC run files")?;
    }
    let query_usage = match (
        billed_before,
        pipeline.encoder_mut(&first_key).and_then(|e| e.usage()),
    ) {
        (Some(before), Some(after)) => Some(after.since(before)),
        _ => None,
    };
    if let Some(u) = query_usage {
        let line = session::cost_line(opts, "questions", total as usize, u);
        tracing::info!("{line}");
        eprintln!("bigyo: {line}");
    }
    let corpus = &pipeline.corpus;
    let names: Vec<String> = shown.iter().map(|&id| all.get(id).name.clone()).collect();
    let report = EvalReport {
        corpus: CorpusCounts {
            rows: corpus.rows,
            passages: corpus.passages.len(),
            questions: corpus.eval_questions().count(),
        },
        embedding: embeds.into_iter().next().map(|(model, s)| EmbeddingReport {
            model,
            device: if runtime.device == tch::Device::Cpu {
                "cpu".into()
            } else {
                runtime.describe()
            },
            dtype: runtime.dtype_name().to_owned(),
            seconds: s.seconds,
            passages_per_s: s.passages_per_s(),
            cached: s.from_cache,
            billing: query_usage.map(|q| {
                let p = s.usage.unwrap_or_default();
                let price = opts.api.price_per_mtok;
                Billing {
                    passage_requests: p.requests,
                    passage_tokens: p.tokens,
                    query_requests: q.requests,
                    query_tokens: q.tokens,
                    price_per_mtok: price,
                    cost_usd: price.map(|price| p.cost(price) + q.cost(price)),
                }
            }),
        }),
        labels,
        panes: names.clone(),
        methods: reports,
        skipped,
        comparison: bigyo::eval::compare(&names, &outcomes),
    };
    let mut out = std::io::stdout().lock();
    if json {
        writeln!(out, "{}", serde_json::to_string(&report)?)?;
    } else {
        write!(out, "{}", eval::table(&report))?;
    }
    Ok(())
}

/// `bigyo qrels ...`: the judgments of the loaded corpus.
fn qrels(opts: &Options, action: &QrelsAction) -> Result<()> {
    let (corpus, _) = load(opts)?;
    let path = session::judgments_path(opts, &corpus);
    let (mut store, _) = open_judgments(&path)?;
    let passages = corpus.passages.len();
    let mut out = std::io::stdout().lock();
    match action {
        QrelsAction::Export { out: file, topics } => {
            let all = store.all();
            if all.is_empty() {
                bail!("{} holds no judgments to export", path.display());
            }
            let topics = topics
                .clone()
                .unwrap_or_else(|| judgments::companion_topics(file));
            let write = |target: &Path, f: &dyn Fn(&mut dyn Write) -> std::io::Result<()>| {
                std::fs::File::create(target)
                    .map(std::io::BufWriter::new)
                    .and_then(|mut w| {
                        f(&mut w)?;
                        w.flush()
                    })
                    .with_context(|| format!("writing {}", target.display()))
            };
            write(file, &|w| {
                judgments::write_qrels(
                    w,
                    all.iter()
                        .map(|(q, _, p, g)| (q.as_str(), p.as_str(), u32::from(*g))),
                )
            })?;
            let queries = store.queries();
            write(&topics, &|w| {
                judgments::write_topics(
                    w,
                    queries.iter().map(|q| (q.qid.as_str(), q.text.as_str())),
                )
            })?;
            writeln!(
                out,
                "wrote {} judgments of {} queries to {} and their texts to {}",
                all.len(),
                queries.len(),
                file.display(),
                topics.display()
            )?;
        }
        QrelsAction::Import { qrels, topics } => {
            let rows = judgments::parse_qrels(qrels)?;
            let (topic_map, _) = read_topics(qrels, topics.as_deref())?;
            let question_text: BTreeMap<&str, &str> = corpus
                .questions
                .iter()
                .map(|q| (q.id.as_str(), q.text.as_str()))
                .collect();
            let (mut unknown, mut textless) = (0usize, BTreeSet::new());
            let mut grades = Vec::new();
            for r in &rows {
                if judgments::parse_passage_id(&r.docid, passages).is_none() {
                    unknown += 1;
                    continue;
                }
                let grade = u8::try_from(r.grade)
                    .ok()
                    .filter(|&g| g <= judgments::MAX_GRADE)
                    .with_context(|| {
                        format!(
                            "{}: query {} passage {}: grade {} is out of range (judgments are \
                             0 = not relevant … 3 = perfect)",
                            qrels.display(),
                            r.qid,
                            r.docid,
                            r.grade
                        )
                    })?;
                let text = topic_map
                    .get(&r.qid)
                    .map(String::as_str)
                    .or_else(|| question_text.get(r.qid.as_str()).copied());
                let Some(text) = text else {
                    textless.insert(r.qid.as_str());
                    continue;
                };
                grades.push((text.to_owned(), r.docid.clone(), grade));
            }
            if unknown > 0 {
                eprintln!(
                    "bigyo: warning: skipped {unknown} judgments whose passage id is not one of \
                     this corpus's p0..p{}",
                    passages.saturating_sub(1)
                );
            }
            if !textless.is_empty() {
                eprintln!(
                    "bigyo: warning: skipped the judgments of {} query ids with no text (give \
                     --topics FILE): {}",
                    textless.len(),
                    textless
                        .iter()
                        .take(5)
                        .copied()
                        .collect::<Vec<_>>()
                        .join(", ")
                );
            }
            if grades.is_empty() {
                bail!("{}: no judgment could be imported", qrels.display());
            }
            store.grade_many(&grades)?;
            writeln!(
                out,
                "imported {} judgments into {} (skipped {} with unknown passage ids, {} query ids \
                 without text)",
                grades.len(),
                path.display(),
                unknown,
                textless.len()
            )?;
        }
        QrelsAction::Grade => {
            let mut failed = 0usize;
            for (n, line) in std::io::stdin().lock().lines().enumerate() {
                let n = n + 1;
                let line = line.context("reading standard input")?;
                if line.trim().is_empty() {
                    continue;
                }
                let result = grade_line(&mut store, &line, passages);
                match result {
                    Ok(()) => writeln!(out, "ok {n}")?,
                    Err(e) => {
                        failed += 1;
                        writeln!(out, "error {n}: {e:#}")?;
                    }
                }
                out.flush()?;
            }
            if failed > 0 {
                bail!("{failed} lines were not recorded");
            }
        }
        QrelsAction::List => {
            writeln!(out, "judgments: {}", path.display())?;
            for q in store.queries() {
                writeln!(
                    out,
                    "{}\t{} judged\t{} relevant\t{}",
                    q.qid, q.judged, q.relevant, q.text
                )?;
            }
        }
    }
    Ok(())
}

/// One `query<TAB>p<N><TAB>grade` line of `bigyo qrels grade` (`-` as the grade removes).
fn grade_line(store: &mut Judgments, line: &str, passages: usize) -> Result<()> {
    let mut cols = line.split('\t');
    let (Some(query), Some(passage), Some(grade), None) =
        (cols.next(), cols.next(), cols.next(), cols.next())
    else {
        bail!("expected `query<TAB>p<N><TAB>grade`");
    };
    let passage = passage.trim();
    if judgments::parse_passage_id(passage, passages).is_none() {
        bail!(
            "`{passage}` is not a passage id of this corpus (p0..p{})",
            passages.saturating_sub(1)
        );
    }
    match grade.trim() {
        "-" => store.remove(query, passage)?,
        g => {
            let g: u8 = g
                .parse()
                .ok()
                .filter(|&g| g <= judgments::MAX_GRADE)
                .with_context(|| format!("grade `{g}` is not 0, 1, 2, 3 or -"))?;
            store.grade(query, passage, g)?;
        }
    }
    Ok(())
}

/// `bigyo tune`: each question's dense and BM25 lists once, then the grid on those lists.
fn tune(opts: &Options, split: Split, json: bool, apply: bool) -> Result<()> {
    split.validate()?;
    let started = Instant::now();
    let (mut pipeline, _, _) = build(opts, Panes::from_methods("dense,bm25")?, load(opts)?)?;
    let depth = opts.retrieval.rrf_depth;
    let corpus = pipeline.corpus.clone();
    let questions: Vec<_> = corpus.eval_questions().collect();
    let bm25 = pipeline
        .bm25(None)
        .map_err(|m| anyhow::anyhow!("the BM25 index: {m}"))?
        .clone();
    let key = Default::default();
    let dense = pipeline
        .take_dense(&key, "taken by the tuner")
        .context("the dense index is not ready")?;
    let (mut encoder, index) = (dense.encoder, dense.index);
    let lists_started = Instant::now();
    let bar = progress_bar(questions.len() as u64, "retrieving");
    let pairs: Vec<(&str, usize)> = questions
        .iter()
        .map(|q| (q.text.as_str(), q.passage))
        .collect();
    let queries = tune::query_lists(
        &pairs,
        &mut |texts| {
            encoder
                .embed(bigyo::model::Side::Query, texts, &mut |_| {})
                .context("encoding the questions")
        },
        &index,
        &bm25,
        depth,
        &mut |done, _| bar.set_position(done as u64),
    )?;
    bar.finish_and_clear();
    let lists_s = lists_started.elapsed().as_secs_f64();
    let grid_started = Instant::now();
    let grid = tune::grid(depth);
    let report = tune::tune(&queries, &grid, split)?;
    let default = Fusion::Rrf {
        k: 60.0,
        depth,
        dense_weight: 1.0,
        bm25_weight: 1.0,
    };
    let default_test = tune::held_out(&queries, &default, split)?;
    let grid_s = grid_started.elapsed().as_secs_f64();
    tracing::info!(
        "tune: lists {lists_s:.2}s, grid {grid_s:.2}s, total {:.2}s",
        started.elapsed().as_secs_f64()
    );
    let best = report.best.fusion;
    let mut out = std::io::stdout().lock();
    if json {
        writeln!(out, "{}", serde_json::to_string(&report)?)?;
    } else {
        let s = &report.best.split;
        let how = match split {
            Split::Holdout { ratio, seed } => format!(
                "held-out split (ratio {ratio}, seed {seed}): {} to tune on, {} held out",
                s.tune_questions, s.test_questions
            ),
            Split::Folds { folds, seed } => format!(
                "{folds}-fold (seed {seed}): each fold scored by the setting chosen on the others"
            ),
        };
        writeln!(out, "tune: {} questions; {how}", s.questions)?;
        writeln!(
            out,
            "lists: dense and BM25 top {depth} per question, retrieved once in {lists_s:.2}s; \
             {} settings scored on them in {grid_s:.2}s",
            grid.len()
        )?;
        let chosen_on = match split {
            Split::Holdout { .. } => "on the tuning part",
            Split::Folds { .. } => "on all questions (what --apply writes)",
        };
        writeln!(
            out,
            "best by MRR@10 {chosen_on} (ties: earlier grid entry): {} (MRR@10 there {:.4})",
            best.describe(),
            report.best.tune.mrr_10
        )?;
        for f in &s.folds {
            writeln!(
                out,
                "  fold of {:>4}: {} -> held-out MRR@10 {:.4}",
                f.test_questions,
                f.fusion.describe(),
                f.test.mrr_10
            )?;
        }
        writeln!(out)?;
        let row = |name: &str, m: &Metrics| {
            format!(
                "{name:<34} {:>8.4} {:>8.4} {:>9.4} {:>7.4} {:>8.4}\n",
                m.recall_1, m.recall_5, m.recall_10, m.mrr_10, m.ndcg_10
            )
        };
        write!(
            out,
            "{:<34} {:>8} {:>8} {:>9} {:>7} {:>8}\n{}{}{}{}",
            format!("held out ({} questions)", s.test_questions),
            "recall@1",
            "recall@5",
            "recall@10",
            "mrr@10",
            "ndcg@10",
            row(&format!("best: {}", best.describe()), &report.best.test),
            row("rrf k=60, equal weights (default)", &default_test),
            row("bm25", &report.baselines.bm25),
            row("dense", &report.baselines.dense),
        )?;
    }
    if apply {
        let path = opts
            .retrieval
            .config_file
            .clone()
            .unwrap_or_else(tune::default_config_file);
        tune::save_setting(&path, &best)?;
        eprintln!(
            "bigyo: wrote {}: {}; later runs use it (fusion options given explicitly win)",
            path.display(),
            best.describe()
        );
    }
    Ok(())
}

fn read_texts(path: &PathBuf) -> Result<Vec<String>> {
    let reader: Box<dyn BufRead> = if path.as_os_str() == "-" {
        Box::new(std::io::stdin().lock())
    } else {
        let file =
            std::fs::File::open(path).with_context(|| format!("opening {}", path.display()))?;
        Box::new(std::io::BufReader::new(file))
    };
    let jsonl = path.extension().is_some_and(|e| e == "jsonl");
    let mut texts = Vec::new();
    for (n, line) in reader.lines().enumerate() {
        let line = line.with_context(|| format!("reading {} line {}", path.display(), n + 1))?;
        if jsonl {
            if line.trim().is_empty() {
                continue;
            }
            let text: String = serde_json::from_str(&line).with_context(|| {
                format!("{} line {}: expected a JSON string", path.display(), n + 1)
            })?;
            texts.push(text);
        } else {
            texts.push(line);
        }
    }
    if texts.is_empty() {
        bail!("{} holds no texts", path.display());
    }
    Ok(texts)
}

pub(crate) fn progress_bar(total: u64, what: &str) -> indicatif::ProgressBar {
    if !std::io::stderr().is_terminal() {
        return indicatif::ProgressBar::hidden();
    }
    let bar = indicatif::ProgressBar::new(total);
    if let Ok(style) = indicatif::ProgressStyle::with_template(
        "{msg:>10} [{bar:40}] {pos}/{len} ({per_sec}, eta {eta})",
    ) {
        bar.set_style(style.progress_chars("=> "));
    }
    bar.set_message(what.to_owned());
    bar
}
