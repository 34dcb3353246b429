//! Observables are searched at once and the scans they found read at once, each at most
//! `URLSCAN_CONCURRENCY` at a time: 20 observables with 3 scans each against a urlscan.io that
//! takes 150 ms per call answer in a few round trips, where Cisco's relay takes 20 × 2.

use std::time::{Duration, Instant};

use crate::support::*;

const ROUND_TRIP: Duration = Duration::from_millis(150);

/// 20 addresses of `block`, each with 3 scans (60 distinct), every result malicious.
fn addresses(relay: &Relay, block: u8) -> Vec<String> {
    let ips: Vec<String> = (1..=20).map(|n| format!("198.18.{block}.{n}")).collect();
    for ip in &ips {
        let url = format!("https://{ip}/");
        let hits = (0..3)
            .map(|n| {
                let id = format!("{ip}-{n}");
                let time = format!("2024-01-0{}T00:00:00.000Z", n + 1);
                let body =
                    relay
                        .standin
                        .result_body(&id, &time, &url, true, &["phishing"], &["phishing"]);
                relay.standin.result(&id, &body);
                hit(&id, &time, page(ip, &url, ip))
            })
            .collect();
        relay.standin.search(&ip_query(ip), hits);
    }
    ips
}

#[tokio::test]
async fn twenty_observables_with_three_scans_each_answer_in_a_few_round_trips() {
    let relay = Relay::start_with(|_, c| c.concurrency = 60).await;
    relay.standin.delay(ROUND_TRIP);
    let ips = addresses(&relay, 1);
    let ips: Vec<&str> = ips.iter().map(String::as_str).collect();
    let started = Instant::now();
    let answer = relay.observe(&observables("ip", &ips)).await;
    let took = started.elapsed();
    assert_eq!(docs(&answer, "sightings").len(), 60);
    assert_eq!(docs(&answer, "judgements").len(), 60);
    assert_eq!(relay.standin.most_searches_in_flight(), 20);
    assert_eq!(relay.standin.most_in_flight(), 60);
    // Two rounds: the searches, then the results. Sequentially, 80 × 150 ms = 12 s; allow a
    // loaded 2-core machine five round trips.
    assert!(took >= ROUND_TRIP * 2, "{took:?}");
    assert!(took < ROUND_TRIP * 5, "{took:?} for 20 observables");
}

#[tokio::test]
async fn no_more_calls_are_in_flight_than_the_bound() {
    let relay = Relay::start_with(|_, c| c.concurrency = 5).await;
    relay.standin.delay(Duration::from_millis(50));
    let ips = addresses(&relay, 2);
    let ips: Vec<&str> = ips.iter().map(String::as_str).collect();
    let started = Instant::now();
    let answer = relay.observe(&observables("ip", &ips)).await;
    assert_eq!(docs(&answer, "sightings").len(), 60);
    assert_eq!(relay.standin.most_in_flight(), 5);
    // 20 searches then 60 results, 5 at a time: at least 16 round trips.
    assert!(started.elapsed() >= Duration::from_millis(800));
}
