//! Checking one raw value: each function returns the typed value, or what was expected
//! (phrased to follow the key name: "must be ...").

use std::net::SocketAddr;
use std::path::PathBuf;

use url::Url;

use super::source::Input;
use crate::catalog;

/// A checked value or what was expected.
pub type Checked<T> = Result<T, String>;

/// A string.
pub fn text(input: &Input) -> Checked<String> {
    match input {
        Input::Toml(toml::Value::String(s)) | Input::Env(s) => Ok(s.clone()),
        Input::Toml(other) => Err(format!("must be a string, not a {}", other.type_str())),
    }
}

/// A non-empty string without surrounding spaces.
pub fn word(input: &Input) -> Checked<String> {
    let s = text(input)?;
    let trimmed = s.trim();
    if trimmed.is_empty() {
        return Err("must not be empty".into());
    }
    Ok(trimmed.to_owned())
}

/// A whole number in `min..=max`.
pub fn integer(input: &Input, min: i64, max: i64) -> Checked<i64> {
    let n = match input {
        Input::Toml(toml::Value::Integer(n)) => *n,
        Input::Env(s) => s
            .trim()
            .parse()
            .map_err(|_| format!("must be a whole number from {min} to {max}"))?,
        Input::Toml(other) => {
            return Err(format!(
                "must be a whole number from {min} to {max}, not a {}",
                other.type_str()
            ));
        }
    };
    if (min..=max).contains(&n) {
        Ok(n)
    } else {
        Err(format!("must be a whole number from {min} to {max}"))
    }
}

/// A list of strings: a TOML array, or comma-separated in the environment.
pub fn list(input: &Input) -> Checked<Vec<String>> {
    match input {
        Input::Env(s) => Ok(s
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect()),
        Input::Toml(toml::Value::Array(items)) => items
            .iter()
            .map(|v| match v {
                toml::Value::String(s) => Ok(s.trim().to_owned()),
                other => Err(format!(
                    "must be a list of strings, but holds a {}",
                    other.type_str()
                )),
            })
            .collect(),
        Input::Toml(other) => Err(format!(
            "must be a list of strings such as [\"a\", \"b\"], not a {}",
            other.type_str()
        )),
    }
}

/// A URL with one of `schemes`.
pub fn url(input: &Input, schemes: &[&str]) -> Checked<Url> {
    let expected = format!("must be a {} URL", schemes.join(" or "));
    let s = word(input)?;
    let parsed = Url::parse(&s).map_err(|e| format!("{expected} ({e})"))?;
    if !schemes.contains(&parsed.scheme()) || parsed.host_str().is_none() {
        return Err(format!("{expected} with a host"));
    }
    Ok(parsed)
}

/// A base URL: like [`url`], without a trailing slash so paths can be appended.
pub fn base_url(input: &Input, schemes: &[&str]) -> Checked<Url> {
    let mut u = url(input, schemes)?;
    if u.query().is_some() || u.fragment().is_some() {
        return Err("must be a base URL without ?query or #fragment".into());
    }
    let path = u.path().trim_end_matches('/').to_owned();
    u.set_path(&path);
    Ok(u)
}

/// A Twitch login: `[a-z0-9_]{1,25}`, lower-cased, a leading `#` dropped.
pub fn login(s: &str) -> Checked<String> {
    let login = s.trim().trim_start_matches('#').to_lowercase();
    let ok = (1..=25).contains(&login.len())
        && login
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
    if ok {
        Ok(login)
    } else {
        Err(format!(
            "must be a Twitch login (1-25 of a-z, 0-9, _), not {s:?}"
        ))
    }
}

/// A list of logins, de-duplicated in order.
pub fn logins(input: &Input) -> Checked<Vec<String>> {
    let mut out: Vec<String> = Vec::new();
    for s in list(input)? {
        let l = login(&s)?;
        if !out.contains(&l) {
            out.push(l);
        }
    }
    Ok(out)
}

/// A list of supported EventSub types, de-duplicated in order.
pub fn event_types(input: &Input) -> Checked<Vec<String>> {
    let mut out: Vec<String> = Vec::new();
    for s in list(input)? {
        if catalog::lookup(&s).is_none() {
            return Err(format!(
                "names an unknown subscription type {s:?} (supported: {})",
                catalog::names().collect::<Vec<_>>().join(", ")
            ));
        }
        if !out.contains(&s) {
            out.push(s);
        }
    }
    Ok(out)
}

/// `ip:port`.
pub fn socket_addr(input: &Input) -> Checked<SocketAddr> {
    word(input)?
        .parse()
        .map_err(|_| "must be an IP address and port, such as 0.0.0.0:8080 or [::]:8080".into())
}

/// A file path; a leading `~/` is the home directory.
pub fn path(input: &Input) -> Checked<PathBuf> {
    let s = word(input)?;
    if let Some(rest) = s.strip_prefix("~/")
        && let Some(home) = directories::BaseDirs::new()
    {
        return Ok(home.home_dir().join(rest));
    }
    Ok(PathBuf::from(s))
}

/// An EventSub secret: Twitch takes 10 to 100 ASCII characters (`twitch.md` A.6).
pub fn webhook_secret(input: &Input) -> Checked<String> {
    let s = text(input)?;
    if s.is_ascii() && (10..=100).contains(&s.len()) && !s.bytes().any(|b| b.is_ascii_control()) {
        Ok(s)
    } else {
        Err("must be 10-100 ASCII characters".into())
    }
}
