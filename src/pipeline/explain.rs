//! Where a passage stands in every pane and why a hit has its score: the whole-corpus ranks
//! behind the explorer's gold line (a dense pane's over every passage, a BM25 pane's over
//! every passage holding a query term), BM25 scores taken apart by tantivy's explain, and
//! a fused score's arithmetic. The explorer's worker calls [`Pipeline::explain`] after a
//! search; [`explain_fusion`] is pure and reads the lists a search returned.
use std::collections::BTreeSet;

use super::{fusion_weights, Missing, Phase, Pipeline, SearchParams, SearchResults};
use crate::bm25::Bm25Explain;
use crate::fusion::{FusionMethod, Norm};
use crate::panes::{Kind, PaneId, Retriever};

/// Where a passage stands in one pane's ordering.
#[derive(Debug, Clone, PartialEq)]
pub enum Place {
    /// Its 1-based rank, and the pane's score for it.
    Ranked(usize, f64),
    /// BM25: the passage holds none of the query's terms under the pane's analyzer.
    NoTerm,
    /// A fusion: in none of its inputs' top `depth`, so it has no fused score.
    BeyondFusion(usize),
    /// A rerank: not among the `depth` candidates the cross-encoder scored.
    NotReranked(usize),
    /// Not known yet (the rerank or the whole-corpus rank is on its way).
    Waiting,
    /// The pane has no list, or this rank cannot be had (why).
    Unavailable(Missing),
}

/// A dense or BM25 pane's place for a passage over the whole corpus.
#[derive(Debug, Clone, PartialEq)]
pub struct Deep {
    pub pane: PaneId,
    pub passage: usize,
    pub place: Place,
}

/// What the explorer's worker works out after a search, for the gold line and the detail
/// view: the whole-corpus places of the target passages (gold, judged relevant) in every
/// shown dense and BM25 pane, and the BM25 breakdown of the passages on screen under every
/// BM25 retriever the panes read.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Explained {
    pub query: String,
    pub deep: Vec<Deep>,
    /// (BM25 pane, passage, its breakdown or why there is none).
    pub bm25: Vec<(PaneId, usize, Result<Bm25Explain, String>)>,
}

impl Explained {
    pub fn deep(&self, pane: PaneId, passage: usize) -> Option<&Place> {
        self.deep
            .iter()
            .find(|d| d.pane == pane && d.passage == passage)
            .map(|d| &d.place)
    }

    pub fn bm25(&self, pane: PaneId, passage: usize) -> Option<&Result<Bm25Explain, String>> {
        self.bm25
            .iter()
            .find(|(p, x, _)| *p == pane && *x == passage)
            .map(|(_, _, e)| e)
    }
}

impl Pipeline {
    /// Whole-corpus places of `targets` in `results`' shown dense and BM25 panes, and BM25
    /// breakdowns of `targets` and every shown hit.
    pub fn explain(&mut self, results: &SearchResults, targets: &[usize]) -> Explained {
        let mut deep = Vec::new();
        for r in &results.results {
            if !matches!(r.method, Kind::Dense | Kind::Bm25) {
                continue;
            }
            for &passage in targets {
                let place = match &r.error {
                    Some(e) => Place::Unavailable(e.clone()),
                    None => self.deep_place(&results.query, r.pane, passage),
                };
                deep.push(Deep {
                    pane: r.pane,
                    passage,
                    place,
                });
            }
        }
        let passages: BTreeSet<usize> = results
            .results
            .iter()
            .flat_map(|r| r.hits.iter().map(|h| h.passage))
            .chain(targets.iter().copied())
            .collect();
        let mut bm25 = Vec::new();
        for pane in bm25_panes(results) {
            let Retriever::Bm25(key) = self.panes.get(pane).retriever else {
                continue;
            };
            let Ok(index) = self.bm25(key) else {
                continue;
            };
            let terms = index.analyzer().query_terms(&results.query);
            for &p in &passages {
                let e = index.explain(&terms, p).map_err(|e| e.to_string());
                bm25.push((pane, p, e));
            }
        }
        Explained {
            query: results.query.clone(),
            deep,
            bm25,
        }
    }

