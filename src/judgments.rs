//! Graded relevance judgments: the append-only store the explorer grades into, TREC qrels and
//! topics files, and the pooling helper.
//!
//! # The judgments file
//! One JSON object per line (JSONL), appended and never rewritten:
//!
//! ```text
//! {"query":"장마는 언제 오나?","qid":"q3b0c44298fc1c14","passage":"p12","grade":2,"ts":1767225600123}
//! {"query":"장마는 언제 오나?","qid":"q3b0c44298fc1c14","passage":"p12","grade":null,"ts":1767225612000}
//! ```
//!
//! - `query`: the query text, whitespace-normalised ([`normalize_query`]);
//! - `qid`: [`query_id`] of that text (stable across runs and machines);
//! - `passage`: the passage id bigyo's TREC run files use, `p<N>` (N = the passage's index in the
//!   corpus, which is why the default file is keyed by the corpus hash);
//! - `grade`: 0 (not relevant) … 3 (perfect), or `null` for "judgment removed";
//! - `ts`: milliseconds since the Unix epoch.
//!
//! The last record for a (query, passage) pair wins. Every [`Judgments::grade`] and
//! [`Judgments::remove`] is one `write(2)` of one whole line to a file opened with `O_APPEND`,
//! under an exclusive advisory lock (`flock`), followed by `fsync`: when it returns `Ok` the
//! grade is on disk, and two processes grading into one file interleave whole lines. A line
//! that does not parse (the torn tail of a crash from before this guarantee, or a hand edit) is
//! reported as a warning and skipped; the next append starts on a fresh line.
//!
//! # TREC files
//! Qrels: `qid 0 docid grade` per line ([`parse_qrels`], [`write_qrels`]). Topics, the
//! companion that maps query ids back to text: `qid<TAB>query text` per line ([`parse_topics`],
//! [`write_topics`], [`companion_topics`]).
use std::collections::{BTreeMap, HashMap};
use std::fs::{File, OpenOptions};
use std::io::{Read, Write};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// The highest grade the store accepts (0 = not relevant … 3 = perfect).
pub const MAX_GRADE: u8 = 3;

/// Errors of the judgments store and the TREC file readers; each names the file.
#[derive(Debug, thiserror::Error)]
pub enum JudgmentsError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("grade {grade} is out of range (0 = not relevant … 3 = perfect)")]
    Grade { grade: i64 },
    #[error("the query is empty")]
    EmptyQuery,
    #[error("{path} line {line}: {detail}")]
    Format {
        path: PathBuf,
        line: usize,
        detail: String,
    },
    #[error("{path}: {detail}")]
    Empty { path: PathBuf, detail: String },
}

pub type Result<T, E = JudgmentsError> = std::result::Result<T, E>;

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> JudgmentsError + '_ {
    move |source| JudgmentsError::Io {
        path: path.to_owned(),
        source,
    }
}

/// Trims the query and collapses inner whitespace runs to one space: the text a judgment is
/// keyed by, so "a  b " and "a b" share their grades.
pub fn normalize_query(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The stable id of a query: `q` + the first 16 hex digits of SHA-256 of [`normalize_query`].
/// Used as the TREC query id of judged queries (no spaces, the same on every machine).
pub fn query_id(text: &str) -> String {
    let digest = Sha256::digest(normalize_query(text).as_bytes());
    let hex: String = digest.iter().take(8).map(|b| format!("{b:02x}")).collect();
    format!("q{hex}")
}

/// The passage id of passage index `index`, as in bigyo's TREC run files.
pub fn passage_id(index: usize) -> String {
    format!("p{index}")
}

/// The passage index of a `p<N>` id, when it names one of `passages` passages.
pub fn parse_passage_id(id: &str, passages: usize) -> Option<usize> {
    let digits = id.strip_prefix('p')?;
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse::<usize>().ok().filter(|&i| i < passages)
}

/// The default judgments file of a corpus: `<data dir>/judgments/<first 16 hex digits of the
/// corpus hash>.jsonl` (see [`crate::paths::data_dir`] and [`crate::data::Corpus::content_hash`]).
pub fn default_path(corpus_hash: &str) -> PathBuf {
    let key: String = corpus_hash.chars().take(16).collect();
    crate::paths::data_dir()
        .join("judgments")
        .join(format!("{key}.jsonl"))
}

/// The union of every list's top `k`, in first-seen order (list by list, rank by rank): the
/// TREC pooling idea, the set a judge should grade so every method is measured on judged hits.
pub fn pool(lists: &[&[usize]], k: usize) -> Vec<usize> {
    let mut seen = std::collections::HashSet::new();
    let mut out = Vec::new();
    for list in lists {
        for &p in list.iter().take(k) {
            if seen.insert(p) {
                out.push(p);
            }
        }
    }
    out
}

/// One line of the judgments file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Record {
    pub query: String,
    pub qid: String,
    pub passage: String,
    /// `None` removes the judgment.
    pub grade: Option<u8>,
    /// Milliseconds since the Unix epoch.
    pub ts: u64,
}

