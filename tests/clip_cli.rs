//! CLIP from the outside: `bigyo similar --image` prints the text x image table, bad image
//! files are refused by name, and `bigyo --images DIR --clip MODEL` ranks a folder in tmux
//! with half-block thumbnails (160x45), the second time from the embedding cache.
//! Needs the CLIP golden set (`make golden`), and for the explorer test tmux and
//! `target/release/bigyo`.
use std::path::{Path, PathBuf};
use std::process::Command;

mod common;
use common::tmux::{release_binary, Tmux};
use common::{bigyo_command, failed, ok};

fn manifest() -> serde_json::Value {
    let path = common::root().join("tests/golden/generated/clip/manifest.json");
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{}: {e}; run `make golden` first", path.display()));
    serde_json::from_str(&text).unwrap()
}

fn case_dir(name: &str) -> String {
    manifest()["cases"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == name)
        .unwrap()["model_dir"]
        .as_str()
        .unwrap()
        .to_owned()
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

fn folder_with_images(dir: &Path) {
    for im in manifest()["images"].as_array().unwrap() {
        let src = Path::new(im["path"].as_str().unwrap());
        std::fs::copy(src, dir.join(src.file_name().unwrap())).unwrap();
    }
    for bad in manifest()["bad_images"].as_array().unwrap() {
        let src = Path::new(bad.as_str().unwrap());
        std::fs::copy(src, dir.join(src.file_name().unwrap())).unwrap();
    }
}

#[test]
fn image_folder_opens_as_a_corpus_ranked_with_half_block_thumbnails() {
    let Some(bin) = release_binary() else {
        panic!("no release binary: run `make build` (make test does), or set BIGYO_BIN");
    };
    if Command::new("tmux").arg("-V").output().is_err() {
        panic!("tmux is not installed: `make setup-test` installs it");
    }
    let home = tempfile::tempdir().unwrap();
    let folder = home.path().join("photos");
    std::fs::create_dir(&folder).unwrap();
    folder_with_images(&folder);
    let command = format!(
        "env BIGYO_CACHE_DIR='{home}/cache' BIGYO_THUMBNAILS=halfblocks LANG=C.UTF-8 '{bin}' \
         --device cpu --images '{folder}' --clip '{clip}' --clip-text '{text}'; \
         echo \"bigyo-exited-$?\"; sleep 30",
        home = home.path().display(),
        bin = bin.display(),
        folder = folder.display(),
        clip = case_dir("tiny-clip"),
        text = case_dir("tiny-mclip-distilbert"),
    );
    for run in 0..2 {
        let tmux = Tmux {
            socket: format!("bigyo-clip-{}-{run}", std::process::id()),
        };
        let started = tmux.start(&command, (160, 45));
        let screen = tmux.wait(started, "the folder to load", |s| s.contains("9 images"));
        assert!(screen.contains("2 skipped"), "{screen}");
        if run == 1 {
            assert!(screen.contains("from the cache"), "{screen}");
        }
        tmux.type_text("고양이 사진");
        let screen = tmux.wait(started, "a ranking with thumbnails", |s| {
            s.contains("Ranked by CLIP cosine") && s.contains('▀') && !s.contains("loading…")
        });
        assert!(screen.contains("  1. "), "{screen}");
        assert!(screen.contains("#1 "), "{screen}");
        assert!(!screen.contains("panicked"), "{screen}");
        tmux.keys(&["Escape"]);
        tmux.wait(started, "bigyo to exit", |s| s.contains("bigyo-exited-0"));
    }
}
