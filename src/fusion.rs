//! Fusing the dense and BM25 lists into one hybrid list, two ways:
//!
//! - reciprocal rank fusion (Cormack, Clarke & Buettcher, SIGIR 2009):
//!   score(d) = Σ over lists of w_list / (k + rank_d), ranks counted from 1;
//! - convex combination of normalised scores, as OpenSearch's normalization processor,
//!   Elasticsearch's linear retriever and Weaviate's relative-score fusion do it:
//!   fused(d) = alpha · norm(dense)(d) + (1 - alpha) · norm(bm25)(d) over the union of each
//!   list's top N, where a passage missing from a list takes that list's minimum normalised
//!   score. `norm` is min-max (default) or z-score (population standard deviation).
//!
//! Each fused hit keeps its rank in every input list, so the panes can show where it came from.
//! Ties are broken by the best rank in any list, then by item id: the fused order is a total,
//! deterministic order for any input.
use std::collections::HashMap;
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// RRF settings: `k`, how deep each list is read, and one weight per list.
#[derive(Debug, Clone, PartialEq)]
pub struct RrfParams {
    pub k: f64,
    /// Read at most this many hits of each list (N = 100 by default).
    pub depth: usize,
}

impl Default for RrfParams {
    fn default() -> Self {
        Self {
            k: 60.0,
            depth: 100,
        }
    }
}

/// A fused hit: the item, its RRF score, and its 1-based rank in each input list.
#[derive(Debug, Clone, PartialEq)]
pub struct Fused {
    pub item: usize,
    pub score: f64,
    pub ranks: Vec<Option<usize>>,
}

/// Fuses ranked lists of item ids (best first) with per-list weights. Ties are broken by the
/// best rank in any list, then by item id, so the order is deterministic.
pub fn rrf(lists: &[(&[usize], f64)], params: &RrfParams) -> Vec<Fused> {
    let mut fused: Vec<Fused> = Vec::new();
    let mut slot: std::collections::HashMap<usize, usize> = std::collections::HashMap::new();
    for (li, (list, weight)) in lists.iter().enumerate() {
        for (r, &item) in list.iter().take(params.depth).enumerate() {
            let rank = r + 1;
            let i = *slot.entry(item).or_insert_with(|| {
                fused.push(Fused {
                    item,
                    score: 0.0,
                    ranks: vec![None; lists.len()],
                });
                fused.len() - 1
            });
            // A list that names an item twice counts its best rank only.
            if fused[i].ranks[li].is_none() {
                fused[i].ranks[li] = Some(rank);
                fused[i].score += weight / (params.k + rank as f64);
            }
        }
    }
    sort_fused(&mut fused);
    fused
}

/// Best score first; ties by the best rank in any list, then by item id.
fn sort_fused(fused: &mut [Fused]) {
    let best = |f: &Fused| {
        f.ranks
            .iter()
            .flatten()
            .min()
            .copied()
            .unwrap_or(usize::MAX)
    };
    fused.sort_by(|a, b| {
        b.score
            .total_cmp(&a.score)
            .then(best(a).cmp(&best(b)))
            .then(a.item.cmp(&b.item))
    });
}

/// How each list's scores are put on one scale before the convex combination.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Norm {
    /// `(s - min) / (max - min)`; a list whose scores are all equal normalises to 1
    /// (OpenSearch's min-max technique does the same for a single hit).
    #[default]
    MinMax,
    /// `(s - mean) / std` with the population standard deviation (ddof = 0). A list with no
    /// spread (all scores equal, or one hit) normalises to 0: every score sits at the mean, so
    /// the list expresses no preference and adds the same amount to every passage.
    ZScore,
}

impl Norm {
    pub const ALL: [Norm; 2] = [Norm::MinMax, Norm::ZScore];

