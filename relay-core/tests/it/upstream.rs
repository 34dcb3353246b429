//! The upstream side: error codes, partial results, the metadata cache and concurrency.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use axum::extract::State;
use serde_json::{Value, json};
use tokio::sync::Barrier;
use wiremock::ResponseTemplate;

use crate::common::*;

const IP: &str = "192.0.2.1";
const IP_PATH: &str = "/v2.0/ip/192.0.2.1";
const BAD_TOKEN: &str = "Token must be a valid RFC4122 UUID";

/// The one error of `body`, as (code, message), and whether `data` was left out.
fn only_error(body: &Value) -> (String, String) {
    let errors = body["errors"].as_array().expect("errors");
    assert_eq!(errors.len(), 1, "{body:#}");
    assert_eq!(errors[0]["type"], "fatal");
    assert!(body.get("data").is_none(), "{body:#}");
    (
        errors[0]["code"].as_str().unwrap_or("?").to_owned(),
        errors[0]["message"].as_str().unwrap_or("?").to_owned(),
    )
}

/// Every upstream answer to an IP lookup gives its code on every enrich route and on
/// `/health`, whose lookup is `/v2.0/ip`.
async fn check(response: ResponseTemplate, code: &str, message: &str, attempts: usize) {
    for route in ["/observe/observables", "/deliberate/observables", "/health"] {
        let relay = Relay::start().await;
        relay.answer(IP_PATH, response.clone()).await;
        relay.answer("/v2.0/ip", response.clone()).await;
        let (status, body) = relay.post(route, &ips(&[IP])).await;
        assert_eq!(status, 200, "{route}");
        let (got_code, got_message) = only_error(&body);
        assert_eq!(got_code, code, "{route}: {body}");
        assert!(
            got_message.starts_with(message),
            "{route}: {got_message:?} should start with {message:?}"
        );
        assert_eq!(relay.upstream_paths().await.len(), attempts, "{route}");
    }
}

#[tokio::test]
async fn upstream_401_is_an_authorization_error_with_its_message() {
    let response = ResponseTemplate::new(401).set_body_string("Unauthorized. API Key not found.");
    check(
        response,
        "authorization error",
        "Authorization failed: Unauthorized. API Key not found.",
        1,
    )
    .await;
}

#[tokio::test]
async fn upstream_uuid_complaint_is_an_authorization_error() {
    for status in [400, 404] {
        let response = ResponseTemplate::new(status).set_body_string(BAD_TOKEN);
        check(
            response,
            "authorization error",
            &format!("Authorization failed: {BAD_TOKEN}"),
            1,
        )
        .await;
    }
}

#[tokio::test]
async fn other_400_and_404_mean_no_data_for_that_ip() {
    for status in [400, 404] {
        let relay = Relay::start().await;
        relay
            .answer(
                IP_PATH,
                ResponseTemplate::new(status).set_body_string("Bad IP format"),
            )
            .await;
        relay.report("192.0.2.2", clean()).await;
        let (_, body) = relay
            .post("/deliberate/observables", &ips(&[IP, "192.0.2.2"]))
            .await;
        assert!(body.get("errors").is_none(), "{body:#}");
        let verdicts = docs(&body, "verdicts");
        assert_eq!(verdicts.len(), 1);
        assert_eq!(verdicts[0]["observable"]["value"], "192.0.2.2");
    }
}

#[tokio::test]
async fn upstream_403_is_permission_denied() {
    let response = ResponseTemplate::new(403).set_body_string("Forbidden");
    check(
        response,
        "permission denied",
        "Auth0 Signals denied access: Forbidden",
        1,
    )
    .await;
}

#[tokio::test]
async fn upstream_429_after_retries_is_too_many_requests() {
    // Two attempts: the test config's retry policy.
    check(
        ResponseTemplate::new(429),
        "too many requests",
        "Auth0 Signals rate limit reached",
        2,
    )
    .await;
}

