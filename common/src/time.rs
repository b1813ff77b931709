//! Timestamps as onair writes them: RFC 3339, UTC, milliseconds, `Z`.

use jiff::Timestamp;

/// Formats a timestamp the way every onair JSON field carries it, e.g. `2026-11-24T20:01:02.123Z`.
pub fn format(ts: Timestamp) -> String {
    ts.strftime("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()
}

/// The current time in onair's format.
pub fn now() -> String {
    format(Timestamp::now())
}

/// Parses an RFC 3339 timestamp with any number of fractional digits (Twitch sends 1 to 9).
pub fn parse(s: &str) -> Option<Timestamp> {
    s.parse().ok()
}

/// Re-writes an RFC 3339 timestamp in onair's format, or `None` when it is not one.
pub fn normalize(s: &str) -> Option<String> {
    parse(s).map(format)
}

/// Unix milliseconds as local wall-clock time in `fmt` (e.g. `%H:%M`); `None` if out of range.
pub fn local(ms: i64, fmt: &str) -> Option<String> {
    let ts = Timestamp::from_millisecond(ms).ok()?;
    Some(
        ts.to_zoned_datetime(jiff::tz::TimeZone::system())
            .strftime(fmt)
            .to_string(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalizes_twitch_precisions() {
        assert_eq!(
            normalize("2019-11-16T10:11:12.634234626Z").as_deref(),
            Some("2019-11-16T10:11:12.634Z")
        );
        assert_eq!(
            normalize("2021-02-19T23:47:00.8091512Z").as_deref(),
            Some("2021-02-19T23:47:00.809Z")
        );
        assert_eq!(
            normalize("2026-01-01T11:59:58Z").as_deref(),
            Some("2026-01-01T11:59:58.000Z")
        );
        assert_eq!(
            normalize("2026-01-01T13:00:00+01:00").as_deref(),
            Some("2026-01-01T12:00:00.000Z")
        );
        assert_eq!(normalize("yesterday"), None);
    }
}
