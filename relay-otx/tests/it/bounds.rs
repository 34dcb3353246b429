//! What bounds a request: observables looked up at once and each pulse's pages read without
//! waiting on the other pulses (20 observables of 3 pulses at 150 ms a call answer in a few
//! round trips, not 80), the pages read of one pulse, and the request's deadline, which
//! answers what was found.

use std::time::{Duration, Instant};

use crate::support::*;

const ROUND_TRIP: Duration = Duration::from_millis(150);

#[tokio::test]
async fn twenty_observables_of_three_pulses_answer_in_a_few_round_trips() {
    let relay = Relay::start_with(|_, c| c.cache_ttl = Duration::ZERO).await;
    let domains: Vec<String> = (0..20).map(|n| format!("d{n}.example")).collect();
    for p in 0..3 {
        let mut pulse = Pulse::new(&format!("pulse-{p}"));
        for domain in &domains {
            pulse = pulse.with("domain", domain, "2020-01-01T00:00:00");
        }
        relay.standin.pulse(pulse);
    }
    relay.standin.delay(ROUND_TRIP);
    let pairs: Vec<(&str, &str)> = domains.iter().map(|d| ("domain", d.as_str())).collect();
    let started = Instant::now();
    let answer = relay.observe(&observables(&pairs)).await;
    let took = started.elapsed();
    assert!(answer.get("errors").is_none(), "{answer}");
    assert_eq!(docs(&answer, "sightings").len(), 60);
    assert_eq!(relay.standin.generals().len(), 20);
    assert_eq!(relay.standin.calls().len(), 80);
    assert!(
        relay
            .standin
            .most_in_flight("/api/v1/pulses/pulse-0/indicators")
            > 1
    );
    // Two round trips (general, then the pages); sequentially 80 × 150 ms = 12 s. Allow a
    // loaded 2-core machine six.
    assert!(took >= ROUND_TRIP * 2, "{took:?}");
    assert!(took < ROUND_TRIP * 6, "{took:?} for 20 observables");
}

// The bounds as time: 6 pulses searched 2 at a time take 3 rounds after the general call;
// 6 observables looked up 2 at a time take 3 rounds of 2 calls. A lower bound only: more
// concurrency than allowed would answer sooner.
#[tokio::test]
async fn no_more_lookups_or_pulses_are_in_flight_than_the_bounds() {
    const STEP: Duration = Duration::from_millis(100);
    let relay = Relay::start_with(|_, c| {
        c.concurrency = 2;
        c.pulse_concurrency = 2;
    })
    .await;
    for p in 0..6 {
        relay.standin.pulse(Pulse::new(&format!("many-{p}")).with(
            "domain",
            "many.example",
            "2020-01-01T00:00:00",
        ));
    }
    for n in 0..6 {
        relay.standin.pulse(Pulse::new(&format!("one-{n}")).with(
            "domain",
            &format!("o{n}.example"),
            "2020-01-01T00:00:00",
        ));
    }
    relay.standin.delay(STEP);
    let started = Instant::now();
    let answer = relay
        .observe(&observables(&[("domain", "many.example")]))
        .await;
    assert_eq!(docs(&answer, "sightings").len(), 6);
    assert!(started.elapsed() >= STEP * 4, "{:?}", started.elapsed());

    let pairs: Vec<(String, String)> = (0..6)
        .map(|n| ("domain".to_owned(), format!("o{n}.example")))
        .collect();
    let pairs: Vec<(&str, &str)> = pairs
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let started = Instant::now();
    let answer = relay.observe(&observables(&pairs)).await;
    assert_eq!(docs(&answer, "sightings").len(), 6);
    assert!(started.elapsed() >= STEP * 6, "{:?}", started.elapsed());
}

#[tokio::test]
async fn a_pulse_of_hundreds_of_pages_costs_the_page_bound() {
    let relay = Relay::start_with(|_, c| c.max_pages = 5).await;
    let mut huge =
        Pulse::new("huge")
            .filler(400)
            .with("domain", "needle.example", "2020-01-01T00:00:00");
    huge.page_size = 1;
    relay.standin.pulse(huge);
    relay.standin.pulse(Pulse::new("small").with(
        "domain",
        "needle.example",
        "2020-02-02T00:00:00",
    ));
    let answer = relay
        .observe(&observables(&[("domain", "needle.example")]))
        .await;
    assert!(answer.get("errors").is_none(), "{answer}");
    assert_eq!(sighted(&answer), ["small"]);
    assert_eq!(relay.standin.pages_of("huge"), [1, 2, 3, 4, 5]);
    // The bounded search is kept: the next request reads no page of it.
    relay.standin.reset_counts();
    relay
        .observe(&observables(&[("domain", "needle.example")]))
        .await;
    assert!(relay.standin.calls().is_empty());
}

#[tokio::test]
async fn the_answer_comes_by_the_deadline_with_what_was_found() {
    let relay = Relay::start_with(|r, c| {
        r.request_timeout = Duration::from_millis(1_500);
        c.timeout = Duration::from_secs(5);
        c.pulse_timeout = Duration::from_secs(30);
        c.max_pages = 1_000;
    })
    .await;
    let mut endless = Pulse::new("endless").filler(500);
    endless.page_size = 1;
    relay
        .standin
        .pulse(endless.with("domain", "slow.example", "2020-01-01T00:00:00"));
    relay
        .standin
        .pulse(Pulse::new("quick").with("domain", "slow.example", "2020-01-01T00:00:00"));
    relay.standin.delay(Duration::from_millis(20));
    let started = Instant::now();
    let answer = relay
        .observe(&observables(&[("domain", "slow.example")]))
        .await;
    let took = started.elapsed();
    assert_eq!(sighted(&answer), ["quick"]);
    assert_eq!(errors(&answer)[0].0, "service unavailable", "{answer}");
    assert!(took < Duration::from_millis(2_500), "{took:?}");
    let read = relay.standin.pages_of("endless").len();
    assert!(read > 1 && read < 500, "{read}");
}
