//! The session file (Ctrl-S writes it, `--session FILE` restores it at start-up), TOML:
//!
//! ```toml
//! version = 1
//! panes = "dense,bm25,hybrid,rerank"   # the pane spec it started with (or methods = "…")
//! query = "장마는 언제 오나?"            # the query line
//! history = ["…", "…"]                  # the queries typed, oldest first
//! pane = "bm25"                         # the pane last focused (by name)
//! top_k = 10
//! live = true
//! [lesson]                              # when a lesson was open
//! steps = "built-in"                    # or the steps file
//! step = 3                              # 1-based
//! [settings.bm25]                       # each pane's own settings (as in a lesson step)
//! analyzer = "bigram"
//! ```
//!
//! The data, model and other command-line options are not in it: give the same ones again.
use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

use super::format::PaneSettings;
use super::pane_settings::{find_pane, retriever_with, settings_of};
use crate::bm25::AnalyzerKind;
use crate::panes::Panes;
use crate::tui::state::App;

/// The version this bigyo writes and reads.
pub const VERSION: u32 = 1;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SessionFile {
    pub version: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub panes: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub methods: Option<String>,
    #[serde(default)]
    pub query: String,
    #[serde(default)]
    pub history: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pane: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub top_k: Option<usize>,
    #[serde(default = "yes")]
    pub live: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lesson: Option<SavedLesson>,
    #[serde(default)]
    pub settings: BTreeMap<String, PaneSettings>,
}

fn yes() -> bool {
    true
}

/// The lesson open when the session was saved.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SavedLesson {
    /// `built-in` or the steps file.
    pub steps: String,
    /// 1-based.
    pub step: usize,
}

impl SessionFile {
    /// The session on screen.
    pub fn of(app: &App) -> Self {
        let lesson = app.lesson.lesson.as_ref().map(|_| SavedLesson {
            steps: app.lesson.source.clone(),
            step: app.lesson.step + 1,
        });
        let settings = app
            .spec
            .all()
            .iter()
            .map(|p| (p.name.clone(), settings_of(&p.retriever, app.analyzer_kind)))
            .filter(|(_, s)| *s != PaneSettings::default())
            .collect();
        Self {
            version: VERSION,
            panes: app.lesson.panes.clone(),
            methods: app.lesson.methods.clone(),
            query: app.input.text.clone(),
            history: app.history.clone(),
            pane: Some(app.spec.get(app.pane).name.clone()),
            top_k: Some(app.params.top_k),
            live: app.live,
            lesson,
            settings,
        }
    }

    pub fn to_toml(&self) -> Result<String, String> {
        let body = toml::to_string(self).map_err(|e| e.to_string())?;
        Ok(format!(
            "# bigyo session (Ctrl-S in the explorer); `bigyo --session FILE` restores it\n{body}"
        ))
    }

    /// Reads a session file; errors name the file, and the line and field where one is wrong.
    pub fn read(path: &Path) -> Result<Self, String> {
        let name = path.display().to_string();
        let text =
            std::fs::read_to_string(path).map_err(|e| format!("session file {name}: {e}"))?;
        Self::parse(&text, &name)
    }

    pub fn parse(text: &str, file: &str) -> Result<Self, String> {
        let loose: toml::Table = toml::from_str(text).map_err(|e| {
            format!(
                "session file {file}: not a TOML file: {}",
                e.message().trim_end()
            )
        })?;
        match loose.get("version") {
            None => {
                return Err(format!(
                    "session file {file}: no `version` field (not a bigyo session file? \
                     Ctrl-S in the explorer writes one)"
                ))
            }
            Some(toml::Value::Integer(v)) if *v == i64::from(VERSION) => {}
            Some(v) => {
                return Err(format!(
                    "session file {file}: version {v}; this bigyo reads version {VERSION} \
                     (save the session again with this bigyo)"
                ))
            }
        }
        let session: Self = toml::from_str(text).map_err(|e| {
            let line = e.span().map_or(String::new(), |s| {
                let n = text[..s.start.min(text.len())].matches('\n').count() + 1;
                format!(
                    " (line {n}: `{}`)",
                    text.lines().nth(n - 1).unwrap_or("").trim()
                )
            });
            format!("session file {file}: {}{line}", e.message().trim_end())
        })?;
        for (pane, s) in &session.settings {
            s.check()
                .map_err(|(f, why)| format!("session file {file}: settings.{pane}.{f}: {why}"))?;
        }
        if let Some(l) = &session.lesson {
            if l.step == 0 {
                return Err(format!("session file {file}: lesson.step counts from 1"));
            }
        }
        Ok(session)
    }

    /// Gives the panes the saved settings (before anything is built for them).
    pub fn apply_settings(
        &self,
        panes: &mut Panes,
        session: AnalyzerKind,
        file: &str,
    ) -> Result<(), String> {
        for (name, s) in &self.settings {
            let id = panes
                .by_name(name)
                .or_else(|| find_pane(panes, name))
                .ok_or_else(|| {
                    format!("session file {file}: settings.{name}: no pane of that name")
                })?;
            let next = retriever_with(&panes.get(id).retriever, s, session)
                .map_err(|(f, why)| format!("session file {file}: settings.{name}.{f}: {why}"))?;
            panes
                .set_retriever(id, next)
                .map_err(|e| format!("session file {file}: settings.{name}: {e}"))?;
        }
        Ok(())
    }
}
