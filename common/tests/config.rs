//! Config discovery, environment overrides, defaults, every validation error, and the example file.

#![allow(clippy::unwrap_used)] // Tests: a panic is the failure report.

use std::path::{Path, PathBuf};

use onair_common::config::{
    self, Config, ConfigError, Env, EventsSource, Origin, TokenStore, keys::KEYS,
};

fn env(pairs: &[(&str, &str)]) -> Env {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn write(dir: &Path, text: &str) -> PathBuf {
    let path = dir.join("config.toml");
    std::fs::write(&path, text).unwrap();
    path
}

fn load(text: &str, vars: &[(&str, &str)]) -> Result<Config, ConfigError> {
    let dir = tempfile::tempdir().unwrap();
    let path = write(dir.path(), text);
    Config::load_with(Some(&path), &env(vars))
}

fn problems(text: &str, vars: &[(&str, &str)]) -> Vec<String> {
    match load(text, vars) {
        Err(ConfigError::Invalid(list)) => list.iter().map(ToString::to_string).collect(),
        other => panic!("expected validation problems, got {other:?}"),
    }
}

fn one_problem(text: &str, vars: &[(&str, &str)]) -> String {
    let p = problems(text, vars);
    assert_eq!(p.len(), 1, "{p:?}");
    p.into_iter().next().unwrap()
}

#[test]
fn empty_file_gives_the_documented_defaults() {
    let c = load("", &[]).unwrap();
    assert_eq!(c.twitch.auth_url.as_str(), "https://id.twitch.tv/oauth2");
    assert_eq!(c.twitch.helix_url.as_str(), "https://api.twitch.tv/helix");
    assert_eq!(c.twitch.irc_url.as_str(), "wss://irc-ws.chat.twitch.tv/");
    assert_eq!(c.twitch.client_id, None);
    assert_eq!(c.tui.channel, None);
    assert_eq!(c.tui.scrollback, 10_000);
    assert_eq!(c.tui.token_store, TokenStore::Keyring);
    assert_eq!(c.tui.events, EventsSource::Auto);
    assert_eq!(
        c.twitch.eventsub_url.as_str(),
        "wss://eventsub.wss.twitch.tv/ws"
    );
    assert_eq!(c.relay.listen.to_string(), "0.0.0.0:8080");
    assert!(c.relay.database.ends_with("onair/relay.sqlite3"));
    assert_eq!(c.relay.retention_days, 30);
    assert_eq!(c.relay.max_connections_per_client, 8);
    assert_eq!(c.relay.max_connections, 10_000);
    assert!(c.relay.channels.is_empty());
    assert_eq!(
        c.relay.events.len(),
        onair_common::catalog::SUPPORTED.len(),
        "all supported types by default"
    );
}

#[test]
fn discovery_prefers_cli_then_env_then_default() {
    let cli = Path::new("/tmp/cli.toml");
    let vars = env(&[("ONAIR_CONFIG", "/tmp/env.toml")]);
    let found = config::discover(Some(cli), &vars).unwrap();
    assert_eq!((found.path.as_path(), found.explicit), (cli, true));
    let found = config::discover(None, &vars).unwrap();
    assert_eq!(
        (found.path.as_path(), found.explicit),
        (Path::new("/tmp/env.toml"), true)
    );
    let found = config::discover(None, &env(&[])).unwrap();
    assert!(!found.explicit);
    assert!(
        found.path.ends_with("onair/config.toml"),
        "{:?}",
        found.path
    );
}

#[test]
fn config_env_var_is_read() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(dir.path(), "[tui]\nchannel = \"QuillStream\"\n");
    let c = Config::load_with(None, &env(&[("ONAIR_CONFIG", path.to_str().unwrap())])).unwrap();
    assert_eq!(c.tui.channel.as_deref(), Some("quillstream"));
    assert_eq!(c.file.as_deref(), Some(path.as_path()));
}

#[test]
fn a_named_file_that_is_missing_is_an_error() {
    let err = Config::load_with(Some(Path::new("/nonexistent/onair.toml")), &env(&[])).unwrap_err();
    let msg = err.to_string();
    assert!(msg.contains("/nonexistent/onair.toml"), "{msg}");
    assert!(msg.starts_with("cannot read config file"), "{msg}");
}

#[test]
fn environment_overrides_the_file() {
    let file = "[relay]\nlisten = \"127.0.0.1:9000\"\nchannels = [\"a\"]\nretention_days = 5\n";
    let c = load(
        file,
        &[
            ("ONAIR_RELAY_LISTEN", "127.0.0.1:9100"),
            ("ONAIR_RELAY_CHANNELS", "QuillStream, #night_owl ,"),
            ("ONAIR_RELAY_WEBHOOK_SECRET", "relay-fake-secret-0123456789"),
            ("ONAIR_TWITCH_AUTH_URL", "http://127.0.0.1:5555/oauth2/"),
            ("ONAIR_TUI_SCROLLBACK", "500"),
        ],
    )
    .unwrap();
    assert_eq!(c.relay.listen.to_string(), "127.0.0.1:9100");
    assert_eq!(c.relay.channels, ["quillstream", "night_owl"]);
    assert_eq!(
        c.relay.retention_days, 5,
        "file value kept where env is silent"
    );
    assert_eq!(
        c.relay.webhook_secret.as_ref().unwrap().expose(),
        "relay-fake-secret-0123456789"
    );
    assert_eq!(c.twitch.auth_url.as_str(), "http://127.0.0.1:5555/oauth2");
    assert_eq!(c.tui.scrollback, 500);
}