/// A judged query, as [`Judgments::queries`] lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JudgedQuery {
    pub qid: String,
    pub text: String,
    /// Passages with a grade.
    pub judged: usize,
    /// Of those, how many have grade >= 1.
    pub relevant: usize,
}

/// A problem found while loading that did not stop the load.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Warning {
    pub line: usize,
    pub message: String,
}

impl std::fmt::Display for Warning {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "line {}: {}", self.line, self.message)
    }
}

/// The current grades of one query.
#[derive(Debug, Clone, Default)]
struct QueryGrades {
    qid: String,
    text: String,
    /// Passage id -> grade.
    grades: BTreeMap<String, u8>,
}

/// The judgments of one file: every query's current grades, and the file to append to.
///
/// ```no_run
/// # fn main() -> Result<(), bigyo::judgments::JudgmentsError> {
/// use bigyo::judgments::Judgments;
/// let (mut store, warnings) = Judgments::open("judgments.jsonl".as_ref())?;
/// for w in &warnings {
///     eprintln!("judgments.jsonl {w}");
/// }
/// store.grade("장마는 언제 오나?", "p12", 3)?; // on disk when this returns
/// assert_eq!(store.grades_for("장마는 언제 오나?").get("p12"), Some(&3));
/// store.remove("장마는 언제 오나?", "p12")?;
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct Judgments {
    path: PathBuf,
    /// In first-seen order.
    queries: Vec<QueryGrades>,
    by_text: HashMap<String, usize>,
}

impl Judgments {
    /// Reads `path` (a missing file is an empty store; its directory is created on the first
    /// grade). Lines that do not parse are skipped and returned as warnings.
    pub fn open(path: &Path) -> Result<(Self, Vec<Warning>)> {
        let mut store = Self {
            path: path.to_owned(),
            queries: Vec::new(),
            by_text: HashMap::new(),
        };
        let warnings = store.reload()?;
        Ok((store, warnings))
    }

    /// Reads the file again (to pick up another process's grades); returns the warnings.
    pub fn reload(&mut self) -> Result<Vec<Warning>> {
        self.queries.clear();
        self.by_text.clear();
        let bytes = match std::fs::read(&self.path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(io_err(&self.path)(e)),
        };
        let mut warnings = Vec::new();
        let ends_clean = bytes.last().is_none_or(|&b| b == b'\n');
        let lines: Vec<&[u8]> = bytes.split(|&b| b == b'\n').collect();
        // `split` yields an empty piece after a final newline.
        let count = if ends_clean {
            lines.len().saturating_sub(1)
        } else {
            lines.len()
        };
        for (i, raw) in lines.iter().take(count).enumerate() {
            let n = i + 1;
            if raw.iter().all(u8::is_ascii_whitespace) {
                continue;
            }
            let torn_tail = !ends_clean && n == count;
            match std::str::from_utf8(raw)
                .map_err(|e| e.to_string())
                .and_then(|s| serde_json::from_str::<Record>(s).map_err(|e| e.to_string()))
            {
                Ok(r) => {
                    if let Err(e) = self.check(&r) {
                        warnings.push(Warning {
                            line: n,
                            message: format!("skipped: {e}"),
                        });
                    } else {
                        self.apply(&r);
                    }
                }
                Err(e) => warnings.push(Warning {
                    line: n,
                    message: if torn_tail {
                        format!("skipped a torn last line (an interrupted write?): {e}")
                    } else {
                        format!("skipped a line that is not a judgment record: {e}")
                    },
                }),
            }
        }
        Ok(warnings)
    }

    fn check(&self, r: &Record) -> std::result::Result<(), String> {
        if let Some(g) = r.grade {
            if g > MAX_GRADE {
                return Err(format!("grade {g} is out of range 0..=3"));
            }
        }
        if normalize_query(&r.query).is_empty() {
            return Err("empty query".into());
        }
        if r.passage.trim().is_empty() {
            return Err("empty passage id".into());
        }
        Ok(())
    }

    fn apply(&mut self, r: &Record) {
        let text = normalize_query(&r.query);
        let i = match self.by_text.get(&text) {
            Some(&i) => i,
            None => {
                self.queries.push(QueryGrades {
                    qid: query_id(&text),
                    text: text.clone(),
                    grades: BTreeMap::new(),
                });
                self.by_text.insert(text, self.queries.len() - 1);
                self.queries.len() - 1
            }
        };
        match r.grade {
            Some(g) => {
                self.queries[i].grades.insert(r.passage.clone(), g);
            }
            None => {
                self.queries[i].grades.remove(&r.passage);
            }
        }
    }

