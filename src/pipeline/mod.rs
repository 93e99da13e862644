//! One query through the panes of a [`Panes`] spec. The pipeline owns the parts retrievers
//! need (a bi-encoder and dense index per [`DenseKey`], a BM25 index per analyzer, the
//! cross-encoder), each a [`Part`] that is ready or says why not; [`Pipeline::search`]
//! evaluates the panes asked for and every retriever they read, each once: the query is
//! encoded once per bi-encoder and a list read by two fusions is computed once.
//!
//! With a backend ([`Pipeline::set_backend`]), Milvus serves the session's default dense key
//! (`--model`) and default BM25 key (`--bm25-analyzer`): the pipeline keeps the encoder (query
//! vectors) and the analyzer (query terms) and asks the server for the ranked ids. Fusion,
//! reranking (over texts fetched from Milvus) and metrics stay here; a `hybrid:server` pane is
//! Milvus's own RRF over the same two lists.
mod backend;
mod explain;
mod params;
mod results;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

pub use backend::BackendPart;
pub use explain::{explain_fusion, Deep, Explained, FusionPart, FusionWhy, Place};
pub use params::{fusion_weights, SearchParams};
pub use results::{
    reranked, ForwardPasses, Hit, MethodResult, Missing, Phase, SearchResults, Source, Sources,
};

use crate::bm25::{term_matches, Analyzer, Bm25Index, TermMatches};
use crate::data::Corpus;
use crate::dense::DenseIndex;
use crate::fusion::{self, Fused, FusionMethod, RrfParams};
use crate::model::{Embedder, Reranker, Side};
use crate::panes::{Bm25Key, DenseKey, FusionOpts, Kind, PaneId, Panes, Retriever, SpecError};

/// A part: ready, or why not.
pub type Part<T> = Result<T, Missing>;

/// A bi-encoder and the dense index of its passage embeddings.
pub struct DensePart {
    pub encoder: Box<dyn Embedder>,
    pub index: DenseIndex,
}

/// One retriever's ranked (passage, score) list with each hit's sources, or why it could
/// not run.
#[derive(Debug, Clone)]
struct List {
    ranked: Vec<(usize, f64)>,
    /// Per entry of `ranked` (empty for dense and BM25, which read no other list).
    sources: Vec<Sources>,
    probabilities: Vec<f64>,
    elapsed: Duration,
    note: Option<String>,
}

impl List {
    fn plain(ranked: Vec<(usize, f64)>, elapsed: Duration) -> Self {
        Self {
            ranked,
            sources: Vec::new(),
            probabilities: Vec::new(),
            elapsed,
            note: None,
        }
    }

    fn hit(&self, i: usize) -> Hit {
        let (passage, score) = self.ranked[i];
        Hit {
            probability: self.probabilities.get(i).copied(),
            ..Hit::new(
                passage,
                score,
                self.sources.get(i).cloned().unwrap_or_default(),
            )
        }
    }
}

type Stage = Result<List, Missing>;

/// The indexes and models, each a [`Part`], the panes and the search parameters.
pub struct Pipeline {
    pub corpus: Arc<Corpus>,
    pub params: SearchParams,
    panes: Arc<Panes>,
    dense: Vec<(DenseKey, Part<DensePart>)>,
    bm25: Vec<(Bm25Key, Part<Arc<Bm25Index>>)>,
    reranker: Part<Box<dyn Reranker>>,
    backend: Option<BackendPart>,
    /// Each dense key's newest query and its vector (the gold line's whole-corpus rank
    /// reuses it instead of encoding the query again).
    query_vectors: Vec<(DenseKey, String, Vec<f32>)>,
}

impl Pipeline {
    /// A pipeline for `panes` with every part not ready yet.
    pub fn new(corpus: Arc<Corpus>, params: SearchParams, panes: Panes) -> Self {
        Self {
            corpus,
            params,
            dense: panes
                .dense_keys()
                .into_iter()
                .map(|k| {
                    (
                        k,
                        Err(Missing::pending("the passage embeddings are not ready")),
                    )
                })
                .collect(),
            bm25: panes
                .bm25_keys()
                .into_iter()
                .map(|k| (k, Err(Missing::pending("the BM25 index is not ready"))))
                .collect(),
            reranker: Err(Missing::pending("the reranker is not loaded")),
            panes: Arc::new(panes),
            backend: None,
            query_vectors: Vec::new(),
        }
    }

