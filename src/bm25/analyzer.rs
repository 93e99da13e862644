//! Korean-aware analyzers: text in, terms with byte offsets out.
//!
//! - `bigram` (default): character bigrams within Hangul runs (a one-syllable run is kept
//!   whole), whole lowercased tokens for runs of other letters and digits; everything else
//!   (spaces, punctuation, emoji) separates. "서울에서" and "서울" share the term 서울.
//! - `wordpiece`: the subword tokens of a model's own tokenizer (the textbook's choice).
//! - `whitespace`: whitespace-separated tokens, lowercased, with leading and trailing
//!   punctuation trimmed; particles stay attached, which is the point of showing it.
//! - `morph`: mecab-ko-dic morphemes as nori makes terms of them (stop tags dropped,
//!   lowercased; `morph/mixed`, `morph/none` pick nori's decompound mode), see [`super::morph`].
//! - `morph+bigram`: the `morph` terms and the `bigram` terms of the same text in one field.
use std::fmt;
use std::str::FromStr;
use std::sync::Arc;

use super::morph::{self, Decompound, DicError, Dictionary, Morpheme};

/// An analyzer by name, as `--bm25-analyzer` takes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum AnalyzerKind {
    #[default]
    Bigram,
    Wordpiece,
    Whitespace,
    /// mecab-ko-dic morphemes under nori's stop tags.
    Morph(Decompound),
    /// `Morph`'s terms and `Bigram`'s in one field.
    MorphBigram(Decompound),
}

impl AnalyzerKind {
    pub const ALL: [AnalyzerKind; 9] = [
        Self::Bigram,
        Self::Wordpiece,
        Self::Whitespace,
        Self::Morph(Decompound::Discard),
        Self::Morph(Decompound::Mixed),
        Self::Morph(Decompound::None),
        Self::MorphBigram(Decompound::Discard),
        Self::MorphBigram(Decompound::Mixed),
        Self::MorphBigram(Decompound::None),
    ];

    /// `morph`, `morph+bigram`: the analyzers that need mecab-ko-dic, nori's default mode.
    pub const MORPH: AnalyzerKind = Self::Morph(Decompound::Discard);
    pub const MORPH_BIGRAM: AnalyzerKind = Self::MorphBigram(Decompound::Discard);

    pub fn name(self) -> &'static str {
        use Decompound as D;
        match self {
            Self::Bigram => "bigram",
            Self::Wordpiece => "wordpiece",
            Self::Whitespace => "whitespace",
            Self::Morph(D::Discard) => "morph",
            Self::Morph(D::Mixed) => "morph/mixed",
            Self::Morph(D::None) => "morph/none",
            Self::MorphBigram(D::Discard) => "morph+bigram",
            Self::MorphBigram(D::Mixed) => "morph+bigram/mixed",
            Self::MorphBigram(D::None) => "morph+bigram/none",
        }
    }

    /// Whether this analyzer reads mecab-ko-dic.
    pub fn needs_dictionary(self) -> bool {
        matches!(self, Self::Morph(_) | Self::MorphBigram(_))
    }

    /// The default analyzer: `morph+bigram` where mecab-ko-dic is installed (the best measured
    /// on Korean QA, README), else `bigram`.
    pub fn best_available() -> Self {
        if morph::installed_dir().is_some() {
            Self::MORPH_BIGRAM
        } else {
            Self::Bigram
        }
    }
}

impl fmt::Display for AnalyzerKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for AnalyzerKind {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if let Some(k) = Self::ALL.into_iter().find(|k| k.name() == s) {
            return Ok(k);
        }
        // `morph/decompound=mixed` reads as `morph/mixed`.
        if let Some((base, mode)) = s.split_once('/') {
            let mode = mode.strip_prefix("decompound=").unwrap_or(mode);
            if let (Ok(d), "morph" | "morph+bigram") = (mode.parse::<Decompound>(), base) {
                return Ok(if base == "morph" {
                    Self::Morph(d)
                } else {
                    Self::MorphBigram(d)
                });
            }
        }
        Err(format!(
            "unknown BM25 analyzer `{s}` (choose bigram, morph, morph+bigram, wordpiece or whitespace; morph takes /discard, /mixed or /none)"
        ))
    }
}

/// One term and where it came from in the text (byte offsets).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Term {
    pub text: String,
    pub start: usize,
    pub end: usize,
}

/// A ready analyzer. Cheap to clone.
#[derive(Clone)]
pub enum Analyzer {
    Bigram,
    Whitespace,
    /// A model's tokenizer.
    Wordpiece(Arc<Wordpiece>),
    /// mecab-ko-dic morphemes, alone or with bigrams.
    Morph(Arc<Morph>),
}

