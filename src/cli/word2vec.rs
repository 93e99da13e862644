//! `bigyo word2vec train|similar|nearest|analogy`: word vectors trained on the loaded corpus
//! (or read from a word2vec/fastText file) and the questions the chapter asks of them.
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{bail, Context, Result};
use bigyo::bm25::Analyzer;
use bigyo::session::{self, Options};
use bigyo::word2vec::{self, chapter, Arch, Format, Params, WordVectors};
use clap::{Args, Subcommand, ValueEnum};
use serde_json::json;

use super::{progress_bar, reporter, TableOrJson};

#[derive(Debug, Subcommand)]
pub enum Word2vecAction {
    /// Train on the loaded corpus's terms (under --bm25-analyzer) and save the vectors.
    Train {
        #[command(flatten)]
        train: TrainArgs,
        /// Where to write the vectors.
        #[arg(long, short)]
        out: PathBuf,
        /// The file format [default: binary for `.bin`, else text].
        #[arg(long, value_enum)]
        format: Option<FileFormat>,
    },
    /// Cosines of words under one-hot, bag of words, word2vec and the sentence encoder,
    /// each word's nearest words, and words[0] − words[1] + words[2] [default words: the
    /// chapter's 학교 공부 운동].
    Similar {
        words: Vec<String>,
        #[command(flatten)]
        source: Source,
        /// Neighbours listed per word.
        #[arg(long, default_value_t = 5)]
        topn: usize,
        #[arg(long, value_enum, default_value_t = TableOrJson::Table)]
        format: TableOrJson,
    },
    /// The words nearest to WORD by cosine (gensim's `most_similar`).
    Nearest {
        word: String,
        #[command(flatten)]
        source: Source,
        #[arg(long, default_value_t = 10)]
        topn: usize,
        #[arg(long, value_enum, default_value_t = TableOrJson::Table)]
        format: TableOrJson,
    },
    /// A − B + C: gensim's `most_similar(positive=[A, C], negative=[B])`.
    Analogy {
        a: String,
        b: String,
        c: String,
        #[command(flatten)]
        source: Source,
        #[arg(long, default_value_t = 10)]
        topn: usize,
        #[arg(long, value_enum, default_value_t = TableOrJson::Table)]
        format: TableOrJson,
    },
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum FileFormat {
    /// word2vec text (`<count> <dim>` then `word v1 v2 …`); also fastText's `.vec`.
    Text,
    /// word2vec binary (little-endian float32 after `word `).
    Binary,
}

impl FileFormat {
    fn resolve(choice: Option<Self>, path: &Path) -> Format {
        match choice {
            Some(Self::Text) => Format::Text,
            Some(Self::Binary) => Format::Binary,
            None => Format::from_path(path),
        }
    }
}

/// Where the vectors come from: a file, or training on the loaded corpus.
#[derive(Debug, Clone, Args)]
pub struct Source {
    /// Read these vectors (word2vec text or binary, fastText `.vec`) instead of training.
    #[arg(long, value_name = "FILE")]
    vectors: Option<PathBuf>,
    /// The format of --vectors [default: binary for `.bin`, else text].
    #[arg(long, value_enum, requires = "vectors")]
    vectors_format: Option<FileFormat>,
    #[command(flatten)]
    train: TrainArgs,
}

/// The training knobs, as gensim's `Word2Vec` names and defaults them.
#[derive(Debug, Clone, Args)]
pub struct TrainArgs {
    /// Skip-gram (gensim `sg=1`) instead of CBOW.
    #[arg(long)]
    sg: bool,
    /// Dimensions (`vector_size`).
    #[arg(long, default_value_t = 100)]
    vector_size: usize,
    /// The largest context window; each position draws one in 1..=window.
    #[arg(long, default_value_t = 5)]
    window: usize,
    /// Words seen fewer times are left out.
    #[arg(long, default_value_t = 5)]
    min_count: usize,
    /// Frequent-word downsampling threshold (0 keeps every word).
    #[arg(long, default_value_t = 1e-3)]
    sample: f64,
    /// The starting learning rate (gensim `alpha`).
    #[arg(long, default_value_t = 0.025)]
    learning_rate: f32,
    /// The learning rate at the end, reached linearly (gensim `min_alpha`).
    #[arg(long, default_value_t = 0.0001)]
    min_learning_rate: f32,
    #[arg(long, default_value_t = 5)]
    epochs: usize,
    /// Noise words per positive one (negative sampling).
    #[arg(long, default_value_t = 5)]
    negative: usize,
    /// The noise distribution's exponent on word counts.
    #[arg(long, default_value_t = 0.75)]
    ns_exponent: f64,
    /// Seeds the initial vectors and every draw: one seed, one set of vectors.
    #[arg(long, default_value_t = 1)]
    seed: u64,
}

impl TrainArgs {
    pub fn params(&self) -> Params {
        Params {
            arch: if self.sg { Arch::SkipGram } else { Arch::Cbow },
            vector_size: self.vector_size,
            window: self.window,
            min_count: self.min_count,
            sample: self.sample,
            alpha: self.learning_rate,
            min_alpha: self.min_learning_rate,
            epochs: self.epochs,
            negative: self.negative,
            ns_exponent: self.ns_exponent,
            seed: self.seed,
        }
    }
}

pub(super) fn word2vec(opts: &Options, action: &Word2vecAction) -> Result<()> {
    match action {
        Word2vecAction::Train { train, out, format } => {
            let analyzer = session::analyzer(opts)?;
            let vectors = train_on_corpus(opts, &analyzer, &train.params())?;
            let format = FileFormat::resolve(*format, out);
            word2vec::save(&vectors, out, format)?;
            eprintln!(
                "bigyo: saved {} vectors to {} ({})",
                vectors.len(),
                out.display(),
                format.name()
            );
            Ok(())
        }
        Word2vecAction::Similar {
            words,
            source,
            topn,
            format,
        } => similar(opts, words, source, *topn, *format),
        Word2vecAction::Nearest {
            word,
            source,
            topn,
            format,
        } => {
            let (vectors, analyzer) = vectors(opts, source)?;
            let Some((v, used)) = vectors.lookup(word, &analyzer) else {
                bail!(
                    "{word:?} is not in the vocabulary ({} words), nor any of its terms",
                    vectors.len()
                );
            };
            let exclude: Vec<&str> = used.iter().map(String::as_str).collect();
            print_neighbours(&vectors.nearest_to(&v, *topn, &exclude), *format)
        }
        Word2vecAction::Analogy {
            a,
            b,
            c,
            source,
            topn,
            format,
        } => {
            let (vectors, _) = vectors(opts, source)?;
            let near = vectors.analogy(a, b, c, *topn).map_err(|w| {
                anyhow::anyhow!("{w:?} is not in the vocabulary ({} words)", vectors.len())
            })?;
            print_neighbours(&near, *format)
        }
    }
}

fn print_neighbours(near: &[word2vec::Neighbour], format: TableOrJson) -> Result<()> {
    let mut out = std::io::stdout().lock();
    match format {
        TableOrJson::Json => writeln!(out, "{}", serde_json::to_string(near)?)?,
        TableOrJson::Table => {
            for n in near {
                writeln!(out, "{:>8.4}  {}", n.cosine, n.word)?;
            }
        }
    }
    Ok(())
}

/// The vectors `source` names, and the analyzer that splits typed words into terms.
fn vectors(opts: &Options, source: &Source) -> Result<(WordVectors, Analyzer)> {
    let analyzer = session::analyzer(opts)?;
    let vectors = match &source.vectors {
        Some(path) => {
            let format = FileFormat::resolve(source.vectors_format, path);
            let v = word2vec::load(path, format)?;
            eprintln!(
                "bigyo: {} vectors of dimension {} from {}",
                v.len(),
                v.dim(),
                path.display()
            );
            v
        }
        None => train_on_corpus(opts, &analyzer, &source.train.params())?,
    };
    Ok((vectors, analyzer))
}

/// Loads the corpus and trains on its passages' terms, with a progress bar.
fn train_on_corpus(opts: &Options, analyzer: &Analyzer, params: &Params) -> Result<WordVectors> {
    opts.validate()?;
    params.validate()?;
    let corpus = session::load_corpus(opts, &mut reporter())?;
    let sentences = word2vec::sentences(&corpus.texts(), analyzer);
    let tokens: usize = sentences.iter().map(Vec::len).sum();
    let started = Instant::now();
    let bar = progress_bar((tokens * params.epochs) as u64, "word2vec");
    let vectors = word2vec::train(
        &sentences,
        params,
        &mut |p| bar.set_position(p.done as u64),
        &|| false,
    )
    .with_context(|| format!("training on {}", corpus.source))?;
    bar.finish_and_clear();
    let line = format!(
        "word2vec {} on {} ({} passages, {tokens} {} terms): {} words in {:.1}s",
        params.describe(),
        corpus.source,
        corpus.passages.len(),
        analyzer.describe(),
        vectors.len(),
        started.elapsed().as_secs_f64()
    );
    tracing::info!("{line}");
    eprintln!("bigyo: {line}");
    Ok(vectors)
}

fn similar(
    opts: &Options,
    words: &[String],
    source: &Source,
    topn: usize,
    format: TableOrJson,
) -> Result<()> {
    let words: Vec<String> = if words.is_empty() {
        chapter::CHAPTER_WORDS
            .iter()
            .map(|w| w.to_string())
            .collect()
    } else {
        words.to_vec()
    };
    let (vectors, analyzer) = vectors(opts, source)?;
    let refs: Vec<&str> = words.iter().map(String::as_str).collect();
    // The sentence encoder's column is optional, as in `bigyo similar`.
    let (dense, dense_error) = match opts.runtime() {
        Ok(rt) => super::search::dense_column(opts, rt, &refs, &mut reporter()),
        Err(e) => (None, Some(format!("{e:#}"))),
    };
    let report = chapter::compare(&words, &analyzer, &vectors, dense.as_deref(), topn);
    let mut out = std::io::stdout().lock();
    match format {
        TableOrJson::Table => write!(out, "{}", chapter::table(&report, dense_error.as_deref()))?,
        TableOrJson::Json => {
            let mut v = serde_json::to_value(&report)?;
            v["dense_error"] = json!(dense_error);
            v["vocabulary"] = json!(vectors.len());
            v["analyzer"] = json!(analyzer.describe());
            writeln!(out, "{v}")?;
        }
    }
    Ok(())
}
