//! Hostile and unlucky input: every case ends in results or a clear message, never a panic,
//! a hang or a corrupt file.
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::Arc;

use arrow::array::{ArrayRef, RecordBatch, StringArray};
use arrow::datatypes::{DataType, Field, Schema};
use bigyo::bm25::{Analyzer, Bm25Index};
use bigyo::data::{Corpus, LoadOptions};
use serde_json::Value;

mod common;
use common::{bigyo_command, case_dir, minilm_dir, write_parquet};

fn bigyo(home: &Path, args: &[&str]) -> Output {
    bigyo_command(home)
        .args(["--threads", "2"])
        .args(args)
        .output()
        .unwrap()
}

fn clean(out: &Output) -> (bool, String, String) {
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(!stderr.contains("stack backtrace"), "{stderr}");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr,
    )
}

fn write_contexts(path: &Path, contexts: &[String]) {
    let schema = Arc::new(Schema::new(vec![Field::new(
        "context",
        DataType::Utf8,
        false,
    )]));
    let array: ArrayRef = Arc::new(StringArray::from(contexts.to_vec()));
    write_parquet(path, RecordBatch::try_new(schema, vec![array]).unwrap());
}

#[test]
fn odd_queries_are_searched_as_plain_text() {
    let home = tempfile::tempdir().unwrap();
    let long = "장마 비 ".repeat(6_000); // 30,000 characters
    let too_long = "가".repeat(30_001);
    let model = minilm_dir();
    for q in [
        "",
        "    ",
        long.as_str(),
        "🌧️☔ 비 rain 雨 دوش",
        "!!! ... ???",
        "\"장마\" AND title:(서울 OR [부산]) -태풍 +비^2 ~ *",
    ] {
        let out = bigyo(
            home.path(),
            &[
                "--device",
                "cpu",
                "--data",
                "sample",
                "--model",
                model.to_str().unwrap(),
                "--reranker",
                "none",
                "search",
                q,
                "--format",
                "json",
                "--methods",
                "dense,bm25,hybrid",
            ],
        );
        let (ok, stdout, stderr) = clean(&out);
        assert!(ok, "{q:.40}: {stderr}");
        let json: Value = serde_json::from_str(stdout.trim()).unwrap();
        for m in ["dense", "bm25", "hybrid"] {
            assert!(json["methods"][m]["error"].is_null(), "{q:.40} {m}: {json}");
        }
        if q.trim().is_empty() || q.starts_with('!') {
            assert!(json["methods"]["bm25"]["hits"]
                .as_array()
                .unwrap()
                .is_empty());
        }
    }
    let (ok, _, stderr) = clean(&bigyo(
        home.path(),
        &["--data", "sample", "search", &too_long, "--methods", "bm25"],
    ));
    assert!(!ok);
    assert!(stderr.contains("30001 characters"), "{stderr}");
}

#[test]
fn cuda_where_none_exists_fails_before_loading_anything() {
    if tch::Cuda::is_available() {
        return;
    }
    let home = tempfile::tempdir().unwrap();
    let (ok, _, stderr) = clean(&bigyo(
        home.path(),
        &[
            "--device",
            "cuda",
            "--data",
            "/nonexistent.parquet",
            "search",
            "비",
        ],
    ));
    assert!(!ok);
    assert!(stderr.contains("--device cuda:0"), "{stderr}");
    assert!(
        !stderr.contains("nonexistent"),
        "device is checked first: {stderr}"
    );
}

