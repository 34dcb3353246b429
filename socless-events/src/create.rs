//! `create_events`: the per-event flow over any store and launcher, several events at once.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use futures::StreamExt as _;
use futures::channel::oneshot;
use serde_json::Value;
use uuid::Uuid;

use crate::arn::StateMachineArns;
use crate::backend::{EventStore, PlaybookLauncher};
use crate::batch::{EventBatch, now_timestamp};
use crate::error::{Error, LaunchError, LaunchErrorKind, StorageError, StorageErrorKind};
use crate::model::{
    CreateEventsOutput, CreatedEvent, EventItem, EventMetadata, ExecutionReport, InitialEvent,
    MAX_PLAYBOOK_INPUT_BYTES, PlaybookStart, ResultsItem, Status,
};

/// How often an original retries its dedup claim when other writers keep changing the mapping.
const DEDUP_ATTEMPTS: usize = 8;

/// How many events of a batch [`EventCreator`] records at once unless told otherwise
/// ([`EventCreator::with_concurrency`]).
pub const DEFAULT_CONCURRENCY: usize = 16;

/// With a deadline ([`EventCreator::with_deadline`]), no event begins once less than this
/// remains, unless [`EventCreator::with_deadline_margin`] says otherwise.
pub const DEFAULT_DEADLINE_MARGIN: Duration = Duration::from_secs(1);

/// Creates Socless events: validates, deduplicates, stores and starts playbooks.
#[derive(Debug, Clone)]
pub struct EventCreator<S, L> {
    store: S,
    launcher: L,
    arns: StateMachineArns,
    concurrency: usize,
    deadline: Option<Instant>,
    deadline_margin: Duration,
}

impl<S: EventStore, L: PlaybookLauncher> EventCreator<S, L> {
    /// A creator writing to `store` and starting playbooks with `launcher` at `arns`.
    pub fn new(store: S, launcher: L, arns: StateMachineArns) -> Self {
        Self {
            store,
            launcher,
            arns,
            concurrency: DEFAULT_CONCURRENCY,
            deadline: None,
            deadline_margin: DEFAULT_DEADLINE_MARGIN,
        }
    }

    /// Finish batches by `deadline` (e.g. a Lambda invocation's deadline, from its context):
    /// once less than the [margin](Self::with_deadline_margin) remains, no further event of
    /// the batch begins, the events in flight finish, and the batch answers
    /// [`Error::Incomplete`] with [`Error::DeadlineReached`] as its source, carrying every
    /// event written and its report. An event not begun was not written: re-sending the
    /// alert later is safe for it. Without a deadline (the default), a batch runs to its end.
    ///
    /// The deadline is checked before each event begins; calls already made are bounded by
    /// the backend's own timeouts (e.g. [`AwsClientPolicy`]), so a margin of one event's
    /// calls at those timeouts makes sure the invocation is not killed part-way through an
    /// event.
    ///
    #[cfg_attr(feature = "aws", doc = "[`AwsClientPolicy`]: crate::AwsClientPolicy")]
    #[cfg_attr(not(feature = "aws"), doc = "[`AwsClientPolicy`]: crate#features")]
    #[must_use]
    pub fn with_deadline(mut self, deadline: Instant) -> Self {
        self.deadline = Some(deadline);
        self
    }

    /// No event begins once less than `margin` remains before the deadline. Default
    /// [`DEFAULT_DEADLINE_MARGIN`].
    #[must_use]
    pub fn with_deadline_margin(mut self, margin: Duration) -> Self {
        self.deadline_margin = margin;
        self
    }

    /// The deadline, if any ([`EventCreator::with_deadline`]).
    pub fn deadline(&self) -> Option<Instant> {
        self.deadline
    }

    /// Whether an event may still begin.
    fn has_time(&self) -> bool {
        self.deadline.is_none_or(|deadline| {
            deadline.saturating_duration_since(Instant::now()) > self.deadline_margin
        })
    }

    /// At most `concurrency` events of a batch in flight (at least 1; 1 is the sequential
    /// run). Default [`DEFAULT_CONCURRENCY`].
    #[must_use]
    pub fn with_concurrency(mut self, concurrency: usize) -> Self {
        self.concurrency = concurrency.max(1);
        self
    }

    /// How many events of a batch are recorded at once.
    pub fn concurrency(&self) -> usize {
        self.concurrency
    }

