//! Reciprocal rank fusion (Cormack, Clarke & Buettcher, SIGIR 2009):
//! score(d) = Σ over lists of w_list / (k + rank_d), ranks counted from 1.
//!
//! Each fused hit keeps its rank in every input list, so the panes can show where it came from.

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
    fused
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reference_worked_case() {
        // REFERENCE.md: lists [1,4,3,5,6] and [2,1,3,6,4], k = 5.
        let a = [1, 4, 3, 5, 6];
        let b = [2, 1, 3, 6, 4];
        let out = rrf(&[(&a, 1.0), (&b, 1.0)], &RrfParams { k: 5.0, depth: 100 });
        let want = [
            (1, 0.3095238),
            (3, 0.25),
            (4, 0.2428571),
            (6, 0.2111111),
            (2, 0.1666667),
            (5, 0.1111111),
        ];
        assert_eq!(out.len(), want.len());
        for (f, (item, score)) in out.iter().zip(want) {
            assert_eq!(f.item, item);
            assert!((f.score - score).abs() < 1e-7, "{item}: {}", f.score);
        }
        assert_eq!(out[0].ranks, vec![Some(1), Some(2)]);
        assert_eq!(out[4].ranks, vec![None, Some(1)]);
    }

    #[test]
    fn depth_and_weights_apply() {
        let a = [1, 2, 3];
        let b = [3, 2, 1];
        let out = rrf(&[(&a, 2.0), (&b, 1.0)], &RrfParams { k: 1.0, depth: 1 });
        assert_eq!(out.len(), 2);
        assert_eq!(out[0].item, 1);
        assert!((out[0].score - 1.0).abs() < 1e-12);
        assert!((out[1].score - 0.5).abs() < 1e-12);
        assert!(rrf(&[], &RrfParams::default()).is_empty());
    }
}
