//! The event pane: one line per event (time, icon, summary), newest on top; markers such as
//! "replayed 12 missed events"; an unread count while the chat has the focus.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Paragraph};

use super::wrap::wrap;
use super::{border, dim, selected};
use crate::app::{App, EventRow, Focus};

pub fn render(frame: &mut Frame, area: Rect, app: &App) {
    let mut title = " events ".to_owned();
    if app.selecting(Focus::Events) {
        title = " events · s shoutout · u card · Esc ".into();
    } else if app.unread > 0 && app.focus == Focus::Chat {
        title = format!(" events · {} new ", app.unread);
    } else if app.events_scroll > 0 {
        title = format!(" events · scrolled {} ", app.events_scroll);
    }
    let block = Block::new()
        .borders(Borders::ALL)
        .border_style(border(app, Focus::Events))
        .title(title);
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let mut rows: Vec<Line> = Vec::new();
    let selecting = app.selecting(Focus::Events);
    for (i, row) in app.events.iter().skip(app.events_scroll).enumerate() {
        let lines = wrap(spans(row), inner.width);
        if selecting && i == 0 {
            rows.extend(lines.into_iter().map(|l| l.patch_style(selected())));
        } else {
            rows.extend(lines);
        }
        if rows.len() >= usize::from(inner.height) {
            break;
        }
    }
    frame.render_widget(Paragraph::new(rows), inner);
}

fn spans(row: &EventRow) -> Vec<Span<'static>> {
    match row {
        EventRow::Marker(text) => vec![Span::styled(
            format!("── {text} ──"),
            dim().add_modifier(Modifier::ITALIC),
        )],
        EventRow::Event { event, gifts } => {
            let time = onair_common::time::parse(&event.occurred_at)
                .and_then(|t| onair_common::time::local(t.as_millisecond(), "%H:%M"))
                .unwrap_or_default();
            let (icon, color) = icon(&event.kind);
            let mut summary = event.summary.clone();
            if *gifts > 0 {
                summary.push_str(&format!(" ({gifts} received)"));
            }
            vec![
                Span::styled(format!("{time} "), dim()),
                Span::styled(
                    format!("{icon} "),
                    Style::new().fg(color).add_modifier(Modifier::BOLD),
                ),
                Span::raw(summary),
            ]
        }
    }
}

/// A one-column icon and color per type.
pub fn icon(kind: &str) -> (&'static str, Color) {
    match kind {
        "channel.follow" => ("♥", Color::Red),
        "channel.subscribe" | "channel.subscription.message" => ("★", Color::Blue),
        "channel.subscription.gift" | "irc.giftpaidupgrade" => ("✚", Color::Magenta),
        "channel.cheer" | "irc.bitsbadgetier" => ("◆", Color::Magenta),
        "channel.raid" => ("⚑", Color::Yellow),
        "stream.online" => ("●", Color::Green),
        "stream.offline" => ("○", Color::DarkGray),
        "channel.update" => ("✎", Color::Cyan),
        "channel.channel_points_custom_reward_redemption.add" => ("✦", Color::Cyan),
        k if k.starts_with("channel.hype_train") => ("▲", Color::LightRed),
        "channel.ad_break.begin" => ("$", Color::DarkGray),
        k if k.starts_with("channel.poll") || k.starts_with("channel.prediction") => {
            ("?", Color::LightBlue)
        }
        "channel.ban" => ("✖", Color::Red),
        k if k.starts_with("channel.shoutout") => ("»", Color::Yellow),
        "channel.charity_campaign.donate" => ("♣", Color::Green),
        "irc.announcement" => ("!", Color::Yellow),
        _ => ("•", Color::White),
    }
}
