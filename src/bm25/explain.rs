//! Why a passage has its BM25 score and where it stands: tantivy's own `Query::explain`,
//! read term by term (idf, term frequency, length normalisation, each term's share), and
//! the passage's rank over every passage that holds a query term.
use serde_json::Value;
use tantivy::query::{BooleanQuery, Query, TermQuery};
use tantivy::schema::IndexRecordOption;
use tantivy::{DocAddress, Term as TantivyTerm};

use super::{Bm25Error, Bm25Index};

/// One matched query term's part of a passage's BM25 score, as tantivy explains it:
/// `score = idf · (k1 + 1) · tf / (tf + k1 · norm)` with `norm = 1 - b + b · dl / avgdl`.
#[derive(Debug, Clone, PartialEq)]
pub struct TermScore {
    pub term: String,
    /// `ln(1 + (N - n + 0.5) / (n + 0.5))`.
    pub idf: f64,
    /// n: passages holding the term.
    pub doc_freq: f64,
    /// N: passages in the index.
    pub docs: f64,
    /// Occurrences of the term in the passage.
    pub tf: f64,
    /// The passage's length in terms, as tantivy stores it (its field norm, exact up to 40
    /// terms and rounded down to one of 256 steps beyond).
    pub dl: f64,
    pub avgdl: f64,
    /// `1 - b + b · dl / avgdl`: above 1 for a longer passage than average.
    pub norm: f64,
    /// `tf / (tf + k1 · norm)`, tantivy's saturated term frequency.
    pub tf_part: f64,
    /// This term's score.
    pub score: f64,
}

/// A passage's BM25 score taken apart.
#[derive(Debug, Clone, PartialEq)]
pub struct Bm25Explain {
    /// The query's distinct terms under the index's analyzer.
    pub terms: Vec<String>,
    /// The terms the passage holds, in query order, each with its share.
    pub matched: Vec<TermScore>,
    /// The whole query's score for the passage (tantivy's explain of the disjunction the
    /// pane searches with; 0 when no term matches).
    pub score: f64,
}

/// k1 and b of tantivy's BM25 (Lucene's defaults).
pub const K1: f64 = 1.2;
pub const B: f64 = 0.75;

impl Bm25Index {
    /// The disjunction of `terms`, as the pane searches.
    pub(super) fn query_of(&self, terms: &[String]) -> BooleanQuery {
        BooleanQuery::new(
            terms
                .iter()
                .map(|t| {
                    let q: Box<dyn Query> = Box::new(self.term_query(t));
                    (tantivy::query::Occur::Should, q)
                })
                .collect(),
        )
    }

    fn term_query(&self, term: &str) -> TermQuery {
        TermQuery::new(
            TantivyTerm::from_field_text(self.text, term),
            IndexRecordOption::WithFreqs,
        )
    }

    fn address(&self, passage: usize) -> Result<DocAddress, Bm25Error> {
        self.addresses
            .get(passage)
            .copied()
            .flatten()
            .ok_or_else(|| Bm25Error(format!("passage {passage} is not in the index")))
    }

    /// `passage`'s BM25 score for the query `terms` taken apart, from tantivy's
    /// `Query::explain`: the terms it holds with their idf, tf, length normalisation and
    /// score, which sum to the score the pane ranks it by.
    pub fn explain(&self, terms: &[String], passage: usize) -> Result<Bm25Explain, Bm25Error> {
        let address = self.address(passage)?;
        let searcher = self.reader.searcher();
        let mut matched = Vec::new();
        for term in terms {
            // A term the passage lacks does not match: tantivy says so with an error.
            let Ok(e) = self.term_query(term).explain(&searcher, address) else {
                continue;
            };
            let tree = serde_json::to_value(&e)
                .map_err(|e| Bm25Error(format!("reading tantivy's explanation: {e}")))?;
            let get = |prefix: &str| {
                find(&tree, prefix).ok_or_else(|| {
                    Bm25Error(format!(
                        "tantivy's explanation of `{term}` has no `{prefix}`"
                    ))
                })
            };
            let (dl, avgdl) = (get("dl,")?, get("avgdl")?);
            matched.push(TermScore {
                term: term.clone(),
                idf: get("idf")?,
                doc_freq: get("n,")?,
                docs: get("N,")?,
                tf: get("freq,")?,
                dl,
                avgdl,
                norm: 1.0 - B + B * dl / avgdl,
                tf_part: get("freq /")?,
                score: e.value() as f64,
            });
        }
        let score = if matched.is_empty() {
            0.0
        } else {
            self.query_of(terms).explain(&searcher, address)?.value() as f64
        };
        Ok(Bm25Explain {
            terms: terms.to_vec(),
            matched,
            score,
        })
    }

