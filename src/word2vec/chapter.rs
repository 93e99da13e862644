//! The chapter's word comparison, computed once for both front ends: for a few words, the
//! cosines under one-hot and bag-of-words (orthogonal unless they share a term), word2vec
//! and the sentence encoder; each word's nearest words; and a − b + c for the first three.
use serde::Serialize;

use super::{cosine, Neighbour, WordVectors};
use crate::bm25::Analyzer;
use crate::teach::{self, DocFreq, Matrix, Representation};

/// The chapter's own example: one-hot vectors of these are orthogonal, word vectors are not.
pub const CHAPTER_WORDS: [&str; 3] = ["학교", "공부", "운동"];

/// Everything the playground's word section and `bigyo word2vec similar` show.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct WordReport {
    pub words: Vec<String>,
    pub one_hot: Matrix,
    pub bag_of_words: Matrix,
    /// `None` where a word has no vector (no term of it in the vocabulary).
    pub word2vec: Vec<Vec<Option<f64>>>,
    /// The sentence encoder's cosines, when an encoder embedded the words.
    pub dense: Option<Matrix>,
    /// The vocabulary terms each word's vector came from (the word itself, or its terms).
    pub terms: Vec<Option<Vec<String>>>,
    pub nearest: Vec<Vec<Neighbour>>,
    /// words[0] − words[1] + words[2], or the word that is missing.
    pub analogy: Option<Result<Vec<Neighbour>, String>>,
}

/// Compares `words` (at least one); `dense` holds one embedding per word when given.
pub fn compare(
    words: &[String],
    analyzer: &Analyzer,
    vectors: &WordVectors,
    dense: Option<&[Vec<f64>]>,
    topn: usize,
) -> WordReport {
    let refs: Vec<&str> = words.iter().map(String::as_str).collect();
    // IDF plays no part in one-hot and bag-of-words.
    let mut sparse = teach::similarity_matrices(&refs, analyzer, &DocFreq::default(), None);
    let looked: Vec<Option<(Vec<f32>, Vec<String>)>> =
        words.iter().map(|w| vectors.lookup(w, analyzer)).collect();
    let word2vec = looked
        .iter()
        .map(|a| {
            looked
                .iter()
                .map(|b| match (a, b) {
                    (Some((a, _)), Some((b, _))) => Some(cosine(a, b) as f64),
                    _ => None,
                })
                .collect()
        })
        .collect();
    let nearest = looked
        .iter()
        .map(|l| match l {
            Some((v, used)) => {
                let exclude: Vec<&str> = used.iter().map(String::as_str).collect();
                vectors.nearest_to(v, topn, &exclude)
            }
            None => Vec::new(),
        })
        .collect();
    let analogy = (words.len() >= 3).then(|| {
        let term = |i: usize| -> Result<String, String> {
            match &looked[i] {
                Some((_, used)) if used.len() == 1 => Ok(used[0].clone()),
                _ => Err(words[i].clone()),
            }
        };
        vectors.analogy(&term(0)?, &term(1)?, &term(2)?, topn)
    });
    WordReport {
        words: words.to_vec(),
        one_hot: sparse.remove(&Representation::OneHot).unwrap_or_default(),
        bag_of_words: sparse
            .remove(&Representation::BagOfWords)
            .unwrap_or_default(),
        word2vec,
        dense: dense.map(|d| {
            teach::similarity_matrices(&refs, analyzer, &DocFreq::default(), Some(d))
                .remove(&Representation::Dense)
                .unwrap_or_default()
        }),
        terms: looked.into_iter().map(|l| l.map(|(_, t)| t)).collect(),
        nearest,
        analogy,
    }
}

