//! The AWS backend: DynamoDB tables and Step Functions state machines.
//!
//! JSON maps to native DynamoDB types (objects `M`, lists `L`, numbers `N`, strings `S`,
//! booleans `BOOL`, null `NULL`), exactly as boto3 stores the original's items, so existing
//! tables and playbooks keep working. Floats are stored as `N` too.

use std::collections::HashMap;

use aws_sdk_dynamodb::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::types::{AttributeValue, Put, TransactWriteItem};
use serde_json::{Number, Value};

use crate::arn::execution_arn;
use crate::backend::{EventStore, PlaybookLauncher, TableNames, start_execution_error};
use crate::error::{Error, LaunchError, LaunchErrorKind, StorageError, StorageErrorKind};
use crate::model::{EventItem, JsonObject, ResultsItem, Status};
use crate::policy::AwsClientPolicy;

/// The DynamoDB [`EventStore`].
#[derive(Debug, Clone)]
pub struct AwsStore {
    client: aws_sdk_dynamodb::Client,
    tables: TableNames,
    /// The policy's retry settings, for the cancelled transactions the SDK does not retry.
    retry: aws_config::retry::RetryConfig,
}

impl AwsStore {
    /// A store using `config` (e.g. from `aws_config::load_defaults`, which honours
    /// `AWS_ENDPOINT_URL`) and the given tables, retrying and timing out as
    /// [`AwsClientPolicy::default`] says.
    pub fn new(config: &aws_config::SdkConfig, tables: TableNames) -> Self {
        Self::with_policy(config, tables, &AwsClientPolicy::default())
    }

    /// Like [`AwsStore::new`], retrying and timing out as `policy` says (it replaces the
    /// retry and timeout settings of `config`).
    pub fn with_policy(
        config: &aws_config::SdkConfig,
        tables: TableNames,
        policy: &AwsClientPolicy,
    ) -> Self {
        let config = aws_sdk_dynamodb::config::Builder::from(config)
            .retry_config(policy.retry().clone())
            .timeout_config(policy.timeout().clone())
            .build();
        Self {
            client: aws_sdk_dynamodb::Client::from_conf(config),
            tables,
            retry: policy.retry().clone(),
        }
    }

    /// The table names.
    pub fn tables(&self) -> &TableNames {
        &self.tables
    }

    async fn get_item(
        &self,
        table: &str,
        key: &str,
        value: &str,
    ) -> Result<Option<HashMap<String, AttributeValue>>, Error> {
        let output = self
            .client
            .get_item()
            .table_name(table)
            .key(key, AttributeValue::S(value.to_owned()))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| dynamo_error("GetItem", table, e))?;
        Ok(output.item)
    }

    async fn put_item(
        &self,
        table: &str,
        item: HashMap<String, AttributeValue>,
    ) -> Result<(), Error> {
        self.client
            .put_item()
            .table_name(table)
            .set_item(Some(item))
            .send()
            .await
            .map_err(|e| dynamo_error("PutItem", table, e))?;
        Ok(())
    }
}

/// A failed DynamoDB call as a [`StorageError`]: its kind from the error code (or the
/// transport failure), its text the service's code and message, its source the SDK error.
fn dynamo_error<E>(
    operation: &str,
    table: &str,
    error: SdkError<E, aws_sdk_dynamodb::config::http::HttpResponse>,
) -> Error
where
    E: std::error::Error + ProvideErrorMetadata + Send + Sync + 'static,
{
    // A server error (5xx) with a code we do not know is still the service failing, not the
    // request: the write may have happened.
    let server_error = error
        .raw_response()
        .is_some_and(|response| response.status().is_server_error());
    let kind = if is_transport_failure(&error) || server_error {
        StorageErrorKind::Unavailable
    } else {
        error.code().map_or(
            StorageErrorKind::Other,
            StorageErrorKind::from_dynamodb_code,
        )
    };
    let message = match (error.code(), error.message()) {
        (Some(code), Some(message)) => {
            format!("DynamoDB {operation} on {table}: {code}: {message}")
        }
        _ => format!(
            "DynamoDB {operation} on {table}: {}",
            DisplayErrorContext(&error)
        ),
    };
    StorageError::new(kind, message).with_source(error).into()
}

