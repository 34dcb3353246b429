//! What the server holds under slow clients and a hung upstream (issue "hold under slow clients
//! and failing upstreams"): figures, not a pass/fail test. Everything on 127.0.0.1.
//!
//! 1. **Idle connections**: 10,000 connections opened to `relay-server serve` and left alone,
//!    half of them silent and half after half a request's headers. Printed: the server's RSS
//!    before and with them open, the latency of `GET /watchdog` on a keep-alive connection
//!    meanwhile (p50, p99, max of 1,000 calls), and how many the server has closed after the
//!    wait (by default 70 s: past the 60 s header timeout).
//! 2. **A hung upstream**: the Auth0 Signals API replaced by a listener that accepts and never
//!    answers; 1,500 clients call `/observe/observables` at once for 25 s. Printed: the most
//!    connections open at the listener at once (the cap is `RELAY_UPSTREAM_MAX_IN_FLIGHT`, 64),
//!    then the time of 10 more observe calls (the breaker is open by then) and the server's
//!    peak RSS.
//!
//! 3. **A slow body**: `POST` with `Content-Length: 1000`, one body byte every 2 s, under
//!    `--body-read-timeout 3 --request-timeout 5`. Printed: when the server cut it (the body
//!    timeout, 30 s by default) and what it answered, or that it was never cut in
//!    `HOLD_SLOW_BODY_WAIT` s (45).
//! 4. **A chunk flood**: 20 connections, `Transfer-Encoding: chunked`, 300,000 one-byte chunks
//!    each and no terminator. Printed: the server's RSS before and with them sent.
//! 5. **Huge headers**: 200 connections each midway through a 300 KB header (150 KB sent).
//!    Printed: the server's RSS before and with them held, and how many were answered 431.
//!
//! `cargo xtask bench hold`, or `cargo bench -p xdr-relay-server --bench hold` (release build).
//! `HOLD_IDLE=2000` and `HOLD_WAIT=5` make a quick run (the closing figure then says nothing
//! about the timeout). `HOLD_ONLY=slow-body,chunks,headers` (any of `idle`, `hung`,
//! `slow-body`, `chunks`, `headers`) runs some parts; `HOLD_BIN` measures another build of
//! `relay-server` (an older one, for the figures before a change).
#![allow(
    missing_docs,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::print_stdout,
    clippy::panic
)]

use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use testkit::http::{Answer, parse_answer};
use testkit::process::Served;
use testkit::rss;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

const BUILT: &str = env!("CARGO_BIN_EXE_relay-server");

/// The binary measured: this build's, or `HOLD_BIN`.
fn bin() -> String {
    std::env::var("HOLD_BIN").unwrap_or_else(|_| BUILT.to_owned())
}

/// Whether `part` is to run (`HOLD_ONLY` unset: every part).
fn runs(part: &str) -> bool {
    std::env::var("HOLD_ONLY").map_or(true, |only| only.split(',').any(|p| p.trim() == part))
}
const SECRET: &str = "a-hold-bench-secret-0123456789abcdef0123456789abcdef0123456789";
const API_KEY: &str = "11111111-2222-4333-8444-555555555555";

fn setting(name: &str, default: u64) -> u64 {
    std::env::var(name).map_or(default, |v| v.parse().expect("a whole number"))
}

fn rss_mib(pid: u32) -> f64 {
    rss::read(pid).map_or(f64::NAN, |memory| rss::mib(memory.rss_kib))
}

/// How many TCP connections to 127.0.0.1:`port` are established from this machine's side of
/// the client (the relay's sockets; the kernel's view, `/proc/net/tcp`): a socket the relay
/// closed leaves that state at once, whenever the far end notices.
fn established_to(port: u16) -> usize {
    let table = std::fs::read_to_string("/proc/net/tcp").unwrap_or_default();
    let remote = format!("0100007F:{port:04X}");
    table
        .lines()
        .skip(1)
        .filter(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            fields.get(2) == Some(&remote.as_str()) && fields.get(3) == Some(&"01")
        })
        .count()
}

/// `relay-server serve` on an ephemeral port with `env`; the server and its address.
fn serve(env: &[(&str, &str)]) -> (Served, String) {
    serve_with(env, &[])
}