    /// The store.
    pub fn store(&self) -> &S {
        &self.store
    }

    /// The launcher.
    pub fn launcher(&self) -> &L {
        &self.launcher
    }

    /// The ARN rules.
    pub fn arns(&self) -> &StateMachineArns {
        &self.arns
    }

    /// Validates `event_details` (nothing is written if any event is invalid), then runs
    /// [`EventCreator::create_batch`].
    pub async fn create_events(&self, event_details: &Value) -> Result<CreateEventsOutput, Error> {
        let batch = EventBatch::from_json(event_details)?;
        self.create_batch(&batch).await
    }

    /// For each event: dedup lookup, events item, results item, playbook start; at most
    /// [`concurrency`](Self::concurrency) events at once.
    ///
    /// Events that share a dedup hash run one after another in batch order (the first opens
    /// the investigation, the next join it), so the dedup results are those of the sequential
    /// run whatever the interleaving; events with different hashes, or none, are independent.
    /// The output keeps the batch's order.
    ///
    /// Failed starts are reported in [`Error::PlaybooksFailed`], which still carries every
    /// event and report. On a storage failure (or at the [deadline](Self::with_deadline)) no
    /// event starts after it; the events in flight finish, and [`Error::Incomplete`] carries
    /// every event whose events item was written, or may have been (with its report), in
    /// batch order, and the failure (the first in batch order when several events failed at
    /// once). An event missing from it was not written.
    pub async fn create_batch(&self, batch: &EventBatch) -> Result<CreateEventsOutput, Error> {
        let arn = self.arns.arn(batch.playbook());
        let total = batch.len();
        let hashes = batch.dedup_hashes();
        // Each event waits for the one before it with the same hash: a sender per event, whose
        // drop (on every path) lets its successor go.
        let mut waits: Vec<Option<oneshot::Receiver<()>>> = Vec::with_capacity(total);
        let mut signals: Vec<Option<oneshot::Sender<()>>> = Vec::with_capacity(total);
        let mut last: HashMap<&str, usize> = HashMap::new();
        for (i, hash) in hashes.iter().enumerate() {
            signals.push(None);
            let Some(hash) = hash.as_deref() else {
                waits.push(None);
                continue;
            };
            match last.insert(hash, i) {
                Some(previous) => {
                    let (tx, rx) = oneshot::channel();
                    signals[previous] = Some(tx);
                    waits.push(Some(rx));
                }
                None => waits.push(None),
            }
        }
        let stop = AtomicBool::new(false);
        let out_of_time = AtomicBool::new(false);
        let (stop, out_of_time) = (&stop, &out_of_time);
        let (arn, events) = (arn.as_str(), batch.events());
        // Owned items, indices into the batch: closures over borrowed items trip the
        // compiler's higher-ranked lifetime inference when the caller needs a `Send` future.
        let items: Vec<_> = waits.into_iter().zip(signals).enumerate().collect();
        let runs = items.into_iter().map(|(i, (wait, signal))| async move {
            if let Some(previous) = wait {
                // Sent or dropped: either way the previous event of this hash is done.
                let _ = previous.await;
            }
            if stop.load(Ordering::Acquire) {
                return None;
            }
            if !self.has_time() {
                out_of_time.store(true, Ordering::Release);
                stop.store(true, Ordering::Release);
                return None;
            }
            let result = self.create_one(&events[i], hashes[i].as_deref(), arn).await;
            if matches!(
                &result,
                Err(_)
                    | Ok(Recorded {
                        storage_failure: Some(_),
                        ..
                    })
            ) {
                stop.store(true, Ordering::Release);
            }
            drop(signal);
            Some(result)
        });
        // `buffered` starts events in batch order and only within `concurrency` of the earliest
        // unfinished one (finished events wait there to be taken in order), so:
        // - an event's predecessor is always in flight or done when it waits: no event waits
        //   for one that never starts;
        // - when an event fails, no event more than `concurrency - 1` past it has started (the
        //   documented bound; `buffer_unordered` would start more whenever later events
        //   finish first);
        // - the results come in batch order.
        let results: Vec<_> = futures::stream::iter(runs)
            .buffered(self.concurrency)
            .collect()
            .await;
        let mut output = CreateEventsOutput::default();
        let mut failure = None;
        for result in results {
            match result {
                None => {}
                Some(Ok(recorded)) => {
                    output.events.push(recorded.created);
                    output.execution_reports.push(recorded.report);
                    if let Some(source) = recorded.storage_failure {
                        failure.get_or_insert(source);
                    }
                }
                Some(Err(source)) => {
                    failure.get_or_insert(source);
                }
            }
        }
        if failure.is_none() && out_of_time.load(Ordering::Acquire) {
            failure = Some(Error::DeadlineReached);
        }
        if let Some(source) = failure {
            return Err(incomplete(source, total, output));
        }
        let failed = output
            .execution_reports
            .iter()
            .filter(|report| !report.error.is_empty())
            .count();
        if failed > 0 {
            return Err(Error::PlaybooksFailed {
                failed,
                total,
                output: Box::new(output),
            });
        }
        Ok(output)
    }

