//! The explorer's state: everything the screen shows, and the small queries on it the view
//! and the key handlers share. It changes only in the [`super::reducer`] and the key
//! handlers ([`super::keys`], [`super::overlays`], [`super::settings`]).
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::editor::Input;
use super::protocol::{
    Cmd, DenseOutcome, EvalLabels, EvalOutcome, FusionLab, Part, PoolingState, SparseOutcome,
};
use crate::bm25::{Analyzer, AnalyzerKind};
use crate::data::Corpus;
use crate::panes::{Kind, Panes};
use crate::pipeline::{SearchParams, SearchResults};

/// How long typing must pause before a live search runs.
pub const DEBOUNCE: Duration = Duration::from_millis(250);

/// At most this many sentences in the playground: the four matrices must fit side by side.
pub const PLAYGROUND_MAX: usize = 8;

/// The chapter's example: two sentences that mean nearly the same with no word in common
/// but the ending, and one that shares only the ending.
pub const PLAYGROUND_EXAMPLE: [&str; 3] = ["잠이 안 옵니다", "졸음이 옵니다", "기차가 옵니다"];

/// The dense block's state.
#[derive(Debug, Clone, Default, PartialEq)]
pub enum DenseCell {
    #[default]
    NotAsked,
    Waiting,
    Done(Result<DenseOutcome, String>),
}

/// The similarity playground: sentences one per line and the matrices last computed.
#[derive(Debug, Clone, PartialEq)]
pub struct Playground {
    pub lines: Vec<Input>,
    pub row: usize,
    /// The newest computation asked for; answers with another generation are stale.
    pub generation: u64,
    /// The sentences the matrices on screen belong to.
    pub computed: Vec<String>,
    pub sparse: Option<Result<SparseOutcome, String>>,
    pub dense: DenseCell,
}

impl Default for Playground {
    fn default() -> Self {
        Self {
            lines: PLAYGROUND_EXAMPLE
                .iter()
                .map(|s| {
                    let mut i = Input::default();
                    i.set(s);
                    i
                })
                .collect(),
            row: PLAYGROUND_EXAMPLE.len() - 1,
            generation: 0,
            computed: Vec::new(),
            sparse: None,
            dense: DenseCell::NotAsked,
        }
    }
}

impl Playground {
    /// The non-blank lines, trimmed: what a computation uses.
    pub fn sentences(&self) -> Vec<String> {
        self.lines
            .iter()
            .map(|l| l.text.trim().to_owned())
            .filter(|s| !s.is_empty())
            .collect()
    }

    /// Whether the lines differ from what the matrices were computed for.
    pub fn edited(&self) -> bool {
        self.sentences() != self.computed
    }

    pub fn waiting(&self) -> bool {
        (self.sparse.is_none() && !self.computed.is_empty()) || self.dense == DenseCell::Waiting
    }
}

/// The pairs of methods the disagreement list can be narrowed to: (winner, loser), both ways.
pub fn method_pairs(outcome: &EvalOutcome) -> Vec<(&str, &str)> {
    let ran: Vec<&str> = outcome
        .panes
        .iter()
        .map(String::as_str)
        .filter(|m| outcome.outcomes.iter().any(|o| o.ranks.contains_key(*m)))
        .collect();
    let mut out = Vec::new();
    for &a in &ran {
        for &b in &ran {
            if a != b {
                out.push((a, b));
            }
        }
    }
    out
}

/// A question where two panes disagree most: gold first in `winner`, missing from the top 10
/// of `loser` (`loser_rank` its rank further down, or `None`).
#[derive(Debug, Clone, PartialEq)]
pub struct Disagreement<'a> {
    pub question: usize,
    pub winner: &'a str,
    pub loser: &'a str,
    pub loser_rank: Option<usize>,
}

/// The questions where one method ranks the gold passage first and another not in its top 10,
/// for every pair or only `pair` (winner, loser).
pub fn disagreements<'a>(
    outcome: &'a EvalOutcome,
    pair: Option<(&'a str, &'a str)>,
) -> Vec<Disagreement<'a>> {
    let pairs = match pair {
        Some(p) => vec![p],
        None => method_pairs(outcome),
    };
    let mut out = Vec::new();
    for (i, o) in outcome.outcomes.iter().enumerate() {
        for &(a, b) in &pairs {
            let (Some(&ra), Some(&rb)) = (o.ranks.get(a), o.ranks.get(b)) else {
                continue;
            };
            if ra == Some(1) && rb.is_none_or(|r| r >= 10) {
                out.push(Disagreement {
                    question: i,
                    winner: a,
                    loser: b,
                    loser_rank: rb,
                });
            }
        }
    }
    out
}

