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
    clippy::print_stderr
)]

use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use aws_sdk_dynamodb::config::{BehaviorVersion, Credentials, Region, SharedCredentialsProvider};
use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, KeySchemaElement, KeyType, ScalarAttributeType,
};
use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use serde_json::{Value, json};
use socless_events::{
    AwsLauncher, AwsStore, EventCreator, EventStore, LocalLauncher, LocalStore, PlaybookLauncher,
    StateMachineArns, TableNames,
};
use tokio::runtime::Runtime;

const ACCOUNT: &str = "123456789012";
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
    let Some(server) = Moto::start() else {
        eprintln!(
            "create_events moto: skipped, `moto_server` is not on PATH (pip install \"moto[server]\")"
        );
        return;
    };
    let runtime = Runtime::new().unwrap();
    let config = aws_config::SdkConfig::builder()
        .endpoint_url(&server.url)
        .region(Region::new("us-east-1"))
        .credentials_provider(SharedCredentialsProvider::new(Credentials::new(
            "testing", "testing", None, None, "bench",
        )))
        .behavior_version(BehaviorVersion::latest())
        .build();
    let tables = TableNames::new(
        "socless_events",
        "socless_dedup",
        "socless_execution_results",
    );
    runtime.block_on(deploy(&config, &tables));
    let creator = EventCreator::new(
        AwsStore::new(&config, tables),
        AwsLauncher::new(&config),
        StateMachineArns::new("us-east-1", ACCOUNT).unwrap(),
    );
    bench_backend(c, "moto", &runtime, &creator);
}

/// The three tables and the playbook's state machine.
async fn deploy(config: &aws_config::SdkConfig, tables: &TableNames) {
    let dynamodb = aws_sdk_dynamodb::Client::new(config);
    for (name, key) in [
        (&tables.events, "id"),
        (&tables.dedup, "dedup_hash"),
        (&tables.results, "execution_id"),
    ] {
        dynamodb
            .create_table()
            .table_name(name)
            .billing_mode(BillingMode::PayPerRequest)
            .attribute_definitions(
                AttributeDefinition::builder()
                    .attribute_name(key)
                    .attribute_type(ScalarAttributeType::S)
                    .build()
                    .unwrap(),
            )
            .key_schema(
                KeySchemaElement::builder()
                    .attribute_name(key)
                    .key_type(KeyType::Hash)
                    .build()
                    .unwrap(),
            )
            .send()
            .await
            .expect("create table");
    }
    aws_sdk_sfn::Client::new(config)
        .create_state_machine()
        .name(PLAYBOOK)
        .definition(r#"{"StartAt":"Done","States":{"Done":{"Type":"Pass","End":true}}}"#)
        .role_arn(format!("arn:aws:iam::{ACCOUNT}:role/socless-bench"))
        .send()
        .await
        .expect("create state machine");
}

/// `moto_server -H 127.0.0.1 -p PORT`, killed on drop.
struct Moto {
    child: Child,
    url: String,
}

impl Moto {
    /// `None` when `moto_server` cannot be started at all.
    fn start() -> Option<Moto> {
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let child = Command::new("moto_server")
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .ok()?;
        let mut moto = Moto {
            child,
            url: format!("http://127.0.0.1:{port}"),
        };
        let deadline = Instant::now() + Duration::from_secs(60);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            let exited = moto.child.try_wait().ok().flatten();
            assert!(exited.is_none(), "moto_server exited before listening");
            assert!(
                Instant::now() < deadline,
                "moto_server did not listen in 60 s"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        Some(moto)
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

criterion_group!(benches, local, moto);
criterion_main!(benches);
