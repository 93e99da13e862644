//! The explorer's state: everything the screen shows, and the small queries on it the view
//! and the key handlers share. It changes only in the reducer and the key handlers (keys,
//! overlays, settings); each overlay's own state is defined in its file under `overlays/`.
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::editor::Input;
use super::overlays::eval::Evaluation;
use super::overlays::fusion_lab::Lab;
use super::overlays::playground::Playground;
use super::protocol::{Cmd, Part, PoolingState};
use crate::bm25::{Analyzer, AnalyzerKind};
use crate::data::Corpus;
use crate::panes::{Kind, Panes};
use crate::pipeline::{Missing, SearchParams, SearchResults};

/// How long typing must pause before a live search runs.
pub const DEBOUNCE: Duration = Duration::from_millis(250);

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PartState {
    Loading,
    Ready,
    Disabled,
    Failed(Missing),
}

impl PartState {
    fn settled(&self) -> bool {
        !matches!(self, PartState::Loading)
    }
}

/// The step in progress, for the status bar.
#[derive(Debug, Clone, PartialEq)]
pub struct Stage {
    pub step: String,
    pub total: Option<u64>,
    pub done: u64,
    pub started: Option<Instant>,
    pub eta: Option<Duration>,
    /// Time spent so far (kept by the ticks): before the first progress there is no ETA, and
    /// a remote encoder's first answer can take a while.
    pub elapsed: Duration,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Focus {
    Query,
    Pane(PaneId),
}

pub use crate::panes::PaneId;

/// One value per pane, indexed by [`PaneId`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PerPane<T>(Vec<T>);

impl<T: Clone> PerPane<T> {
    pub fn new(count: usize, value: T) -> Self {
        Self(vec![value; count])
    }
}

impl<T> std::ops::Index<PaneId> for PerPane<T> {
    type Output = T;
    fn index(&self, pane: PaneId) -> &T {
        &self.0[pane.index()]
    }
}

impl<T> std::ops::IndexMut<PaneId> for PerPane<T> {
    fn index_mut(&mut self, pane: PaneId) -> &mut T {
        &mut self.0[pane.index()]
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum Overlay {
    None,
    Help,
    /// The selected hit's passage; `scroll` in wrapped lines. `ranks` and `analysis` are
    /// taken when it opens, so they do not change under the reader while a newer search runs.
    Detail {
        passage: usize,
        scroll: u16,
        ranks: Vec<PaneRank>,
        analysis: Option<Analysis>,
        /// Why the focused pane ranks the passage where it does (dense, fusion, rerank; a
        /// BM25 pane's breakdown is in `analysis`).
        why: Option<Box<Why>>,
    },
    Settings {
        row: usize,
    },
    Eval,
    /// The chapter's steps and the key for each (the help's second page).
    Walkthrough,
    /// Cosine matrices of a few sentences under four representations.
    Playground,
    /// The fusion lab: MRR@10 against alpha / dense weight on the tuning half.
    Fusion,
    /// Relevance judging: the pool of every pane's hits for the query on screen (`queries`
    /// false), or the list of judged queries (`queries` true); `row` is the cursor.
    Judge {
        row: usize,
        queries: bool,
    },
}

/// How one BM25 pane's analyzer sees the query on screen and the detail view's passage.
#[derive(Debug, Clone, PartialEq)]
pub struct Analysis {
    /// The pane whose analyzer this is.
    pub pane: PaneId,
    /// The analyzer's name (`morph+bigram`).
    pub analyzer: String,
    /// The query's morphemes, bigrams and terms, or why they could not be had.
    pub query: Result<crate::teach::Seen, String>,
    /// The query's distinct terms the passage holds, with how often it holds each.
    pub matched: Vec<(String, usize)>,
    /// The passage's BM25 score in this pane taken apart (tantivy's explain), once the
    /// worker has sent it; or why there is none.
    pub scores: Option<Box<Result<crate::bm25::Bm25Explain, String>>>,
}

/// Why the focused pane ranks the detail view's passage where it does.
#[derive(Debug, Clone, PartialEq)]
pub enum Why {
    /// A dense pane: the cosine of the query's and the passage's embeddings.
    Dense {
        pane: PaneId,
        rank: usize,
        cosine: f64,
    },
    /// A fusion pane: its score's arithmetic.
    Fusion {
        pane: PaneId,
        rank: usize,
        fusion: crate::pipeline::FusionWhy,
    },
    /// A rerank pane: the cross-encoder's logit, and the passage's rank in the list it
    /// reranked (`from`: that list and the rank).
    Rerank {
        pane: PaneId,
        rank: usize,
        logit: f64,
        from: Option<(PaneId, usize)>,
    },
}

/// Where the detail view's passage stood in one pane's whole list when it opened.
#[derive(Debug, Clone, PartialEq)]
pub struct PaneRank {
    pub pane: PaneId,
    pub method: Kind,
    pub rank: Standing,
}

/// A passage's place in one pane's whole list (as deep as hybrid fuses).
#[derive(Debug, Clone, PartialEq)]
pub enum Standing {
    /// 1-based rank and score.
    Ranked(usize, f64),
    /// The rerank pane's answer is on its way.
    Reranking,
    DidNotRun,
    /// The pane has no list, and why.
    Unavailable(Missing),
    /// Not among the list's `n` passages.
    Beyond(usize),
}

impl std::fmt::Display for Standing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Ranked(rank, score) => write!(f, "#{rank} ({score:.3})"),
            Self::Reranking => f.write_str("reranking…"),
            Self::DidNotRun => f.write_str("did not run"),
            Self::Unavailable(why) => write!(f, "not available: {why}"),
            Self::Beyond(n) => write!(f, "not in its top {n}"),
        }
    }
}