/// The morph analyzers' settings over the shared dictionary.
pub struct Morph {
    dic: Arc<Dictionary>,
    decompound: Decompound,
    bigrams: bool,
}

/// What became of a morpheme (or a compound's part) on its way to terms.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fate {
    Kept,
    /// Its first POS is one of nori's stop tags.
    StopTag,
    /// No letter or digit in it.
    Punctuation,
    /// A compound given as its parts (decompound `discard`).
    Decompounded,
}

/// A morpheme or a compound's part, with its fate: how the morph analyzer sees a text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Piece {
    pub surface: String,
    pub pos: String,
    pub start: usize,
    pub end: usize,
    /// A part of the compound before it.
    pub part: bool,
    pub fate: Fate,
}

impl Morph {
    pub fn decompound(&self) -> Decompound {
        self.decompound
    }

    /// Whether the character bigrams join the morphemes (`morph+bigram`).
    pub fn with_bigrams(&self) -> bool {
        self.bigrams
    }

    /// Every morpheme of `text` (a compound followed by its parts), each with its fate.
    pub fn pieces(&self, text: &str) -> Vec<Piece> {
        let mut out = Vec::new();
        for m in self.dic.morphemes(text) {
            let parts = if m.kind == "Compound" && self.decompound != Decompound::None {
                compound_parts(&m)
            } else {
                Vec::new()
            };
            let mut whole = piece(&m.surface, &m.pos, m.start, m.end, false);
            if !parts.is_empty() && self.decompound == Decompound::Discard {
                whole.fate = Fate::Decompounded;
            }
            out.push(whole);
            out.extend(parts);
        }
        out
    }

    fn terms(&self, text: &str) -> Vec<Term> {
        let mut out: Vec<Term> = self
            .pieces(text)
            .into_iter()
            .filter(|p| p.fate == Fate::Kept)
            .map(|p| Term {
                text: p.surface.to_lowercase(),
                start: p.start,
                end: p.end,
            })
            .collect();
        if self.bigrams {
            out.extend(bigram(text));
        }
        out
    }
}

fn piece(surface: &str, pos: &str, start: usize, end: usize, part: bool) -> Piece {
    let first = pos.split('+').next().unwrap_or(pos);
    let fate = if morph::is_stop_tag(first) {
        Fate::StopTag
    } else if !surface.chars().any(char::is_alphanumeric) {
        Fate::Punctuation
    } else {
        Fate::Kept
    };
    Piece {
        surface: surface.to_owned(),
        pos: pos.to_owned(),
        start,
        end,
        part,
        fate,
    }
}

/// A compound's parts from its expression (`지명/NNG/*+수배/NNG/*`), each at its own bytes when
/// the parts spell the surface (they do for mecab-ko-dic's compound nouns), else at the
/// compound's.
fn compound_parts(m: &Morpheme) -> Vec<Piece> {
    let parts: Option<Vec<(&str, &str)>> = m
        .expression
        .split('+')
        .map(|p| {
            let mut f = p.split('/');
            Some((f.next()?, f.next()?))
        })
        .collect();
    let Some(parts) = parts.filter(|p| p.len() > 1) else {
        return Vec::new();
    };
    let spelled = parts.iter().map(|(s, _)| *s).collect::<String>() == m.surface;
    let mut at = m.start;
    parts
        .into_iter()
        .map(|(surface, pos)| {
            let (s, e) = if spelled {
                (at, at + surface.len())
            } else {
                (m.start, m.end)
            };
            at = e;
            piece(surface, pos, s, e, true)
        })
        .collect()
}

/// A model's tokenizer as an analyzer; `label` (the model id) names it in messages.
pub struct Wordpiece {
    tokenizer: tokenizers::Tokenizer,
    label: String,
    unk: Option<u32>,
}

impl fmt::Debug for Analyzer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.describe())
    }
}

impl Analyzer {
    /// A wordpiece analyzer over `tokenizer`, without truncation or special tokens.
    pub fn wordpiece(mut tokenizer: tokenizers::Tokenizer, label: &str) -> Self {
        let _ = tokenizer.with_truncation(None);
        tokenizer.with_padding(None);
        let unk = ["[UNK]", "<unk>"]
            .iter()
            .find_map(|t| tokenizer.token_to_id(t));
        Self::Wordpiece(Arc::new(Wordpiece {
            tokenizer,
            label: label.to_owned(),
            unk,
        }))
    }

    /// A morph analyzer (`bigrams`: `morph+bigram`) over the installed mecab-ko-dic; the
    /// error says what to run when it is missing.
    pub fn morph(decompound: Decompound, bigrams: bool) -> Result<Self, DicError> {
        Ok(Self::morph_over(morph::shared()?, decompound, bigrams))
    }

