//! The status bar: what is loading or running, the models, the cost of the last query.
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;
use ratatui::Frame;

use super::text::clip;
use super::{human_secs, Theme};
use crate::data::SAMPLE_SOURCE;
use crate::pipeline::Missing;
use crate::render::{cost_line, fit};
use crate::session::ms;
use crate::tui::overlays::eval::EvalState;
use crate::tui::protocol::{Part, PoolingState};
use crate::tui::state::{App, PartState};

pub(super) fn status_first_line(app: &App, theme: &Theme) -> Vec<Span<'static>> {
    let mut spans = Vec::new();
    if let Some(stage) = &app.stage {
        spans.push(Span::styled(format!("⟳ {}", stage.step), theme.focus()));
        if let Some(total) = stage.total.filter(|t| *t > 0) {
            let cells = 20usize;
            let full = ((stage.done.min(total) as f64 / total as f64) * cells as f64) as usize;
            spans.push(Span::raw(format!(
                " [{}{}] {}/{}",
                "█".repeat(full),
                "░".repeat(cells - full),
                stage.done,
                total
            )));
            match stage.eta {
                Some(eta) => spans.push(Span::raw(format!(" · ETA {}s", eta.as_secs()))),
                // Nothing has come back yet: the time so far, so a slow first answer (a
                // remote endpoint) never looks frozen.
                None if stage.elapsed.as_secs() >= 1 => spans.push(Span::raw(format!(
                    " · {}s, waiting for the first answer",
                    stage.elapsed.as_secs()
                ))),
                None => {}
            }
        }
    } else if app.ready() {
        let (text, style) = readiness(app);
        spans.push(Span::styled(text, style(theme)));
    } else {
        spans.push(Span::styled("Loading…", theme.focus()));
    }
    if let Some((done, total)) = app.rerank_progress {
        spans.push(Span::styled(
            format!(" · reranking {done}/{total}"),
            theme.focus(),
        ));
    }
    if let EvalState::Running {
        done, total, eta, ..
    } = &app.eval.state
    {
        let eta = eta.map_or(String::new(), |e| format!(" · ETA {}", human_secs(e)));
        spans.push(Span::styled(
            format!(" · evaluating {done}/{total}{eta} (F3)"),
            theme.focus(),
        ));
    }
    for (i, state) in app.parts.iter().enumerate() {
        if let PartState::Failed(why) = state {
            let part = [Part::Corpus, Part::Bm25, Part::Dense, Part::Reranker][i];
            if i > 0 && *why == Missing::NoCorpus {
                continue;
            }
            spans.push(Span::styled(
                format!(" · {} could not be loaded: {why}", part.name()),
                theme.error(),
            ));
        }
    }
    if let Some(n) = &app.notice {
        spans.push(Span::styled(format!(" · {n}"), theme.focus()));
    }
    if let Some(w) = app.warnings.last() {
        // A later warning never hides an earlier one unsaid: the count stays on screen
        // (the bundled-sample fallback also marks the corpus on the second line).
        let more = match app.warnings.len() {
            1 => String::new(),
            n => format!(" (+{} earlier, in the log)", n - 1),
        };
        spans.push(Span::styled(
            format!(" · warning: {w}{more}"),
            theme.error(),
        ));
    }
    for w in app.analyzer_warnings_in_use() {
        spans.push(Span::styled(format!(" · warning: {w}"), theme.error()));
    }
    spans
}

/// Once nothing loads any more: `Ready` when every part the panes need loaded, else what
/// can answer (`Ready: BM25 only`), or that nothing can.
fn readiness(app: &App) -> (String, fn(&Theme) -> ratatui::style::Style) {
    let parts = [Part::Bm25, Part::Dense, Part::Reranker];
    let failed = parts
        .iter()
        .any(|&p| matches!(app.part(p), PartState::Failed(_)));
    if !failed && app.part(Part::Corpus) == &PartState::Ready {
        return ("Ready".into(), Theme::gold);
    }
    let ready: Vec<&str> = parts
        .iter()
        .filter(|&&p| app.part(p) == &PartState::Ready)
        .map(|&p| p.name())
        .collect();
    match ready[..] {
        _ if app.part(Part::Corpus) != &PartState::Ready => {
            ("Nothing to search: no corpus".into(), Theme::error)
        }
        [] => ("Nothing could be loaded".into(), Theme::error),
        [one] => (format!("Ready: {one} only"), Theme::focus),
        _ => (format!("Ready: {}", ready.join(" and ")), Theme::focus),
    }
}

pub(super) fn draw_status(frame: &mut Frame, app: &App, theme: &Theme, area: Rect) {
    if area.height == 0 || area.width == 0 {
        return;
    }
    let width = area.width as usize;
    let mut lines = vec![clip(status_first_line(app, theme), width)];
    if area.height >= 2 {
        let passages = app.corpus.as_ref().map_or("? passages".to_owned(), |c| {
            // The bundled sample says so for as long as it is loaded, whatever came after
            // the warning that fell back to it.
            let sample = if c.source.starts_with(SAMPLE_SOURCE) {
                " (the bundled sample)"
            } else {
                ""
            };
            format!("{} passages{sample}", c.passages.len())
        });
        let device = if app.labels.device.is_empty() {
            "device ?"
        } else {
            app.labels.device.as_str()
        };
        let pooling = app.pooling.as_ref().map_or(String::new(), |p| {
            format!(
                " · pooling {}",
                PoolingState::describe(&p.current, &p.default)
            )
        });
        // The other dense panes' encoders: model, endpoint, what their passages cost.
        let others: String = app.notes.iter().map(|n| format!(" · {n}")).collect();
        let text = format!(
            "{device} · model {}{pooling}{others} · reranker {} · {passages} · BM25 {} · F1 help",
            app.labels.model,
            app.labels.reranker,
            // The wordpiece analyzer names its tokenizer.
            app.analyzer
                .as_ref()
                .map_or_else(|| app.analyzer_kind.to_string(), |a| a.describe())
        );
        lines.push(Line::styled(fit(&text, width), theme.dim()));
    }
    if area.height >= 3 {
        let text = match &app.results {
            Some(r) => {
                let panes: Vec<String> = r
                    .results
                    .iter()
                    .map(|m| match m.error {
                        Some(_) => format!("{} —", r.title(m.pane)),
                        None => format!("{} {:.1} ms", r.title(m.pane), ms(m.elapsed)),
                    })
                    .collect();
                let n = app.corpus.as_ref().map_or(0, |c| c.passages.len());
                // The cost first: the panes' own titles carry their timings too.
                format!("{} · {}", cost_line(r, n), panes.join(" · "))
            }
            None => "no query yet".to_owned(),
        };
        lines.push(Line::styled(fit(&text, width), theme.dim()));
    }
    frame.render_widget(Paragraph::new(lines), area);
}
