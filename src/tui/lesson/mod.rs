//! Lesson mode: a list of steps ([`format::Lesson`]: the built-in chapter, or a teacher's
//! file) walked with PgDn / PgUp, each setting up the screen it talks about through the
//! explorer's own actions (the query line and its search, a pane's settings as the settings
//! overlay changes them, the playground, the fusion lab), with its text in a panel above the
//! status bar (`view/lesson.rs`). The user types and explores inside a step; the next step
//! sets its own screen up again. Ctrl-S saves the session ([`saved`]).
//!
//! No numbers are written in a step: whatever the screen shows is computed live.
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use self::format::{Lesson, OverlayName, Step};
use self::pane_settings::{find_pane, retriever_with};
use super::overlays::{open_eval, open_lab, open_playground};
use super::protocol::{Cmd, Part};
use super::settings::set_pane;
use super::state::{App, Focus, Overlay, PartState};

pub mod format;
pub mod pane_settings;
pub mod progress;
pub mod saved;
mod start;
#[cfg(test)]
mod tests;

pub use progress::LessonState;
pub use start::{write_session, Start};

/// Where Ctrl-S writes when the explorer was not started with `--session FILE`.
pub const DEFAULT_SESSION_FILE: &str = "bigyo-session.toml";

/// Opens `lesson` at its first step, set up once the corpus is ready (now if it is).
pub fn begin(app: &mut App, lesson: Lesson, source: String, now: Instant) -> Vec<Cmd> {
    app.lesson.lesson = Some(Arc::new(lesson));
    app.lesson.source = source;
    app.lesson.visible = true;
    go(app, 0, now)
}

/// F10: the built-in lesson the first time; then hides and shows the lesson panel.
pub(super) fn toggle(app: &mut App, now: Instant) -> Vec<Cmd> {
    if app.lesson.lesson.is_none() {
        return begin(app, Lesson::built_in(), format::BUILT_IN_NAME.into(), now);
    }
    app.lesson.visible = !app.lesson.visible;
    Vec::new()
}

/// PgDn / PgUp: the next or previous step; `None` (the key goes on) when no lesson shows or
/// the detail view, which scrolls with them, is open.
pub(super) fn step_key(app: &mut App, delta: i64, now: Instant) -> Option<Vec<Cmd>> {
    let (_, at, count) = app.lesson.current()?;
    if matches!(app.overlay, Overlay::Detail { .. }) {
        return None;
    }
    let to = at as i64 + delta;
    if to < 0 || to >= count as i64 {
        let end = if to < 0 { "first" } else { "last" };
        app.notice = Some(format!("this is the lesson's {end} step"));
        return Some(Vec::new());
    }
    Some(go(app, to as usize, now))
}

/// Shows step `index` and sets up its screen.
pub fn go(app: &mut App, index: usize, now: Instant) -> Vec<Cmd> {
    let Some(step) = app
        .lesson
        .lesson
        .as_ref()
        .and_then(|l| l.steps.get(index))
        .cloned()
    else {
        return Vec::new();
    };
    app.lesson.step = index;
    app.lesson.visible = true;
    app.lesson.notice = None;
    if app.part(Part::Corpus) != &PartState::Ready {
        // Nothing to search or to pick a question from yet.
        app.lesson.pending = true;
        return Vec::new();
    }
    set_up(app, &step, now)
}

/// The corpus or BM25 arrived: a step that came before them is set up now.
pub(super) fn on_ready(app: &mut App, now: Instant) -> Vec<Cmd> {
    if !std::mem::take(&mut app.lesson.pending) {
        return Vec::new();
    }
    go(app, app.lesson.step, now)
}

