//! Golden tests: bigyo's encoders against PyTorch / transformers / sentence-transformers.
//! `make golden` (run by `make test`) writes the references with tests/golden/make_golden.py.
use std::path::{Path, PathBuf};

use bigyo::model::cpu::{DensePath, KernelChoice};
use bigyo::model::{
    load_tokenizer, BatchOptions, CrossEncoder, Embedder, EncoderOptions, ModelDir, ModelSpec,
    Pooling, Reranker, Runtime, SentenceEncoder, Side,
};
use serde_json::Value;

fn manifest() -> Vec<Value> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden/generated/manifest.json");
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{}: {e}; run `make golden` first", path.display()));
    let json: Value = serde_json::from_str(&text).unwrap();
    json["cases"].as_array().unwrap().clone()
}

fn cases(kind: &str) -> Vec<Value> {
    let all: Vec<Value> = manifest()
        .into_iter()
        .filter(|c| c["kind"] == kind)
        .collect();
    assert!(!all.is_empty(), "no {kind} cases in the manifest");
    all
}

fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap().to_owned())
        .collect()
}

fn rows<T>(v: &Value, cell: impl Fn(&Value) -> T) -> Vec<Vec<T>> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|row| row.as_array().unwrap().iter().map(&cell).collect())
        .collect()
}

fn matrix(v: &Value) -> Vec<Vec<f64>> {
    rows(v, |x| x.as_f64().unwrap())
}

fn ids(v: &Value) -> Vec<Vec<u32>> {
    rows(v, |x| x.as_u64().unwrap() as u32)
}

fn model_dir(case: &Value) -> ModelDir {
    let path = PathBuf::from(case["model_dir"].as_str().unwrap());
    ModelDir::resolve(&ModelSpec::new(path.to_string_lossy())).unwrap()
}

fn cosine(a: &[f32], b: &[f64]) -> f64 {
    let dot: f64 = a.iter().zip(b).map(|(x, y)| f64::from(*x) * y).sum();
    let na: f64 = a.iter().map(|x| f64::from(*x).powi(2)).sum::<f64>().sqrt();
    let nb: f64 = b.iter().map(|y| y * y).sum::<f64>().sqrt();
    dot / (na * nb).max(1e-12)
}

fn max_abs(a: &[f32], b: &[f64]) -> f64 {
    a.iter()
        .zip(b)
        .map(|(x, y)| (f64::from(*x) - y).abs())
        .fold(0.0, f64::max)
}

fn load_encoder(case: &Value) -> SentenceEncoder {
    SentenceEncoder::load(&model_dir(case), &EncoderOptions::default())
        .unwrap_or_else(|e| panic!("{}: {e}", case["name"]))
}

#[test]
fn embedders_tokenize_exactly_like_sentence_transformers() {
    for case in cases("embedder") {
        let encoder = load_encoder(&case);
        let inputs = strings(&case["inputs"]);
        let refs: Vec<&str> = inputs.iter().map(String::as_str).collect();
        let got: Vec<Vec<u32>> = encoder
            .tokenize(&refs)
            .unwrap()
            .iter()
            .map(|e| e.get_ids().to_vec())
            .collect();
        assert_eq!(got, ids(&case["input_ids"]), "{}", case["name"]);
        assert_eq!(
            encoder.max_seq_length(),
            case["max_seq_length"].as_u64().unwrap() as usize,
            "{}",
            case["name"]
        );
    }
}

#[test]
fn embeddings_match_sentence_transformers() {
    check_embeddings_against_sentence_transformers();
}

/// With one libtorch thread and `--cpu-kernels gemm` the dense layers run on bigyo's own
/// single-core GEMM (src/model/cpu_gemm.rs, the path of the CPU streams on AMD) instead of
/// libtorch's BLAS: the same bounds hold there, whatever this CPU would choose.
#[test]
fn embeddings_match_sentence_transformers_on_the_single_core_gemm() {
    tch::set_num_threads(1);
    check_embeddings_with(KernelChoice::Gemm);
}

/// The same with one thread on libtorch's BLAS (the path of the CPU streams on Intel).
#[test]
fn embeddings_match_sentence_transformers_on_one_thread_of_libtorch() {
    tch::set_num_threads(1);
    check_embeddings_with(KernelChoice::Libtorch);
}

fn check_embeddings_against_sentence_transformers() {
    check_embeddings_with(KernelChoice::Auto);
}

