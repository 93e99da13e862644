//! The evaluation overlay: the metrics table, the recall curves, the disagreement list.
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Paragraph};
use ratatui::Frame;

use super::text::{clip, wrap};
use super::{human_secs, method_style, popup, Theme};
use crate::panes::PaneId;
use crate::render::{fit, plural};
use crate::tui::overlays::eval::{disagreements, method_pairs, EvalState};
use crate::tui::protocol::{EvalLabels, EvalOutcome};
use crate::tui::state::App;

pub(super) fn bar(value: f64, cells: usize) -> String {
    let full = (value.clamp(0.0, 1.0) * cells as f64).round() as usize;
    format!("{}{}", "█".repeat(full), "░".repeat(cells - full))
}

pub(super) fn draw_eval(frame: &mut Frame, app: &App, theme: &Theme, area: Rect) {
    // With per-question outcomes the overlay grows to hold the recall curves and the list.
    let deep = matches!(&app.eval.state, EvalState::Done(Ok(o)) if !o.outcomes.is_empty());
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
    let mut lines = state_lines(app, theme, width);
    lines.push(Line::raw(""));
    let keys = if app.eval.running() {
        "c cancel · Esc close (keeps running)"
    } else if deep {
        "d pair · ↑↓ choose · Enter run the question · r again · l gold / judgments · Esc"
    } else {
        "r run again · l gold / your judgments · Esc close"
    };
    lay_out(frame, app, theme, inner, lines, keys, deep);
}

/// Where the run stands, or (once done) the metrics table and the MRR@10 bars.
fn state_lines(app: &App, theme: &Theme, width: usize) -> Vec<Line<'static>> {
    match &app.eval.state {
        EvalState::NotRun => vec![Line::styled(
            fit(
                "waiting for the BM25 index; press e again when Ready",
                width,
            ),
            theme.dim(),
        )],
        EvalState::Running {
            done, total, eta, ..
        } => {
            let frac = if *total == 0 {
                0.0
            } else {
                *done as f64 / *total as f64
            };
            let eta = eta.map_or(String::new(), |e| format!(" · ETA {}", human_secs(e)));
            let mut lines = vec![
                Line::raw(fit(
                    &format!("evaluating [{}] {done}/{total}{eta}", bar(frac, 30)),
                    width,
                )),
                Line::styled(
                    fit("queries keep working meanwhile (Esc)", width),
                    theme.dim(),
                ),
            ];
            if let Some(partial) = &app.eval.partial {
                lines.extend(table_lines(app, width, partial, Some("running…")));
            }
            lines
        }
        EvalState::Cancelled { done, total } => {
            // The panes that finished before the cancel keep their numbers.
            let what = match app.eval.partial {
                Some(_) => format!("cancelled during a pane's {done}/{total} questions"),
                None => format!("cancelled after {done}/{total} questions"),
            };
            let mut lines = vec![Line::styled(
                fit(&format!("{what}; r runs it again"), width),
                theme.dim(),
            )];
            if let Some(partial) = &app.eval.partial {
                lines.extend(table_lines(app, width, partial, Some("cancelled")));
            }
            lines
        }
        EvalState::Done(Err(e)) => vec![Line::styled(
            fit(&format!("evaluation failed: {e}"), width),
            theme.error(),
        )],
        EvalState::Done(Ok(outcome)) => {
            let mut lines = summary_lines(app, theme, width, outcome);
            // Right under the labels it explains, so a short terminal never cuts it.
            lines.extend(judged_line(app, theme, width, outcome));
            lines.extend(table_lines(app, width, outcome, None));
            lines.extend(mrr_bars(app, theme, width, outcome));
            lines
        }
    }
}

/// What was evaluated: the questions, the pooling, the settings and the labels.
fn summary_lines(
    app: &App,
    theme: &Theme,
    width: usize,
    outcome: &EvalOutcome,
) -> Vec<Line<'static>> {
    let pooling = app.pooling.as_ref().map_or(String::new(), |p| {
        format!(" · dense with {} pooling", p.current)
    });
    // The labels of the run on screen (l switches them and runs again).
    let what = match app.eval.labels {
        EvalLabels::Gold => format!(
            "{}, gold passage known for each",
            plural(outcome.questions, "question", "questions")
        ),
        EvalLabels::Judgments => format!(
            "{} with the grades given here",
            plural(outcome.questions, "judged query", "judged queries")
        ),
    };
    let mut lines = vec![Line::raw(fit(&format!("{what}{pooling}"), width))];
    lines.extend(wrap(
        vec![Span::styled(outcome.settings.clone(), theme.dim())],
        width,
    ));
    lines.extend(wrap(
        vec![Span::styled(outcome.labels.clone(), theme.dim())],
        width,
    ));
    lines
}

