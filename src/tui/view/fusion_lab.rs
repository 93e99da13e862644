//! The fusion lab: MRR@10 against alpha and the RRF weights.
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Paragraph};
use ratatui::Frame;

use super::text::clip;
use super::{method_style, popup, Theme};
use crate::panes::Kind;
use crate::render::fit;
use crate::tui::state::App;

/// One line of the fusion lab's chart: its name, points, style and marker.
pub(super) type Series<'a> = (String, &'a Vec<(f64, f64)>, Style, ratatui::symbols::Marker);

/// The fusion lab: MRR@10 on the tuning half against alpha (convex) and the dense share
/// (RRF, at the best k), BM25 and dense alone as reference lines, and the chosen setting's
/// held-out numbers.
pub(super) fn draw_lab(frame: &mut Frame, app: &App, theme: &Theme, area: Rect) {
    use crate::fusion::{Fusion, Norm};
    use crate::tui::state::LabState;
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
            method_style(theme, Kind::Hybrid),
            Marker::Braille,
        ),
        (
            "convex zscore".into(),
            &zscore,
            method_style(theme, Kind::Rerank),
            Marker::Dot,
        ),
        (
            rrf_name,
            &rrf,
            method_style(theme, Kind::Dense),
            Marker::Block,
        ),
        (
            "BM25 alone".into(),
            &bm25_line,
            method_style(theme, Kind::Bm25),
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