fn check_embeddings_with(kernels: KernelChoice) {
    for case in cases("embedder") {
        let name = case["name"].as_str().unwrap();
        let opts = EncoderOptions {
            runtime: Runtime::cpu().with_kernels(kernels),
            ..EncoderOptions::default()
        };
        let mut encoder = SentenceEncoder::load(&model_dir(&case), &opts)
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        let expected = match kernels {
            KernelChoice::Gemm => DensePath::GemmCrate,
            KernelChoice::Libtorch => DensePath::Libtorch,
            _ => encoder.kernel_plan().path,
        };
        assert_eq!(encoder.kernel_plan().path, expected, "{name}");
        let inputs = strings(&case["inputs"]);
        let refs: Vec<&str> = inputs.iter().map(String::as_str).collect();
        let got = encoder.embed(Side::Plain, &refs, &mut |_| {}).unwrap();
        let want = matrix(&case["embeddings"]);
        assert_eq!(got.len(), want.len(), "{name}");
        assert_eq!(got.dim, want[0].len(), "{name}");
        for (i, w) in want.iter().enumerate() {
            let cos = cosine(got.row(i), w);
            assert!(cos >= 0.9999, "{name} input {i}: cosine {cos}");
            // Tiny random models are checked elementwise too (the 1e-4 bound).
            if name != "minilm" {
                let err = max_abs(got.row(i), w);
                assert!(err <= 1e-4, "{name} input {i}: max abs error {err}");
            }
        }
    }
}

#[test]
fn every_pooling_mode_matches_sentence_transformers() {
    for case in cases("embedder") {
        let name = case["name"].as_str().unwrap();
        let encoder = load_encoder(&case);
        let inputs = strings(&case["inputs"]);
        let refs: Vec<&str> = inputs.iter().map(String::as_str).collect();
        for mode in ["cls", "mean", "max"] {
            let pooling = Pooling::single(mode.parse().unwrap());
            let got = encoder
                .embed_with(&refs, &pooling, false, &mut |_| {})
                .unwrap();
            for (i, w) in matrix(&case["pooled"][mode]).iter().enumerate() {
                let scale = w.iter().map(|x| x.abs()).fold(1.0, f64::max);
                let err = max_abs(got.row(i), w) / scale;
                assert!(err <= 1e-4, "{name} {mode} input {i}: relative error {err}");
            }
        }
    }
}

#[test]
fn batched_embeddings_equal_single_input_embeddings() {
    let case = cases("embedder")
        .into_iter()
        .find(|c| c["name"] == "minilm")
        .unwrap();
    let mut encoder = load_encoder(&case);
    let inputs = strings(&case["inputs"]);
    let refs: Vec<&str> = inputs.iter().map(String::as_str).collect();
    let batched = encoder.embed(Side::Plain, &refs, &mut |_| {}).unwrap();
    for (i, text) in refs.iter().enumerate() {
        let single = encoder.embed(Side::Plain, &[text], &mut |_| {}).unwrap();
        let want: Vec<f64> = single.row(0).iter().map(|&x| f64::from(x)).collect();
        let err = max_abs(batched.row(i), &want);
        assert!(
            err <= 1e-5,
            "input {i}: batched differs from single by {err}"
        );
    }
}

#[test]
fn progress_reports_every_input_once_in_the_end() {
    let case = cases("embedder")
        .into_iter()
        .find(|c| c["name"] == "tiny-bert")
        .unwrap();
    let dir = model_dir(&case);
    let opts = EncoderOptions {
        batch: BatchOptions {
            max_tokens: 40,
            max_rows: 3,
        },
        ..EncoderOptions::default()
    };
    let mut encoder = SentenceEncoder::load(&dir, &opts).unwrap();
    let inputs = strings(&case["inputs"]);
    let refs: Vec<&str> = inputs.iter().map(String::as_str).collect();
    let mut seen = Vec::new();
    encoder
        .embed(Side::Plain, &refs, &mut |p| seen.push(p))
        .unwrap();
    assert!(seen.len() > 1, "expected several batches, got {seen:?}");
    assert!(seen.windows(2).all(|w| w[0].done < w[1].done));
    let last = seen.last().unwrap();
    assert_eq!((last.done, last.total), (refs.len(), refs.len()));
}

