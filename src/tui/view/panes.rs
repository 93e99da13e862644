//! The query line and the result panes.
use ratatui::layout::{Constraint, Layout, Position, Rect};
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Paragraph};
use ratatui::Frame;
use unicode_width::{UnicodeWidthChar, UnicodeWidthStr};

use super::text::{clip, snippet, wrap};
use super::{grade_style, pane_layout, PaneLayout, Theme};
use crate::panes::Kind;
use crate::pipeline::{MethodResult, Missing};
use crate::render::{fit, provenance};
use crate::session::ms;
use crate::tui::protocol::Part;
use crate::tui::state::{App, Focus, Overlay, PaneId, PartState};

pub(super) fn draw_query(frame: &mut Frame, app: &App, theme: &Theme, area: Rect) {
    if area.height == 0 || area.width == 0 {
        return;
    }
    let focused = app.focus == Focus::Query && app.overlay == Overlay::None;
    let mut title = format!(
        " Query · live search {} ",
        if app.live { "on" } else { "off" }
    );
    if app.searching {
        title.push_str("· searching… ");
    }
    let inner = if area.height >= 3 {
        let block = Block::default()
            .borders(Borders::ALL)
            .title(Line::from(fit(
                &title,
                area.width.saturating_sub(2) as usize,
            )))
            .border_style(if focused { theme.focus() } else { Style::new() });
        let inner = block.inner(area);
        frame.render_widget(block, area);
        inner
    } else {
        let prompt = "> ";
        frame.render_widget(
            Paragraph::new(Line::styled(
                fit(prompt, area.width as usize),
                if focused { theme.focus() } else { Style::new() },
            )),
            area,
        );
        Rect {
            x: area.x + 2.min(area.width),
            width: area.width.saturating_sub(2),
            ..area
        }
    };
    let width = inner.width as usize;
    if width == 0 || inner.height == 0 {
        return;
    }
    if app.input.text.is_empty() {
        let hint = "Type a question, Enter to search · Ctrl-R random question · F1 help";
        frame.render_widget(
            Paragraph::new(Line::styled(fit(hint, width), theme.dim())),
            inner,
        );
        if focused {
            frame.set_cursor_position(Position::new(inner.x, inner.y));
        }
        return;
    }
    // Scroll horizontally so the cursor stays visible.
    let before = app.input.before_cursor();
    let mut skip = 0;
    let mut cursor_w = before.width();
    for c in before.chars() {
        if cursor_w < width {
            break;
        }
        skip += c.len_utf8();
        cursor_w -= c.width().unwrap_or(0);
    }
    let shown = app.input.text[skip..].replace(|c: char| c.is_control(), " ");
    frame.render_widget(Paragraph::new(clip(vec![Span::raw(shown)], width)), inner);
    if focused {
        frame.set_cursor_position(Position::new(inner.x + cursor_w as u16, inner.y));
    }
}

pub(super) fn draw_panes(frame: &mut Frame, app: &App, theme: &Theme, area: Rect) {
    if area.height == 0 || area.width == 0 {
        return;
    }
    let n = app.pane_count();
    match pane_layout(area, n) {
        PaneLayout::Row => {
            let cols = Layout::horizontal(vec![Constraint::Ratio(1, n as u32); n]).split(area);
            for (pane, r) in app.pane_ids().zip(cols.iter()) {
                draw_pane(frame, app, theme, *r, pane);
            }
        }
        PaneLayout::Grid => {
            // Two rows; the second is one short when the count is odd, and its panes
            // are as wide as the first row's.
            let per_row = n.div_ceil(2);
            let rows = Layout::vertical([Constraint::Ratio(1, 2); 2]).split(area);
            let mut panes = app.pane_ids();
            for r in rows.iter() {
                let cols = Layout::horizontal(vec![Constraint::Ratio(1, per_row as u32); per_row])
                    .split(*r);
                for c in cols.iter() {
                    if let Some(pane) = panes.next() {
                        draw_pane(frame, app, theme, *c, pane);
                    }
                }
            }
        }
        PaneLayout::Tabs => {
            let [tabs, pane] =
                Layout::vertical([Constraint::Length(1), Constraint::Min(0)]).areas(area);
            let mut spans = Vec::new();
            for pane in app.pane_ids() {
                if pane != PaneId::default() {
                    spans.push(Span::styled("│", theme.dim()));
                }
                let style = if pane == app.pane {
                    theme.selected()
                } else {
                    Style::new()
                };
                spans.push(Span::styled(format!(" {} ", app.title(pane)), style));
            }
            frame.render_widget(Paragraph::new(clip(spans, tabs.width as usize)), tabs);
            draw_pane(frame, app, theme, pane, app.pane);
        }
    }
}

