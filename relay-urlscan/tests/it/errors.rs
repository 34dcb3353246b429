//! urlscan.io's failures as the relay answers them: Cisco's codes in relay-core's envelope
//! (HTTP 200, never a 500), partial data beside a scan that fails to load, bounded waits, no
//! retries, and the inputs that make Cisco's relay answer HTTP 500.

use std::time::{Duration, Instant};

use serde_json::json;
use testkit::urlscan::{NOT_FINISHED_MESSAGE, RATE_LIMIT_MESSAGE, UNAUTHORIZED_MESSAGE};

use crate::support::*;

const IP: &str = "192.0.2.44";

/// The errors an observe of [`IP`] answers when its search is answered `reply`.
async fn errors_for(reply: Reply) -> Vec<(String, String)> {
    let relay = Relay::start().await;
    relay.standin.search_reply(&ip_query(IP), reply);
    let (status, answer) = relay
        .post(
            "/observe/observables",
            Some(&token()),
            &observables("ip", &[IP]),
        )
        .await;
    assert_eq!(status, 200, "{answer}");
    assert!(answer.get("data").is_none(), "{answer}");
    errors(&answer)
}

fn one(code: &str, message: &str) -> Vec<(String, String)> {
    vec![(code.to_owned(), message.to_owned())]
}

#[tokio::test]
async fn upstream_statuses_are_ciscos_codes_in_a_200_envelope() {
    let cases = [
        (
            error(
                400,
                "Invalid API key format",
                Some("The API key must be a UUID."),
            ),
            one(
                "bad request",
                "urlscan.io refused the search: Invalid API key format. The API key must be a UUID.",
            ),
        ),
        (
            error(401, UNAUTHORIZED_MESSAGE, None),
            one(
                "permission denied",
                &format!(
                    "The request is missing a valid API key (urlscan.io answered HTTP 401): {UNAUTHORIZED_MESSAGE}"
                ),
            ),
        ),
        (
            error(403, "Forbidden", None),
            one("unknown", "urlscan.io answered HTTP 403: Forbidden"),
        ),
        (
            error(404, "Not Found", None),
            one(
                "not found",
                "urlscan.io answered 404 Not Found (check URLSCAN_API_URL): Not Found",
            ),
        ),
        (
            rate_limited(Some("42")),
            one(
                "too many requests",
                &format!("{RATE_LIMIT_MESSAGE} Retry after 42 seconds."),
            ),
        ),
        (
            rate_limited(None),
            one("too many requests", RATE_LIMIT_MESSAGE),
        ),
        (
            error(500, "oops", None),
            one(
                "internal error",
                "urlscan.io failed with an internal error (HTTP 500).",
            ),
        ),
        // Cisco's relay answers HTTP 500 outside the envelope for these two.
        (
            Reply::raw(520, "text/html", "<!DOCTYPE html><html>origin error</html>"),
            one("unknown", "urlscan.io answered HTTP 520."),
        ),
        (
            Reply::raw(200, "text/html", "<!DOCTYPE html><html>maintenance</html>"),
            vec![],
        ),
    ];
    for (reply, expected) in cases {
        let got = errors_for(reply.clone()).await;
        if expected.is_empty() {
            assert_eq!(got.len(), 1, "{reply:?}");
            assert_eq!(got[0].0, "unknown");
            assert!(
                got[0]
                    .1
                    .starts_with("urlscan.io sent an answer that could not be read"),
                "{got:?}"
            );
        } else {
            assert_eq!(got, expected, "{reply:?}");
        }
    }
    for status in [502, 503, 504] {
        assert_eq!(
            errors_for(error(status, "gateway", None)).await,
            one(
                "service unavailable",
                &format!("urlscan.io is unavailable (HTTP {status}); try again later.")
            )
        );
    }
}

#[tokio::test]
async fn a_search_refused_with_400_is_that_observables_error_beside_the_others_data() {
    let relay = Relay::start().await;
    relay.malicious(
        &ip_query("1.1.1.1"),
        "m1",
        "2024-01-01T00:00:00.000Z",
        &["phishing"],
    );
    relay.standin.search_reply(
        &domain_query("bad.example"),
        error(400, "Query could not be parsed", None),
    );
    let body = json!([
        {"type": "ip", "value": "1.1.1.1"},
        {"type": "domain", "value": "bad.example"},
    ])
    .to_string();
    let answer = relay.observe(&body).await;
    assert_eq!(docs(&answer, "sightings").len(), 1);
    assert_eq!(docs(&answer, "judgements").len(), 1);
    assert_eq!(
        errors(&answer),
        one(
            "bad request",
            "urlscan.io refused the search: Query could not be parsed"
        )
    );
}

