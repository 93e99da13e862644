//! BM25 keyword search on tantivy (k1 = 1.2, b = 0.75, Lucene's idf), over the passages
//! of a [`Corpus`](crate::data::Corpus), with a Korean-aware [`Analyzer`].
//!
//! The query is analysed with the same analyzer and searched as a disjunction of its
//! distinct terms: it is never parsed as a query language, so quotes, colons, brackets and
//! AND/OR are plain text.
mod analyzer;
mod explain;
pub mod morph;

use tantivy::collector::TopDocs;
use tantivy::schema::{
    Field, IndexRecordOption, NumericOptions, Schema, TextFieldIndexing, TextOptions,
};
use tantivy::tokenizer::{Token, TokenStream, Tokenizer};
use tantivy::{DocAddress, Index, IndexReader, ReloadPolicy, TantivyDocument};

pub use analyzer::{is_hangul, Analyzer, AnalyzerKind, Fate, Morph, Piece, Term, Wordpiece};
pub use explain::{Bm25Explain, TermScore, B as BM25_B, K1 as BM25_K1};
pub use morph::{Decompound, DicError};

const TOKENIZER: &str = "bigyo";

#[derive(Debug, thiserror::Error)]
#[error("BM25 index: {0}")]
pub struct Bm25Error(String);

impl From<tantivy::TantivyError> for Bm25Error {
    fn from(e: tantivy::TantivyError) -> Self {
        Self(e.to_string())
    }
}

/// A BM25 hit: passage index and score.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Bm25Hit {
    pub passage: usize,
    pub score: f32,
}

/// An in-memory tantivy index of passage texts.
pub struct Bm25Index {
    analyzer: Analyzer,
    reader: IndexReader,
    text: Field,
    len: usize,
    /// Each passage's document, by passage index (for explaining one passage's score).
    addresses: Vec<Option<DocAddress>>,
}

impl std::fmt::Debug for Bm25Index {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Bm25Index")
            .field("analyzer", &self.analyzer)
            .field("passages", &self.len)
            .finish()
    }
}

impl Bm25Index {
    /// Indexes `passages` (in order; hit `passage` fields index into it). `progress` gets the
    /// number of passages added so far.
    pub fn build<S: AsRef<str>>(
        passages: &[S],
        analyzer: Analyzer,
        progress: &mut dyn FnMut(usize),
    ) -> Result<Self, Bm25Error> {
        let mut schema = Schema::builder();
        let indexing = TextFieldIndexing::default()
            .set_tokenizer(TOKENIZER)
            .set_index_option(IndexRecordOption::WithFreqs);
        let text = schema.add_text_field(
            "text",
            TextOptions::default().set_indexing_options(indexing),
        );
        let pid = schema.add_u64_field("pid", NumericOptions::default().set_fast());
        let index = Index::create_in_ram(schema.build());
        index
            .tokenizers()
            .register(TOKENIZER, AnalyzerTokenizer(analyzer.clone()));
        // One worker keeps documents in insertion order within segments; the `pid` fast field
        // maps hits back regardless of how segments come out.
        let mut writer = index.writer_with_num_threads(1, 200_000_000)?;
        for (i, p) in passages.iter().enumerate() {
            let mut doc = TantivyDocument::default();
            doc.add_text(text, p.as_ref());
            doc.add_u64(pid, i as u64);
            writer.add_document(doc)?;
            if i % 1024 == 1023 {
                progress(i + 1);
            }
        }
        writer.commit()?;
        progress(passages.len());
        let reader = index
            .reader_builder()
            .reload_policy(ReloadPolicy::Manual)
            .try_into()?;
        let addresses = addresses(&reader, passages.len())?;
        Ok(Self {
            analyzer,
            reader,
            text,
            len: passages.len(),
            addresses,
        })
    }

