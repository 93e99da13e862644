//! bigyo's paired randomization test (src/compare.rs) against scipy's
//! `permutation_test(permutation_type='samples')` (tests/significance_ref.py): exact cases must
//! agree to 1e-12; sampled cases (10,000 draws each side, different generators) within 0.02,
//! four binomial standard errors at the worst p = 0.5.
use std::io::Write;
use std::process::{Command, Stdio};

use bigyo::compare::{randomization_p, rr_at_10};
use serde_json::{json, Value};

mod common;
use common::root;

/// Per-question RR@10 values for two methods: gold ranks drawn by a fixed LCG, some absent.
fn case(n: usize, seed: u64, shift: u64) -> (Vec<f64>, Vec<f64>) {
    let mut state = seed;
    let mut next = || {
        state = state
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (state >> 33) % 14
    };
    let rank = |r: u64| (r > 0).then_some(r as usize);
    let a: Vec<f64> = (0..n).map(|_| rr_at_10(rank(next()))).collect();
    let b: Vec<f64> = (0..n)
        .map(|_| rr_at_10(rank(next().saturating_sub(shift))))
        .collect();
    (a, b)
}

fn scipy(cases: &[(Vec<f64>, Vec<f64>, usize)]) -> Vec<f64> {
    let python = root().join(".bigyo/venv/bin/python");
    let mut child = Command::new(&python)
        .arg(root().join("tests/significance_ref.py"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("{}: {e}; run `make setup-test`", python.display()));
    let input = json!({
        "cases": cases
            .iter()
            .map(|(a, b, n)| json!({"a": a, "b": b, "n_resamples": n}))
            .collect::<Vec<_>>()
    });
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.to_string().as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "significance_ref.py failed");
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    v["p"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p.as_f64().unwrap())
        .collect()
}

#[test]
fn randomization_test_agrees_with_scipy() {
    let mut cases = Vec::new();
    // Exact: 2^n <= 10,000 patterns.
    for (n, seed, shift) in [(6, 1, 0), (8, 2, 1), (10, 3, 2), (12, 4, 0), (13, 5, 3)] {
        let (a, b) = case(n, seed, shift);
        cases.push((a, b, 10_000));
    }
    // Sampled: 143 questions, as the bundled sample has.
    for (seed, shift) in [(6, 0), (7, 1), (8, 3), (9, 5), (10, 7)] {
        let (a, b) = case(143, seed, shift);
        cases.push((a, b, 10_000));
    }
    // A clear effect: the second method halves every reciprocal rank (p near 1/10001).
    let (a, _) = case(143, 11, 0);
    let halved: Vec<f64> = a.iter().map(|x| x / 2.0).collect();
    cases.push((a, halved, 10_000));
    let want = scipy(&cases);
    for ((a, b, n), want) in cases.iter().zip(want) {
        let got = randomization_p(a, b, *n, 42);
        let exact = a.len() < 14;
        let tol = if exact { 1e-12 } else { 0.02 };
        eprintln!("n = {:>3}: bigyo {got:.6}, scipy {want:.6}", a.len());
        assert!(
            (got - want).abs() <= tol,
            "n = {}: bigyo {got}, scipy {want}",
            a.len()
        );
    }
}
