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
//! One worker thread per file and process owns the connection and groups the calls queued
//! while it works (up to 64; a batch at concurrency 16 queues several) into one
//! `BEGIN IMMEDIATE` transaction, each call in its own savepoint: a call is atomic, a failed
//! one leaves the others' writes, and every call is answered after its group commits, so what
//! a call reports written is committed. Measured on a 500-detail batch (`cargo xtask bench
//! socless`): about 4,000 events/s at concurrency 16 and 3,000 sequentially, where a
//! transaction per statement on the blocking thread pool did 2,000 and 1,250.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::mpsc::{Receiver, Sender};
use std::sync::{Arc, Mutex, PoisonError, Weak};
use std::time::Duration;

use rusqlite::{Connection, OptionalExtension, params};
use serde_json::Value;

use crate::arn::execution_arn;
use crate::backend::{EventStore, PlaybookLauncher, start_execution_error};
use crate::batch::now_timestamp;
use crate::error::{Error, LaunchError, LaunchErrorKind, StorageError, StorageErrorKind};
use crate::model::{EventItem, JsonObject, ResultsItem, Status};

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

/// A handle on a file's connection, which one worker thread owns (see [`serve`]).
#[derive(Debug, Clone)]
struct Db(Arc<Sender<Job>>);

/// A queued call.
type Job = Box<dyn Work>;
/// Answers a call that ran, given its group's failure to commit, if any.
type Reply = Box<dyn FnOnce(Option<&rusqlite::Error>) + Send>;

/// What the worker does with a call.
trait Work: Send {
    /// Runs it inside the group's transaction; what it returns answers the caller once the
    /// group has committed (or failed to).
    fn run(self: Box<Self>, conn: &mut Connection) -> Reply;
    /// Answers it with the group's failure to begin, without running it.
    fn fail(self: Box<Self>, failure: &rusqlite::Error);
}

/// A call of [`Db::call`]: the closure and where its answer goes.
struct Call<F, T> {
    f: F,
    answer: futures::channel::oneshot::Sender<Result<T, Error>>,
}

impl<F, T> Work for Call<F, T>
where
    T: Send + 'static,
    F: FnOnce(&Connection) -> rusqlite::Result<T> + Send + 'static,
{
    fn run(self: Box<Self>, conn: &mut Connection) -> Reply {
        let Call { f, answer } = *self;
        // Atomic on its own: a failure rolls back to the savepoint, leaving the group's other
        // calls' writes.
        let result = conn.savepoint().and_then(|savepoint| {
            let value = f(&savepoint)?;
            savepoint.commit()?;
            Ok(value)
        });
        Box::new(move |group_failure| {
            let result = match (result, group_failure) {
                (Ok(_), Some(failure)) => Err(copy_error(failure)),
                (result, _) => result,
            };
            let _ = answer.send(result.map_err(sql_error));
        })
    }

    fn fail(self: Box<Self>, failure: &rusqlite::Error) {
        let _ = self.answer.send(Err(sql_error(copy_error(failure))));
    }
}

/// The most calls one transaction groups.
const GROUP: usize = 64;

/// The workers this process runs, by canonical path. Handles on one file (a store and a
/// launcher, or several of each) share its worker: their calls then queue in memory, rather
/// than wait on SQLite's busy handler, which retries a locked file after sleeps of
/// milliseconds. Other processes have their own workers, and the busy handler between them.
static OPEN: Mutex<Vec<(PathBuf, Weak<Sender<Job>>)>> = Mutex::new(Vec::new());

impl Db {
    fn open(path: &Path) -> Result<Self, Error> {
        let mut open = OPEN.lock().unwrap_or_else(PoisonError::into_inner);
        open.retain(|(_, worker)| worker.strong_count() > 0);
        let known = |canonical: &Path| {
            (open.iter())
                .find(|(open_path, _)| open_path == canonical)
                .and_then(|(_, worker)| worker.upgrade())
        };
        if let Some(worker) = std::fs::canonicalize(path).ok().and_then(|p| known(&p)) {
            return Ok(Self(worker));
        }
        let conn = Self::connect(path)?;
        let (jobs, queue) = std::sync::mpsc::channel();
        std::thread::Builder::new()
            .name("socless-sqlite".into())
            .spawn(move || serve(conn, &queue))
            .map_err(|e| {
                StorageError::new(
                    StorageErrorKind::Other,
                    format!("cannot start the SQLite worker: {e}"),
                )
                .with_source(e)
            })?;
        let worker = Arc::new(jobs);
        // Shared only when the file has a name to find it by again; it replaces a worker on
        // a file of that name that was deleted since.
        if let Ok(canonical) = std::fs::canonicalize(path) {
            open.retain(|(open_path, _)| *open_path != canonical);
            open.push((canonical, Arc::downgrade(&worker)));
        }
        Ok(Self(worker))
    }

