//! The lookup cost of the blocklist relay as its lists grow: one address against a list of 1,
//! 1,000 and 1,000,000 entries (sorted, merged ranges and a binary search, so the cost should
//! grow with the logarithm of the list), and the time to load a 1,000,000-line list. Prints the
//! heap the 1,000,000-entry list takes.
//!
//! `cargo bench -p xdr-relay-blocklist --bench lookup`, or `cargo xtask bench blocklist`.
#![allow(missing_docs, clippy::unwrap_used, clippy::print_stdout)]

use std::fmt::Write as _;
use std::hint::black_box;
use std::net::{IpAddr, Ipv4Addr};

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use xdr_relay_blocklist::blocklist::Blocklist;

/// A deterministic stream of pseudo-random numbers (xorshift64*), so every run measures the
/// same lists.
struct Numbers(u64);

impl Numbers {
    fn next(&mut self) -> u32 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        (self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 32) as u32
    }
}

/// A list of `entries` lines as FireHOL publishes them: nine in ten single addresses, the rest
/// /24 networks, scattered over the IPv4 space.
fn list_text(entries: usize) -> String {
    let mut numbers = Numbers(0x9e37_79b9_7f4a_7c15);
    let mut text = String::with_capacity(entries * 18);
    text.push_str("# a generated list\n");
    for i in 0..entries {
        let address = Ipv4Addr::from(numbers.next());
        if i % 10 == 9 {
            let _ = writeln!(text, "{address}/24");
        } else {
            let _ = writeln!(text, "{address}");
        }
    }
    text
}

/// Addresses to look up: half of them listed (taken from the list's own lines), half random.
fn queries(text: &str) -> Vec<IpAddr> {
    let mut numbers = Numbers(0x2545_f491_4f6c_dd1d);
    let listed = text
        .lines()
        .skip(1)
        .filter_map(|line| line.split('/').next()?.parse::<IpAddr>().ok());
    let mut queries: Vec<IpAddr> = listed.take(512).collect();
    while queries.len() < 1024 {
        queries.push(IpAddr::V4(Ipv4Addr::from(numbers.next())));
    }
    queries
}

fn lookup(c: &mut Criterion) {
    let mut group = c.benchmark_group("blocklist/lookup");
    for entries in [1, 1_000, 1_000_000] {
        let text = list_text(entries);
        let list = Blocklist::parse("generated", "generated", &text).unwrap();
        if entries == 1_000_000 {
            println!(
                "blocklist: {} entries, {} ranges after merging, {:.1} MiB of ranges on the heap",
                list.entries,
                list.ranges.len(),
                list.ranges.heap_bytes() as f64 / f64::from(1 << 20)
            );
        }
        let queries = queries(&text);
        let mut next = queries.iter().cycle();
        group.bench_with_input(BenchmarkId::from_parameter(entries), &list, |b, list| {
            b.iter(|| {
                let ip = *next.next().unwrap();
                black_box(list.contains(black_box(ip)))
            });
        });
    }
    group.finish();
}

fn load(c: &mut Criterion) {
    let mut group = c.benchmark_group("blocklist/load");
    group.sample_size(10);
    let text = list_text(1_000_000);
    group.bench_function("1000000", |b| {
        b.iter(|| Blocklist::parse("generated", "generated", black_box(&text)).unwrap());
    });
    group.finish();
}

criterion_group!(benches, lookup, load);
criterion_main!(benches);
