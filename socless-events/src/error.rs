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
    /// (so a playbook name cannot change the ARN it is started at). The text says what is
    /// wrong: `... name: '/' at character 8 is not allowed`, `... name: it is empty`, or
    /// `... name: it is 81 characters long, over 80`.
    #[error("Error: Supplied Playbook is not a valid state machine name: {reason}")]
    PlaybookName {
        /// What is wrong with it, e.g. `' ' (a space) at character 8 is not allowed`.
        reason: String,
    },
    /// `details`, `data_types` or `event_meta` nests deeper than DynamoDB can store.
    #[error("Error: Supplied '{field}' is nested deeper than {limit} levels")]
    TooDeep {
        /// The field (`details`, `data_types` or `event_meta`).
        field: &'static str,
        /// The deepest nesting accepted.
        limit: usize,
    },
    /// A number DynamoDB cannot store exactly: a magnitude under 1e-130 or from 1e126 on
    /// (DynamoDB's range), or a float of 2^53 or more, which may be an integer that JSON
    /// parsing already rounded (`123456789012345678901`). Send such values as strings.
    #[error(
        "Error: Supplied '{field}' holds the number {number}, which DynamoDB cannot store exactly (magnitudes from 1e-130 to under 1e126; integers beyond 64 bits only as strings)"
    )]
    Number {
        /// The field (`details`, `data_types` or `event_meta`).
        field: &'static str,
        /// The number as parsed.
        number: String,
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
    /// `details` holds more entries than the endpoint accepts in one alert (the `lambda`
    /// endpoint's `SOCLESS_MAX_DETAILS`).
    #[error(
        "Error: Supplied 'details' has {count} entries, over this endpoint's limit of {limit} (SOCLESS_MAX_DETAILS)"
    )]
    TooManyDetails {
        /// How many details the alert carried.
        count: usize,
        /// The most accepted.
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
    /// The event store failed (DynamoDB or SQLite); [`StorageError::kind`] says how, e.g.
    /// throttled or a missing table.
    #[error("storage error: {0}")]
    Storage(#[from] StorageError),
    /// The playbook launcher failed to start an execution; [`LaunchError::kind`] says how. The
    /// text mirrors the AWS error, e.g.
    /// `An error occurred (StateMachineDoesNotExist) when calling the StartExecution operation: ...`.
    #[error(transparent)]
    Launch(#[from] LaunchError),
    /// The store failed part-way through a batch, or its deadline came
    /// ([`Error::DeadlineReached`]), and it stopped there: no event started after the failure,
    /// and the events in flight finished. `completed` holds every event whose events item was
    /// written, or may have been (its report then begins `playbook not started: unknown
    /// whether the events item was written`), in batch order, each with a report that says
    /// whether its playbook started (an empty `error`) or not; an event of the batch missing
    /// from it was not written at all (with concurrency, such gaps need not be at the end).
    /// So nothing is lost silently.
    #[error("{source} ({})", progress(completed, *total))]
    Incomplete {
        /// What failed.
        source: Box<Error>,
        /// How many events the batch held.
        total: usize,
        /// Every event written, with its report, in batch order.
        completed: Box<CreateEventsOutput>,
    },
    /// The batch's deadline ([`EventCreator::with_deadline`](crate::EventCreator::with_deadline))
    /// came before every event began: the events not begun were not written. It is the
    /// `source` of the [`Error::Incomplete`] that carries what was done.
    #[error("deadline reached: events not begun were not written")]
    DeadlineReached,
    /// Every event was stored, but some playbooks did not start. `output` holds every event and
    /// every report (the failed ones carry their `error`).
    ///
    /// The text is socless_python's: the count, then the failed reports as Python prints them,
    /// ``1 of 1 events failed to start playbooks.\n Failure Reports: \n
    /// [StartExecutionReport(investigation_id='…', execution_id='…', playbook='NotDeployed',
    /// statemachinearn='arn:…', error="An error occurred (StateMachineDoesNotExist) …")]``.
    #[error(
        "{failed} of {total} events failed to start playbooks.\n Failure Reports: \n [{}]",
        failure_reports(output)
    )]
    PlaybooksFailed {
        /// How many starts failed.
        failed: usize,
        /// How many events the batch held.
        total: usize,
        /// All events and execution reports of the batch.
        output: Box<CreateEventsOutput>,
    },
}

