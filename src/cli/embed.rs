//! `bigyo embed` and `bigyo rerank`: the encoder and the cross-encoder on texts given directly.
use std::io::{BufRead, Write};
use std::path::PathBuf;
use std::time::Instant;

use anyhow::{bail, Context, Result};
use bigyo::model::{sigmoid, Progress, Reranker, Runtime};
use bigyo::session::{self, Options};

use super::{progress_bar, reporter, EmbedFormat, SideArg, TableOrJson};

/// `bigyo embed`: the texts given (or read from --input) through the bi-encoder.
pub(super) fn embed(
    opts: &Options,
    runtime: Runtime,
    texts: Vec<String>,
    input: Option<PathBuf>,
    format: EmbedFormat,
    side: SideArg,
) -> Result<()> {
    opts.validate()?;
    let texts = match (texts.is_empty(), input) {
        (false, None) => texts,
        (true, Some(path)) => read_texts(&path)?,
        (false, Some(_)) => bail!("give texts as arguments or --input, not both"),
        (true, None) => bail!("nothing to embed: give texts as arguments or --input FILE"),
    };
    let loading = Instant::now();
    let mut encoder = session::load_embedder(opts, runtime, opts.pooling()?, &mut reporter())?;
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
            session::cost_line(opts, "texts", refs.len(), usage)
        );
    }
    Ok(())
}

/// `bigyo rerank`: each passage scored against the query by the cross-encoder.
pub(super) fn rerank(
    opts: &Options,
    runtime: Runtime,
    query: &str,
    passages: &[String],
    format: TableOrJson,
) -> Result<()> {
    let Some(mut reranker) = session::load_reranker(opts, runtime, &mut reporter())? else {
        bail!("--reranker none: there is no cross-encoder to score with");
    };
    let refs: Vec<&str> = passages.iter().map(String::as_str).collect();
    let started = Instant::now();
    let bar = progress_bar(refs.len() as u64, "scoring");
    let logits = reranker.score(query, &refs, &mut |p: Progress| {
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
                .zip(passages)
                .map(|(&l, p)| serde_json::json!({"passage": p, "logit": l, "score": sigmoid(l)}))
                .collect();
            serde_json::to_writer(&mut out, &rows)?;
            writeln!(out)?;
        }
        TableOrJson::Table => {
            writeln!(out, "{:>10} {:>8}  passage", "logit", "sigmoid")?;
            for (l, p) in logits.iter().zip(passages) {
                writeln!(out, "{l:>10.4} {:>8.4}  {p}", sigmoid(*l))?;
            }
        }
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
