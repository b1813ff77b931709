//! Every config key onair knows, and how each maps to its environment variable.

/// One config key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Key {
    /// `section.key`.
    pub name: &'static str,
    /// Whether its value is a secret (never quoted in errors or logs).
    pub secret: bool,
}

const fn key(name: &'static str) -> Key {
    Key {
        name,
        secret: false,
    }
}

const fn secret(name: &'static str) -> Key {
    Key { name, secret: true }
}

/// The sections of the file.
pub const SECTIONS: &[&str] = &["twitch", "tui", "relay"];

/// Every key, as `design.md` "Config" lists them.
pub const KEYS: &[Key] = &[
    key("twitch.client_id"),
    key("twitch.auth_url"),
    key("twitch.helix_url"),
    key("twitch.irc_url"),
    key("twitch.eventsub_url"),
    key("tui.channel"),
    key("tui.relay_url"),
    secret("tui.relay_token"),
    key("tui.scrollback"),
    key("tui.token_store"),
    key("tui.events"),
    key("relay.listen"),
    key("relay.public_url"),
    key("relay.database"),
    key("relay.client_id"),
    secret("relay.client_secret"),
    secret("relay.webhook_secret"),
    key("relay.channels"),
    key("relay.events"),
    key("relay.retention_days"),
    key("relay.max_connections_per_client"),
    key("relay.max_connections"),
    // The URL may carry a password.
    secret("relay.redis_url"),
    key("relay.tls_domains"),
    key("relay.tls_email"),
    key("relay.acme_directory"),
    key("relay.acme_ca"),
    key("relay.tls_cache"),
    key("relay.tls_cert"),
    key("relay.tls_key"),
];

/// Looks a key up by `section.key`.
pub fn lookup(name: &str) -> Option<&'static Key> {
    KEYS.iter().find(|k| k.name == name)
}

/// The environment variable that overrides a key: `relay.webhook_secret` is
/// `ONAIR_RELAY_WEBHOOK_SECRET`.
pub fn env_var(name: &str) -> String {
    format!("ONAIR_{}", name.replace('.', "_").to_uppercase())
}

/// The key an environment variable overrides, if it is one of ours.
pub fn from_env_var(var: &str) -> Option<&'static Key> {
    KEYS.iter().find(|k| env_var(k.name) == var)
}
