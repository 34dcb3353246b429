//! Micro-benchmarks of the relay's hot paths: request parsing and JWT verification through
//! the router (as every request takes them, the verified-token memory included), decoding a
//! Signals report, and (with the unstable `bench` feature) mapping reports to CTIM and
//! serialising the answer, which the router reaches only after upstream calls.
//!
//! `cargo bench -p xdr-relay-core --bench hot_paths --features bench` (without the feature,
//! the mapping and serialising groups are left out). Inputs mirror `cargo xtask bench`'s
//! `observe-50`: 50 distinct IPs, each on three badip lists and one domain list.
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use std::hint::black_box;
use std::sync::Arc;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::http::Request;
use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use serde_json::{Value, json};
use signals_client::IpReport;
use tokio::runtime::Runtime;
use tower::ServiceExt as _;
use xdr_relay_core::{Auth0Signals, RelayConfig, SecretKey, SignalsConfig};

const SECRET: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
const BAD_IP_LISTS: [&str; 5] = [
    "FAIL2BAN-SSH",
    "STOPFORUMSPAM-365",
    "STOPFORUMSPAM-30",
    "TOR-EXIT",
    "BOTNET-C2",
];
const DOMAIN_LIST: &str = "SPAMHAUS-DBL";
const API_KEY: &str = "00000000-bench-4000-8000-000000000000";

fn secret() -> SecretKey {
    SecretKey::new(SECRET).unwrap()
}

/// The relay as the adapters serve it; these routes never reach the (unroutable) upstream.
fn relay() -> Router {
    let mut config = RelayConfig::default();
    config.secret_key = Some(secret());
    let mut signals = SignalsConfig::default();
    signals.client.base_url = "http://127.0.0.1:9/".into();
    let provider = Arc::new(Auth0Signals::new(&signals).unwrap());
    xdr_relay_core::router_for(config, provider).unwrap()
}

/// Requests run to completion on one thread, as a request does once its upstream calls are done.
fn runtime() -> Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap()
}

/// `POST path` with `token` and `body`, built outside the measured part.
fn request(path: &str, token: &str, body: &Bytes) -> Request<Body> {
    Request::post(path)
        .header("authorization", format!("Bearer {token}"))
        .body(Body::from(body.clone()))
        .unwrap()
}

/// One request through the router, its answer read to the end; panics on an error answer so
/// that a broken setup cannot pass for a fast one.
fn answer(runtime: &Runtime, relay: &Router, request: Request<Body>) -> Bytes {
    runtime.block_on(async {
        let response = relay.clone().oneshot(request).await.unwrap();
        let body = axum::body::to_bytes(response.into_body(), 1 << 20)
            .await
            .unwrap();
        assert!(!body.starts_with(br#"{"errors""#), "{body:?}");
        body
    })
}

fn ips(n: usize) -> Vec<String> {
    (0..n)
        .map(|i| format!("198.18.{}.{}", i / 200, 1 + i % 200))
        .collect()
}

fn body(n: usize) -> Bytes {
    let items: Vec<Value> = ips(n)
        .into_iter()
        .map(|ip| json!({"type": "ip", "value": ip}))
        .collect();
    serde_json::to_vec(&items).unwrap().into()
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

#[cfg(feature = "bench")]
mod mapping {
    use std::collections::HashMap;
    use std::sync::Arc;

    use signals_client::{ListKind, ListMetadata};

    use super::*;

    type Lists = HashMap<(ListKind, &'static str), Arc<ListMetadata>>;

    fn metadata() -> Lists {
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

    pub(super) fn mapping(c: &mut Criterion) {
        let lists = metadata();
        let find = |kind: ListKind, id: &str| lists.get(&(kind, id)).cloned();
        let mut group = c.benchmark_group("map to CTIM");
        for n in [1, 50] {
            let reports = reports(n);
            group.throughput(Throughput::Elements(n as u64));
            group.bench_function(format!("{n} IPs"), |b| {
                b.iter(|| xdr_relay_core::bench::observe(black_box(&reports), 100, find));
            });
        }
        group.finish();
    }

    pub(super) fn serialising(c: &mut Criterion) {
        let lists = metadata();
        let find = |kind: ListKind, id: &str| lists.get(&(kind, id)).cloned();
        let bundle = xdr_relay_core::bench::observe(&reports(50), 100, find);
        let bytes = xdr_relay_core::bench::envelope_json(&bundle).len();
        let mut group = c.benchmark_group("serialise observe answer");
        group.throughput(Throughput::Bytes(bytes as u64));
        group.bench_function("50 IPs", |b| {
            b.iter(|| xdr_relay_core::bench::envelope_json(black_box(&bundle)));
        });
        group.finish();
    }
}

fn parsing(c: &mut Criterion) {
    let (runtime, relay, token) = (runtime(), relay(), token(API_KEY));
    let mut group = c.benchmark_group("parse request (refer route)");
    for n in [1, 50] {
        let body = body(n);
        group.throughput(Throughput::Elements(n as u64));
        group.bench_function(format!("{n} observables"), |b| {
            b.iter_batched(
                || request("/refer/observables", &token, &body),
                |request| answer(&runtime, &relay, request),
                BatchSize::SmallInput,
            );
        });
    }
    group.finish();
}

fn token(api_key: &str) -> String {
    xdr_relay_core::encode_token(&secret(), api_key, None).unwrap()
}

/// The token check alone (`/respond/trigger` reads no body): a token seen before, as Threat
/// Response sends one token with every call, and a token never seen, checked in full.
fn jwt(c: &mut Criterion) {
    let (runtime, relay, token) = (runtime(), relay(), token(API_KEY));
    let empty = Bytes::new();
    let mut group = c.benchmark_group("verify JWT (trigger route)");
    group.bench_function("remembered token", |b| {
        b.iter_batched(
            || request("/respond/trigger", &token, &empty),
            |request| answer(&runtime, &relay, request),
            BatchSize::SmallInput,
        );
    });
    let mut n = 0_u64;
    group.bench_function("new token", |b| {
        b.iter_batched(
            || {
                n += 1;
                request(
                    "/respond/trigger",
                    &self::token(&format!("key-{n}")),
                    &empty,
                )
            },
            |request| answer(&runtime, &relay, request),
            BatchSize::SmallInput,
        );
    });
    group.finish();
}

fn decoding(c: &mut Criterion) {
    let body = report_json(7);
    c.bench_function("decode Signals report", |b| {
        b.iter(|| IpReport::from_json(black_box(&body)).unwrap());
    });
}

#[cfg(feature = "bench")]
criterion_group!(
    benches,
    parsing,
    jwt,
    decoding,
    mapping::mapping,
    mapping::serialising
);
#[cfg(not(feature = "bench"))]
criterion_group!(benches, parsing, jwt, decoding);
criterion_main!(benches);
