//! Evaluation over every question with a gold passage: recall@1/5/10, MRR@10 and nDCG@10 per
//! method, queries per second per method, and TREC run files.
//!
//! Queries per second are end to end for each method: dense = query encoding + search,
//! BM25 = analysis + search, hybrid = dense + BM25 + fusion, rerank = hybrid + the
//! cross-encoder. Question embeddings are computed in one batched call and the time is
//! shared out evenly, as a batch job would run.
use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;
use std::time::{Duration, Instant};

use serde::Serialize;

use crate::metrics::{rank_of, MetricSums, Metrics};
use crate::pipeline::{Method, Pipeline, SearchResults};

#[derive(Debug, Clone, Serialize)]
pub struct CorpusCounts {
    pub rows: usize,
    pub passages: usize,
    pub questions: usize,
}

#[derive(Debug, Clone, Serialize)]
pub struct EmbeddingReport {
    pub model: String,
    pub device: String,
    /// The dtype that ran (`f32`, `bf16`, `f16`): what `--dtype auto` resolved to.
    pub dtype: String,
    pub seconds: f64,
    pub passages_per_s: f64,
    /// True when the passage embeddings came from the cache (then the rate is the load rate).
    pub cached: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct MethodReport {
    #[serde(flatten)]
    pub metrics: Metrics,
    pub qps: f64,
}

/// What `bigyo eval --json` prints (one object, one line).
#[derive(Debug, Clone, Serialize)]
pub struct EvalReport {
    pub corpus: CorpusCounts,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub embedding: Option<EmbeddingReport>,
    pub methods: BTreeMap<&'static str, MethodReport>,
    /// Methods asked for but unable to run, with the reason.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub skipped: BTreeMap<&'static str, String>,
}

/// Metrics per method name.
pub type MethodReports = BTreeMap<&'static str, MethodReport>;
/// Methods that could not run, with the reason.
pub type Skipped = BTreeMap<&'static str, String>;

/// One TREC run line per hit: `qid Q0 docid rank score run`.
pub struct TrecRuns {
    files: BTreeMap<Method, std::io::BufWriter<std::fs::File>>,
}

impl TrecRuns {
    /// Creates `dir` and one `<method>.trec` file per method, plus `qrels.txt`.
    pub fn create(dir: &Path, methods: &[Method], pipeline: &Pipeline) -> std::io::Result<Self> {
        std::fs::create_dir_all(dir)?;
        let mut qrels = std::io::BufWriter::new(std::fs::File::create(dir.join("qrels.txt"))?);
        for q in pipeline.corpus.eval_questions() {
            writeln!(qrels, "{} 0 p{} 1", trec_id(&q.id), q.passage)?;
        }
        qrels.flush()?;
        let mut files = BTreeMap::new();
        for &m in methods {
            let f = std::fs::File::create(dir.join(format!("{}.trec", m.name())))?;
            files.insert(m, std::io::BufWriter::new(f));
        }
        Ok(Self { files })
    }

    fn write(&mut self, qid: &str, results: &SearchResults) -> std::io::Result<()> {
        for r in &results.results {
            if let Some(f) = self.files.get_mut(&r.method) {
                for (i, h) in r.hits.iter().enumerate() {
                    writeln!(
                        f,
                        "{} Q0 p{} {} {:.6} bigyo-{}",
                        trec_id(qid),
                        h.passage,
                        i + 1,
                        h.score,
                        r.method.name()
                    )?;
                }
            }
        }
        Ok(())
    }

