//! Searching fusion settings on labelled questions without fooling oneself: each question's
//! dense and BM25 lists are retrieved once, every setting of a grid is evaluated on those
//! cached lists, the best is chosen on one part of the questions (MRR@10) and reported on the
//! other part, next to BM25 and dense alone on that same part.
//!
//! Splits are seeded and reproducible: a Fisher-Yates shuffle driven by splitmix64
//! (Steele, Lea & Flood 2014), so a seed gives the same split on every platform.
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::fusion::{Fusion, Norm, Prepared};
use crate::metrics::{rank_of, MetricSums, Metrics};

/// Why a tuning run cannot go ahead; the message names the setting ([`TuneError::setting`]).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum TuneError {
    #[error("split ratio must be between 0 and 1 (the tuning share), not {0}")]
    Ratio(f64),
    #[error("folds must be at least 2, not {0}")]
    TooFewFolds(usize),
    #[error("folds {folds} is more than the {questions} questions")]
    Folds { folds: usize, questions: usize },
    #[error("tuning needs at least 2 questions with a gold passage, found {0}")]
    TooFew(usize),
    #[error("the grid of fusion settings is empty")]
    EmptyGrid,
}

impl TuneError {
    /// The setting the message starts with, if any.
    pub fn setting(&self) -> Option<crate::options::Setting> {
        use crate::options::Setting;
        match self {
            Self::Ratio(_) => Some(Setting::SplitRatio),
            Self::TooFewFolds(_) | Self::Folds { .. } => Some(Setting::Folds),
            Self::TooFew(_) | Self::EmptyGrid => None,
        }
    }
}

/// A run its caller stopped (through `progress`) before the last question: an evaluation
/// or the fusion lab's retrieval.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("stopped before the last question")]
pub struct Stopped;

/// One question's cached lists, best first, as (passage, score), and its gold passage.
#[derive(Debug, Clone, PartialEq)]
pub struct QueryLists {
    pub gold: usize,
    pub dense: Vec<(usize, f64)>,
    pub bm25: Vec<(usize, f64)>,
}

/// How the questions are divided.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum Split {
    /// `ratio` of the questions tune, the rest are held out.
    Holdout { ratio: f64, seed: u64 },
    /// K folds: each fold is held out once while the others tune (its own choice per fold).
    Folds { folds: usize, seed: u64 },
}

impl Split {
    /// Checks what can be checked before the questions are known.
    pub fn validate(&self) -> Result<(), TuneError> {
        match *self {
            Split::Holdout { ratio, .. } if !(ratio.is_finite() && ratio > 0.0 && ratio < 1.0) => {
                Err(TuneError::Ratio(ratio))
            }
            Split::Folds { folds, .. } if folds < 2 => Err(TuneError::TooFewFolds(folds)),
            _ => Ok(()),
        }
    }
}

