//! CLIP from the command line: `bigyo similar --image` prints the text x image table, bad
//! image files are refused by name. Needs the CLIP golden set (`make golden`). The image
//! search screen (`--images DIR`) is tested in tmux in tests/tui_e2e.rs.
use std::path::PathBuf;

mod common;
use common::{bigyo_command, failed, ok};

fn manifest() -> serde_json::Value {
    common::clip_manifest()
}

fn case_dir(name: &str) -> String {
    common::clip_case_dir(name)
}

fn image(name: &str) -> PathBuf {
    let images = manifest()["images"].as_array().unwrap().clone();
    let found = images.iter().find(|i| i["name"] == name).unwrap();
    PathBuf::from(found["path"].as_str().unwrap())
}

#[test]
fn similar_prints_cosines_and_softmax_for_two_images_and_two_korean_captions() {
    let home = tempfile::tempdir().unwrap();
    let cat = image("rgb-37x101.png");
    let dog = image("photo-250x171-420.jpg");
    let out = bigyo_command(home.path())
        .args([
            "--device",
            "cpu",
            "--clip",
            &case_dir("tiny-clip"),
            "similar",
        ])
        .args(["--image".as_ref(), cat.as_os_str()])
        .args(["--image".as_ref(), dog.as_os_str()])
        .args(["고양이 사진", "강아지 사진"])
        .output()
        .unwrap();
    let text = ok(&out);
    assert!(
        text.contains("cosine similarity (image x caption)"),
        "{text}"
    );
    assert!(
        text.contains("softmax over captions of logits_per_image"),
        "{text}"
    );
    let rows: Vec<&str> = text
        .lines()
        .filter(|l| l.starts_with("rgb-37x101.png") || l.starts_with("photo-250x171-420.jpg"))
        .collect();
    assert_eq!(rows.len(), 4, "{text}");
    // The softmax rows sum to 1 over the two captions.
    for row in &rows[2..] {
        let p: Vec<f64> = row
            .split_whitespace()
            .skip(1)
            .map(|x| x.parse().unwrap())
            .collect();
        assert!((p.iter().sum::<f64>() - 1.0).abs() < 2e-4, "{row}");
    }

    // JSON, with the multilingual text encoder: the same shape, texts by the other model.
    let out = bigyo_command(home.path())
        .args(["--device", "cpu", "--clip", &case_dir("tiny-clip")])
        .args(["--clip-text", &case_dir("tiny-mclip-distilbert"), "similar"])
        .args(["--format", "json", "--image"])
        .arg(&cat)
        .args(["고양이 사진", "강아지 사진", "a photo of a cat"])
        .output()
        .unwrap();
    let json: serde_json::Value = serde_json::from_str(ok(&out).trim()).unwrap();
    assert_eq!(json["cosine"][0].as_array().unwrap().len(), 3);
    assert!(json["text_model"]
        .as_str()
        .unwrap()
        .contains("tiny-mclip-distilbert"));
}

#[test]
fn bad_image_files_are_refused_naming_the_file() {
    let home = tempfile::tempdir().unwrap();
    for bad in manifest()["bad_images"].as_array().unwrap() {
        let bad = bad.as_str().unwrap();
        let out = bigyo_command(home.path())
            .args([
                "--device",
                "cpu",
                "--clip",
                &case_dir("tiny-clip"),
                "similar",
            ])
            .args(["--image", bad, "고양이 사진"])
            .output()
            .unwrap();
        let err = failed(&out);
        assert!(err.contains(bad), "{err}");
    }
    let out = bigyo_command(home.path())
        .args(["similar", "--image", "/nonexistent.png", "고양이"])
        .output()
        .unwrap();
    assert!(failed(&out).contains("--clip"));
}
