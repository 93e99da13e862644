//! The corpus: KLUE MRC (or any dataset with a passage column) read from parquet.
//!
//! One parquet row is one question; its context repeats once per question, so identical
//! contexts are merged into one [`Passage`] and every [`Question`] keeps a link to its gold
//! passage. Only the passage column is required; title, question and answers are read when
//! present. Sources: a local file (`--data PATH`), the bundled sample (`--data sample`), or a
//! hub dataset split found from the repository listing ([`hub`]).
use std::collections::HashMap;
use std::fs::File;
use std::path::{Path, PathBuf};

use arrow::array::{
    Array, ArrayRef, AsArray, GenericListArray, LargeStringArray, OffsetSizeTrait, StringArray,
    StringViewArray, StructArray,
};
use arrow::datatypes::{DataType, Int32Type, Int64Type};
use arrow::record_batch::RecordBatch;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use parquet::arrow::ProjectionMask;
use sha2::{Digest, Sha256};

pub mod hub;

/// The bundled sample corpus (KLUE MRC schema, written by us): the offline default.
pub const SAMPLE_PARQUET: &[u8] = include_bytes!("../assets/sample/klue_mrc_sample.parquet");
/// What `--data` accepts to mean the bundled sample.
pub const SAMPLE_NAME: &str = "sample";
/// How the bundled sample's [`Corpus::source`] begins.
pub const SAMPLE_SOURCE: &str = "bundled sample";

#[derive(Debug, thiserror::Error)]
pub enum DataError {
    // The OS error is in the message, not a source too: `{:#}` would print it twice.
    #[error("{path}: {error}")]
    Io {
        path: PathBuf,
        error: std::io::Error,
    },
    #[error("{path}: not a readable parquet file ({detail})")]
    NotParquet { path: PathBuf, detail: String },
    #[error("{path}: no column `{column}` (columns: {available}); rename with {flag}")]
    MissingColumn {
        path: PathBuf,
        column: String,
        available: String,
        flag: &'static str,
    },
    #[error("{path}: column `{column}` is {found}, expected {expected}")]
    ColumnType {
        path: PathBuf,
        column: String,
        found: String,
        expected: &'static str,
    },
    #[error("{path}: no usable rows ({detail})")]
    Empty { path: PathBuf, detail: String },
    #[error("{0}")]
    Hub(String),
}

pub type Result<T, E = DataError> = std::result::Result<T, E>;

/// Column names; KLUE MRC's by default.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Columns {
    pub context: String,
    pub question: String,
    pub title: String,
    pub answers: String,
}

impl Default for Columns {
    fn default() -> Self {
        Self {
            context: "context".into(),
            question: "question".into(),
            title: "title".into(),
            answers: "answers".into(),
        }
    }
}

/// One distinct context.
#[derive(Debug, Clone, PartialEq)]
pub struct Passage {
    pub title: String,
    pub text: String,
    /// The questions asked about this passage (indexes into [`Corpus::questions`]).
    pub questions: Vec<usize>,
}

/// An answer span; `start` counts Unicode scalar values (code points), as KLUE does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    pub start: usize,
    pub text: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Question {
    /// The row's `guid` when present, else `row-N`.
    pub id: String,
    pub text: String,
    /// The gold passage (index into [`Corpus::passages`]).
    pub passage: usize,
    pub answers: Vec<Answer>,
}

/// Passages and questions, with where they came from.
#[derive(Debug, Clone, Default)]
pub struct Corpus {
    /// A short description: the file or `hub-id/config/split`.
    pub source: String,
    /// Rows read (after `--limit`).
    pub rows: usize,
    /// Rows skipped because the passage column was null or empty.
    pub skipped: usize,
    pub passages: Vec<Passage>,
    pub questions: Vec<Question>,
}

/// How to read: which columns, how many rows.
#[derive(Debug, Clone, Default)]
pub struct LoadOptions {
    pub columns: Columns,
    /// Keep only the first N rows.
    pub limit: Option<usize>,
}

impl Corpus {
    /// Reads one local parquet file.
    pub fn from_parquet(path: &Path, opts: &LoadOptions) -> Result<Self> {
        Self::from_parquet_files(&[path.to_owned()], &path.display().to_string(), opts)
    }

    /// The bundled sample corpus.
    pub fn sample(opts: &LoadOptions) -> Result<Self> {
        let bytes = bytes::Bytes::from_static(SAMPLE_PARQUET);
        let mut builder = CorpusBuilder::new(opts);
        builder.read(Path::new("<bundled sample>"), bytes)?;
        builder.finish(&format!(
            "{SAMPLE_SOURCE} (assets/sample/klue_mrc_sample.parquet)"
        ))
    }

