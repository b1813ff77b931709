//! A fake EventSub webhook sender that signs exactly like Twitch (`twitch.md` A.2, A.3, F):
//! compact JSON bodies, HMAC-SHA256 over id ‖ timestamp ‖ the exact bytes sent, `sha256=` + hex,
//! nanosecond timestamps, `Retry` 0 on first delivery and incremented on re-delivery with the
//! same message id.

use hmac::{Hmac, Mac};
use jiff::Timestamp;
use serde_json::{Value, json};
use sha2::Sha256;

/// The fixtures directory with one notification body per supported type.
pub const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../common/tests/fixtures");

/// One webhook request as Twitch would send it.
#[derive(Debug, Clone)]
pub struct Delivery {
    /// `Twitch-Eventsub-Message-Id`.
    pub id: String,
    /// `Twitch-Eventsub-Message-Timestamp`, signed exactly as sent.
    pub timestamp: String,
    /// `Twitch-Eventsub-Message-Type`.
    pub message_type: String,
    /// `Twitch-Eventsub-Message-Retry`.
    pub retry: u32,
    /// `Twitch-Eventsub-Subscription-Type`.
    pub sub_type: String,
    /// `Twitch-Eventsub-Subscription-Version`.
    pub sub_version: String,
    /// The exact body bytes.
    pub body: String,
}

/// Twitch's timestamp format: RFC 3339 with nanoseconds.
pub fn twitch_timestamp(ts: Timestamp) -> String {
    ts.strftime("%Y-%m-%dT%H:%M:%S%.9fZ").to_string()
}

/// A random UUID-shaped message id.
pub fn message_id() -> String {
    let b: [u8; 16] = rand::random();
    let h = hex::encode(b);
    format!(
        "{}-{}-{}-{}-{}",
        &h[..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..]
    )
}

/// `sha256=<hex>` of id ‖ timestamp ‖ body.
pub fn sign(secret: &str, id: &str, timestamp: &str, body: &str) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(id.as_bytes());
    mac.update(timestamp.as_bytes());
    mac.update(body.as_bytes());
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

/// The subscription skeleton of `twitch.md` A.9.
pub fn subscription(kind: &str, version: &str, status: &str, condition: Value) -> Value {
    json!({"id": "5a1f0c3e-8b2d-4e6f-a7c9-0d1e2f3a4b5c", "status": status, "type": kind,
           "version": version, "condition": condition,
           "transport": {"method": "webhook", "callback": "https://relay.example.test/eventsub"},
           "created_at": "2025-12-31T09:15:42.987654321Z", "cost": 0})
}

