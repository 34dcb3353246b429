//! The scenarios of the original relay's unit tests (`expected_*.json`), through the router.
//!
//! The fixtures are compared structurally after removing the fields the original tests
//! removed (ids, times, relationship refs); those fields are checked on their own below.
//! Where this relay deliberately answers differently from the original, the expectation is
//! adjusted in code, next to a comment saying why.

use ctim_model::{CTIM_SCHEMA_VERSION, Timestamp};
use serde_json::{Value, json};
use wiremock::ResponseTemplate;

use crate::common::*;
use crate::oracle::assert_valid_ctim;

const IP: &str = "1.1.1.1";
/// uuid5(NAMESPACE_X500, "FAIL2BAN-SSH Blocklist.de"), as the Python relay answered it.
const CAPTURED_INDICATOR_ID: &str = "transient:indicator-1bd1feb2-b61e-52fa-8936-4f2cbc669229";

async fn relay_with_original_mocks() -> Relay {
    let relay = Relay::start().await;
    let report = fixture("upstream_v2.0_ip_response_ok.json");
    relay.report(IP, report["fullip"].clone()).await;
    relay
        .list(
            "badip",
            "FAIL2BAN-SSH",
            fixture("upstream_metadata_list_details.json"),
        )
        .await;
    relay
}

/// Removes what the original tests removed before comparing: `id` everywhere, the time
/// ranges of verdicts, judgements and sightings, and the relationship refs.
fn without_volatile(mut body: Value) -> Value {
    if let Some(data) = body["data"].as_object_mut() {
        for (group, value) in data.iter_mut() {
            let Some(docs) = value["docs"].as_array_mut() else {
                continue;
            };
            for doc in docs.iter_mut().filter_map(Value::as_object_mut) {
                doc.remove("id");
                doc.remove("observed_time");
                doc.remove("source_ref");
                doc.remove("target_ref");
                // The indicator's `valid_time` is a constant `{}` and stays in the fixture.
                if group != "indicators" {
                    doc.remove("valid_time");
                }
            }
        }
    }
    body
}

