//! The settings overlay.
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;
use ratatui::Frame;

use super::text::wrap;
use super::{popup, Theme};
use crate::render::fit;
use crate::tui::protocol::{Part, PoolingState};
use crate::tui::settings::Setting;
use crate::tui::state::{App, PartState};

pub(super) fn setting_value(app: &App, s: Setting) -> String {
    let p = &app.params;
    match s {
        Setting::TopK => p.top_k.to_string(),
        Setting::RrfK => format!("{}", p.rrf.k),
        Setting::DenseWeight => format!("{:.1}", p.dense_weight),
        Setting::Bm25Weight => format!("{:.1}", p.bm25_weight),
        Setting::RerankDepth => p.rerank_depth.to_string(),
        Setting::Analyzer => app.analyzer_kind.to_string(),
        Setting::Pooling => app.pooling.as_ref().map_or("(loading)".to_owned(), |p| {
            PoolingState::describe(&p.current, &p.default)
        }),
        Setting::LiveSearch => if app.live { "on" } else { "off" }.to_owned(),
        Setting::Fusion => p.fusion.name().to_owned(),
        Setting::Alpha => format!("{:.2}", p.alpha),
        Setting::Norm => p.norm.name().to_owned(),
    }
}

pub(super) fn draw_settings(frame: &mut Frame, app: &App, theme: &Theme, area: Rect, row: usize) {
    let inner = popup(
        frame,
        area,
        48,
        Setting::ALL.len() as u16 + 5,
        " Settings ",
        theme,
    );
    let width = inner.width as usize;
    // On a short terminal the rows scroll with the cursor; the footer keeps two lines.
    let room = (inner.height as usize).saturating_sub(2).max(1);
    let first = (row + 1).saturating_sub(room);
    let mut lines: Vec<Line> = Setting::ALL
        .iter()
        .enumerate()
        .skip(first)
        .take(room)
        .map(|(i, s)| {
            let text = format!("{:<14} ‹ {} ›", s.label(), setting_value(app, *s));
            let line = Line::raw(fit(&text, width));
            if i == row {
                line.style(theme.selected())
            } else {
                line
            }
        })
        .collect();
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
    if app.part(Part::Bm25) == &PartState::Loading {
        lines.push(Line::styled(fit("rebuilding BM25…", width), theme.dim()));
    }
    if app.pooling.is_some() && app.part(Part::Dense) == &PartState::Loading {
        lines.push(Line::styled(
            fit("embedding the passages again…", width),
            theme.dim(),
        ));
    }
    frame.render_widget(Paragraph::new(lines), inner);
}
