//! The full-screen app, Elm-style: [`App`] is the one owner of state, [`Msg`]s come in,
//! [`App::update`] changes the model and returns [`Effect`]s, `view` renders from the model,
//! and `run` owns the terminal and the tasks.

pub mod actor;
mod card;
pub mod demo;
mod demo_helix;
mod derive;
mod feed;
pub mod keys;
pub mod pace;
pub mod run;
mod select;
pub mod slash;
mod update;
pub mod view;

use std::collections::{HashSet, VecDeque};

use onair_common::Event;

use crate::chat::ChatMessage;
use crate::chat::connection::ChatEvent;
use crate::chat::outbox::SendError;
use crate::direct::DirectEvent;
use crate::helix::{Answer, CardInfo, Request};
use crate::relay::RelayEvent;

pub use card::Card;
pub use keys::Action;

/// How long the timeout key times a user out: 10 minutes.
pub const TIMEOUT_S: u32 = 600;

/// Which pane has the focus.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Focus {
    /// Chat (left).
    Chat,
    /// Events (right).
    Events,
}

/// Keys move around, or type into the input line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Keys are commands.
    Normal,
    /// Keys type.
    Insert,
    /// A line of the focused pane is selected (at its scroll position); keys act on it.
    Select,
}

/// One row of the chat pane.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChatEntry {
    /// A message; `deleted` once a moderator removed it or timed its author out.
    Message {
        /// The message.
        msg: Box<ChatMessage>,
        /// Struck through.
        deleted: bool,
    },
    /// A line from Twitch or from us: timeouts, notices, connection changes.
    System {
        /// When (Unix ms).
        at_ms: i64,
        /// What.
        text: String,
    },
}

/// One row of the event pane.
#[derive(Debug, Clone, PartialEq)]
pub enum EventRow {
    /// An event; `gifts` counts the gift-bomb recipients folded into it.
    Event {
        /// The event.
        event: Box<Event>,
        /// Recipients seen for a gift bomb.
        gifts: u32,
    },
    /// A visible note such as "replayed 12 events".
    Marker(String),
}

/// Where the login stands, for the status bar.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LoginView {
    /// Reading anonymously.
    Anonymous,
    /// Logged in; the token expires at this Unix second (0: never).
    User(String, i64),
    /// Twitch refused the login.
    Rejected,
    /// Demo mode.
    Demo,
}

/// The text being typed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Input {
    /// The text.
    pub text: String,
    /// Cursor position, in characters.
    pub cursor: usize,
}

/// Everything on screen.
#[derive(Debug, Clone)]
pub struct App {
    /// Channel login.
    pub channel: String,
    /// Chat rows, oldest first.
    pub chat: VecDeque<ChatEntry>,
    /// Event rows, newest first.
    pub events: VecDeque<EventRow>,
    /// Rows kept per pane.
    pub scrollback: usize,
    /// Focused pane.
    pub focus: Focus,
    /// Normal or typing.
    pub mode: Mode,
    /// The input line.
    pub input: Input,
    /// Chat rows scrolled back from the newest (0: live).
    pub chat_scroll: usize,
    /// Event rows scrolled down from the newest (0: live).
    pub events_scroll: usize,
    /// Events that arrived while the chat had the focus.
    pub unread: usize,
    /// The help overlay is open.
    pub help: bool,
    /// The user card overlay, when open.
    pub card: Option<Card>,
    /// An action waiting for `y` (a ban).
    pub confirm: Option<Request>,
    /// The id of the chat message selected last, for `/delete`.
    pub last_picked: Option<String>,
    /// Chat connection state, in words.
    pub chat_state: String,
    /// Relay link state in words; `None` when no relay is configured.
    pub relay_state: Option<String>,
    /// Highest relay seq seen.
    pub last_seq: Option<u64>,
    /// Direct EventSub state in words; `None` when events do not come directly from Twitch.
    pub direct_state: Option<String>,
    /// When the direct link last lost events (a gap marker is in the pane), for the status bar.
    pub direct_gap: Option<String>,
    /// Login, for the status bar.
    pub login: LoginView,
    /// The clock (Unix ms), advanced by ticks.
    pub now_ms: i64,
    /// Set by `q`/Ctrl-C.
    pub quit: bool,
    /// Event types the relay or EventSub has delivered: chat-borne twins of these are not shown.
    relay_kinds: HashSet<String>,
    /// Whether we may send (logged in).
    pub can_send: bool,
}

/// What comes in.
// Nearly every message is `Chat`; boxing it would add an allocation per chat message.
#[allow(clippy::large_enum_variant)]
#[derive(Debug)]
pub enum Msg {
    /// A key press.
    Key(crossterm::event::KeyEvent),
    /// The terminal changed size (the next draw adapts).
    Resize,
    /// Text pasted into the terminal.
    Paste(String),
    /// From the chat connection.
    Chat(ChatEvent),
    /// From the relay client.
    Relay(RelayEvent),
    /// From the direct EventSub client.
    Direct(DirectEvent),
    /// The clock.
    Tick(i64),
    /// The login changed (refreshed, or refused).
    Login(LoginView),
    /// A message we sent was accepted (with Twitch's id) or refused. Twitch never echoes our own
    /// messages back, so an accepted one is shown from here.
    Sent(String, Result<String, SendError>),
    /// An action ended: Twitch's answer, or the reason it was not done.
    Acted(Request, Result<Answer, String>),
    /// What Twitch says about a user whose card is open.
    Card(String, Result<CardInfo, String>),
}

/// What `update` asks the runtime to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Effect {
    /// Leave the app.
    Quit,
    /// Send a chat message.
    Send(String),
    /// Carry out an action in this channel through Helix.
    Act(Request),
    /// Look a user up for their card.
    Card(String),
}

impl App {
    /// An empty app for a channel.
    pub fn new(channel: String, scrollback: usize, login: LoginView, relay: bool) -> Self {
        let can_send = matches!(login, LoginView::User(..) | LoginView::Demo);
        Self {
            channel,
            chat: VecDeque::new(),
            events: VecDeque::new(),
            scrollback: scrollback.max(10),
            focus: Focus::Chat,
            mode: Mode::Normal,
            input: Input::default(),
            chat_scroll: 0,
            events_scroll: 0,
            unread: 0,
            help: false,
            card: None,
            confirm: None,
            last_picked: None,
            chat_state: "connecting".into(),
            relay_state: relay.then(|| "connecting".into()),
            last_seq: None,
            direct_state: None,
            direct_gap: None,
            login,
            now_ms: jiff::Timestamp::now().as_millisecond(),
            quit: false,
            relay_kinds: HashSet::new(),
            can_send,
        }
    }

    /// The same app with its events coming straight from Twitch's EventSub WebSocket.
    pub fn with_direct(mut self) -> Self {
        self.direct_state = Some("connecting".into());
        self
    }
}
