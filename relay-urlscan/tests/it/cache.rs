//! The lookup caches: urlscan.io's searches kept per (API key, query) for their TTL and scan
//! results per (API key, scan) for theirs (a finished scan does not change, so longer), so that
//! repeated enrichments spend the quota once; counted in metrics and in the request's log line.

use std::time::Duration;

use xdr_relay_urlscan::metrics::{
    RESULT_CACHE_HITS, RESULT_CACHE_MISSES, SEARCH_CACHE_HITS, SEARCH_CACHE_MISSES,
};

use crate::support::*;

const IP: &str = "203.0.113.77";

#[tokio::test]
async fn repeated_enrichments_spend_one_search_and_one_read() {
    let counters = Recorded::default();
    let _recorder = metrics::set_default_local_recorder(&counters);
    let logs = Logs::trace();
    let relay = Relay::start().await;
    relay.malicious(
        &ip_query(IP),
        "c1",
        "2024-03-03T03:03:03.000Z",
        &["phishing"],
    );
    let first = relay.observe(&observables("ip", &[IP])).await;
    let second = relay.observe(&observables("ip", &[IP])).await;
    let refer = relay
        .ok("/refer/observables", &token(), &observables("ip", &[IP]))
        .await;
    assert_eq!(relay.standin.searches_of(&ip_query(IP)), 1);
    assert_eq!(relay.standin.result_reads_of("c1"), 1);
    let labelled = |name: &str| format!("{name}{{upstream=urlscan}}");
    assert_eq!(counters.counter(&labelled(SEARCH_CACHE_MISSES)), 1);
    assert_eq!(counters.counter(&labelled(SEARCH_CACHE_HITS)), 2);
    assert_eq!(counters.counter(&labelled(RESULT_CACHE_MISSES)), 1);
    assert_eq!(counters.counter(&labelled(RESULT_CACHE_HITS)), 1);
    // The answers are cached, not the entities: ids are each answer's own.
    assert_eq!(docs(&second, "sightings").len(), 1);
    assert_ne!(
        docs(&second, "sightings")[0]["id"],
        docs(&first, "sightings")[0]["id"]
    );
    assert_eq!(refer["data"].as_array().unwrap().len(), 2);
    let text = logs.text();
    assert!(
        text.lines()
            .any(|l| l.contains("relay::request") && l.contains("cache_hits=2")),
        "{text}"
    );
}

#[tokio::test]
async fn a_finished_scan_outlives_the_search_that_found_it() {
    let relay = Relay::start_with(|_, c| c.search_cache_ttl = Duration::ZERO).await;
    relay.malicious(
        &ip_query(IP),
        "c2",
        "2024-03-03T03:03:03.000Z",
        &["phishing"],
    );
    for _ in 0..3 {
        relay.observe(&observables("ip", &[IP])).await;
    }
    assert_eq!(relay.standin.searches_of(&ip_query(IP)), 3);
    assert_eq!(relay.standin.result_reads_of("c2"), 1);

    let relay = Relay::start_with(|_, c| {
        c.search_cache_ttl = Duration::from_secs(1);
        c.result_cache_ttl = Duration::ZERO;
    })
    .await;
    relay.malicious(
        &ip_query(IP),
        "c3",
        "2024-03-03T03:03:03.000Z",
        &["phishing"],
    );
    relay.observe(&observables("ip", &[IP])).await;
    relay.observe(&observables("ip", &[IP])).await;
    assert_eq!(relay.standin.searches_of(&ip_query(IP)), 1);
    assert_eq!(relay.standin.result_reads_of("c3"), 2);
    tokio::time::sleep(Duration::from_millis(1_200)).await;
    relay.observe(&observables("ip", &[IP])).await;
    assert_eq!(relay.standin.searches_of(&ip_query(IP)), 2);
}

#[tokio::test]
async fn keys_do_not_share_answers_and_failures_are_not_kept() {
    let relay = Relay::start().await;
    relay.malicious(
        &ip_query(IP),
        "c4",
        "2024-03-03T03:03:03.000Z",
        &["phishing"],
    );
    let other = token_with("another-caller-key", None);
    relay.observe(&observables("ip", &[IP])).await;
    relay
        .ok("/observe/observables", &other, &observables("ip", &[IP]))
        .await;
    relay
        .ok("/observe/observables", &other, &observables("ip", &[IP]))
        .await;
    let keys: Vec<Option<String>> = relay
        .standin
        .searches()
        .into_iter()
        .map(|s| s.key)
        .collect();
    assert_eq!(
        keys,
        [
            Some(API_KEY.to_owned()),
            Some("another-caller-key".to_owned())
        ]
    );
    assert_eq!(relay.standin.result_reads_of("c4"), 2);

    // A scan still running is read again next time; a failed search is made again.
    let query = ip_query("192.0.2.8");
    relay.standin.search(
        &query,
        vec![hit(
            "late",
            "2024-01-01T00:00:00.000Z",
            page("l.example", "https://l.example/", "192.0.2.8"),
        )],
    );
    relay.observe(&observables("ip", &["192.0.2.8"])).await;
    let late = relay.standin.result_body(
        "late",
        "2024-01-01T00:00:00.000Z",
        "https://l.example/",
        true,
        &["malware"],
        &["malware"],
    );
    relay.standin.result("late", &late);
    let answer = relay.observe(&observables("ip", &["192.0.2.8"])).await;
    assert_eq!(docs(&answer, "judgements").len(), 1, "{answer}");
    assert_eq!(relay.standin.result_reads_of("late"), 2);
    let failing = ip_query("192.0.2.9");
    relay
        .standin
        .search_reply(&failing, error(503, "busy", None));
    relay.observe(&observables("ip", &["192.0.2.9"])).await;
    relay.standin.search(&failing, vec![]);
    let answer = relay.observe(&observables("ip", &["192.0.2.9"])).await;
    assert!(answer.get("errors").is_none(), "{answer}");
    assert_eq!(relay.standin.searches_of(&failing), 2);
}
