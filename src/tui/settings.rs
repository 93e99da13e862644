//! The settings overlay: one pane's own settings, named as in the pane spec (`analyzer`,
//! `pooling`, `method`, `k`, `weight`, `alpha`, `norm`, `depth`), then the session's top-k and
//! live search. The pane is the focused one (the last focused); ←→ on the first row picks
//! another. A pane setting becomes the pane's new retriever, sent to the worker, which builds
//! what the new key needs (a BM25 index, the passages embedded with another pooling) while
//! every other pane keeps answering; nothing else changes.
use crossterm::event::{KeyCode, KeyEvent};

use super::protocol::{Cmd, Part, PoolingState};
use super::state::{App, Overlay, PartState};
use crate::bm25::AnalyzerKind;
use crate::fusion::{FusionMethod, Norm};
use crate::model::PoolMode;
use crate::panes::{DenseKey, FusionOpts, Kind, PaneId, Retriever};
use crate::pipeline::fusion_weights;
use crate::setting::{self, Invalid};

/// A row of the settings overlay.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Setting {
    /// Which pane the rows above the session's are for.
    Pane,
    Analyzer,
    Pooling,
    /// A fusion's method: rrf or convex.
    Method,
    /// RRF's k.
    K,
    /// The RRF weight of the fusion's input number `i`.
    Weight(usize),
    Alpha,
    Norm,
    /// How deep a fusion reads each list, or how many hits a rerank rescores.
    Depth,
    TopK,
    LiveSearch,
}

impl Setting {
    /// The rows for `pane`: its kind's settings between the pane row and the session's.
    pub fn rows(app: &App, pane: PaneId) -> Vec<Setting> {
        let mut rows = vec![Setting::Pane];
        match &app.spec.get(pane).retriever {
            Retriever::Dense(_) => rows.push(Setting::Pooling),
            Retriever::Bm25(_) => rows.push(Setting::Analyzer),
            Retriever::Fusion { opts, .. } if opts.server => {}
            Retriever::Fusion { of, opts } => {
                rows.push(Setting::Method);
                match opts.method.unwrap_or(app.params.fusion) {
                    FusionMethod::Rrf => {
                        rows.push(Setting::K);
                        rows.extend((0..of.len()).map(Setting::Weight));
                    }
                    FusionMethod::Convex => rows.extend([Setting::Alpha, Setting::Norm]),
                }
                rows.push(Setting::Depth);
            }
            Retriever::Rerank { .. } => rows.push(Setting::Depth),
        }
        rows.extend([Setting::TopK, Setting::LiveSearch]);
        rows
    }

    /// The row's name: the pane spec's option, or the session setting's.
    pub fn label(self, app: &App, pane: PaneId) -> String {
        match self {
            Setting::Pane => "pane".into(),
            Setting::Analyzer => "analyzer".into(),
            Setting::Pooling => "pooling".into(),
            Setting::Method => "method".into(),
            Setting::K => "k".into(),
            Setting::Weight(i) => match &app.spec.get(pane).retriever {
                Retriever::Fusion { of, .. } => match of.get(i) {
                    Some(&input) => format!("weight {}", app.spec.get(input).name),
                    None => "weight".into(),
                },
                _ => "weight".into(),
            },
            Setting::Alpha => "alpha".into(),
            Setting::Norm => "norm".into(),
            Setting::Depth => "depth".into(),
            Setting::TopK => "top-k".into(),
            Setting::LiveSearch => "live search".into(),
        }
    }

    /// Whether the row is the session's rather than the pane's.
    pub fn is_session(self) -> bool {
        matches!(self, Setting::TopK | Setting::LiveSearch)
    }
}

/// The value a row shows: the pane's own setting, else what it follows (the session's).
pub fn value(app: &App, pane: PaneId, setting: Setting) -> String {
    let p = &app.params;
    let retriever = &app.spec.get(pane).retriever;
    match (setting, retriever) {
        (Setting::Pane, _) => app.title(pane).to_owned(),
        (Setting::Analyzer, Retriever::Bm25(key)) => key.unwrap_or(app.analyzer_kind).to_string(),
        (Setting::Pooling, Retriever::Dense(key)) => pooling_value(app, key),
        (Setting::Method, Retriever::Fusion { opts, .. }) => {
            opts.method.unwrap_or(p.fusion).name().to_owned()
        }
        (Setting::K, Retriever::Fusion { opts, .. }) => format!("{}", opts.k.unwrap_or(p.rrf.k)),
        (Setting::Weight(i), Retriever::Fusion { of, opts }) => {
            let w = fusion_weights(&app.spec, p, of, opts);
            w.get(i).map_or_else(String::new, |w| format!("{w:.1}"))
        }
        (Setting::Alpha, Retriever::Fusion { opts, .. }) => {
            format!("{:.2}", opts.alpha.unwrap_or(p.alpha))
        }
        (Setting::Norm, Retriever::Fusion { opts, .. }) => {
            opts.norm.unwrap_or(p.norm).name().to_owned()
        }
        (Setting::Depth, Retriever::Fusion { opts, .. }) => {
            opts.depth.unwrap_or(p.rrf.depth).to_string()
        }
        (Setting::Depth, Retriever::Rerank { depth, .. }) => {
            depth.unwrap_or(p.rerank_depth).to_string()
        }
        (Setting::TopK, _) => p.top_k.to_string(),
        (Setting::LiveSearch, _) => if app.live { "on" } else { "off" }.to_owned(),
        _ => String::new(),
    }
}

