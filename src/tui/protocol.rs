//! The messages between the explorer's threads: [`Cmd`] from the UI to the worker, [`Reply`]
//! from the worker's threads to the UI, and [`Msg`], what the reducer takes. Every reply for
//! a query, an evaluation, the fusion lab or the playground carries the generation of the
//! request it answers; the state drops any other (latest request wins).
use std::collections::BTreeMap;
use std::sync::Arc;

use crossterm::event::KeyEvent;

use crate::bm25::Analyzer;
use crate::data::Corpus;
use crate::eval::{MethodReport, QueryOutcome};
use crate::model::{PoolMode, Pooling};
use crate::panes::{PaneId, Panes, Retriever};
use crate::pipeline::{MethodResult, Missing, SearchParams, SearchResults};
use crate::session::Event;
use crate::teach::{Matrix, Representation};

/// Messages the reducer takes.
#[derive(Debug)]
pub enum Msg {
    Key(KeyEvent),
    Worker(Reply),
    /// Time passes (fires the debounced search).
    Tick,
}

/// What the UI asks of the worker (and of the event loop).
#[derive(Debug, Clone, PartialEq)]
pub enum Cmd {
    Search {
        generation: u64,
        query: String,
    },
    /// The session-wide settings (top-k, and the defaults of panes that set nothing).
    SetParams(SearchParams),
    /// A pane's own setting changed (analyzer, pooling, fusion, rerank depth): the pane gets
    /// this retriever, of the same kind and inputs.
    SetPane {
        pane: PaneId,
        retriever: Retriever,
    },
    Evaluate {
        generation: u64,
        labels: EvalLabels,
    },
    /// Stops the running evaluation at its next question.
    CancelEval,
    /// The fusion lab: every fusion setting of `bigyo tune`'s grid on a seeded half of the
    /// questions, reported on the other half.
    Tune {
        generation: u64,
        /// The hybrid pane whose dense and BM25 inputs the lab fuses.
        pane: PaneId,
    },
    /// Records a grade (0-3) for (query, passage), or removes it (`None`).
    Grade {
        query: String,
        passage: usize,
        grade: Option<u8>,
    },
    /// The playground's matrices for these sentences.
    Similar {
        generation: u64,
        sentences: Vec<String>,
    },
    /// The playground's word2vec section for these words; `trained` are the vectors the UI
    /// holds (trained again when missing or of another analyzer).
    Word2vec {
        generation: u64,
        words: Vec<String>,
        trained: Option<Arc<crate::tui::words::Trained>>,
    },
    /// Ctrl-S: the session file's text, written by the event loop (not the worker).
    SaveSession {
        path: std::path::PathBuf,
        text: String,
    },
    Quit,
}

/// What the worker tells the UI.
#[derive(Debug)]
pub enum Reply {
    /// The session file is written, or why not.
    SessionSaved {
        path: std::path::PathBuf,
        result: Result<(), String>,
    },
    /// A step of building the session (corpus, BM25, model, embeddings, reranker).
    Session(Event),
    /// The device the models run on.
    Device(String),
    Corpus(Arc<Corpus>),
    /// A BM25 index over the corpus is ready with this analyzer.
    Bm25Ready(Analyzer),
    /// The panes as they are now (after a pane's setting changed).
    Panes(Arc<Panes>),
    /// A part could not be built; the reason names what and why.
    Failed(Part, Missing),
    /// The dense index (bi-encoder + passage embeddings) is ready.
    DenseReady,
    RerankerReady,
    /// `--reranker none`.
    RerankerDisabled,
    /// Dense, BM25 and hybrid for a query; `rerank_total` candidates are being reranked
    /// (the Rerank pane's result follows), or the rerank result is already in `results`.
    Results {
        generation: u64,
        results: SearchResults,
        rerank_total: Option<usize>,
    },
    /// What follows a query's lists: the whole-corpus places of its gold and judged-relevant
    /// passages, and the BM25 breakdowns of the passages on screen (the gold line, the
    /// detail view's "why").
    Explained {
        generation: u64,
        explained: Box<crate::pipeline::Explained>,
    },
    /// `done` of `total` candidates of query `generation` scored by the cross-encoder.
    RerankProgress {
        generation: u64,
        done: usize,
        total: usize,
    },
    /// The fusion lab's progress (questions whose lists are retrieved) and result.
    TuneProgress {
        generation: u64,
        done: usize,
        total: usize,
    },
    Tuned {
        generation: u64,
        result: Result<Box<FusionLab>, Missing>,
    },
    /// The judgments file and its grades: normalised query -> passage -> grade.
    Judgments {
        file: String,
        grades: BTreeMap<String, BTreeMap<usize, u8>>,
    },
    /// A grade is on disk (or could not be written).
    Graded {
        query: String,
        passage: usize,
        grade: Option<u8>,
        result: Result<(), Missing>,
    },
    /// The Rerank pane's list for query `generation`; `passes` pairs were scored anew
    /// (the rest came from the session's score cache).
    Reranked {
        generation: u64,
        result: MethodResult,
        /// One per candidate, the design's cost; `cached` of them came from the session cache.
        passes: usize,
        cached: usize,
    },
    EvalProgress {
        generation: u64,
        done: usize,
        total: usize,
    },
    /// The panes an evaluation has finished so far (the fast ones before a rerank).
    EvalPart {
        generation: u64,
        outcome: EvalOutcome,
    },
    EvalDone {
        generation: u64,
        outcome: Result<EvalOutcome, Missing>,
    },
    /// The bi-encoder's pooling, once it is loaded and after each switch.
    Pooling(PoolingState),
    /// The playground's one-hot, bag-of-words and TF-IDF matrices.
    PlaygroundSparse {
        generation: u64,
        result: Result<SparseOutcome, Missing>,
    },
    /// What `analyzer` warns about the corpus (a wordpiece tokenizer that does not know
    /// Korean), or nothing: the status bar shows it while a BM25 pane uses that analyzer.
    AnalyzerChecked {
        analyzer: crate::bm25::AnalyzerKind,
        warning: Option<String>,
    },
    /// The playground's dense matrix, or why there is none.
    PlaygroundDense {
        generation: u64,
        result: Result<DenseOutcome, Missing>,
    },
    /// Word2vec training: words processed over all epochs.
    Word2vecProgress {
        generation: u64,
        done: usize,
        total: usize,
    },
    /// The playground's word2vec section, or why there is none.
    Word2vec {
        generation: u64,
        result: Result<Box<crate::tui::words::WordsOutcome>, Missing>,
    },
}

