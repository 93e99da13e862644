//! `bigyo index` and `bigyo search --backend`: the command-line face of [`bigyo::milvus`].
use std::io::Write;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use bigyo::milvus::{BackendUrl, IndexOptions, MilvusBackend, VectorIndex};
use bigyo::model::{Progress, Side};
use bigyo::panes::{Kind as Method, Panes};
use bigyo::session::{self, Options};

use crate::cli::{progress_bar, reporter, TableOrJson};

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

/// `bigyo search QUERY --backend milvus://…`: dense, BM25, bigyo's hybrid over the two
/// Milvus lists, Milvus's own RRF (`hybrid-server`), and rerank (local, over the fused top M,
/// texts from Milvus).
pub fn search(
    opts: &Options,
    query: &str,
    methods: Option<&str>,
    format: TableOrJson,
    backend: &str,
    timeout: f64,
) -> Result<()> {
    let panes = Panes::from_methods(methods.unwrap_or(bigyo::panes::DEFAULT_SPEC))?;
    let milvus = connect(backend, timeout)?;
    opts.validate()?;
    let runtime = opts.runtime()?;
    let mut report = reporter();
    let analyzer = session::analyzer(opts)?;
    let mut encoder = session::load_embedder(opts, runtime, opts.pooling()?, &mut report)?;
    let vector = encoder
        .embed(Side::Query, &[query], &mut |_| {})
        .context("encoding the query")?
        .data;
    let info = milvus.check_model(&opts.model.model, vector.len(), &analyzer.describe())?;
    let mut warnings = Vec::new();
    if let Some(w) = info.model_warning(&encoder.identity()) {
        eprintln!("bigyo: warning: {w}");
        warnings.push(w);
    }
    let params = opts.retrieval.params();
    let depth = params.rrf.depth.max(params.top_k);
    let terms = analyzer.query_terms(query);
    let dense = milvus.dense_search(&vector, depth)?;
    let bm25 = milvus.bm25_search(&terms, depth)?;
    let hybrid: Vec<(usize, f64)> = params
        .fusion()
        .fuse(Some(&dense), Some(&bm25))
        .into_iter()
        .map(|f| (f.item, f.score))
        .collect();
    let server = milvus.server_rrf(&vector, &terms, params.rrf.depth, depth, params.rrf.k)?;
    let mut lists: Vec<(&str, Vec<(usize, f64)>)> = Vec::new();
    let wants = |m: Method| panes.shown().any(|id| panes.get(id).kind() == m);
    if wants(Method::Dense) {
        lists.push(("dense", dense.clone()));
    }
    if wants(Method::Bm25) {
        lists.push(("bm25", bm25.clone()));
    }
    if wants(Method::Hybrid) {
        lists.push(("hybrid", hybrid.clone()));
        lists.push(("hybrid-server", server));
    }
    if wants(Method::Rerank) {
        if let Some(mut reranker) = session::load_reranker(opts, runtime, &mut report)? {
            use bigyo::model::Reranker;
            let candidates: Vec<usize> = hybrid
                .iter()
                .take(params.rerank_depth)
                .map(|&(p, _)| p)
                .collect();
            let texts = milvus.texts(&candidates)?;
            let refs: Vec<&str> = texts.iter().map(|(_, t)| t.as_str()).collect();
            let logits = reranker.score(query, &refs, &mut |_| {})?;
            let mut scored: Vec<(usize, f64)> = candidates
                .into_iter()
                .zip(logits)
                .map(|(p, l)| (p, l as f64))
                .collect();
            scored.sort_by(|a, b| b.1.total_cmp(&a.1));
            lists.push(("rerank", scored));
        }
    }
    for (_, l) in lists.iter_mut() {
        l.truncate(params.top_k);
    }
    let mut ids: Vec<usize> = lists
        .iter()
        .flat_map(|(_, l)| l.iter().map(|&(p, _)| p))
        .collect();
    ids.sort_unstable();
    ids.dedup();
    let titles: std::collections::HashMap<usize, String> = ids
        .iter()
        .copied()
        .zip(milvus.texts(&ids)?.into_iter().map(|(t, _)| t))
        .collect();
    let mut out = std::io::stdout().lock();
    match format {
        TableOrJson::Json => {
            let methods: serde_json::Map<String, serde_json::Value> = lists
                .iter()
                .map(|(name, l)| {
                    let hits: Vec<serde_json::Value> = l
                        .iter()
                        .map(|&(p, s)| {
                            serde_json::json!({"passage": p, "score": s, "title": titles.get(&p)})
                        })
                        .collect();
                    ((*name).to_owned(), serde_json::Value::from(hits))
                })
                .collect();
            writeln!(
                out,
                "{}",
                serde_json::json!({
                    "backend": milvus.url().to_string(),
                    "query": query,
                    "terms": terms,
                    "passages": info.passages,
                    "index_type": info.index_type,
                    "methods": methods,
                    "warnings": warnings,
                })
            )?;
        }
        TableOrJson::Table => {
            writeln!(out, "{} ({} passages)", milvus.url(), info.passages)?;
            for (name, l) in &lists {
                writeln!(out, "\n{name} (Milvus)")?;
                for (i, (p, s)) in l.iter().enumerate() {
                    let title = titles.get(p).map(String::as_str).unwrap_or("");
                    writeln!(out, "{:>3}. p{p:<6} {s:>9.4}  {title}", i + 1)?;
                }
            }
        }
    }
    Ok(())
}
