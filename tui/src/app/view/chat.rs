//! The chat pane: newest at the bottom, colored names, badge marks, /me in italics, replies with
//! their parent, deleted messages struck through, the selected line highlighted.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Widget};

use super::wrap::wrap;
use super::{SELECT_HINT, border, clock, dim, selected};
use crate::app::{App, ChatEntry, Focus};
use crate::chat::ChatMessage;

pub fn render(frame: &mut Frame, area: Rect, app: &App) {
    let title = if app.selecting(Focus::Chat) {
        format!(" #{} · {SELECT_HINT} ", app.channel)
    } else if app.chat_scroll > 0 {
        format!(
            " #{} · scrolled back {} (End: live) ",
            app.channel, app.chat_scroll
        )
    } else {
        format!(" #{} ", app.channel)
    };
    let block = Block::new()
        .borders(Borders::ALL)
        .border_style(border(app, Focus::Chat))
        .title(title);
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let height = usize::from(inner.height);
    let mut rows: Vec<Line> = Vec::with_capacity(height);
    // Walk back from the newest visible entry until the pane is full.
    let selecting = app.selecting(Focus::Chat);
    for (i, entry) in app.chat.iter().rev().skip(app.chat_scroll).enumerate() {
        let mut lines = wrap(spans(entry), inner.width);
        if selecting && i == 0 {
            lines = lines
                .into_iter()
                .map(|l| l.patch_style(selected()))
                .collect();
        }
        if let ChatEntry::Message { msg, .. } = entry
            && let Some(r) = &msg.reply_to
        {
            let parent = format!("  ↳ @{}: {}", r.login, r.text);
            let mut p = wrap(vec![Span::styled(parent, dim())], inner.width);
            p.truncate(1);
            p.append(&mut lines);
            lines = p;
        }
        for l in lines.into_iter().rev() {
            rows.push(l);
        }
        if rows.len() >= height {
            break;
        }
    }
    // Bottom up, each row on its own: the rows are wrapped to the width already, so a
    // `Paragraph` would only walk every grapheme again to lay them out (a tenth of a frame).
    let buf = frame.buffer_mut();
    for (row, y) in rows.iter().zip((inner.top()..inner.bottom()).rev()) {
        row.render(
            Rect {
                y,
                height: 1,
                ..inner
            },
            buf,
        );
    }
}

fn spans(entry: &ChatEntry) -> Vec<Span<'static>> {
    match entry {
        ChatEntry::System { at_ms, text } => vec![
            Span::styled(format!("{} ", clock(*at_ms)), dim()),
            Span::styled(format!("— {text}"), Style::new().fg(Color::Yellow)),
        ],
        ChatEntry::Message { msg, deleted } => message(msg, *deleted),
    }
}

fn message(m: &ChatMessage, deleted: bool) -> Vec<Span<'static>> {
    let mut out = vec![Span::styled(format!("{} ", clock(m.sent_at)), dim())];
    let marks = badges(&m.user.badges);
    for (mark, color) in &marks {
        out.push(Span::styled(
            *mark,
            Style::new().fg(*color).add_modifier(Modifier::BOLD),
        ));
    }
    if !marks.is_empty() {
        out.push(Span::raw(" "));
    }
    let name_style = Style::new().fg(name_color(m)).add_modifier(Modifier::BOLD);
    let mut text_style = Style::new();
    if m.action {
        text_style = text_style.fg(name_color(m)).add_modifier(Modifier::ITALIC);
    }
    if deleted {
        text_style = text_style
            .fg(Color::DarkGray)
            .add_modifier(Modifier::CROSSED_OUT);
    }
    out.push(Span::styled(m.user.name.clone(), name_style));
    out.push(Span::raw(if m.action { " " } else { ": " }));
    if m.bits > 0 {
        out.push(Span::styled(
            format!("[{} bits] ", m.bits),
            Style::new().fg(Color::Magenta),
        ));
    }
    out.push(Span::styled(m.text.clone(), text_style));
    out
}

/// Short marks for the badges people look for.
fn badges(badges: &[String]) -> Vec<(&'static str, Color)> {
    let mut out = Vec::new();
    for b in badges {
        let name = b.split('/').next().unwrap_or_default();
        let mark = match name {
            "broadcaster" => ("◆", Color::Red),
            "moderator" => ("⚔", Color::Green),
            "vip" => ("♦", Color::Magenta),
            "subscriber" | "founder" => ("★", Color::Blue),
            _ => continue,
        };
        out.push(mark);
    }
    out
}

/// The user's color, or a stable one picked from the login.
fn name_color(m: &ChatMessage) -> Color {
    if let Some((r, g, b)) = m.user.rgb() {
        return Color::Rgb(r, g, b);
    }
    const PALETTE: [Color; 6] = [
        Color::Red,
        Color::Green,
        Color::Yellow,
        Color::Blue,
        Color::Magenta,
        Color::Cyan,
    ];
    let h = m
        .user
        .login
        .bytes()
        .fold(0usize, |h, b| h.wrapping_mul(31).wrapping_add(b as usize));
    PALETTE[h % PALETTE.len()]
}
