//! word2vec against gensim (the PyPI package in scripts/requirements-test.txt): files bigyo
//! writes read in gensim with the same numbers, files gensim writes read in bigyo with the
//! same numbers and the same `most_similar` answers; and `bigyo word2vec` on corpora loaded
//! offline (the bundled sample, and a synthetic two-topic corpus with a planted meaning).
mod common;

use std::path::Path;
use std::process::Command;
use std::sync::Arc;

use arrow::array::{RecordBatch, StringArray};
use arrow::datatypes::{DataType, Field, Schema};
use bigyo::word2vec::{self, Format, WordVectors};
use common::{bigyo_command, ok, root, venv_python, write_parquet};
use serde_json::Value;

fn gensim(args: &[&str]) -> Value {
    let out = Command::new(venv_python())
        .arg(root().join("tests/word2vec_ref.py"))
        .args(args)
        .output()
        .expect("the test venv's python runs");
    assert!(
        out.status.success(),
        "gensim: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("gensim prints JSON")
}

fn as_vectors(v: &Value) -> WordVectors {
    let words: Vec<String> = serde_json::from_value(v["words"].clone()).unwrap();
    let rows: Vec<Vec<f64>> = serde_json::from_value(v["vectors"].clone()).unwrap();
    let dim = rows[0].len();
    let data = rows.iter().flatten().map(|&x| x as f32).collect();
    WordVectors::new(words, dim, data).unwrap()
}

/// The word2vec text format read by hand, to know exactly which numbers bigyo wrote.
fn parse_text(path: &Path) -> WordVectors {
    let text = std::fs::read_to_string(path).unwrap();
    let mut lines = text.lines();
    let head: Vec<usize> = lines
        .next()
        .unwrap()
        .split(' ')
        .map(|n| n.parse().unwrap())
        .collect();
    let (mut words, mut data) = (Vec::new(), Vec::new());
    for line in lines {
        let mut parts = line.split(' ');
        words.push(parts.next().unwrap().to_owned());
        data.extend(parts.map(|x| x.parse::<f32>().unwrap()));
    }
    assert_eq!(words.len(), head[0]);
    WordVectors::new(words, head[1], data).unwrap()
}

fn bigyo(home: &Path, args: &[&str]) -> String {
    let out = bigyo_command(home)
        .args(["--offline", "--device", "cpu"])
        .args(args)
        .output()
        .unwrap();
    ok(&out)
}

#[test]
fn vectors_bigyo_trains_on_the_sample_read_in_gensim_with_the_same_numbers() {
    let home = tempfile::tempdir().unwrap();
    let dir = home.path();
    let mut written = WordVectors::new(vec!["-".into()], 1, vec![0.0]).unwrap();
    for (name, fmt) in [("v.txt", "text"), ("v.bin", "binary")] {
        let path = dir.join(name);
        bigyo(
            dir,
            &[
                "--data",
                "sample",
                "word2vec",
                "train",
                "--sg",
                "--min-count",
                "2",
                "--out",
                path.to_str().unwrap(),
            ],
        );
        if fmt == "text" {
            written = parse_text(&path);
        }
        let ours = word2vec::load(&path, Format::from_path(&path)).unwrap();
        assert!(ours.len() > 500, "{} words", ours.len());
        let theirs = as_vectors(&gensim(&["read", path.to_str().unwrap(), fmt]));
        // Exactly the numbers bigyo wrote: the text file's decimals, parsed here.
        assert_eq!(theirs, written, "{name}: gensim reads other numbers");
        // bigyo's reader (through finalfusion's normalised vectors) within float32 rounding.
        let d = ours.max_difference(&theirs).unwrap();
        assert!(d < 1e-6, "{name}: bigyo reads its own file {d} away");
    }
    // One seed, one file: training again writes the same bytes.
    let again = dir.join("again.txt");
    bigyo(
        dir,
        &[
            "--data",
            "sample",
            "word2vec",
            "train",
            "--sg",
            "--min-count",
            "2",
            "--out",
            again.to_str().unwrap(),
        ],
    );
    assert_eq!(
        std::fs::read(dir.join("v.txt")).unwrap(),
        std::fs::read(&again).unwrap()
    );
}

#[test]
fn vectors_gensim_writes_read_in_bigyo_with_the_same_numbers_and_answers() {
    let home = tempfile::tempdir().unwrap();
    let dir = home.path();
    let answers = gensim(&["write", dir.to_str().unwrap()]);
    let text = word2vec::load(&dir.join("g.txt"), Format::Text).unwrap();
    let binary = word2vec::load(&dir.join("g.bin"), Format::Binary).unwrap();
    for (name, ours) in [("g.txt", &text), ("g.bin", &binary)] {
        let fmt = if name.ends_with("bin") {
            "binary"
        } else {
            "text"
        };
        let theirs = as_vectors(&gensim(&["read", dir.join(name).to_str().unwrap(), fmt]));
        let d = ours.max_difference(&theirs).unwrap();
        assert!(d < 1e-6, "{name}: bigyo reads gensim's numbers {d} away");
    }
    // most_similar and the analogy, through the CLI, within float32 rounding.
    let check = |ours: &str, theirs: &Value| {
        let ours: Value = serde_json::from_str(ours.trim()).unwrap();
        let theirs = theirs.as_array().unwrap();
        assert_eq!(ours.as_array().unwrap().len(), theirs.len());
        for (o, t) in ours.as_array().unwrap().iter().zip(theirs) {
            assert_eq!(o["word"], t[0], "{ours} vs {theirs:?}");
            let (a, b) = (o["cosine"].as_f64().unwrap(), t[1].as_f64().unwrap());
            assert!((a - b).abs() < 1e-5, "{a} vs {b}");
        }
    };
    let bin = dir.join("g.bin");
    let vectors = bin.to_str().unwrap();
    let nearest = bigyo(
        dir,
        &[
            "word2vec",
            "nearest",
            "학교",
            "--vectors",
            vectors,
            "--topn",
            "3",
            "--format",
            "json",
        ],
    );
    check(&nearest, &answers["nearest"]);
    let vec_file = dir.join("g.vec");
    std::fs::copy(dir.join("g.txt"), &vec_file).unwrap();
    let analogy = bigyo(
        dir,
        &[
            "word2vec",
            "analogy",
            "학교",
            "운동",
            "축구",
            "--vectors",
            vec_file.to_str().unwrap(),
            "--topn",
            "3",
            "--format",
            "json",
        ],
    );
    check(&analogy, &answers["analogy"]);
}

/// Two topics, school and sport, in passages of spaced words; 학교 and 공부 share the
/// school topic's contexts, 운동 the sport topic's.
fn two_topic_corpus(path: &Path) {
    let school = ["학교", "공부", "시험", "교실", "숙제", "선생님", "학생"];
    let sport = ["운동", "축구", "선수", "경기", "체육", "달리기", "근육"];
    let mut state = 11u64;
    let mut next = |n: usize| {
        state = state
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1);
        ((state >> 33) as usize) % n
    };
    let passages: Vec<String> = (0..300)
        .map(|p| {
            let topic = if p % 2 == 0 { &school } else { &sport };
            (0..40)
                .map(|_| topic[next(7)])
                .collect::<Vec<_>>()
                .join(" ")
        })
        .collect();
    let schema = Arc::new(Schema::new(vec![Field::new(
        "context",
        DataType::Utf8,
        false,
    )]));
    let column = StringArray::from(passages);
    write_parquet(
        path,
        RecordBatch::try_new(schema, vec![Arc::new(column)]).unwrap(),
    );
}

