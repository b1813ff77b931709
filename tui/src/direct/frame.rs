//! EventSub WebSocket frames (`twitch.md` E.3), parsed purely: text in, a typed [`Frame`] out.
//! Unknown message types land in [`Frame::Other`] so a new Twitch message never breaks a session.

use std::time::Duration;

use onair_common::eventsub::Subscription;
use serde::Deserialize;
use serde_json::Value;

/// One message from Twitch's EventSub WebSocket.
#[derive(Debug, Clone, PartialEq)]
pub enum Frame {
    /// The first frame on every socket.
    Welcome {
        /// The session id that subscriptions name.
        session_id: String,
        /// Silence longer than this means the socket is dead.
        keepalive: Duration,
    },
    /// Nothing else went out for the keepalive window.
    Keepalive,
    /// An event.
    Notification {
        /// Twitch's `message_id`: the dedupe key and the EVENT's `id`.
        message_id: String,
        /// `message_timestamp`.
        timestamp: String,
        /// The subscription it belongs to.
        subscription: Subscription,
        /// Twitch's event object, verbatim.
        event: Value,
    },
    /// Move to `url` (it carries the subscriptions) before this socket is dropped.
    Reconnect {
        /// `reconnect_url`, exactly as given.
        url: String,
    },
    /// Twitch stopped a subscription; `subscription.status` says why.
    Revocation {
        /// The subscription, with the reason as its status.
        subscription: Subscription,
    },
    /// A message type this client does not know.
    Other(String),
}

/// Why a text frame is not a frame.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum FrameError {
    /// Not the JSON envelope `twitch.md` E.3 shows.
    #[error("unreadable EventSub frame: {0}")]
    Json(String),
    /// A known message type without the field it must carry.
    #[error("EventSub {0} frame without {1}")]
    Missing(String, &'static str),
}

#[derive(Deserialize)]
struct Raw {
    metadata: Metadata,
    #[serde(default)]
    payload: Payload,
}

#[derive(Deserialize)]
struct Metadata {
    message_id: String,
    message_type: String,
    #[serde(default)]
    message_timestamp: String,
}

#[derive(Deserialize, Default)]
struct Payload {
    session: Option<Session>,
    subscription: Option<Subscription>,
    event: Option<Value>,
}

#[derive(Deserialize)]
struct Session {
    id: String,
    keepalive_timeout_seconds: Option<u64>,
    reconnect_url: Option<String>,
}

/// Twitch's default window, for a welcome that names none.
const DEFAULT_KEEPALIVE: Duration = Duration::from_secs(10);

