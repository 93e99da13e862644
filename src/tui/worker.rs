//! The explorer's threads (each owns what it computes with; libtorch tensors are `Send` but
//! not `Sync`):
//!
//! - the **worker** owns the [`Pipeline`] without its cross-encoder and answers a query
//!   with dense, BM25 and hybrid at once (milliseconds), then hands the hybrid top M to
//! - the **rerank thread** ([`super::rerank`]), which scores them in chunks with progress;
//!   a newer query stops it between chunks;
//! - the **model thread** ([`super::models`]) loads the models and embeds the passages
//!   (BM25 answers meanwhile), then serves the playground and pooling switches;
//! - an **evaluation thread** per evaluation and a **BM25 thread** per analyzer switch, so
//!   neither ever holds up a query.
//!
//! Quitting sets [`Control::quit`]; each thread stops at its next batch and drops its models
//! itself, and the event loop joins them before the process ends.
use std::collections::BTreeMap;
use std::sync::atomic::Ordering;
use std::sync::mpsc::{Receiver, Sender};
use std::sync::Arc;

use super::control::Control;
use super::inbox::{DensePart, Inbox};
use super::models::{pooling_state, reporter, ModelJob};
use super::protocol::{Cmd, Msg, Part, Reply, SparseOutcome};
use super::rerank::Job;
use crate::bm25::{Analyzer, Bm25Index};
use crate::judgments::Judgments;
use crate::model::owner::{Cancel, OwnedEmbedder};
use crate::model::Reranker;
use crate::panes::{Bm25Key, DenseKey, Kind, PaneId, Retriever};
use crate::pipeline::{MethodResult, Missing, Phase, Pipeline, SearchParams, SearchResults};
use crate::session::{self, Event, Options};
use crate::teach::{self, DocFreq};

pub(super) fn say(ui: &Sender<Msg>, reply: Reply) {
    // The UI is gone only when quitting; nothing to do then.
    let _ = ui.send(Msg::Worker(reply));
}

/// The wordpiece analyzer over a tokenizer that does not know Korean ruins BM25 quietly:
/// say so, naming the tokenizer (or that this analyzer has nothing to warn about, which
/// takes its warning off the status bar).
pub(super) fn warn_about_analyzer(
    analyzer: &Analyzer,
    corpus: &crate::data::Corpus,
    ui: &Sender<Msg>,
) {
    let texts: Vec<&str> = corpus.texts().into_iter().take(200).collect();
    let warning = analyzer.coverage_warning(&texts);
    if let Some(w) = &warning {
        tracing::warn!("{w}");
    }
    let analyzer = analyzer.kind();
    say(ui, Reply::AnalyzerChecked { analyzer, warning });
}

/// The worker's state: the pipeline and the ways to the other threads.
pub(super) struct Worker<'a> {
    pub(super) opts: &'a Options,
    pub(super) pipeline: Pipeline,
    pub(super) ui: &'a Sender<Msg>,
    pub(super) control: Arc<Control>,
    /// The worker's own inbox, for the threads it starts to answer through.
    pub(super) inbox: Sender<Inbox>,
    /// `None` when the model thread could not start (no device).
    pub(super) models: Option<Sender<ModelJob>>,
    pub(super) rerank: Sender<Job>,
    /// Each ready dense key's encoder (a handle to its model's owner thread), shared with
    /// the evaluation and the fusion lab.
    pub(super) encoders: Vec<(DenseKey, OwnedEmbedder)>,
    /// Whether a query's hybrid list goes to the rerank thread, or why not.
    pub(super) reranker_state: Result<String, Missing>,
    /// Document frequencies for the playground's IDF, with the analyzer they were fitted with.
    pub(super) doc_freq: Option<(String, DocFreq)>,
    /// The playground's newest sentences, their generation, and the BM25 key its terms
    /// came from (they follow the first BM25 pane's analyzer).
    pub(super) playground: Option<(u64, Vec<String>, Bm25Key)>,
    /// The running evaluation's cancel token.
    pub(super) eval_cancel: Option<Cancel>,
    /// Device and dtype, for the evaluation header.
    pub(super) runtime: String,
    /// The corpus's relevance judgments, or why they cannot be kept.
    pub(super) judgments: Result<Judgments, Missing>,
}

