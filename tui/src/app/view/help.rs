//! The `?` overlay.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::{Color, Style};
use ratatui::text::Line;
use ratatui::widgets::{Block, Borders, Clear, Paragraph};

const KEYS: &[(&str, &str)] = &[
    ("Tab", "switch between chat and events"),
    ("i / Enter", "type a message"),
    ("Enter", "send (while typing)"),
    ("Esc", "stop typing"),
    ("↑ ↓ / k j", "scroll the focused pane"),
    ("PgUp PgDn", "scroll a page"),
    ("End / G", "back to live"),
    ("v", "select a line (chat or events)"),
    ("  ↑ ↓ / k j", "move the selection"),
    ("  u / Enter", "user card (any key closes)"),
    ("  t", "time the user out for 10 minutes"),
    ("  b", "ban the user (asks: y to confirm)"),
    ("  d", "delete the selected message"),
    ("  s", "shout out a raider or follower"),
    ("  i", "type (/delete acts on the selection)"),
    ("  Esc", "leave selection"),
    ("/command", "typed: /ban /timeout /slow /raid ... (README)"),
    ("?", "this help"),
    ("q / Ctrl-C", "quit"),
];

pub fn render(frame: &mut Frame, area: Rect) {
    let height = KEYS.len() as u16 + 4;
    let rect = super::centered(area, 58, height);
    let mut lines: Vec<Line> = KEYS
        .iter()
        .map(|(k, what)| Line::from(format!(" {k:<12} {what}")))
        .collect();
    lines.push(Line::default());
    lines.push(Line::from(" any key closes this help").style(Style::new().fg(Color::DarkGray)));
    let block = Block::new()
        .borders(Borders::ALL)
        .title(" keys ")
        .border_style(Style::new().fg(Color::Cyan));
    frame.render_widget(Clear, rect);
    frame.render_widget(Paragraph::new(lines).block(block), rect);
}