/// Whether the call failed before a service answered: a timeout, a connection failure or an
/// answer that could not be read.
fn is_transport_failure<E, R>(error: &SdkError<E, R>) -> bool {
    matches!(
        error,
        SdkError::TimeoutError(_) | SdkError::DispatchFailure(_) | SdkError::ResponseError(_)
    )
}

/// An item that cannot be encoded or decoded.
fn invalid_data(message: impl Into<String>) -> Error {
    StorageError::new(StorageErrorKind::InvalidData, message).into()
}

impl EventStore for AwsStore {
    async fn dedup_mapping(&self, dedup_hash: &str) -> Result<Option<String>, Error> {
        let item = self
            .get_item(&self.tables.dedup, "dedup_hash", dedup_hash)
            .await?;
        Ok(
            item.and_then(|item| match item.get("current_investigation_id") {
                Some(AttributeValue::S(id)) => Some(id.clone()),
                _ => None,
            }),
        )
    }

    async fn event(&self, id: &str) -> Result<Option<JsonObject>, Error> {
        let item = self.get_item(&self.tables.events, "id", id).await?;
        item.map(|item| object_from_item(&item)).transpose()
    }

    async fn put_original(
        &self,
        event: &EventItem,
        dedup_hash: &str,
        expected: Option<&str>,
    ) -> Result<bool, Error> {
        let event_put = Put::builder()
            .table_name(&self.tables.events)
            .set_item(Some(item_from(event)?))
            .condition_expression("attribute_not_exists(id)")
            .build()
            .map_err(|e| build_error("event", e))?;
        let mapping = HashMap::from([
            (
                "dedup_hash".to_owned(),
                AttributeValue::S(dedup_hash.to_owned()),
            ),
            (
                "current_investigation_id".to_owned(),
                AttributeValue::S(event.investigation_id.clone()),
            ),
        ]);
        let mut mapping_put = Put::builder()
            .table_name(&self.tables.dedup)
            .set_item(Some(mapping));
        mapping_put = match expected {
            None => {
                mapping_put.condition_expression("attribute_not_exists(current_investigation_id)")
            }
            Some(previous) => mapping_put
                .condition_expression("current_investigation_id = :previous")
                .expression_attribute_values(":previous", AttributeValue::S(previous.to_owned())),
        };
        let mapping_put = mapping_put.build().map_err(|e| build_error("dedup", e))?;
        // The SDK retries throttling and transport failures of the call, but not a cancelled
        // transaction, whatever the reason: throttled parts and conflicts with another
        // transaction are retried here, with the policy's attempts and backoff.
        let mut attempt = 1;
        loop {
            let result = self
                .client
                .transact_write_items()
                .transact_items(TransactWriteItem::builder().put(event_put.clone()).build())
                .transact_items(
                    TransactWriteItem::builder()
                        .put(mapping_put.clone())
                        .build(),
                )
                .send()
                .await;
            let error = match result {
                Ok(_) => return Ok(true),
                Err(error) => error,
            };
            let kind = match cancellation_kind(&error) {
                Some(None) => return Ok(false),
                Some(Some(kind)) => kind,
                None => {
                    return Err(dynamo_error(
                        "TransactWriteItems",
                        &self.tables.dedup,
                        error,
                    ));
                }
            };
            let retried = matches!(
                kind,
                StorageErrorKind::Throttled | StorageErrorKind::Conflict
            );
            if !retried || attempt >= self.retry.max_attempts() {
                let error = dynamo_error("TransactWriteItems", &self.tables.dedup, error);
                return Err(match error {
                    Error::Storage(storage) => Error::Storage(storage.with_kind(kind)),
                    other => other,
                });
            }
            tokio::time::sleep(backoff(&self.retry, attempt)).await;
            attempt += 1;
        }
    }

