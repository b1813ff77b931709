//! The user card overlay: the lines [`crate::app::Card::lines`] made, in a box over the panes.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::{Color, Style};
use ratatui::text::Line;
use ratatui::widgets::{Block, Borders, Clear, Paragraph, Wrap};

use super::dim;

pub fn render(frame: &mut Frame, area: Rect, lines: &[String]) {
    let height = (lines.len() as u16 + 3)
        .min(area.height.saturating_sub(2))
        .max(5);
    let rect = super::centered(area, 64.min(area.width), height);
    let mut text: Vec<Line> = lines.iter().map(|l| Line::from(l.as_str())).collect();
    text.push(Line::from(" any key closes").style(dim()));
    let block = Block::new()
        .borders(Borders::ALL)
        .title(" user ")
        .border_style(Style::new().fg(Color::Cyan));
    frame.render_widget(Clear, rect);
    frame.render_widget(
        Paragraph::new(text).wrap(Wrap { trim: false }).block(block),
        rect,
    );
}
