//! `bigyo index`: writing the corpus into a Milvus collection ([`bigyo::milvus`]). Searching
//! and evaluating through it are the ordinary `search` and `eval` with `--backend`
//! ([`bigyo::session::connect_backend`]).
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use bigyo::milvus::{BackendUrl, IndexOptions, MilvusBackend, VectorIndex};
use bigyo::model::Progress;
use bigyo::session::{self, Options};

use crate::cli::{progress_bar, reporter};

/// Connects, naming the backend in any failure.
fn connect(backend: &str, timeout: f64) -> Result<MilvusBackend> {
    let url = BackendUrl::parse(backend)?;
    if !(timeout.is_finite() && timeout > 0.0) {
        anyhow::bail!("--backend-timeout must be a positive number of seconds, not {timeout}");
    }
    Ok(MilvusBackend::connect(
        &url,
        Duration::from_secs_f64(timeout),
    )?)
}

/// `bigyo index --backend milvus://HOST:PORT/COLLECTION`.
pub fn index(
    opts: &Options,
    backend: &str,
    drop: bool,
    batch: usize,
    vector_index: &str,
    timeout: f64,
) -> Result<()> {
    let vector_index: VectorIndex = vector_index.parse().map_err(anyhow::Error::msg)?;
    if batch == 0 {
        anyhow::bail!("--batch must be at least 1");
    }
    // Reach the server before loading anything heavy: a wrong address fails in seconds.
    let mut milvus = connect(backend, timeout)?;
    opts.validate()?;
    let runtime = opts.runtime()?;
    let mut report = reporter();
    let corpus = session::load_corpus(opts, &mut report)?;
    let analyzer = session::analyzer(opts)?;
    let mut encoder = session::load_embedder(opts, runtime, opts.pooling()?, &mut report)?;
    let bar = progress_bar(corpus.passages.len() as u64, "indexing");
    let started = Instant::now();
    let summary = milvus
        .index(
            &corpus,
            encoder.as_mut(),
            &analyzer,
            &IndexOptions {
                batch,
                drop,
                vector_index,
            },
            &mut |p: Progress| bar.set_position(p.done as u64),
        )
        .with_context(|| format!("indexing into {}", milvus.url()))?;
    bar.finish_and_clear();
    let secs = started.elapsed().as_secs_f64();
    println!(
        "{}: {} passages ({} inserted, {} skipped as unchanged{}) in {:.1} s ({:.1} passages/s, \
         embedding {:.1} s); {} index, BM25 over `{}` terms split by the server's {} tokenizer",
        milvus.url(),
        corpus.passages.len(),
        summary.inserted,
        summary.skipped,
        if summary.removed > 0 {
            format!(", {} removed", summary.removed)
        } else {
            String::new()
        },
        secs,
        corpus.passages.len() as f64 / secs.max(1e-9),
        summary.embed_seconds,
        vector_index.name(),
        analyzer.describe(),
        summary.tokenizer,
    );
    Ok(())
}
