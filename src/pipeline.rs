//! One query through all four methods: dense, BM25, hybrid RRF over both, and cross-encoder
//! reranking of the hybrid top M. Each part is optional (a missing model, an index still
//! being built); a method that cannot run says why in its own result.
use std::fmt;
use std::str::FromStr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::bm25::{Bm25Index, TermMatches};
use crate::data::Corpus;
use crate::dense::DenseIndex;
use crate::fusion::{Fusion, FusionMethod, Norm, RrfParams};
use crate::model::{sigmoid, Embedder, Reranker, Side};

/// The four panes, in screen order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Method {
    Dense,
    Bm25,
    Hybrid,
    Rerank,
}

impl Method {
    pub const ALL: [Method; 4] = [Self::Dense, Self::Bm25, Self::Hybrid, Self::Rerank];

    /// The name used on the command line and in JSON.
    pub fn name(self) -> &'static str {
        match self {
            Self::Dense => "dense",
            Self::Bm25 => "bm25",
            Self::Hybrid => "hybrid",
            Self::Rerank => "rerank",
        }
    }

    /// The pane title.
    pub fn title(self) -> &'static str {
        match self {
            Self::Dense => "Semantic",
            Self::Bm25 => "BM25",
            Self::Hybrid => "Hybrid (RRF)",
            Self::Rerank => "Rerank",
        }
    }

    /// Whether the method needs the bi-encoder or the cross-encoder.
    pub fn needs_model(self) -> bool {
        self != Self::Bm25
    }
}

impl fmt::Display for Method {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Method {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|m| m.name() == s.trim())
            .ok_or_else(|| {
                format!("unknown method `{s}` (choose from dense, bm25, hybrid, rerank)")
            })
    }
}

/// Parses `dense,bm25,...` into distinct methods in screen order.
pub fn parse_methods(list: &str) -> Result<Vec<Method>, String> {
    let mut out = Vec::new();
    for name in list.split(',').filter(|s| !s.trim().is_empty()) {
        let m: Method = name.parse()?;
        if !out.contains(&m) {
            out.push(m);
        }
    }
    if out.is_empty() {
        return Err("no methods given (choose from dense, bm25, hybrid, rerank)".into());
    }
    out.sort();
    Ok(out)
}

/// Knobs the user can turn (CLI flags, TUI settings overlay).
#[derive(Debug, Clone, PartialEq)]
pub struct SearchParams {
    /// Hits shown per method.
    pub top_k: usize,
    /// RRF's k, and how deep both fusions read each list.
    pub rrf: RrfParams,
    /// RRF weights of the dense and BM25 lists.
    pub dense_weight: f64,
    pub bm25_weight: f64,
    /// The cross-encoder rescored this many hybrid hits.
    pub rerank_depth: usize,
    /// Which fusion the hybrid stage runs.
    pub fusion: FusionMethod,
    /// Convex combination: the dense weight, and the per-list normalisation.
    pub alpha: f64,
    pub norm: Norm,
}

impl Default for SearchParams {
    fn default() -> Self {
        Self {
            top_k: 10,
            rrf: RrfParams::default(),
            dense_weight: 1.0,
            bm25_weight: 1.0,
            rerank_depth: 30,
            fusion: FusionMethod::Rrf,
            alpha: 0.5,
            norm: Norm::MinMax,
        }
    }
}

