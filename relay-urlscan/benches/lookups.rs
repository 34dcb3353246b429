//! What the two bounded rounds and the caches buy: `/observe/observables` for 20 addresses,
//! each with 3 scans (60 distinct results), through the router, against the local urlscan.io
//! stand-in answering every call after 150 ms.
//!
//! - `cold`: a new provider each time (both caches empty): the 20 searches at once, then the
//!   60 results, `URLSCAN_CONCURRENCY` (20, the default) at a time: 1 + 3 round trips;
//! - `cold-concurrency-60`: the same with `URLSCAN_CONCURRENCY=60`: 2 round trips;
//! - `cached`: one provider whose caches hold every search and result: no call;
//! - the sequential floor, 80 × 150 ms = 12 s (one call after another), and Cisco's relay's,
//!   20 × (150 + 150) ms = 6 s (a search after another, each search's results at once): printed
//!   beside the figures, with one measured run at concurrency 1.
//!
//! `cargo bench -p xdr-relay-urlscan --bench lookups`
#![allow(
    missing_docs,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::print_stdout
)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Body;
use axum::http::Request;
use criterion::{Criterion, criterion_group, criterion_main};
use serde_json::{Map, json};
use tower::ServiceExt as _;
use xdr_relay_core::{RelayConfig, SecretKey};
use xdr_relay_urlscan::{Urlscan, UrlscanConfig, info};

use testkit::urlscan::{StandIn, hit, page};

const OBSERVABLES: usize = 20;
const SCANS: usize = 3;
const ROUND_TRIP: Duration = Duration::from_millis(150);
const SECRET: &str = "a-urlscan-relay-bench-secret-0123456789abcdef0123456789abcdef0123";

struct Bench {
    runtime: tokio::runtime::Runtime,
    standin: StandIn,
    token: String,
    body: String,
}

impl Bench {
    fn new() -> Self {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let standin = runtime.block_on(StandIn::start());
        let mut observables = Vec::new();
        for n in 1..=OBSERVABLES {
            let ip = format!("198.18.0.{n}");
            let url = format!("https://host-{n}.example/login");
            let hits = (0..SCANS)
                .map(|s| {
                    let id = format!("{n:08}-0000-4000-8000-{s:012}");
                    let time = format!("2024-06-0{}T10:00:00.000Z", s + 1);
                    let malicious = s == 0;
                    let categories: &[&str] = if malicious { &["phishing"] } else { &[] };
                    let body =
                        standin.result_body(&id, &time, &url, malicious, categories, categories);
                    standin.result(&id, &body);
                    hit(&id, &time, page(&format!("host-{n}.example"), &url, &ip))
                })
                .collect();
            standin.search(&format!("page.ip:\"{ip}\""), hits);
            observables.push(json!({"type": "ip", "value": ip}));
        }
        standin.delay(ROUND_TRIP);
        let secret = SecretKey::new(SECRET).unwrap();
        let mut claims = Map::new();
        claims.insert("key".into(), json!("bench-api-key"));
        let token = xdr_relay_core::encode_claims(&secret, &info().credentials, &claims).unwrap();
        Self {
            runtime,
            standin,
            token,
            body: json!(observables).to_string(),
        }
    }

    /// A relay in front of the stand-in, with empty caches, at `concurrency`.
    fn router(&self, concurrency: usize) -> Router {
        let mut config = UrlscanConfig::default();
        config.api_url = self.standin.api_url();
        config.web_url = self.standin.web_url();
        config.concurrency = concurrency;
        config.timeout = Duration::from_secs(30);
        let provider = Urlscan::new(&config).unwrap();
        let mut relay = RelayConfig::default();
        relay.secret_key = SecretKey::new(SECRET);
        relay.request_timeout = Duration::from_secs(60);
        xdr_relay_core::router_for(relay, Arc::new(provider)).unwrap()
    }

    /// One observe of the 20 addresses; how long it took.
    async fn observe(&self, router: &Router) -> Duration {
        let request = Request::post("/observe/observables")
            .header("authorization", format!("Bearer {}", self.token))
            .header("content-type", "application/json")
            .body(Body::from(self.body.clone()))
            .unwrap();
        let started = Instant::now();
        let response = router.clone().oneshot(request).await.unwrap();
        let body = axum::body::to_bytes(response.into_body(), 64 << 20)
            .await
            .unwrap();
        let took = started.elapsed();
        let answer: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert!(answer.get("errors").is_none(), "{answer}");
        assert_eq!(answer["data"]["sightings"]["count"], OBSERVABLES * SCANS);
        assert_eq!(answer["data"]["judgements"]["count"], OBSERVABLES);
        took
    }

    /// `iterations` cold observes at `concurrency`, each with a new provider.
    fn cold(&self, iterations: u64, concurrency: usize) -> Duration {
        self.runtime.block_on(async {
            let mut total = Duration::ZERO;
            for _ in 0..iterations {
                let router = self.router(concurrency);
                total += self.observe(&router).await;
            }
            total
        })
    }
}

fn millis(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1000.0
}

fn lookups(c: &mut Criterion) {
    let bench = Bench::new();
    let mut group = c.benchmark_group("urlscan/observe-20x3-at-150ms");
    group.sample_size(10);
    group.warm_up_time(Duration::from_secs(1));
    group.measurement_time(Duration::from_secs(10));
    group.bench_function("cold", |b| b.iter_custom(|n| bench.cold(n, 20)));
    group.bench_function("cold-concurrency-60", |b| {
        b.iter_custom(|n| bench.cold(n, 60));
    });
    let cached = bench.router(20);
    bench.runtime.block_on(bench.observe(&cached));
    group.bench_function("cached", |b| {
        b.iter_custom(|iterations| {
            bench.runtime.block_on(async {
                let mut total = Duration::ZERO;
                for _ in 0..iterations {
                    total += bench.observe(&cached).await;
                }
                total
            })
        });
    });
    group.finish();

    // The figures side by side: medians of a few runs, and one sequential run.
    let median = |mut runs: Vec<Duration>| {
        runs.sort();
        runs[runs.len() / 2]
    };
    let cold = median((0..5).map(|_| bench.cold(1, 20)).collect());
    let wide = median((0..5).map(|_| bench.cold(1, 60)).collect());
    let warm = median(
        (0..5)
            .map(|_| bench.runtime.block_on(bench.observe(&cached)))
            .collect(),
    );
    let sequential = bench.cold(1, 1);
    let calls = u32::try_from(OBSERVABLES * (1 + SCANS)).unwrap();
    let floor = ROUND_TRIP * calls;
    let ciscos = ROUND_TRIP * 2 * u32::try_from(OBSERVABLES).unwrap();
    println!(
        "\nurlscan: observe of {OBSERVABLES} addresses × {SCANS} scans, {} ms per urlscan.io call \
         (median of 5):\n  \
         cold, concurrency 20 (default):  {:.0} ms\n  \
         cold, concurrency 60:            {:.0} ms\n  \
         cached (searches and results):   {:.1} ms\n  \
         sequential floor ({calls} calls):       {:.0} ms (measured at concurrency 1: {:.0} ms)\n  \
         Cisco's relay (a search after another, its results at once): {:.0} ms\n",
        ROUND_TRIP.as_millis(),
        millis(cold),
        millis(wide),
        millis(warm),
        millis(floor),
        millis(sequential),
        millis(ciscos),
    );
}

criterion_group!(benches, lookups);
criterion_main!(benches);