#[test]
fn wordpiece_assembled_from_vocab_txt_matches_transformers() {
    for case in cases("tokenizer") {
        let dir = PathBuf::from(case["model_dir"].as_str().unwrap());
        assert!(!dir.join("tokenizer.json").exists());
        let tokenizer = load_tokenizer(&dir, 512).unwrap();
        for (text, want) in strings(&case["inputs"]).iter().zip(ids(&case["input_ids"])) {
            let got = tokenizer.encode(text.as_str(), true).unwrap();
            assert_eq!(got.get_ids(), want.as_slice(), "{} {text:?}", case["name"]);
        }
    }
}

#[test]
fn cross_encoder_logits_match_transformers() {
    for case in cases("reranker") {
        let name = case["name"].as_str().unwrap();
        let mut reranker =
            CrossEncoder::load(&model_dir(&case), Runtime::cpu(), BatchOptions::default())
                .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(
            reranker.max_length(),
            case["max_length"].as_u64().unwrap() as usize
        );
        let pairs: Vec<(String, String)> = case["pairs"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| {
                (
                    p[0].as_str().unwrap().to_owned(),
                    p[1].as_str().unwrap().to_owned(),
                )
            })
            .collect();
        let want = case["logits"].as_array().unwrap();
        for (i, ((query, passage), want_ids)) in
            pairs.iter().zip(ids(&case["input_ids"])).enumerate()
        {
            let enc = reranker.tokenize_pairs(query, &[passage.as_str()]).unwrap();
            assert_eq!(enc[0].get_ids(), want_ids.as_slice(), "{name} pair {i}");
            let got = reranker
                .score(query, &[passage.as_str()], &mut |_| {})
                .unwrap()[0];
            let err = (f64::from(got) - want[i].as_f64().unwrap()).abs();
            assert!(err <= 1e-4, "{name} pair {i}: logit {got} vs {}", want[i]);
        }
    }
}

#[test]
fn unusable_model_directories_are_refused_with_the_reason() {
    for case in cases("invalid") {
        let name = case["name"].as_str().unwrap();
        let path = PathBuf::from(case["model_dir"].as_str().unwrap());
        let dir = match ModelDir::resolve(&ModelSpec::new(path.to_string_lossy())) {
            Ok(dir) => dir,
            Err(e) => panic!("{name}: resolving a local directory should not fail: {e}"),
        };
        let err = if case["load_as"] == "reranker" {
            CrossEncoder::load(&dir, Runtime::cpu(), BatchOptions::default())
                .err()
                .map(|e| e.to_string())
        } else {
            SentenceEncoder::load(&dir, &EncoderOptions::default())
                .err()
                .map(|e| e.to_string())
        };
        let err = err.unwrap_or_else(|| panic!("{name}: loaded although {}", case["reason"]));
        let expect = match name {
            "multi-label-cls" => "3 labels",
            "unsupported-type" => "\"gpt2\" is not supported",
            "shape-mismatch" => "has shape",
            "no-weights" => "no weights",
            "no-tokenizer" => "no tokenizer",
            "no-config" => "config.json is missing",
            other => panic!("unknown invalid case {other}"),
        };
        assert!(
            err.contains(expect),
            "{name}: {err:?} should say {expect:?}"
        );
        assert!(
            err.contains(path.file_name().unwrap().to_str().unwrap()),
            "{name}: {err:?} should name the directory"
        );
    }
}

/// `--dtype auto` (the default) and `--dtype bf16` against sentence-transformers' fp32
/// reference: MiniLM's embeddings stay within cosine 0.999, the bound under which `auto` may
/// pick bf16. Where the CPU has no native bf16, bf16 is refused and `auto` is fp32.
#[test]
fn auto_and_bf16_embeddings_stay_within_cosine_0999_of_fp32() {
    use bigyo::model::{cpu_has_bf16, DTypeChoice, DeviceChoice};
    let case = cases("embedder")
        .into_iter()
        .find(|c| c["name"] == "minilm")
        .unwrap();
    let mut dtypes = vec![DTypeChoice::Auto];
    if cpu_has_bf16() {
        dtypes.push(DTypeChoice::Bf16);
    } else {
        eprintln!("this CPU has no avx512_bf16 or AMX: bf16 is refused here, auto is fp32");
    }
    for dtype in dtypes {
        let runtime = Runtime::resolve(DeviceChoice::Cpu, dtype, None).unwrap();
        let expected = if cpu_has_bf16() { "bf16" } else { "f32" };
        assert_eq!(runtime.dtype_name(), expected, "{dtype}");
        let opts = EncoderOptions {
            runtime,
            ..EncoderOptions::default()
        };
        let mut encoder = SentenceEncoder::load(&model_dir(&case), &opts).unwrap();
        assert_eq!(encoder.dtype_name(), expected);
        let inputs = strings(&case["inputs"]);
        let refs: Vec<&str> = inputs.iter().map(String::as_str).collect();
        let got = encoder.embed(Side::Plain, &refs, &mut |_| {}).unwrap();
        for (i, w) in matrix(&case["embeddings"]).iter().enumerate() {
            let cos = cosine(got.row(i), w);
            assert!(cos >= 0.999, "--dtype {dtype}, input {i}: cosine {cos}");
        }
    }
}

