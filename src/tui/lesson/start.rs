//! What the explorer starts with besides its options: a lesson (`bigyo lesson`) and a saved
//! session (`--session FILE`): its panes and their settings before anything is built, then
//! its query line, history and lesson step on the new state.
use std::path::PathBuf;
use std::time::Instant;

use anyhow::{bail, Result};

use super::format::Lesson;
use super::saved::SessionFile;
use crate::plan::Plan;
use crate::session::Options;
use crate::tui::protocol::{Msg, Reply};
use crate::tui::state::App;

/// The lesson and the session the explorer opens with.
#[derive(Debug, Default)]
pub struct Start {
    /// The lesson and where it came from (`built-in` or its file).
    pub lesson: Option<(Lesson, String)>,
    /// The session file restored; Ctrl-S writes back to it.
    pub session: Option<(PathBuf, SessionFile)>,
}

impl Start {
    /// The pane spec of this run: a restored session's, which the command line may repeat but
    /// not contradict. Returns the `--methods` to use; sets `--panes` and top-k.
    pub fn panes(&self, opts: &mut Options, methods: Option<&str>) -> Result<Option<String>> {
        let Some((path, s)) = &self.session else {
            return Ok(methods.map(str::to_owned));
        };
        let given = (opts.retrieval.panes.as_deref(), methods);
        let saved = (s.panes.as_deref(), s.methods.as_deref());
        if given != (None, None) && given != saved {
            bail!(
                "session file {} was saved with {}; drop --panes / --methods (the session's \
                 panes are used) or start without --session",
                path.display(),
                describe(saved)
            );
        }
        opts.retrieval.panes = s.panes.clone();
        if let Some(k) = s.top_k {
            opts.retrieval.top_k = k;
        }
        Ok(s.methods.clone())
    }

    /// The plan with the session's pane settings (a BM25 pane's analyzer, a dense pane's
    /// pooling…) in place, so the right indexes are built from the start.
    pub fn plan(&self, opts: &Options, plan: Plan) -> Result<Plan> {
        let Some((path, s)) = &self.session else {
            return Ok(plan);
        };
        let mut panes = plan.panes;
        s.apply_settings(
            &mut panes,
            opts.retrieval.bm25_analyzer,
            &path.display().to_string(),
        )
        .map_err(anyhow::Error::msg)?;
        Plan::for_panes(opts, panes)
    }

    /// The session's query, history, pane and lesson step on `app`; or the lesson's first
    /// step, set up once the corpus is ready.
    pub fn restore(self, app: &mut App, opts: &Options, methods: Option<String>, now: Instant) {
        app.lesson.panes = opts.retrieval.panes.clone();
        app.lesson.methods = methods;
        app.lesson.session_file = self.session.as_ref().map(|(p, _)| p.clone());
        let Some((_, s)) = self.session else {
            if let Some((lesson, source)) = self.lesson {
                super::begin(app, lesson, source, now);
            }
            return;
        };
        app.history = s.history;
        app.input.set(&s.query);
        app.live = s.live;
        if let Some(id) = s.pane.as_deref().and_then(|n| app.spec.by_name(n)) {
            if id.index() < app.pane_count() {
                app.pane = id;
            }
        }
        if let Some((lesson, source)) = self.lesson {
            let last = lesson.steps.len().saturating_sub(1);
            app.lesson.lesson = Some(std::sync::Arc::new(lesson));
            app.lesson.source = source;
            app.lesson.step = s.lesson.map_or(0, |l| l.step - 1).min(last);
            app.lesson.visible = true;
        }
    }
}

/// `--panes X`, `--methods Y` or the default panes.
fn describe((panes, methods): (Option<&str>, Option<&str>)) -> String {
    match (panes, methods) {
        (Some(p), _) => format!("--panes {p}"),
        (None, Some(m)) => format!("--methods {m}"),
        (None, None) => "the default panes".into(),
    }
}

/// Writes the session file (the event loop does, at Ctrl-S); the answer for the reducer.
pub fn write_session(path: PathBuf, text: &str) -> Msg {
    let result = std::fs::write(&path, text).map_err(|e| e.to_string());
    Msg::Worker(Reply::SessionSaved { path, result })
}
