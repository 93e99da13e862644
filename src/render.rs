//! Text output of `bigyo search`: an aligned table (Korean measured by display width) or JSON.
use serde_json::{json, Value};
use unicode_width::{UnicodeWidthChar, UnicodeWidthStr};

use crate::data::Corpus;
use crate::panes::Kind;
use crate::pipeline::{ForwardPasses, Hit, MethodResult, Missing, SearchResults};
use crate::session::ms;

/// `s` cut to at most `width` display columns, with `…` when cut. Control characters become
/// spaces so a passage can never move the cursor.
pub fn fit(s: &str, width: usize) -> String {
    let clean: String = s
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    if clean.width() <= width {
        return clean;
    }
    let mut out = String::new();
    let mut used = 0;
    for c in clean.chars() {
        let w = c.width().unwrap_or(0);
        if used + w + 1 > width {
            break;
        }
        out.push(c);
        used += w;
    }
    if width > 0 {
        out.push('…');
    }
    out
}

/// `s` fitted and padded with spaces to exactly `width` columns.
pub fn pad(s: &str, width: usize) -> String {
    let f = fit(s, width);
    let w = f.width();
    format!("{f}{}", " ".repeat(width.saturating_sub(w)))
}

/// Where a fused or reranked hit came from: `d3 b1` for hybrid (a letter and rank per
/// input; two inputs of one kind are numbered in the fusion's order, as its title lists
/// them: `d1:5 d2:3 b1`), `h2 ↑1` for rerank (the rank in the list it reranked, and the
/// move).
pub fn provenance(kind: Kind, hit: &Hit, position: usize) -> String {
    let letter = |k: Kind| &k.name()[..1];
    let r = |x: Option<usize>| x.map_or("-".to_owned(), |v| v.to_string());
    match kind {
        Kind::Hybrid => {
            let sources = &hit.sources.0;
            let mut seen: Vec<Kind> = Vec::new();
            sources
                .iter()
                .map(|s| {
                    seen.push(s.kind);
                    if sources.iter().filter(|o| o.kind == s.kind).count() > 1 {
                        let n = seen.iter().filter(|&&k| k == s.kind).count();
                        format!("{}{n}:{}", letter(s.kind), r(s.rank))
                    } else {
                        format!("{}{}", letter(s.kind), r(s.rank))
                    }
                })
                .collect::<Vec<_>>()
                .join(" ")
        }
        Kind::Rerank => {
            let first = hit.sources.0.first();
            let from = first.and_then(|s| s.rank).unwrap_or(position);
            let l = first.map_or("h", |s| letter(s.kind));
            format!("{l}{from} {}", movement(from, position))
        }
        _ => String::new(),
    }
}

/// `↑2`, `↓1` or `=`: how far a hit moved from rank `from` to rank `to`.
pub fn movement(from: usize, to: usize) -> String {
    match from.cmp(&to) {
        std::cmp::Ordering::Greater => format!("↑{}", from - to),
        std::cmp::Ordering::Less => format!("↓{}", to - from),
        std::cmp::Ordering::Equal => "=".to_owned(),
    }
}

/// The aligned table.
pub fn table(corpus: &Corpus, results: &SearchResults, gold: Option<usize>) -> String {
    let mut out = String::new();
    out.push_str(&format!("query: {}\n", fit(&results.query, 200)));
    out.push_str(&format!("terms: {}\n", results.terms.join(" ")));
    if let Some(g) = gold {
        out.push_str(&format!(
            "gold:  p{g} {}\n",
            fit(&corpus.passages[g].title, 60)
        ));
    }
    for r in &results.results {
        out.push('\n');
        out.push_str(&header(results, r));
        if let Some(e) = &r.error {
            out.push_str(&format!("  (not available: {e})\n"));
            continue;
        }
        if let Some(n) = &r.note {
            out.push_str(&format!("  note: {n}\n"));
        }
        if r.hits.is_empty() {
            out.push_str("  (no hits)\n");
        }
        for (i, h) in r.hits.iter().enumerate() {
            let p = &corpus.passages[h.passage];
            let score = match h.probability {
                Some(prob) => format!("{:>8.4} ({prob:.4})", h.score),
                None => format!("{:>8.4}", h.score),
            };
            let mark = if gold == Some(h.passage) { "✓" } else { " " };
            out.push_str(&format!(
                "{:>3} {score} {mark} {:<6} {} {}  {}\n",
                i + 1,
                format!("p{}", h.passage),
                pad(&p.title, 30),
                pad(&provenance(r.method, h, i + 1), 8),
                fit(&p.text, 50),
            ));
        }
    }
    out.push('\n');
    out.push_str(&cost_line(results, corpus.passages.len()));
    out.push('\n');
    out
}

fn header(results: &SearchResults, r: &MethodResult) -> String {
    format!(
        "{} ({}, {:.2} ms)\n",
        results.title(r.pane),
        results.name(r.pane),
        ms(r.elapsed)
    )
}

