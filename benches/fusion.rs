//! Fusion speed: one query's dense and BM25 top-100 lists fused by convex combination
//! (min-max and z-score) against bigyo's RRF in the same run; a `bigyo tune` grid over 5,000
//! questions' cached lists; and `bigyo tune` end to end on the bundled sample with MiniLM.
//! Prints the "fusion" section of BENCHMARKS.md on stdout (`make bench` writes it with
//! benches/benchfile.py); progress goes to stderr.
//!
//! cargo bench --bench fusion -- --run [--model DIR]
//! (without --run it only says how to run it: `cargo test --all-targets` runs bench mains.)
use std::time::Instant;

use anyhow::{Context, Result};
use bigyo::fusion::{Fusion, Norm};
use bigyo::tune::{grid, splitmix64, tune, QueryLists, Split};

const PASSAGES: u64 = 10_000;
const DEPTH: usize = 100;

/// Two top-100 lists sharing about half their passages, scores falling like cosines and BM25.
fn lists(state: &mut u64) -> QueryLists {
    let mut dense = Vec::with_capacity(DEPTH);
    let mut seen = std::collections::HashSet::new();
    while dense.len() < DEPTH {
        let p = (splitmix64(state) % PASSAGES) as usize;
        if seen.insert(p) {
            dense.push((p, 0.9 - 0.006 * dense.len() as f64));
        }
    }
    let mut bm25 = Vec::with_capacity(DEPTH);
    let mut taken = std::collections::HashSet::new();
    while bm25.len() < DEPTH {
        let p = if splitmix64(state).is_multiple_of(2) {
            dense[(splitmix64(state) % DEPTH as u64) as usize].0
        } else {
            (splitmix64(state) % PASSAGES) as usize
        };
        if taken.insert(p) {
            bm25.push((p, 30.0 - 0.28 * bm25.len() as f64));
        }
    }
    let gold = if splitmix64(state).is_multiple_of(10) {
        PASSAGES as usize // absent from both lists
    } else {
        dense[(splitmix64(state) % 20) as usize].0
    };
    QueryLists { gold, dense, bm25 }
}

/// Best round's microseconds per fusion of one query's two lists.
fn per_query_us(queries: &[QueryLists], fusion: &Fusion) -> f64 {
    let mut best = f64::INFINITY;
    for _ in 0..7 {
        let t = Instant::now();
        for q in queries {
            std::hint::black_box(fusion.fuse(Some(&q.dense), Some(&q.bm25)));
        }
        best = best.min(t.elapsed().as_secs_f64() / queries.len() as f64);
    }
    best * 1e6
}

fn cpu() -> (String, String) {
    let info = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let field = |name: &str| {
        info.lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_once(':'))
            .map(|(_, v)| v.trim().to_owned())
            .unwrap_or_else(|| "?".into())
    };
    let flags = field("flags");
    let isa: Vec<&str> = [
        "sse4_2",
        "avx2",
        "fma",
        "avx512f",
        "avx512_bf16",
        "amx_tile",
    ]
    .into_iter()
    .filter(|f| flags.split_whitespace().any(|x| x == *f))
    .collect();
    (field("model name"), isa.join(" "))
}

/// `bigyo tune --json` on the bundled sample: a cold run (embeds the passages) and a warm one.
fn tune_on_sample(model: &str) -> Result<(f64, f64)> {
    let home = tempfile::tempdir()?;
    let run = || -> Result<f64> {
        let t = Instant::now();
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_bigyo"))
            .env("BIGYO_CACHE_DIR", home.path().join("cache"))
            .env("BIGYO_CONFIG_DIR", home.path().join("config"))
            .env("HF_HUB_OFFLINE", "1")
            .args(["--data", "sample", "--model", model, "--reranker", "none"])
            .args(["--device", "cpu", "tune", "--json"])
            .output()?;
        anyhow::ensure!(
            out.status.success(),
            "bigyo tune failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        Ok(t.elapsed().as_secs_f64())
    };
    Ok((run()?, run()?))
}

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().collect();
    if !args.iter().any(|a| a == "--run") {
        println!("fusion bench: pass --run (cargo bench --bench fusion -- --run [--model DIR])");
        return Ok(());
    }
    let model = args
        .iter()
        .position(|a| a == "--model")
        .map(|i| args.get(i + 1).context("--model DIR"))
        .transpose()?;
    let mut state = 7;
    let queries: Vec<QueryLists> = (0..2000).map(|_| lists(&mut state)).collect();
    let settings = [
        ("RRF, k = 60 (bigyo's default hybrid)", Fusion::default()),
        (
            "convex, min-max",
            Fusion::Convex {
                alpha: 0.3,
                norm: Norm::MinMax,
                depth: DEPTH,
            },
        ),
        (
            "convex, z-score",
            Fusion::Convex {
                alpha: 0.3,
                norm: Norm::ZScore,
                depth: DEPTH,
            },
        ),
    ];
    let mut rows = Vec::new();
    for (name, f) in &settings {
        let us = per_query_us(&queries, f);
        eprintln!("{name}: {us:.1} us per query");
        rows.push(format!("| {name} | {us:.1} |"));
    }

    let many: Vec<QueryLists> = (0..5000).map(|_| lists(&mut state)).collect();
    let g = grid(DEPTH);
    let t = Instant::now();
    let report = tune(
        &many,
        &g,
        Split::Holdout {
            ratio: 0.5,
            seed: 1,
        },
    )?;
    let grid_s = t.elapsed().as_secs_f64();
    std::hint::black_box(&report);
    eprintln!("grid of {} over 5000 questions: {grid_s:.2}s", g.len());
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());

    let sample = match model {
        Some(m) => {
            let (cold, warm) = tune_on_sample(m)?;
            eprintln!("tune on the sample: cold {cold:.2}s, warm {warm:.2}s");
            format!(
                "`bigyo tune --json` on the bundled sample (143 questions, 67 passages) with \
                 all-MiniLM-L6-v2 on the CPU, whole process: **{warm:.2} s** with the passage \
                 embeddings cached, {cold:.2} s on the first run (which embeds the passages) \
                 (target <= 10 s)."
            )
        }
        None => "`bigyo tune` on the sample was not timed (no --model given).".into(),
    };
    let (name, isa) = cpu();
    println!(
        "## Fusion and tuning

Same run, same machine ({name}; {isa}). Two top-{DEPTH} lists per query sharing about half their
passages (synthetic ids and scores), 2,000 queries, best of 7 rounds, one thread; the peer is
bigyo's reciprocal rank fusion on the same lists.

| fusion of one query's two top-{DEPTH} lists | microseconds per query |
|---|---:|
{}

Target: <= 50 us per query.

`bigyo tune`'s grid ({} settings: 110 RRF, 42 convex) scored on 5,000 questions' cached
lists (no retrieval per setting), {threads} threads: **{grid_s:.2} s**.

{sample}

Reproduce with `make bench`.",
        rows.join("\n"),
        g.len()
    );
    Ok(())
}
