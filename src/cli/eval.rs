//! `bigyo eval`: every pane over labelled queries (dataset gold, judgments or qrels), the report
//! as a table or JSON, TREC run files and per-query ranks.
use std::collections::BTreeMap;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use bigyo::data::Corpus;
use bigyo::eval::{
    self, Billing, CorpusCounts, EmbeddingReport, EvalQuery, EvalReport, GradedSettings,
    LabelsReport, QueryOutcome, TrecRuns,
};
use bigyo::judgments::{self, Judgments};
use bigyo::metrics::Gain;
use bigyo::model::{Runtime, Usage};
use bigyo::panes::PaneId;
use bigyo::plan::Plan;
use bigyo::session::{self, EmbedStats, Options};

use super::{build_partial, load, progress_bar, GainChoice, LabelChoice};

/// Where `bigyo eval` takes its labels from.
pub(super) enum LabelSource {
    /// Gold when the corpus has questions, else the default judgments file.
    Auto,
    Gold,
    Judgments,
    Qrels {
        qrels: PathBuf,
        topics: Option<PathBuf>,
    },
}

/// The labels `--qrels`, `--topics`, `--labels` and `--judgments` name.
pub(super) fn label_source(
    opts: &Options,
    qrels: Option<&PathBuf>,
    topics: Option<&PathBuf>,
    labels: Option<LabelChoice>,
) -> LabelSource {
    match (qrels, labels) {
        (Some(q), _) => LabelSource::Qrels {
            qrels: q.clone(),
            topics: topics.cloned(),
        },
        (None, Some(LabelChoice::Gold)) => LabelSource::Gold,
        (None, Some(LabelChoice::Judgments)) => LabelSource::Judgments,
        (None, None) if opts.data.judgments.is_some() => LabelSource::Judgments,
        (None, None) => LabelSource::Auto,
    }
}

/// `--ndcg-gain` and `--rel-threshold`.
pub(super) fn graded_settings(ndcg_gain: GainChoice, rel_threshold: u32) -> GradedSettings {
    GradedSettings {
        gain: match ndcg_gain {
            GainChoice::Linear => Gain::Linear,
            GainChoice::Exp => Gain::Exp,
        },
        rel_threshold,
    }
}

/// Reads a topics file: the one given, else the qrels file's companion when it exists.
pub(super) fn read_topics(
    qrels: &Path,
    topics: Option<&Path>,
) -> Result<(BTreeMap<String, String>, Option<PathBuf>)> {
    let path = match topics {
        Some(t) => t.to_owned(),
        None => {
            let c = judgments::companion_topics(qrels);
            if !c.exists() {
                return Ok((BTreeMap::new(), None));
            }
            c
        }
    };
    Ok((judgments::parse_topics(&path)?, Some(path)))
}

/// Opens the judgments store, printing its warnings; returns how many lines were skipped.
pub(super) fn open_judgments(path: &Path) -> Result<(Judgments, usize)> {
    let (store, warnings) = Judgments::open(path)?;
    for w in &warnings {
        eprintln!("bigyo: warning: {} {w}", path.display());
    }
    Ok((store, warnings.len()))
}

/// The queries and labels `source` names, with the report of what was used.
pub(super) fn eval_labels(
    opts: &Options,
    corpus: &Corpus,
    source: LabelSource,
    settings: GradedSettings,
) -> Result<(Vec<EvalQuery>, LabelsReport)> {
    let source = match source {
        LabelSource::Auto if corpus.eval_questions().next().is_some() => LabelSource::Gold,
        LabelSource::Auto => LabelSource::Judgments,
        other => other,
    };
    let (queries, report) = match source {
        LabelSource::Auto | LabelSource::Gold => gold_labels(corpus)?,
        LabelSource::Judgments => judgment_labels(opts, corpus, settings)?,
        LabelSource::Qrels { qrels, topics } => {
            qrels_labels(corpus, &qrels, topics.as_deref(), settings)?
        }
    };
    warn_skipped(corpus, &report);
    Ok((queries, report))
}

/// The report of graded labels from `file`.
fn graded(source: &'static str, file: &Path, settings: GradedSettings) -> LabelsReport {
    LabelsReport {
        source,
        file: Some(file.display().to_string()),
        ndcg_gain: Some(settings.gain.name()),
        rel_threshold: Some(settings.rel_threshold),
        ..Default::default()
    }
}