    /// The file this store reads and appends to.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Records `grade` (0..=3) for (`query`, `passage`); on disk (fsync'd) when it returns Ok.
    pub fn grade(&mut self, query: &str, passage: &str, grade: u8) -> Result<()> {
        if grade > MAX_GRADE {
            return Err(JudgmentsError::Grade {
                grade: grade.into(),
            });
        }
        self.append(query, passage, Some(grade))
    }

    /// Removes the judgment of (`query`, `passage`) (appends a `"grade": null` record).
    pub fn remove(&mut self, query: &str, passage: &str) -> Result<()> {
        self.append(query, passage, None)
    }

    fn append(&mut self, query: &str, passage: &str, grade: Option<u8>) -> Result<()> {
        let text = normalize_query(query);
        if text.is_empty() {
            return Err(JudgmentsError::EmptyQuery);
        }
        let record = Record {
            qid: query_id(&text),
            query: text,
            passage: passage.trim().to_owned(),
            grade,
            ts: now_ms(),
        };
        append_records(&self.path, std::slice::from_ref(&record))?;
        self.apply(&record);
        Ok(())
    }

    /// Appends many records with one lock, one write and one fsync (used by `qrels import`).
    pub fn grade_many(&mut self, grades: &[(String, String, u8)]) -> Result<()> {
        let ts = now_ms();
        let mut records = Vec::with_capacity(grades.len());
        for (query, passage, grade) in grades {
            if *grade > MAX_GRADE {
                return Err(JudgmentsError::Grade {
                    grade: (*grade).into(),
                });
            }
            let text = normalize_query(query);
            if text.is_empty() {
                return Err(JudgmentsError::EmptyQuery);
            }
            records.push(Record {
                qid: query_id(&text),
                query: text,
                passage: passage.trim().to_owned(),
                grade: Some(*grade),
                ts,
            });
        }
        append_records(&self.path, &records)?;
        for r in &records {
            self.apply(r);
        }
        Ok(())
    }

    /// The current grades of `query` (whitespace-normalised): passage id -> grade.
    pub fn grades_for(&self, query: &str) -> BTreeMap<String, u8> {
        self.by_text
            .get(&normalize_query(query))
            .map(|&i| self.queries[i].grades.clone())
            .unwrap_or_default()
    }

    /// The grade of one (query, passage) pair.
    pub fn grade_of(&self, query: &str, passage: &str) -> Option<u8> {
        let &i = self.by_text.get(&normalize_query(query))?;
        self.queries[i].grades.get(passage).copied()
    }

    /// Queries with at least one current judgment, in the order they were first judged.
    pub fn queries(&self) -> Vec<JudgedQuery> {
        self.queries
            .iter()
            .filter(|q| !q.grades.is_empty())
            .map(|q| JudgedQuery {
                qid: q.qid.clone(),
                text: q.text.clone(),
                judged: q.grades.len(),
                relevant: q.grades.values().filter(|&&g| g >= 1).count(),
            })
            .collect()
    }

    /// Every current judgment as (qid, query text, passage id, grade), query by query.
    pub fn all(&self) -> Vec<(String, String, String, u8)> {
        self.queries
            .iter()
            .flat_map(|q| {
                q.grades
                    .iter()
                    .map(|(p, &g)| (q.qid.clone(), q.text.clone(), p.clone(), g))
            })
            .collect()
    }
}

fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// Appends whole lines under an exclusive `flock`, in one `write(2)` on an `O_APPEND` file,
/// then fsyncs. A torn tail left by an older crash (no final newline) is closed off first, so
/// the new record starts on a fresh line.
fn append_records(path: &Path, records: &[Record]) -> Result<()> {
    let err = io_err(path);
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(io_err(dir))?;
    }
    let file = OpenOptions::new()
        .create(true)
        .append(true)
        .read(true)
        .open(path)
        .map_err(io_err(path))?;
    let _lock = FileLock::exclusive(&file).map_err(io_err(path))?;
    let len = file.metadata().map_err(io_err(path))?.len();
    let mut buf = Vec::new();
    if len > 0 {
        let mut last = [0u8; 1];
        file.read_exact_at(&mut last, len - 1)
            .map_err(io_err(path))?;
        if last[0] != b'\n' {
            buf.push(b'\n');
        }
    }
    for r in records {
        let line = serde_json::to_string(r).map_err(|e| JudgmentsError::Io {
            path: path.to_owned(),
            source: std::io::Error::other(e),
        })?;
        buf.extend_from_slice(line.as_bytes());
        buf.push(b'\n');
    }
    // One write(2) of whole lines; O_APPEND puts it at the end even past another writer.
    (&file).write_all(&buf).map_err(io_err(path))?;
    file.sync_data().map_err(err)?;
    Ok(())
}

