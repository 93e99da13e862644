//! The knobs a user turns (CLI flags, the explorer's settings overlay), checked before use.
use crate::fusion::{Fusion, FusionMethod, Norm, RrfParams};

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

    /// How deep the dense and BM25 lists must go to serve every method.
    pub(super) fn list_depth(&self) -> usize {
        self.top_k.max(self.rrf.depth)
    }
}
