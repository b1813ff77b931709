//! `onair completions SHELL` / `onair man` and the same for `onair-relay`: every shell's script
//! and the man page name every subcommand, they need no config, and bash really completes.

#![allow(clippy::unwrap_used)] // Tests: a panic is the failure report.

use std::process::Command;

use onair_tests::bins;

const SHELLS: [&str; 5] = ["bash", "zsh", "fish", "elvish", "powershell"];

const ONAIR: &[&str] = &[
    "demo",
    "login",
    "logout",
    "auth",
    "chat",
    "events",
    "completions",
    "man",
];
const RELAY: &[&str] = &[
    "serve",
    "check",
    "client",
    "subscriptions",
    "authorize",
    "export",
    "import",
    "completions",
    "man",
];

/// Runs `bin args` with no usable config: a broken one must not matter.
fn run(bin: &str, args: &[&str]) -> String {
    let home = tempfile::tempdir().unwrap();
    let out = Command::new(bins::path(bin))
        .args(args)
        .env_clear()
        .env("HOME", home.path())
        .env("ONAIR_CONFIG", home.path().join("missing.toml"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{bin} {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn every_shell_script_and_the_man_page_name_every_subcommand() {
    for (bin, subcommands) in [("onair", ONAIR), ("onair-relay", RELAY)] {
        for shell in SHELLS {
            let script = run(bin, &["completions", shell]);
            for sub in subcommands {
                assert!(script.contains(sub), "{bin} {shell} script lacks {sub}");
            }
        }
        let page = run(bin, &["man"]);
        assert!(
            page.starts_with(".ie") || page.contains(".TH"),
            "roff: {page}"
        );
        assert!(page.contains(&format!(".TH {bin}")), "titled {bin}");
        for sub in subcommands {
            assert!(page.contains(sub), "{bin} man page lacks {sub}");
        }
    }
}

/// What bash offers after `words` (the last one being completed), with the script loaded.
fn bash_offers(bin: &str, words: &[&str]) -> Vec<String> {
    let script = run(bin, &["completions", "bash"]);
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("completion.bash");
    std::fs::write(&file, &script).unwrap();
    // The function bash would call: the one the script registers with `complete -F`.
    let function = script
        .split("complete -F ")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .unwrap()
        .to_owned();
    let cword = words.len() - 1;
    let program = format!(
        "source {}; COMP_WORDS=({}); COMP_CWORD={cword}; COMP_LINE=\"{}\"; COMP_POINT=${{#COMP_LINE}}; {function} {bin} \"${{COMP_WORDS[COMP_CWORD]}}\" \"${{COMP_WORDS[COMP_CWORD-1]}}\"; printf '%s\\n' \"${{COMPREPLY[@]}}\"",
        file.display(),
        words
            .iter()
            .map(|w| format!("'{w}'"))
            .collect::<Vec<_>>()
            .join(" "),
        words.join(" ")
    );
    let out = Command::new("bash")
        .arg("-c")
        .arg(program)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect()
}

#[test]
fn bash_completes_subcommands_and_their_options() {
    let offers = bash_offers("onair", &["onair", "ch"]);
    assert_eq!(offers, ["chat"]);
    let offers = bash_offers("onair", &["onair", "completions", ""]);
    for shell in SHELLS {
        assert!(offers.iter().any(|o| o == shell), "{offers:?}");
    }
    let offers = bash_offers(
        "onair-relay",
        &["onair-relay", "subscriptions", "list", "--j"],
    );
    assert_eq!(offers, ["--json"]);
}
