//! An upstream that accepts connections and never answers, as the relay meets it under load:
//! the calls in flight never exceed the cap (however many requests and retries), every
//! request is answered by its deadline, the circuit opens and answers at once without calling,
//! and closes again once the upstream recovers.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::json;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpListener;

use crate::common::*;

/// A stand-in for Auth0 Signals that holds every connection open without answering while
/// `hung`, and answers every IP report with a clean report otherwise; it records when each
/// connection was accepted and when it saw it closed.
struct Stub {
    url: String,
    hung: Arc<AtomicBool>,
    open: Arc<AtomicUsize>,
    accepted: Arc<AtomicUsize>,
    spans: Arc<Mutex<Vec<(Instant, Instant)>>>,
}

/// How late the stub may learn that the relay closed a connection: the relay closes a call's
/// connection when it gives up on it and may open the next call's at once, and the stub's
/// task sees the first close a moment after the second connection arrives.
const CLOSE_NOTICE: Duration = Duration::from_millis(50);

impl Stub {
    /// The most connections open at once, each counted from its accept to the moment the
    /// stub saw it closed, less [`CLOSE_NOTICE`] (a call to a hung upstream holds its
    /// connection for hundreds of milliseconds, so real overlaps are not hidden).
    fn most_at_once(&self) -> usize {
        let spans = self.spans.lock().unwrap().clone();
        let mut events: Vec<(Instant, i32)> = Vec::new();
        for (open, closed) in spans {
            let closed = (closed - CLOSE_NOTICE).max(open);
            events.push((open, 1));
            events.push((closed, -1));
        }
        events.sort_by_key(|&(at, change)| (at, change));
        let (mut now, mut most) = (0i32, 0i32);
        for (_, change) in events {
            now += change;
            most = most.max(now);
        }
        usize::try_from(most).unwrap()
    }
}

impl Stub {
    async fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/", listener.local_addr().unwrap());
        let hung = Arc::new(AtomicBool::new(true));
        let open = Arc::new(AtomicUsize::new(0));
        let accepted = Arc::new(AtomicUsize::new(0));
        let spans = Arc::new(Mutex::new(Vec::new()));
        let (h, o, a, sp) = (hung.clone(), open.clone(), accepted.clone(), spans.clone());
        let answer = json!({"fullip": clean()}).to_string();
        tokio::spawn(async move {
            while let Ok((mut socket, _)) = listener.accept().await {
                let accepted_at = Instant::now();
                a.fetch_add(1, Ordering::SeqCst);
                o.fetch_add(1, Ordering::SeqCst);
                let (hung, open, answer, spans) =
                    (h.clone(), o.clone(), answer.clone(), sp.clone());
                tokio::spawn(async move {
                    let mut buf = vec![0u8; 8192];
                    loop {
                        match socket.read(&mut buf).await {
                            Ok(0) | Err(_) => break,
                            Ok(_) if hung.load(Ordering::SeqCst) => {}
                            Ok(_) => {
                                let reply = format!(
                                    "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n\
                                     content-length: {}\r\n\r\n{answer}",
                                    answer.len()
                                );
                                if socket.write_all(reply.as_bytes()).await.is_err() {
                                    break;
                                }
                            }
                        }
                    }
                    open.fetch_sub(1, Ordering::SeqCst);
                    spans.lock().unwrap().push((accepted_at, Instant::now()));
                });
            }
        });
        Self {
            url,
            hung,
            open,
            accepted,
            spans,
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hung_upstream_gets_at_most_the_cap_then_the_circuit_opens_and_closes() {
    let stub = Stub::start().await;
    let relay = Arc::new(
        Relay::start_at(&stub.url, |c| {
            c.request_timeout = Duration::from_secs(2);
            c.signals.client.attempt_timeout = Duration::from_millis(300);
            c.signals.client.total_timeout = Duration::from_millis(700);
            c.signals.client.retry.max_attempts = 2;
            c.signals.upstream.max_in_flight = 4;
            c.signals.upstream.breaker_failures = 5;
            c.signals.upstream.breaker_cool_down = Duration::from_secs(3);
        })
        .await,
    );

    // 24 requests of 5 addresses each, at once, against an upstream that never answers.
    let mut requests = Vec::new();
    for r in 0..24u8 {
        let relay = Arc::clone(&relay);
        requests.push(tokio::spawn(async move {
            let addresses: Vec<String> = (1..=5).map(|i| format!("192.0.{r}.{i}")).collect();
            let addresses: Vec<&str> = addresses.iter().map(String::as_str).collect();
            // A bound on a hang, not a measure of speed.
            tokio::time::timeout(
                Duration::from_secs(20),
                relay.post("/observe/observables", &ips(&addresses)),
            )
            .await
            .expect("every request is answered by its deadline")
        }));
    }
    for request in requests {
        let (status, body) = request.await.unwrap();
        assert_eq!(status, 200);
        assert_eq!(body["errors"][0]["code"], "service unavailable", "{body}");
        assert!(body.get("data").is_none(), "{body}");
    }
    // Connections the relay still holds are counted as open until now.
    let held = stub.open.load(Ordering::SeqCst);
    assert!(held <= 4, "{held} connections held open");
    assert!(
        stub.accepted.load(Ordering::SeqCst) >= 1,
        "the stub was never called"
    );
    let most = stub.most_at_once();
    assert!(
        most <= 4,
        "{most} connections at once to the upstream, over the cap of 4"
    );

    // Five failures in a row have opened the circuit: a request is answered without a call.
    let before = stub.accepted.load(Ordering::SeqCst);
    let (_, body) = relay
        .post("/observe/observables", &ips(&["198.51.100.1"]))
        .await;
    assert_error(
        &body,
        "service unavailable",
        "auth0-signals is failing: its calls are paused for up to 3 s after 5 failures in a row",
    );
    assert_eq!(stub.accepted.load(Ordering::SeqCst), before);
    assert!(stub.open.load(Ordering::SeqCst) <= 4);

    // The upstream recovers; after the cool-down the probe succeeds and the circuit closes.
    stub.hung.store(false, Ordering::SeqCst);
    tokio::time::sleep(Duration::from_millis(3200)).await;
    for ip in ["198.51.100.2", "198.51.100.3"] {
        let (_, body) = relay.post("/deliberate/observables", &ips(&[ip])).await;
        assert_eq!(body["data"]["verdicts"]["count"], 1, "{body}");
    }
}
