//! `bigyo serve` on a loopback port, started and stopped by PID: the official OpenAI client
//! and LlamaIndex (tests/serve_clients.py, the PyPI packages in scripts/requirements-test.txt)
//! get the vectors `bigyo embed` gives; the search route answers as `bigyo search --format
//! json`; bounds, keys and concurrent clients. The encoder is the MiniLM snapshot.
mod common;

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};

use common::{bigyo_command, minilm_dir, ok, root, venv_python};
use serde_json::{json, Value};

const KEY: &str = "test-key";
const QUESTION: &str = "올해 비가 가장 많이 오는 시기는 언제인가?";

/// `bigyo serve` on a free loopback port, killed (by PID) on drop.
struct Serve {
    child: Child,
    base: String,
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn common_args(model: &Path) -> Vec<String> {
    [
        "--offline",
        "--device",
        "cpu",
        // fp32: bf16 rounds differently with the batch's padding (1e-4), fp32 within 1e-5.
        "--dtype",
        "f32",
        "--data",
        "sample",
        "--reranker",
        "none",
        "--model",
        model.to_str().unwrap(),
    ]
    .map(str::to_owned)
    .to_vec()
}

fn serve(home: &Path, extra: &[&str]) -> Serve {
    let mut child = bigyo_command(home)
        .args(common_args(&minilm_dir()))
        .args(["serve", "--listen", "127.0.0.1:0", "--api-key", KEY])
        .args(extra)
        .stdout(Stdio::piped())
        .spawn()
        .expect("bigyo runs");
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    // "bigyo serve: http://127.0.0.1:PORT/v1 model …": it answers from here on.
    let base = line
        .split_whitespace()
        .find(|w| w.starts_with("http://"))
        .unwrap_or_else(|| panic!("bigyo serve printed {line:?}"))
        .to_owned();
    Serve { child, base }
}

/// `bigyo embed --format json` of `texts` (plain or as `side`).
fn embed(home: &Path, texts: &[String], side: &str) -> Vec<Vec<f32>> {
    let input = home.join("texts.jsonl");
    let lines: Vec<String> = texts.iter().map(|t| json!(t).to_string()).collect();
    std::fs::write(&input, lines.join("\n")).unwrap();
    let out = bigyo_command(home)
        .args(common_args(&minilm_dir()))
        .args(["embed", "--format", "json", "--side", side, "--input"])
        .arg(&input)
        .output()
        .unwrap();
    serde_json::from_str(ok(&out).trim()).unwrap()
}

fn floats(v: &Value) -> Vec<f32> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap() as f32)
        .collect()
}

/// Batches of other sizes pad differently: equal within float32 rounding of the kernels.
fn assert_close(a: &[f32], b: &[f32], what: &str) {
    assert_eq!(a.len(), b.len(), "{what}: dimensions");
    let worst = a
        .iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f32::max);
    assert!(worst < 1e-5, "{what}: largest difference {worst}");
}

fn cosine(a: &[f32], b: &[f32]) -> f32 {
    let dot: f32 = a.iter().zip(b).map(|(x, y)| x * y).sum();
    let n = |v: &[f32]| v.iter().map(|x| x * x).sum::<f32>().sqrt();
    dot / (n(a) * n(b))
}

fn sample_passages() -> Vec<String> {
    let text = std::fs::read_to_string(root().join("assets/sample/klue_mrc_sample.jsonl")).unwrap();
    let mut seen = Vec::new();
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let row: Value = serde_json::from_str(line).unwrap();
        let c = row["context"].as_str().unwrap().to_owned();
        if !seen.contains(&c) {
            seen.push(c);
        }
    }
    seen
}

#[test]
fn openai_client_and_llamaindex_get_bigyo_embeds_vectors() {
    let home = tempfile::tempdir().unwrap();
    let dir = home.path();
    let server = serve(dir, &[]);
    let model = minilm_dir().to_str().unwrap().to_owned();
    let texts: Vec<String> = ["잠이 안 옵니다", "졸음이 옵니다", "The rain comes in July."]
        .map(str::to_owned)
        .to_vec();
    let passages = sample_passages();
    let texts_file = dir.join("texts.json");
    let passages_file = dir.join("passages.json");
    std::fs::write(&texts_file, json!(texts).to_string()).unwrap();
    std::fs::write(&passages_file, json!(passages).to_string()).unwrap();
    let out = Command::new(venv_python())
        .arg(root().join("tests/serve_clients.py"))
        .args([&server.base, KEY, &model])
        .arg(&texts_file)
        .arg(&passages_file)
        .arg(QUESTION)
        .env("NO_PROXY", "127.0.0.1")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let got: Value = serde_json::from_slice(&out.stdout).unwrap();

    assert_eq!(got["models"], json!([model]));
    let want = embed(dir, &texts, "plain");
    for key in ["default", "float"] {
        for (i, w) in want.iter().enumerate() {
            assert_close(&floats(&got[key][i]), w, &format!("{key}[{i}]"));
        }
    }
    assert_close(&floats(&got["single"]), &want[0], "a single string");
    let query = embed(dir, &[QUESTION.to_owned()], "query");
    assert_close(&floats(&got["query_side"]), &query[0], "input_type query");
    assert!(got["usage"].as_u64().unwrap() >= 3 * 3, "{}", got["usage"]);

    let errors = &got["errors"];
    assert_eq!(errors["dimensions"][0], 400);
    assert_eq!(errors["dimensions"][1], "dimensions");
    assert_eq!(errors["model"][0], 404);
    assert_eq!(errors["model"][1], "model_not_found");
    assert_eq!(errors["key"][0], 401);

    // LlamaIndex indexed every passage and queried the index with bigyo's vectors: its
    // query vector is `bigyo embed`'s, and each hit's score is the cosine of bigyo's vectors.
    let llama = &got["llama"];
    assert!(llama["indexed"].as_u64().unwrap() >= passages.len() as u64);
    // LlamaIndex sends the text with newlines as spaces.
    let plain_query = embed(dir, &[QUESTION.to_owned()], "plain");
    assert_close(
        &floats(&llama["query_vector"]),
        &plain_query[0],
        "LlamaIndex query",
    );
    let hits = llama["hits"].as_array().unwrap();
    assert_eq!(hits.len(), 3);
    let hit_texts: Vec<String> = hits
        .iter()
        .map(|h| h["text"].as_str().unwrap().replace('\n', " "))
        .collect();
    let hit_vectors = embed(dir, &hit_texts, "plain");
    for (h, v) in hits.iter().zip(&hit_vectors) {
        let score = h["score"].as_f64().unwrap() as f32;
        assert!((score - cosine(&plain_query[0], v)).abs() < 1e-4, "{h}");
    }
}

