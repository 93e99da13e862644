//! The Milvus backend's part of the pipeline: the default dense and BM25 keys served by
//! Milvus (query vectors and terms made here, ranked ids from the server) and `hybrid:server`,
//! Milvus's own RRF over those two lists.
use std::sync::Arc;
use std::time::Instant;

use super::{List, Missing, Part, Phase, Pipeline, Run, Source, Sources, Stage};
use crate::bm25::Analyzer;
use crate::milvus::MilvusBackend;
use crate::model::{Embedder, Side};
use crate::panes::{DenseKey, FusionOpts, Kind, PaneId, Retriever};

/// Milvus serving the default dense and BM25 keys: the connection, the encoder that makes
/// the query vectors and the analyzer that makes the query terms (the passages, their vectors
/// and their BM25 statistics are on the server).
pub struct BackendPart {
    pub milvus: Arc<MilvusBackend>,
    pub encoder: Part<Box<dyn Embedder>>,
    pub analyzer: Analyzer,
}

impl Pipeline {
    /// Hands the default dense key (`--model`) and the default BM25 key (`--bm25-analyzer`)
    /// to Milvus: their panes query `milvus` with `analyzer`'s query terms and the vectors of
    /// the encoder given to [`set_backend_encoder`](Self::set_backend_encoder) (until then
    /// the dense panes say the encoder is loading). The local slots of the two keys are
    /// emptied; panes of other models and analyzers still run locally.
    pub fn set_backend(&mut self, milvus: Arc<MilvusBackend>, analyzer: Analyzer) {
        let served = format!("served by {}", milvus.url());
        *self.dense_slot(&DenseKey::default()) = Err(Missing::Off(served.clone()));
        *self.bm25_slot(None) = Err(Missing::Off(served));
        self.backend = Some(BackendPart {
            milvus,
            encoder: Err(Missing::pending("the encoder is not loaded")),
            analyzer,
        });
    }

    /// The encoder whose query vectors the backend's dense search reads.
    pub fn set_backend_encoder(&mut self, encoder: Box<dyn Embedder>) {
        if let Some(b) = &mut self.backend {
            b.encoder = Ok(encoder);
        }
    }

    /// Marks the backend's encoder missing (its dense panes say `why`).
    pub fn set_backend_encoder_missing(&mut self, why: Missing) {
        if let Some(b) = &mut self.backend {
            b.encoder = Err(why);
        }
    }

    /// The backend, when one serves the default keys.
    pub fn backend(&self) -> Option<&BackendPart> {
        self.backend.as_ref()
    }

    /// Whether Milvus serves `retriever`'s list.
    pub fn on_backend(&self, retriever: &Retriever) -> bool {
        self.backend.is_some()
            && match retriever {
                Retriever::Dense(k) => *k == DenseKey::default(),
                Retriever::Bm25(k) => k.is_none(),
                _ => false,
            }
    }

    /// The backend's dense list: the query vector (given, or encoded here) searched on Milvus.
    pub(super) fn backend_dense_list(&mut self, run: &mut Run) -> Stage {
        let started = Instant::now();
        let key = DenseKey::default();
        let given = run
            .vectors
            .iter()
            .find(|(k, _)| *k == key)
            .map(|(_, v)| v.to_vec());
        let backend = self.backend.as_mut().ok_or(Missing::Unused)?;
        let vector = match given {
            Some(v) => v,
            None => {
                let encoder = backend.encoder.as_mut().map_err(|m| m.clone())?;
                run.passes.bi_encoder += 1;
                encoder
                    .embed(Side::Query, &[run.query], &mut |_| {})
                    .map_err(|e| Missing::failed(Phase::Embed, format!("encoding the query: {e}")))?
                    .data
            }
        };
        run.encode += started.elapsed();
        let hits = backend
            .milvus
            .dense_search(&vector, run.depth)
            .map_err(|e| Missing::failed(Phase::Backend, e))?;
        run.backend_vector = Some(vector);
        Ok(List::plain(hits, started.elapsed()))
    }

    /// The backend's BM25 list: the analysed query terms scored by Milvus.
    pub(super) fn backend_bm25_list(&self, run: &Run) -> Stage {
        let backend = self.backend.as_ref().ok_or(Missing::Unused)?;
        let started = Instant::now();
        let terms = backend.analyzer.query_terms(run.query);
        let hits = backend
            .milvus
            .bm25_search(&terms, run.depth)
            .map_err(|e| Missing::failed(Phase::Backend, e))?;
        Ok(List::plain(hits, started.elapsed()))
    }

    /// Milvus's own RRF over its dense and BM25 lists (`hybrid:server`); the inputs ran
    /// already (here, on the backend), so the query vector is at hand and each hit's sources
    /// are its ranks in them.
    pub(super) fn server_fuse(&self, run: &Run, of: &[PaneId], opts: &FusionOpts) -> Stage {
        let backend = self.backend.as_ref().ok_or_else(|| {
            Missing::failed(
                Phase::Backend,
                "Milvus's RRF needs a Milvus backend (milvus://HOST:PORT/COLLECTION)",
            )
        })?;
        for &input in of {
            if !self.on_backend(&self.panes.get(input).retriever) {
                return Err(Missing::failed(
                    Phase::Backend,
                    format!(
                        "Milvus's RRF fuses the lists Milvus serves; {} runs locally",
                        self.label(input)
                    ),
                ));
            }
            if let Err(e) = &run.lists[&input] {
                let text = format!("no {} list from Milvus ({e})", self.label(input));
                return Err(match e {
                    Missing::Pending(_) => Missing::Pending(text),
                    _ => Missing::Failed(Phase::Backend, text),
                });
            }
        }
        let started = Instant::now();
        let p = &self.params;
        let depth = opts.depth.unwrap_or(p.rrf.depth);
        let k = opts.k.unwrap_or(p.rrf.k);
        let vector = run.backend_vector.as_deref().unwrap_or_default();
        let terms = backend.analyzer.query_terms(run.query);
        // As many as bigyo's RRF can return: the union of the two top-`depth` lists.
        let limit = (2 * depth).min(16_384);
        let ranked = backend
            .milvus
            .server_rrf(vector, &terms, depth, limit, k)
            .map_err(|e| Missing::failed(Phase::Backend, e))?;
        let inputs: Vec<(PaneId, Kind, &List)> = of
            .iter()
            .filter_map(|&id| {
                let list = run.lists[&id].as_ref().ok()?;
                Some((id, self.panes.get(id).kind(), list))
            })
            .collect();
        let sources = ranked
            .iter()
            .map(|&(passage, _)| {
                Sources(
                    inputs
                        .iter()
                        .map(|&(pane, kind, list)| Source {
                            pane,
                            kind,
                            rank: list
                                .ranked
                                .iter()
                                .take(depth)
                                .position(|&(x, _)| x == passage)
                                .map(|r| r + 1),
                        })
                        .collect(),
                )
            })
            .collect();
        let mut notes = Vec::new();
        if opts.weights.is_none() && (p.dense_weight != 1.0 || p.bm25_weight != 1.0) {
            notes.push("unweighted: Milvus's RRF ignores --dense-weight and --bm25-weight");
        }
        if k.fract() != 0.0 {
            notes.push("Milvus's RRF rounds k to a whole number");
        }
        Ok(List {
            ranked,
            sources,
            probabilities: Vec::new(),
            elapsed: started.elapsed(),
            note: (!notes.is_empty()).then(|| notes.join("; ")),
        })
    }
}
