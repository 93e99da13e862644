//! bigyo (비교, "comparison"): Korean retrieval explored side by side.
//!
//! Module map:
//! - [`paths`]: cache, config, data and log directories (from `directories`, overridable by env).
//! - [`options`]: what a session is asked to do, as plain values (models, data, retrieval, a
//!   remote endpoint); the command line fills them from flags.
//! - [`setting`]: settings by name ([`setting::Setting`]), so an error names a bad value as the
//!   front end does (the explorer in words, the command line by flag).
//! - [`plan`]: the panes and the start-up jobs the options ask for, checked before anything
//!   loads; both front ends run the same plan.
//! - [`session`]: options -> a running session (the panes, corpus, BM25, embeddings,
//!   reranker), with progress events the CLI and the TUI both draw.
//! - [`model`]: BERT-family sentence encoders and cross-encoders on libtorch (`tch`):
//!   hub/local loading, tokenizers, weights, pooling, prompts, batching, device and dtype
//!   choice, per-CPU kernel choice (`model::cpu`: ISA detection, calibration cached per CPU);
//!   remote encoders behind OpenAI-compatible endpoints; CLIP (`model::clip`: text and vision
//!   towers, Pillow-exact image preprocessing, multilingual CLIP text encoders).
//! - [`data`]: the corpus (KLUE MRC schema) from parquet, local, bundled or from the hub.
//! - [`imagesearch`]: image folders as a CLIP corpus (embeddings cached like passages'), a text
//!   query's ranking, and the text x image table (cosines, softmax of `logits_per_image`).
//! - [`hubio`]: hub requests with bounded waits (listing timeout, stalled downloads abandoned).
//! - [`bm25`]: Korean analyzers (bigrams; mecab-ko-dic morphemes in `bm25::morph`) and BM25
//!   on tantivy.
//! - [`dense`]: exact dense search on the model's device, and the embedding cache.
//! - [`fusion`]: reciprocal rank fusion and convex combination (min-max / z-score).
//! - [`milvus`]: Milvus as the scale-out backend: `bigyo index`, dense/BM25/server-RRF search
//!   and passage texts over gRPC, with bigyo's own encoder and analyzer.
//! - [`metrics`]: recall@k, MRR@10, nDCG@10, on one gold passage or on graded judgments.
//! - [`eval`]: every method over labelled queries (dataset gold, qrels, judgments); TREC runs.
//! - [`compare`]: per-question wins/ties/losses and the paired randomization test.
//! - [`tune`]: seeded splits and the fusion grid search on cached lists; the saved setting.
//! - [`judgments`]: the graded-judgments store (append-only JSONL), TREC qrels/topics, pooling.
//! - [`panes`]: the pane spec (`--panes`): retrievers as values (dense, bm25, fusion, rerank),
//!   their names, titles and inputs.
//! - [`pipeline`]: one query through the panes: the parts each retriever needs (encoder and
//!   dense index per model, BM25 index per analyzer, cross-encoder; or Milvus serving the
//!   default dense and BM25 keys), shared work, the hits.
//! - [`render`]: `bigyo search` output, an aligned table (Korean by display width) or JSON.
//! - [`teach`]: the chapter's similarity playground (one-hot, BoW, TF-IDF, dense).
//! - [`word2vec`]: CBOW and skip-gram (negative sampling, gensim's defaults) on the corpus's
//!   terms; cosine, nearest words, analogy; word2vec text/binary and fastText `.vec` files.
//! - [`serve`]: `bigyo serve`, an OpenAI-compatible embedding service (and a search route)
//!   over bigyo's encoders, the model owned by one thread.
//! - [`tui`]: the four-pane explorer (state + reducer, view, worker thread, event loop).
#![cfg_attr(not(test), deny(clippy::unwrap_used))]

pub mod bm25;
pub mod compare;
pub mod data;
pub mod dense;
pub mod eval;
pub mod fusion;
pub mod hubio;
pub mod imagesearch;
pub mod judgments;
pub mod metrics;
pub mod milvus;
pub mod model;
pub mod options;
pub mod panes;
pub mod paths;
pub mod pipeline;
pub mod plan;
pub mod render;
pub mod serve;
pub mod session;
pub mod setting;
pub mod teach;
pub mod tui;
pub mod tune;
pub mod word2vec;

/// The text of a caught panic (`panic!` with a message gives a `String` or a `&str`).
pub fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| payload.downcast_ref::<&str>().map(|s| (*s).to_owned()))
        .unwrap_or_else(|| "a panic".into())
}
