//! B1: parsing the nymn corpus (800 real lines) into each parser's typed chat model, ours beside
//! `tmi` 0.10 and `twitch-irc` 6 in one run; what each side does per line is in `peers/mod.rs`.
//!
//! `cargo bench -p onair --bench parse` (instruction counts: `parse_count`, see
//! `docs/performance.md`)

#![allow(clippy::unwrap_used, missing_docs)]

mod peers;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};

fn bench(c: &mut Criterion) {
    let lines: Vec<&str> = peers::CORPUS.lines().collect();
    let mut group = c.benchmark_group("parse nymn corpus (800 lines)");
    group.throughput(Throughput::Elements(lines.len() as u64));
    for (name, parse) in peers::PARSERS {
        group.bench_function(name, |b| {
            b.iter(|| {
                for l in &lines {
                    parse(l);
                }
            })
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