/// The fixture body for a supported type (`common/tests/fixtures/<type>.json`).
pub fn fixture(kind: &str) -> String {
    let path = format!("{FIXTURES}/{kind}.json");
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

impl Delivery {
    fn new(message_type: &str, body: &Value) -> Self {
        let sub = &body["subscription"];
        Self {
            id: message_id(),
            timestamp: twitch_timestamp(Timestamp::now()),
            message_type: message_type.into(),
            retry: 0,
            sub_type: sub["type"].as_str().unwrap_or_default().into(),
            sub_version: sub["version"].as_str().unwrap_or_default().into(),
            body: serde_json::to_string(body).unwrap(),
        }
    }

    /// A notification with this body (`{"subscription", "event"}`).
    pub fn notification(body: &Value) -> Self {
        Self::new("notification", body)
    }

    /// The notification of a supported type's fixture, sent verbatim.
    pub fn fixture(kind: &str) -> Self {
        let text = fixture(kind);
        let mut d = Self::new("notification", &serde_json::from_str(&text).unwrap());
        d.body = text;
        d
    }

    /// A `webhook_callback_verification` with this challenge.
    pub fn verification(challenge: &str, kind: &str, version: &str) -> Self {
        let sub = subscription(
            kind,
            version,
            "webhook_callback_verification_pending",
            json!({"broadcaster_user_id": "90010001"}),
        );
        Self::new(
            "webhook_callback_verification",
            &json!({"challenge": challenge, "subscription": sub}),
        )
    }

    /// A `revocation` of a subscription with `status` as the reason.
    pub fn revocation(kind: &str, version: &str, status: &str) -> Self {
        let sub = subscription(
            kind,
            version,
            status,
            json!({"broadcaster_user_id": "90010001"}),
        );
        Self::new("revocation", &json!({"subscription": sub}))
    }

    /// The same message re-delivered: same id, `Retry` incremented, signed anew.
    pub fn redelivery(&self) -> Self {
        Self {
            retry: self.retry + 1,
            ..self.clone()
        }
    }

    /// Dated `ts` instead of now.
    pub fn at(mut self, ts: Timestamp) -> Self {
        self.timestamp = twitch_timestamp(ts);
        self
    }

    /// The headers Twitch sends, signed with `secret`.
    pub fn headers(&self, secret: &str) -> Vec<(&'static str, String)> {
        vec![
            ("Content-Type", "application/json".into()),
            ("Twitch-Eventsub-Message-Id", self.id.clone()),
            ("Twitch-Eventsub-Message-Retry", self.retry.to_string()),
            ("Twitch-Eventsub-Message-Type", self.message_type.clone()),
            (
                "Twitch-Eventsub-Message-Signature",
                sign(secret, &self.id, &self.timestamp, &self.body),
            ),
            ("Twitch-Eventsub-Message-Timestamp", self.timestamp.clone()),
            ("Twitch-Eventsub-Subscription-Type", self.sub_type.clone()),
            (
                "Twitch-Eventsub-Subscription-Version",
                self.sub_version.clone(),
            ),
        ]
    }
}

/// Posts deliveries to a callback URL like Twitch does.
#[derive(Debug, Clone)]
pub struct Sender {
    http: reqwest::Client,
    callback: String,
    secret: String,
}

impl Sender {
    /// A sender for `<base>/eventsub` signing with `secret`.
    pub fn new(base: &str, secret: &str) -> Self {
        Self {
            // Twitch's CLI gives up after 10 s; so do we.
            http: reqwest::Client::builder()
                .timeout(std::time::Duration::from_secs(10))
                .build()
                .unwrap(),
            callback: format!("{base}/eventsub"),
            secret: secret.into(),
        }
    }

    /// A sender whose connections come from `source` (a loopback address such as 127.0.0.2),
    /// so tests can tell Twitch's traffic from an attacker's as the relay does.
    pub fn from_address(base: &str, secret: &str, source: std::net::IpAddr) -> Self {
        Self {
            http: reqwest::Client::builder()
                .timeout(std::time::Duration::from_secs(10))
                .local_address(source)
                .build()
                .unwrap(),
            callback: format!("{base}/eventsub"),
            secret: secret.into(),
        }
    }

    /// A sender through `http` (one that trusts a test CA for an `https://` base, say).
    pub fn with_client(base: &str, secret: &str, http: reqwest::Client) -> Self {
        Self {
            http,
            callback: format!("{base}/eventsub"),
            secret: secret.into(),
        }
    }

    /// The `i`th of a pool of senders on different loopback addresses (127.0.1.x), the way
    /// Twitch delivers from many hosts: load tests use it so the relay's per-address limit sees
    /// what it would see in production.
    pub fn pooled(base: &str, secret: &str, i: usize) -> Self {
        let host = u8::try_from(i % 250 + 1).unwrap_or(1);
        Self::from_address(base, secret, std::net::IpAddr::from([127, 0, 1, host]))
    }

    /// Sends a delivery signed with our secret.
    pub async fn send(&self, d: &Delivery) -> reqwest::Response {
        self.send_signed_with(d, &self.secret).await
    }

    /// Sends a delivery signed with another secret.
    pub async fn send_signed_with(&self, d: &Delivery, secret: &str) -> reqwest::Response {
        self.send_raw(d.headers(secret), d.body.clone()).await
    }

    /// Sends a delivery; a network error is returned instead of panicking (the relay may be down).
    pub async fn try_send(&self, d: &Delivery) -> reqwest::Result<reqwest::Response> {
        self.try_send_raw(d.headers(&self.secret), d.body.clone())
            .await
    }

    /// Sends arbitrary headers and body.
    pub async fn send_raw(
        &self,
        headers: Vec<(&'static str, String)>,
        body: String,
    ) -> reqwest::Response {
        self.try_send_raw(headers, body)
            .await
            .expect("relay unreachable")
    }

    async fn try_send_raw(
        &self,
        headers: Vec<(&'static str, String)>,
        body: String,
    ) -> reqwest::Result<reqwest::Response> {
        let mut req = self.http.post(&self.callback).body(body);
        for (k, v) in headers {
            req = req.header(k, v);
        }
        req.send().await
    }
}
