//! The playground's word2vec section: word vectors trained on the loaded corpus under the
//! BM25 analyzer in use (on a thread of its own, with progress, once per analyzer), then the
//! playground's lines as words: word2vec cosines, nearest words, and line 1 − line 2 + line 3.
//! The one-hot, bag-of-words and sentence-encoder cosines of the same words are the
//! playground's own matrices. The trained vectors are state (kept in [`Words`]), not a
//! resource: the worker trains when none fit and answers from them after.
//!
//! This file holds the section's state; `overlays/words.rs` its keys and replies,
//! `trainer.rs` the worker's side, `view/words.rs` its drawing.
use std::sync::Arc;

use crate::pipeline::Missing;
use crate::word2vec::chapter::WordReport;
use crate::word2vec::{Arch, Params, WordVectors};

/// Vectors trained for this session, and what they were trained on.
#[derive(Debug, PartialEq)]
pub struct Trained {
    pub vectors: WordVectors,
    /// The analyzer's description: vectors of another analyzer's terms are trained again.
    pub analyzer: String,
    /// Params, corpus and time, for the section's header.
    pub about: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct WordsOutcome {
    pub trained: Arc<Trained>,
    pub report: WordReport,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub enum WordsStage {
    #[default]
    NotAsked,
    Training {
        done: usize,
        total: usize,
    },
    Done(Result<WordsOutcome, Missing>),
}

/// The section's state.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Words {
    pub generation: u64,
    pub stage: WordsStage,
    /// The newest vectors, offered to the worker with each request.
    pub trained: Option<Arc<Trained>>,
}

/// The playground trains with gensim's defaults but for `min_count` 2 and skip-gram: a
/// playground corpus is small (the bundled sample has 67 passages), and skip-gram learns
/// more from few words than CBOW does.
pub fn params() -> Params {
    Params {
        arch: Arch::SkipGram,
        min_count: 2,
        ..Params::default()
    }
}
