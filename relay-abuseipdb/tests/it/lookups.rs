//! How lookups are shared: a rate limit remembered per caller (cache hits still served), a
//! lookup shared by concurrent requests under its own bound, one check per address however it
//! is written, and links built from the checked URL.

use std::time::Duration;

use serde_json::{Value, json};
use testkit::abuseipdb::RATE_LIMIT_DETAIL;

use crate::support::*;

const CACHED: &str = "198.51.100.1";
const LIMITED: &str = "198.51.100.2";

fn limited(retry_after: &str) -> Scenario {
    Scenario::Error {
        status: 429,
        detail: Some(RATE_LIMIT_DETAIL.into()),
        retry_after: Some(retry_after.into()),
    }
}

#[tokio::test]
async fn a_cached_address_is_served_during_a_rate_limit() {
    let relay = Relay::start_with(|_, c| c.concurrency = 1).await;
    relay.standin.data(CACHED, data(90, None, vec![]));
    relay.deliberate(&ips(&[CACHED])).await;
    relay.standin.set(LIMITED, limited("60"));
    // The rate limit first, then the address cached a moment ago: its verdict is answered.
    let answer = relay.deliberate(&ips(&[LIMITED, CACHED])).await;
    assert_eq!(verdict_values(&answer), [CACHED], "{answer}");
    assert_eq!(errors(&answer)[0].0, "too many requests");
    assert_eq!(relay.standin.checks_of(CACHED), 1);
}

#[tokio::test]
async fn a_rate_limit_is_remembered_for_the_caller_until_retry_after() {
    let relay = Relay::start_with(|_, c| c.concurrency = 1).await;
    relay.standin.set(LIMITED, limited("60"));
    let answer = relay.deliberate(&ips(&[LIMITED])).await;
    assert_eq!(errors(&answer)[0].0, "too many requests");
    // The next request of this caller, within Retry-After: answered at once, no check sent.
    let answer = relay
        .deliberate(&ips(&["198.51.100.3", "198.51.100.4"]))
        .await;
    let errors = errors(&answer);
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert_eq!(errors[0].0, "too many requests");
    assert!(errors[0].1.contains(RATE_LIMIT_DETAIL), "{errors:?}");
    assert_eq!(relay.standin.checks().len(), 1);
    // Another caller is not held up by it.
    let other = token_with("another-caller-key", None);
    let answer = relay
        .ok("/deliberate/observables", &other, &ips(&["198.51.100.3"]))
        .await;
    assert_eq!(verdict_values(&answer), ["198.51.100.3"]);
    assert_eq!(relay.standin.checks().len(), 2);
}

#[tokio::test]
async fn a_rate_limit_ends_with_its_retry_after() {
    let relay = Relay::start().await;
    relay.standin.set(LIMITED, limited("1"));
    relay.deliberate(&ips(&[LIMITED])).await;
    relay.standin.data(LIMITED, data(10, None, vec![]));
    tokio::time::sleep(Duration::from_millis(1_300)).await;
    let answer = relay.deliberate(&ips(&[LIMITED])).await;
    assert_eq!(verdict_values(&answer), [LIMITED], "{answer}");
}

// Two requests share one check: the first's deadline (at 2 s) passes before AbuseIPDB answers
// (at 2.5 s), the second's (at 3.2 s) does not. The shared check runs under its own bound (ABUSEIPDB_TIMEOUT), so the
// second request gets the answer rather than the first's deadline.
#[tokio::test]
async fn a_shared_lookup_runs_under_its_own_bound() {
    let relay = Relay::start_with(|r, c| {
        r.request_timeout = Duration::from_millis(2_000);
        c.timeout = Duration::from_secs(5);
    })
    .await;
    const IP: &str = "198.51.100.9";
    relay.standin.set(
        IP,
        Scenario::Slow(
            Duration::from_millis(2_500),
            Box::new(Scenario::Data(data(90, None, vec![]))),
        ),
    );
    let body = ips(&[IP]);
    let first = relay.deliberate(&body);
    let second = async {
        tokio::time::sleep(Duration::from_millis(1_200)).await;
        relay.deliberate(&body).await
    };
    let (first, second) = futures::join!(first, second);
    assert_eq!(errors(&first)[0].0, "service unavailable", "{first}");
    assert_eq!(verdict_values(&second), [IP], "{second}");
    assert_eq!(relay.standin.checks_of(IP), 1);
}

fn observables(pairs: &[(&str, &str)]) -> String {
    let list: Vec<Value> = pairs
        .iter()
        .map(|(kind, value)| json!({"type": kind, "value": value}))
        .collect();
    json!(list).to_string()
}

#[tokio::test]
async fn an_address_costs_one_check_however_it_is_written() {
    for ttl in [Duration::from_secs(3600), Duration::ZERO] {
        let relay = Relay::start_with(|_, c| c.cache_ttl = ttl).await;
        let body = observables(&[("ip", "192.0.2.1"), ("ipv6", "::ffff:192.0.2.1")]);
        let answer = relay.deliberate(&body).await;
        assert_eq!(verdict_values(&answer).len(), 2, "{answer}");
        let body = observables(&[("ipv6", "2001:DB8::1"), ("ipv6", "2001:db8::1")]);
        let answer = relay.deliberate(&body).await;
        assert_eq!(verdict_values(&answer).len(), 2, "{answer}");
        let asked: Vec<String> = relay.standin.checks().into_iter().map(|c| c.ip).collect();
        assert_eq!(asked, ["192.0.2.1", "2001:db8::1"], "cache TTL {ttl:?}");
    }
}

#[tokio::test]
async fn links_are_built_from_the_checked_url() {
    let relay = Relay::start_with(|_, c| {
        c.web_url = c.web_url.replace("http://", "HTTP://");
        c.web_url.pop();
    })
    .await;
    let answer = relay
        .observe_at("/refer/observables", &ips(&["192.0.2.1"]))
        .await;
    assert_eq!(
        answer["data"][0]["url"],
        format!("{}check/192.0.2.1", relay.standin.web_url())
    );
}
