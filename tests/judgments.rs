//! Relevance judgments end to end: graded evaluation against pytrec_eval (trec_eval's C code),
//! run files that trec_eval reads in bigyo's order, the judgments file under crashes and
//! concurrent writers, qrels export/import, bad qrels, and a corpus without questions.
use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::Stdio;
use std::sync::Arc;

use arrow::array::{ArrayRef, RecordBatch, StringArray};
use arrow::datatypes::{DataType, Field, Schema};
use bigyo::data::{Corpus, LoadOptions};
use bigyo::judgments::{query_id, Judgments};
use serde_json::Value;

mod common;
use common::{bigyo_command, bigyo_in, failed, minilm_dir, ok, venv_python, write_parquet};

fn last_json(stdout: &str) -> Value {
    serde_json::from_str(stdout.lines().last().unwrap()).unwrap()
}

/// pytrec_eval's means for each run file in `dir` (tests/trec_check.py).
fn trec_check(qrels: &Path, dir: &Path, extra: &[&str]) -> Value {
    let out = std::process::Command::new(venv_python())
        .arg(common::root().join("tests/trec_check.py"))
        .arg(qrels)
        .arg(dir)
        .args(extra)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "trec_check.py: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

fn close(a: &Value, b: &Value, what: &str) {
    let (a, b) = (a.as_f64().unwrap(), b.as_f64().unwrap());
    assert!((a - b).abs() < 1e-6, "{what}: bigyo {a} vs pytrec_eval {b}");
}

/// Graded qrels over every third sample question: the gold passage graded 3 (or 1 for every
/// fourth query), three other passages graded 1, 2 and 0, and every seventh query judged
/// with grade 0 only. Half the queries use the dataset's question ids, half `t<N>` ids whose
/// text is in the companion topics file.
fn write_graded_qrels(dir: &Path) -> std::path::PathBuf {
    let corpus = Corpus::sample(&LoadOptions::default()).unwrap();
    let n = corpus.passages.len();
    let (mut qrels, mut topics) = (String::new(), String::new());
    for (i, q) in corpus.questions.iter().enumerate().step_by(3) {
        let qid = if i % 2 == 0 {
            q.id.clone()
        } else {
            topics.push_str(&format!("t{i}\t{}\n", q.text));
            format!("t{i}")
        };
        let gold = q.passage;
        let mut grades = vec![
            ((gold + 1) % n, 1),
            ((gold + 5) % n, 2),
            ((gold + 11) % n, 0),
        ];
        if i % 7 == 0 {
            grades = vec![(gold, 0), ((gold + 11) % n, 0)];
        } else {
            grades.push((gold, if i % 4 == 0 { 1 } else { 3 }));
        }
        for (p, g) in grades {
            qrels.push_str(&format!("{qid} 0 p{p} {g}\n"));
        }
    }
    let path = dir.join("graded.qrels");
    std::fs::write(&path, qrels).unwrap();
    std::fs::write(dir.join("graded.topics.tsv"), topics).unwrap();
    path
}

#[test]
fn graded_metrics_and_run_files_agree_with_pytrec_eval() {
    let home = tempfile::tempdir().unwrap();
    let model = minilm_dir();
    let qrels = write_graded_qrels(home.path());
    let base = [
        "--data",
        "sample",
        "--model",
        model.to_str().unwrap(),
        "--reranker",
        "none",
        "eval",
        "--json",
    ];
    let run = |dir: &str, extra: &[&str]| {
        let trec = home.path().join(dir);
        let mut args: Vec<&str> = base.to_vec();
        args.extend(["--trec-run", trec.to_str().unwrap()]);
        args.extend(extra);
        (last_json(&ok(&bigyo_in(home.path(), &args))), trec)
    };

    // Dataset gold: bigyo's own qrels.txt and runs, read by trec_eval, give bigyo's numbers.
    let (json, trec) = run("gold", &[]);
    assert_eq!(json["labels"]["source"], "gold");
    assert_eq!(json["labels"]["queries"], 143);
    let reference = trec_check(&trec.join("qrels.txt"), &trec, &[]);
    for m in ["dense", "bm25", "hybrid"] {
        let (b, r) = (&json["methods"][m], &reference[m]);
        assert_eq!(r["queries"], 143, "{m}");
        close(&b["ndcg@10"], &r["ndcg_cut_10"], &format!("{m} ndcg@10"));
        close(&b["mrr@10"], &r["recip_rank_10"], &format!("{m} mrr@10"));
        for k in [1, 5, 10] {
            close(
                &b[format!("recall@{k}")],
                &r[format!("recall_{k}")],
                &format!("{m} recall@{k}"),
            );
        }
        // No two scores of one query are equal, even as C floats.
        assert_eq!(r["ties"], 0, "{m}: {r}");
    }
    // The hybrid run had RRF ties (and BM25 equal scores) that bigyo broke by nudging: this
    // is the case trec_eval would otherwise have ordered by docid.
    assert!(
        reference["hybrid"]["near_ties"].as_u64().unwrap() > 0,
        "{reference}"
    );
    assert!(
        reference["bm25"]["near_ties"].as_u64().unwrap() > 0,
        "{reference}"
    );

    // Graded qrels: linear gain, relevant = grade >= 1.
    let (json, trec) = run("graded", &["--qrels", qrels.to_str().unwrap()]);
    let labels = &json["labels"];
    assert_eq!(labels["source"], "qrels");
    assert_eq!(labels["ndcg_gain"], "linear");
    assert_eq!(labels["rel_threshold"], 1);
    assert_eq!(labels["queries"], 48);
    assert_eq!(labels["queries_without_text"], 0);
    assert_eq!(labels["unknown_passages"], 0);
    assert!(labels["topics"]
        .as_str()
        .unwrap()
        .ends_with("graded.topics.tsv"));
    let reference = trec_check(&qrels, &trec, &[]);
    let check = |json: &Value, reference: &Value, with_ndcg: bool, with_rest: bool| {
        for m in ["dense", "bm25", "hybrid"] {
            let (b, r) = (&json["methods"][m], &reference[m]);
            assert_eq!(r["queries"], 48, "{m}");
            if with_ndcg {
                close(&b["ndcg@10"], &r["ndcg_cut_10"], &format!("{m} ndcg@10"));
            }
            if with_rest {
                close(&b["mrr@10"], &r["recip_rank_10"], &format!("{m} mrr@10"));
                for k in [1, 5, 10] {
                    close(
                        &b[format!("recall@{k}")],
                        &r[format!("recall_{k}")],
                        &format!("{m} recall@{k}"),
                    );
                }
            }
            let judged = b["judged@10"].as_f64().unwrap();
            let unjudged = b["unjudged@10"].as_f64().unwrap();
            assert!((0.0..=1.0).contains(&judged), "{m}: {b}");
            assert!((0.0..=10.0).contains(&unjudged), "{m}: {b}");
            if m == "dense" {
                // Dense always returns 10 hits (BM25 may find fewer passages with a term).
                assert!((unjudged - 10.0 * (1.0 - judged)).abs() < 1e-9, "{m}: {b}");
            }
        }
    };
    check(&json, &reference, true, true);
    let linear_ndcg = json["methods"]["bm25"]["ndcg@10"].as_f64().unwrap();

    // A stricter threshold changes MRR and recall, never nDCG.
    let (json, trec) = run(
        "strict",
        &["--qrels", qrels.to_str().unwrap(), "--rel-threshold", "2"],
    );
    assert_eq!(json["labels"]["rel_threshold"], 2);
    check(
        &json,
        &trec_check(&qrels, &trec, &["--relevance-level", "2"]),
        true,
        true,
    );
    assert_eq!(
        json["methods"]["bm25"]["ndcg@10"].as_f64().unwrap(),
        linear_ndcg
    );

    // Exponential gain = trec_eval's linear gain on grades rewritten as 2^g - 1.
    let (json, trec) = run(
        "exp",
        &["--qrels", qrels.to_str().unwrap(), "--ndcg-gain", "exp"],
    );
    assert_eq!(json["labels"]["ndcg_gain"], "exp");
    check(
        &json,
        &trec_check(&qrels, &trec, &["--exp-gain"]),
        true,
        false,
    );
    assert_ne!(
        json["methods"]["bm25"]["ndcg@10"].as_f64().unwrap(),
        linear_ndcg
    );

    // The table names the labels and the gain.
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
            "--methods",
            "bm25",
            "--qrels",
            qrels.to_str().unwrap(),
        ],
    );
    let table = ok(&out);
    assert!(table.contains("labels: qrels"), "{table}");
    assert!(table.contains("nDCG gain linear"), "{table}");
    assert!(table.contains("judged@10"), "{table}");
}