/// Sets up `step`'s screen: the session's top-k, the panes' settings, the pane it is about,
/// the query (run once, after the settings), the playground's sentences and the overlay.
fn set_up(app: &mut App, step: &Step, now: Instant) -> Vec<Cmd> {
    let mut notes = Vec::new();
    let mut cmds = Vec::new();
    app.overlay = Overlay::None;
    app.focus = Focus::Query;
    if let Some(k) = step.top_k.filter(|k| *k != app.params.top_k) {
        app.params.top_k = k;
        cmds.push(Cmd::SetParams(app.params.clone()));
    }
    for (name, settings) in &step.panes {
        let Some(id) = find_pane(&app.spec, name) else {
            notes.push(format!("no pane `{name}` here: its settings are skipped"));
            continue;
        };
        let current = app.spec.get(id).retriever.clone();
        match retriever_with(&current, settings, app.analyzer_kind) {
            Ok(next) if next != current => cmds.extend(set_pane(app, id, next)),
            Ok(_) => {}
            Err((field, why)) => notes.push(format!("panes.{name}.{field}: {why}")),
        }
    }
    if let Some(name) = &step.pane {
        match find_pane(&app.spec, name).filter(|id| id.index() < app.pane_count()) {
            Some(id) => app.pane = id,
            None => notes.push(format!(
                "no pane `{name}` on screen (start with --panes dense,bm25,hybrid,rerank)"
            )),
        }
    }
    // One search, after every setting: the settings' own reruns are dropped.
    let before = cmds.len();
    cmds.retain(|c| !matches!(c, Cmd::Search { .. }));
    let mut search = cmds.len() != before;
    match query_of(app, step) {
        Ok(Some(q)) => {
            app.input.set(&q);
            app.history_pos = None;
            search = true;
        }
        Ok(None) => {}
        Err(why) => notes.push(why),
    }
    if search {
        cmds.extend(app.search());
    }
    if let Some(sentences) = &step.sentences {
        app.playground.lines = sentences
            .iter()
            .map(|s| {
                let mut line = super::editor::Input::default();
                line.set(s);
                line
            })
            .collect();
        app.playground.row = sentences.len().saturating_sub(1);
    }
    cmds.extend(open(app, step.overlay, now));
    app.lesson.notice = (!notes.is_empty()).then(|| notes.join("; "));
    cmds
}

/// The query a step types: its own, or the corpus's Nth question.
fn query_of(app: &App, step: &Step) -> Result<Option<String>, String> {
    if let Some(q) = &step.query {
        return Ok(Some(q.clone()));
    }
    let Some(n) = step.question else {
        return Ok(None);
    };
    let corpus = app.corpus.as_ref().ok_or("no corpus loaded")?;
    let count = corpus.eval_questions().count();
    corpus
        .eval_questions()
        .nth(n.saturating_sub(1))
        .map(|q| Some(q.text.clone()))
        .ok_or_else(|| format!("question {n} asked; the corpus has {count}"))
}

/// Opens the step's overlay; the playground and the fusion lab wait for BM25 (the step is
/// set up again when it is ready).
fn open(app: &mut App, overlay: OverlayName, now: Instant) -> Vec<Cmd> {
    let bm25 = app.part(Part::Bm25) == &PartState::Ready;
    match overlay {
        OverlayName::None => Vec::new(),
        OverlayName::Playground => {
            app.lesson.pending |= !bm25;
            let mut cmds = open_playground(app);
            if bm25 && cmds.is_empty() && app.playground.edited() {
                cmds = app.playground.compute();
            }
            cmds
        }
        OverlayName::Fusion => {
            app.lesson.pending |= !bm25;
            open_lab(app)
        }
        OverlayName::Settings => {
            app.overlay = Overlay::Settings { row: 0 };
            Vec::new()
        }
        OverlayName::Eval => open_eval(app, now),
        OverlayName::Help => {
            app.overlay = Overlay::Help;
            Vec::new()
        }
        OverlayName::Walkthrough => {
            app.overlay = Overlay::Walkthrough;
            Vec::new()
        }
    }
}

/// Ctrl-S: the session as it is now, to the session file (written by the event loop).
pub(super) fn save(app: &mut App) -> Vec<Cmd> {
    let path = app
        .lesson
        .session_file
        .clone()
        .unwrap_or_else(|| PathBuf::from(DEFAULT_SESSION_FILE));
    match saved::SessionFile::of(app).to_toml() {
        Ok(text) => vec![Cmd::SaveSession { path, text }],
        Err(why) => {
            app.notice = Some(format!("session not saved: {why}"));
            Vec::new()
        }
    }
}

/// The session file is written, or why not.
pub(super) fn on_saved(app: &mut App, path: &std::path::Path, result: Result<(), String>) {
    app.notice = Some(match result {
        Ok(()) => format!(
            "session saved to {} (bigyo --session {} restores it)",
            path.display(),
            path.display()
        ),
        Err(why) => format!("session not saved to {}: {why}", path.display()),
    });
}
