//! The detail overlay (Enter on a hit): the passage with the query's terms and the answers
//! marked, its rank in every pane's whole list, how the focused BM25 pane's analyzer sees the
//! query (morphemes with POS, stop tags dropped, bigrams) and which of its terms the passage
//! holds with its BM25 score taken apart (tantivy's explain, from the worker's
//! `Reply::Explained`), why the focused pane ranks it there (cosine, fusion arithmetic,
//! rerank logit and move), and the dataset questions about it; j/k, PageUp/PageDown and g scroll, Esc or Enter
//! close. Drawn by `view/detail.rs`.
use crossterm::event::{KeyCode, KeyEvent};

use super::component::Reaction;
use crate::bm25::{Analyzer, AnalyzerKind};
use crate::panes::{Kind, PaneId, Retriever};
use crate::pipeline::explain_fusion;
use crate::teach::how_it_sees;
use crate::tui::state::{Analysis, App, Overlay, PaneRank, Standing, Why};

/// The overlay on the selected hit of the focused pane, with its ranks as they are now (so
/// they do not change under the reader while a newer search runs); `None` without a hit.
pub fn open(app: &App) -> Option<Overlay> {
    Some(on(app, app.selected_passage()?))
}

/// The overlay on `passage` (the judge view's Enter).
pub fn on(app: &App, passage: usize) -> Overlay {
    Overlay::Detail {
        passage,
        scroll: 0,
        ranks: pane_ranks(app, passage),
        analysis: analysis(app, passage),
        why: why(app, app.pane, passage).map(Box::new),
    }
}

/// Why `pane` ranks `passage` where it does: a dense pane's cosine, a fusion's arithmetic,
/// a rerank's logit and move; `None` for a BM25 pane (its breakdown is the analysis's) or
/// a passage not in the pane's list.
pub fn why(app: &App, pane: PaneId, passage: usize) -> Option<Why> {
    let results = app.results.as_ref()?;
    let r = results.pane(pane).filter(|r| r.error.is_none())?;
    let rank = r.rank_of(passage)?;
    let score = r.ranking[rank - 1].1;
    match &app.spec.get(pane).retriever {
        Retriever::Dense(_) => Some(Why::Dense {
            pane,
            rank,
            cosine: score,
        }),
        Retriever::Fusion { .. } => Some(Why::Fusion {
            pane,
            rank,
            fusion: explain_fusion(results, &app.params, pane, passage)?,
        }),
        Retriever::Rerank { of, .. } => {
            // The candidates' first source is their rank in the list reranked.
            let from = r
                .hits
                .iter()
                .find(|h| h.passage == passage)
                .and_then(|h| h.sources.0.first())
                .filter(|s| s.pane == *of)
                .and_then(|s| Some((s.pane, s.rank?)))
                .or_else(|| Some((*of, results.pane(*of)?.rank_of(passage)?)));
            Some(Why::Rerank {
                pane,
                rank,
                logit: score,
                from,
            })
        }
        Retriever::Bm25(_) => None,
    }
}

/// The BM25 pane the detail view explains: the focused pane if it is one, else the first
/// BM25 pane it reads (a hybrid's, a reranker's input), else the first BM25 pane.
fn bm25_pane(app: &App) -> Option<PaneId> {
    let spec = &app.spec;
    spec.closure(app.pane)
        .into_iter()
        .rev()
        .find(|&p| spec.get(p).retriever.kind() == Kind::Bm25)
        .or_else(|| spec.first(Kind::Bm25))
}

/// The analyzer of a BM25 pane: the session's when the pane uses it (a loaded wordpiece
/// tokenizer included), else built here (the morph ones share the process's dictionary).
fn analyzer_of(app: &App, kind: AnalyzerKind) -> Result<Analyzer, String> {
    if let Some(a) = app.analyzer.as_ref().filter(|a| a.kind() == kind) {
        return Ok(a.clone());
    }
    match kind {
        AnalyzerKind::Bigram => Ok(Analyzer::Bigram),
        AnalyzerKind::Whitespace => Ok(Analyzer::Whitespace),
        AnalyzerKind::Morph(d) => Analyzer::morph(d, false).map_err(|e| e.to_string()),
        AnalyzerKind::MorphBigram(d) => Analyzer::morph(d, true).map_err(|e| e.to_string()),
        AnalyzerKind::Wordpiece => Err("the wordpiece tokenizer is not loaded yet".into()),
    }
}

/// How the explained BM25 pane's analyzer sees the query on screen and `passage`; `None`
/// without a query or a BM25 pane.
pub fn analysis(app: &App, passage: usize) -> Option<Analysis> {
    let query = &app.results.as_ref()?.query;
    let pane = bm25_pane(app)?;
    let Retriever::Bm25(key) = &app.spec.get(pane).retriever else {
        return None;
    };
    let kind = key.unwrap_or(app.analyzer_kind);
    let text = &app.corpus.as_deref()?.passages.get(passage)?.text;
    let (seen, matched) = match analyzer_of(app, kind) {
        Ok(a) => {
            let terms = a.terms(text);
            let matched = a
                .query_terms(query)
                .into_iter()
                .filter_map(|q| {
                    let n = terms.iter().filter(|t| t.text == q).count();
                    (n > 0).then_some((q, n))
                })
                .collect();
            (Ok(how_it_sees(&a, query)), matched)
        }
        Err(e) => (Err(e), Vec::new()),
    };
    let scores = app
        .explained
        .as_ref()
        .filter(|e| e.query == *query)
        .and_then(|e| e.bm25(pane, passage).cloned())
        .map(Box::new);
    Some(Analysis {
        pane,
        analyzer: kind.name().to_owned(),
        query: seen,
        matched,
        scores,
    })
}

/// Scrolling (`scroll` in wrapped lines), closing, quitting.
pub fn key(scroll: &mut u16, key: KeyEvent) -> Reaction {
    *scroll = match key.code {
        KeyCode::Esc | KeyCode::Enter => return Reaction::Close,
        KeyCode::Char('q') => return Reaction::Quit,
        KeyCode::Down | KeyCode::Char('j') => scroll.saturating_add(1),
        KeyCode::Up | KeyCode::Char('k') => scroll.saturating_sub(1),
        KeyCode::PageDown | KeyCode::Char(' ') => scroll.saturating_add(10),
        KeyCode::PageUp => scroll.saturating_sub(10),
        KeyCode::Home | KeyCode::Char('g') => 0,
        _ => *scroll,
    };
    Reaction::Handled(Vec::new())
}

/// The passage's rank in every pane's whole list, as the detail view shows them.
pub fn pane_ranks(app: &App, passage: usize) -> Vec<PaneRank> {
    let Some(results) = &app.results else {
        return Vec::new();
    };
    app.pane_ids()
        .map(|pane| {
            let method = app.method(pane);
            let rank = match results.pane(pane) {
                None if method == Kind::Rerank && app.rerank_progress.is_some() => {
                    Standing::Reranking
                }
                None => Standing::DidNotRun,
                Some(r) => match (&r.error, r.rank_of(passage)) {
                    (Some(e), _) => Standing::Unavailable(e.clone()),
                    (None, Some(rank)) => Standing::Ranked(rank, r.ranking[rank - 1].1),
                    (None, None) => Standing::Beyond(r.ranking.len()),
                },
            };
            PaneRank { pane, method, rank }
        })
        .collect()
}
