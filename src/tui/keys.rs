//! Keys: the ones that work everywhere (Ctrl-C, Ctrl-R, Ctrl-P, F1-F7), then the open
//! overlay's ([`super::overlays`], [`super::settings`]), else the query line's or the
//! focused pane's.
use std::time::Instant;

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

use super::overlays::{
    eval_list_key, judge_key, lab_key, open_eval, open_lab, open_playground, playground_key,
};
use super::protocol::{Cmd, EvalLabels};
use super::settings::{settings_key, switch_pooling};
use super::state::{App, EvalState, Focus, Overlay, PaneId, PaneRank, Standing};
use crate::panes::Kind;

pub(super) fn on_key(app: &mut App, key: KeyEvent, now: Instant) -> Vec<Cmd> {
    if let Some(cmds) = global_key(app, key, now) {
        return cmds;
    }
    app.notice = None;
    if let Some(cmds) = overlay_key(app, key, now) {
        return cmds;
    }
    match app.focus {
        Focus::Query => query_key(app, key, now),
        Focus::Pane(p) => pane_key(app, key, p, now),
    }
}

/// Keys that work everywhere: quitting, a random question, pooling, the function keys.
fn global_key(app: &mut App, key: KeyEvent, now: Instant) -> Option<Vec<Cmd>> {
    let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
    if ctrl && key.code == KeyCode::Char('c') {
        app.quit = true;
        return Some(vec![Cmd::Quit]);
    }
    if ctrl && key.code == KeyCode::Char('r') {
        return Some(random_question(app));
    }
    if ctrl && key.code == KeyCode::Char('p') {
        return Some(switch_pooling(app, 1));
    }
    match key.code {
        KeyCode::F(4) if app.overlay == Overlay::Playground => {
            app.overlay = Overlay::None;
            return Some(Vec::new());
        }
        KeyCode::F(4) => return Some(open_playground(app)),
        KeyCode::F(1) => {
            app.overlay = Overlay::Help;
            return Some(Vec::new());
        }
        KeyCode::F(2) => {
            app.overlay = Overlay::Settings { row: 0 };
            return Some(Vec::new());
        }
        KeyCode::F(3) => return Some(open_eval(app, now)),
        KeyCode::F(7) => return Some(open_lab(app)),
        KeyCode::F(6) => {
            app.overlay = Overlay::Judge {
                row: 0,
                queries: false,
            };
            return Some(Vec::new());
        }
        _ => {}
    }
    None
}

/// The open overlay's keys; `None` when the key goes on to the query line or a pane.
fn overlay_key(app: &mut App, key: KeyEvent, now: Instant) -> Option<Vec<Cmd>> {
    let cmds = match app.overlay.clone() {
        Overlay::None => return None,
        Overlay::Eval if key.code == KeyCode::Char('r') => {
            if !app.eval.running() {
                app.eval = EvalState::NotRun;
            }
            open_eval(app, now)
        }
        Overlay::Eval if key.code == KeyCode::Char('l') => {
            if app.eval.running() {
                return Some(Vec::new());
            }
            app.eval_labels = match app.eval_labels {
                EvalLabels::Gold => EvalLabels::Judgments,
                EvalLabels::Judgments => EvalLabels::Gold,
            };
            app.eval = EvalState::NotRun;
            open_eval(app, now)
        }
        Overlay::Judge { row, queries } => judge_key(app, key, row, queries),
        Overlay::Eval if key.code == KeyCode::Char('f') => open_lab(app),
        Overlay::Fusion => lab_key(app, key),
        // Keys the list does not take fall through to the query line or pane.
        Overlay::Eval if matches!(app.eval, EvalState::Done(Ok(_))) => eval_list_key(app, key)?,
        Overlay::Eval if key.code == KeyCode::Char('c') => {
            if let EvalState::Running { done, total, .. } = app.eval {
                app.eval = EvalState::Cancelled { done, total };
                vec![Cmd::CancelEval]
            } else {
                Vec::new()
            }
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
            Vec::new()
        }
        Overlay::Playground => playground_key(app, key),
        Overlay::Help | Overlay::Eval | Overlay::Walkthrough => match key.code {
            KeyCode::Esc | KeyCode::Char('?') | KeyCode::Enter => {
                app.overlay = Overlay::None;
                Vec::new()
            }
            KeyCode::Char('q') => quit(app),
            _ => Vec::new(),
        },
        Overlay::Detail {
            passage,
            scroll,
            ranks,
        } => detail_key(app, key, passage, scroll, ranks),
        Overlay::Settings { row } => settings_key(app, key, row),
    };
    Some(cmds)
}

