//! Subcommands and their output formats.
use std::io::{BufRead, IsTerminal, Write};
use std::path::PathBuf;
use std::time::Instant;

use anyhow::{bail, Context, Result};
use bigyo::model::{
    sigmoid, BatchOptions, CrossEncoder, DTypeChoice, DeviceChoice, Embedder, EncoderOptions,
    ModelDir, ModelSpec, Pooling, Progress, Reranker, Runtime, SentenceEncoder,
};
use clap::{Parser, Subcommand, ValueEnum};

/// The bi-encoder users get when online (REFERENCE.md).
pub const DEFAULT_MODEL: &str = "snunlp/KR-SBERT-V40K-klueNLI-augSTS";
/// The textbook's cross-encoder reranker.
pub const DEFAULT_RERANKER: &str = "shangrilar/klue-roberta-small-cross-encoder";

#[derive(Debug, Parser)]
#[command(
    name = "bigyo",
    version,
    about = "비교 — explore Korean retrieval side by side: dense, BM25, hybrid RRF and reranking",
    after_help = "Logs: <cache>/logs/bigyo.log (BIGYO_LOG=debug for more). Models come from a local \
                  directory in the Hugging Face layout or a hub id (HF_ENDPOINT and HF_HOME honoured)."
)]
pub struct Args {
    #[command(flatten)]
    pub model: ModelArgs,
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, clap::Args)]
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
    /// f32 (default), bf16 (CUDA, or CPUs with avx512_bf16) or f16 (CUDA).
    #[arg(long, global = true, default_value = "f32")]
    pub dtype: DTypeChoice,
    /// libtorch intra-op threads (default: libtorch's choice, one per core).
    #[arg(long, global = true)]
    pub threads: Option<usize>,
    /// Use only the local hub cache.
    #[arg(long, global = true)]
    pub offline: bool,
    /// Token budget per batch (rows x longest row).
    #[arg(long, global = true, default_value_t = BatchOptions::default().max_tokens)]
    pub batch_tokens: usize,
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
        /// Override the model's pooling: cls, mean, max or mean_sqrt_len.
        #[arg(long)]
        pooling: Option<String>,
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

pub fn run(args: Args) -> Result<()> {
    let Some(command) = args.command else {
        eprintln!(
            "bigyo: the four-pane explorer is not built yet; this build offers `embed`, `rerank` \
             and `model-info` (see `bigyo --help`)."
        );
        return Ok(());
    };
    let m = &args.model;
    let runtime = Runtime::resolve(m.device, m.dtype, m.threads).context("choosing the device")?;
    let batch = BatchOptions {
        max_tokens: m.batch_tokens,
        ..BatchOptions::default()
    };
    match command {
        Command::Embed {
            texts,
            input,
            pooling,
            format,
        } => {
            let texts = match (texts.is_empty(), input) {
                (false, None) => texts,
                (true, Some(path)) => read_texts(&path)?,
                (false, Some(_)) => bail!("give texts as arguments or --input, not both"),
                (true, None) => bail!("nothing to embed: give texts as arguments or --input FILE"),
            };
            let pooling = pooling
                .map(|p| p.parse().map(Pooling::single))
                .transpose()
                .map_err(anyhow::Error::msg)?;
            let loading = Instant::now();
            let dir = resolve(m, &m.model)?;
            let mut encoder = SentenceEncoder::load(
                &dir,
                &EncoderOptions {
                    runtime,
                    batch,
                    pooling,
                },
            )
            .with_context(|| format!("loading the encoder {}", m.model))?;
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
            if m.reranker == "none" {
                bail!("--reranker none: there is no cross-encoder to score with");
            }
            let dir = resolve(m, &m.reranker)?;
            let mut reranker = CrossEncoder::load(&dir, runtime, batch)
                .with_context(|| format!("loading the reranker {}", m.reranker))?;
            let refs: Vec<&str> = passages.iter().map(String::as_str).collect();
            let logits = reranker.score(&query, &refs, &mut |_| {})?;
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
        Command::ModelInfo => {
            let dir = resolve(m, &m.model)?;
            let encoder = SentenceEncoder::load(
                &dir,
                &EncoderOptions {
                    runtime,
                    batch,
                    pooling: None,
                },
            )
            .with_context(|| format!("loading the encoder {}", m.model))?;
            println!("model:          {}", dir.identity);
            println!("directory:      {}", dir.root.display());
            println!("architecture:   {}", encoder.architecture().name());
            println!("dimension:      {}", encoder.dim());
            println!("pooling:        {}", encoder.pooling());
            println!("normalize:      {}", encoder.normalizes());
            println!("max_seq_length: {}", encoder.max_seq_length());
            println!("device:         {} ({})", runtime.describe(), m.dtype);
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

fn resolve(m: &ModelArgs, id: &str) -> Result<ModelDir> {
    let spec = ModelSpec {
        id: id.to_owned(),
        revision: m.revision.clone(),
        offline: m.offline,
        progress: std::io::stderr().is_terminal(),
    };
    ModelDir::resolve(&spec).with_context(|| format!("finding model {id}"))
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