    /// A morph analyzer over a loaded dictionary.
    pub fn morph_over(dic: Arc<Dictionary>, decompound: Decompound, bigrams: bool) -> Self {
        Self::Morph(Arc::new(Morph {
            dic,
            decompound,
            bigrams,
        }))
    }

    pub fn kind(&self) -> AnalyzerKind {
        match self {
            Self::Bigram => AnalyzerKind::Bigram,
            Self::Whitespace => AnalyzerKind::Whitespace,
            Self::Wordpiece(_) => AnalyzerKind::Wordpiece,
            Self::Morph(m) if m.bigrams => AnalyzerKind::MorphBigram(m.decompound),
            Self::Morph(m) => AnalyzerKind::Morph(m.decompound),
        }
    }

    /// `bigram`, `whitespace`, or `wordpiece (klue/roberta-base)`.
    pub fn describe(&self) -> String {
        match self {
            Self::Wordpiece(w) => format!("wordpiece ({})", w.label),
            other => other.kind().name().to_owned(),
        }
    }

    /// The share of Korean text that this analyzer cuts into pieces BM25 cannot use (unknown
    /// tokens, or pieces of at most one Hangul syllable, as a tokenizer without a Korean
    /// vocabulary produces), when it is a wordpiece analyzer and that share is over half.
    /// The message names the tokenizer.
    pub fn coverage_warning(&self, texts: &[&str]) -> Option<String> {
        let Self::Wordpiece(w) = self else {
            return None;
        };
        let (mut korean, mut poor) = (0usize, 0usize);
        for text in texts {
            let Ok(encoding) = w.tokenizer.encode(*text, false) else {
                continue;
            };
            for ((token, &(s, e)), &id) in encoding
                .get_tokens()
                .iter()
                .zip(encoding.get_offsets())
                .zip(encoding.get_ids())
            {
                let span = text.get(s.min(text.len())..e.min(text.len())).unwrap_or("");
                if !span.chars().any(is_hangul) {
                    continue;
                }
                korean += 1;
                let syllables = token.chars().filter(|&c| is_hangul(c)).count();
                if Some(id) == w.unk || syllables <= 1 {
                    poor += 1;
                }
            }
        }
        let share = poor as f64 / korean.max(1) as f64;
        (korean > 0 && share > 0.5).then(|| {
            format!(
                "the wordpiece analyzer's tokenizer ({}) cuts {:.0}% of Korean pieces into unknown or single-syllable tokens, so BM25 matches almost anything; try the bigram analyzer",
                w.label,
                share * 100.0
            )
        })
    }

    /// All terms of `text` in order, duplicates kept.
    pub fn terms(&self, text: &str) -> Vec<Term> {
        match self {
            Self::Bigram => bigram(text),
            Self::Whitespace => whitespace(text),
            Self::Wordpiece(w) => wordpiece(w, text),
            Self::Morph(m) => m.terms(text),
        }
    }

    /// The distinct terms of a query, in first-seen order.
    pub fn query_terms(&self, query: &str) -> Vec<String> {
        let mut seen = std::collections::HashSet::new();
        self.terms(query)
            .into_iter()
            .filter_map(|t| seen.insert(t.text.clone()).then_some(t.text))
            .collect()
    }

    /// Byte ranges of `text` covered by any of `terms`, merged and sorted (for highlighting).
    pub fn highlight(&self, text: &str, terms: &[String]) -> Vec<(usize, usize)> {
        if terms.is_empty() {
            return Vec::new();
        }
        merge_spans(
            self.terms(text)
                .into_iter()
                .filter(|t| terms.contains(&t.text))
                .map(|t| (t.start, t.end))
                .collect(),
        )
    }
}

/// Byte ranges sorted, overlapping or touching ones merged.
pub fn merge_spans(mut spans: Vec<(usize, usize)>) -> Vec<(usize, usize)> {
    spans.sort_unstable();
    let mut merged: Vec<(usize, usize)> = Vec::with_capacity(spans.len());
    for (s, e) in spans {
        match merged.last_mut() {
            Some(last) if s <= last.1 => last.1 = last.1.max(e),
            _ => merged.push((s, e)),
        }
    }
    merged
}

