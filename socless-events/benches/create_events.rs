//! `create_events` throughput, in events per second:
//!
//! - on the embedded SQLite store (a file in the temp dir): 1, 10, 100 and 500 details per
//!   call at the default concurrency, and 500 sequentially;
//! - through the real SDK clients, behind a proxy that adds 8 ms to every request
//!   (`testkit::aws::latency`), so that calls are network-bound as on AWS: 1, 100 and
//!   500 details per call, sequential (concurrency 1) and concurrent (16), on two local AWS:
//!   - moto, the reference for AWS's behaviour, which serves one request at a time in a few
//!     milliseconds of Python, and whose `TransactWriteItems` deep-copies the tables it
//!     writes (its cost per call grows with them, within a batch too: each batch gets fresh
//!     tables). Behind the proxy its figures are moto-bound, not network-bound;
//!   - the in-memory stand-in (`testkit::aws::standin`), which answers in microseconds
//!     and in parallel, as AWS does: behind the proxy its figures are those of network-bound
//!     calls, which is what concurrency is for.
//!
//!   A table per group (events/s and seconds per batch, the median of the batches timed,
//!   warm-up included) ends its output. The 500-detail batches (tens of seconds each where
//!   calls queue) are timed once at each concurrency, outside criterion, when criterion ran
//!   any other batch of the group.
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
    clippy::print_stdout,
    clippy::print_stderr
)]

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use aws_config::timeout::TimeoutConfig;
use criterion::{BatchSize, BenchmarkId, Criterion, SamplingMode, Throughput};
use serde_json::{Value, json};
use socless_events::{
    AwsClientPolicy, AwsLauncher, AwsStore, DEFAULT_CONCURRENCY, EventCreator, EventStore,
    LocalLauncher, LocalStore, PlaybookLauncher, StateMachineArns, TableNames,
};
use tokio::runtime::Runtime;

use testkit::aws::latency::LatencyProxy;
use testkit::aws::moto::{self as local_aws, ACCOUNT, MotoServer};
use testkit::aws::standin::AwsStandIn;

const PLAYBOOK: &str = "InvestigateLogin";
const SIZES: [usize; 4] = [1, 10, 100, 500];

/// The latency the proxy adds to every request: a round trip within a region.
const LATENCY: Duration = Duration::from_millis(8);
/// Batch sizes and concurrencies through the proxy.
const AWS_SIZES: [usize; 3] = [1, 100, 500];
const CONCURRENCIES: [usize; 2] = [1, DEFAULT_CONCURRENCY];
/// The batch size too long to repeat ten times (20–50 s for one sequential batch): timed once
/// at each concurrency, outside criterion.
const TIMED_ONCE: usize = 500;

static NEXT_ALERT: AtomicU64 = AtomicU64::new(0);
static NEXT_TABLES: AtomicU64 = AtomicU64::new(0);

/// Every batch timed through the proxy, by (details, concurrency): what the group's table
/// shows.
static RUNS: Mutex<BTreeMap<(usize, usize), Vec<Duration>>> = Mutex::new(BTreeMap::new());

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

/// Records one batch; any failure ends the bench (a figure of failed calls means nothing).
fn create<S, L>(name: &str, runtime: &Runtime, creator: &EventCreator<S, L>, input: &Value)
where
    S: EventStore,
    L: PlaybookLauncher,
{
    let n = input["details"].as_array().map_or(0, Vec::len);
    match runtime.block_on(creator.create_events(input)) {
        Ok(output) => assert_eq!(output.events.len(), n),
        // The error carries every event written so far: say what failed, briefly.
        Err(e) => {
            let message: String = e.to_string().chars().take(300).collect();
            eprintln!("create_events {name} failed: {message}");
            std::process::exit(1);
        }
    }
}

