//! `create_events` throughput, in events per second, with 1, 10 and 100 details per call:
//! on the embedded SQLite store, and on moto (DynamoDB + Step Functions through the real SDK)
//! when `moto_server` is on PATH.
//!
//! `cargo bench -p socless-events --bench create_events` (or `cargo xtask bench socless`).
//! Every call has fresh details (a unique `alert_id` in the dedup keys), so every event is an
//! original: the full path of dedup lookup, events item, results item and playbook start.
//! Without `moto_server` the moto group is left out and says so on stderr.
#![allow(
    missing_docs,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::print_stderr
)]

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use serde_json::{Value, json};
use socless_events::{
    AwsLauncher, AwsStore, EventCreator, EventStore, LocalLauncher, LocalStore, PlaybookLauncher,
    StateMachineArns, TableNames,
};
use tokio::runtime::Runtime;

// Shared with the integration tests, which use more of it.
#[allow(dead_code)]
#[path = "../tests/support/local_aws.rs"]
mod local_aws;

use local_aws::{ACCOUNT, MotoServer};

const PLAYBOOK: &str = "InvestigateLogin";
const SIZES: [usize; 3] = [1, 10, 100];

static NEXT_ALERT: AtomicU64 = AtomicU64::new(0);

/// An `event_details` with `n` details never sent before.
fn event_details(n: usize) -> Value {
    let details: Vec<Value> = (0..n)
        .map(|_| {
            let id = NEXT_ALERT.fetch_add(1, Ordering::Relaxed);
            json!({"alert_id": id.to_string(), "username": "ubalogun", "ip": "113.63.125.3"})
        })
        .collect();
    json!({
        "event_type": "Suspicious Login",
        "playbook": PLAYBOOK,
        "details": details,
        "dedup_keys": ["alert_id", "username"],
    })
}

fn bench_backend<S, L>(
    c: &mut Criterion,
    name: &str,
    runtime: &Runtime,
    creator: &EventCreator<S, L>,
) where
    S: EventStore,
    L: PlaybookLauncher,
{
    let mut group = c.benchmark_group(format!("create_events {name}"));
    group.sample_size(10);
    group.measurement_time(Duration::from_secs(5));
    for n in SIZES {
        group.throughput(Throughput::Elements(n as u64));
        group.bench_function(format!("{n} details"), |b| {
            b.iter_batched(
                || event_details(n),
                |input| match runtime.block_on(creator.create_events(&input)) {
                    Ok(output) => assert_eq!(output.events.len(), n),
                    // The error carries every event written so far: say what failed, briefly.
                    Err(e) => {
                        let message: String = e.to_string().chars().take(300).collect();
                        eprintln!("create_events {name} failed: {message}");
                        std::process::exit(1);
                    }
                },
                BatchSize::SmallInput,
            );
        });
    }
    group.finish();
}

fn local(c: &mut Criterion) {
    let runtime = Runtime::new().unwrap();
    let path = std::env::temp_dir().join(format!("socless-bench-{}.sqlite", std::process::id()));
    let creator = EventCreator::new(
        LocalStore::open(&path).unwrap(),
        LocalLauncher::open(&path).unwrap(),
        StateMachineArns::new("us-east-1", ACCOUNT).unwrap(),
    );
    bench_backend(c, "sqlite", &runtime, &creator);
    drop(creator);
    let _ = std::fs::remove_file(&path);
}

fn moto(c: &mut Criterion) {
    let server = match MotoServer::start() {
        Ok(server) => server,
        Err(e) => {
            eprintln!("create_events moto: skipped: {e}");
            return;
        }
    };
    let runtime = Runtime::new().unwrap();
    let config = local_aws::sdk_config(server.url());
    let tables = TableNames::new(
        "socless_events",
        "socless_dedup",
        "socless_execution_results",
    );
    runtime.block_on(async {
        local_aws::create_tables(&config, &tables).await;
        local_aws::deploy_playbooks(&config, &[PLAYBOOK]).await;
    });
    let creator = EventCreator::new(
        AwsStore::new(&config, tables),
        AwsLauncher::new(&config),
        StateMachineArns::new("us-east-1", ACCOUNT).unwrap(),
    );
    bench_backend(c, "moto", &runtime, &creator);
}

criterion_group!(benches, local, moto);
criterion_main!(benches);
