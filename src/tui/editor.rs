//! The text editing the query line and the playground share: [`Input`], one line with a
//! cursor counted in chars, and [`edit_lines`], several lines edited as a small text area.
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

/// The query line: text and a cursor counted in chars.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Input {
    pub text: String,
    pub cursor: usize,
}

impl Input {
    pub(super) fn byte_at(&self, chars: usize) -> usize {
        self.text
            .char_indices()
            .nth(chars)
            .map_or(self.text.len(), |(i, _)| i)
    }

    pub(super) fn len(&self) -> usize {
        self.text.chars().count()
    }

    pub fn set(&mut self, text: &str) {
        self.text = text.to_owned();
        self.cursor = self.len();
    }

    pub(super) fn insert(&mut self, c: char) {
        let at = self.byte_at(self.cursor);
        self.text.insert(at, c);
        self.cursor += 1;
    }

    pub(super) fn backspace(&mut self) -> bool {
        if self.cursor == 0 {
            return false;
        }
        self.cursor -= 1;
        let at = self.byte_at(self.cursor);
        self.text.remove(at);
        true
    }

    pub(super) fn delete(&mut self) -> bool {
        if self.cursor >= self.len() {
            return false;
        }
        let at = self.byte_at(self.cursor);
        self.text.remove(at);
        true
    }

    /// The text before the cursor (its display width places the terminal cursor).
    pub fn before_cursor(&self) -> &str {
        &self.text[..self.byte_at(self.cursor)]
    }
}

/// The line under the cursor, made to exist (an empty area gets one empty line).
fn current<'a>(lines: &'a mut Vec<Input>, row: &mut usize) -> &'a mut Input {
    if lines.is_empty() {
        lines.push(Input::default());
    }
    *row = (*row).min(lines.len() - 1);
    &mut lines[*row]
}

/// Edits `lines` (cursor on line `row`) like a small text area: Enter breaks the line (up
/// to `max` lines), Backspace at a line's start joins it to the one above, Delete at its
/// end joins the one below, Ctrl-U clears the line and Ctrl-D deletes it. Other keys are
/// ignored.
pub fn edit_lines(lines: &mut Vec<Input>, row: &mut usize, key: KeyEvent, max: usize) {
    let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
    match key.code {
        KeyCode::Char('u') if ctrl => current(lines, row).set(""),
        KeyCode::Char('d') if ctrl => {
            if lines.len() > 1 {
                current(lines, row);
                lines.remove(*row);
                *row = (*row).min(lines.len() - 1);
            } else {
                current(lines, row).set("");
            }
        }
        KeyCode::Char(c) if !ctrl => current(lines, row).insert(c),
        KeyCode::Enter if lines.len() < max => {
            let line = current(lines, row);
            let at = line.byte_at(line.cursor);
            let rest = line.text.split_off(at);
            let mut next = Input::default();
            next.set(&rest);
            next.cursor = 0;
            lines.insert(*row + 1, next);
            *row += 1;
        }
        KeyCode::Backspace => {
            let line = current(lines, row);
            if line.cursor > 0 {
                line.backspace();
            } else if *row > 0 {
                let text = lines.remove(*row).text;
                *row -= 1;
                let above = &mut lines[*row];
                let cursor = above.len();
                above.text.push_str(&text);
                above.cursor = cursor;
            }
        }
        KeyCode::Delete => {
            let at = *row;
            let line = current(lines, row);
            if line.cursor < line.len() {
                line.delete();
            } else if at + 1 < lines.len() {
                let text = lines.remove(at + 1).text;
                lines[at].text.push_str(&text);
            }
        }
        KeyCode::Left => {
            let line = current(lines, row);
            line.cursor = line.cursor.saturating_sub(1);
        }
        KeyCode::Right => {
            let line = current(lines, row);
            line.cursor = (line.cursor + 1).min(line.len());
        }
        KeyCode::Home => current(lines, row).cursor = 0,
        KeyCode::End => {
            let line = current(lines, row);
            line.cursor = line.len();
        }
        KeyCode::Up => {
            let cursor = current(lines, row).cursor;
            *row = row.saturating_sub(1);
            let line = current(lines, row);
            line.cursor = cursor.min(line.len());
        }
        KeyCode::Down => {
            let cursor = current(lines, row).cursor;
            *row = (*row + 1).min(lines.len() - 1);
            let line = current(lines, row);
            line.cursor = cursor.min(line.len());
        }
        _ => {}
    }
}
