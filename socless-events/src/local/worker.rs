//! The worker thread that owns a file's connection, and the registry that shares it.
//!
//! One worker thread per file and process owns the connection and groups the calls queued
//! while it works (up to 64; a batch at concurrency 16 queues several) into one
//! `BEGIN IMMEDIATE` transaction, each call in its own savepoint: a call is atomic, a failed
//! one leaves the others' writes, and every call is answered after its group commits, so what
//! a call reports written is committed. One commit per group rather than per statement is what
//! makes a batch fast; `cargo xtask bench socless` measures it.

use std::path::{Path, PathBuf};
use std::sync::mpsc::{Receiver, Sender};
use std::sync::{Arc, Mutex, PoisonError, Weak};
use std::time::Duration;

use rusqlite::Connection;

use super::{SCHEMA, storage};
use crate::error::{Error, StorageError, StorageErrorKind};

/// A handle on a file's connection, which one worker thread owns (see [`serve`]).
#[derive(Debug, Clone)]
pub(super) struct Db(Arc<Sender<Job>>);

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
    pub(super) fn open(path: &Path) -> Result<Self, Error> {
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
    pub(super) async fn call<T, F>(&self, f: F) -> Result<T, Error>
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

#[cfg(test)]
mod tests {
    use rusqlite::ffi;

    use super::*;
    use crate::local::{LocalLauncher, LocalStore};

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
