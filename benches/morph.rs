//! The morph analyzers' costs (run by benches/morph_bench.py, which adds MeCab and bm25s and
//! writes BENCHMARKS.md):
//!
//! - first use of the dictionary: compiling mecab-ko-dic's source files (once per user), then
//!   loading the compiled file (every later run), and the memory the loaded dictionary takes;
//! - analysis throughput of passages and queries per analyzer, one thread;
//! - per analyzer, each in a child process of its own (so one analyzer's freed memory does not
//!   hide the next one's): BM25 index build time over the passages, the peak resident memory
//!   the build adds (Linux VmHWM, reset just before), and BM25 queries/s end to end (analysis +
//!   top 10), one thread.
//!
//! cargo bench --bench morph -- --corpus FILE [--queries 1000] [--out FILE]
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use anyhow::{bail, Context, Result};
use bigyo::bm25::morph::{self, Decompound, Dictionary};
use bigyo::bm25::{Analyzer, Bm25Index};
use bigyo::data::{Corpus, LoadOptions};
use serde_json::{json, Value};

const ANALYZERS: [&str; 4] = ["whitespace", "bigram", "morph", "morph+bigram"];

/// A field of /proc/self/status in bytes (`VmRSS`, `VmHWM`; Linux).
fn status_bytes(field: &str) -> Result<u64> {
    let status = std::fs::read_to_string("/proc/self/status")?;
    let line = status
        .lines()
        .find(|l| l.starts_with(field))
        .with_context(|| format!("/proc/self/status has no {field}"))?;
    let kib: u64 = line
        .split_whitespace()
        .nth(1)
        .with_context(|| format!("/proc/self/status: {line}"))?
        .parse()?;
    Ok(kib * 1024)
}

fn mib(bytes: u64) -> f64 {
    bytes as f64 / (1024.0 * 1024.0)
}

fn analyzer(name: &str) -> Result<Analyzer> {
    Ok(match name {
        "whitespace" => Analyzer::Whitespace,
        "bigram" => Analyzer::Bigram,
        "morph" => Analyzer::morph_over(morph::shared()?, Decompound::Discard, false),
        "morph+bigram" => Analyzer::morph_over(morph::shared()?, Decompound::Discard, true),
        other => bail!("unknown analyzer {other}"),
    })
}

/// Compiles the dictionary from links to its source files, as a first run does, then loads
/// the compiled file it wrote, as every later run does.
fn first_use(src: &Path) -> Result<(f64, f64)> {
    let tmp = tempfile::tempdir()?;
    for f in ["lex.csv", "matrix.def", "char.def", "unk.def"] {
        std::os::unix::fs::symlink(src.join(f), tmp.path().join(f))?;
    }
    let t = Instant::now();
    drop(Dictionary::load(tmp.path())?);
    let compile = t.elapsed().as_secs_f64();
    if !tmp.path().join(morph::COMPILED).is_file() {
        bail!("compiling the dictionary wrote no {}", morph::COMPILED);
    }
    let t = Instant::now();
    drop(Dictionary::load(tmp.path())?);
    Ok((compile, t.elapsed().as_secs_f64()))
}

/// The first `n` distinct questions of the corpus.
fn questions(corpus: &Corpus, n: usize) -> Vec<&str> {
    let mut seen = std::collections::HashSet::new();
    corpus
        .questions
        .iter()
        .map(|q| q.text.as_str())
        .filter(|q| seen.insert(*q))
        .take(n)
        .collect()
}

/// Runs `f` over all of `items` in rounds until at least a second has passed; items per second.
fn rate<T>(items: &[T], mut f: impl FnMut(&T) -> usize) -> (f64, usize) {
    let t = Instant::now();
    let (mut rounds, mut out) = (0, 0);
    while rounds == 0 || t.elapsed().as_secs_f64() < 1.0 {
        out = items.iter().map(&mut f).sum();
        rounds += 1;
    }
    (
        (items.len() * rounds) as f64 / t.elapsed().as_secs_f64(),
        out,
    )
}

