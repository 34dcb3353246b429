//! An in-memory stand-in, on 127.0.0.1, for exactly the DynamoDB and Step Functions calls
//! socless-events and its test fixtures make, answered in microseconds and in parallel.
//!
//! Why it exists: moto is the reference for how AWS behaves, and every behaviour test runs on
//! it, but it is slow in a way AWS is not. It answers one request at a time (its transactions
//! are not thread-safe; see `moto`) in milliseconds of Python each, and its
//! `TransactWriteItems` deep-copies the tables it writes, so a transaction costs more as the
//! tables grow (the bench's moto figures show it). A 500-detail batch behind the latency proxy
//! then measures moto, not a client whose calls cross a network. Behind the same proxy this
//! stand-in leaves only the injected latency, so the figures are those of network-bound calls,
//! as on AWS; and the concurrency tests run at a scale moto cannot.
//!
//! What it implements (the JSON protocol, `X-Amz-Target` names the operation), with AWS's
//! error codes and, where the tests compare them, AWS's messages:
//! - DynamoDB `CreateTable` (one string hash key), `GetItem`, `PutItem`, `UpdateItem`
//!   (`SET a = :v, ...`) and `TransactWriteItems` of `Put`s: all-or-nothing, every condition
//!   checked before anything is written, under one lock, as DynamoDB's serializable
//!   transactions behave; a failed condition cancels the transaction with per-item reasons,
//!   and a retry with the `ClientRequestToken` of a transaction that succeeded succeeds again
//!   without writing (DynamoDB's idempotency).
//! - Conditions of three forms only: `attribute_exists(a)`, `attribute_not_exists(a)` and
//!   `a = :v`.
//! - DynamoDB `DeleteItem` (with a condition) and `GetItem`'s `ProjectionExpression` (a
//!   comma-separated list of top-level attribute names).
//! - Step Functions `CreateStateMachine`, `StartExecution` (a name already used is
//!   `ExecutionAlreadyExists`, as for a closed execution) and `DescribeExecution` (every
//!   execution has `SUCCEEDED`: the stand-in runs nothing).
//!
//! Faults, for the tests of what a client does when AWS misbehaves: the next calls of an
//! operation can have their answers lost after they took effect
//! ([`AwsStandIn::lose_answers`]), and the next transactions can be cancelled with given
//! reasons, such as `ThrottlingError` ([`AwsStandIn::cancel_transactions`]).
//! [`AwsStandIn::calls`] counts the calls of an operation.
//!
//! Anything else gets a 400 naming what is not implemented, so a change in the client's calls
//! fails loudly here instead of being answered wrongly.

use std::collections::{HashMap, HashSet};
use std::io;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

type Item = Map<String, Value>;

/// The stand-in's server; stops when dropped.
#[derive(Debug)]
pub struct AwsStandIn {
    url: String,
    services: Arc<Services>,
    task: JoinHandle<()>,
}

/// How long a lost answer is held back: far longer than any test client waits, so the client
/// gives up (times out) first, as when a network drops an answer.
const LOST_ANSWER_HOLD: Duration = Duration::from_secs(60);

impl AwsStandIn {
    /// Listens on 127.0.0.1 (a free port). Must be called within a Tokio runtime, whose
    /// tasks then serve it: a multi-threaded one, or one that is running while clients call.
    pub async fn start() -> io::Result<AwsStandIn> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let url = format!("http://{}", listener.local_addr()?);
        let services = Arc::new(Services::default());
        let app = axum::Router::new()
            .fallback(handle)
            .with_state(Arc::clone(&services));
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Ok(AwsStandIn {
            url,
            services,
            task,
        })
    }

    /// The next `count` calls of `operation` (the name after the `X-Amz-Target` prefix:
    /// `TransactWriteItems`, `PutItem`, `StartExecution`, ...) take effect as usual, but their
    /// answers are lost: held back for a minute, so the client times out not knowing.
    pub fn lose_answers(&self, operation: &str, count: usize) {
        lock(&self.services.faults).push(Fault {
            operation: operation.to_owned(),
            remaining: count,
            kind: FaultKind::LoseAnswer,
        });
    }

    /// The next `count` `TransactWriteItems` calls are cancelled without writing anything, with
    /// `reasons` as their `CancellationReasons` codes (one per part, e.g.
    /// `["ThrottlingError", "None"]`), as DynamoDB cancels a throttled or invalid transaction.
    pub fn cancel_transactions(&self, reasons: &[&'static str], count: usize) {
        lock(&self.services.faults).push(Fault {
            operation: "TransactWriteItems".to_owned(),
            remaining: count,
            kind: FaultKind::Cancel(reasons.to_vec()),
        });
    }

    /// How many calls of `operation` the stand-in received so far.
    pub fn calls(&self, operation: &str) -> usize {
        lock(&self.services.calls)
            .get(operation)
            .copied()
            .unwrap_or(0)
    }

    /// `http://127.0.0.1:PORT`: the endpoint URL to give both SDK clients.
    pub fn url(&self) -> &str {
        &self.url
    }
}