    async fn investigation(&self, id: &str) -> Result<Option<JsonObject>, Error> {
        let table = &self.tables.events;
        let output = self
            .client
            .get_item()
            .table_name(table)
            .key("id", AttributeValue::S(id.to_owned()))
            .projection_expression("status_, investigation_id")
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| dynamo_error("GetItem", table, e))?;
        output.item.map(|item| object_from_item(&item)).transpose()
    }

    async fn release_dedup_mapping(
        &self,
        dedup_hash: &str,
        investigation_id: &str,
    ) -> Result<bool, Error> {
        let table = &self.tables.dedup;
        let result = self
            .client
            .delete_item()
            .table_name(table)
            .key("dedup_hash", AttributeValue::S(dedup_hash.to_owned()))
            .condition_expression("current_investigation_id = :id")
            .expression_attribute_values(":id", AttributeValue::S(investigation_id.to_owned()))
            .send()
            .await;
        match result {
            Ok(_) => Ok(true),
            Err(error)
                if error
                    .as_service_error()
                    .is_some_and(|e| e.is_conditional_check_failed_exception()) =>
            {
                Ok(false)
            }
            Err(error) => Err(dynamo_error("DeleteItem", table, error)),
        }
    }

    async fn put_event(&self, event: &EventItem) -> Result<(), Error> {
        self.put_item(&self.tables.events, item_from(event)?).await
    }

    async fn put_results(&self, item: &ResultsItem) -> Result<(), Error> {
        self.put_item(&self.tables.results, item_from(item)?).await
    }

    async fn record_start_failure(&self, execution_id: &str, error: &str) -> Result<(), Error> {
        let table = &self.tables.results;
        let result = self
            .client
            .update_item()
            .table_name(table)
            .key("execution_id", AttributeValue::S(execution_id.to_owned()))
            .update_expression("SET start_error = :error")
            .condition_expression("attribute_exists(execution_id)")
            .expression_attribute_values(":error", AttributeValue::S(error.to_owned()))
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(e) if is_conditional_check_failure(&e) => Err(StorageError::new(
                StorageErrorKind::NotFound,
                format!("no results item with execution_id {execution_id}"),
            )
            .into()),
            Err(e) => Err(dynamo_error("UpdateItem", table, e)),
        }
    }
}

impl AwsStore {
    /// The results table item with key `execution_id`, as JSON (a strongly consistent read).
    ///
    /// For inspecting what [`create_events`](crate::EventCreator::create_events) wrote, which
    /// never reads a results item back: hence not part of [`EventStore`].
    pub async fn results(&self, execution_id: &str) -> Result<Option<JsonObject>, Error> {
        let item = self
            .get_item(&self.tables.results, "execution_id", execution_id)
            .await?;
        item.map(|item| object_from_item(&item)).transpose()
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
        let result = self
            .client
            .update_item()
            .table_name(&self.tables.events)
            .key("id", AttributeValue::S(investigation_id.to_owned()))
            .update_expression("SET status_ = :status")
            .condition_expression("attribute_exists(id)")
            .expression_attribute_values(":status", AttributeValue::S(status.as_str().to_owned()))
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(error) if is_conditional_check_failure(&error) => Err(StorageError::new(
                StorageErrorKind::NotFound,
                format!("no event with id {investigation_id}"),
            )
            .into()),
            Err(error) => Err(dynamo_error("UpdateItem", &self.tables.events, error)),
        }
    }
}

/// A transaction part that the SDK refused to build (a required field left out).
fn build_error(part: &str, error: aws_sdk_dynamodb::error::BuildError) -> Error {
    StorageError::new(
        StorageErrorKind::Other,
        format!("cannot build the {part} write: {error}"),
    )
    .with_source(error)
    .into()
}