/// Each question's gold passage from the dataset.
fn gold_labels(corpus: &Corpus) -> Result<(Vec<EvalQuery>, LabelsReport)> {
    let queries = eval::gold_queries(corpus);
    if queries.is_empty() {
        bail!(
            "{} has no questions to take gold passages from; grade queries in the \
             explorer, `bigyo qrels import`, or give --qrels FILE",
            corpus.source
        );
    }
    let report = LabelsReport {
        source: "gold",
        queries: queries.len(),
        judgments: queries.len(),
        ..Default::default()
    };
    Ok((queries, report))
}

/// The judged queries of the corpus's judgments store.
fn judgment_labels(
    opts: &Options,
    corpus: &Corpus,
    settings: GradedSettings,
) -> Result<(Vec<EvalQuery>, LabelsReport)> {
    let path = session::judgments_path(opts, corpus);
    let (store, bad) = open_judgments(&path)?;
    let mut report = graded("judgments", &path, settings);
    report.bad_lines = bad;
    let queries = eval::judged_queries(corpus, &store, &mut report);
    if queries.is_empty() {
        bail!(
            "no judged queries in {} for {}{}; grade hits in the explorer, \
             `bigyo qrels import FILE`, or give --qrels FILE",
            path.display(),
            corpus.source,
            if corpus.eval_questions().next().is_none() {
                " (which has no questions of its own)"
            } else {
                ""
            }
        );
    }
    Ok((queries, report))
}

/// The queries of a TREC qrels file, their texts from the topics file or the corpus.
fn qrels_labels(
    corpus: &Corpus,
    qrels: &Path,
    topics: Option<&Path>,
    settings: GradedSettings,
) -> Result<(Vec<EvalQuery>, LabelsReport)> {
    let rows = judgments::parse_qrels(qrels)?;
    let (topic_map, topics_path) = read_topics(qrels, topics)?;
    let mut report = graded("qrels", qrels, settings);
    report.topics = topics_path.map(|t| t.display().to_string());
    let queries = eval::qrels_queries(corpus, &rows, &topic_map, &mut report);
    if queries.is_empty() {
        bail!(
            "{}: none of its {} judgments can be used ({} with passage ids that are \
             not this corpus's p0..p{}, {} queries without text: give --topics FILE)",
            qrels.display(),
            rows.len(),
            report.unknown_passages,
            corpus.passages.len().saturating_sub(1),
            report.queries_without_text
        );
    }
    Ok((queries, report))
}

/// Warns on stderr of the judgments the labels left out.
fn warn_skipped(corpus: &Corpus, report: &LabelsReport) {
    if report.unknown_passages > 0 {
        eprintln!(
            "bigyo: warning: skipped {} judgments whose passage id is not one of this corpus's \
             p0..p{}",
            report.unknown_passages,
            corpus.passages.len().saturating_sub(1)
        );
    }
    if report.queries_without_text > 0 {
        eprintln!(
            "bigyo: warning: skipped {} query ids with no text (not in the topics file nor \
             the corpus's question ids)",
            report.queries_without_text
        );
    }
}

