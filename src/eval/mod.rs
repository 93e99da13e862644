//! Evaluation: recall@1/5/10, MRR@10 and nDCG@10 per method, queries per second per method,
//! and TREC run files, over the dataset's questions with their gold passage, or over graded
//! labels (a TREC qrels file, or the judgments store) where judged@10 and unjudged@10 say
//! how much of each method's top 10 was judged.
//!
//! Queries per second are end to end for each method: dense = query encoding + search,
//! BM25 = analysis + search, hybrid = dense + BM25 + fusion, rerank = hybrid + the
//! cross-encoder. Question embeddings are computed in one batched call and the time is
//! shared out evenly, as a batch job would run.
use std::collections::{BTreeMap, HashMap};
use std::ops::ControlFlow;
use std::time::{Duration, Instant};

use serde::Serialize;

use crate::compare::{rr_at_10, PairReport};
use crate::data::Corpus;
use crate::judgments::{parse_passage_id, Judgments, Qrel};
use crate::metrics::{rank_of, Gain, GradedMetrics, GradedSums, Grades, MetricSums, Metrics};
use crate::model::Side;
use crate::panes::{DenseKey, Kind, PaneId, Panes, Retriever};
use crate::pipeline::{Pipeline, SearchResults};

mod table;
mod trec;

pub use table::table;
pub use trec::{file_name, strictly_decreasing, TrecRuns};

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
    /// Passages embedded per second; `null` when they came from the cache (a disk read is
    /// no embedding speed).
    pub passages_per_s: Option<f64>,
    /// True when the passage embeddings came from the cache.
    pub cached: bool,
    /// What a remote endpoint billed this run (`--model openai:NAME`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub billing: Option<Billing>,
}

/// Requests and tokens a remote endpoint reported, passages and questions apart, and the
/// cost at `--price-per-mtok`.
#[derive(Debug, Clone, Serialize)]
pub struct Billing {
    pub passage_requests: u64,
    pub passage_tokens: u64,
    pub query_requests: u64,
    pub query_tokens: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub price_per_mtok: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cost_usd: Option<f64>,
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
    /// The labels the metrics were computed on.
    pub labels: LabelsReport,
    /// The panes evaluated, by name, in screen order (the keys of `methods`).
    pub panes: Vec<String>,
    pub methods: Methods,
    /// Panes asked for but unable to run, with the reason.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub skipped: BTreeMap<String, String>,
    /// Each pair of methods question by question (absent with fewer than two methods).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub comparison: Option<Comparison>,
}

/// Wins, ties and losses by RR@10 and the paired significance test, for every pair of methods.
#[derive(Debug, Clone, Serialize)]
pub struct Comparison {
    pub test: &'static str,
    pub permutations: usize,
    pub seed: u64,
    pub pairs: Vec<PairReport>,
}

/// Compares every pair of the panes that ran (in `order`, screen order) on the questions both
/// ran on.
pub fn compare(order: &[String], outcomes: &[QueryOutcome]) -> Option<Comparison> {
    let ran: Vec<&str> = order
        .iter()
        .map(String::as_str)
        .filter(|m| outcomes.iter().any(|o| o.ranks.contains_key(*m)))
        .collect();
    if ran.len() < 2 {
        return None;
    }
    let mut pairs = Vec::new();
    for (i, &a) in ran.iter().enumerate() {
        for &b in &ran[i + 1..] {
            let (ra, rb): (Vec<f64>, Vec<f64>) = outcomes
                .iter()
                .filter_map(|o| Some((*o.ranks.get(a)?, *o.ranks.get(b)?)))
                .map(|(x, y)| (rr_at_10(x), rr_at_10(y)))
                .unzip();
            pairs.extend(crate::compare::pairs(&[(a, ra), (b, rb)]));
        }
    }
    Some(Comparison {
        test: crate::compare::TEST_NAME,
        permutations: crate::compare::PERMUTATIONS,
        seed: crate::compare::SEED,
        pairs,
    })
}

/// Metrics per method name.
pub type MethodReports = BTreeMap<String, MethodReport>;
/// Panes that could not run, with the reason.
pub type Skipped = BTreeMap<String, String>;

