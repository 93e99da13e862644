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
