//! `onair` (the full-screen app) and `onair demo`.

use std::process::ExitCode;

use onair_common::Config;
use onair_common::wire::Subscribe;

use crate::app::run::{Sources, run};
use crate::app::{App, LoginView, demo};
use crate::chat::connection::ChatConfig;
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

pub async fn app(config: &Config, channel: Option<String>) -> Result<ExitCode> {
    let login = super::chat::try_login(config).await?;
    let channel =
        super::chat::channel_of(config, channel.as_deref(), login.as_ref().map(|l| &l.1))?;
    let filter = Subscribe {
        channels: vec![channel.clone()],
        ..Subscribe::default()
    };
    // Open with the recent events, not an empty pane.
    let relay = relay_config(config, filter, None)?.map(|mut r| {
        r.backlog = 50;
        r
    });
    let view = match &login {
        Some((_, t)) => LoginView::User(t.login.clone(), t.expires_at),
        None => LoginView::Anonymous,
    };
    let app = App::new(
        channel.clone(),
        config.tui.scrollback,
        view,
        relay.is_some(),
    );
    let chat = ChatConfig::new(
        config.twitch.irc_url.clone(),
        login
            .as_ref()
            .map(|(_, t)| (t.login.clone(), t.access_token.clone())),
        channel,
    );
    let sources = Sources {
        chat: Some((chat, login)),
        relay,
        demo: false,
    };
    run(app, sources)
        .await
        .map_err(|e| Error::Chat(format!("terminal: {e}")))?;
    Ok(ExitCode::SUCCESS)
}
