//! The lesson's state in the explorer's [`App`](crate::tui::state::App) (a leaf: it knows
//! the lesson format only).
use std::path::PathBuf;
use std::sync::Arc;

use super::format::{Lesson, Step};

/// The lesson's state in the explorer, and what a session file needs that the rest of the
/// state does not keep.
#[derive(Debug, Clone, Default)]
pub struct LessonState {
    pub lesson: Option<Arc<Lesson>>,
    /// `built-in`, or the steps file as given.
    pub source: String,
    /// The step on screen (0-based).
    pub step: usize,
    /// Whether the lesson panel shows (F10 hides it and shows it again).
    pub visible: bool,
    /// What the step could not set up (a pane not on screen), said in its panel.
    pub notice: Option<String>,
    /// The step is set up again once the corpus and BM25 are ready (it came before them).
    pub pending: bool,
    /// The pane spec as given at start-up (`--panes`, `--methods`), for the session file.
    pub panes: Option<String>,
    pub methods: Option<String>,
    /// Where Ctrl-S writes.
    pub session_file: Option<PathBuf>,
}

impl LessonState {
    /// The step on screen, when a lesson is open and shown.
    pub fn current(&self) -> Option<(&Step, usize, usize)> {
        let lesson = self.lesson.as_ref().filter(|_| self.visible)?;
        let step = lesson.steps.get(self.step)?;
        Some((step, self.step, lesson.steps.len()))
    }

    /// The lesson's title.
    pub fn title(&self) -> &str {
        self.lesson
            .as_ref()
            .and_then(|l| l.title.as_deref())
            .unwrap_or("Lesson")
    }
}
