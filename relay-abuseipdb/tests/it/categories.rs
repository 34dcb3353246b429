//! The categories page: read once per TTL for every request (concurrent cold requests wait for
//! one read, later ones are served the table in hand while it is read again in the
//! background), and the built-in categories with a warning, never an error, when it cannot be
//! read.

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::support::*;

const IP: &str = "198.51.100.20";

/// A relay whose stand-in reports [`IP`] in categories 5 (not on the stand-in's page), 18 and
/// 22 (on it, with the page's own titles) and 77 (on no page).
async fn relay_with(adjust: impl FnOnce(&mut xdr_relay_abuseipdb::AbuseIpdbConfig)) -> Relay {
    relay_configured(|_, c| adjust(c)).await
}

/// The same, with the relay's own configuration adjusted too.
async fn relay_configured(
    adjust: impl FnOnce(&mut xdr_relay_core::RelayConfig, &mut xdr_relay_abuseipdb::AbuseIpdbConfig),
) -> Relay {
    let relay = Relay::start_with(adjust).await;
    let reports = vec![report(
        "2024-02-02T02:02:02+00:00",
        json!("scan"),
        json!([5, 18, 22, 77]),
    )];
    relay.standin.data(IP, data(100, None, reports));
    relay
}

fn titles(answer: &Value) -> Vec<String> {
    docs(answer, "indicators")
        .iter()
        .map(|i| i["title"].as_str().unwrap().to_owned())
        .collect()
}

fn page_titles(title_18: &str) -> String {
    categories_page(&[
        (18, title_18.to_owned(), "from the page".to_owned()),
        (22, "SSH".to_owned(), String::new()),
    ])
}

#[tokio::test]
async fn concurrent_cold_requests_read_the_page_once_and_later_ones_not_at_all() {
    let relay = relay_with(|_| {}).await;
    relay.standin.page(Page::Slow(
        Duration::from_millis(300),
        page_titles("Brute-Force (page)"),
    ));
    let body = ips(&[IP]);
    let answers = futures::future::join_all((0..8).map(|_| relay.observe(&body))).await;
    for answer in &answers {
        assert!(answer.get("errors").is_none(), "{answer}");
        assert_eq!(
            titles(answer),
            [
                "FTP Brute-Force",
                "Brute-Force (page)",
                "SSH",
                "Category 77"
            ]
        );
    }
    assert_eq!(relay.standin.page_reads(), 1);
    relay.observe(&body).await;
    relay.observe(&ips(&["198.51.100.21"])).await;
    assert_eq!(relay.standin.page_reads(), 1);
    // The page's text wins, the built-in table fills its gaps.
    let answer = relay.observe(&body).await;
    let indicators = docs(&answer, "indicators");
    assert_eq!(indicators[1]["description"], "from the page");
    assert_eq!(
        indicators[2]["description"], "SSH",
        "an empty cell: the title"
    );
}

