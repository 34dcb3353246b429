//! OTX's failures as the relay answers them: Cisco's codes in relay-core's envelope (HTTP 200,
//! also where Cisco's relay answers 500), one observable's or one pulse's failure beside the
//! others' entities, bad keys and bad bodies refused before any call.

use std::time::{Duration, Instant};

use serde_json::json;

use crate::support::*;

const DOMAIN: &str = "bad.example";
const GOOD: &str = "good.example";

fn one(code: &str, message: &str) -> Vec<(String, String)> {
    vec![(code.to_owned(), message.to_owned())]
}

/// A relay whose stand-in knows [`GOOD`] in one pulse and answers [`DOMAIN`]'s `general` with
/// `reply`: the errors and the pulses sighted of an observe of both.
async fn observe_beside(reply: Reply) -> (Vec<(String, String)>, Vec<String>) {
    let relay = Relay::start().await;
    relay
        .standin
        .pulse(Pulse::new("good").with("domain", GOOD, "2020-01-01T00:00:00"));
    relay.standin.general(DOMAIN, reply);
    let answer = relay
        .observe(&observables(&[("domain", DOMAIN), ("domain", GOOD)]))
        .await;
    (errors(&answer), sighted(&answer))
}

#[tokio::test]
async fn statuses_are_ciscos_codes_beside_the_other_observables() {
    for (status, expected) in [
        (400, vec![]),
        (404, vec![]),
        (
            403,
            one(
                "authorization error",
                "Authorization failed: Authorization failed on AlienVault OTX side",
            ),
        ),
        (
            429,
            one(
                "oops",
                "Something went wrong. Reason: 429 Too Many Requests.",
            ),
        ),
        (
            500,
            one(
                "oops",
                "Something went wrong. Reason: 500 Internal Server Error.",
            ),
        ),
        (
            503,
            one(
                "oops",
                "Something went wrong. Reason: 503 Service Unavailable.",
            ),
        ),
        (521, one("oops", "Something went wrong. Reason: 521.")),
    ] {
        let (errors, sighted) = observe_beside(Reply::json(status, &json!({"detail": "x"}))).await;
        assert_eq!(errors, expected, "{status}");
        // A 429 is the key's quota: the caller's other calls stop with it (relay-core's
        // memory of a rate limit), so the other observable may or may not have been read.
        if status != 429 {
            assert_eq!(sighted, ["good"], "{status}");
        }
    }
}

#[tokio::test]
async fn odd_answers_are_answered_in_the_envelope() {
    // Not JSON, not an object: that observable's `oops`.
    for body in ["<html>maintenance</html>", "[1, 2]", "{\"pulse_info\": "] {
        let (errors, sighted) = observe_beside(Reply::raw(200, "application/json", body)).await;
        assert_eq!(errors.len(), 1, "{body}");
        assert_eq!(errors[0].0, "oops");
        assert!(
            errors[0].1.starts_with(
                "Something went wrong. Reason: AlienVault OTX sent an answer that could not be read"
            ),
            "{errors:?}"
        );
        assert_eq!(sighted, ["good"]);
    }
    // Pulses but an empty base indicator: the pulses of the observable's own type are kept.
    let general = json!({
        "base_indicator": {},
        "pulse_info": {"pulses": [
            {"id": "good", "name": "n", "indicator_type_counts": {"domain": 1}},
            {"id": "other", "name": "n", "indicator_type_counts": {"URL": 1}},
        ]},
    });
    let relay = Relay::start().await;
    relay
        .standin
        .pulse(Pulse::new("good").with("domain", GOOD, "2020-01-01T00:00:00"));
    relay.standin.general(GOOD, Reply::json(200, &general));
    let answer = relay.observe(&observables(&[("domain", GOOD)])).await;
    assert!(answer.get("errors").is_none(), "{answer}");
    assert_eq!(sighted(&answer), ["good"]);
    assert!(relay.standin.pages_of("other").is_empty());
}

#[tokio::test]
async fn one_pulses_failure_never_hides_the_others() {
    let relay = Relay::start().await;
    for id in ["a", "b", "c", "d", "e"] {
        relay
            .standin
            .pulse(Pulse::new(id).with("domain", GOOD, "2020-01-01T00:00:00"));
    }
    relay.standin.page("b", 1, Reply::json(500, &json!({})));
    relay.standin.page("c", 1, Reply::json(404, &json!({})));
    relay.standin.page("d", 1, Reply::json(400, &json!({})));
    relay
        .standin
        .page("e", 1, Reply::raw(200, "text/html", "<html>"));
    let answer = relay.observe(&observables(&[("domain", GOOD)])).await;
    assert_eq!(sighted(&answer), ["a"]);
    let errors = errors(&answer);
    assert_eq!(errors.len(), 2, "{errors:?}");
    assert_eq!(
        errors[0],
        (
            "oops".to_owned(),
            "Something went wrong. Reason: 500 Internal Server Error.".to_owned()
        )
    );
    assert_eq!(errors[1].0, "oops");
    // The failed searches were not kept: the next request asks again, the rest is cached.
    relay.standin.reset_counts();
    relay.observe(&observables(&[("domain", GOOD)])).await;
    let mut asked: Vec<String> = relay.standin.calls().into_iter().map(|c| c.path).collect();
    asked.sort();
    assert_eq!(
        asked,
        ["/api/v1/pulses/b/indicators", "/api/v1/pulses/e/indicators"]
    );
}