#[test]
fn empty_environment_value_clears_a_file_value() {
    let c = load(
        "[tui]\nrelay_url = \"https://relay.example.com\"\n",
        &[("ONAIR_TUI_RELAY_URL", "")],
    )
    .unwrap();
    assert_eq!(c.tui.relay_url, None);
}

#[test]
fn webhook_secret_length_is_checked_without_echoing_it() {
    let p = one_problem("[relay]\nwebhook_secret = \"short\"\n", &[]);
    assert!(
        p.ends_with("relay.webhook_secret must be 10-100 ASCII characters"),
        "{p}"
    );
    assert!(p.contains("config.toml"), "names the file: {p}");
    assert!(!p.contains("short"), "never echoes a secret: {p}");

    let long = "x".repeat(101);
    let p = one_problem("", &[("ONAIR_RELAY_WEBHOOK_SECRET", &long)]);
    assert_eq!(
        p,
        "ONAIR_RELAY_WEBHOOK_SECRET (relay.webhook_secret) must be 10-100 ASCII characters"
    );
    let p = one_problem("", &[("ONAIR_RELAY_WEBHOOK_SECRET", "sécret-non-ascii")]);
    assert!(p.contains("ASCII"), "{p}");
}

#[test]
fn bad_values_name_key_and_expectation() {
    let cases: &[(&str, &str)] = &[
        (
            "[relay]\nlisten = \"localhost\"",
            "relay.listen must be an IP address and port",
        ),
        (
            "[relay]\nretention_days = 0",
            "relay.retention_days must be a whole number from 1 to 3650",
        ),
        (
            "[relay]\nretention_days = \"30\"",
            "relay.retention_days must be a whole number from 1 to 3650, not a string",
        ),
        (
            "[relay]\nmax_connections_per_client = 5000",
            "relay.max_connections_per_client must be a whole number from 1 to 1000",
        ),
        (
            "[relay]\nchannels = \"quillstream\"",
            "relay.channels must be a list of strings",
        ),
        (
            "[relay]\nchannels = [\"not a login!\"]",
            "relay.channels must be a Twitch login",
        ),
        (
            "[relay]\nevents = [\"channel.follows\"]",
            "relay.events names an unknown subscription type \"channel.follows\"",
        ),
        (
            "[relay]\npublic_url = \"relay.example.com\"",
            "relay.public_url must be a https or http URL",
        ),
        (
            "[tui]\nrelay_url = \"ftp://relay.example.com\"",
            "relay_url must be a https or http URL with a host",
        ),
        (
            "[tui]\nscrollback = 10",
            "tui.scrollback must be a whole number from 100 to 1000000",
        ),
        (
            "[tui]\ntoken_store = \"plaintext\"",
            "tui.token_store must be \"keyring\" or \"file\" (got \"plaintext\")",
        ),
        (
            "[tui]\nevents = \"websocket\"",
            "tui.events must be \"auto\", \"relay\", \"direct\" or \"off\" (got \"websocket\")",
        ),
        (
            "[twitch]\neventsub_url = \"https://eventsub.wss.twitch.tv/ws\"",
            "twitch.eventsub_url must be a wss or ws URL",
        ),
        (
            "[tui]\nchannel = 42",
            "tui.channel must be a string, not a integer",
        ),
        (
            "[twitch]\nirc_url = \"https://irc-ws.chat.twitch.tv\"",
            "twitch.irc_url must be a wss or ws URL",
        ),
        (
            "[twitch]\nhelix_url = \"https://api.twitch.tv/helix?x=1\"",
            "twitch.helix_url must be a base URL",
        ),
        (
            "[twitch]\nclient_id = \"\"",
            "twitch.client_id must not be empty",
        ),
        (
            "[twitch]\nclient_ld = \"x\"",
            "twitch.client_ld is not a known key (known in [twitch]: client_id, auth_url, helix_url, irc_url, eventsub_url)",
        ),
        ("[chat]\nx = 1", "[chat] is not a known section"),
        ("twitch = 1", "twitch must be a table"),
    ];
    for (text, expected) in cases {
        let p = one_problem(text, &[]);
        assert!(
            p.contains(expected),
            "for {text:?}\n  got: {p}\n want: {expected}"
        );
        assert!(p.contains("config.toml: "), "names the file: {p}");
    }
}

