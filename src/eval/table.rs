//! The metrics table `bigyo eval` prints.
use super::*;

/// The metrics table as `bigyo eval` prints it.
pub fn table(report: &EvalReport) -> String {
    let mut out = String::new();
    out.push_str(&format!(
        "corpus: {} rows, {} passages, {} questions\n",
        report.corpus.rows, report.corpus.passages, report.corpus.questions
    ));
    if let Some(e) = &report.embedding {
        embedding(&mut out, e);
    }
    out.push_str(&report.labels.describe());
    out.push('\n');
    method_rows(&mut out, report);
    for (m, why) in &report.skipped {
        out.push_str(&format!("{m}: not run ({why})\n"));
    }
    if let Some(c) = &report.comparison {
        comparison(&mut out, c);
    }
    out
}

/// The embedding run: model, device, speed, and an endpoint's billing.
fn embedding(out: &mut String, e: &EmbeddingReport) {
    // A cache read is no embedding speed: a rate would only time the disk.
    match e.passages_per_s {
        Some(rate) => out.push_str(&format!(
            "embedding: {} on {}, {:.2}s, {rate:.1} passages/s\n",
            e.model, e.device, e.seconds
        )),
        None => out.push_str(&format!(
            "embedding: {} on {}: the passages' vectors came from the cache ({:.2}s to read), \
             none embedded in this run\n",
            e.model, e.device, e.seconds
        )),
    }
    if let Some(b) = &e.billing {
        out.push_str(&format!(
            "endpoint: passages {} tokens in {} requests, questions {} tokens in {} requests{}\n",
            b.passage_tokens,
            b.passage_requests,
            b.query_tokens,
            b.query_requests,
            b.cost_usd
                .map(|c| format!(", cost ${c:.4}"))
                .unwrap_or_default()
        ));
    }
}

/// One row of metrics per pane: the dataset-gold columns, or the graded ones with judged@10.
fn method_rows(out: &mut String, report: &EvalReport) {
    match &report.methods {
        Methods::Gold(methods) => {
            out.push_str(&format!(
                "{:<8} {:>8} {:>8} {:>9} {:>7} {:>8} {:>9}\n",
                "method", "recall@1", "recall@5", "recall@10", "mrr@10", "ndcg@10", "queries/s"
            ));
            for m in &report.panes {
                if let Some(r) = methods.get(m) {
                    let x = &r.metrics;
                    out.push_str(&format!(
                        "{:<8} {:>8.4} {:>8.4} {:>9.4} {:>7.4} {:>8.4} {:>9.1}\n",
                        m, x.recall_1, x.recall_5, x.recall_10, x.mrr_10, x.ndcg_10, r.qps
                    ));
                }
            }
        }
        Methods::Graded(methods) => {
            out.push_str(&format!(
                "{:<8} {:>8} {:>8} {:>9} {:>7} {:>8} {:>9} {:>11} {:>9}\n",
                "method",
                "recall@1",
                "recall@5",
                "recall@10",
                "mrr@10",
                "ndcg@10",
                "judged@10",
                "unjudged@10",
                "queries/s"
            ));
            for m in &report.panes {
                if let Some(r) = methods.get(m) {
                    let x = &r.metrics;
                    out.push_str(&format!(
                        "{:<8} {:>8.4} {:>8.4} {:>9.4} {:>7.4} {:>8.4} {:>9.4} {:>11.2} {:>9.1}\n",
                        m,
                        x.recall_1,
                        x.recall_5,
                        x.recall_10,
                        x.mrr_10,
                        x.ndcg_10,
                        x.judged_10,
                        x.unjudged_10,
                        r.qps
                    ));
                }
            }
            out.push_str(
                "judged@10: share of each top 10 that is judged; unjudged@10: unjudged hits per query\n",
            );
        }
    }
}

/// The per-question comparison: wins, ties, losses and the p-value of each pair.
fn comparison(out: &mut String, c: &Comparison) {
    out.push_str(&format!(
        "\nper question, by RR@10: {} with {} seeded permutations (exact when 2^n is fewer)\n",
        c.test, c.permutations
    ));
    out.push_str(&format!(
        "{:<8} {:<8} {:>5} {:>5} {:>6} {:>10} {:>8}\n",
        "a", "b", "wins", "ties", "losses", "mrr@10 a-b", "p-value"
    ));
    for p in &c.pairs {
        out.push_str(&format!(
            "{:<8} {:<8} {:>5} {:>5} {:>6} {:>+10.4} {:>8.4}\n",
            p.a, p.b, p.outcome.wins, p.outcome.ties, p.outcome.losses, p.mrr_diff, p.p_value
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embeddings_read_from_the_cache_report_no_rate() {
        let mut e = EmbeddingReport {
            model: "openai:multilingual-e5-small-q4".into(),
            device: "cpu".into(),
            dtype: "f32".into(),
            seconds: 0.0017,
            passages_per_s: None,
            cached: true,
            billing: None,
        };
        let mut out = String::new();
        embedding(&mut out, &e);
        assert!(out.contains("came from the cache (0.00s to read)"), "{out}");
        assert!(!out.contains("passages/s"), "{out}");
        e.passages_per_s = Some(12.5);
        e.cached = false;
        let mut out = String::new();
        embedding(&mut out, &e);
        assert!(out.contains("12.5 passages/s"), "{out}");
    }
}
