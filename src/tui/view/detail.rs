//! The detail overlay: a passage with the query's terms and the answers marked, and how the
//! explained BM25 pane's analyzer sees the query.
use ratatui::layout::Rect;
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;
use ratatui::Frame;

use super::text::{marked, wrap};
use super::{popup, Theme};
use crate::data::char_span_to_bytes;
use crate::panes::Kind;
use crate::tui::state::{Analysis, App, Overlay, Standing};

/// `BM25 (morph+bigram) sees the query as` with the query's morphemes, dropped
/// ones dim in brackets, its bigrams, and the query terms the passage holds.
fn analysis_lines(app: &App, theme: &Theme, a: &Analysis) -> Vec<Vec<Span<'static>>> {
    let bold = Style::new().add_modifier(Modifier::BOLD);
    // The pane's title names its analyzer when the pane has its own (`BM25 · morph`).
    let title = app.title(a.pane);
    let who = if title.contains(a.analyzer.as_str()) {
        title.to_owned()
    } else {
        format!("{title} ({})", a.analyzer)
    };
    let mut lines = vec![vec![Span::styled(format!("{who} sees the query as"), bold)]];
    match &a.query {
        Err(why) => lines.push(vec![Span::styled(format!("  {why}"), theme.dim())]),
        Ok(seen) => {
            let shown = super::playground::seen_text(theme, "  ".into(), seen);
            if shown.is_empty() {
                lines.push(vec![Span::raw(format!("  terms {}", seen.terms.join(" ")))]);
            }
            lines.extend(shown.into_iter().map(|l| l.spans));
            let matched: Vec<String> = a
                .matched
                .iter()
                .map(|(t, n)| {
                    if *n > 1 {
                        format!("{t}×{n}")
                    } else {
                        t.clone()
                    }
                })
                .collect();
            let total = {
                let mut seen_terms = seen.terms.clone();
                seen_terms.sort();
                seen_terms.dedup();
                seen_terms.len()
            };
            lines.push(vec![
                Span::styled(
                    format!("  in this passage {}/{total}: ", matched.len()),
                    theme.dim(),
                ),
                Span::styled(matched.join(" "), theme.highlight()),
            ]);
        }
    }
    lines.push(vec![]);
    match a.scores.as_deref() {
        Some(Ok(e)) => lines.extend(super::why::bm25_lines(theme, e)),
        Some(Err(why)) => lines.push(vec![Span::styled(
            format!("no BM25 breakdown: {why}"),
            theme.dim(),
        )]),
        None => {}
    }
    lines
}

pub(super) fn draw_detail(frame: &mut Frame, app: &App, theme: &Theme, area: Rect) {
    let Overlay::Detail {
        passage,
        scroll,
        ranks,
        analysis,
        why,
    } = &app.overlay
    else {
        return;
    };
    let (passage, scroll) = (*passage, *scroll);
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
            Standing::Ranked(rank, score) if r.method == Kind::Rerank => format!(
                "{:<13} #{rank} logit {score:.4} (sigmoid {:.4})",
                app.title(r.pane),
                crate::model::sigmoid(*score as f32)
            ),
            Standing::Ranked(rank, score) => {
                format!("{:<13} #{rank} score {score:.4}", app.title(r.pane))
            }
            why => format!("{:<13} {why}", app.title(r.pane)),
        };
        lines.push(vec![Span::raw(text)]);
    }
    if !ranks.is_empty() {
        lines.push(vec![]);
    }
    if let Some(w) = why {
        lines.extend(super::why::why_lines(app, theme, w));
    }
    if let Some(a) = analysis {
        lines.extend(analysis_lines(app, theme, a));
    }
    let mut marks: Vec<(usize, usize, Style)> = app
        .spans_of(passage)
        .iter()
        .map(|&(s, e)| (s, e, theme.highlight()))
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
