//! The fusion lab (F7, f in the evaluation): MRR@10 on a tuning half of the questions against
//! alpha (convex) and the dense weight (RRF), run once on the worker; a applies the chosen
//! setting to the Hybrid pane, r runs it again. Drawn by `view/fusion_lab.rs`.
use crossterm::event::{KeyCode, KeyEvent};

use super::component::Reaction;
use crate::fusion::{Fusion, FusionMethod};
use crate::pipeline::SearchParams;
use crate::tui::protocol::{Cmd, FusionLab};

/// Where the fusion lab stands.
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

/// The fusion lab's state.
#[derive(Debug, Clone, Default)]
pub struct Lab {
    pub state: LabState,
    /// The newest run asked for; replies of another are dropped.
    pub generation: u64,
}

impl Lab {
    /// Runs the lab the first time it opens with BM25 ready.
    pub fn open(&mut self, bm25_ready: bool) -> Vec<Cmd> {
        if !matches!(self.state, LabState::NotRun) || !bm25_ready {
            return Vec::new();
        }
        self.generation += 1;
        self.state = LabState::Running { done: 0, total: 0 };
        vec![Cmd::Tune {
            generation: self.generation,
        }]
    }

    /// The lab's keys; `params` are the search parameters in use (a changes their fusion).
    pub fn key(&mut self, key: KeyEvent, params: &SearchParams, bm25_ready: bool) -> Reaction {
        match key.code {
            KeyCode::Esc => Reaction::Close,
            KeyCode::Char('q') => Reaction::Quit,
            KeyCode::Char('r') if !matches!(self.state, LabState::Running { .. }) => {
                self.state = LabState::NotRun;
                Reaction::Handled(self.open(bm25_ready))
            }
            KeyCode::Char('a') => self.apply(params),
            _ => Reaction::Handled(Vec::new()),
        }
    }

    /// `params` with the chosen fusion, or why it cannot apply.
    fn apply(&self, params: &SearchParams) -> Reaction {
        let LabState::Done(Ok(lab)) = &self.state else {
            return Reaction::Handled(Vec::new());
        };
        let mut p = params.clone();
        match lab.report.best.fusion {
            Fusion::Rrf {
                k,
                depth,
                dense_weight,
                bm25_weight,
            } => {
                p.fusion = FusionMethod::Rrf;
                p.rrf.k = k;
                p.rrf.depth = depth;
                p.dense_weight = dense_weight;
                p.bm25_weight = bm25_weight;
            }
            Fusion::Convex { alpha, norm, depth } => {
                p.fusion = FusionMethod::Convex;
                p.alpha = alpha;
                p.norm = norm;
                p.rrf.depth = depth;
            }
        }
        if let Err(why) = p.validate() {
            return Reaction::Notice(why);
        }
        Reaction::Apply {
            params: p,
            notice: format!(
                "hybrid now fuses with {}",
                lab.report.best.fusion.describe()
            ),
        }
    }

    pub fn on_progress(&mut self, generation: u64, done: usize, total: usize) {
        if generation == self.generation {
            self.state = LabState::Running { done, total };
        }
    }

    pub fn on_tuned(&mut self, generation: u64, result: Result<Box<FusionLab>, String>) {
        if generation == self.generation {
            self.state = LabState::Done(result);
        }
    }
}
