//! DynamoDB and Step Functions failing through the real SDK clients: a server that throttles
//! every request, and a closed port, each taking over part-way through a batch. They also show
//! that the clients retry exactly as the configured `AwsClientPolicy` says.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use std::error::Error as _;

use aws_sdk_dynamodb::primitives::Blob;
use aws_sdk_dynamodb::types::AttributeValue;
use serde_json::{Value, json};
use socless_events::{
    AwsClientPolicy, AwsLauncher, AwsStore, Error, EventCreator, EventStore, LaunchErrorKind,
    StorageErrorKind, TableNames,
};
use testkit::aws::standin::AwsStandIn;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;

use crate::faults::{hashes, three_events};
use crate::fixture::{AwsFixture, Fixture, LocalAws, moto_config};
use crate::wrappers::{FailAfter, check_records};

const ATTEMPTS: u32 = 3;

/// The test policy: standard mode, [`ATTEMPTS`] attempts, millisecond backoffs.
fn policy() -> AwsClientPolicy {
    policy_with_attempt_timeout(Duration::from_secs(5))
}

/// [`policy`] with each attempt given up after `attempt`.
fn policy_with_attempt_timeout(attempt: Duration) -> AwsClientPolicy {
    AwsClientPolicy::new(
        RetryConfig::standard()
            .with_max_attempts(ATTEMPTS)
            .with_initial_backoff(Duration::from_millis(1))
            .with_max_backoff(Duration::from_millis(5)),
        TimeoutConfig::builder()
            .connect_timeout(Duration::from_secs(2))
            .operation_attempt_timeout(attempt)
            .build(),
    )
}

/// An HTTP server on 127.0.0.1 answering every request with a `ThrottlingException`, as
/// DynamoDB and Step Functions do when throttling; it counts the requests.
struct Throttler {
    url: String,
    requests: Arc<AtomicUsize>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Throttler {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn throttler(type_name: &'static str) -> Throttler {
    failing_server("400 Bad Request", type_name).await
}

/// An HTTP server on 127.0.0.1 answering every request with `status` and the AWS error
/// `type_name`; it counts the requests.
async fn failing_server(status: &'static str, type_name: &'static str) -> Throttler {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let requests = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&requests);
    let task = tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let counter = Arc::clone(&counter);
            tokio::spawn(async move {
                let mut stream = BufReader::new(stream);
                while let Some(()) = read_request(&mut stream).await {
                    counter.fetch_add(1, Ordering::SeqCst);
                    let body = format!(r#"{{"__type":"{type_name}","message":"Rate exceeded"}}"#);
                    let response = format!(
                        "HTTP/1.1 {status}\r\ncontent-type: application/x-amz-json-1.0\r\ncontent-length: {}\r\n\r\n{body}",
                        body.len()
                    );
                    if stream
                        .get_mut()
                        .write_all(response.as_bytes())
                        .await
                        .is_err()
                    {
                        return;
                    }
                }
            });
        }
    });
    Throttler {
        url,
        requests,
        task,
    }
}

/// Reads one request (headers and a `content-length` body); `None` at end of stream.
async fn read_request(stream: &mut BufReader<tokio::net::TcpStream>) -> Option<()> {
    let mut length = 0;
    loop {
        let mut line = String::new();
        if stream.read_line(&mut line).await.ok()? == 0 {
            return None;
        }
        if line == "\r\n" {
            break;
        }
        if let Some((name, value)) = line.split_once(':')
            && name.eq_ignore_ascii_case("content-length")
        {
            length = value.trim().parse().ok()?;
        }
    }
    let mut body = vec![0; length];
    stream.read_exact(&mut body).await.ok()?;
    Some(())
}

/// A port on 127.0.0.1 where nothing listens.
fn closed_port_url() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    format!("http://{}", listener.local_addr().unwrap())
}