#[tokio::test]
async fn upstream_5xx_is_service_unavailable() {
    // 500 is not retried; 502, 503 and 504 are.
    for (status, attempts) in [(500, 1), (502, 2), (503, 2), (504, 2)] {
        let response = ResponseTemplate::new(status).set_body_string("down");
        let message = format!("Auth0 Signals answered HTTP {status}: down");
        check(response, "service unavailable", &message, attempts).await;
    }
}

#[tokio::test]
async fn undecodable_answer_is_unknown() {
    let response = ResponseTemplate::new(200).set_body_string("<html>not json</html>");
    for route in ["/observe/observables", "/deliberate/observables"] {
        let relay = Relay::start().await;
        relay.answer(IP_PATH, response.clone()).await;
        let (_, body) = relay.post(route, &ips(&[IP])).await;
        let (code, message) = only_error(&body);
        assert_eq!(code, "unknown");
        assert!(
            message.starts_with("could not decode the IP report sent by Auth0 Signals"),
            "{message}"
        );
    }
}

#[tokio::test]
async fn upstream_timeout_is_service_unavailable() {
    let relay = Relay::start_with(|c| {
        c.signals.client.attempt_timeout = Duration::from_millis(200);
    })
    .await;
    let slow = ResponseTemplate::new(200)
        .set_body_json(json!({"fullip": clean()}))
        .set_delay(Duration::from_secs(5));
    relay.answer(IP_PATH, slow).await;
    let (_, body) = relay.post("/observe/observables", &ips(&[IP])).await;
    assert_eq!(
        only_error(&body),
        (
            "service unavailable".to_owned(),
            "Auth0 Signals did not answer within 200 ms".to_owned()
        )
    );
}

#[tokio::test]
async fn connection_refused_is_service_unavailable() {
    // A port that was just free: nothing listens there any more.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1");
    let address = listener.local_addr().expect("address");
    drop(listener);
    let relay = Relay::start_at(&format!("http://{address}/"), |_| {}).await;
    for route in ["/observe/observables", "/deliberate/observables", "/health"] {
        let (_, body) = relay.post(route, &ips(&[IP])).await;
        let (code, message) = only_error(&body);
        assert_eq!(code, "service unavailable", "{route}");
        assert!(
            message.starts_with("could not reach Auth0 Signals"),
            "{message}"
        );
    }
}

#[tokio::test]
async fn one_ip_failing_keeps_the_others_data() {
    let relay = Relay::start().await;
    relay
        .report(
            "192.0.2.2",
            Report {
                score: -1,
                badip: (-1, &["L"]),
                baddomain: (0, [&[], &[], &[]]),
                history: 0,
            }
            .json(),
        )
        .await;
    relay.list("badip", "L", metadata("L", "Public", "1")).await;
    relay.answer(IP_PATH, ResponseTemplate::new(503)).await;
    let (status, body) = relay
        .post("/observe/observables", &ips(&[IP, "192.0.2.2"]))
        .await;
    assert_eq!(status, 200);
    assert_eq!(docs(&body, "verdicts").len(), 1);
    assert_eq!(docs(&body, "sightings").len(), 1);
    assert_eq!(body["errors"][0]["code"], "service unavailable");
    assert_eq!(body["errors"].as_array().map(Vec::len), Some(1));
    crate::oracle::assert_valid_ctim(&body);
}

