//! A batch recorded several events at once gives exactly the sequential run's results: the
//! same dedup decisions per index, the output in input order, every event recorded. On moto
//! (with and without a latency-injecting proxy in front of it), on the in-memory AWS stand-in
//! behind the same proxy, and on the SQLite store.
//!
//! Timings are printed, never asserted: the figures come from `cargo xtask bench socless`.

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use socless_events::{CreateEventsOutput, EventCreator, Status, dedup_hash};

use crate::inspect::{InspectLauncher, InspectStore};
use crate::wrappers::check_records;

/// Events of the keyed batch.
const DETAILS: usize = 60;
/// Distinct dedup hashes among them.
const HASHES: usize = 10;
/// Events of the batch without `dedup_keys`.
const UNKEYED: usize = 12;
/// The concurrent run's concurrency (1 is the sequential run).
const CONCURRENCY: usize = 16;
/// The hash whose investigation exists and is closed before the batch: its first event of
/// the batch opens a new one.
const CLOSED_BEFORE: usize = 0;
/// The hash whose investigation is open before the batch: all its events join it.
const OPEN_BEFORE: usize = 1;

const EVENT_TYPE: &str = "Concurrency";
const PLAYBOOK: &str = "InvestigateLogin";

/// Which of the [`HASHES`] users detail `index` names: the hashes recur in a scattered order,
/// so a window of [`CONCURRENCY`] events holds several events of one hash.
fn user_of(index: usize) -> usize {
    (index * 7 + index / HASHES) % HASHES
}

fn user(tag: &str, user: usize) -> String {
    format!("{tag}-user{user}")
}

fn keyed_batch(tag: &str) -> Value {
    let details: Vec<Value> = (0..DETAILS)
        .map(|i| json!({"username": user(tag, user_of(i)), "seq": i, "tag": tag}))
        .collect();
    json!({
        "event_type": EVENT_TYPE,
        "playbook": PLAYBOOK,
        "details": details,
        "dedup_keys": ["username"],
    })
}

fn unkeyed_batch(tag: &str) -> Value {
    let details: Vec<Value> = (0..UNKEYED)
        .map(|i| json!({"username": user(tag, i % 3), "seq": i, "tag": tag}))
        .collect();
    json!({"event_type": EVENT_TYPE, "playbook": PLAYBOOK, "details": details})
}

/// Per index of a batch's output: whether it is a duplicate, and the index of the event whose
/// investigation it is in (its own for an original; `None`: one opened before the batch).
type Shape = Vec<(bool, Option<usize>)>;

fn shape(output: &CreateEventsOutput) -> Shape {
    let index_of: HashMap<&str, usize> = (output.events.iter().enumerate())
        .map(|(i, event)| (event.metadata.id.as_str(), i))
        .collect();
    let joined = |event: &socless_events::CreatedEvent| {
        let investigation = event.metadata.investigation_id.as_str();
        (
            event.metadata.is_duplicate,
            index_of.get(investigation).copied(),
        )
    };
    output.events.iter().map(joined).collect()
}

/// The sequential semantics, worked out from the batch alone: the first event of a hash opens
/// an investigation (unless one is open before the batch), the later ones join it.
fn expected_keyed_shape() -> Shape {
    let mut first: HashMap<usize, usize> = HashMap::new();
    (0..DETAILS)
        .map(|i| {
            let user = user_of(i);
            if user == OPEN_BEFORE {
                return (true, None);
            }
            match first.get(&user) {
                Some(&original) => (true, Some(original)),
                None => {
                    first.insert(user, i);
                    (false, Some(i))
                }
            }
        })
        .collect()
}

/// What the output says holds: one entry per detail in input order, ids unique, every
/// playbook started, every record in the tables.
async fn check_output<S: InspectStore, L: InspectLauncher>(
    creator: &EventCreator<S, L>,
    input: &Value,
    output: &CreateEventsOutput,
) {
    let details = input["details"].as_array().unwrap();
    assert_eq!(output.events.len(), details.len());
    for (event, detail) in output.events.iter().zip(details) {
        assert_eq!(&Value::Object(event.event.details.clone()), detail);
    }
    let ids: HashSet<_> = output.events.iter().map(|e| &e.metadata.id).collect();
    assert_eq!(ids.len(), details.len());
    for report in &output.execution_reports {
        assert!(report.error.is_empty(), "{report:?}");
    }
    check_records(creator.store(), creator.launcher(), output).await;
}

