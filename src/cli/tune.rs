//! `bigyo tune` (the fusion grid on cached lists) and the saved setting it writes, applied to
//! later runs.
use std::io::Write;
use std::time::Instant;

use anyhow::{bail, Context, Result};
use bigyo::fusion::Fusion;
use bigyo::metrics::Metrics;
use bigyo::panes::Panes;
use bigyo::pipeline::Missing;
use bigyo::plan::Plan;
use bigyo::session::Options;
use bigyo::tune::{self, Split};

use super::{build, load, progress_bar, Parsed};

/// Applies the saved fusion setting (`bigyo tune --apply`) to the fusion options not given on
/// the command line, and says so on stderr.
pub(super) fn apply_saved_fusion(args: &mut Parsed) -> Result<()> {
    let r = &mut args.retrieval;
    let path = r
        .config_file
        .clone()
        .unwrap_or_else(tune::default_config_file);
    let Some(saved) = tune::load_setting(&path)? else {
        if r.config_file.is_some() {
            bail!("--config-file {}: no such file", path.display());
        }
        return Ok(());
    };
    let explicit = &args.explicit_fusion;
    if r.apply_fusion(&saved, &|id| explicit.contains(&id)) {
        let in_force = r.params().fusion();
        let mut line = format!(
            "bigyo: fusion from {}: {}",
            path.display(),
            in_force.describe()
        );
        if !explicit.is_empty() {
            let flags: Vec<String> = explicit
                .iter()
                .map(|id| format!("--{}", id.replace('_', "-")))
                .collect();
            line.push_str(&format!(" ({} given explicitly)", flags.join(", ")));
        }
        eprintln!("{line}");
    } else {
        eprintln!(
            "bigyo: fusion from {} not used: --fusion {} given",
            path.display(),
            r.fusion
        );
    }
    Ok(())
}

/// `--folds K` or else `--split-ratio`, with `--seed`.
pub(super) fn split(split_ratio: f64, folds: Option<usize>, seed: u64) -> Split {
    match folds {
        Some(k) => Split::Folds { folds: k, seed },
        None => Split::Holdout {
            ratio: split_ratio,
            seed,
        },
    }
}

/// `bigyo tune`: each question's dense and BM25 lists once, then the grid on those lists.
pub(super) fn tune(opts: &Options, split: Split, json: bool, apply: bool) -> Result<()> {
    split.validate()?;
    let started = Instant::now();
    let (mut pipeline, _, _) = build(
        opts,
        &Plan::for_panes(opts, Panes::from_methods("dense,bm25")?)?,
        load(opts)?,
    )?;
    let depth = opts.retrieval.rrf_depth;
    let corpus = pipeline.corpus.clone();
    let questions: Vec<_> = corpus.eval_questions().collect();
    let bm25 = pipeline
        .bm25(None)
        .map_err(|m| anyhow::anyhow!("the BM25 index: {m}"))?
        .clone();
    let key = Default::default();
    let dense = pipeline
        .take_dense(&key, Missing::pending("taken by the tuner"))
        .context("the dense index is not ready")?;
    let (mut encoder, index) = (dense.encoder, dense.index);
    let lists_started = Instant::now();
    let bar = progress_bar(questions.len() as u64, "retrieving");
    let pairs: Vec<(&str, usize)> = questions
        .iter()
        .map(|q| (q.text.as_str(), q.passage))
        .collect();
    let queries = tune::query_lists(
        &pairs,
        &mut |texts| {
            encoder
                .embed(bigyo::model::Side::Query, texts, &mut |_| {})
                .context("encoding the questions")
        },
        &index,
        &bm25,
        depth,
        &mut |done, _| {
            bar.set_position(done as u64);
            std::ops::ControlFlow::Continue(())
        },
    )?;
    bar.finish_and_clear();
    let lists_s = lists_started.elapsed().as_secs_f64();
    let grid_started = Instant::now();
    let grid = tune::grid(depth);
    let report = tune::tune(&queries, &grid, split)?;
    let default = Fusion::Rrf {
        k: 60.0,
        depth,
        dense_weight: 1.0,
        bm25_weight: 1.0,
    };
    let default_test = tune::held_out(&queries, &default, split)?;
    let grid_s = grid_started.elapsed().as_secs_f64();
    tracing::info!(
        "tune: lists {lists_s:.2}s, grid {grid_s:.2}s, total {:.2}s",
        started.elapsed().as_secs_f64()
    );
    let best = report.best.fusion;
    let mut out = std::io::stdout().lock();
    if json {
        writeln!(out, "{}", serde_json::to_string(&report)?)?;
    } else {
        let run = Run {
            split,
            depth,
            settings: grid.len(),
            lists_s,
            grid_s,
        };
        print_report(&mut out, &report, &default_test, &run)?;
    }
    if apply {
        let path = opts
            .retrieval
            .config_file
            .clone()
            .unwrap_or_else(tune::default_config_file);
        tune::save_setting(&path, &best)?;
        eprintln!(
            "bigyo: wrote {}: {}; later runs use it (fusion options given explicitly win)",
            path.display(),
            best.describe()
        );
    }
    Ok(())
}

