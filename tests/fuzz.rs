//! Bounded property tests (proptest) over the parquet loading path and the analyzers:
//! arbitrary and damaged inputs must give a result or an error, never a panic, and every
//! term must point at its own text. Cases found are kept below as regression tests.
use std::io::Write;
use std::sync::OnceLock;

use bigyo::bm25::{Analyzer, Bm25Index};
use bigyo::data::{Corpus, LoadOptions, SAMPLE_PARQUET};
use proptest::prelude::*;

/// Text drawn from Hangul, jamo, Latin, digits, CJK, emoji, combining marks, controls.
fn text() -> impl Strategy<Value = String> {
    prop::collection::vec(
        prop_oneof![
            4 => prop::char::range('가', '힣'),
            1 => prop::char::range('\u{1100}', '\u{11FF}'),
            1 => prop::char::range('\u{3130}', '\u{318F}'),
            2 => prop::char::range('a', 'z'),
            1 => prop::char::range('A', 'Z'),
            1 => prop::char::range('0', '9'),
            1 => prop::char::range('一', '龥'),
            1 => prop::char::range('\u{1F300}', '\u{1F6FF}'),
            1 => prop::char::range('\u{0300}', '\u{036F}'),
            1 => prop::char::range('\u{0}', '\u{1F}'),
            2 => Just(' '),
            1 => prop::sample::select(vec!['"', ':', '(', ')', '[', ']', '-', '+', '*', '~', '^', '.', '…', 'İ', 'ß', 'Ⅻ']),
        ],
        0..80,
    )
    .prop_map(|cs| cs.into_iter().collect())
}

fn check_terms(analyzer: &Analyzer, s: &str) {
    for t in analyzer.terms(s) {
        assert!(t.start < t.end && t.end <= s.len(), "{t:?} in {s:?}");
        assert!(s.is_char_boundary(t.start) && s.is_char_boundary(t.end));
        assert!(!t.text.is_empty());
        if !matches!(analyzer, Analyzer::Wordpiece(_)) {
            assert_eq!(s[t.start..t.end].to_lowercase(), t.text, "{s:?}");
        }
    }
    for (a, b) in analyzer.highlight(s, &analyzer.query_terms(s)) {
        assert!(a < b && b <= s.len() && s.is_char_boundary(a) && s.is_char_boundary(b));
    }
}

fn index() -> &'static Bm25Index {
    static INDEX: OnceLock<Bm25Index> = OnceLock::new();
    INDEX.get_or_init(|| {
        let corpus = Corpus::sample(&LoadOptions::default()).unwrap();
        let texts: Vec<&str> = corpus.texts();
        Bm25Index::build(&texts, Analyzer::Bigram, &mut |_| {}).unwrap()
    })
}

fn load_bytes(bytes: &[u8]) -> Result<Corpus, String> {
    let mut file = tempfile::NamedTempFile::new().unwrap();
    file.write_all(bytes).unwrap();
    Corpus::from_parquet(file.path(), &LoadOptions::default()).map_err(|e| e.to_string())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn analyzers_point_at_their_text(s in text()) {
        check_terms(&Analyzer::Bigram, &s);
        check_terms(&Analyzer::Whitespace, &s);
    }

    #[test]
    fn bm25_answers_any_query(q in text()) {
        let hits = index().search(&q, 10).unwrap();
        prop_assert!(hits.len() <= 10);
        for w in hits.windows(2) {
            prop_assert!(w[0].score >= w[1].score);
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, failure_persistence: None, ..ProptestConfig::default() })]

    /// Damaged copies of the sample parquet: flipped bytes and truncations.
    #[test]
    fn damaged_parquet_gives_a_corpus_or_an_error(
        flips in prop::collection::vec((any::<prop::sample::Index>(), 1u8..=255), 0..8),
        cut in prop::option::of(any::<prop::sample::Index>()),
    ) {
        let mut bytes = SAMPLE_PARQUET.to_vec();
        for (at, x) in flips {
            let i = at.index(bytes.len());
            bytes[i] ^= x;
        }
        if let Some(c) = cut {
            bytes.truncate(c.index(bytes.len()));
        }
        if let Ok(corpus) = load_bytes(&bytes) {
            prop_assert!(!corpus.passages.is_empty());
            for q in &corpus.questions {
                prop_assert!(q.passage < corpus.passages.len());
            }
        }
    }

    #[test]
    fn random_bytes_are_not_parquet(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        let err = load_bytes(&bytes).unwrap_err();
        prop_assert!(err.contains("parquet"), "{}", err);
    }
}

/// Kept cases: a lone combining mark, a dotted capital I (lowercases to two chars), jamo runs.
#[test]
fn regressions() {
    for s in [
        "\u{0301}",
        "İstanbul 서울",
        "ᄀᄁᄂ ㄱㄴ",
        "Ⅻ세기",
        "a\u{0}b",
        "🙂가🙂",
    ] {
        check_terms(&Analyzer::Bigram, s);
        check_terms(&Analyzer::Whitespace, s);
        index().search(s, 5).unwrap();
    }
}
