//! The one TOML config file (`[twitch]`, `[tui]`, `[relay]`), its discovery, `ONAIR_<SECTION>_<KEY>`
//! overrides, defaults and validation. Every problem is collected, so a user fixes them in one go.

mod error;
pub mod keys;
mod source;
pub mod tls;
mod values;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use url::Url;

pub use error::{ConfigError, Origin, Problem};
pub use source::{CONFIG_ENV, CREDENTIALS_ENV, Env, Located, default_path, discover, process_env};
use source::{Input, Raw};
pub use tls::{TlsConfig, TlsMode};
pub use values::login as check_login;

use crate::{Secret, catalog};

/// `[twitch]`: the app's client id and Twitch's endpoints (each replaceable by a fake).
#[derive(Debug, Clone, PartialEq)]
pub struct TwitchConfig {
    /// The public client id used for the device flow; required to log in.
    pub client_id: Option<String>,
    /// OAuth base, e.g. `https://id.twitch.tv/oauth2`.
    pub auth_url: Url,
    /// Helix base, e.g. `https://api.twitch.tv/helix`.
    pub helix_url: Url,
    /// Chat over WebSocket.
    pub irc_url: Url,
    /// EventSub over WebSocket, for direct events.
    pub eventsub_url: Url,
}

/// Where the terminal app keeps tokens.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenStore {
    /// The OS keyring.
    Keyring,
    /// A 0600 file in the data dir (explicit opt-in).
    File,
}

/// Where the event pane's events come from (`tui.events`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventsSource {
    /// The relay when `relay_url` is set, else direct when logged in, else off.
    Auto,
    /// The relay (`relay_url`, `relay_token`).
    Relay,
    /// Twitch's EventSub WebSocket, from this terminal with the user's own login.
    Direct,
    /// Only the events chat announces.
    Off,
}

impl EventsSource {
    /// Parses `auto`, `relay`, `direct` or `off`.
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "auto" => Self::Auto,
            "relay" => Self::Relay,
            "direct" => Self::Direct,
            "off" => Self::Off,
            _ => return None,
        })
    }
}

/// `[tui]`: the terminal app.
#[derive(Debug, Clone, PartialEq)]
pub struct TuiConfig {
    /// Channel to open; `None` means the logged-in user's.
    pub channel: Option<String>,
    /// Relay base URL; `None` means chat only.
    pub relay_url: Option<Url>,
    /// Token from `onair-relay client add`.
    pub relay_token: Option<Secret>,
    /// Lines kept per pane.
    pub scrollback: usize,
    /// Token storage.
    pub token_store: TokenStore,
    /// Where events come from.
    pub events: EventsSource,
}

/// `[relay]`: the relay server.
#[derive(Debug, Clone, PartialEq)]
pub struct RelayConfig {
    /// Bind address.
    pub listen: SocketAddr,
    /// Public https base that Twitch calls.
    pub public_url: Option<Url>,
    /// SQLite file.
    pub database: PathBuf,
    /// The relay's confidential app.
    pub client_id: Option<String>,
    /// Its secret.
    pub client_secret: Option<Secret>,
    /// EventSub secret (10-100 ASCII characters).
    pub webhook_secret: Option<Secret>,
    /// Broadcaster logins to subscribe for.
    pub channels: Vec<String>,
    /// Subscription types to keep.
    pub events: Vec<String>,
    /// Days events are kept.
    pub retention_days: u32,
    /// Concurrent WebSockets per client token.
    pub max_connections_per_client: u32,
    /// Concurrent TCP connections in all.
    pub max_connections: u32,
    /// A Redis (or Valkey) server several relays share, instead of the SQLite file. Kept as a
    /// secret: the URL may carry a password.
    pub redis_url: Option<Secret>,
    /// HTTPS served by the relay itself.
    pub tls: TlsConfig,
}

/// The whole configuration, and the file it came from.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// The file that was read, if one exists.
    pub file: Option<PathBuf>,
    /// `[twitch]`
    pub twitch: TwitchConfig,
    /// `[tui]`
    pub tui: TuiConfig,
    /// `[relay]`
    pub relay: RelayConfig,
}

const HTTP: &[&str] = &["https", "http"];
const WS: &[&str] = &["wss", "ws"];
const REDIS: &[&str] = &["redis", "rediss"];

