//! The two seams of `create_events`: where events are stored and how playbooks start.

use std::future::Future;

use crate::error::Error;
#[cfg(any(feature = "aws", feature = "local"))]
use crate::error::{LaunchError, LaunchErrorKind};
use crate::model::{EventItem, JsonObject, ResultsItem};

/// Environment variable naming the events table.
pub const EVENTS_TABLE_ENV: &str = "SOCLESS_EVENTS_TABLE";
/// Environment variable naming the dedup table.
pub const DEDUP_TABLE_ENV: &str = "SOCLESS_DEDUP_TABLE";
/// Environment variable naming the execution results table.
pub const RESULTS_TABLE_ENV: &str = "SOCLESS_RESULTS_TABLE";

/// The three Socless tables.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct TableNames {
    /// Events, keyed by `id`.
    pub events: String,
    /// Dedup mappings, keyed by `dedup_hash`.
    pub dedup: String,
    /// Execution results, keyed by `execution_id`.
    pub results: String,
}

impl TableNames {
    /// The table names given explicitly.
    pub fn new(
        events: impl Into<String>,
        dedup: impl Into<String>,
        results: impl Into<String>,
    ) -> Self {
        Self {
            events: events.into(),
            dedup: dedup.into(),
            results: results.into(),
        }
    }

    /// The table names from `SOCLESS_EVENTS_TABLE`, `SOCLESS_DEDUP_TABLE` and
    /// `SOCLESS_RESULTS_TABLE`; each must be set and non-empty.
    pub fn from_env() -> Result<Self, Error> {
        let var = |name: &str| match std::env::var(name) {
            Ok(value) if !value.is_empty() => Ok(value),
            _ => Err(Error::Config(format!("{name} is not set"))),
        };
        Ok(Self::new(
            var(EVENTS_TABLE_ENV)?,
            var(DEDUP_TABLE_ENV)?,
            var(RESULTS_TABLE_ENV)?,
        ))
    }
}

/// Storage for events, dedup mappings and execution results.
///
/// Implementations: [`AwsStore`] (DynamoDB, feature `aws`) and [`LocalStore`] (SQLite, feature
/// `local`), or your own. Errors are [`Error::Storage`], whose [`StorageError::kind`] tells
/// throttling from a missing table.
///
/// It holds only what [`EventCreator::create_events`](crate::EventCreator::create_events)
/// calls. Reading items back for inspection, or closing an investigation, is each backend's
/// own business (`results` and `set_investigation_status` on [`AwsStore`] and [`LocalStore`]).
///
/// [`StorageError::kind`]: crate::StorageError::kind
///
#[cfg_attr(feature = "aws", doc = "[`AwsStore`]: crate::AwsStore")]
#[cfg_attr(not(feature = "aws"), doc = "[`AwsStore`]: crate#features")]
#[cfg_attr(feature = "local", doc = "[`LocalStore`]: crate::LocalStore")]
#[cfg_attr(not(feature = "local"), doc = "[`LocalStore`]: crate#features")]
pub trait EventStore: Send + Sync {
    /// The `current_investigation_id` mapped to `dedup_hash`, if any (a strongly consistent read).
    fn dedup_mapping(
        &self,
        dedup_hash: &str,
    ) -> impl Future<Output = Result<Option<String>, Error>> + Send;

    /// The events table item with key `id`, as JSON.
    fn event(&self, id: &str) -> impl Future<Output = Result<Option<JsonObject>, Error>> + Send;

    /// The `status_` and `investigation_id` of the events table item with key `id` (other
    /// attributes may be left out): what deduplication reads of an original. The default
    /// reads the whole item with [`EventStore::event`]; a store that can read just those two
    /// attributes should, so an attribute it cannot decode (written by other software) does
    /// not fail every alert with that dedup hash.
    fn investigation(
        &self,
        id: &str,
    ) -> impl Future<Output = Result<Option<JsonObject>, Error>> + Send {
        self.event(id)
    }

