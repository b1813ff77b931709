//! Keys to actions, purely: (mode, an overlay open, key) → [`Action`].

use crossterm::event::{KeyCode, KeyEvent, KeyEventKind, KeyModifiers};

use super::Mode;

/// What a key asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Leave the app.
    Quit,
    /// Switch between chat and events.
    ToggleFocus,
    /// Start typing.
    StartInput,
    /// Stop typing (the text stays).
    StopInput,
    /// Send the input line.
    Submit,
    /// Type a character.
    Insert(char),
    /// Delete before the cursor.
    Backspace,
    /// Delete at the cursor.
    Delete,
    /// Move the cursor.
    CursorLeft,
    /// Move the cursor.
    CursorRight,
    /// Cursor to the start.
    CursorHome,
    /// Cursor to the end.
    CursorEnd,
    /// Towards older rows.
    Older(usize),
    /// Towards newer rows.
    Newer(usize),
    /// Back to the newest rows.
    Live,
    /// Open or close the help overlay (or close the user card).
    ToggleHelp,
    /// Pick a line of the focused pane, starting at the newest.
    Select,
    /// Selection: one line up.
    SelectUp,
    /// Selection: one line down.
    SelectDown,
    /// Leave selection.
    Unselect,
    /// The selected user's card.
    Card,
    /// Time the selected user out for [`crate::app::TIMEOUT_S`].
    Timeout,
    /// Ban the selected user (asks first).
    Ban,
    /// Delete the selected message.
    DeleteMessage,
    /// Shout out the user of the selected raid or follow.
    Shoutout,
}

/// Rows a page key moves.
pub const PAGE: usize = 10;

/// The action for a key, if any.
pub fn action(mode: Mode, overlay: bool, key: KeyEvent) -> Option<Action> {
    if key.kind == KeyEventKind::Release {
        return None;
    }
    let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
    if ctrl && matches!(key.code, KeyCode::Char('c')) {
        return Some(Action::Quit);
    }
    if overlay {
        return match key.code {
            KeyCode::Char('q') => Some(Action::Quit),
            _ => Some(Action::ToggleHelp),
        };
    }
    match mode {
        Mode::Normal => normal(key.code),
        Mode::Insert => insert(key.code, ctrl),
        Mode::Select => select(key.code),
    }
}

fn normal(code: KeyCode) -> Option<Action> {
    Some(match code {
        KeyCode::Char('q') => Action::Quit,
        KeyCode::Tab | KeyCode::BackTab => Action::ToggleFocus,
        KeyCode::Char('i') | KeyCode::Enter => Action::StartInput,
        KeyCode::Up | KeyCode::Char('k') => Action::Older(1),
        KeyCode::Down | KeyCode::Char('j') => Action::Newer(1),
        KeyCode::PageUp => Action::Older(PAGE),
        KeyCode::PageDown => Action::Newer(PAGE),
        KeyCode::End | KeyCode::Char('G') => Action::Live,
        KeyCode::Char('?') => Action::ToggleHelp,
        KeyCode::Char('v') => Action::Select,
        _ => return None,
    })
}

fn select(code: KeyCode) -> Option<Action> {
    Some(match code {
        KeyCode::Esc | KeyCode::Char('v') => Action::Unselect,
        KeyCode::Up | KeyCode::Char('k') => Action::SelectUp,
        KeyCode::Down | KeyCode::Char('j') => Action::SelectDown,
        KeyCode::Enter | KeyCode::Char('u') => Action::Card,
        KeyCode::Char('t') => Action::Timeout,
        KeyCode::Char('b') => Action::Ban,
        KeyCode::Char('d') => Action::DeleteMessage,
        KeyCode::Char('s') => Action::Shoutout,
        KeyCode::Tab | KeyCode::BackTab => Action::ToggleFocus,
        KeyCode::Char('?') => Action::ToggleHelp,
        KeyCode::Char('q') => Action::Quit,
        KeyCode::Char('i') => Action::StartInput,
        _ => return None,
    })
}

fn insert(code: KeyCode, ctrl: bool) -> Option<Action> {
    Some(match code {
        KeyCode::Esc => Action::StopInput,
        KeyCode::Enter => Action::Submit,
        KeyCode::Backspace => Action::Backspace,
        KeyCode::Delete => Action::Delete,
        KeyCode::Left => Action::CursorLeft,
        KeyCode::Right => Action::CursorRight,
        KeyCode::Home => Action::CursorHome,
        KeyCode::End => Action::CursorEnd,
        KeyCode::Char('a') if ctrl => Action::CursorHome,
        KeyCode::Char('e') if ctrl => Action::CursorEnd,
        KeyCode::Char(c) if !ctrl => Action::Insert(c),
        KeyCode::Tab => Action::ToggleFocus,
        _ => return None,
    })
}