impl Drop for AwsStandIn {
    fn drop(&mut self) {
        self.task.abort();
    }
}

#[derive(Debug, Default)]
struct Services {
    tables: Mutex<HashMap<String, Table>>,
    step_functions: Mutex<StepFunctions>,
    faults: Mutex<Vec<Fault>>,
    /// The `ClientRequestToken`s of the transactions that succeeded: a retry with the same
    /// token succeeds again without writing, as DynamoDB's idempotent transactions do.
    transaction_tokens: Mutex<HashSet<String>>,
    /// Calls received, by operation.
    calls: Mutex<HashMap<String, usize>>,
}

/// A fault for the next `remaining` calls of `operation`.
#[derive(Debug)]
struct Fault {
    operation: String,
    remaining: usize,
    kind: FaultKind,
}

#[derive(Debug, Clone)]
enum FaultKind {
    /// The call takes effect; its answer is held back.
    LoseAnswer,
    /// The transaction is cancelled with these reasons, writing nothing.
    Cancel(Vec<&'static str>),
}

#[derive(Debug)]
struct Table {
    /// The hash key's attribute name.
    key: String,
    /// Items by the hash key's string value.
    items: HashMap<String, Item>,
}

#[derive(Debug, Default)]
struct StepFunctions {
    /// State machine ARNs.
    machines: HashSet<String>,
    /// By execution ARN: (state machine ARN, name, input, start date).
    executions: HashMap<String, (String, String, String, f64)>,
}

/// An AWS error answer: its code and message.
struct Failure {
    code: &'static str,
    message: String,
    /// `TransactionCanceledException`'s per-item reasons.
    reasons: Option<Vec<&'static str>>,
}

impl Failure {
    fn new(code: &'static str, message: impl Into<String>) -> Failure {
        Failure {
            code,
            message: message.into(),
            reasons: None,
        }
    }

    fn invalid(message: impl Into<String>) -> Failure {
        Failure::new("ValidationException", message)
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

async fn handle(
    State(services): State<Arc<Services>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let target = headers
        .get("x-amz-target")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let operation = target.rsplit('.').next().unwrap_or_default();
    *lock(&services.calls)
        .entry(operation.to_owned())
        .or_default() += 1;
    let fault = services.take_fault(operation);
    let answer = match (&fault, serde_json::from_slice::<Value>(&body)) {
        (Some(FaultKind::Cancel(reasons)), _) => Err(Failure {
            reasons: Some(reasons.clone()),
            ..Failure::new(
                "TransactionCanceledException",
                format!(
                    "Transaction cancelled, please refer cancellation reasons for specific reasons [{}]",
                    reasons.join(", ")
                ),
            )
        }),
        (_, Ok(Value::Object(request))) => services.dispatch(target, &request),
        _ => Err(Failure::new(
            "SerializationException",
            "the body is not a JSON object",
        )),
    };
    if matches!(fault, Some(FaultKind::LoseAnswer)) {
        tokio::time::sleep(LOST_ANSWER_HOLD).await;
    }
    let (status, body) = match answer {
        Ok(body) => (StatusCode::OK, body),
        Err(failure) => {
            let mut body = json!({"__type": failure.code, "message": failure.message});
            if let Some(reasons) = failure.reasons {
                let reasons: Vec<Value> =
                    reasons.iter().map(|code| json!({"Code": code})).collect();
                body["CancellationReasons"] = Value::Array(reasons);
            }
            (StatusCode::BAD_REQUEST, body)
        }
    };
    let content_type = [(header::CONTENT_TYPE, "application/x-amz-json-1.0")];
    (status, content_type, body.to_string()).into_response()
}

/// A request's string field.
fn text<'a>(request: &'a Item, field: &str) -> Result<&'a str, Failure> {
    request
        .get(field)
        .and_then(Value::as_str)
        .ok_or_else(|| Failure::invalid(format!("{field} is required")))
}

/// A request's object field (`{}` when absent).
fn object<'a>(request: &'a Item, field: &str) -> Result<&'a Item, Failure> {
    static EMPTY: std::sync::OnceLock<Item> = std::sync::OnceLock::new();
    match request.get(field) {
        None => Ok(EMPTY.get_or_init(Item::new)),
        Some(Value::Object(map)) => Ok(map),
        Some(_) => Err(Failure::invalid(format!("{field} must be an object"))),
    }
}