    pub fn panes(&self) -> &Arc<Panes> {
        &self.panes
    }

    /// Gives pane `id` another retriever (a setting changed in the explorer). A dense or BM25
    /// key no part has yet gets a pending slot; what builds it is the caller's business.
    /// Returns whether the pane's part must still be built.
    pub fn set_retriever(&mut self, id: PaneId, retriever: Retriever) -> Result<bool, SpecError> {
        Arc::make_mut(&mut self.panes).set_retriever(id, retriever.clone())?;
        let pending = |what: &str| Missing::Pending(format!("{what} are being built"));
        Ok(match retriever {
            Retriever::Dense(key) if !self.dense.iter().any(|(k, _)| *k == key) => {
                self.dense
                    .push((key, Err(pending("the passage embeddings"))));
                true
            }
            Retriever::Bm25(key) if !self.bm25.iter().any(|(k, _)| *k == key) => {
                self.bm25
                    .push((key, Err(pending("the BM25 index's terms"))));
                true
            }
            _ => false,
        })
    }

    fn dense_slot(&mut self, key: &DenseKey) -> &mut Part<DensePart> {
        if let Some(i) = self.dense.iter().position(|(k, _)| k == key) {
            return &mut self.dense[i].1;
        }
        self.dense.push((key.clone(), Err(Missing::Unused)));
        &mut self.dense.last_mut().expect("just pushed").1
    }

    fn bm25_slot(&mut self, key: Bm25Key) -> &mut Part<Arc<Bm25Index>> {
        if let Some(i) = self.bm25.iter().position(|(k, _)| *k == key) {
            return &mut self.bm25[i].1;
        }
        self.bm25.push((key, Err(Missing::Unused)));
        &mut self.bm25.last_mut().expect("just pushed").1
    }

    /// Puts a bi-encoder and its index in the slot of `key`.
    pub fn set_dense(&mut self, key: &DenseKey, encoder: Box<dyn Embedder>, index: DenseIndex) {
        *self.dense_slot(key) = Ok(DensePart { encoder, index });
    }

    /// Marks the encoder of `key` missing (and drops what was there).
    pub fn set_dense_missing(&mut self, key: &DenseKey, why: Missing) {
        *self.dense_slot(key) = Err(why);
    }

    /// Takes the encoder of `key` out; its panes say `why` meanwhile.
    pub fn take_dense(&mut self, key: &DenseKey, why: Missing) -> Option<DensePart> {
        std::mem::replace(self.dense_slot(key), Err(why)).ok()
    }

    pub fn dense(&self, key: &DenseKey) -> Result<&DensePart, Missing> {
        match self.dense.iter().find(|(k, _)| k == key) {
            Some((_, part)) => part.as_ref().map_err(Missing::clone),
            None => Err(Missing::Unused),
        }
    }

    /// The bi-encoder of `key`, when its index (or the backend) is ready.
    pub fn encoder_mut(&mut self, key: &DenseKey) -> Option<&mut (dyn Embedder + 'static)> {
        if self.on_backend(&Retriever::Dense(key.clone())) {
            return self
                .backend
                .as_mut()
                .and_then(|b| b.encoder.as_mut().ok())
                .map(|e| e.as_mut());
        }
        self.dense
            .iter_mut()
            .find(|(k, _)| k == key)
            .and_then(|(_, p)| p.as_mut().ok())
            .map(|p| p.encoder.as_mut())
    }

    /// The encoder keys and whether each is ready.
    pub fn dense_parts(&self) -> impl Iterator<Item = (&DenseKey, Result<&DensePart, &Missing>)> {
        self.dense.iter().map(|(k, p)| (k, p.as_ref()))
    }

    pub fn set_bm25(&mut self, key: Bm25Key, index: Arc<Bm25Index>) {
        *self.bm25_slot(key) = Ok(index);
    }

    pub fn set_bm25_missing(&mut self, key: Bm25Key, why: Missing) {
        *self.bm25_slot(key) = Err(why);
    }

    /// Takes the BM25 index of `key` out (a rebuild is on its way); its panes say `why`.
    pub fn take_bm25(&mut self, key: Bm25Key, why: Missing) -> Option<Arc<Bm25Index>> {
        std::mem::replace(self.bm25_slot(key), Err(why)).ok()
    }

