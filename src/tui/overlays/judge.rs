//! The judge view (J in a pane, F6): relevance judging on the pool of every pane's hits for
//! the query on screen (each row with its rank in every pane, ✓ on the gold, its title and
//! opening words), one key per grade (the cursor moves on to the next unjudged hit), or
//! the list of judged queries (Tab; Enter runs one again). Enter on a pooled hit opens its
//! passage (the detail view). Its state is the cursor in
//! [`Overlay::Judge`]; the grades are the explorer's. Drawn by `view/judge.rs`.
use crossterm::event::{KeyCode, KeyEvent};

use crate::tui::protocol::Cmd;
use crate::tui::state::{App, Overlay};

/// The view on the pool, cursor on the first hit not graded yet: a grade key never lands
/// on a grade already given unless the cursor is moved there.
pub fn open(app: &App) -> Overlay {
    let pool = app.pool();
    let row = pool
        .iter()
        .position(|&p| app.grade_of(p).is_none())
        .unwrap_or(0);
    Overlay::Judge {
        row,
        queries: false,
    }
}

/// The judge view's keys; `row` and `queries` are its state.
pub fn key(app: &mut App, key: KeyEvent, row: usize, queries: bool) -> Vec<Cmd> {
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
        KeyCode::Char('q') => return app.quit_now(),
        KeyCode::Tab | KeyCode::BackTab => set(app, 0, !queries),
        KeyCode::Down | KeyCode::Char('j') => set(app, row + 1, queries),
        KeyCode::Up | KeyCode::Char('k') => set(app, row.saturating_sub(1), queries),
        KeyCode::Enter if queries => {
            let Some(text) = app.judged_queries().get(row).map(|(q, _)| (*q).to_owned()) else {
                return Vec::new();
            };
            app.input.set(&text);
            app.overlay = open(app);
            return app.search();
        }
        KeyCode::Enter => {
            if let Some(&passage) = app.pool().get(row) {
                app.overlay = super::detail::on(app, passage);
            }
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