/// A dense pane's pooling: its own, else the session model's (named with its default).
fn pooling_value(app: &App, key: &DenseKey) -> String {
    match (key.pooling, &app.pooling, &key.model) {
        (Some(mode), _, _) => mode.name().to_owned(),
        (None, Some(state), None) => PoolingState::describe(&state.current, &state.default),
        (None, None, None) => "(loading)".to_owned(),
        (None, _, Some(_)) => "the model's own".to_owned(),
    }
}

/// The pane the overlay edits: the focused (last focused) one.
fn pane(app: &App) -> PaneId {
    app.pane
}

pub(super) fn settings_key(app: &mut App, key: KeyEvent, row: usize) -> Vec<Cmd> {
    let rows = Setting::rows(app, pane(app));
    let step: i32 = match key.code {
        KeyCode::Esc | KeyCode::Enter => {
            app.overlay = Overlay::None;
            return Vec::new();
        }
        KeyCode::Char('q') => return app.quit_now(),
        KeyCode::Up | KeyCode::Char('k') => {
            app.overlay = Overlay::Settings {
                row: row.saturating_sub(1),
            };
            return Vec::new();
        }
        KeyCode::Down | KeyCode::Char('j') | KeyCode::Tab => {
            app.overlay = Overlay::Settings {
                row: (row + 1).min(rows.len() - 1),
            };
            return Vec::new();
        }
        KeyCode::Left | KeyCode::Char('-') | KeyCode::Char('h') => -1,
        KeyCode::Right | KeyCode::Char('+') | KeyCode::Char('=') | KeyCode::Char('l') => 1,
        _ => return Vec::new(),
    };
    let Some(&setting) = rows.get(row) else {
        return Vec::new();
    };
    match setting {
        Setting::Pane => {
            let count = app.pane_count();
            app.pane = if step > 0 {
                app.pane.next(count)
            } else {
                app.pane.prev(count)
            };
            Vec::new()
        }
        Setting::TopK => {
            let mut p = app.params.clone();
            p.top_k = (p.top_k as i64 + i64::from(step)).clamp(1, 100) as usize;
            set_params(app, p)
        }
        Setting::LiveSearch => {
            app.live = !app.live;
            Vec::new()
        }
        Setting::Pooling => switch_pooling_of(app, pane(app), step),
        _ => {
            let id = pane(app);
            match stepped(app, id, setting, step) {
                Ok(Some(retriever)) => set_pane(app, id, retriever),
                Ok(None) => Vec::new(),
                Err(why) => {
                    app.notice = Some(why.to_string());
                    Vec::new()
                }
            }
        }
    }
}

/// The session's settings changed: checked, sent, and the query runs again.
fn set_params(app: &mut App, p: crate::pipeline::SearchParams) -> Vec<Cmd> {
    if p == app.params {
        return Vec::new();
    }
    if let Err(why) = p.validate() {
        app.notice = Some(why.to_string());
        return Vec::new();
    }
    app.params = p.clone();
    let mut cmds = vec![Cmd::SetParams(p)];
    cmds.extend(app.rerun());
    cmds
}

/// Pane `id` with `retriever` here at once (its title follows), at the worker, and the query
/// runs again.
pub(super) fn set_pane(app: &mut App, id: PaneId, retriever: Retriever) -> Vec<Cmd> {
    let mut spec = (*app.spec).clone();
    if let Err(e) = spec.set_retriever(id, retriever.clone()) {
        app.notice = Some(e.to_string());
        return Vec::new();
    }
    if matches!(retriever, Retriever::Dense(_)) {
        // The scores were for the old vectors (the worker cancels a running evaluation).
        app.eval.forget();
    }
    app.spec = std::sync::Arc::new(spec);
    let mut cmds = vec![Cmd::SetPane {
        pane: id,
        retriever,
    }];
    cmds.extend(app.rerun());
    cmds
}