/// The failed reports as socless_python prints its list of `StartExecutionReport`s.
fn failure_reports(output: &CreateEventsOutput) -> String {
    let repr = crate::batch::python_str_repr;
    let failed: Vec<String> = output
        .execution_reports
        .iter()
        .filter(|report| !report.error.is_empty())
        .map(|r| {
            format!(
                "StartExecutionReport(investigation_id={}, execution_id={}, playbook={}, \
                 statemachinearn={}, error={})",
                repr(&r.investigation_id),
                repr(&r.execution_id),
                repr(&r.playbook),
                repr(&r.statemachinearn),
                repr(&r.error)
            )
        })
        .collect();
    failed.join(", ")
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
    /// The kind of the storage failure behind this error (looking through
    /// [`Error::Incomplete`]), if it is one.
    pub fn storage_kind(&self) -> Option<StorageErrorKind> {
        match self {
            Error::Storage(error) => Some(error.kind()),
            Error::Incomplete { source, .. } => source.storage_kind(),
            _ => None,
        }
    }

    /// The events and execution reports that exist despite this error, if any.
    pub fn output(&self) -> Option<&CreateEventsOutput> {
        match self {
            Error::Incomplete { completed, .. } => Some(completed),
            Error::PlaybooksFailed { output, .. } => Some(output),
            _ => None,
        }
    }
}

/// An error from a backend's client library, kept as the [`std::error::Error::source`] of
/// [`StorageError`] and [`LaunchError`].
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// How the event store failed, for callers that react differently (retry later, alert an
/// operator, give up).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum StorageErrorKind {
    /// The store refused the request for now: DynamoDB's
    /// `ProvisionedThroughputExceededException`, `RequestLimitExceeded` or
    /// `ThrottlingException`, or a transaction cancelled for throttling
    /// (`ThrottlingError`, `ProvisionedThroughputExceeded`), after the client's retries.
    Throttled,
    /// Another connection held the SQLite database locked for longer than the busy timeout.
    Busy,
    /// A table does not exist (DynamoDB's `ResourceNotFoundException`, SQLite's
    /// `no such table`): a deployment or configuration problem, not worth retrying.
    MissingTable,
    /// The item an update names does not exist (an unknown execution id or investigation).
    NotFound,
    /// Concurrent writers kept conflicting (a dedup mapping that kept changing, a transaction
    /// cancelled for `TransactionConflict` after the client's retries, a violated
    /// constraint).
    Conflict,
    /// The store could not be reached or did not answer in time (connection failures,
    /// timeouts, server errors, a failed disk).
    Unavailable,
    /// The credentials were refused or may not do this (DynamoDB's `AccessDeniedException`
    /// and similar; a read-only SQLite file).
    AccessDenied,
    /// An item could not be encoded or decoded, or the store refused it as invalid
    /// (DynamoDB's `ValidationException`, a transaction cancelled for `ValidationError`; a
    /// corrupt SQLite file or item).
    InvalidData,
    /// Anything else.
    Other,
}

impl StorageErrorKind {
    /// Whether trying again later may succeed (throttled, busy, unavailable or conflicting).
    pub fn is_transient(self) -> bool {
        matches!(
            self,
            Self::Throttled | Self::Busy | Self::Unavailable | Self::Conflict
        )
    }

    /// The kind of a cancelled transaction, from its cancellation reasons (`None` when they
    /// say nothing but a lost race: `ConditionalCheckFailed`, `None` or no reason at all).
    /// Invalid data first (retrying cannot help), then throttling, then a conflict with
    /// another transaction.
    #[cfg(feature = "aws")]
    pub(crate) fn from_cancellation_reasons<'a>(
        reasons: impl IntoIterator<Item = &'a str> + Clone,
    ) -> Option<Self> {
        let has = |codes: &[&str]| reasons.clone().into_iter().any(|r| codes.contains(&r));
        if has(&["ValidationError", "ItemCollectionSizeLimitExceeded"]) {
            Some(Self::InvalidData)
        } else if has(&["ConditionalCheckFailed"]) {
            None
        } else if has(&[
            "ThrottlingError",
            "ProvisionedThroughputExceeded",
            "RequestLimitExceeded",
        ]) {
            Some(Self::Throttled)
        } else if has(&["TransactionConflict"]) {
            Some(Self::Conflict)
        } else if reasons.into_iter().all(|r| r == "None") {
            None
        } else {
            Some(Self::Other)
        }
    }

    /// The kind of a DynamoDB error code (the `__type` of its answer).
    #[cfg(feature = "aws")]
    pub(crate) fn from_dynamodb_code(code: &str) -> Self {
        match code {
            "ProvisionedThroughputExceededException"
            | "RequestLimitExceeded"
            | "ThrottlingException" => Self::Throttled,
            "ResourceNotFoundException" => Self::MissingTable,
            "ConditionalCheckFailedException"
            | "TransactionCanceledException"
            | "TransactionConflictException"
            | "TransactionInProgressException" => Self::Conflict,
            "AccessDeniedException"
            | "UnrecognizedClientException"
            | "MissingAuthenticationTokenException"
            | "InvalidSignatureException"
            | "ExpiredTokenException" => Self::AccessDenied,
            "ValidationException" | "ItemCollectionSizeLimitExceededException" => Self::InvalidData,
            "InternalServerError" | "InternalFailure" | "ServiceUnavailable" => Self::Unavailable,
            _ => Self::Other,
        }
    }
}

