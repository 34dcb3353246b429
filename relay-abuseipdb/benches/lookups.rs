//! What concurrent lookups buy: `/observe/observables` for 20 addresses through the router,
//! against the local AbuseIPDB stand-in answering every call (checks and the categories page)
//! after 150 ms, with the lookup cache off so that every address costs a check.
//!
//! - `cold`: a new provider each time, so the categories page is read too (alongside the
//!   checks);
//! - `categories cached`: one provider, its categories page already read;
//! - the sequential floor, 20 × 150 ms = 3 s, is what one check after another would cost
//!   (Cisco's relay): printed beside the figures, with one measured run at concurrency 1.
//!
//! `cargo bench -p xdr-relay-abuseipdb --bench lookups`
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
use xdr_relay_abuseipdb::{AbuseIpdb, AbuseIpdbConfig, info};
use xdr_relay_core::{RelayConfig, SecretKey};

use testkit::abuseipdb::{StandIn, data, report};

const ADDRESSES: usize = 20;
const ROUND_TRIP: Duration = Duration::from_millis(150);
const SECRET: &str = "an-abuseipdb-relay-bench-secret-0123456789abcdef0123456789abcdef";

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
        for n in 1..=ADDRESSES {
            let ip = format!("198.18.0.{n}");
            let reports = (0..5)
                .map(|r| {
                    report(
                        &format!("2024-06-0{}T10:00:00+00:00", r + 1),
                        json!(format!("report {r} of {ip}")),
                        json!([18, 22]),
                    )
                })
                .collect();
            let score = i64::try_from(n * 5).unwrap();
            standin.data(&ip, data(score, Some("example.net"), reports));
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

    /// A relay in front of the stand-in, without a lookup cache, at `concurrency`.
    fn router(&self, concurrency: usize) -> Router {
        let mut config = AbuseIpdbConfig::default();
        config.api_url = self.standin.api_url();
        config.web_url = self.standin.web_url();
        config.cache_ttl = Duration::ZERO;
        config.concurrency = concurrency;
        let provider = AbuseIpdb::new(&config).unwrap();
        let mut relay = RelayConfig::default();
        relay.secret_key = SecretKey::new(SECRET);
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
        assert_eq!(answer["data"]["verdicts"]["count"], ADDRESSES, "{answer}");
        assert_eq!(answer["data"]["sightings"]["count"], ADDRESSES * 5);
        took
    }
}

fn millis(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1000.0
}

fn lookups(c: &mut Criterion) {
    let bench = Bench::new();
    let mut group = c.benchmark_group("abuseipdb/observe-20-at-150ms");
    group.sample_size(10);
    group.warm_up_time(Duration::from_secs(1));
    // 10 samples of about 155 ms, several iterations each.
    group.measurement_time(Duration::from_secs(10));

    group.bench_function("cold", |b| {
        b.iter_custom(|iterations| {
            bench.runtime.block_on(async {
                let mut total = Duration::ZERO;
                for _ in 0..iterations {
                    let router = bench.router(20);
                    total += bench.observe(&router).await;
                }
                total
            })
        });
    });

    let cached = bench.router(20);
    bench.runtime.block_on(bench.observe(&cached));
    group.bench_function("categories-cached", |b| {
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
    let cold = median(
        (0..5)
            .map(|_| bench.runtime.block_on(bench.observe(&bench.router(20))))
            .collect(),
    );
    let warm = median(
        (0..5)
            .map(|_| bench.runtime.block_on(bench.observe(&cached)))
            .collect(),
    );
    let sequential_router = bench.router(1);
    bench.runtime.block_on(bench.observe(&sequential_router));
    let sequential = bench.runtime.block_on(bench.observe(&sequential_router));
    let floor = ROUND_TRIP * u32::try_from(ADDRESSES).unwrap();
    println!(
        "\nabuseipdb: observe of {ADDRESSES} addresses, {} ms per AbuseIPDB call (median of 5):\n  \
         cold (categories page read too):  {:.0} ms\n  \
         categories cached:                {:.0} ms\n  \
         sequential floor ({ADDRESSES} × {} ms):      {:.0} ms (measured at concurrency 1: {:.0} ms)\n",
        ROUND_TRIP.as_millis(),
        millis(cold),
        millis(warm),
        ROUND_TRIP.as_millis(),
        millis(floor),
        millis(sequential),
    );
}

criterion_group!(benches, lookups);
criterion_main!(benches);
