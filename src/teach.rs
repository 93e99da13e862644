//! The embedding chapter's opening argument, computed: pairwise cosine similarities of a few
//! sentences under one-hot term presence, bag-of-words counts, TF-IDF (IDF fitted on the
//! loaded corpus with the BM25 analyzer in use) and the dense encoder. Sparse vectors give 0
//! for sentences with no shared terms; dense ones do not.
use std::collections::{BTreeMap, HashMap, HashSet};

use serde::Serialize;

use crate::bm25::{Analyzer, Fate};

/// Document frequencies over a corpus, for IDF.
#[derive(Debug, Clone, Default)]
pub struct DocFreq {
    pub documents: usize,
    df: HashMap<String, usize>,
}

impl DocFreq {
    pub fn fit<S: AsRef<str>>(documents: &[S], analyzer: &Analyzer) -> Self {
        let mut df: HashMap<String, usize> = HashMap::new();
        for d in documents {
            let terms: HashSet<String> = analyzer
                .terms(d.as_ref())
                .into_iter()
                .map(|t| t.text)
                .collect();
            for t in terms {
                *df.entry(t).or_default() += 1;
            }
        }
        Self {
            documents: documents.len(),
            df,
        }
    }

    pub fn df(&self, term: &str) -> usize {
        self.df.get(term).copied().unwrap_or(0)
    }

    /// log(N / DF(w)); a term the corpus never saw counts as seen once (so it gets the
    /// highest weight instead of an infinite one).
    pub fn idf(&self, term: &str) -> f64 {
        let n = self.documents.max(1) as f64;
        (n / self.df(term).max(1) as f64).ln()
    }
}

/// The representations, in the order the table shows them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Representation {
    OneHot,
    BagOfWords,
    TfIdf,
    Dense,
}

impl Representation {
    pub const ALL: [Representation; 4] = [Self::OneHot, Self::BagOfWords, Self::TfIdf, Self::Dense];

    pub fn title(self) -> &'static str {
        match self {
            Self::OneHot => "one-hot",
            Self::BagOfWords => "bag of words",
            Self::TfIdf => "TF-IDF",
            Self::Dense => "dense",
        }
    }
}

/// A square matrix of pairwise cosines.
pub type Matrix = Vec<Vec<f64>>;

/// Cosine of two vectors; 0 when either is all zeros.
pub fn cosine(a: &[f64], b: &[f64]) -> f64 {
    let dot: f64 = a.iter().zip(b).map(|(x, y)| x * y).sum();
    let na: f64 = a.iter().map(|x| x * x).sum::<f64>().sqrt();
    let nb: f64 = b.iter().map(|x| x * x).sum::<f64>().sqrt();
    if na == 0.0 || nb == 0.0 {
        0.0
    } else {
        dot / (na * nb)
    }
}

fn pairwise(vectors: &[Vec<f64>]) -> Matrix {
    vectors
        .iter()
        .map(|a| vectors.iter().map(|b| cosine(a, b)).collect())
        .collect()
}

/// The sparse vectors of `sentences` over their joint vocabulary (sorted terms).
pub fn sparse_vectors(
    sentences: &[&str],
    analyzer: &Analyzer,
    df: &DocFreq,
) -> BTreeMap<Representation, Vec<Vec<f64>>> {
    let counts: Vec<HashMap<String, usize>> = sentences
        .iter()
        .map(|s| {
            let mut c = HashMap::new();
            for t in analyzer.terms(s) {
                *c.entry(t.text).or_default() += 1;
            }
            c
        })
        .collect();
    let mut vocab: Vec<&String> = counts.iter().flat_map(|c| c.keys()).collect();
    vocab.sort();
    vocab.dedup();
    let vector = |c: &HashMap<String, usize>, f: &dyn Fn(&str, usize) -> f64| -> Vec<f64> {
        vocab
            .iter()
            .map(|t| c.get(*t).map_or(0.0, |&n| f(t, n)))
            .collect()
    };
    let mut out = BTreeMap::new();
    out.insert(
        Representation::OneHot,
        counts.iter().map(|c| vector(c, &|_, _| 1.0)).collect(),
    );
    out.insert(
        Representation::BagOfWords,
        counts.iter().map(|c| vector(c, &|_, n| n as f64)).collect(),
    );
    out.insert(
        Representation::TfIdf,
        counts
            .iter()
            .map(|c| vector(c, &|t, n| n as f64 * df.idf(t)))
            .collect(),
    );
    out
}

