//! `App::update`: the only code that changes the model. Pure: no I/O, no clock reads (ticks
//! bring the time), so every case is a table test.

use super::derive;
use super::keys::{self, Action};
use super::{App, ChatEntry, Effect, Focus, LoginView, Mode, Msg};
use crate::chat::connection::{ChatEvent, ChatState};
use crate::chat::message::{ChatLine, Incoming};
use crate::chat::ratelimit::MAX_MESSAGE_CHARS;

impl App {
    /// Applies one message; returns what the runtime must do.
    pub fn update(&mut self, msg: Msg) -> Vec<Effect> {
        match msg {
            Msg::Key(key) => {
                if let Some(req) = self.confirm.take() {
                    return self.on_confirm(req, key);
                }
                let overlay = self.help || self.card.is_some();
                if let Some(a) = keys::action(self.mode, overlay, key) {
                    return self.act(a);
                }
            }
            Msg::Paste(text) if self.mode == Mode::Insert => text
                .chars()
                .filter(|c| !c.is_control())
                .for_each(|c| self.insert(c)),
            Msg::Paste(_) | Msg::Resize => {}
            Msg::Chat(ev) => self.on_chat(ev),
            Msg::Relay(ev) => self.on_relay(ev),
            Msg::Direct(ev) => self.on_direct(ev),
            Msg::Tick(now) => self.now_ms = now,
            Msg::Login(l) => {
                self.can_send = matches!(l, LoginView::User(..) | LoginView::Demo);
                if l == LoginView::Rejected {
                    self.system(
                        "Twitch no longer accepts your login: quit and run `onair login`".into(),
                    );
                }
                self.login = l;
            }
            Msg::Sent(text, Ok(id)) => self.own_message(text, id),
            Msg::Sent(_, Err(e)) => self.system(format!("not sent: {e}")),
            Msg::Acted(req, r) => self.on_acted(req, r),
            Msg::Card(login, r) => self.on_card(login, r),
        }
        Vec::new()
    }

    fn act(&mut self, a: Action) -> Vec<Effect> {
        match a {
            Action::Quit => {
                self.quit = true;
                return vec![Effect::Quit];
            }
            Action::ToggleFocus => {
                self.focus = match self.focus {
                    Focus::Chat => Focus::Events,
                    Focus::Events => Focus::Chat,
                };
                if self.focus == Focus::Events {
                    self.unread = 0;
                }
                if self.mode == Mode::Select {
                    // Select again at the newest line of the other pane.
                    self.mode = Mode::Normal;
                    return self.on_select(Action::Select);
                }
            }
            Action::StartInput => {
                self.leave_selection();
                self.mode = Mode::Insert;
            }
            Action::StopInput => self.mode = Mode::Normal,
            Action::Submit => return self.submit(),
            Action::Insert(c) => self.insert(c),
            Action::Backspace if self.input.cursor > 0 => {
                self.input.cursor -= 1;
                self.remove_at(self.input.cursor);
            }
            Action::Delete => self.remove_at(self.input.cursor),
            Action::CursorLeft => self.input.cursor = self.input.cursor.saturating_sub(1),
            Action::CursorRight => {
                self.input.cursor = (self.input.cursor + 1).min(self.input.text.chars().count())
            }
            Action::CursorHome => self.input.cursor = 0,
            Action::CursorEnd => self.input.cursor = self.input.text.chars().count(),
            Action::Older(n) => match self.focus {
                Focus::Chat => {
                    self.chat_scroll = (self.chat_scroll + n).min(self.chat.len().saturating_sub(1))
                }
                Focus::Events => {
                    self.events_scroll =
                        (self.events_scroll + n).min(self.events.len().saturating_sub(1))
                }
            },
            Action::Newer(n) => match self.focus {
                Focus::Chat => self.chat_scroll = self.chat_scroll.saturating_sub(n),
                Focus::Events => self.events_scroll = self.events_scroll.saturating_sub(n),
            },
            Action::Live => match self.focus {
                Focus::Chat => self.chat_scroll = 0,
                Focus::Events => self.events_scroll = 0,
            },
            Action::ToggleHelp if self.card.is_some() => self.card = None,
            Action::ToggleHelp => self.help = !self.help,
            Action::Backspace => {}
            Action::Select
            | Action::SelectUp
            | Action::SelectDown
            | Action::Unselect
            | Action::Card
            | Action::Timeout
            | Action::Ban
            | Action::DeleteMessage
            | Action::Shoutout => return self.on_select(a),
        }
        Vec::new()
    }

    fn insert(&mut self, c: char) {
        if self.input.text.chars().count() >= MAX_MESSAGE_CHARS {
            return;
        }
        let at = byte_at(&self.input.text, self.input.cursor);
        self.input.text.insert(at, c);
        self.input.cursor += 1;
    }

    fn remove_at(&mut self, cursor: usize) {
        if cursor < self.input.text.chars().count() {
            let at = byte_at(&self.input.text, cursor);
            self.input.text.remove(at);
        }
    }