/// splitmix64: one step of the generator, returning the next 64 random bits.
pub fn splitmix64(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// A uniform draw from `0..n` (n > 0), rejection-sampled so that no value is favoured.
fn below(state: &mut u64, n: u64) -> u64 {
    let zone = u64::MAX - u64::MAX % n;
    loop {
        let x = splitmix64(state);
        if x < zone {
            return x % n;
        }
    }
}

/// `0..n` in an order fixed by `seed` (Fisher-Yates).
pub fn shuffled(n: usize, seed: u64) -> Vec<usize> {
    let mut order: Vec<usize> = (0..n).collect();
    let mut state = seed;
    for i in (1..n).rev() {
        let j = below(&mut state, i as u64 + 1) as usize;
        order.swap(i, j);
    }
    order
}

/// Divides `0..n` into (tuning, held-out) parts: `round(n * ratio)` tune, clamped so that both
/// parts keep at least one question. Each part is sorted.
pub fn holdout(n: usize, ratio: f64, seed: u64) -> Result<(Vec<usize>, Vec<usize>), TuneError> {
    if !(ratio.is_finite() && ratio > 0.0 && ratio < 1.0) {
        return Err(TuneError::Ratio(ratio));
    }
    if n < 2 {
        return Err(TuneError::TooFew(n));
    }
    let cut = ((n as f64 * ratio).round() as usize).clamp(1, n - 1);
    let order = shuffled(n, seed);
    let mut tune = order[..cut].to_vec();
    let mut test = order[cut..].to_vec();
    tune.sort_unstable();
    test.sort_unstable();
    Ok((tune, test))
}

/// Divides `0..n` into `k` folds of sizes differing by at most one; each sorted.
pub fn folds(n: usize, k: usize, seed: u64) -> Result<Vec<Vec<usize>>, TuneError> {
    if n < 2 {
        return Err(TuneError::TooFew(n));
    }
    if k < 2 {
        return Err(TuneError::TooFewFolds(k));
    }
    if k > n {
        return Err(TuneError::Folds {
            folds: k,
            questions: n,
        });
    }
    let order = shuffled(n, seed);
    Ok((0..k)
        .map(|f| {
            let mut fold = order[f * n / k..(f + 1) * n / k].to_vec();
            fold.sort_unstable();
            fold
        })
        .collect())
}

/// The settings `bigyo tune` searches, in the order ties are broken (earlier wins):
/// RRF with k in {1, 2, 5, 10, 20, 40, 60, 80, 100, 200} and dense weight 0, 0.1 .. 1
/// (BM25 weight = 1 - dense weight; RRF only depends on their ratio), then convex with
/// alpha 0, 0.05 .. 1 under min-max, then under z-score. All read `depth` hits of each list.
pub fn grid(depth: usize) -> Vec<Fusion> {
    let mut out = Vec::new();
    for k in [1.0, 2.0, 5.0, 10.0, 20.0, 40.0, 60.0, 80.0, 100.0, 200.0] {
        for w in 0..=10 {
            let w = w as f64 / 10.0;
            out.push(Fusion::Rrf {
                k,
                depth,
                dense_weight: w,
                bm25_weight: 1.0 - w,
            });
        }
    }
    for norm in Norm::ALL {
        for a in 0..=20 {
            out.push(Fusion::Convex {
                alpha: a as f64 / 20.0,
                norm,
                depth,
            });
        }
    }
    out
}

/// The gold passage's rank under each setting, for each question: `ranks[setting][question]`.
/// Settings are shared out over the available cores; the result does not depend on how.
pub fn rank_table(settings: &[Fusion], queries: &[QueryLists]) -> Vec<Vec<Option<usize>>> {
    // Each query's lists are read and normalised once per depth, not once per setting.
    let mut depths: Vec<usize> = settings.iter().map(Fusion::depth).collect();
    depths.sort_unstable();
    depths.dedup();
    let prepared: Vec<Vec<Prepared>> = depths
        .iter()
        .map(|&d| {
            queries
                .iter()
                .map(|q| Prepared::new(&q.dense, &q.bm25, d))
                .collect()
        })
        .collect();
    let prepared = &prepared;
    let depths = &depths;
    let ranks_for = move |f: &Fusion| -> Vec<Option<usize>> {
        let at = depths.iter().position(|&d| d == f.depth()).unwrap_or(0);
        queries
            .iter()
            .zip(&prepared[at])
            .map(|(q, p)| f.gold_rank(p, q.gold))
            .collect()
    };
    let threads = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
        .min(settings.len().max(1));
    if threads <= 1 {
        return settings.iter().map(ranks_for).collect();
    }
    let chunk = settings.len().div_ceil(threads);
    std::thread::scope(|s| {
        let handles: Vec<_> = settings
            .chunks(chunk)
            .map(|part| s.spawn(move || part.iter().map(ranks_for).collect::<Vec<_>>()))
            .collect();
        handles
            .into_iter()
            .flat_map(|h| match h.join() {
                Ok(rows) => rows,
                // A panic in a scoped thread is a bug; re-raise it rather than hide it.
                Err(e) => std::panic::resume_unwind(e),
            })
            .collect()
    })
}

/// Mean metrics over the questions `idx` of one rank row.
pub fn metrics_on(ranks: &[Option<usize>], idx: &[usize]) -> Metrics {
    let mut sums = MetricSums::default();
    for &i in idx {
        sums.add(ranks[i]);
    }
    sums.mean()
}

/// The setting with the best MRR@10 on `idx`; ties go to the earlier setting in grid order.
pub fn choose(table: &[Vec<Option<usize>>], idx: &[usize]) -> Option<usize> {
    let mut best: Option<(usize, f64)> = None;
    for (s, ranks) in table.iter().enumerate() {
        let mrr = metrics_on(ranks, idx).mrr_10;
        if best.is_none_or(|(_, b)| mrr > b) {
            best = Some((s, mrr));
        }
    }
    best.map(|(s, _)| s)
}

/// Each question's dense and BM25 lists, `depth` deep, retrieved once: the questions are
/// encoded by `encode` (all at once or in chunks, as the caller likes), then searched.
/// `progress(done, total)` after each question (breaking stops with [`Stopped`]).
pub fn query_lists(
    questions: &[(&str, usize)],
    encode: &mut dyn FnMut(&[&str]) -> anyhow::Result<crate::model::Embeddings>,
    index: &crate::dense::DenseIndex,
    bm25: &crate::bm25::Bm25Index,
    depth: usize,
    progress: &mut dyn FnMut(usize, usize) -> std::ops::ControlFlow<()>,
) -> anyhow::Result<Vec<QueryLists>> {
    let texts: Vec<&str> = questions.iter().map(|&(t, _)| t).collect();
    let vectors = encode(&texts)?;
    let mut out = Vec::with_capacity(questions.len());
    for (i, &(text, gold)) in questions.iter().enumerate() {
        let dense = index.search(vectors.row(i), depth)?;
        let sparse = bm25.search(text, depth)?;
        out.push(QueryLists {
            gold,
            dense: dense
                .into_iter()
                .map(|h| (h.passage, h.score as f64))
                .collect(),
            bm25: sparse
                .into_iter()
                .map(|h| (h.passage, h.score as f64))
                .collect(),
        });
        if progress(i + 1, questions.len()).is_break() {
            return Err(Stopped.into());
        }
    }
    Ok(out)
}

/// BM25 and dense alone on the questions `idx` (the held-out part in a report, the tuning
/// part for the fusion lab's reference lines).
pub fn baselines_on(queries: &[QueryLists], idx: &[usize]) -> Baselines {
    let dense: Vec<Option<usize>> = queries.iter().map(|q| rank_in(&q.dense, q.gold)).collect();
    let bm25: Vec<Option<usize>> = queries.iter().map(|q| rank_in(&q.bm25, q.gold)).collect();
    Baselines {
        bm25: metrics_on(&bm25, idx),
        dense: metrics_on(&dense, idx),
    }
}

/// A setting with its metrics.
#[derive(Debug, Clone, Serialize)]
pub struct Scored {
    #[serde(flatten)]
    pub fusion: Fusion,
    /// On the tuning part (k-fold: on all questions).
    pub tune: Metrics,
}

/// The chosen setting and what it scores on questions it was not chosen on.
#[derive(Debug, Clone, Serialize)]
pub struct Best {
    #[serde(flatten)]
    pub fusion: Fusion,
    /// On the questions it was chosen on: for reference only, never its result.
    pub tune: Metrics,
    /// On the held-out questions (k-fold: each fold scored by the setting chosen without it).
    pub test: Metrics,
    pub split: SplitReport,
}

#[derive(Debug, Clone, Serialize)]
pub struct SplitReport {
    #[serde(flatten)]
    pub split: Split,
    pub questions: usize,
    pub tune_questions: usize,
    pub test_questions: usize,
    /// K-fold: the setting each fold was scored with, chosen on the other folds.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub folds: Vec<FoldReport>,
}

#[derive(Debug, Clone, Serialize)]
pub struct FoldReport {
    #[serde(flatten)]
    pub fusion: Fusion,
    pub test_questions: usize,
    pub test: Metrics,
}

/// BM25 and dense alone on the same held-out questions.
#[derive(Debug, Clone, Serialize)]
pub struct Baselines {
    pub bm25: Metrics,
    pub dense: Metrics,
}

/// What `bigyo tune --json` prints.
#[derive(Debug, Clone, Serialize)]
pub struct TuneReport {
    pub best: Best,
    pub baselines: Baselines,
    pub grid: Vec<Scored>,
}

/// Runs the search: one rank table over all questions, then the split decides which
/// questions choose and which report.
pub fn tune(
    queries: &[QueryLists],
    settings: &[Fusion],
    split: Split,
) -> Result<TuneReport, TuneError> {
    let n = queries.len();
    if settings.is_empty() {
        return Err(TuneError::EmptyGrid);
    }
    let table = rank_table(settings, queries);
    let all: Vec<usize> = (0..n).collect();
    let (chosen, tune_idx, test_idx, test, fold_reports) = match split {
        Split::Holdout { ratio, seed } => {
            let (tune_idx, test_idx) = holdout(n, ratio, seed)?;
            let s = choose(&table, &tune_idx).ok_or(TuneError::EmptyGrid)?;
            let test = metrics_on(&table[s], &test_idx);
            (s, tune_idx, test_idx, test, Vec::new())
        }
        Split::Folds { folds: k, seed } => {
            let parts = folds(n, k, seed)?;
            // Each question's rank under the setting chosen without its fold.
            let mut pooled = vec![None; n];
            let mut reports = Vec::new();
            for (f, held) in parts.iter().enumerate() {
                let rest: Vec<usize> = parts
                    .iter()
                    .enumerate()
                    .filter(|&(g, _)| g != f)
                    .flat_map(|(_, p)| p.iter().copied())
                    .collect();
                let s = choose(&table, &rest).ok_or(TuneError::EmptyGrid)?;
                for &i in held {
                    pooled[i] = table[s][i];
                }
                reports.push(FoldReport {
                    fusion: settings[s],
                    test_questions: held.len(),
                    test: metrics_on(&table[s], held),
                });
            }
            // What --apply writes: the choice on every question.
            let s = choose(&table, &all).ok_or(TuneError::EmptyGrid)?;
            (
                s,
                all.clone(),
                all.clone(),
                metrics_on(&pooled, &all),
                reports,
            )
        }
    };
    Ok(TuneReport {
        best: Best {
            fusion: settings[chosen],
            tune: metrics_on(&table[chosen], &tune_idx),
            test,
            split: SplitReport {
                split,
                questions: n,
                tune_questions: tune_idx.len(),
                test_questions: test_idx.len(),
                folds: fold_reports,
            },
        },
        baselines: baselines_on(queries, &test_idx),
        grid: settings
            .iter()
            .zip(&table)
            .map(|(f, ranks)| Scored {
                fusion: *f,
                tune: metrics_on(ranks, &tune_idx),
            })
            .collect(),
    })
}

/// A saved fusion setting that cannot be used; the message names the file.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("reading {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path} is not a fusion setting: {message}")]
    Invalid { path: PathBuf, message: String },
    #[error("writing {path}: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// Where `bigyo tune --apply` writes and later runs look: `<config dir>/fusion.json`.
pub fn default_config_file() -> PathBuf {
    crate::paths::config_dir().join("fusion.json")
}

/// Reads a saved setting; `Ok(None)` when the file does not exist.
pub fn load_setting(path: &Path) -> Result<Option<Fusion>, ConfigError> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(source) => {
            return Err(ConfigError::Read {
                path: path.to_owned(),
                source,
            })
        }
    };
    let invalid = |message: String| ConfigError::Invalid {
        path: path.to_owned(),
        message,
    };
    let fusion: Fusion = serde_json::from_str(&text).map_err(|e| invalid(e.to_string()))?;
    fusion.validate().map_err(invalid)?;
    Ok(Some(fusion))
}

