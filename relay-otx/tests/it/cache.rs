//! The lookup cache: OTX's answers (an observable's pulses, its entry in each) kept per
//! (API key, observable) for the TTL, so that repeated enrichments cost no call; counted in
//! metrics and in the request's log line.

use std::time::Duration;

use xdr_relay_otx::metrics::{LOOKUP_CACHE_HITS, LOOKUP_CACHE_MISSES};

use crate::support::*;

const DOMAIN: &str = "cached.example";

fn pulses(relay: &Relay) {
    for id in ["c1", "c2"] {
        relay
            .standin
            .pulse(Pulse::new(id).with("domain", DOMAIN, "2020-01-01T00:00:00"));
    }
}

#[tokio::test]
async fn repeated_enrichments_cost_no_call() {
    let counters = Recorded::default();
    let _recorder = metrics::set_default_local_recorder(&counters);
    let logs = Logs::trace();
    let relay = Relay::start().await;
    pulses(&relay);
    let body = observables(&[("domain", DOMAIN)]);
    let first = relay.observe(&body).await;
    let second = relay.observe(&body).await;
    assert_eq!(relay.standin.calls().len(), 3);
    assert_eq!(sighted(&first), sighted(&second));
    // The answers are cached, not the entities.
    assert_ne!(
        docs(&first, "sightings")[0]["id"],
        docs(&second, "sightings")[0]["id"]
    );
    let labelled = |name: &str| format!("{name}{{upstream=otx}}");
    assert_eq!(counters.counter(&labelled(LOOKUP_CACHE_MISSES)), 3);
    assert_eq!(counters.counter(&labelled(LOOKUP_CACHE_HITS)), 3);
    let text = logs.text();
    assert!(
        text.lines()
            .any(|l| l.contains("relay::request") && l.contains("cache_hits=3")),
        "{text}"
    );
}

#[tokio::test]
async fn keys_do_not_share_answers() {
    let relay = Relay::start().await;
    pulses(&relay);
    let body = observables(&[("domain", DOMAIN)]);
    let other = token_with("another-caller-key", None);
    relay.observe(&body).await;
    relay.ok("/observe/observables", &other, &body).await;
    relay.ok("/observe/observables", &other, &body).await;
    let keys: Vec<Option<String>> = relay.standin.calls().into_iter().map(|c| c.key).collect();
    let mut expected = vec![Some(API_KEY.to_owned()); 3];
    expected.extend(vec![Some("another-caller-key".to_owned()); 3]);
    assert_eq!(keys, expected);
}

#[tokio::test]
async fn a_ttl_of_zero_turns_the_cache_off_and_answers_expire() {
    let body = observables(&[("domain", DOMAIN)]);
    let relay = Relay::start_with(|_, c| c.cache_ttl = Duration::ZERO).await;
    pulses(&relay);
    for _ in 0..2 {
        relay.observe(&body).await;
    }
    assert_eq!(relay.standin.calls().len(), 6);

    let relay = Relay::start_with(|_, c| c.cache_ttl = Duration::from_secs(1)).await;
    pulses(&relay);
    relay.observe(&body).await;
    relay.observe(&body).await;
    assert_eq!(relay.standin.calls().len(), 3);
    tokio::time::sleep(Duration::from_millis(1_200)).await;
    relay.observe(&body).await;
    assert_eq!(relay.standin.calls().len(), 6);
}

#[tokio::test]
async fn concurrent_enrichments_share_their_calls() {
    let relay = Relay::start().await;
    pulses(&relay);
    relay.standin.delay(Duration::from_millis(200));
    let body = observables(&[("domain", DOMAIN)]);
    let answers = futures::future::join_all((0..5).map(|_| relay.observe(&body))).await;
    for answer in answers {
        assert_eq!(sighted(&answer).len(), 2, "{answer}");
    }
    assert_eq!(relay.standin.calls().len(), 3);
}
