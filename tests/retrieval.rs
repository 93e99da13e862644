//! The retrieval CLI as users run it: `bigyo search` and `bigyo eval` on the bundled sample
//! with the MiniLM snapshot, bad data files, and the hub dataset path against a local mirror.
use std::sync::Arc;

use arrow::array::{ArrayRef, Int32Array, RecordBatch, StringArray};
use arrow::datatypes::{DataType, Field, Schema};
use bigyo::data::{Corpus, LoadOptions};
use serde_json::Value;

mod common;
use common::{
    bigyo_command, bigyo_in, case_dir, failed, minilm_dir, ok, root, write_parquet, Mirror,
};

#[test]
fn sample_jsonl_and_parquet_agree() {
    let corpus = Corpus::sample(&LoadOptions::default()).unwrap();
    let jsonl =
        std::fs::read_to_string(root().join("assets/sample/klue_mrc_sample.jsonl")).unwrap();
    let rows: Vec<Value> = jsonl
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(rows.len(), corpus.rows);
    assert_eq!(rows.len(), corpus.questions.len());
    for (row, q) in rows.iter().zip(&corpus.questions) {
        assert_eq!(row["guid"], q.id.as_str());
        assert_eq!(row["question"], q.text.as_str());
        let p = &corpus.passages[q.passage];
        assert_eq!(row["context"], p.text.as_str());
        assert_eq!(row["title"], p.title.as_str());
        let starts = row["answers"]["answer_start"].as_array().unwrap();
        let texts = row["answers"]["text"].as_array().unwrap();
        assert_eq!(starts.len(), q.answers.len());
        for ((s, t), a) in starts.iter().zip(texts).zip(&q.answers) {
            assert_eq!(s.as_u64().unwrap() as usize, a.start);
            assert_eq!(t, a.text.as_str());
        }
    }
    // The corpus promises: >= 60 passages, >= 6 topics, 1-3 questions each.
    assert!(corpus.passages.len() >= 60);
    assert!(corpus
        .passages
        .iter()
        .all(|p| (1..=3).contains(&p.questions.len())));
}

/// Ranked lists for a set of queries, BM25 and dense, as a snapshot, in fp32. Scores rounded
/// so that the last float bits cannot flip a snapshot; ranks are what users compare.
#[test]
fn ranked_lists_on_the_sample_with_minilm() {
    let home = tempfile::tempdir().unwrap();
    let model = minilm_dir();
    let queries = [
        "올해 비가 가장 많이 오는 시기는 언제인가?",
        "2031년 3월 K-17 위성을 발사한 기관은?",
        "잠이 모자란 십대가 마음이 가라앉는 증상을 겪을 위험은 몇 배 더 큰가?",
        "title:장마 AND (태풍 OR \"서울\")",
    ];
    let mut snapshot = String::new();
    for q in queries {
        let out = bigyo_in(
            home.path(),
            &[
                "--data",
                "sample",
                "--model",
                model.to_str().unwrap(),
                "--reranker",
                "none",
                // fp32: the same lists on every CPU (bf16, where `auto` takes it, moves
                // near-ties; its MRR bound is auto_dtype_keeps_every_methods_mrr_within_0005).
                "--dtype",
                "f32",
                "search",
                q,
                "--format",
                "json",
                "--top-k",
                "5",
                "--methods",
                "dense,bm25,hybrid",
            ],
        );
        let json: Value = serde_json::from_str(ok(&out).trim()).unwrap();
        // Passage ids are `p<N>` strings, as in TREC runs and qrels (no gold: null).
        let id = |v: &Value| {
            v.as_str().map_or_else(
                || v.to_string(),
                |s| s.strip_prefix('p').unwrap().to_owned(),
            )
        };
        snapshot.push_str(&format!("query: {q}\ngold: {}\n", id(&json["gold"])));
        for m in ["dense", "bm25", "hybrid"] {
            let hits = json["methods"][m]["hits"].as_array().unwrap();
            let line: Vec<String> = hits
                .iter()
                .map(|h| {
                    format!(
                        "p{}{}",
                        id(&h["passage"]),
                        if h["gold"] == true { "✓" } else { "" }
                    )
                })
                .collect();
            snapshot.push_str(&format!("  {m:<6} {}\n", line.join(" ")));
        }
        // BM25 scores are exact (tantivy, Lucene formula): keep 3 decimals.
        let bm25: Vec<String> = json["methods"]["bm25"]["hits"]
            .as_array()
            .unwrap()
            .iter()
            .map(|h| format!("{:.3}", h["score"].as_f64().unwrap()))
            .collect();
        snapshot.push_str(&format!("  bm25 scores {}\n", bm25.join(" ")));
        // Hybrid hits carry their ranks in both input lists.
        for h in json["methods"]["hybrid"]["hits"].as_array().unwrap() {
            assert!(h["sources"]["dense"].is_u64() || h["sources"]["bm25"].is_u64());
        }
    }
    insta::assert_snapshot!(snapshot);
}

