//! Addresses are checked concurrently, at most `ABUSEIPDB_CONCURRENCY` at once: 20 addresses
//! against an AbuseIPDB that takes 150 ms per call answer in about one round trip, not 20.

use std::time::{Duration, Instant};

use crate::support::*;

const ROUND_TRIP: Duration = Duration::from_millis(150);

fn addresses(block: u8) -> Vec<String> {
    (1..=20).map(|n| format!("198.18.{block}.{n}")).collect()
}

#[tokio::test]
async fn twenty_addresses_answer_at_the_one_round_trip_limit() {
    let relay = Relay::start().await;
    relay.standin.delay(ROUND_TRIP);
    for (n, ip) in addresses(1).iter().chain(&addresses(2)).enumerate() {
        let score = i64::try_from(n % 101).unwrap();
        relay.standin.data(ip, data(score, None, vec![]));
    }
    let first = addresses(1);
    let first: Vec<&str> = first.iter().map(String::as_str).collect();

    // Cold: the categories page (150 ms too) is read while the addresses are checked.
    let started = Instant::now();
    let answer = relay.observe(&ips(&first)).await;
    let cold = started.elapsed();
    assert_eq!(docs(&answer, "verdicts").len(), 20);
    assert_eq!(relay.standin.most_in_flight(), 20);
    assert_eq!(relay.standin.page_reads(), 1);

    // Categories cached, addresses not: still one round trip.
    let second = addresses(2);
    let second: Vec<&str> = second.iter().map(String::as_str).collect();
    let started = Instant::now();
    let answer = relay.observe(&ips(&second)).await;
    let warm = started.elapsed();
    assert_eq!(docs(&answer, "verdicts").len(), 20);

    // Sequentially they would take 20 × 150 ms = 3 s; allow a loaded 2-core machine four
    // round trips.
    for took in [cold, warm] {
        assert!(took >= ROUND_TRIP, "{took:?}");
        assert!(took < ROUND_TRIP * 4, "{took:?} for 20 addresses");
    }
}

#[tokio::test]
async fn no_more_checks_are_in_flight_than_the_bound() {
    let relay = Relay::start_with(|_, c| c.concurrency = 5).await;
    relay.standin.delay(Duration::from_millis(50));
    let many = addresses(3);
    let many: Vec<&str> = many.iter().map(String::as_str).collect();
    let started = Instant::now();
    let answer = relay.deliberate(&ips(&many)).await;
    assert_eq!(docs(&answer, "verdicts").len(), 20);
    assert_eq!(relay.standin.most_in_flight(), 5);
    // 20 addresses, 5 at a time: at least 4 round trips.
    assert!(started.elapsed() >= Duration::from_millis(200));
}
