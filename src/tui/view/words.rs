//! The playground's word2vec section (state in `tui/words.rs`): the word2vec cosines of the
//! playground's lines as words, each one's nearest words, and line 1 − line 2 + line 3.
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};

use super::text::clip;
use super::{heat, Theme};
use crate::render::fit;
use crate::tui::state::App;
use crate::tui::words::WordsStage;
use crate::word2vec::chapter::neighbours;

/// The keys the section adds to the playground's footer.
pub(super) const KEYS: &str = "F8 word2vec · F9 the chapter's words";

/// The section's lines, `width` wide.
pub(super) fn section(app: &App, theme: &Theme, width: usize) -> Vec<Line<'static>> {
    let title = |t: String| {
        Line::styled(
            fit(&t, width),
            Style::new().add_modifier(Modifier::BOLD | Modifier::UNDERLINED),
        )
    };
    let mut lines = vec![Line::raw("")];
    match &app.words.stage {
        WordsStage::NotAsked => {
            lines.push(title("word2vec".into()));
            lines.push(Line::styled(
                fit(
                    "F8 trains word vectors on the corpus and compares the lines as words; F9 \
                     puts the chapter's 학교 / 공부 / 운동 in the lines",
                    width,
                ),
                theme.dim(),
            ));
        }
        WordsStage::Training { done, total } => {
            lines.push(title("word2vec".into()));
            let pct = if *total == 0 {
                0.0
            } else {
                100.0 * *done as f64 / *total as f64
            };
            lines.push(Line::styled(
                fit(
                    &format!("training on the corpus's terms… {pct:.0}% ({done}/{total} words)"),
                    width,
                ),
                theme.dim(),
            ));
        }
        WordsStage::Done(Err(why)) => {
            lines.push(title("word2vec".into()));
            lines.push(Line::styled(
                fit(&format!("not available: {why}"), width),
                theme.error(),
            ));
        }
        WordsStage::Done(Ok(o)) => {
            let r = &o.report;
            lines.push(title(format!("word2vec ({})", o.trained.about)));
            if r.words != app.playground.sentences() {
                lines.push(Line::styled(
                    fit("edited: F8 computes again", width),
                    theme.dim(),
                ));
            }
            for (i, row) in r.word2vec.iter().enumerate() {
                let mut spans = vec![Span::styled(
                    format!("{:<4}", format!("[{}]", i + 1)),
                    theme.dim(),
                )];
                for v in row {
                    spans.push(match v {
                        Some(v) => Span::styled(format!("{v:>5.2}"), heat(theme, *v)),
                        None => Span::styled(format!("{:>5}", "-"), theme.dim()),
                    });
                }
                let near = match &r.terms[i] {
                    None => "not in the vocabulary".to_owned(),
                    Some(_) => format!("nearest: {}", neighbours(&r.nearest[i])),
                };
                spans.push(Span::styled(format!("   {}  ", r.words[i]), theme.focus()));
                spans.push(Span::raw(near));
                lines.push(clip(spans, width));
            }
            if let Some(a) = &r.analogy {
                let text = match a {
                    Ok(near) => format!("[1] − [2] + [3] ≈ {}", neighbours(near)),
                    Err(w) => format!("[1] − [2] + [3]: {w} is not one word of the vocabulary"),
                };
                lines.push(Line::raw(fit(&text, width)));
            }
        }
    }
    lines
}