    pub fn name(self) -> &'static str {
        match self {
            Norm::MinMax => "minmax",
            Norm::ZScore => "zscore",
        }
    }

    /// Normalises `scores` in place.
    pub fn apply(self, scores: &mut [f64]) {
        if scores.is_empty() {
            return;
        }
        match self {
            Norm::MinMax => {
                let (lo, hi) = scores
                    .iter()
                    .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), &s| {
                        (lo.min(s), hi.max(s))
                    });
                let span = hi - lo;
                for s in scores.iter_mut() {
                    *s = if span > 0.0 { (*s - lo) / span } else { 1.0 };
                }
            }
            Norm::ZScore => {
                let n = scores.len() as f64;
                let mean = scores.iter().sum::<f64>() / n;
                let var = scores.iter().map(|s| (s - mean) * (s - mean)).sum::<f64>() / n;
                let std = var.sqrt();
                for s in scores.iter_mut() {
                    *s = if std > 0.0 { (*s - mean) / std } else { 0.0 };
                }
            }
        }
    }
}

impl fmt::Display for Norm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Norm {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "minmax" | "min-max" | "min_max" => Ok(Norm::MinMax),
            "zscore" | "z-score" | "z_score" => Ok(Norm::ZScore),
            other => Err(format!(
                "unknown normalisation `{other}` (choose minmax or zscore)"
            )),
        }
    }
}

/// Which fusion the hybrid pane runs.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FusionMethod {
    #[default]
    Rrf,
    Convex,
}

impl FusionMethod {
    pub fn name(self) -> &'static str {
        match self {
            FusionMethod::Rrf => "rrf",
            FusionMethod::Convex => "convex",
        }
    }
}

impl fmt::Display for FusionMethod {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for FusionMethod {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "rrf" => Ok(FusionMethod::Rrf),
            "convex" | "linear" => Ok(FusionMethod::Convex),
            other => Err(format!("unknown fusion `{other}` (choose rrf or convex)")),
        }
    }
}

/// One complete fusion setting: what the hybrid pane runs, what `bigyo tune` searches over
/// and what `bigyo tune --apply` writes (as JSON, tagged by `fusion`).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(tag = "fusion", rename_all = "lowercase", deny_unknown_fields)]
pub enum Fusion {
    /// Reciprocal rank fusion with per-list weights.
    Rrf {
        k: f64,
        depth: usize,
        dense_weight: f64,
        bm25_weight: f64,
    },
    /// `alpha · norm(dense) + (1 - alpha) · norm(bm25)`; `alpha` is the dense weight.
    Convex {
        alpha: f64,
        norm: Norm,
        depth: usize,
    },
}

impl Default for Fusion {
    fn default() -> Self {
        Fusion::Rrf {
            k: 60.0,
            depth: 100,
            dense_weight: 1.0,
            bm25_weight: 1.0,
        }
    }
}

impl Fusion {
    pub fn method(&self) -> FusionMethod {
        match self {
            Fusion::Rrf { .. } => FusionMethod::Rrf,
            Fusion::Convex { .. } => FusionMethod::Convex,
        }
    }

    /// How many hits of each list are read.
    pub fn depth(&self) -> usize {
        match *self {
            Fusion::Rrf { depth, .. } | Fusion::Convex { depth, .. } => depth,
        }
    }

    /// Fuses the dense and the BM25 list, each ranked best first as (item, score). A list that
    /// could not be had is `None`; the other is then fused alone. `Fused::ranks` is always
    /// `[dense rank, bm25 rank]`.
    pub fn fuse(
        &self,
        dense: Option<&[(usize, f64)]>,
        bm25: Option<&[(usize, f64)]>,
    ) -> Vec<Fused> {
        match *self {
            Fusion::Rrf {
                k,
                depth,
                dense_weight,
                bm25_weight,
            } => {
                let ids = |l: Option<&[(usize, f64)]>| -> Vec<usize> {
                    l.unwrap_or(&[]).iter().map(|&(p, _)| p).collect()
                };
                let (d, b) = (ids(dense), ids(bm25));
                rrf(
                    &[(&d, dense_weight), (&b, bm25_weight)],
                    &RrfParams { k, depth },
                )
            }
            Fusion::Convex { alpha, norm, depth } => convex(
                &[
                    (dense.unwrap_or(&[]), alpha),
                    (bm25.unwrap_or(&[]), 1.0 - alpha),
                ],
                norm,
                depth,
            ),
        }
    }

