//! The cheapest possible relay, as a baseline: `testkit passthrough --listen ADDR --upstream URL`
//! (`cargo xtask bench passthrough`).
//!
//! For every `POST /observe/observables` it makes the one upstream call a warm `observe-1`
//! makes (`GET /v2.0/ip/<ip>` with the key) and answers the upstream's body unchanged: no JWT,
//! no parsing, no mapping, no log line. Built from what relay-server is built from (axum on a
//! multi-thread tokio runtime, one reqwest client), loading it with `observe-1` shows what the
//! HTTP plumbing alone costs on this machine: the ceiling of any relay on this stack.

use std::net::SocketAddr;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;

use super::scenario::ONE_LIST_IP;

/// Serves until the process is stopped; prints `passthrough listening address=...` once bound.
pub(crate) async fn serve(listen: SocketAddr, upstream: &str) -> Result<(), String> {
    // Configured as signals-client's: redirects are not followed.
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .map_err(|e| format!("cannot build the HTTP client: {e}"))?;
    let report_url = format!("{}/v2.0/ip/{ONE_LIST_IP}", upstream.trim_end_matches('/'));
    let app = axum::Router::new()
        .route("/observe/observables", axum::routing::post(observe))
        .with_state((client, report_url));
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .map_err(|e| format!("passthrough: cannot listen on {listen}: {e}"))?;
    let address = listener
        .local_addr()
        .map_err(|e| format!("passthrough: no local address: {e}"))?;
    // The line `relay::Server::spawn` waits for.
    eprintln!("passthrough listening address={address}");
    axum::serve(listener, app)
        .await
        .map_err(|e| format!("passthrough: {e}"))
}

async fn observe(
    State((client, url)): State<(reqwest::Client, String)>,
    _body: Bytes,
) -> Result<Bytes, StatusCode> {
    let request = client
        .get(&url)
        .header("X-Auth-Token", testkit::signals::DEMO_API_KEY);
    let response = request.send().await.map_err(|_| StatusCode::BAD_GATEWAY)?;
    response.bytes().await.map_err(|_| StatusCode::BAD_GATEWAY)
}
