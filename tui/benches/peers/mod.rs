//! The work each parser does per line in the parse benchmarks, in one place so the criterion
//! bench and the instruction-count driver measure exactly the same thing.
//!
//! - onair: `read_line` = parse + [`onair::chat::Incoming`]: owned strings, channel and login
//!   lower-cased, badges split, emote ranges resolved into names, `tmi-sent-ts` as Unix ms, ready
//!   for `chat tail --json` and the scrollback.
//! - tmi 0.10 (`simd`, `message-types`): `IrcMessageRef::parse` + `Message::from_irc`: a typed
//!   message that borrows from the line (`Cow`, unescaped where needed), badges split, the emote
//!   tag left raw (tmi does not resolve ranges), timestamp as a chrono `DateTime`.
//! - twitch-irc 6: `IRCMessage::parse` + `ServerMessage::try_from`: owned strings, emotes resolved.

#![allow(clippy::unwrap_used, dead_code)]

use std::hint::black_box;

use tmi::FromIrc;

/// The 800-line nymn corpus (`/work/shared/corpus/README.md`).
pub const CORPUS: &str = include_str!("../../tests/data/twitch-irc-nymn-800.txt");

/// One parser under test.
pub type Parser = fn(&str);

/// onair: parse + typed, owned, JSON-ready.
pub fn onair(line: &str) {
    black_box(onair::chat::read_line(black_box(line)).unwrap());
}

/// tmi 0.10: parse + typed, borrowed.
pub fn tmi(line: &str) {
    let irc = tmi::IrcMessageRef::parse(black_box(line)).unwrap();
    black_box(tmi::Message::from_irc(irc).unwrap());
}

/// twitch-irc 6: parse + typed, owned.
pub fn twitch_irc(line: &str) {
    let irc = twitch_irc::message::IRCMessage::parse(black_box(line)).unwrap();
    black_box(twitch_irc::message::ServerMessage::try_from(irc).unwrap());
}

/// Every parser by the name the benches print.
pub const PARSERS: [(&str, Parser); 3] = [
    ("onair", onair),
    ("tmi 0.10", tmi),
    ("twitch-irc 6", twitch_irc),
];
