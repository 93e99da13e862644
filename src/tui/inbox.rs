//! What reaches the worker: the UI's commands and the other threads' results.
use crate::bm25::{Analyzer, Bm25Index};
use crate::dense::DenseIndex;
use crate::model::owner::OwnedEmbedder;
use crate::model::Reranker;
use crate::panes::{Bm25Key, DenseKey};
use crate::pipeline::Missing;

use super::protocol::Cmd;

/// A dense key's encoder and its passages' index (none when Milvus holds the vectors), with
/// the line the status bar shows for it.
pub struct DensePart {
    pub encoder: OwnedEmbedder,
    pub index: Option<DenseIndex>,
    pub line: Option<String>,
}

pub enum Inbox {
    Cmd(Cmd),
    /// A dense key's part (the session's model, another pane's model or pooling, a remote
    /// endpoint), or why it could not be had.
    Dense {
        key: DenseKey,
        part: Result<DensePart, Missing>,
    },
    /// The cross-encoder (`Ok(None)`: a reranker of `none`), or why it could not be had.
    Reranker(Result<Option<Box<dyn Reranker>>, Missing>),
    /// The BM25 index of an analyzer key a pane switched to.
    Bm25 {
        key: Bm25Key,
        built: Result<(Analyzer, Bm25Index), Missing>,
    },
}