/// The fixture with this relay's deliberate differences applied: entities carry ctim-model's
/// schema version (the original pinned CTIM 1.0.17).
fn expected(name: &str) -> Value {
    let text = fixture(name).to_string().replace(
        r#""schema_version":"1.0.17""#,
        &format!(r#""schema_version":"{CTIM_SCHEMA_VERSION}""#),
    );
    serde_json::from_str(&text).expect("still JSON")
}

fn timestamp(value: &Value) -> Timestamp {
    Timestamp::parse(value.as_str().unwrap_or_default())
        .unwrap_or_else(|e| panic!("not a timestamp: {value} ({e})"))
}

/// A week from within the request's duration.
#[track_caller]
fn assert_week(valid_time: &Value, before: Timestamp, after: Timestamp) {
    let start = timestamp(&valid_time["start_time"]);
    let end = timestamp(&valid_time["end_time"]);
    assert!(before <= start && start <= after, "{valid_time}");
    assert_eq!(
        end.to_offset_date_time() - start.to_offset_date_time(),
        time::Duration::days(7)
    );
}

#[track_caller]
fn assert_transient_v4(id: &Value, kind: &str) {
    let id = id.as_str().unwrap_or_default();
    let uuid = id
        .strip_prefix(&format!("transient:{kind}-"))
        .unwrap_or_else(|| panic!("{id} is not a transient {kind} id"));
    let uuid = uuid::Uuid::parse_str(uuid).expect("a uuid");
    assert_eq!(uuid.get_version(), Some(uuid::Version::Random), "{id}");
}

#[tokio::test]
async fn observe_matches_the_original() {
    let relay = relay_with_original_mocks().await;
    let before = Timestamp::now();
    let (status, body) = relay.post("/observe/observables", &ips(&[IP])).await;
    let after = Timestamp::now();
    assert_eq!(status, 200);
    assert_eq!(
        without_volatile(body.clone()),
        expected("expected_observe_success.json")
    );
    assert_eq!(assert_valid_ctim(&body), 6);

    // The volatile fields, checked on their own.
    let verdict = &docs(&body, "verdicts")[0];
    assert_week(&verdict["valid_time"], before, after);
    for judgement in docs(&body, "judgements") {
        assert_transient_v4(&judgement["id"], "judgement");
        assert_week(&judgement["valid_time"], before, after);
    }
    let sighting = &docs(&body, "sightings")[0];
    assert_transient_v4(&sighting["id"], "sighting");
    let observed = &sighting["observed_time"];
    assert_eq!(observed["start_time"], observed["end_time"]);
    let at = timestamp(&observed["start_time"]);
    assert!(before <= at && at <= after, "{observed}");
    let indicator = &docs(&body, "indicators")[0];
    assert_eq!(indicator["id"], CAPTURED_INDICATOR_ID);
    // Relationship ids are `transient:relationship-…`: CTIM's type name (the original wrote
    // `transient:relationships-…`).
    let relationship = &docs(&body, "relationships")[0];
    assert_transient_v4(&relationship["id"], "relationship");
    assert_eq!(relationship["source_ref"], sighting["id"]);
    assert_eq!(relationship["target_ref"], indicator["id"]);

    assert_eq!(
        relay.upstream_paths().await,
        ["/v2.0/ip/1.1.1.1", "/metadata/badip/lists/FAIL2BAN-SSH"]
    );
}

#[tokio::test]
async fn observe_matches_the_captured_python_answer_but_for_volatile_fields() {
    let relay = relay_with_original_mocks().await;
    let (_, body) = relay.post("/observe/observables", &ips(&[IP])).await;
    let captured = fixture("captured_python_relay_outputs.json");
    let captured = captured["/observe/observables"]["body"]
        .to_string()
        .replace(
            r#""schema_version":"1.0.17""#,
            &format!(r#""schema_version":"{CTIM_SCHEMA_VERSION}""#),
        );
    let captured: Value = serde_json::from_str(&captured).expect("JSON");
    assert_eq!(without_volatile(body), without_volatile(captured));
}

#[tokio::test]
async fn deliberate_matches_the_original() {
    let relay = relay_with_original_mocks().await;
    let before = Timestamp::now();
    let (status, body) = relay.post("/deliberate/observables", &ips(&[IP])).await;
    let after = Timestamp::now();
    assert_eq!(status, 200);
    assert_week(&docs(&body, "verdicts")[0]["valid_time"], before, after);
    assert_eq!(
        without_volatile(body.clone()),
        expected("expected_deliberate_success.json")
    );
    assert_eq!(assert_valid_ctim(&body), 1);
    // Deliberate makes no metadata calls.
    assert_eq!(relay.upstream_paths().await, ["/v2.0/ip/1.1.1.1"]);
}

#[tokio::test]
async fn refer_matches_the_original() {
    let relay = Relay::start().await;
    let (status, body) = relay.post("/refer/observables", &ips(&[IP])).await;
    assert_eq!(status, 200);
    assert_eq!(body, fixture("expected_refer_success.json"));
    assert!(relay.upstream_paths().await.is_empty());
}

/// An error envelope leaves `data` out when there is none, as the envelope's empty parts are
/// (the original wrote `"data": {}` beside its errors).
fn expected_error(name: &str) -> Value {
    let mut envelope = fixture("expected_errors.json")[name].clone();
    envelope.as_object_mut().expect("object").remove("data");
    envelope
}

#[tokio::test]
async fn missing_authorization_header() {
    let relay = Relay::start().await;
    let (status, body) = relay
        .send("POST", "/observe/observables", None, &ips(&[IP]))
        .await;
    assert_eq!(status, 200);
    assert_eq!(body, expected_error("authorization_header_is_missing"));
}

#[tokio::test]
async fn token_signed_with_another_key() {
    let relay = Relay::start().await;
    let other = xdr_relay_core::SecretKey::new("not the relay's secret").expect("secret");
    let token = xdr_relay_core::encode_token(&other, API_KEY, None).expect("token");
    let (_, body) = relay
        .send("POST", "/observe/observables", Some(&token), &ips(&[IP]))
        .await;
    assert_eq!(body, expected_error("invalid_jwt"));
    assert!(relay.upstream_paths().await.is_empty());
}

#[tokio::test]
async fn observable_without_value() {
    let relay = Relay::start().await;
    let (_, body) = relay
        .post("/observe/observables", r#"[{"type":"domain"}]"#)
        .await;
    // The message says the same thing as the original, as JSON (which a client can parse)
    // instead of a Python dict repr ({0: {'value': [...]}}).
    let mut expected = expected_error("invalid_json_[{\"type\":\"domain\"}]");
    expected["errors"][0]["message"] = json!(
        r#"Invalid JSON payload received. {"0":{"value":["Missing data for required field."]}}"#
    );
    assert_eq!(body, expected);
}

#[tokio::test]
async fn upstream_rejects_the_key() {
    let mocks = fixture("upstream_error_mocks.json");
    let unauthorized = &mocks["unauthorized_creds"];
    for route in ["/observe/observables", "/deliberate/observables", "/health"] {
        let relay = Relay::start().await;
        let response = ResponseTemplate::new(401)
            .set_body_string(unauthorized["text"].as_str().expect("text"));
        relay.answer("/v2.0/ip/1.1.1.1", response.clone()).await;
        relay.answer("/v2.0/ip", response).await;
        let (status, body) = relay.post(route, &ips(&[IP])).await;
        assert_eq!(status, 200, "{route}");
        assert_eq!(
            body,
            expected_error("upstream_401_unauthorized_creds"),
            "{route}"
        );
    }
}

#[tokio::test]
async fn health_with_the_original_health_check_answer() {
    let relay = Relay::start().await;
    relay
        .answer(
            "/v2.0/ip",
            ResponseTemplate::new(200).set_body_json(fixture("upstream_v2.0_ip_health_check.json")),
        )
        .await;
    let (status, body) = relay.post("/health", "").await;
    assert_eq!(status, 200);
    assert_eq!(body, json!({"data": {"status": "ok"}}));
    assert_eq!(relay.upstream_paths().await, ["/v2.0/ip"]);
}

#[tokio::test]
async fn upstream_bad_request_means_no_data() {
    let mocks = fixture("upstream_error_mocks.json");
    let relay = Relay::start().await;
    relay
        .answer(
            "/v2.0/ip/1.1.1.1",
            ResponseTemplate::new(400)
                .set_body_string(mocks["bad_request"]["text"].as_str().expect("text")),
        )
        .await;
    for route in ["/observe/observables", "/deliberate/observables"] {
        let (_, body) = relay.post(route, &ips(&[IP])).await;
        assert_eq!(body, json!({"data": {}}), "{route}");
    }
}