#[test]
fn corrupt_caches_are_rebuilt_and_concurrent_builders_both_finish() {
    let home = tempfile::tempdir().unwrap();
    let model = minilm_dir();
    let args = [
        "--device",
        "cpu",
        "--data",
        "sample",
        "--model",
        model.to_str().unwrap(),
        "--reranker",
        "none",
        "search",
        "장마",
        "--methods",
        "dense",
        "--format",
        "json",
    ];
    // Two processes build the same cache at once.
    let spawn = || {
        bigyo_command(home.path())
            .args(["--threads", "1"])
            .args(args)
            .output()
    };
    let (a, b) = std::thread::scope(|s| {
        let a = s.spawn(spawn);
        let b = s.spawn(spawn);
        (a.join().unwrap().unwrap(), b.join().unwrap().unwrap())
    });
    let (oka, out_a, _) = clean(&a);
    let (okb, out_b, _) = clean(&b);
    assert!(oka && okb);
    // Passage ids exactly, scores within 1e-5: thread counts change the last float bits (one
    // thread runs the dense layers on bigyo's single-core GEMM, two on libtorch's BLAS).
    let hits = |s: &str| -> Vec<(u64, f64)> {
        let json: Value = serde_json::from_str(s.trim()).unwrap();
        json["methods"]["dense"]["hits"]
            .as_array()
            .unwrap()
            .iter()
            .map(|h| {
                (
                    h["passage"].as_str().unwrap()[1..].parse::<u64>().unwrap(),
                    h["score"].as_f64().unwrap(),
                )
            })
            .collect()
    };
    let same = |a: &str, b: &str| {
        let (a, b) = (hits(a), hits(b));
        let ids = |h: &[(u64, f64)]| h.iter().map(|&(id, _)| id).collect::<Vec<_>>();
        assert_eq!(ids(&a), ids(&b));
        for ((_, x), (_, y)) in a.iter().zip(&b) {
            assert!((x - y).abs() <= 1e-5, "scores {x} and {y}");
        }
    };
    same(&out_a, &out_b);
    let dir = home.path().join("bigyo/embeddings");
    let files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(files.len(), 1, "one cache file, no temporaries: {files:?}");
    let cache = &files[0];

    // Flipped bytes: detected, reported, rebuilt; the answer is unchanged.
    let mut bytes = std::fs::read(cache).unwrap();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0x5a;
    std::fs::write(cache, &bytes).unwrap();
    let (ok, out, stderr) = clean(&bigyo(home.path(), &args));
    assert!(ok);
    assert!(
        stderr.contains("checksum mismatch") && stderr.contains("rebuilt"),
        "{stderr}"
    );
    same(&out, &out_a);
    // Truncated: the same.
    let bytes = std::fs::read(cache).unwrap();
    std::fs::write(cache, &bytes[..bytes.len() - 100]).unwrap();
    let (ok, out, stderr) = clean(&bigyo(home.path(), &args));
    assert!(ok);
    assert!(stderr.contains("rebuilt"), "{stderr}");
    same(&out, &out_a);
    // And now the cache is valid again: no warning.
    let (_, _, stderr) = clean(&bigyo(home.path(), &args));
    assert!(!stderr.contains("warning"), "{stderr}");
}

#[test]
fn large_odd_and_foreign_data() {
    let dir = tempfile::tempdir().unwrap();
    // A 1 MB context, control characters, non-Korean text.
    let big = "서울 장마 기록. ".repeat(1_000_000 / 22);
    let contexts = vec![
        big.clone(),
        "제어\u{0}문자\u{7}와\t탭\r\n줄바꿈".to_owned(),
        "Only English text about the monsoon season.".to_owned(),
        "سلام دنیا 你好世界 Привет мир".to_owned(),
    ];
    let path = dir.path().join("odd.parquet");
    write_contexts(&path, &contexts);
    let corpus = Corpus::from_parquet(&path, &LoadOptions::default()).unwrap();
    assert_eq!(corpus.passages.len(), 4);
    let texts: Vec<&str> = corpus.texts();
    let index = Bm25Index::build(&texts, Analyzer::Bigram, &mut |_| {}).unwrap();
    assert_eq!(index.search("장마 기록", 3).unwrap()[0].passage, 0);
    assert_eq!(index.search("제어 문자", 3).unwrap()[0].passage, 1);
    assert_eq!(index.search("monsoon", 3).unwrap()[0].passage, 2);
    assert_eq!(index.search("你好世界", 3).unwrap()[0].passage, 3);

    // 100,000 short rows.
    let many: Vec<String> = (0..100_000)
        .map(|i| format!("{i}번 문단 짧은 글"))
        .collect();
    let path = dir.path().join("many.parquet");
    write_contexts(&path, &many);
    let corpus = Corpus::from_parquet(&path, &LoadOptions::default()).unwrap();
    assert_eq!(corpus.passages.len(), 100_000);
    let texts: Vec<&str> = corpus.texts();
    let index = Bm25Index::build(&texts, Analyzer::Bigram, &mut |_| {}).unwrap();
    assert_eq!(index.search("99999번", 1).unwrap()[0].passage, 99_999);
    let limited = Corpus::from_parquet(
        &path,
        &LoadOptions {
            limit: Some(1000),
            ..Default::default()
        },
    )
    .unwrap();
    assert_eq!(limited.passages.len(), 1000);
}