/// How a tuning run went, for its text report.
struct Run {
    split: Split,
    depth: usize,
    /// Fusion settings in the grid.
    settings: usize,
    lists_s: f64,
    grid_s: f64,
}

/// The text form of `bigyo tune`'s report: the split, the chosen setting, and the held-out
/// metrics of it, the default RRF and both single methods.
fn print_report(
    out: &mut impl Write,
    report: &tune::TuneReport,
    default_test: &Metrics,
    run: &Run,
) -> Result<()> {
    let Run {
        split,
        depth,
        settings,
        lists_s,
        grid_s,
    } = *run;
    let best = report.best.fusion;
    let s = &report.best.split;
    let how = match split {
        Split::Holdout { ratio, seed } => format!(
            "held-out split (ratio {ratio}, seed {seed}): {} to tune on, {} held out",
            s.tune_questions, s.test_questions
        ),
        Split::Folds { folds, seed } => format!(
            "{folds}-fold (seed {seed}): each fold scored by the setting chosen on the others"
        ),
    };
    writeln!(out, "tune: {} questions; {how}", s.questions)?;
    writeln!(
        out,
        "lists: dense and BM25 top {depth} per question, retrieved once in {lists_s:.2}s; \
         {settings} settings scored on them in {grid_s:.2}s",
    )?;
    let chosen_on = match split {
        Split::Holdout { .. } => "on the tuning part",
        Split::Folds { .. } => "on all questions (what --apply writes)",
    };
    writeln!(
        out,
        "best by MRR@10 {chosen_on} (ties: earlier grid entry): {} (MRR@10 there {:.4})",
        best.describe(),
        report.best.tune.mrr_10
    )?;
    for f in &s.folds {
        writeln!(
            out,
            "  fold of {:>4}: {} -> held-out MRR@10 {:.4}",
            f.test_questions,
            f.fusion.describe(),
            f.test.mrr_10
        )?;
    }
    writeln!(out)?;
    let row = |name: &str, m: &Metrics| {
        format!(
            "{name:<34} {:>8.4} {:>8.4} {:>9.4} {:>7.4} {:>8.4}\n",
            m.recall_1, m.recall_5, m.recall_10, m.mrr_10, m.ndcg_10
        )
    };
    write!(
        out,
        "{:<34} {:>8} {:>8} {:>9} {:>7} {:>8}\n{}{}{}{}",
        format!("held out ({} questions)", s.test_questions),
        "recall@1",
        "recall@5",
        "recall@10",
        "mrr@10",
        "ndcg@10",
        row(&format!("best: {}", best.describe()), &report.best.test),
        row("rrf k=60, equal weights (default)", default_test),
        row("bm25", &report.baselines.bm25),
        row("dense", &report.baselines.dense),
    )?;
    Ok(())
}