    /// Reads several parquet files (shards of one split) in order.
    pub fn from_parquet_files(paths: &[PathBuf], source: &str, opts: &LoadOptions) -> Result<Self> {
        let mut builder = CorpusBuilder::new(opts);
        for path in paths {
            if builder.full() {
                break;
            }
            if path.is_dir() {
                return Err(DataError::NotParquet {
                    path: path.clone(),
                    detail: "it is a directory".into(),
                });
            }
            let file = File::open(path).map_err(|error| DataError::Io {
                path: path.clone(),
                error,
            })?;
            builder.read_contained(path, file)?;
        }
        builder.finish(source)
    }

    /// The passage texts, in passage order (what the indexes are built over).
    pub fn texts(&self) -> Vec<&str> {
        self.passages.iter().map(|p| p.text.as_str()).collect()
    }

    /// A stable hash of the passage texts, for cache keys (titles do not count: a corpus
    /// whose titles change keeps its embeddings, which are computed from the texts alone).
    pub fn content_hash(&self) -> String {
        let mut h = Sha256::new();
        for p in &self.passages {
            h.update((p.text.len() as u64).to_le_bytes());
            h.update(p.text.as_bytes());
        }
        hex(&h.finalize())
    }

    /// The questions that have a gold passage (all of them, by construction) and a non-empty text.
    pub fn eval_questions(&self) -> impl Iterator<Item = &Question> {
        self.questions.iter().filter(|q| !q.text.trim().is_empty())
    }

    /// The gold passage when `query` is one of the dataset's questions (exact text).
    pub fn gold_for(&self, query: &str) -> Option<usize> {
        let query = query.trim();
        self.questions
            .iter()
            .find(|q| q.text.trim() == query)
            .map(|q| q.passage)
    }

    /// One line: rows, passages, questions.
    pub fn summary(&self) -> String {
        let skipped = if self.skipped > 0 {
            format!(", {} rows skipped (empty passage)", self.skipped)
        } else {
            String::new()
        };
        format!(
            "{}: {} rows, {} passages, {} questions{skipped}",
            self.source,
            self.rows,
            self.passages.len(),
            self.questions.len()
        )
    }
}

pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The panic hook is process-wide: [`contain_panics`] swaps it under this lock, so two loads
/// on two threads cannot each restore the other's hook.
static PANIC_HOOK_TURN: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// Runs `f`, catching a panic inside it, whose text goes to the log (tagged `what`) instead of
/// stderr. A panic on another thread meanwhile still reaches the hook installed before (the
/// TUI's puts the terminal back first).
fn contain_panics<T>(what: &str, f: impl FnOnce() -> T) -> std::thread::Result<T> {
    let _turn = PANIC_HOOK_TURN
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let previous = std::sync::Arc::new(std::panic::take_hook());
    let for_others = std::sync::Arc::clone(&previous);
    let here = std::thread::current().id();
    let what = what.to_owned();
    std::panic::set_hook(Box::new(move |info| {
        if std::thread::current().id() == here {
            tracing::error!("{what}: {info}");
        } else {
            for_others(info);
        }
    }));
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f));
    // Dropping our hook drops its handle on the previous one, which goes back as it was.
    drop(std::panic::take_hook());
    match std::sync::Arc::try_unwrap(previous) {
        Ok(hook) => std::panic::set_hook(hook),
        Err(shared) => std::panic::set_hook(Box::new(move |info| shared(info))),
    }
    result
}

/// Accumulates rows from one or more parquet sources.
struct CorpusBuilder<'a> {
    opts: &'a LoadOptions,
    rows: usize,
    skipped: usize,
    passages: Vec<Passage>,
    by_text: HashMap<String, usize>,
    questions: Vec<Question>,
}

impl<'a> CorpusBuilder<'a> {
    fn new(opts: &'a LoadOptions) -> Self {
        Self {
            opts,
            rows: 0,
            skipped: 0,
            passages: Vec::new(),
            by_text: HashMap::new(),
            questions: Vec::new(),
        }
    }

    fn full(&self) -> bool {
        self.opts.limit.is_some_and(|l| self.rows >= l)
    }