/// One method's metrics on graded labels.
#[derive(Debug, Clone, Serialize)]
pub struct GradedReport {
    #[serde(flatten)]
    pub metrics: GradedMetrics,
    pub qps: f64,
}

/// The per-method table: one gold passage per question, or graded labels.
#[derive(Debug, Clone, Serialize)]
#[serde(untagged)]
pub enum Methods {
    Gold(MethodReports),
    Graded(BTreeMap<String, GradedReport>),
}

/// Which labels an evaluation used, as `bigyo eval` reports them.
#[derive(Debug, Clone, Default, Serialize)]
pub struct LabelsReport {
    /// `gold` (the dataset's question -> passage pairs), `qrels` or `judgments`.
    pub source: &'static str,
    /// The qrels or judgments file.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub file: Option<String>,
    /// The topics file that gave the qrels' query texts, when one was read.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub topics: Option<String>,
    /// Queries evaluated.
    pub queries: usize,
    /// Judgments used (gold: one per question).
    pub judgments: usize,
    /// Graded labels only: `linear` or `exp`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ndcg_gain: Option<&'static str>,
    /// Graded labels only: the lowest grade MRR and recall count as relevant.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rel_threshold: Option<u32>,
    /// Judgments skipped because the passage id is not one of this corpus's `p<N>`.
    pub unknown_passages: usize,
    /// Query ids skipped because no query text was found for them.
    pub queries_without_text: usize,
    /// Lines of the judgments file skipped (torn or malformed).
    pub bad_lines: usize,
}

impl LabelsReport {
    /// One line for the table output.
    pub fn describe(&self) -> String {
        let mut s = match self.source {
            "gold" => format!("labels: dataset gold passages ({} questions)", self.queries),
            other => format!(
                "labels: {other} {} ({} queries, {} judgments{})",
                self.file.as_deref().unwrap_or("?"),
                self.queries,
                self.judgments,
                self.topics
                    .as_deref()
                    .map(|t| format!(", topics {t}"))
                    .unwrap_or_default()
            ),
        };
        if let (Some(gain), Some(t)) = (self.ndcg_gain, self.rel_threshold) {
            s.push_str(&format!(
                "; nDCG gain {gain}{}, relevant = grade >= {t}",
                if gain == "exp" {
                    " (2^rel - 1)"
                } else {
                    " (rel)"
                }
            ));
        }
        for (n, what) in [
            (self.unknown_passages, "judgments with unknown passage ids"),
            (self.queries_without_text, "query ids without text"),
            (self.bad_lines, "unreadable lines"),
        ] {
            if n > 0 {
                s.push_str(&format!("; skipped {n} {what}"));
            }
        }
        s
    }
}

/// What a query is judged against.
#[derive(Debug, Clone, PartialEq)]
pub enum Labels {
    /// The dataset's one gold passage.
    Gold(usize),
    /// Graded judgments: passage -> grade.
    Graded(Grades),
}

/// One query to evaluate: its TREC id, its text, its labels.
#[derive(Debug, Clone, PartialEq)]
pub struct EvalQuery {
    pub id: String,
    pub text: String,
    pub labels: Labels,
}

/// The dataset's questions with their gold passages.
pub fn gold_queries(corpus: &Corpus) -> Vec<EvalQuery> {
    corpus
        .eval_questions()
        .map(|q| EvalQuery {
            id: q.id.clone(),
            text: q.text.clone(),
            labels: Labels::Gold(q.passage),
        })
        .collect()
}

