//! The detail view's "why" block: a BM25 score taken apart term by term (tantivy's explain),
//! a dense hit's cosine, a fused score's arithmetic, a reranked hit's logit and move.
use ratatui::style::{Modifier, Style};
use ratatui::text::Span;
use unicode_width::UnicodeWidthStr;

use super::Theme;
use crate::bm25::{Bm25Explain, BM25_B, BM25_K1};
use crate::fusion::{FusionMethod, Norm};
use crate::model::sigmoid;
use crate::panes::PaneId;
use crate::pipeline::FusionWhy;
use crate::tui::state::{App, Why};

type Lines = Vec<Vec<Span<'static>>>;

fn bold() -> Style {
    Style::new().add_modifier(Modifier::BOLD)
}

/// `text` padded with spaces to `width` display columns.
fn pad(text: &str, width: usize) -> String {
    format!("{text}{}", " ".repeat(width.saturating_sub(text.width())))
}

/// The BM25 score of the passage taken apart: one row per matched term with its idf, term
/// frequency, saturated tf and share; the length normalisation above them.
pub(super) fn bm25_lines(theme: &Theme, e: &Bm25Explain) -> Lines {
    let mut lines: Lines = vec![vec![Span::styled(
        format!(
            "BM25 score {:.4} = Σ idf · (k1+1)·tf / (tf + k1·norm), k1 {BM25_K1}, b {BM25_B}",
            e.score
        ),
        bold(),
    )]];
    let Some(first) = e.matched.first() else {
        lines.push(vec![Span::styled(
            "  no query term in this passage: score 0",
            theme.dim(),
        )]);
        lines.push(vec![]);
        return lines;
    };
    lines.push(vec![Span::raw(format!(
        "  length {} terms, average {:.2}: norm = 1 - b + b·dl/avgdl = {:.4}",
        first.dl, first.avgdl, first.norm
    ))]);
    let term_w = e
        .matched
        .iter()
        .map(|t| t.term.width())
        .max()
        .unwrap_or(4)
        .max(4);
    lines.push(vec![Span::styled(
        format!(
            "  {}  {:>9} {:>7} {:>3} {:>7} {:>8} {:>6}",
            pad("term", term_w),
            "n/N",
            "idf",
            "tf",
            "tf part",
            "score",
            "share"
        ),
        theme.dim(),
    )]);
    let sum: f64 = e.matched.iter().map(|t| t.score).sum();
    for t in &e.matched {
        let share = if sum > 0.0 {
            t.score / sum * 100.0
        } else {
            0.0
        };
        lines.push(vec![
            Span::raw("  "),
            Span::styled(pad(&t.term, term_w), theme.highlight()),
            Span::raw(format!(
                "  {:>9} {:>7.4} {:>3} {:>7.4} {:>8.4} {:>5.1}%",
                format!("{}/{}", t.doc_freq, t.docs),
                t.idf,
                t.tf,
                t.tf_part,
                t.score,
                share
            )),
        ]);
    }
    lines.push(vec![]);
    lines
}

/// The focused pane's reason for the passage's place.
pub(super) fn why_lines(app: &App, theme: &Theme, why: &Why) -> Lines {
    let mut lines: Lines = match why {
        Why::Dense { pane, rank, cosine } => vec![vec![
            Span::styled(format!("Why {} #{rank}: ", app.title(*pane)), bold()),
            Span::raw(format!(
                "cosine {cosine:.4} between the query's and the passage's embeddings"
            )),
        ]],
        Why::Rerank {
            pane,
            rank,
            logit,
            from,
        } => {
            let moved = match from {
                Some((of, was)) => {
                    let change = match (*was as i64) - (*rank as i64) {
                        0 => "stays".to_owned(),
                        d if d > 0 => format!("up {d}"),
                        d => format!("down {}", -d),
                    };
                    format!("; from {} #{was} to #{rank} ({change})", app.title(*of))
                }
                None => String::new(),
            };
            vec![vec![
                Span::styled(format!("Why {} #{rank}: ", app.title(*pane)), bold()),
                Span::raw(format!(
                    "cross-encoder logit {logit:.4} (sigmoid {:.4}){moved}",
                    sigmoid(*logit as f32)
                )),
            ]]
        }
        Why::Fusion { pane, rank, fusion } => fusion_lines(app, theme, *pane, *rank, fusion),
    };
    lines.push(vec![]);
    lines
}

/// A fused score's sum, one input list a line.
fn fusion_lines(app: &App, theme: &Theme, pane: PaneId, rank: usize, f: &FusionWhy) -> Lines {
    let (name, how) = match f.method {
        FusionMethod::Rrf => (
            "RRF",
            format!(
                "Σ weight/(k + rank), k {}, each list's top {}",
                f.k, f.depth
            ),
        ),
        FusionMethod::Convex => (
            "convex",
            format!(
                "Σ weight · {} score, each list's top {}",
                match f.norm {
                    Norm::MinMax => "min-max",
                    Norm::ZScore => "z-score",
                },
                f.depth
            ),
        ),
    };
    let mut lines: Lines = vec![
        vec![
            Span::styled(format!("Why {} #{rank}: ", app.title(pane)), bold()),
            Span::raw(format!("{name} score {:.4}", f.score)),
        ],
        vec![Span::styled(format!("  = {how}"), theme.dim())],
    ];
    let width = f
        .parts
        .iter()
        .map(|p| app.title(p.input).width())
        .max()
        .unwrap_or(0);
    for p in &f.parts {
        let name = pad(app.title(p.input), width);
        let at = match p.rank {
            Some(r) => format!("#{r:<3}"),
            None => format!("not in its top {}:", f.depth),
        };
        let sum = match (f.method, p.rank, p.normalised) {
            (FusionMethod::Rrf, Some(r), _) => {
                format!("{}/({} + {r}) = {:.4}", short(p.weight), f.k, p.adds)
            }
            (FusionMethod::Rrf, None, _) => "adds 0".into(),
            (FusionMethod::Convex, Some(_), Some(n)) => format!(
                "{:.4} → {n:.4} × {} = {:.4}",
                p.raw.unwrap_or(f64::NAN),
                short(p.weight),
                p.adds
            ),
            (FusionMethod::Convex, _, n) => format!(
                "its minimum {:.4} × {} = {:.4}",
                n.unwrap_or(0.0),
                short(p.weight),
                p.adds
            ),
        };
        let style = if p.rank.is_some() {
            Style::new()
        } else {
            theme.dim()
        };
        lines.push(vec![Span::styled(format!("  {name} {at} {sum}"), style)]);
    }
    let parts: Vec<String> = f.parts.iter().map(|p| format!("{:.4}", p.adds)).collect();
    lines.push(vec![Span::raw(format!(
        "  sum {} = {:.4}",
        parts.join(" + "),
        f.score
    ))]);
    lines
}

/// A weight as short as it reads exactly (`1`, `0.3`, `0.25`).
fn short(w: f64) -> String {
    let s = format!("{w:.4}");
    s.trim_end_matches('0').trim_end_matches('.').to_owned()
}
