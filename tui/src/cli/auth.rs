//! `onair login`, `onair logout`, `onair auth status`.

use std::process::ExitCode;

use onair_common::Config;
use onair_common::guide;
use onair_common::twitch::oauth::OAuthError;
use serde_json::json;

use super::out;
use crate::auth::{Auth, DEFAULT_SCOPES, TokenStore};
use crate::error::{Error, Result};

pub async fn login(config: &Config, scopes: Option<String>) -> Result<ExitCode> {
    login_steps(config, scopes).await.map_err(with_guide)
}

/// Points the errors a first login meets (no client id, a client Twitch refuses for this flow)
/// at the setup guide, keeping their kind and so their exit code.
fn with_guide(e: Error) -> Error {
    match e {
        Error::Missing(mut p) => {
            p.message
                .push_str(&format!(" (registering the app: {})", guide::TWITCH_SETUP));
            Error::Missing(p)
        }
        Error::OAuth(OAuthError::Twitch { status, message }) => {
            let message = format!("{message}; {} explains it", guide::TWITCH_SETUP_ERRORS);
            Error::OAuth(OAuthError::Twitch { status, message })
        }
        other => other,
    }
}

async fn login_steps(config: &Config, scopes: Option<String>) -> Result<ExitCode> {
    let auth = Auth::from_config(config).await?;
    let scopes: Vec<String> = match scopes {
        Some(s) => s
            .split([' ', ','])
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect(),
        None => DEFAULT_SCOPES.iter().map(|s| s.to_string()).collect(),
    };
    let device = auth.start_login(&scopes).await?;
    let text = format!(
        "Open {}\nand enter the code {}",
        device.verification_uri, device.user_code
    );
    if out::line(&text).is_err() {
        // stdout is closed, but a person may still be at the terminal: the code goes to stderr
        // rather than nowhere, and the exit code still says whether the login worked.
        eprintln!("{text}");
    }
    eprintln!(
        "Any browser works, your phone too. Waiting for approval (the code expires in {} min; Ctrl-C cancels)...",
        device.expires_in / 60
    );
    let token = tokio::select! {
        t = auth.finish_login(&device) => t?,
        _ = tokio::signal::ctrl_c() => return Err(Error::Cancelled("login cancelled")),
    };
    eprintln!(
        "Logged in as {} (user id {}) with scopes: {}.",
        token.login,
        token.user_id,
        scope_list(&token.scopes)
    );
    store_note(auth.store());
    Ok(ExitCode::SUCCESS)
}

pub async fn logout(config: &Config) -> Result<ExitCode> {
    let auth = Auth::from_config(config).await?;
    let (login, warning) = auth.logout().await?;
    match warning {
        None => eprintln!("Logged out {login}: the token is revoked at Twitch and deleted here."),
        Some(why) => eprintln!(
            "warning: could not revoke the token at Twitch ({why}); deleted it here. It stays valid at Twitch until it expires."
        ),
    }
    Ok(ExitCode::SUCCESS)
}

pub async fn status(config: &Config, as_json: bool) -> Result<ExitCode> {
    let auth = Auth::from_config(config).await?;
    let status = auth.status().await?;
    let t = &status.token;
    let expires_in = t.expires_in(jiff::Timestamp::now().as_second()).max(0);
    let valid = status.twitch.is_ok();
    if as_json {
        let line = json!({
            "login": t.login, "user_id": t.user_id, "scopes": t.scopes,
            "expires_in_s": expires_in, "store": auth.store().kind(), "valid": valid,
        });
        let _ = out::line(&line.to_string());
    } else {
        let twitch = match &status.twitch {
            Ok(_) => "accepts the token".to_owned(),
            Err(e) => format!("unknown ({e})"),
        };
        let text = format!(
            "login:      {} (user id {})\nscopes:     {}\nexpires in: {}\nstore:      {}\ntwitch:     {twitch}",
            t.login,
            t.user_id,
            scope_list(&t.scopes),
            duration(expires_in),
            auth.store().describe()
        );
        // A closed stdout only loses the report; the exit code still says what Twitch said.
        let _ = out::line(&text);
    }
    if let Err(e) = &status.twitch {
        eprintln!("warning: could not check the token with Twitch: {e}");
        return Ok(ExitCode::FAILURE);
    }
    Ok(ExitCode::SUCCESS)
}

fn store_note(store: &TokenStore) {
    match store {
        TokenStore::File(path) => eprintln!(
            "warning: tokens are in a plain file, {} (mode 0600), because tui.token_store = \"file\".",
            path.display()
        ),
        TokenStore::Keyring(_, "kernel keyring") => eprintln!(
            "Tokens are in the kernel keyring (no Secret Service here): they last until reboot or 3 idle days."
        ),
        TokenStore::Keyring(..) => eprintln!("Tokens are in {}.", store.describe()),
    }
}

fn scope_list(scopes: &[String]) -> String {
    if scopes.is_empty() {
        "(none)".to_owned()
    } else {
        scopes.join(" ")
    }
}

fn duration(secs: i64) -> String {
    if secs == i64::MAX {
        return "never".into();
    }
    match (secs / 3600, (secs % 3600) / 60) {
        (0, m) => format!("{m}m"),
        (h, m) => format!("{h}h {m:02}m"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_login_errors_point_at_the_setup_guide_and_keep_their_exit_code() {
        let twitch = Error::OAuth(OAuthError::Twitch {
            status: 400,
            message: "invalid client".into(),
        });
        let e = with_guide(twitch);
        assert!(e.to_string().contains("invalid client"), "{e}");
        assert!(e.to_string().contains(guide::TWITCH_SETUP_ERRORS), "{e}");
        assert_eq!(e.exit_code(), 1);

        let missing = Error::Missing(onair_common::config::Problem::missing(
            "twitch.client_id",
            None,
            "to log in",
        ));
        let e = with_guide(missing);
        assert!(e.to_string().contains(guide::TWITCH_SETUP), "{e}");
        assert_eq!(e.exit_code(), 2);

        let other = with_guide(Error::NotLoggedIn);
        assert!(!other.to_string().contains("twitch-setup"), "{other}");
    }
}
