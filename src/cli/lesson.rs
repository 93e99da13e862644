//! `bigyo lesson [--steps FILE]` and `--session FILE`: the lesson and the saved session read
//! and checked before the screen changes, so a bad file ends here with its name, the step
//! and the field, and a non-zero exit.
use std::path::Path;

use anyhow::{anyhow, bail, Result};
use bigyo::session::Options;
use bigyo::tui::lesson::format::{Lesson, BUILT_IN_NAME};
use bigyo::tui::lesson::saved::SessionFile;
use bigyo::tui::lesson::Start;

/// `--session` belongs to the explorer and `bigyo lesson`.
pub fn refuse_session(session: Option<&Path>, command: Option<&super::Command>) -> Result<()> {
    use super::Command;
    if session.is_some() && !matches!(command, None | Some(Command::Tui | Command::Lesson { .. })) {
        bail!(
            "--session restores the explorer's saved session; give it to `bigyo` or `bigyo lesson`"
        );
    }
    Ok(())
}

/// The explorer, with the lesson and the session when given (see [`start`]).
pub fn explore(
    opts: Options,
    methods: Option<&str>,
    lesson: Option<Option<&Path>>,
    session: Option<&Path>,
) -> Result<()> {
    if lesson.is_none() && session.is_none() {
        return bigyo::tui::run(opts, methods);
    }
    bigyo::tui::run_with(opts, methods, start(lesson, session)?)
}

/// `lesson`: `Some(steps)` for `bigyo lesson` (`None` steps: the built-in chapter, or the
/// restored session's lesson); `None` for the plain explorer, which opens the session's
/// lesson when it had one.
pub fn start(lesson: Option<Option<&Path>>, session: Option<&Path>) -> Result<Start> {
    let session = match session {
        Some(path) => Some((
            path.to_owned(),
            SessionFile::read(path).map_err(|e| anyhow!(e))?,
        )),
        None => None,
    };
    let saved = session.as_ref().and_then(|(_, s)| s.lesson.as_ref());
    let source = match (lesson, saved) {
        (Some(Some(steps)), _) => Some(steps.display().to_string()),
        (_, Some(l)) => Some(l.steps.clone()),
        (Some(None), None) => Some(BUILT_IN_NAME.to_owned()),
        (None, None) => None,
    };
    let lesson = match source {
        Some(source) if source == BUILT_IN_NAME => Some((Lesson::built_in(), source)),
        Some(source) => Some((Lesson::read(Path::new(&source))?, source)),
        None => None,
    };
    if let (Some((l, source)), Some(saved), Some((path, _))) = (&lesson, saved, &session) {
        if saved.step > l.steps.len() {
            bail!(
                "session file {}: lesson.step {} but the lesson {source} has {} steps",
                path.display(),
                saved.step,
                l.steps.len()
            );
        }
    }
    Ok(Start { lesson, session })
}