/// The SQLite store: each size at the default concurrency, and the largest sequentially too.
fn local(c: &mut Criterion) {
    let runtime = Runtime::new().unwrap();
    let path = std::env::temp_dir().join(format!("socless-bench-{}.sqlite", std::process::id()));
    let creator = |concurrency| {
        EventCreator::new(
            LocalStore::open(&path).unwrap(),
            LocalLauncher::open(&path).unwrap(),
            StateMachineArns::new("us-east-1", ACCOUNT).unwrap(),
        )
        .with_concurrency(concurrency)
    };
    let mut group = c.benchmark_group("create_events sqlite");
    group.sample_size(10);
    group.measurement_time(Duration::from_secs(5));
    let largest = SIZES[SIZES.len() - 1];
    let runs = (SIZES.iter().map(|&n| (n, DEFAULT_CONCURRENCY))).chain([(largest, 1)]);
    for (n, concurrency) in runs {
        let creator = creator(concurrency);
        group.throughput(Throughput::Elements(n as u64));
        let id = BenchmarkId::new(format!("{n} details"), format!("concurrency {concurrency}"));
        group.bench_function(id, |b| {
            b.iter_batched(
                || event_details(n),
                |input| create("sqlite", &runtime, &creator, &input),
                BatchSize::SmallInput,
            );
        });
    }
    group.finish();
    for suffix in ["sqlite", "sqlite-wal", "sqlite-shm"] {
        let _ = std::fs::remove_file(path.with_extension(suffix));
    }
}

/// A local AWS behind the proxy.
enum Upstream {
    Moto(MotoServer),
    StandIn(AwsStandIn),
}

impl Upstream {
    fn name(&self) -> String {
        let kind = match self {
            Upstream::Moto(_) => "moto",
            Upstream::StandIn(_) => "stand-in",
        };
        format!("{kind}+{}ms", LATENCY.as_millis())
    }

    fn url(&self) -> &str {
        match self {
            Upstream::Moto(server) => server.url(),
            Upstream::StandIn(server) => server.url(),
        }
    }
}

/// moto, or `None` (said on stderr) without one.
fn start_moto() -> Option<Upstream> {
    match MotoServer::start() {
        Ok(server) => Some(Upstream::Moto(server)),
        Err(e) => {
            eprintln!("create_events moto+{}ms: skipped: {e}", LATENCY.as_millis());
            None
        }
    }
}

/// Fresh tables (created directly, untimed) and a creator using them through `proxy`.
fn fresh_creator(
    runtime: &Runtime,
    server: &Upstream,
    proxy: &LatencyProxy,
    concurrency: usize,
) -> EventCreator<AwsStore, AwsLauncher> {
    let prefix = format!("b{}", NEXT_TABLES.fetch_add(1, Ordering::Relaxed));
    let tables = TableNames::new(
        format!("{prefix}_socless_events"),
        format!("{prefix}_socless_dedup"),
        format!("{prefix}_socless_execution_results"),
    );
    let direct = local_aws::sdk_config(server.url());
    runtime.block_on(local_aws::create_tables(
        &direct,
        &tables.events,
        &tables.dedup,
        &tables.results,
    ));
    let config = local_aws::sdk_config(proxy.url());
    EventCreator::new(
        AwsStore::with_policy(&config, tables, &policy()),
        AwsLauncher::with_policy(&config, &policy()),
        arns(),
    )
    .with_concurrency(concurrency)
}

/// The default retries, and time for a call to wait its turn: moto, one request at a time,
/// gets slower as a batch's tables grow (see the module), and a 3 s attempt timeout would
/// fail calls that are only queued.
fn policy() -> AwsClientPolicy {
    let default = AwsClientPolicy::default();
    AwsClientPolicy::new(
        default.retry().clone(),
        TimeoutConfig::builder()
            .connect_timeout(Duration::from_secs(5))
            .operation_attempt_timeout(Duration::from_secs(120))
            .operation_timeout(Duration::from_secs(300))
            .build(),
    )
}

fn arns() -> StateMachineArns {
    StateMachineArns::new("us-east-1", ACCOUNT).unwrap()
}

/// Times one batch on fresh tables and keeps the figure for the table.
fn timed(
    name: &str,
    runtime: &Runtime,
    (server, proxy): (&Upstream, &LatencyProxy),
    n: usize,
    concurrency: usize,
) -> Duration {
    let creator = fresh_creator(runtime, server, proxy, concurrency);
    let input = event_details(n);
    let started = Instant::now();
    create(name, runtime, &creator, &input);
    let took = started.elapsed();
    let mut runs = RUNS.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    runs.entry((n, concurrency)).or_default().push(took);
    took
}

fn median(runs: &[Duration]) -> Option<Duration> {
    let mut sorted = runs.to_vec();
    sorted.sort_unstable();
    sorted.get(sorted.len() / 2).copied()
}

