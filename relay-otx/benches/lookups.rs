//! What concurrent lookups and the lookup cache buy: `/observe/observables` for 20 domains,
//! each in 3 pulses, through the router, against the local OTX stand-in answering every call
//! after 150 ms (80 calls: 20 `general`, 60 indicator pages).
//!
//! - `cold`: a new provider each time (an empty lookup cache): every call is made;
//! - `cached`: one provider whose cache holds every answer: no call is made;
//! - the sequential floor, 80 × 150 ms = 12 s, is what one call after another costs (Cisco's
//!   relay, one observable at a time): printed beside the figures, with one measured run at
//!   concurrency 1.
//!
//! `cargo bench -p xdr-relay-otx --bench lookups`
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
use xdr_relay_otx::{Otx, OtxConfig, info};

use testkit::otx::{Pulse, StandIn};

const OBSERVABLES: usize = 20;
const PULSES: usize = 3;
const ROUND_TRIP: Duration = Duration::from_millis(150);
const SECRET: &str = "an-otx-relay-bench-secret-0123456789abcdef0123456789abcdef0123";

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
        let domains: Vec<String> = (1..=OBSERVABLES)
            .map(|n| format!("bench-{n}.example"))
            .collect();
        for p in 0..PULSES {
            let mut pulse = Pulse::new(&format!("bench-pulse-{p}")).filler(50);
            for domain in &domains {
                pulse = pulse.with("domain", domain, &format!("2024-06-0{}T10:00:00", p + 1));
            }
            standin.pulse(pulse);
        }
        standin.delay(ROUND_TRIP);
        let observables: Vec<_> = domains
            .iter()
            .map(|d| json!({"type": "domain", "value": d}))
            .collect();
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

    /// A relay in front of the stand-in, at `concurrency` observables and pulses at once.
    fn router(&self, concurrency: usize) -> Router {
        let mut config = OtxConfig::default();
        config.api_url = self.standin.api_url();
        config.web_url = self.standin.web_url();
        config.concurrency = concurrency;
        config.pulse_concurrency = concurrency;
        let provider = Otx::new(&config).unwrap();
        let mut relay = RelayConfig::default();
        relay.secret_key = SecretKey::new(SECRET);
        relay.request_timeout = Duration::from_secs(60);
        xdr_relay_core::router_for(relay, Arc::new(provider)).unwrap()
    }

    /// One observe of the 20 domains; how long it took.
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
        assert_eq!(
            answer["data"]["sightings"]["count"],
            OBSERVABLES * PULSES,
            "{answer}"
        );
        took
    }
}

fn millis(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1000.0
}

fn lookups(c: &mut Criterion) {
    let bench = Bench::new();
    let mut group = c.benchmark_group("otx/observe-20x3-at-150ms");
    group.sample_size(10);
    group.warm_up_time(Duration::from_secs(1));
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
    let sequential = bench.runtime.block_on(bench.observe(&bench.router(1)));
    let calls = OBSERVABLES * (1 + PULSES);
    let floor = ROUND_TRIP * u32::try_from(calls).unwrap();
    println!(
        "\notx: observe of {OBSERVABLES} domains × {PULSES} pulses ({calls} calls), {} ms per OTX call (median of 5):\n  \
         cold (every call made):          {:.0} ms\n  \
         cached (no call made):           {:.1} ms\n  \
         sequential floor ({calls} × {} ms):    {:.0} ms (measured at concurrency 1: {:.0} ms)\n",
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