fn is_conditional_check_failure(
    error: &aws_sdk_dynamodb::error::SdkError<
        aws_sdk_dynamodb::operation::update_item::UpdateItemError,
        aws_sdk_dynamodb::config::http::HttpResponse,
    >,
) -> bool {
    error
        .as_service_error()
        .is_some_and(|e| e.is_conditional_check_failed_exception())
}

/// For a cancelled transaction, what its cancellation reasons say
/// ([`StorageErrorKind::from_cancellation_reasons`]: `None` when another writer got there
/// first); `None` for any other failure.
fn cancellation_kind(
    error: &aws_sdk_dynamodb::error::SdkError<
        aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError,
        aws_sdk_dynamodb::config::http::HttpResponse,
    >,
) -> Option<Option<StorageErrorKind>> {
    let Some(aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError::TransactionCanceledException(cancelled)) =
        error.as_service_error()
    else {
        return None;
    };
    // Without reasons (some servers omit them) a cancelled conditional write is a lost race.
    let reasons = cancelled
        .cancellation_reasons()
        .iter()
        .map(|reason| reason.code().unwrap_or("None"));
    Some(StorageErrorKind::from_cancellation_reasons(reasons))
}

/// The backoff before retry `attempt` (from 1): the policy's initial backoff doubled per
/// retry, at most its maximum.
fn backoff(retry: &aws_config::retry::RetryConfig, attempt: u32) -> std::time::Duration {
    let factor = 2_u32.saturating_pow(attempt.saturating_sub(1));
    retry
        .initial_backoff()
        .saturating_mul(factor)
        .min(retry.max_backoff())
}

/// A serialisable record as a DynamoDB item.
fn item_from<T: serde::Serialize>(record: &T) -> Result<HashMap<String, AttributeValue>, Error> {
    match serde_json::to_value(record) {
        Ok(Value::Object(map)) => Ok(map
            .into_iter()
            .map(|(key, value)| (key, attribute_from_json(value)))
            .collect()),
        Ok(_) => Err(invalid_data("an item must be a JSON object")),
        Err(e) => Err(StorageError::new(
            StorageErrorKind::InvalidData,
            format!("cannot encode item: {e}"),
        )
        .with_source(e)
        .into()),
    }
}

/// A JSON value as the native DynamoDB type boto3 would store.
pub(crate) fn attribute_from_json(value: Value) -> AttributeValue {
    match value {
        Value::Null => AttributeValue::Null(true),
        Value::Bool(b) => AttributeValue::Bool(b),
        Value::Number(n) => AttributeValue::N(n.to_string()),
        Value::String(s) => AttributeValue::S(s),
        Value::Array(list) => {
            AttributeValue::L(list.into_iter().map(attribute_from_json).collect())
        }
        Value::Object(map) => AttributeValue::M(
            map.into_iter()
                .map(|(key, value)| (key, attribute_from_json(value)))
                .collect(),
        ),
    }
}

fn object_from_item(item: &HashMap<String, AttributeValue>) -> Result<JsonObject, Error> {
    item.iter()
        .map(|(key, value)| Ok((key.clone(), json_from_attribute(value)?)))
        .collect()
}

/// A DynamoDB attribute as JSON (sets become lists; binary is not supported).
pub(crate) fn json_from_attribute(value: &AttributeValue) -> Result<Value, Error> {
    Ok(match value {
        AttributeValue::Null(_) => Value::Null,
        AttributeValue::Bool(b) => Value::Bool(*b),
        AttributeValue::N(n) => Value::Number(number(n)?),
        AttributeValue::S(s) => Value::String(s.clone()),
        AttributeValue::L(list) => Value::Array(
            list.iter()
                .map(json_from_attribute)
                .collect::<Result<_, _>>()?,
        ),
        AttributeValue::M(map) => Value::Object(object_from_item(map)?),
        AttributeValue::Ss(set) => Value::Array(set.iter().cloned().map(Value::String).collect()),
        AttributeValue::Ns(set) => Value::Array(
            set.iter()
                .map(|n| number(n).map(Value::Number))
                .collect::<Result<_, _>>()?,
        ),
        _ => return Err(invalid_data("unsupported DynamoDB attribute type")),
    })
}

