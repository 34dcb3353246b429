//! `create_events`: the per-event flow over any store and launcher.

use serde_json::Value;
use uuid::Uuid;

use crate::arn::StateMachineArns;
use crate::backend::{EventStore, PlaybookLauncher};
use crate::batch::{EventBatch, now_timestamp};
use crate::error::Error;
use crate::model::{
    CreateEventsOutput, CreatedEvent, EventItem, EventMetadata, ExecutionReport, InitialEvent,
    JsonObject, PlaybookArtifacts, PlaybookInput, ResultsItem, Status,
};

/// How often an original retries its dedup claim when other writers keep changing the mapping.
const DEDUP_ATTEMPTS: usize = 8;

/// Creates Socless events: validates, deduplicates, stores and starts playbooks.
#[derive(Debug, Clone)]
pub struct EventCreator<S, L> {
    store: S,
    launcher: L,
    arns: StateMachineArns,
}

impl<S: EventStore, L: PlaybookLauncher> EventCreator<S, L> {
    /// A creator writing to `store` and starting playbooks with `launcher` at `arns`.
    pub fn new(store: S, launcher: L, arns: StateMachineArns) -> Self {
        Self {
            store,
            launcher,
            arns,
        }
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

    /// For each event, strictly in batch order: dedup lookup, events item, results item,
    /// playbook start. Failed starts are reported in [`Error::PlaybooksFailed`], which still
    /// carries every event and report.
    pub async fn create_batch(&self, batch: &EventBatch) -> Result<CreateEventsOutput, Error> {
        let arn = self.arns.arn(batch.playbook());
        let total = batch.len();
        let mut output = CreateEventsOutput::default();
        for (event, hash) in batch.events().iter().zip(batch.dedup_hashes()) {
            let recorded = match self.create_one(event, hash.as_deref(), &arn).await {
                Ok(recorded) => recorded,
                Err(source) => return Err(incomplete(source, total, output)),
            };
            output.events.push(recorded.created);
            output.execution_reports.push(recorded.report);
            if let Some(source) = recorded.storage_failure {
                return Err(incomplete(source, total, output));
            }
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
    /// (the batch stops there); once it is written, the event is always returned, with a
    /// report that says whether its playbook started.
    async fn create_one(
        &self,
        event: &InitialEvent,
        hash: Option<&str>,
        arn: &str,
    ) -> Result<Recorded, Error> {
        let id = Uuid::new_v4().to_string();
        let execution_id = Uuid::new_v4().to_string();
        let item = self.store_event(event, hash, id).await?;
        let metadata = EventMetadata {
            id: item.id.clone(),
            investigation_id: item.investigation_id.clone(),
            execution_id: execution_id.clone(),
            status_: item.status_,
            is_duplicate: item.is_duplicate,
        };
        let (report, storage_failure) = self.start_playbook(item, execution_id, arn).await;
        let created = CreatedEvent {
            event: event.clone(),
            metadata,
        };
        Ok(Recorded {
            created,
            report,
            storage_failure,
        })
    }

    /// Deduplicates and writes the events item (and, for an original, its dedup mapping).
    async fn store_event(
        &self,
        event: &InitialEvent,
        hash: Option<&str>,
        id: String,
    ) -> Result<EventItem, Error> {
        let mut item = event_item(event, id);
        let Some(hash) = hash else {
            self.store.put_event(&item).await?;
            return Ok(item);
        };
        for _ in 0..DEDUP_ATTEMPTS {
            let mapping = self.store.dedup_mapping(hash).await?;
            let open = match &mapping {
                Some(current) => self.open_investigation(current).await?,
                None => None,
            };
            if let Some(investigation_id) = open {
                item.investigation_id = investigation_id;
                item.status_ = Status::Closed;
                item.is_duplicate = true;
                self.store.put_event(&item).await?;
                return Ok(item);
            }
            if self
                .store
                .put_original(&item, hash, mapping.as_deref())
                .await?
            {
                return Ok(item);
            }
        }
        Err(Error::Storage(format!(
            "dedup mapping {hash} kept changing; gave up after {DEDUP_ATTEMPTS} attempts"
        )))
    }

    /// The investigation id of event `id` if it exists and is not closed.
    async fn open_investigation(&self, id: &str) -> Result<Option<String>, Error> {
        let Some(found) = self.store.event(id).await? else {
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

    /// Writes the results item, then starts the execution. A failed start becomes the report's
    /// error and is noted on the results item (`start_error`), so the tables alone say which
    /// playbooks started. A storage failure is returned too: it stops the batch.
    async fn start_playbook(
        &self,
        item: EventItem,
        execution_id: String,
        arn: &str,
    ) -> (ExecutionReport, Option<Error>) {
        let mut report = ExecutionReport {
            investigation_id: item.investigation_id.clone(),
            execution_id: execution_id.clone(),
            playbook: item.playbook.clone(),
            statemachinearn: arn.to_owned(),
            error: String::new(),
        };
        let input = PlaybookInput {
            execution_id: execution_id.clone(),
            artifacts: PlaybookArtifacts {
                event: item,
                execution_id: execution_id.clone(),
            },
            results: JsonObject::new(),
            errors: JsonObject::new(),
        };
        let written = match serde_json::to_string(&input) {
            Ok(input_json) => {
                let results = ResultsItem {
                    execution_id: execution_id.clone(),
                    datetime: now_timestamp(),
                    investigation_id: report.investigation_id.clone(),
                    results: input,
                };
                self.store.put_results(&results).await.map(|()| input_json)
            }
            Err(e) => Err(Error::Storage(format!(
                "cannot encode the playbook input: {e}"
            ))),
        };
        let input_json = match written {
            Ok(input_json) => input_json,
            Err(error) => {
                // Without its results item a playbook cannot run: do not start it.
                report.error = format!("playbook not started: {error}");
                log_failed_start(&report);
                return (report, Some(error));
            }
        };
        let Err(error) = self
            .launcher
            .start_execution(arn, &execution_id, &input_json)
            .await
        else {
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
        log_failed_start(&report);
        match self
            .store
            .record_start_failure(&execution_id, &report.error)
            .await
        {
            Ok(()) => (report, None),
            Err(store_error) => {
                report.error = format!("{}; not recorded: {store_error}", report.error);
                (report, Some(store_error))
            }
        }
    }
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

/// The events item of an original: its own investigation, open.
pub(crate) fn event_item(event: &InitialEvent, id: String) -> EventItem {
    EventItem {
        investigation_id: id.clone(),
        id,
        status_: Status::Open,
        is_duplicate: false,
        created_at: event.created_at.clone(),
        event_type: event.event_type.clone(),
        playbook: event.playbook.clone(),
        details: event.details.clone(),
        data_types: event.data_types.clone(),
        event_meta: event.event_meta.clone(),
    }
}
