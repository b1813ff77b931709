//! One human line per event, e.g. `Night_Owl_Dev gifted 3 Tier 1 subs`. Pure and forgiving: a
//! missing field gives a vaguer line, never an error.

use serde_json::Value;

/// Longest piece of user text quoted in a summary, in characters.
const MAX_QUOTE_CHARS: usize = 100;

/// The summary of an event of type `kind` with Twitch's event object `data`.
pub fn summary(kind: &str, data: &Value) -> String {
    let d = Fields(data);
    match kind {
        "channel.follow" => format!("{} followed", d.user("user")),
        "channel.subscribe" if d.flag("is_gift") => {
            format!("{} got a gifted {} sub", d.user("user"), d.tier())
        }
        "channel.subscribe" => format!("{} subscribed ({})", d.user("user"), d.tier()),
        "channel.subscription.gift" => gift(&d),
        "channel.subscription.message" => resub(&d),
        "channel.cheer" => cheer(&d),
        "channel.raid" => format!(
            "{} raided with {} viewers",
            d.user("from_broadcaster_user"),
            d.num("viewers").unwrap_or(0)
        ),
        "stream.online" => match d.str("type") {
            Some("live") | None => "Stream went live".to_owned(),
            Some(other) => format!("Stream went live ({other})"),
        },
        "stream.offline" => "Stream went offline".to_owned(),
        "channel.update" => channel_update(&d),
        "channel.channel_points_custom_reward_redemption.add" => redemption(&d),
        "channel.hype_train.begin" => format!("Hype train started: {}", hype_progress(&d)),
        "channel.hype_train.progress" => format!("Hype train {}", hype_progress(&d)),
        "channel.hype_train.end" => format!(
            "Hype train ended at level {} ({} total)",
            d.num("level").unwrap_or(1),
            d.num("total").unwrap_or(0)
        ),
        "channel.ad_break.begin" => ad_break(&d),
        "channel.poll.begin" => poll_begin(&d),
        "channel.poll.end" => poll_end(&d),
        "channel.prediction.begin" => format!("Prediction started: {}", d.quoted("title")),
        "channel.prediction.end" => prediction_end(&d),
        "channel.ban" => ban(&d),
        "channel.shoutout.create" => format!(
            "{} gave a shoutout to {}",
            d.user("moderator_user"),
            d.user("to_broadcaster_user")
        ),
        "channel.shoutout.receive" => format!(
            "{} shouted out the channel to {} viewers",
            d.user("from_broadcaster_user"),
            d.num("viewer_count").unwrap_or(0)
        ),
        "channel.charity_campaign.donate" => charity(&d),
        other => generic(other, &d),
    }
}

fn gift(d: &Fields) -> String {
    let who = if d.flag("is_anonymous") {
        "An anonymous gifter".to_owned()
    } else {
        d.user("user")
    };
    let total = d.num("total").unwrap_or(1);
    let plural = if total == 1 { "sub" } else { "subs" };
    let mut line = format!("{who} gifted {total} {} {plural}", d.tier());
    if let Some(cumulative) = d.num("cumulative_total") {
        line.push_str(&format!(" ({cumulative} in the channel)"));
    }
    line
}

fn resub(d: &Fields) -> String {
    let months = d.num("cumulative_months").unwrap_or(1);
    let mut line = format!(
        "{} resubscribed for {months} months ({})",
        d.user("user"),
        d.tier()
    );
    if let Some(text) = d.0.pointer("/message/text").and_then(Value::as_str) {
        push_quote(&mut line, text);
    }
    line
}

fn cheer(d: &Fields) -> String {
    let who = if d.flag("is_anonymous") {
        "Anonymous".to_owned()
    } else {
        d.user("user")
    };
    let mut line = format!("{who} cheered {} bits", d.num("bits").unwrap_or(0));
    if let Some(text) = d.str("message") {
        push_quote(&mut line, text);
    }
    line
}

fn channel_update(d: &Fields) -> String {
    let mut line = format!("Title: {}", d.quoted("title"));
    if let Some(category) = d.str("category_name") {
        line.push_str(&format!(" [{category}]"));
    }
    line
}