#[test]
fn similar_on_a_two_topic_corpus_puts_school_with_study_and_apart_from_exercise() {
    let home = tempfile::tempdir().unwrap();
    let data = home.path().join("topics.parquet");
    two_topic_corpus(&data);
    let out = bigyo(
        home.path(),
        &[
            "--data",
            data.to_str().unwrap(),
            "--model",
            common::minilm_dir().to_str().unwrap(),
            "word2vec",
            "similar",
            "--sg",
            "--format",
            "json",
        ],
    );
    let r: Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(r["words"], serde_json::json!(["학교", "공부", "운동"]));
    for i in 0..3 {
        for j in 0..3 {
            let want = if i == j { 1.0 } else { 0.0 };
            assert_eq!(r["one_hot"][i][j], want);
            assert_eq!(r["bag_of_words"][i][j], want);
        }
    }
    let w2v = |i: usize, j: usize| r["word2vec"][i][j].as_f64().unwrap();
    assert!(
        w2v(0, 1) > w2v(0, 2) + 0.2,
        "학교·공부 {} vs 학교·운동 {}",
        w2v(0, 1),
        w2v(0, 2)
    );
    // The sentence encoder answered too (MiniLM: English, so no claim on its order).
    let dense = r["dense"].as_array().expect("dense cosines");
    assert!((dense[0][0].as_f64().unwrap() - 1.0).abs() < 1e-5);
    assert!(dense[0][1].as_f64().unwrap().abs() <= 1.0 + 1e-6);
    let near = r["nearest"][0].as_array().unwrap();
    let school = ["공부", "시험", "교실", "숙제", "선생", "생님", "학생"];
    assert!(
        school.contains(&near[0]["word"].as_str().unwrap()),
        "nearest to 학교: {near:?}"
    );
}

