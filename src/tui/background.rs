//! The explorer's background work off the search worker: an evaluation over a second
//! pipeline that shares the indexes, and the fusion lab's grid. Each runs on a thread of its
//! own; its encoders embed through their owner threads a chunk at a time and its
//! cross-encoder pairs go through the rerank thread, so a query typed meanwhile is answered
//! between two chunks. Cancelling sets the run's [`Cancel`] token: the run stops at its next
//! chunk or question and returns.
use std::collections::BTreeMap;
use std::ops::ControlFlow;
use std::sync::mpsc::Sender;
use std::sync::Arc;

use super::control::Control;
use super::protocol::{Cmd, EvalLabels, EvalOutcome, FusionLab, Msg, Reply};
use super::rerank::ProxyReranker;
use super::worker::{say, Worker};
use crate::bm25::Bm25Index;
use crate::data::Corpus;
use crate::dense::DenseIndex;
use crate::eval::{EvalQuery, GradedSettings, LabelsReport, Methods};
use crate::metrics::Gain;
use crate::model::owner::{Cancel, OwnedEmbedder};
use crate::model::{Embedder, Side};
use crate::panes::{Kind, PaneId, Retriever};
use crate::pipeline::{Missing, Phase, Pipeline};

impl Worker<'_> {
    /// Runs the evaluation on a thread of its own over a second pipeline that shares the
    /// indexes and the bi-encoder; its cross-encoder pairs go through the rerank thread,
    /// which scores a query typed meanwhile first.
    pub(super) fn evaluate(&mut self, generation: u64, labels: EvalLabels) {
        self.command(Cmd::CancelEval);
        let (queries, labels) = match self.eval_queries(labels) {
            Ok(q) => q,
            Err(why) => {
                say(
                    self.ui,
                    Reply::EvalDone {
                        generation,
                        outcome: Err(why),
                    },
                );
                return;
            }
        };
        let cancel = Cancel::new();
        self.eval_cancel = Some(cancel.clone());
        let pipeline = self.eval_pipeline(&cancel);
        let job = EvalJob {
            generation,
            queries,
            labels,
            settings: self.settings_line(),
        };
        let ui = self.ui.clone();
        let control = self.control.clone();
        let failed = self.ui.clone();
        let spawned = self.control.spawn(
            "bigyo-eval",
            move || evaluate(pipeline, &ui, &cancel, &control, job),
            move |why| {
                say(
                    &failed,
                    Reply::EvalDone {
                        generation,
                        outcome: Err(Missing::failed(Phase::Evaluate, why)),
                    },
                )
            },
        );
        if let Err(e) = spawned {
            let why = format!("starting the evaluation thread: {e}");
            say(
                self.ui,
                Reply::EvalDone {
                    generation,
                    outcome: Err(Missing::failed(Phase::Evaluate, why)),
                },
            );
        }
    }

    /// The questions an evaluation on `labels` runs and the line describing the labels, or
    /// why there are none.
    fn eval_queries(&self, labels: EvalLabels) -> Result<(Vec<EvalQuery>, String), Missing> {
        let corpus = self.pipeline.corpus.clone();
        let (queries, labels) = match (labels, &self.judgments) {
            (EvalLabels::Judgments, Ok(store)) => {
                let mut report = LabelsReport {
                    source: "judgments",
                    file: Some(store.path().display().to_string()),
                    ndcg_gain: Some(Gain::Linear.name()),
                    rel_threshold: Some(1),
                    ..Default::default()
                };
                let queries = crate::eval::judged_queries(&corpus, store, &mut report);
                (queries, report.describe())
            }
            (EvalLabels::Judgments, Err(why)) => {
                let why = format!("no judgments: {why}");
                return Err(Missing::failed(Phase::Judgments, why));
            }
            (EvalLabels::Gold, _) => {
                let queries = crate::eval::gold_queries(&corpus);
                let report = LabelsReport {
                    source: "gold",
                    queries: queries.len(),
                    judgments: queries.len(),
                    ..Default::default()
                };
                (queries, report.describe())
            }
        };
        if queries.is_empty() {
            return Err(Missing::failed(
                Phase::Evaluate,
                format!(
                    "nothing to evaluate on: {labels}; grade hits (m then 0-3 in a pane, or \
                     the judge view, F6)"
                ),
            ));
        }
        Ok((queries, labels))
    }

    /// A second pipeline over the same panes for an evaluation: it shares every index, its
    /// encoders are handles that stop at `cancel`, and its cross-encoder pairs go through
    /// the rerank thread.
    fn eval_pipeline(&self, cancel: &Cancel) -> Pipeline {
        let mut pipeline = Pipeline::new(
            self.pipeline.corpus.clone(),
            self.pipeline.params.clone(),
            (**self.pipeline.panes()).clone(),
        );
        for key in self.pipeline.panes().bm25_keys() {
            match self.pipeline.bm25(key) {
                Ok(b) => pipeline.set_bm25(key, b.clone()),
                Err(why) => pipeline.set_bm25_missing(key, why),
            }
        }
        let handle = |e: &OwnedEmbedder| Box::new(e.cancelled_by(cancel.clone()));
        for key in self.pipeline.panes().dense_keys() {
            match (self.encoder_of(&key), self.pipeline.dense(&key)) {
                (Some(e), Ok(part)) => pipeline.set_dense(&key, handle(e), part.index.share()),
                (_, Err(why)) => pipeline.set_dense_missing(&key, why),
                (None, Ok(_)) => {
                    pipeline.set_dense_missing(&key, Missing::pending("the encoder is not loaded"))
                }
            }
        }
        // With a Milvus backend the session's panes query Milvus; the evaluation does too.
        if let Some(b) = self.pipeline.backend() {
            pipeline.set_backend(b.milvus.clone(), b.analyzer.clone());
            match self.encoder() {
                Some(e) => pipeline.set_backend_encoder(handle(e)),
                None => pipeline.set_backend_encoder_missing(self.dense_missing()),
            }
        }
        match &self.reranker_state {
            Ok(identity) => pipeline.set_reranker(Box::new(ProxyReranker {
                jobs: self.rerank.clone(),
                cancel: cancel.clone(),
                control: self.control.clone(),
                identity: identity.clone(),
            })),
            Err(why) => pipeline.set_reranker_missing(why.clone()),
        }
        pipeline
    }

    /// The inputs the fusion lab fuses: hybrid pane `pane`'s dense and BM25 lists (their
    /// encoder, dense index and BM25 index), or why there are none.
    fn lab_inputs(&self, pane: PaneId) -> Result<LabInputs, Missing> {
        if let Some(b) = self.pipeline.backend() {
            return Err(Missing::Off(format!(
                "the fusion lab reads the in-process lists; with a Milvus backend ({}) start \
                 bigyo without it",
                b.milvus.url()
            )));
        }
        let panes = self.pipeline.panes();
        let inputs = panes.get(pane).retriever.inputs();
        let dense = inputs.iter().find_map(|&i| match &panes.get(i).retriever {
            Retriever::Dense(key) => Some(key.clone()),
            _ => None,
        });
        let bm25 = inputs.iter().find_map(|&i| match panes.get(i).retriever {
            Retriever::Bm25(key) => Some(key),
            _ => None,
        });
        let (Some(dense), Some(bm25)) = (dense, bm25) else {
            return Err(Missing::Off(format!(
                "the fusion lab tunes a hybrid of one dense and one BM25 list; {} fuses other \
                 lists",
                panes.get(pane).title
            )));
        };
        let part = self.pipeline.dense(&dense)?;
        let encoder = self
            .encoder_of(&dense)
            .ok_or_else(|| Missing::pending("the encoder is not loaded"))?;
        let bm25 = self.pipeline.bm25(bm25)?;
        Ok((encoder.clone(), part.index.share(), bm25.clone()))
    }

    /// The fusion lab on a thread of its own, for hybrid pane `pane`: each question's lists
    /// once (the questions are encoded a chunk at a time, so a typed query is encoded between
    /// chunks), then the grid on a seeded half, reported on the other half.
    pub(super) fn tune(&mut self, generation: u64, pane: PaneId) {
        let (encoder, index, bm25) = match self.lab_inputs(pane) {
            Ok(inputs) => inputs,
            Err(why) => {
                let result = Err(match why {
                    Missing::Pending(w) => {
                        Missing::Pending(format!("the fusion lab needs both lists: {w}"))
                    }
                    other => other,
                });
                say(self.ui, Reply::Tuned { generation, result });
                return;
            }
        };
        let corpus = self.pipeline.corpus.clone();
        let depth = self.pipeline.params.rrf.depth;
        let ui = self.ui.clone();
        let control = self.control.clone();
        let failed = self.ui.clone();
        let spawned = self.control.spawn(
            "bigyo-tune",
            move || {
                let mut encoder = encoder.cancelled_by(control.quit.clone());
                let result = fusion_lab(
                    &corpus,
                    &mut encoder,
                    &index,
                    &bm25,
                    depth,
                    &mut |done, total| {
                        say(
                            &ui,
                            Reply::TuneProgress {
                                generation,
                                done,
                                total,
                            },
                        );
                        if control.quitting() {
                            ControlFlow::Break(())
                        } else {
                            ControlFlow::Continue(())
                        }
                    },
                );
                say(&ui, Reply::Tuned { generation, result });
            },
            move |why| {
                say(
                    &failed,
                    Reply::Tuned {
                        generation,
                        result: Err(Missing::failed(Phase::Evaluate, why)),
                    },
                )
            },
        );
        if let Err(e) = spawned {
            say(
                self.ui,
                Reply::Tuned {
                    generation,
                    result: Err(Missing::failed(
                        Phase::Evaluate,
                        format!("starting the fusion lab: {e}"),
                    )),
                },
            );
        }
    }
}