/// [`serve`], with flags `args`.
fn serve_with(env: &[(&str, &str)], args: &[&str]) -> (Served, String) {
    let mut command = Command::new(bin());
    command
        .args(["serve", "--listen", "127.0.0.1:0", "--log-format", "json"])
        .args(args)
        .env("SECRET_KEY", SECRET)
        .env("RUST_LOG", "warn,xdr_relay_server=info")
        .envs(env.iter().copied());
    let mut served = Served::spawn(command);
    let address = served.address_of("relay-server listening");
    (served, address)
}

/// The token Threat Response would send, signed with the server's secret.
fn token() -> String {
    testkit::token::hs256(SECRET, &serde_json::json!({"key": API_KEY}))
}

/// Reads one answer on a keep-alive connection; `None` when the connection closed first.
async fn read_answer(stream: &mut TcpStream, buffer: &mut Vec<u8>) -> Option<Answer> {
    buffer.clear();
    let mut chunk = [0u8; 4096];
    loop {
        if let Some((answer, _)) = parse_answer(buffer) {
            return Some(answer);
        }
        match stream.read(&mut chunk).await {
            Ok(0) | Err(_) => return None,
            Ok(n) => buffer.extend_from_slice(&chunk[..n]),
        }
    }
}

fn percentile(sorted: &[Duration], q: f64) -> f64 {
    let index = ((sorted.len() as f64 - 1.0) * q).round() as usize;
    sorted[index].as_secs_f64() * 1000.0
}

