//! Length-sorted, token-budgeted batching: padding costs compute, so inputs of similar
//! length run together and each batch is padded only to its own longest row.

/// Limits for one forward pass.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BatchOptions {
    /// Upper bound on `rows * longest_row` (padded tokens) per batch.
    pub max_tokens: usize,
    /// Upper bound on rows per batch.
    pub max_rows: usize,
}

impl Default for BatchOptions {
    fn default() -> Self {
        Self {
            max_tokens: 2048,
            max_rows: 128,
        }
    }
}

/// Groups input indices into batches, longest inputs first. Every index appears exactly once;
/// an input longer than the budget still gets a batch of its own.
pub fn plan_batches(lengths: &[usize], opts: BatchOptions) -> Vec<Vec<usize>> {
    let mut order: Vec<usize> = (0..lengths.len()).collect();
    // Stable sort: equal lengths keep input order, so results are deterministic.
    order.sort_by(|&a, &b| lengths[b].cmp(&lengths[a]));
    let mut batches = Vec::new();
    let mut current: Vec<usize> = Vec::new();
    let mut longest = 0;
    for i in order {
        let len = lengths[i].max(1);
        let grown_longest = longest.max(len);
        let fits = current.len() < opts.max_rows.max(1)
            && (current.len() + 1) * grown_longest <= opts.max_tokens.max(1);
        if !current.is_empty() && !fits {
            batches.push(std::mem::take(&mut current));
            longest = 0;
        }
        longest = longest.max(len);
        current.push(i);
    }
    if !current.is_empty() {
        batches.push(current);
    }
    batches
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batches_hold_similar_lengths_within_the_token_budget() {
        let lengths = [5, 100, 7, 98, 6, 50];
        let batches = plan_batches(
            &lengths,
            BatchOptions {
                max_tokens: 200,
                max_rows: 10,
            },
        );
        assert_eq!(batches, vec![vec![1, 3], vec![5, 2, 4, 0]]);
        for batch in &batches {
            let longest = batch.iter().map(|&i| lengths[i]).max().unwrap();
            assert!(batch.len() * longest <= 200);
        }
    }

    #[test]
    fn every_input_is_planned_once_even_when_longer_than_the_budget() {
        let lengths = [300, 1, 2, 3];
        let batches = plan_batches(
            &lengths,
            BatchOptions {
                max_tokens: 100,
                max_rows: 2,
            },
        );
        let mut seen: Vec<usize> = batches.concat();
        seen.sort();
        assert_eq!(seen, vec![0, 1, 2, 3]);
        assert_eq!(batches[0], vec![0]);
        assert!(batches.iter().all(|b| b.len() <= 2));
    }

    #[test]
    fn no_inputs_means_no_batches() {
        assert!(plan_batches(&[], BatchOptions::default()).is_empty());
    }
}
