//! Drawing the image screen: the query line, the ranked list, the thumbnail grid, the status
//! bar. Thumbnails are the only state drawing touches (their protocol encodes lazily, at the
//! size the cell gets).
use std::collections::HashMap;

use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, List, ListItem, ListState, Paragraph};
use ratatui::Frame;
use ratatui_image::protocol::StatefulProtocol;
use ratatui_image::StatefulImage;

use super::{ImageApp, Stage};
use crate::imagesearch::ImageCorpus;

fn name_of(app: &ImageApp, row: usize) -> String {
    app.corpus
        .as_ref()
        .and_then(|c| c.paths.get(row))
        .and_then(|p| p.file_name())
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

pub(super) fn draw(
    frame: &mut Frame,
    app: &ImageApp,
    thumbs: &mut HashMap<usize, StatefulProtocol>,
) {
    let [query, body, status] = Layout::vertical([
        Constraint::Length(3),
        Constraint::Min(4),
        Constraint::Length(1),
    ])
    .areas(frame.area());
    let title = format!(" Image search: {} ", app.dir.display());
    frame.render_widget(
        Paragraph::new(format!("{}▏", app.input))
            .block(Block::default().borders(Borders::ALL).title(title)),
        query,
    );
    let [list, grid] =
        Layout::horizontal([Constraint::Length(44), Constraint::Min(20)]).areas(body);
    draw_list(frame, app, list);
    draw_grid(frame, app, grid, thumbs);
    frame.render_widget(Paragraph::new(status_line(app)), status);
}

fn draw_list(frame: &mut Frame, app: &ImageApp, area: Rect) {
    let order = app.order();
    let items: Vec<ListItem> = order
        .iter()
        .enumerate()
        .map(|(rank, &(row, score))| {
            let score = score.map_or_else(|| "      ".into(), |s| format!("{s:>6.3}"));
            ListItem::new(Line::from(vec![
                Span::raw(format!("{:>3}. ", rank + 1)),
                Span::styled(score, Style::default().add_modifier(Modifier::BOLD)),
                Span::raw(format!("  {}", name_of(app, row))),
            ]))
        })
        .collect();
    let title = if app.hits.is_empty() || app.input.trim().is_empty() {
        " Images (type a query to rank them) ".to_owned()
    } else {
        " Ranked by CLIP cosine ".to_owned()
    };
    let mut state = ListState::default().with_selected((!order.is_empty()).then_some(app.selected));
    frame.render_stateful_widget(
        List::new(items)
            .block(Block::default().borders(Borders::ALL).title(title))
            .highlight_style(Style::default().add_modifier(Modifier::REVERSED)),
        area,
        &mut state,
    );
}

fn draw_grid(
    frame: &mut Frame,
    app: &ImageApp,
    area: Rect,
    thumbs: &mut HashMap<usize, StatefulProtocol>,
) {
    let order = app.order();
    let start = app.page_start();
    let rows = Layout::vertical([Constraint::Ratio(1, 2); 2]).split(area);
    for r in 0..2 {
        let cells = Layout::horizontal([Constraint::Ratio(1, 3); 3]).split(rows[r]);
        for c in 0..3 {
            let k = start + r * 3 + c;
            let Some(&(row, score)) = order.get(k) else {
                continue;
            };
            let mut title = format!(" #{} {}", k + 1, name_of(app, row));
            if let Some(s) = score {
                title.push_str(&format!(" {s:.3}"));
            }
            title.push(' ');
            let mut block = Block::default().borders(Borders::ALL).title(title);
            if k == app.selected {
                block = block.border_style(
                    Style::default().add_modifier(Modifier::BOLD | Modifier::REVERSED),
                );
            }
            let inner = block.inner(cells[c]);
            frame.render_widget(block, cells[c]);
            match thumbs.get_mut(&row) {
                Some(protocol) => {
                    frame.render_stateful_widget(StatefulImage::default(), inner, protocol)
                }
                None => frame.render_widget(Paragraph::new("loading…"), inner),
            }
        }
    }
}

fn status_line(app: &ImageApp) -> String {
    let keys = "type to search · ↑↓ PgUp PgDn select · Ctrl-U clear · Esc quit";
    let state = match &app.stage {
        Stage::Loading { done, total } => format!("embedding images {done}/{total}"),
        Stage::Failed(why) => format!("CLIP failed: {why}"),
        Stage::Ready => {
            let c = app.corpus.as_ref();
            let n = c.map_or(0, |c| c.paths.len());
            let mut s = format!("{n} images");
            if c.is_some_and(|c| c.from_cache) {
                s.push_str(" (embeddings from the cache)");
            }
            s
        }
    };
    let state = match &app.warning {
        Some(w) => format!("{state} · {w}"),
        None => state,
    };
    // The files left out come last, by name, then each one's reason (the full message is also
    // in the log): the keys stay readable when the reasons run past the edge.
    match app.corpus.as_ref().map(skipped_line) {
        Some(skipped) if !skipped.is_empty() => format!(" {state} · {keys} · {skipped}"),
        _ => format!(" {state} · {keys}"),
    }
}

/// "2 skipped: notes.jpg, truncated.png · notes.jpg: cannot decode image: ... · truncated.png:
/// ...", or "" for none: every name before any reason, which can be long.
fn skipped_line(corpus: &ImageCorpus) -> String {
    if corpus.skipped.is_empty() {
        return String::new();
    }
    let name = |path: &std::path::Path| {
        path.file_name().map_or_else(
            || path.display().to_string(),
            |n| n.to_string_lossy().into(),
        )
    };
    let names: Vec<String> = corpus.skipped.iter().map(|(p, _)| name(p)).collect();
    let reasons: Vec<String> = corpus
        .skipped
        .iter()
        .map(|(path, why)| {
            // The reason starts with the full path (ModelError::Invalid); the name says it.
            let full = format!("{}: ", path.display());
            format!("{}: {}", name(path), why.strip_prefix(&full).unwrap_or(why))
        })
        .collect();
    format!(
        "{} skipped: {} · {}",
        corpus.skipped.len(),
        names.join(", "),
        reasons.join(" · ")
    )
}
