use super::*;

/// A deterministic stream for building synthetic corpora.
struct Draw(u64);

impl Draw {
    fn below(&mut self, n: usize) -> usize {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1);
        ((self.0 >> 33) as usize) % n
    }
}

/// Planted pairs: the k-th pair's words (`a{k}`, `b{k}`) always stand between the same two
/// marker words (`l{k}` before, `r{k}` after) among background fillers, one of the pair per
/// sentence: the two share every context and never meet each other.
fn planted_corpus(topics: usize, sentences: usize) -> Vec<Vec<String>> {
    let mut draw = Draw(7);
    (0..sentences)
        .map(|n| {
            let k = n % topics;
            let mut s: Vec<String> = (0..10)
                .map(|_| format!("filler{}", draw.below(50)))
                .collect();
            let planted = if draw.below(2) == 0 { "a" } else { "b" };
            s.splice(
                4..4,
                [format!("l{k}"), format!("{planted}{k}"), format!("r{k}")],
            );
            s
        })
        .collect()
}

fn params(arch: Arch) -> Params {
    Params {
        arch,
        vector_size: 32,
        window: 3,
        min_count: 2,
        epochs: 10,
        ..Params::default()
    }
}

#[test]
fn planted_pairs_are_each_others_nearest_neighbours() {
    let corpus = planted_corpus(6, 3_000);
    for arch in [Arch::SkipGram, Arch::Cbow] {
        let v = train(&corpus, &params(arch), &mut |_| {}, &|| false).unwrap();
        for k in 0..6 {
            let (a, b) = (format!("a{k}"), format!("b{k}"));
            let na = v.nearest(&a, 3).unwrap();
            let nb = v.nearest(&b, 3).unwrap();
            assert_eq!(na[0].word, b, "{arch:?}: nearest to {a}: {na:?}");
            assert_eq!(nb[0].word, a, "{arch:?}: nearest to {b}: {nb:?}");
            // And far from another topic's planted word.
            let other = format!("a{}", (k + 1) % 6);
            assert!(v.similarity(&a, &b).unwrap() > v.similarity(&a, &other).unwrap() + 0.3);
        }
    }
}

#[test]
fn training_is_deterministic_for_a_seed_and_differs_across_seeds() {
    let corpus = planted_corpus(3, 300);
    let p = params(Arch::SkipGram);
    let one = train(&corpus, &p, &mut |_| {}, &|| false).unwrap();
    let two = train(&corpus, &p, &mut |_| {}, &|| false).unwrap();
    assert_eq!(one, two);
    let other = train(&corpus, &Params { seed: 2, ..p }, &mut |_| {}, &|| false).unwrap();
    assert_ne!(one.vector("a0"), other.vector("a0"));
}

#[test]
fn progress_counts_every_word_of_every_epoch_and_cancel_stops() {
    let corpus = planted_corpus(2, 50);
    let mut last = None;
    let p = Params {
        min_count: 1,
        ..params(Arch::Cbow)
    };
    train(&corpus, &p, &mut |pr| last = Some(pr), &|| false).unwrap();
    let last = last.unwrap();
    assert_eq!(last.done, last.total);
    assert_eq!(last.total, 50 * 13 * p.epochs);
    let err = train(&corpus, &p, &mut |_| {}, &|| true).unwrap_err();
    assert!(matches!(err, Word2VecError::Cancelled));
}

#[test]
fn bad_parameters_and_empty_vocabularies_name_the_problem() {
    let corpus = planted_corpus(2, 10);
    let err = train(
        &corpus,
        &Params {
            window: 0,
            ..Params::default()
        },
        &mut |_| {},
        &|| false,
    )
    .unwrap_err();
    assert!(err.to_string().contains("window = 0"), "{err}");
    let err = train(
        &corpus,
        &Params {
            min_count: 1_000,
            ..Params::default()
        },
        &mut |_| {},
        &|| false,
    )
    .unwrap_err();
    assert!(err.to_string().contains("at least 1000 times"), "{err}");
}

