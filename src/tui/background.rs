//! The explorer's background work off the search worker: an evaluation over a second
//! pipeline that shares the indexes, and the fusion lab's grid. Each runs on a thread of its
//! own; its bi-encoder is locked a few questions at a time and its cross-encoder pairs go
//! through the rerank thread, so a query typed meanwhile is answered first.
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::Sender;
use std::sync::Arc;

use super::control::{Cancelled, Control};
use super::models::SharedEncoder;
use super::protocol::{Cmd, EvalLabels, EvalOutcome, FusionLab, Msg, Reply};
use super::rerank::ProxyReranker;
use super::worker::{say, Worker};
use crate::bm25::Bm25Index;
use crate::data::Corpus;
use crate::dense::DenseIndex;
use crate::eval::{EvalQuery, GradedSettings, LabelsReport, Methods};
use crate::metrics::Gain;
use crate::model::{Embedder, Embeddings, Progress, Side};
use crate::panes::{DenseKey, PaneId};
use crate::pipeline::Pipeline;

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
        let cancel = Arc::new(AtomicBool::new(false));
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
                        outcome: Err(why),
                    },
                )
            },
        );
        if let Err(e) = spawned {
            say(
                self.ui,
                Reply::EvalDone {
                    generation,
                    outcome: Err(format!("starting the evaluation thread: {e}")),
                },
            );
        }
    }

    /// The questions an evaluation on `labels` runs and the line describing the labels, or
    /// why there are none.
    fn eval_queries(&self, labels: EvalLabels) -> Result<(Vec<EvalQuery>, String), String> {
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
            (EvalLabels::Judgments, Err(why)) => return Err(format!("no judgments: {why}")),
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
            return Err(format!(
                "nothing to evaluate on: {labels}; grade hits (m then 0-3 in a pane, or the judge view, F6)"
            ));
        }
        Ok((queries, labels))
    }

    /// A second pipeline for the evaluation: the session's indexes shared, its bi-encoder
    /// locked a few questions at a time, its cross-encoder pairs through the rerank thread.
    fn eval_pipeline(&self, cancel: &Arc<AtomicBool>) -> Pipeline {
        let mut pipeline = Pipeline::new(
            self.pipeline.corpus.clone(),
            self.pipeline.params.clone(),
            (**self.pipeline.panes()).clone(),
        );
        for key in self.pipeline.panes().bm25_keys() {
            match self.pipeline.bm25(key) {
                Ok(b) => pipeline.set_bm25(key, b.clone()),
                Err(why) => pipeline.set_bm25_missing(key, why.0),
            }
        }
        // Other dense panes' encoders are shared whole (a typed query may wait behind one
        // of their batches); the session's own is locked a few questions at a time.
        for (key, encoder) in &self.extras {
            if let Ok(part) = self.pipeline.dense(key) {
                pipeline.set_dense(key, Box::new(encoder.clone()), part.index.share());
            }
        }
        let key = DenseKey::default();
        let chunked = |encoder: &SharedEncoder| ChunkedEncoder {
            inner: encoder.clone(),
            cancel: cancel.clone(),
            control: self.control.clone(),
        };
        // With --backend the session's panes query Milvus; the evaluation does too.
        if let Some(b) = self.pipeline.backend() {
            pipeline.set_backend(b.milvus.clone(), b.analyzer.clone());
            match &self.encoder {
                Some(encoder) => pipeline.set_backend_encoder(Box::new(chunked(encoder))),
                None => pipeline.set_backend_encoder_missing(self.dense_missing()),
            }
        }
        let shared_whole = self.extras.iter().any(|(k, _)| *k == key);
        match (&self.encoder, self.pipeline.dense(&key)) {
            // A remote --model, shared above like another pane's encoder.
            _ if shared_whole => {}
            (Some(encoder), Ok(part)) => {
                pipeline.set_dense(&key, Box::new(chunked(encoder)), part.index.share());
            }
            (_, Err(why)) => pipeline.set_dense_missing(&key, why.0),
            (None, Ok(_)) => pipeline.set_dense_missing(&key, "the encoder is not loaded"),
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

    /// The fusion lab on a thread of its own: each question's lists once (the questions are
    /// encoded a few at a time, so a typed query is encoded between them), then the grid on a
    /// seeded half, reported on the other half.
    pub(super) fn tune(&mut self, generation: u64) {
        if let Some(b) = self.pipeline.backend() {
            let why = format!(
                "the fusion lab reads the in-process lists; with --backend ({}) run it without --backend",
                b.milvus.url()
            );
            say(
                self.ui,
                Reply::Tuned {
                    generation,
                    result: Err(why),
                },
            );
            return;
        }
        let key = DenseKey::default();
        let (Some(encoder), Ok(index), Ok(bm25)) = (
            self.encoder.clone(),
            self.pipeline.dense(&key).map(|p| p.index.share()),
            self.pipeline.bm25(None).cloned(),
        ) else {
            say(
                self.ui,
                Reply::Tuned {
                    generation,
                    result: Err(format!(
                        "the fusion lab needs both lists: {}",
                        match self.pipeline.bm25(None) {
                            Err(why) => why.0,
                            Ok(_) => self.dense_missing(),
                        }
                    )),
                },
            );
            return;
        };
        let corpus = self.pipeline.corpus.clone();
        let depth = self.pipeline.params.rrf.depth;
        let ui = self.ui.clone();
        let control = self.control.clone();
        let failed = self.ui.clone();
        let spawned = self.control.spawn(
            "bigyo-tune",
            move || {
                let mut chunked = ChunkedEncoder {
                    inner: encoder,
                    cancel: Arc::new(AtomicBool::new(false)),
                    control: control.clone(),
                };
                let result = fusion_lab(
                    &corpus,
                    &mut chunked,
                    &index,
                    &bm25,
                    depth,
                    &mut |done, total| {
                        control.check_quit();
                        say(
                            &ui,
                            Reply::TuneProgress {
                                generation,
                                done,
                                total,
                            },
                        );
                    },
                );
                say(&ui, Reply::Tuned { generation, result });
            },
            move |why| {
                say(
                    &failed,
                    Reply::Tuned {
                        generation,
                        result: Err(why),
                    },
                )
            },
        );
        if let Err(e) = spawned {
            say(
                self.ui,
                Reply::Tuned {
                    generation,
                    result: Err(format!("starting the fusion lab: {e}")),
                },
            );
        }
    }
}

/// The evaluation's bi-encoder: the shared encoder, locked for a few questions at a time so
/// that a query typed meanwhile is encoded between chunks.
struct ChunkedEncoder {
    inner: SharedEncoder,
    cancel: Arc<AtomicBool>,
    control: Arc<Control>,
}

impl Embedder for ChunkedEncoder {
    fn identity(&self) -> String {
        self.inner.identity()
    }

    fn dim(&self) -> usize {
        self.inner.dim()
    }

    fn embed(
        &mut self,
        side: Side,
        texts: &[&str],
        progress: &mut dyn FnMut(Progress),
    ) -> crate::model::Result<Embeddings> {
        let mut data = Vec::new();
        let mut dim = self.inner.dim();
        for (i, chunk) in texts.chunks(16).enumerate() {
            super::control::check(&self.cancel);
            self.control.check_quit();
            let e = self.inner.embed(side, chunk, &mut |_| {})?;
            dim = e.dim;
            data.extend(e.data);
            progress(Progress {
                done: (i * 16 + chunk.len()).min(texts.len()),
                total: texts.len(),
            });
        }
        Ok(Embeddings { dim, data })
    }
}

/// The seeded half the fusion lab chooses on (the other half reports), as `bigyo tune`'s
/// defaults.
const LAB_SPLIT: crate::tune::Split = crate::tune::Split::Holdout {
    ratio: 0.5,
    seed: 42,
};

fn fusion_lab(
    corpus: &Corpus,
    encoder: &mut ChunkedEncoder,
    index: &DenseIndex,
    bm25: &Bm25Index,
    depth: usize,
    progress: &mut dyn FnMut(usize, usize),
) -> Result<Box<FusionLab>, String> {
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
    .map_err(|e| format!("{e:#}"))?;
    let report = tune::tune(&queries, &tune::grid(depth), LAB_SPLIT).map_err(|e| e.to_string())?;
    let tune_idx = match LAB_SPLIT {
        tune::Split::Holdout { ratio, seed } => {
            tune::holdout(queries.len(), ratio, seed)
                .map_err(|e| e.to_string())?
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
    let default_test = tune::held_out(&queries, &default, LAB_SPLIT).map_err(|e| e.to_string())?;
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

fn evaluate(
    mut pipeline: Pipeline,
    ui: &Sender<Msg>,
    cancel: &AtomicBool,
    control: &Control,
    job: EvalJob,
) {
    let EvalJob {
        generation,
        queries,
        labels,
        settings,
    } = job;
    let panes: Vec<PaneId> = pipeline.panes().shown().collect();
    let names: Vec<String> = panes
        .iter()
        .map(|&id| pipeline.panes().get(id).name.clone())
        .collect();
    let outcome = crate::eval::evaluate_on(
        &mut pipeline,
        &panes,
        &queries,
        GradedSettings::default(),
        None,
        &mut |done, total| {
            if cancel.load(Ordering::Relaxed) || control.quitting() {
                std::panic::resume_unwind(Box::new(Cancelled));
            }
            say(
                ui,
                Reply::EvalProgress {
                    generation,
                    done,
                    total,
                },
            )
        },
    )
    .map(|(methods, skipped, outcomes)| {
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
                        (
                            m,
                            crate::eval::MethodReport {
                                metrics,
                                qps: r.qps,
                            },
                        )
                    })
                    .collect();
                (reports, judged)
            }
        };
        EvalOutcome {
            questions: queries.len(),
            panes: names,
            reports,
            skipped,
            settings,
            labels,
            judged,
            outcomes,
        }
    })
    .map_err(|e| format!("{e:#}"));
    say(
        ui,
        Reply::EvalDone {
            generation,
            outcome,
        },
    );
}
