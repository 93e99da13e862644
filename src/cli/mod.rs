//! Subcommands and their output formats.
use std::io::IsTerminal;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{bail, Result};
use bigyo::data::Corpus;
use bigyo::model::{Runtime, Side};
use bigyo::options::{ApiOptions, ClipOptions, DataOptions, ModelOptions, RetrievalOptions};
use bigyo::pipeline::Pipeline;
use bigyo::plan::Plan;
use bigyo::session::{self, EmbedStats, Event, Options};
use clap::{Parser, Subcommand, ValueEnum};

pub use args::flagged;
use args::{ApiArgs, ClipArgs, DataArgs, ModelArgs, PresetArg, RetrievalArgs};

mod args;
mod clip;
mod doctor;
mod embed;
mod eval;
mod index;
mod lesson;
mod qrels;
mod search;
mod serve;
mod tune;
mod word2vec;

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
    pub preset: Option<PresetArg>,
    /// Comma-separated default panes: dense, bm25, hybrid, rerank [default: all four; eval
    /// skips rerank with --reranker none]; the short form of --panes, for search, eval and
    /// the explorer. Like every option, before or after the subcommand.
    #[arg(long, global = true, value_name = "LIST")]
    pub methods: Option<String>,
    /// The explorer (and `bigyo lesson`) restores this saved session at start-up, and
    /// Ctrl-S saves to it [default for Ctrl-S: ./bigyo-session.toml].
    #[arg(long, global = true, value_name = "FILE")]
    pub session: Option<PathBuf>,
    #[command(flatten)]
    pub model: ModelArgs,
    #[command(flatten)]
    pub data: DataArgs,
    #[command(flatten)]
    pub retrieval: RetrievalArgs,
    #[command(flatten)]
    pub api: ApiArgs,
    #[command(flatten)]
    pub clip: ClipArgs,
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// The command line read: the subcommand and the library's plain options.
#[derive(Debug)]
pub struct Parsed {
    pub command: Option<Command>,
    /// `--methods`: the panes of search, eval and the explorer, in short.
    pub methods: Option<String>,
    pub model: ModelOptions,
    pub data: DataOptions,
    pub retrieval: RetrievalOptions,
    pub api: ApiOptions,
    pub clip: ClipOptions,
    /// `--session FILE`: the explorer's saved session.
    pub session: Option<PathBuf>,
    /// The fusion options given on the command line (clap ids); they win over a saved setting.
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
    /// The explorer with a lesson: the chapter's steps on the loaded corpus (PgDn / PgUp).
    Lesson {
        /// A teacher's own steps (TOML; README: "Lesson mode") instead of the built-in chapter.
        #[arg(long, value_name = "FILE")]
        steps: Option<PathBuf>,
    },
    /// Search the corpus with every method and print the ranked lists.
    Search {
        query: String,
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
        /// Two or more sentences; with --image, the captions (one or more).
        #[arg(required = true, num_args = 1..)]
        sentences: Vec<String>,
        /// Score the sentences against this image with the CLIP model (--clip); repeat for
        /// several. Prints cosines and the softmax over captions of logits_per_image.
        #[arg(long = "image", value_name = "FILE")]
        images: Vec<PathBuf>,
        #[arg(long, value_enum, default_value_t = TableOrJson::Table)]
        format: TableOrJson,
    },
    /// Evaluate every method over the corpus's questions (recall@1/5/10, MRR@10, nDCG@10, q/s).
    Eval {
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
    /// word2vec (CBOW, skip-gram) on the corpus's terms: train and save, or ask for cosines,
    /// nearest words and analogies (also of vectors read from a word2vec/fastText file).
    Word2vec {
        #[command(subcommand)]
        action: word2vec::Word2vecAction,
    },
    /// An OpenAI-compatible embedding service over the local encoder (POST /v1/embeddings,
    /// GET /v1/models; POST /v1/search with --search), on loopback by default.
    Serve(serve::ServeArgs),
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

/// Parses the command line into plain options and applies `--preset` to the options not
/// given explicitly.
pub fn parse() -> Parsed {
    use clap::{CommandFactory, FromArgMatches};
    let matches = Args::command().get_matches();
    let args = Args::from_arg_matches(&matches).unwrap_or_else(|e| e.exit());
    let explicit = |id: &str| {
        let from_cli = |m: &clap::ArgMatches| {
            m.try_get_raw(id).is_ok_and(|v| v.is_some())
                && m.value_source(id) == Some(clap::parser::ValueSource::CommandLine)
        };
        from_cli(&matches) || matches.subcommand().is_some_and(|(_, sub)| from_cli(sub))
    };
    let mut parsed = Parsed {
        command: args.command,
        methods: args.methods,
        model: args.model.into(),
        data: args.data.into(),
        retrieval: args.retrieval.into(),
        api: args.api.into(),
        clip: args.clip.into(),
        session: args.session,
        explicit_fusion: FUSION_IDS.into_iter().filter(|id| explicit(id)).collect(),
    };
    parsed.model.model_given = explicit("model");
    if let Some(preset) = args.preset {
        bigyo::options::Preset::from(preset).apply(
            &mut parsed.model,
            &mut parsed.data,
            &mut parsed.retrieval,
            &explicit,
        );
    }
    parsed
}

/// The options of this run: a saved fusion setting applied, the flags checked against the
/// command, and the bi-encoder settled (the set-up's local model when the default cannot be
/// had; the explorer settles its own and says so on its status bar).
fn session_options(args: &mut Parsed) -> Result<Options> {
    if matches!(
        args.command,
        None | Some(Command::Tui | Command::Lesson { .. })
            | Some(Command::Search { .. })
            | Some(Command::Eval { .. })
    ) {
        tune::apply_saved_fusion(args)?;
    }
    let mut opts = Options {
        model: args.model.clone(),
        data: args.data.clone(),
        retrieval: args.retrieval.clone(),
        api: args.api.clone(),
        download_progress: std::io::stderr().is_terminal(),
    };
    if opts.retrieval.backend.is_some() {
        refuse_backend(args.command.as_ref())?;
    }
    let methods = args.methods.as_deref();
    let has_panes = match &args.command {
        None
        | Some(
            Command::Tui | Command::Lesson { .. } | Command::Search { .. } | Command::Eval { .. },
        ) => true,
        Some(Command::Serve(s)) => s.search,
        _ => false,
    };
    if methods.is_some() && !has_panes {
        bail!(
            "--methods chooses the panes of search, eval, serve --search and the explorer; \
             this command has none"
        );
    }
    if args
        .command
        .as_ref()
        .is_some_and(|c| uses_session_model(&opts, c, methods))
    {
        if let Some(notice) = session::settle_model(&mut opts) {
            eprintln!("bigyo: {notice}");
        }
    }
    Ok(opts)
}

pub fn run(mut args: Parsed) -> Result<()> {
    lesson::refuse_session(args.session.as_deref(), args.command.as_ref())?;
    let opts = session_options(&mut args)?;
    let methods = args.methods.as_deref();
    match &args.command {
        Some(Command::Search { query, format }) => {
            return search::search(&opts, query, methods, *format)
        }
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
            json,
            trec_run,
            per_query,
            qrels,
            topics,
            labels,
            ndcg_gain,
            rel_threshold,
        }) => {
            return eval::eval(
                &opts,
                methods,
                *json,
                trec_run.as_deref(),
                per_query.as_deref(),
                eval::label_source(&opts, qrels.as_ref(), topics.as_ref(), *labels),
                eval::graded_settings(*ndcg_gain, *rel_threshold),
            );
        }
        Some(Command::Qrels { action }) => return qrels::qrels(&opts, action),
        Some(Command::Tune {
            split_ratio,
            folds,
            seed,
            json,
            apply,
        }) => {
            let split = tune::split(*split_ratio, *folds, *seed);
            return tune::tune(&opts, split, *json, *apply);
        }
        Some(Command::Similar {
            sentences,
            format,
            images,
        }) => {
            if !images.is_empty() {
                return clip::similar(&opts, &args.clip, sentences, images, *format);
            }
            if sentences.len() < 2 {
                bail!("similar needs two or more sentences (or --image FILE to score captions against images)");
            }
            return search::similar(&opts, sentences, *format);
        }
        Some(Command::Word2vec { action }) => return word2vec::word2vec(&opts, action),
        Some(Command::Serve(serve_args)) => return serve::serve(&opts, serve_args, methods),
        _ => {}
    }
    if let Some(dir) = &args.clip.images {
        if matches!(args.command, None | Some(Command::Tui)) {
            return clip::explore(&opts, &args.clip, dir);
        }
        bail!("--images opens the explorer's image search; give it without a subcommand");
    }
    let command = match args.command {
        None | Some(Command::Tui) => {
            return lesson::explore(opts, methods, None, args.session.as_deref())
        }
        Some(Command::Lesson { steps }) => {
            let steps = Some(steps.as_deref());
            return lesson::explore(opts, methods, steps, args.session.as_deref());
        }
        Some(command) => command,
    };
    model_command(&opts, command)
}

