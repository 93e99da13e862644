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

/// REFERENCE.md's worked example: dense A .90, B .80, C .50; BM25 B 12, D 8, A 4.
const A: usize = 0;
const B: usize = 1;
const C: usize = 2;
const D: usize = 3;

fn worked(norm: Norm) -> Vec<Fused> {
    let dense = [(A, 0.90), (B, 0.80), (C, 0.50)];
    let bm25 = [(B, 12.0), (D, 8.0), (A, 4.0)];
    Fusion::Convex {
        alpha: 0.3,
        norm,
        depth: 100,
    }
    .fuse(Some(&dense), Some(&bm25))
}

fn assert_scores(out: &[Fused], want: &[(usize, f64)], tol: f64) {
    let got: Vec<(usize, f64)> = out.iter().map(|f| (f.item, f.score)).collect();
    assert_eq!(out.len(), want.len(), "{got:?}");
    for (f, &(item, score)) in out.iter().zip(want) {
        assert_eq!(f.item, item, "{got:?}");
        assert!(
            (f.score - score).abs() < tol,
            "{item}: {} vs {score}",
            f.score
        );
    }
}

#[test]
fn minmax_convex_matches_the_worked_example() {
    // dense A 1, B .75, C 0; BM25 B 1, D .5, A 0; D misses dense (min 0), C misses BM25.
    let out = worked(Norm::MinMax);
    assert_scores(
        &out,
        &[
            (B, 0.3 * 0.75 + 0.7 * 1.0),
            (D, 0.3 * 0.0 + 0.7 * 0.5),
            (A, 0.3 * 1.0 + 0.7 * 0.0),
            (C, 0.0),
        ],
        1e-12,
    );
    // The rounded figures REFERENCE.md prints.
    assert_scores(&out, &[(B, 0.925), (D, 0.35), (A, 0.30), (C, 0.0)], 1e-12);
    assert_eq!(out[0].ranks, vec![Some(2), Some(1)]);
    assert_eq!(out[1].ranks, vec![None, Some(2)]);
    assert_eq!(out[3].ranks, vec![Some(3), None]);
}

#[test]
fn zscore_convex_matches_the_worked_example() {
    // Hand computation, population std: dense mean 2.2/3, std sqrt(0.26/9);
    // BM25 mean 8, std sqrt(32/3).
    let (dm, ds) = (2.2 / 3.0, (0.26f64 / 9.0).sqrt());
    let (bm, bs) = (8.0, (32.0f64 / 3.0).sqrt());
    let z = |s: f64, m: f64, sd: f64| (s - m) / sd;
    let dense_min = z(0.50, dm, ds);
    let bm25_min = z(4.0, bm, bs);
    let want = [
        (B, 0.3 * z(0.80, dm, ds) + 0.7 * z(12.0, bm, bs)),
        (D, 0.3 * dense_min + 0.7 * z(8.0, bm, bs)),
        (A, 0.3 * z(0.90, dm, ds) + 0.7 * bm25_min),
        (C, 0.3 * dense_min + 0.7 * bm25_min),
    ];
    let out = worked(Norm::ZScore);
    assert_scores(&out, &want, 1e-12);
    // REFERENCE.md's four-decimal figures.
    assert_scores(
        &out,
        &[(B, 0.9750), (D, -0.4118), (A, -0.5631), (C, -1.2692)],
        5e-5,
    );
}

#[test]
fn normalisations_of_degenerate_lists() {
    let mut equal = [3.0, 3.0, 3.0];
    Norm::MinMax.apply(&mut equal);
    assert_eq!(equal, [1.0, 1.0, 1.0]);
    let mut equal = [3.0, 3.0];
    Norm::ZScore.apply(&mut equal);
    assert_eq!(equal, [0.0, 0.0]);
    let mut one = [7.5];
    Norm::MinMax.apply(&mut one);
    assert_eq!(one, [1.0]);
    let mut none: [f64; 0] = [];
    Norm::ZScore.apply(&mut none);
    let mut zs = [1.0, 2.0, 3.0];
    Norm::ZScore.apply(&mut zs);
    let sd = (2.0f64 / 3.0).sqrt();
    for (got, want) in zs.iter().zip([-1.0 / sd, 0.0, 1.0 / sd]) {
        assert!((got - want).abs() < 1e-12);
    }
}

#[test]
fn convex_alpha_ends_reproduce_each_list() {
    let dense = [(5, 0.9), (6, 0.8), (7, 0.1)];
    let bm25 = [(7, 20.0), (8, 10.0), (5, 1.0)];
    for norm in Norm::ALL {
        let only = |alpha: f64| -> Vec<usize> {
            Fusion::Convex {
                alpha,
                norm,
                depth: 100,
            }
            .fuse(Some(&dense), Some(&bm25))
            .into_iter()
            .map(|f| f.item)
            .collect()
        };
        // alpha = 1: dense order first; 8 (missing from dense) ties with 7 at dense's
        // minimum and goes after it (7 holds the better rank, 1 in BM25).
        assert_eq!(only(1.0), [5, 6, 7, 8], "{norm}");
        assert_eq!(only(0.0), [7, 8, 5, 6], "{norm}");
    }
}

