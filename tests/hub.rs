//! The real hf-hub download path, end to end through the binary, against a local server
//! that serves the MiniLM snapshot in the hub's URL layout (tests/hub_mirror.py).
use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};

const COMMIT: &str = "0123456789abcdef0123456789abcdef01234567";

fn minilm_dir() -> PathBuf {
    let manifest =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/golden/generated/manifest.json");
    let text = std::fs::read_to_string(&manifest)
        .unwrap_or_else(|e| panic!("{}: {e}; run `make golden` first", manifest.display()));
    let json: serde_json::Value = serde_json::from_str(&text).unwrap();
    let case = json["cases"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "minilm")
        .unwrap();
    PathBuf::from(case["model_dir"].as_str().unwrap())
}

struct Mirror {
    child: Child,
    endpoint: String,
}

impl Mirror {
    fn start() -> Self {
        let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/hub_mirror.py");
        let mut child = Command::new("python3")
            .arg(script)
            .args(["--commit", COMMIT])
            .arg(format!(
                "sentence-transformers/all-MiniLM-L6-v2={}",
                minilm_dir().display()
            ))
            .stdout(Stdio::piped())
            .spawn()
            .expect("python3 runs the hub mirror");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let port = line
            .trim()
            .strip_prefix("PORT ")
            .expect("mirror prints its port");
        Self {
            child,
            endpoint: format!("http://127.0.0.1:{port}"),
        }
    }
}

impl Drop for Mirror {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn bigyo(endpoint: &str, hf_home: &std::path::Path, args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_bigyo"))
        .args(["--device", "cpu"])
        .args(args)
        .env("HF_ENDPOINT", endpoint)
        .env("HF_HOME", hf_home)
        .env("BIGYO_CACHE_DIR", hf_home.join("bigyo"))
        .output()
        .unwrap()
}

#[test]
fn hub_model_downloads_into_the_hub_cache_then_loads_offline() {
    let home = tempfile::tempdir().unwrap();
    let mirror = Mirror::start();
    let id = "sentence-transformers/all-MiniLM-L6-v2";
    let out = bigyo(
        &mirror.endpoint,
        home.path(),
        &["--model", id, "model-info"],
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains(&format!("{id}@{COMMIT}")), "{stdout}");
    assert!(stdout.contains("dimension:      384"), "{stdout}");
    let snapshot = home
        .path()
        .join("hub/models--sentence-transformers--all-MiniLM-L6-v2/snapshots")
        .join(COMMIT);
    assert!(snapshot.join("model.safetensors").is_file());
    assert!(snapshot.join("1_Pooling/config.json").is_file());
    drop(mirror);

    // The server is gone: --offline must work from the cache alone, without a request.
    let out = bigyo(
        "http://127.0.0.1:9",
        home.path(),
        &["--offline", "--model", id, "embed", "잠이 안 옵니다"],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("1 texts, dim 384"));
}

#[test]
fn unknown_hub_ids_and_uncached_offline_models_fail_with_a_clear_message() {
    let home = tempfile::tempdir().unwrap();
    let mirror = Mirror::start();
    let out = bigyo(
        &mirror.endpoint,
        home.path(),
        &["--model", "nobody/no-such-model", "model-info"],
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(stderr.contains("nobody/no-such-model"), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");

    let out = bigyo(
        &mirror.endpoint,
        home.path(),
        &["--offline", "--model", "nobody/no-such-model", "model-info"],
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(stderr.contains("not in the hub cache"), "{stderr}");
}

/// A hub that accepts connections and never answers, and one that refuses them: bounded
/// waits, a message naming the endpoint, and the bundled sample for the default dataset.
#[test]
fn hanging_or_refusing_hubs_fail_fast_with_a_clear_message() {
    let home = tempfile::tempdir().unwrap();
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/hub_mirror.py");
    let mut child = Command::new("python3")
        .arg(script)
        .arg("--hang")
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let endpoint = format!(
        "http://127.0.0.1:{}",
        line.trim().strip_prefix("PORT ").unwrap()
    );
    let run = |endpoint: &str, args: &[&str]| {
        let started = std::time::Instant::now();
        let out = Command::new(env!("CARGO_BIN_EXE_bigyo"))
            .args(["--device", "cpu"])
            .args(args)
            .env("HF_ENDPOINT", endpoint)
            .env("HF_HOME", home.path())
            .env("BIGYO_CACHE_DIR", home.path().join("bigyo"))
            .env("BIGYO_HUB_TIMEOUT", "2")
            .output()
            .unwrap();
        (out, started.elapsed())
    };
    let (out, took) = run(&endpoint, &["--model", "some/model", "model-info"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(took.as_secs() < 20, "took {took:?}");
    assert!(stderr.contains("did not answer within 2 s"), "{stderr}");
    assert!(stderr.contains(&endpoint), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");

    // The default dataset behind a hanging hub: the bundled sample, with the reason.
    let (out, took) = run(&endpoint, &["search", "장마", "--methods", "bm25"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(took.as_secs() < 20, "took {took:?}");
    assert!(stderr.contains("bundled sample"), "{stderr}");
    let _ = child.kill();
    let _ = child.wait();

    // Connection refused.
    let (out, _) = run(
        "http://127.0.0.1:9",
        &["--model", "some/model", "model-info"],
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        stderr.contains("cannot reach http://127.0.0.1:9"),
        "{stderr}"
    );
}