    pub fn analyzer(&self) -> &Analyzer {
        &self.analyzer
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The top `k` passages for `query`, best first. A query with no terms (for this
    /// analyzer) or `k == 0` gives no hits.
    pub fn search(&self, query: &str, k: usize) -> Result<Vec<Bm25Hit>, Bm25Error> {
        let terms = self.analyzer.query_terms(query);
        self.search_terms(&terms, k)
    }

    /// As [`search`](Self::search), with the query already analysed.
    pub fn search_terms(&self, terms: &[String], k: usize) -> Result<Vec<Bm25Hit>, Bm25Error> {
        if terms.is_empty() || k == 0 || self.len == 0 {
            return Ok(Vec::new());
        }
        let query = self.query_of(terms);
        let searcher = self.reader.searcher();
        let top = searcher.search(&query, &TopDocs::with_limit(k).order_by_score())?;
        let mut hits = Vec::with_capacity(top.len());
        let mut columns = Vec::new();
        for (score, addr) in top {
            let seg = addr.segment_ord as usize;
            if columns.len() <= seg {
                columns.resize_with(seg + 1, || None);
            }
            if columns[seg].is_none() {
                columns[seg] = Some(
                    searcher
                        .segment_reader(addr.segment_ord)
                        .fast_fields()
                        .u64("pid")?,
                );
            }
            let pid = columns[seg]
                .as_ref()
                .and_then(|c| c.first(addr.doc_id))
                .ok_or_else(|| Bm25Error(format!("document {addr:?} has no passage id")))?;
            hits.push(Bm25Hit {
                passage: pid as usize,
                score,
            });
        }
        // Equal scores: lower passage index first, so results are deterministic.
        hits.sort_by(|a, b| b.score.total_cmp(&a.score).then(a.passage.cmp(&b.passage)));
        Ok(hits)
    }

    /// The query terms that occur in `text` (for showing why a passage matched).
    pub fn matched_terms(&self, query_terms: &[String], text: &str) -> Vec<String> {
        matched_terms(&self.analyzer, query_terms, text)
    }

    /// [`term_matches`] under this index's analyzer.
    pub fn term_matches(&self, query_terms: &[String], text: &str) -> TermMatches {
        term_matches(&self.analyzer, query_terms, text)
    }
}

/// Each passage's document address, read from the `pid` fast field of every segment.
fn addresses(reader: &IndexReader, len: usize) -> Result<Vec<Option<DocAddress>>, Bm25Error> {
    let mut out = vec![None; len];
    let searcher = reader.searcher();
    for (ord, segment) in searcher.segment_readers().iter().enumerate() {
        let pids = segment.fast_fields().u64("pid")?;
        for doc in 0..segment.max_doc() {
            if let Some(slot) = pids.first(doc).and_then(|p| out.get_mut(p as usize)) {
                *slot = Some(DocAddress::new(ord as u32, doc));
            }
        }
    }
    Ok(out)
}

/// The query terms that occur in a text, and where: what a hit shows highlighted.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TermMatches {
    /// In query order, as [`matched_terms`] gives them.
    pub terms: Vec<String>,
    /// Byte ranges of the text covered by them, sorted and merged, as
    /// [`Analyzer::highlight`] gives them for `terms`.
    pub spans: Vec<(usize, usize)>,
}

/// The query terms found in `text` and their byte spans, from one pass of the analyzer.
pub fn term_matches(analyzer: &Analyzer, query_terms: &[String], text: &str) -> TermMatches {
    if query_terms.is_empty() {
        return TermMatches::default();
    }
    let tokens = analyzer.terms(text);
    let present: std::collections::HashSet<&str> = tokens.iter().map(|t| t.text.as_str()).collect();
    let terms: Vec<String> = query_terms
        .iter()
        .filter(|t| present.contains(t.as_str()))
        .cloned()
        .collect();
    let spans = analyzer::merge_spans(
        tokens
            .iter()
            .filter(|t| terms.contains(&t.text))
            .map(|t| (t.start, t.end))
            .collect(),
    );
    TermMatches { terms, spans }
}

/// The query terms that occur in `text` under `analyzer`, in query order.
pub fn matched_terms(analyzer: &Analyzer, query_terms: &[String], text: &str) -> Vec<String> {
    if query_terms.is_empty() {
        return Vec::new();
    }
    let present: std::collections::HashSet<String> =
        analyzer.terms(text).into_iter().map(|t| t.text).collect();
    query_terms
        .iter()
        .filter(|t| present.contains(*t))
        .cloned()
        .collect()
}

/// Our analyzers as a tantivy tokenizer.
#[derive(Clone)]
struct AnalyzerTokenizer(Analyzer);

struct VecTokenStream {
    tokens: Vec<Token>,
    index: usize,
}

impl Tokenizer for AnalyzerTokenizer {
    type TokenStream<'a> = VecTokenStream;

    fn token_stream<'a>(&'a mut self, text: &'a str) -> VecTokenStream {
        let tokens = self
            .0
            .terms(text)
            .into_iter()
            .enumerate()
            .map(|(position, t)| Token {
                offset_from: t.start,
                offset_to: t.end,
                position,
                text: t.text,
                position_length: 1,
            })
            .collect();
        VecTokenStream { tokens, index: 0 }
    }
}