impl Frame {
    /// Parses one text frame.
    pub fn parse(text: &str) -> Result<Self, FrameError> {
        let raw: Raw = serde_json::from_str(text).map_err(|e| FrameError::Json(e.to_string()))?;
        let kind = raw.metadata.message_type;
        let missing = |what| FrameError::Missing(kind.clone(), what);
        Ok(match kind.as_str() {
            "session_welcome" => {
                let s = raw.payload.session.ok_or_else(|| missing("session"))?;
                Self::Welcome {
                    session_id: s.id,
                    keepalive: s
                        .keepalive_timeout_seconds
                        .map_or(DEFAULT_KEEPALIVE, Duration::from_secs),
                }
            }
            "session_keepalive" => Self::Keepalive,
            "notification" => Self::Notification {
                message_id: raw.metadata.message_id,
                timestamp: raw.metadata.message_timestamp,
                subscription: raw
                    .payload
                    .subscription
                    .ok_or_else(|| missing("subscription"))?,
                event: raw.payload.event.ok_or_else(|| missing("event"))?,
            },
            "session_reconnect" => Self::Reconnect {
                url: raw
                    .payload
                    .session
                    .and_then(|s| s.reconnect_url)
                    .ok_or_else(|| missing("reconnect_url"))?,
            },
            "revocation" => Self::Revocation {
                subscription: raw
                    .payload
                    .subscription
                    .ok_or_else(|| missing("subscription"))?,
            },
            _ => Self::Other(kind),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // `twitch.md` E.3, verbatim.
    const WELCOME: &str = r#"{"metadata":{"message_id":"96a3f3b5-5dec-4eed-908e-e11ee657416c","message_type":"session_welcome","message_timestamp":"2023-07-19T14:56:51.634234626Z"},"payload":{"session":{"id":"AQoQILE98gtqShGmLD7AM6yJThAB","status":"connected","connected_at":"2023-07-19T14:56:51.616329898Z","keepalive_timeout_seconds":10,"reconnect_url":null}}}"#;
    const KEEPALIVE: &str = r#"{"metadata":{"message_id":"84c1e79a-2a4b-4c13-ba0b-4312293e9308","message_type":"session_keepalive","message_timestamp":"2023-07-19T10:11:12.634234626Z"},"payload":{}}"#;
    const NOTIFICATION: &str = r#"{"metadata":{"message_id":"befa7b53-d79d-478f-86b9-120f112b044e","message_type":"notification","message_timestamp":"2022-11-16T10:11:12.464757833Z","subscription_type":"channel.follow","subscription_version":"2"},"payload":{"subscription":{"id":"f1c2a387-161a-49f9-a165-0f21d7a4e1c4","status":"enabled","type":"channel.follow","version":"2","cost":0,"condition":{"broadcaster_user_id":"12826","moderator_user_id":"12826"},"transport":{"method":"websocket","session_id":"AQoQexAWVYKSTIu4ec_2VAxyuhAB"},"created_at":"2022-11-16T10:11:12.464757833Z"},"event":{"user_id":"1337","user_login":"awesome_user","user_name":"Awesome_User","broadcaster_user_id":"12826","broadcaster_user_login":"twitch","broadcaster_user_name":"Twitch","followed_at":"2023-07-15T18:16:11.17106713Z"}}}"#;
    const RECONNECT: &str = r#"{"metadata":{"message_id":"84c1e79a-2a4b-4c13-ba0b-4312293e9308","message_type":"session_reconnect","message_timestamp":"2022-11-18T09:10:11.634234626Z"},"payload":{"session":{"id":"AQoQexAWVYKSTIu4ec_2VAxyuhAB","status":"reconnecting","keepalive_timeout_seconds":null,"reconnect_url":"wss://eventsub.wss.twitch.tv?...","connected_at":"2022-11-16T10:11:12.634234626Z"}}}"#;
    const REVOCATION: &str = r#"{"metadata":{"message_id":"84c1e79a-2a4b-4c13-ba0b-4312293e9308","message_type":"revocation","message_timestamp":"2022-11-16T10:11:12.464757833Z","subscription_type":"channel.follow","subscription_version":"2"},"payload":{"subscription":{"id":"f1c2a387-161a-49f9-a165-0f21d7a4e1c4","status":"authorization_revoked","type":"channel.follow","version":"2","cost":0,"condition":{"broadcaster_user_id":"12826","moderator_user_id":"12826"},"transport":{"method":"websocket","session_id":"AQoQexAWVYKSTIu4ec_2VAxyuhAB"},"created_at":"2022-11-16T10:11:12.464757833Z"}}}"#;

    #[test]
    fn parses_every_documented_frame() {
        assert_eq!(
            Frame::parse(WELCOME).unwrap(),
            Frame::Welcome {
                session_id: "AQoQILE98gtqShGmLD7AM6yJThAB".into(),
                keepalive: Duration::from_secs(10)
            }
        );
        assert_eq!(Frame::parse(KEEPALIVE).unwrap(), Frame::Keepalive);
        let Frame::Notification {
            message_id,
            subscription,
            event,
            ..
        } = Frame::parse(NOTIFICATION).unwrap()
        else {
            panic!("not a notification")
        };
        assert_eq!(message_id, "befa7b53-d79d-478f-86b9-120f112b044e");
        assert_eq!(subscription.kind, "channel.follow");
        assert_eq!(event["user_name"], "Awesome_User");
        assert_eq!(
            Frame::parse(RECONNECT).unwrap(),
            Frame::Reconnect {
                url: "wss://eventsub.wss.twitch.tv?...".into()
            }
        );
        let Frame::Revocation { subscription } = Frame::parse(REVOCATION).unwrap() else {
            panic!("not a revocation")
        };
        assert_eq!(subscription.status, "authorization_revoked");
    }

    #[test]
    fn unknown_types_and_garbage() {
        let other = KEEPALIVE.replace("session_keepalive", "session_party");
        assert_eq!(
            Frame::parse(&other).unwrap(),
            Frame::Other("session_party".into())
        );
        assert!(matches!(Frame::parse("nope"), Err(FrameError::Json(_))));
        let bare = NOTIFICATION.replace(r#""event":"#, r#""evnt":"#);
        assert_eq!(
            Frame::parse(&bare),
            Err(FrameError::Missing("notification".into(), "event"))
        );
    }
}