async fn idle_connections(count: usize, wait: Duration) {
    let (served, address) = serve(&[]);
    let pid = served.pid();
    let before = rss_mib(pid);
    // The watchdog's connection first, so the idle ones cannot take its place under the cap.
    let mut watchdog = TcpStream::connect(&address).await.unwrap();
    let mut idle = Vec::with_capacity(count);
    for i in 0..count {
        let mut stream = TcpStream::connect(&address).await.unwrap();
        if i % 2 == 1 {
            stream
                .write_all(b"POST /observe/observables HTTP/1.1\r\nHost: relay\r\nContent-Ty")
                .await
                .unwrap();
        }
        idle.push(stream);
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let held = rss_mib(pid);
    let mut times = Vec::with_capacity(1000);
    let mut buffer = Vec::new();
    for _ in 0..1000 {
        let started = Instant::now();
        watchdog
            .write_all(b"GET /watchdog HTTP/1.1\r\nHost: relay\r\n\r\n")
            .await
            .unwrap();
        assert!(
            read_answer(&mut watchdog, &mut buffer).await.is_some(),
            "watchdog"
        );
        times.push(started.elapsed());
    }
    times.sort();
    println!(
        "idle: {count} connections ({} silent, {} after half the headers): RSS {before:.1} MiB before, {held:.1} MiB with them open",
        count - count / 2,
        count / 2
    );
    println!(
        "idle: GET /watchdog meanwhile: p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms (1,000 calls, one keep-alive connection)",
        percentile(&times, 0.5),
        percentile(&times, 0.99),
        percentile(&times, 1.0)
    );
    drop(watchdog);
    tokio::time::sleep(wait).await;
    // A connection the server closed reads end-of-file (or an error) at once.
    let mut closed = 0;
    for stream in &mut idle {
        let mut byte = [0u8; 1];
        // End-of-file, a reset, or an answer on its way out before the close.
        if tokio::time::timeout(Duration::from_millis(1), stream.read(&mut byte))
            .await
            .is_ok()
        {
            closed += 1;
        }
    }
    println!(
        "idle: after {} s, the server had closed {closed} of {count} ({} left open); RSS {:.1} MiB",
        wait.as_secs(),
        count - closed,
        rss_mib(pid)
    );
}

async fn hung_upstream(clients: usize, duration: Duration) {
    // The hung upstream: accepts, reads, never answers; counts connections open at once.
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let upstream = format!("http://127.0.0.1:{port}/");
    let open = Arc::new(AtomicUsize::new(0));
    let most = Arc::new(AtomicUsize::new(0));
    {
        let (open, most) = (Arc::clone(&open), Arc::clone(&most));
        tokio::spawn(async move {
            while let Ok((mut stream, _)) = listener.accept().await {
                let now = open.fetch_add(1, Ordering::SeqCst) + 1;
                most.fetch_max(now, Ordering::SeqCst);
                let open = Arc::clone(&open);
                tokio::spawn(async move {
                    let mut sink = [0u8; 4096];
                    while matches!(stream.read(&mut sink).await, Ok(n) if n > 0) {}
                    open.fetch_sub(1, Ordering::SeqCst);
                });
            }
        });
    }
    let (served, address) = serve(&[("SIGNALS_API_URL", upstream.as_str())]);
    let pid = served.pid();
    let token = token();
    let body = r#"[{"type":"ip","value":"192.0.2.1"}]"#;
    let request = format!(
        "POST /observe/observables HTTP/1.1\r\nHost: relay\r\nAuthorization: Bearer {token}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    let request: Arc<str> = request.into();
    let until = Instant::now() + duration;
    let memory = rss::Sampler::start(pid);
    let established = std::thread::spawn(move || {
        let mut most = 0;
        while Instant::now() < until {
            most = most.max(established_to(port));
            std::thread::sleep(Duration::from_millis(20));
        }
        most
    });
    let answered = Arc::new(AtomicUsize::new(0));
    let mut tasks = Vec::with_capacity(clients);
    for _ in 0..clients {
        let (address, request, answered) =
            (address.clone(), Arc::clone(&request), Arc::clone(&answered));
        tasks.push(tokio::spawn(async move {
            let mut buffer = Vec::new();
            while Instant::now() < until {
                let Ok(mut stream) = TcpStream::connect(&address).await else {
                    continue;
                };
                while Instant::now() < until {
                    if stream.write_all(request.as_bytes()).await.is_err()
                        || read_answer(&mut stream, &mut buffer).await.is_none()
                    {
                        break;
                    }
                    answered.fetch_add(1, Ordering::Relaxed);
                }
            }
        }));
    }
    for task in tasks {
        let _ = tokio::time::timeout(Duration::from_secs(60), task).await;
    }
    let most_established = established.join().unwrap();
    let peak_rss = rss::mib(memory.stop());
    println!(
        "hung upstream: {clients} clients for {} s: {} answers; at most {} connections from the relay to the upstream established at once (sampled every 20 ms; the stand-in, which notices a close late, counted up to {})",
        duration.as_secs(),
        answered.load(Ordering::Relaxed),
        most_established,
        most.load(Ordering::SeqCst)
    );
    let mut stream = TcpStream::connect(&address).await.unwrap();
    let mut buffer = Vec::new();
    let mut times = Vec::new();
    let mut last = serde_json::Value::Null;
    for _ in 0..10 {
        let started = Instant::now();
        stream.write_all(request.as_bytes()).await.unwrap();
        let answer = read_answer(&mut stream, &mut buffer)
            .await
            .expect("observe");
        times.push(started.elapsed());
        last = serde_json::from_str(&answer.body).unwrap_or_default();
    }
    times.sort();
    let message = last["errors"][0]["message"]
        .as_str()
        .unwrap_or("(no error)");
    println!(
        "hung upstream: then 10 observe calls: median {:.1} ms, max {:.1} ms, answering {message:?}",
        percentile(&times, 0.5),
        percentile(&times, 1.0)
    );
    println!("hung upstream: relay peak RSS {peak_rss:.1} MiB");
}

async fn slow_body(wait: Duration) {
    let (served, address) =
        serve_with(&[], &["--body-read-timeout", "3", "--request-timeout", "5"]);
    let stream = TcpStream::connect(&address).await.unwrap();
    let (mut reader, mut writer) = stream.into_split();
    let started = Instant::now();
    let dribble = tokio::spawn(async move {
        let head = "POST /observe/observables HTTP/1.1\r\nHost: relay\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n";
        writer.write_all(head.as_bytes()).await.unwrap();
        for _ in 0..1000 {
            if writer.write_all(b" ").await.is_err() {
                return;
            }
            tokio::time::sleep(Duration::from_secs(2)).await;
        }
    });
    let mut bytes = Vec::new();
    let read = tokio::time::timeout(wait, reader.read_to_end(&mut bytes)).await;
    let elapsed = started.elapsed();
    dribble.abort();
    let answer = parse_answer(&bytes).map(|(answer, _)| answer);
    match (read, answer) {
        (Err(_), _) => println!(
            "slow body: one byte every 2 s under --body-read-timeout 3 --request-timeout 5: never cut in {} s",
            wait.as_secs()
        ),
        (Ok(_), Some(answer)) => println!(
            "slow body: one byte every 2 s under --body-read-timeout 3 --request-timeout 5: cut after {:.1} s, answered {} {:?}",
            elapsed.as_secs_f64(),
            answer.status,
            answer.body.chars().take(120).collect::<String>()
        ),
        (Ok(_), None) => println!(
            "slow body: one byte every 2 s: closed after {:.1} s without an answer",
            elapsed.as_secs_f64()
        ),
    }
    drop(served);
}

async fn chunk_flood(connections: usize, chunks: usize) {
    let (served, address) = serve(&[]);
    let pid = served.pid();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let before = rss_mib(pid);
    let mut open = Vec::with_capacity(connections);
    let mut senders = Vec::with_capacity(connections);
    for _ in 0..connections {
        let stream = TcpStream::connect(&address).await.unwrap();
        let (reader, mut writer) = stream.into_split();
        open.push(reader);
        senders.push(tokio::spawn(async move {
            let head = "POST /observe/observables HTTP/1.1\r\nHost: relay\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n";
            writer.write_all(head.as_bytes()).await.unwrap();
            let block = b"1\r\n \r\n".repeat(1000);
            for _ in 0..chunks / 1000 {
                if writer.write_all(&block).await.is_err() {
                    return (writer, false);
                }
            }
            (writer, true)
        }));
    }
    let mut writers = Vec::with_capacity(connections);
    let mut whole = 0;
    for sender in senders {
        let (writer, sent) = sender.await.unwrap();
        whole += usize::from(sent);
        writers.push(writer);
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let held = rss_mib(pid);
    println!(
        "chunk flood: {connections} connections x {chunks} one-byte chunks, no terminator ({whole} sent whole): RSS {before:.1} MiB before, {held:.1} MiB with them sent ({:.1} MiB of body bytes)",
        (connections * chunks) as f64 / (1024.0 * 1024.0)
    );
    drop((open, writers, served));
}

async fn huge_headers(connections: usize, sent: usize) {
    let (served, address) = serve(&[]);
    let pid = served.pid();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let before = rss_mib(pid);
    let mut head = b"GET /watchdog HTTP/1.1\r\nHost: relay\r\nX-Big: ".to_vec();
    head.resize(sent, b'a');
    let head: Arc<[u8]> = head.into();
    let mut tasks = Vec::with_capacity(connections);
    for _ in 0..connections {
        let (address, head) = (address.clone(), Arc::clone(&head));
        tasks.push(tokio::spawn(async move {
            let mut stream = TcpStream::connect(&address).await.unwrap();
            let _ = stream.write_all(&head).await;
            stream
        }));
    }
    let mut streams = Vec::with_capacity(connections);
    for task in tasks {
        streams.push(task.await.unwrap());
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let held = rss_mib(pid);
    let mut refused = 0;
    let mut buffer = Vec::new();
    for stream in &mut streams {
        let answer =
            tokio::time::timeout(Duration::from_millis(5), read_answer(stream, &mut buffer)).await;
        if matches!(answer, Ok(Some(answer)) if answer.status == 431) {
            refused += 1;
        }
    }
    println!(
        "huge headers: {connections} connections each {} KB into a 300 KB header: RSS {before:.1} MiB before, {held:.1} MiB with them held; {refused} answered 431",
        sent / 1000
    );
    drop((streams, served));
}

fn main() {
    // `cargo test --benches` runs benches once with `--bench` absent: nothing to measure then.
    if !std::env::args().any(|a| a == "--bench") {
        return;
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        if runs("idle") {
            let count = setting("HOLD_IDLE", 10_000) as usize;
            idle_connections(count, Duration::from_secs(setting("HOLD_WAIT", 70))).await;
        }
        if runs("hung") {
            hung_upstream(
                setting("HOLD_CLIENTS", 1_500) as usize,
                Duration::from_secs(setting("HOLD_SECONDS", 25)),
            )
            .await;
        }
        if runs("slow-body") {
            slow_body(Duration::from_secs(setting("HOLD_SLOW_BODY_WAIT", 45))).await;
        }
        if runs("chunks") {
            chunk_flood(20, 300_000).await;
        }
        if runs("headers") {
            huge_headers(200, 150_000).await;
        }
    });
}