/// The fusion lab's state.
#[derive(Debug, Clone, Default)]
pub enum LabState {
    #[default]
    NotRun,
    Running {
        done: usize,
        total: usize,
    },
    Done(Result<Box<FusionLab>, String>),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PartState {
    Loading,
    Ready,
    Disabled,
    Failed(String),
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
    /// The selected hit's passage; `scroll` in wrapped lines. `ranks` are taken when it
    /// opens, so they do not change under the reader while a newer search runs.
    Detail {
        passage: usize,
        scroll: u16,
        ranks: Vec<PaneRank>,
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

/// Where the detail view's passage stood in one pane's whole list when it opened.
#[derive(Debug, Clone, PartialEq)]
pub struct PaneRank {
    pub pane: PaneId,
    pub method: Kind,
    /// 1-based rank and score in the method's whole list (as deep as hybrid fuses), or
    /// why there is none (`not in the top N`, `reranking…`, the pane's error).
    pub rank: Result<(usize, f64), String>,
}

/// The evaluation's state.
#[derive(Debug, Clone, Default)]
pub enum EvalState {
    #[default]
    NotRun,
    Running {
        done: usize,
        total: usize,
        started: Instant,
        eta: Option<Duration>,
    },
    /// Cancelled by the user after `done` of `total` questions.
    Cancelled {
        done: usize,
        total: usize,
    },
    Done(Result<EvalOutcome, String>),
}

impl EvalState {
    pub fn running(&self) -> bool {
        matches!(self, EvalState::Running { .. })
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
    /// The labels the next evaluation uses.
    pub eval_labels: EvalLabels,
    /// The evaluation overlay's disagreement list: which pair (0 = all, else index + 1 into
    /// [`method_pairs`]) and the selected row.
    pub eval_pair: usize,
    pub eval_row: usize,
    /// On a terminal too short for everything, the evaluation shows its curves and
    /// disagreement list instead of the table (Tab switches).
    pub eval_page: bool,
    pub lab: LabState,
    pub lab_generation: u64,
    /// The query text last sent, so a pause in typing does not search it twice.
    pub sent: Option<String>,
    pub results: Option<SearchResults>,
    pub debounce: Option<Instant>,
    pub live: bool,
    pub params: SearchParams,
    pub analyzer_kind: AnalyzerKind,
    pub corpus: Option<Arc<Corpus>>,
    pub analyzer: Option<Analyzer>,
    pub stage: Option<Stage>,
    pub parts: [PartState; 4],
    pub warnings: Vec<String>,
    /// What the other dense panes' encoders did: their model, passages, and what a remote
    /// endpoint's passages cost (the status bar's encoder line).
    pub notes: Vec<String>,
    pub labels: Labels,
    pub eval: EvalState,
    /// The newest evaluation asked for; replies of another are dropped.
    pub eval_generation: u64,
    /// Unknown until the bi-encoder is loaded.
    pub pooling: Option<PoolingState>,
    pub playground: Playground,
    /// The playground's word2vec section.
    pub words: crate::tui::words::Words,
    pub color: bool,
    pub quit: bool,
    /// xorshift state for Ctrl-R; seeded by the caller so tests are repeatable.
    pub rng: u64,
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
            eval_labels: EvalLabels::Gold,
            eval_pair: 0,
            eval_row: 0,
            eval_page: false,
            lab: LabState::NotRun,
            lab_generation: 0,
            sent: None,
            results: None,
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
            notes: Vec::new(),
            labels,
            eval: EvalState::NotRun,
            eval_generation: 0,
            pooling: None,
            playground: Playground::default(),
            words: Default::default(),
            color: true,
            quit: false,
            rng: seed | 1,
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

    /// Every query that ran is in the history once, newest last.
    pub(super) fn remember(&mut self, query: &str) {
        let q = query.trim().to_owned();
        if q.is_empty() {
            return;
        }
        self.history.retain(|h| *h != q);
        self.history.push(q);
        self.history_pos = None;
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
