//! The gold line under the query box: where the query's gold passage (and each passage the
//! judgments grade relevant) stands in every pane, "gold p41: Semantic #17 · BM25 #2 ·
//! Hybrid #4 · Rerank not in its top 30". At a narrow width the pane names and the words
//! shorten, then whole entries give way to "…": a number is never cut.
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;
use ratatui::Frame;
use unicode_width::UnicodeWidthStr;

use super::Theme;
use crate::pipeline::{Missing, Place};
use crate::tui::gold::GoldRow;
use crate::tui::state::App;

/// How many lines the gold line takes: one per target passage, at most `max`; none
/// without a gold or judged-relevant passage.
pub(super) fn height(rows: &[GoldRow], max: u16) -> u16 {
    (rows.len() as u16).min(max)
}

pub(super) fn draw_gold(frame: &mut Frame, app: &App, theme: &Theme, area: Rect, rows: &[GoldRow]) {
    let width = area.width as usize;
    let shown = area.height as usize;
    let mut lines: Vec<Line> = Vec::new();
    for (i, row) in rows.iter().take(shown).enumerate() {
        // The last line says how many more relevant passages did not fit.
        let more = if i + 1 == shown {
            rows.len() - shown
        } else {
            0
        };
        lines.push(line(app, theme, row, more, width));
    }
    frame.render_widget(Paragraph::new(lines), area);
}

/// `place` in words: long (0), shorter (1) or shortest (2).
fn words(place: &Place, level: u8) -> String {
    match (place, level) {
        (Place::Ranked(rank, _), _) => format!("#{rank}"),
        (Place::NoTerm, 0) => "no query term".into(),
        (Place::NoTerm, _) => "no term".into(),
        (Place::BeyondFusion(d), 0) => format!("beyond fusion depth {d}"),
        (Place::BeyondFusion(d), 1) => format!("past depth {d}"),
        (Place::NotReranked(d), 0) => format!("not in its top {d}"),
        (Place::NotReranked(d), 1) => format!("not in top {d}"),
        (Place::BeyondFusion(d) | Place::NotReranked(d), _) => format!(">{d}"),
        (Place::Waiting, _) => "…".into(),
        (Place::Unavailable(Missing::Pending(_)), 0 | 1) => "loading".into(),
        (Place::Unavailable(_), 0 | 1) => "unavailable".into(),
        (Place::Unavailable(_), _) => "–".into(),
    }
}

/// A pane's name, long or short (`Semantic` -> `Sem.`).
fn name(title: &str, short: bool) -> String {
    if !short || title.chars().count() <= 4 {
        return title.to_owned();
    }
    let head: String = title.chars().take(3).collect();
    format!("{}.", head.trim_end())
}

/// One target's line at `width`: long words, else shorter ones, else short names and words
/// with as many whole entries as fit and "…".
fn line(app: &App, theme: &Theme, row: &GoldRow, more: usize, width: usize) -> Line<'static> {
    let tail = if more > 0 {
        format!("  +{more} more")
    } else {
        String::new()
    };
    for level in 0..3u8 {
        let short = level == 2;
        let head = match (row.grade, short) {
            (None, _) => format!("gold p{}: ", row.passage),
            (Some(g), false) => format!("relevant p{} ({g}): ", row.passage),
            (Some(g), true) => format!("rel p{}({g}): ", row.passage),
        };
        let entries: Vec<(String, Style)> = row
            .places
            .iter()
            .map(|(pane, place)| {
                let style = match place {
                    Place::Ranked(r, _) if *r <= app.params.top_k => theme.gold(),
                    Place::Ranked(..) => Style::new(),
                    _ => theme.dim(),
                };
                let text = format!("{} {}", name(app.title(*pane), short), words(place, level));
                (text, style)
            })
            .collect();
        let sep = if short { " " } else { " · " };
        let total = head.width()
            + entries.iter().map(|(e, _)| e.width()).sum::<usize>()
            + sep.width() * entries.len().saturating_sub(1)
            + tail.width();
        if total <= width || short {
            return assemble(theme, head, &entries, sep, &tail, width);
        }
    }
    Line::raw("")
}

/// The head, then whole entries while they (and "…" when some are left out) fit.
fn assemble(
    theme: &Theme,
    head: String,
    entries: &[(String, Style)],
    sep: &str,
    tail: &str,
    width: usize,
) -> Line<'static> {
    let mut used = head.width();
    let mut spans = vec![Span::styled(head, theme.gold())];
    for (i, (text, style)) in entries.iter().enumerate() {
        let lead = if i == 0 { "" } else { sep };
        let last = i + 1 == entries.len();
        let reserve = if last { tail.width() } else { " …".width() };
        if used + lead.width() + text.width() + reserve > width {
            if used + " …".width() <= width {
                spans.push(Span::styled(" …", theme.dim()));
            }
            return Line::from(spans);
        }
        used += lead.width() + text.width();
        spans.push(Span::styled(lead.to_owned(), theme.dim()));
        spans.push(Span::styled(text.clone(), *style));
    }
    if !tail.is_empty() {
        spans.push(Span::styled(tail.to_owned(), theme.dim()));
    }
    Line::from(spans)
}