#[tokio::test]
async fn a_failing_page_is_the_built_in_table_and_a_warning_not_an_error() {
    for page in [
        Page::Status(500),
        Page::Status(404),
        Page::Html("<html><body><h1>We moved the categories</h1></body></html>".into()),
        Page::Html(r#"{"categories": [{"id": 18}]}"#.into()),
        Page::Html("<table>".repeat(5_000)),
    ] {
        let logs = Logs::trace();
        let relay = relay_with(|_| {}).await;
        relay.standin.page(page.clone());
        let answer = relay.observe(&ips(&[IP])).await;
        assert!(answer.get("errors").is_none(), "{page:?}: {answer}");
        assert_eq!(
            titles(&answer),
            ["FTP Brute-Force", "Brute-Force", "SSH", "Category 77"],
            "{page:?}"
        );
        let text = logs.text();
        assert!(
            text.lines()
                .any(|l| l.contains("WARN") && l.contains("the built-in categories are used")),
            "{page:?}: {text}"
        );
    }
}

#[tokio::test]
async fn a_hung_page_costs_one_timeout_then_waits_for_its_retry() {
    let relay = relay_with(|c| c.timeout = Duration::from_millis(500)).await;
    relay.standin.page(Page::Hang);
    let started = Instant::now();
    let answer = relay.observe(&ips(&[IP])).await;
    let took = started.elapsed();
    assert!(answer.get("errors").is_none(), "{answer}");
    assert_eq!(titles(&answer)[1], "Brute-Force");
    assert!(took < Duration::from_secs(3), "{took:?}");
    // The fallback is kept until the retry (5 minutes at most): no second wait.
    let started = Instant::now();
    relay.observe(&ips(&[IP])).await;
    assert!(started.elapsed() < Duration::from_millis(400));
    assert_eq!(relay.standin.page_reads(), 1);
}

/// The title of category 18 in observe answers, asked until it is `expected` (a read in the
/// background may still be under way), at most for 3 s.
async fn eventually_title(relay: &Relay, expected: &str) {
    let mut seen = String::new();
    for _ in 0..30 {
        seen = titles(&relay.observe(&ips(&[IP])).await)[1].clone();
        if seen == expected {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("category 18 is still {seen:?}, not {expected:?}");
}

#[tokio::test]
async fn the_page_is_read_again_after_its_ttl_and_after_a_failure() {
    let relay = relay_with(|c| c.categories_ttl = Duration::from_secs(1)).await;
    relay.standin.page(Page::Status(503));
    assert_eq!(titles(&relay.observe(&ips(&[IP])).await)[1], "Brute-Force");
    relay.standin.page(Page::Html(page_titles("first page")));
    // Within the retry time (here the TTL, 1 s): still the built-in table, no read.
    assert_eq!(titles(&relay.observe(&ips(&[IP])).await)[1], "Brute-Force");
    assert_eq!(relay.standin.page_reads(), 1);
    tokio::time::sleep(Duration::from_millis(1_200)).await;
    // Expired: the table in hand while the page is read again in the background.
    eventually_title(&relay, "first page").await;
    relay.standin.page(Page::Html(page_titles("second page")));
    assert_eq!(titles(&relay.observe(&ips(&[IP])).await)[1], "first page");
    tokio::time::sleep(Duration::from_millis(1_200)).await;
    eventually_title(&relay, "second page").await;
    assert_eq!(relay.standin.page_reads(), 3);
}

#[tokio::test]
async fn a_cell_with_inline_markup_reads_as_its_text_content() {
    let relay = relay_with(|_| {}).await;
    let cell = "Floods from many hosts at once, often a <em>botnet</em>. See \
                <a href=\"https://example.com/faq?a=1&amp;b=2\">the\n  FAQ</a>; \
                <b>SSH &amp; <i>RDP</i></b> too.";
    relay.standin.page(Page::Html(categories_page(&[(
        18,
        "Brute-<b>Force</b>".to_owned(),
        cell.to_owned(),
    )])));
    let answer = relay.observe(&ips(&[IP])).await;
    let indicator = &docs(&answer, "indicators")[1];
    let text = "Floods from many hosts at once, often a botnet. See the FAQ; SSH & RDP too.";
    assert_eq!(indicator["title"], "Brute-Force", "{answer}");
    assert_eq!(indicator["description"], text);
    assert_eq!(indicator["short_description"], text);
}

// The table in hand is served at once when it expires, while the page is read again in the
// background: a hung page holds up no answer.
#[tokio::test]
async fn an_expired_table_is_served_at_once_and_refreshed_in_the_background() {
    let relay = relay_configured(|r, c| {
        c.categories_ttl = Duration::from_secs(1);
        c.timeout = Duration::from_secs(5);
        r.request_timeout = Duration::from_secs(2);
    })
    .await;
    relay.standin.page(Page::Html(page_titles("first page")));
    assert_eq!(titles(&relay.observe(&ips(&[IP])).await)[1], "first page");
    tokio::time::sleep(Duration::from_millis(1_200)).await;
    relay.standin.page(Page::Hang);
    // Expired, the page hangs: the table in hand, within the request's deadline.
    let answer = relay.observe(&ips(&[IP])).await;
    assert!(answer.get("errors").is_none(), "{answer}");
    assert_eq!(titles(&answer)[1], "first page");
}

// The page is read under its own bound, not the first caller's deadline: a short deadline
// does not keep the built-in table for the retry time while the page is fine.
#[tokio::test]
async fn the_page_is_read_under_its_own_bound() {
    let relay = relay_configured(|r, c| {
        c.timeout = Duration::from_secs(5);
        r.request_timeout = Duration::from_millis(1_000);
    })
    .await;
    relay.standin.page(Page::Slow(
        Duration::from_millis(1_500),
        page_titles("from the page"),
    ));
    let first = relay.observe(&ips(&[IP])).await;
    assert!(first.get("errors").is_none(), "{first}");
    assert_eq!(titles(&first)[1], "Brute-Force");
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    assert_eq!(
        titles(&relay.observe(&ips(&[IP])).await)[1],
        "from the page"
    );
    assert_eq!(relay.standin.page_reads(), 1);
}