#[test]
fn similar_on_the_bundled_sample_says_which_words_it_has_never_seen() {
    let home = tempfile::tempdir().unwrap();
    let out = bigyo(
        home.path(),
        &[
            "--data",
            "sample",
            "--model",
            "none-such-model",
            "word2vec",
            "similar",
            "--min-count",
            "1",
        ],
    );
    // 운동 never occurs in the sample: no vector, said so; the others have cosines.
    assert!(
        out.contains("[3] 운동  (word2vec: not in the vocabulary)"),
        "{out}"
    );
    assert!(out.contains("sentence encoder\n  (not available:"), "{out}");
    let w2v = out.split("\nword2vec\n").nth(1).unwrap();
    let row1 = w2v.lines().nth(1).unwrap();
    assert!(
        row1.starts_with("[1]") && row1.trim_end().ends_with('-'),
        "{row1}"
    );
}

/// A screen line without the borders of the boxes it sits in.
fn inside_box(line: &str) -> &str {
    line.trim_start_matches(['│', ' '])
}

/// The explorer's playground in tmux on the two-topic corpus (loaded offline from a local
/// parquet file; the bundled sample never mentions 운동): F4 opens it, F9 puts the chapter's
/// words in its lines, and it answers with one-hot 0, the sentence encoder's cosines and
/// word2vec's, with each word's nearest words.
#[test]
fn playground_answers_the_chapter_words_with_one_hot_zero_and_dense_cosines() {
    use common::tmux::{release_binary, Tmux};
    let Some(bin) = release_binary() else {
        panic!("no release binary: run `make build` (make test does), or set BIGYO_BIN");
    };
    let home = tempfile::tempdir().unwrap();
    let data = home.path().join("topics.parquet");
    two_topic_corpus(&data);
    let tmux = Tmux {
        socket: format!("bigyo-w2v-{}", std::process::id()),
    };
    let command = format!(
        "env BIGYO_CACHE_DIR='{home}/cache' BIGYO_CONFIG_DIR='{home}/config' \
         BIGYO_DATA_DIR='{home}/data' HF_HUB_OFFLINE=1 LANG=C.UTF-8 '{bin}' --data '{data}' \
         --model '{model}' --reranker none --device cpu --offline; sleep 30",
        home = home.path().display(),
        bin = bin.display(),
        data = data.display(),
        model = common::minilm_dir().display(),
    );
    let started = tmux.start(&command, (160, 50));
    tmux.wait(started, "Ready", |s| s.contains("Ready"));
    tmux.keys(&["F4"]);
    tmux.wait(started, "the playground", |s| {
        s.contains("Similarity playground")
    });
    tmux.keys(&["F9"]);
    let screen = tmux.wait(started, "the word2vec section", |s| {
        s.contains("word2vec (skip-gram")
            && s.contains("nearest:")
            && s.contains("dense (")
            && !s.contains("waiting for the encoder")
            && !s.contains("embedding the sentences")
    });
    for w in ["[1] 학교", "[2] 공부", "[3] 운동"] {
        assert!(screen.contains(w), "{w}:\n{screen}");
    }
    // The one-hot block: 1 on the diagonal, 0 elsewhere, for three words.
    let one_hot = screen
        .lines()
        .skip_while(|l| !l.contains("one-hot"))
        .skip(2)
        .take(3)
        .map(|l| {
            inside_box(l)
                .split_whitespace()
                .take(4)
                .collect::<Vec<_>>()
                .join(" ")
        })
        .collect::<Vec<_>>();
    assert_eq!(
        one_hot,
        [
            "[1] 1.00 0.00 0.00",
            "[2] 0.00 1.00 0.00",
            "[3] 0.00 0.00 1.00"
        ],
        "{screen}"
    );
    // The word2vec rows: 학교 is closer to 공부 than to 운동.
    let row = screen
        .lines()
        .skip_while(|l| !l.contains("word2vec (skip-gram"))
        .nth(1)
        .unwrap()
        .to_owned();
    let cells: Vec<f64> = inside_box(&row)
        .split_whitespace()
        .skip(1)
        .take(3)
        .map(|c| c.parse().unwrap())
        .collect();
    assert_eq!(cells[0], 1.0, "{row}");
    assert!(
        cells[1] > cells[2],
        "학교·공부 vs 학교·운동: {row}\n{screen}"
    );
    assert!(!screen.contains("panicked"), "{screen}");
}
