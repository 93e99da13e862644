//! The explorer's state and its reducer: messages in, state changed, commands for the worker
//! out. No IO and no clock here: time arrives inside the messages.
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crossterm::event::{KeyCode, KeyEvent, KeyEventKind, KeyModifiers};

use crate::bm25::{Analyzer, AnalyzerKind};
use crate::data::Corpus;
use crate::model::Pooling;
use crate::pipeline::{Method, SearchParams, SearchResults};
use crate::session::{Event, Step};

use super::editor::edit_lines;
pub use super::editor::Input;
pub use super::protocol::{
    Cmd, DenseOutcome, EvalLabels, EvalOutcome, FusionLab, Msg, Part, PoolingState, Reply,
    SparseOutcome,
};
pub use super::settings::Setting;
use super::settings::{settings_key, switch_pooling};

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
pub fn method_pairs(outcome: &EvalOutcome) -> Vec<(&'static str, &'static str)> {
    let ran: Vec<&'static str> = Method::ALL
        .iter()
        .map(|m| m.name())
        .filter(|m| outcome.outcomes.iter().any(|o| o.ranks.contains_key(m)))
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
pub struct Disagreement {
    pub question: usize,
    pub winner: &'static str,
    pub loser: &'static str,
    pub loser_rank: Option<usize>,
}

/// The questions where one method ranks the gold passage first and another not in its top 10,
/// for every pair or only `pair` (winner, loser).
pub fn disagreements(
    outcome: &EvalOutcome,
    pair: Option<(&'static str, &'static str)>,
) -> Vec<Disagreement> {
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
    Pane(usize),
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
    pub method: Method,
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
    pub pane: usize,
    pub selected: [usize; 4],
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
    pub labels: Labels,
    pub eval: EvalState,
    /// The newest evaluation asked for; replies of another are dropped.
    pub eval_generation: u64,
    /// Unknown until the bi-encoder is loaded.
    pub pooling: Option<PoolingState>,
    pub playground: Playground,
    pub color: bool,
    pub quit: bool,
    /// xorshift state for Ctrl-R; seeded by the caller so tests are repeatable.
    pub rng: u64,
}

impl App {
    pub fn new(params: SearchParams, analyzer: AnalyzerKind, labels: Labels, seed: u64) -> Self {
        Self {
            input: Input::default(),
            history: Vec::new(),
            history_pos: None,
            draft: String::new(),
            focus: Focus::Query,
            pane: 0,
            selected: [0; 4],
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
            labels,
            eval: EvalState::NotRun,
            eval_generation: 0,
            pooling: None,
            playground: Playground::default(),
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
        let method = Method::ALL[self.pane];
        let r = self.results.as_ref()?.get(method)?;
        r.hits.get(self.selected[self.pane]).map(|h| h.passage)
    }

    fn hits_in(&self, pane: usize) -> usize {
        self.results
            .as_ref()
            .and_then(|r| r.get(Method::ALL[pane]))
            .map_or(0, |r| r.hits.len())
    }

    fn next_random(&mut self) -> u64 {
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
    fn search(&mut self) -> Vec<Cmd> {
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
    fn remember(&mut self, query: &str) {
        let q = query.trim().to_owned();
        if q.is_empty() {
            return;
        }
        self.history.retain(|h| *h != q);
        self.history.push(q);
        self.history_pos = None;
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
        let lists: Vec<Vec<usize>> = Method::ALL
            .iter()
            .filter_map(|&m| r.get(m))
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
    fn grade(&mut self, passage: usize, grade: Option<u8>) -> Vec<Cmd> {
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

    fn edited(&mut self, now: Instant) {
        self.history_pos = None;
        if self.live {
            self.debounce = Some(now + DEBOUNCE);
        }
    }

    /// A query recalled from the history runs after the same pause as typing (so walking
    /// past entries runs only the one stopped at); without live search the panes say they
    /// show another query until Enter.
    fn recalled(&mut self, now: Instant) {
        if self.live {
            self.debounce = Some(now + DEBOUNCE);
        }
    }
}

/// Applies one message; returns what the worker (or the loop) must do.
pub fn update(app: &mut App, msg: Msg, now: Instant) -> Vec<Cmd> {
    match msg {
        Msg::Key(key) if key.kind != KeyEventKind::Release => on_key(app, key, now),
        Msg::Key(_) => Vec::new(),
        Msg::Worker(reply) => on_reply(app, reply, now),
        Msg::Tick => match app.debounce {
            Some(at) if at <= now => {
                if app.sent.as_deref() == Some(app.input.text.as_str()) {
                    app.debounce = None;
                    Vec::new()
                } else {
                    app.search()
                }
            }
            _ => Vec::new(),
        },
    }
}

fn on_reply(app: &mut App, reply: Reply, now: Instant) -> Vec<Cmd> {
    match reply {
        Reply::Session(event) => {
            match event {
                Event::Start { step, total } => {
                    if step == Step::BuildBm25 {
                        app.set_part(Part::Bm25, PartState::Loading);
                    }
                    app.stage = Some(Stage {
                        step: step.to_string(),
                        total,
                        done: 0,
                        started: Some(now),
                        eta: None,
                    });
                }
                Event::Progress { done } => {
                    if let Some(s) = &mut app.stage {
                        s.done = done;
                        if let (Some(total), Some(started)) = (s.total, s.started) {
                            let spent = now.saturating_duration_since(started).as_secs_f64();
                            if done > 0 && total >= done {
                                let left = spent / done as f64 * (total - done) as f64;
                                s.eta = Some(Duration::from_secs_f64(left));
                            }
                        }
                    }
                }
                Event::Finish => app.stage = None,
                Event::Warning(w) => app.warnings.push(w),
            }
            Vec::new()
        }
        Reply::Device(d) => {
            app.labels.device = d;
            Vec::new()
        }
        Reply::Corpus(c) => {
            // A corpus without questions is evaluated on the grades given here.
            if c.eval_questions().next().is_none() {
                app.eval_labels = EvalLabels::Judgments;
            }
            app.corpus = Some(c);
            app.set_part(Part::Corpus, PartState::Ready);
            Vec::new()
        }
        Reply::Bm25Ready(analyzer) => {
            app.analyzer_kind = analyzer.kind();
            app.analyzer = Some(analyzer);
            app.set_part(Part::Bm25, PartState::Ready);
            app.stage = None;
            rerun(app)
        }
        Reply::Failed(part, why) => {
            if part == Part::Corpus {
                app.stage = None;
            }
            app.set_part(part, PartState::Failed(why));
            rerun(app)
        }
        Reply::DenseReady => {
            app.set_part(Part::Dense, PartState::Ready);
            rerun(app)
        }
        Reply::RerankerReady => {
            app.set_part(Part::Reranker, PartState::Ready);
            rerun(app)
        }
        Reply::RerankerDisabled => {
            app.set_part(Part::Reranker, PartState::Disabled);
            Vec::new()
        }
        Reply::Results {
            generation,
            results,
            rerank_total,
        } => {
            if generation != app.generation {
                // A newer query is on its way; this answer is stale.
                return Vec::new();
            }
            let same = app.stale;
            app.searching = false;
            app.stale = false;
            app.rerank_progress = rerank_total.map(|t| (0, t));
            app.results = Some(results);
            keep_selection(app, same);
            Vec::new()
        }
        Reply::RerankProgress {
            generation,
            done,
            total,
        } => {
            if generation == app.generation && app.rerank_progress.is_some() {
                app.rerank_progress = Some((done, total));
            }
            Vec::new()
        }
        Reply::Reranked {
            generation,
            result,
            passes,
        } => {
            if generation != app.generation {
                return Vec::new();
            }
            if let Some(r) = &mut app.results {
                r.results.retain(|m| m.method != Method::Rerank);
                r.results.push(result);
                r.forward_passes.cross_encoder = passes;
            }
            app.rerank_progress = None;
            keep_selection(app, true);
            Vec::new()
        }
        Reply::EvalProgress {
            generation,
            done,
            total,
        } => {
            if generation != app.eval_generation {
                return Vec::new();
            }
            if let EvalState::Running { started, .. } = app.eval {
                let spent = now.saturating_duration_since(started).as_secs_f64();
                let eta = (done > 0 && total >= done)
                    .then(|| Duration::from_secs_f64(spent / done as f64 * (total - done) as f64));
                app.eval = EvalState::Running {
                    done,
                    total,
                    started,
                    eta,
                };
            }
            Vec::new()
        }
        Reply::EvalDone {
            generation,
            outcome,
        } => {
            if generation == app.eval_generation && app.eval.running() {
                app.eval = EvalState::Done(outcome);
                app.eval_row = 0;
            }
            Vec::new()
        }
        Reply::Pooling(state) => {
            app.pooling = Some(state);
            Vec::new()
        }
        Reply::TuneProgress {
            generation,
            done,
            total,
        } => {
            if generation == app.lab_generation {
                app.lab = LabState::Running { done, total };
            }
            Vec::new()
        }
        Reply::Tuned { generation, result } => {
            if generation == app.lab_generation {
                app.lab = LabState::Done(result);
            }
            Vec::new()
        }
        Reply::Judgments { file, grades } => {
            app.judgments_file = Some(file);
            app.judged = grades;
            Vec::new()
        }
        Reply::Graded {
            query,
            passage,
            grade,
            result,
        } => {
            match result {
                Ok(()) => {
                    let grades = app
                        .judged
                        .entry(crate::judgments::normalize_query(&query))
                        .or_default();
                    match grade {
                        Some(g) => {
                            grades.insert(passage, g);
                        }
                        None => {
                            grades.remove(&passage);
                        }
                    }
                }
                Err(why) => app.notice = Some(format!("grade not saved: {why}")),
            }
            Vec::new()
        }
        Reply::PlaygroundSparse { generation, result } => {
            if generation == app.playground.generation {
                app.playground.sparse = Some(result);
            }
            Vec::new()
        }
        Reply::PlaygroundDense { generation, result } => {
            if generation == app.playground.generation {
                app.playground.dense = DenseCell::Done(result);
            }
            Vec::new()
        }
    }
}

/// Keeps each pane's selection within its list; a new query starts at the top.
fn keep_selection(app: &mut App, same: bool) {
    for pane in 0..4 {
        let n = app.hits_in(pane);
        app.selected[pane] = if same {
            app.selected[pane].min(n.saturating_sub(1))
        } else {
            0
        };
    }
}

/// Runs the query on screen again (a part became ready, a setting changed).
pub(super) fn rerun(app: &mut App) -> Vec<Cmd> {
    // Mid-typing, the debounce will search soon anyway.
    if app.input.text.trim().is_empty()
        || app.part(Part::Corpus) != &PartState::Ready
        || app.debounce.is_some()
    {
        return Vec::new();
    }
    app.search()
}

fn on_key(app: &mut App, key: KeyEvent, now: Instant) -> Vec<Cmd> {
    let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
    if ctrl && key.code == KeyCode::Char('c') {
        app.quit = true;
        return vec![Cmd::Quit];
    }
    if ctrl && key.code == KeyCode::Char('r') {
        return random_question(app);
    }
    if ctrl && key.code == KeyCode::Char('p') {
        return switch_pooling(app, 1);
    }
    match key.code {
        KeyCode::F(4) if app.overlay == Overlay::Playground => {
            app.overlay = Overlay::None;
            return Vec::new();
        }
        KeyCode::F(4) => return open_playground(app),
        KeyCode::F(1) => {
            app.overlay = Overlay::Help;
            return Vec::new();
        }
        KeyCode::F(2) => {
            app.overlay = Overlay::Settings { row: 0 };
            return Vec::new();
        }
        KeyCode::F(3) => return open_eval(app, now),
        KeyCode::F(7) => return open_lab(app),
        KeyCode::F(6) => {
            app.overlay = Overlay::Judge {
                row: 0,
                queries: false,
            };
            return Vec::new();
        }
        _ => {}
    }
    app.notice = None;
    match app.overlay.clone() {
        Overlay::None => {}
        Overlay::Eval if key.code == KeyCode::Char('r') => {
            if !app.eval.running() {
                app.eval = EvalState::NotRun;
            }
            return open_eval(app, now);
        }
        Overlay::Eval if key.code == KeyCode::Char('l') => {
            if app.eval.running() {
                return Vec::new();
            }
            app.eval_labels = match app.eval_labels {
                EvalLabels::Gold => EvalLabels::Judgments,
                EvalLabels::Judgments => EvalLabels::Gold,
            };
            app.eval = EvalState::NotRun;
            return open_eval(app, now);
        }
        Overlay::Judge { row, queries } => return judge_key(app, key, row, queries),
        Overlay::Eval if key.code == KeyCode::Char('f') => return open_lab(app),
        Overlay::Fusion => return lab_key(app, key),
        Overlay::Eval if matches!(app.eval, EvalState::Done(Ok(_))) => {
            if let Some(cmds) = eval_list_key(app, key) {
                return cmds;
            }
        }
        Overlay::Eval if key.code == KeyCode::Char('c') => {
            if let EvalState::Running { done, total, .. } = app.eval {
                app.eval = EvalState::Cancelled { done, total };
                return vec![Cmd::CancelEval];
            }
            return Vec::new();
        }
        Overlay::Help | Overlay::Walkthrough
            if matches!(
                key.code,
                KeyCode::Tab | KeyCode::BackTab | KeyCode::Left | KeyCode::Right
            ) =>
        {
            app.overlay = if app.overlay == Overlay::Help {
                Overlay::Walkthrough
            } else {
                Overlay::Help
            };
            return Vec::new();
        }
        Overlay::Playground => return playground_key(app, key),
        Overlay::Help | Overlay::Eval | Overlay::Walkthrough => {
            return match key.code {
                KeyCode::Esc | KeyCode::Char('?') | KeyCode::Enter => {
                    app.overlay = Overlay::None;
                    Vec::new()
                }
                KeyCode::Char('q') => quit(app),
                _ => Vec::new(),
            };
        }
        Overlay::Detail {
            passage,
            scroll,
            ranks,
        } => {
            let scroll = match key.code {
                KeyCode::Esc | KeyCode::Enter => {
                    app.overlay = Overlay::None;
                    return Vec::new();
                }
                KeyCode::Char('q') => return quit(app),
                KeyCode::Down | KeyCode::Char('j') => scroll.saturating_add(1),
                KeyCode::Up | KeyCode::Char('k') => scroll.saturating_sub(1),
                KeyCode::PageDown | KeyCode::Char(' ') => scroll.saturating_add(10),
                KeyCode::PageUp => scroll.saturating_sub(10),
                KeyCode::Home | KeyCode::Char('g') => 0,
                _ => scroll,
            };
            app.overlay = Overlay::Detail {
                passage,
                scroll,
                ranks,
            };
            return Vec::new();
        }
        Overlay::Settings { row } => return settings_key(app, key, row),
    }
    match app.focus {
        Focus::Query => query_key(app, key, now),
        Focus::Pane(p) => pane_key(app, key, p, now),
    }
}

/// Opens the playground; the first time, computes the chapter's example at once.
fn open_playground(app: &mut App) -> Vec<Cmd> {
    app.overlay = Overlay::Playground;
    if app.playground.computed.is_empty() && app.part(Part::Bm25) == &PartState::Ready {
        return compute_playground(app);
    }
    Vec::new()
}

/// Asks for the matrices of the playground's sentences.
fn compute_playground(app: &mut App) -> Vec<Cmd> {
    let sentences = app.playground.sentences();
    if sentences.is_empty() {
        return Vec::new();
    }
    let pg = &mut app.playground;
    pg.generation += 1;
    pg.computed = sentences.clone();
    pg.sparse = None;
    pg.dense = DenseCell::Waiting;
    vec![Cmd::Similar {
        generation: pg.generation,
        sentences,
    }]
}

/// Editing the playground's lines: Enter breaks the line, Backspace at a line's start joins
/// it to the one above; F5 or Ctrl-G computes.
fn playground_key(app: &mut App, key: KeyEvent) -> Vec<Cmd> {
    let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
    match key.code {
        KeyCode::Esc => app.overlay = Overlay::None,
        KeyCode::F(5) => return compute_playground(app),
        KeyCode::Char('g') if ctrl => return compute_playground(app),
        _ => {
            let pg = &mut app.playground;
            edit_lines(&mut pg.lines, &mut pg.row, key, PLAYGROUND_MAX);
        }
    }
    Vec::new()
}

pub(super) fn quit(app: &mut App) -> Vec<Cmd> {
    app.quit = true;
    vec![Cmd::Quit]
}

/// Opens the evaluation overlay; runs the evaluation unless it has run (r runs it again).
/// It runs on a thread of its own: queries keep being answered, Esc leaves it running, c
/// cancels it.
fn open_eval(app: &mut App, now: Instant) -> Vec<Cmd> {
    app.overlay = Overlay::Eval;
    let rerun = matches!(app.eval, EvalState::NotRun | EvalState::Cancelled { .. });
    if !rerun || app.part(Part::Bm25) == &PartState::Loading {
        return Vec::new();
    }
    let total = app
        .corpus
        .as_ref()
        .map_or(0, |c| c.eval_questions().count());
    app.eval_generation += 1;
    app.eval = EvalState::Running {
        done: 0,
        total,
        started: now,
        eta: None,
    };
    vec![Cmd::Evaluate {
        generation: app.eval_generation,
        labels: app.eval_labels,
    }]
}

fn random_question(app: &mut App) -> Vec<Cmd> {
    let Some(corpus) = app.corpus.clone() else {
        return Vec::new();
    };
    let questions: Vec<&str> = corpus.eval_questions().map(|q| q.text.as_str()).collect();
    if questions.is_empty() {
        return Vec::new();
    }
    let i = (app.next_random() % questions.len() as u64) as usize;
    app.input.set(questions[i]);
    app.overlay = Overlay::None;
    app.search()
}

fn query_key(app: &mut App, key: KeyEvent, now: Instant) -> Vec<Cmd> {
    match key.code {
        KeyCode::Enter => app.search(),
        KeyCode::Char(c) if !key.modifiers.contains(KeyModifiers::CONTROL) => {
            app.input.insert(c);
            app.edited(now);
            Vec::new()
        }
        KeyCode::Char('u') => {
            app.input.set("");
            app.edited(now);
            Vec::new()
        }
        KeyCode::Char('a') => {
            app.input.cursor = 0;
            Vec::new()
        }
        KeyCode::Char('e') => {
            app.input.cursor = app.input.len();
            Vec::new()
        }
        KeyCode::Char('l') => {
            app.live = !app.live;
            Vec::new()
        }
        KeyCode::Backspace => {
            if app.input.backspace() {
                app.edited(now);
            }
            Vec::new()
        }
        KeyCode::Delete => {
            if app.input.delete() {
                app.edited(now);
            }
            Vec::new()
        }
        KeyCode::Left => {
            app.input.cursor = app.input.cursor.saturating_sub(1);
            Vec::new()
        }
        KeyCode::Right => {
            app.input.cursor = (app.input.cursor + 1).min(app.input.len());
            Vec::new()
        }
        KeyCode::Home => {
            app.input.cursor = 0;
            Vec::new()
        }
        KeyCode::End => {
            app.input.cursor = app.input.len();
            Vec::new()
        }
        KeyCode::Up => {
            if history_back(app) {
                app.recalled(now);
            }
            Vec::new()
        }
        KeyCode::Down => {
            if app.history_pos.is_some() {
                history_forward(app);
                app.recalled(now);
            } else {
                app.focus = Focus::Pane(app.pane);
            }
            Vec::new()
        }
        KeyCode::Tab | KeyCode::Esc => {
            app.focus = Focus::Pane(app.pane);
            Vec::new()
        }
        KeyCode::BackTab => {
            app.pane = 3;
            app.focus = Focus::Pane(3);
            Vec::new()
        }
        _ => Vec::new(),
    }
}

/// One step back in the history; the walk starts below the entry the query line already
/// shows (the query that just ran is the newest entry). False when there is nothing older.
fn history_back(app: &mut App) -> bool {
    let pos = match app.history_pos {
        None => {
            let current = app.input.text.trim();
            let newest = app.history.len();
            let start = if app.history.last().is_some_and(|h| h == current) {
                newest.saturating_sub(1)
            } else {
                newest
            };
            if start == 0 {
                return false;
            }
            app.draft = app.input.text.clone();
            start - 1
        }
        Some(0) => return false,
        Some(p) => p - 1,
    };
    app.history_pos = Some(pos);
    let text = app.history[pos].clone();
    app.input.set(&text);
    true
}

fn history_forward(app: &mut App) {
    let Some(pos) = app.history_pos else {
        return;
    };
    if pos + 1 < app.history.len() {
        app.history_pos = Some(pos + 1);
        let text = app.history[pos + 1].clone();
        app.input.set(&text);
    } else {
        app.history_pos = None;
        let draft = std::mem::take(&mut app.draft);
        app.input.set(&draft);
    }
}

/// The passage's rank in every pane's whole list, as the detail view shows them.
pub(super) fn pane_ranks(app: &App, passage: usize) -> Vec<PaneRank> {
    let Some(results) = &app.results else {
        return Vec::new();
    };
    Method::ALL
        .iter()
        .map(|&method| {
            let rank = match results.get(method) {
                None if method == Method::Rerank && app.rerank_progress.is_some() => {
                    Err("reranking…".to_owned())
                }
                None => Err("did not run".to_owned()),
                Some(r) => match (&r.error, r.rank_of(passage)) {
                    (Some(e), _) => Err(format!("not available: {e}")),
                    (None, Some(rank)) => Ok((rank, r.ranking[rank - 1].1)),
                    (None, None) => Err(format!("not in its top {}", r.ranking.len())),
                },
            };
            PaneRank { method, rank }
        })
        .collect()
}

fn pane_key(app: &mut App, key: KeyEvent, pane: usize, now: Instant) -> Vec<Cmd> {
    let n = app.hits_in(pane);
    if std::mem::take(&mut app.grading) {
        // `m` then a digit: digits 1-4 switch panes otherwise.
        return match key.code {
            KeyCode::Char(c @ '0'..='3') => match app.selected_passage() {
                Some(p) => app.grade(p, Some(c as u8 - b'0')),
                None => Vec::new(),
            },
            _ => {
                app.notice = Some("grading cancelled (m then 0, 1, 2 or 3)".into());
                Vec::new()
            }
        };
    }
    match key.code {
        KeyCode::Char('m') => {
            app.grading = true;
            app.notice = Some("grade the selected hit: 0 not relevant … 3 perfect".into());
        }
        KeyCode::Char('u') => {
            if let Some(p) = app.selected_passage() {
                return app.grade(p, None);
            }
        }
        KeyCode::Char('J') => {
            app.overlay = Overlay::Judge {
                row: 0,
                queries: false,
            }
        }
        KeyCode::Char('q') => return quit(app),
        KeyCode::Tab | KeyCode::Right | KeyCode::Char('l') => {
            if pane == 3 && key.code == KeyCode::Tab {
                app.focus = Focus::Query;
            } else {
                app.pane = (pane + 1) % 4;
                app.focus = Focus::Pane(app.pane);
            }
        }
        KeyCode::BackTab | KeyCode::Left | KeyCode::Char('h') => {
            if pane == 0 && key.code == KeyCode::BackTab {
                app.focus = Focus::Query;
            } else {
                app.pane = (pane + 3) % 4;
                app.focus = Focus::Pane(app.pane);
            }
        }
        KeyCode::Down | KeyCode::Char('j') if app.selected[pane] + 1 < n => {
            app.selected[pane] += 1;
        }
        KeyCode::Up | KeyCode::Char('k') => {
            if app.selected[pane] == 0 {
                app.focus = Focus::Query;
            } else {
                app.selected[pane] -= 1;
            }
        }
        KeyCode::Home | KeyCode::Char('g') => app.selected[pane] = 0,
        KeyCode::End | KeyCode::Char('G') => app.selected[pane] = n.saturating_sub(1),
        KeyCode::Char(c @ '1'..='4') => {
            app.pane = c as usize - '1' as usize;
            app.focus = Focus::Pane(app.pane);
        }
        KeyCode::Enter => {
            if let Some(passage) = app.selected_passage() {
                let ranks = pane_ranks(app, passage);
                app.overlay = Overlay::Detail {
                    passage,
                    scroll: 0,
                    ranks,
                };
            }
        }
        KeyCode::Char('/') | KeyCode::Char('i') | KeyCode::Esc => app.focus = Focus::Query,
        KeyCode::Char('?') => app.overlay = Overlay::Help,
        KeyCode::Char('s') => app.overlay = Overlay::Settings { row: 0 },
        KeyCode::Char('e') => return open_eval(app, now),
        KeyCode::Char('p') => return open_playground(app),
        KeyCode::Char('w') => app.overlay = Overlay::Walkthrough,
        _ => {}
    }
    Vec::new()
}

/// The evaluation's disagreement list: d narrows it to the next pair, ↑/↓ choose, Enter puts
/// the question in the query line and runs it. `None` for keys it does not take.
fn eval_list_key(app: &mut App, key: KeyEvent) -> Option<Vec<Cmd>> {
    let EvalState::Done(Ok(outcome)) = &app.eval else {
        return None;
    };
    let pairs = method_pairs(outcome);
    let pair = app
        .eval_pair
        .checked_sub(1)
        .and_then(|i| pairs.get(i).copied());
    let list = disagreements(outcome, pair);
    match key.code {
        KeyCode::Tab | KeyCode::BackTab => app.eval_page = !app.eval_page,
        KeyCode::Char('d') => {
            app.eval_pair = (app.eval_pair + 1) % (pairs.len() + 1);
            app.eval_row = 0;
        }
        KeyCode::Down | KeyCode::Char('j') => {
            app.eval_row = (app.eval_row + 1).min(list.len().saturating_sub(1))
        }
        KeyCode::Up | KeyCode::Char('k') => app.eval_row = app.eval_row.saturating_sub(1),
        KeyCode::Enter => {
            let d = list.get(app.eval_row)?;
            let text = outcome.outcomes.get(d.question)?.question.clone();
            app.input.set(&text);
            app.overlay = Overlay::None;
            app.focus = Focus::Query;
            return Some(app.search());
        }
        _ => return None,
    }
    Some(Vec::new())
}

/// Opens the fusion lab; runs it the first time (r runs it again).
fn open_lab(app: &mut App) -> Vec<Cmd> {
    app.overlay = Overlay::Fusion;
    if !matches!(app.lab, LabState::NotRun) || app.part(Part::Bm25) != &PartState::Ready {
        return Vec::new();
    }
    app.lab_generation += 1;
    app.lab = LabState::Running { done: 0, total: 0 };
    vec![Cmd::Tune {
        generation: app.lab_generation,
    }]
}

/// The fusion lab's keys: a applies the chosen setting to the Hybrid pane, r runs it again.
fn lab_key(app: &mut App, key: KeyEvent) -> Vec<Cmd> {
    match key.code {
        KeyCode::Esc => app.overlay = Overlay::None,
        KeyCode::Char('q') => return quit(app),
        KeyCode::Char('r') if !matches!(app.lab, LabState::Running { .. }) => {
            app.lab = LabState::NotRun;
            return open_lab(app);
        }
        KeyCode::Char('a') => {
            let LabState::Done(Ok(lab)) = &app.lab else {
                return Vec::new();
            };
            let mut p = app.params.clone();
            match lab.report.best.fusion {
                crate::fusion::Fusion::Rrf {
                    k,
                    depth,
                    dense_weight,
                    bm25_weight,
                } => {
                    p.fusion = crate::fusion::FusionMethod::Rrf;
                    p.rrf.k = k;
                    p.rrf.depth = depth;
                    p.dense_weight = dense_weight;
                    p.bm25_weight = bm25_weight;
                }
                crate::fusion::Fusion::Convex { alpha, norm, depth } => {
                    p.fusion = crate::fusion::FusionMethod::Convex;
                    p.alpha = alpha;
                    p.norm = norm;
                    p.rrf.depth = depth;
                }
            }
            if let Err(why) = p.validate() {
                app.notice = Some(why);
                return Vec::new();
            }
            app.params = p.clone();
            app.overlay = Overlay::None;
            app.notice = Some(format!(
                "hybrid now fuses with {}",
                lab.report.best.fusion.describe()
            ));
            let mut cmds = vec![Cmd::SetParams(p)];
            cmds.extend(rerun(app));
            return cmds;
        }
        _ => {}
    }
    Vec::new()
}

/// The judge view: one key per grade on the pooled hits (the cursor moves on to the next
/// unjudged one), or the judged queries (Enter runs one again).
fn judge_key(app: &mut App, key: KeyEvent, row: usize, queries: bool) -> Vec<Cmd> {
    let len = if queries {
        app.judged_queries().len()
    } else {
        app.pool().len()
    };
    let set = |app: &mut App, row: usize, queries: bool| {
        app.overlay = Overlay::Judge {
            row: row.min(len.saturating_sub(1)),
            queries,
        }
    };
    match key.code {
        KeyCode::Esc => app.overlay = Overlay::None,
        KeyCode::Char('q') => return quit(app),
        KeyCode::Tab | KeyCode::BackTab => set(app, 0, !queries),
        KeyCode::Down | KeyCode::Char('j') => set(app, row + 1, queries),
        KeyCode::Up | KeyCode::Char('k') => set(app, row.saturating_sub(1), queries),
        KeyCode::Enter if queries => {
            let Some(text) = app.judged_queries().get(row).map(|(q, _)| (*q).to_owned()) else {
                return Vec::new();
            };
            app.input.set(&text);
            app.overlay = Overlay::Judge {
                row: 0,
                queries: false,
            };
            return app.search();
        }
        KeyCode::Char(c @ '0'..='3') if !queries => {
            let pool = app.pool();
            let Some(&passage) = pool.get(row) else {
                return Vec::new();
            };
            // Next: the first unjudged hit after this one, else the next row.
            let next = (row + 1..pool.len())
                .find(|&i| app.grade_of(pool[i]).is_none())
                .unwrap_or(row + 1);
            set(app, next, false);
            return app.grade(passage, Some(c as u8 - b'0'));
        }
        KeyCode::Char('u') if !queries => {
            if let Some(&passage) = app.pool().get(row) {
                return app.grade(passage, None);
            }
        }
        _ => {}
    }
    Vec::new()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::eval::QueryOutcome;
    use crate::pipeline::{ForwardPasses, Hit, MethodResult, Sources};

    fn key(code: KeyCode) -> Msg {
        Msg::Key(KeyEvent::new(code, KeyModifiers::NONE))
    }

    fn ctrl(c: char) -> Msg {
        Msg::Key(KeyEvent::new(KeyCode::Char(c), KeyModifiers::CONTROL))
    }

    fn corpus() -> Arc<Corpus> {
        Arc::new(crate::tui::fixture::corpus())
    }

    fn ready_app() -> App {
        let mut app = App::new(
            SearchParams::default(),
            AnalyzerKind::Bigram,
            Labels::default(),
            7,
        );
        let now = Instant::now();
        update(&mut app, Msg::Worker(Reply::Corpus(corpus())), now);
        update(
            &mut app,
            Msg::Worker(Reply::Bm25Ready(Analyzer::Bigram)),
            now,
        );
        app
    }

    fn type_text(app: &mut App, text: &str, now: Instant) -> Vec<Cmd> {
        let mut cmds = Vec::new();
        for c in text.chars() {
            cmds.extend(update(app, key(KeyCode::Char(c)), now));
        }
        cmds
    }

    fn results(query: &str, passages: &[usize]) -> SearchResults {
        SearchResults {
            query: query.into(),
            terms: vec![],
            encode: Duration::ZERO,
            forward_passes: ForwardPasses::default(),
            results: Method::ALL
                .iter()
                .map(|&method| MethodResult {
                    method,
                    hits: passages
                        .iter()
                        .map(|&passage| Hit {
                            passage,
                            score: 1.0,
                            probability: None,
                            sources: Sources::default(),
                            matched: vec![],
                        })
                        .collect(),
                    elapsed: Duration::ZERO,
                    error: None,
                    note: None,
                    ranking: passages.iter().map(|&p| (p, 1.0)).collect(),
                })
                .collect(),
        }
    }

    #[test]
    fn typing_edits_the_query_and_live_search_waits_for_a_pause() {
        let mut app = ready_app();
        let t0 = Instant::now();
        let cmds = type_text(&mut app, "장마 비", t0);
        assert!(cmds.is_empty(), "no search while typing: {cmds:?}");
        assert_eq!(app.input.text, "장마 비");
        assert_eq!(app.input.cursor, 4);
        assert!(update(&mut app, Msg::Tick, t0 + Duration::from_millis(100)).is_empty());
        let cmds = update(&mut app, Msg::Tick, t0 + DEBOUNCE);
        assert_eq!(
            cmds,
            [Cmd::Search {
                generation: 1,
                query: "장마 비".into()
            }]
        );
        assert!(update(&mut app, Msg::Tick, t0 + DEBOUNCE * 2).is_empty());
        update(&mut app, key(KeyCode::Left), t0);
        update(&mut app, key(KeyCode::Backspace), t0);
        assert_eq!(app.input.text, "장마비");
    }

    #[test]
    fn live_search_off_searches_only_on_enter() {
        let mut app = ready_app();
        let t0 = Instant::now();
        update(&mut app, ctrl('l'), t0);
        assert!(!app.live);
        type_text(&mut app, "눈", t0);
        assert!(update(&mut app, Msg::Tick, t0 + DEBOUNCE * 4).is_empty());
        let cmds = update(&mut app, key(KeyCode::Enter), t0);
        assert!(matches!(&cmds[..], [Cmd::Search { query, .. }] if query == "눈"));
    }

    #[test]
    fn stale_answers_are_dropped_by_generation() {
        let mut app = ready_app();
        let t0 = Instant::now();
        type_text(&mut app, "장마", t0);
        update(&mut app, key(KeyCode::Enter), t0);
        type_text(&mut app, " 비", t0);
        update(&mut app, key(KeyCode::Enter), t0);
        assert_eq!(app.generation, 2);
        update(
            &mut app,
            Msg::Worker(Reply::Results {
                generation: 1,
                results: results("장마", &[0]),
                rerank_total: None,
            }),
            t0,
        );
        assert!(app.results.is_none(), "generation 1 is stale");
        assert!(app.searching);
        update(
            &mut app,
            Msg::Worker(Reply::Results {
                generation: 2,
                results: results("장마 비", &[0, 1]),
                rerank_total: None,
            }),
            t0,
        );
        assert_eq!(app.results.as_ref().unwrap().query, "장마 비");
        assert!(!app.searching);
    }

    /// A burst of typed keys (with Enter presses and late replies in between): the query line
    /// holds every character, live search fires once after the burst, and only the last
    /// query's answers are shown.
    #[test]
    fn a_burst_of_keys_ends_in_one_search_and_the_last_answers() {
        let mut app = ready_app();
        let t0 = Instant::now();
        let burst: String = "장마 비 태풍 ".repeat(100);
        let mut searches = 0;
        for (i, c) in burst.chars().enumerate() {
            let at = t0 + Duration::from_millis(i as u64);
            for cmd in update(&mut app, key(KeyCode::Char(c)), at) {
                searches += usize::from(matches!(cmd, Cmd::Search { .. }));
            }
            // Replies for old generations keep arriving during the burst.
            let old = app.generation.saturating_sub(1);
            update(
                &mut app,
                Msg::Worker(Reply::Results {
                    generation: old,
                    results: results("old", &[2]),
                    rerank_total: None,
                }),
                at,
            );
        }
        assert_eq!(searches, 0, "nothing searched mid-burst");
        assert_eq!(app.input.text, burst);
        let end = t0 + Duration::from_millis(burst.chars().count() as u64);
        let cmds = update(&mut app, Msg::Tick, end + DEBOUNCE);
        let [Cmd::Search { generation, query }] = &cmds[..] else {
            panic!("one search after the burst: {cmds:?}");
        };
        assert_eq!(query, &burst);
        let generation = *generation;
        update(
            &mut app,
            Msg::Worker(Reply::Results {
                generation: generation - 1,
                results: results("stale", &[3]),
                rerank_total: None,
            }),
            end,
        );
        assert!(app.results.as_ref().is_none_or(|r| r.query != "stale"));
        update(
            &mut app,
            Msg::Worker(Reply::Results {
                generation,
                results: results(&burst, &[0, 1]),
                rerank_total: None,
            }),
            end,
        );
        assert_eq!(app.results.as_ref().unwrap().query, burst);
    }

    #[test]
    fn focus_moves_between_query_line_and_panes() {
        let mut app = ready_app();
        let t0 = Instant::now();
        app.generation = 1;
        update(
            &mut app,
            Msg::Worker(Reply::Results {
                generation: 1,
                results: results("q", &[0, 1, 2]),
                rerank_total: None,
            }),
            t0,
        );
        update(&mut app, key(KeyCode::Down), t0);
        assert_eq!(app.focus, Focus::Pane(0));
        update(&mut app, key(KeyCode::Char('j')), t0);
        update(&mut app, key(KeyCode::Char('j')), t0);
        update(&mut app, key(KeyCode::Char('j')), t0);
        assert_eq!(app.selected[0], 2, "stops at the last hit");
        update(&mut app, key(KeyCode::Tab), t0);
        assert_eq!(app.focus, Focus::Pane(1));
        update(&mut app, key(KeyCode::BackTab), t0);
        update(&mut app, key(KeyCode::BackTab), t0);
        assert_eq!(app.focus, Focus::Query, "Shift-Tab from the first pane");
        update(&mut app, key(KeyCode::BackTab), t0);
        assert_eq!(app.focus, Focus::Pane(3));
        update(&mut app, key(KeyCode::Tab), t0);
        assert_eq!(app.focus, Focus::Query, "Tab from the last pane");
        // q types in the query line, quits from a pane.
        update(&mut app, key(KeyCode::Char('q')), t0);
        assert!(!app.quit);
        assert_eq!(app.input.text, "q");
        update(&mut app, key(KeyCode::Tab), t0);
        update(&mut app, key(KeyCode::Enter), t0);
        assert!(matches!(
            app.overlay,
            Overlay::Detail {
                passage: 0,
                scroll: 0,
                ..
            }
        ));
        update(&mut app, key(KeyCode::Esc), t0);
        assert_eq!(app.overlay, Overlay::None);
        let cmds = update(&mut app, key(KeyCode::Char('q')), t0);
        assert_eq!(cmds, [Cmd::Quit]);
    }

    #[test]
    fn up_and_down_walk_the_history_and_restore_the_draft() {
        let mut app = ready_app();
        let t0 = Instant::now();
        for q in ["첫째", "둘째"] {
            app.input.set(q);
            update(&mut app, key(KeyCode::Enter), t0);
        }
        app.input.set("초안");
        update(&mut app, key(KeyCode::Up), t0);
        assert_eq!(app.input.text, "둘째");
        update(&mut app, key(KeyCode::Up), t0);
        update(&mut app, key(KeyCode::Up), t0);
        assert_eq!(app.input.text, "첫째");
        update(&mut app, key(KeyCode::Down), t0);
        assert_eq!(app.input.text, "둘째");
        update(&mut app, key(KeyCode::Down), t0);
        assert_eq!(app.input.text, "초안");
        assert_eq!(app.focus, Focus::Query);
        update(&mut app, key(KeyCode::Down), t0);
        assert_eq!(app.focus, Focus::Pane(0), "Down past the history leaves");
    }

    #[test]
    fn ctrl_r_asks_a_dataset_question() {
        let mut app = ready_app();
        let cmds = update(&mut app, ctrl('r'), Instant::now());
        let Some(Cmd::Search { query, .. }) = cmds.first() else {
            panic!("{cmds:?}")
        };
        assert!(app.corpus.as_ref().unwrap().gold_for(query).is_some());
    }

    #[test]
    fn settings_change_params_and_rerun_the_query() {
        let mut app = ready_app();
        let t0 = Instant::now();
        app.input.set("장마");
        update(&mut app, key(KeyCode::Enter), t0);
        update(&mut app, key(KeyCode::F(2)), t0);
        let cmds = update(&mut app, key(KeyCode::Right), t0);
        assert_eq!(app.params.top_k, 11);
        assert!(matches!(cmds[0], Cmd::SetParams(_)));
        assert!(matches!(cmds[1], Cmd::Search { .. }));
        for _ in 0..5 {
            update(&mut app, key(KeyCode::Down), t0);
        }
        let cmds = update(&mut app, key(KeyCode::Right), t0);
        assert_eq!(cmds[0], Cmd::SetAnalyzer(AnalyzerKind::Whitespace));
        assert_eq!(app.part(Part::Bm25), &PartState::Loading);
    }

    #[test]
    fn evaluation_runs_once_per_request_and_reports_progress() {
        let mut app = ready_app();
        let t0 = Instant::now();
        assert_eq!(
            update(&mut app, key(KeyCode::F(3)), t0),
            [Cmd::Evaluate {
                generation: 1,
                labels: EvalLabels::Gold
            }]
        );
        assert!(matches!(
            app.eval,
            EvalState::Running {
                done: 0,
                total: 4,
                ..
            }
        ));
        update(
            &mut app,
            Msg::Worker(Reply::EvalProgress {
                generation: 1,
                done: 2,
                total: 4,
            }),
            t0 + Duration::from_secs(10),
        );
        let EvalState::Running { done: 2, eta, .. } = app.eval else {
            panic!("{:?}", app.eval);
        };
        assert_eq!(eta, Some(Duration::from_secs(10)), "two more at 5 s each");
        assert!(
            update(&mut app, key(KeyCode::Char('r')), t0).is_empty(),
            "running"
        );
        update(
            &mut app,
            Msg::Worker(Reply::EvalDone {
                generation: 1,
                outcome: Err("no questions".into()),
            }),
            t0,
        );
        update(&mut app, key(KeyCode::Esc), t0);
        assert!(
            update(&mut app, key(KeyCode::F(3)), t0).is_empty(),
            "shows the last run"
        );
        assert_eq!(
            update(&mut app, key(KeyCode::Char('r')), t0),
            [Cmd::Evaluate {
                generation: 2,
                labels: EvalLabels::Gold
            }]
        );
    }

    /// Dense, BM25 and hybrid without their rerank list: what the worker sends first.
    fn fast_results(query: &str, passages: &[usize]) -> SearchResults {
        let mut r = results(query, passages);
        r.results.retain(|m| m.method != Method::Rerank);
        r
    }

    fn searched(app: &mut App, text: &str, t0: Instant) -> u64 {
        app.input.set(text);
        let cmds = update(app, key(KeyCode::Enter), t0);
        let [Cmd::Search { generation, .. }] = &cmds[..] else {
            panic!("{cmds:?}");
        };
        *generation
    }

    #[test]
    fn fast_panes_fill_before_the_reranker_and_an_older_query_never_stays_on_screen() {
        let mut app = ready_app();
        let t0 = Instant::now();
        let g1 = searched(&mut app, "장마", t0);
        update(
            &mut app,
            Msg::Worker(Reply::Results {
                generation: g1,
                results: fast_results("장마", &[0, 1]),
                rerank_total: Some(30),
            }),
            t0,
        );
        assert!(!app.searching, "dense, BM25 and hybrid are on screen");
        assert_eq!(app.hits_in(0), 2);
        assert_eq!(app.rerank_progress, Some((0, 30)));
        update(
            &mut app,
            Msg::Worker(Reply::RerankProgress {
                generation: g1,
                done: 12,
                total: 30,
            }),
            t0,
        );
        assert_eq!(app.rerank_progress, Some((12, 30)));

        // A new question: the old lists leave at once, and the old rerank is dropped.
        let g2 = searched(&mut app, "태풍", t0);
        assert!(app.results.is_none(), "no list of 장마 under 태풍");
        assert_eq!(app.rerank_progress, None);
        let rerank = results("장마", &[1, 0]).results.pop().unwrap();
        for late in [
            Reply::RerankProgress {
                generation: g1,
                done: 20,
                total: 30,
            },
            Reply::Reranked {
                generation: g1,
                result: rerank.clone(),
                passes: 30,
            },
        ] {
            update(&mut app, Msg::Worker(late), t0);
        }
        assert!(app.results.is_none() && app.rerank_progress.is_none());
        update(
            &mut app,
            Msg::Worker(Reply::Results {
                generation: g2,
                results: fast_results("태풍", &[2]),
                rerank_total: Some(1),
            }),
            t0,
        );
        update(
            &mut app,
            Msg::Worker(Reply::Reranked {
                generation: g2,
                result: rerank,
                passes: 1,
            }),
            t0,
        );
        let r = app.results.as_ref().unwrap();
        assert_eq!(r.query, "태풍");
        assert!(r.get(Method::Rerank).is_some());
        assert_eq!(r.forward_passes.cross_encoder, 1);
        assert_eq!(app.rerank_progress, None);

        // The same query again (a setting changed): its lists stay, marked as updating.
        let g3 = searched(&mut app, "태풍", t0);
        assert!(app.stale && app.results.is_some());
        update(
            &mut app,
            Msg::Worker(Reply::Results {
                generation: g3,
                results: fast_results("태풍", &[2]),
                rerank_total: None,
            }),
            t0,
        );
        assert!(!app.stale);
    }

    #[test]
    fn history_holds_each_query_that_ran_once_newest_last_and_recalling_runs_it() {
        let mut app = ready_app();
        let t0 = Instant::now();
        // Live search, no Enter: the query that ran is remembered.
        type_text(&mut app, "장마", t0);
        let cmds = update(&mut app, Msg::Tick, t0 + DEBOUNCE * 2);
        assert!(matches!(&cmds[..], [Cmd::Search { .. }]));
        searched(&mut app, "태풍", t0);
        searched(&mut app, "장마", t0);
        assert_eq!(app.history, ["태풍", "장마"], "once each, newest last");
        // The first Up does not repeat the query on screen.
        update(&mut app, key(KeyCode::Up), t0);
        assert_eq!(app.input.text, "태풍");
        assert!(
            update(&mut app, key(KeyCode::Up), t0).is_empty(),
            "nothing older"
        );
        assert_eq!(app.input.text, "태풍");
        // The recalled query runs after the pause, like typing.
        let cmds = update(&mut app, Msg::Tick, t0 + DEBOUNCE * 2);
        assert!(matches!(&cmds[..], [Cmd::Search { query, .. }] if query == "태풍"));
        assert_eq!(app.history, ["장마", "태풍"]);

        // Without live search the panes say they show another query until Enter.
        app.live = false;
        app.results = Some(results("태풍", &[0]));
        update(&mut app, key(KeyCode::Up), t0);
        assert_eq!(app.input.text, "장마");
        assert!(update(&mut app, Msg::Tick, t0 + DEBOUNCE * 4).is_empty());
        assert!(app.showing_other_query());
    }

    #[test]
    fn both_rrf_weights_at_zero_are_refused_with_a_reason() {
        let mut app = ready_app();
        let t0 = Instant::now();
        update(&mut app, key(KeyCode::F(2)), t0);
        let row = |s: Setting| Setting::ALL.iter().position(|x| *x == s).unwrap();
        app.overlay = Overlay::Settings {
            row: row(Setting::DenseWeight),
        };
        for _ in 0..10 {
            update(&mut app, key(KeyCode::Left), t0);
        }
        assert_eq!(app.params.dense_weight, 0.0);
        app.overlay = Overlay::Settings {
            row: row(Setting::Bm25Weight),
        };
        for _ in 0..9 {
            update(&mut app, key(KeyCode::Left), t0);
        }
        assert!((app.params.bm25_weight - 0.1).abs() < 1e-9);
        let cmds = update(&mut app, key(KeyCode::Left), t0);
        assert!(cmds.is_empty(), "{cmds:?}");
        assert!((app.params.bm25_weight - 0.1).abs() < 1e-9, "kept");
        assert!(app.notice.as_deref().unwrap().contains("both 0"));
    }

    #[test]
    fn a_running_evaluation_never_holds_up_a_query_and_can_be_cancelled() {
        let mut app = ready_app();
        let t0 = Instant::now();
        update(&mut app, key(KeyCode::F(3)), t0);
        update(&mut app, key(KeyCode::Esc), t0);
        assert!(app.eval.running(), "Esc leaves it running");
        let cmds = {
            app.input.set("위성");
            update(&mut app, key(KeyCode::Enter), t0)
        };
        assert!(matches!(&cmds[..], [Cmd::Search { .. }]));
        update(&mut app, key(KeyCode::F(3)), t0);
        assert_eq!(
            update(&mut app, key(KeyCode::Char('c')), t0),
            [Cmd::CancelEval]
        );
        assert!(matches!(
            app.eval,
            EvalState::Cancelled { done: 0, total: 4 }
        ));
        // A late report of the cancelled run changes nothing.
        update(
            &mut app,
            Msg::Worker(Reply::EvalProgress {
                generation: 1,
                done: 3,
                total: 4,
            }),
            t0,
        );
        assert!(matches!(app.eval, EvalState::Cancelled { .. }));
        assert_eq!(
            update(&mut app, key(KeyCode::Char('r')), t0),
            [Cmd::Evaluate {
                generation: 2,
                labels: EvalLabels::Gold
            }]
        );
        update(
            &mut app,
            Msg::Worker(Reply::EvalDone {
                generation: 1,
                outcome: Err("stale".into()),
            }),
            t0,
        );
        assert!(app.eval.running(), "the old run's end is not this run's");
    }

    #[test]
    fn the_detail_view_ranks_the_passage_in_each_whole_list_and_holds_still() {
        let mut app = ready_app();
        let t0 = Instant::now();
        let g = searched(&mut app, "장마", t0);
        let mut r = results("장마", &[0, 1]);
        // Semantic shows two hits but ranked deeper: passage 3 is its 3rd.
        r.results[0].ranking = vec![(0, 0.9), (1, 0.8), (3, 0.7)];
        r.results[2].hits.push(crate::pipeline::Hit {
            passage: 3,
            score: 0.01,
            probability: None,
            sources: Sources::default(),
            matched: vec![],
        });
        r.results[2].ranking.push((3, 0.01));
        update(
            &mut app,
            Msg::Worker(Reply::Results {
                generation: g,
                results: r,
                rerank_total: None,
            }),
            t0,
        );
        app.focus = Focus::Pane(2);
        app.pane = 2;
        app.selected[2] = 2;
        update(&mut app, key(KeyCode::Enter), t0);
        let Overlay::Detail {
            passage: 3, ranks, ..
        } = app.overlay.clone()
        else {
            panic!("{:?}", app.overlay);
        };
        assert_eq!(ranks[0].rank, Ok((3, 0.7)), "rank in the whole dense list");
        assert_eq!(ranks[1].rank, Err("not in its top 2".into()));
        // A search finishing underneath does not change what the reader sees.
        let cmds = app.search();
        let [Cmd::Search { generation: g, .. }] = cmds[..] else {
            panic!("{cmds:?}");
        };
        update(
            &mut app,
            Msg::Worker(Reply::Results {
                generation: g,
                results: results("장마", &[3]),
                rerank_total: None,
            }),
            t0,
        );
        assert!(matches!(&app.overlay, Overlay::Detail { ranks: r, .. } if *r == ranks));
    }

    #[test]
    fn grades_go_to_disk_first_then_show_in_every_pane_and_the_judge_view_walks_the_pool() {
        let mut app = ready_app();
        let t0 = Instant::now();
        let g = searched(&mut app, "장마", t0);
        update(
            &mut app,
            Msg::Worker(Reply::Results {
                generation: g,
                results: results("장마", &[2, 0, 1]),
                rerank_total: None,
            }),
            t0,
        );
        update(&mut app, key(KeyCode::Tab), t0);
        update(&mut app, key(KeyCode::Char('j')), t0);
        // m then a digit grades; the digit alone still switches panes.
        assert!(update(&mut app, key(KeyCode::Char('m')), t0).is_empty());
        let cmds = update(&mut app, key(KeyCode::Char('2')), t0);
        assert_eq!(
            cmds,
            [Cmd::Grade {
                query: "장마".into(),
                passage: 0,
                grade: Some(2)
            }]
        );
        assert_eq!(app.focus, Focus::Pane(0), "the digit did not switch panes");
        assert_eq!(app.grade_of(0), None, "not shown before it is on disk");
        update(
            &mut app,
            Msg::Worker(Reply::Graded {
                query: "장마".into(),
                passage: 0,
                grade: Some(2),
                result: Ok(()),
            }),
            t0,
        );
        assert_eq!(app.grade_of(0), Some(2));
        update(&mut app, key(KeyCode::Char('2')), t0);
        assert_eq!(app.focus, Focus::Pane(1), "a digit alone switches panes");
        // u removes the selected hit's grade.
        app.focus = Focus::Pane(0);
        app.pane = 0;
        let cmds = update(&mut app, key(KeyCode::Char('u')), t0);
        assert!(matches!(
            &cmds[..],
            [Cmd::Grade {
                passage: 0,
                grade: None,
                ..
            }]
        ));

        // The judge view: the pool is every pane's hits; a grade moves to the next unjudged.
        update(&mut app, key(KeyCode::Char('J')), t0);
        assert_eq!(app.pool(), [2, 0, 1]);
        let cmds = update(&mut app, key(KeyCode::Char('3')), t0);
        assert!(matches!(
            &cmds[..],
            [Cmd::Grade {
                passage: 2,
                grade: Some(3),
                ..
            }]
        ));
        assert_eq!(
            app.overlay,
            Overlay::Judge {
                row: 2,
                queries: false
            },
            "skips the judged p0"
        );
        // The judged queries, and Enter runs one again.
        update(&mut app, key(KeyCode::Tab), t0);
        assert_eq!(app.judged_queries(), [("장마", 1)]);
        app.input.set("다른 질문");
        let cmds = update(&mut app, key(KeyCode::Enter), t0);
        assert!(matches!(&cmds[..], [Cmd::Search { query, .. }] if query == "장마"));
        assert_eq!(
            app.overlay,
            Overlay::Judge {
                row: 0,
                queries: false
            }
        );
    }

    #[test]
    fn a_grade_that_could_not_be_written_is_not_shown_and_says_why() {
        let mut app = ready_app();
        let t0 = Instant::now();
        let g = searched(&mut app, "장마", t0);
        update(
            &mut app,
            Msg::Worker(Reply::Results {
                generation: g,
                results: results("장마", &[0]),
                rerank_total: None,
            }),
            t0,
        );
        update(
            &mut app,
            Msg::Worker(Reply::Graded {
                query: "장마".into(),
                passage: 0,
                grade: Some(1),
                result: Err("disk full".into()),
            }),
            t0,
        );
        assert_eq!(app.grade_of(0), None);
        assert!(app.notice.as_deref().unwrap().contains("disk full"));
    }

    #[test]
    fn a_corpus_without_questions_evaluates_on_judgments_and_l_switches_labels() {
        let mut app = ready_app();
        let t0 = Instant::now();
        let cmds = update(&mut app, key(KeyCode::F(3)), t0);
        assert!(matches!(
            &cmds[..],
            [Cmd::Evaluate {
                labels: EvalLabels::Gold,
                ..
            }]
        ));
        update(
            &mut app,
            Msg::Worker(Reply::EvalDone {
                generation: 1,
                outcome: Err("x".into()),
            }),
            t0,
        );
        let cmds = update(&mut app, key(KeyCode::Char('l')), t0);
        assert!(matches!(
            &cmds[..],
            [Cmd::Evaluate {
                labels: EvalLabels::Judgments,
                ..
            }]
        ));

        let mut bare = corpus().as_ref().clone();
        bare.questions.clear();
        let mut app = ready_app();
        update(&mut app, Msg::Worker(Reply::Corpus(Arc::new(bare))), t0);
        let cmds = update(&mut app, key(KeyCode::F(3)), t0);
        assert!(matches!(
            &cmds[..],
            [Cmd::Evaluate {
                labels: EvalLabels::Judgments,
                ..
            }]
        ));
    }

    #[test]
    fn settings_switch_the_hybrid_pane_to_convex_fusion_and_step_alpha() {
        let mut app = ready_app();
        let t0 = Instant::now();
        let row = |s: Setting| Setting::ALL.iter().position(|x| *x == s).unwrap();
        app.overlay = Overlay::Settings {
            row: row(Setting::Fusion),
        };
        let cmds = update(&mut app, key(KeyCode::Right), t0);
        assert!(
            matches!(&cmds[..], [Cmd::SetParams(p)] if p.fusion == crate::fusion::FusionMethod::Convex)
        );
        app.overlay = Overlay::Settings {
            row: row(Setting::Alpha),
        };
        let before = app.params.alpha;
        update(&mut app, key(KeyCode::Right), t0);
        assert!((app.params.alpha - (before + 0.05).min(1.0)).abs() < 1e-9);
        for _ in 0..40 {
            update(&mut app, key(KeyCode::Left), t0);
        }
        assert_eq!(app.params.alpha, 0.0, "clamped at 0");
        app.overlay = Overlay::Settings {
            row: row(Setting::Norm),
        };
        update(&mut app, key(KeyCode::Right), t0);
        assert_eq!(app.params.norm, crate::fusion::Norm::ZScore);
    }

    #[test]
    fn the_disagreement_list_narrows_by_pair_and_enter_runs_the_question() {
        let mut app = ready_app();
        let t0 = Instant::now();
        let outcome = |id: &str, q: &str, ranks: [Option<usize>; 2]| QueryOutcome {
            id: id.into(),
            question: q.into(),
            gold: 0,
            ranks: [("dense", ranks[0]), ("bm25", ranks[1])]
                .into_iter()
                .collect(),
        };
        let eval = EvalOutcome {
            questions: 3,
            reports: BTreeMap::new(),
            skipped: BTreeMap::new(),
            settings: String::new(),
            labels: String::new(),
            judged: BTreeMap::new(),
            outcomes: vec![
                outcome("a", "장마는 언제?", [Some(1), None]),
                outcome("b", "김장은?", [Some(12), Some(1)]),
                outcome("c", "한글은?", [Some(1), Some(2)]),
            ],
        };
        assert_eq!(eval.recall_curve("dense", 12)[0], 2.0 / 3.0);
        assert_eq!(eval.recall_curve("dense", 12)[11], 1.0);
        let all = disagreements(&eval, None);
        assert_eq!(all.len(), 2);
        assert_eq!(
            disagreements(&eval, Some(("bm25", "dense")))[0].loser_rank,
            Some(12)
        );
        app.eval = EvalState::Done(Ok(eval));
        app.overlay = Overlay::Eval;
        update(&mut app, key(KeyCode::Char('d')), t0);
        assert_eq!(app.eval_pair, 1, "dense beats bm25 only");
        update(&mut app, key(KeyCode::Char('d')), t0);
        let cmds = update(&mut app, key(KeyCode::Enter), t0);
        assert!(matches!(&cmds[..], [Cmd::Search { query, .. }] if query == "김장은?"));
        assert_eq!(app.overlay, Overlay::None);
    }

    #[test]
    fn the_fusion_lab_runs_once_and_applies_its_choice_to_the_hybrid_pane() {
        use crate::tune::{self, QueryLists, Split};
        let mut app = ready_app();
        let t0 = Instant::now();
        app.input.set("장마");
        let cmds = update(&mut app, key(KeyCode::F(7)), t0);
        assert_eq!(cmds, [Cmd::Tune { generation: 1 }]);
        assert!(
            update(&mut app, key(KeyCode::F(7)), t0).is_empty(),
            "running"
        );
        // Dense ranks the gold first, BM25 second: the grid leans to dense.
        let q = QueryLists {
            gold: 0,
            dense: vec![(0, 0.9), (1, 0.5), (2, 0.1)],
            bm25: vec![(1, 3.0), (0, 2.0), (2, 1.0)],
        };
        let queries = vec![q; 6];
        let split = Split::Holdout {
            ratio: 0.5,
            seed: 3,
        };
        let report = tune::tune(&queries, &tune::grid(10), split).unwrap();
        let idx = tune::holdout(6, 0.5, 3).unwrap().0;
        let lab = FusionLab {
            tune_baselines: tune::baselines_on(&queries, &idx),
            default_test: report.baselines.bm25,
            report,
        };
        let chosen = lab.report.best.fusion;
        update(
            &mut app,
            Msg::Worker(Reply::Tuned {
                generation: 1,
                result: Ok(Box::new(lab)),
            }),
            t0,
        );
        let cmds = update(&mut app, key(KeyCode::Char('a')), t0);
        let Some(Cmd::SetParams(p)) = cmds.first() else {
            panic!("{cmds:?}");
        };
        assert_eq!(p.fusion, chosen.method());
        assert_eq!(app.overlay, Overlay::None);
        assert!(app.notice.as_deref().unwrap().contains("hybrid now fuses"));
    }

    fn pooling(name: &str) -> Pooling {
        Pooling::single(name.parse().unwrap())
    }

    #[test]
    fn playground_opens_on_the_chapter_example_and_computes_it() {
        let mut app = ready_app();
        let t0 = Instant::now();
        let cmds = update(&mut app, key(KeyCode::F(4)), t0);
        assert_eq!(app.overlay, Overlay::Playground);
        assert_eq!(
            cmds,
            [Cmd::Similar {
                generation: 1,
                sentences: PLAYGROUND_EXAMPLE.map(String::from).to_vec()
            }]
        );
        assert_eq!(app.playground.dense, DenseCell::Waiting);
        update(&mut app, key(KeyCode::Esc), t0);
        assert_eq!(app.overlay, Overlay::None);
        assert!(
            update(&mut app, key(KeyCode::F(4)), t0).is_empty(),
            "computed once; F5 computes again"
        );
    }

    #[test]
    fn playground_lines_edit_like_a_small_text_area() {
        let mut app = ready_app();
        let t0 = Instant::now();
        update(&mut app, key(KeyCode::F(4)), t0);
        // The cursor starts at the end of the last line; Enter opens a new one below.
        update(&mut app, key(KeyCode::Enter), t0);
        type_text(&mut app, "눈이 옵니다", t0);
        assert_eq!(app.playground.lines.len(), 4);
        assert_eq!(app.playground.lines[3].text, "눈이 옵니다");
        assert!(app.playground.edited());
        // Enter mid-line splits it; Backspace at the start joins it back.
        for _ in 0..3 {
            update(&mut app, key(KeyCode::Left), t0);
        }
        update(&mut app, key(KeyCode::Enter), t0);
        assert_eq!(app.playground.lines[3].text, "눈이 ");
        assert_eq!(app.playground.lines[4].text, "옵니다");
        update(&mut app, key(KeyCode::Backspace), t0);
        assert_eq!(app.playground.lines[3].text, "눈이 옵니다");
        assert_eq!(app.playground.row, 3);
        // Up keeps the column where it can; Ctrl-D deletes the line.
        update(&mut app, key(KeyCode::Up), t0);
        assert_eq!(app.playground.row, 2);
        update(&mut app, ctrl('d'), t0);
        assert_eq!(
            app.playground.sentences(),
            ["잠이 안 옵니다", "졸음이 옵니다", "눈이 옵니다"]
        );
        // q is text here, not quit.
        update(&mut app, key(KeyCode::Char('q')), t0);
        assert!(!app.quit);
        update(&mut app, key(KeyCode::Backspace), t0);
        let cmds = update(&mut app, key(KeyCode::F(5)), t0);
        assert!(
            matches!(&cmds[..], [Cmd::Similar { generation: 2, sentences }] if sentences.len() == 3)
        );
        assert!(!app.playground.edited());
        // A late answer for the first computation is dropped.
        let stale = Reply::PlaygroundDense {
            generation: 1,
            result: Err("old".into()),
        };
        update(&mut app, Msg::Worker(stale), t0);
        assert_eq!(app.playground.dense, DenseCell::Waiting);
        let fresh = Reply::PlaygroundDense {
            generation: 2,
            result: Err("no encoder".into()),
        };
        update(&mut app, Msg::Worker(fresh), t0);
        assert_eq!(
            app.playground.dense,
            DenseCell::Done(Err("no encoder".into()))
        );
        assert_eq!(
            update(&mut app, ctrl('g'), t0).len(),
            1,
            "Ctrl-G computes too"
        );
    }

    #[test]
    fn the_playground_holds_at_most_eight_sentences() {
        let mut app = ready_app();
        let t0 = Instant::now();
        update(&mut app, key(KeyCode::F(4)), t0);
        for _ in 0..20 {
            update(&mut app, key(KeyCode::Enter), t0);
        }
        assert_eq!(app.playground.lines.len(), PLAYGROUND_MAX);
    }

    #[test]
    fn pooling_switch_waits_for_the_encoder_then_re_embeds_and_reruns_the_query() {
        let mut app = ready_app();
        let t0 = Instant::now();
        app.input.set("장마");
        update(&mut app, key(KeyCode::Enter), t0);
        assert!(update(&mut app, ctrl('p'), t0).is_empty(), "no encoder yet");
        let state = PoolingState {
            current: pooling("mean"),
            default: pooling("mean"),
        };
        update(&mut app, Msg::Worker(Reply::Pooling(state)), t0);
        update(&mut app, Msg::Worker(Reply::DenseReady), t0);
        app.eval = EvalState::Done(Err("old".into()));
        let cmds = update(&mut app, ctrl('p'), t0);
        assert_eq!(cmds[0], Cmd::SetPooling(pooling("max")));
        assert!(
            matches!(&cmds[1], Cmd::Search { query, .. } if query == "장마"),
            "BM25 answers while the passages are embedded again"
        );
        assert_eq!(app.part(Part::Dense), &PartState::Loading);
        assert_eq!(app.pooling.as_ref().unwrap().current, pooling("max"));
        assert!(matches!(app.eval, EvalState::NotRun), "evaluation is stale");
        assert!(
            update(&mut app, ctrl('p'), t0).is_empty(),
            "one switch at a time"
        );
        let cmds = update(&mut app, Msg::Worker(Reply::DenseReady), t0);
        assert!(matches!(&cmds[..], [Cmd::Search { .. }]), "{cmds:?}");
        // The settings row goes the other way round: max, mean, cls.
        update(&mut app, key(KeyCode::F(2)), t0);
        let row = Setting::ALL
            .iter()
            .position(|s| *s == Setting::Pooling)
            .unwrap();
        for _ in 0..row {
            update(&mut app, key(KeyCode::Down), t0);
        }
        let cmds = update(&mut app, key(KeyCode::Left), t0);
        assert_eq!(cmds[0], Cmd::SetPooling(pooling("mean")));
    }

    #[test]
    fn pooling_choices_keep_a_model_default_outside_cls_mean_max() {
        let state = PoolingState {
            current: pooling("mean_sqrt_len"),
            default: pooling("mean_sqrt_len"),
        };
        let names: Vec<String> = state.choices().iter().map(|p| p.to_string()).collect();
        assert_eq!(names, ["mean_sqrt_len", "cls", "mean", "max"]);
        assert_eq!(
            PoolingState::describe(&pooling("cls"), &state.default),
            "cls (default mean_sqrt_len)"
        );
    }

    #[test]
    fn help_has_a_walkthrough_page_behind_tab() {
        let mut app = ready_app();
        let t0 = Instant::now();
        update(&mut app, key(KeyCode::F(1)), t0);
        update(&mut app, key(KeyCode::Tab), t0);
        assert_eq!(app.overlay, Overlay::Walkthrough);
        update(&mut app, key(KeyCode::Tab), t0);
        assert_eq!(app.overlay, Overlay::Help);
        update(&mut app, key(KeyCode::Esc), t0);
        update(&mut app, key(KeyCode::Tab), t0);
        update(&mut app, key(KeyCode::Char('w')), t0);
        assert_eq!(app.overlay, Overlay::Walkthrough, "w from a pane");
        update(&mut app, key(KeyCode::Esc), t0);
        assert_eq!(app.overlay, Overlay::None);
    }

    #[test]
    fn a_query_typed_while_loading_runs_when_bm25_is_ready() {
        let mut app = App::new(
            SearchParams::default(),
            AnalyzerKind::Bigram,
            Labels::default(),
            7,
        );
        let t0 = Instant::now();
        type_text(&mut app, "김장", t0);
        assert!(
            update(&mut app, Msg::Tick, t0 + DEBOUNCE).is_empty(),
            "no corpus yet"
        );
        update(&mut app, Msg::Worker(Reply::Corpus(corpus())), t0);
        let cmds = update(
            &mut app,
            Msg::Worker(Reply::Bm25Ready(Analyzer::Bigram)),
            t0,
        );
        assert!(matches!(&cmds[..], [Cmd::Search { query, .. }] if query == "김장"));
    }

    #[test]
    fn progress_gives_an_eta_and_ready_waits_for_every_part() {
        let mut app = ready_app();
        let t0 = Instant::now();
        assert!(!app.ready());
        update(
            &mut app,
            Msg::Worker(Reply::Session(Event::Start {
                step: Step::Embed,
                total: Some(100),
            })),
            t0,
        );
        update(
            &mut app,
            Msg::Worker(Reply::Session(Event::Progress { done: 25 })),
            t0 + Duration::from_secs(10),
        );
        assert_eq!(
            app.stage.as_ref().unwrap().eta,
            Some(Duration::from_secs(30))
        );
        update(&mut app, Msg::Worker(Reply::DenseReady), t0);
        update(
            &mut app,
            Msg::Worker(Reply::Failed(Part::Reranker, "offline".into())),
            t0,
        );
        assert!(app.ready());
    }
}
