//! What an overlay's key handler answers. The overlays that keep state of their own
//! (evaluation, fusion lab, playground) change only that state and say here what the rest of
//! the explorer must do; the glue in `overlays/mod.rs` carries it out.
use crate::panes::{PaneId, Retriever};
use crate::tui::protocol::Cmd;

/// An overlay's answer to a key.
#[derive(Debug, Clone, PartialEq)]
pub enum Reaction {
    /// Not this overlay's key: it goes on to the query line or the focused pane.
    Pass,
    /// Taken; the overlay stays open; these commands go to the worker.
    Handled(Vec<Cmd>),
    Close,
    Quit,
    /// Put this question in the query line, close the overlay and run it.
    Ask(String),
    /// Open the fusion lab (from the evaluation).
    OpenLab,
    /// `pane` has `retriever` from now on (its own settings changed): close, say `notice`,
    /// run the query again.
    SetPane {
        pane: PaneId,
        retriever: Retriever,
        notice: String,
    },
    /// A refusal to show under the overlay; it stays open.
    Notice(String),
}
