//! Micro-benchmarks of the relay's hot pure functions: request parsing, JWT verification,
//! decoding a Signals report, mapping reports to CTIM, and serialising the answer.
//!
//! `cargo bench -p relay-core --bench hot_paths`. Inputs mirror `cargo xtask bench`'s
//! `observe-50`: 50 distinct IPs, each on three badip lists and one domain list.
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashMap;
use std::hint::black_box;
use std::sync::Arc;

use axum::http::{HeaderMap, HeaderValue, header::AUTHORIZATION};
use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use serde_json::json;
use signals_client::{IpReport, ListKind, ListMetadata};
use xdr_relay_core::{SecretKey, bench_support};

const SECRET: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
const BAD_IP_LISTS: [&str; 5] = [
    "FAIL2BAN-SSH",
    "STOPFORUMSPAM-365",
    "STOPFORUMSPAM-30",
    "TOR-EXIT",
    "BOTNET-C2",
];
const DOMAIN_LIST: &str = "SPAMHAUS-DBL";

fn ips(n: usize) -> Vec<String> {
    (0..n)
        .map(|i| format!("198.18.{}.{}", i / 200, 1 + i % 200))
        .collect()
}

fn body(n: usize) -> Vec<u8> {
    let items: Vec<_> = ips(n)
        .into_iter()
        .map(|ip| json!({"type": "ip", "value": ip}))
        .collect();
    serde_json::to_vec(&items).unwrap()
}

/// The body of `GET /v2.0/ip/<ip>` for the `i`-th address: three badip lists and one domain list.
fn report_json(i: usize) -> Vec<u8> {
    let lists: Vec<&str> = (0..3).map(|k| BAD_IP_LISTS[(i + k) % 5]).collect();
    serde_json::to_vec(&json!({"fullip": {
        "score": -3,
        "hostname": format!("host-{i}.bench.invalid"),
        "geo": {"country": "US", "city": "Bench"},
        "badip": {"score": -3, "blacklists": lists},
        "baddomain": {"score": -1, "domain": {
            "blacklist": [DOMAIN_LIST], "blacklist_mx": [], "blacklist_ns": [], "score": -1
        }},
        "history": {"score": "-1", "activity": []},
    }}))
    .unwrap()
}

fn metadata() -> HashMap<(ListKind, &'static str), Arc<ListMetadata>> {
    let entry = |kind, id: &'static str, sensitivity: &str| {
        let body = json!({
            "name": format!("{id} list"),
            "source": format!("{id} publisher"),
            "site": format!("https://{}.example", id.to_lowercase()),
            "visibility": "Public",
            "sensitivity": sensitivity,
            "description": format!("Addresses that {id} reported."),
            "tags": "reputation,abuse, spam,,forum",
            "type": "badip", "refresh": "60  minutes", "enabled": "True", "group": "abuse",
            "count": "16407", "last_update": "1594984501",
        });
        let list = ListMetadata::from_json(&serde_json::to_vec(&body).unwrap()).unwrap();
        ((kind, id), Arc::new(list))
    };
    BAD_IP_LISTS
        .iter()
        .map(|id| entry(ListKind::BadIp, id, "5"))
        .chain([entry(ListKind::BadDomain, DOMAIN_LIST, "1")])
        .collect()
}

fn reports(n: usize) -> Vec<(String, IpReport)> {
    ips(n)
        .into_iter()
        .enumerate()
        .map(|(i, ip)| (ip, IpReport::from_json(&report_json(i)).unwrap()))
        .collect()
}

fn parsing(c: &mut Criterion) {
    let mut group = c.benchmark_group("parse request");
    for n in [1, 50] {
        let body = body(n);
        group.throughput(Throughput::Elements(n as u64));
        group.bench_function(format!("{n} observables"), |b| {
            b.iter(|| bench_support::parse(black_box(&body)).unwrap());
        });
    }
    group.finish();
}

fn jwt(c: &mut Criterion) {
    let secret = SecretKey::new(SECRET).unwrap();
    let token =
        xdr_relay_core::encode_token(&secret, "00000000-bench-4000-8000-000000000000", None)
            .unwrap();
    let mut headers = HeaderMap::new();
    headers.insert(
        AUTHORIZATION,
        HeaderValue::from_str(&format!("Bearer {token}")).unwrap(),
    );
    c.bench_function("verify JWT", |b| {
        b.iter(|| bench_support::verify(black_box(&headers), &secret).unwrap());
    });
}

fn decoding(c: &mut Criterion) {
    let body = report_json(7);
    c.bench_function("decode Signals report", |b| {
        b.iter(|| IpReport::from_json(black_box(&body)).unwrap());
    });
}

fn mapping(c: &mut Criterion) {
    let lists = metadata();
    let lists: &HashMap<(ListKind, &str), Arc<ListMetadata>> = &lists;
    let find = |kind: ListKind, id: &str| lists.get(&(kind, id)).cloned();
    let mut group = c.benchmark_group("map to CTIM");
    for n in [1, 50] {
        let reports = reports(n);
        group.throughput(Throughput::Elements(n as u64));
        group.bench_function(format!("{n} IPs"), |b| {
            b.iter(|| bench_support::observe(black_box(&reports), 100, find));
        });
    }
    group.finish();
}

fn serialising(c: &mut Criterion) {
    let lists = metadata();
    let lists: &HashMap<(ListKind, &str), Arc<ListMetadata>> = &lists;
    let find = |kind: ListKind, id: &str| lists.get(&(kind, id)).cloned();
    let bundle = bench_support::observe(&reports(50), 100, find);
    let bytes = bench_support::envelope_json(bundle.clone()).len();
    let mut group = c.benchmark_group("serialise observe answer");
    group.throughput(Throughput::Bytes(bytes as u64));
    group.bench_function("50 IPs", |b| {
        b.iter_batched(
            || bundle.clone(),
            bench_support::envelope_json,
            BatchSize::SmallInput,
        );
    });
    group.finish();
}

criterion_group!(benches, parsing, jwt, decoding, mapping, serialising);
criterion_main!(benches);
