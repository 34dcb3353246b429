//! [`LocalStore`]: the tables `socless_events`, `socless_dedup` and `socless_execution_results`.

use std::path::Path;

use rusqlite::{OptionalExtension, params};

use super::worker::Db;
use super::{json_error, storage};
use crate::backend::EventStore;
use crate::error::{Error, StorageErrorKind};
use crate::model::{EventItem, JsonObject, ResultsItem, Status};

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
    // Seen by the worker's tests, which check that handles on one file share it.
    pub(super) db: Db,
}

impl LocalStore {
    /// Opens (creating if needed) the SQLite file at `path`.
    pub fn open(path: impl AsRef<Path>) -> Result<Self, Error> {
        Ok(Self {
            db: Db::open(path.as_ref())?,
        })
    }

    /// The results table item with key `execution_id`, as JSON.
    ///
    /// For inspecting what [`create_events`](crate::EventCreator::create_events) wrote, which
    /// never reads a results item back: hence not part of [`EventStore`].
    pub async fn results(&self, execution_id: &str) -> Result<Option<JsonObject>, Error> {
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

    /// What the three tables hold, oldest first, to see what a local run did: every events
    /// item (originals open investigations: their `investigation_id` is their `id`), every
    /// dedup mapping (`{"dedup_hash", "current_investigation_id"}`) and every results item.
    ///
    /// For inspecting (`socless-create-events --local PATH --inspect`); `create_events` never
    /// lists a table, hence not part of [`EventStore`].
    pub async fn contents(&self) -> Result<LocalContents, Error> {
        let (events, dedup, results) = self
            .db
            .call(|conn| {
                let items = |sql: &str| -> rusqlite::Result<Vec<String>> {
                    let mut stmt = conn.prepare(sql)?;
                    let rows = stmt.query_map([], |row| row.get(0))?;
                    rows.collect()
                };
                let events = items("SELECT item FROM socless_events ORDER BY rowid")?;
                let results = items("SELECT item FROM socless_execution_results ORDER BY rowid")?;
                let mut stmt = conn.prepare(
                    "SELECT dedup_hash, current_investigation_id FROM socless_dedup ORDER BY rowid",
                )?;
                let dedup = stmt
                    .query_map([], |row| Ok((row.get(0)?, row.get(1)?)))?
                    .collect::<rusqlite::Result<Vec<(String, String)>>>()?;
                Ok((events, dedup, results))
            })
            .await?;
        let objects = |texts: Vec<String>| -> Result<Vec<JsonObject>, Error> {
            texts
                .into_iter()
                .map(|text| parse_object(Some(text)).map(Option::unwrap_or_default))
                .collect()
        };
        let dedup = dedup
            .into_iter()
            .map(|(dedup_hash, current_investigation_id)| DedupMapping {
                dedup_hash,
                current_investigation_id,
            })
            .collect();
        Ok(LocalContents {
            events: objects(events)?,
            dedup,
            results: objects(results)?,
        })
    }

    /// Sets `status_` of the event `investigation_id`, as Socless' `SetInvestigationStatus`
    /// does when a playbook closes an investigation (the next event of its dedup hash then
    /// starts a new one). Fails with [`StorageErrorKind::NotFound`] if there is no such event.
    ///
    /// `create_events` never changes a status: hence not part of [`EventStore`].
    pub async fn set_investigation_status(
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

    async fn release_dedup_mapping(
        &self,
        dedup_hash: &str,
        investigation_id: &str,
    ) -> Result<bool, Error> {
        let (hash, id) = (dedup_hash.to_owned(), investigation_id.to_owned());
        let deleted = self
            .db
            .call(move |conn| {
                conn.prepare_cached(
                    "DELETE FROM socless_dedup WHERE dedup_hash = ?1 AND current_investigation_id = ?2",
                )?
                .execute(params![hash, id])
            })
            .await?;
        Ok(deleted > 0)
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
}

#[cfg(test)]
mod tests {
    use super::*;

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
}

/// What [`LocalStore::contents`] found, oldest first in each table.
#[derive(Debug, Clone, PartialEq, Default, serde::Serialize)]
#[non_exhaustive]
pub struct LocalContents {
    /// Every events item (originals and duplicates).
    pub events: Vec<JsonObject>,
    /// Every dedup mapping.
    pub dedup: Vec<DedupMapping>,
    /// Every results item (one per started or attempted execution).
    pub results: Vec<JsonObject>,
}

/// A dedup table item: the investigation events of this hash join.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[non_exhaustive]
pub struct DedupMapping {
    /// The md5 dedup hash.
    pub dedup_hash: String,
    /// The open investigation's id.
    pub current_investigation_id: String,
}
