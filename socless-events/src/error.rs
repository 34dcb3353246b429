//! The crate's error types.

use crate::model::CreateEventsOutput;

/// Why `event_details` was rejected. Nothing has been written when you see one of these.
///
/// The `Display` texts are those of the original Python library, byte for byte, so logs and
/// alerts that match on them keep working.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum InvalidEvent {
    /// `event_details` is not a JSON object.
    #[error("'{type_name}' object has no attribute 'setdefault'")]
    NotAnObject {
        /// Python's name for the JSON type that was sent (`list`, `str`, ...).
        type_name: &'static str,
    },
    /// A required field is missing (`details`, `event_type` or `playbook`).
    #[error("'{0}'")]
    MissingField(&'static str),
    /// `created_at` is not `YYYY-MM-DDTHH:MM:SS.fZ` with 1 to 6 fraction digits.
    #[error(
        "Error: Supplied 'created_at' field is not ISO8601 millisecond-precision string, shifted to UTC"
    )]
    CreatedAt,
    /// `details` (or one of its entries) is not a JSON object.
    #[error("Error: Supplied 'details' is not a dictionary")]
    Details,
    /// `details` is an empty list: there is no event to create.
    #[error("Error: Supplied 'details' is an empty list")]
    EmptyDetails,
    /// `data_types` is not a JSON object.
    #[error("Error: Supplied 'data_types' is not a dictionary")]
    DataTypes,
    /// `event_meta` is not a JSON object.
    #[error("Error: Supplied 'event_meta' is not a dictionary")]
    EventMeta,
    /// `event_type` is not a string.
    #[error("Error: Supplied 'event_type' is not a string")]
    EventType,
    /// `playbook` is not a string.
    #[error("Error: Supplied Playbook is not a string")]
    Playbook,
    /// `playbook` cannot name a state machine: Step Functions names are 1 to 80 characters with
    /// no whitespace, no control characters and none of the characters ``<>{}[]?*"#%\^|~`$&,;:/``
    /// (so a playbook name cannot change the ARN it is started at).
    #[error("Error: Supplied Playbook is not a valid state machine name")]
    PlaybookName,
    /// `details`, `data_types` or `event_meta` nests deeper than DynamoDB can store.
    #[error("Error: Supplied '{field}' is nested deeper than {limit} levels")]
    TooDeep {
        /// The field (`details`, `data_types` or `event_meta`).
        field: &'static str,
        /// The deepest nesting accepted.
        limit: usize,
    },
    /// An event is too large to start: its playbook input would exceed the Step Functions
    /// input limit (which also keeps its DynamoDB items under 400 KB).
    #[error(
        "Error: event {index} is too large: its playbook input would be {bytes} bytes, over the {limit}-byte limit"
    )]
    TooLarge {
        /// The event's position in `details`, from 0.
        index: usize,
        /// The size its playbook input would have.
        bytes: usize,
        /// The largest accepted size.
        limit: usize,
    },
    /// `dedup_keys` is not a list.
    #[error("Error: Supplied 'dedup_keys' field is not a list")]
    DedupKeys,
    /// A detail lacks one of the `dedup_keys` (the text is Python's `KeyError`: the key's repr).
    #[error("{key_repr}")]
    MissingDedupKey {
        /// The missing key as Python prints it, e.g. `'username'`.
        key_repr: String,
    },
    /// A `dedup_keys` entry is a list or an object, which cannot name a field.
    #[error("unhashable type: '{type_name}'")]
    UnhashableDedupKey {
        /// Python's name for the entry's type (`list` or `dict`).
        type_name: &'static str,
    },
    /// A dedup key names a value that is not a string, so it cannot be lowercased.
    #[error("'{type_name}' object has no attribute 'lower'")]
    DedupValueNotString {
        /// Python's name for the value's type (`int`, `float`, `bool`, `NoneType`, ...).
        type_name: &'static str,
    },
}

/// Everything that can go wrong in this crate.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The input was rejected before anything was written.
    #[error(transparent)]
    InvalidEvent(#[from] InvalidEvent),
    /// Configuration is missing or malformed (table names, region, account, ARNs).
    #[error("configuration error: {0}")]
    Config(String),
    /// A request to an event endpoint failed authentication (see [`crate::auth`]).
    #[error("request not authenticated: {0}")]
    Unauthenticated(&'static str),
    /// The event store failed (DynamoDB or SQLite). The text never holds credentials.
    #[error("storage error: {0}")]
    Storage(String),
    /// The playbook launcher failed to start an execution. The text mirrors the AWS error,
    /// e.g. `An error occurred (StateMachineDoesNotExist) when calling the StartExecution operation: ...`.
    #[error("{0}")]
    Launch(String),
    /// The store failed part-way through a batch, which stopped there. `completed` holds every
    /// event whose events item was written, in batch order, each with a report that says
    /// whether its playbook started (an empty `error`) or not; the later events of the batch
    /// were not written at all. So nothing is lost silently.
    #[error("{source} ({})", progress(completed, *total))]
    Incomplete {
        /// What failed.
        source: Box<Error>,
        /// How many events the batch held.
        total: usize,
        /// The events and reports completed before the failure.
        completed: Box<CreateEventsOutput>,
    },
    /// Every event was stored, but some playbooks did not start. `output` holds every event and
    /// every report (the failed ones carry their `error`).
    #[error("{failed} of {total} events failed to start playbooks.")]
    PlaybooksFailed {
        /// How many starts failed.
        failed: usize,
        /// How many events the batch held.
        total: usize,
        /// All events and execution reports of the batch.
        output: Box<CreateEventsOutput>,
    },
}

/// `2 of 5 events recorded, 1 playbook started`.
fn progress(completed: &CreateEventsOutput, total: usize) -> String {
    let recorded = completed.events.len();
    let started = completed
        .execution_reports
        .iter()
        .filter(|report| report.error.is_empty())
        .count();
    let plural = if started == 1 { "" } else { "s" };
    format!("{recorded} of {total} events recorded, {started} playbook{plural} started")
}

impl Error {
    /// The events and execution reports that exist despite this error, if any.
    pub fn output(&self) -> Option<&CreateEventsOutput> {
        match self {
            Error::Incomplete { completed, .. } => Some(completed),
            Error::PlaybooksFailed { output, .. } => Some(output),
            _ => None,
        }
    }
}
