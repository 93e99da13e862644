//! The help overlay: the keys, and the embedding chapter step by step.
use ratatui::layout::Rect;
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;
use ratatui::Frame;

use super::text::{clip, word_wrap};
use super::{popup, Theme};
use crate::render::fit;
use crate::tui::keymap::KEYMAP;

/// The keys page: one line per entry of the key table (`keymap.rs`), in its order.
pub(super) fn draw_help(frame: &mut Frame, theme: &Theme, area: Rect) {
    let inner = popup(
        frame,
        area,
        76,
        KEYMAP.len() as u16 + 4,
        " Keys · Tab: walkthrough ",
        theme,
    );
    let width = inner.width as usize;
    let mut lines: Vec<Line> = KEYMAP
        .iter()
        .map(|entry| {
            clip(
                vec![
                    Span::styled(format!("{:<16} ", entry.keys), theme.highlight()),
                    Span::raw(entry.description),
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
        "word2vec",
        "F4 F9",
        "playground, word2vec section: nearest words, analogy",
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

pub(super) fn draw_walkthrough(frame: &mut Frame, theme: &Theme, area: Rect) {
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