/// DynamoDB starts throttling after the first event: the SDK tries exactly the configured
/// number of times, the error names the throttling, and only the first event exists.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dynamodb_throttling_mid_batch() {
    let fixture = AwsFixture::new().await;
    let server = throttler("com.amazonaws.dynamodb.v20120810#ThrottlingException").await;
    let throttled =
        AwsStore::with_policy(&moto_config(&server.url), fixture.tables.clone(), &policy());
    let store = FailAfter::new(fixture.store(), throttled, 2);
    // Budgets count the sequential run's calls (concurrency 1).
    let creator = EventCreator::new(store, fixture.launcher(), fixture.arns()).with_concurrency(1);
    let input = three_events("dynamo-throttled", "InvestigateLogin");
    let error = creator.create_events(&input).await.unwrap_err();
    assert_eq!(
        error.to_string(),
        format!(
            "storage error: DynamoDB GetItem on {}: ThrottlingException: Rate exceeded (1 of 3 events recorded, 1 playbook started)",
            fixture.tables.dedup
        )
    );
    assert_eq!(error.storage_kind(), Some(StorageErrorKind::Throttled));
    assert_eq!(server.requests.load(Ordering::SeqCst), ATTEMPTS as usize);
    let output = error.output().unwrap();
    check_records(&fixture.store(), &fixture.launcher(), output).await;
    for hash in &hashes(&input)[1..] {
        assert_eq!(fixture.store().dedup_mapping(hash).await.unwrap(), None);
    }
}

/// DynamoDB becomes unreachable between an event's item and its results item: the event is
/// returned with "playbook not started", the item stays, and nothing was started for it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dynamodb_unreachable_mid_event() {
    let fixture = AwsFixture::new().await;
    let unreachable = AwsStore::with_policy(
        &moto_config(&closed_port_url()),
        fixture.tables.clone(),
        &policy(),
    );
    let store = FailAfter::new(fixture.store(), unreachable, 3);
    // Budgets count the sequential run's calls (concurrency 1).
    let creator = EventCreator::new(store, fixture.launcher(), fixture.arns()).with_concurrency(1);
    let input = three_events("dynamo-down", "InvestigateLogin");
    let error = creator.create_events(&input).await.unwrap_err();
    let text = error.to_string();
    assert!(
        text.starts_with(&format!(
            "storage error: DynamoDB PutItem on {}: ",
            fixture.tables.results
        )),
        "{text}"
    );
    assert!(
        text.ends_with("(2 of 3 events recorded, 1 playbook started)"),
        "{text}"
    );
    assert_eq!(error.storage_kind(), Some(StorageErrorKind::Unavailable));
    let output = error.output().unwrap();
    assert!(
        output.execution_reports[1]
            .error
            .starts_with("playbook not started: storage error: DynamoDB PutItem")
    );
    check_records(&fixture.store(), &fixture.launcher(), output).await;
    assert_eq!(
        fixture
            .store()
            .dedup_mapping(&hashes(&input)[2])
            .await
            .unwrap(),
        None
    );
}

/// Step Functions throttles every start: each is tried the configured number of times, then
/// reported with the SDK's text and recorded on its results item.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn step_functions_throttling_is_retried_then_recorded() {
    let fixture = AwsFixture::new().await;
    let server = throttler("ThrottlingException").await;
    let launcher = AwsLauncher::with_policy(&moto_config(&server.url), &policy());
    let creator = EventCreator::new(fixture.store(), launcher, fixture.arns());
    let input = three_events("sfn-throttled", "InvestigateLogin");
    let error = creator.create_events(&input).await.unwrap_err();
    assert_eq!(
        error.to_string().lines().next(),
        Some("3 of 3 events failed to start playbooks.")
    );
    assert_eq!(
        server.requests.load(Ordering::SeqCst),
        3 * ATTEMPTS as usize
    );
    let output = error.output().unwrap();
    for report in &output.execution_reports {
        assert_eq!(
            report.error,
            "An error occurred (ThrottlingException) when calling the StartExecution operation: Rate exceeded"
        );
    }
    check_records(&fixture.store(), &fixture.launcher(), output).await;
}

/// A table that does not exist is a missing table, told apart from throttling by its kind; the
/// SDK's error stays reachable as the source.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_table_has_its_own_kind() {
    let fixture = AwsFixture::new().await;
    let tables = TableNames::new("no_such_events", "no_such_dedup", "no_such_results");
    let store = AwsStore::with_policy(&moto_config(fixture.server.url()), tables, &policy());
    let error = store.dedup_mapping("abc").await.unwrap_err();
    let Error::Storage(storage) = &error else {
        panic!("{error:?}");
    };
    assert_eq!(storage.kind(), StorageErrorKind::MissingTable);
    assert!(!storage.kind().is_transient());
    assert!(storage.source().is_some(), "the SDK error is kept");
    assert!(
        error.to_string().starts_with(
            "storage error: DynamoDB GetItem on no_such_dedup: ResourceNotFoundException"
        ),
        "{error}"
    );

    let creator = EventCreator::new(store, fixture.launcher(), fixture.arns());
    let error = creator
        .create_events(&three_events("no-table", "InvestigateLogin"))
        .await
        .unwrap_err();
    assert_eq!(error.storage_kind(), Some(StorageErrorKind::MissingTable));
}

