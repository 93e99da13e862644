//! The evaluation overlay (F3, e in a pane): every pane's metrics over the dataset questions
//! (or the grades given here), run on a thread of its own, so queries keep being answered; Esc
//! leaves it running, c cancels it, r runs it again, l switches gold / judgments, f opens the
//! fusion lab. Once done it adds the recall curves and the questions where two panes disagree
//! most (d narrows to a pair, Enter asks the question). Drawn by `view/eval.rs`.
use std::time::{Duration, Instant};

use crossterm::event::{KeyCode, KeyEvent};

use super::component::Reaction;
use crate::pipeline::Missing;
use crate::tui::protocol::{Cmd, EvalLabels, EvalOutcome};

/// Where the evaluation stands.
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
    Done(Result<EvalOutcome, Missing>),
}

impl EvalState {
    pub fn running(&self) -> bool {
        matches!(self, EvalState::Running { .. })
    }
}

/// The evaluation overlay's state: the run, and the disagreement list's filter and cursor.
#[derive(Debug, Clone)]
pub struct Evaluation {
    pub state: EvalState,
    /// The newest evaluation asked for; replies of another are dropped.
    pub generation: u64,
    /// The labels the next evaluation uses.
    pub labels: EvalLabels,
    /// Which pair the disagreement list shows (0 = all, else index + 1 into
    /// [`method_pairs`]) and its selected row.
    pub pair: usize,
    pub row: usize,
    /// On a terminal too short for everything, the curves and disagreement list show
    /// instead of the table (Tab switches).
    pub page: bool,
    /// While a run goes on or after it was cancelled: the panes it has finished, whose
    /// numbers show at once (the rest say running / cancelled).
    pub partial: Option<EvalOutcome>,
}

impl Default for Evaluation {
    fn default() -> Self {
        Self {
            state: EvalState::NotRun,
            generation: 0,
            labels: EvalLabels::Gold,
            pair: 0,
            row: 0,
            page: false,
            partial: None,
        }
    }
}

/// What the evaluation needs to know of the rest of the explorer to start a run.
#[derive(Debug, Clone, Copy)]
pub struct Start {
    /// The BM25 index is still building: the run waits for the next opening.
    pub bm25_loading: bool,
    /// How many dataset questions there are.
    pub questions: usize,
    pub now: Instant,
}

impl Evaluation {
    pub fn running(&self) -> bool {
        self.state.running()
    }

    /// Runs the evaluation unless it has run (or runs) already.
    pub fn open(&mut self, start: Start) -> Vec<Cmd> {
        let rerun = matches!(self.state, EvalState::NotRun | EvalState::Cancelled { .. });
        if !rerun || start.bm25_loading {
            return Vec::new();
        }
        self.generation += 1;
        self.partial = None;
        self.state = EvalState::Running {
            done: 0,
            total: start.questions,
            started: start.now,
            eta: None,
        };
        vec![Cmd::Evaluate {
            generation: self.generation,
            labels: self.labels,
        }]
    }

    /// The scores are stale (the pooling changed; the worker cancels a running one):
    /// opening the overlay runs it again.
    pub fn forget(&mut self) {
        self.state = EvalState::NotRun;
        self.partial = None;
    }

    /// The overlay's keys. With a finished run, keys the disagreement list does not take
    /// go on to the query line or the pane.
    pub fn key(&mut self, key: KeyEvent, start: Start) -> Reaction {
        match key.code {
            KeyCode::Char('r') => {
                if !self.running() {
                    self.state = EvalState::NotRun;
                }
                return Reaction::Handled(self.open(start));
            }
            KeyCode::Char('l') => {
                if self.running() {
                    return Reaction::Handled(Vec::new());
                }
                self.labels = match self.labels {
                    EvalLabels::Gold => EvalLabels::Judgments,
                    EvalLabels::Judgments => EvalLabels::Gold,
                };
                self.state = EvalState::NotRun;
                return Reaction::Handled(self.open(start));
            }
            KeyCode::Char('f') => return Reaction::OpenLab,
            _ => {}
        }
        if matches!(self.state, EvalState::Done(Ok(_))) {
            return self.list_key(key);
        }
        match key.code {
            KeyCode::Char('c') => match self.state {
                EvalState::Running { done, total, .. } => {
                    self.state = EvalState::Cancelled { done, total };
                    Reaction::Handled(vec![Cmd::CancelEval])
                }
                _ => Reaction::Handled(Vec::new()),
            },
            KeyCode::Esc | KeyCode::Char('?') | KeyCode::Enter => Reaction::Close,
            KeyCode::Char('q') => Reaction::Quit,
            _ => Reaction::Handled(Vec::new()),
        }
    }