/// The hash of one of the [`HASHES`] users of the run `tag`.
fn hash_of(tag: &str, user_index: usize) -> String {
    let details = json!({"username": user(tag, user_index)});
    let details = details.as_object().unwrap();
    dedup_hash(EVENT_TYPE, details, &["username".into()]).unwrap()
}

/// One run of both batches at `concurrency`, with fresh hashes (its own tag); how long the
/// keyed batch took.
async fn run<S: InspectStore, L: InspectLauncher>(
    creator: &EventCreator<S, L>,
) -> (Shape, Duration) {
    let concurrency = creator.concurrency();
    let tag = format!("c{concurrency}-{}", uuid::Uuid::new_v4().simple());
    // The investigations that exist before the batch: one closed, one open.
    let mut before = Vec::new();
    for user_index in [CLOSED_BEFORE, OPEN_BEFORE] {
        let input = json!({
            "event_type": EVENT_TYPE,
            "playbook": PLAYBOOK,
            "details": [{"username": user(&tag, user_index), "seq": "before"}],
            "dedup_keys": ["username"],
        });
        let output = creator.create_events(&input).await.unwrap();
        before.push(output.events[0].metadata.id.clone());
    }
    (creator.store())
        .set_investigation_status(&before[0], Status::Closed)
        .await
        .unwrap();

    let input = keyed_batch(&tag);
    let started = Instant::now();
    let output = creator.create_events(&input).await.unwrap();
    let elapsed = started.elapsed();
    check_output(creator, &input, &output).await;
    let shape = shape(&output);
    // Every event of the hash open before the batch joined that investigation.
    for i in (0..DETAILS).filter(|&i| user_of(i) == OPEN_BEFORE) {
        assert_eq!(event_investigation(&output, i), before[1]);
    }
    // Each mapping names the investigation the batch's last event of its hash is in.
    for user_index in 0..HASHES {
        let last = (0..DETAILS)
            .rev()
            .find(|&i| user_of(i) == user_index)
            .unwrap();
        let mapping = creator
            .store()
            .dedup_mapping(&hash_of(&tag, user_index))
            .await
            .unwrap();
        assert_eq!(
            mapping.as_deref(),
            Some(event_investigation(&output, last)),
            "user {user_index}"
        );
    }

    let input = unkeyed_batch(&tag);
    let output = creator.create_events(&input).await.unwrap();
    check_output(creator, &input, &output).await;
    for (i, (is_duplicate, joined)) in self::shape(&output).into_iter().enumerate() {
        assert_eq!(
            (is_duplicate, joined),
            (false, Some(i)),
            "unkeyed event {i}"
        );
    }
    (shape, elapsed)
}

fn event_investigation(output: &CreateEventsOutput, index: usize) -> &str {
    &output.events[index].metadata.investigation_id
}

/// The concurrent run's results are the sequential run's, and the sequential semantics;
/// returns the keyed batch's time (sequential, concurrent).
pub(crate) async fn concurrent_batch_matches_sequential<S, L>(
    creator: impl Fn(usize) -> EventCreator<S, L>,
) -> (Duration, Duration)
where
    S: InspectStore,
    L: InspectLauncher,
{
    let users: HashSet<_> = (0..DETAILS).map(user_of).collect();
    assert_eq!(users.len(), HASHES, "the batch uses every hash");
    let (sequential, sequential_time) = run(&creator(1)).await;
    let (concurrent, concurrent_time) = run(&creator(CONCURRENCY)).await;
    assert_eq!(concurrent, sequential);
    assert_eq!(sequential, expected_keyed_shape());
    (sequential_time, concurrent_time)
}