/// The child: one analyzer's index build time, peak memory added, and BM25 queries/s.
fn index_child(name: &str, passages: &[&str], qs: &[&str]) -> Result<Value> {
    let analyzer = analyzer(name)?;
    let before = status_bytes("VmRSS")?;
    // Writing 5 resets the peak (VmHWM) to the current resident size.
    std::fs::write("/proc/self/clear_refs", "5").context("resetting VmHWM")?;
    let t = Instant::now();
    let index = Bm25Index::build(passages, analyzer, &mut |_| {})?;
    let build_s = t.elapsed().as_secs_f64();
    let peak = status_bytes("VmHWM")?;
    let after = status_bytes("VmRSS")?;
    let (qps, hits) = rate(qs, |q| index.search(q, 10).map_or(0, |h| h.len()));
    Ok(json!({
        "build_s": build_s,
        "peak_mib": mib(peak.saturating_sub(before)),
        "resident_mib": mib(after.saturating_sub(before)),
        "bm25_qps": qps,
        "hits": hits,
    }))
}

fn spawn_child(corpus: &str, queries: usize, name: &str) -> Result<Value> {
    let out = Command::new(std::env::current_exe()?)
        .args(["--corpus", corpus, "--queries", &queries.to_string()])
        .args(["--index", name])
        .output()?;
    if !out.status.success() {
        bail!(
            "index child for {name} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(serde_json::from_slice(&out.stdout)?)
}

fn main() -> Result<()> {
    // `cargo test --all-targets` runs bench targets without arguments: nothing to measure.
    let argv: Vec<String> = std::env::args().collect();
    let flag = |name: &str| {
        argv.iter()
            .position(|a| a == name)
            .and_then(|i| argv.get(i + 1).cloned())
    };
    let Some(corpus_path) = flag("--corpus") else {
        eprintln!("morph bench: run it through benches/morph_bench.py (make bench)");
        return Ok(());
    };
    let queries: usize = flag("--queries").map_or(Ok(1000), |q| q.parse())?;
    let corpus = Corpus::from_parquet(Path::new(&corpus_path), &LoadOptions::default())?;
    let passages = corpus.texts();
    let qs = questions(&corpus, queries);
    if let Some(name) = flag("--index") {
        println!("{}", index_child(&name, &passages, &qs)?);
        return Ok(());
    }
    let dir = morph::installed_dir().context("mecab-ko-dic is not installed: run make setup")?;
    let before = status_bytes("VmRSS")?;
    let t = Instant::now();
    let dic = morph::shared()?;
    let shared_load_s = t.elapsed().as_secs_f64();
    let dic_mib = mib(status_bytes("VmRSS")?.saturating_sub(before));
    let (compile_s, load_s) = first_use(&dir)?;
    drop(dic);
    let bytes: usize = passages.iter().map(|p| p.len()).sum();
    let mut rows = Vec::new();
    for name in ANALYZERS {
        let a = analyzer(name)?;
        let (passages_per_s, terms) = rate(&passages, |p| a.terms(p).len());
        let (queries_per_s, qterms) = rate(&qs, |q| a.query_terms(q).len());
        let index = spawn_child(&corpus_path, queries, name)?;
        eprintln!("{name}: {terms} terms, {passages_per_s:.0} passages/s, {queries_per_s:.0} queries/s; {index}");
        rows.push(json!({
            "analyzer": name,
            "passages_per_s": passages_per_s,
            "mb_per_s": passages_per_s * bytes as f64 / passages.len() as f64 / 1e6,
            "terms": terms,
            "queries_analysed_per_s": queries_per_s,
            "query_terms": qterms,
            "index": index,
        }));
    }
    let out = json!({
        "passages": passages.len(),
        "passage_bytes": bytes,
        "queries": qs.len(),
        "dictionary": dir.display().to_string(),
        "compile_s": compile_s,
        "load_s": load_s,
        "shared_load_s": shared_load_s,
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