    /// [`read`](Self::read), with a panic inside the parquet crate (a damaged file it does
    /// not check) turned into the usual error naming the file; the panic's text goes to the
    /// log, not to the terminal.
    fn read_contained<R: parquet::file::reader::ChunkReader + 'static>(
        &mut self,
        path: &Path,
        reader: R,
    ) -> Result<()> {
        let read = contain_panics(&format!("reading {}", path.display()), || {
            self.read(path, reader)
        });
        read.unwrap_or_else(|_| {
            Err(DataError::NotParquet {
                path: path.to_owned(),
                detail: "the parquet reader stopped on damaged data; the log has its message"
                    .into(),
            })
        })
    }

    fn read<R: parquet::file::reader::ChunkReader + 'static>(
        &mut self,
        path: &Path,
        reader: R,
    ) -> Result<()> {
        let not_parquet = |e: parquet::errors::ParquetError| DataError::NotParquet {
            path: path.to_owned(),
            detail: e.to_string(),
        };
        let builder = ParquetRecordBatchReaderBuilder::try_new(reader).map_err(not_parquet)?;
        let schema = builder.schema().clone();
        let cols = &self.opts.columns;
        let available = || {
            schema
                .fields()
                .iter()
                .map(|f| f.name().as_str())
                .collect::<Vec<_>>()
                .join(", ")
        };
        let context_idx = schema
            .index_of(&cols.context)
            .map_err(|_| DataError::MissingColumn {
                path: path.to_owned(),
                column: cols.context.clone(),
                available: available(),
                flag: "--context-column",
            })?;
        let optional = |name: &str| schema.index_of(name).ok();
        let wanted: Vec<(Role, usize)> = [
            (Role::Context, Some(context_idx)),
            (Role::Title, optional(&cols.title)),
            (Role::Question, optional(&cols.question)),
            (Role::Answers, optional(&cols.answers)),
            (Role::Guid, optional("guid")),
        ]
        .into_iter()
        .filter_map(|(role, idx)| idx.map(|i| (role, i)))
        .collect();
        // Check the types up front so a mistyped column is named before any reading.
        for &(role, idx) in &wanted {
            let field = schema.field(idx);
            let ok = match role {
                Role::Answers => answers_type_ok(field.data_type()),
                _ => is_string(field.data_type()),
            };
            if !ok {
                return Err(DataError::ColumnType {
                    path: path.to_owned(),
                    column: field.name().clone(),
                    found: field.data_type().to_string(),
                    expected: role.expected(),
                });
            }
        }
        let mut roots: Vec<usize> = wanted.iter().map(|&(_, i)| i).collect();
        roots.sort_unstable();
        let mask = ProjectionMask::roots(builder.parquet_schema(), roots.iter().copied());
        let reader = builder
            .with_projection(mask)
            .with_batch_size(4096)
            .build()
            .map_err(not_parquet)?;
        for batch in reader {
            if self.full() {
                break;
            }
            let batch = batch.map_err(|e| DataError::NotParquet {
                path: path.to_owned(),
                detail: e.to_string(),
            })?;
            self.add_batch(&batch, &wanted, &schema)?;
        }
        Ok(())
    }

    fn add_batch(
        &mut self,
        batch: &RecordBatch,
        wanted: &[(Role, usize)],
        schema: &arrow::datatypes::Schema,
    ) -> Result<()> {
        let column = |role: Role| -> Option<&ArrayRef> {
            let idx = wanted.iter().find(|(r, _)| *r == role)?.1;
            batch.column_by_name(schema.field(idx).name())
        };
        let Some(context) = column(Role::Context).map(StrCol::new) else {
            return Ok(());
        };
        let title = column(Role::Title).map(StrCol::new);
        let question = column(Role::Question).map(StrCol::new);
        let guid = column(Role::Guid).map(StrCol::new);
        let answers = column(Role::Answers).and_then(|a| a.as_struct_opt());
        let remaining = self
            .opts
            .limit
            .map_or(usize::MAX, |l| l.saturating_sub(self.rows));
        for row in 0..batch.num_rows().min(remaining) {
            self.rows += 1;
            let Some(text) = context.get(row).filter(|t| !t.trim().is_empty()) else {
                self.skipped += 1;
                continue;
            };
            let passage = match self.by_text.get(text) {
                Some(&p) => p,
                None => {
                    let p = self.passages.len();
                    self.passages.push(Passage {
                        title: title
                            .as_ref()
                            .and_then(|t| t.get(row))
                            .unwrap_or_default()
                            .to_owned(),
                        text: text.to_owned(),
                        questions: Vec::new(),
                    });
                    self.by_text.insert(text.to_owned(), p);
                    p
                }
            };
            let Some(q) = question
                .as_ref()
                .and_then(|q| q.get(row))
                .filter(|q| !q.trim().is_empty())
            else {
                continue;
            };
            let id = guid
                .as_ref()
                .and_then(|g| g.get(row))
                .map(str::to_owned)
                .unwrap_or_else(|| format!("row-{}", self.rows - 1));
            let qi = self.questions.len();
            self.questions.push(Question {
                id,
                text: q.to_owned(),
                passage,
                answers: answers.map(|a| read_answers(a, row)).unwrap_or_default(),
            });
            self.passages[passage].questions.push(qi);
        }
        Ok(())
    }

    fn finish(self, source: &str) -> Result<Corpus> {
        if self.passages.is_empty() {
            let detail = if self.rows == 0 {
                "the file has no rows".to_owned()
            } else {
                format!(
                    "all {} rows have an empty `{}`",
                    self.rows, self.opts.columns.context
                )
            };
            return Err(DataError::Empty {
                path: PathBuf::from(source),
                detail,
            });
        }
        Ok(Corpus {
            source: source.to_owned(),
            rows: self.rows,
            skipped: self.skipped,
            passages: self.passages,
            questions: self.questions,
        })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Role {
    Context,
    Title,
    Question,
    Answers,
    Guid,
}

impl Role {
    fn expected(self) -> &'static str {
        match self {
            Role::Answers => "struct<answer_start: list<int>, text: list<string>>",
            _ => "a string column",
        }
    }
}

