//! The fusion lab (F7, f in the evaluation): MRR@10 on a tuning half of the questions against
//! alpha (convex) and the dense weight (RRF), over one hybrid pane's dense and BM25 inputs
//! (the focused hybrid pane, else the first), run once on the worker; a applies the chosen
//! setting to that pane, r runs it again. Drawn by `view/fusion_lab.rs`.
use crossterm::event::{KeyCode, KeyEvent};

use super::component::Reaction;
use crate::fusion::{Fusion, FusionMethod};
use crate::panes::{FusionOpts, Kind, PaneId, Panes, Retriever};
use crate::pipeline::Missing;
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
    Done(Result<Box<FusionLab>, Missing>),
}

/// The fusion lab's state.
#[derive(Debug, Clone, Default)]
pub struct Lab {
    pub state: LabState,
    /// The newest run asked for; replies of another are dropped.
    pub generation: u64,
    /// The hybrid pane the lab tunes.
    pub pane: PaneId,
}

impl Lab {
    /// Runs the lab the first time it opens with BM25 ready, on hybrid pane `pane` (`None`:
    /// no hybrid pane is shown, and the lab says so).
    pub fn open(&mut self, bm25_ready: bool, pane: Option<PaneId>) -> Vec<Cmd> {
        if !matches!(self.state, LabState::NotRun) || !bm25_ready {
            return Vec::new();
        }
        let Some(pane) = pane else {
            self.state = LabState::Done(Err(Missing::Off(
                "the fusion lab tunes a hybrid pane; none is shown".into(),
            )));
            return Vec::new();
        };
        self.pane = pane;
        self.generation += 1;
        self.state = LabState::Running { done: 0, total: 0 };
        vec![Cmd::Tune {
            generation: self.generation,
            pane,
        }]
    }

    /// The lab's keys; `panes` are the panes on screen (a changes the lab's pane's fusion).
    pub fn key(&mut self, key: KeyEvent, panes: &Panes, bm25_ready: bool) -> Reaction {
        match key.code {
            KeyCode::Esc => Reaction::Close,
            KeyCode::Char('q') => Reaction::Quit,
            KeyCode::Char('r') if !matches!(self.state, LabState::Running { .. }) => {
                self.state = LabState::NotRun;
                Reaction::Handled(self.open(bm25_ready, Some(self.pane)))
            }
            KeyCode::Char('a') => self.apply(panes),
            _ => Reaction::Handled(Vec::new()),
        }
    }

    /// The lab's pane with the chosen fusion as its own settings, or why it cannot apply.
    fn apply(&self, panes: &Panes) -> Reaction {
        let LabState::Done(Ok(lab)) = &self.state else {
            return Reaction::Handled(Vec::new());
        };
        let fusion = lab.report.best.fusion;
        let Retriever::Fusion { of, opts } = panes.get(self.pane).retriever.clone() else {
            return Reaction::Handled(Vec::new());
        };
        let Some(opts) = lab_setting(panes, &of, opts, fusion) else {
            return Reaction::Notice("the lab's setting does not fit this pane's inputs".into());
        };
        Reaction::SetPane {
            pane: self.pane,
            retriever: Retriever::Fusion { of, opts },
            notice: format!(
                "{} now fuses with {}",
                panes.get(self.pane).title,
                fusion.describe()
            ),
        }
    }

    pub fn on_progress(&mut self, generation: u64, done: usize, total: usize) {
        if generation == self.generation {
            self.state = LabState::Running { done, total };
        }
    }

    pub fn on_tuned(&mut self, generation: u64, result: Result<Box<FusionLab>, Missing>) {
        if generation == self.generation {
            self.state = LabState::Done(result);
        }
    }
}

/// A hybrid pane's options set to the fusion lab's choice: the method and its numbers, the
/// dense and BM25 weights in the order of the pane's inputs. `None` when the pane does not
/// fuse one dense and one BM25 list.
fn lab_setting(
    panes: &Panes,
    of: &[PaneId],
    opts: FusionOpts,
    fusion: Fusion,
) -> Option<FusionOpts> {
    let kinds: Vec<Kind> = of.iter().map(|&i| panes.get(i).kind()).collect();
    if kinds.len() != 2 || !kinds.contains(&Kind::Dense) || !kinds.contains(&Kind::Bm25) {
        return None;
    }
    Some(match fusion {
        Fusion::Rrf {
            k,
            depth,
            dense_weight,
            bm25_weight,
        } => FusionOpts {
            method: Some(FusionMethod::Rrf),
            k: Some(k),
            depth: Some(depth),
            weights: Some(
                kinds
                    .iter()
                    .map(|k| {
                        if *k == Kind::Dense {
                            dense_weight
                        } else {
                            bm25_weight
                        }
                    })
                    .collect(),
            ),
            ..opts
        },
        Fusion::Convex { alpha, norm, depth } => {
            // Convex weighs the first input by alpha: keep alpha the dense list's weight.
            let alpha = if kinds[0] == Kind::Dense {
                alpha
            } else {
                1.0 - alpha
            };
            FusionOpts {
                method: Some(FusionMethod::Convex),
                alpha: Some(alpha),
                norm: Some(norm),
                depth: Some(depth),
                weights: None,
                ..opts
            }
        }
    })
}
