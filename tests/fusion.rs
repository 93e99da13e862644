//! Fusion as users run it on the bundled sample with the MiniLM snapshot: `bigyo tune --json`
//! against its documented schema, `--apply` picked up by a later run (and explicit options
//! winning over it), and `bigyo eval --per-query` agreeing with eval's averages.
use std::path::Path;
use std::process::Output;

use serde_json::Value;

mod common;
use common::{bigyo_command, minilm_dir};

fn bigyo_in(home: &Path, args: &[&str]) -> Output {
    let model = minilm_dir();
    bigyo_command(home)
        .args(["--device", "cpu", "--threads", "2", "--data", "sample"])
        .args(["--model", model.to_str().unwrap(), "--reranker", "none"])
        .args(args)
        .output()
        .unwrap()
}

fn ok(out: &Output) -> (String, String) {
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "failed: {stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    (String::from_utf8(out.stdout.clone()).unwrap(), stderr)
}

fn last_json(stdout: &str) -> Value {
    serde_json::from_str(stdout.lines().last().unwrap()).unwrap()
}

const METRICS: [&str; 5] = ["recall@1", "recall@5", "recall@10", "mrr@10", "ndcg@10"];

fn assert_metrics(m: &Value) {
    let obj = m.as_object().unwrap_or_else(|| panic!("not metrics: {m}"));
    assert_eq!(obj.len(), METRICS.len(), "{m}");
    for k in METRICS {
        let x = m[k].as_f64().unwrap_or_else(|| panic!("{k} in {m}"));
        assert!((0.0..=1.0).contains(&x), "{k} = {x}");
    }
}

/// Checks one setting's parameters: the keys its fusion kind has, and nothing else but
/// `extra`.
fn assert_setting(s: &Value, extra: &[&str]) {
    let obj = s.as_object().unwrap();
    let params: &[&str] = match s["fusion"].as_str().unwrap() {
        "rrf" => &["fusion", "k", "depth", "dense_weight", "bm25_weight"],
        "convex" => &["fusion", "alpha", "norm", "depth"],
        other => panic!("unknown fusion {other}"),
    };
    let mut want: Vec<&str> = params.iter().chain(extra).copied().collect();
    let mut got: Vec<&str> = obj.keys().map(String::as_str).collect();
    want.sort_unstable();
    got.sort_unstable();
    assert_eq!(got, want, "{s}");
    if s["fusion"] == "convex" {
        let alpha = s["alpha"].as_f64().unwrap();
        assert!((0.0..=1.0).contains(&alpha));
        assert!(["minmax", "zscore"].contains(&s["norm"].as_str().unwrap()));
    }
}