impl Worker<'_> {
    /// Why the session's dense panes cannot run, or that they can.
    pub(super) fn dense_missing(&self) -> Missing {
        match self.pipeline.dense(&DenseKey::default()) {
            Ok(_) => Missing::pending("the encoder is busy"),
            Err(why) => why,
        }
    }

    /// The session's encoder (`--model`, the default dense key), once ready.
    pub(super) fn encoder(&self) -> Option<&OwnedEmbedder> {
        self.encoder_of(&DenseKey::default())
    }

    pub(super) fn encoder_of(&self, key: &DenseKey) -> Option<&OwnedEmbedder> {
        self.encoders.iter().find(|(k, _)| k == key).map(|(_, e)| e)
    }

    /// Serves commands until the UI quits. Of several queued searches only the newest runs.
    pub(super) fn serve(&mut self, rx: &Receiver<Inbox>) {
        while let Ok(first) = rx.recv() {
            let mut batch = vec![first];
            batch.extend(rx.try_iter());
            let newest = batch
                .iter()
                .rposition(|m| matches!(m, Inbox::Cmd(Cmd::Search { .. })));
            for (i, m) in batch.into_iter().enumerate() {
                if self.control.quitting() {
                    return;
                }
                match m {
                    Inbox::Cmd(Cmd::Search { generation, query }) => {
                        if Some(i) == newest {
                            self.search(generation, query);
                        }
                    }
                    Inbox::Cmd(Cmd::Quit) => return,
                    Inbox::Cmd(cmd) => self.command(cmd),
                    Inbox::Dense { key, part } => self.set_dense(key, part),
                    Inbox::Reranker(r) => self.set_reranker(r),
                    Inbox::Bm25 { key, built } => self.bm25_built(key, built),
                }
            }
        }
    }

    pub(super) fn command(&mut self, cmd: Cmd) {
        match cmd {
            Cmd::SetParams(p) => self.pipeline.params = p,
            Cmd::SetPane { pane, retriever } => self.set_pane(pane, retriever),
            Cmd::Evaluate { generation, labels } => self.evaluate(generation, labels),
            Cmd::Tune { generation, pane } => self.tune(generation, pane),
            Cmd::Grade {
                query,
                passage,
                grade,
            } => self.grade(query, passage, grade),
            Cmd::CancelEval => {
                if let Some(c) = self.eval_cancel.take() {
                    c.cancel();
                }
            }
            Cmd::Similar {
                generation,
                sentences,
            } => self.similar(generation, sentences),
            Cmd::Word2vec {
                generation,
                words,
                trained,
            } => super::trainer::serve(
                (self.ui, &self.pipeline, &self.control),
                generation,
                words,
                trained,
            ),
            Cmd::Search { .. } | Cmd::Quit | Cmd::SaveSession { .. } => {}
        }
    }

    /// A query's lists (see `search_panes`), then what explains them: the whole-corpus
    /// places of the query's gold and judged-relevant passages, and the BM25 breakdowns.
    fn search(&mut self, generation: u64, query: String) {
        let results = self.search_panes(generation, query);
        let mut targets: Vec<usize> = self
            .pipeline
            .corpus
            .gold_for(&results.query)
            .into_iter()
            .collect();
        if let Ok(judgments) = &self.judgments {
            let n = self.pipeline.corpus.passages.len();
            for (id, grade) in judgments.grades_for(&results.query) {
                match crate::judgments::parse_passage_id(&id, n) {
                    Some(p) if grade >= 1 && !targets.contains(&p) => targets.push(p),
                    _ => {}
                }
            }
        }
        let explained = Box::new(self.pipeline.explain(&results, &targets));
        say(
            self.ui,
            Reply::Explained {
                generation,
                explained,
            },
        );
    }

    /// Dense, BM25 and hybrid go to the UI at once; the hybrid top M goes to the rerank
    /// thread, whose answer follows. Returns the lists sent (without the rerank's).
    fn search_panes(&mut self, generation: u64, query: String) -> SearchResults {
        self.control.latest.store(generation, Ordering::Relaxed);
        let panes = self.pipeline.panes().clone();
        let fast: Vec<PaneId> = panes
            .shown()
            .filter(|&id| panes.get(id).kind() != Kind::Rerank)
            .collect();
        let mut results = self.pipeline.search_with(&query, &[], &fast);
        let lists = results.clone();
        let Some(rerank) = panes.first(Kind::Rerank) else {
            let rerank_total = None;
            say(
                self.ui,
                Reply::Results {
                    generation,
                    results,
                    rerank_total,
                },
            );
            return lists;
        };
        let blank = query.trim().is_empty();
        let job = match (
            &self.reranker_state,
            self.pipeline.rerank_candidates(&results, rerank),
        ) {
            _ if blank => Err(MethodResult::empty(rerank, Kind::Rerank)),
            (Err(why), _) => Err(MethodResult::failed(rerank, Kind::Rerank, why.clone())),
            (Ok(_), Err(why)) => Err(MethodResult::failed(rerank, Kind::Rerank, why)),
            (Ok(_), Ok(candidates)) if candidates.is_empty() => {
                Err(MethodResult::empty(rerank, Kind::Rerank))
            }
            (Ok(_), Ok(candidates)) => Ok(candidates),
        };
        let candidates = match job {
            Err(result) => {
                results.results.push(result);
                None
            }
            Ok(candidates) => Some(candidates),
        };
        // The three fast lists go out first: the rerank answer must never overtake them.
        say(
            self.ui,
            Reply::Results {
                generation,
                results,
                rerank_total: candidates.as_ref().map(Vec::len),
            },
        );
        let Some(candidates) = candidates else {
            return lists;
        };
        let corpus = self.pipeline.corpus.clone();
        let candidates = candidates
            .into_iter()
            .map(|h| {
                let text = corpus
                    .passages
                    .get(h.passage)
                    .map_or_else(String::new, |p| p.text.clone());
                (h, text)
            })
            .collect();
        let sent = self.rerank.send(Job::Query {
            pane: rerank,
            generation,
            query,
            candidates,
            top_k: self.pipeline.params.top_k,
        });
        if sent.is_err() {
            say(
                self.ui,
                Reply::Reranked {
                    generation,
                    result: MethodResult::failed(
                        rerank,
                        Kind::Rerank,
                        Missing::failed(Phase::Rerank, "the rerank thread has stopped"),
                    ),
                    passes: 0,
                    cached: 0,
                },
            );
        }
        lists
    }

    /// A dense key's part arrived: its panes answer from now on. The session's key tells
    /// the status bar (ready, or why not); another key's line or failure is a note.
    fn set_dense(&mut self, key: DenseKey, part: Result<DensePart, Missing>) {
        let session_key = key == DenseKey::default();
        match part {
            Ok(DensePart {
                encoder,
                index,
                line,
            }) => {
                match index {
                    Some(index) => self
                        .pipeline
                        .set_dense(&key, Box::new(encoder.clone()), index),
                    None => self.pipeline.set_backend_encoder(Box::new(encoder.clone())),
                }
                if session_key {
                    if let Some(state) = pooling_state(&encoder) {
                        say(self.ui, Reply::Pooling(state));
                    }
                }
                self.encoders.retain(|(k, _)| *k != key);
                self.encoders.push((key, encoder));
                if let Some(line) = line {
                    say(self.ui, Reply::Session(Event::Note(line)));
                }
                say(self.ui, Reply::DenseReady);
            }
            Err(why) => {
                self.pipeline.set_dense_missing(&key, why.clone());
                if session_key {
                    self.pipeline.set_backend_encoder_missing(why.clone());
                    say(self.ui, Reply::Failed(Part::Dense, why));
                } else {
                    say(self.ui, Reply::Session(Event::Warning(why.to_string())));
                    say(self.ui, Reply::DenseReady);
                }
            }
        }
    }

    fn set_reranker(&mut self, r: Result<Option<Box<dyn Reranker>>, Missing>) {
        let (state, reply) = match &r {
            Ok(Some(m)) => (Ok(m.identity()), Reply::RerankerReady),
            Ok(None) => (
                Err(Missing::Off("--reranker none".to_owned())),
                Reply::RerankerDisabled,
            ),
            Err(why) => (Err(why.clone()), Reply::Failed(Part::Reranker, why.clone())),
        };
        self.reranker_state = state;
        let _ = self.rerank.send(Job::Model(r));
        say(self.ui, reply);
    }

    /// The playground: the dense half goes to the model thread first, then the sparse half
    /// is computed here while it runs.
    fn similar(&mut self, generation: u64, sentences: Vec<String>) {
        let asked = self.models.as_ref().is_some_and(|m| {
            m.send(ModelJob::Similar {
                generation,
                sentences: sentences.clone(),
            })
            .is_ok()
        });
        if !asked {
            say(
                self.ui,
                Reply::PlaygroundDense {
                    generation,
                    result: Err(self.dense_missing()),
                },
            );
        }
        let key = self.playground_key();
        let result = self.sparse(&sentences, key);
        self.playground = Some((generation, sentences, key));
        say(self.ui, Reply::PlaygroundSparse { generation, result });
    }

    /// The BM25 key the playground's terms come from: the first BM25 pane's.
    fn playground_key(&self) -> Bm25Key {
        let panes = self.pipeline.panes();
        panes
            .ids()
            .find_map(|id| match panes.get(id).retriever {
                Retriever::Bm25(key) => Some(key),
                _ => None,
            })
            .unwrap_or(None)
    }

    /// A BM25 pane's analyzer changed: the playground's terms follow it now (its sparse
    /// half again, same generation), not at its next F5. While the new index is being
    /// built the old matrices stay; the build's end comes back here.
    fn playground_follows_the_analyzer(&mut self) {
        let Some((generation, sentences, used)) = self.playground.clone() else {
            return;
        };
        let key = self.playground_key();
        if key == used {
            return;
        }
        let result = self.sparse(&sentences, key);
        if matches!(result, Err(Missing::Pending(_))) {
            return;
        }
        self.playground = Some((generation, sentences, key));
        say(self.ui, Reply::PlaygroundSparse { generation, result });
    }

    fn sparse(&mut self, sentences: &[String], key: Bm25Key) -> Result<SparseOutcome, Missing> {
        let analyzer = self
            .pipeline
            .bm25(key)
            .map(|b| b.analyzer().clone())
            .map_err(|m| match m {
                Missing::Pending(why) => Missing::Pending(format!("no BM25 analyzer yet: {why}")),
                m => Missing::failed(Phase::Load, format!("no BM25 analyzer: {m}")),
            })?;
        let key = analyzer.describe();
        if self.doc_freq.as_ref().is_none_or(|(k, _)| *k != key) {
            let corpus = self.pipeline.corpus.clone();
            let texts: Vec<&str> = corpus.texts();
            self.doc_freq = Some((key.clone(), DocFreq::fit(&texts, &analyzer)));
        }
        let Some((_, df)) = &self.doc_freq else {
            return Err(Missing::failed(Phase::Load, "no document frequencies"));
        };
        let refs: Vec<&str> = sentences.iter().map(String::as_str).collect();
        let matrices: BTreeMap<_, _> = teach::similarity_matrices(&refs, &analyzer, df, None);
        let shared = teach::shared_terms(&refs, &analyzer);
        let seen = refs
            .iter()
            .map(|s| teach::how_it_sees(&analyzer, s))
            .collect();
        Ok(SparseOutcome {
            matrices,
            idf: format!("IDF over {} passages, analyzer {key}", df.documents),
            shared,
            seen,
        })
    }

    /// A setting of pane `pane` changed: the pane gets `retriever`, and a dense or BM25 key
    /// no part has yet is built (the model thread embeds, a BM25 thread indexes) while every
    /// other pane keeps answering. Panes Milvus serves keep their keys.
    fn set_pane(&mut self, pane: PaneId, retriever: Retriever) {
        let current = self.pipeline.panes().get(pane).retriever.clone();
        if let Some(b) = self.pipeline.backend() {
            if self.pipeline.on_backend(&current) {
                let why = format!(
                    "{} lives in {}: its terms and vectors change with `bigyo index --drop`",
                    self.pipeline.panes().get(pane).title,
                    b.milvus.url()
                );
                say(self.ui, Reply::Session(Event::Warning(why)));
                say(self.ui, Reply::Panes(self.pipeline.panes().clone()));
                return;
            }
        }
        if matches!(retriever, Retriever::Dense(_)) {
            // The evaluation's vectors would mix two settings.
            self.command(Cmd::CancelEval);
        }
        match self.pipeline.set_retriever(pane, retriever.clone()) {
            Ok(true) => match retriever {
                Retriever::Dense(key) => self.build_dense(key),
                Retriever::Bm25(key) => self.build_bm25(key),
                _ => {}
            },
            Ok(false) => {}
            Err(e) => {
                say(self.ui, Reply::Session(Event::Warning(e.to_string())));
                say(self.ui, Reply::Panes(self.pipeline.panes().clone()));
            }
        }
        self.playground_follows_the_analyzer();
    }

    /// Asks the model thread for the part of `key`.
    fn build_dense(&mut self, key: DenseKey) {
        let asked = self
            .models
            .as_ref()
            .is_some_and(|m| m.send(ModelJob::Dense(key.clone())).is_ok());
        if !asked {
            let why = Missing::failed(Phase::Load, "the model thread is not running");
            self.pipeline.set_dense_missing(&key, why);
        }
    }

    /// Builds the BM25 index of `key` on a thread of its own; queries meanwhile run (the
    /// panes of that key say it is being built).
    fn build_bm25(&mut self, key: Bm25Key) {
        let mut o = self.opts.clone();
        if let Some(kind) = key {
            o.retrieval.bm25_analyzer = kind;
        }
        let kind = o.retrieval.bm25_analyzer;
        let corpus = self.pipeline.corpus.clone();
        let ui = self.ui.clone();
        let inbox = self.inbox.clone();
        let failed = self.ui.clone();
        let spawned = self.control.spawn(
            "bigyo-bm25",
            move || {
                let mut report = reporter(&ui);
                let built = session::analyzer(&o)
                    .and_then(|a| {
                        let index = session::build_bm25(&corpus, a.clone(), &mut report)?;
                        warn_about_analyzer(&a, &corpus, &ui);
                        Ok((a, index))
                    })
                    .map_err(|e| {
                        report(Event::Finish);
                        Missing::failed(
                            Phase::Load,
                            format!("could not build BM25 with the {kind} analyzer: {e:#}"),
                        )
                    });
                let _ = inbox.send(Inbox::Bm25 { key, built });
            },
            move |why| {
                let why = Missing::failed(Phase::Load, why);
                say(&failed, Reply::Session(Event::Warning(why.to_string())))
            },
        );
        if let Err(e) = spawned {
            let why = Missing::failed(Phase::Load, format!("starting the BM25 thread: {e}"));
            self.bm25_built(key, Err(why));
        }
    }

    fn bm25_built(&mut self, key: Bm25Key, built: Result<(Analyzer, Bm25Index), Missing>) {
        match built {
            Ok((analyzer, index)) => {
                tracing::info!("BM25 index with {} ready", analyzer.describe());
                self.pipeline.set_bm25(key, Arc::new(index));
                // Its panes answer now: the query runs again.
                say(self.ui, Reply::Panes(self.pipeline.panes().clone()));
                self.playground_follows_the_analyzer();
            }
            Err(why) => {
                say(self.ui, Reply::Session(Event::Warning(why.to_string())));
                self.pipeline.set_bm25_missing(key, why);
                say(self.ui, Reply::Panes(self.pipeline.panes().clone()));
            }
        }
    }

    /// Writes one grade (or its removal) to the judgments file; the UI shows it once it is
    /// on disk.
    fn grade(&mut self, query: String, passage: usize, grade: Option<u8>) {
        let result = match &mut self.judgments {
            Ok(store) => {
                let id = crate::judgments::passage_id(passage);
                match grade {
                    Some(g) => store.grade(&query, &id, g),
                    None => store.remove(&query, &id),
                }
                .map_err(|e| Missing::failed(Phase::Judgments, e))
            }
            Err(why) => Err(Missing::failed(
                Phase::Judgments,
                format!("judgments unavailable: {why}"),
            )),
        };
        say(
            self.ui,
            Reply::Graded {
                query,
                passage,
                grade,
                result,
            },
        );
    }

    /// Every setting that shapes the evaluation's numbers, for its header: each shown
    /// pane's (analyzer, encoder and pooling, fusion, rerank depth) and the device.
    pub(super) fn settings_line(&self) -> String {
        let panes = self.pipeline.panes();
        let p: &SearchParams = &self.pipeline.params;
        let mut parts: Vec<String> = Vec::new();
        for id in panes.shown() {
            let pane = panes.get(id);
            let what = match &pane.retriever {
                Retriever::Dense(key) => match self.encoder_of(key) {
                    Some(e) => encoder_in_words(&crate::model::Embedder::identity(e)),
                    None => "encoder -".into(),
                },
                Retriever::Bm25(key) => match self.pipeline.bm25(*key) {
                    Ok(b) => format!("BM25 {}", b.analyzer().describe()),
                    Err(_) => "BM25 -".into(),
                },
                Retriever::Fusion { of, opts } => {
                    let depth = opts.depth.unwrap_or(p.rrf.depth);
                    match opts.method.unwrap_or(p.fusion) {
                        _ if opts.server => "Milvus RRF".into(),
                        crate::fusion::FusionMethod::Rrf => {
                            let w = crate::pipeline::fusion_weights(panes, p, of, opts);
                            let w: Vec<String> = w.iter().map(|x| x.to_string()).collect();
                            format!(
                                "RRF k {} over top {depth} · weights {}",
                                opts.k.unwrap_or(p.rrf.k),
                                w.join("+")
                            )
                        }
                        crate::fusion::FusionMethod::Convex => format!(
                            "convex alpha {} {} over top {depth}",
                            opts.alpha.unwrap_or(p.alpha),
                            opts.norm.unwrap_or(p.norm).name()
                        ),
                    }
                }
                Retriever::Rerank { depth, .. } => {
                    format!("rerank depth {}", depth.unwrap_or(p.rerank_depth))
                }
            };
            parts.push(format!("{}: {what}", pane.title));
        }
        parts.push(self.runtime.clone());
        parts.join(" · ")
    }
}

/// An encoder's passage-cache identity in words for the evaluation's header: the model's
/// name (a local directory's last part, a hub id without its revision), its pooling and
/// dtype; a remote model's name and endpoint. `<dir>#802c…|max|norm|max256|BFloat16-mixed`
/// reads `encoder <dir's name>, max pooling, BFloat16-mixed`.
pub(super) fn encoder_in_words(identity: &str) -> String {
    let parts: Vec<&str> = identity.split('|').collect();
    match parts.as_slice() {
        ["openai", url, model, ..] => format!("encoder {model} at {url}"),
        [model, pooling, _norm, _length, dtype, ..] => {
            let model = model.rsplit_once('#').map_or(*model, |(m, _)| m);
            let model = model.rsplit_once('@').map_or(model, |(m, _)| m);
            let local = std::path::Path::new(model);
            let name = match local.file_name() {
                Some(n) if local.is_absolute() || local.exists() => n.to_string_lossy(),
                _ => model.into(),
            };
            format!("encoder {name}, {pooling} pooling, {dtype}")
        }
        _ => format!("encoder {identity}"),
    }
}

#[cfg(test)]
#[path = "tests/worker.rs"]
mod tests;
