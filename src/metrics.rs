//! Retrieval metrics, averaged over questions, in two flavours:
//! - one gold passage per question ([`MetricSums`]): recall@k (hit rate), MRR@10 and nDCG@10
//!   (binary relevance, so IDCG = 1);
//! - graded judgments ([`GradedSums`], pure functions [`ndcg_at`], [`mrr_at`], [`recall_at`],
//!   [`unjudged_at`]) with trec_eval's conventions: nDCG@k as `ndcg_cut.k` (gain = the grade,
//!   discount 1/log2(rank + 1), ideal DCG from all judged passages of the query sorted by
//!   grade, 0 when the query has no passage with a positive grade); MRR and recall count a
//!   passage as relevant when its grade >= the threshold (trec_eval's `-l`, default 1), and
//!   recall is 0 for a query without relevant passages, as trec_eval's `recall_k`.
use std::collections::HashMap;

use serde::Serialize;

/// The 1-based rank of `gold` in `ranked`, if present.
pub fn rank_of(ranked: &[usize], gold: usize) -> Option<usize> {
    ranked.iter().position(|&p| p == gold).map(|i| i + 1)
}

/// Running means of the metrics over questions.
#[derive(Debug, Clone, Default)]
pub struct MetricSums {
    pub questions: usize,
    r1: f64,
    r5: f64,
    r10: f64,
    mrr10: f64,
    ndcg10: f64,
}

/// The averages, as `bigyo eval --json` prints them.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Metrics {
    #[serde(rename = "recall@1")]
    pub recall_1: f64,
    #[serde(rename = "recall@5")]
    pub recall_5: f64,
    #[serde(rename = "recall@10")]
    pub recall_10: f64,
    #[serde(rename = "mrr@10")]
    pub mrr_10: f64,
    #[serde(rename = "ndcg@10")]
    pub ndcg_10: f64,
}

impl MetricSums {
    /// Adds one question whose gold passage sits at `rank` (1-based) or was not retrieved.
    pub fn add(&mut self, rank: Option<usize>) {
        self.questions += 1;
        let Some(r) = rank else {
            return;
        };
        let within = |k: usize| if r <= k { 1.0 } else { 0.0 };
        self.r1 += within(1);
        self.r5 += within(5);
        self.r10 += within(10);
        if r <= 10 {
            self.mrr10 += 1.0 / r as f64;
            self.ndcg10 += 1.0 / ((r + 1) as f64).log2();
        }
    }

    pub fn mean(&self) -> Metrics {
        let n = self.questions.max(1) as f64;
        Metrics {
            recall_1: self.r1 / n,
            recall_5: self.r5 / n,
            recall_10: self.r10 / n,
            mrr_10: self.mrr10 / n,
            ndcg_10: self.ndcg10 / n,
        }
    }
}

/// How a grade becomes a gain in nDCG.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Gain {
    /// gain = grade (trec_eval's `ndcg_cut`, pytrec_eval).
    #[default]
    Linear,
    /// gain = 2^grade - 1 (Burges et al. 2005; ranx's `ndcg_burges`).
    Exp,
}

impl Gain {
    pub fn name(self) -> &'static str {
        match self {
            Self::Linear => "linear",
            Self::Exp => "exp",
        }
    }

    pub fn of(self, grade: u32) -> f64 {
        match self {
            Self::Linear => grade as f64,
            Self::Exp => 2f64.powi(grade.min(1000) as i32) - 1.0,
        }
    }
}

/// Judged passages of one query: passage index -> grade.
pub type Grades = HashMap<usize, u32>;

/// nDCG@k of `ranked` (best first): DCG of the top k over the ideal DCG of the top k of all
/// judged passages sorted by gain; 0 when no judged passage has a positive gain.
pub fn ndcg_at(ranked: &[usize], grades: &Grades, k: usize, gain: Gain) -> f64 {
    let discount = |i: usize| 1.0 / ((i + 2) as f64).log2();
    let dcg: f64 = ranked
        .iter()
        .take(k)
        .enumerate()
        .map(|(i, p)| grades.get(p).map_or(0.0, |&g| gain.of(g)) * discount(i))
        .sum();
    let mut ideal: Vec<f64> = grades.values().map(|&g| gain.of(g)).collect();
    ideal.sort_by(|a, b| b.total_cmp(a));
    let idcg: f64 = ideal
        .iter()
        .take(k)
        .enumerate()
        .map(|(i, g)| g * discount(i))
        .sum();
    if idcg > 0.0 {
        dcg / idcg
    } else {
        0.0
    }
}