fn block(out: &mut String, title: &str, n: usize, cell: &dyn Fn(usize, usize) -> Option<f64>) {
    out.push_str(&format!("\n{title}\n     "));
    for j in 0..n {
        out.push_str(&format!("{:>8}", format!("[{}]", j + 1)));
    }
    out.push('\n');
    for i in 0..n {
        out.push_str(&format!("{:<5}", format!("[{}]", i + 1)));
        for j in 0..n {
            match cell(i, j) {
                Some(v) => out.push_str(&format!("{v:>8.4}")),
                None => out.push_str(&format!("{:>8}", "-")),
            }
        }
        out.push('\n');
    }
}

/// The report as aligned text: the words, one block per representation, the neighbours.
pub fn table(report: &WordReport, dense_missing: Option<&str>) -> String {
    let n = report.words.len();
    let mut out = String::new();
    for (i, w) in report.words.iter().enumerate() {
        let terms = match &report.terms[i] {
            Some(t) if t.len() == 1 && &t[0] == w => String::new(),
            Some(t) => format!("  (word2vec: mean of {})", t.join(" ")),
            None => "  (word2vec: not in the vocabulary)".to_owned(),
        };
        out.push_str(&format!("[{}] {w}{terms}\n", i + 1));
    }
    block(&mut out, "one-hot", n, &|i, j| Some(report.one_hot[i][j]));
    block(&mut out, "bag of words", n, &|i, j| {
        Some(report.bag_of_words[i][j])
    });
    block(&mut out, "word2vec", n, &|i, j| report.word2vec[i][j]);
    match &report.dense {
        Some(d) => block(&mut out, "sentence encoder", n, &|i, j| Some(d[i][j])),
        None => out.push_str(&format!(
            "\nsentence encoder\n  (not available: {})\n",
            dense_missing.unwrap_or("no encoder")
        )),
    }
    out.push_str("\nnearest words (word2vec)\n");
    for (w, near) in report.words.iter().zip(&report.nearest) {
        out.push_str(&format!("  {w}: {}\n", neighbours(near)));
    }
    if let Some(a) = &report.analogy {
        let (x, y, z) = (&report.words[0], &report.words[1], &report.words[2]);
        match a {
            Ok(near) => out.push_str(&format!("\n{x} − {y} + {z} ≈ {}\n", neighbours(near))),
            Err(w) => out.push_str(&format!(
                "\n{x} − {y} + {z}: {w} is not one word of the vocabulary\n"
            )),
        }
    }
    out
}

/// `word 0.812, word 0.640, …`
pub fn neighbours(near: &[Neighbour]) -> String {
    if near.is_empty() {
        return "-".to_owned();
    }
    near.iter()
        .map(|n| format!("{} {:.3}", n.word, n.cosine))
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chapter_words_are_orthogonal_one_hot_but_not_as_word_vectors() {
        let v = WordVectors::new(
            vec!["학교".into(), "공부".into(), "운동".into(), "교실".into()],
            2,
            vec![1.0, 0.2, 0.9, 0.4, 0.1, 1.0, 1.0, 0.1],
        )
        .unwrap();
        let words: Vec<String> = CHAPTER_WORDS.iter().map(|w| w.to_string()).collect();
        let r = compare(&words, &Analyzer::Bigram, &v, None, 2);
        for i in 0..3 {
            for j in 0..3 {
                let want = if i == j { 1.0 } else { 0.0 };
                assert_eq!(r.one_hot[i][j], want);
                assert_eq!(r.bag_of_words[i][j], want);
            }
        }
        let w = r.word2vec[0][1].unwrap();
        assert!((w - cosine(&[1.0, 0.2], &[0.9, 0.4]) as f64).abs() < 1e-9);
        assert_eq!(r.nearest[0][0].word, "교실");
        assert_eq!(
            r.analogy.as_ref().unwrap().as_ref().unwrap()[0].word,
            "교실"
        );
        let text = table(&r, Some("no model"));
        assert!(text.contains("word2vec") && text.contains("not available: no model"));
        assert!(text.contains("학교 − 공부 + 운동 ≈ 교실"), "{text}");
    }
}
