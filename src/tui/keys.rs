//! Keys outside the overlays, dispatched through the key table (`keymap.rs`): the ones that
//! work everywhere (Ctrl-C, Ctrl-R, Ctrl-P, F1-F7) first, then the open overlay's (each
//! overlay's own file under `overlays/`), else the query line's or the focused pane's.
use std::time::Instant;

use crossterm::event::{KeyCode, KeyEvent};

use super::keymap::{lookup, Action, Context};
use super::lesson;
use super::overlays::{self, detail, judge, open_eval, open_lab, open_playground};
use super::protocol::Cmd;
use super::settings::switch_pooling;
use super::state::{App, Focus, Overlay, PaneId};

pub(super) fn on_key(app: &mut App, key: KeyEvent, now: Instant) -> Vec<Cmd> {
    if let Some(action) = lookup(Context::Global, &key) {
        // The lesson's keys go on when no lesson shows (or the detail view scrolls).
        if let Some(cmds) = anywhere(app, action, now) {
            return cmds;
        }
    }
    app.notice = None;
    if let Some(cmds) = overlays::key(app, key, now) {
        return cmds;
    }
    match app.focus {
        Focus::Query => match lookup(Context::Query, &key) {
            Some(action) => query_action(app, action, key, now),
            None => Vec::new(),
        },
        Focus::Pane(pane) => {
            if std::mem::take(&mut app.grading) {
                return grade_key(app, key);
            }
            match lookup(Context::Pane, &key) {
                Some(action) => pane_action(app, action, key, pane, now),
                None => Vec::new(),
            }
        }
    }
}

/// The actions that do the same wherever their key is pressed: quitting, a random question,
/// pooling, opening an overlay. `None` for the query line's and the panes' own.
fn anywhere(app: &mut App, action: Action, now: Instant) -> Option<Vec<Cmd>> {
    let open = |app: &mut App, overlay: Overlay| {
        app.overlay = overlay;
        Vec::new()
    };
    Some(match action {
        Action::Quit => app.quit_now(),
        Action::RandomQuestion => random_question(app),
        Action::NextPooling => switch_pooling(app, 1),
        Action::Help => open(app, Overlay::Help),
        Action::Walkthrough => open(app, Overlay::Walkthrough),
        Action::Settings => open(app, Overlay::Settings { row: 0 }),
        Action::Judge => {
            let judge = judge::open(app);
            open(app, judge)
        }
        Action::Evaluate => open_eval(app, now),
        Action::TogglePlayground if app.overlay == Overlay::Playground => open(app, Overlay::None),
        Action::TogglePlayground | Action::OpenPlayground => open_playground(app),
        Action::FusionLab => open_lab(app),
        Action::Lesson => lesson::toggle(app, now),
        Action::LessonNext => return lesson::step_key(app, 1, now),
        Action::LessonBack => return lesson::step_key(app, -1, now),
        Action::SaveSession => lesson::save(app),
        _ => return None,
    })
}

/// The query line's actions.
fn query_action(app: &mut App, action: Action, key: KeyEvent, now: Instant) -> Vec<Cmd> {
    match action {
        Action::Search => return app.search(),
        Action::Insert => {
            if let KeyCode::Char(c) = key.code {
                app.input.insert(c);
                app.edited(now);
            }
        }
        Action::Clear => {
            app.input.set("");
            app.edited(now);
        }
        Action::Backspace => {
            if app.input.backspace() {
                app.edited(now);
            }
        }
        Action::Delete => {
            if app.input.delete() {
                app.edited(now);
            }
        }
        Action::LineStart => app.input.cursor = 0,
        Action::LineEnd => app.input.cursor = app.input.len(),
        Action::CursorLeft => app.input.cursor = app.input.cursor.saturating_sub(1),
        Action::CursorRight => app.input.cursor = (app.input.cursor + 1).min(app.input.len()),
        Action::ToggleLive => app.live = !app.live,
        Action::HistoryBack => {
            if history_back(app) {
                app.recalled(now);
            }
        }
        Action::HistoryForward if app.history_pos.is_some() => {
            history_forward(app);
            app.recalled(now);
        }
        Action::HistoryForward | Action::FocusPanes => app.focus = Focus::Pane(app.pane),
        Action::FocusLastPane => {
            app.pane = PaneId::last(app.pane_count());
            app.focus = Focus::Pane(app.pane);
        }
        other => return anywhere(app, other, now).unwrap_or_default(),
    }
    Vec::new()
}

/// The focused pane's actions.
fn pane_action(
    app: &mut App,
    action: Action,
    key: KeyEvent,
    pane: PaneId,
    now: Instant,
) -> Vec<Cmd> {
    let count = app.pane_count();
    let n = app.hits_in(pane);
    let focus = |app: &mut App, to: PaneId| {
        app.pane = to;
        app.focus = Focus::Pane(to);
    };
    match action {
        Action::StartGrading => {
            app.grading = true;
            app.notice = Some("grade the selected hit: 0 not relevant … 3 perfect".into());
        }
        Action::Ungrade => {
            if let Some(p) = app.selected_passage() {
                return app.grade(p, None);
            }
        }
        Action::NextPaneOrQuery if pane.is_last(count) => app.focus = Focus::Query,
        Action::NextPane | Action::NextPaneOrQuery => focus(app, pane.next(count)),
        Action::PrevPaneOrQuery if pane == PaneId::default() => app.focus = Focus::Query,
        Action::PrevPane | Action::PrevPaneOrQuery => focus(app, pane.prev(count)),
        Action::Down if app.selected[pane] + 1 < n => app.selected[pane] += 1,
        Action::Down => {}
        Action::Up if app.selected[pane] == 0 => app.focus = Focus::Query,
        Action::Up => app.selected[pane] -= 1,
        Action::Top => app.selected[pane] = 0,
        Action::Bottom => app.selected[pane] = n.saturating_sub(1),
        Action::PaneByDigit => {
            if let KeyCode::Char(c) = key.code {
                if let Some(to) = PaneId::from_digit(c, count) {
                    focus(app, to);
                }
            }
        }
        Action::OpenHit => {
            if let Some(overlay) = detail::open(app) {
                app.overlay = overlay;
            }
        }
        Action::FocusQuery => app.focus = Focus::Query,
        other => return anywhere(app, other, now).unwrap_or_default(),
    }
    Vec::new()
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