/// Keys of the detail view: scroll, close, quit.
fn detail_key(
    app: &mut App,
    key: KeyEvent,
    passage: usize,
    scroll: u16,
    ranks: Vec<PaneRank>,
) -> Vec<Cmd> {
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
    Vec::new()
}

pub(super) fn quit(app: &mut App) -> Vec<Cmd> {
    app.quit = true;
    vec![Cmd::Quit]
}

pub(super) fn random_question(app: &mut App) -> Vec<Cmd> {
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

pub(super) fn query_key(app: &mut App, key: KeyEvent, now: Instant) -> Vec<Cmd> {
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
            app.pane = PaneId::last(app.pane_count());
            app.focus = Focus::Pane(app.pane);
            Vec::new()
        }
        _ => Vec::new(),
    }
}

/// One step back in the history; the walk starts below the entry the query line already
/// shows (the query that just ran is the newest entry). False when there is nothing older.
pub(super) fn history_back(app: &mut App) -> bool {
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

pub(super) fn history_forward(app: &mut App) {
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
    app.pane_ids()
        .map(|pane| {
            let method = app.method(pane);
            let rank = match results.pane(pane) {
                None if method == Kind::Rerank && app.rerank_progress.is_some() => {
                    Standing::Reranking
                }
                None => Standing::DidNotRun,
                Some(r) => match (&r.error, r.rank_of(passage)) {
                    (Some(e), _) => Standing::Unavailable(e.clone()),
                    (None, Some(rank)) => Standing::Ranked(rank, r.ranking[rank - 1].1),
                    (None, None) => Standing::Beyond(r.ranking.len()),
                },
            };
            PaneRank { pane, method, rank }
        })
        .collect()
}

/// The key after `m`: a grade 0-3 for the selected hit (digits switch panes otherwise).
fn grade_key(app: &mut App, key: KeyEvent) -> Vec<Cmd> {
    match key.code {
        KeyCode::Char(c @ '0'..='3') => match app.selected_passage() {
            Some(p) => app.grade(p, Some(c as u8 - b'0')),
            None => Vec::new(),
        },
        _ => {
            app.notice = Some("grading cancelled (m then 0, 1, 2 or 3)".into());
            Vec::new()
        }
    }
}

pub(super) fn pane_key(app: &mut App, key: KeyEvent, pane: PaneId, now: Instant) -> Vec<Cmd> {
    let count = app.pane_count();
    let n = app.hits_in(pane);
    if std::mem::take(&mut app.grading) {
        return grade_key(app, key);
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
            if pane.is_last(count) && key.code == KeyCode::Tab {
                app.focus = Focus::Query;
            } else {
                app.pane = pane.next(count);
                app.focus = Focus::Pane(app.pane);
            }
        }
        KeyCode::BackTab | KeyCode::Left | KeyCode::Char('h') => {
            if pane == PaneId::default() && key.code == KeyCode::BackTab {
                app.focus = Focus::Query;
            } else {
                app.pane = pane.prev(count);
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
        KeyCode::Char(c) if PaneId::from_digit(c, count).is_some() => {
            app.pane = PaneId::from_digit(c, count).unwrap_or(pane);
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
