//! Drawing: a pure function of [`App`]. Korean text is measured in display columns
//! (unicode-width) everywhere; every line is clipped before ratatui sees it, so nothing
//! wraps into a neighbour at any size.
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::Line;
use ratatui::widgets::{Block, Borders, Clear};
use ratatui::Frame;
use unicode_width::UnicodeWidthStr;

use crate::panes::Kind;
use crate::render::fit;
use crate::tui::state::{App, Overlay};

mod detail;
mod eval;
mod fusion_lab;
mod gold;
mod help;
mod judge;
mod lesson;
mod panes;
mod playground;
mod settings;
mod status;
mod text;
mod why;
mod words;

use detail::draw_detail;
use eval::draw_eval;
use fusion_lab::draw_lab;
pub use help::WALKTHROUGH;
use help::{draw_help, draw_walkthrough};
use judge::draw_judge;
use panes::{draw_panes, draw_query};
use playground::draw_playground;
use settings::draw_settings;
use status::draw_status;

/// Styles, with `NO_COLOR` honoured by using modifiers only.
struct Theme {
    color: bool,
}

impl Theme {
    fn pick(&self, colored: Style, plain: Style) -> Style {
        if self.color {
            colored
        } else {
            plain
        }
    }
    fn highlight(&self) -> Style {
        self.pick(
            Style::new().fg(Color::Yellow).add_modifier(Modifier::BOLD),
            Style::new().add_modifier(Modifier::BOLD | Modifier::UNDERLINED),
        )
    }
    fn answer(&self) -> Style {
        self.pick(
            Style::new()
                .fg(Color::Green)
                .add_modifier(Modifier::UNDERLINED),
            Style::new().add_modifier(Modifier::UNDERLINED | Modifier::ITALIC),
        )
    }
    fn gold(&self) -> Style {
        self.pick(
            Style::new().fg(Color::Green).add_modifier(Modifier::BOLD),
            Style::new().add_modifier(Modifier::BOLD),
        )
    }
    fn error(&self) -> Style {
        self.pick(
            Style::new().fg(Color::Red),
            Style::new().add_modifier(Modifier::ITALIC),
        )
    }
    fn dim(&self) -> Style {
        self.pick(
            Style::new().fg(Color::DarkGray),
            Style::new().add_modifier(Modifier::DIM),
        )
    }
    fn focus(&self) -> Style {
        self.pick(
            Style::new().fg(Color::Cyan).add_modifier(Modifier::BOLD),
            Style::new().add_modifier(Modifier::BOLD),
        )
    }
    fn selected(&self) -> Style {
        Style::new().add_modifier(Modifier::REVERSED)
    }
}

/// How the panes share the screen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PaneLayout {
    Row,
    Grid,
    Tabs,
}

/// `n` panes side by side when each gets 25 columns (four from 100), else a grid of two rows
/// (2x2 for three or four, 2x3 for five or six) when each gets 25 columns and the panes' area
/// 12 rows, else one pane with tabs.
pub fn pane_layout(area: Rect, n: usize) -> PaneLayout {
    let n = n.max(1) as u16;
    if area.width >= 25 * n && area.height >= 6 {
        PaneLayout::Row
    } else if n > 2 && area.width >= 25 * n.div_ceil(2) && area.height >= 12 {
        PaneLayout::Grid
    } else {
        PaneLayout::Tabs
    }
}