impl Services {
    /// The fault for this call of `operation`, if one is armed (counting it down).
    fn take_fault(&self, operation: &str) -> Option<FaultKind> {
        let mut faults = lock(&self.faults);
        let index = faults
            .iter()
            .position(|fault| fault.operation == operation && fault.remaining > 0)?;
        let fault = &mut faults[index];
        fault.remaining -= 1;
        let kind = fault.kind.clone();
        if fault.remaining == 0 {
            faults.remove(index);
        }
        Some(kind)
    }

    fn dispatch(&self, target: &str, request: &Item) -> Result<Value, Failure> {
        match target {
            "DynamoDB_20120810.CreateTable" => self.create_table(request),
            "DynamoDB_20120810.GetItem" => self.get_item(request),
            "DynamoDB_20120810.PutItem" => self.put_item(request),
            "DynamoDB_20120810.UpdateItem" => self.update_item(request),
            "DynamoDB_20120810.DeleteItem" => self.delete_item(request),
            "DynamoDB_20120810.TransactWriteItems" => self.transact_write_items(request),
            "AWSStepFunctions.CreateStateMachine" => self.create_state_machine(request),
            "AWSStepFunctions.StartExecution" => self.start_execution(request),
            "AWSStepFunctions.DescribeExecution" => self.describe_execution(request),
            other => Err(Failure::new(
                "UnknownOperationException",
                format!("the stand-in does not implement {other:?}"),
            )),
        }
    }

    fn create_table(&self, request: &Item) -> Result<Value, Failure> {
        let name = text(request, "TableName")?;
        let schema = request.get("KeySchema").and_then(Value::as_array);
        let key = match schema.map(Vec::as_slice) {
            Some([only]) if only["KeyType"] == "HASH" => only["AttributeName"].as_str(),
            _ => None,
        }
        .ok_or_else(|| Failure::invalid("the stand-in's tables have one hash key"))?;
        let mut tables = lock(&self.tables);
        if tables.contains_key(name) {
            return Err(Failure::new(
                "ResourceInUseException",
                format!("table {name} exists"),
            ));
        }
        let table = Table {
            key: key.to_owned(),
            items: HashMap::new(),
        };
        tables.insert(name.to_owned(), table);
        Ok(json!({"TableDescription": {"TableName": name, "TableStatus": "ACTIVE"}}))
    }

    fn get_item(&self, request: &Item) -> Result<Value, Failure> {
        let mut tables = lock(&self.tables);
        let (table, key) = table_and_key(&mut tables, request, "Key")?;
        let Some(item) = table.items.get(&key) else {
            return Ok(json!({}));
        };
        let Some(projection) = request.get("ProjectionExpression").and_then(Value::as_str) else {
            return Ok(json!({"Item": item}));
        };
        let names: Vec<&str> = projection.split(',').map(str::trim).collect();
        if names
            .iter()
            .any(|name| name.starts_with('#') || name.contains('.'))
        {
            return Err(Failure::invalid(format!(
                "the stand-in projects top-level names only, not {projection:?}"
            )));
        }
        let projected: Item = item
            .iter()
            .filter(|(name, _)| names.contains(&name.as_str()))
            .map(|(name, value)| (name.clone(), value.clone()))
            .collect();
        Ok(json!({"Item": projected}))
    }

