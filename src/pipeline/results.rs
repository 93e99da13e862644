//! What a query produces: each pane's ranked hits with scores, where each hit came from, and
//! why a pane could not run.
use std::sync::Arc;
use std::time::Duration;

use crate::model::sigmoid;
use crate::panes::{Kind, PaneId, Panes};

/// Why a pane has no list (a part it needs is not there, or a step failed), shown in the
/// pane instead of results. Front ends read the kind, never the text: a pending part is
/// "loading", a failed one names its phase.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Missing {
    /// Not there yet (loading, embedding, rebuilding); the text says what it waits for.
    #[error("{0}")]
    Pending(String),
    /// Switched off by the user (a reranker of `none`); the text says how.
    #[error("{0}")]
    Off(String),
    /// No pane uses this part.
    #[error("no pane uses this part")]
    Unused,
    /// There is no corpus to build it on (the corpus itself failed, and says why).
    #[error("no corpus")]
    NoCorpus,
    /// A step failed: in which phase, and why.
    #[error("{1}")]
    Failed(Phase, String),
}

/// The phase a failure happened in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// Loading a model, an index or the corpus.
    Load,
    /// Embedding passages or a query.
    Embed,
    /// Searching an index, or fusing lists.
    Search,
    /// Scoring candidates with the cross-encoder.
    Rerank,
    /// Talking to the Milvus backend.
    Backend,
    /// Running an evaluation or the fusion lab over the questions.
    Evaluate,
    /// Reading or writing relevance judgments.
    Judgments,
    /// Training word vectors (the playground's word2vec section).
    Train,
}

impl Missing {
    pub fn pending(why: impl Into<String>) -> Self {
        Self::Pending(why.into())
    }

    pub fn failed(phase: Phase, why: impl std::fmt::Display) -> Self {
        Self::Failed(phase, why.to_string())
    }

    /// Whether the part is on its way (the pane will fill without the user doing anything).
    pub fn is_pending(&self) -> bool {
        matches!(self, Self::Pending(_))
    }
}

/// Where a hit stood in one list a fused or reranked list read (1-based rank).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Source {
    pub pane: PaneId,
    pub kind: Kind,
    pub rank: Option<usize>,
}

/// A hit's ranks in the lists its pane read: a fusion's inputs; for a rerank, the list it
/// reranked first, then that list's own sources.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Sources(pub Vec<Source>);

impl Sources {
    /// The rank in the first list of `kind` read (`None` when not read or not ranked there).
    pub fn rank(&self, kind: Kind) -> Option<usize> {
        self.0.iter().find(|s| s.kind == kind).and_then(|s| s.rank)
    }

    pub fn dense(&self) -> Option<usize> {
        self.rank(Kind::Dense)
    }

    pub fn bm25(&self) -> Option<usize> {
        self.rank(Kind::Bm25)
    }

    pub fn hybrid(&self) -> Option<usize> {
        self.rank(Kind::Hybrid)
    }
}

/// One ranked hit.
#[derive(Debug, Clone, PartialEq)]
pub struct Hit {
    pub passage: usize,
    /// Cosine (dense), BM25 score, fused score, or the cross-encoder's logit (rerank).
    pub score: f64,
    /// For rerank: sigmoid(logit), as sentence-transformers shows it.
    pub probability: Option<f64>,
    pub sources: Sources,
    /// The query's BM25 terms found in the passage.
    pub matched: Vec<String>,
    /// Byte ranges of the passage text those terms cover, sorted and merged: the view
    /// highlights by slicing, never tokenizing.
    pub spans: Vec<(usize, usize)>,
}

impl Hit {
    /// A hit as a list ranks it, before terms are matched.
    pub fn new(passage: usize, score: f64, sources: Sources) -> Self {
        Self {
            passage,
            score,
            probability: None,
            sources,
            matched: Vec::new(),
            spans: Vec::new(),
        }
    }
}

