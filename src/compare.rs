//! Comparing two methods question by question: wins, ties and losses by reciprocal rank@10,
//! and a paired randomization test on the per-question MRR@10 (as ranx reports it).
//!
//! The test (Fisher's randomization test, paired form): under the null hypothesis the two
//! methods are exchangeable on each question, so the sign of each per-question difference is
//! a coin flip. The statistic is the mean difference; the two-sided p-value is the share of
//! sign patterns whose mean difference is at least as far from 0 as the observed one. With
//! n questions and 2^n <= the permutation budget every pattern is enumerated (exact, as
//! `scipy.stats.permutation_test(..., permutation_type='samples')` does); otherwise the
//! budget's seeded random patterns are drawn and p = (hits + 1) / (draws + 1), scipy's
//! estimate for random resamples.
use serde::Serialize;

use crate::tune::splitmix64;

/// The test's name as the outputs print it.
pub const TEST_NAME: &str = "paired randomization test (two-sided, mean difference of RR@10)";
/// Permutations drawn when the exact enumeration is too large.
pub const PERMUTATIONS: usize = 10_000;
/// The seed of those permutations: the same inputs give the same p-value.
pub const SEED: u64 = 42;

/// Reciprocal rank with a cut-off at 10: 1/rank when the gold passage is in the top 10.
pub fn rr_at_10(rank: Option<usize>) -> f64 {
    match rank {
        Some(r) if (1..=10).contains(&r) => 1.0 / r as f64,
        _ => 0.0,
    }
}

/// Per-question outcomes of method A against method B.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct WinTieLoss {
    pub wins: usize,
    pub ties: usize,
    pub losses: usize,
}

/// Counts the questions where `a` scores higher, the same, or lower than `b`.
pub fn win_tie_loss(a: &[f64], b: &[f64]) -> WinTieLoss {
    let mut out = WinTieLoss::default();
    for (x, y) in a.iter().zip(b) {
        match x.total_cmp(y) {
            std::cmp::Ordering::Greater => out.wins += 1,
            std::cmp::Ordering::Equal => out.ties += 1,
            std::cmp::Ordering::Less => out.losses += 1,
        }
    }
    out
}

/// The paired randomization test's two-sided p-value for `a` against `b` (same length).
pub fn randomization_p(a: &[f64], b: &[f64], permutations: usize, seed: u64) -> f64 {
    let d: Vec<f64> = a.iter().zip(b).map(|(x, y)| x - y).collect();
    let n = d.len();
    if n == 0 {
        return 1.0;
    }
    let mean = |signs: &dyn Fn(usize) -> bool| -> f64 {
        d.iter()
            .enumerate()
            .map(|(i, x)| if signs(i) { -x } else { *x })
            .sum::<f64>()
            / n as f64
    };
    let observed = mean(&|_| false).abs();
    // Sums of the same terms in another order may differ in the last bits; a pattern whose
    // statistic equals the observed one up to that noise counts as "at least as extreme"
    // (scipy uses a relative tolerance the same way).
    let threshold = observed - observed * 1e-12;
    let extreme = |m: f64| m.abs() >= threshold;
    let exact = n < 63 && (1u64 << n) as u128 <= permutations as u128;
    if exact {
        let total = 1u64 << n;
        let hits = (0..total)
            .filter(|pattern| extreme(mean(&|i| pattern >> i & 1 == 1)))
            .count();
        return hits as f64 / total as f64;
    }
    let mut state = seed;
    let mut hits = 0usize;
    let mut flips = vec![false; n];
    for _ in 0..permutations {
        for chunk in flips.chunks_mut(64) {
            let bits = splitmix64(&mut state);
            for (j, f) in chunk.iter_mut().enumerate() {
                *f = bits >> j & 1 == 1;
            }
        }
        if extreme(mean(&|i| flips[i])) {
            hits += 1;
        }
    }
    (hits + 1) as f64 / (permutations + 1) as f64
}

/// One pair of methods compared on the same questions.
#[derive(Debug, Clone, Serialize)]
pub struct PairReport {
    pub a: String,
    pub b: String,
    /// Questions where `a`'s RR@10 is higher / equal / lower than `b`'s.
    #[serde(flatten)]
    pub outcome: WinTieLoss,
    /// MRR@10 of `a` minus that of `b`.
    pub mrr_diff: f64,
    pub p_value: f64,
}

/// Every pair of the given methods (in the order given), each with its own per-question RR@10.
pub fn pairs(methods: &[(&str, Vec<f64>)]) -> Vec<PairReport> {
    let mut out = Vec::new();
    for (i, (a, ra)) in methods.iter().enumerate() {
        for (b, rb) in &methods[i + 1..] {
            let n = ra.len().max(1) as f64;
            out.push(PairReport {
                a: a.to_string(),
                b: b.to_string(),
                outcome: win_tie_loss(ra, rb),
                mrr_diff: ra.iter().sum::<f64>() / n - rb.iter().sum::<f64>() / n,
                p_value: randomization_p(ra, rb, PERMUTATIONS, SEED),
            });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reciprocal_rank_is_cut_at_ten() {
        assert_eq!(rr_at_10(Some(1)), 1.0);
        assert_eq!(rr_at_10(Some(4)), 0.25);
        assert_eq!(rr_at_10(Some(11)), 0.0);
        assert_eq!(rr_at_10(None), 0.0);
    }

    #[test]
    fn wins_ties_and_losses_count_each_question_once() {
        let a = [1.0, 0.5, 0.0, 0.25];
        let b = [0.5, 0.5, 1.0, 0.0];
        assert_eq!(
            win_tie_loss(&a, &b),
            WinTieLoss {
                wins: 2,
                ties: 1,
                losses: 1
            }
        );
    }

    #[test]
    fn exact_p_value_by_hand() {
        // Differences 1, 1, 1: of the 8 sign patterns only +++ and --- reach |mean| = 1.
        assert_eq!(
            randomization_p(&[1.0, 1.0, 1.0], &[0.0, 0.0, 0.0], 10_000, 0),
            0.25
        );
        // Differences 1, 0.5: patterns give |mean| 0.75, 0.25, 0.25, 0.75: p = 2/4.
        assert_eq!(randomization_p(&[1.0, 0.5], &[0.0, 0.0], 10_000, 0), 0.5);
        // No difference at all: every pattern is as extreme.
        assert_eq!(randomization_p(&[0.5, 0.2], &[0.5, 0.2], 10_000, 0), 1.0);
        // Symmetric in the order of the methods.
        let a = [1.0, 0.5, 0.0, 1.0, 0.2];
        let b = [0.5, 0.5, 0.25, 0.0, 0.0];
        assert_eq!(
            randomization_p(&a, &b, 10_000, 0),
            randomization_p(&b, &a, 10_000, 0)
        );
    }

    #[test]
    fn random_p_value_is_seeded_and_near_the_exact_one() {
        // 16 questions: 65,536 patterns, so exact with a large budget, sampled with 10,000.
        let a: Vec<f64> = (0..16)
            .map(|i| if i % 3 == 0 { 1.0 } else { 0.5 })
            .collect();
        let b: Vec<f64> = (0..16)
            .map(|i| if i % 4 == 0 { 0.0 } else { 0.5 })
            .collect();
        let exact = randomization_p(&a, &b, 1 << 16, 0);
        let sampled = randomization_p(&a, &b, 10_000, 7);
        assert_eq!(sampled, randomization_p(&a, &b, 10_000, 7));
        // Binomial standard error at 10,000 draws is at most 0.005; allow 4 of them.
        assert!((exact - sampled).abs() < 0.02, "{exact} vs {sampled}");
    }
}