#[test]
fn tune_json_follows_the_schema_and_apply_reaches_later_runs() {
    let home = tempfile::tempdir().unwrap();
    let (stdout, stderr) = ok(&bigyo_in(
        home.path(),
        &["tune", "--json", "--seed", "7", "--apply"],
    ));
    let json = last_json(&stdout);
    let top: Vec<&String> = json.as_object().unwrap().keys().collect();
    assert_eq!(top, ["baselines", "best", "grid"]);
    let best = &json["best"];
    assert_setting(best, &["tune", "test", "split"]);
    assert_metrics(&best["test"]);
    assert_metrics(&best["tune"]);
    let split = &best["split"];
    assert_eq!(split["kind"], "holdout");
    assert_eq!(split["seed"], 7);
    assert_eq!(split["questions"], 143);
    let (tune_n, test_n) = (
        split["tune_questions"].as_u64().unwrap(),
        split["test_questions"].as_u64().unwrap(),
    );
    assert_eq!(tune_n + test_n, 143);
    assert_eq!(tune_n, 72);
    let baselines = json["baselines"].as_object().unwrap();
    assert_eq!(baselines.keys().collect::<Vec<_>>(), ["bm25", "dense"]);
    assert_metrics(&json["baselines"]["bm25"]);
    assert_metrics(&json["baselines"]["dense"]);
    let grid = json["grid"].as_array().unwrap();
    assert_eq!(grid.len(), 152);
    for g in grid {
        assert_setting(g, &["tune"]);
        assert_metrics(&g["tune"]);
    }
    // The best is the first grid entry with the highest tuning MRR@10.
    let top_mrr = grid
        .iter()
        .map(|g| g["tune"]["mrr@10"].as_f64().unwrap())
        .fold(f64::NEG_INFINITY, f64::max);
    let first = grid
        .iter()
        .find(|g| g["tune"]["mrr@10"].as_f64().unwrap() == top_mrr)
        .unwrap();
    let params = |v: &Value| {
        let mut v = v.clone();
        for k in ["tune", "test", "split"] {
            v.as_object_mut().unwrap().remove(k);
        }
        v
    };
    assert_eq!(params(first), params(best));
    assert_eq!(best["tune"]["mrr@10"].as_f64().unwrap(), top_mrr);

    // --apply wrote the setting; a later run uses it and says so.
    let saved_path = home.path().join("config/fusion.json");
    assert!(stderr.contains("wrote"), "{stderr}");
    let saved: Value =
        serde_json::from_str(&std::fs::read_to_string(&saved_path).unwrap()).unwrap();
    assert_eq!(saved, params(best));
    let eval = |home: &Path, extra: &[&str]| {
        let mut args = vec!["eval", "--json", "--methods", "hybrid"];
        args.extend(extra);
        let (stdout, stderr) = ok(&bigyo_in(home, &args));
        (last_json(&stdout)["methods"]["hybrid"].clone(), stderr)
    };
    let (picked, stderr) = eval(home.path(), &[]);
    assert!(
        stderr.contains(&format!("fusion from {}", saved_path.display())),
        "{stderr}"
    );
    // The same setting given as options gives the same numbers.
    let explicit: Vec<String> = match saved["fusion"].as_str().unwrap() {
        "convex" => vec![
            "--fusion".into(),
            "convex".into(),
            "--alpha".into(),
            saved["alpha"].to_string(),
            "--fusion-norm".into(),
            saved["norm"].as_str().unwrap().into(),
        ],
        _ => vec![
            "--fusion".into(),
            "rrf".into(),
            "--rrf-k".into(),
            saved["k"].to_string(),
            "--dense-weight".into(),
            saved["dense_weight"].to_string(),
            "--bm25-weight".into(),
            saved["bm25_weight"].to_string(),
        ],
    };
    let fresh = tempfile::tempdir().unwrap();
    let explicit: Vec<&str> = explicit.iter().map(String::as_str).collect();
    let (same, stderr) = eval(fresh.path(), &explicit);
    assert!(!stderr.contains("fusion from"), "{stderr}");
    for k in METRICS {
        assert_eq!(picked[k], same[k], "{k}");
    }
    // Explicit options win over the saved setting: the other method ignores it entirely.
    let other = if saved["fusion"] == "convex" {
        "rrf"
    } else {
        "convex"
    };
    let (overridden, stderr) = eval(home.path(), &["--fusion", other]);
    assert!(stderr.contains("not used"), "{stderr}");
    let (plain, _) = eval(fresh.path(), &["--fusion", other]);
    for k in METRICS {
        assert_eq!(overridden[k], plain[k], "{k}");
    }
}

