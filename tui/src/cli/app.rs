//! `onair` (the full-screen app) and `onair demo`.

use std::process::ExitCode;

use onair_common::Config;
use onair_common::config::EventsSource;
use onair_common::wire::Subscribe;

use crate::app::run::{Sources, run};
use crate::app::{App, LoginView, demo};
use crate::auth::StoredToken;
use crate::chat::connection::ChatConfig;
use crate::direct::DirectConfig;
use crate::error::{Error, Result};
use crate::relay::RelayConfig;

pub async fn demo(config: &Config) -> Result<ExitCode> {
    let app = App::new(
        demo::CHANNEL.into(),
        config.tui.scrollback,
        LoginView::Demo,
        true,
    );
    let sources = Sources {
        demo: true,
        ..Sources::default()
    };
    run(app, sources)
        .await
        .map_err(|e| Error::Chat(format!("terminal: {e}")))?;
    Ok(ExitCode::SUCCESS)
}

/// The relay settings, if configured (both keys or neither).
pub fn relay_config(
    config: &Config,
    filter: Subscribe,
    after: Option<u64>,
) -> Result<Option<RelayConfig>> {
    match (&config.tui.relay_url, &config.tui.relay_token) {
        (Some(url), Some(token)) => Ok(Some(RelayConfig::new(
            url.clone(),
            token.clone(),
            filter,
            after,
        ))),
        (None, None) => Ok(None),
        (Some(_), None) => Err(Error::Missing(config.missing(
            "tui.relay_token",
            "with tui.relay_url (from `onair-relay client add`)",
        ))),
        (None, Some(_)) => Err(Error::Missing(
            config.missing("tui.relay_url", "with tui.relay_token"),
        )),
    }
}

/// Where events come from, resolved: `tui.events` (or `--source`) against what is configured.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// The relay.
    Relay,
    /// Twitch's EventSub WebSocket.
    Direct,
    /// Chat-borne events only.
    Off,
}

/// `auto`: the relay when `relay_url` is set, else direct when logged in, else off. An explicit
/// choice that cannot work is an error that says what is missing.
pub fn resolve(config: &Config, wanted: EventsSource, logged_in: bool) -> Result<Source> {
    match wanted {
        EventsSource::Off => Ok(Source::Off),
        EventsSource::Relay => Ok(Source::Relay),
        EventsSource::Direct if logged_in => Ok(Source::Direct),
        EventsSource::Direct => Err(Error::NotLoggedIn),
        EventsSource::Auto if config.tui.relay_url.is_some() => Ok(Source::Relay),
        EventsSource::Auto if logged_in => Ok(Source::Direct),
        EventsSource::Auto => Ok(Source::Off),
    }
}

/// The direct client's settings for `channel` with this login.
pub fn direct_config(config: &Config, channel: &str, token: &StoredToken) -> DirectConfig {
    DirectConfig::new(
        config.twitch.eventsub_url.clone(),
        config.twitch.helix_url.clone(),
        super::act::client_id(config, token),
        channel.to_owned(),
    )
}

pub async fn app(config: &Config, channel: Option<String>) -> Result<ExitCode> {
    let login = super::chat::try_login(config).await?;
    let channel =
        super::chat::channel_of(config, channel.as_deref(), login.as_ref().map(|l| &l.1))?;
    let filter = Subscribe {
        channels: vec![channel.clone()],
        ..Subscribe::default()
    };
    let source = resolve(config, config.tui.events, login.is_some())?;
    // Open with the recent events, not an empty pane.
    let relay = match source {
        Source::Relay => relay_config(config, filter, None)?
            .map(|mut r| {
                r.backlog = 50;
                r
            })
            .map(Some)
            .ok_or_else(|| {
                Error::Missing(config.missing("tui.relay_url", "for tui.events = \"relay\""))
            })?,
        Source::Direct | Source::Off => None,
    };
    let direct = match (source, &login) {
        (Source::Direct, Some((_, t))) => Some(direct_config(config, &channel, t)),
        _ => None,
    };
    let view = match &login {
        Some((_, t)) => LoginView::User(t.login.clone(), t.expires_at),
        None => LoginView::Anonymous,
    };
    let mut app = App::new(
        channel.clone(),
        config.tui.scrollback,
        view,
        relay.is_some(),
    );
    if direct.is_some() {
        app = app.with_direct();
    }
    let chat = ChatConfig::new(
        config.twitch.irc_url.clone(),
        login
            .as_ref()
            .map(|(_, t)| (t.login.clone(), t.access_token.clone())),
        channel,
    );
    let helix = login.as_ref().map(|(_, t)| super::act::helix(config, t));
    let sources = Sources {
        chat: Some((chat, login)),
        relay,
        direct,
        helix,
        demo: false,
    };
    run(app, sources)
        .await
        .map_err(|e| Error::Chat(format!("terminal: {e}")))?;
    Ok(ExitCode::SUCCESS)
}
