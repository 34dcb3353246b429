//! The cheapest possible relay, as a baseline: `bench passthrough --listen ADDR --upstream URL`.
//!
//! For every `POST /observe/observables` it makes the one upstream call a warm `observe-1`
//! makes (`GET /v2.0/ip/<ip>` with the key) and answers the upstream's body unchanged: no JWT,
//! no parsing, no mapping, no log line. It is built from what relay-server is built from
//! (axum on a multi-thread tokio runtime, one reqwest client), so loading it with `observe-1`
//! shows what the HTTP plumbing alone costs on this machine: the ceiling any relay on this
//! stack can reach, against which the relay's own work is measured.

use std::net::SocketAddr;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::post;

use crate::stub;

/// The IP every request asks about: the one `observe-1` sends.
const IP: &str = "203.0.113.9";

#[derive(Clone)]
struct Upstream {
    client: reqwest::Client,
    report_url: String,
}

/// Serves until the process is stopped; prints `passthrough listening address=...` once bound.
pub(crate) async fn serve(listen: SocketAddr, upstream: &str) -> Result<(), String> {
    let state = Upstream {
        // Configured as signals-client's: redirects are not followed.
        client: reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| format!("cannot build the HTTP client: {e}"))?,
        report_url: format!("{}/v2.0/ip/{IP}", upstream.trim_end_matches('/')),
    };
    let app = Router::new()
        .route("/observe/observables", post(observe))
        .with_state(state);
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .map_err(|e| format!("passthrough: cannot listen on {listen}: {e}"))?;
    let address = listener
        .local_addr()
        .map_err(|e| format!("passthrough: no local address: {e}"))?;
    // The line `procs::Server::spawn` waits for.
    eprintln!("passthrough listening address={address}");
    axum::serve(listener, app)
        .await
        .map_err(|e| format!("passthrough: {e}"))
}

async fn observe(State(upstream): State<Upstream>, _body: Bytes) -> Result<Bytes, StatusCode> {
    let response = upstream
        .client
        .get(&upstream.report_url)
        .header("X-Auth-Token", stub::DEMO_API_KEY)
        .send()
        .await
        .map_err(|_| StatusCode::BAD_GATEWAY)?;
    response.bytes().await.map_err(|_| StatusCode::BAD_GATEWAY)
}