    pub fn bm25(&self, key: Bm25Key) -> Result<&Arc<Bm25Index>, Missing> {
        match self.bm25.iter().find(|(k, _)| *k == key) {
            Some((_, part)) => part.as_ref().map_err(Missing::clone),
            None => Err(Missing::Unused),
        }
    }

    /// The analyzer of the first ready BM25 index, else the backend's (for query terms,
    /// matched terms and highlighting).
    fn any_analyzer(&self) -> Option<&Analyzer> {
        self.bm25
            .iter()
            .find_map(|(_, p)| p.as_ref().ok())
            .map(|b| b.analyzer())
            .or_else(|| self.backend.as_ref().map(|b| &b.analyzer))
    }

    /// The analyzer a pane's hits are matched and highlighted with: that of the nearest BM25
    /// retriever the pane is or reads (a `bm25:morph` pane its own, a hybrid its BM25
    /// input's), else the first ready one's. Each BM25 pane thus shows its own terms.
    fn pane_analyzer(&self, id: PaneId) -> Option<&Analyzer> {
        self.panes
            .closure(id)
            .into_iter()
            .rev()
            .find_map(|step| match &self.panes.get(step).retriever {
                r @ Retriever::Bm25(_) if self.on_backend(r) => {
                    self.backend.as_ref().map(|b| &b.analyzer)
                }
                Retriever::Bm25(key) => self.bm25(*key).ok().map(|b| b.analyzer()),
                _ => None,
            })
            .or_else(|| self.any_analyzer())
    }

    pub fn set_reranker(&mut self, reranker: Box<dyn Reranker>) {
        self.reranker = Ok(reranker);
    }

    pub fn set_reranker_missing(&mut self, why: Missing) {
        self.reranker = Err(why);
    }

    pub fn reranker(&self) -> Result<&dyn Reranker, &Missing> {
        self.reranker.as_ref().map(|r| r.as_ref())
    }

    /// Runs `query` through every shown pane.
    pub fn search(&mut self, query: &str) -> SearchResults {
        let shown: Vec<PaneId> = self.panes.shown().collect();
        self.search_with(query, &[], &shown)
    }

    /// Runs `query` through `panes` (and what they read). `vectors` holds query vectors
    /// already encoded per bi-encoder (batched evaluation encodes all questions at once).
    pub fn search_with(
        &mut self,
        query: &str,
        vectors: &[(DenseKey, &[f32])],
        panes: &[PaneId],
    ) -> SearchResults {
        let all = self.panes.clone();
        let mut run = Run {
            query,
            blank: query.trim().is_empty(),
            vectors,
            lists: HashMap::new(),
            encode: Duration::ZERO,
            passes: ForwardPasses::default(),
            depth: self.params.list_depth(),
            backend_vector: None,
        };
        for &id in panes {
            for step in all.closure(id) {
                if !run.lists.contains_key(&step) {
                    let list = self.stage(&mut run, step);
                    run.lists.insert(step, list);
                }
            }
        }
        let mut out = SearchResults {
            query: query.to_owned(),
            terms: self
                .any_analyzer()
                .map(|a| a.query_terms(query))
                .unwrap_or_default(),
            panes: all.clone(),
            encode: run.encode,
            forward_passes: run.passes,
            results: Vec::new(),
            inputs: Vec::new(),
        };
        for (&id, list) in &run.lists {
            let result = self.result(id, list);
            if panes.contains(&id) {
                out.results.push(result);
            } else {
                out.inputs.push(result);
            }
        }
        out.results
            .sort_by_key(|r| panes.iter().position(|&p| p == r.pane));
        out.inputs.sort_by_key(|r| r.pane);
        self.match_terms(&mut out);
        out
    }

    /// Computes one retriever's list; its inputs are in `run.lists` already.
    fn stage(&mut self, run: &mut Run, id: PaneId) -> Stage {
        let pane = self.panes.get(id).clone();
        if run.blank {
            return Ok(List::plain(Vec::new(), Duration::ZERO));
        }
        match &pane.retriever {
            r @ Retriever::Dense(_) if self.on_backend(r) => self.backend_dense_list(run),
            r @ Retriever::Bm25(_) if self.on_backend(r) => self.backend_bm25_list(run),
            Retriever::Dense(key) => self.dense_list(run, key),
            Retriever::Bm25(key) => self.bm25_list(run.query, *key, run.depth),
            Retriever::Fusion { of, opts } if opts.server => self.server_fuse(run, of, opts),
            Retriever::Fusion { of, opts } => self.fuse(run, of, opts),
            Retriever::Rerank { of, depth } => {
                let depth = depth.unwrap_or(self.params.rerank_depth);
                self.rerank_list(run, *of, depth)
            }
        }
    }

