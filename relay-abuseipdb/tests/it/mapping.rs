//! AbuseIPDB's answers as CTIM, through the router: Cisco's own test fixture gives Cisco's
//! expected answer (ids and times aside), and the inputs Cisco's relay mishandles give
//! well-formed entities.

use std::collections::HashMap;

use serde_json::{Value, json};
use xdr_relay_core::ctim_model::{CTIM_SCHEMA_VERSION, ObserveBundle, Timestamp};
use xdr_relay_core::time;

use crate::support::*;

fn data_file(name: &str) -> Value {
    let path = format!("{}/tests/data/{name}", env!("CARGO_MANIFEST_DIR"));
    serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap()
}

/// The categories Cisco's unit tests patch in: `title for id N`, `description for id N`.
fn ciscos_test_categories() -> String {
    let rows: Vec<(u64, String, String)> = [15, 18, 20, 21]
        .iter()
        .map(|&id| {
            (
                id,
                format!("title for id {id}"),
                format!("description for id {id}"),
            )
        })
        .collect();
    categories_page(&rows)
}

/// Every timestamp in `value` (under `start_time` / `end_time`) rewritten the one way
/// ctim-model writes it, so Cisco's `.000000Z` and the relay's `.000Z` compare equal.
fn normalise_times(value: &mut Value) {
    match value {
        Value::Object(object) => {
            for (name, field) in object.iter_mut() {
                match field {
                    Value::String(text) if name == "start_time" || name == "end_time" => {
                        *text = Timestamp::parse(text).unwrap().to_string();
                    }
                    _ => normalise_times(field),
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(normalise_times),
        _ => {}
    }
}

/// The answer with its ids replaced by the placeholders of `cisco_observe_expected.json`:
/// sightings `«s1»`, `«s2»`… in order, indicators `«ind<category>»` (after checking the id is
/// Cisco's uuid5), `«judgement»`, `«relationship»`, and the verdicts' validity `«now»` (after
/// checking it is now → now + 30 days).
fn placeholders(mut answer: Value) -> Value {
    let data = &mut answer["data"];
    let mut names: HashMap<String, String> = HashMap::new();
    for (n, sighting) in data["sightings"]["docs"]
        .as_array_mut()
        .unwrap()
        .iter_mut()
        .enumerate()
    {
        let name = format!("«s{}»", n + 1);
        names.insert(sighting["id"].as_str().unwrap().to_owned(), name.clone());
        sighting["id"] = json!(name);
    }
    for indicator in data["indicators"]["docs"].as_array_mut().unwrap() {
        let category = indicator["external_ids"][0].as_str().unwrap().to_owned();
        let id = indicator["id"].as_str().unwrap().to_owned();
        let uuid = xdr_relay_core::ctim_model::Id::transient_from_name("indicator", &category);
        assert_eq!(id, uuid.as_str(), "Cisco's indicator id");
        let name = format!("«ind{category}»");
        names.insert(id, name.clone());
        indicator["id"] = json!(name);
    }
    for judgement in data["judgements"]["docs"].as_array_mut().unwrap() {
        assert!(
            judgement["id"]
                .as_str()
                .unwrap()
                .starts_with("transient:judgement-")
        );
        judgement["id"] = json!("«judgement»");
    }
    for relationship in data["relationships"]["docs"].as_array_mut().unwrap() {
        assert!(
            relationship["id"]
                .as_str()
                .unwrap()
                .starts_with("transient:relationship-")
        );
        relationship["id"] = json!("«relationship»");
        for end in ["source_ref", "target_ref"] {
            let name = names[relationship[end].as_str().unwrap()].clone();
            relationship[end] = json!(name);
        }
    }
    let now = Timestamp::now().to_offset_date_time();
    for verdict in data["verdicts"]["docs"].as_array_mut().unwrap() {
        let start =
            Timestamp::parse(verdict["valid_time"]["start_time"].as_str().unwrap()).unwrap();
        let end = Timestamp::parse(verdict["valid_time"]["end_time"].as_str().unwrap()).unwrap();
        let start = start.to_offset_date_time();
        assert!(
            (now - start).abs() < time::Duration::minutes(1),
            "{verdict}"
        );
        assert_eq!(end.to_offset_date_time() - start, time::Duration::days(30));
        verdict["valid_time"] = json!("«now»");
    }
    answer
}

/// Parses every entity of an answer with ctim-model and validates it.
pub(crate) fn assert_valid_ctim(answer: &Value) {
    let bundle: ObserveBundle = serde_json::from_value(answer["data"].clone())
        .unwrap_or_else(|e| panic!("not CTIM ({e}): {answer}"));
    for v in &bundle.verdicts {
        v.validate().unwrap();
    }
    for j in &bundle.judgements {
        j.validate().unwrap();
    }
    for s in &bundle.sightings {
        s.validate().unwrap();
    }
    for i in &bundle.indicators {
        i.validate().unwrap();
    }
    for r in &bundle.relationships {
        r.validate().unwrap();
    }
}

#[tokio::test]
async fn ciscos_fixture_gives_ciscos_answer() {
    let relay = Relay::start().await;
    relay.standin.page(Page::Html(ciscos_test_categories()));
    relay.standin.set(
        "118.25.6.39",
        Scenario::Data(data_file("cisco_check.json")["data"].clone()),
    );

    let answer = relay.observe(&ips(&["118.25.6.39"])).await;
    assert!(answer.get("errors").is_none(), "{answer}");
    assert_valid_ctim(&answer);
    // Links point to the stand-in's site; Cisco's to abuseipdb.com.
    let text = answer
        .to_string()
        .replace(&relay.standin.web_url(), "https://www.abuseipdb.com/");
    let mut got = placeholders(serde_json::from_str(&text).unwrap());
    let mut expected = data_file("cisco_observe_expected.json");
    let expected_text = expected
        .to_string()
        .replace("\"1.0.17\"", &format!("\"{CTIM_SCHEMA_VERSION}\""));
    expected = serde_json::from_str(&expected_text).unwrap();
    normalise_times(&mut got);
    normalise_times(&mut expected);
    assert_eq!(got, expected);

    // What was asked, and how: one check, verbose, 30 days, the key and the relay's agent.
    let checks = relay.standin.checks();
    assert_eq!(checks.len(), 1);
    let check = &checks[0];
    assert_eq!(check.ip, "118.25.6.39");
    assert_eq!(check.query["maxAgeInDays"], "30");
    assert_eq!(check.query["verbose"], "true");
    assert_eq!(check.key.as_deref(), Some(API_KEY));
    assert_eq!(check.accept.as_deref(), Some("application/json"));
    let agent = check.user_agent.as_deref().unwrap();
    assert!(
        agent.starts_with(&format!("abuseipdb-relay/{}", env!("CARGO_PKG_VERSION"))),
        "{agent}"
    );

    // Deliberate: the verdict alone, and no categories page.
    let reads = relay.standin.page_reads();
    let deliberate = relay.deliberate(&ips(&["118.25.6.39"])).await;
    let verdicts = docs(&deliberate, "verdicts");
    assert_eq!(verdicts.len(), 1);
    assert_eq!(verdicts[0]["disposition_name"], "Suspicious");
    assert_eq!(
        deliberate["data"]
            .as_object()
            .unwrap()
            .keys()
            .collect::<Vec<_>>(),
        ["verdicts"]
    );
    assert_eq!(relay.standin.page_reads(), reads);
}

#[tokio::test]
async fn the_tokens_limit_keeps_the_newest_reports_for_that_request_alone() {
    let relay = Relay::start().await;
    relay.standin.page(Page::Html(ciscos_test_categories()));
    // Cisco's fixture with its reports in the other order: the limit takes the newest.
    let mut fixture = data_file("cisco_check.json")["data"].clone();
    fixture["reports"].as_array_mut().unwrap().reverse();
    relay.standin.set("118.25.6.39", Scenario::Data(fixture));
    let body = ips(&["118.25.6.39"]);

    let one = token_with(API_KEY, Some(1));
    let many = token_with(API_KEY, Some(5));
    // Requests with different limits at the same time: each gets its own.
    let (limited, full) = tokio::join!(
        relay.ok("/observe/observables", &one, &body),
        relay.ok("/observe/observables", &many, &body),
    );
    let reasons = |answer: &Value| -> Vec<String> {
        docs(answer, "judgements")
            .iter()
            .map(|j| j["reason"].as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(reasons(&limited), ["title for id 15, title for id 21"]);
    assert_eq!(docs(&limited, "sightings")[0]["description"], "ssh");
    let titles: Vec<&str> = docs(&limited, "indicators")
        .iter()
        .map(|i| i["title"].as_str().unwrap())
        .collect();
    assert_eq!(titles, ["title for id 15", "title for id 21"]);
    assert_eq!(docs(&limited, "relationships").len(), 2);
    assert_eq!(docs(&limited, "verdicts").len(), 1);
    assert_eq!(
        reasons(&full),
        [
            "title for id 15, title for id 21",
            "title for id 18, title for id 20"
        ]
    );
    // And the relay's default (100) for a token without a limit.
    let answer = relay.observe(&body).await;
    assert_eq!(docs(&answer, "sightings").len(), 2);
}

#[tokio::test]
async fn scores_0_50_and_100_and_a_verdict_for_thirty_days() {
    let relay = Relay::start().await;
    for (ip, score) in [("192.0.2.10", 0), ("192.0.2.50", 50), ("192.0.2.100", 100)] {
        relay.standin.data(ip, data(score, None, vec![]));
    }
    let answer = relay
        .deliberate(&ips(&["192.0.2.10", "192.0.2.50", "192.0.2.100"]))
        .await;
    let dispositions: Vec<(i64, &str)> = docs(&answer, "verdicts")
        .iter()
        .map(|v| {
            (
                v["disposition"].as_i64().unwrap(),
                v["disposition_name"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        dispositions,
        [(3, "Suspicious"), (3, "Suspicious"), (2, "Malicious")]
    );
    // No reports: the verdict alone on observe too.
    let answer = relay.observe(&ips(&["192.0.2.100"])).await;
    assert_eq!(
        answer["data"]
            .as_object()
            .unwrap()
            .keys()
            .collect::<Vec<_>>(),
        ["verdicts"]
    );
    let verdict = docs(&answer, "verdicts")[0];
    let start = Timestamp::parse(verdict["valid_time"]["start_time"].as_str().unwrap()).unwrap();
    let end = Timestamp::parse(verdict["valid_time"]["end_time"].as_str().unwrap()).unwrap();
    assert_eq!(
        end.to_offset_date_time() - start.to_offset_date_time(),
        time::Duration::days(30)
    );
    assert!(
        verdict["valid_time"]["start_time"]
            .as_str()
            .unwrap()
            .ends_with('Z')
    );
}

#[tokio::test]
async fn many_reports_with_repeated_and_null_categories() {
    let relay = Relay::start().await;
    let mut reports = Vec::new();
    for n in 0..150_u32 {
        let at = format!("2024-01-01T00:{:02}:{:02}+00:00", n / 60, n % 60);
        let categories = match n % 4 {
            0 => json!([18, 22, 18]),
            1 => json!([null, 0, 22]),
            2 => json!([]),
            _ => json!(null),
        };
        reports.push(report(&at, json!(format!("report {n}")), categories));
    }
    relay
        .standin
        .data("198.51.100.7", data(100, Some("example.net"), reports));
    let answer = relay.observe(&ips(&["198.51.100.7"])).await;
    assert!(answer.get("errors").is_none(), "{answer}");
    assert_valid_ctim(&answer);
    // The relay's default limit: the 100 newest of 150.
    let sightings = docs(&answer, "sightings");
    assert_eq!(sightings.len(), 100);
    assert_eq!(docs(&answer, "judgements").len(), 100);
    assert_eq!(sightings[0]["description"], "report 149");
    assert_eq!(sightings[99]["description"], "report 50");
    // Two categories, each indicator once.
    let indicators: Vec<&str> = docs(&answer, "indicators")
        .iter()
        .map(|i| i["title"].as_str().unwrap())
        .collect();
    assert_eq!(indicators, ["SSH", "Brute-Force"]);
    // One relationship per (sighting, distinct category): 25 × [18, 22] + 25 × [22].
    assert_eq!(docs(&answer, "relationships").len(), 75);
    let reasons: Vec<&str> = docs(&answer, "judgements")
        .iter()
        .take(4)
        .map(|j| j["reason"].as_str().unwrap())
        .collect();
    // Newest first: report 149 ([null, 0, 22]), 148 ([18, 22, 18]), 147 (null), 146 ([]).
    assert_eq!(reasons, ["SSH", "Brute-Force, SSH", "", ""]);
}

#[tokio::test]
async fn a_domain_gives_a_resolved_to_relation_and_none_gives_none() {
    let relay = Relay::start().await;
    let one = vec![report("2024-05-01T10:00:00+00:00", json!("x"), json!([14]))];
    relay
        .standin
        .data("192.0.2.1", data(50, Some("example.org"), one.clone()));
    relay.standin.data("192.0.2.2", data(50, None, one.clone()));
    relay.standin.data("192.0.2.3", data(50, Some(""), one));
    let answer = relay
        .observe(&ips(&["192.0.2.1", "192.0.2.2", "192.0.2.3"]))
        .await;
    let sightings = docs(&answer, "sightings");
    let page = format!("{}check/192.0.2.1", relay.standin.web_url());
    assert_eq!(
        sightings[0]["relations"],
        json!([{
            "origin": "AbuseIPDB Enrichment Module",
            "origin_uri": page,
            "relation": "Resolved_To",
            "source": {"type": "domain", "value": "example.org"},
            "related": {"type": "ip", "value": "192.0.2.1"},
        }])
    );
    assert!(sightings[1].get("relations").is_none(), "{}", sightings[1]);
    assert!(sightings[2].get("relations").is_none(), "{}", sightings[2]);
    // One indicator for the answer, three relationships to it.
    assert_eq!(docs(&answer, "indicators").len(), 1);
    assert_eq!(docs(&answer, "relationships").len(), 3);
}

#[tokio::test]
async fn unicode_and_very_long_comments_stay_valid_ctim() {
    let relay = Relay::start().await;
    let unicode = "SSH brute force — 攻撃 🚨 \"quoted\" <b>not html</b>\n\ttabs and \u{0} nul";
    let long = "Ж".repeat(20_000);
    relay.standin.data(
        "2001:db8::5",
        data(
            90,
            None,
            vec![
                report("2024-05-01T10:00:00Z", json!(unicode), json!([22])),
                report("2024-05-01T09:00:00Z", json!(long), json!([22])),
                report("2024-05-01T08:00:00Z", json!(null), json!([22])),
                report("2024-05-01T07:00:00Z", json!(""), json!([22])),
            ],
        ),
    );
    let body = json!([{"type": "ipv6", "value": "2001:db8::5"}]).to_string();
    let answer = relay.observe(&body).await;
    assert_valid_ctim(&answer);
    let sightings = docs(&answer, "sightings");
    assert_eq!(sightings[0]["description"], unicode);
    let cut = sightings[1]["description"].as_str().unwrap();
    assert_eq!(cut.chars().count(), 5000);
    assert!(cut.ends_with('…'));
    assert!(sightings[2].get("description").is_none());
    assert_eq!(sightings[3]["description"], "");
    assert_eq!(
        sightings[0]["observables"],
        json!([{"type": "ipv6", "value": "2001:db8::5"}])
    );
    // IPv6 is checked as IPv6.
    assert_eq!(relay.standin.checks()[0].ip, "2001:db8::5");
}

#[tokio::test]
async fn unknown_categories_and_any_offset_are_read_not_crashes() {
    let relay = Relay::start().await;
    relay.standin.data(
        "203.0.113.9",
        data(
            100,
            None,
            vec![
                report("2024-05-01T12:00:00+02:00", json!("a"), json!([99, 18])),
                report("2024-05-01T09:30:00.5Z", json!("b"), json!([5])),
                report("2024-05-01T05:00:00-05:00", json!("c"), json!([])),
                report("not a date", json!("dropped"), json!([18])),
            ],
        ),
    );
    let answer = relay.observe(&ips(&["203.0.113.9"])).await;
    assert!(answer.get("errors").is_none(), "{answer}");
    assert_valid_ctim(&answer);
    let observed: Vec<(&str, &str)> = docs(&answer, "sightings")
        .iter()
        .map(|s| {
            (
                s["description"].as_str().unwrap(),
                s["observed_time"]["start_time"].as_str().unwrap(),
            )
        })
        .collect();
    // Newest first by instant: a (+02:00, 10:00Z) and c (-05:00, 10:00Z) in AbuseIPDB's order,
    // then b (09:30:00.5Z); the report without a readable time is left out.
    assert_eq!(
        observed,
        [
            ("a", "2024-05-01T10:00:00.000Z"),
            ("c", "2024-05-01T10:00:00.000Z"),
            ("b", "2024-05-01T09:30:00.500Z"),
        ]
    );
    let titles: Vec<&str> = docs(&answer, "indicators")
        .iter()
        .map(|i| i["title"].as_str().unwrap())
        .collect();
    // 99 is on no page: a name of its own; 5 is not on the stand-in's page: the built-in title.
    assert_eq!(titles, ["Category 99", "Brute-Force", "FTP Brute-Force"]);
    let judgement = docs(&answer, "judgements")[0];
    assert_eq!(judgement["reason"], "Category 99, Brute-Force");
    assert_eq!(
        judgement["valid_time"]["start_time"],
        "2024-05-01T10:00:00.000Z"
    );
    assert_eq!(
        judgement["valid_time"]["end_time"],
        "2024-05-08T10:00:00.000Z"
    );
}

#[tokio::test]
async fn duplicates_and_unsupported_types_are_merged_and_ignored() {
    let relay = Relay::start().await;
    relay.standin.data("192.0.2.1", data(100, None, vec![]));
    relay.standin.data("2001:db8::1", data(0, None, vec![]));
    let body = json!([
        {"type": "ip", "value": "192.0.2.1"},
        {"type": "domain", "value": "example.com"},
        {"type": "ip", "value": "192.0.2.1"},
        {"type": "ipv6", "value": "2001:db8::1"},
        {"type": "sha256", "value": "ab"},
        {"type": "ip", "value": "not an address"},
        {"type": "ipv6", "value": "192.0.2.1"},
        {"type": "ipv6", "value": "2001:db8::1"},
        // Types in any case, as Cisco's relay takes them: one address once.
        {"type": "IP", "value": "192.0.2.1"},
        {"type": "IPv6", "value": "2001:db8::1"},
    ])
    .to_string();
    let answer = relay.deliberate(&body).await;
    assert_eq!(verdict_values(&answer), ["192.0.2.1", "2001:db8::1"]);
    // Answered with CTIM's type.
    for verdict in docs(&answer, "verdicts") {
        let kind = verdict["observable"]["type"].as_str().unwrap();
        assert!(kind == "ip" || kind == "ipv6", "{verdict}");
    }
    let asked: Vec<String> = relay.standin.checks().into_iter().map(|c| c.ip).collect();
    assert_eq!(asked.len(), 2, "{asked:?}");
    assert!(asked.contains(&"2001:db8::1".to_owned()));
    // Nothing supported: an empty answer and no call at all.
    relay.standin.reset_counts();
    let none = json!([{"type": "domain", "value": "example.com"}]).to_string();
    assert_eq!(relay.observe(&none).await, json!({"data": {}}));
    assert_eq!(relay.standin.checks().len(), 0);
    assert_eq!(relay.standin.page_reads(), 0);
}

#[tokio::test]
async fn refer_links_each_address_to_its_page_without_a_call() {
    let relay = Relay::start().await;
    let body = json!([
        {"type": "ip", "value": "192.0.2.1"},
        {"type": "ipv6", "value": "2001:db8::1"},
        {"type": "domain", "value": "example.com"},
    ])
    .to_string();
    let answer = relay.ok("/refer/observables", &token(), &body).await;
    let web = relay.standin.web_url();
    assert_eq!(
        answer,
        json!({"data": [
            {"id": "ref-abuseipdb-detail-ip-192.0.2.1", "title": "Search for this IP",
             "description": "Check this address's reports on AbuseIPDB",
             "url": format!("{web}check/192.0.2.1"), "categories": ["Search", "AbuseIPDB"]},
            {"id": "ref-abuseipdb-detail-ipv6-2001:db8::1", "title": "Search for this IPv6",
             "description": "Check this address's reports on AbuseIPDB",
             "url": format!("{web}check/2001:db8::1"), "categories": ["Search", "AbuseIPDB"]},
        ]})
    );
    assert!(relay.standin.checks().is_empty());
}

#[test]
fn the_built_in_categories_are_abuseipdbs_published_titles() {
    let titles = data_file("category_titles.json");
    let table = xdr_relay_abuseipdb::categories::CategoryTable::builtin();
    let titles = titles.as_object().unwrap();
    assert_eq!(titles.len(), table.len());
    for (id, title) in titles {
        assert_eq!(
            table.get(id.parse().unwrap()).title,
            title.as_str().unwrap()
        );
    }
}

#[test]
fn the_module_type_is_ciscos_with_refer() {
    let info = xdr_relay_abuseipdb::info();
    let module = serde_json::to_value(xdr_relay_core::module_type(
        &info,
        "https://relay.example.com",
        xdr_relay_core::ModuleAuth::Jwks {
            jwks_host: "visibility.amp.cisco.com",
        },
    ))
    .unwrap();
    let keys: Vec<&str> = testkit::json::field(&module["configuration_spec"], "key");
    assert_eq!(keys, ["custom_key", "custom_CTR_ENTITIES_LIMIT"]);
    assert_eq!(module["configuration_spec"][0]["type"], "api_key");
    assert_eq!(module["configuration_spec"][0]["label"], "API Key");
    assert_eq!(module["configuration_spec"][0]["required"], true);
    let capabilities: Vec<&str> = testkit::json::field(&module["capabilities"], "id");
    for id in ["deliberate", "observe", "refer", "health"] {
        assert!(capabilities.contains(&id), "{capabilities:?}");
    }
    assert_eq!(module["title"], "AbuseIPDB");
}