    /// Atomically writes an original event and maps `dedup_hash` to its investigation, but only
    /// if the mapping is still `expected` (`None`: no mapping yet). Returns `false`, writing
    /// nothing, when another writer changed the mapping first.
    fn put_original(
        &self,
        event: &EventItem,
        dedup_hash: &str,
        expected: Option<&str>,
    ) -> impl Future<Output = Result<bool, Error>> + Send;

    /// Removes the dedup mapping of `dedup_hash`, but only if it still maps to
    /// `investigation_id`; returns whether it did. Called for an original whose playbook did
    /// not start, so the next identical alert opens a new investigation (and starts a
    /// playbook) rather than joining one that nothing works on.
    ///
    /// The default removes nothing (returns `false`): such an original then keeps its mapping,
    /// as in socless_python. [`AwsStore`] and [`LocalStore`] remove it.
    ///
    #[cfg_attr(feature = "aws", doc = "[`AwsStore`]: crate::AwsStore")]
    #[cfg_attr(not(feature = "aws"), doc = "[`AwsStore`]: crate#features")]
    #[cfg_attr(feature = "local", doc = "[`LocalStore`]: crate::LocalStore")]
    #[cfg_attr(not(feature = "local"), doc = "[`LocalStore`]: crate#features")]
    fn release_dedup_mapping(
        &self,
        dedup_hash: &str,
        investigation_id: &str,
    ) -> impl Future<Output = Result<bool, Error>> + Send {
        let _ = (dedup_hash, investigation_id);
        async { Ok(false) }
    }

    /// Writes an events table item without touching dedup mappings.
    fn put_event(&self, event: &EventItem) -> impl Future<Output = Result<(), Error>> + Send;

    /// Writes a results table item.
    fn put_results(&self, item: &ResultsItem) -> impl Future<Output = Result<(), Error>> + Send;

    /// Notes on the results item of `execution_id` that its playbook did not start, and why:
    /// the attribute `start_error` (only failed starts have it), so the tables alone say which
    /// playbooks started. Fails if there is no such item.
    fn record_start_failure(
        &self,
        execution_id: &str,
        error: &str,
    ) -> impl Future<Output = Result<(), Error>> + Send;
}

/// Starts playbook executions.
///
/// Implementations: [`AwsLauncher`] (Step Functions, feature `aws`) and [`LocalLauncher`]
/// (feature `local`), or your own.
///
/// It holds only what [`EventCreator::create_events`](crate::EventCreator::create_events)
/// calls: a launcher starts executions and need not read them back (`execution_input` on
/// [`AwsLauncher`] and [`LocalLauncher`] does, for inspection).
///
#[cfg_attr(feature = "aws", doc = "[`AwsLauncher`]: crate::AwsLauncher")]
#[cfg_attr(not(feature = "aws"), doc = "[`AwsLauncher`]: crate#features")]
#[cfg_attr(feature = "local", doc = "[`LocalLauncher`]: crate::LocalLauncher")]
#[cfg_attr(not(feature = "local"), doc = "[`LocalLauncher`]: crate#features")]
pub trait PlaybookLauncher: Send + Sync {
    /// Starts execution `name` of `state_machine_arn` with `input` (a JSON text). Fails with
    /// [`Error::Launch`], whose kind says why (`StateMachineDoesNotExist`, throttled, ...) and
    /// whose text mirrors the AWS error.
    fn start_execution(
        &self,
        state_machine_arn: &str,
        name: &str,
        input: &str,
    ) -> impl Future<Output = Result<(), Error>> + Send;
}

/// The error for a failed `StartExecution` call, with the message the AWS SDKs give, shared by
/// both launchers so callers see the same kind and text whichever backend runs.
#[cfg(any(feature = "aws", feature = "local"))]
pub(crate) fn start_execution_error(code: &str, message: &str) -> LaunchError {
    LaunchError::new(
        LaunchErrorKind::from_step_functions_code(code),
        format!("An error occurred ({code}) when calling the StartExecution operation: {message}"),
    )
}
