//! The workspace's binaries, for tests that run them as a user would.

use std::path::PathBuf;
use std::process::Command;

/// Path of a workspace binary in the same target dir as the running test.
pub fn path(name: &str) -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    // Tests run from target/<profile>/deps/, scripts from target/<profile>/.
    let mut dir = exe.parent().unwrap();
    if dir.ends_with("deps") {
        dir = dir.parent().unwrap();
    }
    let bin = dir.join(name);
    assert!(
        bin.exists(),
        "{} is missing: `cargo test --workspace` builds it (or run `cargo build -p onair`)",
        bin.display()
    );
    bin
}

/// A script's `i`th command-line argument as a number, or `default`.
pub fn arg(i: usize, default: u64) -> u64 {
    std::env::args()
        .nth(i)
        .and_then(|a| a.parse().ok())
        .unwrap_or(default)
}

/// A command for `onair` isolated in `home`: its own config, data and state dirs, no ONAIR_*
/// variables from the caller.
pub fn onair(home: &std::path::Path) -> Command {
    let mut cmd = Command::new(path("onair"));
    cmd.env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("HOME", home)
        .env("XDG_CONFIG_HOME", home.join("config"))
        .env("XDG_DATA_HOME", home.join("data"))
        .env("XDG_STATE_HOME", home.join("state"));
    for var in ["DBUS_SESSION_BUS_ADDRESS", "XDG_RUNTIME_DIR"] {
        if let Ok(v) = std::env::var(var) {
            cmd.env(var, v);
        }
    }
    cmd
}
