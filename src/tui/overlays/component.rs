//! What an overlay's key handler answers. The overlays that keep state of their own
//! (evaluation, fusion lab, playground) change only that state and say here what the rest of
//! the explorer must do; the glue in `overlays/mod.rs` carries it out.
use crate::pipeline::SearchParams;
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
    /// Hybrid fuses with `params` from now on: close, say `notice`, run the query again.
    Apply {
        params: SearchParams,
        notice: String,
    },
    /// A refusal to show under the overlay; it stays open.
    Notice(String),
}
