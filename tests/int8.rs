//! `--dtype int8` (dynamic int8 dense layers, src/model/int8.rs) against fp32: the golden
//! all-MiniLM-L6-v2 references of sentence-transformers, and the set-up's local
//! multilingual-e5-small (Korean) on the sample: embeddings within cosine 0.99 of fp32 (mean
//! and minimum over the sample's passages) and the sample's dense MRR@10 within 0.005.
mod common;

use std::path::PathBuf;

use bigyo::model::{
    DTypeChoice, DeviceChoice, Embedder, EncoderOptions, ModelDir, ModelSpec, Runtime,
    SentenceEncoder, Side,
};
use common::{bigyo_in, ok};
use serde_json::Value;

/// Where the set-up put multilingual-e5-small (scripts/setup.sh; `.bigyo/e5` links to it).
fn e5_dir() -> PathBuf {
    let dir = common::root().join(".bigyo/e5");
    assert!(
        dir.join("model.safetensors").is_file(),
        "{} is missing: run scripts/setup.sh (make test does)",
        dir.display()
    );
    dir
}

fn encoder(dir: &std::path::Path, dtype: DTypeChoice) -> SentenceEncoder {
    let runtime = Runtime::resolve(DeviceChoice::Cpu, dtype, None).unwrap();
    let opts = EncoderOptions {
        runtime,
        ..EncoderOptions::default()
    };
    let model = ModelDir::resolve(&ModelSpec::new(dir.to_string_lossy())).unwrap();
    SentenceEncoder::load(&model, &opts).unwrap()
}

fn cosine(a: &[f32], b: &[f64]) -> f64 {
    let dot: f64 = a.iter().zip(b).map(|(x, y)| f64::from(*x) * y).sum();
    let na: f64 = a.iter().map(|x| f64::from(*x).powi(2)).sum::<f64>().sqrt();
    let nb: f64 = b.iter().map(|y| y * y).sum::<f64>().sqrt();
    dot / (na * nb).max(1e-12)
}

/// The sample corpus's distinct passages, in order.
fn sample_passages() -> Vec<String> {
    let path = common::root().join("assets/sample/klue_mrc_sample.jsonl");
    let text = std::fs::read_to_string(&path).unwrap();
    let mut seen = std::collections::HashSet::new();
    text.lines()
        .map(|l| {
            serde_json::from_str::<Value>(l).unwrap()["context"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .filter(|c| seen.insert(c.clone()))
        .collect()
}

#[test]
fn int8_is_a_dtype_of_its_own_on_the_cpu_only() {
    let rt = Runtime::resolve(DeviceChoice::Cpu, DTypeChoice::Int8, None).unwrap();
    assert!(rt.int8);
    assert_eq!(rt.dtype_name(), "int8");
    assert!(rt.describe().ends_with("int8)"), "{}", rt.describe());
    // `auto` keeps bf16 / fp32: int8 is measured no faster than bf16 here (BENCHMARKS.md).
    let auto = Runtime::resolve(DeviceChoice::Cpu, DTypeChoice::Auto, None).unwrap();
    assert!(!auto.int8);
}

/// MiniLM under `--dtype int8` against sentence-transformers' fp32 embeddings (the golden
/// references): every input within cosine 0.99.
#[test]
fn int8_minilm_stays_within_cosine_099_of_the_golden_fp32_embeddings() {
    let manifest = common::root().join("tests/golden/generated/manifest.json");
    let json: Value = serde_json::from_str(&std::fs::read_to_string(manifest).unwrap()).unwrap();
    let case = json["cases"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "minilm")
        .expect("the golden manifest has the minilm case")
        .clone();
    let dir = PathBuf::from(case["model_dir"].as_str().unwrap());
    let mut enc = encoder(&dir, DTypeChoice::Int8);
    assert_eq!(enc.dtype_name(), "int8");
    let inputs: Vec<String> = case["inputs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap().to_owned())
        .collect();
    let refs: Vec<&str> = inputs.iter().map(String::as_str).collect();
    let got = enc.embed(Side::Plain, &refs, &mut |_| {}).unwrap();
    let want = case["embeddings"].as_array().unwrap();
    assert_eq!(want.len(), inputs.len());
    for (i, w) in want.iter().enumerate() {
        let w: Vec<f64> = w
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x.as_f64().unwrap())
            .collect();
        let cos = cosine(got.row(i), &w);
        assert!(cos >= 0.99, "input {i} ({:?}): cosine {cos}", inputs[i]);
    }
}

/// multilingual-e5-small on the sample's Korean passages: int8 against bigyo's fp32, cosine
/// mean and minimum at least 0.99.
#[test]
fn int8_e5_passages_stay_within_cosine_099_of_fp32() {
    let dir = e5_dir();
    let passages = sample_passages();
    assert!(passages.len() >= 50, "{} passages", passages.len());
    let refs: Vec<&str> = passages.iter().map(String::as_str).collect();
    let fp32 = encoder(&dir, DTypeChoice::F32)
        .embed(Side::Passage, &refs, &mut |_| {})
        .unwrap();
    let int8 = encoder(&dir, DTypeChoice::Int8)
        .embed(Side::Passage, &refs, &mut |_| {})
        .unwrap();
    let cos: Vec<f64> = (0..refs.len())
        .map(|i| {
            let want: Vec<f64> = fp32.row(i).iter().map(|&x| f64::from(x)).collect();
            cosine(int8.row(i), &want)
        })
        .collect();
    let mean = cos.iter().sum::<f64>() / cos.len() as f64;
    let min = cos.iter().copied().fold(f64::INFINITY, f64::min);
    eprintln!(
        "int8 vs fp32 over {} passages: cosine mean {mean:.5}, min {min:.5}",
        cos.len()
    );
    assert!(mean >= 0.99 && min >= 0.99, "mean {mean}, min {min}");
}

/// The sample's dense MRR@10 with multilingual-e5-small: `--dtype int8` within 0.005 of
/// `--dtype f32` (two `bigyo eval` runs, each in a fresh home so nothing is cached).
#[test]
fn int8_e5_keeps_the_samples_mrr_within_0005_of_fp32() {
    let model = e5_dir();
    let eval = |dtype: &str| -> Value {
        let home = tempfile::tempdir().unwrap();
        let out = bigyo_in(
            home.path(),
            &[
                "--data",
                "sample",
                "--model",
                model.to_str().unwrap(),
                "--dtype",
                dtype,
                "--methods",
                "dense",
                "eval",
                "--json",
            ],
        );
        serde_json::from_str(ok(&out).lines().last().unwrap()).unwrap()
    };
    let fp32 = eval("f32");
    let int8 = eval("int8");
    assert_eq!(fp32["embedding"]["dtype"], "f32");
    assert_eq!(int8["embedding"]["dtype"], "int8");
    let f = fp32["methods"]["dense"]["mrr@10"].as_f64().unwrap();
    let q = int8["methods"]["dense"]["mrr@10"].as_f64().unwrap();
    eprintln!("dense MRR@10: f32 {f:.4}, int8 {q:.4}");
    assert!(f > 0.5, "fp32 MRR@10 {f}: the model did not load as meant");
    assert!(
        (q - f).abs() <= 0.005,
        "MRR@10 {q} under int8 against {f} under f32"
    );
}
