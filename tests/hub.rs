//! The real hf-hub download path, end to end through the binary, against a local server
//! that serves the MiniLM snapshot in the hub's URL layout (tests/hub_mirror.py).

mod common;
use common::{bigyo_command, minilm_dir, Mirror};

const COMMIT: &str = "0123456789abcdef0123456789abcdef01234567";

/// The mirror serving the MiniLM snapshot as sentence-transformers/all-MiniLM-L6-v2.
fn minilm_mirror() -> Mirror {
    Mirror::start(&[
        "--commit".to_owned(),
        COMMIT.to_owned(),
        format!(
            "sentence-transformers/all-MiniLM-L6-v2={}",
            minilm_dir().display()
        ),
    ])
}

fn bigyo(endpoint: &str, home: &std::path::Path, args: &[&str]) -> std::process::Output {
    bigyo_command(home)
        .args(["--device", "cpu"])
        .args(args)
        .env("HF_ENDPOINT", endpoint)
        .output()
        .unwrap()
}

#[test]
fn hub_model_downloads_into_the_hub_cache_then_loads_offline() {
    let home = tempfile::tempdir().unwrap();
    let mirror = minilm_mirror();
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
        .join("hf/hub/models--sentence-transformers--all-MiniLM-L6-v2/snapshots")
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
    let mirror = minilm_mirror();
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
    let hanging = Mirror::start(&["--hang"]);
    let endpoint = hanging.endpoint.clone();
    let run = |endpoint: &str, args: &[&str]| {
        let started = std::time::Instant::now();
        let out = bigyo_command(home.path())
            .args(["--device", "cpu"])
            .args(args)
            .env("HF_ENDPOINT", endpoint)
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
    drop(hanging);

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