#[test]
fn unknown_onair_env_var_is_reported() {
    let p = one_problem("", &[("ONAIR_RELAY_WEBHOOK_SECRT", "x")]);
    assert!(p.contains("ONAIR_RELAY_WEBHOOK_SECRT"), "{p}");
    // Other ONAIR_ variables (not shaped like a key) are none of the config's business.
    load("", &[("ONAIR_LOG", "debug")]).unwrap();
}

#[test]
fn every_problem_is_reported_at_once() {
    let text = "[relay]\nlisten = \"x\"\nretention_days = -1\n[tui]\nscrollback = 1\n";
    let p = problems(text, &[("ONAIR_RELAY_WEBHOOK_SECRET", "short")]);
    assert_eq!(p.len(), 4, "{p:?}");
    let err = load(text, &[]).unwrap_err().to_string();
    assert!(err.starts_with("3 config problems:\n  - "), "{err}");
}

#[test]
fn toml_syntax_error_names_line_and_column_but_not_the_line() {
    let err = load(
        "[relay]\nlisten = \"0.0.0.0:8080\"\nwebhook_secret = \"unterminated-secret-value\n",
        &[],
    )
    .unwrap_err();
    let msg = err.to_string();
    assert!(matches!(err, ConfigError::Syntax { line: 3, .. }), "{msg}");
    assert!(msg.contains("config.toml: invalid TOML at line 3"), "{msg}");
    assert!(!msg.contains("unterminated-secret-value"), "{msg}");
}

#[test]
fn secrets_are_redacted_in_debug() {
    let c = load(
        "[relay]\nclient_secret = \"client-secret-value-123\"\n[tui]\nrelay_token = \"relay-token-value-456\"\n",
        &[("ONAIR_RELAY_WEBHOOK_SECRET", "webhook-secret-value-789")],
    )
    .unwrap();
    let debug = format!("{c:?}");
    for secret in [
        "client-secret-value-123",
        "relay-token-value-456",
        "webhook-secret-value-789",
    ] {
        assert!(!debug.contains(secret), "{debug}");
    }
}

#[test]
fn missing_required_key_says_where_to_set_it() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(dir.path(), "");
    let c = Config::load_with(Some(&path), &env(&[])).unwrap();
    let p = c.missing("relay.webhook_secret", "to serve");
    assert_eq!(p.origin, Origin::Unset(Some(path.clone())));
    assert_eq!(
        p.to_string(),
        format!(
            "relay.webhook_secret is required to serve: set it in {} or by ONAIR_RELAY_WEBHOOK_SECRET",
            path.display()
        )
    );
}

/// The example file with every `# key = value` line uncommented.
fn example_uncommented() -> String {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../config.example.toml"
    ))
    .unwrap();
    let mut out = String::new();
    for line in text.lines() {
        let is_setting = line.strip_prefix("# ").is_some_and(|rest| {
            rest.split_once(" = ")
                .is_some_and(|(k, _)| k.chars().all(|c| c.is_ascii_lowercase() || c == '_'))
        });
        if is_setting || line.starts_with("#   ") {
            out.push_str(&line[2..]);
        } else {
            out.push_str(line);
        }
        out.push('\n');
    }
    out
}

#[test]
fn example_file_loads_as_is_and_documents_every_key() {
    let path = Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../config.example.toml"
    ));
    Config::load_with(Some(path), &env(&[])).unwrap();

    let text = example_uncommented();
    let table: toml::Table = text.parse().unwrap();
    let mut named: Vec<String> = table
        .iter()
        .flat_map(|(section, body)| {
            let body = body.as_table().unwrap();
            body.keys().map(move |k| format!("{section}.{k}"))
        })
        .collect();
    named.sort();
    let mut known: Vec<String> = KEYS.iter().map(|k| k.name.to_owned()).collect();
    known.sort();
    assert_eq!(named, known, "config.example.toml must show every key");

    // And every example value is valid. The two TLS modes exclude each other, so all of it
    // uncommented is exactly that one problem; without the files' lines it loads.
    let p = problems(&text, &[]);
    assert_eq!(p.len(), 1, "{p:?}");
    assert!(p[0].contains("choose ACME or your own files"), "{p:?}");
    let text: String = text
        .lines()
        .filter(|l| !l.starts_with("tls_cert") && !l.starts_with("tls_key"))
        .map(|l| format!("{l}\n"))
        .collect();
    let c = load(&text, &[]).unwrap();
    assert_eq!(c.relay.events.len(), onair_common::catalog::SUPPORTED.len());
}

#[test]
fn tui_events_takes_each_source_from_file_or_environment() {
    for (word, want) in [
        ("auto", EventsSource::Auto),
        ("relay", EventsSource::Relay),
        ("direct", EventsSource::Direct),
        ("off", EventsSource::Off),
    ] {
        let c = load(&format!("[tui]\nevents = \"{word}\""), &[]).unwrap();
        assert_eq!(c.tui.events, want);
    }
    let c = load(
        "[tui]\nevents = \"relay\"",
        &[("ONAIR_TUI_EVENTS", "direct")],
    )
    .unwrap();
    assert_eq!(c.tui.events, EventsSource::Direct);
}
