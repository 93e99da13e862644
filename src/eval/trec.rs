//! TREC run files: one per pane, with the qrels and topics of the labels, scores made
//! strictly decreasing so that trec_eval reads bigyo's order.
use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;

use super::{EvalQuery, Labels};
use crate::judgments::{companion_topics, passage_id, write_topics};
use crate::panes::{PaneId, Panes};
use crate::pipeline::SearchResults;

/// One TREC run line per hit: `qid Q0 docid rank score run`.
///
/// trec_eval and pytrec_eval ignore the rank column: they sort each query's lines by score,
/// highest first, and break equal scores by docid in *descending* `strcmp` order (trec_eval's
/// `comp_sim_docno` in `form_res_rels.c`); and they hold the score as a C `float`, so scores
/// that differ only beyond f32 precision are ties too (checked with pytrec_eval: 0.5 and the
/// next f64 below it tie, the next f32 below it does not). bigyo breaks ties its own way (RRF:
/// best rank in any list, then passage index; BM25: tantivy's order), so ties would be read in
/// another order. Scores are therefore written as f32 values strictly decreasing along bigyo's
/// ranking ([`strictly_decreasing`]): a score not below the one written before it becomes the
/// next f32 below that one, and each is written as the shortest text that reads back to the
/// same f32, so neither rounding nor a reader's precision creates a tie.
pub struct TrecRuns {
    pub(super) files: BTreeMap<PaneId, std::io::BufWriter<std::fs::File>>,
}

impl TrecRuns {
    /// Creates `dir` and one `<pane name>.trec` file per pane, plus `qrels.txt` (the labels the
    /// evaluation uses) and `qrels.topics.tsv` (query id, tab, query text).
    pub fn create(
        dir: &Path,
        panes: &Panes,
        ids: &[PaneId],
        queries: &[EvalQuery],
    ) -> std::io::Result<Self> {
        std::fs::create_dir_all(dir)?;
        let qrels_path = dir.join("qrels.txt");
        let mut qrels = std::io::BufWriter::new(std::fs::File::create(&qrels_path)?);
        let mut topics =
            std::io::BufWriter::new(std::fs::File::create(companion_topics(&qrels_path))?);
        for q in queries {
            let qid = trec_id(&q.id);
            match &q.labels {
                Labels::Gold(p) => writeln!(qrels, "{qid} 0 {} 1", passage_id(*p))?,
                Labels::Graded(g) => {
                    let mut rows: Vec<_> = g.iter().collect();
                    rows.sort();
                    for (p, grade) in rows {
                        writeln!(qrels, "{qid} 0 {} {grade}", passage_id(*p))?;
                    }
                }
            }
            write_topics(&mut topics, [(qid.as_str(), q.text.as_str())])?;
        }
        qrels.flush()?;
        topics.flush()?;
        let mut files = BTreeMap::new();
        for &id in ids {
            let name = file_name(&panes.get(id).name);
            let f = std::fs::File::create(dir.join(format!("{name}.trec")))?;
            files.insert(id, std::io::BufWriter::new(f));
        }
        Ok(Self { files })
    }

    pub(super) fn write(&mut self, qid: &str, results: &SearchResults) -> std::io::Result<()> {
        for r in &results.results {
            if let Some(f) = self.files.get_mut(&r.pane) {
                let scores: Vec<f64> = r.hits.iter().map(|h| h.score).collect();
                for (i, (h, score)) in r.hits.iter().zip(strictly_decreasing(&scores)).enumerate() {
                    writeln!(
                        f,
                        "{} Q0 {} {} {score} bigyo-{}",
                        trec_id(qid),
                        passage_id(h.passage),
                        i + 1,
                        file_name(results.name(r.pane))
                    )?;
                }
            }
        }
        Ok(())
    }

    pub fn finish(mut self) -> std::io::Result<()> {
        for f in self.files.values_mut() {
            f.flush()?;
        }
        Ok(())
    }
}

/// `scores` rounded to f32 and made strictly decreasing with the smallest changes: each one
/// that is not below the previous output (a tie, an out-of-order value, NaN) becomes the next
/// f32 below it.
pub fn strictly_decreasing(scores: &[f64]) -> Vec<f32> {
    let mut prev = f32::INFINITY;
    scores
        .iter()
        .map(|&s| {
            let s = s as f32;
            let s = if s < prev { s } else { prev.next_down() };
            prev = s;
            s
        })
        .collect()
}

/// A pane name as a file name and TREC run tag: `bm25:whitespace` -> `bm25-whitespace`.
pub fn file_name(pane: &str) -> String {
    pane.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' {
                c
            } else {
                '-'
            }
        })
        .collect()
}

/// TREC ids cannot hold spaces.
fn trec_id(id: &str) -> String {
    id.split_whitespace().collect::<Vec<_>>().join("_")
}
