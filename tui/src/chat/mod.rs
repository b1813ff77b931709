//! Twitch chat over IRC-on-WebSocket: the parser, the typed messages, the connection, sending.

mod config;
pub mod connection;
pub mod irc;
mod login;
pub mod message;
mod model;
pub mod outbox;
mod privmsg;
pub mod ratelimit;
mod session;
mod transport;

pub use irc::{IrcMessage, ParseError, parse};
pub use message::{ChatLine, ChatMessage, Incoming, UserNotice};

/// Parses and types one line; malformed lines are an error to log and skip.
pub fn read_line(line: &str) -> Result<Incoming, ParseError> {
    parse(line).map(|m| Incoming::from_irc(&m))
}