impl SearchParams {
    /// Checks ranges; the message names the option.
    pub fn validate(&self) -> Result<(), String> {
        if self.top_k == 0 {
            return Err("--top-k must be at least 1".into());
        }
        if self.top_k > 10_000 {
            return Err(format!("--top-k {} is more than 10000", self.top_k));
        }
        if !(self.rrf.k.is_finite() && self.rrf.k >= 0.0) {
            return Err(format!("--rrf-k must be a number >= 0, not {}", self.rrf.k));
        }
        if self.rrf.depth == 0 {
            return Err("--rrf-depth must be at least 1".into());
        }
        for (name, w) in [
            ("--dense-weight", self.dense_weight),
            ("--bm25-weight", self.bm25_weight),
        ] {
            if !(w.is_finite() && w >= 0.0) {
                return Err(format!("{name} must be a number >= 0, not {w}"));
            }
        }
        if self.dense_weight == 0.0 && self.bm25_weight == 0.0 {
            return Err("--dense-weight and --bm25-weight are both 0: every hybrid score would be 0 and its order arbitrary; keep one above 0".into());
        }
        if self.rerank_depth == 0 {
            return Err("--rerank-depth must be at least 1".into());
        }
        if !(self.alpha.is_finite() && (0.0..=1.0).contains(&self.alpha)) {
            return Err(format!(
                "--alpha must be a number from 0 to 1 (the dense weight), not {}",
                self.alpha
            ));
        }
        Ok(())
    }

    /// The fusion the hybrid stage runs, from the flat settings.
    pub fn fusion(&self) -> Fusion {
        match self.fusion {
            FusionMethod::Rrf => Fusion::Rrf {
                k: self.rrf.k,
                depth: self.rrf.depth,
                dense_weight: self.dense_weight,
                bm25_weight: self.bm25_weight,
            },
            FusionMethod::Convex => Fusion::Convex {
                alpha: self.alpha,
                norm: self.norm,
                depth: self.rrf.depth,
            },
        }
    }

    /// Sets the flat settings from one fusion setting (what `bigyo tune --apply` wrote).
    pub fn set_fusion(&mut self, fusion: &Fusion) {
        self.fusion = fusion.method();
        match *fusion {
            Fusion::Rrf {
                k,
                depth,
                dense_weight,
                bm25_weight,
            } => {
                self.rrf = RrfParams { k, depth };
                self.dense_weight = dense_weight;
                self.bm25_weight = bm25_weight;
            }
            Fusion::Convex { alpha, norm, depth } => {
                self.alpha = alpha;
                self.norm = norm;
                self.rrf.depth = depth;
            }
        }
    }

    /// How deep the dense and BM25 lists must go to serve every method.
    fn list_depth(&self) -> usize {
        self.top_k.max(self.rrf.depth)
    }
}

/// Where a hit stood in the lists a fused or reranked list came from (1-based ranks).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Sources {
    pub dense: Option<usize>,
    pub bm25: Option<usize>,
    pub hybrid: Option<usize>,
}

/// One ranked hit.
#[derive(Debug, Clone, PartialEq)]
pub struct Hit {
    pub passage: usize,
    /// Cosine (dense), BM25 score, RRF score, or the cross-encoder's logit (rerank).
    pub score: f64,
    /// For rerank: sigmoid(logit), as sentence-transformers shows it.
    pub probability: Option<f64>,
    pub sources: Sources,
    /// The query's BM25 terms found in the passage (for highlighting).
    pub matched: Vec<String>,
    /// Byte ranges of the passage's text where `matched` occur, sorted and merged: the
    /// explorer highlights them without analysing the text again.
    pub spans: Vec<(usize, usize)>,
}

/// One method's answer to one query.
#[derive(Debug, Clone, PartialEq)]
pub struct MethodResult {
    pub method: Method,
    pub hits: Vec<Hit>,
    /// This method's own stage: dense = query encoding + search, hybrid = fusion only,
    /// rerank = cross-encoder only.
    pub elapsed: Duration,
    /// Why the method could not run (then `hits` is empty).
    pub error: Option<String>,
    /// A remark that does not stop the method (e.g. hybrid over BM25 alone).
    pub note: Option<String>,
    /// The whole ranked list behind `hits` (passage, score), as deep as the method went:
    /// dense and BM25 to the depth hybrid fuses, hybrid every fused passage, rerank the
    /// reranked candidates. The detail view reads a passage's rank here.
    pub ranking: Vec<(usize, f64)>,
}