fn is_string(t: &DataType) -> bool {
    matches!(t, DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View)
}

fn answers_type_ok(t: &DataType) -> bool {
    let DataType::Struct(fields) = t else {
        return false;
    };
    let inner = |name: &str| {
        fields
            .iter()
            .find(|f| f.name() == name)
            .and_then(|f| match f.data_type() {
                DataType::List(item) | DataType::LargeList(item) => Some(item.data_type().clone()),
                _ => None,
            })
    };
    matches!(
        inner("answer_start"),
        Some(DataType::Int32 | DataType::Int64)
    ) && inner("text").is_some_and(|t| is_string(&t))
}

/// A string column of any of arrow's three string layouts.
enum StrCol<'a> {
    Utf8(&'a StringArray),
    Large(&'a LargeStringArray),
    View(&'a StringViewArray),
    Other,
}

impl<'a> StrCol<'a> {
    fn new(array: &'a ArrayRef) -> Self {
        if let Some(a) = array.as_string_opt::<i32>() {
            Self::Utf8(a)
        } else if let Some(a) = array.as_string_opt::<i64>() {
            Self::Large(a)
        } else if let Some(a) = array.as_string_view_opt() {
            Self::View(a)
        } else {
            Self::Other
        }
    }

    fn get(&self, row: usize) -> Option<&'a str> {
        fn at<A: Array>(a: &A, row: usize) -> bool {
            row < a.len() && a.is_valid(row)
        }
        match self {
            Self::Utf8(a) => at(*a, row).then(|| a.value(row)),
            Self::Large(a) => at(*a, row).then(|| a.value(row)),
            Self::View(a) => at(*a, row).then(|| a.value(row)),
            Self::Other => None,
        }
    }
}

fn read_answers(answers: &StructArray, row: usize) -> Vec<Answer> {
    if !answers.is_valid(row) {
        return Vec::new();
    }
    let (Some(starts), Some(texts)) = (
        answers.column_by_name("answer_start"),
        answers.column_by_name("text"),
    ) else {
        return Vec::new();
    };
    let starts = list_values(starts, row, |values| {
        if let Some(v) = values.as_primitive_opt::<Int32Type>() {
            v.iter()
                .map(|x| x.and_then(|x| usize::try_from(x).ok()))
                .collect()
        } else if let Some(v) = values.as_primitive_opt::<Int64Type>() {
            v.iter()
                .map(|x| x.and_then(|x| usize::try_from(x).ok()))
                .collect()
        } else {
            Vec::new()
        }
    });
    let texts = list_values(texts, row, |values| {
        let col = StrCol::new(values);
        (0..values.len())
            .map(|i| col.get(i).map(str::to_owned))
            .collect()
    });
    starts
        .into_iter()
        .zip(texts)
        .filter_map(|(s, t)| {
            Some(Answer {
                start: s?,
                text: t?,
            })
        })
        .collect()
}

/// The values of one row of a list column, converted by `f`.
fn list_values<T>(list: &ArrayRef, row: usize, f: impl Fn(&ArrayRef) -> Vec<T>) -> Vec<T> {
    fn slice<O: OffsetSizeTrait>(l: &GenericListArray<O>, row: usize) -> Option<ArrayRef> {
        (row < l.len() && l.is_valid(row)).then(|| l.value(row))
    }
    let values = if let Some(l) = list.as_list_opt::<i32>() {
        slice(l, row)
    } else if let Some(l) = list.as_list_opt::<i64>() {
        slice(l, row)
    } else {
        None
    };
    values.map(|v| f(&v)).unwrap_or_default()
}

/// The byte range of a code-point span in `text`, when it lies inside it.
pub fn char_span_to_bytes(text: &str, start: usize, len_chars: usize) -> Option<(usize, usize)> {
    let mut indices = text.char_indices().map(|(i, _)| i).chain([text.len()]);
    let begin = indices.nth(start)?;
    let end = if len_chars == 0 {
        begin
    } else {
        indices.nth(len_chars - 1)?
    };
    Some((begin, end))
}

#[cfg(test)]
mod tests;
