//! The key bindings as data (helix's `keymap/default.rs` shape): one table of (key, context,
//! action) grouped under the help screen's lines. The key dispatch (`keys.rs`) asks
//! [`lookup`]; the help overlay prints [`KEYMAP`]'s lines in order, so what the help says and
//! what a key does are written in one place. This file imports nothing of the explorer.
//!
//! Inside an open overlay the overlay's own keys come first (`overlays/<name>.rs`, listed in
//! its footer); the lines here that mention them (Esc, Tab in help, f in F3) describe those.
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

/// Which part of the screen a binding works in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Context {
    /// Everywhere, before the open overlay sees the key.
    Global,
    /// The query line has the focus (and no overlay took the key).
    Query,
    /// A pane has the focus (and no overlay took the key).
    Pane,
}

/// Which keys a binding answers to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Key {
    /// This key code, whatever the modifiers.
    Code(KeyCode),
    /// This letter with Control held (other modifiers allowed).
    Ctrl(char),
    /// Any character typed without Control.
    Typed,
    /// A digit 1-9 (the action checks it names a pane).
    Digit,
}

impl Key {
    fn matches(self, key: &KeyEvent) -> bool {
        let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
        match self {
            Key::Code(code) => key.code == code,
            Key::Ctrl(c) => ctrl && key.code == KeyCode::Char(c),
            Key::Typed => !ctrl && matches!(key.code, KeyCode::Char(_)),
            Key::Digit => matches!(key.code, KeyCode::Char('1'..='9')),
        }
    }
}

/// What a key does outside the overlays.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Quit,
    RandomQuestion,
    NextPooling,
    Help,
    Walkthrough,
    Settings,
    Evaluate,
    /// F4: opens the playground, or closes it when open.
    TogglePlayground,
    OpenPlayground,
    FusionLab,
    Judge,
    /// F10: the built-in lesson, then hides / shows the lesson panel.
    Lesson,
    /// The lesson's next / previous step (PgDn / PgUp; the detail view scrolls with them).
    LessonNext,
    LessonBack,
    /// Ctrl-S: the session to its file.
    SaveSession,
    // The query line.
    Search,
    Insert,
    Backspace,
    Delete,
    CursorLeft,
    CursorRight,
    LineStart,
    LineEnd,
    Clear,
    ToggleLive,
    HistoryBack,
    /// Newer in the history, or down into the panes when not walking it.
    HistoryForward,
    /// To the pane last focused.
    FocusPanes,
    FocusLastPane,
    // A pane.
    OpenHit,
    Down,
    /// Up, or to the query line from the first hit.
    Up,
    Top,
    Bottom,
    NextPane,
    PrevPane,
    /// Tab: the next pane, or the query line after the last.
    NextPaneOrQuery,
    /// Shift-Tab: the previous pane, or the query line before the first.
    PrevPaneOrQuery,
    PaneByDigit,
    FocusQuery,
    StartGrading,
    Ungrade,
}

/// One binding: `key` in `context` does `action`.
#[derive(Debug, Clone, Copy)]
pub struct Binding {
    pub key: Key,
    pub context: Context,
    pub action: Action,
}

/// One line of the help screen and the bindings it describes.
#[derive(Debug, Clone, Copy)]
pub struct Entry {
    /// The keys as the help screen writes them.
    pub keys: &'static str,
    pub description: &'static str,
    pub bindings: &'static [Binding],
}

const fn bind(key: Key, context: Context, action: Action) -> Binding {
    Binding {
        key,
        context,
        action,
    }
}

use Action::*;
use Context::{Global, Pane, Query};
use Key::{Code, Ctrl, Digit, Typed};

