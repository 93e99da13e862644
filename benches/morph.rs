//! The morph analyzers' costs (run by benches/morph_bench.py, which adds MeCab and bm25s and
//! writes BENCHMARKS.md):
//!
//! - first use of the dictionary: compiling mecab-ko-dic's source files (once per user), then
//!   loading the compiled file (every later run);
//! - analysis throughput of passages and queries per analyzer, one thread;
//! - per analyzer: BM25 index build time over the passages, the resident memory it adds, and
//!   BM25 queries/s end to end (analysis + top 10), one thread.
//!
//! cargo bench --bench morph -- --corpus FILE [--queries 1000] [--out FILE]
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, Result};
use bigyo::bm25::morph::{self, Decompound, Dictionary};
use bigyo::bm25::{Analyzer, Bm25Index};
use bigyo::data::{Corpus, LoadOptions};
use serde_json::json;

/// Resident memory of this process in bytes (Linux).
fn rss() -> u64 {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap_or_default();
    let pages: u64 = statm
        .split_whitespace()
        .nth(1)
        .and_then(|p| p.parse().ok())
        .unwrap_or(0);
    pages * 4096
}

fn mib(bytes: u64) -> f64 {
    bytes as f64 / (1024.0 * 1024.0)
}

/// Compiles the dictionary from a copy of its source files' links, as a first run does.
fn first_use(src: &Path) -> Result<(f64, f64)> {
    let tmp = tempfile::tempdir()?;
    for f in ["lex.csv", "matrix.def", "char.def", "unk.def"] {
        std::os::unix::fs::symlink(src.join(f), tmp.path().join(f))?;
    }
    let t = Instant::now();
    drop(Dictionary::load(tmp.path())?);
    let compile = t.elapsed().as_secs_f64();
    let t = Instant::now();
    drop(Dictionary::load(tmp.path())?);
    Ok((compile, t.elapsed().as_secs_f64()))
}

fn main() -> Result<()> {
    // `cargo test --all-targets` runs bench targets without arguments: nothing to measure.
    let argv: Vec<String> = std::env::args().collect();
    let Some(corpus) = argv
        .iter()
        .position(|a| a == "--corpus")
        .map(|i| &argv[i + 1])
    else {
        eprintln!("morph bench: run it through benches/morph_bench.py (make bench)");
        return Ok(());
    };
    let flag = |name: &str| {
        argv.iter()
            .position(|a| a == name)
            .map(|i| argv[i + 1].clone())
    };
    let queries: usize = flag("--queries").map_or(Ok(1000), |q| q.parse())?;
    let corpus = Corpus::from_parquet(Path::new(corpus), &LoadOptions::default())?;
    let dir = morph::installed_dir().context("mecab-ko-dic is not installed: run make setup")?;
    let (compile_s, load_s) = first_use(&dir)?;
    let before = rss();
    let dic = morph::shared()?;
    let dic_mib = mib(rss().saturating_sub(before));
    let passages = corpus.texts();
    let mut qs: Vec<&str> = Vec::new();
    for q in &corpus.questions {
        if !qs.contains(&q.text.as_str()) {
            qs.push(&q.text);
        }
        if qs.len() == queries {
            break;
        }
    }
    let bytes: usize = passages.iter().map(|p| p.len()).sum();
    let mut rows = Vec::new();
    for (name, analyzer) in [
        ("bigram", Analyzer::Bigram),
        (
            "morph",
            Analyzer::morph_over(dic.clone(), Decompound::Discard, false),
        ),
        (
            "morph+bigram",
            Analyzer::morph_over(dic.clone(), Decompound::Discard, true),
        ),
    ] {
        let t = Instant::now();
        let terms: usize = passages.iter().map(|p| analyzer.terms(p).len()).sum();
        let passage_s = t.elapsed().as_secs_f64();
        let t = Instant::now();
        let qterms: usize = qs.iter().map(|q| analyzer.query_terms(q).len()).sum();
        let query_s = t.elapsed().as_secs_f64();
        let before = rss();
        let t = Instant::now();
        let index = Bm25Index::build(&passages, analyzer.clone(), &mut |_| {})?;
        let build_s = t.elapsed().as_secs_f64();
        let index_mib = mib(rss().saturating_sub(before));
        let t = Instant::now();
        let mut found = 0;
        for q in &qs {
            found += index.search(q, 10)?.len();
        }
        let search_s = t.elapsed().as_secs_f64();
        eprintln!("{name}: {terms} terms, build {build_s:.2}s, {found} hits");
        rows.push(json!({
            "analyzer": name,
            "passages_per_s": passages.len() as f64 / passage_s,
            "mb_per_s": bytes as f64 / 1e6 / passage_s,
            "terms": terms,
            "queries_analysed_per_s": qs.len() as f64 / query_s,
            "query_terms": qterms,
            "build_s": build_s,
            "index_mib": index_mib,
            "bm25_qps": qs.len() as f64 / search_s,
        }));
        drop(index);
    }
    let out = json!({
        "passages": passages.len(),
        "passage_bytes": bytes,
        "queries": qs.len(),
        "dictionary": dir.display().to_string(),
        "compile_s": compile_s,
        "load_s": load_s,
        "dictionary_mib": dic_mib,
        "analyzers": rows,
    });
    let text = serde_json::to_string_pretty(&out)?;
    match flag("--out") {
        Some(path) => std::fs::write(PathBuf::from(path), text)?,
        None => println!("{text}"),
    }
    Ok(())
}