/// The per-query cost of the two encoder designs: the bi-encoder's one forward pass against
/// the cross-encoder's one pass per reranked pair, and what reranking all `passages` would
/// cost at the measured rate. Pairs the explorer's session cache answered cost no pass and
/// are said to come from memory (their time says nothing of the cross-encoder's).
pub fn cost_line(results: &SearchResults, passages: usize) -> String {
    let passes = results.forward_passes;
    let bi = match results.get(Kind::Dense).map(|r| r.error.as_ref()) {
        Some(Some(Missing::Pending(_))) => "bi-encoder: embedding…".to_owned(),
        Some(Some(_)) if passes.bi_encoder == 0 => "bi-encoder: not available".to_owned(),
        None if passes.bi_encoder == 0 => "no dense pane".to_owned(),
        _ => format!(
            "bi-encoder {} ({:.1} ms)",
            plural(passes.bi_encoder, "forward pass", "forward passes"),
            ms(results.encode)
        ),
    };
    let cross = match results.get(Kind::Rerank) {
        None if results.panes.first(Kind::Rerank).is_some() => {
            "cross-encoder: reranking…".to_owned()
        }
        None => "no rerank pane".to_owned(),
        Some(r) => match &r.error {
            Some(Missing::Off(_)) => "no reranker".to_owned(),
            Some(_) => "cross-encoder: not available".to_owned(),
            None => cross_cost(r.elapsed, passes, passages),
        },
    };
    format!("cost: {bi}; {cross}")
}

/// The cross-encoder's part of the cost line: the passes run now and their time, the pairs
/// served from memory, and the whole corpus at the rate of the passes run now.
fn cross_cost(elapsed: std::time::Duration, passes: ForwardPasses, passages: usize) -> String {
    let cached = passes.cross_cached.min(passes.cross_encoder);
    let fresh = passes.cross_encoder - cached;
    let memory = plural(cached, "pair", "pairs");
    if fresh == 0 && cached > 0 {
        return format!("cross-encoder: {memory} from memory (scored earlier, no pass now)");
    }
    let rerank_ms = ms(elapsed);
    let whole = if fresh > 0 {
        let per_pair = rerank_ms / fresh as f64;
        format!(
            "; reranking all {passages} passages would take ~{}",
            human_ms(per_pair * passages as f64)
        )
    } else {
        String::new()
    };
    let memory = if cached > 0 {
        format!(", {memory} from memory")
    } else {
        String::new()
    };
    format!(
        "cross-encoder {} ({rerank_ms:.1} ms){memory}{whole}",
        plural(fresh, "pass", "passes")
    )
}