impl TokenStream for VecTokenStream {
    fn advance(&mut self) -> bool {
        if self.index < self.tokens.len() {
            self.index += 1;
            true
        } else {
            false
        }
    }

    fn token(&self) -> &Token {
        &self.tokens[self.index - 1]
    }

    fn token_mut(&mut self) -> &mut Token {
        &mut self.tokens[self.index - 1]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Lucene's BM25, computed independently of tantivy.
    fn lucene(docs: &[Vec<String>], query: &[String], k1: f64, b: f64) -> Vec<f64> {
        let n = docs.len() as f64;
        let avgdl = docs.iter().map(Vec::len).sum::<usize>() as f64 / n;
        docs.iter()
            .map(|d| {
                query
                    .iter()
                    .map(|q| {
                        let df = docs.iter().filter(|d| d.contains(q)).count() as f64;
                        if df == 0.0 {
                            return 0.0;
                        }
                        let idf = (1.0 + (n - df + 0.5) / (df + 0.5)).ln();
                        let tf = d.iter().filter(|t| *t == q).count() as f64;
                        idf * tf * (k1 + 1.0) / (tf + k1 * (1.0 - b + b * d.len() as f64 / avgdl))
                    })
                    .sum()
            })
            .collect()
    }

    #[test]
    fn scores_equal_the_lucene_formula() {
        let passages = [
            "서울에서 장마가 시작됐다. 서울 장마는 7월까지 이어진다.",
            "부산에서 태풍이 북상했다.",
            "장마철 서울 강수량 300mm",
            "기차가 옵니다 기차가 갑니다",
            "MIT 연구소에서 1946년에 레이더를 개발했다",
        ];
        let analyzer = Analyzer::Bigram;
        let index = Bm25Index::build(&passages, analyzer.clone(), &mut |_| {}).unwrap();
        let docs: Vec<Vec<String>> = passages
            .iter()
            .map(|p| analyzer.terms(p).into_iter().map(|t| t.text).collect())
            .collect();
        for query in ["서울 장마", "기차", "1946년 MIT 레이더", "태풍 서울에서"] {
            let terms = analyzer.query_terms(query);
            let expected = lucene(&docs, &terms, 1.2, 0.75);
            let hits = index.search(query, 10).unwrap();
            assert_eq!(
                hits.len(),
                expected.iter().filter(|&&s| s > 0.0).count(),
                "{query}"
            );
            for h in &hits {
                let want = expected[h.passage];
                assert!(
                    (h.score as f64 - want).abs() <= 1e-5 * want.max(1.0),
                    "{query}: passage {} tantivy {} lucene {want}",
                    h.passage,
                    h.score
                );
            }
            for w in hits.windows(2) {
                assert!(w[0].score >= w[1].score);
            }
        }
    }

    #[test]
    fn query_syntax_is_plain_text_and_empty_queries_find_nothing() {
        let passages = ["AND OR NOT 서울 \"인용\" title:값 [괄호]", "다른 글"];
        let index = Bm25Index::build(&passages, Analyzer::Whitespace, &mut |_| {}).unwrap();
        for q in [
            "title:값",
            "\"인용\"",
            "[괄호]",
            "AND",
            "OR NOT",
            "a:b:c ( ] \"",
        ] {
            // Must not error; syntax characters are separators or plain terms.
            index.search(q, 5).unwrap();
        }
        assert_eq!(index.search("AND", 5).unwrap()[0].passage, 0);
        assert!(index.search("", 5).unwrap().is_empty());
        assert!(index.search("   ", 5).unwrap().is_empty());
        assert!(index.search("🙂🙂", 5).unwrap().is_empty());
        assert!(index.search("서울", 0).unwrap().is_empty());
    }

    #[test]
    fn term_matches_are_the_matched_terms_and_their_highlight() {
        let a = Analyzer::Bigram;
        let q = a.query_terms("장마 비 서울");
        let text = "서울에서 장마가 시작돼 비가 온다";
        let m = term_matches(&a, &q, text);
        assert_eq!(m.terms, matched_terms(&a, &q, text));
        assert_eq!(m.spans, a.highlight(text, &m.terms));
        assert_eq!(&text[m.spans[0].0..m.spans[0].1], "서울");
    }

    #[test]
    fn matched_terms_follow_the_analyzer() {
        let a = Analyzer::Bigram;
        let q = a.query_terms("서울 장마 태풍");
        assert_eq!(matched_terms(&a, &q, "서울에서 장마가"), ["서울", "장마"]);
    }
}