    /// The disagreement list: Tab switches pages, d narrows it to the next pair, ↑/↓
    /// choose, Enter asks the question; Esc closes the overlay, as its footer says.
    fn list_key(&mut self, key: KeyEvent) -> Reaction {
        let EvalState::Done(Ok(outcome)) = &self.state else {
            return Reaction::Pass;
        };
        let pairs = method_pairs(outcome);
        let pair = self.pair.checked_sub(1).and_then(|i| pairs.get(i).copied());
        let list = disagreements(outcome, pair);
        match key.code {
            KeyCode::Esc => return Reaction::Close,
            KeyCode::Tab | KeyCode::BackTab => self.page = !self.page,
            KeyCode::Char('d') => {
                self.pair = (self.pair + 1) % (pairs.len() + 1);
                self.row = 0;
            }
            KeyCode::Down | KeyCode::Char('j') => {
                self.row = (self.row + 1).min(list.len().saturating_sub(1))
            }
            KeyCode::Up | KeyCode::Char('k') => self.row = self.row.saturating_sub(1),
            KeyCode::Enter => {
                let question = list
                    .get(self.row)
                    .and_then(|d| outcome.outcomes.get(d.question));
                return match question {
                    Some(q) => Reaction::Ask(q.question.clone()),
                    None => Reaction::Pass,
                };
            }
            _ => return Reaction::Pass,
        }
        Reaction::Handled(Vec::new())
    }

    /// A run's progress, with an ETA from the pace so far.
    pub fn on_progress(&mut self, generation: u64, done: usize, total: usize, now: Instant) {
        if generation != self.generation {
            return;
        }
        if let EvalState::Running {
            started,
            done: before,
            ..
        } = self.state
        {
            // A new stage (the rerank panes after the fast ones) counts from 0 at its own pace.
            let started = if done < before { now } else { started };
            let spent = now.saturating_duration_since(started).as_secs_f64();
            let eta = (done > 0 && total >= done)
                .then(|| Duration::from_secs_f64(spent / done as f64 * (total - done) as f64));
            self.state = EvalState::Running {
                done,
                total,
                started,
                eta,
            };
        }
    }

    /// The panes the newest run has finished so far.
    pub fn on_part(&mut self, generation: u64, outcome: EvalOutcome) {
        if generation == self.generation && self.running() {
            self.partial = Some(outcome);
        }
    }

    /// The newest run's result (a cancelled or older run's is dropped).
    pub fn on_done(&mut self, generation: u64, outcome: Result<EvalOutcome, Missing>) {
        if generation == self.generation && self.running() {
            self.state = EvalState::Done(outcome);
            self.row = 0;
        }
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

/// A question where the panes disagree most: gold first in each of `winners`, missing from
/// the top 10 of each of `losers` (with its rank further down, or `None`). A question is
/// listed once, whatever the number of pairs that disagree on it.
#[derive(Debug, Clone, PartialEq)]
pub struct Disagreement<'a> {
    pub question: usize,
    pub winners: Vec<&'a str>,
    pub losers: Vec<(&'a str, Option<usize>)>,
}

/// The questions where one method ranks the gold passage first and another not in its top 10,
/// for every pair or only `pair` (winner, loser); each question once.
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
        let mut d = Disagreement {
            question: i,
            winners: Vec::new(),
            losers: Vec::new(),
        };
        for &(a, b) in &pairs {
            let (Some(&ra), Some(&rb)) = (o.ranks.get(a), o.ranks.get(b)) else {
                continue;
            };
            if ra == Some(1) && rb.is_none_or(|r| r >= 10) {
                if !d.winners.contains(&a) {
                    d.winners.push(a);
                }
                if !d.losers.iter().any(|(l, _)| *l == b) {
                    d.losers.push((b, rb));
                }
            }
        }
        if !d.winners.is_empty() {
            out.push(d);
        }
    }
    out
}
