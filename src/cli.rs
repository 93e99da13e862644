//! Subcommands and their output formats.
use std::io::{BufRead, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use anyhow::{bail, Context, Result};
use bigyo::eval::{CorpusCounts, EmbeddingReport, EvalReport, TrecRuns};
use bigyo::model::{
    sigmoid, Embedder, EncoderOptions, Progress, Reranker, Runtime, SentenceEncoder,
};
use bigyo::options::{DataArgs, ModelArgs, Preset, RetrievalArgs};
use bigyo::pipeline::{parse_methods, Method, Pipeline};
use bigyo::session::{self, EmbedStats, Event, Options};
use bigyo::{render, teach};
use clap::{Parser, Subcommand, ValueEnum};

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
    #[command(subcommand)]
    pub command: Option<Command>,
}

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
        /// Comma-separated: dense, bm25, hybrid, rerank.
        #[arg(long, default_value = "dense,bm25,hybrid,rerank")]
        methods: String,
        #[arg(long, value_enum, default_value_t = TableOrJson::Table)]
        format: TableOrJson,
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
        /// Comma-separated: dense, bm25, hybrid, rerank (rerank is skipped with --reranker none).
        #[arg(long, default_value = "dense,bm25,hybrid,rerank")]
        methods: String,
        /// Print exactly one JSON object on the last line of stdout.
        #[arg(long)]
        json: bool,
        /// Write one TREC run file per method (and qrels.txt) into DIR.
        #[arg(long, value_name = "DIR")]
        trec_run: Option<PathBuf>,
    },
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum EmbedFormat {
    /// Count, dimension, timing and passages per second.
    Summary,
    /// One JSON array of vectors.
    Json,
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
    if let Some(preset) = args.preset {
        let explicit = |id: &str| {
            let from_cli = |m: &clap::ArgMatches| {
                m.try_get_raw(id).is_ok_and(|v| v.is_some())
                    && m.value_source(id) == Some(clap::parser::ValueSource::CommandLine)
            };
            from_cli(&matches) || matches.subcommand().is_some_and(|(_, sub)| from_cli(sub))
        };
        preset.apply(
            &mut args.model,
            &mut args.data,
            &mut args.retrieval,
            &explicit,
        );
    }
    args
}