/// Fixed facts for the status bar.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Labels {
    pub model: String,
    pub reranker: String,
    pub device: String,
}

/// Everything the screen shows.
#[derive(Debug, Clone)]
pub struct App {
    pub input: Input,
    pub history: Vec<String>,
    /// Position while walking the history with Up/Down, and the text typed before it.
    pub history_pos: Option<usize>,
    pub draft: String,
    pub focus: Focus,
    /// The pane shown in the one-pane (tabs) layout and the last pane focused.
    pub pane: PaneId,
    /// The panes shown, in order (the first `spec.shown_count()` retrievers of the spec).
    pub spec: Arc<Panes>,
    /// Each pane's selected hit.
    pub selected: PerPane<usize>,
    pub overlay: Overlay,
    /// The newest query sent; answers with another generation are stale.
    pub generation: u64,
    /// Whether the newest query is still running.
    pub searching: bool,
    /// The results on screen are for the query line's text but older settings (a rerun is
    /// on its way): shown dimmed.
    pub stale: bool,
    /// The Rerank pane's progress for the results on screen: `(done, total)` candidates.
    pub rerank_progress: Option<(usize, usize)>,
    /// A one-line message about the last key (a refused setting).
    pub notice: Option<String>,
    /// Grades on disk: normalised query -> passage -> grade (0-3).
    pub judged: BTreeMap<String, BTreeMap<usize, u8>>,
    /// The judgments file, once opened.
    pub judgments_file: Option<String>,
    /// `m` was pressed in a pane: the next digit 0-3 is a grade.
    pub grading: bool,
    /// The evaluation overlay's state.
    pub eval: Evaluation,
    /// The fusion lab's state.
    pub lab: Lab,
    /// The query text last sent, so a pause in typing does not search it twice.
    pub sent: Option<String>,
    pub results: Option<SearchResults>,
    /// What explains the newest lists (whole-corpus gold ranks, BM25 breakdowns); it
    /// arrives just after them and belongs to `explained.query`.
    pub explained: Option<Box<crate::pipeline::Explained>>,
    pub debounce: Option<Instant>,
    pub live: bool,
    pub params: SearchParams,
    pub analyzer_kind: AnalyzerKind,
    pub corpus: Option<Arc<Corpus>>,
    pub analyzer: Option<Analyzer>,
    pub stage: Option<Stage>,
    pub parts: [PartState; 4],
    pub warnings: Vec<String>,
    /// Each analyzer's warning about the corpus, shown while a BM25 pane uses it.
    pub analyzer_warnings: Vec<(AnalyzerKind, String)>,
    /// What the other dense panes' encoders did: their model, passages, and what a remote
    /// endpoint's passages cost (the status bar's encoder line).
    pub notes: Vec<String>,
    pub labels: Labels,
    /// Unknown until the bi-encoder is loaded.
    pub pooling: Option<PoolingState>,
    pub playground: Playground,
    /// The playground's word2vec section.
    pub words: crate::tui::words::Words,
    pub color: bool,
    pub quit: bool,
    /// xorshift state for Ctrl-R; seeded by the caller so tests are repeatable.
    pub rng: u64,
    /// Lesson mode (F10, `bigyo lesson`) and what the session file needs.
    pub lesson: super::lesson::progress::LessonState,
}