#[test]
fn eval_json_is_one_line_with_sane_metrics() {
    let home = tempfile::tempdir().unwrap();
    let model = minilm_dir();
    let trec = home.path().join("runs");
    let out = bigyo_in(
        home.path(),
        &[
            "--data",
            "sample",
            "--model",
            model.to_str().unwrap(),
            "--reranker",
            "none",
            "eval",
            "--json",
            "--trec-run",
            trec.to_str().unwrap(),
        ],
    );
    let stdout = ok(&out);
    let last = stdout.lines().last().unwrap();
    let json: Value = serde_json::from_str(last).unwrap();
    assert_eq!(json["corpus"]["rows"], 143);
    assert_eq!(json["corpus"]["passages"], 67);
    assert_eq!(json["corpus"]["questions"], 143);
    assert_eq!(json["embedding"]["device"], "cpu");
    assert!(["f32", "bf16"].contains(&json["embedding"]["dtype"].as_str().unwrap()));
    assert!(json["embedding"]["passages_per_s"].as_f64().unwrap() > 0.0);
    for m in ["dense", "bm25", "hybrid"] {
        let x = &json["methods"][m];
        let r1 = x["recall@1"].as_f64().unwrap();
        let r5 = x["recall@5"].as_f64().unwrap();
        let r10 = x["recall@10"].as_f64().unwrap();
        let mrr = x["mrr@10"].as_f64().unwrap();
        let ndcg = x["ndcg@10"].as_f64().unwrap();
        assert!(0.0 <= r1 && r1 <= r5 && r5 <= r10 && r10 <= 1.0, "{m}: {x}");
        assert!(r1 <= mrr && mrr <= r10, "{m}: {x}");
        assert!(mrr <= ndcg && ndcg <= r10, "{m}: {x}");
        assert!(x["qps"].as_f64().unwrap() > 0.0);
    }
    // Korean questions over a Korean corpus: character-bigram BM25 finds most gold passages.
    assert!(
        json["methods"]["bm25"]["recall@10"].as_f64().unwrap() > 0.8,
        "{json}"
    );
    assert!(json["methods"].get("rerank").is_none());
    // TREC runs: one file per method, ranks 1..=10 per question, and qrels.
    let qrels = std::fs::read_to_string(trec.join("qrels.txt")).unwrap();
    assert_eq!(qrels.lines().count(), 143);
    let run = std::fs::read_to_string(trec.join("bm25.trec")).unwrap();
    let first: Vec<&str> = run.lines().next().unwrap().split(' ').collect();
    assert_eq!(first.len(), 6);
    assert_eq!(first[1], "Q0");
    assert_eq!(first[3], "1");
    assert_eq!(first[5], "bigyo-bm25");

    // Second run: embeddings come from the cache.
    let out = bigyo_in(
        home.path(),
        &[
            "--data",
            "sample",
            "--model",
            model.to_str().unwrap(),
            "--reranker",
            "none",
            "eval",
            "--json",
            "--methods",
            "dense",
        ],
    );
    let json: Value = serde_json::from_str(ok(&out).lines().last().unwrap()).unwrap();
    assert_eq!(json["embedding"]["cached"], true);
}