/// `bigyo qrels grade` on `file`, fed `lines` on stdin.
fn grader(home: &Path, file: &Path) -> std::process::Child {
    bigyo_command(home)
        .args(["--device", "cpu", "--data", "sample", "--judgments"])
        .arg(file)
        .args(["qrels", "grade"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}

fn grade_line(n: usize, who: &str) -> (String, String, u8) {
    (
        format!("{who} 질문 {n}"),
        format!("p{}", n % 67),
        (n % 4) as u8,
    )
}

#[test]
fn a_killed_grader_loses_no_confirmed_grade() {
    let home = tempfile::tempdir().unwrap();
    let file = home.path().join("j.jsonl");
    let mut child = grader(home.path(), &file);
    let mut stdin = child.stdin.take().unwrap();
    let lines: String = (1..=3000)
        .map(|n| {
            let (q, p, g) = grade_line(n, "a");
            format!("{q}\t{p}\t{g}\n")
        })
        .collect();
    let feeder = std::thread::spawn(move || {
        // The pipe breaks when the child dies: expected.
        let _ = stdin.write_all(lines.as_bytes());
    });
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut confirmed = 0;
    let mut line = String::new();
    while confirmed < 200 {
        line.clear();
        assert!(
            stdout.read_line(&mut line).unwrap() > 0,
            "grader ended early"
        );
        confirmed = line.trim().strip_prefix("ok ").unwrap().parse().unwrap();
    }
    child.kill().unwrap(); // SIGKILL, mid-way through the script
    child.wait().unwrap();
    // Lines the grader printed before it died were confirmed too.
    for l in stdout.lines().map_while(Result::ok) {
        if let Some(n) = l.strip_prefix("ok ") {
            confirmed = n.parse().unwrap();
        }
    }
    feeder.join().unwrap();
    assert!(confirmed < 3000, "the kill came too late to test anything");
    let (store, warnings) = Judgments::open(&file).unwrap();
    assert!(warnings.len() <= 1, "{warnings:?}");
    for n in 1..=confirmed {
        let (q, p, g) = grade_line(n, "a");
        assert_eq!(store.grade_of(&q, &p), Some(g), "confirmed grade {n} lost");
    }
    // The file goes on working: a later grade is read back after whatever the crash left.
    let mut again = grader(home.path(), &file);
    again
        .stdin
        .take()
        .unwrap()
        .write_all("뒤 질문\tp5\t2\n".as_bytes())
        .unwrap();
    assert!(again.wait().unwrap().success());
    let (store, warnings) = Judgments::open(&file).unwrap();
    assert!(warnings.len() <= 1, "{warnings:?}");
    assert_eq!(store.grade_of("뒤 질문", "p5"), Some(2));
}

#[test]
fn two_graders_on_one_file_interleave_whole_records() {
    let home = tempfile::tempdir().unwrap();
    let file = home.path().join("shared.jsonl");
    let per = 400;
    let mut children: Vec<_> = ["a", "b"]
        .iter()
        .map(|who| {
            let mut child = grader(home.path(), &file);
            let lines: String = (1..=per)
                .map(|n| {
                    let (q, p, g) = grade_line(n, who);
                    format!("{q}\t{p}\t{g}\n")
                })
                .collect();
            let mut stdin = child.stdin.take().unwrap();
            let feeder = std::thread::spawn(move || stdin.write_all(lines.as_bytes()).unwrap());
            (child, feeder)
        })
        .collect();
    for (child, feeder) in children.drain(..) {
        feeder.join().unwrap();
        let out = child.wait_with_output().unwrap();
        assert!(out.status.success());
        assert_eq!(String::from_utf8_lossy(&out.stdout).lines().count(), per);
    }
    let text = std::fs::read_to_string(&file).unwrap();
    assert_eq!(text.lines().count(), 2 * per);
    for l in text.lines() {
        let v: Value = serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}"));
        assert_eq!(v["qid"], query_id(v["query"].as_str().unwrap()));
    }
    let (store, warnings) = Judgments::open(&file).unwrap();
    assert!(warnings.is_empty(), "{warnings:?}");
    assert_eq!(store.queries().len(), 2 * per);
    for who in ["a", "b"] {
        for n in 1..=per {
            let (q, p, g) = grade_line(n, who);
            assert_eq!(store.grade_of(&q, &p), Some(g));
        }
    }
}

#[test]
fn qrels_export_import_round_trip_and_torn_files_load() {
    let home = tempfile::tempdir().unwrap();
    let a = home.path().join("a.jsonl");
    let mut child = grader(home.path(), &a);
    child
        .stdin
        .take()
        .unwrap()
        .write_all(
            "장마는 언제\tp0\t3\n장마는 언제\tp4\t1\n장마는 언제\tp4\t-\n다른 질문\tp9\t0\n"
                .as_bytes(),
        )
        .unwrap();
    assert!(child.wait().unwrap().success());
    let out_qrels = home.path().join("export.qrels");
    let sample = ["--data", "sample"];
    let with = |file: &Path, rest: &[&str]| {
        let mut args: Vec<&str> = sample.to_vec();
        args.extend(["--judgments", file.to_str().unwrap()]);
        args.extend(rest);
        bigyo_in(home.path(), &args)
    };
    let said = ok(&with(&a, &["qrels", "export", out_qrels.to_str().unwrap()]));
    assert!(said.contains("2 judgments of 2 queries"), "{said}");
    let qrels = std::fs::read_to_string(&out_qrels).unwrap();
    let q1 = query_id("장마는 언제");
    assert!(qrels.contains(&format!("{q1} 0 p0 3\n")), "{qrels}");
    assert!(
        !qrels.contains(" p4 "),
        "removed judgments are not exported: {qrels}"
    );
    let topics = std::fs::read_to_string(home.path().join("export.topics.tsv")).unwrap();
    assert!(topics.contains(&format!("{q1}\t장마는 언제\n")), "{topics}");

    // Import into the default file of the corpus (under BIGYO_DATA_DIR).
    let said = ok(&bigyo_in(
        home.path(),
        &[
            "--data",
            "sample",
            "qrels",
            "import",
            out_qrels.to_str().unwrap(),
        ],
    ));
    assert!(said.contains("imported 2 judgments"), "{said}");
    let list = ok(&bigyo_in(
        home.path(),
        &["--data", "sample", "qrels", "list"],
    ));
    assert!(list.contains(&home.path().join("data/judgments").display().to_string()));
    assert!(
        list.contains(&format!("{q1}\t1 judged\t1 relevant\t장마는 언제")),
        "{list}"
    );

    // A torn last line (a crash in an older writer) is a warning, not an error.
    let mut f = std::fs::OpenOptions::new().append(true).open(&a).unwrap();
    f.write_all(br#"{"query":"x","qid":"q","pas"#).unwrap();
    drop(f);
    let out = with(&a, &["qrels", "list"]);
    let stdout = ok(&out);
    assert!(stdout.contains("장마는 언제"), "{stdout}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("warning") && stderr.contains("torn last line"),
        "{stderr}"
    );
}

#[test]
fn bad_qrels_are_named_and_unknown_passages_counted() {
    let home = tempfile::tempdir().unwrap();
    let eval = |qrels: &str| {
        let path = home.path().join("bad.qrels");
        std::fs::write(&path, qrels).unwrap();
        bigyo_in(
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
                "--qrels",
                path.to_str().unwrap(),
            ],
        )
    };
    let corpus = Corpus::sample(&LoadOptions::default()).unwrap();
    let (q0, q1) = (&corpus.questions[0], &corpus.questions[1]);
    let good = format!("{} 0 p{} 2\n", q0.id, q0.passage);

    let e = failed(&eval(&format!("{good}{} p3 1\n", q1.id)));
    assert!(
        e.contains("bad.qrels line 2") && e.contains("4 columns"),
        "{e}"
    );
    let e = failed(&eval(&format!("{good}{} 0 p3 high\n", q1.id)));
    assert!(e.contains("line 2") && e.contains("`high`"), "{e}");
    let e = failed(&eval(&format!("{} 0 p3 2.5\n", q1.id)));
    assert!(e.contains("line 1") && e.contains("`2.5`"), "{e}");
    let e = failed(&eval(""));
    assert!(e.contains("bad.qrels") && e.contains("no judgments"), "{e}");
    let e = failed(&eval(&format!("{} 0 doc7 1\n", q1.id)));
    assert!(e.contains("none of its 1 judgments"), "{e}");

    // Unknown passage ids and query ids without text: counted, reported, not fatal.
    let out = eval(&format!(
        "{good}{} 0 p999 1\n{} 0 doc7 2\nnobody 0 p1 1\n",
        q0.id, q1.id
    ));
    let json = last_json(&ok(&out));
    assert_eq!(json["labels"]["unknown_passages"], 2);
    assert_eq!(json["labels"]["queries_without_text"], 1);
    assert_eq!(json["labels"]["queries"], 1);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("skipped 2 judgments"), "{stderr}");
    assert!(
        stderr.contains("skipped 1 query ids with no text"),
        "{stderr}"
    );
    assert!(json["methods"]["bm25"]["ndcg@10"].as_f64().is_some());

    // A grade the judgments store cannot hold is refused on import, naming it.
    let path = home.path().join("four.qrels");
    std::fs::write(&path, format!("{} 0 p1 4\n", q0.id)).unwrap();
    let e = failed(&bigyo_in(
        home.path(),
        &[
            "--data",
            "sample",
            "qrels",
            "import",
            path.to_str().unwrap(),
        ],
    ));
    assert!(e.contains("grade 4 is out of range"), "{e}");
}