    fn delete_item(&self, request: &Item) -> Result<Value, Failure> {
        let mut tables = lock(&self.tables);
        let (table, key) = table_and_key(&mut tables, request, "Key")?;
        if !condition_holds(request, table.items.get(&key))? {
            return Err(conditional_check_failed());
        }
        table.items.remove(&key);
        Ok(json!({}))
    }

    fn put_item(&self, request: &Item) -> Result<Value, Failure> {
        let mut tables = lock(&self.tables);
        let (table, key) = table_and_key(&mut tables, request, "Item")?;
        if !condition_holds(request, table.items.get(&key))? {
            return Err(conditional_check_failed());
        }
        table.items.insert(key, object(request, "Item")?.clone());
        Ok(json!({}))
    }

    fn update_item(&self, request: &Item) -> Result<Value, Failure> {
        let values = object(request, "ExpressionAttributeValues")?;
        let assignments = set_assignments(text(request, "UpdateExpression")?, values)?;
        let mut tables = lock(&self.tables);
        let (table, key) = table_and_key(&mut tables, request, "Key")?;
        if !condition_holds(request, table.items.get(&key))? {
            return Err(conditional_check_failed());
        }
        let key_item = object(request, "Key")?.clone();
        let item = table.items.entry(key).or_insert(key_item);
        item.extend(assignments);
        Ok(json!({}))
    }

    fn transact_write_items(&self, request: &Item) -> Result<Value, Failure> {
        let parts = request
            .get("TransactItems")
            .and_then(Value::as_array)
            .ok_or_else(|| Failure::invalid("TransactItems is required"))?;
        let puts = parts
            .iter()
            .map(|part| match part.get("Put") {
                Some(Value::Object(put)) if part.as_object().is_some_and(|p| p.len() == 1) => {
                    Ok(put)
                }
                _ => Err(Failure::invalid(
                    "the stand-in's transactions are of Puts only",
                )),
            })
            .collect::<Result<Vec<_>, _>>()?;
        let token = request.get("ClientRequestToken").and_then(Value::as_str);
        let mut tables = lock(&self.tables);
        if token.is_some_and(|token| lock(&self.transaction_tokens).contains(token)) {
            return Ok(json!({}));
        }
        let mut reasons = Vec::with_capacity(puts.len());
        for put in &puts {
            let (table, key) = table_and_key(&mut tables, put, "Item")?;
            let holds = condition_holds(put, table.items.get(&key))?;
            reasons.push(if holds {
                "None"
            } else {
                "ConditionalCheckFailed"
            });
        }
        if reasons.contains(&"ConditionalCheckFailed") {
            return Err(Failure {
                reasons: Some(reasons),
                ..Failure::new(
                    "TransactionCanceledException",
                    "Transaction cancelled, please refer cancellation reasons for specific reasons",
                )
            });
        }
        for put in puts {
            let (table, key) = table_and_key(&mut tables, put, "Item")?;
            table.items.insert(key, object(put, "Item")?.clone());
        }
        if let Some(token) = token {
            lock(&self.transaction_tokens).insert(token.to_owned());
        }
        Ok(json!({}))
    }

    fn create_state_machine(&self, request: &Item) -> Result<Value, Failure> {
        let name = text(request, "name")?;
        let arn = format!("arn:aws:states:us-east-1:123456789012:stateMachine:{name}");
        let mut step_functions = lock(&self.step_functions);
        if !step_functions.machines.insert(arn.clone()) {
            return Err(Failure::new(
                "StateMachineAlreadyExists",
                format!("state machine {name} exists"),
            ));
        }
        Ok(json!({"stateMachineArn": arn, "creationDate": now()}))
    }