/// Graded queries from qrels rows: query texts come from `topics`, else from the corpus's
/// question ids (so bigyo's own `qrels.txt` evaluates without a topics file). Rows whose
/// passage id is not a `p<N>` of this corpus, and query ids without text, are counted in the
/// report and skipped.
pub fn qrels_queries(
    corpus: &Corpus,
    qrels: &[Qrel],
    topics: &BTreeMap<String, String>,
    report: &mut LabelsReport,
) -> Vec<EvalQuery> {
    let mut by_qid: BTreeMap<&str, Grades> = BTreeMap::new();
    let mut order: Vec<&str> = Vec::new();
    for r in qrels {
        let Some(p) = parse_passage_id(&r.docid, corpus.passages.len()) else {
            report.unknown_passages += 1;
            continue;
        };
        let grades = by_qid.entry(&r.qid).or_insert_with(|| {
            order.push(&r.qid);
            Grades::new()
        });
        grades.insert(p, r.grade);
    }
    let question_text: HashMap<&str, &str> = corpus
        .questions
        .iter()
        .map(|q| (q.id.as_str(), q.text.as_str()))
        .collect();
    let mut out = Vec::new();
    for qid in order {
        let text = topics
            .get(qid)
            .map(String::as_str)
            .or_else(|| question_text.get(qid).copied());
        match (text, by_qid.remove(qid)) {
            (Some(text), Some(grades)) if !text.trim().is_empty() => {
                report.judgments += grades.len();
                out.push(EvalQuery {
                    id: qid.to_owned(),
                    text: text.to_owned(),
                    labels: Labels::Graded(grades),
                })
            }
            _ => report.queries_without_text += 1,
        }
    }
    report.queries = out.len();
    out
}

/// Graded queries from the judgments store (query ids from [`crate::judgments::query_id`]).
pub fn judged_queries(
    corpus: &Corpus,
    store: &Judgments,
    report: &mut LabelsReport,
) -> Vec<EvalQuery> {
    let mut out: Vec<EvalQuery> = Vec::new();
    let mut index: HashMap<String, usize> = HashMap::new();
    for (qid, text, passage, grade) in store.all() {
        let Some(p) = parse_passage_id(&passage, corpus.passages.len()) else {
            report.unknown_passages += 1;
            continue;
        };
        let i = *index.entry(qid.clone()).or_insert_with(|| {
            out.push(EvalQuery {
                id: qid,
                text,
                labels: Labels::Graded(Grades::new()),
            });
            out.len() - 1
        });
        if let Labels::Graded(g) = &mut out[i].labels {
            g.insert(p, grade.into());
            report.judgments += 1;
        }
    }
    report.queries = out.len();
    out
}

/// How graded labels are scored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GradedSettings {
    pub gain: Gain,
    /// MRR and recall count a passage as relevant when its grade is at least this.
    pub rel_threshold: u32,
}

impl Default for GradedSettings {
    fn default() -> Self {
        Self {
            gain: Gain::Linear,
            rel_threshold: 1,
        }
    }
}

/// One question's outcome in every method that ran: the gold passage's rank (`None` when it
/// is not in the first [`DEEP`] of the method's whole list).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct QueryOutcome {
    pub id: String,
    pub question: String,
    pub gold: usize,
    pub ranks: BTreeMap<String, Option<usize>>,
}

impl QueryOutcome {
    /// Reciprocal rank@10 per method.
    pub fn rr_at_10(&self) -> BTreeMap<String, f64> {
        self.ranks
            .iter()
            .map(|(m, &r)| (m.clone(), crate::compare::rr_at_10(r)))
            .collect()
    }
}

/// Per method: (query index, ranked passages) for every query it ran on, and the time spent.
/// How deep a query's outcome looks for its gold passage (recall@k curves to k = 100).
pub const DEEP: usize = 100;

struct Rankings {
    ranked: BTreeMap<PaneId, Vec<(usize, Vec<usize>)>>,
    /// The same queries' whole lists, up to [`DEEP`] passages (dense and BM25 as deep as
    /// hybrid fuses them): the gold rank per query and the recall@k curves read these.
    deep: BTreeMap<PaneId, Vec<(usize, Vec<usize>)>>,
    time: BTreeMap<PaneId, Duration>,
    panes: std::sync::Arc<Panes>,
    skipped: Skipped,
}

pub use crate::tune::Stopped;