/// Enough measurement time for ten batches of `n` at `concurrency`, judged from the largest
/// smaller batch already timed at that concurrency (events/s barely depends on the size
/// beyond a few times the concurrency); criterion's default before anything was timed.
fn measurement_time(n: usize, concurrency: usize) -> Duration {
    let runs = RUNS.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    let smaller = (runs.iter())
        .filter(|((size, c), _)| *c == concurrency && *size < n)
        .max_by_key(|((size, _), _)| *size)
        .and_then(|((size, _), times)| Some((*size, median(times)?)));
    let Some((size, time)) = smaller else {
        return Duration::from_secs(3);
    };
    let per_batch = time.mul_f64(n as f64 / size as f64);
    per_batch
        .mul_f64(10.0 * 1.3)
        .clamp(Duration::from_secs(3), Duration::from_secs(120))
}

/// 1, 100 and 500 details, concurrency 1 and 16, behind the proxy: a group on moto, then one
/// on the stand-in.
fn aws(c: &mut Criterion) {
    let runtime = Runtime::new().unwrap();
    if let Some(moto) = start_moto() {
        aws_group(c, &runtime, &moto);
    }
    let stand_in = runtime.block_on(AwsStandIn::start()).unwrap();
    aws_group(c, &runtime, &Upstream::StandIn(stand_in));
}

fn aws_group(c: &mut Criterion, runtime: &Runtime, server: &Upstream) {
    let name = server.name();
    let direct = local_aws::sdk_config(server.url());
    runtime.block_on(local_aws::deploy_playbooks(&direct, &[PLAYBOOK]));
    // The proxy's tasks run on the runtime's workers between `block_on` calls too.
    let proxy = runtime
        .block_on(LatencyProxy::start(server.url(), LATENCY))
        .unwrap();
    let upstream = (server, &proxy);
    RUNS.lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
        .clear();
    let ran = AtomicBool::new(false);
    let mut group = c.benchmark_group(format!("create_events {name}"));
    group.sample_size(10);
    // One batch per sample: a batch is long enough to time on its own.
    group.sampling_mode(SamplingMode::Flat);
    group.warm_up_time(Duration::from_secs(1));
    for n in AWS_SIZES {
        group.throughput(Throughput::Elements(n as u64));
        for concurrency in CONCURRENCIES {
            if n == TIMED_ONCE {
                continue;
            }
            group.measurement_time(measurement_time(n, concurrency));
            let id = BenchmarkId::new(format!("{n} details"), format!("concurrency {concurrency}"));
            group.bench_function(id, |b| {
                ran.store(true, Ordering::Relaxed);
                b.iter_custom(|iters| {
                    (0..iters)
                        .map(|_| timed(&name, runtime, upstream, n, concurrency))
                        .sum()
                });
            });
        }
    }
    group.finish();
    // Not when criterion ran nothing of this group (a filter, `--list`) or only checks that
    // the benches run (`--test`).
    if ran.load(Ordering::Relaxed) && !std::env::args().any(|arg| arg == "--test") {
        let n = TIMED_ONCE;
        for concurrency in CONCURRENCIES {
            let took = timed(&name, runtime, upstream, n, concurrency);
            println!(
                "create_events {name}/{n} details/concurrency {concurrency}: timed once: {:.2} s, {:.1} events/s",
                took.as_secs_f64(),
                n as f64 / took.as_secs_f64()
            );
        }
    }
    print_table(&name, proxy.requests());
}

/// The events/s table of the batches timed behind the proxy.
fn print_table(name: &str, requests: usize) {
    let runs = RUNS.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    if runs.is_empty() {
        return;
    }
    println!();
    println!(
        "create_events {name}: {} ms added per request ({requests} requests), median batch",
        LATENCY.as_millis()
    );
    println!(
        "{:>8} {:>12} {:>10} {:>10} {:>6}",
        "details", "concurrency", "events/s", "s/batch", "runs"
    );
    for ((n, concurrency), times) in runs.iter() {
        let Some(time) = median(times) else {
            continue;
        };
        println!(
            "{n:>8} {concurrency:>12} {:>10.1} {:>10.3} {:>6}",
            *n as f64 / time.as_secs_f64(),
            time.as_secs_f64(),
            times.len()
        );
    }
    println!();
}

fn main() {
    let mut criterion = Criterion::default().configure_from_args();
    local(&mut criterion);
    aws(&mut criterion);
    criterion.final_summary();
}
