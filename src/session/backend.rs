//! The Milvus backend as a session part: connected and checked before anything heavy.
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context, Result};

use super::{analyzer, Event, Options, Report, Step};
use crate::bm25::Analyzer;
use crate::milvus::{BackendUrl, CollectionInfo, MilvusBackend};
use crate::model::Embedder;
#[cfg(doc)]
use crate::pipeline::Pipeline;

/// A checked connection to the collection `--backend` names, and the analyzer that makes
/// its query terms (the session's `--bm25-analyzer`, the one the collection was built with).
pub struct Backend {
    pub milvus: Arc<MilvusBackend>,
    pub info: CollectionInfo,
    pub analyzer: Analyzer,
}

impl Backend {
    /// Checks that `encoder` (of `model`) makes vectors of the collection's dimension,
    /// naming both on a mismatch; a warning when the collection was embedded by another
    /// model of the same dimension.
    pub fn check_encoder(&self, model: &str, encoder: &dyn Embedder) -> Result<Option<String>> {
        self.milvus
            .check_model(model, encoder.dim(), &self.analyzer.describe())
            .with_context(|| format!("checking {}", self.milvus.url()))?;
        Ok(self.info.model_warning(&encoder.identity()))
    }
}

/// Connects to `--backend` (none: `Ok(None)`) and checks its collection before anything
/// heavy: it exists (else "run `bigyo index` first"), bigyo made it, indexing finished, and it
/// was analysed with this session's BM25 analyzer; then loads it on the server. The encoder's
/// dimension is checked once it is loaded ([`Backend::check_encoder`]).
///
/// The explorer attaches the result with [`Pipeline::set_backend`]`(b.milvus.clone(),
/// b.analyzer.clone())` and, once its encoder is loaded and checked,
/// [`Pipeline::set_backend_encoder`].
pub fn connect_backend(opts: &Options, report: Report) -> Result<Option<Backend>> {
    let Some(spec) = &opts.retrieval.backend else {
        return Ok(None);
    };
    let url = BackendUrl::parse(spec)?;
    let timeout = opts.retrieval.backend_timeout;
    if !(timeout.is_finite() && timeout > 0.0) {
        bail!("--backend-timeout must be a positive number of seconds, not {timeout}");
    }
    report(Event::Start {
        step: Step::ConnectBackend(url.to_string()),
        total: None,
    });
    let milvus = MilvusBackend::connect(&url, Duration::from_secs_f64(timeout))?;
    let info = milvus.describe()?;
    let analyzer = analyzer(opts)?;
    // The dimension is the collection's own here; the encoder's is checked once it loads.
    let info = milvus.check(info.dim, &analyzer.describe())?;
    report(Event::Finish);
    tracing::info!(
        "backend {url}: {} passages, {} index, {}",
        info.passages,
        info.index_type,
        info.model
    );
    Ok(Some(Backend {
        milvus: Arc::new(milvus),
        info,
        analyzer,
    }))
}
