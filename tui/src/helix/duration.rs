//! Durations as people type them (`600`, `30s`, `10m`, `1h`, `2d`) and as onair writes them back
//! (`10m`). Pure, so a bad duration is a usage error before any request.

/// The longest timeout Twitch takes: 14 days (`twitch.md` G).
pub const MAX_TIMEOUT_S: u32 = 14 * 24 * 3600;
/// The longest follower-only age Twitch takes: 90 days, in seconds.
pub const MAX_FOLLOWER_AGE_S: u32 = 129_600 * 60;

/// Seconds in `text`: a number of seconds, or a number with `s`, `m`, `h` or `d`.
pub fn parse(text: &str) -> Result<u32, String> {
    let bad = || format!("`{text}` is not a duration: use seconds or 30s, 10m, 1h, 2d");
    let text = text.trim();
    let (digits, unit) = match text.char_indices().last() {
        Some((i, c)) if c.is_ascii_alphabetic() => (&text[..i], c.to_ascii_lowercase()),
        _ => (text, 's'),
    };
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad());
    }
    let n: u64 = digits.parse().map_err(|_| bad())?;
    let scale = match unit {
        's' => 1,
        'm' => 60,
        'h' => 3600,
        'd' => 86_400,
        _ => return Err(bad()),
    };
    u32::try_from(n.saturating_mul(scale)).map_err(|_| bad())
}

/// A timeout's length: 1 s to 14 days.
pub fn timeout(text: &str) -> Result<u32, String> {
    let s = parse(text)?;
    if (1..=MAX_TIMEOUT_S).contains(&s) {
        Ok(s)
    } else {
        Err(format!(
            "a timeout lasts 1s to 14d (`{text}` is {})",
            format(s)
        ))
    }
}

/// A follower-only age in whole minutes (Twitch's unit): 0 to 90 days.
pub fn follower_minutes(text: &str) -> Result<u32, String> {
    let s = parse(text)?;
    if s % 60 != 0 || s > MAX_FOLLOWER_AGE_S {
        return Err(format!(
            "follower age is whole minutes up to 90d, e.g. 10m or 1d (not `{text}`)"
        ));
    }
    Ok(s / 60)
}

/// `seconds` in the largest unit that divides it: `10m`, `90s`, `2d`.
pub fn format(seconds: u32) -> String {
    for (unit, size) in [("d", 86_400), ("h", 3600), ("m", 60)] {
        if seconds >= size && seconds.is_multiple_of(size) {
            return format!("{}{unit}", seconds / size);
        }
    }
    format!("{seconds}s")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_parse_with_and_without_a_unit() {
        let cases = [
            ("600", Ok(600)),
            ("30s", Ok(30)),
            ("10m", Ok(600)),
            ("1h", Ok(3600)),
            ("2d", Ok(172_800)),
            ("14d", Ok(MAX_TIMEOUT_S)),
        ];
        for (text, want) in cases {
            assert_eq!(timeout(text), want, "{text}");
        }
        for bad in [
            "10x",
            "",
            "m",
            "-5",
            "1.5h",
            "15d",
            "0",
            "1209601",
            "99999999999d",
        ] {
            assert!(timeout(bad).is_err(), "{bad} must be refused");
        }
    }

    #[test]
    fn durations_print_in_their_largest_whole_unit() {
        let cases = [
            (600, "10m"),
            (90, "90s"),
            (3600, "1h"),
            (172_800, "2d"),
            (1, "1s"),
        ];
        for (s, want) in cases {
            assert_eq!(format(s), want);
        }
    }

    #[test]
    fn follower_ages_are_whole_minutes() {
        assert_eq!(follower_minutes("10m"), Ok(10));
        assert_eq!(follower_minutes("0"), Ok(0));
        assert_eq!(follower_minutes("90d"), Ok(129_600));
        assert!(follower_minutes("90s").is_err());
        assert!(follower_minutes("91d").is_err());
    }
}