fn post(base: &str, path: &str, key: Option<&str>, body: &str) -> (u16, Value) {
    let mut req = ureq::post(&format!("{base}{path}")).set("Content-Type", "application/json");
    if let Some(k) = key {
        req = req.set("Authorization", &format!("Bearer {k}"));
    }
    match req.send_string(body) {
        Ok(r) => (r.status(), r.into_json().unwrap()),
        Err(ureq::Error::Status(code, r)) => (code, r.into_json().unwrap()),
        Err(e) => panic!("{path}: {e}"),
    }
}

#[test]
fn search_route_answers_as_the_cli_and_bounds_hold_under_concurrent_clients() {
    let home = tempfile::tempdir().unwrap();
    let dir = home.path();
    let server = serve(
        dir,
        &[
            "--search",
            "--methods",
            "dense,bm25,hybrid",
            "--max-batch",
            "8",
            "--max-request-bytes",
            "4096",
        ],
    );
    let model = minilm_dir().to_str().unwrap().to_owned();

    // The search route: the same ranked lists as `bigyo search --format json`.
    let (status, got) = post(
        &server.base,
        "/search",
        Some(KEY),
        &json!({"query": QUESTION}).to_string(),
    );
    assert_eq!(status, 200, "{got}");
    let cli = bigyo_command(dir)
        .args(common_args(&minilm_dir()))
        .args([
            "search",
            QUESTION,
            "--methods",
            "dense,bm25,hybrid",
            "--format",
            "json",
        ])
        .output()
        .unwrap();
    let cli: Value = serde_json::from_str(ok(&cli).trim()).unwrap();
    assert_eq!(got["methods"].as_object().unwrap().len(), 3, "{got}");
    for (name, list) in cli["methods"].as_object().unwrap() {
        // Passage ids as everywhere else: "p<N>".
        let ids = |v: &Value| -> Vec<String> {
            v["hits"]
                .as_array()
                .unwrap()
                .iter()
                .map(|h| h["passage"].as_str().unwrap().to_owned())
                .collect()
        };
        assert_eq!(ids(&got["methods"][name]), ids(list), "{name}");
    }

    // Eight clients at once, each a different text: each gets its own vector.
    let texts: Vec<String> = (0..8).map(|i| format!("문장 {i} 번째")).collect();
    let answers: Vec<Vec<f32>> = std::thread::scope(|s| {
        let handles: Vec<_> = texts
            .iter()
            .map(|t| {
                let (base, model) = (&server.base, &model);
                s.spawn(move || {
                    let body = json!({"model": model, "input": t}).to_string();
                    let (status, v) = post(base, "/embeddings", Some(KEY), &body);
                    assert_eq!(status, 200, "{v}");
                    floats(&v["data"][0]["embedding"])
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let want = embed(dir, &texts, "plain");
    for (i, (a, w)) in answers.iter().zip(&want).enumerate() {
        assert_close(a, w, &format!("client {i}"));
    }

    // Bounds and keys, as OpenAI-style errors.
    let nine = json!({"model": model, "input": vec!["x"; 9]}).to_string();
    let (status, v) = post(&server.base, "/embeddings", Some(KEY), &nine);
    assert_eq!(
        (status, v["error"]["param"].as_str()),
        (400, Some("input")),
        "{v}"
    );
    let big = json!({"model": model, "input": "가".repeat(3000)}).to_string();
    let (status, v) = post(&server.base, "/embeddings", Some(KEY), &big);
    assert_eq!(status, 413, "{v}");
    let one = json!({"model": model, "input": "x"}).to_string();
    let (status, v) = post(&server.base, "/embeddings", None, &one);
    assert_eq!(
        (status, v["error"]["code"].as_str()),
        (401, Some("invalid_api_key"))
    );
    let (status, v) = post(&server.base, "/nowhere", Some(KEY), &one);
    assert_eq!(status, 404, "{v}");
    assert!(v["error"]["message"]
        .as_str()
        .unwrap()
        .contains("/v1/embeddings"));
}

#[test]
fn a_taken_port_and_a_remote_model_fail_before_the_model_loads() {
    let home = tempfile::tempdir().unwrap();
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let out = bigyo_command(home.path())
        .args(common_args(&minilm_dir()))
        .args(["serve", "--listen", &addr])
        .output()
        .unwrap();
    let err = common::failed(&out);
    assert!(err.contains(&addr), "{err}");
    let out = bigyo_command(home.path())
        .args(["--model", "openai:text-embedding-3-small", "serve"])
        .output()
        .unwrap();
    assert!(common::failed(&out).contains("local encoders"));
}
