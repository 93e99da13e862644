//! The fusion lab: MRR@10 against alpha and the RRF weights.
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Modifier, Style};
use ratatui::symbols::Marker;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Axis, Block, Chart, Dataset, GraphType, Paragraph};
use ratatui::Frame;

use super::text::clip;
use super::{method_style, popup, Theme};
use crate::fusion::{Fusion, Norm};
use crate::metrics::Metrics;
use crate::panes::Kind;
use crate::render::fit;
use crate::tui::overlays::fusion_lab::LabState;
use crate::tui::protocol::FusionLab;
use crate::tui::state::App;

/// One line of the fusion lab's chart: its name, points, style and marker.
pub(super) type Series<'a> = (String, &'a Vec<(f64, f64)>, Style, Marker);

/// The fusion lab: MRR@10 on the tuning half against alpha (convex) and the dense share
/// (RRF, at the best k), BM25 and dense alone as reference lines, and the chosen setting's
/// held-out numbers.
pub(super) fn draw_lab(frame: &mut Frame, app: &App, theme: &Theme, area: Rect) {
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
    let lab = match &app.lab.state {
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
    let mut lines = header_lines(lab, theme, width);
    let curves = Curves::of(lab);
    let series = curves.series(theme);
    lines.push(legend(&series, lab, theme, width));
    let chart = chart(&series);
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

fn mrr(m: &Metrics) -> f64 {
    m.mrr_10
}

/// The split, and the chosen setting with its held-out numbers.
fn header_lines(lab: &FusionLab, theme: &Theme, width: usize) -> Vec<Line<'static>> {
    let best = &lab.report.best;
    let s = &best.split;
    vec![
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
            ],
            width,
        ),
        // A line of its own: after the setting it was cut at the popup's width.
        Line::raw(fit(
            &format!(
                "held-out MRR@10 {:.3} (BM25 {:.3}, dense {:.3}, default RRF {:.3})",
                mrr(&best.test),
                mrr(&lab.report.baselines.bm25),
                mrr(&lab.report.baselines.dense),
                mrr(&lab.default_test)
            ),
            width,
        )),
    ]
}

/// The chart's points: convex per norm against alpha; RRF at the k that does best, against
/// the dense weight (its share: the BM25 weight is 1 - it); BM25 and dense alone as flat lines.
struct Curves {
    minmax: Vec<(f64, f64)>,
    zscore: Vec<(f64, f64)>,
    best_k: f64,
    rrf: Vec<(f64, f64)>,
    bm25: Vec<(f64, f64)>,
    dense: Vec<(f64, f64)>,
}

impl Curves {
    fn of(lab: &FusionLab) -> Self {
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
        let flat = |v: f64| vec![(0.0, v), (1.0, v)];
        Self {
            minmax: convex(Norm::MinMax),
            zscore: convex(Norm::ZScore),
            best_k,
            rrf,
            bm25: flat(mrr(&lab.tune_baselines.bm25)),
            dense: flat(mrr(&lab.tune_baselines.dense)),
        }
    }

    fn series(&self, theme: &Theme) -> Vec<Series<'_>> {
        vec![
            (
                "convex minmax (x: alpha)".into(),
                &self.minmax,
                method_style(theme, Kind::Hybrid),
                Marker::Braille,
            ),
            (
                "convex zscore".into(),
                &self.zscore,
                method_style(theme, Kind::Rerank),
                Marker::Dot,
            ),
            (
                format!("RRF k {} (x: dense weight)", self.best_k),
                &self.rrf,
                method_style(theme, Kind::Dense),
                Marker::Block,
            ),
            (
                "BM25 alone".into(),
                &self.bm25,
                method_style(theme, Kind::Bm25),
                Marker::Dot,
            ),
            ("dense alone".into(), &self.dense, theme.dim(), Marker::Dot),
        ]
    }
}

/// The legend as a line of its own (the chart's own legend hides when space is short).
fn legend(series: &[Series], lab: &FusionLab, theme: &Theme, width: usize) -> Line<'static> {
    let glyph = |m: &Marker| match m {
        Marker::Braille => "⣿",
        Marker::Block => "█",
        _ => "•",
    };
    let mut legend: Vec<Span> = Vec::new();
    for (name, _, style, marker) in series {
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
    clip(legend, width)
}

/// MRR@10 against x in [0, 1], the y axis from the lowest point's tenth.
fn chart<'a>(series: &'a [Series]) -> Chart<'a> {
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
    Chart::new(datasets)
        .block(Block::default().title(Line::styled(
            "MRR@10 on the tuning half",
            Style::new().add_modifier(Modifier::BOLD),
        )))
        .x_axis(Axis::default().bounds([0.0, 1.0]).labels(["0", ".5", "1"]))
        .y_axis(
            Axis::default()
                .bounds([lo, 1.0])
                .labels([format!("{lo:.1}"), "1".to_owned()]),
        )
}