/// The rerank pane with a real (tiny, seeded) cross-encoder through the CLI: the hybrid top M
/// rescored, sorted by logit, each hit keeping its hybrid rank.
#[test]
fn rerank_rescores_the_hybrid_top_m() {
    let home = tempfile::tempdir().unwrap();
    let out = bigyo(
        home.path(),
        &[
            "--device",
            "cpu",
            "--data",
            "sample",
            "--model",
            minilm_dir().to_str().unwrap(),
            "--reranker",
            case_dir("tiny-bert-cls").to_str().unwrap(),
            "--rerank-depth",
            "12",
            "--top-k",
            "5",
            "search",
            "2031년 3월 K-17 위성을 발사한 기관은?",
            "--format",
            "json",
        ],
    );
    let (ok, stdout, stderr) = clean(&out);
    assert!(ok, "{stderr}");
    let json: Value = serde_json::from_str(stdout.trim()).unwrap();
    assert_eq!(json["forward_passes"]["cross_encoder"], 12);
    let hits = json["methods"]["rerank"]["hits"].as_array().unwrap();
    assert_eq!(hits.len(), 5);
    for w in hits.windows(2) {
        assert!(w[0]["score"].as_f64().unwrap() >= w[1]["score"].as_f64().unwrap());
    }
    for h in hits {
        let logit = h["score"].as_f64().unwrap();
        let p = h["sigmoid"].as_f64().unwrap();
        assert!((p - 1.0 / (1.0 + (-logit).exp())).abs() < 1e-6);
        assert!(h["sources"]["hybrid"].as_u64().unwrap() <= 12);
    }
}

/// Ctrl-C while the passages are being embedded leaves no cache file a later run would trust.
#[test]
fn ctrl_c_while_embedding_leaves_no_trusted_cache() {
    let home = tempfile::tempdir().unwrap();
    let contexts: Vec<String> = (0..3000)
        .map(|i| {
            format!("{i}번 문단: 올해 장마는 6월 말에 시작해 7월 중순까지 이어질 것으로 보인다. ")
                .repeat(4)
        })
        .collect();
    let data = home.path().join("big.parquet");
    write_contexts(&data, &contexts);
    let child = bigyo_command(home.path())
        .args([
            "--threads",
            "1",
            "--device",
            "cpu",
            "--data",
            data.to_str().unwrap(),
        ])
        .args([
            "--model",
            minilm_dir().to_str().unwrap(),
            "--reranker",
            "none",
        ])
        .args(["search", "장마", "--methods", "dense"])
        .env("BIGYO_LOG", "info")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Wait until the log says embedding has begun, then interrupt.
    let log = home.path().join("bigyo/logs/bigyo.log");
    let started = std::time::Instant::now();
    while !std::fs::read_to_string(&log).is_ok_and(|l| l.contains("embedding passages")) {
        assert!(started.elapsed().as_secs() < 60, "embedding never started");
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    std::thread::sleep(std::time::Duration::from_millis(500));
    let status = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let out = child.wait_with_output().unwrap();
    assert!(!out.status.success(), "interrupted mid-embedding");
    let dir = home.path().join("bigyo/embeddings");
    let trusted: Vec<_> = std::fs::read_dir(&dir)
        .map(|d| {
            d.filter_map(|e| e.ok())
                .filter(|e| e.file_name().to_string_lossy().ends_with(".emb"))
                .map(|e| e.path())
                .collect()
        })
        .unwrap_or_default();
    assert!(trusted.is_empty(), "{trusted:?}");
}

fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .unwrap()
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap()
}