    fn start_execution(&self, request: &Item) -> Result<Value, Failure> {
        let machine = text(request, "stateMachineArn")?;
        let name = text(request, "name")?;
        let input = request.get("input").and_then(Value::as_str).unwrap_or("{}");
        let arn = format!(
            "{}:{name}",
            machine.replacen(":stateMachine:", ":execution:", 1)
        );
        let mut step_functions = lock(&self.step_functions);
        if !step_functions.machines.contains(machine) {
            return Err(Failure::new(
                "StateMachineDoesNotExist",
                format!("State Machine Does Not Exist: '{machine}'"),
            ));
        }
        if step_functions.executions.contains_key(&arn) {
            return Err(Failure::new(
                "ExecutionAlreadyExists",
                format!("Execution Already Exists: '{arn}'"),
            ));
        }
        let started = now();
        let execution = (
            machine.to_owned(),
            name.to_owned(),
            input.to_owned(),
            started,
        );
        step_functions.executions.insert(arn.clone(), execution);
        Ok(json!({"executionArn": arn, "startDate": started}))
    }

    fn describe_execution(&self, request: &Item) -> Result<Value, Failure> {
        let arn = text(request, "executionArn")?;
        let step_functions = lock(&self.step_functions);
        let (machine, name, input, started) =
            step_functions.executions.get(arn).ok_or_else(|| {
                Failure::new(
                    "ExecutionDoesNotExist",
                    format!("Execution Does Not Exist: '{arn}'"),
                )
            })?;
        Ok(json!({
            "executionArn": arn,
            "stateMachineArn": machine,
            "name": name,
            "status": "SUCCEEDED",
            "startDate": started,
            "input": input,
        }))
    }
}

/// The request's table and the string value of its hash key, read from the request's `field`
/// (`Key` or `Item`).
fn table_and_key<'t>(
    tables: &'t mut HashMap<String, Table>,
    request: &Item,
    field: &str,
) -> Result<(&'t mut Table, String), Failure> {
    let name = text(request, "TableName")?;
    let table = tables
        .get_mut(name)
        .ok_or_else(|| Failure::new("ResourceNotFoundException", format!("no table {name}")))?;
    let key = object(request, field)?
        .get(&table.key)
        .and_then(|value| value.get("S"))
        .and_then(Value::as_str)
        .ok_or_else(|| Failure::invalid(format!("{field} lacks the string key {}", table.key)))?;
    Ok((table, key.to_owned()))
}

fn conditional_check_failed() -> Failure {
    Failure::new(
        "ConditionalCheckFailedException",
        "The conditional request failed",
    )
}

/// Whether the request's `ConditionExpression` (none: true) holds for `item`.
fn condition_holds(request: &Item, item: Option<&Item>) -> Result<bool, Failure> {
    let Some(condition) = request.get("ConditionExpression").and_then(Value::as_str) else {
        return Ok(true);
    };
    let condition = condition.trim();
    let has = |name: &str| item.is_some_and(|item| item.contains_key(name));
    if let Some(name) = call(condition, "attribute_not_exists") {
        return Ok(!has(name));
    }
    if let Some(name) = call(condition, "attribute_exists") {
        return Ok(has(name));
    }
    if let Some((name, placeholder)) = condition.split_once(" = ") {
        let values = object(request, "ExpressionAttributeValues")?;
        let expected = values
            .get(placeholder.trim())
            .ok_or_else(|| Failure::invalid(format!("{placeholder} has no value")))?;
        return Ok(item.and_then(|item| item.get(name.trim())) == Some(expected));
    }
    Err(Failure::invalid(format!(
        "the stand-in does not evaluate the condition {condition:?}"
    )))
}

/// `name` of `function(name)`.
fn call<'a>(expression: &'a str, function: &str) -> Option<&'a str> {
    let inner = expression.strip_prefix(function)?.strip_prefix('(')?;
    Some(inner.strip_suffix(')')?.trim())
}

/// The attributes and values of `SET a = :x, b = :y`.
fn set_assignments(expression: &str, values: &Item) -> Result<Vec<(String, Value)>, Failure> {
    let unsupported = || {
        Failure::invalid(format!(
            "the stand-in does not apply the update {expression:?}"
        ))
    };
    let assignments = expression
        .trim()
        .strip_prefix("SET ")
        .ok_or_else(unsupported)?;
    assignments
        .split(',')
        .map(|assignment| {
            let (name, placeholder) = assignment.split_once('=').ok_or_else(unsupported)?;
            let value = values.get(placeholder.trim()).ok_or_else(unsupported)?;
            Ok((name.trim().to_owned(), value.clone()))
        })
        .collect()
}