/// The metrics table, one row per pane that ran; during or after a cancelled run, the panes
/// not finished say `rest` (running…, cancelled).
fn table_lines(
    app: &App,
    width: usize,
    outcome: &EvalOutcome,
    rest: Option<&str>,
) -> Vec<Line<'static>> {
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
    let mut lines = vec![Line::styled(
        fit(&head, width),
        Style::new().add_modifier(Modifier::BOLD),
    )];
    for pane in app.pane_ids() {
        let name = &app.spec.get(pane).name;
        if let Some(r) = outcome.reports.get(name) {
            let x = &r.metrics;
            let row = if compact {
                format!(
                    "{:<7}{:>6.3}{:>6.3}{:>6.3}{:>6.3}{:>6.3}{:>8.1}",
                    fit(name, 6),
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
                    fit(app.title(pane), 13),
                    x.recall_1,
                    x.recall_5,
                    x.recall_10,
                    x.mrr_10,
                    x.ndcg_10,
                    r.qps
                )
            };
            lines.push(Line::raw(fit(&row, width)));
        } else if let (Some(rest), false) = (rest, outcome.skipped.contains_key(name)) {
            let label = if compact {
                fit(name, 6)
            } else {
                fit(app.title(pane), 13)
            };
            let width_of = if compact { 7 } else { 14 };
            let row = format!("{label:<width_of$}{rest}");
            lines.push(Line::raw(fit(&row, width)));
        }
    }
    lines
}

