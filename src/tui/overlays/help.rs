//! The help overlay (F1, ? in a pane) and its second page, the walkthrough of the embedding
//! chapter (w in a pane): Tab or ←/→ switch pages; Esc, ? or Enter close. Drawn by
//! `view/help.rs` from the key table (`keymap.rs`).
use crossterm::event::{KeyCode, KeyEvent};

use super::component::Reaction;
use crate::tui::state::Overlay;

/// The help pages' keys; every other key is swallowed while they are open.
pub fn key(overlay: &mut Overlay, key: KeyEvent) -> Reaction {
    match key.code {
        KeyCode::Tab | KeyCode::BackTab | KeyCode::Left | KeyCode::Right => {
            *overlay = if *overlay == Overlay::Help {
                Overlay::Walkthrough
            } else {
                Overlay::Help
            };
            Reaction::Handled(Vec::new())
        }
        KeyCode::Esc | KeyCode::Char('?') | KeyCode::Enter => Reaction::Close,
        KeyCode::Char('q') => Reaction::Quit,
        _ => Reaction::Handled(Vec::new()),
    }
}