/// What the fusion lab reads: an encoder, its passages' dense index and a BM25 index.
type LabInputs = (OwnedEmbedder, DenseIndex, Arc<Bm25Index>);

/// The seeded half the fusion lab chooses on (the other half reports), as `bigyo tune`'s
/// defaults.
const LAB_SPLIT: crate::tune::Split = crate::tune::Split::Holdout {
    ratio: 0.5,
    seed: 42,
};

fn fusion_lab(
    corpus: &Corpus,
    encoder: &mut OwnedEmbedder,
    index: &DenseIndex,
    bm25: &Bm25Index,
    depth: usize,
    progress: &mut dyn FnMut(usize, usize) -> ControlFlow<()>,
) -> Result<Box<FusionLab>, Missing> {
    let failed = |e: String| Missing::failed(Phase::Evaluate, e);
    use crate::tune;
    let questions: Vec<(&str, usize)> = corpus
        .eval_questions()
        .map(|q| (q.text.as_str(), q.passage))
        .collect();
    let queries = tune::query_lists(
        &questions,
        &mut |texts| Ok(encoder.embed(Side::Query, texts, &mut |_| {})?),
        index,
        bm25,
        depth,
        progress,
    )
    .map_err(|e| failed(format!("{e:#}")))?;
    let report =
        tune::tune(&queries, &tune::grid(depth), LAB_SPLIT).map_err(|e| failed(e.to_string()))?;
    let tune_idx = match LAB_SPLIT {
        tune::Split::Holdout { ratio, seed } => {
            tune::holdout(queries.len(), ratio, seed)
                .map_err(|e| failed(e.to_string()))?
                .0
        }
        tune::Split::Folds { .. } => (0..queries.len()).collect(),
    };
    let default = crate::fusion::Fusion::Rrf {
        k: 60.0,
        depth,
        dense_weight: 1.0,
        bm25_weight: 1.0,
    };
    let default_test =
        tune::held_out(&queries, &default, LAB_SPLIT).map_err(|e| failed(e.to_string()))?;
    Ok(Box::new(FusionLab {
        tune_baselines: tune::baselines_on(&queries, &tune_idx),
        report,
        default_test,
    }))
}