/// Runs every query through `panes`; each bi-encoder a pane needs embeds the queries in
/// one batch. `progress(done, total)` after each query; it stops the run by breaking
/// (the error is then [`Stopped`]).
fn rank_all(
    pipeline: &mut Pipeline,
    panes: &[PaneId],
    queries: &[EvalQuery],
    mut trec: Option<&mut TrecRuns>,
    progress: &mut dyn FnMut(usize, usize) -> ControlFlow<()>,
) -> anyhow::Result<Rankings> {
    let total = queries.len();
    if total == 0 {
        anyhow::bail!(
            "{} has no questions to evaluate with (no `question` column, or it is empty)",
            pipeline.corpus.source
        );
    }
    let all = pipeline.panes().clone();
    let (vectors, per_query_encode) = encode_questions(pipeline, panes, queries)?;
    let mut out = Rankings {
        ranked: BTreeMap::new(),
        deep: BTreeMap::new(),
        time: BTreeMap::new(),
        skipped: BTreeMap::new(),
        panes: all.clone(),
    };
    // Ranks deep enough for @10 whatever --top-k says; the guard puts --top-k back on every
    // way out (an error, or a run stopped by `progress`).
    let guard = TopK::raise(pipeline, 10);
    let pipeline = &mut *guard.0;
    for (i, q) in queries.iter().enumerate() {
        let given: Vec<(DenseKey, &[f32])> =
            vectors.iter().map(|(k, e)| (k.clone(), e.row(i))).collect();
        let results = pipeline.search_with(&q.text, &given, panes);
        for r in &results.results {
            if let Some(e) = &r.error {
                out.skipped
                    .entry(all.get(r.pane).name.clone())
                    .or_insert_with(|| e.to_string());
                continue;
            }
            out.ranked
                .entry(r.pane)
                .or_default()
                .push((i, r.hits.iter().map(|h| h.passage).collect()));
            out.deep
                .entry(r.pane)
                .or_default()
                .push((i, r.ranking.iter().take(DEEP).map(|&(p, _)| p).collect()));
            *out.time.entry(r.pane).or_default() +=
                end_to_end(&all, &results, r.pane, per_query_encode);
        }
        if let Some(t) = trec.as_deref_mut() {
            t.write(&q.id, &results)?;
        }
        if progress(i + 1, total).is_break() {
            return Err(Stopped.into());
        }
    }
    drop(guard);
    Ok(out)
}

/// Each bi-encoder the panes need encodes every question in one batch; also the time per
/// question.
fn encode_questions(
    pipeline: &mut Pipeline,
    panes: &[PaneId],
    queries: &[EvalQuery],
) -> anyhow::Result<(Vec<(DenseKey, crate::model::Embeddings)>, Duration)> {
    let all = pipeline.panes().clone();
    let mut keys: Vec<DenseKey> = Vec::new();
    for &id in panes {
        for step in all.closure(id) {
            if let Retriever::Dense(k) = &all.get(step).retriever {
                if !keys.contains(k) {
                    keys.push(k.clone());
                }
            }
        }
    }
    let texts: Vec<&str> = queries.iter().map(|q| q.text.as_str()).collect();
    let started = Instant::now();
    let mut vectors = Vec::new();
    for key in keys {
        if let Some(enc) = pipeline.encoder_mut(&key) {
            vectors.push((key, enc.embed(Side::Query, &texts, &mut |_| {})?));
        }
    }
    Ok((vectors, started.elapsed() / queries.len().max(1) as u32))
}

/// A pane's end-to-end time for one query: its own stage plus every retriever it read (each
/// once), with the query encoding counted in each dense stage.
fn end_to_end(panes: &Panes, results: &SearchResults, pane: PaneId, encode: Duration) -> Duration {
    panes
        .closure(pane)
        .into_iter()
        .map(|id| {
            let own = results.pane(id).map_or(Duration::ZERO, |r| r.elapsed);
            match panes.get(id).kind() {
                Kind::Dense => own + encode,
                _ => own,
            }
        })
        .sum()
}

/// Raises the pipeline's top-k for an evaluation and restores it when dropped.
struct TopK<'a>(&'a mut Pipeline, usize);

impl<'a> TopK<'a> {
    fn raise(pipeline: &'a mut Pipeline, at_least: usize) -> Self {
        let saved = pipeline.params.top_k;
        pipeline.params.top_k = saved.max(at_least);
        Self(pipeline, saved)
    }
}

impl Drop for TopK<'_> {
    fn drop(&mut self) {
        self.0.params.top_k = self.1;
    }
}

fn qps(queries: usize, time: &BTreeMap<PaneId, Duration>, m: PaneId) -> f64 {
    let secs = time.get(&m).copied().unwrap_or_default().as_secs_f64();
    queries as f64 / secs.max(1e-9)
}