    /// Checks ranges; the message names the field.
    pub fn validate(&self) -> Result<(), String> {
        if self.depth() == 0 {
            return Err("depth must be at least 1".into());
        }
        match *self {
            Fusion::Rrf {
                k,
                dense_weight,
                bm25_weight,
                ..
            } => {
                for (name, v) in [
                    ("k", k),
                    ("dense_weight", dense_weight),
                    ("bm25_weight", bm25_weight),
                ] {
                    if !(v.is_finite() && v >= 0.0) {
                        return Err(format!("{name} must be a number >= 0, not {v}"));
                    }
                }
            }
            Fusion::Convex { alpha, .. } => {
                if !(alpha.is_finite() && (0.0..=1.0).contains(&alpha)) {
                    return Err(format!("alpha must be a number from 0 to 1, not {alpha}"));
                }
            }
        }
        Ok(())
    }

    /// A short description for status lines: `convex alpha=0.30 minmax`, `rrf k=60 w=1.0/1.0`.
    pub fn describe(&self) -> String {
        match *self {
            Fusion::Rrf {
                k,
                dense_weight,
                bm25_weight,
                ..
            } => format!("rrf k={k} dense_weight={dense_weight:.2} bm25_weight={bm25_weight:.2}"),
            Fusion::Convex { alpha, norm, .. } => format!("convex alpha={alpha:.2} {norm}"),
        }
    }
}

/// The top `depth` of a list as (item, score, 1-based rank); an item named again later keeps
/// its first (best) entry, and ranks count list positions, as RRF counts them.
fn read_list(list: &[(usize, f64)], depth: usize) -> Vec<(usize, f64, usize)> {
    let mut top: Vec<(usize, f64, usize)> = Vec::with_capacity(depth.min(list.len()));
    for (r, &(item, score)) in list.iter().take(depth).enumerate() {
        if !top.iter().any(|&(seen, _, _)| seen == item) {
            top.push((item, score, r + 1));
        }
    }
    top
}

/// One query's dense and BM25 lists read once for many fusion settings of one depth: the
/// union of their items with ranks, raw scores and both normalisations. [`Fusion::gold_rank`]
/// then ranks one item under a setting without building and sorting the fused list, with the
/// same arithmetic as [`Fusion::fuse`] (so the same rank, ties included).
#[derive(Debug, Clone)]
pub struct Prepared {
    depth: usize,
    items: Vec<PreparedItem>,
    /// Each list's minimum normalised score, per [`Norm::ALL`] entry: `mins[norm][list]`.
    mins: [[f64; 2]; 2],
}

#[derive(Debug, Clone)]
struct PreparedItem {
    item: usize,
    ranks: [Option<usize>; 2],
    /// `normed[norm][list]`.
    normed: [[Option<f64>; 2]; 2],
}

impl Prepared {
    pub fn new(dense: &[(usize, f64)], bm25: &[(usize, f64)], depth: usize) -> Self {
        let mut items: Vec<PreparedItem> = Vec::new();
        let mut slot: HashMap<usize, usize> = HashMap::new();
        let mut mins = [[0.0; 2]; 2];
        for (li, list) in [dense, bm25].into_iter().enumerate() {
            let top = read_list(list, depth);
            for (ni, norm) in Norm::ALL.into_iter().enumerate() {
                let mut scores: Vec<f64> = top.iter().map(|&(_, s, _)| s).collect();
                norm.apply(&mut scores);
                mins[ni][li] = scores.iter().copied().reduce(f64::min).unwrap_or(0.0);
                for (&(item, _, rank), &s) in top.iter().zip(&scores) {
                    let i = *slot.entry(item).or_insert_with(|| {
                        items.push(PreparedItem {
                            item,
                            ranks: [None; 2],
                            normed: [[None; 2]; 2],
                        });
                        items.len() - 1
                    });
                    items[i].ranks[li] = Some(rank);
                    items[i].normed[ni][li] = Some(s);
                }
            }
        }
        Self { depth, items, mins }
    }
}

