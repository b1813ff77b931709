//! B1: parsing the nymn corpus (800 real lines) into each parser's typed chat model, ours beside
//! the `twitch-irc` crate's (`IRCMessage::parse` + `ServerMessage::try_from`).
//!
//! `cargo bench -p onair --bench parse`

#![allow(clippy::unwrap_used, missing_docs)]

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};

const CORPUS: &str = include_str!("../tests/data/twitch-irc-nymn-800.txt");

fn bench(c: &mut Criterion) {
    let lines: Vec<&str> = CORPUS.lines().collect();
    let mut group = c.benchmark_group("parse nymn corpus (800 lines)");
    group.throughput(Throughput::Elements(lines.len() as u64));
    group.bench_function("onair", |b| {
        b.iter(|| {
            for l in &lines {
                black_box(onair::chat::read_line(black_box(l)).unwrap());
            }
        })
    });
    group.bench_function("twitch-irc 6", |b| {
        b.iter(|| {
            for l in &lines {
                let irc = twitch_irc::message::IRCMessage::parse(black_box(l)).unwrap();
                black_box(twitch_irc::message::ServerMessage::try_from(irc).unwrap());
            }
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
