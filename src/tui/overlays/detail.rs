//! The detail overlay (Enter on a hit): the passage with the query's terms and the answers
//! marked, its rank in every pane's whole list, and the dataset questions about it; j/k,
//! PageUp/PageDown and g scroll, Esc or Enter close. Drawn by `view/detail.rs`.
use crossterm::event::{KeyCode, KeyEvent};

use super::component::Reaction;
use crate::panes::Kind;
use crate::tui::state::{App, Overlay, PaneRank, Standing};

/// The overlay on the selected hit of the focused pane, with its ranks as they are now (so
/// they do not change under the reader while a newer search runs); `None` without a hit.
pub fn open(app: &App) -> Option<Overlay> {
    let passage = app.selected_passage()?;
    Some(Overlay::Detail {
        passage,
        scroll: 0,
        ranks: pane_ranks(app, passage),
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