/// Says how long the keyed batch took each way (never asserted).
#[allow(clippy::print_stderr)]
pub(crate) fn print_times(backend: &str, (sequential, concurrent): (Duration, Duration)) {
    let rate = |time: Duration| DETAILS as f64 / time.as_secs_f64();
    eprintln!(
        "{backend}: {DETAILS} events: concurrency 1 {:.3} s ({:.0} events/s), concurrency {CONCURRENCY} {:.3} s ({:.0} events/s), {:.1}x",
        sequential.as_secs_f64(),
        rate(sequential),
        concurrent.as_secs_f64(),
        rate(concurrent),
        sequential.as_secs_f64() / concurrent.as_secs_f64()
    );
}

#[cfg(feature = "aws")]
mod aws {
    use std::time::Duration;

    use socless_events::{AwsLauncher, AwsStore, EventCreator, EventStore};

    use super::{concurrent_batch_matches_sequential, print_times};
    use crate::fixture::{AwsFixture, Fixture, moto_config};
    use testkit::aws::latency::LatencyProxy;

    /// What the tests put in front of moto: a round trip in the same region.
    const LATENCY: Duration = Duration::from_millis(8);

    /// Creators on the fixture's tables through a proxy in front of its moto server.
    fn through(
        fixture: &AwsFixture,
        proxy: &LatencyProxy,
    ) -> impl Fn(usize) -> EventCreator<AwsStore, AwsLauncher> {
        let config = moto_config(proxy.url());
        let (tables, arns) = (fixture.tables.clone(), fixture.arns());
        move |n| {
            let store = AwsStore::new(&config, tables.clone());
            EventCreator::new(store, AwsLauncher::new(&config), arns.clone()).with_concurrency(n)
        }
    }

    /// The concurrency check on `fixture`'s tables through a proxy adding `latency` to each
    /// call; `backend` names them in the printed figures.
    async fn check_behind(fixture: AwsFixture, latency: Duration, backend: &str) {
        let proxy = LatencyProxy::start(fixture.server.url(), latency)
            .await
            .unwrap();
        let times = concurrent_batch_matches_sequential(through(&fixture, &proxy)).await;
        assert!(proxy.requests() > 0, "the calls went through the proxy");
        match latency {
            Duration::ZERO => print_times(backend, times),
            _ => print_times(&format!("{backend} behind {latency:?}"), times),
        }
    }

    /// Through the proxy without latency (moto serves one request at a time: see
    /// `testkit::aws::moto`).
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn moto_concurrent_batch_matches_sequential() {
        check_behind(AwsFixture::new().await, Duration::ZERO, "moto").await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn moto_with_latency_concurrent_batch_matches_sequential() {
        check_behind(AwsFixture::new().await, LATENCY, "moto").await;
    }

    /// On the in-memory stand-in, which serves calls in parallel as AWS does: behind the same
    /// latency the concurrent run overlaps its calls (the figures printed show by how much).
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn stand_in_with_latency_concurrent_batch_matches_sequential() {
        check_behind(AwsFixture::stand_in().await, LATENCY, "stand-in").await;
    }

    /// Each call through the proxy is one delayed request, on one kept-alive connection or
    /// several.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn latency_proxy_delays_each_request_once() {
        let fixture = AwsFixture::new().await;
        let proxy = LatencyProxy::start(fixture.server.url(), Duration::from_millis(2))
            .await
            .unwrap();
        assert_eq!(proxy.latency(), Duration::from_millis(2));
        let store = AwsStore::new(&moto_config(proxy.url()), fixture.tables.clone());
        for _ in 0..3 {
            assert_eq!(store.dedup_mapping("none").await.unwrap(), None);
        }
        assert_eq!(proxy.requests(), 3);
        let lookups = (0..8).map(|_| store.dedup_mapping("none"));
        for found in futures::future::join_all(lookups).await {
            assert_eq!(found.unwrap(), None);
        }
        assert_eq!(proxy.requests(), 11);
    }
}

#[cfg(feature = "local")]
mod local {
    use super::{concurrent_batch_matches_sequential, print_times};
    use crate::fixture::{Fixture, LocalFixture};

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn sqlite_concurrent_batch_matches_sequential() {
        let fixture = LocalFixture::new().await;
        let times =
            concurrent_batch_matches_sequential(|n| fixture.creator().with_concurrency(n)).await;
        print_times("sqlite", times);
    }
}
