//! Drawing: a pure function of [`App`]. Korean text is measured in display columns
//! (unicode-width) everywhere; every line is clipped before ratatui sees it, so nothing
//! wraps into a neighbour at any size.
use ratatui::layout::{Constraint, Layout, Position, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Clear, Paragraph};
use ratatui::Frame;
use unicode_width::{UnicodeWidthChar, UnicodeWidthStr};

use super::protocol::{Part, PoolingState};
use super::settings::Setting;
use super::state::{App, DenseCell, EvalState, Focus, Overlay, PaneRank, PartState};
use crate::data::char_span_to_bytes;
use crate::pipeline::{Method, MethodResult};
use crate::render::{cost_line, fit, provenance};
use crate::session::ms;
use crate::teach::{Matrix, Representation};

/// Styles, with `NO_COLOR` honoured by using modifiers only.
struct Theme {
    color: bool,
}

impl Theme {
    fn pick(&self, colored: Style, plain: Style) -> Style {
        if self.color {
            colored
        } else {
            plain
        }
    }
    fn highlight(&self) -> Style {
        self.pick(
            Style::new().fg(Color::Yellow).add_modifier(Modifier::BOLD),
            Style::new().add_modifier(Modifier::BOLD | Modifier::UNDERLINED),
        )
    }
    fn answer(&self) -> Style {
        self.pick(
            Style::new()
                .fg(Color::Green)
                .add_modifier(Modifier::UNDERLINED),
            Style::new().add_modifier(Modifier::UNDERLINED | Modifier::ITALIC),
        )
    }
    fn gold(&self) -> Style {
        self.pick(
            Style::new().fg(Color::Green).add_modifier(Modifier::BOLD),
            Style::new().add_modifier(Modifier::BOLD),
        )
    }
    fn error(&self) -> Style {
        self.pick(
            Style::new().fg(Color::Red),
            Style::new().add_modifier(Modifier::ITALIC),
        )
    }
    fn dim(&self) -> Style {
        self.pick(
            Style::new().fg(Color::DarkGray),
            Style::new().add_modifier(Modifier::DIM),
        )
    }
    fn focus(&self) -> Style {
        self.pick(
            Style::new().fg(Color::Cyan).add_modifier(Modifier::BOLD),
            Style::new().add_modifier(Modifier::BOLD),
        )
    }
    fn selected(&self) -> Style {
        Style::new().add_modifier(Modifier::REVERSED)
    }
}

/// How the four panes share the screen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PaneLayout {
    Row,
    Grid,
    Tabs,
}

/// Four side by side from 100 columns, a 2x2 grid from 50x12 (of the panes' own area: a
/// 50x14 terminal), else one pane with tabs.
pub fn pane_layout(area: Rect) -> PaneLayout {
    if area.width >= 100 && area.height >= 6 {
        PaneLayout::Row
    } else if area.width >= 50 && area.height >= 12 {
        PaneLayout::Grid
    } else {
        PaneLayout::Tabs
    }
}

/// Draws the whole screen.
pub fn draw(frame: &mut Frame, app: &App) {
    let area = frame.area();
    let theme = Theme { color: app.color };
    let query_h = if area.height >= 16 { 3 } else { 1 };
    let status_h = if area.height >= 20 {
        3
    } else {
        1.min(area.height.saturating_sub(query_h))
    };
    let [query, panes, status] = Layout::vertical([
        Constraint::Length(query_h),
        Constraint::Min(0),
        Constraint::Length(status_h),
    ])
    .areas(area);
    draw_query(frame, app, &theme, query);
    draw_panes(frame, app, &theme, panes);
    draw_status(frame, app, &theme, status);
    match &app.overlay {
        Overlay::None => {}
        Overlay::Help => draw_help(frame, &theme, area),
        Overlay::Walkthrough => draw_walkthrough(frame, &theme, area),
        Overlay::Playground => draw_playground(frame, app, &theme, area),
        Overlay::Detail {
            passage,
            scroll,
            ranks,
        } => draw_detail(frame, app, &theme, area, *passage, *scroll, ranks),
        Overlay::Settings { row } => draw_settings(frame, app, &theme, area, *row),
        Overlay::Eval => draw_eval(frame, app, &theme, area),
        Overlay::Judge { row, queries } => draw_judge(frame, app, &theme, area, *row, *queries),
        Overlay::Fusion => draw_lab(frame, app, &theme, area),
    }
}

/// Cuts a run of styled spans to `width` columns, ending with `…` when cut.
fn clip(spans: Vec<Span<'static>>, width: usize) -> Line<'static> {
    let total: usize = spans.iter().map(|s| s.content.width()).sum();
    if total <= width {
        return Line::from(spans);
    }
    let mut out = Vec::new();
    let mut used = 0;
    for s in spans {
        let w = s.content.width();
        if used + w < width {
            used += w;
            out.push(s);
            continue;
        }
        // Cut here; the appended `…` makes `fit` cut even when this span alone would fit.
        let room = width.saturating_sub(used);
        out.push(Span::styled(fit(&format!("{}…", s.content), room), s.style));
        break;
    }
    Line::from(out)
}

/// Breaks styled spans into lines of at most `width` columns, between characters (Korean
/// has no need for hyphens). Done here rather than by `Paragraph::wrap` so a wide character
/// at the edge can never spill onto a border.
fn wrap(spans: Vec<Span<'static>>, width: usize) -> Vec<Line<'static>> {
    let mut lines = Vec::new();
    let mut current: Vec<Span<'static>> = Vec::new();
    let mut used = 0;
    for span in spans {
        let mut run = String::new();
        for c in span.content.chars() {
            let w = c.width().unwrap_or(0);
            if used + w > width && used > 0 {
                if !run.is_empty() {
                    current.push(Span::styled(std::mem::take(&mut run), span.style));
                }
                lines.push(Line::from(std::mem::take(&mut current)));
                used = 0;
                if c == ' ' {
                    continue;
                }
            }
            run.push(c);
            used += w;
        }
        if !run.is_empty() {
            current.push(Span::styled(run, span.style));
        }
    }
    if !current.is_empty() || lines.is_empty() {
        lines.push(Line::from(current));
    }
    lines
}

/// Plain text in lines of at most `width` columns, broken between words where it can be (a
/// word longer than a line is cut by [`wrap`]).
fn word_wrap(text: &str, width: usize) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let mut line = String::new();
    for word in text.split(' ') {
        let needed = line.width() + usize::from(!line.is_empty()) + word.width();
        if !line.is_empty() && needed > width {
            out.push(std::mem::take(&mut line));
        }
        if !line.is_empty() {
            line.push(' ');
        }
        line.push_str(word);
    }
    out.push(line);
    out.into_iter()
        .flat_map(|l| {
            wrap(vec![Span::raw(l)], width)
                .into_iter()
                .map(|w| {
                    w.spans
                        .iter()
                        .map(|s| s.content.as_ref())
                        .collect::<String>()
                })
                .collect::<Vec<_>>()
        })
        .collect()
}

/// `text` as spans, with the byte ranges in `marks` styled; control characters become spaces.
fn marked(text: &str, marks: &[(usize, usize, Style)], base: Style) -> Vec<Span<'static>> {
    let mut out = Vec::new();
    let mut run = String::new();
    let mut run_style = base;
    for (i, c) in text.char_indices() {
        let style = marks
            .iter()
            .find(|(s, e, _)| *s <= i && i < *e)
            .map_or(base, |m| base.patch(m.2));
        if style != run_style && !run.is_empty() {
            out.push(Span::styled(std::mem::take(&mut run), run_style));
        }
        run_style = style;
        run.push(if c.is_control() { ' ' } else { c });
    }
    if !run.is_empty() {
        out.push(Span::styled(run, run_style));
    }
    out
}

