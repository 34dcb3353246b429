//! The embedded backend: one SQLite file with the three Socless tables plus an executions table.
//!
//! Items are stored as JSON text, so every JSON value (floats, nested objects, null) reads back
//! unchanged. Several handles and several processes may share a file: the handles of one
//! process share one connection, and dedup claims run in `BEGIN IMMEDIATE` transactions so
//! they stay race-safe between processes.
//!
//! The file is in WAL mode with `synchronous=NORMAL`: a commit appends to the write-ahead log
//! without waiting for the disk, and readers never block the writer. Durability: every commit
//! survives the process crashing; a power loss or OS crash may lose the last commits before a
//! checkpoint (never corrupt the file).
//!
//! - `worker.rs`: the thread per file and process that owns the connection and commits the
//!   calls queued while it works as a group, and the registry that lets every handle on a file
//!   share it;
//! - `store.rs`: [`LocalStore`], the [`EventStore`](crate::EventStore);
//! - `launcher.rs`: [`LocalLauncher`], the [`PlaybookLauncher`](crate::PlaybookLauncher), and
//!   its webhook.

mod launcher;
mod store;
mod worker;

pub use launcher::{LocalExecution, LocalLauncher};
pub use store::{DedupMapping, LocalContents, LocalStore};

use crate::error::{Error, StorageError, StorageErrorKind};

/// The tables, created when a worker opens the file: the store's three and the launcher's
/// executions.
const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS socless_events (
    id TEXT PRIMARY KEY NOT NULL,
    item TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS socless_dedup (
    dedup_hash TEXT PRIMARY KEY NOT NULL,
    current_investigation_id TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS socless_execution_results (
    execution_id TEXT PRIMARY KEY NOT NULL,
    item TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS socless_executions (
    state_machine_arn TEXT NOT NULL,
    name TEXT NOT NULL,
    input TEXT NOT NULL,
    started_at TEXT NOT NULL,
    PRIMARY KEY (state_machine_arn, name)
);
";

fn storage(kind: StorageErrorKind, message: impl Into<String>) -> Error {
    StorageError::new(kind, message).into()
}

/// A JSON text that cannot be encoded or decoded.
fn json_error(what: &str, error: serde_json::Error) -> Error {
    StorageError::new(StorageErrorKind::InvalidData, format!("{what}: {error}"))
        .with_source(error)
        .into()
}
