//! The knobs a user turns (the command line, the explorer's settings overlay), checked before
//! use.
use crate::fusion::{Fusion, FusionMethod, Norm, RrfParams};
use crate::options::{Invalid, Setting};
use crate::panes::{FusionOpts, Kind, PaneId, Panes};

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
    /// Checks ranges; the error names the setting.
    pub fn validate(&self) -> Result<(), Invalid> {
        let bad = |setting, problem: String| Err(Invalid::new(setting, problem));
        if self.top_k == 0 {
            return bad(Setting::TopK, "must be at least 1".into());
        }
        if self.top_k > 10_000 {
            return bad(Setting::TopK, format!("{} is more than 10000", self.top_k));
        }
        if !(self.rrf.k.is_finite() && self.rrf.k >= 0.0) {
            return bad(
                Setting::RrfK,
                format!("must be a number >= 0, not {}", self.rrf.k),
            );
        }
        if self.rrf.depth == 0 {
            return bad(Setting::FusionDepth, "must be at least 1".into());
        }
        for (setting, w) in [
            (Setting::DenseWeight, self.dense_weight),
            (Setting::Bm25Weight, self.bm25_weight),
        ] {
            if !(w.is_finite() && w >= 0.0) {
                return bad(setting, format!("must be a number >= 0, not {w}"));
            }
        }
        if self.dense_weight == 0.0 && self.bm25_weight == 0.0 {
            return Err(Invalid {
                settings: vec![Setting::DenseWeight, Setting::Bm25Weight],
                problem: "are both 0: every hybrid score would be 0 and its order arbitrary; \
                          keep one above 0"
                    .into(),
            });
        }
        if self.rerank_depth == 0 {
            return bad(Setting::RerankDepth, "must be at least 1".into());
        }
        if !(self.alpha.is_finite() && (0.0..=1.0).contains(&self.alpha)) {
            return bad(
                Setting::Alpha,
                format!(
                    "must be a number from 0 to 1 (the dense weight), not {}",
                    self.alpha
                ),
            );
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

/// The weight of each input of a fusion reading `of`: `weights=`, else the session's dense
/// and BM25 weights by kind (RRF) or alpha and 1 - alpha (convex, two inputs), else equal.
pub fn fusion_weights(
    panes: &Panes,
    params: &SearchParams,
    of: &[PaneId],
    opts: &FusionOpts,
) -> Vec<f64> {
    if let Some(w) = &opts.weights {
        return w.clone();
    }
    let p = params;
    match opts.method.unwrap_or(p.fusion) {
        FusionMethod::Rrf => of
            .iter()
            .map(|&id| match panes.get(id).kind() {
                Kind::Dense => p.dense_weight,
                Kind::Bm25 => p.bm25_weight,
                _ => 1.0,
            })
            .collect(),
        FusionMethod::Convex if of.len() == 2 => {
            let alpha = opts.alpha.unwrap_or(p.alpha);
            vec![alpha, 1.0 - alpha]
        }
        FusionMethod::Convex => vec![1.0 / of.len() as f64; of.len()],
    }
}