/// `--dtype auto` (the default: bf16 on CPUs with avx512_bf16 or AMX, fp32 elsewhere) keeps
/// every method's MRR@10 on the sample within 0.005 of `--dtype f32`: MiniLM as the
/// bi-encoder and a tiny golden RoBERTa cross-encoder as the reranker, two `eval` runs.
#[test]
fn auto_dtype_keeps_every_methods_mrr_within_0005_of_fp32() {
    let home = tempfile::tempdir().unwrap();
    let model = minilm_dir();
    let reranker = common::case_dir("tiny-roberta-cls");
    let eval = |dtype: &[&str]| -> Value {
        let mut args = vec![
            "--data",
            "sample",
            "--model",
            model.to_str().unwrap(),
            "--reranker",
            reranker.to_str().unwrap(),
        ];
        args.extend_from_slice(dtype);
        args.extend(["eval", "--json"]);
        let out = bigyo_in(home.path(), &args);
        serde_json::from_str(ok(&out).lines().last().unwrap()).unwrap()
    };
    let fp32 = eval(&["--dtype", "f32"]);
    let auto = eval(&[]);
    assert_eq!(fp32["embedding"]["dtype"], "f32");
    let expected = if bigyo::model::cpu_has_bf16() {
        "bf16"
    } else {
        "f32"
    };
    assert_eq!(auto["embedding"]["dtype"], expected);
    for m in ["dense", "bm25", "hybrid", "rerank"] {
        let a = auto["methods"][m]["mrr@10"].as_f64().unwrap();
        let f = fp32["methods"][m]["mrr@10"].as_f64().unwrap();
        assert!(
            (a - f).abs() <= 0.005,
            "{m}: MRR@10 {a} under auto ({expected}) against {f} under f32"
        );
    }
}

/// `bigyo doctor` names the CPU as /proc/cpuinfo does, the ISA flags, what `--dtype auto`
/// picks, and each model's kernels with the reason; `model-info` says the dtype that runs.
#[test]
fn doctor_names_the_cpu_the_dtype_and_the_kernels() {
    let home = tempfile::tempdir().unwrap();
    let model = minilm_dir();
    let out = bigyo_in(
        home.path(),
        &[
            "--model",
            model.to_str().unwrap(),
            "--reranker",
            "none",
            "doctor",
        ],
    );
    let text = ok(&out);
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    if let Some(name) = cpuinfo
        .lines()
        .find(|l| l.starts_with("model name"))
        .and_then(|l| l.split_once(':'))
    {
        assert!(text.contains(name.1.trim()), "{text}");
    }
    let dtype = if bigyo::model::cpu_has_bf16() {
        "bf16"
    } else {
        "f32"
    };
    assert!(text.contains(&format!("--dtype auto -> {dtype}")), "{text}");
    let encoder = text.lines().find(|l| l.starts_with("encoder:")).unwrap();
    assert!(encoder.contains(&format!("({dtype})")), "{encoder}");
    assert!(
        encoder.contains("libtorch")
            || encoder.contains("gemm crate")
            || encoder.contains("oneDNN, packed weights"),
        "{encoder}"
    );
    assert!(text.contains("reranker:       none"), "{text}");
    let out = bigyo_in(
        home.path(),
        &[
            "--model",
            model.to_str().unwrap(),
            "--dtype",
            "f32",
            "model-info",
        ],
    );
    let text = ok(&out);
    assert!(text.contains("dtype:          f32 (--dtype f32)"), "{text}");
    assert!(text.contains("dense layers:"), "{text}");
}

#[test]
fn bm25_runs_without_a_model() {
    let home = tempfile::tempdir().unwrap();
    let out = bigyo_in(
        home.path(),
        &[
            "--data",
            "sample",
            "--model",
            "/nonexistent/model",
            "--offline",
            "eval",
            "--methods",
            "bm25",
            "--json",
        ],
    );
    let json: Value = serde_json::from_str(ok(&out).lines().last().unwrap()).unwrap();
    assert!(json.get("embedding").is_none());
    assert!(json["methods"]["bm25"]["recall@10"].as_f64().unwrap() > 0.8);
    for analyzer in ["whitespace", "bigram"] {
        let out = bigyo_in(
            home.path(),
            &[
                "--data",
                "sample",
                "--offline",
                "--bm25-analyzer",
                analyzer,
                "search",
                "서울에서",
                "--methods",
                "bm25",
            ],
        );
        let text = ok(&out);
        assert!(text.contains("BM25 (bm25"), "{text}");
        // No pane waits for a model: the cost line says so instead of "reranking…".
        assert!(
            text.contains("cost: no dense pane; no rerank pane"),
            "{text}"
        );
    }
}

