//! Fault-injecting and counting wrappers around a store and a launcher.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use serde_json::Value;
use socless_events::{
    CreateEventsOutput, Error, EventItem, EventStore, JsonObject, LaunchError, LaunchErrorKind,
    PlaybookLauncher, ResultsItem, StorageError, StorageErrorKind,
};

use crate::inspect::{InspectLauncher, InspectStore};

/// The text the SDKs give when Step Functions throttles `StartExecution`.
pub(crate) const THROTTLED_START: &str = "An error occurred (ThrottlingException) when calling the StartExecution operation: Rate exceeded";

/// A store that is down for everything once it has done `budget` writes.
#[derive(Clone)]
pub(crate) struct DownStore;

fn down() -> Error {
    StorageError::new(StorageErrorKind::Unavailable, "injected: the store is down").into()
}

impl EventStore for DownStore {
    async fn dedup_mapping(&self, _: &str) -> Result<Option<String>, Error> {
        Err(down())
    }
    async fn event(&self, _: &str) -> Result<Option<JsonObject>, Error> {
        Err(down())
    }
    async fn put_original(&self, _: &EventItem, _: &str, _: Option<&str>) -> Result<bool, Error> {
        Err(down())
    }
    async fn put_event(&self, _: &EventItem) -> Result<(), Error> {
        Err(down())
    }
    async fn release_dedup_mapping(&self, _: &str, _: &str) -> Result<bool, Error> {
        Err(down())
    }
    async fn put_results(&self, _: &ResultsItem) -> Result<(), Error> {
        Err(down())
    }
    async fn record_start_failure(&self, _: &str, _: &str) -> Result<(), Error> {
        Err(down())
    }
}

/// Sends every call to `healthy` until `budget` writes went through, then every call to
/// `failing` (an injected outage, a throttling server, a closed port). `writes` counts the
/// writes attempted.
#[derive(Clone)]
pub(crate) struct FailAfter<S, F> {
    pub(crate) healthy: S,
    pub(crate) failing: F,
    pub(crate) budget: usize,
    pub(crate) writes: Arc<AtomicUsize>,
}

impl<S, F> FailAfter<S, F> {
    pub(crate) fn new(healthy: S, failing: F, budget: usize) -> Self {
        Self {
            healthy,
            failing,
            budget,
            writes: Arc::default(),
        }
    }

    fn failed(&self) -> bool {
        self.writes.load(Ordering::SeqCst) >= self.budget
    }

    /// Counts a write; whether it is still within the budget.
    fn write(&self) -> bool {
        self.writes.fetch_add(1, Ordering::SeqCst) < self.budget
    }
}

impl<S: EventStore, F: EventStore> EventStore for FailAfter<S, F> {
    async fn dedup_mapping(&self, hash: &str) -> Result<Option<String>, Error> {
        if self.failed() {
            return self.failing.dedup_mapping(hash).await;
        }
        self.healthy.dedup_mapping(hash).await
    }
    async fn event(&self, id: &str) -> Result<Option<JsonObject>, Error> {
        if self.failed() {
            return self.failing.event(id).await;
        }
        self.healthy.event(id).await
    }
    async fn investigation(&self, id: &str) -> Result<Option<JsonObject>, Error> {
        if self.failed() {
            return self.failing.investigation(id).await;
        }
        self.healthy.investigation(id).await
    }
    async fn release_dedup_mapping(&self, hash: &str, id: &str) -> Result<bool, Error> {
        if !self.write() {
            return self.failing.release_dedup_mapping(hash, id).await;
        }
        self.healthy.release_dedup_mapping(hash, id).await
    }
    async fn put_original(
        &self,
        event: &EventItem,
        hash: &str,
        expected: Option<&str>,
    ) -> Result<bool, Error> {
        if !self.write() {
            return self.failing.put_original(event, hash, expected).await;
        }
        self.healthy.put_original(event, hash, expected).await
    }
    async fn put_event(&self, event: &EventItem) -> Result<(), Error> {
        if !self.write() {
            return self.failing.put_event(event).await;
        }
        self.healthy.put_event(event).await
    }
    async fn put_results(&self, item: &ResultsItem) -> Result<(), Error> {
        if !self.write() {
            return self.failing.put_results(item).await;
        }
        self.healthy.put_results(item).await
    }
    async fn record_start_failure(&self, id: &str, error: &str) -> Result<(), Error> {
        if !self.write() {
            return self.failing.record_start_failure(id, error).await;
        }
        self.healthy.record_start_failure(id, error).await
    }
}