fn redemption(d: &Fields) -> String {
    let title =
        d.0.pointer("/reward/title")
            .and_then(Value::as_str)
            .unwrap_or("a reward");
    let mut line = format!("{} redeemed {}", d.user("user"), clip(title));
    if let Some(cost) = d.0.pointer("/reward/cost").and_then(Value::as_i64) {
        line.push_str(&format!(" ({cost})"));
    }
    if let Some(input) = d.str("user_input") {
        push_quote(&mut line, input);
    }
    line
}

fn hype_progress(d: &Fields) -> String {
    format!(
        "level {}, {}/{}",
        d.num("level").unwrap_or(1),
        d.num("progress").unwrap_or(0),
        d.num("goal").unwrap_or(0)
    )
}

fn ad_break(d: &Fields) -> String {
    let secs = d.num("duration_seconds").unwrap_or(0);
    if d.flag("is_automatic") {
        format!("{secs} s ad break started (automatic)")
    } else {
        format!("{secs} s ad break started by {}", d.user("requester_user"))
    }
}

fn choice_titles(d: &Fields, list: &str) -> Vec<String> {
    d.array(list)
        .iter()
        .filter_map(|c| c.get("title").and_then(Value::as_str))
        .map(clip)
        .collect()
}

fn poll_begin(d: &Fields) -> String {
    let choices = choice_titles(d, "choices");
    let mut line = format!("Poll started: {}", d.quoted("title"));
    if !choices.is_empty() {
        line.push_str(&format!(" ({})", choices.join(" / ")));
    }
    line
}

fn poll_end(d: &Fields) -> String {
    let status = d.str("status").unwrap_or("completed");
    let mut line = format!("Poll {status}: {}", d.quoted("title"));
    let winner = d
        .array("choices")
        .iter()
        .max_by_key(|c| c.get("votes").and_then(Value::as_i64).unwrap_or(0));
    if let Some(w) = winner {
        let title = w.get("title").and_then(Value::as_str).unwrap_or("?");
        let votes = w.get("votes").and_then(Value::as_i64).unwrap_or(0);
        line.push_str(&format!("; top: {} ({votes} votes)", clip(title)));
    }
    line
}

fn prediction_end(d: &Fields) -> String {
    let title = d.quoted("title");
    if d.str("status") == Some("canceled") {
        return format!("Prediction canceled: {title}");
    }
    let winner = d.str("winning_outcome_id").and_then(|id| {
        d.array("outcomes")
            .iter()
            .find(|o| o.get("id").and_then(Value::as_str) == Some(id))
            .and_then(|o| o.get("title").and_then(Value::as_str))
    });
    match winner {
        Some(w) => format!("Prediction resolved: {title}; {} won", clip(w)),
        None => format!("Prediction ended: {title}"),
    }
}

fn ban(d: &Fields) -> String {
    let (moderator, user) = (d.user("moderator_user"), d.user("user"));
    let mut line = if d.flag("is_permanent") || d.str("ends_at").is_none() {
        format!("{moderator} banned {user}")
    } else {
        let secs = match (d.time("banned_at"), d.time("ends_at")) {
            (Some(a), Some(b)) => b.as_second() - a.as_second(),
            _ => 0,
        };
        format!("{moderator} timed out {user} for {secs} s")
    };
    if let Some(reason) = d.str("reason") {
        push_quote(&mut line, reason);
    }
    line
}

fn charity(d: &Fields) -> String {
    let amount = d.0.get("amount").map(money).unwrap_or_default();
    let charity = d.str("charity_name").map(clip).unwrap_or("charity".into());
    format!("{} donated {amount} to {charity}", d.user("user"))
}

/// `{"value":1050,"decimal_places":2,"currency":"USD"}` as `10.50 USD`.
fn money(amount: &Value) -> String {
    let value = amount.get("value").and_then(Value::as_i64).unwrap_or(0);
    let places = amount
        .get("decimal_places")
        .and_then(Value::as_u64)
        .unwrap_or(0);
    let currency = amount.get("currency").and_then(Value::as_str).unwrap_or("");
    let places = u32::try_from(places).unwrap_or(0).min(9);
    let scale = 10_i64.pow(places);
    let sign = if value < 0 { "-" } else { "" };
    let (whole, frac) = (value.abs() / scale, value.abs() % scale);
    let number = if places == 0 {
        format!("{sign}{whole}")
    } else {
        format!("{sign}{whole}.{frac:0width$}", width = places as usize)
    };
    format!("{number} {currency}").trim_end().to_owned()
}