/// `bigyo eval`: the labels first (a bad file fails before any model loads), then every shown
/// pane over them; the report, TREC runs and per-query ranks.
pub(super) fn eval(
    opts: &Options,
    methods: Option<&str>,
    json: bool,
    trec_run: Option<&Path>,
    per_query: Option<&Path>,
    labels: LabelSource,
    settings: GradedSettings,
) -> Result<()> {
    let plan = Plan::new(opts, methods)?;
    // `--reranker none`: the evaluation leaves the rerank panes out (a search shows them,
    // saying why they are empty).
    let plan = if opts.model.reranker_enabled() {
        plan
    } else {
        plan.without_rerank()?
    };
    let (corpus, backend) = load(opts)?;
    // Labels are read before any model loads, so a bad qrels file fails fast.
    let (queries, labels) = eval_labels(opts, &corpus, labels, settings)?;
    eprintln!("bigyo: {}", labels.describe());
    if per_query.is_some() && labels.source != "gold" {
        bail!(
            "--per-query writes each question's gold rank; it needs the dataset's gold \
             passages, not {} labels",
            labels.source
        );
    }
    let ((mut pipeline, embeds, runtime), failed) = build_partial(opts, &plan, (corpus, backend))?;
    let all = pipeline.panes().clone();
    let shown: Vec<PaneId> = all.shown().collect();
    // The report's embedding section is the first encoder's; its key.
    let first_key = all.dense_keys().into_iter().next().unwrap_or_default();
    let mut trec = match trec_run {
        Some(dir) => Some(
            TrecRuns::create(dir, &all, &shown, &queries)
                .with_context(|| format!("creating TREC run files in {}", dir.display()))?,
        ),
        None => None,
    };
    let total = queries.len() as u64;
    let billed_before = pipeline.encoder_mut(&first_key).and_then(|e| e.usage());
    let bar = progress_bar(total, "evaluating");
    // Created before the run so that an unwritable path fails before the heavy work.
    let mut per_query_file = create_per_query(per_query)?;
    let (reports, skipped, outcomes) = eval::evaluate_on(
        &mut pipeline,
        &shown,
        &queries,
        settings,
        trec.as_mut(),
        &mut |done, _| {
            bar.set_position(done as u64);
            std::ops::ControlFlow::Continue(())
        },
    )?;
    bar.finish_and_clear();
    if let Some((path, file)) = per_query_file.as_mut() {
        write_per_query(file, &outcomes)
            .with_context(|| format!("writing --per-query {}", path.display()))?;
    }
    if let Some(t) = trec {
        t.finish().context("writing TREC run files")?;
    }
    let billed_after = pipeline.encoder_mut(&first_key).and_then(|e| e.usage());
    let query_usage = query_usage(opts, billed_before, billed_after, total as usize);
    let corpus = &pipeline.corpus;
    let names: Vec<String> = shown.iter().map(|&id| all.get(id).name.clone()).collect();
    let report = EvalReport {
        corpus: CorpusCounts {
            rows: corpus.rows,
            passages: corpus.passages.len(),
            questions: corpus.eval_questions().count(),
        },
        embedding: embedding_report(opts, runtime, embeds, query_usage),
        labels,
        panes: names.clone(),
        methods: reports,
        skipped,
        comparison: bigyo::eval::compare(&names, &outcomes),
    };
    let mut out = std::io::stdout().lock();
    if json {
        writeln!(out, "{}", serde_json::to_string(&report)?)?;
    } else {
        write!(out, "{}", eval::table(&report))?;
    }
    failed.map_or(Ok(()), Err)
}

/// What encoding the questions cost a remote encoder (its usage after minus before), printed
/// on stderr.
fn query_usage(
    opts: &Options,
    before: Option<Usage>,
    after: Option<Usage>,
    questions: usize,
) -> Option<Usage> {
    let usage = match (before, after) {
        (Some(before), Some(after)) => Some(after.since(before)),
        _ => None,
    };
    if let Some(u) = usage {
        let line = session::cost_line(opts, "questions", questions, u);
        tracing::info!("{line}");
        eprintln!("bigyo: {line}");
    }
    usage
}

/// The `--per-query` file, created (not yet written).
fn create_per_query(per_query: Option<&Path>) -> Result<Option<(&Path, BufWriter<File>)>> {
    Ok(match per_query {
        Some(path) => Some((
            path,
            BufWriter::new(
                File::create(path)
                    .with_context(|| format!("creating --per-query {}", path.display()))?,
            ),
        )),
        None => None,
    })
}

/// One JSON line per question: the gold passage's rank in every pane and its RR@10.
fn write_per_query(file: &mut BufWriter<File>, outcomes: &[QueryOutcome]) -> std::io::Result<()> {
    for o in outcomes {
        let line = serde_json::json!({
            "id": o.id,
            "question": o.question,
            // Passage ids as everywhere else (`p<N>`: TREC runs, qrels, the explorer).
            "gold": bigyo::judgments::passage_id(o.gold),
            "ranks": o.ranks,
            "rr@10": o.rr_at_10(),
        });
        writeln!(file, "{line}")?;
    }
    file.flush()
}

/// The report's embedding section: the first encoder's model, device, speed and, for a
/// remote encoder, what its requests cost.
fn embedding_report(
    opts: &Options,
    runtime: Runtime,
    embeds: Vec<(String, EmbedStats)>,
    query_usage: Option<Usage>,
) -> Option<EmbeddingReport> {
    embeds.into_iter().next().map(|(model, s)| EmbeddingReport {
        model,
        device: if runtime.device == tch::Device::Cpu {
            "cpu".into()
        } else {
            runtime.describe()
        },
        dtype: runtime.dtype_name().to_owned(),
        seconds: s.seconds,
        passages_per_s: (!s.from_cache).then(|| s.passages_per_s()),
        cached: s.from_cache,
        billing: query_usage.map(|q| {
            let p = s.usage.unwrap_or_default();
            let price = opts.api.price_per_mtok;
            Billing {
                passage_requests: p.requests,
                passage_tokens: p.tokens,
                query_requests: q.requests,
                query_tokens: q.tokens,
                price_per_mtok: price,
                cost_usd: price.map(|price| p.cost(price) + q.cost(price)),
            }
        }),
    })
}