/// Query and passage prompts from `config_sentence_transformers.json`, against
/// sentence-transformers' `encode(..., prompt_name="query" | "passage")` and plain `encode`
/// (which applies `default_prompt_name`), with `include_prompt` true and false (mean and cls
/// pooling, BERT and XLM-R): within 1e-4 elementwise.
#[test]
fn prompted_embeddings_match_sentence_transformers_prompt_names() {
    for case in cases("prompted") {
        let name = case["name"].as_str().unwrap();
        let mut encoder = load_encoder(&case);
        assert_eq!(
            encoder.include_prompt(),
            case["include_prompt"].as_bool().unwrap(),
            "{name}"
        );
        let inputs = strings(&case["inputs"]);
        let refs: Vec<&str> = inputs.iter().map(String::as_str).collect();
        for (side, key) in [
            (Side::Query, "query_embeddings"),
            (Side::Passage, "passage_embeddings"),
            (Side::Plain, "plain_embeddings"),
        ] {
            let got = encoder.embed(side, &refs, &mut |_| {}).unwrap();
            let want = matrix(&case[key]);
            assert_eq!(got.len(), want.len(), "{name} {key}");
            for (i, w) in want.iter().enumerate() {
                let err = max_abs(got.row(i), w);
                assert!(err <= 1e-4, "{name} {key} input {i}: max abs error {err}");
            }
        }
    }
}

/// `--query-prompt` / `--passage-prompt` replace the model's prompts, "" switches one off, and
/// the passage prompt is part of the cache identity.
#[test]
fn prompt_overrides_replace_the_models_prompts() {
    let case = cases("prompted")
        .into_iter()
        .find(|c| c["name"] == "tiny-bert-prompts")
        .unwrap();
    let dir = model_dir(&case);
    let load = |q: Option<&str>, p: Option<&str>| {
        SentenceEncoder::load(
            &dir,
            &EncoderOptions {
                query_prompt: q.map(str::to_owned),
                passage_prompt: p.map(str::to_owned),
                ..EncoderOptions::default()
            },
        )
        .unwrap()
    };
    let inputs = strings(&case["inputs"]);
    let refs: Vec<&str> = inputs.iter().map(String::as_str).collect();
    // Swapped prompts: queries now get the passage prompt's vectors and vice versa.
    let mut swapped = load(Some("passage: "), Some("query: "));
    let q = swapped.embed(Side::Query, &refs, &mut |_| {}).unwrap();
    let p = swapped.embed(Side::Passage, &refs, &mut |_| {}).unwrap();
    for (i, (wq, wp)) in matrix(&case["passage_embeddings"])
        .iter()
        .zip(matrix(&case["query_embeddings"]).iter())
        .enumerate()
    {
        assert!(max_abs(q.row(i), wq) <= 1e-4, "swapped query {i}");
        assert!(max_abs(p.row(i), wp) <= 1e-4, "swapped passage {i}");
    }
    // "" switches the prompt off: the same as the unprompted plain side of this model.
    let mut off = load(Some(""), Some(""));
    let q = off.embed(Side::Query, &refs, &mut |_| {}).unwrap();
    let plain = off.embed(Side::Plain, &refs, &mut |_| {}).unwrap();
    assert_eq!(q, plain);
    let model = load(None, None);
    assert!(model.identity().contains("passage-prompt=\"passage: \""));
    assert_ne!(model.identity(), swapped.identity());
    assert_ne!(model.identity(), off.identity());
    assert_eq!(off.prompts().passage, "");
}
