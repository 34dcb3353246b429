//! The records `create_events` writes and returns. Field names and order follow the original.
//!
//! The events item and the playbook input of an event are built here and nowhere else
//! ([`PlaybookStart`]), so the input checked against [`MAX_PLAYBOOK_INPUT_BYTES`] is the input
//! that is stored and sent.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// The largest playbook input accepted, in bytes: Step Functions' limit for an execution input
/// (256 KiB). It binds before DynamoDB's 400 KB item limit: the results item holds the same
/// data, and DynamoDB's encoding is at most 1.5 times the JSON text.
pub const MAX_PLAYBOOK_INPUT_BYTES: usize = 262_144;

/// A generated id (a hyphenated UUID) stands in for the real ones when an event is sized
/// before it has ids; every id this crate generates has this length.
const ID_PLACEHOLDER: &str = "00000000-0000-0000-0000-000000000000";

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
#[non_exhaustive]
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
#[non_exhaustive]
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
#[non_exhaustive]
pub struct CreatedEvent {
    /// The event as described by the caller.
    pub event: InitialEvent,
    /// Ids and deduplication outcome.
    pub metadata: EventMetadata,
}

/// The outcome of one playbook start. `error` is empty on success.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
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
#[non_exhaustive]
pub struct CreateEventsOutput {
    /// One entry per event, in batch order.
    pub events: Vec<CreatedEvent>,
    /// One report per event, in batch order.
    pub execution_reports: Vec<ExecutionReport>,
}

/// The events table item: exactly the ten fields the original writes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
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
#[non_exhaustive]
pub struct PlaybookArtifacts {
    /// The events table item.
    pub event: EventItem,
    /// The execution name.
    pub execution_id: String,
}

/// The execution input Socless playbooks expect.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
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
#[non_exhaustive]
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

impl EventItem {
    /// The events item of an original event: its own investigation (`investigation_id` is
    /// `id`), `open`, not a duplicate.
    pub fn original(event: &InitialEvent, id: impl Into<String>) -> Self {
        let id = id.into();
        Self {
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

    /// This item as a duplicate of the open investigation `investigation_id`: it joins that
    /// investigation and is `closed` from the start.
    pub fn into_duplicate(mut self, investigation_id: impl Into<String>) -> Self {
        self.investigation_id = investigation_id.into();
        self.status_ = Status::Closed;
        self.is_duplicate = true;
        self
    }
}

impl PlaybookInput {
    /// The input Socless playbooks expect for `event`, started as execution `execution_id`:
    /// empty `results` and `errors`.
    pub fn new(event: EventItem, execution_id: impl Into<String>) -> Self {
        let execution_id = execution_id.into();
        Self {
            artifacts: PlaybookArtifacts {
                event,
                execution_id: execution_id.clone(),
            },
            execution_id,
            results: JsonObject::new(),
            errors: JsonObject::new(),
        }
    }
}

/// One event's playbook start: the execution input (which holds the events item) and its
/// JSON text, made together. The text is what Step Functions receives, and the size check
/// ([`PlaybookStart::is_too_large`]) measures that text, so what is checked is what is sent.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct PlaybookStart {
    input: PlaybookInput,
    json: String,
}

impl PlaybookStart {
    /// The start of `event` as execution `execution_id`.
    pub(crate) fn new(
        event: EventItem,
        execution_id: impl Into<String>,
    ) -> Result<Self, serde_json::Error> {
        let input = PlaybookInput::new(event, execution_id);
        let json = serde_json::to_string(&input)?;
        Ok(Self { input, json })
    }

    /// The largest start `event` can produce, for checking it before anything is written:
    /// generated ids have the placeholder's length, and the event is sized as a duplicate
    /// (`"closed"` and `true` take a byte more than `"open"` and `false`). A duplicate of an
    /// investigation whose id is longer than a generated one (written by other software) can
    /// still exceed it, so each start checks its real input again.
    pub(crate) fn largest(event: &InitialEvent) -> Result<Self, serde_json::Error> {
        let item = EventItem::original(event, ID_PLACEHOLDER).into_duplicate(ID_PLACEHOLDER);
        Self::new(item, ID_PLACEHOLDER)
    }

    /// The size of the input as sent, in bytes.
    pub(crate) fn len(&self) -> usize {
        self.json.len()
    }

    /// Whether the input as sent exceeds [`MAX_PLAYBOOK_INPUT_BYTES`].
    pub(crate) fn is_too_large(&self) -> bool {
        self.json.len() > MAX_PLAYBOOK_INPUT_BYTES
    }

    /// The execution input (for the results item) and its JSON text (for the launcher).
    pub(crate) fn into_parts(self) -> (PlaybookInput, String) {
        (self.input, self.json)
    }
}
