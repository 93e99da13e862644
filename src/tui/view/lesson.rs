//! The lesson panel: the step's title and text above the status bar, the keys at its foot.
//! The explorer is drawn above it as usual, and an open overlay covers only that part, so the
//! text and the status bar's cost line stay in view.
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Paragraph};
use ratatui::Frame;

use super::text::word_wrap;
use super::Theme;
use crate::render::fit;
use crate::tui::state::App;

/// The panel's height on a screen `height` rows tall (0 when no lesson shows): its text
/// wrapped to `width`, at most a third of the screen.
pub(super) fn height(app: &App, width: u16, height: u16) -> u16 {
    if app.lesson.current().is_none() || height < 12 {
        return 0;
    }
    let needed = body(app, width.saturating_sub(2) as usize).len() as u16 + 2;
    needed.min(height / 3).max(4)
}

/// The step's text (and what it could not set up), in lines of `width` columns.
fn body(app: &App, width: usize) -> Vec<String> {
    let Some((step, _, _)) = app.lesson.current() else {
        return Vec::new();
    };
    let mut lines: Vec<String> = step
        .text
        .split('\n')
        .flat_map(|p| word_wrap(p.trim(), width))
        .collect();
    if let Some(n) = &app.lesson.notice {
        lines.extend(word_wrap(&format!("(not set up: {n})"), width));
    }
    lines
}

pub(super) fn draw_lesson(frame: &mut Frame, app: &App, theme: &Theme, area: Rect) {
    let Some((step, at, count)) = app.lesson.current() else {
        return;
    };
    if area.height < 3 {
        return;
    }
    let width = area.width.saturating_sub(2) as usize;
    let title = format!(
        " {} · {}/{count}: {} ",
        app.lesson.title(),
        at + 1,
        step.title
    );
    let keys = " PgDn next · PgUp back · F10 hide · Ctrl-S save ";
    let block = Block::default()
        .borders(Borders::ALL)
        .border_style(theme.focus())
        .title(Line::styled(fit(&title, width), theme.highlight()))
        .title_bottom(Line::styled(fit(keys, width), theme.dim()));
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let mut lines = body(app, width);
    let room = inner.height as usize;
    if lines.len() > room && room > 0 {
        lines.truncate(room);
        if let Some(last) = lines.last_mut() {
            *last = fit(&format!("{last} …"), width);
        }
    }
    let lines: Vec<Line> = lines
        .into_iter()
        .enumerate()
        .map(|(i, l)| {
            let notice = app.lesson.notice.is_some() && l.starts_with("(not set up");
            if notice || (i > 0 && l.starts_with('(')) {
                Line::from(Span::styled(l, theme.dim()))
            } else {
                Line::raw(l)
            }
        })
        .collect();
    frame.render_widget(Paragraph::new(lines), inner);
}