/// Pairwise cosines under each sparse representation, plus `dense` when given
/// (one embedding per sentence).
pub fn similarity_matrices(
    sentences: &[&str],
    analyzer: &Analyzer,
    df: &DocFreq,
    dense: Option<&[Vec<f64>]>,
) -> BTreeMap<Representation, Matrix> {
    let mut out: BTreeMap<Representation, Matrix> = sparse_vectors(sentences, analyzer, df)
        .into_iter()
        .map(|(r, v)| (r, pairwise(&v)))
        .collect();
    if let Some(d) = dense {
        out.insert(Representation::Dense, pairwise(d));
    }
    out
}

/// The distinct terms each pair of sentences shares under `analyzer`, in the first
/// sentence's order: why a sparse similarity is not zero. Keyed by `(i, j)`, `i < j`.
pub fn shared_terms(
    sentences: &[&str],
    analyzer: &Analyzer,
) -> BTreeMap<(usize, usize), Vec<String>> {
    let terms: Vec<Vec<String>> = sentences.iter().map(|s| analyzer.query_terms(s)).collect();
    let mut out = BTreeMap::new();
    for i in 0..terms.len() {
        for j in i + 1..terms.len() {
            let shared = terms[i]
                .iter()
                .filter(|t| terms[j].contains(t))
                .cloned()
                .collect();
            out.insert((i, j), shared);
        }
    }
    out
}

/// One morpheme as the analyzer saw it: `surface/POS`, and why it is not a term if it is not.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SeenMorpheme {
    pub surface: String,
    pub pos: String,
    /// A part of the compound before it.
    pub part: bool,
    /// `None` for a term, else `stop tag`, `punctuation` or `compound`.
    pub dropped: Option<&'static str>,
}

/// How an analyzer sees one text: the morphemes with their POS and which were dropped (morph
/// analyzers), the character bigrams (bigram, morph+bigram), and the terms BM25 indexes.
/// Why 서울에서 matches 서울: the morphemes are 서울/NNP + 에서/JKB, and 에서 is dropped.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Default)]
pub struct Seen {
    pub morphemes: Vec<SeenMorpheme>,
    pub bigrams: Vec<String>,
    pub terms: Vec<String>,
}

pub fn how_it_sees(analyzer: &Analyzer, text: &str) -> Seen {
    let texts =
        |a: &Analyzer| -> Vec<String> { a.terms(text).into_iter().map(|t| t.text).collect() };
    let (morphemes, bigrams) = match analyzer {
        Analyzer::Morph(m) => {
            let morphemes = m
                .pieces(text)
                .into_iter()
                .map(|p| SeenMorpheme {
                    dropped: match p.fate {
                        Fate::Kept => None,
                        Fate::StopTag => Some("stop tag"),
                        Fate::Punctuation => Some("punctuation"),
                        Fate::Decompounded => Some("compound"),
                    },
                    surface: p.surface,
                    pos: p.pos,
                    part: p.part,
                })
                .collect();
            let bigrams = if m.with_bigrams() {
                texts(&Analyzer::Bigram)
            } else {
                Vec::new()
            };
            (morphemes, bigrams)
        }
        Analyzer::Bigram => (Vec::new(), texts(&Analyzer::Bigram)),
        _ => (Vec::new(), Vec::new()),
    };
    Seen {
        morphemes,
        bigrams,
        terms: texts(analyzer),
    }
}