    /// Records one event and starts its playbook. `Err` means its events item was not written
    /// (the batch stops there); once it is written, or may have been, the event is always
    /// returned, with a report that says whether its playbook started.
    async fn create_one(
        &self,
        event: &InitialEvent,
        hash: Option<&str>,
        arn: &str,
    ) -> Result<Recorded, Error> {
        let id = Uuid::new_v4().to_string();
        let execution_id = Uuid::new_v4().to_string();
        let (item, unknown) = match self.store_event(event, hash, id).await? {
            Written::Yes(item) => (item, None),
            Written::Unknown(item, error) => (item, Some(error)),
        };
        let metadata = EventMetadata {
            id: item.id.clone(),
            investigation_id: item.investigation_id.clone(),
            execution_id: execution_id.clone(),
            status_: item.status_,
            is_duplicate: item.is_duplicate,
        };
        // An original holds its hash's dedup mapping; it gives it up if no playbook starts.
        let claim = hash.filter(|_| !item.is_duplicate);
        let created = CreatedEvent {
            event: event.clone(),
            metadata,
        };
        let (report, storage_failure) = match unknown {
            None => self.start_playbook(item, claim, execution_id, arn).await,
            Some(error) => {
                let mut report = report_for(&item, execution_id, arn);
                report.error = format!("{UNKNOWN_WRITE}{error}");
                self.release(claim, &item.id, &mut report).await;
                log_failed_start(&report);
                (report, Some(error))
            }
        };
        Ok(Recorded {
            created,
            report,
            storage_failure,
        })
    }

    /// Deduplicates and writes the events item (and, for an original, its dedup mapping).
    /// `Err`: not written.
    async fn store_event(
        &self,
        event: &InitialEvent,
        hash: Option<&str>,
        id: String,
    ) -> Result<Written, Error> {
        let item = EventItem::original(event, id);
        let Some(hash) = hash else {
            let result = self.store.put_event(&item).await;
            return self.settle(item, result).await;
        };
        for attempt in 0..DEDUP_ATTEMPTS {
            let mapping = self.store.dedup_mapping(hash).await?;
            if attempt > 0 && mapping.as_deref() == Some(item.id.as_str()) {
                // An earlier attempt's claim took effect, though it was answered otherwise.
                return Ok(Written::Yes(item));
            }
            let open = match &mapping {
                Some(current) => self.open_investigation(current).await?,
                None => None,
            };
            if let Some(investigation_id) = open {
                let item = item.into_duplicate(investigation_id);
                let result = self.store.put_event(&item).await;
                return self.settle(item, result).await;
            }
            match self
                .store
                .put_original(&item, hash, mapping.as_deref())
                .await
            {
                Ok(true) => return Ok(Written::Yes(item)),
                Ok(false) => {}
                Err(error) => return self.settle(item, Err(error)).await,
            }
        }
        Err(StorageError::new(
            StorageErrorKind::Conflict,
            format!("dedup mapping {hash} kept changing; gave up after {DEDUP_ATTEMPTS} attempts"),
        )
        .into())
    }

