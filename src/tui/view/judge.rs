//! The judge view: the pooled hits of the query on screen, or the judged queries.
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;
use ratatui::Frame;

use super::text::clip;
use super::{grade_style, popup, Theme};
use crate::render::fit;
use crate::tui::state::App;

/// The judge view: the pooled hits of the query on screen with their grades, or the judged
/// queries.
pub(super) fn draw_judge(
    frame: &mut Frame,
    app: &App,
    theme: &Theme,
    area: Rect,
    row: usize,
    queries: bool,
) {
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
    let body = height - 2;
    let first = (row + 1).saturating_sub(body);
    let mut lines = if queries {
        query_lines(app, theme, width, row, first, body)
    } else {
        let Some(results) = &app.results else {
            let lines = vec![Line::styled(
                fit(
                    "run a query first: the pool is every pane's hits for it",
                    width,
                ),
                theme.dim(),
            )];
            frame.render_widget(Paragraph::new(lines), inner);
            return;
        };
        let legend: Vec<String> = app
            .pane_ids()
            .map(|p| format!("{} {}", initial(app.title(p)), app.title(p)))
            .collect();
        let mut lines = vec![clip(
            vec![
                Span::styled(format!("query: {}", results.query), theme.highlight()),
                Span::styled(format!("   ranks: {}", legend.join(" · ")), theme.dim()),
            ],
            width,
        )];
        lines.extend(pool_lines(app, theme, width, row, first, body));
        lines
    };
    let keep = height.saturating_sub(1);
    lines.truncate(keep);
    while lines.len() < keep {
        lines.push(Line::raw(""));
    }
    let keys = if queries {
        "↑↓ choose · Enter run it again · Tab pool · Esc close"
    } else {
        "0 not relevant 1 2 3 perfect (then the next unjudged) · u remove · Enter read · Tab queries · Esc"
    };
    lines.push(Line::styled(fit(keys, width), theme.dim()));
    frame.render_widget(Paragraph::new(lines), inner);
}

/// The judged queries from `first`, `body` of them, with how many passages each has graded.
fn query_lines(
    app: &App,
    theme: &Theme,
    width: usize,
    row: usize,
    first: usize,
    body: usize,
) -> Vec<Line<'static>> {
    let mut lines = Vec::new();
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
    lines
}

/// A pane's initial in the rank columns (`Semantic` -> `S`).
fn initial(title: &str) -> String {
    title
        .chars()
        .next()
        .map_or_else(String::new, |c| c.to_uppercase().collect())
}

/// The pooled passages from `first` (under the query line), each with its grade and title.
fn pool_lines(
    app: &App,
    theme: &Theme,
    width: usize,
    row: usize,
    first: usize,
    body: usize,
) -> Vec<Line<'static>> {
    let mut lines = Vec::new();
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
        let passage = corpus.and_then(|c| c.passages.get(*p));
        let title = passage.map_or_else(String::new, |x| x.title.clone());
        // The opening of the passage, on one line: enough to judge most hits from here.
        let snippet: String = passage.map_or_else(String::new, |x| {
            x.text.split_whitespace().collect::<Vec<_>>().join(" ")
        });
        let gold = app.gold() == Some(*p);
        let mut spans = vec![
            Span::styled(format!("{mark} "), style),
            Span::styled(
                if gold { "✓ " } else { "  " },
                if gold { theme.gold() } else { theme.dim() },
            ),
            Span::raw(format!("p{p:<5} ")),
        ];
        // Its rank in each pane's whole list, by the pane's initial ("-": not in it).
        for pane in app.pane_ids() {
            let rank = crate::tui::gold::list_rank(app, pane, *p);
            let text = format!(
                "{}{:<3} ",
                initial(app.title(pane)),
                rank.map_or("-".to_owned(), |r| r.to_string())
            );
            let top = rank.is_some_and(|r| r <= app.params.top_k);
            spans.push(Span::styled(
                text,
                if top { Style::new() } else { theme.dim() },
            ));
        }
        spans.push(Span::styled(
            title,
            if gold { theme.gold() } else { Style::new() },
        ));
        spans.push(Span::styled(format!("  {snippet}"), theme.dim()));
        let line = clip(spans, width);
        lines.push(if i == row {
            line.style(theme.selected())
        } else {
            line
        });
    }
    lines
}