/// One line of `text` around its first highlight, `width` columns wide.
fn snippet(text: &str, spans: &[(usize, usize)], width: usize, hl: Style) -> Vec<Span<'static>> {
    let first = spans.first().map_or(0, |s| s.0);
    // Start a little before the first match so it shows with some context.
    let lead = width / 4;
    let before = &text[..first];
    let mut start = first;
    let mut w = 0;
    for (i, c) in before.char_indices().rev() {
        w += c.width().unwrap_or(0);
        if w > lead {
            break;
        }
        start = i;
    }
    if before.width() <= lead {
        start = 0;
    }
    let marks: Vec<(usize, usize, Style)> = spans
        .iter()
        .filter(|(_, e)| *e > start)
        .map(|&(s, e)| (s.max(start) - start, e - start, hl))
        .collect();
    let mut out = Vec::new();
    if start > 0 {
        out.push(Span::raw("…"));
    }
    out.extend(marked(&text[start..], &marks, Style::new()));
    out
}

fn draw_query(frame: &mut Frame, app: &App, theme: &Theme, area: Rect) {
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

fn draw_panes(frame: &mut Frame, app: &App, theme: &Theme, area: Rect) {
    if area.height == 0 || area.width == 0 {
        return;
    }
    match pane_layout(area) {
        PaneLayout::Row => {
            let cols = Layout::horizontal([Constraint::Ratio(1, 4); 4]).split(area);
            for (i, r) in cols.iter().enumerate() {
                draw_pane(frame, app, theme, *r, i);
            }
        }
        PaneLayout::Grid => {
            let rows = Layout::vertical([Constraint::Ratio(1, 2); 2]).split(area);
            for (row, r) in rows.iter().enumerate() {
                let cols = Layout::horizontal([Constraint::Ratio(1, 2); 2]).split(*r);
                for (col, c) in cols.iter().enumerate() {
                    draw_pane(frame, app, theme, *c, row * 2 + col);
                }
            }
        }
        PaneLayout::Tabs => {
            let [tabs, pane] =
                Layout::vertical([Constraint::Length(1), Constraint::Min(0)]).areas(area);
            let mut spans = Vec::new();
            for (i, m) in Method::ALL.iter().enumerate() {
                if i > 0 {
                    spans.push(Span::styled("│", theme.dim()));
                }
                let style = if i == app.pane {
                    theme.selected()
                } else {
                    Style::new()
                };
                spans.push(Span::styled(format!(" {} ", m.title()), style));
            }
            frame.render_widget(Paragraph::new(clip(spans, tabs.width as usize)), tabs);
            draw_pane(frame, app, theme, pane, app.pane);
        }
    }
}

/// A pane's title; Hybrid names the fusion that runs.
fn pane_title(app: &App, method: Method) -> String {
    match (method, app.params.fusion) {
        (Method::Hybrid, crate::fusion::FusionMethod::Convex) => {
            format!(
                "Hybrid (convex α{:.2} {})",
                app.params.alpha,
                app.params.norm.name()
            )
        }
        _ => method.title().to_owned(),
    }
}

/// Why a pane has nothing yet, before any query ran.
fn pane_state(app: &App, method: Method) -> Result<&'static str, String> {
    let failed = |p: Part| match app.part(p) {
        PartState::Failed(why) => Some(format!("{} unavailable: {why}", p.name())),
        PartState::Disabled => Some(format!("{} disabled (--reranker none)", p.name())),
        _ => None,
    };
    let loading = |p: Part| app.part(p) == &PartState::Loading;
    match method {
        Method::Dense => match failed(Part::Dense) {
            Some(e) => Err(e),
            None if loading(Part::Dense) => Ok("loading the model and embeddings…"),
            None => Ok(""),
        },
        Method::Bm25 => match failed(Part::Bm25) {
            Some(e) => Err(e),
            None if loading(Part::Bm25) => Ok("building the BM25 index…"),
            None => Ok(""),
        },
        Method::Hybrid => {
            if loading(Part::Bm25) && loading(Part::Dense) {
                Ok("waiting for BM25 or dense…")
            } else {
                Ok("")
            }
        }
        Method::Rerank => match failed(Part::Reranker) {
            Some(e) => Err(e),
            None if loading(Part::Reranker) => Ok("waiting for the reranker…"),
            None => Ok(""),
        },
    }
}

fn draw_pane(frame: &mut Frame, app: &App, theme: &Theme, area: Rect, pane: usize) {
    let method = Method::ALL[pane];
    let focused = app.focus == Focus::Pane(pane) && app.overlay == Overlay::None;
    let result: Option<&MethodResult> = app.results.as_ref().and_then(|r| r.get(method));
    let mut title = format!(" {} ", pane_title(app, method));
    if let Some(r) = result.filter(|r| r.error.is_none()) {
        title.push_str(&format!("{:.1} ms ", ms(r.elapsed)));
        if method == Method::Rerank {
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
        let (text, style) = match pane_state(app, method) {
            Err(e) => (e, theme.error()),
            Ok(_) if method == Method::Rerank && app.rerank_progress.is_some() => {
                let (done, total) = app.rerank_progress.unwrap_or_default();
                (format!("reranking {done}/{total}…"), theme.dim())
            }
            Ok("") if app.searching => ("searching…".to_owned(), theme.dim()),
            Ok("") => (String::new(), theme.dim()),
            Ok(s) => (s.to_owned(), theme.dim()),
        };
        frame.render_widget(message(text, style), inner);
        return;
    };
    if let Some(e) = &result.error {
        frame.render_widget(message(format!("not available: {e}"), theme.error()), inner);
        return;
    }
    let mut lines: Vec<Line> = Vec::new();
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
    let corpus = app.corpus.as_deref();
    let gold = app.gold();
    let per_hit = 2usize;
    let room = (inner.height as usize).saturating_sub(lines.len()) / per_hit;
    let selected = app.selected[pane];
    let first = if room == 0 {
        selected
    } else {
        (selected + 1).saturating_sub(room)
    };
    for (i, hit) in result.hits.iter().enumerate().skip(first).take(room.max(1)) {
        let rank = i + 1;
        let passage = corpus.and_then(|c| c.passages.get(hit.passage));
        let is_gold = gold == Some(hit.passage);
        let mut head = vec![
            Span::styled(
                if is_gold { "✓" } else { " " },
                if is_gold { theme.gold() } else { Style::new() },
            ),
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
            let spans = app
                .analyzer
                .as_ref()
                .map(|a| a.highlight(&p.text, &hit.matched))
                .unwrap_or_default();
            snippet(&p.text, &spans, width.saturating_sub(3), theme.highlight())
        });
        let mut body_spans = vec![Span::raw("   ")];
        body_spans.extend(body);
        let mut head = clip(head, width);
        let mut body = clip(body_spans, width);
        if app.stale || app.showing_other_query() {
            head = head.style(theme.dim());
            body = body.style(theme.dim());
        }
        if focused && i == selected {
            head = head.style(theme.selected());
            body = body.style(theme.selected());
        }
        lines.push(head);
        lines.push(body);
    }
    frame.render_widget(Paragraph::new(lines), inner);
}