    /// Settles the outcome of writing `item`. A failure that may have been written anyway
    /// (the store unavailable: a timeout, a lost answer, a server error) is settled by reading
    /// the item back: found, it was written (an original's dedup mapping with it, in the same
    /// transaction); not found, it was not; if the read fails too, it is unknown.
    async fn settle(&self, item: EventItem, result: Result<(), Error>) -> Result<Written, Error> {
        let Err(error) = result else {
            return Ok(Written::Yes(item));
        };
        if error.storage_kind() != Some(StorageErrorKind::Unavailable) {
            return Err(error);
        }
        match self.store.event(&item.id).await {
            Ok(Some(_)) => {
                tracing::warn!(id = %item.id, %error, "the events item was written though its write failed");
                Ok(Written::Yes(item))
            }
            Ok(None) => Err(error),
            Err(read_error) => {
                tracing::error!(id = %item.id, %error, %read_error, "unknown whether the events item was written");
                Ok(Written::Unknown(item, error))
            }
        }
    }

    /// The investigation id of event `id` if it exists and is not closed.
    async fn open_investigation(&self, id: &str) -> Result<Option<String>, Error> {
        let Some(found) = self.store.investigation(id).await? else {
            return Ok(None);
        };
        if found.get("status_").and_then(Value::as_str) == Some(Status::Closed.as_str()) {
            return Ok(None);
        }
        let investigation_id = found
            .get("investigation_id")
            .and_then(Value::as_str)
            .unwrap_or(id);
        Ok(Some(investigation_id.to_owned()))
    }

    /// An original whose playbook did not start gives up its dedup mapping (only while the
    /// mapping still names it), so that the next identical alert opens a new investigation
    /// and starts a playbook instead of joining one that nothing works on. A failure to do
    /// so is noted on the report; it does not stop the batch (the start had failed already,
    /// and a store that is down stops the next event anyway).
    async fn release(&self, claim: Option<&str>, id: &str, report: &mut ExecutionReport) {
        let Some(hash) = claim else {
            return;
        };
        if let Err(error) = self.store.release_dedup_mapping(hash, id).await {
            report.error = format!("{}; dedup mapping not released: {error}", report.error);
        }
    }

    /// Writes the results item, then starts the execution. A failed start becomes the report's
    /// error and is noted on the results item (`start_error`), so the tables alone say which
    /// playbooks started. A storage failure is returned too: it stops the batch.
    async fn start_playbook(
        &self,
        item: EventItem,
        claim: Option<&str>,
        execution_id: String,
        arn: &str,
    ) -> (ExecutionReport, Option<Error>) {
        let id = item.id.clone();
        let mut report = report_for(&item, execution_id.clone(), arn);
        // The input is encoded once: the results item stores it, the launcher sends its text,
        // and the size check measures that text.
        let written = match PlaybookStart::new(item, execution_id.as_str()) {
            Ok(start) => {
                let too_large = start.is_too_large().then(|| start.len());
                let (input, input_json) = start.into_parts();
                let results = ResultsItem {
                    execution_id: execution_id.clone(),
                    datetime: now_timestamp(),
                    investigation_id: report.investigation_id.clone(),
                    results: input,
                };
                self.store
                    .put_results(&results)
                    .await
                    .map(|()| (input_json, too_large))
            }
            Err(e) => Err(StorageError::new(
                StorageErrorKind::InvalidData,
                format!("cannot encode the playbook input: {e}"),
            )
            .with_source(e)
            .into()),
        };
        let (input_json, too_large) = match written {
            Ok(written) => written,
            Err(error) => {
                // Without its results item a playbook cannot run: do not start it.
                report.error = format!("playbook not started: {error}");
                self.release(claim, &id, &mut report).await;
                log_failed_start(&report);
                return (report, Some(error));
            }
        };
        let started = match too_large {
            // Only a duplicate of an investigation with an unusually long id gets here: the
            // batch was sized with generated ids. Step Functions would refuse the input.
            Some(bytes) => Err(LaunchError::new(
                LaunchErrorKind::InvalidInput,
                format!(
                    "playbook not started: its input is {bytes} bytes, over the {MAX_PLAYBOOK_INPUT_BYTES}-byte limit"
                ),
            )
            .into()),
            None => {
                self.launcher
                    .start_execution(arn, &execution_id, &input_json)
                    .await
            }
        };
        let Err(error) = started else {
            tracing::info!(
                investigation_id = %report.investigation_id,
                execution_id = %report.execution_id,
                playbook = %report.playbook,
                statemachinearn = %report.statemachinearn,
                "Playbook execution started"
            );
            return (report, None);
        };
        report.error = error.to_string();
        let recorded = self
            .store
            .record_start_failure(&execution_id, &report.error)
            .await;
        let not_recorded = match recorded {
            Ok(()) => None,
            Err(store_error) => {
                report.error = format!("{}; not recorded: {store_error}", report.error);
                Some(store_error)
            }
        };
        self.release(claim, &id, &mut report).await;
        log_failed_start(&report);
        (report, not_recorded)
    }
}

