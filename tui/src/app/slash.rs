//! Slash commands in the input line (`design.md`, "Acting from the app"), parsed purely: the
//! same actions as `onair mod`/`shoutout`/`raid`/`announce`/`marker`, plus `/title` and `/me`.
//! Anything else starting with `/` is an error, never sent as chat.

use crate::helix::settings::{self, SettingsPatch};
use crate::helix::{Request, duration};

/// What a line starting with `/` asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Slash {
    /// A Helix action.
    Act(Request),
    /// Delete the selected message.
    DeleteSelected,
    /// Send as chat (`/me` is sent as is: Twitch makes it an action).
    Chat(String),
}

/// Every command with its arguments, for errors and help.
pub const USAGE: &[&str] = &[
    "/ban USER [reason]",
    "/unban USER",
    "/timeout USER DURATION [reason]",
    "/untimeout USER",
    "/delete (the selected message)",
    "/clear",
    "/warn USER REASON",
    "/slow N|off",
    "/followers [DURATION]|off",
    "/subscribers on|off",
    "/emoteonly on|off",
    "/uniquechat on|off",
    "/shoutout USER",
    "/raid CHANNEL",
    "/unraid",
    "/announce TEXT",
    "/marker [DESCRIPTION]",
    "/title TEXT",
    "/me TEXT",
];

/// `None` for ordinary chat; else the command or why it cannot be run.
pub fn parse(line: &str) -> Option<Result<Slash, String>> {
    let line = line.trim();
    let rest = line.strip_prefix('/')?;
    let (name, args) = rest.split_once(' ').unwrap_or((rest, ""));
    let args = args.trim();
    Some(command(&name.to_ascii_lowercase(), args).map_err(|e| e.unwrap_or_else(|| usage(name))))
}

/// `Err(None)` means "wrong arguments": the caller shows the command's usage.
fn command(name: &str, args: &str) -> Result<Slash, Option<String>> {
    let (first, tail) = split(args);
    let user = || login(first);
    let text = |t: &str| (!t.is_empty()).then(|| t.to_owned()).ok_or(None);
    let act = |r: Request| Ok(Slash::Act(r));
    match name {
        "ban" => act(Request::Ban {
            user: user()?,
            reason: opt(tail),
        }),
        "unban" => act(Request::Unban { user: user()? }),
        "untimeout" => act(Request::Untimeout { user: user()? }),
        "timeout" => {
            let (d, reason) = split(tail);
            let seconds = match d {
                "" => crate::app::TIMEOUT_S,
                d => duration::timeout(d).map_err(Some)?,
            };
            act(Request::Timeout {
                user: user()?,
                seconds,
                reason: opt(reason),
            })
        }
        "delete" => Ok(Slash::DeleteSelected),
        "clear" => act(Request::Clear),
        "warn" => act(Request::Warn {
            user: user()?,
            reason: text(tail)?,
        }),
        "slow" => patch(SettingsPatch {
            slow: Some(settings::slow(first).map_err(Some)?),
            ..Default::default()
        }),
        "followers" => {
            let f = if first.is_empty() {
                Some(0)
            } else {
                settings::followers(first).map_err(Some)?
            };
            patch(SettingsPatch {
                followers: Some(f),
                ..Default::default()
            })
        }
        "subscribers" => patch(SettingsPatch {
            subscribers: Some(switch(first)?),
            ..Default::default()
        }),
        "emoteonly" => patch(SettingsPatch {
            emote_only: Some(switch(first)?),
            ..Default::default()
        }),
        "uniquechat" => patch(SettingsPatch {
            unique: Some(switch(first)?),
            ..Default::default()
        }),
        "shoutout" => act(Request::Shoutout { user: user()? }),
        "raid" => act(Request::Raid { channel: user()? }),
        "unraid" => act(Request::CancelRaid),
        "announce" => act(Request::Announce {
            text: text(args)?,
            color: None,
        }),
        "marker" => act(Request::Marker {
            description: opt(args),
        }),
        "title" => act(Request::Title { text: text(args)? }),
        "me" => Ok(Slash::Chat(format!("/me {}", text(args)?))),
        _ => Err(Some(format!(
            "unknown command /{name} (? lists the keys; commands: {})",
            names()
        ))),
    }
}