    fn dense_list(&mut self, run: &mut Run, key: &DenseKey) -> Stage {
        let started = Instant::now();
        let given = run
            .vectors
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.to_vec());
        let part = self
            .dense
            .iter_mut()
            .find(|(k, _)| k == key)
            .map(|(_, p)| p)
            .ok_or(Missing::Unused)?;
        let part = part.as_mut().map_err(|m| m.clone())?;
        let vector = match given {
            Some(v) => v,
            None => {
                run.passes.bi_encoder += 1;
                let e = part
                    .encoder
                    .embed(Side::Query, &[run.query], &mut |_| {})
                    .map_err(|e| {
                        Missing::failed(Phase::Embed, format!("encoding the query: {e}"))
                    })?;
                e.data
            }
        };
        run.encode += started.elapsed();
        let hits = part
            .index
            .search(&vector, run.depth)
            .map_err(|e| Missing::failed(Phase::Search, e))?;
        self.query_vectors.retain(|(k, _, _)| k != key);
        self.query_vectors
            .push((key.clone(), run.query.to_owned(), vector));
        Ok(List::plain(
            hits.into_iter()
                .map(|h| (h.passage, h.score as f64))
                .collect(),
            started.elapsed(),
        ))
    }

    fn bm25_list(&self, query: &str, key: Bm25Key, depth: usize) -> Stage {
        let index = self.bm25(key)?;
        let started = Instant::now();
        let terms = index.analyzer().query_terms(query);
        let hits = index
            .search_terms(&terms, depth)
            .map_err(|e| Missing::failed(Phase::Search, e))?;
        Ok(List::plain(
            hits.into_iter()
                .map(|h| (h.passage, h.score as f64))
                .collect(),
            started.elapsed(),
        ))
    }

    /// Fuses the inputs that ran; a fusion with some inputs missing says which in its note.
    fn fuse(&self, run: &Run, of: &[PaneId], opts: &FusionOpts) -> Stage {
        let started = Instant::now();
        let mut missing = Vec::new();
        let mut lists: Vec<(PaneId, &[(usize, f64)])> = Vec::new();
        for &input in of {
            match &run.lists[&input] {
                Ok(l) => lists.push((input, &l.ranked)),
                Err(e) => missing.push(format!("{}: {e}", self.label(input))),
            }
        }
        if lists.is_empty() {
            // Nothing to fuse: pending while any input is on its way, else failed.
            let why = missing.join("; ");
            let pending = of
                .iter()
                .any(|i| matches!(&run.lists[i], Err(m) if m.is_pending()));
            return Err(if pending {
                Missing::Pending(why)
            } else {
                Missing::Failed(Phase::Search, why)
            });
        }
        let weights = self.weights(of, opts);
        let weighted: Vec<(&[(usize, f64)], f64)> = lists
            .iter()
            .map(|&(id, l)| (l, weights[of.iter().position(|&x| x == id).unwrap_or(0)]))
            .collect();
        let fused = self.fusion_of(opts, &weighted);
        let kinds: Vec<(PaneId, Kind)> = lists
            .iter()
            .map(|&(id, _)| (id, self.panes.get(id).kind()))
            .collect();
        let sources = fused
            .iter()
            .map(|f| {
                Sources(
                    kinds
                        .iter()
                        .zip(&f.ranks)
                        .map(|(&(pane, kind), &rank)| Source { pane, kind, rank })
                        .collect(),
                )
            })
            .collect();
        Ok(List {
            ranked: fused.iter().map(|f| (f.item, f.score)).collect(),
            sources,
            probabilities: Vec::new(),
            elapsed: started.elapsed(),
            note: (!missing.is_empty()).then(|| format!("fused without {}", missing.join("; "))),
        })
    }

    fn weights(&self, of: &[PaneId], opts: &FusionOpts) -> Vec<f64> {
        fusion_weights(&self.panes, &self.params, of, opts)
    }

    fn fusion_of(&self, opts: &FusionOpts, lists: &[(&[(usize, f64)], f64)]) -> Vec<Fused> {
        let p = &self.params;
        let depth = opts.depth.unwrap_or(p.rrf.depth);
        match opts.method.unwrap_or(p.fusion) {
            FusionMethod::Rrf => {
                let ids: Vec<Vec<usize>> = lists
                    .iter()
                    .map(|(l, _)| l.iter().map(|&(i, _)| i).collect())
                    .collect();
                let weighted: Vec<(&[usize], f64)> = ids
                    .iter()
                    .zip(lists)
                    .map(|(ids, &(_, w))| (ids.as_slice(), w))
                    .collect();
                let k = opts.k.unwrap_or(p.rrf.k);
                fusion::rrf(&weighted, &RrfParams { k, depth })
            }
            FusionMethod::Convex => fusion::convex(lists, opts.norm.unwrap_or(p.norm), depth),
        }
    }

    /// A pane's name as a fusion note names it: `dense`, `BM25`, or the pane's name.
    fn label(&self, id: PaneId) -> String {
        let pane = self.panes.get(id);
        match pane.name.as_str() {
            "bm25" => "BM25".into(),
            name => name.to_owned(),
        }
    }

    /// The first `depth` hits of `of`, with their sources, as rerank candidates.
    fn candidates(&self, of: PaneId, list: &List, depth: usize) -> Vec<Hit> {
        let kind = self.panes.get(of).kind();
        (0..list.ranked.len().min(depth))
            .map(|i| {
                let mut hit = list.hit(i);
                let mut sources = vec![Source {
                    pane: of,
                    kind,
                    rank: Some(i + 1),
                }];
                sources.extend(hit.sources.0);
                hit.sources = Sources(sources);
                hit.probability = None;
                hit
            })
            .collect()
    }

    fn rerank_list(&mut self, run: &mut Run, of: PaneId, depth: usize) -> Stage {
        let list = match &run.lists[&of] {
            Ok(l) => l,
            Err(e) => return Err(nothing_to_rerank(&self.label(of), e)),
        };
        let candidates = self.candidates(of, list, depth);
        let from_backend = self
            .panes
            .closure(of)
            .iter()
            .any(|&id| self.on_backend(&self.panes.get(id).retriever));
        if let Err(m) = &self.reranker {
            return Err(m.clone());
        }
        let started = Instant::now();
        // Candidates Milvus found are read from Milvus: the collection, not the local corpus,
        // is what its ids point into.
        let fetched: Vec<String>;
        let texts: Vec<&str> = match &self.backend {
            Some(b) if from_backend => {
                let ids: Vec<usize> = candidates.iter().map(|h| h.passage).collect();
                fetched = b
                    .milvus
                    .texts(&ids)
                    .map_err(|e| {
                        Missing::failed(
                            Phase::Backend,
                            format!("fetching the candidates' texts: {e}"),
                        )
                    })?
                    .into_iter()
                    .map(|(_, text)| text)
                    .collect();
                fetched.iter().map(String::as_str).collect()
            }
            _ => candidates
                .iter()
                .filter_map(|h| self.corpus.passages.get(h.passage).map(|p| p.text.as_str()))
                .collect(),
        };
        let reranker = self.reranker.as_mut().map_err(|m| m.clone())?;
        run.passes.cross_encoder += texts.len();
        let logits = reranker
            .score(run.query, &texts, &mut |_| {})
            .map_err(|e| Missing::failed(Phase::Rerank, format!("cross-encoder failed: {e}")))?;
        let r = reranked(
            PaneId(0),
            &candidates,
            &logits,
            usize::MAX,
            started.elapsed(),
        );
        Ok(List {
            ranked: r.ranking,
            probabilities: r.hits.iter().filter_map(|h| h.probability).collect(),
            sources: r.hits.into_iter().map(|h| h.sources).collect(),
            elapsed: r.elapsed,
            note: None,
        })
    }

    /// A pane's [`MethodResult`] from its list: the top k as hits, the whole list as ranking.
    fn result(&self, id: PaneId, stage: &Stage) -> MethodResult {
        let kind = self.panes.get(id).kind();
        match stage {
            Ok(list) => MethodResult {
                pane: id,
                method: kind,
                hits: (0..list.ranked.len().min(self.params.top_k))
                    .map(|i| list.hit(i))
                    .collect(),
                elapsed: list.elapsed,
                error: None,
                note: list.note.clone(),
                ranking: list.ranked.clone(),
            },
            Err(e) => MethodResult::failed(id, kind, e.clone()),
        }
    }

    /// The hybrid list's first `rerank_depth` passages as candidates of the rerank pane `pane`
    /// (for callers that rerank elsewhere: the explorer's rerank thread), in the order of
    /// the list it reranks, with sources and matched terms; or why there is nothing to rerank.
    pub fn rerank_candidates(
        &self,
        results: &SearchResults,
        pane: PaneId,
    ) -> Result<Vec<Hit>, Missing> {
        let Retriever::Rerank { of, depth } = self.panes.get(pane).retriever else {
            return Err(Missing::failed(
                Phase::Rerank,
                format!("{} is not a rerank pane", self.panes.get(pane).name),
            ));
        };
        let input = results.pane(of).ok_or_else(|| {
            Missing::failed(Phase::Search, format!("{} did not run", self.label(of)))
        })?;
        if let Some(e) = &input.error {
            return Err(nothing_to_rerank(&self.label(of), e));
        }
        let list = List {
            ranked: input.ranking.clone(),
            sources: Vec::new(),
            probabilities: Vec::new(),
            elapsed: Duration::ZERO,
            note: None,
        };
        let mut hits = self.candidates(of, &list, depth.unwrap_or(self.params.rerank_depth));
        // Fused candidates keep their own sources: read them from the input's hits where
        // shown, else from the input's inputs' rankings.
        for h in &mut hits {
            for &src in &self.panes.get(of).retriever.inputs() {
                let rank = results.pane(src).and_then(|r| r.rank_of(h.passage));
                h.sources.0.push(Source {
                    pane: src,
                    kind: self.panes.get(src).kind(),
                    rank,
                });
            }
            if let Some(analyzer) = self.pane_analyzer(of) {
                if let Some(p) = self.corpus.passages.get(h.passage) {
                    let terms = analyzer.query_terms(&results.query);
                    let m = term_matches(analyzer, &terms, &p.text);
                    h.matched = m.terms;
                    h.spans = m.spans;
                }
            }
        }
        Ok(hits)
    }

    /// Matched terms and their spans for every shown hit, under each pane's own analyzer
    /// (`pane_analyzer`); a passage in several lists of one analyzer is analysed once.
    fn match_terms(&self, out: &mut SearchResults) {
        let mut terms: HashMap<String, Vec<String>> = HashMap::new();
        let mut seen: HashMap<(String, usize), TermMatches> = HashMap::new();
        for r in &mut out.results {
            let Some(analyzer) = self.pane_analyzer(r.pane) else {
                continue;
            };
            let name = analyzer.describe();
            let query_terms = terms
                .entry(name.clone())
                .or_insert_with(|| analyzer.query_terms(&out.query));
            for h in &mut r.hits {
                if let Some(p) = self.corpus.passages.get(h.passage) {
                    let m = seen
                        .entry((name.clone(), h.passage))
                        .or_insert_with(|| term_matches(analyzer, query_terms, &p.text));
                    h.matched = m.terms.clone();
                    h.spans = m.spans.clone();
                }
            }
        }
    }
}

/// Why a rerank pane has no candidates: its input has no list (pending while the input is).
fn nothing_to_rerank(input: &str, why: &Missing) -> Missing {
    let text = format!("no {input} list to rerank ({why})");
    match why {
        Missing::Pending(_) => Missing::Pending(text),
        Missing::Off(_) => Missing::Off(text),
        _ => Missing::Failed(Phase::Search, text),
    }
}

/// One search's shared state: the lists computed so far and what they cost.
struct Run<'a> {
    query: &'a str,
    blank: bool,
    vectors: &'a [(DenseKey, &'a [f32])],
    lists: HashMap<PaneId, Stage>,
    encode: Duration,
    passes: ForwardPasses,
    /// How deep dense and BM25 lists go.
    depth: usize,
    /// The query vector the backend's dense list searched with (for `hybrid:server`).
    backend_vector: Option<Vec<f32>>,
}
#[cfg(test)]
mod tests;