/// 1 / rank of the first passage in the top k with grade >= `threshold`, else 0.
pub fn mrr_at(ranked: &[usize], grades: &Grades, k: usize, threshold: u32) -> f64 {
    ranked
        .iter()
        .take(k)
        .position(|p| grades.get(p).is_some_and(|&g| g >= threshold))
        .map_or(0.0, |i| 1.0 / (i + 1) as f64)
}

/// The share of the query's passages with grade >= `threshold` found in the top k; 0 when it
/// has none.
pub fn recall_at(ranked: &[usize], grades: &Grades, k: usize, threshold: u32) -> f64 {
    let relevant = grades.values().filter(|&&g| g >= threshold).count();
    if relevant == 0 {
        return 0.0;
    }
    let found = ranked
        .iter()
        .take(k)
        .filter(|p| grades.get(p).is_some_and(|&g| g >= threshold))
        .count();
    found as f64 / relevant as f64
}

/// How many of the top k hits have no judgment at all.
pub fn unjudged_at(ranked: &[usize], grades: &Grades, k: usize) -> usize {
    ranked
        .iter()
        .take(k)
        .filter(|p| !grades.contains_key(p))
        .count()
}

/// Running sums of the graded metrics over queries.
#[derive(Debug, Clone, Default)]
pub struct GradedSums {
    pub queries: usize,
    r1: f64,
    r5: f64,
    r10: f64,
    mrr10: f64,
    ndcg10: f64,
    unjudged10: f64,
    judged10: f64,
}

/// The averages over judged queries, as `bigyo eval --json` prints them on graded labels.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct GradedMetrics {
    #[serde(rename = "recall@1")]
    pub recall_1: f64,
    #[serde(rename = "recall@5")]
    pub recall_5: f64,
    #[serde(rename = "recall@10")]
    pub recall_10: f64,
    #[serde(rename = "mrr@10")]
    pub mrr_10: f64,
    #[serde(rename = "ndcg@10")]
    pub ndcg_10: f64,
    /// Mean number of unjudged hits in the top 10.
    #[serde(rename = "unjudged@10")]
    pub unjudged_10: f64,
    /// Mean share of the top-10 hits that are judged (over the hits there, up to 10).
    #[serde(rename = "judged@10")]
    pub judged_10: f64,
}

impl GradedSums {
    /// Adds one query's ranking.
    pub fn add(&mut self, ranked: &[usize], grades: &Grades, gain: Gain, threshold: u32) {
        self.queries += 1;
        self.r1 += recall_at(ranked, grades, 1, threshold);
        self.r5 += recall_at(ranked, grades, 5, threshold);
        self.r10 += recall_at(ranked, grades, 10, threshold);
        self.mrr10 += mrr_at(ranked, grades, 10, threshold);
        self.ndcg10 += ndcg_at(ranked, grades, 10, gain);
        let unjudged = unjudged_at(ranked, grades, 10);
        self.unjudged10 += unjudged as f64;
        let shown = ranked.len().min(10);
        if shown > 0 {
            self.judged10 += (shown - unjudged) as f64 / shown as f64;
        }
    }

