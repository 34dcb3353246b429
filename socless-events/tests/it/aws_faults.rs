//! DynamoDB and Step Functions failing through the real SDK clients: a server that throttles
//! every request, and a closed port, each taking over part-way through a batch. They also show
//! that the clients retry exactly as the configured `AwsClientPolicy` says.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use std::error::Error as _;

use socless_events::{
    AwsClientPolicy, AwsLauncher, AwsStore, Error, EventCreator, EventStore, LaunchErrorKind,
    StorageErrorKind, TableNames,
};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;

use crate::faults::{hashes, three_events};
use crate::fixture::{AwsFixture, Fixture, moto_config};
use crate::wrappers::{FailAfter, check_records};

const ATTEMPTS: u32 = 3;

/// The test policy: standard mode, [`ATTEMPTS`] attempts, millisecond backoffs.
fn policy() -> AwsClientPolicy {
    AwsClientPolicy::new(
        RetryConfig::standard()
            .with_max_attempts(ATTEMPTS)
            .with_initial_backoff(Duration::from_millis(1))
            .with_max_backoff(Duration::from_millis(5)),
        TimeoutConfig::builder()
            .connect_timeout(Duration::from_secs(2))
            .operation_attempt_timeout(Duration::from_secs(5))
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
                        "HTTP/1.1 400 Bad Request\r\ncontent-type: application/x-amz-json-1.0\r\ncontent-length: {}\r\n\r\n{body}",
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
