//! [`LocalLauncher`]: the table `socless_executions`, and the optional webhook.

use std::collections::BTreeSet;
use std::path::Path;
use std::time::Duration;

use rusqlite::{OptionalExtension, params};
use serde_json::Value;

use super::json_error;
use super::worker::Db;
use crate::arn::execution_arn;
use crate::backend::{PlaybookLauncher, start_execution_error};
use crate::batch::now_timestamp;
use crate::error::{Error, LaunchError, LaunchErrorKind};

/// One execution recorded by the [`LocalLauncher`].
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
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
    // Seen by the worker's tests, which check that handles on one file share it.
    pub(super) db: Db,
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
    /// or an answer that is not 2xx (redirects are not followed), makes the start fail, and
    /// the execution is removed again: the store never says started what was not handed over.
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

    /// The input of execution `name` of `state_machine_arn`, if it was recorded.
    ///
    /// For inspecting what was started: `create_events` never reads an execution back, hence
    /// not part of [`PlaybookLauncher`].
    pub async fn execution_input(
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
            // Started already with this input: a repeated start, as Step Functions accepts it.
            let same = self
                .execution_input(state_machine_arn, name)
                .await?
                .is_some_and(|started| {
                    serde_json::from_str::<Value>(input).is_ok_and(|sent| sent == started)
                });
            if same {
                return Ok(());
            }
            let arn = execution_arn(state_machine_arn, name);
            return Err(start_execution_error(
                "ExecutionAlreadyExists",
                &format!("Execution Already Exists: '{arn}'"),
            )
            .into());
        }
        let Some(webhook) = &self.webhook else {
            return Ok(());
        };
        let Err(error) = self.post(webhook, input).await else {
            return Ok(());
        };
        // The playbook was not handed over: the execution is not recorded as started.
        let key = (state_machine_arn.to_owned(), name.to_owned());
        let removed = self
            .db
            .call(move |conn| {
                conn.prepare_cached(
                    "DELETE FROM socless_executions WHERE state_machine_arn = ?1 AND name = ?2",
                )?
                .execute(params![key.0, key.1])
            })
            .await;
        match removed {
            Ok(_) => Err(error),
            Err(store_error) => Err(LaunchError::new(
                LaunchErrorKind::Webhook,
                format!("{error}; the execution stays recorded: {store_error}"),
            )
            .into()),
        }
    }
}