impl MethodResult {
    pub fn failed(method: Method, error: String) -> Self {
        Self {
            method,
            hits: Vec::new(),
            elapsed: Duration::ZERO,
            error: Some(error),
            note: None,
            ranking: Vec::new(),
        }
    }

    /// A method that ran on nothing (a blank query): no hits and no error.
    pub fn empty(method: Method) -> Self {
        Self {
            error: None,
            ..Self::failed(method, String::new())
        }
    }

    /// The 1-based rank of `passage` in this method's whole list.
    pub fn rank_of(&self, passage: usize) -> Option<usize> {
        self.ranking
            .iter()
            .position(|&(p, _)| p == passage)
            .map(|i| i + 1)
    }
}

/// Builds the rerank result from the candidates (hybrid order) and their cross-encoder
/// logits, in the same order: sorted by logit, ties kept in hybrid order, cut to `top_k`.
pub fn reranked(
    candidates: &[Hit],
    logits: &[f32],
    top_k: usize,
    elapsed: Duration,
) -> MethodResult {
    let mut hits: Vec<Hit> = candidates
        .iter()
        .zip(logits)
        .map(|(h, &logit)| Hit {
            passage: h.passage,
            score: logit as f64,
            probability: Some(sigmoid(logit) as f64),
            sources: h.sources,
            matched: h.matched.clone(),
            spans: h.spans.clone(),
        })
        .collect();
    hits.sort_by(|a, b| {
        b.score
            .total_cmp(&a.score)
            .then(a.sources.hybrid.cmp(&b.sources.hybrid))
    });
    let ranking = hits.iter().map(|h| (h.passage, h.score)).collect();
    hits.truncate(top_k);
    MethodResult {
        method: Method::Rerank,
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
    /// The query's terms under the BM25 analyzer.
    pub terms: Vec<String>,
    /// Time spent encoding the query (part of the dense stage).
    pub encode: Duration,
    /// Model forward passes this query cost: 1 for the bi-encoder, one per reranked pair.
    pub forward_passes: ForwardPasses,
    pub results: Vec<MethodResult>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ForwardPasses {
    pub bi_encoder: usize,
    pub cross_encoder: usize,
}

impl SearchResults {
    pub fn get(&self, method: Method) -> Option<&MethodResult> {
        self.results.iter().find(|r| r.method == method)
    }
}

/// One stage's ranked (passage, score) list and its time, or why it could not run.
type StageList = Result<(Vec<(usize, f64)>, Duration), String>;

/// The indexes and models, each optional, and the search parameters.
pub struct Pipeline {
    pub corpus: Arc<Corpus>,
    pub params: SearchParams,
    bm25: Option<Arc<Bm25Index>>,
    dense: Option<(Box<dyn Embedder>, DenseIndex)>,
    reranker: Option<Box<dyn Reranker>>,
    /// Why a part is missing: shown in the pane instead of results.
    pub dense_missing: String,
    pub bm25_missing: String,
    pub reranker_missing: String,
}

impl Pipeline {
    pub fn new(corpus: Arc<Corpus>, params: SearchParams) -> Self {
        Self {
            corpus,
            params,
            bm25: None,
            dense: None,
            reranker: None,
            dense_missing: "the passage embeddings are not ready".into(),
            bm25_missing: "the BM25 index is not ready".into(),
            reranker_missing: "the reranker is not loaded".into(),
        }
    }

    pub fn set_bm25(&mut self, index: Arc<Bm25Index>) {
        self.bm25 = Some(index);
    }

    pub fn bm25(&self) -> Option<&Arc<Bm25Index>> {
        self.bm25.as_ref()
    }

    pub fn set_dense(&mut self, encoder: Box<dyn Embedder>, index: DenseIndex) {
        self.dense = Some((encoder, index));
    }

    /// Takes the BM25 index out (a rebuild with another analyzer is on its way); BM25 and
    /// the BM25 half of hybrid say `bm25_missing` meanwhile.
    pub fn take_bm25(&mut self) -> Option<Arc<Bm25Index>> {
        self.bm25.take()
    }

    pub fn dense_index(&self) -> Option<&DenseIndex> {
        self.dense.as_ref().map(|(_, index)| index)
    }

    pub fn take_dense(&mut self) -> Option<(Box<dyn Embedder>, DenseIndex)> {
        self.dense.take()
    }

    /// The bi-encoder, when the dense index is ready.
    pub fn encoder_mut(&mut self) -> Option<&mut (dyn Embedder + 'static)> {
        self.dense.as_mut().map(|(e, _)| e.as_mut())
    }

    pub fn has_dense(&self) -> bool {
        self.dense.is_some()
    }

    pub fn set_reranker(&mut self, reranker: Box<dyn Reranker>) {
        self.reranker = Some(reranker);
    }

    pub fn has_reranker(&self) -> bool {
        self.reranker.is_some()
    }

    /// Runs `query` through `methods`, encoding the query with the bi-encoder.
    pub fn search(&mut self, query: &str, methods: &[Method]) -> SearchResults {
        self.search_with(query, None, methods)
    }

    /// As [`search`](Self::search); `query_vector`, when given, is used instead of encoding
    /// the query (batched evaluation encodes all questions at once).
    pub fn search_with(
        &mut self,
        query: &str,
        query_vector: Option<&[f32]>,
        methods: &[Method],
    ) -> SearchResults {
        let wants = |m: Method| methods.contains(&m);
        let need_dense = wants(Method::Dense) || wants(Method::Hybrid) || wants(Method::Rerank);
        let need_bm25 = wants(Method::Bm25) || wants(Method::Hybrid) || wants(Method::Rerank);
        let need_hybrid = wants(Method::Hybrid) || wants(Method::Rerank);
        let params = self.params.clone();
        let depth = params.list_depth();
        let terms = self
            .bm25
            .as_ref()
            .map(|b| b.analyzer().query_terms(query))
            .unwrap_or_default();
        let mut out = SearchResults {
            query: query.to_owned(),
            terms: terms.clone(),
            encode: Duration::ZERO,
            forward_passes: ForwardPasses::default(),
            results: Vec::new(),
        };
        let blank = query.trim().is_empty();

        // Dense.
        let dense: StageList = if !need_dense || blank {
            Ok((Vec::new(), Duration::ZERO))
        } else if let Some((encoder, index)) = self.dense.as_mut() {
            let started = Instant::now();
            let vector = match query_vector {
                Some(v) => Ok(v.to_vec()),
                None => {
                    out.forward_passes.bi_encoder = 1;
                    encoder
                        .embed(Side::Query, &[query], &mut |_| {})
                        .map(|e| e.data)
                        .map_err(|e| format!("encoding the query: {e}"))
                }
            };
            out.encode = started.elapsed();
            vector.and_then(|v| {
                index
                    .search(&v, depth)
                    .map(|hits| {
                        (
                            hits.into_iter()
                                .map(|h| (h.passage, h.score as f64))
                                .collect(),
                            started.elapsed(),
                        )
                    })
                    .map_err(|e| e.to_string())
            })
        } else {
            Err(self.dense_missing.clone())
        };

        // BM25.
        let bm25: StageList = if !need_bm25 || blank {
            Ok((Vec::new(), Duration::ZERO))
        } else if let Some(index) = &self.bm25 {
            let started = Instant::now();
            index
                .search_terms(&terms, depth)
                .map(|hits| {
                    (
                        hits.into_iter()
                            .map(|h| (h.passage, h.score as f64))
                            .collect(),
                        started.elapsed(),
                    )
                })
                .map_err(|e| e.to_string())
        } else {
            Err(self.bm25_missing.clone())
        };

        let dense_ids: Vec<usize> = dense
            .as_ref()
            .map(|(l, _)| l.iter().map(|&(p, _)| p).collect())
            .unwrap_or_default();
        let bm25_ids: Vec<usize> = bm25
            .as_ref()
            .map(|(l, _)| l.iter().map(|&(p, _)| p).collect())
            .unwrap_or_default();
        let rank_in = |ids: &[usize], p: usize| ids.iter().position(|&x| x == p).map(|i| i + 1);

        let top_k = params.top_k;
        let list_result = |method: Method, list: &StageList| match list {
            Ok((hits, elapsed)) => MethodResult {
                method,
                hits: hits
                    .iter()
                    .take(top_k)
                    .map(|&(passage, score)| Hit {
                        passage,
                        score,
                        probability: None,
                        sources: Sources::default(),
                        matched: Vec::new(),
                        spans: Vec::new(),
                    })
                    .collect(),
                elapsed: *elapsed,
                error: None,
                note: None,
                ranking: hits.clone(),
            },
            Err(e) => MethodResult::failed(method, e.clone()),
        };
        if wants(Method::Dense) {
            out.results.push(list_result(Method::Dense, &dense));
        }
        if wants(Method::Bm25) {
            out.results.push(list_result(Method::Bm25, &bm25));
        }

        // Hybrid.
        let mut fused_hits: Vec<Hit> = Vec::new();
        if need_hybrid {
            let started = Instant::now();
            let mut missing = Vec::new();
            if let Err(e) = &dense {
                missing.push(format!("dense: {e}"));
            }
            if let Err(e) = &bm25 {
                missing.push(format!("BM25: {e}"));
            }
            fn scored(l: &StageList) -> Option<&[(usize, f64)]> {
                l.as_ref().ok().map(|(hits, _)| hits.as_slice())
            }
            let result = if dense.is_err() && bm25.is_err() {
                MethodResult::failed(Method::Hybrid, missing.join("; "))
            } else {
                fused_hits = params
                    .fusion()
                    .fuse(scored(&dense), scored(&bm25))
                    .into_iter()
                    .map(|f| Hit {
                        passage: f.item,
                        score: f.score,
                        probability: None,
                        sources: Sources {
                            dense: rank_in(&dense_ids, f.item),
                            bm25: rank_in(&bm25_ids, f.item),
                            hybrid: None,
                        },
                        matched: Vec::new(),
                        spans: Vec::new(),
                    })
                    .collect();
                for (i, h) in fused_hits.iter_mut().enumerate() {
                    h.sources.hybrid = Some(i + 1);
                }
                MethodResult {
                    method: Method::Hybrid,
                    hits: fused_hits.iter().take(top_k).cloned().collect(),
                    elapsed: started.elapsed(),
                    error: None,
                    note: (!missing.is_empty())
                        .then(|| format!("fused without {}", missing.join("; "))),
                    ranking: fused_hits.iter().map(|h| (h.passage, h.score)).collect(),
                }
            };
            if wants(Method::Hybrid) {
                out.results.push(result.clone());
            }
            if wants(Method::Rerank) {
                let rerank = if let Some(e) = &result.error {
                    MethodResult::failed(Method::Rerank, format!("no hybrid list to rerank ({e})"))
                } else if blank {
                    list_result(Method::Rerank, &Ok((Vec::new(), Duration::ZERO)))
                } else {
                    self.rerank(query, &fused_hits, &mut out.forward_passes)
                };
                out.results.push(rerank);
            }
        }

        // Matched terms for every shown hit; a passage in several lists is analysed once.
        if let Some(index) = &self.bm25 {
            let mut seen: std::collections::HashMap<usize, TermMatches> =
                std::collections::HashMap::new();
            for r in &mut out.results {
                for h in &mut r.hits {
                    if let Some(p) = self.corpus.passages.get(h.passage) {
                        let m = seen
                            .entry(h.passage)
                            .or_insert_with(|| index.term_matches(&terms, &p.text));
                        h.matched = m.terms.clone();
                        h.spans = m.spans.clone();
                    }
                }
            }
        }
        out
    }

    /// The hybrid list's first `rerank_depth` passages as rerank candidates, in hybrid order,
    /// with their sources and matched terms; or why there is nothing to rerank. For callers
    /// that rerank elsewhere (the explorer's rerank thread).
    pub fn rerank_candidates(&self, results: &SearchResults) -> Result<Vec<Hit>, String> {
        let hybrid = results
            .get(Method::Hybrid)
            .ok_or_else(|| "hybrid did not run".to_owned())?;
        if let Some(e) = &hybrid.error {
            return Err(format!("no hybrid list to rerank ({e})"));
        }
        let rank = |m: Method, p: usize| results.get(m).and_then(|r| r.rank_of(p));
        Ok(hybrid
            .ranking
            .iter()
            .take(self.params.rerank_depth)
            .enumerate()
            .map(|(i, &(passage, score))| {
                let m = match (&self.bm25, self.corpus.passages.get(passage)) {
                    (Some(index), Some(p)) => index.term_matches(&results.terms, &p.text),
                    _ => TermMatches::default(),
                };
                Hit {
                    passage,
                    score,
                    probability: None,
                    sources: Sources {
                        dense: rank(Method::Dense, passage),
                        bm25: rank(Method::Bm25, passage),
                        hybrid: Some(i + 1),
                    },
                    matched: m.terms,
                    spans: m.spans,
                }
            })
            .collect())
    }

    fn rerank(&mut self, query: &str, fused: &[Hit], passes: &mut ForwardPasses) -> MethodResult {
        let Some(reranker) = self.reranker.as_mut() else {
            return MethodResult::failed(Method::Rerank, self.reranker_missing.clone());
        };
        let started = Instant::now();
        let candidates: Vec<&Hit> = fused.iter().take(self.params.rerank_depth).collect();
        let texts: Vec<&str> = candidates
            .iter()
            .filter_map(|h| self.corpus.passages.get(h.passage).map(|p| p.text.as_str()))
            .collect();
        passes.cross_encoder = texts.len();
        match reranker.score(query, &texts, &mut |_| {}) {
            Ok(logits) => {
                let candidates: Vec<Hit> = candidates.into_iter().cloned().collect();
                reranked(&candidates, &logits, self.params.top_k, started.elapsed())
            }
            Err(e) => MethodResult::failed(Method::Rerank, format!("cross-encoder failed: {e}")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bm25::Analyzer;
    use crate::data::{Passage, Question};
    use crate::model::{Embeddings, Progress};

    /// A bag-of-letters embedder: no libtorch model, deterministic.
    struct Letters;

    impl Embedder for Letters {
        fn identity(&self) -> String {
            "letters".into()
        }
        fn dim(&self) -> usize {
            3
        }
        fn embed(
            &mut self,
            _: Side,
            texts: &[&str],
            _: &mut dyn FnMut(Progress),
        ) -> crate::model::Result<Embeddings> {
            let mut data = Vec::new();
            for t in texts {
                data.push(t.matches('비').count() as f32 + 0.01);
                data.push(t.matches('눈').count() as f32 + 0.01);
                data.push(t.matches('해').count() as f32 + 0.01);
            }
            Ok(Embeddings { dim: 3, data })
        }
    }

    /// Prefers shorter passages.
    struct Shortest;

    impl Reranker for Shortest {
        fn identity(&self) -> String {
            "shortest".into()
        }
        fn score(
            &mut self,
            _: &str,
            passages: &[&str],
            _: &mut dyn FnMut(Progress),
        ) -> crate::model::Result<Vec<f32>> {
            Ok(passages
                .iter()
                .map(|p| -(p.chars().count() as f32))
                .collect())
        }
    }

    fn corpus() -> Arc<Corpus> {
        let texts = [
            "비가 온다 비 비",
            "눈이 온다",
            "해가 뜬다 장마 끝",
            "장마철 비 소식입니다",
        ];
        Arc::new(Corpus {
            source: "test".into(),
            rows: 4,
            skipped: 0,
            passages: texts
                .iter()
                .map(|t| Passage {
                    title: String::new(),
                    text: (*t).into(),
                    questions: vec![],
                })
                .collect(),
            questions: vec![Question {
                id: "q".into(),
                text: "장마 비".into(),
                passage: 3,
                answers: vec![],
            }],
        })
    }

    fn pipeline() -> Pipeline {
        let corpus = corpus();
        let texts: Vec<&str> = corpus.texts();
        let mut p = Pipeline::new(corpus.clone(), SearchParams::default());
        p.set_bm25(Arc::new(
            Bm25Index::build(&texts, Analyzer::Bigram, &mut |_| {}).unwrap(),
        ));
        let mut enc = Letters;
        let emb = enc.embed(Side::Passage, &texts, &mut |_| {}).unwrap();
        let index = DenseIndex::new(&emb, tch::Device::Cpu).unwrap();
        p.set_dense(Box::new(enc), index);
        p.set_reranker(Box::new(Shortest));
        p
    }

    #[test]
    fn four_methods_with_sources_and_matched_terms() {
        let mut p = pipeline();
        let r = p.search("장마 비", &Method::ALL);
        assert_eq!(r.results.len(), 4);
        let dense = r.get(Method::Dense).unwrap();
        assert_eq!(dense.hits[0].passage, 3);
        assert_eq!(dense.hits.len(), 4);
        let bm25 = r.get(Method::Bm25).unwrap();
        assert_eq!(bm25.hits[0].passage, 3, "{bm25:?}");
        assert_eq!(bm25.hits[0].matched, ["장마", "비"]);
        let hybrid = r.get(Method::Hybrid).unwrap();
        for h in &hybrid.hits {
            assert!(h.sources.dense.is_some() || h.sources.bm25.is_some());
        }
        let rerank = r.get(Method::Rerank).unwrap();
        assert_eq!(rerank.hits[0].passage, 1, "shortest passage first");
        assert!(rerank.hits[0].probability.is_some());
        assert!(rerank.hits[0].sources.hybrid.is_some());
        assert_eq!(r.forward_passes.bi_encoder, 1);
        assert_eq!(r.forward_passes.cross_encoder, 4);
    }

    #[test]
    fn missing_parts_explain_themselves() {
        let corpus = corpus();
        let texts: Vec<&str> = corpus.texts();
        let mut p = Pipeline::new(corpus.clone(), SearchParams::default());
        p.set_bm25(Arc::new(
            Bm25Index::build(&texts, Analyzer::Bigram, &mut |_| {}).unwrap(),
        ));
        p.dense_missing = "offline: model not cached".into();
        let r = p.search("장마", &Method::ALL);
        assert_eq!(
            r.get(Method::Dense).unwrap().error.as_deref(),
            Some("offline: model not cached")
        );
        assert!(!r.get(Method::Bm25).unwrap().hits.is_empty());
        let hybrid = r.get(Method::Hybrid).unwrap();
        assert!(!hybrid.hits.is_empty());
        assert!(hybrid.note.as_deref().unwrap().contains("offline"));
        assert!(r.get(Method::Rerank).unwrap().error.is_some());
    }

    #[test]
    fn blank_queries_give_empty_lists() {
        let mut p = pipeline();
        let r = p.search("   ", &Method::ALL);
        assert!(r
            .results
            .iter()
            .all(|m| m.hits.is_empty() && m.error.is_none()));
        assert_eq!(r.forward_passes, ForwardPasses::default());
    }

    #[test]
    fn methods_parse_and_params_validate() {
        assert_eq!(
            parse_methods("rerank,bm25,bm25").unwrap(),
            [Method::Bm25, Method::Rerank]
        );
        assert!(parse_methods("bm25,splade").unwrap_err().contains("splade"));
        let bad = SearchParams {
            top_k: 0,
            ..Default::default()
        };
        assert!(bad.validate().unwrap_err().contains("--top-k"));
        let bad = SearchParams {
            rrf: RrfParams {
                k: f64::NAN,
                depth: 100,
            },
            ..Default::default()
        };
        assert!(bad.validate().unwrap_err().contains("--rrf-k"));
    }
}
