//! The response action: `/respond/observables` offers "Make Scan in urlscan.io" for each URL,
//! and `/respond/trigger` submits the URL (`POST scan`, with the configured visibility),
//! answering `success`, or urlscan.io's reason when it refuses the URL.

use serde_json::{Value, json};

use crate::support::*;
use xdr_relay_urlscan::Visibility;

const URL: &str = "https://phish.example/login?next=/account";

fn trigger(kind: &str, value: &str) -> String {
    json!({
        "action-id": format!("respond-urlscan-action-{kind}-{}", xdr_relay_core::quote(value, "")),
        "observable_type": kind,
        "observable_value": value,
    })
    .to_string()
}

#[tokio::test]
async fn urls_are_offered_a_scan_and_other_types_nothing() {
    let relay = Relay::start().await;
    let body = json!([
        {"type": "url", "value": URL},
        {"type": "ip", "value": "192.0.2.1"},
        {"type": "domain", "value": "phish.example"},
        {"type": "URL", "value": "https://other.example/"},
    ])
    .to_string();
    let answer = relay.ok("/respond/observables", &token(), &body).await;
    assert_eq!(
        answer["data"][0],
        json!({
            "id": "respond-urlscan-action-url-https%3A%2F%2Fphish.example%2Flogin%3Fnext%3D%2Faccount",
            "title": "Make Scan in urlscan.io",
            "description": "Makes a request to scan this observable",
            "categories": ["urlscan.io", "Scan"],
            "query-params": {"observable_type": "url", "observable_value": URL},
        })
    );
    assert_eq!(answer["data"].as_array().unwrap().len(), 2, "{answer}");
    assert!(relay.standin.searches().is_empty() && relay.standin.submissions().is_empty());
}

#[tokio::test]
async fn the_trigger_submits_the_url_with_the_configured_visibility() {
    for (visibility, name) in [
        (None, "public"),
        (Some(Visibility::Unlisted), "unlisted"),
        (Some(Visibility::Private), "private"),
    ] {
        let relay = Relay::start_with(|_, c| {
            if let Some(visibility) = visibility {
                c.visibility = visibility;
            }
        })
        .await;
        let answer = relay
            .ok("/respond/trigger", &token(), &trigger("url", URL))
            .await;
        assert_eq!(answer, json!({"data": {"status": "success"}}));
        let submissions = relay.standin.submissions();
        assert_eq!(submissions.len(), 1);
        let (key, body) = &submissions[0];
        assert_eq!(key.as_deref(), Some(API_KEY));
        // No legacy "public": "on".
        assert_eq!(body, &json!({"url": URL, "visibility": name}));
        let calls = relay.standin.scan_calls();
        assert_eq!(calls[0].accept.as_deref(), Some("application/json"));
        assert!(
            calls[0]
                .user_agent
                .as_deref()
                .unwrap()
                .starts_with("urlscan-relay/")
        );
    }
}

#[tokio::test]
async fn a_url_urlscan_refuses_is_a_bad_request_naming_its_reason() {
    let relay = Relay::start().await;
    relay.standin.scan_reply(
        URL,
        error(
            400,
            "DNS Error - Could not resolve domain",
            Some("The domain phish.example could not be resolved to a valid IPv4/IPv6 address. We won't try to load it in the browser."),
        ),
    );
    let answer = relay
        .ok("/respond/trigger", &token(), &trigger("url", URL))
        .await;
    assert_eq!(
        errors(&answer),
        [(
            "bad request".to_owned(),
            "urlscan.io refused to scan the URL: DNS Error - Could not resolve domain. The domain \
             phish.example could not be resolved to a valid IPv4/IPv6 address. We won't try to \
             load it in the browser."
                .to_owned()
        )]
    );
    assert!(answer.get("data").is_none(), "{answer}");
    // A refused submission does not stop the caller's searches.
    let observed = relay.observe(&observables("url", &[URL])).await;
    assert!(observed.get("errors").is_none(), "{observed}");
}

#[tokio::test]
async fn only_urls_are_submitted_and_upstream_failures_keep_ciscos_codes() {
    let relay = Relay::start().await;
    for (kind, value) in [("ip", "192.0.2.1"), ("domain", "phish.example")] {
        let answer = relay
            .ok("/respond/trigger", &token(), &trigger(kind, value))
            .await;
        let errors = errors(&answer);
        assert_eq!(errors[0].0, "invalid argument", "{answer}");
        assert!(errors[0].1.contains(kind), "{errors:?}");
    }
    assert!(relay.standin.submissions().is_empty());
    // Any action id, as Cisco's relay; the type in any case.
    let answer = relay
        .ok(
            "/respond/trigger",
            &token(),
            &json!({"action-id": "anything", "observable_type": "URL", "observable_value": URL})
                .to_string(),
        )
        .await;
    assert_eq!(answer, json!({"data": {"status": "success"}}));
    for (reply, code) in [
        (rate_limited(Some("10")), "too many requests"),
        (error(401, "bad key", None), "permission denied"),
        (error(500, "oops", None), "internal error"),
        (error(503, "down", None), "service unavailable"),
        (Reply::raw(520, "text/html", "<html></html>"), "unknown"),
    ] {
        let relay = Relay::start().await;
        relay.standin.scan_reply(URL, reply);
        let answer = relay
            .ok("/respond/trigger", &token(), &trigger("url", URL))
            .await;
        assert_eq!(errors(&answer)[0].0, code, "{answer}");
    }
}

#[tokio::test]
async fn a_bad_trigger_body_is_an_invalid_argument_before_any_call() {
    let relay = Relay::start().await;
    for body in [
        "",
        "{}",
        "[]",
        r#"{"action-id": "x", "observable_type": "url"}"#,
    ] {
        let answer: Value = relay.ok("/respond/trigger", &token(), body).await;
        assert_eq!(errors(&answer)[0].0, "invalid argument", "{body}: {answer}");
    }
    assert!(relay.standin.submissions().is_empty());
}