    pub fn finish(mut self) -> std::io::Result<()> {
        for f in self.files.values_mut() {
            f.flush()?;
        }
        Ok(())
    }
}

/// TREC ids cannot hold spaces.
fn trec_id(id: &str) -> String {
    id.split_whitespace().collect::<Vec<_>>().join("_")
}

/// Runs every question through `methods`; the pipeline's bi-encoder (when dense is used)
/// embeds the questions in one batch. `progress(done, total)` after each question.
pub fn evaluate(
    pipeline: &mut Pipeline,
    methods: &[Method],
    mut trec: Option<&mut TrecRuns>,
    progress: &mut dyn FnMut(usize, usize),
) -> anyhow::Result<(MethodReports, Skipped)> {
    let corpus = pipeline.corpus.clone();
    let questions: Vec<_> = corpus.eval_questions().collect();
    let total = questions.len();
    if total == 0 {
        anyhow::bail!(
            "{} has no questions to evaluate with (no `question` column, or it is empty)",
            corpus.source
        );
    }
    // Batched question encoding.
    let mut per_query_encode = Duration::ZERO;
    let needs_vectors = methods.iter().any(|m| m.needs_model());
    let vectors = match pipeline.encoder_mut() {
        Some(enc) if needs_vectors => {
            let texts: Vec<&str> = questions.iter().map(|q| q.text.as_str()).collect();
            let started = Instant::now();
            let e = enc.embed(&texts, &mut |_| {})?;
            per_query_encode = started.elapsed() / total as u32;
            Some(e)
        }
        _ => None,
    };
    let mut sums: BTreeMap<Method, MetricSums> = BTreeMap::new();
    let mut time: BTreeMap<Method, Duration> = BTreeMap::new();
    let mut skipped: BTreeMap<&'static str, String> = BTreeMap::new();
    // Ranks deep enough for @10 whatever --top-k says.
    let saved_k = pipeline.params.top_k;
    pipeline.params.top_k = saved_k.max(10);
    for (i, q) in questions.iter().enumerate() {
        let vector = vectors.as_ref().map(|e| e.row(i));
        let results = pipeline.search_with(&q.text, vector, methods);
        let stage = |m: Method| results.get(m).map_or(Duration::ZERO, |r| r.elapsed);
        let dense = stage(Method::Dense) + per_query_encode;
        let bm25 = stage(Method::Bm25);
        for r in &results.results {
            if let Some(e) = &r.error {
                skipped.entry(r.method.name()).or_insert_with(|| e.clone());
                continue;
            }
            let ranked: Vec<usize> = r.hits.iter().map(|h| h.passage).collect();
            sums.entry(r.method)
                .or_default()
                .add(rank_of(&ranked, q.passage));
            let spent = match r.method {
                Method::Dense => dense,
                Method::Bm25 => bm25,
                Method::Hybrid => dense + bm25 + r.elapsed,
                Method::Rerank => dense + bm25 + stage(Method::Hybrid) + r.elapsed,
            };
            *time.entry(r.method).or_default() += spent;
        }
        if let Some(t) = trec.as_deref_mut() {
            t.write(&q.id, &results)?;
        }
        progress(i + 1, total);
    }
    pipeline.params.top_k = saved_k;
    let reports = sums
        .into_iter()
        .map(|(m, s)| {
            let secs = time.get(&m).copied().unwrap_or_default().as_secs_f64();
            (
                m.name(),
                MethodReport {
                    metrics: s.mean(),
                    qps: s.questions as f64 / secs.max(1e-9),
                },
            )
        })
        .collect();
    Ok((reports, skipped))
}

/// The metrics table as `bigyo eval` prints it.
pub fn table(report: &EvalReport) -> String {
    let mut out = String::new();
    out.push_str(&format!(
        "corpus: {} rows, {} passages, {} questions\n",
        report.corpus.rows, report.corpus.passages, report.corpus.questions
    ));
    if let Some(e) = &report.embedding {
        out.push_str(&format!(
            "embedding: {} on {}, {:.2}s, {:.1} passages/s{}\n",
            e.model,
            e.device,
            e.seconds,
            e.passages_per_s,
            if e.cached { " (from cache)" } else { "" }
        ));
    }
    out.push_str(&format!(
        "{:<8} {:>8} {:>8} {:>9} {:>7} {:>8} {:>9}\n",
        "method", "recall@1", "recall@5", "recall@10", "mrr@10", "ndcg@10", "queries/s"
    ));
    for m in Method::ALL {
        if let Some(r) = report.methods.get(m.name()) {
            let x = &r.metrics;
            out.push_str(&format!(
                "{:<8} {:>8.4} {:>8.4} {:>9.4} {:>7.4} {:>8.4} {:>9.1}\n",
                m.name(),
                x.recall_1,
                x.recall_5,
                x.recall_10,
                x.mrr_10,
                x.ndcg_10,
                r.qps
            ));
        }
    }
    for (m, why) in &report.skipped {
        out.push_str(&format!("{m}: not run ({why})\n"));
    }
    out
}
