//! bigyo (비교, "comparison"): Korean retrieval explored side by side.
//!
//! Module map:
//! - [`paths`]: cache and log directories (from `directories`, overridable by env).
//! - [`model`]: BERT-family sentence encoders and cross-encoders on libtorch (`tch`):
//!   hub/local loading, tokenizers, weights, pooling, batching, device and dtype choice.
#![cfg_attr(not(test), deny(clippy::unwrap_used))]

pub mod model;
pub mod paths;