#[tokio::test]
async fn a_result_that_fails_to_load_leaves_the_others_entities_with_the_error_beside() {
    let relay = Relay::start().await;
    let query = ip_query(IP);
    let url = "https://p.example/";
    let page = page("p.example", url, IP);
    relay.standin.search(
        &query,
        vec![
            hit("running", "2024-06-03T00:00:00.000Z", page.clone()),
            hit("broken", "2024-06-02T00:00:00.000Z", page.clone()),
            hit("done", "2024-06-01T00:00:00.000Z", page.clone()),
        ],
    );
    // "running" is left to the stand-in's default: 404, not finished.
    relay
        .standin
        .result_reply("broken", error(500, "oops", None));
    let done = relay.standin.result_body(
        "done",
        "2024-06-01T00:00:00.000Z",
        url,
        true,
        &["phishing"],
        &["phishing"],
    );
    relay.standin.result("done", &done);
    let answer = relay.observe(&observables("ip", &[IP])).await;
    // Every scan's sighting; the judgement of the one that loaded.
    assert_eq!(docs(&answer, "sightings").len(), 3);
    assert_eq!(docs(&answer, "judgements").len(), 1);
    assert_eq!(docs(&answer, "relationships").len(), 1);
    let mut errors = errors(&answer);
    errors.sort();
    assert_eq!(
        errors,
        [
            (
                "internal error".to_owned(),
                "urlscan.io failed with an internal error (HTTP 500).".to_owned()
            ),
            (
                "not found".to_owned(),
                format!(
                    "urlscan.io has no result for scan running (HTTP 404; a scan still running \
                     has none yet): {NOT_FINISHED_MESSAGE}. The scan has not finished yet or was deleted."
                )
            ),
        ]
    );
}

#[tokio::test]
async fn a_refused_key_is_permission_denied_and_a_token_without_one_an_authorization_error() {
    let relay = Relay::start().await;
    relay.standin.refuse_key(API_KEY);
    for route in ["/observe/observables", "/refer/observables", "/health"] {
        let answer = relay.ok(route, &token(), &observables("ip", &[IP])).await;
        let errors = errors(&answer);
        assert_eq!(errors.len(), 1, "{route}: {errors:?}");
        assert_eq!(errors[0].0, "permission denied", "{route}");
    }
    let keyless = testkit::token::hs256(SECRET, &json!({"CTR_ENTITIES_LIMIT": 5}));
    let answer = relay
        .ok("/observe/observables", &keyless, &observables("ip", &[IP]))
        .await;
    assert_eq!(errors(&answer)[0].0, "authorization error", "{answer}");
}

#[tokio::test]
async fn a_429_is_answered_at_once_never_retried_and_stops_the_searches_not_started() {
    let relay = Relay::start_with(|_, c| c.concurrency = 1).await;
    relay
        .standin
        .search_reply(&ip_query("192.0.2.1"), rate_limited(Some("60")));
    let started = Instant::now();
    let answer = relay
        .observe(&observables(
            "ip",
            &["192.0.2.1", "192.0.2.2", "192.0.2.3", "192.0.2.4"],
        ))
        .await;
    assert!(started.elapsed() < Duration::from_secs(2));
    assert_eq!(
        errors(&answer),
        one(
            "too many requests",
            &format!("{RATE_LIMIT_MESSAGE} Retry after 60 seconds.")
        )
    );
    assert!(answer.get("data").is_none(), "{answer}");
    assert_eq!(relay.standin.searches().len(), 1);
    let again = relay.observe(&observables("ip", &["192.0.2.5"])).await;
    assert_eq!(errors(&again)[0].0, "too many requests");
    assert_eq!(relay.standin.searches().len(), 1);
}