#[tokio::test]
async fn slow_answers_are_read_and_hung_or_missing_upstreams_are_bounded() {
    let relay = Relay::start_with(|_, c| {
        c.timeout = Duration::from_millis(700);
        c.pulse_timeout = Duration::from_secs(1);
    })
    .await;
    relay
        .standin
        .pulse(Pulse::new("slow").with("domain", GOOD, "2020-01-01T00:00:00"));
    relay
        .standin
        .pulse(Pulse::new("hung").with("domain", GOOD, "2020-01-01T00:00:00"));
    relay.standin.page(
        "slow",
        1,
        Reply::Slow(
            Duration::from_millis(200),
            Box::new(Reply::json(
                200,
                &json!({"next": null, "results": [{"indicator": GOOD, "created": "2020-01-01T00:00:00"}]}),
            )),
        ),
    );
    relay.standin.page("hung", 0, Reply::Hang);
    relay.standin.general(DOMAIN, Reply::Hang);
    let started = Instant::now();
    let answer = relay
        .observe(&observables(&[("domain", GOOD), ("domain", DOMAIN)]))
        .await;
    let took = started.elapsed();
    assert_eq!(sighted(&answer), ["slow"]);
    assert_eq!(
        errors(&answer),
        one(
            "oops",
            "Something went wrong. Reason: AlienVault OTX did not answer in time."
        )
    );
    assert!(took < Duration::from_secs(4), "{took:?}");

    // Nothing listens there: an `oops` naming it, not the address.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let address = closed.local_addr().unwrap();
    drop(closed);
    let relay = Relay::start_with(|_, c| c.api_url = format!("http://{address}/api/v1/")).await;
    for route in ["/observe/observables", "/health"] {
        let answer = relay
            .ok(route, &token(), &observables(&[("domain", GOOD)]))
            .await;
        let errors = errors(&answer);
        assert_eq!(errors.len(), 1, "{route}: {errors:?}");
        assert_eq!(errors[0].0, "oops");
        assert!(
            errors[0]
                .1
                .starts_with("Something went wrong. Reason: AlienVault OTX is unreachable"),
            "{errors:?}"
        );
        assert!(!errors[0].1.contains(&address.to_string()), "{errors:?}");
    }
}

#[tokio::test]
async fn refused_and_unsendable_keys_are_authorization_errors() {
    let relay = Relay::start().await;
    relay.standin.refuse_key("refused-key");
    let refused = token_with("refused-key", None);
    let body = observables(&[("domain", GOOD)]);
    for route in ["/observe/observables", "/health"] {
        let answer = relay.ok(route, &refused, &body).await;
        assert_eq!(
            errors(&answer),
            one(
                "authorization error",
                "Authorization failed: Authorization failed on AlienVault OTX side"
            ),
            "{route}"
        );
    }
    let calls = relay.standin.calls().len();
    assert_eq!(calls, 2);
    for key in ["a key with spaces", "ключ-вне-latin-1", "tab\tkey", " "] {
        let token = token_with(key, None);
        for route in ["/observe/observables", "/health"] {
            let answer = relay.ok(route, &token, &body).await;
            assert_eq!(
                errors(&answer),
                one(
                    "authorization error",
                    "Authorization failed: Authorization failed on AlienVault OTX side"
                ),
                "{route} {key:?}"
            );
        }
    }
    assert_eq!(
        relay.standin.calls().len(),
        calls,
        "no call for an unsendable key"
    );
}

#[tokio::test]
async fn health_is_one_user_me() {
    let relay = Relay::start().await;
    let answer = relay.ok("/health", &token(), "").await;
    assert_eq!(answer, json!({"data": {"status": "ok"}}));
    let calls = relay.standin.calls();
    assert_eq!(calls.len(), 1);
    assert_eq!(calls[0].path, "/api/v1/user/me");
    assert_eq!(calls[0].key.as_deref(), Some(API_KEY));
    relay.standin.me(Reply::json(500, &json!({})));
    let answer = relay.ok("/health", &token(), "").await;
    assert_eq!(
        errors(&answer),
        one(
            "oops",
            "Something went wrong. Reason: 500 Internal Server Error."
        )
    );
}

#[tokio::test]
async fn bad_bodies_are_ciscos_invalid_payload_and_cost_no_call() {
    let relay = Relay::start().await;
    for body in [
        "not json",
        "{}",
        r#"[{"type": "unknown", "value": ""}]"#,
        r#"[{"type": "domain"}]"#,
    ] {
        for route in ["/observe/observables", "/refer/observables"] {
            let answer = relay.ok(route, &token(), body).await;
            let errors = errors(&answer);
            assert_eq!(errors.len(), 1);
            assert_eq!(errors[0].0, "invalid payload received", "{route} {body}");
            assert!(errors[0].1.starts_with("Invalid JSON payload received."));
        }
    }
    // Deliberate: no verdicts, no call.
    let answer = relay
        .ok(
            "/deliberate/observables",
            &token(),
            &observables(&[("domain", GOOD)]),
        )
        .await;
    assert_eq!(answer, json!({"data": {}}));
    assert!(relay.standin.calls().is_empty());
}