/// A pane's title from the spec; a hybrid that follows the session's fusion setting (no
/// `method=` of its own, the default title) names the fusion that runs.
pub(super) fn pane_title(app: &App, pane: PaneId) -> String {
    let spec = app.spec.get(pane);
    let follows = match &spec.retriever {
        crate::panes::Retriever::Fusion { opts, .. } => opts.method.is_none(),
        _ => false,
    };
    match app.params.fusion {
        crate::fusion::FusionMethod::Convex
            if follows && spec.title.starts_with(Kind::Hybrid.title()) =>
        {
            // The inputs the default title may name stay after the fusion's own words.
            format!(
                "Hybrid (convex α{:.2} {}){}",
                app.params.alpha,
                app.params.norm.name(),
                &spec.title[Kind::Hybrid.title().len()..]
            )
        }
        _ => spec.title.clone(),
    }
}

/// What a pane without a result waits for, or why it cannot run.
pub(super) enum PaneWait {
    /// What it waits for ("" when nothing is loading).
    Waiting(&'static str),
    /// The part it needs failed or is off; the message says which and why.
    Unavailable(String),
}

/// Why a pane has nothing yet, before any query ran.
pub(super) fn pane_state(app: &App, method: Kind) -> PaneWait {
    use PaneWait::{Unavailable, Waiting};
    let failed = |p: Part| match app.part(p) {
        PartState::Failed(why) => Some(format!("{} unavailable: {why}", p.name())),
        PartState::Disabled => Some(format!("{} disabled (--reranker none)", p.name())),
        _ => None,
    };
    let loading = |p: Part| app.part(p) == &PartState::Loading;
    match method {
        Kind::Dense => match failed(Part::Dense) {
            Some(e) => Unavailable(e),
            None if loading(Part::Dense) => Waiting("loading the model and embeddings…"),
            None => Waiting(""),
        },
        Kind::Bm25 => match failed(Part::Bm25) {
            Some(e) => Unavailable(e),
            None if loading(Part::Bm25) => Waiting("building the BM25 index…"),
            None => Waiting(""),
        },
        Kind::Hybrid => {
            if loading(Part::Bm25) && loading(Part::Dense) {
                Waiting("waiting for BM25 or dense…")
            } else {
                Waiting("")
            }
        }
        Kind::Rerank => match failed(Part::Reranker) {
            Some(e) => Unavailable(e),
            None if loading(Part::Reranker) => Waiting("waiting for the reranker…"),
            None => Waiting(""),
        },
    }
}

pub(super) fn draw_pane(frame: &mut Frame, app: &App, theme: &Theme, area: Rect, pane: PaneId) {
    let method = app.method(pane);
    let focused = app.focus == Focus::Pane(pane) && app.overlay == Overlay::None;
    let result: Option<&MethodResult> = app.results.as_ref().and_then(|r| r.pane(pane));
    let mut title = format!(" {} ", pane_title(app, pane));
    if let Some(r) = result.filter(|r| r.error.is_none()) {
        title.push_str(&format!("{:.1} ms ", ms(r.elapsed)));
        if method == Kind::Rerank {
            // The score column is the raw logit; sigmoid(logit) is in the detail view.
            title.push_str("· logit ");
        }
    }
    if app.stale {
        title.push_str("· updating… ");
    }
    let block = Block::default()
        .borders(Borders::ALL)
        .title(Line::from(fit(
            &title,
            area.width.saturating_sub(2) as usize,
        )))
        .border_style(if focused { theme.focus() } else { Style::new() });
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let width = inner.width as usize;
    if width == 0 || inner.height == 0 {
        return;
    }
    let message =
        |text: String, style: Style| Paragraph::new(wrap(vec![Span::styled(text, style)], width));
    let Some(result) = result else {
        let (text, style) = waiting_message(app, method, theme);
        frame.render_widget(message(text, style), inner);
        return;
    };
    match &result.error {
        // On its way (an index or embeddings this pane's setting needs): no error.
        Some(e @ Missing::Pending(_)) => {
            frame.render_widget(message(format!("{e}…"), theme.dim()), inner);
            return;
        }
        Some(e) => {
            frame.render_widget(message(format!("not available: {e}"), theme.error()), inner);
            return;
        }
        None => {}
    }
    let mut lines = pane_header(app, result, theme, width);
    let per_hit = 2usize;
    let room = (inner.height as usize).saturating_sub(lines.len()) / per_hit;
    let selected = app.selected[pane];
    let first = if room == 0 {
        selected
    } else {
        (selected + 1).saturating_sub(room)
    };
    for (i, hit) in result.hits.iter().enumerate().skip(first).take(room.max(1)) {
        let [mut head, mut body] = hit_lines(app, method, hit, i + 1, theme, width);
        if focused && i == selected {
            head = head.style(theme.selected());
            body = body.style(theme.selected());
        }
        lines.push(head);
        lines.push(body);
    }
    frame.render_widget(Paragraph::new(lines), inner);
}

/// What a pane with no result yet says: why it cannot run, or what it waits for.
fn waiting_message(app: &App, method: Kind, theme: &Theme) -> (String, Style) {
    match pane_state(app, method) {
        PaneWait::Unavailable(e) => (e, theme.error()),
        PaneWait::Waiting(_) if method == Kind::Rerank && app.rerank_progress.is_some() => {
            let (done, total) = app.rerank_progress.unwrap_or_default();
            (format!("reranking {done}/{total}…"), theme.dim())
        }
        PaneWait::Waiting("") if app.searching => ("searching…".to_owned(), theme.dim()),
        PaneWait::Waiting(s) => (s.to_owned(), theme.dim()),
    }
}

/// The lines above a pane's hits: which query they answer when it is not the query line's,
/// the pane's note, or that it found nothing.
fn pane_header(
    app: &App,
    result: &MethodResult,
    theme: &Theme,
    width: usize,
) -> Vec<Line<'static>> {
    let mut lines = Vec::new();
    if app.showing_other_query() {
        lines.push(Line::styled(
            fit(
                &format!(
                    "results for “{}” · Enter runs the query line",
                    app.results.as_ref().map_or("", |r| r.query.as_str())
                ),
                width,
            ),
            theme.error(),
        ));
    }
    if let Some(n) = &result.note {
        lines.extend(wrap(vec![Span::styled(n.clone(), theme.dim())], width));
    }
    if result.hits.is_empty() {
        lines.push(Line::styled(fit("(no hits)", width), theme.dim()));
    }
    lines
}