impl App {
    pub fn new(
        params: SearchParams,
        analyzer: AnalyzerKind,
        spec: Arc<Panes>,
        labels: Labels,
        seed: u64,
    ) -> Self {
        Self {
            input: Input::default(),
            history: Vec::new(),
            history_pos: None,
            draft: String::new(),
            focus: Focus::Query,
            pane: PaneId::default(),
            selected: PerPane::new(spec.shown_count(), 0),
            spec,
            overlay: Overlay::None,
            generation: 0,
            searching: false,
            stale: false,
            rerank_progress: None,
            notice: None,
            judged: BTreeMap::new(),
            judgments_file: None,
            grading: false,
            eval: Evaluation::default(),
            lab: Lab::default(),
            sent: None,
            results: None,
            explained: None,
            debounce: None,
            live: true,
            params,
            analyzer_kind: analyzer,
            corpus: None,
            analyzer: None,
            stage: None,
            parts: [
                PartState::Loading,
                PartState::Loading,
                PartState::Loading,
                PartState::Loading,
            ],
            warnings: Vec::new(),
            analyzer_warnings: Vec::new(),
            notes: Vec::new(),
            labels,
            pooling: None,
            playground: Playground::default(),
            words: Default::default(),
            color: true,
            quit: false,
            rng: seed | 1,
            lesson: Default::default(),
        }
    }

    pub fn part(&self, p: Part) -> &PartState {
        &self.parts[p as usize]
    }

    pub(super) fn set_part(&mut self, p: Part, s: PartState) {
        self.parts[p as usize] = s;
    }

    /// Every index is built (or known to be unavailable).
    pub fn ready(&self) -> bool {
        self.parts.iter().all(PartState::settled)
    }

    /// The gold passage of the query on screen, when it is a dataset question.
    pub fn gold(&self) -> Option<usize> {
        let corpus = self.corpus.as_ref()?;
        let results = self.results.as_ref()?;
        corpus.gold_for(&results.query)
    }

    /// The selected hit's passage in the focused (or last focused) pane.
    pub fn selected_passage(&self) -> Option<usize> {
        let r = self.results.as_ref()?.pane(self.pane)?;
        r.hits.get(self.selected[self.pane]).map(|h| h.passage)
    }

    /// The method `pane` shows.
    pub fn method(&self, pane: PaneId) -> Kind {
        self.spec.get(pane).kind()
    }

    /// How many panes are shown.
    pub fn pane_count(&self) -> usize {
        self.spec.shown_count()
    }

    /// A pane's title as the spec names it.
    pub fn title(&self, pane: PaneId) -> &str {
        &self.spec.get(pane).title
    }

    /// Every pane, in order.
    pub fn pane_ids(&self) -> impl Iterator<Item = PaneId> {
        PaneId::all(self.pane_count())
    }

    pub(super) fn hits_in(&self, pane: PaneId) -> usize {
        self.results
            .as_ref()
            .and_then(|r| r.pane(pane))
            .map_or(0, |r| r.hits.len())
    }

    pub(super) fn next_random(&mut self) -> u64 {
        // xorshift64: enough to pick a question.
        let mut x = self.rng;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.rng = x;
        x
    }

    /// Sends the query line now (Enter, debounce, settings change, history recall). The
    /// lists of an older query leave the screen at once; the same query's lists stay, dimmed,
    /// until the new answer replaces them.
    pub(super) fn search(&mut self) -> Vec<Cmd> {
        self.debounce = None;
        self.generation += 1;
        let query = self.input.text.clone();
        self.sent = Some(query.clone());
        self.rerank_progress = None;
        if query.trim().is_empty() {
            self.results = None;
            self.searching = false;
            self.stale = false;
            return Vec::new();
        }
        if self.part(Part::Corpus) != &PartState::Ready {
            // Nothing to search yet; the query runs when the corpus arrives.
            self.sent = None;
            return Vec::new();
        }
        if self.results.as_ref().is_some_and(|r| r.query == query) {
            self.stale = true;
        } else {
            self.results = None;
            self.stale = false;
        }
        self.searching = true;
        self.remember(&query);
        vec![Cmd::Search {
            generation: self.generation,
            query,
        }]
    }

    /// Runs the query on screen again (a part became ready, a setting changed).
    pub(super) fn rerun(&mut self) -> Vec<Cmd> {
        // Mid-typing, the debounce will search soon anyway.
        if self.input.text.trim().is_empty()
            || self.part(Part::Corpus) != &PartState::Ready
            || self.debounce.is_some()
        {
            return Vec::new();
        }
        self.search()
    }

    /// Quits: the loop stops and the worker is told to.
    pub(super) fn quit_now(&mut self) -> Vec<Cmd> {
        self.quit = true;
        vec![Cmd::Quit]
    }