/// Runs every question with a gold passage through `methods`; the pipeline's bi-encoder
/// (when dense is used) embeds the questions in one batch. `progress(done, total)` after each
/// question.
pub fn evaluate(
    pipeline: &mut Pipeline,
    panes: &[PaneId],
    trec: Option<&mut TrecRuns>,
    progress: &mut dyn FnMut(usize, usize) -> ControlFlow<()>,
) -> anyhow::Result<(MethodReports, Skipped)> {
    let queries = gold_queries(&pipeline.corpus.clone());
    match evaluate_on(
        pipeline,
        panes,
        &queries,
        GradedSettings::default(),
        trec,
        progress,
    )? {
        (Methods::Gold(m), skipped, _) => Ok((m, skipped)),
        (Methods::Graded(_), _, _) => anyhow::bail!("gold questions gave graded metrics"),
    }
}

/// Runs `queries` through `methods` and scores each method on the queries' labels: the
/// binary metrics when every query has one gold passage, the graded ones (scored per
/// `settings`) otherwise.
pub fn evaluate_on(
    pipeline: &mut Pipeline,
    panes: &[PaneId],
    queries: &[EvalQuery],
    settings: GradedSettings,
    trec: Option<&mut TrecRuns>,
    progress: &mut dyn FnMut(usize, usize) -> ControlFlow<()>,
) -> anyhow::Result<(Methods, Skipped, Vec<QueryOutcome>)> {
    let rankings = rank_all(pipeline, panes, queries, trec, progress)?;
    let all_gold = queries.iter().all(|q| matches!(q.labels, Labels::Gold(_)));
    let methods = if all_gold {
        Methods::Gold(gold_reports(&rankings, queries))
    } else {
        let mut out = BTreeMap::new();
        for (m, ranked) in &rankings.ranked {
            let mut sums = GradedSums::default();
            for (i, list) in ranked {
                let grades = match &queries[*i].labels {
                    Labels::Graded(g) => g.clone(),
                    Labels::Gold(p) => Grades::from([(*p, 1)]),
                };
                sums.add(list, &grades, settings.gain, settings.rel_threshold);
            }
            out.insert(
                rankings.panes.get(*m).name.clone(),
                GradedReport {
                    metrics: sums.mean(),
                    qps: qps(sums.queries, &rankings.time, *m),
                },
            );
        }
        Methods::Graded(out)
    };
    let outcomes = outcomes(&rankings, queries);
    Ok((methods, rankings.skipped, outcomes))
}

/// The binary metrics of every method over queries with one gold passage each.
fn gold_reports(rankings: &Rankings, queries: &[EvalQuery]) -> MethodReports {
    let mut out = MethodReports::new();
    for (m, ranked) in &rankings.ranked {
        let mut sums = MetricSums::default();
        for (i, list) in ranked {
            if let Labels::Gold(gold) = queries[*i].labels {
                sums.add(rank_of(list, gold));
            }
        }
        out.insert(
            rankings.panes.get(*m).name.clone(),
            MethodReport {
                metrics: sums.mean(),
                qps: qps(sums.questions, &rankings.time, *m),
            },
        );
    }
    out
}

/// Each gold-labelled query's outcome (the gold passage's rank in every method), in query
/// order; graded queries have none.
fn outcomes(rankings: &Rankings, queries: &[EvalQuery]) -> Vec<QueryOutcome> {
    let mut out: Vec<Option<QueryOutcome>> = queries
        .iter()
        .map(|q| match q.labels {
            Labels::Gold(gold) => Some(QueryOutcome {
                id: q.id.clone(),
                question: q.text.clone(),
                gold,
                ranks: BTreeMap::new(),
            }),
            Labels::Graded(_) => None,
        })
        .collect();
    for (m, ranked) in &rankings.deep {
        for (i, list) in ranked {
            if let Some(Some(o)) = out.get_mut(*i) {
                o.ranks
                    .insert(rankings.panes.get(*m).name.clone(), rank_of(list, o.gold));
            }
        }
    }
    out.into_iter().flatten().collect()
}

#[cfg(test)]
mod tests;
