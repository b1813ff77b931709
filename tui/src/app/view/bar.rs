//! The input line (with cursor and the 500-character count) and the status bar.

use ratatui::Frame;
use ratatui::layout::{Position, Rect};
use ratatui::style::{Color, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Paragraph};
use unicode_width::UnicodeWidthStr;

use super::{bold, dim};
use crate::app::{App, LoginView, Mode};
use crate::chat::ratelimit::MAX_MESSAGE_CHARS;

pub fn input(frame: &mut Frame, area: Rect, app: &App) {
    let typing = app.mode == Mode::Insert;
    let count = app.input.text.chars().count();
    let hint = match app.mode {
        Mode::Insert => "Enter send · /command acts · Esc stop",
        Mode::Select => "j k move · t timeout · b ban · d delete · u card · s shoutout · Esc",
        Mode::Normal => "i type · v select · ? help",
    };
    let block = Block::new()
        .borders(Borders::ALL)
        .border_style(if typing {
            Style::new().fg(Color::Cyan)
        } else {
            dim()
        })
        .title(format!(" {hint} "))
        .title_bottom(Line::from(format!(" {count}/{MAX_MESSAGE_CHARS} ")).right_aligned());
    let inner = block.inner(area);
    frame.render_widget(block, area);
    // Keep the cursor visible: show the tail of long input.
    let before: String = app.input.text.chars().take(app.input.cursor).collect();
    let width = usize::from(inner.width.saturating_sub(1));
    let skip = before.width().saturating_sub(width);
    let shown: String = app.input.text.chars().skip(skip).collect();
    let text = if shown.is_empty() && !typing {
        Span::styled(
            if app.can_send {
                "press i to chat"
            } else {
                "reading anonymously (onair login to chat)"
            },
            dim(),
        )
    } else {
        Span::raw(shown)
    };
    frame.render_widget(Paragraph::new(Line::from(text)), inner);
    if typing {
        let x = inner.x + (before.width() - skip).min(width) as u16;
        frame.set_cursor_position(Position::new(x, inner.y));
    }
}

pub fn status(frame: &mut Frame, area: Rect, app: &App) {
    let sep = || Span::styled(" │ ", dim());
    let mut spans = vec![
        Span::styled(format!(" #{}", app.channel), bold()),
        sep(),
        Span::raw(format!("chat: {}", app.chat_state)),
    ];
    spans.push(sep());
    match (&app.direct_state, &app.relay_state) {
        (Some(s), _) => {
            let gap = app
                .direct_gap
                .as_ref()
                .map(|at| format!(" · gap at {at}"))
                .unwrap_or_default();
            spans.push(Span::raw(format!("events: direct {s}{gap}")));
        }
        (None, Some(s)) => {
            let seq = app
                .last_seq
                .map(|s| format!(" · seq {s}"))
                .unwrap_or_default();
            spans.push(Span::raw(format!("events: relay {s}{seq}")));
        }
        (None, None) => spans.push(Span::styled("events: chat only", dim())),
    }
    spans.push(sep());
    spans.push(match &app.login {
        LoginView::Anonymous => Span::styled("anonymous", dim()),
        LoginView::Demo => Span::raw("demo"),
        LoginView::Rejected => Span::styled(
            "login refused: run onair login",
            Style::new().fg(Color::Red),
        ),
        LoginView::User(login, 0) => Span::raw(login.clone()),
        LoginView::User(login, exp) => {
            let left = (exp - app.now_ms / 1000).max(0);
            Span::raw(format!(
                "{login} · token {}h{:02}m",
                left / 3600,
                (left % 3600) / 60
            ))
        }
    });
    let bar = Paragraph::new(Line::from(spans)).style(Style::new().bg(Color::Rgb(30, 30, 40)));
    frame.render_widget(bar, area);
}