/// What an evaluation runs on: its queries and the line that names their labels.
struct EvalJob {
    generation: u64,
    queries: Vec<EvalQuery>,
    labels: String,
    settings: String,
}

/// The shown panes in the order the evaluation finishes them: every pane the cross-encoder
/// does not touch together (seconds), then each rerank pane on its own (minutes), so the
/// overlay shows the fast panes' numbers long before a rerank is done.
fn stages(pipeline: &Pipeline) -> Vec<Vec<PaneId>> {
    let all = pipeline.panes();
    let (slow, fast): (Vec<PaneId>, Vec<PaneId>) = all.shown().partition(|&id| {
        all.closure(id)
            .iter()
            .any(|&s| all.get(s).kind() == Kind::Rerank)
    });
    let mut out = Vec::new();
    if !fast.is_empty() {
        out.push(fast);
    }
    out.extend(slow.into_iter().map(|id| vec![id]));
    out
}

fn evaluate(
    mut pipeline: Pipeline,
    ui: &Sender<Msg>,
    cancel: &Cancel,
    control: &Control,
    job: EvalJob,
) {
    let generation = job.generation;
    let names: Vec<String> = pipeline
        .panes()
        .shown()
        .map(|id| pipeline.panes().get(id).name.clone())
        .collect();
    let mut so_far = EvalOutcome {
        questions: job.queries.len(),
        panes: names,
        reports: BTreeMap::new(),
        skipped: BTreeMap::new(),
        settings: job.settings.clone(),
        labels: job.labels.clone(),
        judged: BTreeMap::new(),
        outcomes: Vec::new(),
    };
    let stages = stages(&pipeline);
    let last = stages.len().saturating_sub(1);
    for (i, panes) in stages.into_iter().enumerate() {
        let part = eval_stage(&mut pipeline, ui, cancel, control, &job, &panes);
        if cancel.either(&control.quit) {
            // Cancelled (or quitting): the explorer keeps the panes that finished.
            return;
        }
        match part {
            Ok(part) => merge(&mut so_far, part),
            Err(why) => {
                let outcome = Err(Missing::failed(Phase::Evaluate, format!("{why:#}")));
                say(
                    ui,
                    Reply::EvalDone {
                        generation,
                        outcome,
                    },
                );
                return;
            }
        }
        let reply = if i == last {
            Reply::EvalDone {
                generation,
                outcome: Ok(so_far.clone()),
            }
        } else {
            Reply::EvalPart {
                generation,
                outcome: so_far.clone(),
            }
        };
        say(ui, reply);
    }
}