/// Step Functions throttling is a throttled launch, with the SDK's error as its source.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn step_functions_throttling_has_its_kind() {
    use socless_events::PlaybookLauncher;
    let server = throttler("ThrottlingException").await;
    let launcher = AwsLauncher::with_policy(&moto_config(&server.url), &policy());
    let arn = "arn:aws:states:us-east-1:123456789012:stateMachine:InvestigateLogin";
    let error = launcher
        .start_execution(arn, "name", "{}")
        .await
        .unwrap_err();
    let Error::Launch(launch) = &error else {
        panic!("{error:?}");
    };
    assert_eq!(launch.kind(), LaunchErrorKind::Throttled);
    assert!(launch.source().is_some());
}

/// A policy whose attempts give up after 300 ms: long enough for the stand-in to answer,
/// short enough that a lost answer is a quick timeout.
fn impatient_policy() -> AwsClientPolicy {
    policy_with_attempt_timeout(Duration::from_millis(300))
}

fn stand_in(fixture: &AwsFixture) -> &AwsStandIn {
    match &fixture.server {
        LocalAws::StandIn(server) => server,
        LocalAws::Moto(_) => panic!("not a stand-in fixture"),
    }
}

fn one_event(tag: &str, keyed: bool) -> Value {
    let mut input = json!({
        "event_type": "AWS faults",
        "playbook": "InvestigateLogin",
        "details": [{"username": format!("{tag}-{}", uuid::Uuid::new_v4())}],
    });
    if keyed {
        input["dedup_keys"] = json!(["username"]);
    }
    input
}

/// Issue 44, point 1, through the real SDK: DynamoDB commits the transaction (or the PutItem)
/// but every answer is lost until the client gives up. The event is read back and reported
/// as written, and its playbook starts.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_committed_write_whose_answers_are_lost_is_read_back() {
    let fixture = AwsFixture::stand_in().await;
    let server = stand_in(&fixture);
    let store = AwsStore::with_policy(
        &fixture.config(),
        fixture.tables.clone(),
        &impatient_policy(),
    );
    let creator = EventCreator::new(store, fixture.launcher(), fixture.arns());
    for (operation, keyed) in [("TransactWriteItems", true), ("PutItem", false)] {
        let input = one_event("lost", keyed);
        // Every attempt of the events item's write loses its answer.
        server.lose_answers(operation, ATTEMPTS as usize);
        let output = creator.create_events(&input).await.unwrap();
        assert_eq!(output.execution_reports[0].error, "", "{operation}");
        check_records(&fixture.store(), &fixture.launcher(), &output).await;
        if keyed {
            let mapping = fixture
                .store()
                .dedup_mapping(&hashes(&input)[0])
                .await
                .unwrap();
            assert_eq!(
                mapping.as_deref(),
                Some(output.events[0].metadata.id.as_str())
            );
        }
    }
}