/// One pane's answer to one query.
#[derive(Debug, Clone, PartialEq)]
pub struct MethodResult {
    pub pane: PaneId,
    /// The pane's kind.
    pub method: Kind,
    pub hits: Vec<Hit>,
    /// This pane's own stage: dense = query encoding + search, hybrid = fusion only,
    /// rerank = cross-encoder only.
    pub elapsed: Duration,
    /// Why the pane could not run (then `hits` is empty).
    pub error: Option<Missing>,
    /// A remark that does not stop the pane (e.g. hybrid over BM25 alone).
    pub note: Option<String>,
    /// The whole ranked list behind `hits` (passage, score), as deep as the retriever went:
    /// dense and BM25 to the depth hybrid fuses, hybrid every fused passage, rerank the
    /// reranked candidates. The detail view reads a passage's rank here.
    pub ranking: Vec<(usize, f64)>,
}

impl MethodResult {
    pub fn failed(pane: PaneId, method: Kind, error: Missing) -> Self {
        Self {
            pane,
            method,
            hits: Vec::new(),
            elapsed: Duration::ZERO,
            error: Some(error),
            note: None,
            ranking: Vec::new(),
        }
    }

    /// A pane that ran on nothing (a blank query): no hits and no error.
    pub fn empty(pane: PaneId, method: Kind) -> Self {
        Self {
            error: None,
            ..Self::failed(pane, method, Missing::Unused)
        }
    }

    /// The 1-based rank of `passage` in this pane's whole list.
    pub fn rank_of(&self, passage: usize) -> Option<usize> {
        self.ranking
            .iter()
            .position(|&(p, _)| p == passage)
            .map(|i| i + 1)
    }
}

/// Builds a rerank pane's result from the candidates (in the order of the list reranked,
/// `of`) and their cross-encoder logits, in the same order: sorted by logit, ties kept in
/// candidate order, cut to `top_k`.
pub fn reranked(
    pane: PaneId,
    candidates: &[Hit],
    logits: &[f32],
    top_k: usize,
    elapsed: Duration,
) -> MethodResult {
    let mut hits: Vec<(usize, Hit)> = candidates
        .iter()
        .zip(logits)
        .enumerate()
        .map(|(i, (h, &logit))| {
            (
                i,
                Hit {
                    passage: h.passage,
                    score: logit as f64,
                    probability: Some(sigmoid(logit) as f64),
                    sources: h.sources.clone(),
                    matched: h.matched.clone(),
                    spans: h.spans.clone(),
                },
            )
        })
        .collect();
    hits.sort_by(|(ia, a), (ib, b)| b.score.total_cmp(&a.score).then(ia.cmp(ib)));
    let mut hits: Vec<Hit> = hits.into_iter().map(|(_, h)| h).collect();
    let ranking = hits.iter().map(|h| (h.passage, h.score)).collect();
    hits.truncate(top_k);
    MethodResult {
        pane,
        method: Kind::Rerank,
        hits,
        elapsed,
        error: None,
        note: None,
        ranking,
    }
}

/// Everything one query produced.
#[derive(Debug, Clone, PartialEq)]
pub struct SearchResults {
    pub query: String,
    /// The panes the results belong to.
    pub panes: Arc<Panes>,
    /// The query's terms under the first BM25 analyzer.
    pub terms: Vec<String>,
    /// Time spent encoding the query (part of the dense stage).
    pub encode: Duration,
    /// Model forward passes this query cost: one per bi-encoder, one per reranked pair.
    pub forward_passes: ForwardPasses,
    /// The shown panes asked for, in screen order.
    pub results: Vec<MethodResult>,
    /// Hidden retrievers the shown ones read (a rerank's hybrid that is not a pane).
    pub inputs: Vec<MethodResult>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ForwardPasses {
    pub bi_encoder: usize,
    /// One per reranked pair, the design's cost (`cross_cached` of them included).
    pub cross_encoder: usize,
    /// Pairs the explorer's session cache answered: no pass ran for them this time.
    pub cross_cached: usize,
}

impl SearchResults {
    /// The first shown pane of a kind.
    pub fn get(&self, kind: Kind) -> Option<&MethodResult> {
        self.results.iter().find(|r| r.method == kind)
    }

    /// A pane's result, shown or hidden.
    pub fn pane(&self, pane: PaneId) -> Option<&MethodResult> {
        self.results
            .iter()
            .chain(&self.inputs)
            .find(|r| r.pane == pane)
    }

    /// A pane's name (the JSON key).
    pub fn name(&self, pane: PaneId) -> &str {
        &self.panes.get(pane).name
    }

    pub fn title(&self, pane: PaneId) -> &str {
        &self.panes.get(pane).title
    }
}