/// The keys, in the order the help overlay (and the README) lists them.
pub const KEYMAP: &[Entry] = &[
    Entry {
        keys: "typing",
        description: "edits the query (live search after a 250 ms pause)",
        bindings: &[
            bind(Typed, Query, Insert),
            bind(Code(KeyCode::Backspace), Query, Backspace),
            bind(Code(KeyCode::Delete), Query, Delete),
            bind(Code(KeyCode::Left), Query, CursorLeft),
            bind(Code(KeyCode::Right), Query, CursorRight),
            bind(Code(KeyCode::Home), Query, LineStart),
            bind(Ctrl('a'), Query, LineStart),
            bind(Code(KeyCode::End), Query, LineEnd),
            bind(Ctrl('e'), Query, LineEnd),
        ],
    },
    Entry {
        keys: "Enter",
        description: "search now (in a pane: open the hit)",
        bindings: &[
            bind(Code(KeyCode::Enter), Query, Search),
            bind(Code(KeyCode::Enter), Pane, OpenHit),
        ],
    },
    Entry {
        keys: "Up / Down",
        description: "walk the query history; Down leaves the query line",
        bindings: &[
            bind(Code(KeyCode::Up), Query, HistoryBack),
            bind(Code(KeyCode::Down), Query, HistoryForward),
        ],
    },
    Entry {
        keys: "Tab / Shift-Tab",
        description: "next / previous pane (then back to the query)",
        bindings: &[
            bind(Code(KeyCode::Tab), Query, FocusPanes),
            bind(Code(KeyCode::Esc), Query, FocusPanes),
            bind(Code(KeyCode::BackTab), Query, FocusLastPane),
            bind(Code(KeyCode::Tab), Pane, NextPaneOrQuery),
            bind(Code(KeyCode::BackTab), Pane, PrevPaneOrQuery),
        ],
    },
    Entry {
        keys: "j k / ↑ ↓",
        description: "move within a pane; ↑ on the first hit: query",
        bindings: &[
            bind(Code(KeyCode::Down), Pane, Down),
            bind(Code(KeyCode::Char('j')), Pane, Down),
            bind(Code(KeyCode::Up), Pane, Up),
            bind(Code(KeyCode::Char('k')), Pane, Up),
            bind(Code(KeyCode::Home), Pane, Top),
            bind(Code(KeyCode::Char('g')), Pane, Top),
            bind(Code(KeyCode::End), Pane, Bottom),
            bind(Code(KeyCode::Char('G')), Pane, Bottom),
        ],
    },
    Entry {
        keys: "h l / ← →  1-6",
        description: "switch pane (--panes picks the panes)",
        bindings: &[
            bind(Code(KeyCode::Right), Pane, NextPane),
            bind(Code(KeyCode::Char('l')), Pane, NextPane),
            bind(Code(KeyCode::Left), Pane, PrevPane),
            bind(Code(KeyCode::Char('h')), Pane, PrevPane),
            bind(Digit, Pane, PaneByDigit),
        ],
    },
    Entry {
        keys: "/  i  Esc",
        description: "back to the query line",
        bindings: &[
            bind(Code(KeyCode::Char('/')), Pane, FocusQuery),
            bind(Code(KeyCode::Char('i')), Pane, FocusQuery),
            bind(Code(KeyCode::Esc), Pane, FocusQuery),
        ],
    },
    Entry {
        keys: "Ctrl-R",
        description: "ask a random dataset question",
        bindings: &[bind(Ctrl('r'), Global, RandomQuestion)],
    },
    Entry {
        keys: "Ctrl-L",
        description: "live search on / off",
        bindings: &[bind(Ctrl('l'), Query, ToggleLive)],
    },
    Entry {
        keys: "Ctrl-U",
        description: "clear the query",
        bindings: &[bind(Ctrl('u'), Query, Clear)],
    },
    Entry {
        keys: "? F1",
        description: "this help",
        bindings: &[
            bind(Code(KeyCode::Char('?')), Pane, Help),
            bind(Code(KeyCode::F(1)), Global, Help),
        ],
    },
    Entry {
        keys: "s F2",
        description: "settings of the focused pane, then top-k and live search",
        bindings: &[
            bind(Code(KeyCode::Char('s')), Pane, Settings),
            bind(Code(KeyCode::F(2)), Global, Settings),
        ],
    },
    Entry {
        keys: "e F3",
        description: "evaluate every method over the questions (r: again)",
        bindings: &[
            bind(Code(KeyCode::Char('e')), Pane, Evaluate),
            bind(Code(KeyCode::F(3)), Global, Evaluate),
        ],
    },
    Entry {
        keys: "F4  p",
        description: "playground: one-hot, bag of words, TF-IDF, dense cosines",
        bindings: &[
            bind(Code(KeyCode::F(4)), Global, TogglePlayground),
            bind(Code(KeyCode::Char('p')), Pane, OpenPlayground),
        ],
    },
    Entry {
        keys: "F8  F9",
        description: "in the playground: word2vec; the chapter's three words",
        bindings: &[],
    },
    Entry {
        keys: "Ctrl-P",
        description: "next pooling of the focused dense pane (re-embeds)",
        bindings: &[bind(Ctrl('p'), Global, NextPooling)],
    },
    Entry {
        keys: "w  Tab in help",
        description: "walkthrough of the embedding chapter",
        bindings: &[bind(Code(KeyCode::Char('w')), Pane, Walkthrough)],
    },
    Entry {
        keys: "m 0-3  u",
        description: "in a pane: grade the hit 0 (not) … 3 (perfect); u removes",
        bindings: &[
            bind(Code(KeyCode::Char('m')), Pane, StartGrading),
            bind(Code(KeyCode::Char('u')), Pane, Ungrade),
        ],
    },
    Entry {
        keys: "J  F6",
        description: "judge view: pooled hits, one key per grade, Enter reads",
        bindings: &[
            bind(Code(KeyCode::Char('J')), Pane, Judge),
            bind(Code(KeyCode::F(6)), Global, Judge),
        ],
    },
    Entry {
        keys: "F7  f in F3",
        description: "fusion lab: MRR@10 against alpha / weight; a applies it",
        bindings: &[bind(Code(KeyCode::F(7)), Global, FusionLab)],
    },
    Entry {
        keys: "F10  PgDn PgUp",
        description: "lesson: the chapter step by step; next / previous step",
        bindings: &[
            bind(Code(KeyCode::F(10)), Global, Lesson),
            bind(Code(KeyCode::PageDown), Global, LessonNext),
            bind(Code(KeyCode::PageUp), Global, LessonBack),
        ],
    },
    Entry {
        keys: "Ctrl-S",
        description: "save the session (bigyo --session FILE restores it)",
        bindings: &[bind(Ctrl('s'), Global, SaveSession)],
    },
    Entry {
        keys: "Esc",
        description: "close an overlay",
        bindings: &[],
    },
    Entry {
        keys: "q / Ctrl-C",
        description: "quit (q outside the query line)",
        bindings: &[
            bind(Code(KeyCode::Char('q')), Pane, Quit),
            bind(Ctrl('c'), Global, Quit),
        ],
    },
];