#[test]
fn wordpiece_analyzer_uses_the_model_tokenizer() {
    let home = tempfile::tempdir().unwrap();
    let model = minilm_dir();
    let out = bigyo_in(
        home.path(),
        &[
            "--data",
            "sample",
            "--bm25-analyzer",
            "wordpiece",
            "--bm25-tokenizer",
            model.to_str().unwrap(),
            "search",
            "K-17 satellite launch",
            "--methods",
            "bm25",
            "--format",
            "json",
        ],
    );
    let json: Value = serde_json::from_str(ok(&out).trim()).unwrap();
    let terms: Vec<&str> = json["terms"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t.as_str().unwrap())
        .collect();
    // MiniLM's uncased WordPiece: lowercased subwords.
    assert!(terms.contains(&"satellite"), "{terms:?}");
    assert!(terms.contains(&"k"), "{terms:?}");
}

#[test]
fn bad_options_fail_before_heavy_work() {
    let home = tempfile::tempdir().unwrap();
    for (args, needle) in [
        (vec!["search", "비", "--methods", "bm25,splade"], "splade"),
        (vec!["search", "비", "--top-k", "0"], "--top-k"),
        (vec!["search", "비", "--rrf-k", "-1"], "--rrf-k"),
        (
            vec!["search", "비", "--rerank-depth", "0"],
            "--rerank-depth",
        ),
        (vec!["search", "비", "--bm25-analyzer", "nori"], "nori"),
        (vec!["search", "비", "--limit", "0"], "--limit"),
        (
            vec!["search", "비", "--panes", "dense,sparse"],
            "unknown pane kind `sparse`",
        ),
        (
            vec![
                "search",
                "비",
                "--panes",
                "dense,bm25,hybrid:of=dense+bm25:nori",
            ],
            "`bm25:nori`, which is not a pane",
        ),
        (
            vec!["eval", "--panes", "dense:pooling=median"],
            "dense:pooling=median",
        ),
        (
            vec!["search", "비", "--panes", "bm25", "--methods", "bm25"],
            "--panes and --methods both given",
        ),
        (
            vec!["search", "비", "--panes", "dense,dense:model=openai:,bm25"],
            "openai: needs a model name",
        ),
    ] {
        let mut full = vec!["--data", "sample"];
        full.extend(args);
        let stderr = failed(&bigyo_in(home.path(), &full));
        assert!(stderr.contains(needle), "{needle}: {stderr}");
    }
}

/// A bad pane spec is refused before anything loads: the missing data file is never read.
#[test]
fn a_bad_pane_spec_is_named_before_loading() {
    let home = tempfile::tempdir().unwrap();
    let stderr = failed(&bigyo_in(
        home.path(),
        &[
            "--data",
            "/nonexistent/klue.parquet",
            "search",
            "비",
            "--panes",
            "dense,bm25,colbert",
        ],
    ));
    assert!(stderr.contains("colbert"), "{stderr}");
    assert!(!stderr.contains("nonexistent"), "{stderr}");
}

