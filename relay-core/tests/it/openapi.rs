//! The OpenAPI document: checked in, served only when enabled, and in step with the router.

use std::path::PathBuf;

use serde_json::Value;

use crate::common::*;

const METHODS: [&str; 7] = ["GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS"];

fn checked_in_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../openapi.json")
}

/// Set `RELAY_UPDATE_OPENAPI=1` to rewrite the checked-in document after a deliberate change.
#[test]
fn the_checked_in_document_is_fresh() {
    let generated = xdr_relay_core::openapi();
    let path = checked_in_path();
    let pretty = format!(
        "{}\n",
        serde_json::to_string_pretty(&generated).expect("JSON")
    );
    if std::env::var_os("RELAY_UPDATE_OPENAPI").is_some() {
        std::fs::write(&path, pretty).expect("write openapi.json");
        return;
    }
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "{} is missing ({e}); run RELAY_UPDATE_OPENAPI=1 cargo test -p relay-core openapi",
            path.display()
        )
    });
    let checked_in: Value = serde_json::from_str(&text).expect("openapi.json is JSON");
    assert!(
        checked_in == generated,
        "{} is stale: run RELAY_UPDATE_OPENAPI=1 cargo test -p relay-core openapi and commit it",
        path.display()
    );
}

#[tokio::test]
async fn served_only_when_enabled() {
    let relay = Relay::start().await;
    let (status, body) = relay.send("GET", "/openapi.json", None, "").await;
    assert_eq!(status, 404);
    assert_eq!(body["errors"][0]["code"], "not found");

    let relay = Relay::start_with(|c| c.openapi = true).await;
    let (status, body) = relay.send("GET", "/openapi.json", None, "").await;
    assert_eq!(status, 200);
    assert_eq!(body, xdr_relay_core::openapi());
}

/// The documented (path, method) pairs, upper-case methods.
fn documented(doc: &Value) -> Vec<(String, String)> {
    let mut pairs = Vec::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for method in item.as_object().expect("path item").keys() {
            pairs.push((path.clone(), method.to_uppercase()));
        }
    }
    pairs
}

/// Whether the router has a handler for `method path`: anything but its JSON 404 and 405.
async fn routed(relay: &Relay, method: &str, path: &str) -> bool {
    let status = relay
        .raw_status(method, path, Some(&format!("Bearer {}", token())), "[]")
        .await;
    !matches!(status, 404 | 405)
}

#[tokio::test]
async fn every_route_is_documented_and_every_documented_route_exists() {
    let relay = Relay::start_with(|c| c.openapi = true).await;
    let doc = xdr_relay_core::openapi();
    let documented = documented(&doc);
    assert!(documented.len() >= 11, "{documented:?}");

    let mut candidate_paths: Vec<String> = documented.iter().map(|(p, _)| p.clone()).collect();
    // Paths a router could plausibly have grown without the document knowing.
    for extra in [
        "/",
        "/observe",
        "/deliberate",
        "/refer",
        "/respond",
        "/respond/trigger/x",
        "/tiles",
        "/tiles/tile",
        "/tiles/tile-data",
        "/metrics",
        "/healthz",
        "/openapi.yaml",
        "/docs",
        "/v2.0/ip/1.1.1.1",
    ] {
        candidate_paths.push(extra.to_owned());
    }
    candidate_paths.sort();
    candidate_paths.dedup();

    let mut mismatches = Vec::new();
    for path in &candidate_paths {
        for method in METHODS {
            let in_doc = documented.iter().any(|(p, m)| p == path && m == method)
                // HEAD is answered wherever GET is (axum), and needs no entry of its own.
                || (method == "HEAD" && documented.iter().any(|(p, m)| p == path && m == "GET"));
            // The trailing-slash alias of every route behaves as the route.
            for variant in [path.clone(), format!("{path}/")] {
                if variant == "//" {
                    continue;
                }
                let routed = routed(&relay, method, &variant).await;
                if routed != in_doc {
                    mismatches.push(format!(
                        "{method} {variant}: routed={routed}, documented={in_doc}"
                    ));
                }
            }
        }
    }
    assert!(mismatches.is_empty(), "{mismatches:#?}");
}