/// Pane `id`'s retriever with `setting` moved one `step`; `None` when nothing changes, the
/// reason when the new value cannot be used.
fn stepped(
    app: &App,
    id: PaneId,
    setting: Setting,
    step: i32,
) -> Result<Option<Retriever>, Invalid> {
    let p = &app.params;
    let current = app.spec.get(id).retriever.clone();
    let next = match current.clone() {
        Retriever::Bm25(key) if setting == Setting::Analyzer => {
            // The decompound variants are for pane specs; the switch steps through the five.
            let all = [
                AnalyzerKind::Bigram,
                AnalyzerKind::MORPH,
                AnalyzerKind::MORPH_BIGRAM,
                AnalyzerKind::Whitespace,
                AnalyzerKind::Wordpiece,
            ];
            let now = key.unwrap_or(app.analyzer_kind);
            let at = all.iter().position(|k| *k == now).unwrap_or(0);
            let next = all[(at as i32 + step).rem_euclid(all.len() as i32) as usize];
            // The session's analyzer is the key every pane without its own shares.
            Retriever::Bm25((next != app.analyzer_kind).then_some(next))
        }
        Retriever::Fusion { of, mut opts } => {
            step_fusion(&mut opts, setting, step, (app, &of))?;
            Retriever::Fusion { of, opts }
        }
        Retriever::Rerank { of, depth } if setting == Setting::Depth => {
            let d = depth.unwrap_or(p.rerank_depth);
            let delta = if d >= 10 { 5 } else { 1 };
            let d = (d as i64 + delta * i64::from(step)).clamp(1, 200) as usize;
            Retriever::Rerank { of, depth: Some(d) }
        }
        other => other,
    };
    Ok((next != current).then_some(next))
}

/// One step of a fusion's setting; refuses weights that are all 0 and an alpha outside 0..1.
fn step_fusion(
    opts: &mut FusionOpts,
    setting: Setting,
    step: i32,
    (app, of): (&App, &[PaneId]),
) -> Result<(), Invalid> {
    let p = &app.params;
    let s = f64::from(step);
    match setting {
        Setting::Method => {
            opts.method = Some(match opts.method.unwrap_or(p.fusion) {
                FusionMethod::Rrf => FusionMethod::Convex,
                FusionMethod::Convex => FusionMethod::Rrf,
            })
        }
        Setting::K => {
            let k = opts.k.unwrap_or(p.rrf.k);
            // Steps of 1 below 10, of 10 above.
            let coarse = if step > 0 { k >= 10.0 } else { k > 10.0 };
            let delta = if coarse { 10.0 } else { 1.0 };
            opts.k = Some((k + delta * s).clamp(0.0, 1000.0));
        }
        Setting::Weight(i) => {
            let mut w = fusion_weights(&app.spec, p, of, opts);
            if let Some(x) = w.get_mut(i) {
                *x = ((*x + 0.1 * s).clamp(0.0, 5.0) * 10.0).round() / 10.0;
            }
            if w.iter().all(|&x| x == 0.0) {
                return Err(Invalid::new(
                    setting::Setting::FusionWeights,
                    "are all 0: every hybrid score would be 0 and its order arbitrary; keep \
                     one above 0",
                ));
            }
            opts.weights = Some(w);
        }
        Setting::Alpha => {
            let a = opts.alpha.unwrap_or(p.alpha);
            opts.alpha = Some(((a + 0.05 * s).clamp(0.0, 1.0) * 100.0).round() / 100.0);
        }
        Setting::Norm => {
            opts.norm = Some(match opts.norm.unwrap_or(p.norm) {
                Norm::MinMax => Norm::ZScore,
                Norm::ZScore => Norm::MinMax,
            })
        }
        Setting::Depth => {
            let d = opts.depth.unwrap_or(p.rrf.depth) as i64;
            let delta = if d > 10 || (d == 10 && step > 0) {
                10
            } else {
                1
            };
            opts.depth = Some((d + delta * i64::from(step)).clamp(1, 1000) as usize);
        }
        _ => {}
    }
    Ok(())
}

/// Ctrl-P: the focused dense pane's (else the first dense pane's) next pooling.
pub(super) fn switch_pooling(app: &mut App, step: i32) -> Vec<Cmd> {
    let focused = (app.method(app.pane) == Kind::Dense).then_some(app.pane);
    match focused.or_else(|| app.pane_ids().find(|&p| app.method(p) == Kind::Dense)) {
        Some(id) => switch_pooling_of(app, id, step),
        None => Vec::new(),
    }
}

/// Moves dense pane `id` to its next (`step` 1) or previous pooling: cls, mean, max and the
/// model's own. The passages are embedded with it (or read from the cache) on the model
/// thread while every other pane answers.
fn switch_pooling_of(app: &mut App, id: PaneId, step: i32) -> Vec<Cmd> {
    let Retriever::Dense(key) = app.spec.get(id).retriever.clone() else {
        return Vec::new();
    };
    if key.model.is_none() && app.parts[Part::Dense as usize] != PartState::Ready {
        // The session's encoder is still loading: its default pooling is not known yet.
        return Vec::new();
    }
    // The model's own pooling is `None`; a mode equal to it would embed the same vectors.
    let own = match (&key.model, &app.pooling) {
        (None, Some(state)) if state.default.modes.len() == 1 => {
            state.default.modes.first().copied()
        }
        _ => None,
    };
    let mut choices: Vec<Option<PoolMode>> = vec![None];
    choices.extend(
        [PoolMode::Cls, PoolMode::Mean, PoolMode::Max]
            .into_iter()
            .filter(|m| Some(*m) != own)
            .map(Some),
    );
    let at = choices.iter().position(|c| *c == key.pooling).unwrap_or(0);
    let next = choices[(at as i32 + step).rem_euclid(choices.len() as i32) as usize];
    set_pane(
        app,
        id,
        Retriever::Dense(DenseKey {
            pooling: next,
            ..key
        }),
    )
}