#[test]
fn a_corpus_without_questions_evaluates_on_judged_queries() {
    let home = tempfile::tempdir().unwrap();
    let corpus = Corpus::sample(&LoadOptions::default()).unwrap();
    let texts: Vec<&str> = corpus.passages.iter().map(|p| p.text.as_str()).collect();
    let schema = Arc::new(Schema::new(vec![Field::new(
        "context",
        DataType::Utf8,
        false,
    )]));
    let batch =
        RecordBatch::try_new(schema, vec![Arc::new(StringArray::from(texts)) as ArrayRef]).unwrap();
    let parquet = home.path().join("passages.parquet");
    write_parquet(&parquet, batch);
    let eval = |extra: &[&str]| {
        let mut args = vec![
            "--data",
            parquet.to_str().unwrap(),
            "--model",
            "/nonexistent/model",
            "--offline",
            "eval",
            "--methods",
            "bm25",
            "--json",
        ];
        args.extend(extra);
        bigyo_in(home.path(), &args)
    };
    // Nothing judged yet: a clear message, not a crash.
    let e = failed(&eval(&[]));
    assert!(
        e.contains("no judged queries") && e.contains("no questions"),
        "{e}"
    );

    // Judge two of the sample's questions (same passages, same order, so the same p<N>).
    let mut grades = BTreeMap::new();
    for q in corpus.questions.iter().take(2) {
        grades.insert(q.text.clone(), q.passage);
    }
    let lines: String = grades
        .iter()
        .map(|(t, p)| format!("{t}\tp{p}\t3\n"))
        .collect();
    let mut child = bigyo_command(home.path())
        .args([
            "--device",
            "cpu",
            "--data",
            parquet.to_str().unwrap(),
            "qrels",
            "grade",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(lines.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout), "ok 1\nok 2\n");

    let json = last_json(&ok(&eval(&[])));
    assert_eq!(json["corpus"]["questions"], 0);
    assert_eq!(json["labels"]["source"], "judgments");
    assert_eq!(json["labels"]["queries"], 2);
    let bm25 = &json["methods"]["bm25"];
    assert!(bm25["recall@10"].as_f64().unwrap() > 0.0, "{json}");
    // Gold labels cannot be had here.
    let e = failed(&eval(&["--labels", "gold"]));
    assert!(e.contains("no questions"), "{e}");
}
