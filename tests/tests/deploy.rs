//! `deploy/`: the systemd unit is as locked down as `systemd-analyze security` can tell
//! (exposure 2.0 or lower), where that command exists; and the unit hands secrets over as
//! credentials named after the config keys the relay reads from `$CREDENTIALS_DIRECTORY`.

#![allow(clippy::unwrap_used)] // Tests: a panic is the failure report.

use std::path::PathBuf;
use std::process::Command;

/// The highest exposure `systemd-analyze security` may give the unit (0 best, 10 worst).
const MAX_EXPOSURE: f64 = 2.0;

fn unit() -> PathBuf {
    PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../deploy/onair-relay.service"
    ))
}

#[test]
fn the_unit_scores_two_or_better_in_systemd_analyze_security() {
    let out = match Command::new("systemd-analyze")
        .args(["security", "--offline=yes", "--no-pager"])
        .arg(unit())
        .output()
    {
        Ok(out) => out,
        Err(_) => {
            eprintln!("skipping: systemd-analyze is not installed");
            return;
        }
    };
    let text = String::from_utf8_lossy(&out.stdout);
    let exposure: f64 = text
        .lines()
        .find_map(|l| {
            l.split("Overall exposure level for onair-relay.service: ")
                .nth(1)
        })
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| {
            panic!(
                "no exposure in: {text}{}",
                String::from_utf8_lossy(&out.stderr)
            )
        });
    eprintln!("systemd-analyze security: exposure {exposure}");
    assert!(
        exposure <= MAX_EXPOSURE,
        "exposure {exposure} > {MAX_EXPOSURE}:\n{text}"
    );
}

#[test]
fn secrets_are_credentials_named_after_their_config_keys() {
    let text = std::fs::read_to_string(unit()).unwrap();
    for line in [
        "DynamicUser=yes",
        "StateDirectory=onair-relay",
        "ConfigurationDirectory=onair-relay",
        "AmbientCapabilities=CAP_NET_BIND_SERVICE",
        "LoadCredential=relay.webhook_secret:",
        "LoadCredential=relay.client_secret:",
    ] {
        assert!(
            text.lines().any(|l| l.starts_with(line)),
            "unit lacks {line}"
        );
    }
    for key in ["relay.webhook_secret", "relay.client_secret"] {
        let k = onair_common::config::keys::lookup(key).unwrap();
        assert!(
            k.secret,
            "{key} is read from $CREDENTIALS_DIRECTORY only as a secret key"
        );
    }
    assert!(
        !text.contains("ONAIR_RELAY_WEBHOOK_SECRET"),
        "no secret in the environment"
    );
}