/// An exclusive advisory lock on a file, released on drop (and by the kernel when the
/// process dies, so a killed writer never leaves the file locked).
struct FileLock<'a>(&'a File);

impl<'a> FileLock<'a> {
    fn exclusive(file: &'a File) -> std::io::Result<Self> {
        use std::os::fd::AsRawFd;
        loop {
            // SAFETY: flock on a file descriptor we own for the lifetime of the guard.
            let rc = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX) };
            if rc == 0 {
                return Ok(Self(file));
            }
            let e = std::io::Error::last_os_error();
            if e.kind() != std::io::ErrorKind::Interrupted {
                return Err(e);
            }
        }
    }
}

impl Drop for FileLock<'_> {
    fn drop(&mut self) {
        use std::os::fd::AsRawFd;
        // SAFETY: as above; unlocking a lock we hold.
        unsafe {
            libc::flock(self.0.as_raw_fd(), libc::LOCK_UN);
        }
    }
}

/// One qrels line: query id, document id, grade.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Qrel {
    pub qid: String,
    pub docid: String,
    pub grade: u32,
}

/// Reads a TREC qrels file: `qid iter docid grade`, whitespace-separated, one per line; blank
/// lines are skipped. A line with another number of columns, or a grade that is not a
/// non-negative integer, is an error naming the line; a file without judgments is an error.
pub fn parse_qrels(path: &Path) -> Result<Vec<Qrel>> {
    let text = read_text(path)?;
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let cols: Vec<&str> = line.split_whitespace().collect();
        if cols.is_empty() {
            continue;
        }
        let format = |detail: String| JudgmentsError::Format {
            path: path.to_owned(),
            line: i + 1,
            detail,
        };
        if cols.len() != 4 {
            return Err(format(format!(
                "expected 4 columns `qid iter docid grade`, found {} in `{}`",
                cols.len(),
                line.trim()
            )));
        }
        let grade: u32 = cols[3].parse().map_err(|_| {
            format(format!(
                "the grade `{}` is not a non-negative integer",
                cols[3]
            ))
        })?;
        out.push(Qrel {
            qid: cols[0].to_owned(),
            docid: cols[2].to_owned(),
            grade,
        });
    }
    if out.is_empty() {
        return Err(JudgmentsError::Empty {
            path: path.to_owned(),
            detail: "no judgments (expected lines `qid 0 docid grade`)".into(),
        });
    }
    Ok(out)
}

/// Reads a topics file: `qid<TAB>query text` per line (blank lines skipped).
pub fn parse_topics(path: &Path) -> Result<BTreeMap<String, String>> {
    let text = read_text(path)?;
    let mut out = BTreeMap::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let Some((qid, query)) = line.split_once('\t') else {
            return Err(JudgmentsError::Format {
                path: path.to_owned(),
                line: i + 1,
                detail: "expected `qid<TAB>query text`".into(),
            });
        };
        let (qid, query) = (qid.trim(), normalize_query(query));
        if qid.is_empty() || query.is_empty() {
            return Err(JudgmentsError::Format {
                path: path.to_owned(),
                line: i + 1,
                detail: "empty query id or query text".into(),
            });
        }
        out.insert(qid.to_owned(), query);
    }
    Ok(out)
}

fn read_text(path: &Path) -> Result<String> {
    let mut s = String::new();
    File::open(path)
        .and_then(|mut f| f.read_to_string(&mut s))
        .map_err(io_err(path))?;
    Ok(s)
}

/// The topics file that goes with a qrels file: the same directory and stem, `.topics.tsv`
/// (`judged.qrels` -> `judged.topics.tsv`, `qrels.txt` -> `qrels.topics.tsv`).
pub fn companion_topics(qrels: &Path) -> PathBuf {
    let stem = qrels
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "qrels".into());
    qrels.with_file_name(format!("{stem}.topics.tsv"))
}

/// Writes `qid 0 docid grade` lines.
pub fn write_qrels<'a>(
    out: &mut dyn Write,
    rows: impl IntoIterator<Item = (&'a str, &'a str, u32)>,
) -> std::io::Result<()> {
    for (qid, docid, grade) in rows {
        writeln!(out, "{qid} 0 {docid} {grade}")?;
    }
    Ok(())
}

/// Writes `qid<TAB>query text` lines (tabs and newlines inside the text become spaces).
pub fn write_topics<'a>(
    out: &mut dyn Write,
    rows: impl IntoIterator<Item = (&'a str, &'a str)>,
) -> std::io::Result<()> {
    for (qid, text) in rows {
        writeln!(out, "{qid}\t{}", normalize_query(text))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests;
