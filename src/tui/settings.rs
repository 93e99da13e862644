//! The settings overlay's rows and what a step left or right does to each: search
//! parameters (sent to the worker, the query runs again), the BM25 analyzer (a rebuild on
//! its own thread), the bi-encoder's pooling (passages embedded again) and live search.
use crossterm::event::{KeyCode, KeyEvent};

use super::keys::quit;
use super::protocol::{Cmd, Part};
use super::reducer::rerun;
use super::state::{App, EvalState, Overlay, PartState};
use crate::bm25::AnalyzerKind;

/// Rows of the settings overlay, in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Setting {
    TopK,
    RrfK,
    DenseWeight,
    Bm25Weight,
    RerankDepth,
    Analyzer,
    Pooling,
    LiveSearch,
    Fusion,
    Alpha,
    Norm,
}

impl Setting {
    pub const ALL: [Setting; 11] = [
        Setting::TopK,
        Setting::RrfK,
        Setting::DenseWeight,
        Setting::Bm25Weight,
        Setting::RerankDepth,
        Setting::Analyzer,
        Setting::Pooling,
        Setting::LiveSearch,
        Setting::Fusion,
        Setting::Alpha,
        Setting::Norm,
    ];

    pub fn label(self) -> &'static str {
        match self {
            Setting::TopK => "top-k",
            Setting::RrfK => "RRF k",
            Setting::DenseWeight => "dense weight",
            Setting::Bm25Weight => "BM25 weight",
            Setting::RerankDepth => "rerank depth",
            Setting::Analyzer => "BM25 analyzer",
            Setting::Pooling => "pooling",
            Setting::LiveSearch => "live search",
            Setting::Fusion => "fusion",
            Setting::Alpha => "convex alpha",
            Setting::Norm => "convex norm",
        }
    }
}

pub(super) fn settings_key(app: &mut App, key: KeyEvent, row: usize) -> Vec<Cmd> {
    let step: i32 = match key.code {
        KeyCode::Esc | KeyCode::Enter => {
            app.overlay = Overlay::None;
            return Vec::new();
        }
        KeyCode::Char('q') => return quit(app),
        KeyCode::Up | KeyCode::Char('k') => {
            app.overlay = Overlay::Settings {
                row: row.saturating_sub(1),
            };
            return Vec::new();
        }
        KeyCode::Down | KeyCode::Char('j') | KeyCode::Tab => {
            app.overlay = Overlay::Settings {
                row: (row + 1).min(Setting::ALL.len() - 1),
            };
            return Vec::new();
        }
        KeyCode::Left | KeyCode::Char('-') | KeyCode::Char('h') => -1,
        KeyCode::Right | KeyCode::Char('+') | KeyCode::Char('=') | KeyCode::Char('l') => 1,
        _ => return Vec::new(),
    };
    let Some(&setting) = Setting::ALL.get(row) else {
        return Vec::new();
    };
    let mut p = app.params.clone();
    let weight = |w: f64| ((w + 0.1 * step as f64).clamp(0.0, 5.0) * 10.0).round() / 10.0;
    match setting {
        Setting::TopK => p.top_k = (p.top_k as i64 + step as i64).clamp(1, 100) as usize,
        Setting::RrfK => {
            // Steps of 1 below 10, of 10 above.
            let coarse = if step > 0 {
                p.rrf.k >= 10.0
            } else {
                p.rrf.k > 10.0
            };
            let delta = if coarse { 10.0 } else { 1.0 };
            p.rrf.k = (p.rrf.k + delta * step as f64).clamp(0.0, 1000.0);
        }
        Setting::DenseWeight => p.dense_weight = weight(p.dense_weight),
        Setting::Bm25Weight => p.bm25_weight = weight(p.bm25_weight),
        Setting::RerankDepth => {
            let delta = if p.rerank_depth >= 10 { 5 } else { 1 };
            p.rerank_depth = (p.rerank_depth as i64 + delta * step as i64).clamp(1, 200) as usize
        }
        Setting::Analyzer => {
            let all = [
                AnalyzerKind::Bigram,
                AnalyzerKind::MORPH,
                AnalyzerKind::MORPH_BIGRAM,
                AnalyzerKind::Whitespace,
                AnalyzerKind::Wordpiece,
            ];
            let at = all
                .iter()
                .position(|k| *k == app.analyzer_kind)
                .unwrap_or(0);
            let next = all[(at as i32 + step).rem_euclid(all.len() as i32) as usize];
            app.analyzer_kind = next;
            app.set_part(Part::Bm25, PartState::Loading);
            let mut cmds = vec![Cmd::SetAnalyzer(next)];
            cmds.extend(rerun(app));
            return cmds;
        }
        Setting::Pooling => return switch_pooling(app, step),
        Setting::Fusion => {
            p.fusion = match p.fusion {
                crate::fusion::FusionMethod::Rrf => crate::fusion::FusionMethod::Convex,
                crate::fusion::FusionMethod::Convex => crate::fusion::FusionMethod::Rrf,
            }
        }
        Setting::Alpha => {
            p.alpha = ((p.alpha + 0.05 * step as f64).clamp(0.0, 1.0) * 100.0).round() / 100.0
        }
        Setting::Norm => {
            p.norm = match p.norm {
                crate::fusion::Norm::MinMax => crate::fusion::Norm::ZScore,
                crate::fusion::Norm::ZScore => crate::fusion::Norm::MinMax,
            }
        }
        Setting::LiveSearch => {
            app.live = !app.live;
            return Vec::new();
        }
    }
    if p == app.params {
        return Vec::new();
    }
    if let Err(why) = p.validate() {
        app.notice = Some(why);
        return Vec::new();
    }
    app.params = p.clone();
    let mut cmds = vec![Cmd::SetParams(p)];
    cmds.extend(rerun(app));
    cmds
}

/// Moves the bi-encoder to the next (`step` 1) or previous pooling; the passages are
/// embedded again (or read from the cache) on the model thread while BM25 keeps answering.
pub(super) fn switch_pooling(app: &mut App, step: i32) -> Vec<Cmd> {
    let Some(state) = &mut app.pooling else {
        return Vec::new();
    };
    if app.parts[Part::Dense as usize] != PartState::Ready {
        // One switch at a time: the encoder is away while the passages are embedded.
        return Vec::new();
    }
    let next = state.step(step);
    if next == state.current {
        return Vec::new();
    }
    state.current = next.clone();
    app.set_part(Part::Dense, PartState::Loading);
    // The scores were for the old pooling (a running evaluation is cancelled by the
    // worker); opening the overlay runs it again.
    app.eval = EvalState::NotRun;
    let mut cmds = vec![Cmd::SetPooling(next)];
    cmds.extend(rerun(app));
    cmds
}