#[tokio::test]
async fn a_failing_list_lookup_keeps_the_rest() {
    let relay = Relay::start().await;
    relay
        .report(
            IP,
            Report {
                score: -1,
                badip: (-1, &["GOOD", "BROKEN"]),
                baddomain: (0, [&[], &[], &[]]),
                history: 0,
            }
            .json(),
        )
        .await;
    relay
        .list("badip", "GOOD", metadata("GOOD", "Public", "1"))
        .await;
    relay
        .answer(
            "/metadata/badip/lists/BROKEN",
            ResponseTemplate::new(403).set_body_string("no"),
        )
        .await;
    let (_, body) = relay.post("/observe/observables", &ips(&[IP])).await;
    assert_eq!(docs(&body, "verdicts").len(), 1);
    assert_eq!(docs(&body, "judgements").len(), 1);
    assert_eq!(docs(&body, "indicators")[0]["title"], "GOOD");
    assert_eq!(docs(&body, "sightings").len(), 1);
    assert_eq!(body["errors"][0]["code"], "permission denied");

    // Failures are not cached: the next request asks again.
    relay.post("/observe/observables", &ips(&[IP])).await;
    assert_eq!(relay.calls_to("/metadata/badip/lists/BROKEN").await, 2);
    assert_eq!(relay.calls_to("/metadata/badip/lists/GOOD").await, 1);
}

#[tokio::test]
async fn identical_errors_are_reported_once() {
    let relay = Relay::start().await;
    let values = ["192.0.2.1", "192.0.2.2", "192.0.2.3"];
    for ip in values {
        relay
            .answer(
                &format!("/v2.0/ip/{ip}"),
                ResponseTemplate::new(500).set_body_string("down"),
            )
            .await;
    }
    let (_, body) = relay.post("/deliberate/observables", &ips(&values)).await;
    assert_eq!(
        body,
        json!({"errors": [{
            "type": "fatal",
            "code": "service unavailable",
            "message": "Auth0 Signals answered HTTP 500: down",
        }]})
    );
    assert_eq!(relay.upstream_paths().await.len(), 3);
}

/// One IP on list `L` (badip), answered for any key.
async fn ip_on_list_l(relay: &Relay, ip: &str) {
    let report = Report {
        score: -1,
        badip: (-1, &["L"]),
        baddomain: (0, [&[], &[], &[]]),
        history: 0,
    };
    relay.report(ip, report.json()).await;
}

#[tokio::test]
async fn metadata_is_cached_across_requests_per_credential() {
    let relay = Relay::start().await;
    ip_on_list_l(&relay, IP).await;
    ip_on_list_l(&relay, "192.0.2.2").await;
    relay.list("badip", "L", metadata("L", "Public", "1")).await;
    let first = token_for(API_KEY, None);
    let second = token_for("another-customer-key", None);
    let sightings = |body: &Value| docs(body, "sightings").len();

    let (_, body) = relay
        .send("POST", "/observe/observables", Some(&first), &ips(&[IP]))
        .await;
    assert_eq!(sightings(&body), 1);
    // Another request, another IP on the same list, same key: served from the cache.
    let (_, body) = relay
        .send(
            "POST",
            "/observe/observables",
            Some(&first),
            &ips(&["192.0.2.2"]),
        )
        .await;
    assert_eq!(sightings(&body), 1);
    assert_eq!(relay.calls_to("/metadata/badip/lists/L").await, 1);
    // Another key never reads the first key's cache entry.
    let (_, body) = relay
        .send("POST", "/observe/observables", Some(&second), &ips(&[IP]))
        .await;
    assert_eq!(sightings(&body), 1);
    assert_eq!(relay.calls_to("/metadata/badip/lists/L").await, 2);
    let keys: Vec<String> = relay
        .upstream
        .received_requests()
        .await
        .expect("recorded")
        .iter()
        .filter(|r| r.url.path() == "/metadata/badip/lists/L")
        .map(|r| {
            r.headers
                .get("x-auth-token")
                .and_then(|v| v.to_str().ok())
                .unwrap_or("")
                .to_owned()
        })
        .collect();
    assert_eq!(keys, [API_KEY, "another-customer-key"]);
}

#[tokio::test]
async fn deliberate_never_fetches_metadata() {
    let relay = Relay::start().await;
    ip_on_list_l(&relay, IP).await;
    let (_, body) = relay.post("/deliberate/observables", &ips(&[IP])).await;
    assert_eq!(docs(&body, "verdicts").len(), 1);
    assert_eq!(relay.upstream_paths().await, [IP_PATH]);
}