#[test]
fn convex_handles_empty_missing_and_duplicated_lists() {
    let dense = [(1, 0.5), (2, 0.4), (1, 0.3)];
    let fusion = Fusion::Convex {
        alpha: 0.5,
        norm: Norm::MinMax,
        depth: 100,
    };
    let out = fusion.fuse(Some(&dense), None);
    assert_eq!(out.iter().map(|f| f.item).collect::<Vec<_>>(), [1, 2]);
    assert!((out[0].score - 0.5).abs() < 1e-12);
    assert_eq!(out[0].ranks, vec![Some(1), None]);
    assert!(fusion.fuse(Some(&[]), Some(&[])).is_empty());
    // Depth cuts each list before normalising.
    let out = Fusion::Convex {
        alpha: 1.0,
        norm: Norm::MinMax,
        depth: 1,
    }
    .fuse(Some(&dense), Some(&[(9, 1.0)]));
    assert_eq!(out.iter().map(|f| f.item).collect::<Vec<_>>(), [1, 9]);
    assert_eq!(out[0].score, 1.0);
}

#[test]
fn ties_break_by_best_rank_then_item() {
    // Every item scores the same: all-equal lists under min-max give 1 everywhere.
    let dense = [(30, 1.0), (10, 1.0)];
    let bm25 = [(20, 2.0), (40, 2.0)];
    for fusion in [
        Fusion::Convex {
            alpha: 0.5,
            norm: Norm::MinMax,
            depth: 100,
        },
        Fusion::Rrf {
            k: 60.0,
            depth: 100,
            dense_weight: 1.0,
            bm25_weight: 1.0,
        },
    ] {
        let order: Vec<usize> = fusion
            .fuse(Some(&dense), Some(&bm25))
            .into_iter()
            .map(|f| f.item)
            .collect();
        assert_eq!(order, [20, 30, 10, 40], "{fusion:?}");
    }
}

#[test]
fn rrf_through_fusion_matches_plain_rrf() {
    let a: Vec<(usize, f64)> = [1, 4, 3, 5, 6].iter().map(|&i| (i, 0.0)).collect();
    let b: Vec<(usize, f64)> = [2, 1, 3, 6, 4].iter().map(|&i| (i, 0.0)).collect();
    let out = Fusion::Rrf {
        k: 5.0,
        depth: 100,
        dense_weight: 1.0,
        bm25_weight: 1.0,
    }
    .fuse(Some(&a), Some(&b));
    let plain = rrf(
        &[(&[1, 4, 3, 5, 6], 1.0), (&[2, 1, 3, 6, 4], 1.0)],
        &RrfParams { k: 5.0, depth: 100 },
    );
    assert_eq!(out, plain);
}

#[test]
fn fusion_settings_round_trip_through_json_and_parse() {
    let f = Fusion::Convex {
        alpha: 0.3,
        norm: Norm::ZScore,
        depth: 100,
    };
    let text = serde_json::to_string(&f).unwrap();
    assert_eq!(
        text,
        r#"{"fusion":"convex","alpha":0.3,"norm":"zscore","depth":100}"#
    );
    assert_eq!(serde_json::from_str::<Fusion>(&text).unwrap(), f);
    assert_eq!(f.describe(), "convex alpha=0.30 zscore");
    assert_eq!("min-max".parse::<Norm>().unwrap(), Norm::MinMax);
    assert!("l2".parse::<Norm>().unwrap_err().contains("l2"));
    assert_eq!("RRF".parse::<FusionMethod>().unwrap(), FusionMethod::Rrf);
    assert!("cc"
        .parse::<FusionMethod>()
        .unwrap_err()
        .contains("rrf or convex"));
}

proptest::proptest! {
    #[test]
    fn gold_rank_agrees_with_the_fused_list(
        dense in proptest::collection::vec((0usize..30, -3.0f64..3.0), 0..25),
        bm25 in proptest::collection::vec((0usize..30, 0.0f64..20.0), 0..25),
        depth in 1usize..30,
        k in 0.0f64..100.0,
        w in 0usize..=10,
        alpha in 0usize..=20,
        zscore in proptest::bool::ANY,
        coarse in proptest::bool::ANY,
    ) {
        // Coarse scores make ties, where the tie-break must agree too.
        let round = |l: Vec<(usize, f64)>| -> Vec<(usize, f64)> {
            l.into_iter().map(|(p, s)| (p, if coarse { s.round() } else { s })).collect()
        };
        let (mut dense, mut bm25) = (round(dense), round(bm25));
        dense.sort_by(|a, b| b.1.total_cmp(&a.1));
        bm25.sort_by(|a, b| b.1.total_cmp(&a.1));
        let prepared = Prepared::new(&dense, &bm25, depth);
        let norm = if zscore { Norm::ZScore } else { Norm::MinMax };
        for fusion in [
            Fusion::Rrf { k, depth, dense_weight: w as f64 / 10.0, bm25_weight: 1.0 - w as f64 / 10.0 },
            Fusion::Convex { alpha: alpha as f64 / 20.0, norm, depth },
        ] {
            let fused = fusion.fuse(Some(&dense), Some(&bm25));
            for item in 0..31 {
                let want = fused.iter().position(|f| f.item == item).map(|i| i + 1);
                proptest::prop_assert_eq!(fusion.gold_rank(&prepared, item), want, "{:?} item {}", fusion, item);
            }
        }
    }
}