    /// Every query that ran is in the history once, newest last. A query recalled from the
    /// history runs where it stands: browsing never reorders the history, and the next Up
    /// goes on from there.
    pub(super) fn remember(&mut self, query: &str) {
        let q = query.trim().to_owned();
        if q.is_empty() {
            return;
        }
        let browsing = self.history_pos.and_then(|p| self.history.get(p));
        if browsing.is_some_and(|h| *h == q) {
            return;
        }
        self.history.retain(|h| *h != q);
        self.history.push(q);
        self.history_pos = None;
    }

    /// The warnings of the analyzers some BM25 pane (shown or read by a fusion) uses now: a
    /// pane switched to another analyzer leaves its old one's warning behind.
    pub fn analyzer_warnings_in_use(&self) -> Vec<&str> {
        let used: Vec<AnalyzerKind> = self
            .spec
            .all()
            .iter()
            .filter_map(|p| match p.retriever {
                crate::panes::Retriever::Bm25(key) => Some(key.unwrap_or(self.analyzer_kind)),
                _ => None,
            })
            .collect();
        self.analyzer_warnings
            .iter()
            .filter(|(k, _)| used.contains(k))
            .map(|(_, w)| w.as_str())
            .collect()
    }

    /// Where the query on screen occurs in `passage`'s text: the byte spans its hit carries
    /// (a passage's hits in every pane carry the same), empty when no pane shows it.
    pub fn spans_of(&self, passage: usize) -> &[(usize, usize)] {
        self.results
            .iter()
            .flat_map(|r| &r.results)
            .flat_map(|m| &m.hits)
            .find(|h| h.passage == passage)
            .map_or(&[], |h| h.spans.as_slice())
    }

    /// The grade of `passage` for the query on screen.
    pub fn grade_of(&self, passage: usize) -> Option<u8> {
        let q = self.results.as_ref()?;
        self.judged
            .get(&crate::judgments::normalize_query(&q.query))?
            .get(&passage)
            .copied()
    }

    /// TREC pooling: the union of every pane's shown hits for the query on screen, in
    /// first-seen order.
    pub fn pool(&self) -> Vec<usize> {
        let Some(r) = &self.results else {
            return Vec::new();
        };
        let lists: Vec<Vec<usize>> = r
            .results
            .iter()
            .map(|m| m.hits.iter().map(|h| h.passage).collect())
            .collect();
        let refs: Vec<&[usize]> = lists.iter().map(Vec::as_slice).collect();
        crate::judgments::pool(&refs, self.params.top_k)
    }

    /// Judged queries: (text, judged count), sorted by text.
    pub fn judged_queries(&self) -> Vec<(&str, usize)> {
        self.judged
            .iter()
            .filter(|(_, g)| !g.is_empty())
            .map(|(q, g)| (q.as_str(), g.len()))
            .collect()
    }

    /// Asks for `grade` (or its removal) of `passage` under the query on screen.
    pub(super) fn grade(&mut self, passage: usize, grade: Option<u8>) -> Vec<Cmd> {
        let Some(r) = &self.results else {
            self.notice = Some("run a query first: grades belong to a query".into());
            return Vec::new();
        };
        vec![Cmd::Grade {
            query: r.query.clone(),
            passage,
            grade,
        }]
    }

    /// Whether the panes show the answer to another text than the query line's (a recalled
    /// or edited query that has not run yet).
    pub fn showing_other_query(&self) -> bool {
        self.results
            .as_ref()
            .is_some_and(|r| r.query != self.input.text)
    }

    pub(super) fn edited(&mut self, now: Instant) {
        self.history_pos = None;
        if self.live {
            self.debounce = Some(now + DEBOUNCE);
        }
    }

    /// A query recalled from the history runs after the same pause as typing (so walking
    /// past entries runs only the one stopped at); without live search the panes say they
    /// show another query until Enter.
    pub(super) fn recalled(&mut self, now: Instant) {
        if self.live {
            self.debounce = Some(now + DEBOUNCE);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::PaneId;

    #[test]
    fn pane_ids_wrap_around_the_pane_list_and_digits_name_panes_from_one() {
        let (first, last) = (PaneId::new(0), PaneId::last(4));
        assert_eq!(last, PaneId::new(3));
        assert_eq!(last.next(4), first);
        assert_eq!(first.prev(4), last);
        assert_eq!(
            PaneId::new(1).next(2),
            first,
            "a two-pane list wraps at two"
        );
        assert_eq!(PaneId::from_digit('2', 4), Some(PaneId::new(1)));
        assert_eq!(PaneId::from_digit('5', 4), None);
        assert_eq!(PaneId::from_digit('0', 4), None);
        assert_eq!(PaneId::all(3).count(), 3);
    }
}
