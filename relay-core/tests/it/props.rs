//! Property tests: request bodies, the Authorization header and JWTs, and Signals answers
//! (decoding and mapping) for inputs no one wrote down, all through the router. Nothing
//! panics; every error is the documented one; every entity mapped from any decodable answer
//! passes the CTIM oracle.
//!
//! The `fuzz/` crate drives the same paths for longer.

use std::collections::{HashMap, HashSet};
use std::net::IpAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use axum::Router;
use axum::body::Body;
use axum::http::{HeaderValue, Request, StatusCode};
use proptest::prelude::*;
use serde_json::{Value, json};
use signals_client::{IpReport, ListMetadata};
use tower::ServiceExt as _;
use wiremock::{Mock, ResponseTemplate};

use crate::common::*;

/// A relay whose upstream is never reached: parsing and token checks come before any call.
fn offline_relay() -> Router {
    static RELAY: OnceLock<Router> = OnceLock::new();
    RELAY
        .get_or_init(|| test_config("http://127.0.0.1:9/").router())
        .clone()
}

/// `POST path` through the offline relay, with `authorization` as the header when given.
fn post(path: &str, authorization: Option<HeaderValue>, body: Vec<u8>) -> Value {
    let mut request = Request::post(path);
    if let Some(value) = authorization {
        request = request.header("authorization", value);
    }
    let request = request.body(Body::from(body)).expect("request");
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        let response = offline_relay().oneshot(request).await.expect("infallible");
        assert_eq!(response.status(), StatusCode::OK);
        let bytes = axum::body::to_bytes(response.into_body(), 1 << 20)
            .await
            .expect("body");
        serde_json::from_slice(&bytes).expect("JSON")
    })
}

/// `/refer/observables` with a valid token: the body is parsed and filtered as by every
/// observable route, and nothing is asked upstream.
fn refer(body: &[u8]) -> Value {
    let bearer = HeaderValue::from_str(&format!("Bearer {}", token())).expect("ASCII");
    post("/refer/observables", Some(bearer), body.to_vec())
}

/// `/respond/trigger` with `authorization`: the token check alone.
fn trigger(authorization: HeaderValue) -> Value {
    post("/respond/trigger", Some(authorization), Vec::new())
}

/// The code of an answer that is exactly one error, `None` for any other answer.
fn only_error_code(answer: &Value) -> Option<String> {
    match answer["errors"].as_array().map(Vec::as_slice) {
        Some([error]) if answer.get("data").is_none() => error["code"].as_str().map(str::to_owned),
        _ => None,
    }
}

fn config(cases: u32) -> ProptestConfig {
    ProptestConfig {
        cases,
        // Failures are reported with their minimal input; nothing is written to disk.
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

/// Any JSON value, a few levels deep.
fn any_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(Value::from),
        ".{0,12}".prop_map(Value::from),
        Just(json!("ip")),
        Just(json!("192.0.2.1")),
        Just(json!("-3")),
    ];
    leaf.prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::btree_map(
                prop_oneof![Just("type".to_owned()), Just("value".to_owned()), ".{0,6}"],
                inner,
                0..5
            )
            .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// An observable value: valid addresses of both families, near misses, anything.
fn observable_value() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<[u8; 4]>().prop_map(|b| IpAddr::from(b).to_string()),
        any::<[u16; 8]>().prop_map(|s| IpAddr::from(s).to_string()),
        any::<[u8; 4]>().prop_map(|b| format!("{}/24", IpAddr::from(b))),
        any::<[u8; 4]>().prop_map(|b| format!(" {}", IpAddr::from(b))),
        ".{1,20}",
    ]
}

fn observable_type() -> impl Strategy<Value = String> {
    prop_oneof![Just("ip".to_owned()), Just("domain".to_owned()), ".{0,8}"]
}

