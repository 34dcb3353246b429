//! Failures below HTTP: timeouts, refused and reset connections, TLS verification.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use signals_client::{Error, ErrorKind, SignalsClient};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls::{self, pki_types::CertificateDer, pki_types::PrivateKeyDer};
use wiremock::matchers::method;
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::support::{config, data, key, received};

async fn report(client: &SignalsClient) -> Result<Option<signals_client::IpReport>, Error> {
    client.ip_report(&key(), "1.1.1.1".parse().unwrap()).await
}

async fn bind() -> TcpListener {
    TcpListener::bind("127.0.0.1:0")
        .await
        .expect("cannot listen on 127.0.0.1 for the stub server")
}

#[tokio::test]
async fn a_slow_answer_times_out_without_retry() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(200).set_delay(Duration::from_secs(5)))
        .mount(&server)
        .await;
    let mut config = config(&server.uri());
    config.attempt_timeout = Duration::from_millis(100);
    let error = report(&SignalsClient::new(config).unwrap())
        .await
        .unwrap_err();
    assert!(
        matches!(error, Error::Timeout { after } if after == Duration::from_millis(100)),
        "{error:?}"
    );
    assert_eq!(error.kind(), ErrorKind::ServiceUnavailable);
    assert_eq!(received(&server).await.len(), 1);
}

#[tokio::test]
async fn the_total_timeout_bounds_an_attempt_too() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(200).set_delay(Duration::from_secs(5)))
        .mount(&server)
        .await;
    let mut config = config(&server.uri());
    config.total_timeout = Duration::from_millis(100);
    let error = report(&SignalsClient::new(config).unwrap())
        .await
        .unwrap_err();
    assert!(
        matches!(error, Error::Timeout { after } if after <= Duration::from_millis(100)),
        "{error:?}"
    );
}

#[tokio::test]
async fn a_refused_connection_fails_fast() {
    let listener = bind().await;
    let address = listener.local_addr().unwrap();
    drop(listener);
    let client = SignalsClient::new(config(&format!("http://{address}/"))).unwrap();
    let error = report(&client).await.unwrap_err();
    assert!(
        matches!(&error, Error::Connection { message } if message.to_lowercase().contains("refused")),
        "{error:?}"
    );
    assert_eq!(error.kind(), ErrorKind::ServiceUnavailable);
}

/// How the raw server breaks a connection.
#[derive(Clone, Copy)]
enum Break {
    /// TCP RST: the peer sees "connection reset".
    Reset,
    /// A clean close (FIN) with no answer, as a server closing an idle kept-alive connection.
    Close,
}

/// A raw HTTP server that breaks the first `breaks` connections after reading the request,
/// then answers with `body`. Returns its base URL and the count of connections.
async fn breaking_server(
    how: Break,
    breaks: usize,
    body: &'static str,
) -> (String, Arc<AtomicUsize>) {
    let listener = bind().await;
    let url = format!("http://{}/", listener.local_addr().unwrap());
    let connections = Arc::new(AtomicUsize::new(0));
    let seen = Arc::clone(&connections);
    tokio::spawn(async move {
        loop {
            let (mut stream, _) = listener.accept().await.unwrap();
            let n = seen.fetch_add(1, Ordering::SeqCst);
            read_request_head(&mut stream).await;
            if n < breaks {
                if let Break::Reset = how {
                    stream.set_zero_linger().unwrap(); // close with RST, not FIN
                }
                drop(stream);
                continue;
            }
            let response = format!(
                "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            );
            stream.write_all(response.as_bytes()).await.unwrap();
            stream.shutdown().await.unwrap();
        }
    });
    (url, connections)
}

async fn read_request_head(stream: &mut TcpStream) {
    let mut head = Vec::new();
    let mut buf = [0u8; 1024];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
        let n = stream.read(&mut buf).await.unwrap();
        assert!(n > 0, "the client closed before sending a full request");
        head.extend_from_slice(&buf[..n]);
    }
}

#[tokio::test]
async fn a_broken_connection_is_retried_then_succeeds() {
    for how in [Break::Reset, Break::Close] {
        let (url, connections) = breaking_server(how, 2, r#"{"fullip":{"score":0}}"#).await;
        let found = report(&SignalsClient::new(config(&url)).unwrap())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(found.score, Some(0));
        assert_eq!(connections.load(Ordering::SeqCst), 3);
    }
}

#[tokio::test]
async fn resets_until_the_attempts_run_out_are_a_connection_error() {
    let (url, connections) = breaking_server(Break::Reset, usize::MAX, "{}").await;
    let error = report(&SignalsClient::new(config(&url)).unwrap())
        .await
        .unwrap_err();
    assert!(matches!(error, Error::Connection { .. }), "{error:?}");
    assert_eq!(connections.load(Ordering::SeqCst), 3);
}

#[tokio::test]
async fn an_unverifiable_certificate_is_a_tls_error_with_its_reason() {
    let cert = CertificateDer::from(data("self-signed-cert.der"));
    let private_key = PrivateKeyDer::try_from(data("self-signed-key.der")).unwrap();
    let tls = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::aws_lc_rs::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_no_client_auth()
    .with_single_cert(vec![cert], private_key)
    .unwrap();
    let acceptor = TlsAcceptor::from(Arc::new(tls));
    let listener = bind().await;
    let url = format!("https://{}/", listener.local_addr().unwrap());
    let connections = Arc::new(AtomicUsize::new(0));
    let seen = Arc::clone(&connections);
    tokio::spawn(async move {
        loop {
            let (stream, _) = listener.accept().await.unwrap();
            seen.fetch_add(1, Ordering::SeqCst);
            let _handshake_fails = acceptor.accept(stream).await;
        }
    });

    let error = report(&SignalsClient::new(config(&url)).unwrap())
        .await
        .unwrap_err();
    let Error::Tls { message } = &error else {
        panic!("{error:?}")
    };
    assert_eq!(
        message,
        "self signed certificate or unknown certificate authority"
    );
    assert_eq!(error.kind(), ErrorKind::Unknown);
    assert_eq!(
        connections.load(Ordering::SeqCst),
        1,
        "TLS failures are not retried"
    );
}