/// Adds one stage's panes to the outcome so far.
fn merge(so_far: &mut EvalOutcome, part: EvalOutcome) {
    so_far.reports.extend(part.reports);
    so_far.skipped.extend(part.skipped);
    so_far.judged.extend(part.judged);
    if so_far.outcomes.is_empty() {
        so_far.outcomes = part.outcomes;
    } else {
        for (o, p) in so_far.outcomes.iter_mut().zip(part.outcomes) {
            o.ranks.extend(p.ranks);
        }
    }
}

/// Evaluates `panes` over the job's questions, reporting each question's progress.
fn eval_stage(
    pipeline: &mut Pipeline,
    ui: &Sender<Msg>,
    cancel: &Cancel,
    control: &Control,
    job: &EvalJob,
    panes: &[PaneId],
) -> anyhow::Result<EvalOutcome> {
    let generation = job.generation;
    // A stage starts its count (and its pace, for the ETA) at 0.
    let total = job.queries.len();
    say(
        ui,
        Reply::EvalProgress {
            generation,
            done: 0,
            total,
        },
    );
    let (methods, skipped, outcomes) = crate::eval::evaluate_on(
        pipeline,
        panes,
        &job.queries,
        GradedSettings::default(),
        None,
        &mut |done, total| {
            say(
                ui,
                Reply::EvalProgress {
                    generation,
                    done,
                    total,
                },
            );
            if cancel.either(&control.quit) {
                ControlFlow::Break(())
            } else {
                ControlFlow::Continue(())
            }
        },
    )?;
    let (reports, judged) = match methods {
        Methods::Gold(reports) => (reports, BTreeMap::new()),
        Methods::Graded(graded) => {
            let judged = graded
                .iter()
                .map(|(m, r)| (m.clone(), r.metrics.judged_10))
                .collect();
            let reports = graded
                .into_iter()
                .map(|(m, r)| {
                    let g = r.metrics;
                    let metrics = crate::metrics::Metrics {
                        recall_1: g.recall_1,
                        recall_5: g.recall_5,
                        recall_10: g.recall_10,
                        mrr_10: g.mrr_10,
                        ndcg_10: g.ndcg_10,
                    };
                    let report = crate::eval::MethodReport {
                        metrics,
                        qps: r.qps,
                    };
                    (m, report)
                })
                .collect();
            (reports, judged)
        }
    };
    Ok(EvalOutcome {
        questions: job.queries.len(),
        panes: Vec::new(),
        reports,
        skipped,
        settings: String::new(),
        labels: String::new(),
        judged,
        outcomes,
    })
}
