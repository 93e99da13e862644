//! Sentence encoders (bi-encoders) and cross-encoders of the BERT family on libtorch.
//!
//! Behaviour is read from the model's own files, as sentence-transformers does:
//! `config.json`'s `model_type` picks the architecture (bert, roberta, xlm-roberta),
//! `modules.json` + `1_Pooling/config.json` pick pooling and normalisation,
//! `sentence_bert_config.json` the maximum length, and a sequence classifier with one
//! label is a reranker.
//!
//! Prompts come from `config_sentence_transformers.json` ([`Prompts`]); a remote model behind
//! an OpenAI-compatible endpoint ([`RemoteEncoder`]) is an [`Embedder`] like a local one.
//!
//! Code that does not need libtorch talks to the [`Embedder`] and [`Reranker`] traits only.

mod batch;
pub mod clip;
mod config;
pub mod cpu;
pub mod cpu_gemm;
pub mod cpu_profile;
mod cross;
mod device;
mod encoder;
mod files;
mod int8;
mod json;
pub mod owner;
mod packed;
mod pooling;
mod prompt;
pub mod remote;
mod st_dense;
mod tokenizer;
mod transformer;
mod weights;

use std::path::PathBuf;

pub use batch::{plan_batches, BatchOptions};
pub use config::{Architecture, HfConfig, SentenceConfig};
pub use cross::CrossEncoder;
pub use device::{cpu_has_bf16, kind_name, DTypeChoice, DeviceChoice, Runtime};
pub use encoder::{EncoderOptions, SentenceEncoder};
pub use files::{ModelDir, ModelSpec, Reach};
pub use int8::int8_support;
pub use pooling::{PoolMode, Pooling};
pub use prompt::{Prompts, Side, SidePrompts};
pub use remote::{RemoteEncoder, RemoteError, RemoteOptions, Usage};
pub use st_dense::{DenseActivation, DenseConfig};

/// Everything that can go wrong while loading or running a model. Each variant names the
/// file, field or tensor at fault.
#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    #[error("reading {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}: {message}")]
    Invalid { path: PathBuf, message: String },
    #[error("{path}: model_type {model_type:?} is not supported (bigyo runs bert, distilbert, roberta and xlm-roberta)")]
    UnsupportedModelType { path: PathBuf, model_type: String },
    #[error("{path}: {count} tensor(s) missing from the weights: {names}")]
    MissingTensors {
        path: PathBuf,
        count: usize,
        names: String,
    },
    #[error("{path}: tensor {name} has shape {found:?} but config.json implies {expected:?}")]
    ShapeMismatch {
        path: PathBuf,
        name: String,
        found: Vec<i64>,
        expected: Vec<i64>,
    },
    #[error("{0}")]
    Hub(String),
    #[error("tokenizer {path}: {message}")]
    Tokenizer { path: PathBuf, message: String },
    /// The device, dtype or thread count asked for cannot be had.
    #[error("{0}")]
    Device(crate::setting::Invalid),
    #[error("libtorch: {0}")]
    Torch(#[from] tch::TchError),
    /// The model lives elsewhere (another thread) and could not answer.
    #[error("{0}")]
    Unavailable(String),
    /// The caller's cancel token stopped the job between two chunks.
    #[error("cancelled")]
    Cancelled,
    #[error(transparent)]
    Remote(RemoteError),
}

pub type Result<T, E = ModelError> = std::result::Result<T, E>;

impl ModelError {
    pub(crate) fn invalid(path: impl Into<PathBuf>, message: impl Into<String>) -> Self {
        Self::Invalid {
            path: path.into(),
            message: message.into(),
        }
    }
}

/// How far a long job has come: `done` of `total` inputs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Progress {
    pub done: usize,
    pub total: usize,
}

/// Row-major matrix of embeddings, one row per input, in input order.
#[derive(Debug, Clone, PartialEq)]
pub struct Embeddings {
    pub dim: usize,
    pub data: Vec<f32>,
}

impl Embeddings {
    pub fn len(&self) -> usize {
        self.data.len().checked_div(self.dim).unwrap_or(0)
    }

    pub fn is_empty(&self) -> bool {
        self.data.is_empty()
    }

    pub fn row(&self, i: usize) -> &[f32] {
        &self.data[i * self.dim..(i + 1) * self.dim]
    }

    pub fn rows(&self) -> impl Iterator<Item = &[f32]> {
        self.data.chunks_exact(self.dim.max(1))
    }
}

/// A bi-encoder: text in, one vector out. Implemented by [`SentenceEncoder`] and
/// [`RemoteEncoder`]; tests of code above the model implement it without libtorch.
pub trait Embedder: Send {
    /// A stable identity for the passage cache: everything that makes a passage vector what it
    /// is (model id or path, revision or weight hash, pooling, length, passage prompt; for a
    /// remote model its endpoint, name and input type).
    fn identity(&self) -> String;
    /// The vector dimension; 0 while unknown (a remote model before its first answer).
    fn dim(&self) -> usize;
    /// Embeds `texts` in order as `side` (which picks the prompt); `progress` is called after
    /// each batch.
    fn embed(
        &mut self,
        side: Side,
        texts: &[&str],
        progress: &mut dyn FnMut(Progress),
    ) -> Result<Embeddings>;
    /// Tokens and requests billed so far, for encoders behind a paid endpoint.
    fn usage(&self) -> Option<Usage> {
        None
    }
    /// The pooling in use and the model's own, for encoders that pool locally.
    fn pooling(&self) -> Option<(Pooling, Pooling)> {
        None
    }
    /// Switches the pooling; false for an encoder that cannot (a remote model).
    fn set_pooling(&mut self, _pooling: Pooling) -> bool {
        false
    }
    /// A flag that, once set, makes a call blocked on something outside the process (a
    /// remote endpoint) return `Cancelled` at once; a local model stops between chunks.
    fn watch(&mut self, _stop: std::sync::Arc<std::sync::atomic::AtomicBool>) {}
}

/// A boxed encoder is an encoder (a pane can share one of any kind).
impl<E: Embedder + ?Sized> Embedder for Box<E> {
    fn identity(&self) -> String {
        (**self).identity()
    }
    fn dim(&self) -> usize {
        (**self).dim()
    }
    fn embed(
        &mut self,
        side: Side,
        texts: &[&str],
        progress: &mut dyn FnMut(Progress),
    ) -> Result<Embeddings> {
        (**self).embed(side, texts, progress)
    }
    fn usage(&self) -> Option<Usage> {
        (**self).usage()
    }
    fn pooling(&self) -> Option<(Pooling, Pooling)> {
        (**self).pooling()
    }
    fn set_pooling(&mut self, pooling: Pooling) -> bool {
        (**self).set_pooling(pooling)
    }
}

/// A cross-encoder: scores (query, passage) pairs. Returns raw logits; see [`sigmoid`].
pub trait Reranker: Send {
    fn identity(&self) -> String;
    fn score(
        &mut self,
        query: &str,
        passages: &[&str],
        progress: &mut dyn FnMut(Progress),
    ) -> Result<Vec<f32>>;
}

/// What sentence-transformers' `CrossEncoder` shows for a one-label model: sigmoid(logit).
pub fn sigmoid(logit: f32) -> f32 {
    1.0 / (1.0 + (-logit).exp())
}

/// The tokenizer a model directory provides (see [`tokenizer::load`] for the search order),
/// truncating to `max_length`.
pub fn load_tokenizer(dir: &std::path::Path, max_length: usize) -> Result<tokenizers::Tokenizer> {
    let config = config::TokenizerConfig::load(dir)?;
    tokenizer::load(dir, &config, max_length)
}