/// 10,000 queries through dense + BM25 + hybrid + rerank in a loop: memory stays flat.
/// (Timings are printed, not asserted; speed targets live in the benchmarks.)
#[test]
fn ten_thousand_queries_keep_memory_flat() {
    use bigyo::dense::DenseIndex;
    use bigyo::model::{
        BatchOptions, CrossEncoder, Embedder, EncoderOptions, ModelDir, ModelSpec, Runtime,
        SentenceEncoder, Side,
    };
    use bigyo::panes::{DenseKey, PaneId, Panes};
    use bigyo::pipeline::{Pipeline, SearchParams};

    let corpus = Arc::new(Corpus::sample(&LoadOptions::default()).unwrap());
    let texts: Vec<&str> = corpus.texts();
    let runtime = Runtime::cpu();
    let dir = ModelDir::resolve(&ModelSpec::new(minilm_dir().to_str().unwrap())).unwrap();
    let mut encoder = SentenceEncoder::load(&dir, &EncoderOptions::default()).unwrap();
    let index = DenseIndex::new(
        &encoder.embed(Side::Passage, &texts, &mut |_| {}).unwrap(),
        runtime.device,
    )
    .unwrap();
    let questions: Vec<&str> = corpus.questions.iter().map(|q| q.text.as_str()).collect();
    let vectors = encoder.embed(Side::Query, &questions, &mut |_| {}).unwrap();
    let reranker_dir =
        ModelDir::resolve(&ModelSpec::new(case_dir("tiny-bert-cls").to_str().unwrap())).unwrap();
    let reranker = CrossEncoder::load(&reranker_dir, runtime, BatchOptions::default()).unwrap();
    // A shallow rerank keeps the cross-encoder stage in the loop without dominating its time.
    let params = SearchParams {
        rerank_depth: 3,
        ..SearchParams::default()
    };
    let mut pipeline = Pipeline::new(corpus.clone(), params, Panes::standard());
    pipeline.set_bm25(
        None,
        Arc::new(Bm25Index::build(&texts, Analyzer::Bigram, &mut |_| {}).unwrap()),
    );
    pipeline.set_dense(&DenseKey::default(), Box::new(encoder), index);
    let shown: Vec<PaneId> = pipeline.panes().shown().collect();
    pipeline.set_reranker(Box::new(reranker));
    let mut run = |from: usize, n: usize| {
        let started = std::time::Instant::now();
        for i in from..from + n {
            let q = i % questions.len();
            let given = [(DenseKey::default(), vectors.row(q))];
            let r = pipeline.search_with(questions[q], &given, &shown);
            assert!(r
                .results
                .iter()
                .all(|m| m.error.is_none() && !m.hits.is_empty()));
        }
        started.elapsed()
    };
    run(0, 500);
    let before = rss_kib();
    let first = run(500, 1000);
    run(1500, 7500);
    let last = run(9000, 1000);
    let after = rss_kib();
    eprintln!(
        "10,000 queries: first 1000 {:.2}s, last 1000 {:.2}s, RSS {} -> {} MiB",
        first.as_secs_f64(),
        last.as_secs_f64(),
        before / 1024,
        after / 1024
    );
    assert!(
        after < before + 32 * 1024,
        "RSS grew from {before} KiB to {after} KiB over 9,500 queries"
    );
}
