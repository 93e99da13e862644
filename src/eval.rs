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
use std::io::Write;
use std::path::Path;
use std::time::{Duration, Instant};

use serde::Serialize;

use crate::compare::{rr_at_10, PairReport};
use crate::data::Corpus;
use crate::judgments::{
    companion_topics, parse_passage_id, passage_id, write_topics, Judgments, Qrel,
};
use crate::metrics::{rank_of, Gain, GradedMetrics, GradedSums, Grades, MetricSums, Metrics};
use crate::model::Side;
use crate::panes::{DenseKey, Kind, PaneId, Panes, Retriever};
use crate::pipeline::{Pipeline, SearchResults};

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

/// One TREC run line per hit: `qid Q0 docid rank score run`.
///
/// trec_eval and pytrec_eval ignore the rank column: they sort each query's lines by score,
/// highest first, and break equal scores by docid in *descending* `strcmp` order (trec_eval's
/// `comp_sim_docno` in `form_res_rels.c`); and they hold the score as a C `float`, so scores
/// that differ only beyond f32 precision are ties too (checked with pytrec_eval: 0.5 and the
/// next f64 below it tie, the next f32 below it does not). bigyo breaks ties its own way (RRF:
/// best rank in any list, then passage index; BM25: tantivy's order), so ties would be read in
/// another order. Scores are therefore written as f32 values strictly decreasing along bigyo's
/// ranking ([`strictly_decreasing`]): a score not below the one written before it becomes the
/// next f32 below that one, and each is written as the shortest text that reads back to the
/// same f32, so neither rounding nor a reader's precision creates a tie.
pub struct TrecRuns {
    files: BTreeMap<PaneId, std::io::BufWriter<std::fs::File>>,
}

impl TrecRuns {
    /// Creates `dir` and one `<pane name>.trec` file per pane, plus `qrels.txt` (the labels the
    /// evaluation uses) and `qrels.topics.tsv` (query id, tab, query text).
    pub fn create(
        dir: &Path,
        panes: &Panes,
        ids: &[PaneId],
        queries: &[EvalQuery],
    ) -> std::io::Result<Self> {
        std::fs::create_dir_all(dir)?;
        let qrels_path = dir.join("qrels.txt");
        let mut qrels = std::io::BufWriter::new(std::fs::File::create(&qrels_path)?);
        let mut topics =
            std::io::BufWriter::new(std::fs::File::create(companion_topics(&qrels_path))?);
        for q in queries {
            let qid = trec_id(&q.id);
            match &q.labels {
                Labels::Gold(p) => writeln!(qrels, "{qid} 0 {} 1", passage_id(*p))?,
                Labels::Graded(g) => {
                    let mut rows: Vec<_> = g.iter().collect();
                    rows.sort();
                    for (p, grade) in rows {
                        writeln!(qrels, "{qid} 0 {} {grade}", passage_id(*p))?;
                    }
                }
            }
            write_topics(&mut topics, [(qid.as_str(), q.text.as_str())])?;
        }
        qrels.flush()?;
        topics.flush()?;
        let mut files = BTreeMap::new();
        for &id in ids {
            let name = file_name(&panes.get(id).name);
            let f = std::fs::File::create(dir.join(format!("{name}.trec")))?;
            files.insert(id, std::io::BufWriter::new(f));
        }
        Ok(Self { files })
    }

