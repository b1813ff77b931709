//! Chat settings (`twitch.md` G): the change a user asks for, its PATCH body, the words for
//! `on`/`off`, and Twitch's settings object in one readable line.

use serde_json::{Map, Value, json};

use super::duration;

/// What to change; `None` leaves a setting as it is. An empty patch reads the settings.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SettingsPatch {
    /// Slow mode: `Some(None)` off, `Some(Some(s))` on with a wait of `s` seconds.
    pub slow: Option<Option<u32>>,
    /// Follower-only: `Some(None)` off, `Some(Some(min))` on for followers of `min` minutes.
    pub followers: Option<Option<u32>>,
    /// Subscriber-only.
    pub subscribers: Option<bool>,
    /// Emote-only.
    pub emote_only: Option<bool>,
    /// Unique chat.
    pub unique: Option<bool>,
}

/// Slow mode's allowed wait (`twitch.md` G): 3 to 120 seconds.
const SLOW_S: std::ops::RangeInclusive<u32> = 3..=120;

impl SettingsPatch {
    /// Whether this only reads.
    pub fn is_empty(&self) -> bool {
        *self == Self::default()
    }

    /// The PATCH body: only the fields being changed, with Twitch's names.
    pub fn body(&self) -> Value {
        let mut b = Map::new();
        if let Some(slow) = self.slow {
            b.insert("slow_mode".into(), json!(slow.is_some()));
            if let Some(s) = slow {
                b.insert("slow_mode_wait_time".into(), json!(s));
            }
        }
        if let Some(f) = self.followers {
            b.insert("follower_mode".into(), json!(f.is_some()));
            if let Some(m) = f {
                b.insert("follower_mode_duration".into(), json!(m));
            }
        }
        for (key, v) in [
            ("subscriber_mode", self.subscribers),
            ("emote_mode", self.emote_only),
            ("unique_chat_mode", self.unique),
        ] {
            if let Some(v) = v {
                b.insert(key.into(), json!(v));
            }
        }
        Value::Object(b)
    }
}

/// `on` or `off`.
pub fn switch(text: &str) -> Result<bool, String> {
    match text.to_ascii_lowercase().as_str() {
        "on" => Ok(true),
        "off" => Ok(false),
        _ => Err(format!("`{text}`: say on or off")),
    }
}

/// Slow mode: `off`, or the wait in seconds (3 to 120; a unit such as `30s` or `2m` too).
pub fn slow(text: &str) -> Result<Option<u32>, String> {
    if text.eq_ignore_ascii_case("off") {
        return Ok(None);
    }
    let s = duration::parse(text)?;
    if SLOW_S.contains(&s) {
        Ok(Some(s))
    } else {
        Err(format!("slow mode waits 3 to 120 seconds (not `{text}`)"))
    }
}

/// Follower-only: `off`, or the age a follower needs (whole minutes).
pub fn followers(text: &str) -> Result<Option<u32>, String> {
    if text.eq_ignore_ascii_case("off") {
        return Ok(None);
    }
    duration::follower_minutes(text).map(Some)
}

/// Twitch's settings object as `slow 30s, followers 10m, subscribers off, ...`.
pub fn describe(s: &Value) -> String {
    let on = |k: &str| s[k].as_bool().unwrap_or(false);
    let slow = match s["slow_mode_wait_time"].as_u64() {
        Some(w) if on("slow_mode") => duration::format(w as u32),
        _ => "off".into(),
    };
    let followers = match s["follower_mode_duration"].as_u64() {
        Some(m) if on("follower_mode") => duration::format(m as u32 * 60),
        _ if on("follower_mode") => "on".into(),
        _ => "off".into(),
    };
    let word = |k: &str| if on(k) { "on" } else { "off" };
    format!(
        "slow {slow}, followers {followers}, subscribers {}, emote-only {}, unique {}",
        word("subscriber_mode"),
        word("emote_mode"),
        word("unique_chat_mode")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_patch_sends_only_what_changes() {
        let p = SettingsPatch {
            slow: Some(Some(30)),
            followers: Some(None),
            emote_only: Some(true),
            ..Default::default()
        };
        assert_eq!(
            p.body(),
            json!({"slow_mode": true, "slow_mode_wait_time": 30, "follower_mode": false, "emote_mode": true})
        );
        assert!(SettingsPatch::default().is_empty());
    }

    #[test]
    fn values_are_checked_before_any_request() {
        assert_eq!(slow("off"), Ok(None));
        assert_eq!(slow("2m"), Ok(Some(120)));
        assert!(slow("2").is_err() && slow("121").is_err() && slow("fast").is_err());
        assert_eq!(followers("1d"), Ok(Some(1440)));
        assert_eq!(switch("ON"), Ok(true));
        assert!(switch("yes").is_err());
    }

    #[test]
    fn settings_read_as_one_line() {
        let s = json!({"slow_mode": true, "slow_mode_wait_time": 30, "follower_mode": true,
            "follower_mode_duration": 10, "subscriber_mode": false, "emote_mode": true, "unique_chat_mode": false});
        assert_eq!(
            describe(&s),
            "slow 30s, followers 10m, subscribers off, emote-only on, unique off"
        );
    }
}