    /// `passage`'s 1-based rank and score among every passage holding a query term, in the
    /// pane's order (score, ties by passage index); `None` when it holds none of them.
    pub fn rank_of(
        &self,
        terms: &[String],
        passage: usize,
    ) -> Result<Option<(usize, f32)>, Bm25Error> {
        let all = self.search_terms(terms, self.len)?;
        Ok(all
            .iter()
            .position(|h| h.passage == passage)
            .map(|i| (i + 1, all[i].score)))
    }
}

/// The value of the first node (depth first) whose description starts with `prefix`.
fn find(node: &Value, prefix: &str) -> Option<f64> {
    let here = node
        .get("description")
        .and_then(Value::as_str)
        .is_some_and(|d| d.starts_with(prefix));
    if here {
        return node.get("value").and_then(Value::as_f64);
    }
    node.get("details")?
        .as_array()?
        .iter()
        .find_map(|d| find(d, prefix))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bm25::Analyzer;

    const PASSAGES: [&str; 6] = [
        "서울에서 장마가 시작됐다. 서울 장마는 7월까지 이어진다.",
        "부산에서 태풍이 북상했다.",
        "장마철 서울 강수량 300mm",
        "기차가 옵니다 기차가 갑니다",
        "MIT 연구소에서 1946년에 레이더를 개발했다",
        "서울 서울 서울 장마 장마 그리고 아주 긴 문장이 이어져서 문서 길이가 평균보다 훨씬 깁니다",
    ];

    #[test]
    fn explain_parts_follow_the_lucene_formula_and_sum_to_the_pane_score() {
        let analyzer = Analyzer::Bigram;
        let index = Bm25Index::build(&PASSAGES, analyzer.clone(), &mut |_| {}).unwrap();
        let docs: Vec<Vec<String>> = PASSAGES
            .iter()
            .map(|p| analyzer.terms(p).into_iter().map(|t| t.text).collect())
            .collect();
        let n = docs.len() as f64;
        let avgdl = docs.iter().map(Vec::len).sum::<usize>() as f64 / n;
        for query in [
            "서울 장마",
            "기차 서울",
            "1946년 MIT 레이더",
            "태풍 서울에서",
        ] {
            let terms = analyzer.query_terms(query);
            for hit in index.search(query, 10).unwrap() {
                let e = index.explain(&terms, hit.passage).unwrap();
                assert!((e.score - hit.score as f64).abs() < 1e-4, "{query}");
                let sum: f64 = e.matched.iter().map(|t| t.score).sum();
                assert!((sum - hit.score as f64).abs() < 1e-4, "{query}: {sum}");
                let doc = &docs[hit.passage];
                for t in &e.matched {
                    // Every number checked against a computation from the analyzer's terms.
                    let df = docs.iter().filter(|d| d.contains(&t.term)).count() as f64;
                    let tf = doc.iter().filter(|x| **x == t.term).count() as f64;
                    let idf = (1.0 + (n - df + 0.5) / (df + 0.5)).ln();
                    let norm = 1.0 - B + B * doc.len() as f64 / avgdl;
                    let score = idf * (K1 + 1.0) * tf / (tf + K1 * norm);
                    assert_eq!((t.doc_freq, t.docs, t.tf), (df, n, tf), "{}", t.term);
                    assert_eq!(t.dl, doc.len() as f64, "short passages: exact norms");
                    assert!((t.avgdl - avgdl).abs() < 1e-4);
                    assert!((t.idf - idf).abs() < 1e-5);
                    assert!((t.norm - norm).abs() < 1e-5);
                    assert!((t.tf_part - tf / (tf + K1 * norm)).abs() < 1e-5);
                    assert!((t.score - score).abs() < 1e-4, "{}: {score}", t.term);
                }
                let held: Vec<&String> = terms.iter().filter(|t| doc.contains(t)).collect();
                let named: Vec<&String> = e.matched.iter().map(|t| &t.term).collect();
                assert_eq!(named, held, "{query}: the matched terms in query order");
            }
        }
    }

    #[test]
    fn rank_of_reaches_past_the_top_k_and_says_when_no_term_matches() {
        let analyzer = Analyzer::Bigram;
        let index = Bm25Index::build(&PASSAGES, analyzer.clone(), &mut |_| {}).unwrap();
        let terms = analyzer.query_terms("서울 장마 기차");
        let all = index.search_terms(&terms, 6).unwrap();
        assert!(all.len() >= 3);
        let last = all.last().unwrap();
        assert!(index.search_terms(&terms, 1).unwrap()[0].passage != last.passage);
        assert_eq!(
            index.rank_of(&terms, last.passage).unwrap(),
            Some((all.len(), last.score))
        );
        // Passage 1 (부산 태풍) holds none of the terms.
        assert_eq!(index.rank_of(&terms, 1).unwrap(), None);
        let e = index.explain(&terms, 1).unwrap();
        assert!(e.matched.is_empty());
        assert_eq!(e.score, 0.0);
        assert!(index.explain(&terms, 99).is_err());
    }
}