    /// A dense or BM25 pane's whole-corpus place for `passage`.
    fn deep_place(&mut self, query: &str, pane: PaneId, passage: usize) -> Place {
        let retriever = self.panes.get(pane).retriever.clone();
        if self.on_backend(&retriever) {
            return Place::Unavailable(Missing::Off(
                "ranks past the list need the in-process index, not Milvus".into(),
            ));
        }
        let failed = |e: &dyn std::fmt::Display| {
            Place::Unavailable(Missing::failed(Phase::Search, e.to_string()))
        };
        match retriever {
            Retriever::Dense(key) => {
                let Some(vector) = self
                    .query_vectors
                    .iter()
                    .find(|(k, q, _)| *k == key && q == query)
                    .map(|(_, _, v)| v.clone())
                else {
                    return Place::Unavailable(Missing::pending("the query is not encoded"));
                };
                match self.dense(&key) {
                    Err(m) => Place::Unavailable(m),
                    Ok(part) => match part.index.rank_of(&vector, passage) {
                        Ok((rank, score)) => Place::Ranked(rank, score as f64),
                        Err(e) => failed(&e),
                    },
                }
            }
            Retriever::Bm25(key) => match self.bm25(key) {
                Err(m) => Place::Unavailable(m),
                Ok(index) => {
                    let terms = index.analyzer().query_terms(query);
                    match index.rank_of(&terms, passage) {
                        Ok(Some((rank, score))) => Place::Ranked(rank, score as f64),
                        Ok(None) => Place::NoTerm,
                        Err(e) => failed(&e),
                    }
                }
            },
            _ => Place::Unavailable(Missing::Unused),
        }
    }
}

/// Every BM25 retriever the results' panes are or read, shown or hidden.
fn bm25_panes(results: &SearchResults) -> Vec<PaneId> {
    let mut out: Vec<PaneId> = results
        .results
        .iter()
        .flat_map(|r| results.panes.closure(r.pane))
        .filter(|&p| results.panes.get(p).kind() == Kind::Bm25)
        .collect();
    out.sort();
    out.dedup();
    out
}

/// One input list's part of a fused score.
#[derive(Debug, Clone, PartialEq)]
pub struct FusionPart {
    pub input: PaneId,
    /// The passage's rank in the input's top `depth` (`None`: not there).
    pub rank: Option<usize>,
    /// The input's own score for it (convex).
    pub raw: Option<f64>,
    /// Convex: the normalised score used (the list's minimum when the passage is not in
    /// it). RRF: none.
    pub normalised: Option<f64>,
    pub weight: f64,
    /// What this list adds: `weight / (k + rank)` (RRF) or `weight · normalised` (convex).
    pub adds: f64,
}

/// A fused score's arithmetic.
#[derive(Debug, Clone, PartialEq)]
pub struct FusionWhy {
    pub method: FusionMethod,
    /// RRF's k.
    pub k: f64,
    pub norm: Norm,
    /// How deep each list was read.
    pub depth: usize,
    /// One per input that had a list, in the fusion's order.
    pub parts: Vec<FusionPart>,
    /// The sum of the parts: the pane's score.
    pub score: f64,
}

/// The arithmetic of `passage`'s score in fusion pane `pane`, from the input lists in
/// `results` as the pipeline fused them (the same depth, weights, k and normalisation);
/// `None` for a pane that is no local fusion.
pub fn explain_fusion(
    results: &SearchResults,
    params: &SearchParams,
    pane: PaneId,
    passage: usize,
) -> Option<FusionWhy> {
    let Retriever::Fusion { of, opts } = &results.panes.get(pane).retriever else {
        return None;
    };
    if opts.server {
        return None;
    }
    let weights = fusion_weights(&results.panes, params, of, opts);
    let method = opts.method.unwrap_or(params.fusion);
    let (k, norm) = (
        opts.k.unwrap_or(params.rrf.k),
        opts.norm.unwrap_or(params.norm),
    );
    let depth = opts.depth.unwrap_or(params.rrf.depth);
    let mut parts = Vec::new();
    for (i, &input) in of.iter().enumerate() {
        let Some(list) = results.pane(input).filter(|r| r.error.is_none()) else {
            continue;
        };
        // The top `depth`, each passage at its first (best) place, as the fusion reads it.
        let mut top: Vec<(usize, f64, usize)> = Vec::new();
        for (r, &(p, s)) in list.ranking.iter().take(depth).enumerate() {
            if !top.iter().any(|&(seen, _, _)| seen == p) {
                top.push((p, s, r + 1));
            }
        }
        let here = top.iter().position(|&(p, _, _)| p == passage);
        let weight = weights.get(i).copied().unwrap_or(1.0);
        let part = match method {
            FusionMethod::Rrf => FusionPart {
                input,
                rank: here.map(|j| top[j].2),
                raw: here.map(|j| top[j].1),
                normalised: None,
                weight,
                adds: here.map_or(0.0, |j| weight / (k + top[j].2 as f64)),
            },
            FusionMethod::Convex => {
                let mut scores: Vec<f64> = top.iter().map(|&(_, s, _)| s).collect();
                norm.apply(&mut scores);
                let min = scores.iter().copied().reduce(f64::min).unwrap_or(0.0);
                let normalised = here.map_or(min, |j| scores[j]);
                FusionPart {
                    input,
                    rank: here.map(|j| top[j].2),
                    raw: here.map(|j| top[j].1),
                    normalised: Some(normalised),
                    weight,
                    adds: weight * normalised,
                }
            }
        };
        parts.push(part);
    }
    let score = parts.iter().map(|p| p.adds).sum::<f64>() + 0.0;
    Some(FusionWhy {
        method,
        k,
        norm,
        depth,
        parts,
        score,
    })
}
