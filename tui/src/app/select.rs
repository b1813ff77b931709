//! Acting from the app: selection mode on the chat and event panes (the selected line is the
//! focused pane's scroll position, kept in place while rows arrive), one-key actions on it, the
//! ban confirmation, slash commands, and the result line every action ends with.

use crossterm::event::{KeyCode, KeyEvent, KeyEventKind};

use super::card::Card;
use super::keys::Action;
use super::slash::{self, Slash};
use super::{App, ChatEntry, Effect, EventRow, Focus, Mode, TIMEOUT_S, derive};
use crate::helix::{Answer, CardInfo, Request};

/// What the selected line offers.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Picked {
    /// A chat message.
    Message { login: String, id: String },
    /// An event about a user.
    Event { login: String, kind: String },
    /// A line with no user (a notice, a marker).
    Nothing,
}

impl App {
    /// Whether `pane` has a selected line.
    pub fn selecting(&self, pane: Focus) -> bool {
        self.mode == Mode::Select && self.focus == pane
    }

    /// Selection keys.
    pub(super) fn on_select(&mut self, a: Action) -> Vec<Effect> {
        match a {
            Action::Select => {
                let empty = match self.focus {
                    Focus::Chat => self.chat.is_empty(),
                    Focus::Events => self.events.is_empty(),
                };
                if empty {
                    self.system("nothing to select yet".into());
                } else {
                    self.mode = Mode::Select;
                    self.chat_scroll = 0;
                    self.events_scroll = 0;
                }
            }
            Action::SelectUp | Action::SelectDown => {
                let up = a == Action::SelectUp;
                match self.focus {
                    // Chat is newest at the bottom, events newest on top.
                    Focus::Chat if up => {
                        self.chat_scroll =
                            (self.chat_scroll + 1).min(self.chat.len().saturating_sub(1))
                    }
                    Focus::Chat => self.chat_scroll = self.chat_scroll.saturating_sub(1),
                    Focus::Events if up => {
                        self.events_scroll = self.events_scroll.saturating_sub(1)
                    }
                    Focus::Events => {
                        self.events_scroll =
                            (self.events_scroll + 1).min(self.events.len().saturating_sub(1))
                    }
                }
            }
            Action::Unselect => {
                self.leave_selection();
                return Vec::new();
            }
            Action::Card => match self.picked() {
                Picked::Message { login, .. } | Picked::Event { login, .. } => {
                    self.card = Some(Card::new(login.clone()));
                    return vec![Effect::Card(login)];
                }
                Picked::Nothing => self.system("no user on this line".into()),
            },
            Action::Timeout => {
                return self.on_user(|user| Request::Timeout {
                    user,
                    seconds: TIMEOUT_S,
                    reason: None,
                });
            }
            Action::Ban => {
                if let Some(user) = self.picked_login() {
                    self.system(format!("ban {user}? press y to ban, any other key cancels"));
                    self.confirm = Some(Request::Ban { user, reason: None });
                }
            }
            Action::DeleteMessage => match self.picked() {
                Picked::Message { id, .. } => {
                    return self.request(Request::Delete { message_id: id });
                }
                _ => self.system("delete works on a chat message".into()),
            },
            Action::Shoutout => match self.picked() {
                Picked::Event { login, kind }
                    if kind == "channel.raid" || kind == "channel.follow" =>
                {
                    return self.request(Request::Shoutout { user: login });
                }
                _ => self.system("shoutout works on a raid or follow event".into()),
            },
            _ => {}
        }
        if self.mode == Mode::Select {
            // `/delete` acts on the message picked last.
            self.picked();
        }
        Vec::new()
    }

    /// The key after "ban X?": `y` bans, anything else cancels.
    pub(super) fn on_confirm(&mut self, req: Request, key: KeyEvent) -> Vec<Effect> {
        if key.kind == KeyEventKind::Release {
            self.confirm = Some(req);
            return Vec::new();
        }
        if key.code == KeyCode::Char('y') {
            return self.request(req);
        }
        self.system(format!("did not {}", req.what()));
        self.leave_selection();
        Vec::new()
    }

    /// A slash command typed in the input line; `None` when the line is chat.
    pub(super) fn on_slash(&mut self, text: &str) -> Option<Vec<Effect>> {
        let parsed = slash::parse(text)?;
        let req = match parsed {
            Err(why) => {
                self.system(why);
                return Some(Vec::new());
            }
            Ok(Slash::Chat(_)) => return None,
            Ok(Slash::Act(req)) => req,
            Ok(Slash::DeleteSelected) => match &self.last_picked {
                Some(id) => Request::Delete {
                    message_id: id.clone(),
                },
                None => {
                    self.system("select a message first: v, then j/k (or d in selection)".into());
                    return Some(Vec::new());
                }
            },
        };
        self.input = Default::default();
        Some(self.request(req))
    }

    /// An action ended: the result line.
    pub(super) fn on_acted(&mut self, req: Request, r: Result<Answer, String>) {
        self.system(match r {
            Ok(answer) => req.done(&answer),
            Err(why) => format!("could not {}: {why}", req.what()),
        });
    }

    /// Twitch's answer for an open card.
    pub(super) fn on_card(&mut self, login: String, r: Result<CardInfo, String>) {
        if let Some(card) = self.card.as_mut().filter(|c| c.login == login) {
            card.info = Some(r);
        }
    }

    fn on_user(&mut self, req: impl FnOnce(String) -> Request) -> Vec<Effect> {
        match self.picked_login() {
            Some(user) => self.request(req(user)),
            None => Vec::new(),
        }
    }

    /// Runs an action, back at the newest lines where its result will show.
    fn request(&mut self, req: Request) -> Vec<Effect> {
        self.leave_selection();
        if !self.can_send {
            self.system("reading anonymously: run `onair login` to act".into());
            return Vec::new();
        }
        vec![Effect::Act(req)]
    }

    pub(super) fn leave_selection(&mut self) {
        if self.mode == Mode::Select {
            self.mode = Mode::Normal;
            self.chat_scroll = 0;
            self.events_scroll = 0;
        }
    }

    fn picked_login(&mut self) -> Option<String> {
        match self.picked() {
            Picked::Message { login, .. } | Picked::Event { login, .. } => Some(login),
            Picked::Nothing => {
                self.system("no user on this line".into());
                None
            }
        }
    }

    fn picked(&mut self) -> Picked {
        let p = match self.focus {
            Focus::Chat => match self.chat.iter().rev().nth(self.chat_scroll) {
                Some(ChatEntry::Message { msg, .. }) => Picked::Message {
                    login: msg.user.login.clone(),
                    id: msg.id.clone(),
                },
                _ => Picked::Nothing,
            },
            Focus::Events => match self.events.get(self.events_scroll) {
                Some(EventRow::Event { event, .. }) if !derive::who(event).is_empty() => {
                    Picked::Event {
                        login: derive::who(event),
                        kind: event.kind.clone(),
                    }
                }
                _ => Picked::Nothing,
            },
        };
        if let Picked::Message { id, .. } = &p {
            self.last_picked = Some(id.clone());
        }
        p
    }
}