/// Hangul syllables and jamo (including compatibility and extended jamo).
pub fn is_hangul(c: char) -> bool {
    matches!(c,
        '\u{AC00}'..='\u{D7A3}'
        | '\u{1100}'..='\u{11FF}'
        | '\u{3130}'..='\u{318F}'
        | '\u{A960}'..='\u{A97F}'
        | '\u{D7B0}'..='\u{D7FF}')
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Class {
    Hangul,
    Word,
    Other,
}

fn class(c: char) -> Class {
    if is_hangul(c) {
        Class::Hangul
    } else if c.is_alphanumeric() {
        Class::Word
    } else {
        Class::Other
    }
}

pub(crate) fn bigram(text: &str) -> Vec<Term> {
    let mut out = Vec::new();
    let mut chars = text.char_indices().peekable();
    while let Some(&(start, c)) = chars.peek() {
        let cls = class(c);
        // Collect the run of this class.
        let mut run: Vec<(usize, char)> = Vec::new();
        while let Some(&(i, c)) = chars.peek() {
            if class(c) != cls {
                break;
            }
            run.push((i, c));
            chars.next();
        }
        let end = run.last().map_or(start, |&(i, c)| i + c.len_utf8());
        match cls {
            Class::Other => {}
            Class::Word => out.push(Term {
                text: text[start..end].to_lowercase(),
                start,
                end,
            }),
            Class::Hangul if run.len() == 1 => out.push(Term {
                text: text[start..end].to_owned(),
                start,
                end,
            }),
            Class::Hangul => {
                for pair in run.windows(2) {
                    let (s, _) = pair[0];
                    let (i, c) = pair[1];
                    let e = i + c.len_utf8();
                    out.push(Term {
                        text: text[s..e].to_owned(),
                        start: s,
                        end: e,
                    });
                }
            }
        }
    }
    out
}

fn whitespace(text: &str) -> Vec<Term> {
    let mut out = Vec::new();
    let mut offset = 0;
    for piece in text.split_whitespace() {
        let start = offset + text[offset..].find(piece).unwrap_or(0);
        offset = start + piece.len();
        let trimmed = piece.trim_matches(|c: char| !c.is_alphanumeric());
        if trimmed.is_empty() {
            continue;
        }
        let lead = piece.len()
            - piece
                .trim_start_matches(|c: char| !c.is_alphanumeric())
                .len();
        out.push(Term {
            text: trimmed.to_lowercase(),
            start: start + lead,
            end: start + lead + trimmed.len(),
        });
    }
    out
}

fn wordpiece(w: &Wordpiece, text: &str) -> Vec<Term> {
    let Ok(encoding) = w.tokenizer.encode(text, false) else {
        return Vec::new();
    };
    encoding
        .get_tokens()
        .iter()
        .zip(encoding.get_offsets())
        .zip(encoding.get_ids())
        .filter(|(_, &id)| Some(id) != w.unk)
        .map(|((t, &(s, e)), _)| Term {
            text: t.clone(),
            start: s.min(text.len()),
            end: e.min(text.len()),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts(a: &Analyzer, s: &str) -> Vec<String> {
        a.terms(s).into_iter().map(|t| t.text).collect()
    }

    #[test]
    fn bigram_splits_hangul_runs_and_keeps_latin_and_digits_whole() {
        let a = Analyzer::Bigram;
        assert_eq!(
            texts(&a, "서울에서 1946년에 MIT를"),
            ["서울", "울에", "에서", "1946", "년에", "mit", "를"]
        );
        assert_eq!(texts(&a, "장마"), ["장마"]);
        assert_eq!(texts(&a, "비"), ["비"]);
        assert_eq!(texts(&a, "🙂 ok!"), ["ok"]);
        assert!(texts(&a, "🙂🙂 ... !!").is_empty());
        // Particles: 서울에서 and 서울은 share 서울.
        assert!(texts(&a, "서울은").contains(&"서울".to_owned()));
        // Offsets point at the original text.
        let terms = a.terms("가나 ABC");
        assert_eq!((terms[1].start, terms[1].end), (7, 10));
        assert_eq!(&"가나 ABC"[terms[0].start..terms[0].end], "가나");
    }

    #[test]
    fn whitespace_keeps_particles_attached() {
        let a = Analyzer::Whitespace;
        assert_eq!(
            texts(&a, "“서울에서” 열린 COVID-19 회의, 🙂"),
            ["서울에서", "열린", "covid-19", "회의"]
        );
        let t = &a.terms("  (서울)  ")[0];
        assert_eq!(&"  (서울)  "[t.start..t.end], "서울");
    }

    #[test]
    fn query_terms_are_distinct_and_highlights_merge() {
        let a = Analyzer::Bigram;
        assert_eq!(a.query_terms("장마 장마철"), ["장마", "마철"]);
        let text = "올해 장마철 비";
        let spans = a.highlight(text, &["장마".into(), "마철".into()]);
        assert_eq!(spans.len(), 1);
        assert_eq!(&text[spans[0].0..spans[0].1], "장마철");
    }

    #[test]
    fn names_parse() {
        for k in AnalyzerKind::ALL {
            assert_eq!(k.name().parse::<AnalyzerKind>().unwrap(), k);
        }
        assert!("nori".parse::<AnalyzerKind>().unwrap_err().contains("nori"));
    }
}