/// MRR@10 as bars, then the methods that did not run and why.
fn mrr_bars(app: &App, theme: &Theme, width: usize, outcome: &EvalOutcome) -> Vec<Line<'static>> {
    let mut lines = vec![
        Line::raw(""),
        Line::styled(
            fit("MRR@10", width),
            Style::new().add_modifier(Modifier::BOLD),
        ),
    ];
    let cells = width.saturating_sub(22).min(40);
    for pane in app.pane_ids() {
        if let Some(r) = outcome.reports.get(&app.spec.get(pane).name) {
            lines.push(clip(
                vec![
                    Span::raw(format!("{:<13} ", fit(app.title(pane), 13))),
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
    lines
}

/// How much of each pane's top 10 is judged, when any grades were used.
fn judged_line(
    app: &App,
    theme: &Theme,
    width: usize,
    outcome: &EvalOutcome,
) -> Option<Line<'static>> {
    if outcome.judged.is_empty() {
        return None;
    }
    let judged: Vec<String> = app
        .pane_ids()
        .filter_map(|pane| {
            outcome
                .judged
                .get(&app.spec.get(pane).name)
                .map(|j| format!("{} {:.0}%", app.title(pane), j * 100.0))
        })
        .collect();
    Some(Line::styled(
        fit(&format!("judged@10: {}", judged.join(" · ")), width),
        theme.dim(),
    ))
}

/// The lines, the curves and the disagreement list in the box: all of them when they fit,
/// else the table or (Tab) the curves and the list; the keys stay at the bottom.
fn lay_out(
    frame: &mut Frame,
    app: &App,
    theme: &Theme,
    inner: Rect,
    mut lines: Vec<Line<'static>>,
    keys: &str,
    deep: bool,
) {
    let width = inner.width as usize;
    let footer = Line::styled(fit(keys, width), theme.dim());
    let height = inner.height as usize;
    match &app.eval.state {
        EvalState::Done(Ok(outcome)) if deep && height <= lines.len() + 6 && app.eval.page => {
            // Too short for everything: this page holds the curves and the list.
            let [chart, list, keys_area] = Layout::vertical([
                Constraint::Length((height.saturating_sub(1) / 2) as u16),
                Constraint::Min(0),
                Constraint::Length(1),
            ])
            .areas(inner);
            draw_recall_chart(frame, app, theme, chart, outcome);
            draw_disagreements(frame, app, theme, list, outcome);
            let keys_line = Line::styled(fit(&format!("Tab table · {keys}"), width), theme.dim());
            frame.render_widget(Paragraph::new(keys_line), keys_area);
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
            let [table, chart, list, keys_area] = Layout::vertical([
                Constraint::Length(top as u16),
                Constraint::Length(chart_h as u16),
                Constraint::Min(0),
                Constraint::Length(1),
            ])
            .areas(inner);
            frame.render_widget(Paragraph::new(lines), table);
            draw_recall_chart(frame, app, theme, chart, outcome);
            draw_disagreements(frame, app, theme, list, outcome);
            frame.render_widget(Paragraph::new(footer), keys_area);
        }
        _ => {
            // The keys stay at the bottom; the table gives way on a short terminal.
            lines.truncate(height.saturating_sub(1));
            lines.push(footer);
            frame.render_widget(Paragraph::new(lines), inner);
        }
    }
}

/// recall@k against k = 1..100, one line per method.
pub(super) fn draw_recall_chart(
    frame: &mut Frame,
    app: &App,
    theme: &Theme,
    area: Rect,
    outcome: &EvalOutcome,
) {
    use ratatui::symbols::Marker;
    use ratatui::widgets::{Axis, Chart, Dataset, GraphType};
    let max_k = crate::eval::DEEP;
    let curves: Vec<(PaneId, Vec<(f64, f64)>)> = app
        .pane_ids()
        .filter(|&pane| {
            let name = &app.spec.get(pane).name;
            outcome.outcomes.iter().any(|o| o.ranks.contains_key(name))
        })
        .map(|pane| {
            let pts = outcome
                .recall_curve(&app.spec.get(pane).name, max_k)
                .into_iter()
                .enumerate()
                .map(|(i, r)| ((i + 1) as f64, r))
                .collect();
            (pane, pts)
        })
        .collect();
    let markers = [Marker::Braille, Marker::Dot, Marker::Block, Marker::Bar];
    // The legend in the title: ratatui's own hides itself in a chart this short. Each
    // method's mark and colour, as drawn.
    let glyphs = ["⣿", "•", "█", "▄"];
    let mut title = vec![Span::styled(
        "recall@k, k = 1..100",
        Style::new().add_modifier(Modifier::BOLD),
    )];
    for (i, (m, _)) in curves.iter().enumerate() {
        title.push(Span::raw(" · "));
        title.push(Span::styled(
            format!("{} {}", glyphs[i % glyphs.len()], app.title(*m)),
            method_style(theme, app.method(*m)),
        ));
    }
    let datasets: Vec<Dataset> = curves
        .iter()
        .enumerate()
        .map(|(i, (m, pts))| {
            Dataset::default()
                .name(app.title(*m).to_owned())
                .marker(markers[i % markers.len()])
                .graph_type(GraphType::Line)
                .style(method_style(theme, app.method(*m)))
                .data(pts)
        })
        .collect();
    let chart = Chart::new(datasets)
        .block(Block::default().title(Line::from(title)))
        .legend_position(None)
        .x_axis(
            Axis::default()
                .bounds([1.0, max_k as f64])
                .labels(["1", "50", "100"]),
        )
        .y_axis(Axis::default().bounds([0.0, 1.0]).labels(["0", ".5", "1"]));
    frame.render_widget(chart, area);
}

/// The questions where the panes disagree most, narrowed to one pair with d.
pub(super) fn draw_disagreements(
    frame: &mut Frame,
    app: &App,
    theme: &Theme,
    area: Rect,
    outcome: &EvalOutcome,
) {
    let width = area.width as usize;
    let height = area.height as usize;
    if height == 0 || width == 0 {
        return;
    }
    let pairs = method_pairs(outcome);
    let pair = app
        .eval
        .pair
        .checked_sub(1)
        .and_then(|i| pairs.get(i).copied());
    let list = disagreements(outcome, pair);
    let filter = pair.map_or("every pair".to_owned(), |(a, b)| format!("{a} beats {b}"));
    let mut lines = vec![Line::styled(
        fit(
            &format!(
                "Where they disagree ({filter}): gold 1st in one, not in the other's top 10 · {}",
                plural(list.len(), "question", "questions")
            ),
            width,
        ),
        Style::new().add_modifier(Modifier::BOLD),
    )];
    let room = height.saturating_sub(1);
    let first = (app.eval.row + 1).saturating_sub(room);
    for (i, d) in list.iter().enumerate().skip(first).take(room) {
        let q = outcome
            .outcomes
            .get(d.question)
            .map_or("", |o| o.question.as_str());
        let lost: Vec<String> = d
            .losers
            .iter()
            .map(|(m, r)| format!("{m} {}", r.map_or("absent".to_owned(), |r| format!("#{r}"))))
            .collect();
        let line = clip(
            vec![
                Span::styled(format!("{} 1st", d.winners.join(", ")), theme.gold()),
                Span::raw(format!("; {}  ", lost.join(", "))),
                Span::raw(q.to_owned()),
            ],
            width,
        );
        lines.push(if i == app.eval.row {
            line.style(theme.selected())
        } else {
            line
        });
    }
    frame.render_widget(Paragraph::new(lines), area);
}
