//! The similarity playground: cosine matrices under four representations.
use ratatui::layout::{Position, Rect};
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;
use ratatui::Frame;
use unicode_width::UnicodeWidthStr;

use super::text::{clip, wrap};
use super::{heat, popup, Theme};
use crate::render::fit;
use crate::teach::{Matrix, Representation};
use crate::tui::overlays::playground::{DenseCell, Playground};
use crate::tui::protocol::Part;
use crate::tui::state::{App, PartState};

/// One representation's block: title, column labels (unless `compact`), one row per
/// sentence; or the title and why there is no matrix.
pub(super) fn matrix_lines(
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

pub(super) fn draw_playground(frame: &mut Frame, app: &App, theme: &Theme, area: Rect) {
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
    let seen = match (&pg.sparse, pg.edited()) {
        (Some(Ok(s)), false) => seen_lines(theme, &s.seen),
        _ => Vec::new(),
    };
    // As tall as the content: sentences, a note, how the analyzer sees them, the blocks with
    // gaps, the footer, borders.
    let rows = 4 / per_row((w as usize).saturating_sub(2));
    // The word2vec section below the blocks: a gap, its title, a row per word, the analogy.
    let words_h = 2 + n.max(1) + 2;
    let want = pg.lines.len() + 2 + seen.len() + rows * (n.max(1) + 3) + words_h + 2 + 2;
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
    // On a short terminal the matrices come first: only the line being edited shows, and
    // the note and shared terms give way.
    let tight = height < pg.lines.len() + 4 + n + 2;
    let mut lines = sentence_lines(pg, theme, width, tight);
    let cursor_row = if tight {
        0
    } else {
        pg.row.min(pg.lines.len().saturating_sub(1))
    };
    if !tight {
        lines.extend(note_lines(pg, theme, width));
        // How the analyzer sees each sentence, when there is room beside the matrices.
        if height >= pg.lines.len() + 4 + n + 2 + seen.len() {
            lines.extend(seen.into_iter().map(|l| clip(l.spans, width)));
        }
    }
    let footer = footer_lines(theme, width);

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
    let blocks = matrix_blocks(app, theme, col_w, compact);
    if !compact {
        lines.push(Line::raw(""));
    }
    let block_h = if compact { n + 1 } else { n + 2 };
    for (k, chunk) in blocks.chunks(per_row).enumerate() {
        if k > 0 && !compact {
            lines.push(Line::raw(""));
        }
        let tallest = chunk.iter().map(Vec::len).max().unwrap_or(0).max(block_h);
        lines.extend(side_by_side(chunk, tallest, col_w, gap, width));
    }
    lines.extend(super::words::section(app, theme, width));
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

/// The sentences, one per line, the one being edited marked (only that one when `tight`).
fn sentence_lines(pg: &Playground, theme: &Theme, width: usize, tight: bool) -> Vec<Line<'static>> {
    let mut lines = Vec::new();
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
    lines
}

/// What to press or where the IDF came from, then the terms each pair of sentences shares.
fn note_lines(pg: &Playground, theme: &Theme, width: usize) -> Vec<Line<'static>> {
    let note = match &pg.sparse {
        _ if pg.computed.is_empty() => "F5 or Ctrl-G computes the matrices".to_owned(),
        _ if pg.edited() => "edited: F5 computes again".to_owned(),
        Some(Ok(s)) => s.idf.clone(),
        _ => String::new(),
    };
    let mut lines = vec![Line::styled(fit(&note, width), theme.dim())];
    if let (Some(Ok(s)), false) = (&pg.sparse, pg.edited()) {
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
    lines
}

/// The heat scale's legend and the keys.
fn footer_lines(theme: &Theme, width: usize) -> [Line<'static>; 2] {
    let keys = format!(
        "Enter new line · ↑↓ line · Ctrl-D delete line · F5/Ctrl-G compute · {} · Esc close",
        super::words::KEYS
    );
    let mut legend = vec![Span::styled("cosine ", theme.dim())];
    for (label, v) in [("≥.75", 1.0), ("≥.50", 0.5), ("≥.25", 0.25), ("<.25", 0.0)] {
        legend.push(Span::styled(label, heat(theme, v)));
        legend.push(Span::raw(" "));
    }
    [
        clip(legend, width),
        Line::styled(fit(&keys, width), theme.dim()),
    ]
}

/// One block per representation, `col_w` wide: its matrix, or why there is none yet.
fn matrix_blocks(app: &App, theme: &Theme, col_w: usize, compact: bool) -> Vec<Vec<Line<'static>>> {
    let pg = &app.playground;
    let n = pg.computed.len();
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
    blocks
}

/// A row of blocks, `tallest` lines high, each padded to `col_w` and `gap` apart.
fn side_by_side(
    chunk: &[Vec<Line<'static>>],
    tallest: usize,
    col_w: usize,
    gap: usize,
    width: usize,
) -> Vec<Line<'static>> {
    let mut lines = Vec::new();
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
    lines
}

/// `[1] 임종석/NNP (이/JKS) ...`: each sentence's morphemes, the dropped ones dim in
/// brackets (stop tag, punctuation, a compound given as its parts), then its bigrams.
fn seen_lines(theme: &Theme, seen: &[crate::teach::Seen]) -> Vec<Line<'static>> {
    seen.iter()
        .enumerate()
        .flat_map(|(i, s)| seen_text(theme, format!("{:<4}", format!("[{}]", i + 1)), s))
        .collect()
}

/// One text as an analyzer sees it, `label` before its first line: its morphemes with their
/// POS, the dropped ones dim in brackets, then its bigrams (the detail view shows the query so).
pub(super) fn seen_text(
    theme: &Theme,
    label: String,
    s: &crate::teach::Seen,
) -> Vec<Line<'static>> {
    let mut out = Vec::new();
    let indent = " ".repeat(label.chars().count());
    if !s.morphemes.is_empty() {
        let mut spans = vec![Span::styled(label.clone(), theme.dim())];
        for m in &s.morphemes {
            let text = format!("{}/{}", m.surface, m.pos);
            let text = if m.part { format!("+{text}") } else { text };
            spans.push(match m.dropped {
                None => Span::raw(text),
                Some(_) => Span::styled(format!("({text})"), theme.dim()),
            });
            spans.push(Span::raw(" "));
        }
        out.push(Line::from(spans));
    }
    if !s.bigrams.is_empty() {
        let lead = if s.morphemes.is_empty() {
            label
        } else {
            indent
        };
        out.push(Line::from(vec![
            Span::styled(lead, theme.dim()),
            Span::styled("bigrams ", theme.dim()),
            Span::raw(s.bigrams.join(" ")),
        ]));
    }
    out
}
