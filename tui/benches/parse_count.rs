//! B1 for `valgrind --tool=callgrind`: runs one parser over the nymn corpus ROUNDS times, so the
//! difference between two round counts is the instructions per line, stable under CPU contention
//! where wall-clock timings are not.
//!
//! `parse_count <onair|tmi|twitch-irc> [ROUNDS]` (see `docs/performance.md`)

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod peers;

fn main() {
    let mut args = std::env::args().skip(1);
    let name = args.next().unwrap_or_else(|| "onair".into());
    let rounds: usize = args.next().map_or(1, |r| r.parse().expect("ROUNDS"));
    let (_, parse) = peers::PARSERS
        .into_iter()
        .find(|(n, _)| n.split(' ').next() == Some(name.as_str()))
        .expect("parser: onair, tmi or twitch-irc");
    let lines: Vec<&str> = peers::CORPUS.lines().collect();
    for _ in 0..rounds {
        for l in &lines {
            parse(l);
        }
    }
}
