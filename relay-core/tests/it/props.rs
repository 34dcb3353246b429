//! Property tests: request bodies, the Authorization header and JWTs, and Signals answers
//! (decoding and mapping) for inputs no one wrote down. Nothing panics; every error is the
//! documented one; every entity mapped from any decodable answer passes the CTIM oracle.
//!
//! The `fuzz/` crate drives the same entry points (`xdr_relay_core::bench_support`) for longer.

use std::collections::HashSet;
use std::net::IpAddr;
use std::sync::Arc;

use axum::http::{HeaderMap, HeaderValue};
use proptest::prelude::*;
use serde_json::{Value, json};
use signals_client::{IpReport, ListKind, ListMetadata};
use xdr_relay_core::bench_support;

use crate::common::*;

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
        if let Err(e) = bench_support::parse(&body) {
            prop_assert_eq!(e.code(), "invalid argument");
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
        let parsed = bench_support::parse(value.to_string().as_bytes());
        prop_assert_eq!(parsed.is_ok(), well_formed, "{}", value);
        if let Err(e) = parsed {
            prop_assert_eq!(e.code(), "invalid argument");
            // The message's problems are JSON, whatever the input.
            let text = e.to_string();
            let rest = text.strip_prefix("Invalid JSON payload received. ");
            prop_assert!(rest.is_some_and(|r| serde_json::from_str::<Value>(r).is_ok()), "{}", text);
        }
    }

    #[test]
    fn any_authorization_header_is_an_authorization_error(value in prop::collection::vec(any::<u8>(), 0..200)) {
        let Ok(header) = HeaderValue::from_bytes(&value) else {
            return Ok(()); // Not a header value: no client can send it.
        };
        let mut headers = HeaderMap::new();
        headers.insert("authorization", header);
        prop_assert!(bench_support::verify(&headers, &secret()).is_err());
    }

    #[test]
    fn any_bearer_token_is_an_authorization_error(token in "[A-Za-z0-9_.=+/-]{0,300}") {
        let mut headers = HeaderMap::new();
        headers.insert("authorization", HeaderValue::from_str(&format!("Bearer {token}")).expect("ASCII"));
        prop_assert!(bench_support::verify(&headers, &secret()).is_err());
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
        let mut headers = HeaderMap::new();
        headers.insert("authorization", HeaderValue::from_str(&format!("Bearer {tampered}")).expect("ASCII"));
        prop_assert!(bench_support::verify(&headers, &secret()).is_err(), "{}", tampered);
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

proptest! {
    #![proptest_config(config(96))]

    /// Whatever Signals answers that decodes, the mapped entities are valid CTIM.
    #[test]
    fn mapping_any_decodable_answer_yields_oracle_valid_ctim(
        reports in prop::collection::vec((any::<[u8; 4]>(), ip_report_json()), 1..4),
        lists in prop::collection::vec(metadata_json(), 1..4),
        limit in 0usize..6,
    ) {
        let reports: Vec<(String, IpReport)> = reports
            .iter()
            .filter_map(|(ip, body)| {
                let report = IpReport::from_json(body.to_string().as_bytes()).ok()?;
                Some((IpAddr::from(*ip).to_string(), report))
            })
            .collect();
        let lists: Vec<Arc<ListMetadata>> = lists
            .iter()
            .filter_map(|body| ListMetadata::from_json(body.to_string().as_bytes()).ok())
            .map(Arc::new)
            .collect();
        // Each list id finds one of the generated lists (or none), deterministically.
        let metadata = |_: ListKind, id: &str| {
            let i = id.len().checked_rem(lists.len().max(1))?;
            lists.get(i).cloned()
        };
        let data = bench_support::observe(&reports, limit, metadata);
        let body: Value = serde_json::from_slice(&bench_support::envelope_json(data)).expect("JSON");
        let checked = crate::oracle::assert_valid_ctim(&body);
        prop_assert!(checked >= reports.len(), "one verdict per report at least");
        prop_assert_eq!(docs(&body, "verdicts").len(), reports.len());
        // The limit holds per observable.
        prop_assert!(docs(&body, "sightings").len() <= limit * reports.len());
    }
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
            prop_assert_eq!(
                bench_support::parse(body.as_bytes()).expect("valid"),
                expected.len()
            );
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