/// A failure of the event store: its [`kind`](StorageError::kind), a message for people, and
/// the client library's error as its [`source`](std::error::Error::source) when there is one.
///
/// The message names the operation and table, and the backend's own explanation; it never
/// holds credentials. Build one in your own [`EventStore`](crate::EventStore) with
/// [`StorageError::new`].
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct StorageError {
    kind: StorageErrorKind,
    message: String,
    #[source]
    source: Option<BoxError>,
}

impl StorageError {
    /// A failure of this kind, explained by `message`.
    pub fn new(kind: StorageErrorKind, message: impl Into<String>) -> Self {
        Self {
            kind,
            message: message.into(),
            source: None,
        }
    }

    /// This failure, caused by `source` (the client library's error).
    pub fn with_source(mut self, source: impl Into<BoxError>) -> Self {
        self.source = Some(source.into());
        self
    }

    /// This failure, of `kind` instead (a cancelled transaction classified by its reasons).
    #[cfg(feature = "aws")]
    pub(crate) fn with_kind(mut self, kind: StorageErrorKind) -> Self {
        self.kind = kind;
        self
    }

    /// How the store failed.
    pub fn kind(&self) -> StorageErrorKind {
        self.kind
    }

    /// The message, without the source.
    pub fn message(&self) -> &str {
        &self.message
    }
}

/// How a playbook start failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum LaunchErrorKind {
    /// An execution with this name was already started with another input
    /// (`ExecutionAlreadyExists`).
    ExecutionAlreadyExists,
    /// The playbook's state machine does not exist or is being deleted
    /// (`StateMachineDoesNotExist`, `StateMachineDeleting`).
    StateMachineDoesNotExist,
    /// Step Functions refused the start for now (`ThrottlingException`, or
    /// `ExecutionLimitExceeded`: too many running executions), after the client's retries.
    Throttled,
    /// The input, name or ARN was refused (`InvalidExecutionInput`, `InvalidName`,
    /// `InvalidArn`, `ValidationException`), or the input is over
    /// [`MAX_PLAYBOOK_INPUT_BYTES`](crate::MAX_PLAYBOOK_INPUT_BYTES) and was not sent.
    InvalidInput,
    /// The credentials were refused or may not start this state machine.
    AccessDenied,
    /// Step Functions could not be reached or did not answer in time.
    Unavailable,
    /// The local launcher's webhook POST failed (the start is not recorded).
    Webhook,
    /// Anything else.
    Other,
}

impl LaunchErrorKind {
    /// Whether trying again later may succeed (throttled or unavailable).
    pub fn is_transient(self) -> bool {
        matches!(self, Self::Throttled | Self::Unavailable)
    }

    /// The kind of a Step Functions error code, shared by both launchers.
    #[cfg(any(feature = "aws", feature = "local"))]
    pub(crate) fn from_step_functions_code(code: &str) -> Self {
        match code {
            "ExecutionAlreadyExists" => Self::ExecutionAlreadyExists,
            "StateMachineDoesNotExist" | "StateMachineDeleting" => Self::StateMachineDoesNotExist,
            "ThrottlingException" | "ExecutionLimitExceeded" => Self::Throttled,
            "InvalidExecutionInput" | "InvalidName" | "InvalidArn" | "ValidationException" => {
                Self::InvalidInput
            }
            "AccessDeniedException"
            | "UnrecognizedClientException"
            | "MissingAuthenticationTokenException"
            | "InvalidSignatureException"
            | "ExpiredTokenException" => Self::AccessDenied,
            "InternalServerError" | "ServiceUnavailable" => Self::Unavailable,
            _ => Self::Other,
        }
    }
}

/// A failed playbook start: its [`kind`](LaunchError::kind), a message for people (for AWS
/// errors, the text the AWS SDKs print) and the client library's error as its
/// [`source`](std::error::Error::source) when there is one. Build one in your own
/// [`PlaybookLauncher`](crate::PlaybookLauncher) with [`LaunchError::new`].
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct LaunchError {
    kind: LaunchErrorKind,
    message: String,
    #[source]
    source: Option<BoxError>,
}