#[tokio::test]
async fn the_read_quota_is_not_the_search_quota() {
    let relay = Relay::start().await;
    relay.malicious(
        &ip_query("192.0.2.1"),
        "q1",
        "2024-01-01T00:00:00.000Z",
        &["phishing"],
    );
    relay.standin.result_reply("q1", rate_limited(Some("60")));
    let answer = relay.observe(&observables("ip", &["192.0.2.1"])).await;
    // The sighting, and the read's 429 beside it.
    assert_eq!(docs(&answer, "sightings").len(), 1);
    assert_eq!(errors(&answer)[0].0, "too many requests");
    // The key's searches go on; its reads wait for the Retry-After, unsent.
    relay.malicious(
        &ip_query("192.0.2.2"),
        "q2",
        "2024-01-02T00:00:00.000Z",
        &["phishing"],
    );
    let answer = relay.observe(&observables("ip", &["192.0.2.2"])).await;
    assert_eq!(docs(&answer, "sightings").len(), 1);
    assert_eq!(errors(&answer)[0].0, "too many requests");
    assert_eq!(relay.standin.searches().len(), 2);
    assert_eq!(relay.standin.result_reads_of("q2"), 0);
}

#[tokio::test]
async fn slow_answers_within_the_timeout_are_read_and_a_hung_upstream_is_bounded() {
    let relay = Relay::start_with(|_, c| c.timeout = Duration::from_millis(800)).await;
    let found = vec![hit(
        "s",
        "2024-01-01T00:00:00.000Z",
        page("a.example", "https://a.example/", "192.0.2.1"),
    )];
    let body = json!({"results": found});
    relay.standin.search_reply(
        &ip_query("192.0.2.1"),
        Reply::Slow(
            Duration::from_millis(100),
            Box::new(Reply::json(200, &body)),
        ),
    );
    relay
        .standin
        .search_reply(&ip_query("192.0.2.2"), Reply::Hang);
    relay.standin.result_reply("s", Reply::Hang);
    let started = Instant::now();
    let answer = relay
        .observe(&observables("ip", &["192.0.2.1", "192.0.2.2"]))
        .await;
    let took = started.elapsed();
    assert_eq!(docs(&answer, "sightings").len(), 1, "{answer}");
    assert_eq!(
        errors(&answer),
        one("service unavailable", "urlscan.io did not answer in time")
    );
    // The hung search (800 ms), then the hung result (800 ms): two bounded rounds.
    assert!(
        took >= Duration::from_millis(1_600) && took < Duration::from_secs(4),
        "{took:?}"
    );
}

#[tokio::test]
async fn health_is_one_search_as_ciscos_with_the_relays_headers() {
    let relay = Relay::start().await;
    let answer = relay.ok("/health", &token(), "").await;
    assert_eq!(answer, json!({"data": {"status": "ok"}}));
    let searches = relay.standin.searches();
    assert_eq!(searches.len(), 1);
    assert_eq!(searches[0].what, "page.ip:\"1.1.1.1\"");
    assert_eq!(searches[0].key.as_deref(), Some(API_KEY));
    assert_eq!(searches[0].accept.as_deref(), Some("application/json"));
    let agent = searches[0].user_agent.clone().unwrap();
    assert!(agent.starts_with("urlscan-relay/"), "{agent}");
    relay
        .standin
        .search_reply("page.ip:\"1.1.1.1\"", error(503, "down", None));
    let answer = relay.ok("/health", &token(), "").await;
    assert_eq!(errors(&answer)[0].0, "service unavailable");
}

#[tokio::test]
async fn oversized_and_unreachable_upstreams_are_errors_not_crashes() {
    let relay = Relay::start().await;
    relay.standin.search_reply(
        &ip_query(IP),
        Reply::raw(200, "application/json", " ".repeat(9 << 20)),
    );
    assert_eq!(
        errors_for_relay(&relay).await,
        one("unknown", "urlscan.io's answer is larger than 8192 KiB")
    );
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let address = closed.local_addr().unwrap();
    drop(closed);
    let relay = Relay::start_with(|_, c| c.api_url = format!("http://{address}/api/v1/")).await;
    let errors = errors_for_relay(&relay).await;
    assert_eq!(errors[0].0, "service unavailable");
    assert!(
        errors[0].1.starts_with("urlscan.io is unreachable"),
        "{errors:?}"
    );
}

async fn errors_for_relay(relay: &Relay) -> Vec<(String, String)> {
    errors(&relay.observe(&observables("ip", &[IP])).await)
}
