//! The lesson file: a TOML list of steps (`bigyo lesson --steps FILE`). The built-in chapter
//! (`assets/lesson/chapter.toml`) is written in the same format and compiled in.
//!
//! ```toml
//! title = "Retrieval, step by step"      # optional
//!
//! [[step]]
//! title = "TF-IDF"                        # required
//! text = "Rare terms weigh more …"        # required; blank lines start paragraphs
//! query = "장마는 언제 오나?"              # optional: typed into the query line and run
//! question = 1                            # optional instead of query: the corpus's Nth question
//! pane = "bm25"                           # optional: the pane the step is about
//! overlay = "playground"                  # optional: none (default), playground, fusion,
//!                                         #   settings, eval, help, walkthrough
//! sentences = ["잠이 안 옵니다", "졸음이 옵니다"]  # optional: the playground's sentences
//! top_k = 10                              # optional: the session's top-k
//! [step.panes.hybrid]                     # optional: a pane's own settings, by pane name
//! method = "rrf"                          #   (or kind): analyzer, pooling, method, k,
//! k = 60                                  #   alpha, norm, depth, weights
//! ```
//!
//! Parsing checks everything that does not depend on the panes on screen: unknown fields,
//! wrong types, values out of range, unknown analyzers or poolings. Every error names the
//! file, the step (number and title) and the field.
use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::bm25::AnalyzerKind;
use crate::fusion::{FusionMethod, Norm};
use crate::model::PoolMode;
use crate::tui::overlays::playground::PLAYGROUND_MAX;

/// The built-in chapter: one-hot/BoW, TF-IDF, dense, bi- vs cross-encoder cost, BM25,
/// hybrid, rerank.
pub const BUILT_IN: &str = include_str!("../../../assets/lesson/chapter.toml");
/// What the built-in lesson is called in messages and session files.
pub const BUILT_IN_NAME: &str = "built-in";

/// A lesson: its title and its steps, in order (at least one).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Lesson {
    #[serde(default)]
    pub title: Option<String>,
    #[serde(default, rename = "step")]
    pub steps: Vec<Step>,
}

/// The overlay a step opens.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum OverlayName {
    #[default]
    None,
    Playground,
    Fusion,
    Settings,
    Eval,
    Help,
    Walkthrough,
}

/// One step: the screen it sets up and its text.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Step {
    pub title: String,
    pub text: String,
    #[serde(default)]
    pub query: Option<String>,
    /// 1-based: the loaded corpus's Nth dataset question.
    #[serde(default)]
    pub question: Option<usize>,
    /// A pane name (as in `--panes`) or kind.
    #[serde(default)]
    pub pane: Option<String>,
    #[serde(default)]
    pub overlay: OverlayName,
    #[serde(default)]
    pub sentences: Option<Vec<String>>,
    #[serde(default)]
    pub top_k: Option<usize>,
    /// Pane name (or kind) -> that pane's own settings.
    #[serde(default)]
    pub panes: BTreeMap<String, PaneSettings>,
}

/// A pane's own settings, named as in the pane spec and the settings overlay (F2). Fields
/// that do not belong to the pane's kind are refused when the step runs.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct PaneSettings {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub analyzer: Option<String>,
    /// A pooling mode, or `default` for the model's own.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pooling: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub method: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub k: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alpha: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub norm: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub depth: Option<usize>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub weights: Option<Vec<f64>>,
}

impl PaneSettings {
    /// Checks every value on its own; `Err((field, why))`.
    pub fn check(&self) -> Result<(), (&'static str, String)> {
        if let Some(a) = &self.analyzer {
            a.parse::<AnalyzerKind>().map_err(|e| ("analyzer", e))?;
        }
        if let Some(p) = self.pooling.as_deref().filter(|p| *p != "default") {
            p.parse::<PoolMode>()
                .map_err(|e| ("pooling", format!("{e}, or default")))?;
        }
        if let Some(m) = &self.method {
            m.parse::<FusionMethod>().map_err(|e| ("method", e))?;
        }
        if let Some(n) = &self.norm {
            n.parse::<Norm>().map_err(|e| ("norm", e))?;
        }
        if let Some(k) = self.k.filter(|k| !(0.0..=1000.0).contains(k)) {
            return Err(("k", format!("{k} is outside 0..=1000")));
        }
        if let Some(a) = self.alpha.filter(|a| !(0.0..=1.0).contains(a)) {
            return Err(("alpha", format!("{a} is outside 0..=1")));
        }
        if let Some(d) = self.depth.filter(|d| !(1..=1000).contains(d)) {
            return Err(("depth", format!("{d} is outside 1..=1000")));
        }
        if let Some(w) = &self.weights {
            if w.iter().any(|x| !(0.0..=5.0).contains(x)) || w.iter().all(|x| *x == 0.0) {
                return Err((
                    "weights",
                    "each weight is 0..=5 and one at least is above 0".into(),
                ));
            }
        }
        Ok(())
    }
}

