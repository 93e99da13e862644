//! The files word vectors travel in: word2vec's text format (`<count> <dim>` then
//! `word v1 v2 …`, which is also fastText's `.vec`) and its binary format (little-endian
//! float32 after `word `), read and written by `finalfusion`. Its public readers normalise
//! each vector and keep the norm; bigyo multiplies the norm back, which gives the file's
//! numbers within float32 rounding (a relative 3e-7 or so; `tests/word2vec.rs` states it).
use std::fs::File;
use std::io::{BufReader, BufWriter, Write};
use std::path::Path;

use finalfusion::compat::text::{ReadTextDims, WriteTextDims};
use finalfusion::compat::word2vec::{ReadWord2Vec, WriteWord2Vec};
use finalfusion::embeddings::Embeddings;
use finalfusion::norms::NdNorms;
use finalfusion::storage::NdArray;
use finalfusion::vocab::{SimpleVocab, Vocab};

use super::{Word2VecError, WordVectors};

/// A word-vector file format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// word2vec text (gensim `binary=False`), also fastText's `.vec`.
    Text,
    /// word2vec binary (gensim `binary=True`).
    Binary,
}

impl Format {
    /// By extension: `.bin` is binary; `.txt`, `.vec` and anything else is text.
    pub fn from_path(path: &Path) -> Self {
        match path.extension().and_then(|e| e.to_str()) {
            Some("bin") => Self::Binary,
            _ => Self::Text,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Self::Text => "word2vec text",
            Self::Binary => "word2vec binary",
        }
    }
}

fn file_error(path: &Path, why: impl std::fmt::Display) -> Word2VecError {
    Word2VecError::File {
        path: path.display().to_string(),
        why: why.to_string(),
    }
}

/// Reads word vectors from `path` in `format`.
pub fn load(path: &Path, format: Format) -> Result<WordVectors, Word2VecError> {
    let file = File::open(path).map_err(|e| file_error(path, format!("cannot open: {e}")))?;
    let mut reader = BufReader::new(file);
    // finalfusion's vocabulary panics on a word listed twice; that is a bad file, not a crash.
    let read = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| match format {
        Format::Text => Embeddings::read_text_dims(&mut reader),
        Format::Binary => Embeddings::read_word2vec_binary(&mut reader),
    }))
    .map_err(|p| file_error(path, crate::panic_message(p.as_ref())))?;
    let embeddings: Embeddings<SimpleVocab, NdArray> =
        read.map_err(|e| file_error(path, format!("not a {} file: {e}", format.name())))?;
    let words = embeddings.vocab().words().to_vec();
    let dim = embeddings.dims();
    let mut data: Vec<f32> = Vec::with_capacity(words.len() * dim);
    for (_, e) in embeddings.iter_with_norms() {
        data.extend(e.into_unnormalized().iter());
    }
    if data.iter().any(|x| !x.is_finite()) {
        return Err(file_error(path, "a vector holds NaN or infinity"));
    }
    WordVectors::new(words, dim, data).map_err(|e| file_error(path, e))
}

/// Writes `vectors` to `path` in `format` (the numbers exactly: text uses the shortest
/// decimal that reads back as the same float32).
pub fn save(vectors: &WordVectors, path: &Path, format: Format) -> Result<(), Word2VecError> {
    let words = vectors.words().to_vec();
    if let Some(w) = words
        .iter()
        .find(|w| w.is_empty() || w.contains(char::is_whitespace))
    {
        return Err(file_error(
            path,
            format!("the word {w:?} is empty or holds whitespace, which the format cannot store"),
        ));
    }
    if vectors.index.len() != words.len() {
        return Err(file_error(path, "a word is listed twice"));
    }
    let matrix =
        ndarray::Array2::from_shape_vec((words.len(), vectors.dim()), vectors.data.clone())
            .map_err(|e| Word2VecError::Shape(e.to_string()))?;
    let norms = NdNorms::new(ndarray::Array1::ones(words.len()));
    let embeddings = Embeddings::new(None, SimpleVocab::new(words), NdArray::new(matrix), norms);
    let file = File::create(path).map_err(|e| file_error(path, format!("cannot create: {e}")))?;
    let mut writer = BufWriter::new(file);
    match format {
        Format::Text => embeddings.write_text_dims(&mut writer, false),
        Format::Binary => embeddings.write_word2vec_binary(&mut writer, false),
    }
    .map_err(|e| file_error(path, format!("writing {}: {e}", format.name())))?;
    writer
        .flush()
        .map_err(|e| file_error(path, format!("writing: {e}")))
}