#[test]
fn eval_per_query_agrees_with_the_averages() {
    let home = tempfile::tempdir().unwrap();
    let file = home.path().join("per-query.jsonl");
    let (stdout, _) = ok(&bigyo_in(
        home.path(),
        &[
            "eval",
            "--json",
            "--methods",
            "dense,bm25,hybrid",
            "--per-query",
            file.to_str().unwrap(),
        ],
    ));
    let json = last_json(&stdout);
    let lines: Vec<Value> = std::fs::read_to_string(&file)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 143);
    assert!(
        lines
            .iter()
            .all(|l| l["gold"].as_str().is_some_and(|g| g.starts_with('p'))),
        "passage ids are p<N>: {}",
        lines[0]
    );
    let methods = ["dense", "bm25", "hybrid"];
    let rr = |line: &Value, m: &str| line["rr@10"][m].as_f64().unwrap();
    for m in methods {
        let (mut rr_sum, mut r10, mut r1) = (0.0, 0.0, 0.0);
        for line in &lines {
            let rank = &line["ranks"][m];
            assert!(rank.is_null() || rank.as_u64().unwrap() >= 1, "{line}");
            let want = rank
                .as_u64()
                .filter(|&r| r <= 10)
                .map_or(0.0, |r| 1.0 / r as f64);
            assert_eq!(rr(line, m), want, "{line}");
            rr_sum += want;
            r10 += f64::from(u8::from(want > 0.0));
            r1 += f64::from(u8::from(rank.as_u64() == Some(1)));
        }
        let x = &json["methods"][m];
        assert!(
            (rr_sum / 143.0 - x["mrr@10"].as_f64().unwrap()).abs() < 1e-12,
            "{m}"
        );
        assert!(
            (r10 / 143.0 - x["recall@10"].as_f64().unwrap()).abs() < 1e-12,
            "{m}"
        );
        assert!(
            (r1 / 143.0 - x["recall@1"].as_f64().unwrap()).abs() < 1e-12,
            "{m}"
        );
    }
    // Win/tie/loss per pair, recounted from the file; p-values are probabilities.
    let c = &json["comparison"];
    assert!(c["test"].as_str().unwrap().contains("randomization"), "{c}");
    let pairs = c["pairs"].as_array().unwrap();
    assert_eq!(pairs.len(), 3);
    for p in pairs {
        let (a, b) = (p["a"].as_str().unwrap(), p["b"].as_str().unwrap());
        let (mut w, mut t, mut l) = (0, 0, 0);
        for line in &lines {
            match rr(line, a).total_cmp(&rr(line, b)) {
                std::cmp::Ordering::Greater => w += 1,
                std::cmp::Ordering::Equal => t += 1,
                std::cmp::Ordering::Less => l += 1,
            }
        }
        assert_eq!(
            (p["wins"].as_u64(), p["ties"].as_u64(), p["losses"].as_u64()),
            (Some(w), Some(t), Some(l)),
            "{p}"
        );
        let diff = json["methods"][a]["mrr@10"].as_f64().unwrap()
            - json["methods"][b]["mrr@10"].as_f64().unwrap();
        assert!((p["mrr_diff"].as_f64().unwrap() - diff).abs() < 1e-12);
        let pv = p["p_value"].as_f64().unwrap();
        assert!(pv > 0.0 && pv <= 1.0, "{p}");
    }
    // The table shows the same comparison.
    let (table, _) = ok(&bigyo_in(home.path(), &["eval", "--methods", "dense,bm25"]));
    assert!(table.contains("randomization test"), "{table}");
    assert!(
        table.contains("wins") && table.contains("p-value"),
        "{table}"
    );
}

#[test]
fn bad_fusion_options_name_themselves() {
    let home = tempfile::tempdir().unwrap();
    for (args, needle) in [
        (vec!["search", "비", "--alpha", "1.5"], "--alpha"),
        (vec!["search", "비", "--alpha", "-0.1"], "--alpha"),
        (vec!["search", "비", "--fusion", "linearx"], "linearx"),
        (vec!["search", "비", "--fusion-norm", "l2"], "l2"),
        (vec!["tune", "--split-ratio", "1"], "--split-ratio"),
        (vec!["tune", "--folds", "1"], "--folds"),
        (vec!["tune", "--folds", "500"], "--folds"),
        (
            vec!["search", "비", "--config-file", "/nonexistent/f.json"],
            "/nonexistent/f.json",
        ),
    ] {
        let out = bigyo_in(home.path(), &args);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{args:?} succeeded");
        assert!(!stderr.contains("panicked"), "{stderr}");
        assert!(stderr.contains(needle), "{needle}: {stderr}");
    }
    // A broken saved setting is named with the field at fault.
    std::fs::create_dir_all(home.path().join("config")).unwrap();
    std::fs::write(
        home.path().join("config/fusion.json"),
        r#"{"fusion":"convex","alpha":2,"norm":"minmax","depth":100}"#,
    )
    .unwrap();
    let out = bigyo_in(home.path(), &["search", "비", "--methods", "bm25"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        stderr.contains("fusion.json") && stderr.contains("alpha"),
        "{stderr}"
    );
}
