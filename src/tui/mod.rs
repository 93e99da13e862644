//! The four-pane explorer: a query line, Semantic / BM25 / Hybrid (RRF) / Rerank side by side,
//! a status bar, and overlays for a passage's detail, help, settings and evaluation.
//!
//! - [`protocol`]: the messages: [`protocol::Cmd`] to the worker, [`protocol::Reply`] back.
//! - [`state`]: everything the screen shows; [`reducer`]: `update(&mut App, Msg, now) ->
//!   Vec<Cmd>`, no IO; it hands keys to `keys`, which dispatches through the key table
//!   `keymap` (the help screen prints the same table): global keys first, then the open
//!   overlay's, else the query line's or the focused pane's. Each overlay is a component
//!   in `overlays/` (its state, keys and replies in one file; `settings` is the settings
//!   overlay's); `editor` is the text editing the query line and the playground share.
//! - [`view`]: `draw(frame, &App)`, a pure function of the state.
//! - [`worker`]: the query worker, and the threads it starts: [`models`] (loading and
//!   embedding), [`rerank`] (the cross-encoder), evaluation and BM25 rebuilds.
//! - [`control`]: the quit flag and thread handles that let quitting stop them in order.
//! - this module: the terminal and the event loop that joins them.
use std::io::Stdout;
use std::sync::mpsc::{channel, RecvTimeoutError, Sender};
use std::thread;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result};
use crossterm::event::Event as TermEvent;
use crossterm::execute;
use crossterm::terminal::{
    disable_raw_mode, enable_raw_mode, EnterAlternateScreen, LeaveAlternateScreen,
};
use ratatui::backend::CrosstermBackend;
use ratatui::Terminal;

use crate::session::Options;

mod background;
mod control;
#[cfg(test)]
mod detail_snapshots;
mod editor;
#[cfg(test)]
mod fixture;
pub mod gold;
#[cfg(test)]
mod gold_snapshots;
pub mod images;
mod inbox;
mod keymap;
mod keys;
pub mod lesson;
mod models;
mod overlays;
#[cfg(test)]
mod pane_snapshots;
pub mod protocol;
pub mod reducer;
mod rerank;
mod settings;
#[cfg(test)]
mod snapshots;
mod startup;
pub mod state;
#[cfg(test)]
mod tests;
pub mod trainer;
pub mod view;
pub mod words;
pub mod worker;

use inbox::Inbox;
use protocol::{Cmd, Msg};
use reducer::update;
use state::{App, Labels};

/// Runs the explorer until the user quits. The terminal is restored on return, on error and
/// on panic.
/// `methods` is `--methods`, the short form of the pane spec.
pub fn run(opts: Options, methods: Option<&str>) -> Result<()> {
    run_with(opts, methods, lesson::Start::default())
}