proptest! {
    #![proptest_config(config(256))]

    #[test]
    fn any_bytes_parse_or_fail_cleanly(body in prop::collection::vec(any::<u8>(), 0..512)) {
        // Never a panic; an error is always `invalid argument`.
        let answer = refer(&body);
        if answer.get("errors").is_some() {
            prop_assert_eq!(only_error_code(&answer), Some("invalid argument".to_owned()), "{}", answer);
        }
    }

    #[test]
    fn any_json_parses_exactly_when_it_is_a_list_of_observables(value in any_json()) {
        let well_formed = value.as_array().is_some_and(|items| {
            items.iter().all(|item| {
                item.get("type").is_some_and(Value::is_string)
                    && item.get("value").and_then(Value::as_str).is_some_and(|v| !v.is_empty())
            })
        });
        let answer = refer(value.to_string().as_bytes());
        prop_assert_eq!(answer.get("errors").is_none(), well_formed, "{} -> {}", value, answer);
        if !well_formed {
            prop_assert_eq!(only_error_code(&answer), Some("invalid argument".to_owned()), "{}", answer);
            // The message's problems are JSON, whatever the input.
            let text = answer["errors"][0]["message"].as_str().unwrap_or_default();
            let rest = text.strip_prefix("Invalid JSON payload received. ");
            prop_assert!(rest.is_some_and(|r| serde_json::from_str::<Value>(r).is_ok()), "{}", text);
        }
    }

    #[test]
    fn any_authorization_header_is_an_authorization_error(value in prop::collection::vec(any::<u8>(), 0..200)) {
        let Ok(header) = HeaderValue::from_bytes(&value) else {
            return Ok(()); // Not a header value: no client can send it.
        };
        prop_assert_eq!(only_error_code(&trigger(header)), Some("authorization error".to_owned()));
    }

    #[test]
    fn any_bearer_token_is_an_authorization_error(token in "[A-Za-z0-9_.=+/-]{0,300}") {
        let header = HeaderValue::from_str(&format!("Bearer {token}")).expect("ASCII");
        prop_assert_eq!(only_error_code(&trigger(header)), Some("authorization error".to_owned()));
    }

    #[test]
    fn any_change_to_a_signed_header_or_payload_is_refused(
        position in any::<prop::sample::Index>(),
        replacement in "[A-Za-z0-9_-]",
    ) {
        let token = token();
        let signed_len = token.rfind('.').expect("three parts");
        let i = position.index(signed_len);
        let original = &token[i..=i];
        prop_assume!(original != "." && original != replacement);
        let tampered = format!("{}{replacement}{}", &token[..i], &token[i + 1..]);
        let header = HeaderValue::from_str(&format!("Bearer {tampered}")).expect("ASCII");
        prop_assert_eq!(only_error_code(&trigger(header)), Some("authorization error".to_owned()), "{}", tampered);
    }

    #[test]
    fn any_bytes_from_signals_decode_or_fail_cleanly(body in prop::collection::vec(any::<u8>(), 0..512)) {
        let _ = IpReport::from_json(&body);
        let _ = ListMetadata::from_json(&body);
    }
}

/// A score as Signals sends it, or as a broken upstream might.
fn score() -> impl Strategy<Value = Value> {
    prop_oneof![
        (-5i64..=3).prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        (-5i64..=3).prop_map(|s| Value::from(s.to_string())),
        Just(Value::Null),
        ".{0,4}".prop_map(Value::from),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(Value::from),
        Just(json!({"nested": -3})),
    ]
}

/// A list id: real-looking, hostile, or not a string at all.
fn list_ids() -> impl Strategy<Value = Value> {
    let id = prop_oneof![
        "[A-Z0-9-]{1,12}".prop_map(Value::from),
        Just(json!("../x")),
        Just(json!("")),
        ".{0,10}".prop_map(Value::from),
        any::<i32>().prop_map(Value::from),
    ];
    prop_oneof![
        prop::collection::vec(id, 0..6).prop_map(Value::Array),
        Just(Value::Null),
        Just(json!("FAIL2BAN-SSH")),
    ]
}

fn ip_report_json() -> impl Strategy<Value = Value> {
    (score(), score(), list_ids(), score(), list_ids(), list_ids(), list_ids(), score())
        .prop_map(|(score, badip_score, badip, domain_score, bl, mx, ns, history)| {
            json!({"fullip": {
                "score": score,
                "badip": {"score": badip_score, "blacklists": badip},
                "baddomain": {"score": domain_score, "domain": {"blacklist": bl, "blacklist_mx": mx, "blacklist_ns": ns}},
                "history": {"score": history},
            }})
        })
}

/// Text as a list publisher might write it: empty, plain, long, or with anything inside.
fn text() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        ".{0,40}".prop_map(Value::from),
        "[a-z ,]{0,3000}".prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
    ]
}

fn metadata_json() -> impl Strategy<Value = Value> {
    (text(), text(), text(), text(), text(), text(), text()).prop_map(
        |(name, source, site, visibility, sensitivity, description, tags)| {
            json!({
                "name": name, "source": source, "site": site, "visibility": visibility,
                "sensitivity": sensitivity, "description": description, "tags": tags,
            })
        },
    )
}

/// The upstream of one mapping case: each IP's generated report body, and the generated list
/// metadata bodies, one of which (or none) answers each list id.
#[derive(Clone, Default)]
struct Answers(Arc<Mutex<Case>>);

