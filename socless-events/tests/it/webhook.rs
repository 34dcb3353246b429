//! The local launcher's optional webhook, against a listener on 127.0.0.1.

use serde_json::{Value, json};
use socless_events::{Error, EventCreator, LocalLauncher};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::sync::oneshot;

use crate::fixture::{Fixture, LocalFixture};

/// A received request: its head (request line and headers) and body.
struct Received {
    head: String,
    body: Vec<u8>,
}

/// Serves one request with `status`, handing the request back.
async fn one_shot_server(status: &'static str) -> (String, oneshot::Receiver<Received>) {
    one_shot_server_with(status, String::new()).await
}

/// Serves one request with `status` and `headers` (each line ending in CRLF).
async fn one_shot_server_with(
    status: &'static str,
    headers: String,
) -> (String, oneshot::Receiver<Received>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!(
        "http://{}/hook?token=hook-secret",
        listener.local_addr().unwrap()
    );
    let (tx, rx) = oneshot::channel();
    tokio::spawn(async move {
        let (mut socket, _) = listener.accept().await.unwrap();
        let mut buffer = Vec::new();
        let mut chunk = [0u8; 4096];
        let (head, body_start) = loop {
            let n = socket.read(&mut chunk).await.unwrap();
            buffer.extend_from_slice(&chunk[..n]);
            if let Some(end) = buffer.windows(4).position(|w| w == b"\r\n\r\n") {
                break (
                    String::from_utf8_lossy(&buffer[..end]).into_owned(),
                    end + 4,
                );
            }
        };
        let length: usize = head
            .lines()
            .find_map(|line| {
                line.to_ascii_lowercase()
                    .strip_prefix("content-length:")
                    .map(|v| v.trim().parse().unwrap())
            })
            .unwrap_or(0);
        while buffer.len() < body_start + length {
            let n = socket.read(&mut chunk).await.unwrap();
            buffer.extend_from_slice(&chunk[..n]);
        }
        let response =
            format!("HTTP/1.1 {status}\r\n{headers}content-length: 0\r\nconnection: close\r\n\r\n");
        socket.write_all(response.as_bytes()).await.unwrap();
        let body = buffer[body_start..body_start + length].to_vec();
        let _ = tx.send(Received { head, body });
    });
    (url, rx)
}

fn input() -> Value {
    json!({"event_type": "Hook", "playbook": "InvestigateLogin", "details": {"ip": "113.63.125.3", "score": 0.5}})
}

fn creator_with_webhook(
    fixture: &LocalFixture,
    url: &str,
) -> EventCreator<socless_events::LocalStore, LocalLauncher> {
    let launcher = fixture.launcher().with_webhook(url).unwrap();
    EventCreator::new(fixture.store(), launcher, fixture.arns())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn posts_the_execution_input() {
    let fixture = LocalFixture::new().await;
    let (url, received) = one_shot_server("200 OK").await;
    let creator = creator_with_webhook(&fixture, &url);
    let output = creator.create_events(&input()).await.unwrap();
    let received = received.await.unwrap();
    assert!(
        received
            .head
            .starts_with("POST /hook?token=hook-secret HTTP/1.1"),
        "{}",
        received.head
    );
    assert!(
        received
            .head
            .to_ascii_lowercase()
            .contains("content-type: application/json")
    );
    let posted: Value = serde_json::from_slice(&received.body).unwrap();
    let report = &output.execution_reports[0];
    let recorded = creator
        .launcher()
        .execution_input(&report.statemachinearn, &report.execution_id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(posted, recorded);
    assert_eq!(posted["artifacts"]["event"]["details"], input()["details"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_webhook_fails_the_start_and_leaves_no_execution() {
    let fixture = LocalFixture::new().await;
    let (url, received) = one_shot_server("500 Internal Server Error").await;
    let creator = creator_with_webhook(&fixture, &url);
    let error = creator.create_events(&input()).await.unwrap_err();
    received.await.unwrap();
    let Error::PlaybooksFailed { output, .. } = &error else {
        panic!("unexpected {error:?}");
    };
    assert_eq!(
        output.execution_reports[0].error,
        "webhook POST failed: HTTP 500 Internal Server Error"
    );
    // Issue 44, point 7: the store does not say started what the webhook refused, and the
    // results item says why.
    assert!(creator.launcher().executions().await.unwrap().is_empty());
    crate::wrappers::check_records(creator.store(), creator.launcher(), output).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_webhook_does_not_leak_its_url() {
    let fixture = LocalFixture::new().await;
    let port = TcpListener::bind("127.0.0.1:0")
        .await
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let creator = creator_with_webhook(
        &fixture,
        &format!("http://127.0.0.1:{port}/hook?token=hook-secret"),
    );
    let error = creator.create_events(&input()).await.unwrap_err();
    let report = &error.output().unwrap().execution_reports[0];
    assert!(
        report.error.starts_with("webhook POST failed: "),
        "{}",
        report.error
    );
    assert!(!report.error.contains("hook-secret"), "{}", report.error);
    assert!(!format!("{:?}", creator.launcher()).contains("hook-secret"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redirecting_webhook_is_not_followed() {
    let fixture = LocalFixture::new().await;
    // Following the redirect would reach a server that accepts, and the start would succeed.
    let (elsewhere, _never) = one_shot_server("200 OK").await;
    let (url, received) = one_shot_server_with(
        "307 Temporary Redirect",
        format!("location: {elsewhere}\r\n"),
    )
    .await;
    let creator = creator_with_webhook(&fixture, &url);
    let error = creator.create_events(&input()).await.unwrap_err();
    received.await.unwrap();
    let report = &error.output().unwrap().execution_reports[0];
    assert_eq!(
        report.error,
        "webhook POST failed: HTTP 307 Temporary Redirect"
    );
}