/// The action `key` is bound to in `context`: the first binding in table order.
pub fn lookup(context: Context, key: &KeyEvent) -> Option<Action> {
    KEYMAP
        .iter()
        .flat_map(|e| e.bindings)
        .find(|b| b.context == context && b.key.matches(key))
        .map(|b| b.action)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn press(code: KeyCode, modifiers: KeyModifiers) -> KeyEvent {
        KeyEvent::new(code, modifiers)
    }

    #[test]
    fn control_letters_are_not_typed_into_the_query_line() {
        let ctrl_u = press(KeyCode::Char('u'), KeyModifiers::CONTROL);
        assert_eq!(lookup(Context::Query, &ctrl_u), Some(Action::Clear));
        let u = press(KeyCode::Char('u'), KeyModifiers::NONE);
        assert_eq!(lookup(Context::Query, &u), Some(Action::Insert));
        let shifted = press(KeyCode::Char('U'), KeyModifiers::SHIFT);
        assert_eq!(lookup(Context::Query, &shifted), Some(Action::Insert));
    }

    #[test]
    fn a_pane_letter_works_whatever_the_modifiers_and_digits_name_panes() {
        let ctrl_j = press(KeyCode::Char('j'), KeyModifiers::CONTROL);
        assert_eq!(lookup(Context::Pane, &ctrl_j), Some(Action::Down));
        let three = press(KeyCode::Char('3'), KeyModifiers::NONE);
        assert_eq!(lookup(Context::Pane, &three), Some(Action::PaneByDigit));
        let zero = press(KeyCode::Char('0'), KeyModifiers::NONE);
        assert_eq!(lookup(Context::Pane, &zero), None);
        let f9 = press(KeyCode::F(9), KeyModifiers::NONE);
        assert_eq!(lookup(Context::Global, &f9), None);
    }

    #[test]
    fn no_key_is_bound_twice_in_one_context() {
        let all: Vec<&Binding> = KEYMAP.iter().flat_map(|e| e.bindings).collect();
        for (i, a) in all.iter().enumerate() {
            for b in &all[i + 1..] {
                assert!(
                    !(a.context == b.context && a.key == b.key),
                    "{:?} bound twice in {:?}",
                    a.key,
                    a.context
                );
            }
        }
    }
}
