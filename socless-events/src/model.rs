//! The records `create_events` writes and returns. Field names and order follow the original.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// A JSON object.
pub type JsonObject = Map<String, Value>;

/// The status of an investigation (`status_` in the events table).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum Status {
    /// An original event opens an investigation.
    Open,
    /// A closed investigation; duplicates are stored closed from the start.
    Closed,
}

impl Status {
    /// The stored text, `open` or `closed`.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Open => "open",
            Status::Closed => "closed",
        }
    }
}

/// One event as the caller described it (the `event` of each returned entry).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InitialEvent {
    /// When the event happened, `YYYY-MM-DDTHH:MM:SS.ffffffZ`.
    pub created_at: String,
    /// The kind of alert.
    pub event_type: String,
    /// The state machine (playbook) name.
    pub playbook: String,
    /// This event's details.
    pub details: JsonObject,
    /// Free-form type hints for the details.
    pub data_types: JsonObject,
    /// Free-form metadata.
    pub event_meta: JsonObject,
    /// The detail keys whose values identify duplicates.
    pub dedup_keys: Vec<String>,
}

/// What `create_events` decided for one event (the `metadata` of each returned entry).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EventMetadata {
    /// The events table key of this event.
    #[serde(rename = "_id")]
    pub id: String,
    /// The investigation this event belongs to (its own id for an original).
    pub investigation_id: String,
    /// The playbook execution name.
    pub execution_id: String,
    /// `open` for an original, `closed` for a duplicate.
    pub status_: Status,
    /// Whether an open investigation with the same dedup hash already existed.
    pub is_duplicate: bool,
}

/// One entry of [`CreateEventsOutput::events`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CreatedEvent {
    /// The event as described by the caller.
    pub event: InitialEvent,
    /// Ids and deduplication outcome.
    pub metadata: EventMetadata,
}

/// The outcome of one playbook start. `error` is empty on success.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExecutionReport {
    /// The investigation of the event.
    pub investigation_id: String,
    /// The execution name.
    pub execution_id: String,
    /// The playbook (state machine) name.
    pub playbook: String,
    /// The state machine ARN the start went to.
    pub statemachinearn: String,
    /// Why the start failed, or the empty string.
    pub error: String,
}

/// What `create_events` returns: `{"events": [...], "execution_reports": [...]}`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct CreateEventsOutput {
    /// One entry per event, in batch order.
    pub events: Vec<CreatedEvent>,
    /// One report per event, in batch order.
    pub execution_reports: Vec<ExecutionReport>,
}

/// The events table item: exactly the ten fields the original writes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EventItem {
    /// Partition key.
    pub id: String,
    /// The investigation (equal to `id` for an original).
    pub investigation_id: String,
    /// `open` or `closed`.
    pub status_: Status,
    /// Whether this event duplicates an open investigation.
    pub is_duplicate: bool,
    /// When the event happened.
    pub created_at: String,
    /// The kind of alert.
    pub event_type: String,
    /// The playbook name.
    pub playbook: String,
    /// The event's details.
    pub details: JsonObject,
    /// Type hints.
    pub data_types: JsonObject,
    /// Metadata.
    pub event_meta: JsonObject,
}

/// The `artifacts` of a playbook input.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PlaybookArtifacts {
    /// The events table item.
    pub event: EventItem,
    /// The execution name.
    pub execution_id: String,
}

/// The execution input Socless playbooks expect.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PlaybookInput {
    /// The execution name.
    pub execution_id: String,
    /// The event and the execution id.
    pub artifacts: PlaybookArtifacts,
    /// Always `{}` at the start.
    pub results: JsonObject,
    /// Always `{}` at the start.
    pub errors: JsonObject,
}

/// The results table item written before each start.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ResultsItem {
    /// Partition key: the execution name.
    pub execution_id: String,
    /// When the item was written, `YYYY-MM-DDTHH:MM:SS.ffffffZ`.
    pub datetime: String,
    /// The investigation of the event.
    pub investigation_id: String,
    /// The playbook input.
    pub results: PlaybookInput,
}
