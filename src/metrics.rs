//! Retrieval metrics for one gold passage per question: recall@k (hit rate), MRR@10 and
//! nDCG@10 (binary relevance, so IDCG = 1), averaged over questions.
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

#[cfg(test)]
mod tests {
    use super::*;

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