/// The report body of each IP, and the list metadata bodies.
type Case = (HashMap<String, Value>, Vec<Value>);

impl Answers {
    fn set(&self, reports: HashMap<String, Value>, lists: Vec<Value>) {
        *self.0.lock().expect("not poisoned") = (reports, lists);
    }
}

impl wiremock::Respond for Answers {
    fn respond(&self, request: &wiremock::Request) -> ResponseTemplate {
        let (reports, lists) = &*self.0.lock().expect("not poisoned");
        let path = request.url.path();
        let body = if let Some(ip) = path.strip_prefix("/v2.0/ip/") {
            reports.get(ip)
        } else if path.starts_with("/metadata/") {
            // Each list id finds one of the generated lists (or none), deterministically.
            let id = path.rsplit('/').next().unwrap_or_default();
            id.len().checked_rem(lists.len()).and_then(|i| lists.get(i))
        } else {
            None
        };
        body.map_or_else(
            || ResponseTemplate::new(404),
            |body| ResponseTemplate::new(200).set_body_json(body),
        )
    }
}

/// Whatever Signals answers, `/observe/observables` answers 200, and the entities it maps from
/// what decodes are valid CTIM.
#[test]
fn mapping_any_answer_yields_oracle_valid_ctim() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let relay = runtime.block_on(Relay::start());
    let answers = Answers::default();
    runtime.block_on(
        Mock::given(wiremock::matchers::any())
            .respond_with(answers.clone())
            .mount(&relay.upstream),
    );
    // A key per case: the metadata cache is per key, so no case sees another's lists.
    let case = AtomicUsize::new(0);
    let strategy = (
        prop::collection::vec((any::<[u8; 4]>(), ip_report_json()), 1..4),
        prop::collection::vec(metadata_json(), 1..4),
        // Through the token, whose `CTR_ENTITIES_LIMIT` counts only when positive.
        1usize..6,
    );
    let mut runner = proptest::test_runner::TestRunner::new(config(96));
    runner
        .run(&strategy, |(reports, lists, limit)| {
            let reports: HashMap<String, Value> = reports
                .into_iter()
                .map(|(ip, body)| (IpAddr::from(ip).to_string(), body))
                .collect();
            let decodable = reports
                .values()
                .filter(|body| IpReport::from_json(body.to_string().as_bytes()).is_ok())
                .count();
            let ips: Vec<&str> = reports.keys().map(String::as_str).collect();
            let body = crate::common::ips(&ips);
            answers.set(reports.clone(), lists);
            let key = format!("mapping-case-{}", case.fetch_add(1, Ordering::Relaxed));
            let token = token_for(&key, Some(limit));
            let (status, answer) =
                runtime.block_on(relay.send("POST", "/observe/observables", Some(&token), &body));
            prop_assert_eq!(status, StatusCode::OK);
            crate::oracle::assert_valid_ctim(&answer);
            prop_assert_eq!(docs(&answer, "verdicts").len(), decodable, "{}", answer);
            // The limit holds per observable.
            prop_assert!(docs(&answer, "sightings").len() <= limit * reports.len());
            Ok(())
        })
        .unwrap_or_else(|e| panic!("{e}"));
}

/// Valid bodies round-trip through the router: `/refer/observables` answers one link per
/// distinct parsable `ip` value, in request order, and nothing else.
#[test]
fn valid_bodies_round_trip_through_the_router() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let relay = runtime.block_on(Relay::start());
    let strategy = prop::collection::vec((observable_type(), observable_value()), 0..12);
    let mut runner = proptest::test_runner::TestRunner::new(config(128));
    runner
        .run(&strategy, |pairs| {
            let refs: Vec<(&str, &str)> = pairs
                .iter()
                .map(|(t, v)| (t.as_str(), v.as_str()))
                .collect();
            let body = observables(&refs);
            let mut seen = HashSet::new();
            let expected: Vec<String> = pairs
                .iter()
                .filter(|(t, v)| t == "ip" && v.parse::<IpAddr>().is_ok() && seen.insert(v.clone()))
                .map(|(_, v)| format!("ref-auth0-signals-search-ip-{v}"))
                .collect();
            let (_, answer) = runtime.block_on(relay.post("/refer/observables", &body));
            let ids: Vec<String> = answer["data"]
                .as_array()
                .map(|links| {
                    links
                        .iter()
                        .map(|l| l["id"].as_str().unwrap_or("?").to_owned())
                        .collect()
                })
                .unwrap_or_default();
            prop_assert_eq!(ids, expected, "{}", answer);
            Ok(())
        })
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(runtime.block_on(relay.upstream_paths()).is_empty());
}
