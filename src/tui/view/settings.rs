//! The settings overlay.
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;
use ratatui::Frame;

use super::text::wrap;
use super::{popup, Theme};
use crate::render::fit;
use crate::tui::protocol::Part;
use crate::tui::settings::{value, Setting};
use crate::tui::state::{App, PartState};

pub(super) fn draw_settings(frame: &mut Frame, app: &App, theme: &Theme, area: Rect, row: usize) {
    let pane = app.pane;
    let rows = Setting::rows(app, pane);
    let inner = popup(
        frame,
        area,
        48,
        rows.len() as u16 + 6,
        &format!(" Settings · {} ", app.title(pane)),
        theme,
    );
    let width = inner.width as usize;
    // On a short terminal the rows scroll with the cursor; the footer keeps two lines.
    let room = (inner.height as usize).saturating_sub(2).max(1);
    let first = (row + 1).saturating_sub(room);
    let mut lines: Vec<Line> = Vec::new();
    for (i, s) in rows.iter().enumerate().skip(first).take(room) {
        if s.is_session() && i > 0 && !rows[i - 1].is_session() {
            lines.push(Line::styled(fit("every pane", width), theme.dim()));
        }
        let text = format!("{:<14} ‹ {} ›", s.label(app, pane), value(app, pane, *s));
        let line = Line::raw(fit(&text, width));
        lines.push(if i == row {
            line.style(theme.selected())
        } else {
            line
        });
    }
    lines.push(Line::raw(""));
    lines.extend(wrap(
        vec![Span::styled(
            "↑↓ choose · ←→ change (applies at once) · Esc close",
            theme.dim(),
        )],
        width,
    ));
    if let Some(n) = &app.notice {
        lines.extend(wrap(vec![Span::styled(n.clone(), theme.error())], width));
    }
    if app.part(Part::Dense) == &PartState::Loading && app.pooling.is_some() {
        lines.push(Line::styled(
            fit("embedding the passages…", width),
            theme.dim(),
        ));
    }
    frame.render_widget(Paragraph::new(lines), inner);
}
