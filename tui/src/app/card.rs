//! The user card: who a user is (from Twitch, once looked up) and what they did in this session
//! (from the panes), newest first. Pure: the view renders [`Card::lines`].

use onair_common::Event;

use super::{App, ChatEntry, EventRow, derive};
use crate::helix::CardInfo;

/// An open card.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Card {
    /// Whose.
    pub login: String,
    /// `None` while Twitch is asked; then the answer or why there is none.
    pub info: Option<Result<CardInfo, String>>,
}

/// One thing the user did this session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Deed {
    /// When (Unix ms).
    pub at_ms: i64,
    /// A chat message, or an event's summary.
    pub text: String,
    /// Whether it is an event.
    pub event: bool,
}

impl Card {
    /// A card for `login`, waiting for Twitch.
    pub fn new(login: String) -> Self {
        Self { login, info: None }
    }

    /// The card's text, given the app it is opened over.
    pub fn lines(&self, app: &App) -> Vec<String> {
        let mut out = Vec::new();
        match &self.info {
            None => out.push(format!("{} · looking up…", self.login)),
            Some(Err(why)) => {
                out.push(self.login.clone());
                out.push(format!("Twitch: {why}"));
            }
            Some(Ok(info)) => {
                out.push(format!("{} ({})", info.user.display_name, info.user.login));
                out.push(format!(
                    "account age: {}",
                    age(&info.user.created_at, app.now_ms)
                ));
                out.push(match &info.follow {
                    Ok(Some(since)) => format!("following for {}", age(since, app.now_ms)),
                    Ok(None) => "not following".into(),
                    Err(why) => format!("follow age unknown: {why}"),
                });
            }
        }
        let badges = badges(app, &self.login);
        out.push(format!(
            "badges: {}",
            if badges.is_empty() {
                "none".into()
            } else {
                badges.join(", ")
            }
        ));
        out.push(String::new());
        let deeds = deeds(app, &self.login);
        if deeds.is_empty() {
            out.push("nothing from them this session".into());
        }
        for d in deeds {
            let when = onair_common::time::local(d.at_ms, "%H:%M").unwrap_or_default();
            let mark = if d.event { "◆ " } else { "" };
            out.push(format!("{when} {mark}{}", d.text));
        }
        out
    }
}

/// The badges of the user's newest message (`moderator`, `subscriber/12` ...).
fn badges(app: &App, login: &str) -> Vec<String> {
    app.chat
        .iter()
        .rev()
        .find_map(|e| match e {
            ChatEntry::Message { msg, .. } if msg.user.login == login => {
                Some(msg.user.badges.clone())
            }
            _ => None,
        })
        .unwrap_or_default()
}

/// The user's messages and events in this session, newest first.
pub fn deeds(app: &App, login: &str) -> Vec<Deed> {
    // Both panes walked newest first, so a stable sort keeps that order among equal times.
    let mut out: Vec<Deed> = app
        .chat
        .iter()
        .rev()
        .filter_map(|e| match e {
            ChatEntry::Message { msg, deleted } if msg.user.login == login => Some(Deed {
                at_ms: msg.sent_at,
                text: if *deleted {
                    format!("{} (deleted)", msg.text)
                } else {
                    msg.text.clone()
                },
                event: false,
            }),
            _ => None,
        })
        .collect();
    out.extend(app.events.iter().filter_map(|r| match r {
        EventRow::Event { event, .. } if about(event, login) => Some(Deed {
            at_ms: onair_common::time::parse(&event.occurred_at).map_or(0, |t| t.as_millisecond()),
            text: event.summary.clone(),
            event: true,
        }),
        _ => None,
    }));
    out.sort_by_key(|d| std::cmp::Reverse(d.at_ms));
    out
}

/// Whether an event is about `login` (its user, raider or gifter).
pub fn about(e: &Event, login: &str) -> bool {
    derive::who(e) == login
}

/// How long ago an RFC 3339 time was, in the largest sensible unit: `3 years`, `5 months`, `12 days`.
pub fn age(since: &str, now_ms: i64) -> String {
    let Some(t) = onair_common::time::parse(since) else {
        return since.to_owned();
    };
    let days = (now_ms - t.as_millisecond()).max(0) / 86_400_000;
    let (n, unit) = match days {
        d if d >= 365 => (d / 365, "year"),
        d if d >= 60 => (d / 30, "month"),
        d if d >= 1 => (d, "day"),
        _ => return "less than a day".into(),
    };
    format!("{n} {unit}{}", if n == 1 { "" } else { "s" })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ages_read_in_their_largest_unit() {
        let now = onair_common::time::parse("2026-12-02T00:00:00Z")
            .unwrap()
            .as_millisecond();
        let cases = [
            ("2016-12-14T20:32:28Z", "9 years"),
            ("2026-06-01T00:00:00Z", "6 months"),
            ("2026-11-30T00:00:00Z", "2 days"),
            ("2026-12-01T23:00:00Z", "less than a day"),
            ("2025-12-01T00:00:00Z", "1 year"),
        ];
        for (since, want) in cases {
            assert_eq!(age(since, now), want, "{since}");
        }
    }
}