/// Unknown types: the type itself, plus whoever the payload names.
fn generic(kind: &str, d: &Fields) -> String {
    match d.str("user_name").or_else(|| d.str("user_login")) {
        Some(user) => format!("{kind} from {}", clip(user)),
        None => format!("{kind} event"),
    }
}

fn push_quote(line: &mut String, text: &str) {
    let text = clip(text);
    if !text.is_empty() {
        line.push_str(": ");
        line.push_str(&text);
    }
}

/// User text on one line: whitespace runs folded to one space, at most [`MAX_QUOTE_CHARS`].
fn clip(text: &str) -> String {
    let folded = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if folded.chars().count() <= MAX_QUOTE_CHARS {
        return folded;
    }
    let mut cut: String = folded.chars().take(MAX_QUOTE_CHARS - 1).collect();
    cut.push('…');
    cut
}

/// Tolerant accessors over an event object.
struct Fields<'a>(&'a Value);

impl Fields<'_> {
    /// A non-empty string field.
    fn str(&self, key: &str) -> Option<&str> {
        self.0
            .get(key)
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
    }

    /// An integer field, also when Twitch sends it as a string (as some docs examples do).
    fn num(&self, key: &str) -> Option<i64> {
        match self.0.get(key)? {
            Value::Number(n) => n.as_i64(),
            Value::String(s) => s.parse().ok(),
            _ => None,
        }
    }

    /// A boolean field, also `"true"`; absent is false.
    fn flag(&self, key: &str) -> bool {
        match self.0.get(key) {
            Some(Value::Bool(b)) => *b,
            Some(Value::String(s)) => s == "true",
            _ => false,
        }
    }

    fn array(&self, key: &str) -> &[Value] {
        self.0
            .get(key)
            .and_then(Value::as_array)
            .map(Vec::as_slice)
            .unwrap_or_default()
    }

    fn time(&self, key: &str) -> Option<jiff::Timestamp> {
        self.str(key).and_then(crate::time::parse)
    }

    /// The display name of `<prefix>_name`, else `<prefix>_login`, else "someone".
    fn user(&self, prefix: &str) -> String {
        self.str(&format!("{prefix}_name"))
            .or_else(|| self.str(&format!("{prefix}_login")))
            .map(clip)
            .unwrap_or_else(|| "someone".to_owned())
    }

    /// `tier` as people say it: `1000` is Tier 1; IRC's `Prime` stays Prime.
    fn tier(&self) -> String {
        match self.str("tier") {
            Some("1000") | None => "Tier 1".to_owned(),
            Some("2000") => "Tier 2".to_owned(),
            Some("3000") => "Tier 3".to_owned(),
            Some(other) => clip(other),
        }
    }

    /// A text field in quotes, or "(untitled)".
    fn quoted(&self, key: &str) -> String {
        self.str(key)
            .map(|t| format!("\"{}\"", clip(t)))
            .unwrap_or_else(|| "(untitled)".to_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn clip_folds_and_truncates() {
        assert_eq!(clip("a\n b\t\tc"), "a b c");
        let long = "x".repeat(300);
        assert_eq!(clip(&long).chars().count(), MAX_QUOTE_CHARS);
        assert!(clip(&long).ends_with('…'));
    }

    #[test]
    fn money_formats_decimal_places() {
        assert_eq!(
            money(&json!({"value":1050,"decimal_places":2,"currency":"USD"})),
            "10.50 USD"
        );
        assert_eq!(
            money(&json!({"value":5,"decimal_places":2,"currency":"EUR"})),
            "0.05 EUR"
        );
        assert_eq!(
            money(&json!({"value":300,"decimal_places":0,"currency":"JPY"})),
            "300 JPY"
        );
    }

    #[test]
    fn unknown_type_gets_generic_line() {
        assert_eq!(
            summary("channel.vip.add", &json!({"user_name": "Mossy"})),
            "channel.vip.add from Mossy"
        );
        assert_eq!(summary("user.update", &json!({})), "user.update event");
    }

    #[test]
    fn missing_fields_never_fail() {
        for kind in crate::catalog::names() {
            let line = summary(kind, &json!({}));
            assert!(!line.is_empty(), "{kind}");
            let line = summary(kind, &Value::Null);
            assert!(!line.is_empty(), "{kind}");
        }
    }
}