fn number(text: &str) -> Result<Number, Error> {
    serde_json::from_str(text).map_err(|_| invalid_data(format!("bad DynamoDB number {text:?}")))
}

/// The Step Functions [`PlaybookLauncher`].
#[derive(Debug, Clone)]
pub struct AwsLauncher {
    client: aws_sdk_sfn::Client,
}

impl AwsLauncher {
    /// A launcher using `config` (which honours `AWS_ENDPOINT_URL`), retrying and timing out
    /// as [`AwsClientPolicy::default`] says.
    pub fn new(config: &aws_config::SdkConfig) -> Self {
        Self::with_policy(config, &AwsClientPolicy::default())
    }

    /// Like [`AwsLauncher::new`], retrying and timing out as `policy` says (it replaces the
    /// retry and timeout settings of `config`).
    pub fn with_policy(config: &aws_config::SdkConfig, policy: &AwsClientPolicy) -> Self {
        let config = aws_sdk_sfn::config::Builder::from(config)
            .retry_config(policy.retry().clone())
            .timeout_config(policy.timeout().clone())
            .build();
        Self {
            client: aws_sdk_sfn::Client::from_conf(config),
        }
    }
}

impl PlaybookLauncher for AwsLauncher {
    async fn start_execution(
        &self,
        state_machine_arn: &str,
        name: &str,
        input: &str,
    ) -> Result<(), Error> {
        let result = self
            .client
            .start_execution()
            .state_machine_arn(state_machine_arn)
            .name(name)
            .input(input)
            .send()
            .await;
        let Err(error) = result else {
            return Ok(());
        };
        let launch_error = match (error.code(), error.message()) {
            (Some(code), Some(message)) => start_execution_error(code, message),
            _ => sfn_transport_error("StartExecution", &error),
        };
        // The start may have happened: an answer lost after the execution started (the SDK's
        // retry then meets `ExecutionAlreadyExists` once the execution has finished), or no
        // answer at all. An execution of this name with this input is the one we started.
        if matches!(
            launch_error.kind(),
            LaunchErrorKind::ExecutionAlreadyExists | LaunchErrorKind::Unavailable
        ) && let Ok(Some(started)) = self.execution_input(state_machine_arn, name).await
            && serde_json::from_str::<Value>(input).is_ok_and(|sent| sent == started)
        {
            tracing::warn!(
                execution = name,
                error = %launch_error,
                "StartExecution failed, but the execution exists with this input: started"
            );
            return Ok(());
        }
        Err(launch_error.with_source(error).into())
    }
}

impl AwsLauncher {
    /// The input of execution `name` of `state_machine_arn` (`DescribeExecution`), if it
    /// exists.
    ///
    /// For inspecting what was started: `create_events` never reads an execution back, hence
    /// not part of [`PlaybookLauncher`].
    pub async fn execution_input(
        &self,
        state_machine_arn: &str,
        name: &str,
    ) -> Result<Option<Value>, Error> {
        let arn = execution_arn(state_machine_arn, name);
        let result = self
            .client
            .describe_execution()
            .execution_arn(&arn)
            .send()
            .await;
        let output = match result {
            Ok(output) => output,
            Err(error)
                if error
                    .as_service_error()
                    .is_some_and(|e| e.is_execution_does_not_exist()) =>
            {
                return Ok(None);
            }
            Err(error) => {
                let kind = error.code().map_or(
                    LaunchErrorKind::Other,
                    LaunchErrorKind::from_step_functions_code,
                );
                let launch_error = match error.code() {
                    Some(_) => LaunchError::new(
                        kind,
                        format!(
                            "DescribeExecution failed: {}",
                            aws_sdk_sfn::error::DisplayErrorContext(&error)
                        ),
                    ),
                    None => sfn_transport_error("DescribeExecution", &error),
                };
                return Err(launch_error.with_source(error).into());
            }
        };
        output
            .input()
            .map(|text| {
                serde_json::from_str(text).map_err(|e| {
                    LaunchError::new(
                        LaunchErrorKind::Other,
                        format!("execution input is not JSON: {e}"),
                    )
                    .with_source(e)
                    .into()
                })
            })
            .transpose()
    }
}