    fn connect(path: &Path) -> Result<Connection, Error> {
        let conn = Connection::open(path).map_err(sql_error)?;
        conn.busy_timeout(Duration::from_secs(10))
            .map_err(sql_error)?;
        // WAL is a property of the file (every later connection uses it); `synchronous` is
        // per connection.
        conn.pragma_update(None, "journal_mode", "WAL")
            .map_err(sql_error)?;
        conn.pragma_update(None, "synchronous", "NORMAL")
            .map_err(sql_error)?;
        conn.execute_batch(SCHEMA).map_err(sql_error)?;
        Ok(conn)
    }

    /// Runs `f` on the worker, atomically (in a savepoint of the group's transaction), and
    /// answers once its group has committed: its writes are then durable as the module says.
    async fn call<T, F>(&self, f: F) -> Result<T, Error>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> rusqlite::Result<T> + Send + 'static,
    {
        let (answer, answered) = futures::channel::oneshot::channel();
        let job: Job = Box::new(Call { f, answer });
        let stopped = || storage(StorageErrorKind::Other, "the SQLite worker has stopped");
        self.0.send(job).map_err(|_| stopped())?;
        answered.await.map_err(|_| stopped())?
    }
}

/// The worker: takes the calls queued so far (up to [`GROUP`]) and runs them in one
/// `BEGIN IMMEDIATE` transaction, each in its own savepoint (a failed call leaves the others'
/// writes), then commits and answers them. One commit per group instead of per call, and
/// while callers keep it busy the worker takes their calls without sleeping between them.
/// `BEGIN IMMEDIATE` takes the file's write lock before any read, so a read-then-write call
/// (a dedup claim) is race-safe against other processes. Ends when every handle is dropped.
fn serve(mut conn: Connection, queue: &Receiver<Job>) {
    while let Ok(first) = queue.recv() {
        let group: Vec<Job> = std::iter::once(first)
            .chain(queue.try_iter().take(GROUP - 1))
            .collect();
        if let Err(failure) = conn.execute_batch("BEGIN IMMEDIATE") {
            // Never run outside a transaction: answer with the failure at once.
            for job in group {
                job.fail(&failure);
            }
            continue;
        }
        let replies: Vec<Reply> = group.into_iter().map(|job| job.run(&mut conn)).collect();
        let committed = conn.execute_batch("COMMIT");
        if committed.is_err() {
            // Leave no transaction open for the next group (a failed COMMIT may have kept it).
            let _ = conn.execute_batch("ROLLBACK");
        }
        for reply in replies {
            reply(committed.as_ref().err());
        }
    }
}

/// A copy of a group's failure for each of its calls (`rusqlite::Error` is not `Clone`).
fn copy_error(error: &rusqlite::Error) -> rusqlite::Error {
    match error {
        rusqlite::Error::SqliteFailure(code, message) => {
            rusqlite::Error::SqliteFailure(*code, message.clone())
        }
        other => rusqlite::Error::SqliteFailure(
            rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_ERROR),
            Some(other.to_string()),
        ),
    }
}

fn storage(kind: StorageErrorKind, message: impl Into<String>) -> Error {
    StorageError::new(kind, message).into()
}

/// A SQLite failure as a [`StorageError`]: a database locked past the busy timeout is
/// [`StorageErrorKind::Busy`] (worth retrying), a dropped table is a missing table.
fn sql_error(error: rusqlite::Error) -> Error {
    use rusqlite::ErrorCode;
    let kind = match error.sqlite_error_code() {
        Some(ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked) => StorageErrorKind::Busy,
        Some(
            ErrorCode::ReadOnly
            | ErrorCode::PermissionDenied
            | ErrorCode::AuthorizationForStatementDenied,
        ) => StorageErrorKind::AccessDenied,
        Some(ErrorCode::DatabaseCorrupt | ErrorCode::NotADatabase) => StorageErrorKind::InvalidData,
        Some(ErrorCode::ConstraintViolation) => StorageErrorKind::Conflict,
        Some(ErrorCode::SystemIoFailure | ErrorCode::DiskFull | ErrorCode::CannotOpen) => {
            StorageErrorKind::Unavailable
        }
        _ if matches!(
            &error,
            rusqlite::Error::SqliteFailure(_, Some(message)) if message.starts_with("no such table")
        ) =>
        {
            StorageErrorKind::MissingTable
        }
        _ => StorageErrorKind::Other,
    };
    StorageError::new(kind, format!("SQLite: {error}"))
        .with_source(error)
        .into()
}