/// As [`run`], with a lesson open and / or a saved session restored (`bigyo lesson`,
/// `--session FILE`).
pub fn run_with(mut opts: Options, methods: Option<&str>, start: lesson::Start) -> Result<()> {
    // hf-hub's own download bars would write over the screen.
    opts.download_progress = false;
    let seed = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(1, |d| d.as_nanos() as u64);
    // Bad options, a bad pane spec or a pane's bad model options end here, before the screen
    // changes, as on the command line.
    let methods = start.panes(&mut opts, methods)?;
    let plan = start.plan(&opts, crate::plan::Plan::new(&opts, methods.as_deref())?)?;
    // Offline with no --model: the set-up's local Korean model, said on the status bar.
    let settled = if plan.uses_session_model() {
        crate::session::settle_model(&mut opts)
    } else {
        None
    };
    let labels = Labels {
        model: opts.model.model.clone(),
        reranker: opts.model.reranker.clone(),
        device: String::new(),
    };
    // An unusable local data file ends here too (read in a moment); a hub dataset, which may take
    // minutes to download, loads behind the screen with its progress shown.
    let corpus = match &opts.data.data {
        Some(_) => Some(std::sync::Arc::new(crate::session::load_corpus(
            &opts,
            &mut |_| {},
        )?)),
        None => None,
    };
    let panes = std::sync::Arc::new(plan.panes.clone());
    let mut app = App::new(
        opts.retrieval.params(),
        opts.retrieval.bm25_analyzer,
        panes,
        labels,
        seed,
    );
    // https://no-color.org: set and not empty.
    app.color = std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty());
    app.warnings.extend(settled);
    start.restore(&mut app, &opts, methods, Instant::now());

    let (tx, rx) = channel::<Msg>();
    let control = control::Control::new();
    let worker = startup::spawn(opts, (plan, corpus), tx.clone(), control.clone())?;
    let mut screen = Screen::enter()?;
    spawn_input(tx, Msg::Key, || Msg::Tick)?;

    loop {
        screen
            .terminal
            .draw(|frame| view::draw(frame, &app))
            .context("drawing the screen")?;
        // Block until something happens, or the debounce (or a periodic redraw) is due.
        let wait = app.debounce.map_or(Duration::from_secs(1), |at| {
            at.saturating_duration_since(Instant::now())
        });
        let mut pending = Vec::new();
        match rx.recv_timeout(wait) {
            Ok(msg) => pending.push(msg),
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => break,
        }
        pending.extend(rx.try_iter());
        pending.push(Msg::Tick);
        let mut written = Vec::new();
        for msg in pending {
            for cmd in update(&mut app, msg, Instant::now()) {
                if let Cmd::SaveSession { path, text } = cmd {
                    written.push(lesson::write_session(path, &text));
                } else if cmd != Cmd::Quit && worker.send(Inbox::Cmd(cmd)).is_err() {
                    tracing::warn!("the worker has stopped");
                }
            }
        }
        for msg in written {
            update(&mut app, msg, Instant::now());
        }
        if app.quit {
            break;
        }
    }
    // Every thread stops at its next batch and drops its models itself; libtorch must not
    // be torn down (at process exit) under an op still running.
    let _ = worker.send(Inbox::Cmd(Cmd::Quit));
    let stopped = control.shut_down(QUIT_BOUND);
    drop(screen);
    if !stopped {
        // A step that cannot be interrupted (a download, one huge batch) is still running:
        // leave without running exit handlers, so nothing is torn down under it.
        use std::io::Write;
        let _ = std::io::stdout().flush();
        tracing::warn!("leaving with a thread still busy");
        // SAFETY: `_exit` ends the process at once; the terminal is already restored and
        // nothing after this point is expected to run.
        unsafe { libc::_exit(0) }
    }
    Ok(())
}

/// How long quitting waits for the threads to stop at a batch boundary.
const QUIT_BOUND: Duration = Duration::from_secs(5);

/// Reads terminal events on their own thread, so the loop blocks on one channel: a key
/// becomes `key(event)`, a resize `resized` (a redraw). The explorer and the image search
/// share it, each with its own message type.
pub(crate) fn spawn_input<M: Send + 'static>(
    tx: Sender<M>,
    key: fn(crossterm::event::KeyEvent) -> M,
    resized: fn() -> M,
) -> Result<()> {
    thread::Builder::new()
        .name("bigyo-input".into())
        .spawn(move || loop {
            let msg = match crossterm::event::read() {
                Ok(TermEvent::Key(event)) => key(event),
                Ok(TermEvent::Resize(..)) => resized(),
                Ok(_) => continue,
                Err(e) => {
                    tracing::error!("reading the terminal: {e}");
                    return;
                }
            };
            if tx.send(msg).is_err() {
                return;
            }
        })
        .context("starting the input thread")?;
    Ok(())
}

/// The terminal in raw mode on the alternate screen; dropping it restores the terminal.
pub(crate) struct Screen {
    terminal: Terminal<CrosstermBackend<Stdout>>,
}

impl Screen {
    pub(crate) fn enter() -> Result<Self> {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            // A worker thread's panic is caught and shown in the status bar; printing it
            // would write over the screen. It goes to the log.
            let on_main = thread::current().name() == Some("main");
            if on_main {
                restore();
                previous(info);
            } else {
                tracing::error!("{info}");
            }
        }));
        enable_raw_mode().context("switching the terminal to raw mode")?;
        if let Err(e) = execute!(std::io::stdout(), EnterAlternateScreen) {
            restore();
            return Err(e).context("entering the alternate screen");
        }
        match Terminal::new(CrosstermBackend::new(std::io::stdout())) {
            Ok(mut terminal) => {
                let _ = terminal.clear();
                Ok(Self { terminal })
            }
            Err(e) => {
                restore();
                Err(e).context("opening the terminal")
            }
        }
    }
}

impl Drop for Screen {
    fn drop(&mut self) {
        let _ = self.terminal.show_cursor();
        restore();
    }
}

fn restore() {
    let _ = disable_raw_mode();
    let _ = execute!(std::io::stdout(), LeaveAlternateScreen);
}
