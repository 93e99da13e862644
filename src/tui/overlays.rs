//! Opening the overlays that start work (playground, evaluation, fusion lab) and the keys
//! of the overlays that hold a list or a text area (playground, evaluation's disagreement
//! list, fusion lab, judge view).
use std::time::Instant;

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

use super::editor::edit_lines;
use super::keys::quit;
use super::protocol::{Cmd, Part};
use super::reducer::rerun;
use super::state::{
    disagreements, method_pairs, App, DenseCell, EvalState, Focus, LabState, Overlay, PartState,
    PLAYGROUND_MAX,
};

/// Opens the playground; the first time, computes the chapter's example at once.
pub(super) fn open_playground(app: &mut App) -> Vec<Cmd> {
    app.overlay = Overlay::Playground;
    if app.playground.computed.is_empty() && app.part(Part::Bm25) == &PartState::Ready {
        return compute_playground(app);
    }
    Vec::new()
}

/// Puts the chapter's words (학교 / 공부 / 운동) in the playground's lines and computes the
/// matrices and the word2vec section for them.
fn chapter_words(app: &mut App) -> Vec<Cmd> {
    let pg = &mut app.playground;
    pg.lines = crate::word2vec::chapter::CHAPTER_WORDS
        .iter()
        .map(|w| {
            let mut line = crate::tui::editor::Input::default();
            line.set(w);
            line
        })
        .collect();
    pg.row = 0;
    let mut cmds = compute_playground(app);
    cmds.extend(crate::tui::words::ask(app));
    cmds
}

/// Asks for the matrices of the playground's sentences.
pub(super) fn compute_playground(app: &mut App) -> Vec<Cmd> {
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
pub(super) fn playground_key(app: &mut App, key: KeyEvent) -> Vec<Cmd> {
    let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
    match key.code {
        KeyCode::Esc => app.overlay = Overlay::None,
        KeyCode::F(5) => return compute_playground(app),
        KeyCode::Char('g') if ctrl => return compute_playground(app),
        KeyCode::F(8) => return crate::tui::words::ask(app),
        KeyCode::F(9) => return chapter_words(app),
        _ => {
            let pg = &mut app.playground;
            edit_lines(&mut pg.lines, &mut pg.row, key, PLAYGROUND_MAX);
        }
    }
    Vec::new()
}

/// Opens the evaluation overlay; runs the evaluation unless it has run (r runs it again).
/// It runs on a thread of its own: queries keep being answered, Esc leaves it running, c
/// cancels it.
pub(super) fn open_eval(app: &mut App, now: Instant) -> Vec<Cmd> {
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

/// The evaluation's disagreement list: d narrows it to the next pair, ↑/↓ choose, Enter puts
/// the question in the query line and runs it. `None` for keys it does not take.
pub(super) fn eval_list_key(app: &mut App, key: KeyEvent) -> Option<Vec<Cmd>> {
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
pub(super) fn open_lab(app: &mut App) -> Vec<Cmd> {
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
pub(super) fn lab_key(app: &mut App, key: KeyEvent) -> Vec<Cmd> {
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
pub(super) fn judge_key(app: &mut App, key: KeyEvent, row: usize, queries: bool) -> Vec<Cmd> {
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
