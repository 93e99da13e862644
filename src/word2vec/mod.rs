//! word2vec, the chapter's step between sparse vectors and sentence embeddings: training
//! (CBOW or skip-gram with negative sampling, gensim's defaults) on the corpus's terms under
//! a BM25 analyzer, the queries users ask of word vectors (cosine, nearest words, analogy),
//! and the word2vec text/binary and fastText `.vec` files (through `finalfusion`).
use std::collections::HashMap;

use serde::Serialize;
use thiserror::Error;

use crate::bm25::Analyzer;

pub mod chapter;
mod formats;
mod train;

pub use formats::{load, save, Format};
pub use train::train;

#[derive(Debug, Error)]
pub enum Word2VecError {
    #[error("word2vec: {field} = {value}: {why}")]
    BadParam {
        field: &'static str,
        value: String,
        why: &'static str,
    },
    #[error(
        "word2vec: no word occurs at least {min_count} times in {tokens} tokens; lower \
         --min-count or load a larger corpus"
    )]
    EmptyVocabulary { min_count: usize, tokens: usize },
    #[error("word2vec: training was cancelled")]
    Cancelled,
    #[error("{path}: {why}")]
    File { path: String, why: String },
    #[error("word2vec: {0}")]
    Shape(String),
}

/// CBOW (`sg=0`, gensim's default) or skip-gram (`sg=1`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Arch {
    #[default]
    Cbow,
    SkipGram,
}

impl Arch {
    pub fn name(self) -> &'static str {
        match self {
            Self::Cbow => "CBOW",
            Self::SkipGram => "skip-gram",
        }
    }
}

/// The training knobs, named and defaulted as gensim's `Word2Vec` (`alpha` → `min_alpha`
/// linearly; `seed` = gensim's default 1).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Params {
    pub arch: Arch,
    pub vector_size: usize,
    pub window: usize,
    pub min_count: usize,
    pub sample: f64,
    pub alpha: f32,
    pub min_alpha: f32,
    pub epochs: usize,
    pub negative: usize,
    pub ns_exponent: f64,
    pub seed: u64,
}

impl Default for Params {
    fn default() -> Self {
        Self {
            arch: Arch::Cbow,
            vector_size: 100,
            window: 5,
            min_count: 5,
            sample: 1e-3,
            alpha: 0.025,
            min_alpha: 0.0001,
            epochs: 5,
            negative: 5,
            ns_exponent: 0.75,
            seed: 1,
        }
    }
}

impl Params {
    pub fn validate(&self) -> Result<(), Word2VecError> {
        let bad = |field, value: String, why| Err(Word2VecError::BadParam { field, value, why });
        if self.vector_size == 0 || self.vector_size > 4096 {
            return bad(
                "vector_size",
                self.vector_size.to_string(),
                "must be 1..=4096",
            );
        }
        if self.window == 0 {
            return bad("window", "0".into(), "must be at least 1");
        }
        if self.epochs == 0 {
            return bad("epochs", "0".into(), "must be at least 1");
        }
        if self.negative == 0 || self.negative > 100 {
            return bad(
                "negative",
                self.negative.to_string(),
                "must be 1..=100 (bigyo trains with negative sampling only)",
            );
        }
        if !(self.sample >= 0.0 && self.sample.is_finite()) {
            return bad("sample", self.sample.to_string(), "must be 0 or more");
        }
        if !(self.alpha > 0.0 && self.alpha.is_finite()) {
            return bad("alpha", self.alpha.to_string(), "must be above 0");
        }
        if !(self.min_alpha >= 0.0 && self.min_alpha <= self.alpha) {
            return bad(
                "min_alpha",
                self.min_alpha.to_string(),
                "must be in 0..=alpha",
            );
        }
        if !self.ns_exponent.is_finite() {
            return bad(
                "ns_exponent",
                self.ns_exponent.to_string(),
                "must be finite",
            );
        }
        Ok(())
    }

    /// One line for titles and logs: `skip-gram d100 w5 min5 …`.
    pub fn describe(&self) -> String {
        format!(
            "{} dim {} window {} min_count {} epochs {} negative {} seed {}",
            self.arch.name(),
            self.vector_size,
            self.window,
            self.min_count,
            self.epochs,
            self.negative,
            self.seed
        )
    }
}

/// Word vectors: a vocabulary and one row per word (as trained or as read from a file).
#[derive(Debug, Clone, PartialEq)]
pub struct WordVectors {
    words: Vec<String>,
    index: HashMap<String, usize>,
    dim: usize,
    data: Vec<f32>,
    /// Each row's L2 norm, for cosines.
    norms: Vec<f32>,
}

/// A word and its cosine to what was asked.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Neighbour {
    pub word: String,
    pub cosine: f32,
}

impl WordVectors {
    /// Rows in `data` (row-major, `dim` wide) for `words` in order; a word given twice keeps
    /// its first row.
    pub fn new(words: Vec<String>, dim: usize, data: Vec<f32>) -> Result<Self, Word2VecError> {
        if dim == 0 || data.len() != words.len() * dim {
            return Err(Word2VecError::Shape(format!(
                "{} values for {} words of dimension {dim}",
                data.len(),
                words.len()
            )));
        }
        let mut index = HashMap::with_capacity(words.len());
        for (i, w) in words.iter().enumerate() {
            index.entry(w.clone()).or_insert(i);
        }
        let norms = data
            .chunks_exact(dim)
            .map(|r| r.iter().map(|x| x * x).sum::<f32>().sqrt())
            .collect();
        Ok(Self {
            words,
            index,
            dim,
            data,
            norms,
        })
    }

