//! The similarity playground (F4, p in a pane): a few sentences, one per line, and their
//! cosine matrices under one-hot, bag of words, TF-IDF (from the worker's BM25 analyzer) and
//! the dense encoder. Enter breaks a line, Backspace at a line's start joins it to the one
//! above; F5 or Ctrl-G computes; Esc (or F4) closes. Drawn by `view/playground.rs`.
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

use super::component::Reaction;
use crate::pipeline::Missing;
use crate::tui::editor::{edit_lines, Input};
use crate::tui::protocol::{Cmd, DenseOutcome, SparseOutcome};

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
    Done(Result<DenseOutcome, Missing>),
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
    pub sparse: Option<Result<SparseOutcome, Missing>>,
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

    /// The first opening with BM25 ready computes the chapter's example at once.
    pub fn open(&mut self, bm25_ready: bool) -> Vec<Cmd> {
        if self.computed.is_empty() && bm25_ready {
            return self.compute();
        }
        Vec::new()
    }

    /// Asks for the matrices of the sentences.
    pub fn compute(&mut self) -> Vec<Cmd> {
        let sentences = self.sentences();
        if sentences.is_empty() {
            return Vec::new();
        }
        self.generation += 1;
        self.computed = sentences.clone();
        self.sparse = None;
        self.dense = DenseCell::Waiting;
        vec![Cmd::Similar {
            generation: self.generation,
            sentences,
        }]
    }

    /// Editing the lines; F5 or Ctrl-G computes, Esc closes.
    pub fn key(&mut self, key: KeyEvent) -> Reaction {
        let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
        match key.code {
            KeyCode::Esc => return Reaction::Close,
            KeyCode::F(5) => return Reaction::Handled(self.compute()),
            KeyCode::Char('g') if ctrl => return Reaction::Handled(self.compute()),
            _ => {
                edit_lines(&mut self.lines, &mut self.row, key, PLAYGROUND_MAX);
            }
        }
        Reaction::Handled(Vec::new())
    }

    /// The sparse matrices of the newest computation (an older one's are dropped).
    pub fn on_sparse(&mut self, generation: u64, result: Result<SparseOutcome, Missing>) {
        if generation == self.generation {
            self.sparse = Some(result);
        }
    }

    /// The dense matrix of the newest computation.
    pub fn on_dense(&mut self, generation: u64, result: Result<DenseOutcome, Missing>) {
        if generation == self.generation {
            self.dense = DenseCell::Done(result);
        }
    }
}