/// Whether `command` embeds with the session's bi-encoder (so that the default model may be
/// replaced by the set-up's local one when the hub cannot provide it).
fn uses_session_model(opts: &Options, command: &Command, methods: Option<&str>) -> bool {
    let plan_uses = |methods: Option<&str>| {
        bigyo::plan::Plan::new(opts, methods).is_ok_and(|p| p.uses_session_model())
    };
    match command {
        Command::Search { .. } | Command::Eval { .. } => plan_uses(methods),
        Command::Tune { .. } | Command::Index { .. } => plan_uses(None),
        Command::Embed { .. }
        | Command::Similar { .. }
        | Command::Serve(_)
        | Command::ModelInfo
        | Command::Doctor => true,
        Command::Rerank { .. }
        | Command::Qrels { .. }
        | Command::Word2vec { .. }
        | Command::Tui
        | Command::Lesson { .. } => false,
    }
}

/// `--backend` where the command does not read Milvus.
fn refuse_backend(command: Option<&Command>) -> Result<()> {
    match command {
        Some(Command::Tune { .. }) => bail!(
            "--backend: `bigyo tune` searches the fusion settings over the in-process \
             indexes; run it without --backend"
        ),
        _ => Ok(()),
    }
}

/// The commands that need only the runtime and a model (no corpus): embed, rerank, doctor,
/// model-info.
fn model_command(opts: &Options, command: Command) -> Result<()> {
    let runtime = opts.runtime()?;
    match command {
        Command::Embed {
            texts,
            input,
            format,
            side,
        } => embed::embed(opts, runtime, texts, input, format, side)?,
        Command::Rerank {
            query,
            passages,
            format,
        } => embed::rerank(opts, runtime, &query, &passages, format)?,
        Command::Doctor => doctor::doctor(opts, runtime),
        // Handled above, before the model-only set-up.
        Command::Search { .. }
        | Command::Index { .. }
        | Command::Eval { .. }
        | Command::Tune { .. }
        | Command::Similar { .. }
        | Command::Qrels { .. }
        | Command::Word2vec { .. }
        | Command::Serve(_)
        | Command::Tui
        | Command::Lesson { .. } => {}
        Command::ModelInfo => doctor::model_info(opts, runtime)?,
    }
    Ok(())
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

/// [`build_partial`] for the subcommands that need every part (serve, tune): a part that
/// could not load ends the command with its reason.
fn build(opts: &Options, plan: &Plan, loaded: Loaded) -> Result<BuiltSession> {
    let (session, failed) = build_partial(opts, plan, loaded)?;
    failed.map_or(Ok(session), Err)
}

/// Why the parts in `failed` could not load, as the error `search` and `eval` end with
/// after printing the other panes' results.
fn could_not_load(failed: &[String]) -> Option<anyhow::Error> {
    (!failed.is_empty()).then(|| {
        anyhow::anyhow!(
            "could not load {}; the panes that need it are empty (see above)",
            failed.join("; and ")
        )
    })
}

/// Builds the pipeline `panes` need over `corpus` and prints what a remote encoder cost. A
/// model that cannot load leaves its panes empty, saying why, as in the explorer; the error
/// that names it comes back beside the session, for the caller to end with once the other
/// panes' results are out (exit 1).
fn build_partial(
    opts: &Options,
    plan: &Plan,
    (corpus, backend): Loaded,
) -> Result<(BuiltSession, Option<anyhow::Error>)> {
    let runtime = opts.runtime()?;
    let built = session::build_on(opts, plan, corpus, runtime, backend, &mut reporter())?;
    let failed = could_not_load(&built.failed);
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
    Ok(((built.pipeline, embeds, runtime), failed))
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