/// A store that is down for the event whose details carry `"fail": true` (its events item is
/// never written) and healthy for every other: a failure tied to one event, whatever order a
/// concurrent batch reaches it in.
#[derive(Clone)]
pub(crate) struct FailOnDetail<S>(pub(crate) S);

fn marked(event: &EventItem) -> bool {
    event.details.get("fail") == Some(&Value::Bool(true))
}

impl<S: EventStore> EventStore for FailOnDetail<S> {
    async fn dedup_mapping(&self, hash: &str) -> Result<Option<String>, Error> {
        self.0.dedup_mapping(hash).await
    }
    async fn event(&self, id: &str) -> Result<Option<JsonObject>, Error> {
        self.0.event(id).await
    }
    async fn put_original(
        &self,
        event: &EventItem,
        hash: &str,
        expected: Option<&str>,
    ) -> Result<bool, Error> {
        if marked(event) {
            return Err(down());
        }
        self.0.put_original(event, hash, expected).await
    }
    async fn put_event(&self, event: &EventItem) -> Result<(), Error> {
        if marked(event) {
            return Err(down());
        }
        self.0.put_event(event).await
    }
    async fn put_results(&self, item: &ResultsItem) -> Result<(), Error> {
        self.0.put_results(item).await
    }
    async fn record_start_failure(&self, id: &str, error: &str) -> Result<(), Error> {
        self.0.record_start_failure(id, error).await
    }
    async fn release_dedup_mapping(&self, hash: &str, id: &str) -> Result<bool, Error> {
        self.0.release_dedup_mapping(hash, id).await
    }
}

/// A store that fails every results item write (as unavailable) and is healthy otherwise.
#[derive(Clone)]
pub(crate) struct FailResults<S>(pub(crate) S);

impl<S: EventStore> EventStore for FailResults<S> {
    async fn dedup_mapping(&self, hash: &str) -> Result<Option<String>, Error> {
        self.0.dedup_mapping(hash).await
    }
    async fn event(&self, id: &str) -> Result<Option<JsonObject>, Error> {
        self.0.event(id).await
    }
    async fn put_original(
        &self,
        event: &EventItem,
        hash: &str,
        expected: Option<&str>,
    ) -> Result<bool, Error> {
        self.0.put_original(event, hash, expected).await
    }
    async fn put_event(&self, event: &EventItem) -> Result<(), Error> {
        self.0.put_event(event).await
    }
    async fn put_results(&self, _: &ResultsItem) -> Result<(), Error> {
        Err(down())
    }
    async fn record_start_failure(&self, id: &str, error: &str) -> Result<(), Error> {
        self.0.record_start_failure(id, error).await
    }
    async fn release_dedup_mapping(&self, hash: &str, id: &str) -> Result<bool, Error> {
        self.0.release_dedup_mapping(hash, id).await
    }
}

/// A store whose events item writes take effect but whose answers are lost: each fails as
/// unavailable after the inner store wrote it, as when DynamoDB commits and every answer is
/// lost until the call times out. `blind`: reading an events item back fails too.
#[derive(Clone)]
pub(crate) struct LoseWriteAnswers<S> {
    pub(crate) inner: S,
    pub(crate) blind: bool,
}

fn lost() -> Error {
    StorageError::new(
        StorageErrorKind::Unavailable,
        "injected: the answer was lost (timed out)",
    )
    .into()
}

impl<S: EventStore> EventStore for LoseWriteAnswers<S> {
    async fn dedup_mapping(&self, hash: &str) -> Result<Option<String>, Error> {
        self.inner.dedup_mapping(hash).await
    }
    async fn event(&self, id: &str) -> Result<Option<JsonObject>, Error> {
        if self.blind {
            return Err(lost());
        }
        self.inner.event(id).await
    }
    async fn investigation(&self, id: &str) -> Result<Option<JsonObject>, Error> {
        self.inner.investigation(id).await
    }
    async fn put_original(
        &self,
        event: &EventItem,
        hash: &str,
        expected: Option<&str>,
    ) -> Result<bool, Error> {
        self.inner.put_original(event, hash, expected).await?;
        Err(lost())
    }
    async fn put_event(&self, event: &EventItem) -> Result<(), Error> {
        self.inner.put_event(event).await?;
        Err(lost())
    }
    async fn put_results(&self, item: &ResultsItem) -> Result<(), Error> {
        self.inner.put_results(item).await
    }
    async fn record_start_failure(&self, id: &str, error: &str) -> Result<(), Error> {
        self.inner.record_start_failure(id, error).await
    }
    async fn release_dedup_mapping(&self, hash: &str, id: &str) -> Result<bool, Error> {
        self.inner.release_dedup_mapping(hash, id).await
    }
}