/// A JSON text that cannot be encoded or decoded.
fn json_error(what: &str, error: serde_json::Error) -> Error {
    StorageError::new(StorageErrorKind::InvalidData, format!("{what}: {error}"))
        .with_source(error)
        .into()
}

fn to_json<T: serde::Serialize>(value: &T) -> Result<String, Error> {
    serde_json::to_string(value).map_err(|e| json_error("cannot encode item", e))
}

fn parse_object(text: Option<String>) -> Result<Option<JsonObject>, Error> {
    text.map(|text| serde_json::from_str(&text).map_err(|e| json_error("corrupt item", e)))
        .transpose()
}

/// The embedded [`EventStore`]: the tables `socless_events`, `socless_dedup` and
/// `socless_execution_results` in one SQLite file.
#[derive(Debug, Clone)]
pub struct LocalStore {
    db: Db,
}

impl LocalStore {
    /// Opens (creating if needed) the SQLite file at `path`.
    pub fn open(path: impl AsRef<Path>) -> Result<Self, Error> {
        Ok(Self {
            db: Db::open(path.as_ref())?,
        })
    }
}

impl EventStore for LocalStore {
    async fn dedup_mapping(&self, dedup_hash: &str) -> Result<Option<String>, Error> {
        let hash = dedup_hash.to_owned();
        self.db
            .call(move |conn| {
                conn.prepare_cached(
                    "SELECT current_investigation_id FROM socless_dedup WHERE dedup_hash = ?1",
                )?
                .query_row([hash], |row| row.get(0))
                .optional()
            })
            .await
    }

    async fn event(&self, id: &str) -> Result<Option<JsonObject>, Error> {
        let id = id.to_owned();
        let text = self
            .db
            .call(move |conn| {
                conn.prepare_cached("SELECT item FROM socless_events WHERE id = ?1")?
                    .query_row([id], |row| row.get(0))
                    .optional()
            })
            .await?;
        parse_object(text)
    }

    async fn put_original(
        &self,
        event: &EventItem,
        dedup_hash: &str,
        expected: Option<&str>,
    ) -> Result<bool, Error> {
        let (id, investigation_id, item) = (
            event.id.clone(),
            event.investigation_id.clone(),
            to_json(event)?,
        );
        let (hash, expected) = (dedup_hash.to_owned(), expected.map(str::to_owned));
        self.db
            // One call: atomic, and the worker's transaction holds the write lock from its
            // start, so no other process claims the hash between the read and the writes.
            .call(move |conn| {
                let current: Option<String> = conn
                    .prepare_cached(
                        "SELECT current_investigation_id FROM socless_dedup WHERE dedup_hash = ?1",
                    )?
                    .query_row([&hash], |row| row.get(0))
                    .optional()?;
                if current != expected {
                    return Ok(false);
                }
                conn.prepare_cached("INSERT INTO socless_events (id, item) VALUES (?1, ?2)")?
                    .execute(params![id, item])?;
                conn.prepare_cached(
                    "INSERT OR REPLACE INTO socless_dedup (dedup_hash, current_investigation_id) VALUES (?1, ?2)",
                )?
                .execute(params![hash, investigation_id])?;
                Ok(true)
            })
            .await
    }

    async fn put_event(&self, event: &EventItem) -> Result<(), Error> {
        let (id, item) = (event.id.clone(), to_json(event)?);
        self.db
            .call(move |conn| {
                conn.prepare_cached(
                    "INSERT OR REPLACE INTO socless_events (id, item) VALUES (?1, ?2)",
                )?
                .execute(params![id, item])
            })
            .await
            .map(drop)
    }

    async fn put_results(&self, item: &ResultsItem) -> Result<(), Error> {
        let (id, item) = (item.execution_id.clone(), to_json(item)?);
        self.db
            .call(move |conn| {
                conn.prepare_cached("INSERT OR REPLACE INTO socless_execution_results (execution_id, item) VALUES (?1, ?2)")?.execute(
                    params![id, item],
                )
            })
            .await
            .map(drop)
    }