/// `--panes` with five panes: five lists keyed by pane name, in spec order; two analyzers and
/// a pooling variant side by side; eval keys its metrics by the same names.
#[test]
fn five_panes_from_a_spec_are_keyed_by_name() {
    let home = tempfile::tempdir().unwrap();
    let model = minilm_dir();
    let reranker = case_dir("tiny-bert-cls");
    let base = [
        "--data",
        "sample",
        "--model",
        model.to_str().unwrap(),
        "--reranker",
        reranker.to_str().unwrap(),
    ];
    let run = |extra: &[&str]| -> Value {
        let mut args = base.to_vec();
        args.extend(extra);
        serde_json::from_str(ok(&bigyo_in(home.path(), &args)).trim()).unwrap()
    };
    let spec = "bm25,bm25:whitespace,dense,hybrid,rerank";
    let json = run(&[
        "search",
        "올해 장마는 언제 끝나나?",
        "--panes",
        spec,
        "--format",
        "json",
    ]);
    let names: Vec<&str> = json["panes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert_eq!(names, spec.split(',').collect::<Vec<_>>());
    for name in &names {
        let hits = json["methods"][name]["hits"].as_array().unwrap();
        assert!(!hits.is_empty(), "{name}: {json}");
        assert!(json["methods"][name]["error"].is_null(), "{name}");
    }
    // The two analyzers rank differently: whitespace needs whole words.
    assert_ne!(
        json["methods"]["bm25"]["hits"],
        json["methods"]["bm25:whitespace"]["hits"]
    );
    // hybrid fuses the first dense and the first BM25 pane; rerank reads hybrid.
    for h in json["methods"]["hybrid"]["hits"].as_array().unwrap() {
        let sources = h["sources"].as_object().unwrap();
        assert_eq!(sources.keys().collect::<Vec<_>>(), ["bm25", "dense"]);
    }
    for h in json["methods"]["rerank"]["hits"].as_array().unwrap() {
        assert!(h["sources"]["hybrid"].as_u64().unwrap() <= 30);
    }

    // A pooling variant is its own pane with its own embeddings (and cache entry).
    let json = run(&[
        "search",
        "올해 장마는 언제 끝나나?",
        "--panes",
        "dense,dense:pooling=cls,title=CLS,hybrid:of=dense+dense:pooling=cls",
        "--format",
        "json",
    ]);
    let mean = &json["methods"]["dense"]["hits"];
    let cls = &json["methods"]["dense:pooling=cls"]["hits"];
    assert_ne!(mean, cls);
    assert_eq!(
        json["forward_passes"]["bi_encoder"], 2,
        "one query encoding per encoder"
    );
    let fused = json["methods"]["hybrid:of=dense+dense:pooling=cls"]["hits"][0]["sources"]
        .as_object()
        .unwrap()
        .clone();
    assert_eq!(fused.len(), 2);

    // eval --json keys metrics by pane name.
    let json = run(&["eval", "--json", "--panes", "bm25,bm25:whitespace,hybrid"]);
    let methods = json["methods"].as_object().unwrap();
    assert_eq!(
        methods.keys().map(String::as_str).collect::<Vec<_>>(),
        ["bm25", "bm25:whitespace", "hybrid"]
    );
    assert_eq!(
        json["panes"],
        serde_json::json!(["bm25", "bm25:whitespace", "hybrid"])
    );
    for (name, m) in methods {
        assert!(m["mrr@10"].as_f64().unwrap() > 0.3, "{name}: {m}");
    }
}

fn strings(values: &[Option<&str>]) -> ArrayRef {
    Arc::new(StringArray::from(values.to_vec()))
}

#[test]
fn unusable_data_files_are_named_with_the_cause() {
    let home = tempfile::tempdir().unwrap();
    let dir = home.path();
    let good = dir.join("good.parquet");
    let schema = Arc::new(Schema::new(vec![
        Field::new("context", DataType::Utf8, true),
        Field::new("question", DataType::Utf8, true),
    ]));
    let batch = RecordBatch::try_new(
        schema.clone(),
        vec![
            strings(&[
                Some("서울에 비가 온다"),
                Some("서울에 비가 온다"),
                None,
                Some("부산 태풍"),
            ]),
            strings(&[
                Some("어디에 비가 오나?"),
                Some("무엇이 오나?"),
                Some("빈 행"),
                None,
            ]),
        ],
    )
    .unwrap();
    write_parquet(&good, batch);
    // A file with only a passage column works; nulls are skipped and counted.
    let corpus = Corpus::from_parquet(&good, &LoadOptions::default()).unwrap();
    assert_eq!(
        (
            corpus.rows,
            corpus.passages.len(),
            corpus.questions.len(),
            corpus.skipped
        ),
        (4, 2, 2, 1)
    );

    let truncated = dir.join("truncated.parquet");
    let bytes = std::fs::read(&good).unwrap();
    std::fs::write(&truncated, &bytes[..bytes.len() / 2]).unwrap();
    let text = dir.join("text.parquet");
    std::fs::write(&text, "context,question\n서울,비\n").unwrap();
    let empty = dir.join("empty.parquet");
    std::fs::write(&empty, b"").unwrap();
    let no_context = dir.join("no_context.parquet");
    write_parquet(
        &no_context,
        RecordBatch::try_new(
            Arc::new(Schema::new(vec![Field::new(
                "passage",
                DataType::Utf8,
                false,
            )])),
            vec![strings(&[Some("서울")])],
        )
        .unwrap(),
    );
    let wrong_type = dir.join("wrong_type.parquet");
    write_parquet(
        &wrong_type,
        RecordBatch::try_new(
            Arc::new(Schema::new(vec![Field::new(
                "context",
                DataType::Int32,
                false,
            )])),
            vec![Arc::new(Int32Array::from(vec![1, 2]))],
        )
        .unwrap(),
    );
    let zero_rows = dir.join("zero_rows.parquet");
    write_parquet(&zero_rows, RecordBatch::new_empty(schema));

    for (path, needles) in [
        (
            dir.join("missing.parquet"),
            vec!["missing.parquet", "No such file"],
        ),
        (dir.to_owned(), vec!["directory"]),
        (
            truncated,
            vec!["truncated.parquet", "not a readable parquet file"],
        ),
        (text, vec!["text.parquet", "not a readable parquet file"]),
        (empty, vec!["empty.parquet", "not a readable parquet file"]),
        (
            no_context,
            vec!["no column `context`", "passage", "--context-column"],
        ),
        (wrong_type, vec!["column `context` is Int32", "string"]),
        (zero_rows, vec!["zero_rows.parquet", "no rows"]),
    ] {
        let out = bigyo_in(
            home.path(),
            &[
                "--data",
                path.to_str().unwrap(),
                "search",
                "서울",
                "--methods",
                "bm25",
            ],
        );
        let stderr = failed(&out);
        assert!(
            stderr.matches("(os error").count() <= 1,
            "the OS error once: {stderr}"
        );
        for n in needles {
            assert!(
                stderr.contains(n),
                "{}: expected {n:?} in {stderr}",
                path.display()
            );
        }
    }
    // Renaming the passage column makes the same file usable.
    let out = bigyo_in(
        home.path(),
        &[
            "--data",
            dir.join("no_context.parquet").to_str().unwrap(),
            "--context-column",
            "passage",
            "search",
            "서울",
            "--methods",
            "bm25",
        ],
    );
    assert!(ok(&out).contains("p0"));
}

/// The hub path end to end: the dataset split found from the repository listing and the
/// model, both downloaded from a local server in the hub's URL layout, then used offline.
#[test]
fn hub_dataset_and_model_through_a_local_mirror() {
    let home = tempfile::tempdir().unwrap();
    let repo = home.path().join("klue");
    std::fs::create_dir_all(repo.join("mrc")).unwrap();
    std::fs::copy(
        root().join("assets/sample/klue_mrc_sample.parquet"),
        repo.join("mrc/validation-00000-of-00001.parquet"),
    )
    .unwrap();
    std::fs::write(repo.join("README.md"), "test dataset").unwrap();
    let mirror = Mirror::start(&[
        format!("datasets/klue/klue={}", repo.display()),
        format!(
            "sentence-transformers/all-MiniLM-L6-v2={}",
            minilm_dir().display()
        ),
    ]);
    let run = |endpoint: &str, args: &[&str]| {
        bigyo_command(home.path())
            .args(["--device", "cpu", "--reranker", "none"])
            .args(["--model", "sentence-transformers/all-MiniLM-L6-v2"])
            .args(args)
            .env("HF_ENDPOINT", endpoint)
            .output()
            .unwrap()
    };
    let out = run(
        &mirror.endpoint,
        &["eval", "--json", "--methods", "bm25,dense"],
    );
    let json: Value = serde_json::from_str(ok(&out).lines().last().unwrap()).unwrap();
    assert_eq!(json["corpus"]["passages"], 67);
    assert!(home
        .path()
        .join("hf/hub/datasets--klue--klue/snapshots/0123456789abcdef0123456789abcdef01234567/mrc/validation-00000-of-00001.parquet")
        .is_file());
    // Unknown split: a clear message naming the split.
    let stderr = failed(&run(
        &mirror.endpoint,
        &["--dataset", "klue/klue", "--split", "test", "search", "비"],
    ));
    assert!(stderr.contains("split `test`"), "{stderr}");
    drop(mirror);
    // Offline from the cache, with the server gone.
    let out = run(
        "http://127.0.0.1:9",
        &["--offline", "search", "장마", "--methods", "bm25,dense"],
    );
    assert!(ok(&out).contains("Semantic"));
    // Default dataset unreachable and not cached: the bundled sample, with a warning.
    let fresh = tempfile::tempdir().unwrap();
    let out = bigyo_command(fresh.path())
        .args(["--offline", "search", "장마", "--methods", "bm25"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(ok(&out).contains("BM25"));
    assert!(stderr.contains("bundled sample"), "{stderr}");
}

/// `--preset textbook` on a mirror: the train split, BM25 over the subwords of the tokenizer
/// served as klue/roberta-base, RRF k = 20 (checked from the fused scores).
#[test]
fn textbook_preset_configuration_through_a_mirror() {
    let home = tempfile::tempdir().unwrap();
    let repo = home.path().join("klue");
    std::fs::create_dir_all(repo.join("mrc")).unwrap();
    std::fs::copy(
        root().join("assets/sample/klue_mrc_sample.parquet"),
        repo.join("mrc/train-00000-of-00001.parquet"),
    )
    .unwrap();
    // A different (one-row) validation split, so picking the wrong split shows.
    write_parquet(
        &repo.join("mrc/validation-00000-of-00001.parquet"),
        RecordBatch::try_new(
            Arc::new(Schema::new(vec![Field::new(
                "context",
                DataType::Utf8,
                false,
            )])),
            vec![strings(&[Some("검증 문단")])],
        )
        .unwrap(),
    );
    let mirror = Mirror::start(&[
        format!("datasets/klue/klue={}", repo.display()),
        format!("klue/roberta-base={}", minilm_dir().display()),
    ]);
    let out = bigyo_command(home.path())
        .args([
            "--preset",
            "textbook",
            "--device",
            "cpu",
            "--reranker",
            "none",
        ])
        .args(["--model", minilm_dir().to_str().unwrap()])
        .args([
            "search",
            "K-17 satellite 발사",
            "--methods",
            "dense,bm25,hybrid",
            "--format",
            "json",
        ])
        .env("HF_ENDPOINT", &mirror.endpoint)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    let json: Value = serde_json::from_str(ok(&out).trim()).unwrap();
    // The train split (143 rows of the sample), not the one-row validation split.
    assert!(
        stderr.contains("klue/klue/mrc/train: 143 rows, 67 passages"),
        "{stderr}"
    );
    // Wordpiece terms from the served tokenizer (MiniLM's uncased vocabulary).
    let terms: Vec<&str> = json["terms"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t.as_str().unwrap())
        .collect();
    assert!(terms.contains(&"satellite"), "{terms:?}");
    // RRF with k = 20: each fused score is the sum of 1/(20 + rank) over its lists.
    for h in json["methods"]["hybrid"]["hits"].as_array().unwrap() {
        let part = |r: &Value| r.as_u64().map_or(0.0, |r| 1.0 / (20.0 + r as f64));
        let want = part(&h["sources"]["dense"]) + part(&h["sources"]["bm25"]);
        assert!((h["score"].as_f64().unwrap() - want).abs() < 1e-9, "{h}");
    }
    // The tokenizer came through the hub path into the hub cache, without the weights.
    let snapshot = home.path().join(
        "hf/hub/models--klue--roberta-base/snapshots/0123456789abcdef0123456789abcdef01234567",
    );
    assert!(snapshot.join("tokenizer.json").is_file());
    assert!(!snapshot.join("model.safetensors").exists());
}

#[test]
fn similar_shows_sparse_zeros_and_dense_similarity() {
    let home = tempfile::tempdir().unwrap();
    let out = bigyo_in(
        home.path(),
        &[
            "--data",
            "sample",
            "--model",
            minilm_dir().to_str().unwrap(),
            "similar",
            "잠이 안 옵니다",
            "졸음이 옵니다",
            "기차가 옵니다",
            "--format",
            "json",
        ],
    );
    let json: Value = serde_json::from_str(ok(&out).trim()).unwrap();
    assert_eq!(json["idf_documents"], 67);
    let m = &json["matrices"];
    for r in ["one_hot", "bag_of_words", "tf_idf", "dense"] {
        let rows = m[r].as_array().unwrap();
        assert_eq!(rows.len(), 3, "{r}");
        assert!(
            (rows[0][0].as_f64().unwrap() - 1.0).abs() < 1e-6,
            "{r} diagonal"
        );
    }
    // 잠이 안 옵니다 / 졸음이 옵니다 share the bigram 니다 and 옵니: > 0 under one-hot.
    assert!(m["one_hot"][0][1].as_f64().unwrap() > 0.0);
    // Without a model: the sparse tables still print, the dense one says why.
    let out = bigyo_in(
        home.path(),
        &[
            "--data",
            "sample",
            "--model",
            "/nonexistent/model",
            "similar",
            "비",
            "눈",
        ],
    );
    let text = ok(&out);
    assert!(text.contains("TF-IDF"));
    assert!(
        text.contains("not available") && text.contains("/nonexistent/model"),
        "{text}"
    );
}

/// Every option works on either side of the subcommand (`--methods` included), no
/// subcommand redefines a global option, and `--methods` is refused where there are no panes.
#[test]
fn options_work_before_and_after_the_subcommand() {
    let home = tempfile::tempdir().unwrap();
    let before = bigyo_in(
        home.path(),
        &["--data", "sample", "--methods", "bm25", "eval", "--json"],
    );
    let after = bigyo_in(
        home.path(),
        &["eval", "--json", "--methods", "bm25", "--data", "sample"],
    );
    let last = |out: &std::process::Output| -> Value {
        serde_json::from_str(ok(out).lines().last().unwrap()).unwrap()
    };
    let (b, a) = (last(&before), last(&after));
    assert_eq!(b["methods"].as_object().unwrap().len(), 1, "{b}");
    assert!(
        b["methods"]["bm25"]["mrr@10"].as_f64().unwrap() > 0.5,
        "{b}"
    );
    assert_eq!(
        b["methods"]["bm25"]["mrr@10"],
        a["methods"]["bm25"]["mrr@10"]
    );
    let search = bigyo_in(
        home.path(),
        &["--methods", "bm25", "search", "서울", "--data", "sample"],
    );
    assert!(ok(&search).contains("BM25 (bm25"));
    let refused = bigyo_in(home.path(), &["--methods", "bm25", "doctor"]);
    assert!(failed(&refused).contains("--methods"));
    // A subcommand that defined a global option again would list it twice in its help.
    for sub in [
        "search", "eval", "embed", "rerank", "tune", "similar", "index", "tui",
    ] {
        let help = ok(&bigyo_in(home.path(), &[sub, "--help"]));
        // Option lines start within six columns with a dash; their text is indented more.
        let mut flags: Vec<&str> = help
            .lines()
            .filter(|l| {
                let t = l.trim_start();
                t.starts_with('-') && l.len() - t.len() <= 6
            })
            .filter_map(|l| l.split([' ', ',', '=']).find(|w| w.starts_with("--")))
            .collect();
        let all = flags.len();
        flags.sort_unstable();
        flags.dedup();
        assert_eq!(
            flags.len(),
            all,
            "a flag twice in `bigyo {sub} --help`:\n{help}"
        );
        assert!(help.contains("--methods"), "{sub}: {help}");
    }
}
