//! Where is the gold? For the query on screen: its gold passage (when it is a dataset
//! question) and every passage the judgments grade relevant (grade >= 1), each with its
//! place in every pane: a dense pane's rank over the whole corpus and a BM25 pane's over
//! every passage holding a query term (both from the worker's [`Explained`]), a fusion's in
//! its fused list, a rerank's among what it reranked. Pure: the view draws [`rows`].
use crate::panes::{Kind, PaneId, Retriever};
use crate::pipeline::{Missing, Place, SearchResults};
use crate::tui::state::App;

/// One passage the query should find, and its place in every pane.
#[derive(Debug, Clone, PartialEq)]
pub struct GoldRow {
    pub passage: usize,
    /// `None` for the dataset's gold passage, else its grade in the judgments.
    pub grade: Option<u8>,
    pub places: Vec<(PaneId, Place)>,
}

/// The passages the query on screen should find: the dataset's gold first, then the judged
/// relevant ones by grade (highest first), then by passage.
pub fn targets(app: &App) -> Vec<(usize, Option<u8>)> {
    let Some(results) = &app.results else {
        return Vec::new();
    };
    let gold = app.gold();
    let mut judged: Vec<(usize, Option<u8>)> = app
        .judged
        .get(&crate::judgments::normalize_query(&results.query))
        .into_iter()
        .flatten()
        .filter(|&(&p, &g)| g >= 1 && Some(p) != gold)
        .map(|(&p, &g)| (p, Some(g)))
        .collect();
    judged.sort_by_key(|&(p, g)| (std::cmp::Reverse(g), p));
    gold.map(|g| (g, None)).into_iter().chain(judged).collect()
}

/// Every target's places in the shown panes.
pub fn rows(app: &App) -> Vec<GoldRow> {
    let Some(results) = &app.results else {
        return Vec::new();
    };
    targets(app)
        .into_iter()
        .map(|(passage, grade)| GoldRow {
            passage,
            grade,
            places: app
                .pane_ids()
                .map(|pane| (pane, place(app, results, pane, passage)))
                .collect(),
        })
        .collect()
}

/// `passage`'s place in `pane` for the query on screen.
pub fn place(app: &App, results: &SearchResults, pane: PaneId, passage: usize) -> Place {
    let method = app.method(pane);
    let Some(r) = results.pane(pane) else {
        return match method {
            Kind::Rerank if app.rerank_progress.is_some() => Place::Waiting,
            _ => Place::Unavailable(Missing::Unused),
        };
    };
    if let Some(e) = &r.error {
        return Place::Unavailable(e.clone());
    }
    let retriever = &app.spec.get(pane).retriever;
    match (method, retriever) {
        (Kind::Dense | Kind::Bm25, _) => app
            .explained
            .as_ref()
            .filter(|e| e.query == results.query)
            .and_then(|e| e.deep(pane, passage).cloned())
            .unwrap_or(Place::Waiting),
        (_, Retriever::Fusion { opts, .. }) => match r.rank_of(passage) {
            Some(rank) => Place::Ranked(rank, r.ranking[rank - 1].1),
            None => Place::BeyondFusion(opts.depth.unwrap_or(app.params.rrf.depth)),
        },
        (_, Retriever::Rerank { depth, .. }) => match r.rank_of(passage) {
            Some(rank) => Place::Ranked(rank, r.ranking[rank - 1].1),
            // Fewer candidates than the depth when the list it reranks is shorter.
            None => Place::NotReranked(
                depth
                    .unwrap_or(app.params.rerank_depth)
                    .min(r.ranking.len()),
            ),
        },
        _ => match r.rank_of(passage) {
            Some(rank) => Place::Ranked(rank, r.ranking[rank - 1].1),
            None => Place::Waiting,
        },
    }
}

/// `passage`'s 1-based rank in `pane`'s whole list for the query on screen (the judge
/// view's rank columns); `None` when the pane has no list or the passage is not in it.
pub fn list_rank(app: &App, pane: PaneId, passage: usize) -> Option<usize> {
    app.results.as_ref()?.pane(pane)?.rank_of(passage)
}