    async fn record_start_failure(&self, execution_id: &str, error: &str) -> Result<(), Error> {
        let (id, error) = (execution_id.to_owned(), error.to_owned());
        let updated = self
            .db
            .call(move |conn| {
                conn.prepare_cached("UPDATE socless_execution_results SET item = json_set(item, '$.start_error', ?2) WHERE execution_id = ?1")?.execute(
                    params![id, error],
                )
            })
            .await?;
        if updated == 0 {
            return Err(storage(
                StorageErrorKind::NotFound,
                format!("no results item with execution_id {execution_id}"),
            ));
        }
        Ok(())
    }

    async fn results(&self, execution_id: &str) -> Result<Option<JsonObject>, Error> {
        let id = execution_id.to_owned();
        let text = self
            .db
            .call(move |conn| {
                conn.prepare_cached(
                    "SELECT item FROM socless_execution_results WHERE execution_id = ?1",
                )?
                .query_row([id], |row| row.get(0))
                .optional()
            })
            .await?;
        parse_object(text)
    }

    async fn set_investigation_status(
        &self,
        investigation_id: &str,
        status: Status,
    ) -> Result<(), Error> {
        let id = investigation_id.to_owned();
        let updated = self
            .db
            .call(move |conn| {
                conn.prepare_cached("UPDATE socless_events SET item = json_set(item, '$.status_', ?2) WHERE id = ?1")?.execute(
                    params![id, status.as_str()],
                )
            })
            .await?;
        if updated == 0 {
            return Err(storage(
                StorageErrorKind::NotFound,
                format!("no event with id {investigation_id}"),
            ));
        }
        Ok(())
    }
}

/// One execution recorded by the [`LocalLauncher`].
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct LocalExecution {
    /// The state machine ARN.
    pub state_machine_arn: String,
    /// The execution name (the `execution_id`).
    pub name: String,
    /// The execution input.
    pub input: Value,
    /// When the start was recorded.
    pub started_at: String,
}

/// The embedded [`PlaybookLauncher`]: records each start in `socless_executions` and, if a
/// webhook is configured, POSTs the execution input to it (the local stand-in for running the
/// playbook).
#[derive(Debug, Clone)]
pub struct LocalLauncher {
    db: Db,
    deployed: Option<BTreeSet<String>>,
    webhook: Option<Webhook>,
}

/// A webhook URL; `Debug` hides it because such URLs often embed a token.
#[derive(Clone)]
struct Webhook {
    url: reqwest::Url,
    client: reqwest::Client,
}

impl std::fmt::Debug for Webhook {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Webhook(<redacted>)")
    }
}

impl LocalLauncher {
    /// Opens (creating if needed) the SQLite file at `path`. Every playbook counts as
    /// deployed until [`LocalLauncher::with_playbooks`] says otherwise.
    pub fn open(path: impl AsRef<Path>) -> Result<Self, Error> {
        Ok(Self {
            db: Db::open(path.as_ref())?,
            deployed: None,
            webhook: None,
        })
    }

    /// Only these playbooks exist; starting any other fails with `StateMachineDoesNotExist`,
    /// as on AWS.
    pub fn with_playbooks<I, P>(mut self, playbooks: I) -> Self
    where
        I: IntoIterator<Item = P>,
        P: Into<String>,
    {
        self.deployed = Some(playbooks.into_iter().map(Into::into).collect());
        self
    }

