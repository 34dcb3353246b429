//! The lookup cache: AbuseIPDB's answers kept per (API key, address) for the TTL, so that
//! repeated enrichments spend one check of the daily quota; counted in metrics and in the
//! request's log line.

use std::time::Duration;

use serde_json::json;
use xdr_relay_abuseipdb::metrics::{LOOKUP_CACHE_HITS, LOOKUP_CACHE_MISSES};
use xdr_relay_core::ctim_model::Timestamp;

use crate::support::*;

const IP: &str = "203.0.113.77";

fn reported() -> serde_json::Value {
    data(
        90,
        Some("example.net"),
        vec![report(
            "2024-03-03T03:03:03Z",
            json!("ssh"),
            json!([18, 22]),
        )],
    )
}

fn verdict_start(answer: &serde_json::Value) -> Timestamp {
    Timestamp::parse(
        docs(answer, "verdicts")[0]["valid_time"]["start_time"]
            .as_str()
            .unwrap(),
    )
    .unwrap()
}

#[tokio::test]
async fn repeated_enrichments_of_one_address_spend_one_check() {
    let counters = Recorded::default();
    let _recorder = metrics::set_default_local_recorder(&counters);
    let logs = Logs::trace();
    let relay = Relay::start().await;
    relay.standin.data(IP, reported());

    let first = relay.observe(&ips(&[IP])).await;
    tokio::time::sleep(Duration::from_millis(20)).await;
    let second = relay.observe(&ips(&[IP])).await;
    let deliberate = relay.deliberate(&ips(&[IP])).await;
    assert_eq!(relay.standin.checks_of(IP), 1);
    let labelled = |name: &str| format!("{name}{{upstream=abuseipdb}}");
    assert_eq!(counters.counter(&labelled(LOOKUP_CACHE_MISSES)), 1);
    assert_eq!(counters.counter(&labelled(LOOKUP_CACHE_HITS)), 2);
    // The answer is cached, not the entities: times are the answer's own.
    assert!(verdict_start(&second) > verdict_start(&first));
    assert_eq!(docs(&second, "sightings").len(), 1);
    assert_ne!(
        docs(&second, "sightings")[0]["id"],
        docs(&first, "sightings")[0]["id"]
    );
    assert_eq!(docs(&deliberate, "verdicts").len(), 1);
    // The request's log line counts the hit.
    let text = logs.text();
    assert!(
        text.lines()
            .any(|l| l.contains("relay::request") && l.contains("cache_hits=1")),
        "{text}"
    );
}

#[tokio::test]
async fn keys_do_not_share_answers() {
    let relay = Relay::start().await;
    relay.standin.data(IP, reported());
    let other = token_with("another-caller-key", None);
    relay.observe(&ips(&[IP])).await;
    relay.ok("/observe/observables", &other, &ips(&[IP])).await;
    relay.ok("/observe/observables", &other, &ips(&[IP])).await;
    let keys: Vec<Option<String>> = relay.standin.checks().into_iter().map(|c| c.key).collect();
    assert_eq!(
        keys,
        [
            Some(API_KEY.to_owned()),
            Some("another-caller-key".to_owned())
        ]
    );
}

#[tokio::test]
async fn concurrent_lookups_of_one_address_spend_one_check() {
    let relay = Relay::start().await;
    relay.standin.data(IP, reported());
    relay.standin.delay(Duration::from_millis(200));
    let body = ips(&[IP]);
    let answers = futures::future::join_all((0..6).map(|_| relay.deliberate(&body))).await;
    for answer in answers {
        assert_eq!(verdict_values(&answer), [IP]);
    }
    assert_eq!(relay.standin.checks_of(IP), 1);
}

#[tokio::test]
async fn a_ttl_of_zero_turns_the_cache_off_and_answers_expire() {
    let relay = Relay::start_with(|_, c| c.cache_ttl = Duration::ZERO).await;
    relay.standin.data(IP, reported());
    for _ in 0..3 {
        relay.deliberate(&ips(&[IP])).await;
    }
    assert_eq!(relay.standin.checks_of(IP), 3);

    let relay = Relay::start_with(|_, c| c.cache_ttl = Duration::from_secs(1)).await;
    relay.standin.data(IP, reported());
    relay.deliberate(&ips(&[IP])).await;
    relay.deliberate(&ips(&[IP])).await;
    assert_eq!(relay.standin.checks_of(IP), 1);
    tokio::time::sleep(Duration::from_millis(1_200)).await;
    relay.deliberate(&ips(&[IP])).await;
    assert_eq!(relay.standin.checks_of(IP), 2);
}

#[tokio::test]
async fn failures_are_not_cached_and_unprocessable_addresses_are() {
    let relay = Relay::start().await;
    relay.standin.set(IP, Scenario::error(503, "busy"));
    let answer = relay.deliberate(&ips(&[IP])).await;
    assert_eq!(errors(&answer)[0].0, "service unavailable");
    relay.standin.data(IP, reported());
    let answer = relay.deliberate(&ips(&[IP])).await;
    assert_eq!(verdict_values(&answer), [IP]);
    assert_eq!(relay.standin.checks_of(IP), 2);

    relay.standin.set("192.0.2.9", Scenario::error(422, "no"));
    relay.deliberate(&ips(&["192.0.2.9"])).await;
    relay.deliberate(&ips(&["192.0.2.9"])).await;
    assert_eq!(relay.standin.checks_of("192.0.2.9"), 1);
}
