//! The overlays as components (gitui's `src/popups/` shape): each file here is one overlay,
//! its state, its keys and its replies, top to bottom; `view/<name>.rs` draws it.
//!
//! | overlay | file | opened by |
//! |---|---|---|
//! | help, walkthrough | `help.rs` | F1, ? / w in a pane |
//! | detail | `detail.rs` | Enter on a hit |
//! | settings | `../settings.rs` | F2, s in a pane |
//! | evaluation | `eval.rs` | F3, e in a pane |
//! | playground | `playground.rs` | F4, p in a pane |
//! | judge view | `judge.rs` | F6, J in a pane |
//! | fusion lab | `fusion_lab.rs` | F7, f in the evaluation |
//!
//! This module is the glue: the open overlay gets a key first ([`key`], one arm per
//! overlay), and what an overlay answers ([`Reaction`]) is carried out on the rest of the
//! explorer; the `open_*` functions open the overlays that start work.
use std::time::Instant;

use crossterm::event::{KeyCode, KeyEvent};

use self::component::Reaction;
use super::protocol::{Cmd, Part};
use super::settings::{set_pane, settings_key};
use super::state::{App, Focus, Overlay, PaneId, PartState};
use crate::panes::Kind;

pub mod component;
pub mod detail;
pub mod eval;
pub mod fusion_lab;
pub mod help;
pub mod judge;
pub mod playground;
pub mod words;

/// The open overlay's answer to `key`; `None` when no overlay is open or the overlay lets
/// the key go on to the query line or the focused pane.
pub(super) fn key(app: &mut App, key: KeyEvent, now: Instant) -> Option<Vec<Cmd>> {
    let reaction = match app.overlay {
        Overlay::None => return None,
        Overlay::Help | Overlay::Walkthrough => help::key(&mut app.overlay, key),
        Overlay::Detail { ref mut scroll, .. } => detail::key(scroll, key),
        Overlay::Settings { row } => return Some(settings_key(app, key, row)),
        Overlay::Judge { row, queries } => return Some(judge::key(app, key, row, queries)),
        Overlay::Eval => {
            let start = eval_start(app, now);
            app.eval.key(key, start)
        }
        Overlay::Fusion => {
            let ready = bm25_ready(app);
            app.lab.key(key, &app.spec, ready)
        }
        Overlay::Playground => match key.code {
            KeyCode::F(8) => return Some(words::ask(app)),
            KeyCode::F(9) => return Some(words::chapter_words(app)),
            _ => app.playground.key(key),
        },
    };
    react(app, reaction)
}

/// Carries out an overlay's answer.
fn react(app: &mut App, reaction: Reaction) -> Option<Vec<Cmd>> {
    let cmds = match reaction {
        Reaction::Pass => return None,
        Reaction::Handled(cmds) => cmds,
        Reaction::Close => {
            app.overlay = Overlay::None;
            Vec::new()
        }
        Reaction::Quit => app.quit_now(),
        Reaction::Ask(question) => {
            app.input.set(&question);
            app.overlay = Overlay::None;
            app.focus = Focus::Query;
            app.search()
        }
        Reaction::OpenLab => open_lab(app),
        Reaction::SetPane {
            pane,
            retriever,
            notice,
        } => {
            app.overlay = Overlay::None;
            let cmds = set_pane(app, pane, retriever);
            app.notice = Some(notice);
            cmds
        }
        Reaction::Notice(why) => {
            app.notice = Some(why);
            Vec::new()
        }
    };
    Some(cmds)
}

/// Opens the evaluation; runs it unless it has run (r runs it again). It runs on a thread
/// of its own: queries keep being answered.
pub(super) fn open_eval(app: &mut App, now: Instant) -> Vec<Cmd> {
    app.overlay = Overlay::Eval;
    let start = eval_start(app, now);
    app.eval.open(start)
}

/// Opens the fusion lab on the focused hybrid pane (else the first one); runs it the first
/// time (r runs it again).
pub(super) fn open_lab(app: &mut App) -> Vec<Cmd> {
    app.overlay = Overlay::Fusion;
    let ready = bm25_ready(app);
    let hybrid = |p: &PaneId| app.method(*p) == Kind::Hybrid;
    let pane = Some(app.pane)
        .filter(hybrid)
        .or_else(|| app.pane_ids().find(hybrid));
    app.lab.open(ready, pane)
}

/// Opens the playground; the first time, computes the chapter's example at once.
pub(super) fn open_playground(app: &mut App) -> Vec<Cmd> {
    app.overlay = Overlay::Playground;
    let ready = bm25_ready(app);
    app.playground.open(ready)
}

fn bm25_ready(app: &App) -> bool {
    app.part(Part::Bm25) == &PartState::Ready
}

fn eval_start(app: &App, now: Instant) -> eval::Start {
    eval::Start {
        bm25_loading: app.part(Part::Bm25) == &PartState::Loading,
        questions: app
            .corpus
            .as_ref()
            .map_or(0, |c| c.eval_questions().count()),
        now,
    }
}