    fn submit(&mut self) -> Vec<Effect> {
        let text = self.input.text.trim().to_owned();
        if text.is_empty() {
            return Vec::new();
        }
        if let Some(effects) = self.on_slash(&text) {
            return effects;
        }
        if !self.can_send {
            self.system("reading anonymously: run `onair login` to send".into());
            return Vec::new();
        }
        self.input = Default::default();
        self.chat_scroll = 0;
        vec![Effect::Send(text)]
    }

    /// Our own accepted message, as others see it.
    fn own_message(&mut self, text: String, id: String) {
        let login = match &self.login {
            LoginView::User(login, _) => login.clone(),
            _ => "you".to_owned(),
        };
        let (text, action) = match text.strip_prefix("/me ") {
            Some(t) => (t.to_owned(), true),
            None => (text, false),
        };
        let msg = crate::chat::ChatMessage {
            channel: self.channel.clone(),
            id,
            user: crate::chat::message::User {
                id: String::new(),
                name: login.clone(),
                login,
                color: None,
                badges: Vec::new(),
            },
            text,
            action,
            bits: 0,
            emotes: Vec::new(),
            reply_to: None,
            first: false,
            sent_at: self.now_ms,
            source_room_id: None,
        };
        self.push_chat(ChatEntry::Message {
            msg: Box::new(msg),
            deleted: false,
        });
    }

    pub(super) fn system(&mut self, text: String) {
        self.push_chat(ChatEntry::System {
            at_ms: self.now_ms,
            text,
        });
    }

    fn push_chat(&mut self, entry: ChatEntry) {
        self.chat.push_back(entry);
        if self.chat_scroll > 0 || self.selecting(Focus::Chat) {
            // Keep the rows the user is reading (or the selected one) where they are.
            self.chat_scroll += 1;
        }
        while self.chat.len() > self.scrollback {
            self.chat.pop_front();
        }
        self.chat_scroll = self.chat_scroll.min(self.chat.len().saturating_sub(1));
    }

    fn on_chat(&mut self, ev: ChatEvent) {
        match ev {
            ChatEvent::State(s) => {
                self.chat_state = match &s {
                    ChatState::Connecting => "connecting".into(),
                    ChatState::Joined => "joined".into(),
                    ChatState::Backoff { retry_in, .. } => {
                        format!("retry in {}s", retry_in.as_secs())
                    }
                };
                if let ChatState::Backoff { reason, .. } = s {
                    self.system(format!("chat connection lost ({reason}); reconnecting"));
                }
            }
            ChatEvent::Incoming(Incoming::Line(line)) => self.on_line(line),
            ChatEvent::Incoming(_) => {}
        }
    }

    fn on_line(&mut self, line: ChatLine) {
        match line {
            ChatLine::Message(m) if m.channel == self.channel => {
                self.push_chat(ChatEntry::Message {
                    msg: Box::new(m),
                    deleted: false,
                });
            }
            ChatLine::Notice(n) if n.channel == self.channel => {
                let text = if n.system_text.is_empty() {
                    n.msg_id.clone()
                } else {
                    n.system_text.clone()
                };
                let line = match &n.text {
                    Some(t) => format!("{text} — {}: {t}", n.user.name),
                    None => text,
                };
                self.system(line);
                if let Some(e) = derive::event_of(&n) {
                    self.add_event(e);
                }
            }
            ChatLine::Clear {
                channel,
                target,
                duration_s,
            } if channel == self.channel => match target {
                Some(login) => {
                    for e in self.chat.iter_mut() {
                        if let ChatEntry::Message { msg, deleted } = e
                            && msg.user.login == login
                        {
                            *deleted = true;
                        }
                    }
                    self.system(match duration_s {
                        Some(d) => format!("{login} was timed out for {d} s"),
                        None => format!("{login} was banned"),
                    });
                }
                None => {
                    for e in self.chat.iter_mut() {
                        if let ChatEntry::Message { deleted, .. } = e {
                            *deleted = true;
                        }
                    }
                    self.system("chat was cleared by a moderator".into());
                }
            },
            ChatLine::Delete {
                channel, target_id, ..
            } if channel == self.channel => {
                for e in self.chat.iter_mut() {
                    if let ChatEntry::Message { msg, deleted } = e
                        && msg.id == target_id
                    {
                        *deleted = true;
                    }
                }
            }
            ChatLine::Room { channel, state } if channel == self.channel => {
                if let Some(slow) = state.get("slow").filter(|s| s.as_str() != "0") {
                    self.system(format!("slow mode: {slow} s"));
                }
            }
            ChatLine::Server { text, .. } => self.system(text),
            _ => {}
        }
    }
}

fn byte_at(s: &str, chars: usize) -> usize {
    s.char_indices().nth(chars).map_or(s.len(), |(b, _)| b)
}