fn status_first_line(app: &App, theme: &Theme) -> Vec<Span<'static>> {
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
            if let Some(eta) = stage.eta {
                spans.push(Span::raw(format!(" · ETA {}s", eta.as_secs())));
            }
        }
    } else if app.ready() {
        spans.push(Span::styled("Ready", theme.gold()));
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
    } = &app.eval
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
            if i > 0 && why == "no corpus" {
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
        spans.push(Span::styled(format!(" · warning: {w}"), theme.error()));
    }
    spans
}

fn draw_status(frame: &mut Frame, app: &App, theme: &Theme, area: Rect) {
    if area.height == 0 || area.width == 0 {
        return;
    }
    let width = area.width as usize;
    let mut lines = vec![clip(status_first_line(app, theme), width)];
    if area.height >= 2 {
        let passages = app.corpus.as_ref().map_or("? passages".to_owned(), |c| {
            format!("{} passages", c.passages.len())
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
        let text = format!(
            "{device} · model {}{pooling} · reranker {} · {passages} · BM25 {} · F1 help",
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
                        Some(_) => format!("{} —", m.method.title()),
                        None => format!("{} {:.1} ms", m.method.title(), ms(m.elapsed)),
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

/// A grade's colour: 3 and 2 like the gold marker, 1 plain, 0 dim.
fn grade_style(theme: &Theme, grade: u8) -> Style {
    match grade {
        3 | 2 => theme.gold(),
        1 => theme.highlight(),
        _ => theme.dim(),
    }
}

/// The judge view: the pooled hits of the query on screen with their grades, or the judged
/// queries.
fn draw_judge(frame: &mut Frame, app: &App, theme: &Theme, area: Rect, row: usize, queries: bool) {
    let title = if queries {
        " Judged queries · Tab: pool ".to_owned()
    } else {
        let pool = app.pool();
        let judged = pool.iter().filter(|&&p| app.grade_of(p).is_some()).count();
        format!(
            " Judge · {judged}/{} pooled judged · Tab: queries ",
            pool.len()
        )
    };
    let inner = popup(
        frame,
        area,
        100,
        area.height.saturating_sub(2),
        &title,
        theme,
    );
    let width = inner.width as usize;
    let height = inner.height as usize;
    if width == 0 || height < 3 {
        return;
    }
    let mut lines: Vec<Line> = Vec::new();
    let body = height - 2;
    let first = (row + 1).saturating_sub(body);
    if queries {
        let list = app.judged_queries();
        if list.is_empty() {
            lines.push(Line::styled(
                fit("no judged queries yet", width),
                theme.dim(),
            ));
        }
        for (i, (q, n)) in list.iter().enumerate().skip(first).take(body) {
            let line = clip(
                vec![
                    Span::raw(format!("{n:>3} judged  ")),
                    Span::raw((*q).to_owned()),
                ],
                width,
            );
            lines.push(if i == row {
                line.style(theme.selected())
            } else {
                line
            });
        }
    } else {
        let Some(results) = &app.results else {
            lines.push(Line::styled(
                fit(
                    "run a query first: the pool is every pane's hits for it",
                    width,
                ),
                theme.dim(),
            ));
            frame.render_widget(Paragraph::new(lines), inner);
            return;
        };
        lines.push(clip(
            vec![Span::styled(
                format!("query: {}", results.query),
                theme.highlight(),
            )],
            width,
        ));
        let corpus = app.corpus.as_deref();
        for (i, p) in app
            .pool()
            .iter()
            .enumerate()
            .skip(first)
            .take(body.saturating_sub(1))
        {
            let (mark, style) = match app.grade_of(*p) {
                Some(g) => (format!("[{g}]"), grade_style(theme, g)),
                None => ("[·]".to_owned(), theme.dim()),
            };
            let title = corpus
                .and_then(|c| c.passages.get(*p))
                .map_or_else(String::new, |x| x.title.clone());
            let line = clip(
                vec![
                    Span::styled(format!("{mark} "), style),
                    Span::raw(format!("p{p:<5} ")),
                    Span::raw(title),
                ],
                width,
            );
            lines.push(if i == row {
                line.style(theme.selected())
            } else {
                line
            });
        }
    }
    let keep = height.saturating_sub(1);
    lines.truncate(keep);
    while lines.len() < keep {
        lines.push(Line::raw(""));
    }
    let keys = if queries {
        "↑↓ choose · Enter run it again · Tab pool · Esc close"
    } else {
        "0 not relevant 1 2 3 perfect (then the next unjudged) · u remove · Tab queries · Esc"
    };
    lines.push(Line::styled(fit(keys, width), theme.dim()));
    frame.render_widget(Paragraph::new(lines), inner);
}

/// `45s`, `3m05s`.
fn human_secs(d: std::time::Duration) -> String {
    let s = d.as_secs();
    if s < 60 {
        format!("{s}s")
    } else {
        format!("{}m{:02}s", s / 60, s % 60)
    }
}

/// A box of at most `w`x`h` centred in `area`, cleared.
fn popup(frame: &mut Frame, area: Rect, w: u16, h: u16, title: &str, theme: &Theme) -> Rect {
    let w = w.min(area.width);
    let h = h.min(area.height);
    let rect = Rect {
        x: area.x + (area.width - w) / 2,
        y: area.y + (area.height - h) / 2,
        width: w,
        height: h,
    };
    frame.render_widget(Clear, rect);
    // A wide character just left of the box would have its right half under the border.
    if rect.x > 0 {
        let buf = frame.buffer_mut();
        for y in rect.top()..rect.bottom() {
            let cell = &mut buf[(rect.x - 1, y)];
            if cell.symbol().width() > 1 {
                cell.set_symbol(" ");
            }
        }
    }
    let block = Block::default()
        .borders(Borders::ALL)
        .border_style(theme.focus())
        .title(Line::from(fit(title, w.saturating_sub(2) as usize)));
    let inner = block.inner(rect);
    frame.render_widget(block, rect);
    inner
}

/// The keys, as the help overlay and the README list them.
pub const KEYS: &[(&str, &str)] = &[
    (
        "typing",
        "edits the query (live search after a 250 ms pause)",
    ),
    ("Enter", "search now (in a pane: open the hit)"),
    (
        "Up / Down",
        "walk the query history; Down leaves the query line",
    ),
    (
        "Tab / Shift-Tab",
        "next / previous pane (then back to the query)",
    ),
    ("j k / ↑ ↓", "move within a pane; ↑ on the first hit: query"),
    ("h l / ← →  1-4", "switch pane"),
    ("/  i  Esc", "back to the query line"),
    ("Ctrl-R", "ask a random dataset question"),
    ("Ctrl-L", "live search on / off"),
    ("Ctrl-U", "clear the query"),
    ("? F1", "this help"),
    ("s F2", "settings"),
    (
        "e F3",
        "evaluate every method over the questions (r: again)",
    ),
    (
        "F4  p",
        "playground: one-hot, bag of words, TF-IDF, dense cosines",
    ),
    (
        "Ctrl-P",
        "next pooling, cls / mean / max (passages embedded again)",
    ),
    ("w  Tab in help", "walkthrough of the embedding chapter"),
    (
        "m 0-3  u",
        "in a pane: grade the hit 0 (not) … 3 (perfect); u removes",
    ),
    (
        "J  F6",
        "judge view: every pane's hits pooled, one key per grade",
    ),
    (
        "F7  f in F3",
        "fusion lab: MRR@10 against alpha / weight; a applies it",
    ),
    ("Esc", "close an overlay"),
    ("q / Ctrl-C", "quit (q outside the query line)"),
];

fn draw_help(frame: &mut Frame, theme: &Theme, area: Rect) {
    let inner = popup(
        frame,
        area,
        76,
        KEYS.len() as u16 + 4,
        " Keys · Tab: walkthrough ",
        theme,
    );
    let width = inner.width as usize;
    let mut lines: Vec<Line> = KEYS
        .iter()
        .map(|(k, what)| {
            clip(
                vec![
                    Span::styled(format!("{k:<16} "), theme.highlight()),
                    Span::raw(*what),
                ],
                width,
            )
        })
        .collect();
    lines.push(Line::raw(""));
    lines.push(Line::styled(
        fit("✓ marks the gold passage of a dataset question.", width),
        theme.dim(),
    ));
    frame.render_widget(Paragraph::new(lines), inner);
}

/// The embedding chapter step by step: where each step shows in the explorer.
pub const WALKTHROUGH: &[(&str, &str, &str)] = &[
    (
        "one-hot",
        "F4 p",
        "playground, one-hot block: term presence; 0 with no shared term",
    ),
    (
        "bag of words",
        "F4 p",
        "playground, bag of words block: counts, not presence",
    ),
    (
        "TF-IDF",
        "F4 p",
        "playground, TF-IDF block: IDF from this corpus, BM25 analyzer",
    ),
    (
        "sentence embeddings",
        "F4 p",
        "playground, dense block: similar with no shared term",
    ),
    (
        "pooling",
        "Ctrl-P F2",
        "cls / mean / max; passages embedded again, query re-run",
    ),
    (
        "bi- vs cross-encoder",
        "4",
        "status bar cost line; the Rerank pane (h3 ↑1: moves)",
    ),
    (
        "BM25 + RRF hybrid",
        "2 3 F2",
        "BM25 and Hybrid panes (d2 b1); settings: RRF k, weights",
    ),
    (
        "evaluation",
        "e F3",
        "recall@k, MRR@10, nDCG@10 per method; r runs it again",
    ),
    (
        "when hybrid loses",
        "F3 d F2",
        "evaluation: d lists where BM25 beats hybrid; settings: fusion convex, alpha (bigyo tune finds it)",
    ),
    (
        "textbook preset",
        "",
        "start with `bigyo --preset textbook` (KLUE MRC, KR-SBERT)",
    ),
];

fn draw_walkthrough(frame: &mut Frame, theme: &Theme, area: Rect) {
    // Rows whose last column wraps take more lines on a narrow terminal.
    let text_w = (area.width.min(100) as usize).saturating_sub(2 + 35).max(1);
    let extra: usize = WALKTHROUGH
        .iter()
        .map(|(_, _, what)| word_wrap(what, text_w).len().saturating_sub(1))
        .sum();
    let inner = popup(
        frame,
        area,
        100,
        (WALKTHROUGH.len() + extra) as u16 + 5,
        " Walkthrough: the embedding chapter · Tab: keys ",
        theme,
    );
    let width = inner.width as usize;
    let mut lines: Vec<Line> = vec![Line::styled(
        fit(
            &format!("{:<3}{:<21}{:<11}where it shows", "", "step", "key"),
            width,
        ),
        Style::new().add_modifier(Modifier::BOLD),
    )];
    // The last column wraps under itself when the box is narrow, so nothing is cut.
    let lead = 35;
    for (i, (step, key, what)) in WALKTHROUGH.iter().enumerate() {
        let head = vec![
            Span::raw(format!("{:<3}{step:<21}", i + 1)),
            Span::styled(format!("{key:<10} "), theme.highlight()),
        ];
        if width <= lead + 10 {
            let mut spans = head;
            spans.push(Span::raw(*what));
            lines.push(clip(spans, width));
            continue;
        }
        for (j, part) in word_wrap(what, width - lead).into_iter().enumerate() {
            let mut spans = if j == 0 {
                head.clone()
            } else {
                vec![Span::raw(" ".repeat(lead))]
            };
            spans.push(Span::raw(part));
            lines.push(clip(spans, width));
        }
    }
    lines.push(Line::raw(""));
    lines.push(Line::styled(
        fit("Tab keys · Esc close", width),
        theme.dim(),
    ));
    frame.render_widget(Paragraph::new(lines), inner);
}

/// A cosine's style: a heat scale in colour; without colour the number carries it, with
/// bold for the high band and dim for the low one.
fn heat(theme: &Theme, v: f64) -> Style {
    let band = if v >= 0.75 {
        3
    } else if v >= 0.5 {
        2
    } else if v >= 0.25 {
        1
    } else {
        0
    };
    if theme.color {
        let color = [Color::DarkGray, Color::Cyan, Color::Yellow, Color::LightRed][band];
        let style = Style::new().fg(color);
        if band == 3 {
            style.add_modifier(Modifier::BOLD)
        } else {
            style
        }
    } else {
        match band {
            3 => Style::new().add_modifier(Modifier::BOLD | Modifier::UNDERLINED),
            2 => Style::new().add_modifier(Modifier::BOLD),
            1 => Style::new(),
            _ => Style::new().add_modifier(Modifier::DIM),
        }
    }
}

/// One representation's block: title, column labels (unless `compact`), one row per
/// sentence; or the title and why there is no matrix.
fn matrix_lines(
    theme: &Theme,
    title: String,
    matrix: Result<&Matrix, (String, Style)>,
    n: usize,
    width: usize,
    compact: bool,
) -> Vec<Line<'static>> {
    let mut lines = vec![Line::styled(
        fit(&title, width),
        Style::new().add_modifier(Modifier::BOLD | Modifier::UNDERLINED),
    )];
    match matrix {
        Ok(m) => {
            if !compact {
                let head: String = (1..=n)
                    .map(|j| format!("{:>5}", format!("[{j}]")))
                    .collect();
                lines.push(Line::styled(
                    fit(&format!("    {head}"), width),
                    theme.dim(),
                ));
            }
            for (i, row) in m.iter().enumerate() {
                let mut spans = vec![Span::styled(
                    format!("{:<4}", format!("[{}]", i + 1)),
                    theme.dim(),
                )];
                spans.extend(
                    row.iter()
                        .map(|&v| Span::styled(format!("{v:>5.2}"), heat(theme, v))),
                );
                lines.push(clip(spans, width));
            }
        }
        Err((why, style)) => {
            lines.extend(wrap(vec![Span::styled(why, style)], width.max(1)));
        }
    }
    lines
}

fn draw_playground(frame: &mut Frame, app: &App, theme: &Theme, area: Rect) {
    let pg = &app.playground;
    let n = pg.computed.len();
    let block_w = (4 + 5 * n).max(24);
    let gap = 3;
    let w = area.width.saturating_sub(4).max(area.width * 9 / 10);
    let per_row = |width: usize| {
        if 4 * block_w + 3 * gap <= width {
            4
        } else if 2 * block_w + gap <= width {
            2
        } else {
            1
        }
    };
    // As tall as the content: sentences, a note, the blocks with gaps, the footer, borders.
    let rows = 4 / per_row((w as usize).saturating_sub(2));
    let want = pg.lines.len() + 2 + rows * (n.max(1) + 3) + 2 + 2;
    let h = area.height.saturating_sub(2).min(want as u16);
    let inner = popup(
        frame,
        area,
        w,
        h,
        " Similarity playground · cosine under four representations ",
        theme,
    );
    let width = inner.width as usize;
    let height = inner.height as usize;
    if width < 6 || height == 0 {
        return;
    }
    let mut lines: Vec<Line> = Vec::new();
    // On a short terminal the matrices come first: only the line being edited shows, and
    // the note and shared terms give way.
    let tight = height < pg.lines.len() + 4 + n + 2;
    // The sentences, one per line; the one being edited marked.
    for (i, line) in pg.lines.iter().enumerate() {
        if tight && i != pg.row {
            continue;
        }
        let label = format!("{:<4}", format!("[{}]", i + 1));
        let label_style = if i == pg.row {
            theme.focus()
        } else {
            theme.dim()
        };
        let text = line.text.replace(|c: char| c.is_control(), " ");
        lines.push(clip(
            vec![Span::styled(label, label_style), Span::raw(text)],
            width,
        ));
    }
    let cursor_row = if tight {
        0
    } else {
        pg.row.min(pg.lines.len().saturating_sub(1))
    };
    let note = match &pg.sparse {
        _ if pg.computed.is_empty() => "F5 or Ctrl-G computes the matrices".to_owned(),
        _ if pg.edited() => "edited: F5 computes again".to_owned(),
        Some(Ok(s)) => s.idf.clone(),
        _ => String::new(),
    };
    if !tight {
        lines.push(Line::styled(fit(&note, width), theme.dim()));
    }
    if let (Some(Ok(s)), false, false) = (&pg.sparse, pg.edited(), tight) {
        // Why a sparse cosine is not 0: the terms the two sentences share.
        let pairs: Vec<String> = s
            .shared
            .iter()
            .map(|((i, j), terms)| {
                let terms = if terms.is_empty() {
                    "∅".to_owned()
                } else {
                    terms.join(" ")
                };
                format!("{}·{} {terms}", i + 1, j + 1)
            })
            .collect();
        lines.push(clip(
            vec![
                Span::styled("shared terms: ", theme.dim()),
                Span::raw(pairs.join(" | ")),
            ],
            width,
        ));
    }
    let keys = "Enter new line · ↑↓ line · Ctrl-D delete line · F5/Ctrl-G compute · Esc close";
    let mut legend = vec![Span::styled("cosine ", theme.dim())];
    for (label, v) in [("≥.75", 1.0), ("≥.50", 0.5), ("≥.25", 0.25), ("<.25", 0.0)] {
        legend.push(Span::styled(label, heat(theme, v)));
        legend.push(Span::raw(" "));
    }
    let footer = [
        clip(legend, width),
        Line::styled(fit(keys, width), theme.dim()),
    ];

    // The four blocks: side by side when they fit, else two by two, else one column.
    let per_row = per_row(width);
    let block_rows = 4 / per_row;
    let room = height.saturating_sub(lines.len() + footer.len());
    let full = block_rows * (n + 2) + (block_rows - 1);
    let compact = full + 1 > room;
    let col_w = if per_row == 1 {
        width
    } else {
        (width - (per_row - 1) * gap) / per_row
    };
    let dense_pooling = match &pg.dense {
        DenseCell::Done(Ok(d)) => Some(d.pooling.clone()),
        _ => app.pooling.as_ref().map(|p| p.current.to_string()),
    };
    let mut blocks: Vec<Vec<Line<'static>>> = Vec::new();
    for r in Representation::ALL {
        let pending = |what: &str| -> Result<&Matrix, (String, Style)> {
            Err((what.to_owned(), theme.dim()))
        };
        let (title, matrix) = if r == Representation::Dense {
            let title = match &dense_pooling {
                Some(p) => format!("dense ({p} pooling)"),
                None => "dense".to_owned(),
            };
            let m = match &pg.dense {
                DenseCell::NotAsked => pending("F5 computes"),
                DenseCell::Waiting if app.part(Part::Dense) == &PartState::Loading => {
                    pending("waiting for the encoder…")
                }
                DenseCell::Waiting => pending("embedding the sentences…"),
                DenseCell::Done(Ok(d)) => Ok(&d.matrix),
                DenseCell::Done(Err(why)) => Err((format!("not available: {why}"), theme.error())),
            };
            (title, m)
        } else {
            let m = match &pg.sparse {
                None if pg.computed.is_empty() => pending("F5 computes"),
                None => pending("computing…"),
                Some(Ok(s)) => s
                    .matrices
                    .get(&r)
                    .ok_or_else(|| ("missing".to_owned(), theme.error())),
                Some(Err(why)) => Err((format!("not available: {why}"), theme.error())),
            };
            (r.title().to_owned(), m)
        };
        blocks.push(matrix_lines(theme, title, matrix, n, col_w, compact));
    }
    if !compact {
        lines.push(Line::raw(""));
    }
    let block_h = if compact { n + 1 } else { n + 2 };
    for (k, chunk) in blocks.chunks(per_row).enumerate() {
        if k > 0 && !compact {
            lines.push(Line::raw(""));
        }
        let tallest = chunk.iter().map(Vec::len).max().unwrap_or(0).max(block_h);
        for y in 0..tallest {
            let mut spans: Vec<Span<'static>> = Vec::new();
            for (c, block) in chunk.iter().enumerate() {
                let line = block.get(y).cloned().unwrap_or_default();
                let used = line.width();
                spans.extend(line.spans);
                if c + 1 < chunk.len() {
                    spans.push(Span::raw(" ".repeat(col_w.saturating_sub(used) + gap)));
                }
            }
            lines.push(clip(spans, width));
        }
    }
    // The footer stays at the bottom; the blocks give way when the box is short.
    let keep = height.saturating_sub(footer.len());
    lines.truncate(keep);
    while lines.len() < keep {
        lines.push(Line::raw(""));
    }
    lines.extend(footer);
    frame.render_widget(Paragraph::new(lines), inner);
    if let Some(line) = pg.lines.get(pg.row.min(pg.lines.len().saturating_sub(1))) {
        let x = 4 + line.before_cursor().width();
        if x < width && cursor_row < height {
            frame.set_cursor_position(Position::new(
                inner.x + x as u16,
                inner.y + cursor_row as u16,
            ));
        }
    }
}

fn draw_detail(
    frame: &mut Frame,
    app: &App,
    theme: &Theme,
    area: Rect,
    passage: usize,
    scroll: u16,
    ranks: &[PaneRank],
) {
    let Some(corpus) = app.corpus.as_deref() else {
        return;
    };
    let Some(p) = corpus.passages.get(passage) else {
        return;
    };
    let gold = if app.gold() == Some(passage) {
        " ✓ gold"
    } else {
        ""
    };
    let title = format!(" p{passage} · {}{gold} ", p.title);
    let w = area.width.saturating_sub(4).max(area.width * 9 / 10);
    let h = area.height.saturating_sub(2).max(area.height * 9 / 10);
    let inner = popup(frame, area, w, h, &title, theme);
    let width = inner.width as usize;
    if width == 0 || inner.height == 0 {
        return;
    }
    let mut lines: Vec<Vec<Span<'static>>> = Vec::new();
    // The passage's place in every method's whole list, as it was when the view opened.
    for r in ranks {
        let text = match &r.rank {
            Ok((rank, score)) if r.method == Method::Rerank => format!(
                "{:<13} #{rank} logit {score:.4} (sigmoid {:.4})",
                r.method.title(),
                crate::model::sigmoid(*score as f32)
            ),
            Ok((rank, score)) => format!("{:<13} #{rank} score {score:.4}", r.method.title()),
            Err(why) => format!("{:<13} {why}", r.method.title()),
        };
        lines.push(vec![Span::raw(text)]);
    }
    if !ranks.is_empty() {
        lines.push(vec![]);
    }
    let terms = app
        .results
        .as_ref()
        .map(|r| r.terms.clone())
        .unwrap_or_default();
    let mut marks: Vec<(usize, usize, Style)> = app
        .analyzer
        .as_ref()
        .map(|a| a.highlight(&p.text, &terms))
        .unwrap_or_default()
        .into_iter()
        .map(|(s, e)| (s, e, theme.highlight()))
        .collect();
    let questions: Vec<_> = p
        .questions
        .iter()
        .filter_map(|&q| corpus.questions.get(q))
        .collect();
    for q in &questions {
        for a in &q.answers {
            if let Some((s, e)) = char_span_to_bytes(&p.text, a.start, a.text.chars().count()) {
                // Answers first so they win over query terms where both apply.
                marks.insert(0, (s, e, theme.answer()));
            }
        }
    }
    lines.push(marked(&p.text, &marks, Style::new()));
    lines.push(vec![]);
    lines.push(vec![Span::styled(
        format!("Questions about this passage ({})", questions.len()),
        Style::new().add_modifier(Modifier::BOLD),
    )]);
    for q in &questions {
        lines.push(vec![Span::raw(format!("• {}", q.text))]);
        let answers: Vec<&str> = q.answers.iter().map(|a| a.text.as_str()).collect();
        if !answers.is_empty() {
            lines.push(vec![
                Span::raw("  answer: "),
                Span::styled(answers.join(" / "), theme.answer()),
            ]);
        }
    }
    let lines: Vec<Line> = lines.into_iter().flat_map(|l| wrap(l, width)).collect();
    // Scrolling stops where the last line reaches the bottom.
    let max_scroll = lines.len().saturating_sub(inner.height as usize);
    let first = (scroll as usize).min(max_scroll);
    frame.render_widget(
        Paragraph::new(lines.into_iter().skip(first).collect::<Vec<_>>()),
        inner,
    );
}

fn setting_value(app: &App, s: Setting) -> String {
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

fn draw_settings(frame: &mut Frame, app: &App, theme: &Theme, area: Rect, row: usize) {
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

fn bar(value: f64, cells: usize) -> String {
    let full = (value.clamp(0.0, 1.0) * cells as f64).round() as usize;
    format!("{}{}", "█".repeat(full), "░".repeat(cells - full))
}

fn draw_eval(frame: &mut Frame, app: &App, theme: &Theme, area: Rect) {
    // With per-question outcomes the overlay grows to hold the recall curves and the list.
    let deep = matches!(&app.eval, EvalState::Done(Ok(o)) if !o.outcomes.is_empty());
    let (w, h) = if deep {
        (110, area.height.saturating_sub(2))
    } else {
        (84, 20)
    };
    let inner = popup(
        frame,
        area,
        w,
        h,
        " Evaluation over the dataset questions ",
        theme,
    );
    let width = inner.width as usize;
    if width == 0 {
        return;
    }
    let mut lines: Vec<Line> = Vec::new();
    match &app.eval {
        EvalState::NotRun => lines.push(Line::styled(
            fit(
                "waiting for the BM25 index; press e again when Ready",
                width,
            ),
            theme.dim(),
        )),
        EvalState::Running {
            done, total, eta, ..
        } => {
            let frac = if *total == 0 {
                0.0
            } else {
                *done as f64 / *total as f64
            };
            let eta = eta.map_or(String::new(), |e| format!(" · ETA {}", human_secs(e)));
            lines.push(Line::raw(fit(
                &format!("evaluating [{}] {done}/{total}{eta}", bar(frac, 30)),
                width,
            )));
            lines.push(Line::styled(
                fit("queries keep working meanwhile (Esc)", width),
                theme.dim(),
            ));
        }
        EvalState::Cancelled { done, total } => lines.push(Line::styled(
            fit(
                &format!("cancelled after {done}/{total} questions; r runs it again"),
                width,
            ),
            theme.dim(),
        )),
        EvalState::Done(Err(e)) => lines.push(Line::styled(
            fit(&format!("evaluation failed: {e}"), width),
            theme.error(),
        )),
        EvalState::Done(Ok(outcome)) => {
            let pooling = app.pooling.as_ref().map_or(String::new(), |p| {
                format!(" · dense with {} pooling", p.current)
            });
            lines.push(Line::raw(fit(
                &format!(
                    "{} questions, gold passage known for each{pooling}",
                    outcome.questions
                ),
                width,
            )));
            lines.extend(wrap(
                vec![Span::styled(outcome.settings.clone(), theme.dim())],
                width,
            ));
            lines.extend(wrap(
                vec![Span::styled(outcome.labels.clone(), theme.dim())],
                width,
            ));
            // Narrow terminals get short names and columns, so every number still shows.
            let compact = width < 70;
            let head = if compact {
                format!(
                    "{:<7}{:>6}{:>6}{:>6}{:>6}{:>6}{:>8}",
                    "method", "R@1", "R@5", "R@10", "MRR", "nDCG", "q/s"
                )
            } else {
                format!(
                    "{:<13} {:>6} {:>6} {:>6} {:>7} {:>8} {:>9}",
                    "method", "R@1", "R@5", "R@10", "MRR@10", "nDCG@10", "queries/s"
                )
            };
            lines.push(Line::styled(
                fit(&head, width),
                Style::new().add_modifier(Modifier::BOLD),
            ));
            for m in Method::ALL {
                if let Some(r) = outcome.reports.get(m.name()) {
                    let x = &r.metrics;
                    let row = if compact {
                        format!(
                            "{:<7}{:>6.3}{:>6.3}{:>6.3}{:>6.3}{:>6.3}{:>8.1}",
                            m.name(),
                            x.recall_1,
                            x.recall_5,
                            x.recall_10,
                            x.mrr_10,
                            x.ndcg_10,
                            r.qps
                        )
                    } else {
                        format!(
                            "{:<13} {:>6.3} {:>6.3} {:>6.3} {:>7.3} {:>8.3} {:>9.1}",
                            m.title(),
                            x.recall_1,
                            x.recall_5,
                            x.recall_10,
                            x.mrr_10,
                            x.ndcg_10,
                            r.qps
                        )
                    };
                    lines.push(Line::raw(fit(&row, width)));
                }
            }
            lines.push(Line::raw(""));
            lines.push(Line::styled(
                fit("MRR@10", width),
                Style::new().add_modifier(Modifier::BOLD),
            ));
            let cells = width.saturating_sub(22).min(40);
            for m in Method::ALL {
                if let Some(r) = outcome.reports.get(m.name()) {
                    lines.push(clip(
                        vec![
                            Span::raw(format!("{:<13} ", m.title())),
                            Span::styled(bar(r.metrics.mrr_10, cells), theme.highlight()),
                            Span::raw(format!(" {:.3}", r.metrics.mrr_10)),
                        ],
                        width,
                    ));
                }
            }
            for (m, why) in &outcome.skipped {
                lines.push(Line::styled(
                    fit(&format!("{m}: not run ({why})"), width),
                    theme.error(),
                ));
            }
        }
    }
    lines.push(Line::raw(""));
    if let EvalState::Done(Ok(outcome)) = &app.eval {
        if !outcome.judged.is_empty() {
            let judged: Vec<String> = Method::ALL
                .iter()
                .filter_map(|m| {
                    outcome
                        .judged
                        .get(m.name())
                        .map(|j| format!("{} {:.0}%", m.title(), j * 100.0))
                })
                .collect();
            lines.push(Line::styled(
                fit(&format!("judged@10: {}", judged.join(" · ")), width),
                theme.dim(),
            ));
        }
    }
    let keys = if app.eval.running() {
        "c cancel · Esc close (keeps running)"
    } else if deep {
        "d pair · ↑↓ choose · Enter run the question · r again · l gold / judgments · Esc"
    } else {
        "r run again · l gold / your judgments · Esc close"
    };
    let footer = Line::styled(fit(keys, width), theme.dim());
    let height = inner.height as usize;
    match &app.eval {
        EvalState::Done(Ok(outcome)) if deep && height <= lines.len() + 6 && app.eval_page => {
            // Too short for everything: this page holds the curves and the list.
            let [chart, list, keys] = Layout::vertical([
                Constraint::Length((height.saturating_sub(1) / 2) as u16),
                Constraint::Min(0),
                Constraint::Length(1),
            ])
            .areas(inner);
            draw_recall_chart(frame, theme, chart, outcome);
            draw_disagreements(frame, app, theme, list, outcome);
            let keys_line = Line::styled(fit(&format!("Tab table · {keys}"), width), theme.dim());
            frame.render_widget(Paragraph::new(keys_line), keys);
        }
        EvalState::Done(Ok(_)) if deep && height <= lines.len() + 6 => {
            lines.truncate(height.saturating_sub(1));
            lines.push(Line::styled(
                fit(&format!("Tab curves and disagreements · {keys}"), width),
                theme.dim(),
            ));
            frame.render_widget(Paragraph::new(lines), inner);
        }
        EvalState::Done(Ok(outcome)) if deep => {
            let top = lines.len().min(height);
            let rest = height - top - 1;
            let chart_h = (rest / 2).clamp(5, 14).min(rest);
            let [table, chart, list, keys] = Layout::vertical([
                Constraint::Length(top as u16),
                Constraint::Length(chart_h as u16),
                Constraint::Min(0),
                Constraint::Length(1),
            ])
            .areas(inner);
            frame.render_widget(Paragraph::new(lines), table);
            draw_recall_chart(frame, theme, chart, outcome);
            draw_disagreements(frame, app, theme, list, outcome);
            frame.render_widget(Paragraph::new(footer), keys);
        }
        _ => {
            // The keys stay at the bottom; the table gives way on a short terminal.
            lines.truncate(height.saturating_sub(1));
            lines.push(footer);
            frame.render_widget(Paragraph::new(lines), inner);
        }
    }
}

/// One line of the fusion lab's chart: its name, points, style and marker.
type Series<'a> = (String, &'a Vec<(f64, f64)>, Style, ratatui::symbols::Marker);

/// The fusion lab: MRR@10 on the tuning half against alpha (convex) and the dense share
/// (RRF, at the best k), BM25 and dense alone as reference lines, and the chosen setting's
/// held-out numbers.
fn draw_lab(frame: &mut Frame, app: &App, theme: &Theme, area: Rect) {
    use super::state::LabState;
    use crate::fusion::{Fusion, Norm};
    use ratatui::symbols::Marker;
    use ratatui::widgets::{Axis, Chart, Dataset, GraphType};
    let inner = popup(
        frame,
        area,
        110,
        area.height.saturating_sub(2),
        " Fusion lab · which fusion beats both lists ",
        theme,
    );
    let width = inner.width as usize;
    let height = inner.height as usize;
    if width == 0 || height < 4 {
        return;
    }
    let keys = "a apply the chosen setting to Hybrid · r run again · Esc close";
    let lab = match &app.lab {
        LabState::Done(Ok(lab)) => lab,
        other => {
            let text = match other {
                LabState::NotRun => "waiting for BM25 and dense; F7 again when Ready".to_owned(),
                LabState::Running { done, total } => format!(
                    "retrieving each question's dense and BM25 lists once: {done}/{total}, then the grid"
                ),
                LabState::Done(Err(e)) => format!("the fusion lab failed: {e}"),
                LabState::Done(Ok(_)) => String::new(),
            };
            let lines = vec![
                Line::raw(fit(&text, width)),
                Line::styled(fit(keys, width), theme.dim()),
            ];
            frame.render_widget(Paragraph::new(lines), inner);
            return;
        }
    };
    let best = &lab.report.best;
    let s = &best.split;
    let mrr = |m: &crate::metrics::Metrics| m.mrr_10;
    let mut lines = vec![
        Line::raw(fit(
            &format!(
                "{} questions, seeded half ({}) to choose on, the other {} held out; {} settings",
                s.questions,
                s.tune_questions,
                s.test_questions,
                lab.report.grid.len()
            ),
            width,
        )),
        clip(
            vec![
                Span::raw("chosen on the tuning half: "),
                Span::styled(best.fusion.describe(), theme.gold()),
                Span::raw(format!(
                    " · held-out MRR@10 {:.3} (BM25 {:.3}, dense {:.3}, default RRF {:.3})",
                    mrr(&best.test),
                    mrr(&lab.report.baselines.bm25),
                    mrr(&lab.report.baselines.dense),
                    mrr(&lab.default_test)
                )),
            ],
            width,
        ),
    ];
    // Series: convex per norm against alpha; RRF at the k that does best, against the dense
    // weight (its share: the BM25 weight is 1 - it).
    let convex = |n: Norm| -> Vec<(f64, f64)> {
        lab.report
            .grid
            .iter()
            .filter_map(|g| match g.fusion {
                Fusion::Convex { alpha, norm, .. } if norm == n => Some((alpha, g.tune.mrr_10)),
                _ => None,
            })
            .collect()
    };
    let best_k = lab
        .report
        .grid
        .iter()
        .filter_map(|g| match g.fusion {
            Fusion::Rrf { k, .. } => Some((k, g.tune.mrr_10)),
            _ => None,
        })
        .fold(None::<(f64, f64)>, |b, (k, m)| match b {
            Some((_, bm)) if bm >= m => b,
            _ => Some((k, m)),
        })
        .map_or(60.0, |(k, _)| k);
    let rrf: Vec<(f64, f64)> = lab
        .report
        .grid
        .iter()
        .filter_map(|g| match g.fusion {
            Fusion::Rrf {
                k, dense_weight, ..
            } if k == best_k => Some((dense_weight, g.tune.mrr_10)),
            _ => None,
        })
        .collect();
    let minmax = convex(Norm::MinMax);
    let zscore = convex(Norm::ZScore);
    let flat = |v: f64| vec![(0.0, v), (1.0, v)];
    let bm25_line = flat(mrr(&lab.tune_baselines.bm25));
    let dense_line = flat(mrr(&lab.tune_baselines.dense));
    let rrf_name = format!("RRF k {best_k} (x: dense weight)");
    let series: Vec<Series> = vec![
        (
            "convex minmax (x: alpha)".into(),
            &minmax,
            method_style(theme, Method::Hybrid),
            Marker::Braille,
        ),
        (
            "convex zscore".into(),
            &zscore,
            method_style(theme, Method::Rerank),
            Marker::Dot,
        ),
        (
            rrf_name,
            &rrf,
            method_style(theme, Method::Dense),
            Marker::Block,
        ),
        (
            "BM25 alone".into(),
            &bm25_line,
            method_style(theme, Method::Bm25),
            Marker::Dot,
        ),
        ("dense alone".into(), &dense_line, theme.dim(), Marker::Dot),
    ];
    // The legend as a line of its own (the chart's own legend hides when space is short).
    let glyph = |m: &Marker| match m {
        Marker::Braille => "⣿",
        Marker::Block => "█",
        _ => "•",
    };
    let mut legend: Vec<Span> = Vec::new();
    for (name, _, style, marker) in &series {
        legend.push(Span::styled(format!("{} {name}  ", glyph(marker)), *style));
    }
    legend.push(Span::styled(
        format!(
            "(BM25 alone {:.3}, dense alone {:.3} on this half)",
            mrr(&lab.tune_baselines.bm25),
            mrr(&lab.tune_baselines.dense)
        ),
        theme.dim(),
    ));
    lines.push(clip(legend, width));
    let datasets: Vec<Dataset> = series
        .iter()
        .map(|(name, pts, style, marker)| {
            Dataset::default()
                .name(name.clone())
                .marker(*marker)
                .graph_type(GraphType::Line)
                .style(*style)
                .data(pts)
        })
        .collect();
    let lo = series
        .iter()
        .flat_map(|(_, p, _, _)| p.iter().map(|&(_, y)| y))
        .fold(1.0f64, f64::min);
    let lo = (lo * 10.0).floor() / 10.0;
    let chart = Chart::new(datasets)
        .block(Block::default().title(Line::styled(
            "MRR@10 on the tuning half",
            Style::new().add_modifier(Modifier::BOLD),
        )))
        .x_axis(Axis::default().bounds([0.0, 1.0]).labels(["0", ".5", "1"]))
        .y_axis(
            Axis::default()
                .bounds([lo, 1.0])
                .labels([format!("{lo:.1}"), "1".to_owned()]),
        );
    let top = lines.len() as u16;
    let [text, plot, footer] = Layout::vertical([
        Constraint::Length(top),
        Constraint::Min(0),
        Constraint::Length(1),
    ])
    .areas(inner);
    lines.truncate(text.height as usize);
    frame.render_widget(Paragraph::new(lines), text);
    frame.render_widget(chart, plot);
    frame.render_widget(
        Paragraph::new(Line::styled(fit(keys, width), theme.dim())),
        footer,
    );
}

/// The methods' colours in the recall chart (marker glyphs tell them apart without colour).
fn method_style(theme: &Theme, m: Method) -> Style {
    let colour = match m {
        Method::Dense => Color::Cyan,
        Method::Bm25 => Color::Yellow,
        Method::Hybrid => Color::Magenta,
        Method::Rerank => Color::Green,
    };
    theme.pick(Style::new().fg(colour), Style::new())
}

/// recall@k against k = 1..100, one line per method.
fn draw_recall_chart(
    frame: &mut Frame,
    theme: &Theme,
    area: Rect,
    outcome: &super::protocol::EvalOutcome,
) {
    use ratatui::symbols::Marker;
    use ratatui::widgets::{Axis, Chart, Dataset, GraphType};
    let max_k = crate::eval::DEEP;
    let curves: Vec<(Method, Vec<(f64, f64)>)> = Method::ALL
        .iter()
        .filter(|m| {
            outcome
                .outcomes
                .iter()
                .any(|o| o.ranks.contains_key(m.name()))
        })
        .map(|&m| {
            let pts = outcome
                .recall_curve(m.name(), max_k)
                .into_iter()
                .enumerate()
                .map(|(i, r)| ((i + 1) as f64, r))
                .collect();
            (m, pts)
        })
        .collect();
    let markers = [Marker::Braille, Marker::Dot, Marker::Block, Marker::Bar];
    let datasets: Vec<Dataset> = curves
        .iter()
        .enumerate()
        .map(|(i, (m, pts))| {
            Dataset::default()
                .name(m.title())
                .marker(markers[i % markers.len()])
                .graph_type(GraphType::Line)
                .style(method_style(theme, *m))
                .data(pts)
        })
        .collect();
    let chart = Chart::new(datasets)
        .block(Block::default().title(Line::styled(
            "recall@k, k = 1..100",
            Style::new().add_modifier(Modifier::BOLD),
        )))
        .x_axis(
            Axis::default()
                .bounds([1.0, max_k as f64])
                .labels(["1", "50", "100"]),
        )
        .y_axis(Axis::default().bounds([0.0, 1.0]).labels(["0", ".5", "1"]));
    frame.render_widget(chart, area);
}

/// The questions where the panes disagree most, narrowed to one pair with d.
fn draw_disagreements(
    frame: &mut Frame,
    app: &App,
    theme: &Theme,
    area: Rect,
    outcome: &super::protocol::EvalOutcome,
) {
    let width = area.width as usize;
    let height = area.height as usize;
    if height == 0 || width == 0 {
        return;
    }
    let pairs = super::state::method_pairs(outcome);
    let pair = app
        .eval_pair
        .checked_sub(1)
        .and_then(|i| pairs.get(i).copied());
    let list = super::state::disagreements(outcome, pair);
    let filter = pair.map_or("every pair".to_owned(), |(a, b)| format!("{a} beats {b}"));
    let mut lines = vec![Line::styled(
        fit(
            &format!(
                "Where they disagree ({filter}): gold 1st in one, not in the other's top 10 · {} questions",
                list.len()
            ),
            width,
        ),
        Style::new().add_modifier(Modifier::BOLD),
    )];
    let room = height.saturating_sub(1);
    let first = (app.eval_row + 1).saturating_sub(room);
    for (i, d) in list.iter().enumerate().skip(first).take(room) {
        let q = outcome
            .outcomes
            .get(d.question)
            .map_or("", |o| o.question.as_str());
        let lost = d
            .loser_rank
            .map_or("absent".to_owned(), |r| format!("#{r}"));
        let line = clip(
            vec![
                Span::styled(format!("{} 1st", d.winner), theme.gold()),
                Span::raw(format!(", {} {lost}  ", d.loser)),
                Span::raw(q.to_owned()),
            ],
            width,
        );
        lines.push(if i == app.eval_row {
            line.style(theme.selected())
        } else {
            line
        });
    }
    frame.render_widget(Paragraph::new(lines), area);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(line: &Line) -> String {
        line.spans.iter().map(|s| s.content.as_ref()).collect()
    }

    #[test]
    fn clip_cuts_hangul_by_display_width_with_an_ellipsis() {
        let line = clip(vec![Span::raw("장마"), Span::raw("철 비 소식")], 7);
        assert_eq!(text(&line), "장마철…");
        assert!(line.width() <= 7);
        let exact = clip(vec![Span::raw("장마"), Span::raw("철")], 4);
        assert_eq!(
            text(&exact),
            "장…",
            "a span that fills the width is still marked cut"
        );
        assert_eq!(text(&clip(vec![Span::raw("비")], 2)), "비");
    }

    #[test]
    fn wrap_never_puts_a_wide_character_past_the_width() {
        let spans = vec![Span::raw("기상청은 올해 장마가"), Span::raw(" 6월 하순에")];
        for width in 1..12 {
            for line in wrap(spans.clone(), width) {
                assert!(line.width() <= width.max(2), "{width}: {:?}", text(&line));
            }
        }
        let lines = wrap(spans, 9);
        assert_eq!(text(&lines[0]), "기상청은 ");
    }

    #[test]
    fn snippets_start_near_the_first_match() {
        let t = "가나다라마바사아자차카타파하 장마 소식";
        let at = t.find("장마").unwrap();
        let spans = snippet(t, &[(at, at + "장마".len())], 12, Style::new());
        let s: String = spans.iter().map(|s| s.content.as_ref()).collect();
        assert!(s.starts_with('…') && s.contains("장마"), "{s}");
    }
}