    pub fn dim(&self) -> usize {
        self.dim
    }

    pub fn len(&self) -> usize {
        self.words.len()
    }

    pub fn is_empty(&self) -> bool {
        self.words.is_empty()
    }

    /// The largest difference from `other`'s numbers, relative to max(1, |theirs|); `None`
    /// when the two do not hold the same words in the same order and dimension.
    pub fn max_difference(&self, other: &WordVectors) -> Option<f32> {
        (self.words == other.words && self.dim == other.dim).then(|| {
            self.data
                .iter()
                .zip(&other.data)
                .map(|(a, b)| (a - b).abs() / b.abs().max(1.0))
                .fold(0.0, f32::max)
        })
    }

    /// The vocabulary, in row order (most frequent first for trained vectors).
    pub fn words(&self) -> &[String] {
        &self.words
    }

    pub fn vector(&self, word: &str) -> Option<&[f32]> {
        self.index.get(word).map(|&i| self.row(i))
    }

    fn row(&self, i: usize) -> &[f32] {
        &self.data[i * self.dim..(i + 1) * self.dim]
    }

    /// The vector of what a user typed: the word itself when it is in the vocabulary, else
    /// the mean of its terms under `analyzer` that are (with the terms used); `None` when
    /// none is.
    pub fn lookup(&self, text: &str, analyzer: &Analyzer) -> Option<(Vec<f32>, Vec<String>)> {
        let text = text.trim();
        if let Some(v) = self.vector(text) {
            return Some((v.to_vec(), vec![text.to_owned()]));
        }
        let terms: Vec<String> = analyzer
            .query_terms(text)
            .into_iter()
            .filter(|t| self.index.contains_key(t))
            .collect();
        if terms.is_empty() {
            return None;
        }
        let mut mean = vec![0.0; self.dim];
        for t in &terms {
            for (m, x) in mean.iter_mut().zip(self.vector(t).unwrap_or_default()) {
                *m += x / terms.len() as f32;
            }
        }
        Some((mean, terms))
    }

    /// Cosine of two words' vectors; `None` when either is not in the vocabulary.
    pub fn similarity(&self, a: &str, b: &str) -> Option<f32> {
        Some(cosine(self.vector(a)?, self.vector(b)?))
    }

    /// The `k` words nearest to `query` by cosine, leaving out `exclude` (gensim's
    /// `most_similar`, which leaves out the words asked about).
    pub fn nearest_to(&self, query: &[f32], k: usize, exclude: &[&str]) -> Vec<Neighbour> {
        let qn = query.iter().map(|x| x * x).sum::<f32>().sqrt();
        let mut scored: Vec<(usize, f32)> = (0..self.words.len())
            .filter(|&i| !exclude.contains(&self.words[i].as_str()))
            .map(|i| {
                let n = self.norms[i] * qn;
                let c = if n == 0.0 {
                    0.0
                } else {
                    dot(query, self.row(i)) / n
                };
                (i, c)
            })
            .collect();
        scored.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
        scored
            .into_iter()
            .take(k)
            .map(|(i, cosine)| Neighbour {
                word: self.words[i].clone(),
                cosine,
            })
            .collect()
    }

    /// The `k` nearest words to `word`, itself left out; `None` when it is unknown.
    pub fn nearest(&self, word: &str, k: usize) -> Option<Vec<Neighbour>> {
        Some(self.nearest_to(self.vector(word)?, k, &[word]))
    }

    /// a − b + c: gensim's `most_similar(positive=[a, c], negative=[b])`, the mean of the
    /// unit vectors with b subtracted, the three words left out. `Err` names the first
    /// word not in the vocabulary.
    pub fn analogy(&self, a: &str, b: &str, c: &str, k: usize) -> Result<Vec<Neighbour>, String> {
        let unit = |w: &str| -> Result<Vec<f32>, String> {
            let i = *self.index.get(w).ok_or_else(|| w.to_owned())?;
            let n = self.norms[i].max(f32::MIN_POSITIVE);
            Ok(self.row(i).iter().map(|x| x / n).collect())
        };
        let (ua, ub, uc) = (unit(a)?, unit(b)?, unit(c)?);
        let query: Vec<f32> = (0..self.dim)
            .map(|d| (ua[d] - ub[d] + uc[d]) / 3.0)
            .collect();
        Ok(self.nearest_to(&query, k, &[a, b, c]))
    }
}

fn dot(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

/// Cosine of two vectors; 0 when either is all zeros.
pub fn cosine(a: &[f32], b: &[f32]) -> f32 {
    let n = dot(a, a).sqrt() * dot(b, b).sqrt();
    if n == 0.0 {
        0.0
    } else {
        dot(a, b) / n
    }
}

/// The training sentences of a corpus: each passage's terms under `analyzer`, in order.
pub fn sentences<S: AsRef<str>>(texts: &[S], analyzer: &Analyzer) -> Vec<Vec<String>> {
    texts
        .iter()
        .map(|t| {
            analyzer
                .terms(t.as_ref())
                .into_iter()
                .map(|t| t.text)
                .collect()
        })
        .collect()
}

#[cfg(test)]
mod tests;