/// The matrices as an aligned text table: one block per representation.
pub fn table(
    sentences: &[&str],
    matrices: &BTreeMap<Representation, Matrix>,
    dense_missing: Option<&str>,
) -> String {
    let mut out = String::new();
    for (i, s) in sentences.iter().enumerate() {
        out.push_str(&format!("[{}] {s}\n", i + 1));
    }
    for r in Representation::ALL {
        out.push('\n');
        out.push_str(&format!("{}\n", r.title()));
        let Some(m) = matrices.get(&r) else {
            out.push_str(&format!(
                "  (not available: {})\n",
                dense_missing.unwrap_or("no encoder")
            ));
            continue;
        };
        out.push_str("     ");
        for j in 0..sentences.len() {
            out.push_str(&format!("{:>8}", format!("[{}]", j + 1)));
        }
        out.push('\n');
        for (i, row) in m.iter().enumerate() {
            out.push_str(&format!("{:<5}", format!("[{}]", i + 1)));
            for v in row {
                out.push_str(&format!("{v:>8.4}"));
            }
            out.push('\n');
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shared_terms_explain_a_nonzero_sparse_similarity() {
        let s = ["잠이 안 옵니다", "졸음이 옵니다", "기차가 옵니다"];
        let shared = shared_terms(&s, &Analyzer::Bigram);
        assert_eq!(shared[&(0, 1)], ["옵니", "니다"]);
        assert_eq!(shared[&(1, 2)], ["옵니", "니다"]);
        assert_eq!(shared.len(), 3);
        let ws = shared_terms(&s, &Analyzer::Whitespace);
        assert_eq!(ws[&(0, 2)], ["옵니다"]);
    }

    #[test]
    fn hand_computed_sparse_similarities() {
        // Whitespace terms: s1 = {잠이, 안, 옵니다}, s2 = {졸음이, 옵니다}, s3 = {기차가, 옵니다, 옵니다}.
        let a = Analyzer::Whitespace;
        let s = ["잠이 안 옵니다", "졸음이 옵니다", "기차가 옵니다 옵니다"];
        // Corpus of 4 documents: 옵니다 in 2, 잠이 in 1, others unseen.
        let df = DocFreq::fit(&["잠이 옵니다", "옵니다", "비", "눈"], &a);
        assert_eq!(df.df("옵니다"), 2);
        assert!((df.idf("옵니다") - (4.0f64 / 2.0).ln()).abs() < 1e-12);
        assert!((df.idf("잠이") - 4.0f64.ln()).abs() < 1e-12);
        assert!(
            (df.idf("기차가") - 4.0f64.ln()).abs() < 1e-12,
            "unseen counts as once"
        );
        let m = similarity_matrices(&s, &a, &df, None);
        let one = &m[&Representation::OneHot];
        // one-hot: |s1|=3 terms, |s2|=2, share 1 → 1/sqrt(6).
        assert!((one[0][1] - 1.0 / 6f64.sqrt()).abs() < 1e-12);
        assert!((one[0][0] - 1.0).abs() < 1e-12);
        let bow = &m[&Representation::BagOfWords];
        // bow: s2 = (졸음이 1, 옵니다 1), s3 = (기차가 1, 옵니다 2) → 2 / (sqrt2 * sqrt5).
        assert!((bow[1][2] - 2.0 / (2f64.sqrt() * 5f64.sqrt())).abs() < 1e-12);
        // One-hot ignores the repeat: s2·s3 = 1 / (sqrt2 * sqrt2).
        assert!((one[1][2] - 0.5).abs() < 1e-12);
        let tfidf = &m[&Representation::TfIdf];
        // TF-IDF: s1 = (잠이 ln4, 안 ln4, 옵니다 ln2), s2 = (졸음이 ln4, 옵니다 ln2).
        let (l4, l2) = (4f64.ln(), 2f64.ln());
        let want = (l2 * l2) / ((2.0 * l4 * l4 + l2 * l2).sqrt() * (l4 * l4 + l2 * l2).sqrt());
        assert!((tfidf[0][1] - want).abs() < 1e-12);
        assert!(!m.contains_key(&Representation::Dense));
    }

    #[test]
    fn no_shared_terms_means_zero_sparse_similarity() {
        let a = Analyzer::Bigram;
        let s = ["잠이 안 온다", "졸음이 몰려와"];
        let df = DocFreq::fit(&s, &a);
        let dense = vec![vec![1.0, 0.2], vec![0.9, 0.3]];
        let m = similarity_matrices(&s, &a, &df, Some(&dense));
        for r in [
            Representation::OneHot,
            Representation::BagOfWords,
            Representation::TfIdf,
        ] {
            assert_eq!(m[&r][0][1], 0.0, "{r:?}");
        }
        assert!(m[&Representation::Dense][0][1] > 0.9);
        let text = table(&s, &m, None);
        assert!(text.contains("TF-IDF") && text.contains("dense"));
    }

    #[test]
    fn cosine_of_zero_vectors_is_zero() {
        assert_eq!(cosine(&[0.0, 0.0], &[1.0, 0.0]), 0.0);
    }
}