/// One hit's two lines: gold mark, rank, score, grade, provenance and title; then the
/// passage's snippet around its matched spans.
fn hit_lines(
    app: &App,
    method: Kind,
    hit: &crate::pipeline::Hit,
    rank: usize,
    theme: &Theme,
    width: usize,
) -> [Line<'static>; 2] {
    let passage = app
        .corpus
        .as_deref()
        .and_then(|c| c.passages.get(hit.passage));
    let is_gold = app.gold() == Some(hit.passage);
    // A gold mark before a two-digit rank gets a space of its own ("✓ 10", not "✓10").
    let mark = match (is_gold, rank >= 10) {
        (true, true) => "✓ ",
        (true, false) => "✓",
        (false, _) => " ",
    };
    let mut head = vec![
        Span::styled(mark, if is_gold { theme.gold() } else { Style::new() }),
        Span::raw(format!("{rank:>2} {:.4} ", hit.score)),
    ];
    if let Some(g) = app.grade_of(hit.passage) {
        head.push(Span::styled(format!("[{g}] "), grade_style(theme, g)));
    }
    let prov = provenance(method, hit, rank);
    if !prov.is_empty() {
        head.push(Span::styled(format!("{prov} "), theme.dim()));
    }
    let title = passage.map_or_else(|| format!("p{}", hit.passage), |p| p.title.clone());
    head.push(Span::styled(
        title,
        if is_gold {
            theme.gold()
        } else {
            Style::new().add_modifier(Modifier::BOLD)
        },
    ));
    let body = passage.map_or_else(Vec::new, |p| {
        snippet(
            &p.text,
            &hit.spans,
            width.saturating_sub(3),
            theme.highlight(),
        )
    });
    let mut body_spans = vec![Span::raw("   ")];
    body_spans.extend(body);
    let mut head = clip(head, width);
    let mut body = clip(body_spans, width);
    if app.stale || app.showing_other_query() {
        head = head.style(theme.dim());
        body = body.style(theme.dim());
    }
    [head, body]
}