impl Config {
    /// Loads from `--config` (if given), `$ONAIR_CONFIG`, or the default path, with this process's
    /// environment.
    pub fn load(cli_path: Option<&Path>) -> Result<Self, ConfigError> {
        Self::load_with(cli_path, &process_env())
    }

    /// Loads with an explicit environment (tests pass their own).
    pub fn load_with(cli_path: Option<&Path>, env: &Env) -> Result<Self, ConfigError> {
        let located = discover(cli_path, env);
        let raw = source::gather(located.as_ref(), env)?;
        let file = located.map(|l| l.path).filter(|p| p.is_file());
        Reader::new(raw).build(file)
    }

    /// Loads like [`Config::load`], but a bad value does not stop it: the key keeps its default
    /// (or stays unset) and the problem is returned beside the config, so `check` can report
    /// it together with everything else. An unreadable file is still an error.
    pub fn load_lenient(cli_path: Option<&Path>) -> Result<(Self, Vec<Problem>), ConfigError> {
        let env = process_env();
        let located = discover(cli_path, &env);
        let raw = source::gather(located.as_ref(), &env)?;
        let file = located.map(|l| l.path).filter(|p| p.is_file());
        Ok(Reader::new(raw).read(file))
    }

    /// A problem for a key that `why` needs but is not set.
    pub fn missing(&self, key: &str, why: &str) -> Problem {
        Problem::missing(key, self.file.clone(), why)
    }
}

/// Checks raw values key by key, collecting problems instead of stopping at the first.
struct Reader {
    raw: Raw,
}

impl Reader {
    fn new(raw: Raw) -> Self {
        Self { raw }
    }

    /// The checked value of `key`; `None` when unset, set to an empty environment value (which
    /// clears a file value), or invalid (then a problem is recorded).
    fn get<T>(
        &mut self,
        key: &'static str,
        check: impl Fn(&Input) -> values::Checked<T>,
    ) -> Option<T> {
        let entry = self.raw.entries.get(key)?;
        if matches!(&entry.input, Input::Env(s) if s.trim().is_empty()) {
            return None;
        }
        match check(&entry.input) {
            Ok(v) => Some(v),
            Err(mut message) => {
                let secret = keys::lookup(key).is_some_and(|k| k.secret);
                if let (false, Input::Toml(toml::Value::String(s)) | Input::Env(s)) =
                    (secret, &entry.input)
                    && !message.contains(s.as_str())
                {
                    message.push_str(&format!(" (got {:?})", truncate(s)));
                }
                self.raw.problems.push(Problem {
                    key: key.to_owned(),
                    origin: entry.origin.clone(),
                    message,
                });
                None
            }
        }
    }

    fn build(self, file: Option<PathBuf>) -> Result<Config, ConfigError> {
        let (config, problems) = self.read(file);
        if problems.is_empty() {
            Ok(config)
        } else {
            Err(ConfigError::Invalid(problems))
        }
    }