/// A stub upstream whose answers wait until `parties` requests of the same kind are in
/// flight together, and which records the most it saw at once. A relay that asked one at a
/// time would never release the barrier: its lookups would time out and the test fail.
#[derive(Default)]
struct Gate {
    in_flight: AtomicUsize,
    most: AtomicUsize,
}

struct Stub {
    ips: Gate,
    lists: Gate,
    ip_barrier: Barrier,
    list_barrier: Barrier,
}

impl Gate {
    async fn pass(&self, barrier: &Barrier) {
        let now = self.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
        self.most.fetch_max(now, Ordering::SeqCst);
        barrier.wait().await;
        self.in_flight.fetch_sub(1, Ordering::SeqCst);
    }

    fn most(&self) -> usize {
        self.most.load(Ordering::SeqCst)
    }
}

async fn gated_ip(
    State(stub): State<Arc<Stub>>,
    axum::extract::Path(ip): axum::extract::Path<String>,
) -> axum::Json<Value> {
    stub.ips.pass(&stub.ip_barrier).await;
    let list = format!("L-{ip}");
    let report = Report {
        score: -1,
        badip: (-1, &[list.as_str()]),
        baddomain: (0, [&[], &[], &[]]),
        history: 0,
    };
    axum::Json(json!({"fullip": report.json()}))
}

async fn gated_list(
    State(stub): State<Arc<Stub>>,
    axum::extract::Path(id): axum::extract::Path<String>,
) -> axum::Json<Value> {
    stub.lists.pass(&stub.list_barrier).await;
    axum::Json(metadata(&id, "Public", "1"))
}

async fn start_stub(ip_parties: usize, list_parties: usize) -> (String, Arc<Stub>) {
    let stub = Arc::new(Stub {
        ips: Gate::default(),
        lists: Gate::default(),
        ip_barrier: Barrier::new(ip_parties),
        list_barrier: Barrier::new(list_parties),
    });
    let app = axum::Router::new()
        .route("/v2.0/ip/{ip}", axum::routing::get(gated_ip))
        .route("/metadata/badip/lists/{id}", axum::routing::get(gated_list))
        .with_state(Arc::clone(&stub));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("the stub upstream must bind 127.0.0.1");
    let address = listener.local_addr().expect("address");
    tokio::spawn(async move { axum::serve(listener, app).await });
    (format!("http://{address}/"), stub)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lookups_of_one_request_run_concurrently() {
    let values = ["192.0.2.1", "192.0.2.2", "192.0.2.3", "192.0.2.4"];
    let (url, stub) = start_stub(values.len(), values.len()).await;
    let relay = Relay::start_at(&url, |_| {}).await;
    let (_, body) = relay.post("/observe/observables", &ips(&values)).await;
    assert!(
        body.get("errors").is_none(),
        "lookups were not concurrent (the stub's barrier never opened): {body:#}"
    );
    assert_eq!(docs(&body, "verdicts").len(), 4);
    assert_eq!(docs(&body, "indicators").len(), 4);
    assert_eq!(stub.ips.most(), 4);
    assert_eq!(stub.lists.most(), 4);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrency_is_bounded() {
    let values = [
        "192.0.2.1",
        "192.0.2.2",
        "192.0.2.3",
        "192.0.2.4",
        "192.0.2.5",
        "192.0.2.6",
    ];
    // Answers are released two at a time, so two must be in flight for any to finish.
    let (url, stub) = start_stub(2, 2).await;
    let relay = Relay::start_at(&url, |c| c.signals.upstream_concurrency = 2).await;
    let (_, body) = relay.post("/observe/observables", &ips(&values)).await;
    assert!(body.get("errors").is_none(), "{body:#}");
    assert_eq!(docs(&body, "verdicts").len(), 6);
    assert_eq!(stub.ips.most(), 2);
    assert_eq!(stub.lists.most(), 2);
}