impl LaunchError {
    /// A failure of this kind, explained by `message`.
    pub fn new(kind: LaunchErrorKind, message: impl Into<String>) -> Self {
        Self {
            kind,
            message: message.into(),
            source: None,
        }
    }

    /// This failure, caused by `source` (the client library's error).
    pub fn with_source(mut self, source: impl Into<BoxError>) -> Self {
        self.source = Some(source.into());
        self
    }

    /// How the start failed.
    pub fn kind(&self) -> LaunchErrorKind {
        self.kind
    }

    /// The message, without the source.
    pub fn message(&self) -> &str {
        &self.message
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_is_the_message_and_the_source_is_kept() {
        let io = std::io::Error::other("disk on fire");
        let error = Error::from(
            StorageError::new(StorageErrorKind::Unavailable, "SQLite: disk I/O error")
                .with_source(io),
        );
        assert_eq!(error.to_string(), "storage error: SQLite: disk I/O error");
        assert_eq!(error.storage_kind(), Some(StorageErrorKind::Unavailable));
        let source = std::error::Error::source(&error).and_then(std::error::Error::source);
        assert_eq!(
            source.map(ToString::to_string).as_deref(),
            Some("disk on fire")
        );

        let launch = Error::from(LaunchError::new(
            LaunchErrorKind::Throttled,
            "Rate exceeded",
        ));
        assert_eq!(launch.to_string(), "Rate exceeded");
        assert_eq!(launch.storage_kind(), None);
    }

    #[test]
    fn incomplete_batches_expose_the_storage_kind() {
        let error = Error::Incomplete {
            source: Box::new(StorageError::new(StorageErrorKind::Throttled, "slow down").into()),
            total: 2,
            completed: Box::default(),
        };
        assert_eq!(error.storage_kind(), Some(StorageErrorKind::Throttled));
        assert!(StorageErrorKind::Throttled.is_transient());
        assert!(!StorageErrorKind::MissingTable.is_transient());
    }

    #[cfg(feature = "aws")]
    #[test]
    fn dynamodb_codes() {
        for (code, kind) in [
            (
                "ProvisionedThroughputExceededException",
                StorageErrorKind::Throttled,
            ),
            ("RequestLimitExceeded", StorageErrorKind::Throttled),
            ("ThrottlingException", StorageErrorKind::Throttled),
            ("ResourceNotFoundException", StorageErrorKind::MissingTable),
            ("TransactionConflictException", StorageErrorKind::Conflict),
            ("AccessDeniedException", StorageErrorKind::AccessDenied),
            ("ValidationException", StorageErrorKind::InvalidData),
            ("SomethingNew", StorageErrorKind::Other),
        ] {
            assert_eq!(StorageErrorKind::from_dynamodb_code(code), kind, "{code}");
        }
    }

    #[cfg(feature = "aws")]
    #[test]
    fn cancellation_reasons() {
        for (reasons, kind) in [
            (&["None", "ConditionalCheckFailed"][..], None),
            (&["ConditionalCheckFailed", "ThrottlingError"][..], None),
            (&["None", "None"][..], None),
            (&[][..], None),
            (
                &["ThrottlingError", "None"][..],
                Some(StorageErrorKind::Throttled),
            ),
            (
                &["None", "ProvisionedThroughputExceeded"][..],
                Some(StorageErrorKind::Throttled),
            ),
            (
                &["TransactionConflict", "None"][..],
                Some(StorageErrorKind::Conflict),
            ),
            (
                &["ValidationError", "ConditionalCheckFailed"][..],
                Some(StorageErrorKind::InvalidData),
            ),
            (&["SomethingNew", "None"][..], Some(StorageErrorKind::Other)),
        ] {
            assert_eq!(
                StorageErrorKind::from_cancellation_reasons(reasons.iter().copied()),
                kind,
                "{reasons:?}"
            );
        }
    }

    #[cfg(any(feature = "aws", feature = "local"))]
    #[test]
    fn step_functions_codes() {
        for (code, kind) in [
            (
                "ExecutionAlreadyExists",
                LaunchErrorKind::ExecutionAlreadyExists,
            ),
            (
                "StateMachineDoesNotExist",
                LaunchErrorKind::StateMachineDoesNotExist,
            ),
            ("ThrottlingException", LaunchErrorKind::Throttled),
            ("InvalidExecutionInput", LaunchErrorKind::InvalidInput),
            ("SomethingNew", LaunchErrorKind::Other),
        ] {
            assert_eq!(
                LaunchErrorKind::from_step_functions_code(code),
                kind,
                "{code}"
            );
        }
    }
}
