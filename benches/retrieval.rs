//! Retrieval benchmarks (run by benches/retrieval_bench.py, which adds the peers and writes
//! BENCHMARKS.md):
//!
//! - BM25 queries/s end to end (analysis + top 10), one thread, on a KLUE-schema parquet.
//! - One query through dense + BM25 + hybrid, p50/p95 latency, query encoding excluded
//!   (question vectors are encoded beforehand in one batch).
//! - Start-up to ready with a warm embedding cache: corpus, BM25, encoder, cached vectors.
//!
//! cargo bench --bench retrieval -- --corpus FILE --model DIR [--queries 1000] [--out FILE]
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use bigyo::bm25::Analyzer;
use bigyo::data::{Corpus, LoadOptions};
use bigyo::dense::EmbeddingCache;
use bigyo::model::{EncoderOptions, ModelDir, ModelSpec, Runtime, SentenceEncoder, Side};
use bigyo::panes::{DenseKey, PaneId, Panes};
use bigyo::pipeline::{Pipeline, SearchParams};
use bigyo::session::{bm25_alongside, build_dense};

struct Args {
    corpus: PathBuf,
    model: String,
    queries: usize,
    out: Option<PathBuf>,
}

fn args() -> Result<Args> {
    let mut corpus = None;
    let mut model = None;
    let mut queries = 1000;
    let mut out = None;
    let mut it = std::env::args().skip(1);
    while let Some(a) = it.next() {
        match a.as_str() {
            "--corpus" => corpus = it.next().map(PathBuf::from),
            "--model" => model = it.next(),
            "--queries" => queries = it.next().context("--queries N")?.parse()?,
            "--out" => out = it.next().map(PathBuf::from),
            _ => {} // cargo bench passes --bench
        }
    }
    Ok(Args {
        corpus: corpus.context("--corpus FILE is required")?,
        model: model.context("--model DIR is required")?,
        queries,
        out,
    })
}

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i].as_secs_f64() * 1000.0
}

fn main() -> Result<()> {
    // `cargo test --all-targets` runs bench targets without arguments: nothing to measure.
    if !std::env::args().any(|a| a == "--corpus") {
        eprintln!("retrieval bench: run it through benches/retrieval_bench.py (make bench)");
        return Ok(());
    }
    let args = args()?;
    // Loading and embedding use both cores; the query measurements below use one thread.
    tch::set_num_threads(2);
    let runtime = Runtime::cpu();

    // Start-up with a warm cache: everything a session does before "Ready".
    let embed_cache = EmbeddingCache::default_location();
    let load = |report_embed: bool| -> Result<(Pipeline, Duration, Option<f64>)> {
        let started = Instant::now();
        let corpus = Arc::new(Corpus::from_parquet(&args.corpus, &LoadOptions::default())?);
        let read = started.elapsed();
        let (bm25, dense) =
            bm25_alongside(&corpus, vec![(None, Analyzer::Bigram)], || -> Result<_> {
                let dir = ModelDir::resolve(&ModelSpec::new(&args.model))?;
                let mut encoder = SentenceEncoder::load(
                    &dir,
                    &EncoderOptions {
                        runtime,
                        ..Default::default()
                    },
                )?;
                let loaded = started.elapsed();
                let (index, stats) = build_dense(
                    &corpus,
                    &mut encoder,
                    runtime,
                    Some(&embed_cache),
                    &mut |_| {},
                )?;
                Ok((encoder, index, stats, loaded))
            });
        let (encoder, index, stats, loaded) = dense?;
        let (_, bm25) = bm25?.pop().context("the BM25 index")?;
        let ready = started.elapsed();
        eprintln!(
            "  parquet {:.3}s, model loaded at {:.3}s, ready at {:.3}s",
            read.as_secs_f64(),
            loaded.as_secs_f64(),
            ready.as_secs_f64()
        );
        let mut p = Pipeline::new(
            corpus,
            SearchParams::default(),
            Panes::from_methods("dense,bm25,hybrid")?,
        );
        p.set_bm25(None, Arc::new(bm25));
        p.set_dense(&DenseKey::default(), Box::new(encoder), index);
        let rate = (report_embed && !stats.from_cache).then(|| stats.passages_per_s());
        Ok((p, ready, rate))
    };
    // The first load may embed (cold cache); the second is the measured warm start.
    let (_, cold, embed_rate) = load(true)?;
    let (mut pipeline, warm, _) = load(false)?;
    let corpus = pipeline.corpus.clone();
    eprintln!(
        "{} passages; first load {:.2}s, warm start {:.3}s",
        corpus.passages.len(),
        cold.as_secs_f64(),
        warm.as_secs_f64()
    );

    // Queries: distinct question texts in row order, cycled to N.
    let mut seen = std::collections::HashSet::new();
    let distinct: Vec<&str> = corpus
        .questions
        .iter()
        .map(|q| q.text.as_str())
        .filter(|q| seen.insert(*q))
        .collect();
    let queries: Vec<&str> = distinct
        .iter()
        .cycle()
        .take(args.queries)
        .copied()
        .collect();

    tch::set_num_threads(1);
    // BM25 end to end, one thread.
    let bm25 = pipeline
        .bm25(None)
        .map_err(|m| anyhow::anyhow!("bm25: {m}"))?
        .clone();
    for q in queries.iter().take(20) {
        bm25.search(q, 10)?;
    }
    let started = Instant::now();
    let mut hits_at_10 = 0usize;
    for q in &queries {
        let hits = bm25.search(q, 10)?;
        hits_at_10 += usize::from(!hits.is_empty());
    }
    let bm25_s = started.elapsed().as_secs_f64();
    let bm25_qps = queries.len() as f64 / bm25_s;
    eprintln!("bm25: {bm25_qps:.0} queries/s");

    // Dense + BM25 + hybrid latency, query vectors encoded beforehand.
    let sample: Vec<&str> = queries.iter().take(200).copied().collect();
    let vectors = pipeline
        .encoder_mut(&DenseKey::default())
        .context("encoder")?
        .embed(Side::Query, &sample, &mut |_| {})?;
    let methods: Vec<PaneId> = pipeline.panes().shown().collect();
    let given = |i: usize| [(DenseKey::default(), vectors.row(i))];
    for (i, q) in sample.iter().enumerate().take(10) {
        pipeline.search_with(q, &given(i), &methods);
    }
    let mut latencies = Vec::with_capacity(sample.len());
    for (i, q) in sample.iter().enumerate() {
        let started = Instant::now();
        let r = pipeline.search_with(q, &given(i), &methods);
        latencies.push(started.elapsed());
        assert!(r.results.iter().all(|m| m.error.is_none()));
    }
    latencies.sort();
    let (p50, p95) = (percentile(&latencies, 0.5), percentile(&latencies, 0.95));
    eprintln!("dense+bm25+hybrid: p50 {p50:.2} ms, p95 {p95:.2} ms");

    let report = serde_json::json!({
        "passages": corpus.passages.len(),
        "queries": queries.len(),
        "bm25": {"qps": bm25_qps, "seconds": bm25_s, "nonempty": hits_at_10},
        "hybrid_latency_ms": {"p50": p50, "p95": p95, "queries": sample.len()},
        "startup_warm_s": warm.as_secs_f64(),
        "first_load_s": cold.as_secs_f64(),
        "embed_passages_per_s": embed_rate,
    });
    match &args.out {
        Some(path) => std::fs::write(path, report.to_string())?,
        None => println!("{report}"),
    }
    Ok(())
}