/// Why a lesson file cannot be used: the file, where, and what.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct LessonError(pub String);

impl Lesson {
    /// The built-in chapter.
    pub fn built_in() -> Self {
        match Self::parse(BUILT_IN, BUILT_IN_NAME) {
            Ok(lesson) => lesson,
            // The asset is checked by a test; a broken one still gives a lesson that says so.
            Err(e) => Self {
                title: Some("broken built-in lesson".into()),
                steps: vec![Step::only_text("broken built-in lesson", &e.0)],
            },
        }
    }

    /// Reads a lesson file.
    pub fn read(path: &std::path::Path) -> Result<Self, LessonError> {
        let name = path.display().to_string();
        let text = std::fs::read_to_string(path)
            .map_err(|e| LessonError(format!("lesson file {name}: {e}")))?;
        Self::parse(&text, &name)
    }

    /// Parses a lesson; `file` names it in errors.
    pub fn parse(text: &str, file: &str) -> Result<Self, LessonError> {
        let lesson: Lesson = toml::from_str(text).map_err(|e| located(text, file, &e))?;
        if lesson.steps.is_empty() {
            return Err(LessonError(format!(
                "lesson file {file}: no steps (each step starts with a [[step]] line)"
            )));
        }
        for (i, step) in lesson.steps.iter().enumerate() {
            step.check().map_err(|(field, why)| {
                LessonError(format!("{}: {field}: {why}", at(file, i, step)))
            })?;
        }
        Ok(lesson)
    }
}

/// `FILE: step N ("TITLE")`.
fn at(file: &str, i: usize, step: &Step) -> String {
    format!("lesson file {file}: step {} (\"{}\")", i + 1, step.title)
}

/// A TOML error with the step it is in (counted from the `[[step]]` lines before it) and the
/// offending line, which names the field.
fn located(text: &str, file: &str, e: &toml::de::Error) -> LessonError {
    let message = e.message().trim_end();
    let Some(span) = e.span() else {
        return LessonError(format!("lesson file {file}: {message}"));
    };
    let before = &text[..span.start.min(text.len())];
    let line_no = before.matches('\n').count() + 1;
    let line = text.lines().nth(line_no - 1).unwrap_or("").trim();
    let steps = before
        .lines()
        .filter(|l| l.trim_start().starts_with("[[step]]"))
        .count();
    let step = if steps == 0 {
        String::new()
    } else {
        format!(" step {steps}:")
    };
    LessonError(format!(
        "lesson file {file}:{step} {message} (line {line_no}: `{line}`)"
    ))
}

impl Step {
    fn only_text(title: &str, text: &str) -> Self {
        Self {
            title: title.into(),
            text: text.into(),
            query: None,
            question: None,
            pane: None,
            overlay: OverlayName::None,
            sentences: None,
            top_k: None,
            panes: BTreeMap::new(),
        }
    }

    /// Checks the values that need no panes; `Err((field, why))`.
    fn check(&self) -> Result<(), (String, String)> {
        let plain = |f: &str, why: &str| Err((f.to_owned(), why.to_owned()));
        if self.title.trim().is_empty() {
            return plain("title", "is empty");
        }
        if self.text.trim().is_empty() {
            return plain("text", "is empty");
        }
        if self.query.is_some() && self.question.is_some() {
            return plain("question", "give query or question, not both");
        }
        if self.question == Some(0) {
            return plain("question", "counts from 1");
        }
        if let Some(s) = &self.sentences {
            if s.len() < 2 || s.len() > PLAYGROUND_MAX {
                return plain(
                    "sentences",
                    &format!("the playground compares 2 to {PLAYGROUND_MAX} sentences"),
                );
            }
        }
        if let Some(k) = self.top_k.filter(|k| !(1..=100).contains(k)) {
            return plain("top_k", &format!("{k} is outside 1..=100"));
        }
        for (pane, settings) in &self.panes {
            settings
                .check()
                .map_err(|(field, why)| (format!("panes.{pane}.{field}"), why))?;
        }
        Ok(())
    }
}