    /// POST each execution input (JSON) to `url` after recording the start. A failed POST,
    /// or an answer that is not 2xx (redirects are not followed), makes the start fail (the
    /// execution stays recorded).
    pub fn with_webhook(mut self, url: &str) -> Result<Self, Error> {
        let url = reqwest::Url::parse(url)
            .map_err(|e| Error::Config(format!("invalid webhook URL: {e}")))?;
        // Never follow a redirect: the input would go to a host the operator did not name.
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(30))
            .build()
            .map_err(|e| Error::Config(format!("cannot build the webhook client: {e}")))?;
        self.webhook = Some(Webhook { url, client });
        Ok(self)
    }

    /// Every recorded execution, oldest first.
    pub async fn executions(&self) -> Result<Vec<LocalExecution>, Error> {
        let rows: Vec<(String, String, String, String)> = self
            .db
            .call(|conn| {
                let mut stmt = conn.prepare(
                    "SELECT state_machine_arn, name, input, started_at FROM socless_executions ORDER BY rowid",
                )?;
                let rows = stmt.query_map([], |row| {
                    Ok((row.get(0)?, row.get(1)?, row.get(2)?, row.get(3)?))
                })?;
                rows.collect()
            })
            .await?;
        rows.into_iter()
            .map(|(state_machine_arn, name, input, started_at)| {
                let input = serde_json::from_str(&input)
                    .map_err(|e| json_error("corrupt execution input", e))?;
                Ok(LocalExecution {
                    state_machine_arn,
                    name,
                    input,
                    started_at,
                })
            })
            .collect()
    }

    fn is_deployed(&self, state_machine_arn: &str) -> bool {
        let Some(deployed) = &self.deployed else {
            return true;
        };
        state_machine_arn
            .rsplit_once(":stateMachine:")
            .is_some_and(|(_, name)| deployed.contains(name))
    }

    async fn post(&self, webhook: &Webhook, input: &str) -> Result<(), Error> {
        let response = webhook
            .client
            .post(webhook.url.clone())
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(input.to_owned())
            .send()
            .await
            .map_err(|e| {
                // The URL may embed a token: neither the message nor the source may hold it.
                let e = e.without_url();
                LaunchError::new(
                    LaunchErrorKind::Webhook,
                    format!("webhook POST failed: {e}"),
                )
                .with_source(e)
            })?;
        let status = response.status();
        if !status.is_success() {
            return Err(LaunchError::new(
                LaunchErrorKind::Webhook,
                format!("webhook POST failed: HTTP {status}"),
            )
            .into());
        }
        Ok(())
    }
}

impl PlaybookLauncher for LocalLauncher {
    async fn start_execution(
        &self,
        state_machine_arn: &str,
        name: &str,
        input: &str,
    ) -> Result<(), Error> {
        if !self.is_deployed(state_machine_arn) {
            return Err(start_execution_error(
                "StateMachineDoesNotExist",
                &format!("State Machine Does Not Exist: '{state_machine_arn}'"),
            )
            .into());
        }
        serde_json::from_str::<Value>(input).map_err(|e| {
            start_execution_error(
                "InvalidExecutionInput",
                &format!("Invalid State Machine Execution Input: '{e}'"),
            )
            .with_source(e)
        })?;
        let row = (
            state_machine_arn.to_owned(),
            name.to_owned(),
            input.to_owned(),
            now_timestamp(),
        );
        let inserted = self
            .db
            .call(move |conn| {
                conn.prepare_cached("INSERT OR IGNORE INTO socless_executions (state_machine_arn, name, input, started_at) VALUES (?1, ?2, ?3, ?4)")?.execute(
                    params![row.0, row.1, row.2, row.3],
                )
            })
            .await?;
        if inserted == 0 {
            let arn = execution_arn(state_machine_arn, name);
            return Err(start_execution_error(
                "ExecutionAlreadyExists",
                &format!("Execution Already Exists: '{arn}'"),
            )
            .into());
        }
        match &self.webhook {
            Some(webhook) => self.post(webhook, input).await,
            None => Ok(()),
        }
    }

    async fn execution_input(
        &self,
        state_machine_arn: &str,
        name: &str,
    ) -> Result<Option<Value>, Error> {
        let key = (state_machine_arn.to_owned(), name.to_owned());
        let text: Option<String> = self
            .db
            .call(move |conn| {
                conn.prepare_cached("SELECT input FROM socless_executions WHERE state_machine_arn = ?1 AND name = ?2")?.query_row(
                    params![key.0, key.1],
                    |row| row.get(0),
                )
                .optional()
            })
            .await?;
        text.map(|text| {
            serde_json::from_str(&text).map_err(|e| json_error("corrupt execution input", e))
        })
        .transpose()
    }
}

#[cfg(test)]
mod tests {
    use rusqlite::ffi;

    use super::*;

    fn kind_of(error: rusqlite::Error) -> Option<StorageErrorKind> {
        sql_error(error).storage_kind()
    }

    fn failure(code: std::ffi::c_int, message: Option<&str>) -> rusqlite::Error {
        rusqlite::Error::SqliteFailure(ffi::Error::new(code), message.map(str::to_owned))
    }

