//! Measuring, cutting and wrapping styled text by display width (Hangul is two columns
//! wide), and marking byte spans in it.
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use unicode_width::{UnicodeWidthChar, UnicodeWidthStr};

use crate::render::fit;

/// Cuts a run of styled spans to `width` columns, ending with `…` when cut.
pub(super) fn clip(spans: Vec<Span<'static>>, width: usize) -> Line<'static> {
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
pub(super) fn wrap(spans: Vec<Span<'static>>, width: usize) -> Vec<Line<'static>> {
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
pub(super) fn word_wrap(text: &str, width: usize) -> Vec<String> {
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
pub(super) fn marked(
    text: &str,
    marks: &[(usize, usize, Style)],
    base: Style,
) -> Vec<Span<'static>> {
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
pub(super) fn snippet(
    text: &str,
    spans: &[(usize, usize)],
    width: usize,
    hl: Style,
) -> Vec<Span<'static>> {
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