    pub fn mean(&self) -> GradedMetrics {
        let n = self.queries.max(1) as f64;
        GradedMetrics {
            recall_1: self.r1 / n,
            recall_5: self.r5 / n,
            recall_10: self.r10 / n,
            mrr_10: self.mrr10 / n,
            ndcg_10: self.ndcg10 / n,
            unjudged_10: self.unjudged10 / n,
            judged_10: self.judged10 / n,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn grades(pairs: &[(usize, u32)]) -> Grades {
        pairs.iter().copied().collect()
    }

    #[test]
    fn graded_ndcg_matches_a_hand_computation() {
        // Judged: 1 -> 3, 2 -> 2, 3 -> 0, 4 -> 1; ranking 2, 9 (unjudged), 1, 3.
        let g = grades(&[(1, 3), (2, 2), (3, 0), (4, 1)]);
        let ranked = [2, 9, 1, 3];
        let l2 = |x: f64| x.log2();
        let dcg = 2.0 / l2(2.0) + 3.0 / l2(4.0);
        let idcg = 3.0 / l2(2.0) + 2.0 / l2(3.0) + 1.0 / l2(4.0);
        assert!((ndcg_at(&ranked, &g, 10, Gain::Linear) - dcg / idcg).abs() < 1e-12);
        let dcg = 3.0 / l2(2.0) + 7.0 / l2(4.0);
        let idcg = 7.0 / l2(2.0) + 3.0 / l2(3.0) + 1.0 / l2(4.0);
        assert!((ndcg_at(&ranked, &g, 10, Gain::Exp) - dcg / idcg).abs() < 1e-12);
        // The cut applies to the ideal too: @1 is 2/3 with linear gains.
        assert!((ndcg_at(&ranked, &g, 1, Gain::Linear) - 2.0 / 3.0).abs() < 1e-12);
        // The perfect order scores 1; no positive grade scores 0.
        assert!((ndcg_at(&[1, 2, 4], &g, 10, Gain::Linear) - 1.0).abs() < 1e-12);
        assert_eq!(ndcg_at(&[3], &grades(&[(3, 0)]), 10, Gain::Linear), 0.0);
        // With 0/1 labels both gains agree.
        let b = grades(&[(5, 1), (6, 1)]);
        let r = [7, 5, 8, 6];
        assert!((ndcg_at(&r, &b, 10, Gain::Linear) - ndcg_at(&r, &b, 10, Gain::Exp)).abs() < 1e-15);
    }

    #[test]
    fn graded_mrr_recall_and_unjudged_use_the_threshold() {
        let g = grades(&[(1, 3), (2, 1), (3, 0)]);
        let ranked = [3, 2, 8, 1];
        assert_eq!(mrr_at(&ranked, &g, 10, 1), 0.5);
        assert_eq!(mrr_at(&ranked, &g, 10, 2), 0.25);
        assert_eq!(mrr_at(&ranked, &g, 3, 2), 0.0);
        assert_eq!(recall_at(&ranked, &g, 2, 1), 0.5);
        assert_eq!(recall_at(&ranked, &g, 10, 1), 1.0);
        assert_eq!(recall_at(&ranked, &g, 3, 2), 0.0);
        assert_eq!(recall_at(&ranked, &grades(&[(3, 0)]), 10, 1), 0.0);
        assert_eq!(unjudged_at(&ranked, &g, 10), 1);
        assert_eq!(unjudged_at(&ranked, &g, 2), 0);
        let mut s = GradedSums::default();
        s.add(&ranked, &g, Gain::Linear, 1);
        s.add(&[9, 8], &g, Gain::Linear, 1);
        let m = s.mean();
        assert_eq!(s.queries, 2);
        assert!((m.mrr_10 - 0.25).abs() < 1e-12);
        assert!((m.unjudged_10 - 1.5).abs() < 1e-12);
        // 3 of 4 judged, then 0 of 2.
        assert!((m.judged_10 - 0.375).abs() < 1e-12);
    }

    #[test]
    fn hand_computed_means() {
        // Gold at ranks 1, 3, 7, 12 and missing.
        let mut m = MetricSums::default();
        for r in [Some(1), Some(3), Some(7), Some(12), None] {
            m.add(r);
        }
        let got = m.mean();
        assert_eq!(m.questions, 5);
        assert!((got.recall_1 - 0.2).abs() < 1e-12);
        assert!((got.recall_5 - 0.4).abs() < 1e-12);
        assert!((got.recall_10 - 0.6).abs() < 1e-12);
        let mrr = (1.0 + 1.0 / 3.0 + 1.0 / 7.0) / 5.0;
        assert!((got.mrr_10 - mrr).abs() < 1e-12);
        // 1/log2(2) + 1/log2(4) + 1/log2(8) = 1 + 0.5 + 1/3.
        let ndcg = (1.0 + 0.5 + 1.0 / 3.0) / 5.0;
        assert!((got.ndcg_10 - ndcg).abs() < 1e-12);
    }

    #[test]
    fn rank_of_is_one_based() {
        assert_eq!(rank_of(&[4, 2, 9], 9), Some(3));
        assert_eq!(rank_of(&[4, 2, 9], 1), None);
        assert_eq!(MetricSums::default().mean().recall_1, 0.0);
    }
}