/// What a report says before its playbook start: nothing went wrong yet.
fn report_for(item: &EventItem, execution_id: String, arn: &str) -> ExecutionReport {
    ExecutionReport {
        investigation_id: item.investigation_id.clone(),
        execution_id,
        playbook: item.playbook.clone(),
        statemachinearn: arn.to_owned(),
        error: String::new(),
    }
}

/// How a report begins when it is unknown whether the event's events item was written.
pub(crate) const UNKNOWN_WRITE: &str =
    "playbook not started: unknown whether the events item was written: ";

/// Whether the events item was written.
enum Written {
    /// Written (for an original, with its dedup mapping).
    Yes(EventItem),
    /// Its write failed in a way that may have written it, and reading it back failed too.
    Unknown(EventItem, Error),
}

/// One event whose events item is written.
struct Recorded {
    created: CreatedEvent,
    report: ExecutionReport,
    /// A storage failure after the events item was written; it stops the batch.
    storage_failure: Option<Error>,
}

fn incomplete(source: Error, total: usize, completed: CreateEventsOutput) -> Error {
    Error::Incomplete {
        source: Box::new(source),
        total,
        completed: Box::new(completed),
    }
}

fn log_failed_start(report: &ExecutionReport) {
    tracing::error!(
        investigation_id = %report.investigation_id,
        execution_id = %report.execution_id,
        playbook = %report.playbook,
        statemachinearn = %report.statemachinearn,
        error = %report.error,
        "Failed to start statemachine execution"
    );
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;
    use std::sync::Mutex;

    use serde_json::json;

    use super::*;
    use crate::model::JsonObject;

    /// Events, dedup mappings and results in memory.
    #[derive(Default)]
    struct MemoryStore {
        events: Mutex<HashMap<String, JsonObject>>,
        dedup: Mutex<HashMap<String, String>>,
        results: Mutex<HashMap<String, JsonObject>>,
    }

    impl MemoryStore {
        /// The results item of `execution_id`, as the tests read it back.
        async fn results(&self, execution_id: &str) -> Result<Option<JsonObject>, Error> {
            Ok(self.results.lock().unwrap().get(execution_id).cloned())
        }
    }

    fn object<T: serde::Serialize>(record: &T) -> JsonObject {
        match serde_json::to_value(record).unwrap() {
            Value::Object(map) => map,
            other => panic!("{other}"),
        }
    }

    impl EventStore for MemoryStore {
        async fn dedup_mapping(&self, dedup_hash: &str) -> Result<Option<String>, Error> {
            Ok(self.dedup.lock().unwrap().get(dedup_hash).cloned())
        }
        async fn event(&self, id: &str) -> Result<Option<JsonObject>, Error> {
            Ok(self.events.lock().unwrap().get(id).cloned())
        }
        async fn put_original(
            &self,
            event: &EventItem,
            dedup_hash: &str,
            expected: Option<&str>,
        ) -> Result<bool, Error> {
            let mut dedup = self.dedup.lock().unwrap();
            if dedup.get(dedup_hash).map(String::as_str) != expected {
                return Ok(false);
            }
            dedup.insert(dedup_hash.to_owned(), event.investigation_id.clone());
            self.events
                .lock()
                .unwrap()
                .insert(event.id.clone(), object(event));
            Ok(true)
        }
        async fn put_event(&self, event: &EventItem) -> Result<(), Error> {
            self.events
                .lock()
                .unwrap()
                .insert(event.id.clone(), object(event));
            Ok(())
        }
        async fn put_results(&self, item: &ResultsItem) -> Result<(), Error> {
            self.results
                .lock()
                .unwrap()
                .insert(item.execution_id.clone(), object(item));
            Ok(())
        }
        async fn record_start_failure(&self, execution_id: &str, error: &str) -> Result<(), Error> {
            let mut results = self.results.lock().unwrap();
            let item = results.get_mut(execution_id).unwrap();
            item.insert("start_error".into(), json!(error));
            Ok(())
        }
    }

    /// Records the exact text of every input it is asked to start.
    #[derive(Default)]
    struct RecordingLauncher {
        inputs: Mutex<Vec<String>>,
    }

    impl PlaybookLauncher for RecordingLauncher {
        async fn start_execution(&self, _: &str, _: &str, input: &str) -> Result<(), Error> {
            self.inputs.lock().unwrap().push(input.to_owned());
            Ok(())
        }
    }

    fn creator() -> EventCreator<MemoryStore, RecordingLauncher> {
        EventCreator::new(
            MemoryStore::default(),
            RecordingLauncher::default(),
            StateMachineArns::new("us-east-1", "123456789012").unwrap(),
        )
    }

    /// One event deduplicated on `username` whose `blob` detail is `len` bytes long.
    fn event_with_blob(len: usize) -> Value {
        json!({
            "created_at": "2021-03-30T18:00:00.000000Z",
            "event_type": "T",
            "playbook": "P",
            "details": [{"username": "u", "blob": "x".repeat(len)}],
            "dedup_keys": ["username"],
        })
    }

    /// The blob length at which the event's largest playbook input is exactly the limit.
    fn blob_at_limit() -> usize {
        let batch = EventBatch::from_json(&event_with_blob(0)).unwrap();
        let overhead = PlaybookStart::largest(&batch.events()[0]).unwrap().len();
        MAX_PLAYBOOK_INPUT_BYTES - overhead
    }

    fn sent(creator: &EventCreator<MemoryStore, RecordingLauncher>) -> Vec<usize> {
        let inputs = creator.launcher().inputs.lock().unwrap();
        inputs.iter().map(String::len).collect()
    }

    #[tokio::test]
    async fn the_size_check_measures_the_bytes_sent() {
        let creator = creator();
        let input = event_with_blob(blob_at_limit());
        let original = creator.create_events(&input).await.unwrap();
        let duplicate = creator.create_events(&input).await.unwrap();
        assert!(duplicate.events[0].metadata.is_duplicate);
        // A duplicate (`closed`) is the largest input an event can produce: it is sent at
        // exactly the limit; the original (`open`, not a duplicate) is a byte shorter.
        assert_eq!(
            sent(&creator),
            [MAX_PLAYBOOK_INPUT_BYTES - 1, MAX_PLAYBOOK_INPUT_BYTES]
        );
        // What was sent is what the results item holds.
        let execution_id = &duplicate.execution_reports[0].execution_id;
        let stored = creator
            .store()
            .results(execution_id)
            .await
            .unwrap()
            .unwrap();
        let sent_text = creator.launcher().inputs.lock().unwrap()[1].clone();
        assert_eq!(
            stored["results"],
            serde_json::from_str::<Value>(&sent_text).unwrap()
        );
        assert!(original.execution_reports[0].error.is_empty());

        let over = event_with_blob(blob_at_limit() + 1);
        let error = creator.create_events(&over).await.unwrap_err();
        assert!(
            matches!(
                error,
                Error::InvalidEvent(crate::InvalidEvent::TooLarge {
                    bytes,
                    limit: MAX_PLAYBOOK_INPUT_BYTES,
                    ..
                }) if bytes == MAX_PLAYBOOK_INPUT_BYTES + 1
            ),
            "{error:?}"
        );
        assert_eq!(sent(&creator).len(), 2, "nothing more was sent");
    }

    #[tokio::test]
    async fn a_real_input_over_the_limit_is_not_sent() {
        let creator = creator();
        let input = event_with_blob(blob_at_limit());
        let batch = EventBatch::from_json(&input).unwrap();
        let hash = batch.dedup_hashes()[0].clone().unwrap();
        // An open investigation written by other software, with a longer id than ours.
        let long_id = "i".repeat(40);
        let investigation = EventItem::original(&batch.events()[0], long_id.as_str());
        creator
            .store()
            .put_original(&investigation, &hash, None)
            .await
            .unwrap();
        let error = creator.create_events(&input).await.unwrap_err();
        let output = error.output().unwrap();
        assert_eq!(output.events[0].metadata.investigation_id, long_id);
        let report = &output.execution_reports[0];
        assert!(
            report.error.contains("over the 262144-byte limit"),
            "{report:?}"
        );
        assert!(sent(&creator).is_empty());
        let stored = creator
            .store()
            .results(&report.execution_id)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(stored["start_error"], json!(report.error));
    }
}