fn patch(p: SettingsPatch) -> Result<Slash, Option<String>> {
    Ok(Slash::Act(Request::Settings(p)))
}

fn switch(word: &str) -> Result<bool, Option<String>> {
    settings::switch(word).map_err(|_| None)
}

fn split(s: &str) -> (&str, &str) {
    match s.split_once(' ') {
        Some((a, b)) => (a, b.trim()),
        None => (s, ""),
    }
}

fn opt(s: &str) -> Option<String> {
    (!s.is_empty()).then(|| s.to_owned())
}

/// A login as typed (`@Name` too), lower-cased.
fn login(word: &str) -> Result<String, Option<String>> {
    let l = word.trim_start_matches('@').to_lowercase();
    if l.is_empty() {
        return Err(None);
    }
    onair_common::config::check_login(&l).map_err(|why| Some(format!("`{word}`: {why}")))
}

fn usage(name: &str) -> String {
    let name = name.to_ascii_lowercase();
    match USAGE
        .iter()
        .find(|u| u[1..].split(' ').next() == Some(name.as_str()))
    {
        Some(u) => format!("usage: {u}"),
        None => format!("unknown command /{name}"),
    }
}

fn names() -> String {
    USAGE
        .iter()
        .filter_map(|u| u.split(' ').next())
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_become_the_actions_of_the_cli() {
        let cases = [
            (
                "/timeout @Byte_Badger 10m spam",
                Slash::Act(Request::Timeout {
                    user: "byte_badger".into(),
                    seconds: 600,
                    reason: Some("spam".into()),
                }),
            ),
            (
                "/timeout byte_badger",
                Slash::Act(Request::Timeout {
                    user: "byte_badger".into(),
                    seconds: 600,
                    reason: None,
                }),
            ),
            (
                "/ban x being rude",
                Slash::Act(Request::Ban {
                    user: "x".into(),
                    reason: Some("being rude".into()),
                }),
            ),
            (
                "/slow 30",
                Slash::Act(Request::Settings(SettingsPatch {
                    slow: Some(Some(30)),
                    ..Default::default()
                })),
            ),
            (
                "/followers",
                Slash::Act(Request::Settings(SettingsPatch {
                    followers: Some(Some(0)),
                    ..Default::default()
                })),
            ),
            (
                "/emoteonly off",
                Slash::Act(Request::Settings(SettingsPatch {
                    emote_only: Some(false),
                    ..Default::default()
                })),
            ),
            ("/unraid", Slash::Act(Request::CancelRaid)),
            ("/marker", Slash::Act(Request::Marker { description: None })),
            ("/me waves", Slash::Chat("/me waves".into())),
            ("/delete", Slash::DeleteSelected),
        ];
        for (line, want) in cases {
            assert_eq!(parse(line), Some(Ok(want)), "{line}");
        }
        assert_eq!(parse("hello /ban"), None);
    }

    #[test]
    fn mistakes_are_errors_not_chat() {
        assert_eq!(parse("/ban"), Some(Err("usage: /ban USER [reason]".into())));
        assert!(
            parse("/timeout x 10x")
                .unwrap()
                .unwrap_err()
                .contains("10x")
        );
        assert!(
            parse("/frobnicate x")
                .unwrap()
                .unwrap_err()
                .starts_with("unknown command /frobnicate")
        );
        assert_eq!(
            parse("/subscribers maybe"),
            Some(Err("usage: /subscribers on|off".into()))
        );
        assert_eq!(
            parse("/warn x"),
            Some(Err("usage: /warn USER REASON".into()))
        );
    }
}