/// A launcher whose `nth` start (from 1) first waits until `until`, as a slow call would
/// (deterministically past a deadline), then starts.
#[derive(Clone)]
pub(crate) struct SlowNth<L> {
    pub(crate) inner: L,
    pub(crate) nth: usize,
    pub(crate) until: tokio::time::Instant,
    pub(crate) starts: Arc<AtomicUsize>,
}

impl<L: PlaybookLauncher> PlaybookLauncher for SlowNth<L> {
    async fn start_execution(&self, arn: &str, name: &str, input: &str) -> Result<(), Error> {
        if self.starts.fetch_add(1, Ordering::SeqCst) + 1 == self.nth {
            tokio::time::sleep_until(self.until).await;
        }
        self.inner.start_execution(arn, name, input).await
    }
}

impl<L: InspectLauncher> InspectLauncher for SlowNth<L> {
    async fn execution_input(&self, arn: &str, name: &str) -> Result<Option<Value>, Error> {
        self.inner.execution_input(arn, name).await
    }
}

/// A launcher whose `nth` start (from 1) fails as a throttled `StartExecution` would, after
/// the SDK gave up retrying. `starts` counts the starts attempted.
#[derive(Clone)]
pub(crate) struct ThrottleNth<L> {
    pub(crate) inner: L,
    pub(crate) nth: usize,
    pub(crate) starts: Arc<AtomicUsize>,
}

impl<L> ThrottleNth<L> {
    pub(crate) fn new(inner: L, nth: usize) -> Self {
        Self {
            inner,
            nth,
            starts: Arc::default(),
        }
    }
}

impl<L: PlaybookLauncher> PlaybookLauncher for ThrottleNth<L> {
    async fn start_execution(&self, arn: &str, name: &str, input: &str) -> Result<(), Error> {
        if self.starts.fetch_add(1, Ordering::SeqCst) + 1 == self.nth {
            return Err(LaunchError::new(LaunchErrorKind::Throttled, THROTTLED_START).into());
        }
        self.inner.start_execution(arn, name, input).await
    }
}

impl<L: InspectLauncher> InspectLauncher for ThrottleNth<L> {
    async fn execution_input(&self, arn: &str, name: &str) -> Result<Option<Value>, Error> {
        self.inner.execution_input(arn, name).await
    }
}

/// Checks what the tables and the launcher hold for every recorded event of `output`: the
/// events item exists; a report with an empty error has its results item (without
/// `start_error`) and its execution; a failed start has its results item with `start_error`
/// equal to the report's error (or, when even that write failed, the report says "not
/// recorded"), and no execution; "playbook not started" has neither. An event whose write is
/// unknown ("unknown whether the events item was written") may or may not have its events
/// item, and has neither.
pub(crate) async fn check_records<S: InspectStore, L: InspectLauncher>(
    store: &S,
    launcher: &L,
    output: &CreateEventsOutput,
) {
    assert_eq!(output.events.len(), output.execution_reports.len());
    for (event, report) in output.events.iter().zip(&output.execution_reports) {
        let meta = &event.metadata;
        assert_eq!(meta.execution_id, report.execution_id);
        let stored = store.event(&meta.id).await.unwrap();
        let unknown = report
            .error
            .starts_with("playbook not started: unknown whether the events item was written: ");
        assert!(
            stored.is_some() || unknown,
            "events item {} is missing",
            meta.id
        );
        let results = store.results(&report.execution_id).await.unwrap();
        let started = launcher
            .execution_input(&report.statemachinearn, &report.execution_id)
            .await
            .unwrap();
        if report.error.is_empty() {
            let results = results.expect("a started event has its results item");
            assert!(!results.contains_key("start_error"), "{results:?}");
            assert_eq!(started.as_ref(), results.get("results"));
        } else if report.error.starts_with("playbook not started: ") {
            assert!(results.is_none(), "{report:?}");
            assert!(started.is_none(), "{report:?}");
        } else if report.error.contains("; not recorded: ") {
            let results = results.expect("a failed start keeps its results item");
            assert!(!results.contains_key("start_error"), "{results:?}");
            assert!(started.is_none(), "{report:?}");
        } else {
            let results = results.expect("a failed start keeps its results item");
            let recorded = results["start_error"].as_str().unwrap();
            assert!(report.error.starts_with(recorded), "{report:?} {recorded}");
            assert!(started.is_none(), "{report:?}");
        }
    }
}
