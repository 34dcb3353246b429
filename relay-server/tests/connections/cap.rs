//! The connection cap: excess clients wait (in the backlog, or accepted for the slot an idle
//! connection frees); one warning per episode.
//! Alone in its test binary: it installs the process's metrics recorder and log subscriber.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::print_stdout
)]

use std::{
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
    time::Duration,
};

use crate::common::{HANG, Server, TestRecorder, limits, read_answer};
use tokio::{io::AsyncWriteExt, net::TcpStream, time::timeout};
use tracing::{Level, field::Field};
use tracing_subscriber::{Layer, layer::SubscriberExt};
use xdr_relay_server::{CONNECTIONS_OPEN, CONNECTIONS_SATURATED, Limits};

/// Counts the warnings whose message mentions the connection cap.
struct CapWarnings(Arc<AtomicUsize>);

impl<S: tracing::Subscriber> Layer<S> for CapWarnings {
    fn on_event(&self, event: &tracing::Event<'_>, _: tracing_subscriber::layer::Context<'_, S>) {
        struct Message(bool);
        impl tracing::field::Visit for Message {
            fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
                if field.name() == "message" {
                    self.0 |= format!("{value:?}").contains("connection cap reached");
                }
            }
        }
        let mut message = Message(false);
        event.record(&mut message);
        if *event.metadata().level() == Level::WARN && message.0 {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }
}

async fn send_get(addr: std::net::SocketAddr) -> TcpStream {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    stream
        .write_all(b"GET /watchdog HTTP/1.1\r\nHost: test\r\n\r\n")
        .await
        .unwrap();
    stream
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifth_client_waits_for_a_free_slot() {
    let recorder = TestRecorder::global();
    let warnings = Arc::new(AtomicUsize::new(0));
    let subscriber = tracing_subscriber::registry().with(CapWarnings(Arc::clone(&warnings)));
    tracing::subscriber::set_global_default(subscriber).unwrap();

    let idle = Duration::from_secs(30);
    let limits = Limits {
        max_connections: 4,
        idle_timeout: idle,
        header_read_timeout: idle,
        ..limits()
    };
    let server = Server::start(limits).await;

    // Four connections in the middle of their headers: not idle, so none is closed for a
    // new client (idle ones are: `hostile::the_oldest_idle_connection_makes_room_for_a_new_client`).
    let mut open = Vec::new();
    for _ in 0..4 {
        let mut stream = TcpStream::connect(server.addr).await.unwrap();
        stream
            .write_all(b"GET /watchdog HTTP/1.1\r\n")
            .await
            .unwrap();
        open.push(stream);
    }
    let all_open = timeout(HANG, async {
        while recorder.gauge(CONNECTIONS_OPEN) != 4.0 {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    });
    all_open.await.expect("the four were never open");

    // Two more clients: connected by the kernel, but not served while the four stay open.
    let mut fifth = send_get(server.addr).await;
    let mut sixth = send_get(server.addr).await;
    let waited = timeout(Duration::from_millis(500), read_answer(&mut fifth)).await;
    assert!(waited.is_err(), "served beyond the cap");
    assert_eq!(recorder.gauge(CONNECTIONS_OPEN), 4.0);

    // One closes: the fifth is served, then the sixth once another closes.
    drop(open.pop());
    let answer = timeout(HANG, read_answer(&mut fifth))
        .await
        .expect("never served");
    assert_eq!(answer.body, "ok");
    drop(open.pop());
    let answer = timeout(HANG, read_answer(&mut sixth))
        .await
        .expect("never served");
    assert_eq!(answer.body, "ok");

    // One episode: one warning, one count, whatever the number of waiting clients.
    assert_eq!(warnings.load(Ordering::SeqCst), 1);
    assert_eq!(recorder.counter(CONNECTIONS_SATURATED), 1);
    drop((open, fifth, sixth));
    let closed = timeout(HANG, async {
        while recorder.gauge(CONNECTIONS_OPEN) != 0.0 {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    });
    closed.await.expect("connections still counted open");
}