pub fn run(args: Args) -> Result<()> {
    let opts = Options {
        model: args.model.clone(),
        data: args.data.clone(),
        retrieval: args.retrieval.clone(),
        download_progress: std::io::stderr().is_terminal(),
    };
    match &args.command {
        Some(Command::Search {
            query,
            methods,
            format,
        }) => return search(&opts, query, methods, *format),
        Some(Command::Eval {
            methods,
            json,
            trec_run,
        }) => return eval(&opts, methods, *json, trec_run.as_deref()),
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
        } => {
            let texts = match (texts.is_empty(), input) {
                (false, None) => texts,
                (true, Some(path)) => read_texts(&path)?,
                (false, Some(_)) => bail!("give texts as arguments or --input, not both"),
                (true, None) => bail!("nothing to embed: give texts as arguments or --input FILE"),
            };
            let loading = Instant::now();
            let mut encoder =
                session::load_encoder(&opts, runtime, opts.pooling()?, &mut reporter())?;
            let load_s = loading.elapsed().as_secs_f64();
            let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
            let started = Instant::now();
            let bar = progress_bar(refs.len() as u64, "embedding");
            let embeddings =
                encoder.embed(&refs, &mut |p: Progress| bar.set_position(p.done as u64))?;
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
        Command::Search { .. } | Command::Eval { .. } | Command::Similar { .. } | Command::Tui => {}
        Command::ModelInfo => {
            let dir = opts.model_dir()?;
            let encoder = SentenceEncoder::load(
                &dir,
                &EncoderOptions {
                    runtime,
                    batch: opts.batch(),
                    pooling: None,
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
fn reporter() -> impl FnMut(Event) {
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
    }
}

/// Builds the pipeline the methods need: BM25 always (hybrid and rerank fuse it), the
/// bi-encoder only for model methods, the reranker only for rerank.
fn build(opts: &Options, methods: &[Method]) -> Result<(Pipeline, Option<EmbedStats>, Runtime)> {
    opts.validate()?;
    let needs_model = methods.iter().any(|m| m.needs_model());
    // Device choice fails early (e.g. CUDA asked where none exists), before any heavy work.
    let runtime = opts.runtime()?;
    let mut report = reporter();
    let corpus = Arc::new(session::load_corpus(opts, &mut report)?);
    tracing::info!("{}", corpus.summary());
    eprintln!("bigyo: {}", corpus.summary());
    let mut pipeline = Pipeline::new(corpus.clone(), opts.retrieval.params());
    let analyzer = session::analyzer(opts)?;
    let mut stats = None;
    if needs_model {
        // BM25 is built on a helper thread while the encoder loads and embeds.
        let (bm25, dense) = session::bm25_alongside(&corpus, analyzer, || -> Result<_> {
            let mut encoder = session::load_encoder(opts, runtime, opts.pooling()?, &mut report)?;
            let cache = session::cache(opts);
            let (index, s) =
                session::build_dense(&corpus, &mut encoder, runtime, cache.as_ref(), &mut report)?;
            Ok((encoder, index, s))
        });
        let (encoder, index, s) = dense?;
        pipeline.set_bm25(Arc::new(bm25?));
        stats = Some(s);
        pipeline.set_dense(Box::new(encoder), index);
    } else {
        pipeline.set_bm25(Arc::new(session::build_bm25(
            &corpus,
            analyzer,
            &mut report,
        )?));
    }
    if methods.contains(&Method::Rerank) {
        match session::load_reranker(opts, runtime, &mut report)? {
            Some(r) => pipeline.set_reranker(Box::new(r)),
            None => pipeline.reranker_missing = "--reranker none".into(),
        }
    }
    Ok((pipeline, stats, runtime))
}

fn search(opts: &Options, query: &str, methods: &str, format: TableOrJson) -> Result<()> {
    let methods = parse_methods(methods).map_err(anyhow::Error::msg)?;
    if query.chars().count() > 30_000 {
        bail!(
            "the query is {} characters; bigyo searches at most 30000",
            query.chars().count()
        );
    }
    let (mut pipeline, _, _) = build(opts, &methods)?;
    let results = pipeline.search(query, &methods);
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
        session::load_encoder(opts, runtime, opts.pooling()?, &mut report).and_then(|mut enc| {
            let e = enc.embed(&refs, &mut |_| {})?;
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

fn eval(opts: &Options, methods: &str, json: bool, trec_run: Option<&Path>) -> Result<()> {
    let mut methods = parse_methods(methods).map_err(anyhow::Error::msg)?;
    if !opts.model.reranker_enabled() {
        methods.retain(|&m| m != Method::Rerank);
        if methods.is_empty() {
            bail!("--reranker none leaves no method to evaluate");
        }
    }
    let (mut pipeline, stats, runtime) = build(opts, &methods)?;
    let mut trec = match trec_run {
        Some(dir) => Some(
            TrecRuns::create(dir, &methods, &pipeline)
                .with_context(|| format!("creating TREC run files in {}", dir.display()))?,
        ),
        None => None,
    };
    let total = pipeline.corpus.eval_questions().count() as u64;
    let bar = progress_bar(total, "evaluating");
    let (reports, skipped) =
        bigyo::eval::evaluate(&mut pipeline, &methods, trec.as_mut(), &mut |done, _| {
            bar.set_position(done as u64)
        })?;
    bar.finish_and_clear();
    if let Some(t) = trec {
        t.finish().context("writing TREC run files")?;
    }
    let corpus = &pipeline.corpus;
    let report = EvalReport {
        corpus: CorpusCounts {
            rows: corpus.rows,
            passages: corpus.passages.len(),
            questions: corpus.eval_questions().count(),
        },
        embedding: stats.map(|s| EmbeddingReport {
            model: opts.model.model.clone(),
            device: if runtime.device == tch::Device::Cpu {
                "cpu".into()
            } else {
                runtime.describe()
            },
            dtype: runtime.dtype_name().to_owned(),
            seconds: s.seconds,
            passages_per_s: s.passages_per_s(),
            cached: s.from_cache,
        }),
        methods: reports,
        skipped,
    };
    let mut out = std::io::stdout().lock();
    if json {
        writeln!(out, "{}", serde_json::to_string(&report)?)?;
    } else {
        write!(out, "{}", bigyo::eval::table(&report))?;
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

fn progress_bar(total: u64, what: &str) -> indicatif::ProgressBar {
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