/// Writes `fusion` as one JSON object (creating the directory).
pub fn save_setting(path: &Path, fusion: &Fusion) -> Result<(), ConfigError> {
    let write = |source| ConfigError::Write {
        path: path.to_owned(),
        source,
    };
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(write)?;
    }
    let text = serde_json::to_string_pretty(fusion).map_err(|e| write(e.into()))?;
    std::fs::write(path, text + "\n").map_err(write)
}

fn rank_in(list: &[(usize, f64)], gold: usize) -> Option<usize> {
    let ids: Vec<usize> = list.iter().map(|&(p, _)| p).collect();
    rank_of(&ids, gold)
}

/// The held-out metrics of one fixed setting (e.g. bigyo's default RRF) on the split's
/// held-out part, for comparison in the text report.
pub fn held_out(
    queries: &[QueryLists],
    fusion: &Fusion,
    split: Split,
) -> Result<Metrics, TuneError> {
    let idx = match split {
        Split::Holdout { ratio, seed } => holdout(queries.len(), ratio, seed)?.1,
        Split::Folds { folds: k, seed } => {
            folds(queries.len(), k, seed)?;
            (0..queries.len()).collect()
        }
    };
    let table = rank_table(std::slice::from_ref(fusion), queries);
    Ok(metrics_on(&table[0], &idx))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn splitmix64_matches_the_reference_sequence() {
        // The first outputs for seed 0 of the reference C implementation (Vigna).
        let mut s = 0u64;
        assert_eq!(splitmix64(&mut s), 0xE220_A839_7B1D_CDAF);
        assert_eq!(splitmix64(&mut s), 0x6E78_9E6A_A1B9_65F4);
        assert_eq!(splitmix64(&mut s), 0x06C4_5D18_8009_454F);
    }

    #[test]
    fn a_seed_fixes_the_split_and_another_changes_it() {
        let a = holdout(100, 0.5, 7).unwrap();
        assert_eq!(a, holdout(100, 0.5, 7).unwrap());
        assert_ne!(a, holdout(100, 0.5, 8).unwrap());
        assert_eq!(a.0.len(), 50);
        assert_eq!(holdout(3, 0.01, 1).unwrap().0.len(), 1);
        assert_eq!(holdout(3, 0.99, 1).unwrap().1.len(), 1);
        assert!(matches!(holdout(10, 1.0, 1), Err(TuneError::Ratio(_))));
        assert!(matches!(holdout(1, 0.5, 1), Err(TuneError::TooFew(1))));
        assert!(folds(10, 1, 1)
            .unwrap_err()
            .to_string()
            .starts_with("folds"));
        assert!(folds(3, 4, 1).is_err());
    }

    proptest! {
        #[test]
        fn holdout_parts_never_share_a_question(
            n in 2usize..400, ratio in 0.001f64..0.999, seed in any::<u64>()
        ) {
            let (tune, test) = holdout(n, ratio, seed).unwrap();
            prop_assert!(!tune.is_empty() && !test.is_empty());
            prop_assert!(tune.iter().all(|i| test.binary_search(i).is_err()));
            let mut all: Vec<usize> = tune.iter().chain(&test).copied().collect();
            all.sort_unstable();
            prop_assert_eq!(all, (0..n).collect::<Vec<_>>());
        }

        #[test]
        fn folds_cover_every_question_exactly_once(
            n in 2usize..400, k in 2usize..12, seed in any::<u64>()
        ) {
            prop_assume!(k <= n);
            let parts = folds(n, k, seed).unwrap();
            prop_assert_eq!(parts.len(), k);
            let mut seen = vec![0u32; n];
            for p in &parts {
                prop_assert!(p.len() == n / k || p.len() == n / k + 1);
                for &i in p {
                    seen[i] += 1;
                }
            }
            prop_assert!(seen.iter().all(|&c| c == 1));
        }
    }

    /// Questions where dense finds the gold and BM25 does not, and the other way round.
    fn queries() -> Vec<QueryLists> {
        let mut out = Vec::new();
        for i in 0..20 {
            let (dense, bm25) = if i % 2 == 0 {
                (vec![(1, 0.9), (2, 0.5)], vec![(2, 9.0), (3, 1.0), (1, 0.5)])
            } else {
                (vec![(2, 0.9), (1, 0.8)], vec![(1, 9.0), (2, 1.0)])
            };
            out.push(QueryLists {
                gold: 1,
                dense,
                bm25,
            });
        }
        out
    }

    #[test]
    fn the_choice_is_made_on_the_tuning_part_and_reported_on_the_other() {
        let qs = queries();
        let grid = grid(100);
        let report = tune(
            &qs,
            &grid,
            Split::Holdout {
                ratio: 0.5,
                seed: 3,
            },
        )
        .unwrap();
        let (tune_idx, test_idx) = holdout(qs.len(), 0.5, 3).unwrap();
        let table = rank_table(&grid, &qs);
        let s = choose(&table, &tune_idx).unwrap();
        assert_eq!(report.best.fusion, grid[s]);
        assert_eq!(report.best.test, metrics_on(&table[s], &test_idx));
        assert_eq!(report.best.tune, metrics_on(&table[s], &tune_idx));
        assert_eq!(report.grid.len(), grid.len());
        // Nothing beats gold at rank 1 everywhere: the choice does.
        assert_eq!(report.best.tune.mrr_10, 1.0);
        // Ties go to the earliest: every setting that ranks gold first everywhere is no
        // better than the chosen one, and none before it is as good.
        for g in &report.grid[..s] {
            assert!(g.tune.mrr_10 < 1.0);
        }
        let dense_alone = metrics_on(
            &qs.iter()
                .map(|q| rank_in(&q.dense, q.gold))
                .collect::<Vec<_>>(),
            &test_idx,
        );
        assert_eq!(report.baselines.dense, dense_alone);
    }

    #[test]
    fn k_fold_scores_each_fold_with_a_choice_made_without_it() {
        let qs = queries();
        let grid = grid(100);
        let report = tune(&qs, &grid, Split::Folds { folds: 4, seed: 9 }).unwrap();
        let split = &report.best.split;
        assert_eq!(split.folds.len(), 4);
        assert_eq!(
            split.folds.iter().map(|f| f.test_questions).sum::<usize>(),
            qs.len()
        );
        let table = rank_table(&grid, &qs);
        let parts = folds(qs.len(), 4, 9).unwrap();
        let mut pooled = MetricSums::default();
        for (f, held) in parts.iter().enumerate() {
            let rest: Vec<usize> = (0..qs.len()).filter(|i| !held.contains(i)).collect();
            let s = choose(&table, &rest).unwrap();
            assert_eq!(split.folds[f].fusion, grid[s]);
            for &i in held {
                pooled.add(table[s][i]);
            }
        }
        assert_eq!(report.best.test, pooled.mean());
    }

    #[test]
    fn tune_json_has_the_documented_shape() {
        let report = tune(
            &queries(),
            &grid(50),
            Split::Holdout {
                ratio: 0.5,
                seed: 1,
            },
        )
        .unwrap();
        let v = serde_json::to_value(&report).unwrap();
        let keys: Vec<&String> = v.as_object().unwrap().keys().collect();
        assert_eq!(keys, ["baselines", "best", "grid"]);
        assert!(v["best"]["fusion"].is_string());
        assert!(v["best"]["test"]["mrr@10"].is_number());
        assert_eq!(v["best"]["split"]["kind"], "holdout");
        assert!(v["baselines"]["bm25"]["mrr@10"].is_number());
        assert_eq!(v["grid"][0]["fusion"], "rrf");
        assert_eq!(v["grid"][0]["depth"], 50);
        assert!(v["grid"][0]["tune"]["recall@10"].is_number());
        assert_eq!(grid(100).len(), 110 + 42);
    }

    #[test]
    fn saved_settings_round_trip_and_bad_files_name_themselves() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub/fusion.json");
        assert!(load_setting(&path).unwrap().is_none());
        let f = Fusion::Convex {
            alpha: 0.3,
            norm: Norm::MinMax,
            depth: 100,
        };
        save_setting(&path, &f).unwrap();
        assert_eq!(load_setting(&path).unwrap(), Some(f));
        for (text, needle) in [
            (
                r#"{"fusion":"convex","alpha":1.5,"norm":"minmax","depth":100}"#,
                "alpha",
            ),
            (
                r#"{"fusion":"convex","alpha":0.5,"norm":"l2","depth":100}"#,
                "l2",
            ),
            (
                r#"{"fusion":"rrf","k":60,"depth":100,"dense_weight":1,"bm25_weight":1,"x":1}"#,
                "x",
            ),
            ("not json", "fusion.json"),
        ] {
            std::fs::write(&path, text).unwrap();
            let err = load_setting(&path).unwrap_err().to_string();
            assert!(err.contains("fusion.json") && err.contains(needle), "{err}");
        }
    }
}
