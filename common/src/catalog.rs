//! The EventSub subscription types onair supports: the version it subscribes to, the condition it
//! needs, the scopes the broadcaster must grant, and which payload field says when it happened.

/// Which user ids a subscription's condition carries (Twitch `twitch.md` B.6).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Condition {
    /// `{"broadcaster_user_id"}`
    Broadcaster,
    /// `{"broadcaster_user_id", "moderator_user_id"}` (the broadcaster acts as its own moderator).
    BroadcasterAndModerator,
    /// `{"to_broadcaster_user_id"}`: raids into the channel.
    ToBroadcaster,
}

/// One supported subscription type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EventType {
    /// Twitch's name, e.g. `channel.follow`.
    pub name: &'static str,
    /// The version onair subscribes to.
    pub version: &'static str,
    /// The condition it needs.
    pub condition: Condition,
    /// Scopes of which the broadcaster must have granted one (empty: none needed).
    pub scopes: &'static [&'static str],
    /// The payload field holding the time the thing happened; else the message timestamp is used.
    pub occurred_at: Option<&'static str>,
}

const fn t(
    name: &'static str,
    version: &'static str,
    condition: Condition,
    scopes: &'static [&'static str],
    occurred_at: Option<&'static str>,
) -> EventType {
    EventType {
        name,
        version,
        condition,
        scopes,
        occurred_at,
    }
}

use Condition::*;

const SUBS: &[&str] = &["channel:read:subscriptions"];
const HYPE: &[&str] = &["channel:read:hype_train"];
const POLLS: &[&str] = &["channel:read:polls", "channel:manage:polls"];
const PREDICTIONS: &[&str] = &["channel:read:predictions", "channel:manage:predictions"];
const SHOUTOUTS: &[&str] = &["moderator:read:shoutouts", "moderator:manage:shoutouts"];

/// Every supported type, in the order the docs list them.
pub const SUPPORTED: &[EventType] = &[
    t(
        "channel.follow",
        "2",
        BroadcasterAndModerator,
        &["moderator:read:followers"],
        Some("followed_at"),
    ),
    t("channel.subscribe", "1", Broadcaster, SUBS, None),
    t("channel.subscription.gift", "1", Broadcaster, SUBS, None),
    t("channel.subscription.message", "1", Broadcaster, SUBS, None),
    t("channel.cheer", "1", Broadcaster, &["bits:read"], None),
    t("channel.raid", "1", ToBroadcaster, &[], None),
    t("stream.online", "1", Broadcaster, &[], Some("started_at")),
    t("stream.offline", "1", Broadcaster, &[], None),
    t("channel.update", "2", Broadcaster, &[], None),
    t(
        "channel.channel_points_custom_reward_redemption.add",
        "1",
        Broadcaster,
        &["channel:read:redemptions", "channel:manage:redemptions"],
        Some("redeemed_at"),
    ),
    t(
        "channel.hype_train.begin",
        "2",
        Broadcaster,
        HYPE,
        Some("started_at"),
    ),
    t("channel.hype_train.progress", "2", Broadcaster, HYPE, None),
    t(
        "channel.hype_train.end",
        "2",
        Broadcaster,
        HYPE,
        Some("ended_at"),
    ),
    t(
        "channel.ad_break.begin",
        "1",
        Broadcaster,
        &["channel:read:ads", "channel:manage:ads"],
        Some("started_at"),
    ),
    t(
        "channel.poll.begin",
        "1",
        Broadcaster,
        POLLS,
        Some("started_at"),
    ),
    t(
        "channel.poll.end",
        "1",
        Broadcaster,
        POLLS,
        Some("ended_at"),
    ),
    t(
        "channel.prediction.begin",
        "1",
        Broadcaster,
        PREDICTIONS,
        Some("started_at"),
    ),
    t(
        "channel.prediction.end",
        "1",
        Broadcaster,
        PREDICTIONS,
        Some("ended_at"),
    ),
    t(
        "channel.ban",
        "1",
        Broadcaster,
        &["channel:moderate"],
        Some("banned_at"),
    ),
    t(
        "channel.shoutout.create",
        "1",
        BroadcasterAndModerator,
        SHOUTOUTS,
        Some("started_at"),
    ),
    t(
        "channel.shoutout.receive",
        "1",
        BroadcasterAndModerator,
        SHOUTOUTS,
        Some("started_at"),
    ),
    t(
        "channel.charity_campaign.donate",
        "1",
        Broadcaster,
        &["channel:read:charity"],
        None,
    ),
];

/// Looks a type up by its Twitch name.
pub fn lookup(name: &str) -> Option<&'static EventType> {
    SUPPORTED.iter().find(|t| t.name == name)
}

/// The names of every supported type.
pub fn names() -> impl Iterator<Item = &'static str> {
    SUPPORTED.iter().map(|t| t.name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_and_follow_is_v2() {
        let mut names: Vec<_> = names().collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), SUPPORTED.len());
        assert_eq!(lookup("channel.follow").map(|t| t.version), Some("2"));
        assert_eq!(lookup("channel.update").map(|t| t.version), Some("2"));
        assert!(lookup("channel.follow.v1").is_none());
    }
}