    #[test]
    fn sqlite_errors_have_kinds() {
        assert_eq!(
            kind_of(failure(ffi::SQLITE_BUSY, None)),
            Some(StorageErrorKind::Busy)
        );
        assert_eq!(
            kind_of(failure(ffi::SQLITE_LOCKED, None)),
            Some(StorageErrorKind::Busy)
        );
        assert_eq!(
            kind_of(failure(ffi::SQLITE_READONLY, None)),
            Some(StorageErrorKind::AccessDenied)
        );
        assert_eq!(
            kind_of(failure(ffi::SQLITE_CORRUPT, None)),
            Some(StorageErrorKind::InvalidData)
        );
        assert_eq!(
            kind_of(failure(
                ffi::SQLITE_ERROR,
                Some("no such table: socless_events")
            )),
            Some(StorageErrorKind::MissingTable)
        );
        assert_eq!(
            kind_of(rusqlite::Error::QueryReturnedNoRows),
            Some(StorageErrorKind::Other)
        );
    }

    #[tokio::test]
    async fn a_dropped_table_is_a_missing_table() {
        let path = std::env::temp_dir().join(format!(
            "socless-missing-table-{}.sqlite",
            uuid::Uuid::new_v4()
        ));
        let store = LocalStore::open(&path).unwrap();
        store
            .db
            .call(|conn| conn.execute_batch("DROP TABLE socless_dedup"))
            .await
            .unwrap();
        let error = store.dedup_mapping("abc").await.unwrap_err();
        std::fs::remove_file(&path).ok();
        assert_eq!(error.storage_kind(), Some(StorageErrorKind::MissingTable));
        assert!(std::error::Error::source(&error).is_some());
        assert_eq!(
            error.to_string(),
            "storage error: SQLite: no such table: socless_dedup"
        );
    }

    fn temp_file(name: &str) -> PathBuf {
        std::env::temp_dir().join(format!("socless-{name}-{}.sqlite", uuid::Uuid::new_v4()))
    }

    fn remove(path: &Path) {
        for suffix in ["sqlite", "sqlite-wal", "sqlite-shm"] {
            let _ = std::fs::remove_file(path.with_extension(suffix));
        }
    }

    #[test]
    fn handles_on_one_file_share_its_worker() {
        let (path, other) = (temp_file("shared"), temp_file("other"));
        let store = LocalStore::open(&path).unwrap();
        let launcher = LocalLauncher::open(&path).unwrap();
        assert!(Arc::ptr_eq(&store.db.0, &launcher.db.0));
        let elsewhere = LocalStore::open(&other).unwrap();
        assert!(!Arc::ptr_eq(&store.db.0, &elsewhere.db.0));
        drop((store, launcher, elsewhere));
        remove(&path);
        remove(&other);
    }

    /// Calls queued behind a slow one run as one group: the failing one is rolled back alone
    /// and answered with its error, the others commit.
    #[tokio::test]
    async fn a_failed_call_leaves_its_group_s_writes() {
        let path = temp_file("group");
        let db = LocalStore::open(&path).unwrap().db;
        let insert = |id: &'static str| {
            db.call(move |conn| {
                conn.execute(
                    "INSERT INTO socless_events (id, item) VALUES (?1, '{}')",
                    [id],
                )
            })
        };
        let slow = db.call(|_| {
            std::thread::sleep(Duration::from_millis(100));
            Ok(())
        });
        // Polled together: all are queued while the worker sleeps in the first.
        let (slow, a, twice, b) = futures::join!(
            slow,
            insert("a"),
            async {
                // Its second insert fails on the primary key after its first succeeded.
                db.call(|conn| {
                    conn.execute(
                        "INSERT INTO socless_events (id, item) VALUES ('c', '{}')",
                        [],
                    )?;
                    conn.execute(
                        "INSERT INTO socless_events (id, item) VALUES ('c', '{}')",
                        [],
                    )
                })
                .await
            },
            insert("b")
        );
        slow.unwrap();
        assert_eq!((a.unwrap(), b.unwrap()), (1, 1));
        assert_eq!(
            twice.unwrap_err().storage_kind(),
            Some(StorageErrorKind::Conflict)
        );
        let ids = db
            .call(|conn| {
                let mut stmt = conn.prepare("SELECT id FROM socless_events ORDER BY id")?;
                let ids = stmt.query_map([], |row| row.get::<_, String>(0))?;
                ids.collect::<rusqlite::Result<Vec<_>>>()
            })
            .await
            .unwrap();
        assert_eq!(ids, ["a", "b"]);
        drop(db);
        remove(&path);
    }
}