    fn read(mut self, file: Option<PathBuf>) -> (Config, Vec<Problem>) {
        let twitch = TwitchConfig {
            client_id: self.get("twitch.client_id", values::word),
            auth_url: self
                .get("twitch.auth_url", |i| values::base_url(i, HTTP))
                .unwrap_or_else(|| default_url("https://id.twitch.tv/oauth2")),
            helix_url: self
                .get("twitch.helix_url", |i| values::base_url(i, HTTP))
                .unwrap_or_else(|| default_url("https://api.twitch.tv/helix")),
            irc_url: self
                .get("twitch.irc_url", |i| values::url(i, WS))
                .unwrap_or_else(|| default_url("wss://irc-ws.chat.twitch.tv:443")),
            eventsub_url: self
                .get("twitch.eventsub_url", |i| values::url(i, WS))
                .unwrap_or_else(|| default_url("wss://eventsub.wss.twitch.tv/ws")),
        };
        let tui = TuiConfig {
            channel: self.get("tui.channel", |i| values::login(&values::text(i)?)),
            relay_url: self.get("tui.relay_url", |i| values::base_url(i, HTTP)),
            relay_token: self.get("tui.relay_token", values::word).map(Secret::new),
            scrollback: self
                .get("tui.scrollback", |i| values::integer(i, 100, 1_000_000))
                .map_or(10_000, |n| n as usize),
            token_store: self
                .get("tui.token_store", token_store)
                .unwrap_or(TokenStore::Keyring),
            events: self
                .get("tui.events", |i| {
                    EventsSource::parse(&values::word(i)?)
                        .ok_or_else(|| "must be \"auto\", \"relay\", \"direct\" or \"off\"".into())
                })
                .unwrap_or(EventsSource::Auto),
        };
        let relay = RelayConfig {
            listen: self
                .get("relay.listen", values::socket_addr)
                .unwrap_or_else(|| SocketAddr::from(([0, 0, 0, 0], 8080))),
            public_url: self.get("relay.public_url", |i| values::base_url(i, HTTP)),
            database: self
                .get("relay.database", values::path)
                .unwrap_or_else(default_database),
            client_id: self.get("relay.client_id", values::word),
            client_secret: self
                .get("relay.client_secret", values::word)
                .map(Secret::new),
            webhook_secret: self
                .get("relay.webhook_secret", values::webhook_secret)
                .map(Secret::new),
            channels: self
                .get("relay.channels", values::logins)
                .unwrap_or_default(),
            events: self
                .get("relay.events", values::event_types)
                .unwrap_or_else(|| catalog::names().map(str::to_owned).collect()),
            retention_days: self
                .get("relay.retention_days", |i| values::integer(i, 1, 3650))
                .map_or(30, |n| n as u32),
            max_connections_per_client: self
                .get("relay.max_connections_per_client", |i| {
                    values::integer(i, 1, 1000)
                })
                .map_or(8, |n| n as u32),
            max_connections: self
                .get("relay.max_connections", |i| {
                    values::integer(i, 16, 1_000_000)
                })
                .map_or(10_000, |n| n as u32),
            redis_url: self
                .get("relay.redis_url", |i| values::url(i, REDIS))
                .map(|u| Secret::new(u.to_string())),
            tls: self.tls(),
        };
        self.raw.problems.extend(relay.tls.conflicts(file.as_ref()));
        let config = Config {
            file,
            twitch,
            tui,
            relay,
        };
        (config, self.raw.problems)
    }
}

impl Reader {
    fn tls(&mut self) -> TlsConfig {
        TlsConfig {
            domains: self
                .get("relay.tls_domains", |i| {
                    values::list(i)?.iter().map(|d| tls::domain(d)).collect()
                })
                .unwrap_or_default(),
            email: self.get("relay.tls_email", |i| tls::email(&values::text(i)?)),
            acme_directory: self
                .get("relay.acme_directory", |i| values::url(i, HTTP))
                .unwrap_or_else(|| default_url(tls::LETS_ENCRYPT)),
            acme_ca: self.get("relay.acme_ca", values::path),
            cache: self
                .get("relay.tls_cache", values::path)
                .unwrap_or_else(|| data_dir().join("acme")),
            cert: self.get("relay.tls_cert", values::path),
            key: self.get("relay.tls_key", values::path),
        }
    }
}

fn token_store(input: &Input) -> values::Checked<TokenStore> {
    match values::word(input)?.as_str() {
        "keyring" => Ok(TokenStore::Keyring),
        "file" => Ok(TokenStore::File),
        _ => Err("must be \"keyring\" or \"file\"".into()),
    }
}

fn default_url(s: &'static str) -> Url {
    Url::parse(s).expect("built-in default URLs are valid")
}

/// `<data dir>/onair/relay.sqlite3`.
pub fn default_database() -> PathBuf {
    data_dir().join("relay.sqlite3")
}

/// `<data dir>/onair`, e.g. `~/.local/share/onair` (the current directory without a home).
pub fn data_dir() -> PathBuf {
    directories::BaseDirs::new()
        .map(|d| d.data_dir().join("onair"))
        .unwrap_or_else(|| PathBuf::from("."))
}

/// `<state dir>/onair` for logs (the data dir where the platform has no state dir).
pub fn state_dir() -> PathBuf {
    directories::BaseDirs::new()
        .map(|d| d.state_dir().unwrap_or(d.data_local_dir()).join("onair"))
        .unwrap_or_else(|| PathBuf::from("."))
}

fn truncate(s: &str) -> String {
    s.chars().take(60).collect()
}