/// Issue 44, point 3: a transaction cancelled for throttling is retried with backoff and
/// succeeds; one throttled on every attempt fails as `Throttled` (transient) after the
/// policy's attempts; a `ValidationError` is invalid data (not transient), not retried.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancelled_transactions_are_classified_by_their_reasons() {
    let fixture = AwsFixture::stand_in().await;
    let server = stand_in(&fixture);
    let store = AwsStore::with_policy(&fixture.config(), fixture.tables.clone(), &policy());
    let creator = EventCreator::new(store, fixture.launcher(), fixture.arns());
    let calls = || server.calls("TransactWriteItems");

    for reasons in [["ThrottlingError", "None"], ["None", "TransactionConflict"]] {
        server.cancel_transactions(&reasons, 1);
        let before = calls();
        let output = creator
            .create_events(&one_event("once", true))
            .await
            .unwrap();
        assert_eq!(output.execution_reports[0].error, "", "{reasons:?}");
        assert_eq!(calls() - before, 2, "{reasons:?}");
    }

    server.cancel_transactions(&["None", "ProvisionedThroughputExceeded"], 100);
    let before = calls();
    let error = creator
        .create_events(&one_event("always", true))
        .await
        .unwrap_err();
    assert_eq!(
        error.storage_kind(),
        Some(StorageErrorKind::Throttled),
        "{error}"
    );
    assert!(StorageErrorKind::Throttled.is_transient());
    assert_eq!(calls() - before, ATTEMPTS as usize);
    assert!(error.output().unwrap().events.is_empty());

    let fixture = AwsFixture::stand_in().await;
    let server = stand_in(&fixture);
    let store = AwsStore::with_policy(&fixture.config(), fixture.tables.clone(), &policy());
    let creator = EventCreator::new(store, fixture.launcher(), fixture.arns());
    server.cancel_transactions(&["ValidationError", "None"], 100);
    let error = creator
        .create_events(&one_event("invalid", true))
        .await
        .unwrap_err();
    assert_eq!(
        error.storage_kind(),
        Some(StorageErrorKind::InvalidData),
        "{error}"
    );
    assert!(!StorageErrorKind::InvalidData.is_transient());
    assert_eq!(server.calls("TransactWriteItems"), 1);
}

/// Issue 44, point 6, through the real SDK: Step Functions starts the execution but the answer
/// is lost; the SDK's retry meets `ExecutionAlreadyExists` (as for a finished execution). The
/// launcher describes the execution, finds the same input, and reports it started.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_start_whose_answer_was_lost_is_started() {
    let fixture = AwsFixture::stand_in().await;
    let server = stand_in(&fixture);
    let launcher = AwsLauncher::with_policy(&fixture.config(), &impatient_policy());
    let creator = EventCreator::new(fixture.store(), launcher, fixture.arns());
    server.lose_answers("StartExecution", 1);
    let output = creator
        .create_events(&one_event("start", true))
        .await
        .unwrap();
    assert_eq!(output.execution_reports[0].error, "");
    assert_eq!(server.calls("StartExecution"), 2);
    check_records(&fixture.store(), &fixture.launcher(), &output).await;
}

/// Issue 44, point 7: deduplication reads only `status_` and `investigation_id` of an
/// original, so an attribute of a type the crate does not decode (binary, written by other
/// software) does not fail every alert with its hash.
async fn an_undecodable_attribute_does_not_fail_deduplication(fixture: AwsFixture) {
    let creator = fixture.creator();
    let input = one_event("binary", true);
    let first = creator.create_events(&input).await.unwrap();
    let id = &first.events[0].metadata.id;
    aws_sdk_dynamodb::Client::new(&fixture.config())
        .update_item()
        .table_name(&fixture.tables.events)
        .key("id", AttributeValue::S(id.clone()))
        .update_expression("SET attachment = :blob")
        .expression_attribute_values(":blob", AttributeValue::B(Blob::new(b"\x00\x01".to_vec())))
        .send()
        .await
        .unwrap();
    let second = creator.create_events(&input).await.unwrap();
    assert!(second.events[0].metadata.is_duplicate);
    assert_eq!(&second.events[0].metadata.investigation_id, id);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_undecodable_attribute_does_not_fail_deduplication_on_moto() {
    an_undecodable_attribute_does_not_fail_deduplication(AwsFixture::new().await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_undecodable_attribute_does_not_fail_deduplication_on_the_stand_in() {
    an_undecodable_attribute_does_not_fail_deduplication(AwsFixture::stand_in().await).await;
}

/// Issue 44, point 1: a server error with a code the crate does not know (a 5xx: the write may
/// have happened) is `Unavailable`, the kind whose writes are read back, not `Other`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_error_with_an_unknown_code_is_unavailable() {
    let server = failing_server("500 Internal Server Error", "SomethingBroke").await;
    let tables = TableNames::new("events", "dedup", "results");
    let store = AwsStore::with_policy(&moto_config(&server.url), tables, &policy());
    let error = store.dedup_mapping("abc").await.unwrap_err();
    assert_eq!(
        error.storage_kind(),
        Some(StorageErrorKind::Unavailable),
        "{error}"
    );
    assert_eq!(server.requests.load(Ordering::SeqCst), ATTEMPTS as usize);
}
