//! CLIP golden tests: bigyo's CLIP towers, image preprocessing and multilingual CLIP text
//! encoders against transformers' `CLIPModel` + `CLIPImageProcessorPil` and
//! sentence-transformers, on tiny random models that tests/golden/make_clip_golden.py builds
//! (`make golden`). Random weights prove exactness, never quality.
use std::path::{Path, PathBuf};

use bigyo::model::clip::{ClipModel, ClipSpace};
use bigyo::model::{Embeddings, ModelDir, ModelSpec, Runtime};
use serde_json::Value;

fn manifest() -> Value {
    let path =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden/generated/clip/manifest.json");
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{}: {e}; run `make golden` first", path.display()));
    serde_json::from_str(&text).unwrap()
}

fn cases(kind: &str) -> Vec<Value> {
    let all: Vec<Value> = manifest()["cases"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["kind"] == kind)
        .cloned()
        .collect();
    assert!(!all.is_empty(), "no {kind} cases");
    all
}

fn dir(case: &Value) -> ModelDir {
    ModelDir::resolve(&ModelSpec::new(case["model_dir"].as_str().unwrap())).unwrap()
}

fn texts() -> Vec<String> {
    manifest()["texts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t.as_str().unwrap().to_owned())
        .collect()
}

fn images() -> Vec<(String, PathBuf)> {
    manifest()["images"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| {
            (
                i["name"].as_str().unwrap().to_owned(),
                PathBuf::from(i["path"].as_str().unwrap()),
            )
        })
        .collect()
}

/// Largest absolute difference between bigyo's rows and the reference's.
fn max_diff(ours: &Embeddings, reference: &Value) -> f64 {
    let rows = reference.as_array().unwrap();
    assert_eq!(ours.len(), rows.len());
    let mut worst = 0f64;
    for (i, row) in rows.iter().enumerate() {
        let row = row.as_array().unwrap();
        assert_eq!(row.len(), ours.dim);
        for (a, b) in ours.row(i).iter().zip(row) {
            worst = worst.max((f64::from(*a) - b.as_f64().unwrap()).abs());
        }
    }
    worst
}

#[test]
fn preprocessed_pixels_equal_transformers_pil_backend() {
    let case = &cases("clip")[0];
    let model = ClipModel::load(&dir(case), Runtime::cpu()).unwrap();
    let pixel_dir = PathBuf::from(case["model_dir"].as_str().unwrap())
        .join("../../pixels")
        .join(case["name"].as_str().unwrap());
    for (name, path) in images() {
        let ours = model.load_pixels(&path).unwrap();
        assert_eq!((ours.width, ours.height), (224, 224), "{name}");
        let bytes = std::fs::read(pixel_dir.join(format!("{name}.f32"))).unwrap();
        let reference: Vec<f32> = bytes
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect();
        assert_eq!(reference.len(), ours.data.len(), "{name}");
        let differing = ours
            .data
            .iter()
            .zip(&reference)
            .filter(|(a, b)| a != b)
            .count();
        let worst = ours
            .data
            .iter()
            .zip(&reference)
            .map(|(a, b)| (a - b).abs())
            .fold(0f32, f32::max);
        // PNGs decode to the same bytes everywhere, so every value is bit-identical. JPEG
        // decoders differ (zune-jpeg here, libjpeg-turbo in Pillow): measured up to 0.058
        // (about 4 levels, in the 4:2:0 file's chroma upsampling), so JPEGs get 0.07.
        if name.ends_with(".png") {
            assert_eq!(
                differing, 0,
                "{name}: {differing} values differ, worst {worst}"
            );
        } else {
            assert!(worst <= 0.07, "{name}: worst {worst}");
            eprintln!(
                "{name}: {differing} of {} values differ, worst {worst}",
                reference.len()
            );
        }
    }
}

#[test]
fn clip_tokenizer_matches_transformers() {
    for case in cases("clip") {
        let model = ClipModel::load(&dir(&case), Runtime::cpu()).unwrap();
        let texts = texts();
        let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
        let ours = model.token_ids(&refs).unwrap();
        let want: Vec<Vec<u32>> = case["input_ids"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| {
                r.as_array()
                    .unwrap()
                    .iter()
                    .map(|x| x.as_u64().unwrap() as u32)
                    .collect()
            })
            .collect();
        assert_eq!(ours, want, "{}", case["name"]);
    }
}

#[test]
fn clip_text_and_image_embeddings_match_transformers_within_1e_4() {
    for case in cases("clip") {
        let name = case["name"].as_str().unwrap();
        let model = ClipModel::load(&dir(&case), Runtime::cpu()).unwrap();
        let texts = texts();
        let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
        let text = model.embed_texts(&refs).unwrap();
        let d = max_diff(&text, &case["text_embeddings"]);
        assert!(d <= 1e-4, "{name}: text embeddings differ by {d}");
        let d_st = max_diff(&text, &case["st_text_embeddings"]);
        assert!(d_st <= 1e-4, "{name}: vs sentence-transformers {d_st}");
        // The PNGs only: their pixels are bit-identical, so the embeddings test the towers.
        let pngs: Vec<PathBuf> = images().into_iter().map(|(_, p)| p).collect::<Vec<_>>();
        let paths: Vec<&Path> = pngs.iter().map(PathBuf::as_path).collect();
        let image = model.embed_image_files(&paths, 4, &mut |_| {}).unwrap();
        let rows: Vec<usize> = images()
            .iter()
            .enumerate()
            .filter(|(_, (n, _))| n.ends_with(".png"))
            .map(|(i, _)| i)
            .collect();
        let reference = &case["image_embeddings"];
        let mut worst = 0f64;
        for &i in &rows {
            let want = reference[i].as_array().unwrap();
            for (a, b) in image.row(i).iter().zip(want) {
                worst = worst.max((f64::from(*a) - b.as_f64().unwrap()).abs());
            }
        }
        assert!(worst <= 1e-4, "{name}: image embeddings differ by {worst}");
        let want_scale = case["logit_scale"].as_f64().unwrap();
        assert!((model.logit_scale() - want_scale).abs() < 1e-4);
        eprintln!("{name}: text {d:.2e} (st {d_st:.2e}), png images {worst:.2e}");
    }
}

#[test]
fn batched_image_embeddings_equal_one_at_a_time() {
    let case = &cases("clip")[0];
    let model = ClipModel::load(&dir(case), Runtime::cpu()).unwrap();
    let paths: Vec<PathBuf> = images().into_iter().map(|(_, p)| p).collect();
    let refs: Vec<&Path> = paths.iter().map(PathBuf::as_path).collect();
    let all = model.embed_image_files(&refs, 8, &mut |_| {}).unwrap();
    for (i, p) in refs.iter().enumerate() {
        let one = model.embed_image_files(&[p], 1, &mut |_| {}).unwrap();
        for (a, b) in one.row(0).iter().zip(all.row(i)) {
            assert!((a - b).abs() < 1e-5, "{}: {a} vs {b}", p.display());
        }
    }
}

#[test]
fn multilingual_clip_text_encoders_match_sentence_transformers_within_1e_4() {
    let clip = dir(&cases("clip")[0]);
    for case in cases("mclip") {
        let name = case["name"].as_str().unwrap();
        let mut space = ClipSpace::load(&clip, Some(&dir(&case)), Runtime::cpu()).unwrap();
        assert!(space.multilingual());
        let texts = texts();
        let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
        let ours = space.embed_texts(&refs).unwrap();
        let d = max_diff(&ours, &case["embeddings"]);
        assert!(d <= 1e-4, "{name}: {d}");
        eprintln!("{name}: {d:.2e}");
    }
}

#[test]
fn unreadable_images_are_refused_naming_the_file() {
    let case = &cases("clip")[0];
    let model = ClipModel::load(&dir(case), Runtime::cpu()).unwrap();
    for bad in manifest()["bad_images"].as_array().unwrap() {
        let path = Path::new(bad.as_str().unwrap());
        let err = model.load_pixels(path).unwrap_err().to_string();
        assert!(err.contains(&path.display().to_string()), "{err}");
    }
}