/// Draws the whole screen.
pub fn draw(frame: &mut Frame, app: &App) {
    let area = frame.area();
    let theme = Theme { color: app.color };
    let query_h = if area.height >= 16 { 3 } else { 1 };
    let status_h = if area.height >= 20 {
        3
    } else {
        1.min(area.height.saturating_sub(query_h))
    };
    let lesson_h = lesson::height(app, area.width, area.height);
    // The gold line: one line per target passage, up to 3 on a tall screen, 1 from 12 rows.
    let rows = crate::tui::gold::rows(app);
    let gold_h = match area.height {
        h if h >= 40 => gold::height(&rows, 3),
        h if h >= 12 => gold::height(&rows, 1),
        _ => 0,
    };
    let [query, gold_area, panes, lesson, status] = Layout::vertical([
        Constraint::Length(query_h),
        Constraint::Length(gold_h),
        Constraint::Min(0),
        Constraint::Length(lesson_h),
        Constraint::Length(status_h),
    ])
    .areas(area);
    draw_query(frame, app, &theme, query);
    gold::draw_gold(frame, app, &theme, gold_area, &rows);
    draw_panes(frame, app, &theme, panes);
    draw_status(frame, app, &theme, status);
    lesson::draw_lesson(frame, app, &theme, lesson);
    // With a lesson on, an overlay covers the screen above its panel only.
    let area = if lesson_h > 0 {
        Rect {
            height: lesson.y - area.y,
            ..area
        }
    } else {
        area
    };
    match &app.overlay {
        Overlay::None => {}
        Overlay::Help => draw_help(frame, &theme, area),
        Overlay::Walkthrough => draw_walkthrough(frame, &theme, area),
        Overlay::Playground => draw_playground(frame, app, &theme, area),
        Overlay::Detail { .. } => draw_detail(frame, app, &theme, area),
        Overlay::Settings { row } => draw_settings(frame, app, &theme, area, *row),
        Overlay::Eval => draw_eval(frame, app, &theme, area),
        Overlay::Judge { row, queries } => draw_judge(frame, app, &theme, area, *row, *queries),
        Overlay::Fusion => draw_lab(frame, app, &theme, area),
    }
}

/// A grade's colour: 3 and 2 like the gold marker, 1 plain, 0 dim.
fn grade_style(theme: &Theme, grade: u8) -> Style {
    match grade {
        3 | 2 => theme.gold(),
        1 => theme.highlight(),
        _ => theme.dim(),
    }
}

/// `45s`, `3m05s`.
fn human_secs(d: std::time::Duration) -> String {
    let s = d.as_secs();
    if s < 60 {
        format!("{s}s")
    } else {
        format!("{}m{:02}s", s / 60, s % 60)
    }
}

/// A box of at most `w`x`h` centred in `area`, cleared.
fn popup(frame: &mut Frame, area: Rect, w: u16, h: u16, title: &str, theme: &Theme) -> Rect {
    let w = w.min(area.width);
    let h = h.min(area.height);
    let rect = Rect {
        x: area.x + (area.width - w) / 2,
        y: area.y + (area.height - h) / 2,
        width: w,
        height: h,
    };
    frame.render_widget(Clear, rect);
    // A wide character just left of the box would have its right half under the border.
    if rect.x > 0 {
        let buf = frame.buffer_mut();
        for y in rect.top()..rect.bottom() {
            let cell = &mut buf[(rect.x - 1, y)];
            if cell.symbol().width() > 1 {
                cell.set_symbol(" ");
            }
        }
    }
    let block = Block::default()
        .borders(Borders::ALL)
        .border_style(theme.focus())
        .title(Line::from(fit(title, w.saturating_sub(2) as usize)));
    let inner = block.inner(rect);
    frame.render_widget(block, rect);
    inner
}

/// The methods' colours in the recall chart (marker glyphs tell them apart without colour).
fn method_style(theme: &Theme, m: Kind) -> Style {
    let colour = match m {
        Kind::Dense => Color::Cyan,
        Kind::Bm25 => Color::Yellow,
        Kind::Hybrid => Color::Magenta,
        Kind::Rerank => Color::Green,
    };
    theme.pick(Style::new().fg(colour), Style::new())
}

/// A cosine's style: a heat scale in colour; without colour the number carries it, with
/// bold for the high band and dim for the low one.
fn heat(theme: &Theme, v: f64) -> Style {
    let band = if v >= 0.75 {
        3
    } else if v >= 0.5 {
        2
    } else if v >= 0.25 {
        1
    } else {
        0
    };
    if theme.color {
        let color = [Color::DarkGray, Color::Cyan, Color::Yellow, Color::LightRed][band];
        let style = Style::new().fg(color);
        if band == 3 {
            style.add_modifier(Modifier::BOLD)
        } else {
            style
        }
    } else {
        match band {
            3 => Style::new().add_modifier(Modifier::BOLD | Modifier::UNDERLINED),
            2 => Style::new().add_modifier(Modifier::BOLD),
            1 => Style::new(),
            _ => Style::new().add_modifier(Modifier::DIM),
        }
    }
}