fn toy() -> WordVectors {
    WordVectors::new(
        vec![
            "왕".into(),
            "남자".into(),
            "여자".into(),
            "여왕".into(),
            "사과".into(),
        ],
        2,
        vec![1.0, 1.0, 1.0, 0.0, 0.0, 1.0, 0.1, 1.9, -1.0, 0.2],
    )
    .unwrap()
}

#[test]
fn analogy_follows_gensims_most_similar_on_unit_vectors() {
    let v = toy();
    // 왕 - 남자 + 여자 = (1/√2 - 1, 1/√2 + 1): closest by angle to 여왕 (0.1, 1.9).
    let top = v.analogy("왕", "남자", "여자", 2).unwrap();
    assert_eq!(top[0].word, "여왕");
    assert!(top
        .iter()
        .all(|n| !["왕", "남자", "여자"].contains(&n.word.as_str())));
    assert_eq!(v.analogy("왕", "없는말", "여자", 2).unwrap_err(), "없는말");
    let near = v.nearest("왕", 4).unwrap();
    assert_eq!(near.len(), 4);
    assert!((near[0].cosine - v.similarity("왕", &near[0].word).unwrap()).abs() < 1e-6);
    assert!(v.nearest("없는말", 3).is_none());
}

#[test]
fn a_typed_phrase_is_the_mean_of_its_known_terms() {
    let v = toy();
    let (vec, used) = v.lookup("왕", &Analyzer::Whitespace).unwrap();
    assert_eq!((vec, used), (vec![1.0, 1.0], vec!["왕".to_owned()]));
    let (vec, used) = v.lookup("남자 여자 없는말", &Analyzer::Whitespace).unwrap();
    assert_eq!(used, ["남자", "여자"]);
    assert_eq!(vec, [0.5, 0.5]);
    assert!(v.lookup("없는말", &Analyzer::Whitespace).is_none());
}

#[test]
fn text_and_binary_files_round_trip_exactly() {
    let dir = tempfile::tempdir().unwrap();
    let corpus = planted_corpus(2, 100);
    let v = train(&corpus, &params(Arch::SkipGram), &mut |_| {}, &|| false).unwrap();
    for (name, format) in [("v.txt", Format::Text), ("v.bin", Format::Binary)] {
        let path = dir.path().join(name);
        assert_eq!(Format::from_path(&path), format);
        save(&v, &path, format).unwrap();
        // finalfusion reads normalised vectors and their norms: float32 rounding apart.
        let back = load(&path, format).unwrap().max_difference(&v).unwrap();
        assert!(back < 1e-6, "{name}: {back}");
    }
    let text = std::fs::read_to_string(dir.path().join("v.txt")).unwrap();
    assert_eq!(
        text.lines().next().unwrap(),
        format!("{} {}", v.len(), v.dim())
    );
}

#[test]
fn bad_files_are_errors_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.vec");
    std::fs::write(&path, "2 2\n학교 0.1 zero\n공부 0.3 0.4\n").unwrap();
    let err = load(&path, Format::Text).unwrap_err().to_string();
    assert!(err.contains("bad.vec") && err.contains("zero"), "{err}");
    std::fs::write(&path, "2 2\n학교 0.1 0.2\n학교 0.3 0.4\n").unwrap();
    let err = load(&path, Format::Text).unwrap_err().to_string();
    assert!(
        err.contains("bad.vec") && err.contains("duplicate"),
        "{err}"
    );
    let missing = dir.path().join("missing.bin");
    let err = load(&missing, Format::Binary).unwrap_err().to_string();
    assert!(err.contains("missing.bin"), "{err}");
    let spaced = WordVectors::new(vec!["두 말".into()], 1, vec![1.0]).unwrap();
    let err = save(&spaced, &path, Format::Text).unwrap_err().to_string();
    assert!(err.contains("whitespace"), "{err}");
}