/// Parts of the session that load independently.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Part {
    Corpus,
    Bm25,
    Dense,
    Reranker,
}

impl Part {
    pub fn name(self) -> &'static str {
        match self {
            Part::Corpus => "corpus",
            Part::Bm25 => "BM25",
            Part::Dense => "dense model",
            Part::Reranker => "reranker",
        }
    }
}

/// The labels an evaluation scores against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EvalLabels {
    /// The dataset's question -> gold passage pairs.
    Gold,
    /// The grades given in the explorer (graded nDCG, trec_eval conventions).
    Judgments,
}

/// The sparse half of a playground computation.
#[derive(Debug, Clone, PartialEq)]
pub struct SparseOutcome {
    pub matrices: BTreeMap<Representation, Matrix>,
    /// Where the IDF comes from: passages and analyzer.
    pub idf: String,
    /// The terms each pair of sentences shares under the analyzer, keyed `(i, j)`, `i < j`.
    pub shared: BTreeMap<(usize, usize), Vec<String>>,
    /// How the analyzer sees each sentence (morphemes with POS, dropped ones, bigrams).
    pub seen: Vec<crate::teach::Seen>,
}

/// The dense half: the cosine matrix and the pooling that made the vectors.
#[derive(Debug, Clone, PartialEq)]
pub struct DenseOutcome {
    pub matrix: Matrix,
    pub pooling: String,
}

/// The bi-encoder's pooling: what runs now and what the model's own files ask for.
#[derive(Debug, Clone, PartialEq)]
pub struct PoolingState {
    pub current: Pooling,
    pub default: Pooling,
}

impl PoolingState {
    /// cls, mean and max, with the model's own setting first when it is none of these
    /// (mean_sqrt_len, or several modes concatenated).
    pub fn choices(&self) -> Vec<Pooling> {
        let mut out: Vec<Pooling> = [PoolMode::Cls, PoolMode::Mean, PoolMode::Max]
            .into_iter()
            .map(Pooling::single)
            .collect();
        if !out.contains(&self.default) {
            out.insert(0, self.default.clone());
        }
        out
    }

    /// `mean (default)`, or `cls (default mean)`: the model's own setting is always named.
    pub fn describe(p: &Pooling, default: &Pooling) -> String {
        if p == default {
            format!("{p} (default)")
        } else {
            format!("{p} (default {default})")
        }
    }
}

/// The evaluation overlay's table: per method report, and methods that could not run.
#[derive(Debug, Clone)]
pub struct EvalOutcome {
    pub questions: usize,
    /// The panes evaluated, by name, in screen order.
    pub panes: Vec<String>,
    pub reports: BTreeMap<String, MethodReport>,
    pub skipped: BTreeMap<String, String>,
    /// Every setting that shaped the numbers (RRF, weights, depth, analyzer, encoder, dtype).
    pub settings: String,
    /// Which labels the numbers were computed on.
    pub labels: String,
    /// On graded labels: the share of each method's top 10 that is judged.
    pub judged: BTreeMap<String, f64>,
    /// Each gold question's rank in every method's whole list (empty on graded labels).
    pub outcomes: Vec<QueryOutcome>,
}

impl EvalOutcome {
    /// recall@k for k = 1..=`max_k`: the share of questions whose gold passage is within the
    /// first k of `method`'s list.
    pub fn recall_curve(&self, method: &str, max_k: usize) -> Vec<f64> {
        let ranks: Vec<Option<usize>> = self
            .outcomes
            .iter()
            .filter_map(|o| o.ranks.get(method).copied())
            .collect();
        let n = ranks.len().max(1) as f64;
        (1..=max_k)
            .map(|k| ranks.iter().filter(|r| r.is_some_and(|r| r <= k)).count() as f64 / n)
            .collect()
    }
}

/// The fusion lab's answer: the grid on the tuning half, the chosen setting's held-out
/// metrics, and BM25 / dense alone on both halves.
#[derive(Debug, Clone)]
pub struct FusionLab {
    pub report: crate::tune::TuneReport,
    /// BM25 and dense alone on the tuning half: the chart's reference lines.
    pub tune_baselines: crate::tune::Baselines,
    /// bigyo's default hybrid (RRF k 60, equal weights) on the held-out half.
    pub default_test: crate::metrics::Metrics,
}