    fn write(&mut self, qid: &str, results: &SearchResults) -> std::io::Result<()> {
        for r in &results.results {
            if let Some(f) = self.files.get_mut(&r.pane) {
                let scores: Vec<f64> = r.hits.iter().map(|h| h.score).collect();
                for (i, (h, score)) in r.hits.iter().zip(strictly_decreasing(&scores)).enumerate() {
                    writeln!(
                        f,
                        "{} Q0 {} {} {score} bigyo-{}",
                        trec_id(qid),
                        passage_id(h.passage),
                        i + 1,
                        file_name(results.name(r.pane))
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

/// `scores` rounded to f32 and made strictly decreasing with the smallest changes: each one
/// that is not below the previous output (a tie, an out-of-order value, NaN) becomes the next
/// f32 below it.
pub fn strictly_decreasing(scores: &[f64]) -> Vec<f32> {
    let mut prev = f32::INFINITY;
    scores
        .iter()
        .map(|&s| {
            let s = s as f32;
            let s = if s < prev { s } else { prev.next_down() };
            prev = s;
            s
        })
        .collect()
}

/// A pane name as a file name and TREC run tag: `bm25:whitespace` -> `bm25-whitespace`.
pub fn file_name(pane: &str) -> String {
    pane.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' {
                c
            } else {
                '-'
            }
        })
        .collect()
}

/// TREC ids cannot hold spaces.
fn trec_id(id: &str) -> String {
    id.split_whitespace().collect::<Vec<_>>().join("_")
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

/// Runs every query through `panes`; each bi-encoder a pane needs embeds the queries in
/// one batch. `progress(done, total)` after each query.
fn rank_all(
    pipeline: &mut Pipeline,
    panes: &[PaneId],
    queries: &[EvalQuery],
    mut trec: Option<&mut TrecRuns>,
    progress: &mut dyn FnMut(usize, usize),
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
    // way out (an error, or a cancelled evaluation unwinding from `progress`).
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
                    .or_insert_with(|| e.clone());
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
        progress(i + 1, total);
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
    progress: &mut dyn FnMut(usize, usize),
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
    progress: &mut dyn FnMut(usize, usize),
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
        if let Some(b) = &e.billing {
            out.push_str(&format!(
                "endpoint: passages {} tokens in {} requests, questions {} tokens in {} requests{}\n",
                b.passage_tokens,
                b.passage_requests,
                b.query_tokens,
                b.query_requests,
                b.cost_usd
                    .map(|c| format!(", cost ${c:.4}"))
                    .unwrap_or_default()
            ));
        }
    }
    out.push_str(&report.labels.describe());
    out.push('\n');
    match &report.methods {
        Methods::Gold(methods) => {
            out.push_str(&format!(
                "{:<8} {:>8} {:>8} {:>9} {:>7} {:>8} {:>9}\n",
                "method", "recall@1", "recall@5", "recall@10", "mrr@10", "ndcg@10", "queries/s"
            ));
            for m in &report.panes {
                if let Some(r) = methods.get(m) {
                    let x = &r.metrics;
                    out.push_str(&format!(
                        "{:<8} {:>8.4} {:>8.4} {:>9.4} {:>7.4} {:>8.4} {:>9.1}\n",
                        m, x.recall_1, x.recall_5, x.recall_10, x.mrr_10, x.ndcg_10, r.qps
                    ));
                }
            }
        }
        Methods::Graded(methods) => {
            out.push_str(&format!(
                "{:<8} {:>8} {:>8} {:>9} {:>7} {:>8} {:>9} {:>11} {:>9}\n",
                "method",
                "recall@1",
                "recall@5",
                "recall@10",
                "mrr@10",
                "ndcg@10",
                "judged@10",
                "unjudged@10",
                "queries/s"
            ));
            for m in &report.panes {
                if let Some(r) = methods.get(m) {
                    let x = &r.metrics;
                    out.push_str(&format!(
                        "{:<8} {:>8.4} {:>8.4} {:>9.4} {:>7.4} {:>8.4} {:>9.4} {:>11.2} {:>9.1}\n",
                        m,
                        x.recall_1,
                        x.recall_5,
                        x.recall_10,
                        x.mrr_10,
                        x.ndcg_10,
                        x.judged_10,
                        x.unjudged_10,
                        r.qps
                    ));
                }
            }
            out.push_str(
                "judged@10: share of each top 10 that is judged; unjudged@10: unjudged hits per query\n",
            );
        }
    }
    for (m, why) in &report.skipped {
        out.push_str(&format!("{m}: not run ({why})\n"));
    }
    if let Some(c) = &report.comparison {
        out.push_str(&format!(
            "\nper question, by RR@10: {} with {} seeded permutations (exact when 2^n is fewer)\n",
            c.test, c.permutations
        ));
        out.push_str(&format!(
            "{:<8} {:<8} {:>5} {:>5} {:>6} {:>10} {:>8}\n",
            "a", "b", "wins", "ties", "losses", "mrr@10 a-b", "p-value"
        ));
        for p in &c.pairs {
            out.push_str(&format!(
                "{:<8} {:<8} {:>5} {:>5} {:>6} {:>+10.4} {:>8.4}\n",
                p.a, p.b, p.outcome.wins, p.outcome.ties, p.outcome.losses, p.mrr_diff, p.p_value
            ));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn evaluation_puts_top_k_back_when_it_fails_or_is_cancelled() {
        use crate::bm25::{Analyzer, Bm25Index};
        use crate::data::LoadOptions;
        use crate::pipeline::SearchParams;
        use std::sync::Arc;

        let corpus = Arc::new(Corpus::sample(&LoadOptions::default()).unwrap());
        let params = SearchParams {
            top_k: 3,
            ..SearchParams::default()
        };
        let mut pipeline =
            Pipeline::new(corpus.clone(), params, Panes::from_methods("bm25").unwrap());
        let index = Bm25Index::build(&corpus.texts(), Analyzer::Bigram, &mut |_| {}).unwrap();
        pipeline.set_bm25(None, Arc::new(index));
        let methods = [PaneId(0)];

        // A run file that refuses every write (read-only, unbuffered): the evaluation raises
        // top-k to 10, then fails on the first question's run lines.
        let refusing = std::fs::File::open("/dev/null").unwrap();
        let mut trec = TrecRuns {
            files: BTreeMap::from([(PaneId(0), std::io::BufWriter::with_capacity(0, refusing))]),
        };
        let mut seen = 0;
        let failed = evaluate(&mut pipeline, &methods, Some(&mut trec), &mut |done, _| {
            seen = done;
        });
        assert!(failed.is_err());
        assert_eq!(seen, 0, "failed before the first question was done");
        assert_eq!(pipeline.params.top_k, 3);

        // Cancelled: the progress callback unwinds, as the TUI's does.
        let cancelled = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            evaluate(&mut pipeline, &methods, None, &mut |_, _| {
                std::panic::resume_unwind(Box::new("cancelled"))
            })
        }));
        assert!(cancelled.is_err());
        assert_eq!(pipeline.params.top_k, 3);

        // And a finished one puts it back too.
        let (reports, _) = evaluate(&mut pipeline, &methods, None, &mut |_, _| {}).unwrap();
        assert!(reports["bm25"].metrics.recall_10 > 0.5);
        assert_eq!(pipeline.params.top_k, 3);
    }

    #[test]
    fn run_scores_strictly_decrease_and_move_by_ulps_only() {
        // 1/61 + 1/62 and a value one f64 ulp below it: distinct in f64, one f32.
        let rrf = 1.0 / 61.0 + 1.0 / 62.0;
        let s = [
            0.5,
            0.5,
            0.5,
            0.25,
            0.3,
            f64::NAN,
            rrf,
            rrf.next_down(),
            0.01,
        ];
        let out = strictly_decreasing(&s);
        for w in out.windows(2) {
            assert!(w[0] > w[1], "{out:?}");
        }
        assert_eq!(out[0], 0.5);
        assert_eq!(out[1], 0.5f32.next_down());
        assert_eq!(out[2], 0.5f32.next_down().next_down());
        assert_eq!(out[3], 0.25);
        assert_eq!(out[4], 0.25f32.next_down());
        assert_eq!(out[7], (rrf as f32).next_down());
        assert_eq!(out[8], 0.01);
        // The written text reads back to the same f32, and read as f64 (then rounded to
        // trec_eval's float, or not) it still strictly decreases: no new ties either way.
        let wide: Vec<f64> = out.iter().map(|x| x.to_string().parse().unwrap()).collect();
        for (x, w) in out.iter().zip(&wide) {
            assert_eq!(x.to_string().parse::<f32>().unwrap(), *x);
            assert_eq!(*w as f32, *x);
        }
        for w in wide.windows(2) {
            assert!(w[0] > w[1], "{wide:?}");
        }
    }

    fn corpus(passages: usize) -> Corpus {
        Corpus {
            passages: (0..passages)
                .map(|i| crate::data::Passage {
                    title: String::new(),
                    text: format!("passage {i}"),
                    questions: Vec::new(),
                })
                .collect(),
            questions: vec![crate::data::Question {
                id: "guid-1".into(),
                text: "데이터셋 질문".into(),
                passage: 0,
                answers: Vec::new(),
            }],
            ..Default::default()
        }
    }

    #[test]
    fn qrels_queries_take_text_from_topics_or_question_ids_and_count_strangers() {
        let c = corpus(5);
        let qrels = [
            ("a", "p1", 2),
            ("a", "p9", 1),
            ("a", "doc3", 1),
            ("guid-1", "p0", 3),
            ("nobody", "p2", 1),
            ("a", "p1", 3),
        ]
        .map(|(q, d, g)| Qrel {
            qid: q.into(),
            docid: d.into(),
            grade: g,
        });
        let topics = BTreeMap::from([("a".to_owned(), "비가 언제 오나".to_owned())]);
        let mut report = LabelsReport::default();
        let qs = qrels_queries(&c, &qrels, &topics, &mut report);
        assert_eq!(qs.len(), 2);
        assert_eq!(report.unknown_passages, 2);
        assert_eq!(report.queries_without_text, 1);
        assert_eq!(report.queries, 2);
        assert_eq!(report.judgments, 2);
        assert_eq!(qs[0].text, "비가 언제 오나");
        assert_eq!(qs[0].labels, Labels::Graded(Grades::from([(1, 3)])));
        assert_eq!(qs[1].text, "데이터셋 질문");
        assert!(report
            .describe()
            .contains("skipped 2 judgments with unknown passage ids"));
    }
}
