//! Rendering from the model: each pane is a small function over `&App`. Nothing here changes
//! the model.

mod bar;
mod card;
mod chat;
mod events;
mod help;
pub mod wrap;

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout};
use ratatui::style::{Color, Modifier, Style};

use super::{App, Focus};

/// Draws the whole screen.
pub fn draw(frame: &mut Frame, app: &App) {
    let [main, input, status] = Layout::vertical([
        Constraint::Min(3),
        Constraint::Length(3),
        Constraint::Length(1),
    ])
    .areas(frame.area());
    let events_width = if main.width >= 100 {
        42
    } else {
        main.width * 2 / 5
    };
    let [chat_area, events_area] =
        Layout::horizontal([Constraint::Min(20), Constraint::Length(events_width)]).areas(main);
    chat::render(frame, chat_area, app);
    events::render(frame, events_area, app);
    bar::input(frame, input, app);
    bar::status(frame, status, app);
    if let Some(c) = &app.card {
        card::render(frame, frame.area(), &c.lines(app));
    }
    if app.help {
        help::render(frame, frame.area());
    }
}

/// The chat pane's title while a line is selected: its one-key actions.
const SELECT_HINT: &str = "t timeout 10m · b ban · d delete · u card · Esc";

/// The selected line.
fn selected() -> Style {
    Style::new().add_modifier(Modifier::REVERSED)
}

/// The border style of a pane: bright when focused.
fn border(app: &App, pane: Focus) -> Style {
    if app.focus == pane {
        Style::new().fg(Color::Cyan)
    } else {
        Style::new().fg(Color::DarkGray)
    }
}

fn dim() -> Style {
    Style::new().fg(Color::DarkGray)
}

fn bold() -> Style {
    Style::new().add_modifier(Modifier::BOLD)
}

/// `HH:MM` in local time.
fn clock(ms: i64) -> String {
    onair_common::time::local(ms, "%H:%M").unwrap_or_else(|| "--:--".into())
}

/// A `width` x `height` rectangle in the middle of `area`, for overlays (help, user card).
fn centered(area: ratatui::layout::Rect, width: u16, height: u16) -> ratatui::layout::Rect {
    let [_, mid, _] = Layout::vertical([
        Constraint::Fill(1),
        Constraint::Length(height),
        Constraint::Fill(1),
    ])
    .areas(area);
    let [_, rect, _] = Layout::horizontal([
        Constraint::Fill(1),
        Constraint::Length(width),
        Constraint::Fill(1),
    ])
    .areas(mid);
    rect
}