impl Fusion {
    /// The 1-based rank `item` would have in `self.fuse(dense, bm25)` (both lists present),
    /// or `None` when it is in neither list. `prepared` must have been made with this
    /// setting's depth.
    pub fn gold_rank(&self, prepared: &Prepared, item: usize) -> Option<usize> {
        debug_assert_eq!(prepared.depth, self.depth());
        let score = |p: &PreparedItem| -> f64 {
            match *self {
                // Accumulated in list order from 0.0, as `rrf` does.
                Fusion::Rrf {
                    k,
                    dense_weight,
                    bm25_weight,
                    ..
                } => {
                    let mut s = 0.0;
                    for (rank, w) in p.ranks.iter().zip([dense_weight, bm25_weight]) {
                        if let Some(r) = rank {
                            s += w / (k + *r as f64);
                        }
                    }
                    s
                }
                // Summed in list order, then + 0.0, as `convex` does.
                Fusion::Convex { alpha, norm, .. } => {
                    let ni = usize::from(norm == Norm::ZScore);
                    let (normed, mins) = (&p.normed[ni], &prepared.mins[ni]);
                    [alpha, 1.0 - alpha]
                        .iter()
                        .zip(normed)
                        .zip(mins)
                        .map(|((w, s), min)| w * s.unwrap_or(*min))
                        .sum::<f64>()
                        + 0.0
                }
            }
        };
        let best = |p: &PreparedItem| {
            p.ranks
                .iter()
                .flatten()
                .min()
                .copied()
                .unwrap_or(usize::MAX)
        };
        let gold = prepared.items.iter().find(|p| p.item == item)?;
        let (gs, gb) = (score(gold), best(gold));
        let before = prepared
            .items
            .iter()
            .filter(|p| {
                p.item != item
                    && score(p)
                        .total_cmp(&gs)
                        .reverse()
                        .then(best(p).cmp(&gb))
                        .then(p.item.cmp(&item))
                        .is_lt()
            })
            .count();
        Some(before + 1)
    }
}

/// Convex combination of normalised scores: Σ over lists of `weight · norm(list)(item)`, over
/// the union of each list's top `depth`; an item missing from a list takes that list's minimum
/// normalised score (an empty list adds nothing). A list naming an item twice counts its first
/// (best) entry only.
pub fn convex(lists: &[(&[(usize, f64)], f64)], norm: Norm, depth: usize) -> Vec<Fused> {
    let mut fused: Vec<Fused> = Vec::new();
    let mut slot: HashMap<usize, usize> = HashMap::new();
    // Each item's normalised score in each list, and each list's minimum.
    let mut normed: Vec<Vec<Option<f64>>> = Vec::new();
    let mut mins: Vec<f64> = Vec::with_capacity(lists.len());
    for (li, (list, _)) in lists.iter().enumerate() {
        let top = read_list(list, depth);
        let mut scores: Vec<f64> = top.iter().map(|&(_, s, _)| s).collect();
        norm.apply(&mut scores);
        // An empty list has no minimum; it adds 0 to every item.
        mins.push(scores.iter().copied().reduce(f64::min).unwrap_or(0.0));
        for (&(item, _, rank), &s) in top.iter().zip(&scores) {
            let i = *slot.entry(item).or_insert_with(|| {
                fused.push(Fused {
                    item,
                    score: 0.0,
                    ranks: vec![None; lists.len()],
                });
                normed.push(vec![None; lists.len()]);
                fused.len() - 1
            });
            fused[i].ranks[li] = Some(rank);
            normed[i][li] = Some(s);
        }
    }
    // Summed in list order for every item, so equal inputs give bit-equal scores.
    for (f, per_list) in fused.iter_mut().zip(&normed) {
        f.score = lists
            .iter()
            .zip(per_list)
            .zip(&mins)
            .map(|(((_, w), s), min)| w * s.unwrap_or(*min))
            .sum::<f64>()
            // -0.0 (a zero weight times a negative z-score) would sort below +0.0.
            + 0.0;
    }
    sort_fused(&mut fused);
    fused
}

#[cfg(test)]
mod tests;