/// `1 pass`, `2 passes`.
pub fn plural(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// Milliseconds as `850 ms`, `12.3 s` or `4.1 min`.
pub fn human_ms(ms: f64) -> String {
    if ms < 1000.0 {
        format!("{ms:.0} ms")
    } else if ms < 120_000.0 {
        format!("{:.1} s", ms / 1000.0)
    } else {
        format!("{:.1} min", ms / 60_000.0)
    }
}

/// The JSON object of one search.
pub fn json(corpus: &Corpus, results: &SearchResults, gold: Option<usize>) -> Value {
    let methods: serde_json::Map<String, Value> = results
        .results
        .iter()
        .map(|r| {
            let hits: Vec<Value> = r
                .hits
                .iter()
                .enumerate()
                .map(|(i, h)| {
                    let p = &corpus.passages[h.passage];
                    let mut v = json!({
                        "rank": i + 1,
                        "passage": crate::judgments::passage_id(h.passage),
                        "title": p.title,
                        "score": h.score,
                        "gold": gold == Some(h.passage),
                        "matched": h.matched,
                    });
                    if let Some(prob) = h.probability {
                        v["sigmoid"] = json!(prob);
                    }
                    if matches!(r.method, Kind::Hybrid | Kind::Rerank) {
                        let sources: serde_json::Map<String, Value> = h
                            .sources
                            .0
                            .iter()
                            .map(|s| (results.name(s.pane).to_owned(), json!(s.rank)))
                            .collect();
                        v["sources"] = Value::Object(sources);
                    }
                    v
                })
                .collect();
            let mut m = json!({
                "title": results.title(r.pane),
                "elapsed_ms": ms(r.elapsed),
                "hits": hits,
            });
            if let Some(e) = &r.error {
                m["error"] = json!(e.to_string());
            }
            if let Some(n) = &r.note {
                m["note"] = json!(n);
            }
            (results.name(r.pane).to_owned(), m)
        })
        .collect();
    json!({
        "query": results.query,
        "terms": results.terms,
        "gold": gold.map(crate::judgments::passage_id),
        "encode_ms": ms(results.encode),
        "forward_passes": {
            "bi_encoder": results.forward_passes.bi_encoder,
            "cross_encoder": results.forward_passes.cross_encoder,
        },
        "panes": results.results.iter().map(|r| results.name(r.pane)).collect::<Vec<_>>(),
        "methods": methods,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fit_counts_display_columns() {
        assert_eq!(fit("장마철 비", 20), "장마철 비");
        assert_eq!(fit("장마철 비", 5), "장마…");
        assert_eq!(fit("장마철 비", 5).width(), 5);
        assert_eq!(fit("abc\ndef", 10), "abc def");
        assert_eq!(pad("가", 4), "가  ");
        assert_eq!(fit("가나다", 0), "");
    }

    #[test]
    fn cost_line_extrapolates_to_the_corpus() {
        use crate::pipeline::{ForwardPasses, MethodResult};
        use std::time::Duration;
        let panes = std::sync::Arc::new(crate::panes::Panes::standard());
        let rerank = panes.first(Kind::Rerank).unwrap();
        let dense = panes.first(Kind::Dense).unwrap();
        let results = SearchResults {
            query: "q".into(),
            panes,
            inputs: vec![],
            terms: vec![],
            encode: Duration::from_millis(8),
            forward_passes: ForwardPasses {
                bi_encoder: 1,
                cross_encoder: 30,
                cross_cached: 0,
            },
            results: vec![MethodResult {
                pane: rerank,
                method: Kind::Rerank,
                hits: vec![],
                elapsed: Duration::from_millis(300),
                error: None,
                note: None,
                ranking: vec![],
            }],
        };
        assert_eq!(
            cost_line(&results, 10_000),
            "cost: bi-encoder 1 forward pass (8.0 ms); cross-encoder 30 passes (300.0 ms); \
             reranking all 10000 passages would take ~100.0 s"
        );
        assert_eq!(human_ms(200_000.0), "3.3 min");

        let mut none = results.clone();
        none.results = vec![
            MethodResult::failed(
                dense,
                Kind::Dense,
                Missing::pending("embedding the passages again with cls pooling"),
            ),
            MethodResult::failed(
                rerank,
                Kind::Rerank,
                Missing::Off("no reranker (--reranker none)".into()),
            ),
        ];
        none.forward_passes = ForwardPasses::default();
        assert_eq!(
            cost_line(&none, 10),
            "cost: bi-encoder: embedding…; no reranker"
        );
        none.results.pop();
        assert_eq!(
            cost_line(&none, 10),
            "cost: bi-encoder: embedding…; cross-encoder: reranking…"
        );
    }

    #[test]
    fn cost_line_never_times_the_session_cache_as_the_cross_encoder() {
        use std::time::Duration;
        let panes = std::sync::Arc::new(crate::panes::Panes::standard());
        let rerank = panes.first(Kind::Rerank).unwrap();
        let mut results = SearchResults {
            query: "q".into(),
            panes,
            inputs: vec![],
            terms: vec![],
            encode: Duration::from_millis(8),
            forward_passes: ForwardPasses {
                bi_encoder: 2,
                cross_encoder: 30,
                cross_cached: 30,
            },
            results: vec![MethodResult {
                pane: rerank,
                method: Kind::Rerank,
                hits: vec![],
                elapsed: Duration::from_micros(100),
                error: None,
                note: None,
                ranking: vec![],
            }],
        };
        assert_eq!(
            cost_line(&results, 67),
            "cost: bi-encoder 2 forward passes (8.0 ms); \
             cross-encoder: 30 pairs from memory (scored earlier, no pass now)"
        );
        // Some scored now: the corpus estimate is at the rate of those alone.
        results.forward_passes.cross_cached = 20;
        results.results[0].elapsed = Duration::from_millis(100);
        assert_eq!(
            cost_line(&results, 100),
            "cost: bi-encoder 2 forward passes (8.0 ms); cross-encoder 10 passes (100.0 ms), \
             20 pairs from memory; reranking all 100 passages would take ~1.0 s"
        );
    }

    #[test]
    fn cost_line_without_a_rerank_or_dense_pane_says_so() {
        let results = SearchResults {
            query: "q".into(),
            panes: std::sync::Arc::new(crate::panes::Panes::from_methods("bm25").unwrap()),
            inputs: vec![],
            terms: vec![],
            encode: std::time::Duration::ZERO,
            forward_passes: ForwardPasses::default(),
            results: vec![],
        };
        assert_eq!(
            cost_line(&results, 10),
            "cost: no dense pane; no rerank pane"
        );
    }

    #[test]
    fn two_inputs_of_one_kind_are_numbered_in_the_fusions_order() {
        use crate::panes::PaneId;
        use crate::pipeline::{Source, Sources};
        let src = |pane: u8, kind: Kind, rank: Option<usize>| Source {
            pane: PaneId(pane),
            kind,
            rank,
        };
        let mut hit = Hit {
            passage: 3,
            score: 0.5,
            probability: None,
            sources: Sources(vec![
                src(0, Kind::Dense, Some(5)),
                src(1, Kind::Dense, Some(3)),
                src(2, Kind::Bm25, None),
            ]),
            matched: Vec::new(),
            spans: Vec::new(),
        };
        assert_eq!(provenance(Kind::Hybrid, &hit, 1), "d1:5 d2:3 b-");
        hit.sources.0.remove(1);
        assert_eq!(provenance(Kind::Hybrid, &hit, 1), "d5 b-");
    }

    #[test]
    fn movements() {
        assert_eq!(movement(5, 2), "↑3");
        assert_eq!(movement(1, 4), "↓3");
        assert_eq!(movement(2, 2), "=");
    }
}
