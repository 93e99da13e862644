//! bigyo (비교, "comparison"): Korean retrieval explored side by side.
//!
//! Module map:
//! - [`paths`]: cache and log directories (from `directories`, overridable by env).
//! - [`model`]: BERT-family sentence encoders and cross-encoders on libtorch (`tch`):
//!   hub/local loading, tokenizers, weights, pooling, batching, device and dtype choice, and
//!   per-CPU kernel choice (`model::cpu`: ISA detection, calibration cached per CPU).
//! - [`data`]: the corpus (KLUE MRC schema) from parquet, local, bundled or from the hub.
//! - [`bm25`]: Korean analyzers and BM25 on tantivy.
//! - [`dense`]: exact dense search on the model's device, and the embedding cache.
//! - [`fusion`]: reciprocal rank fusion.
//! - [`metrics`]: recall@k, MRR@10, nDCG@10.
//! - [`pipeline`]: one query through dense, BM25, hybrid and rerank.
//! - [`teach`]: the chapter's similarity playground (one-hot, BoW, TF-IDF, dense).
//! - [`tui`]: the four-pane explorer (state + reducer, view, worker thread, event loop).
#![cfg_attr(not(test), deny(clippy::unwrap_used))]

pub mod bm25;
pub mod data;
pub mod dense;
pub mod eval;
pub mod fusion;
pub mod hubio;
pub mod metrics;
pub mod model;
pub mod options;
pub mod paths;
pub mod pipeline;
pub mod render;
pub mod session;
pub mod teach;
pub mod tui;