/// A Step Functions call that failed without a service error code: unreachable or timed out
/// when the transport failed, else unclassified.
fn sfn_transport_error<E, R>(operation: &str, error: &SdkError<E, R>) -> LaunchError
where
    E: std::error::Error + 'static,
    R: std::fmt::Debug,
{
    let kind = if is_transport_failure(error) {
        LaunchErrorKind::Unavailable
    } else {
        LaunchErrorKind::Other
    };
    LaunchError::new(
        kind,
        format!(
            "{operation} failed: {}",
            aws_sdk_sfn::error::DisplayErrorContext(error)
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn check(value: Value) {
        let attribute = attribute_from_json(value.clone());
        assert_eq!(json_from_attribute(&attribute).unwrap(), value);
    }

    #[test]
    fn json_round_trips_through_attributes() {
        check(json!(null));
        check(json!(true));
        check(json!(0.1));
        check(json!(-2.5e-7));
        check(json!(34.7725));
        check(json!(18446744073709551615_u64));
        check(json!(-42));
        check(json!(""));
        check(json!({"a": [1, 2.5, {"b": null}], "c": {}}));
        check(json!([]));
    }

    /// A config that asks for other settings than the policy, as the environment might.
    fn environment_config() -> aws_config::SdkConfig {
        aws_config::SdkConfig::builder()
            .region(aws_config::Region::new("us-east-1"))
            .retry_config(aws_config::retry::RetryConfig::adaptive().with_max_attempts(10))
            .timeout_config(
                aws_config::timeout::TimeoutConfig::builder()
                    .operation_timeout(std::time::Duration::from_secs(600))
                    .build(),
            )
            .behavior_version(aws_config::BehaviorVersion::latest())
            .build()
    }

    #[test]
    fn clients_use_the_policy_not_the_environment() {
        let config = environment_config();
        let policy = AwsClientPolicy::default();
        let tables = TableNames::new("e", "d", "r");
        let store = AwsStore::new(&config, tables.clone());
        assert_eq!(store.client.config().retry_config(), Some(policy.retry()));
        assert_eq!(
            store.client.config().timeout_config(),
            Some(policy.timeout())
        );
        let launcher = AwsLauncher::new(&config);
        assert_eq!(
            launcher.client.config().retry_config(),
            Some(policy.retry())
        );
        assert_eq!(
            launcher.client.config().timeout_config(),
            Some(policy.timeout())
        );

        let custom = AwsClientPolicy::new(
            aws_config::retry::RetryConfig::standard().with_max_attempts(5),
            aws_config::timeout::TimeoutConfig::disabled(),
        );
        let store = AwsStore::with_policy(&config, tables, &custom);
        assert_eq!(store.client.config().retry_config(), Some(custom.retry()));
        let launcher = AwsLauncher::with_policy(&config, &custom);
        assert_eq!(
            launcher.client.config().timeout_config(),
            Some(custom.timeout())
        );
    }

    #[test]
    fn numbers_are_native() {
        assert_eq!(
            attribute_from_json(json!(1.5)),
            AttributeValue::N("1.5".into())
        );
        assert_eq!(
            attribute_from_json(json!(20)),
            AttributeValue::N("20".into())
        );
    }
}
