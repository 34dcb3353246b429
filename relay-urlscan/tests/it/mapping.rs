//! The CTIM the relay answers, checked against Cisco's own fixtures and expected answer, and
//! for each observable type, clean and malicious scans, the entity limit, IPv6 pages, odd and
//! missing fields and unicode.

use std::collections::HashMap;

use serde_json::{Value, json};
use xdr_relay_core::ctim_model::Timestamp;

use crate::support::*;

fn data_file(name: &str) -> Value {
    let path = format!("{}/tests/data/{name}", env!("CARGO_MANIFEST_DIR"));
    serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap()
}

/// `value` with every `«…»` placeholder string replaced from `names`.
fn fill(value: &mut Value, names: &HashMap<String, String>) {
    match value {
        Value::String(s) if s.starts_with('«') => {
            *s = names
                .get(s.as_str())
                .cloned()
                .unwrap_or_else(|| panic!("no {s}"));
        }
        Value::Array(items) => items.iter_mut().for_each(|v| fill(v, names)),
        Value::Object(map) => map.values_mut().for_each(|v| fill(v, names)),
        _ => {}
    }
}

/// `value` without `schema_version` (Cisco's relay writes 1.0.17, this one its CTIM's) and
/// with every time as the instant it names, to the millisecond (Cisco's relay writes
/// microseconds).
fn normalised(value: &mut Value) {
    match value {
        Value::Array(items) => items.iter_mut().for_each(normalised),
        Value::Object(map) => {
            map.remove("schema_version");
            for (name, v) in map.iter_mut() {
                if name.ends_with("_time")
                    && let Some(text) = v.as_str()
                {
                    *v = json!(Timestamp::parse(text).unwrap().to_string());
                } else {
                    normalised(v);
                }
            }
        }
        _ => {}
    }
}

#[tokio::test]
async fn ciscos_fixtures_answer_ciscos_expected_ctim() {
    let relay = Relay::start().await;
    // The file's bytes, not a JSON tree (which would sort the statistics' keys).
    let path = format!(
        "{}/tests/data/cisco_search.json",
        env!("CARGO_MANIFEST_DIR")
    );
    let search = std::fs::read(path).unwrap();
    relay.standin.search_reply(
        &ip_query("1.1.1.1"),
        Reply::raw(200, "application/json", search),
    );
    for (n, id) in [
        (1, "13cde17f-a7f5-4e27-8a56-5e81bc086a37"),
        (2, "14afd7c3-aee5-4906-acde-9a706ce5bb40"),
    ] {
        relay
            .standin
            .result(id, &data_file(&format!("cisco_result_{n}.json")));
    }
    let mut answer = relay.observe(&observables("ip", &["1.1.1.1"])).await;
    assert!(answer.get("errors").is_none(), "{answer}");

    let mut expected = data_file("cisco_observe_expected.json");
    let mut names = HashMap::new();
    for (kind, prefix) in [("sightings", "s"), ("indicators", "ind")] {
        for (i, doc) in docs(&answer, kind).iter().enumerate() {
            names.insert(
                format!("«{prefix}{}»", i + 1),
                doc["id"].as_str().unwrap().to_owned(),
            );
        }
    }
    // Cisco's ids: uuid5 of the category in the X.500 namespace.
    assert_eq!(
        names["«ind1»"],
        "transient:indicator-66b19d24-938b-516d-8bc3-0f5fbd4bad0c"
    );
    assert_eq!(
        names["«ind2»"],
        "transient:indicator-344f10f2-89cc-5bbb-9176-726345d25538"
    );
    for kind in ["judgements", "relationships"] {
        let docs = answer["data"][kind]["docs"].as_array_mut().unwrap();
        for doc in docs {
            let id = doc["id"].as_str().unwrap();
            assert!(id.starts_with(&format!("transient:{}-", &kind[..kind.len() - 1])));
            doc["id"] = json!(if kind == "judgements" {
                "«j»"
            } else {
                "«r»"
            });
        }
    }
    names.insert("«j»".into(), "«j»".into());
    names.insert("«r»".into(), "«r»".into());
    fill(&mut expected, &names);
    // The sightings' source_uri are under the relay's URLSCAN_WEB_URL (the stand-in's).
    for sighting in answer["data"]["sightings"]["docs"].as_array_mut().unwrap() {
        let uri = sighting["source_uri"].as_str().unwrap();
        let id = uri
            .strip_prefix(&format!("{}result/", relay.standin.web_url()))
            .unwrap();
        sighting["source_uri"] = json!(format!("https://urlscan.io/result/{id}"));
    }
    normalised(&mut answer);
    normalised(&mut expected);
    assert_eq!(answer, expected);
}

#[tokio::test]
async fn each_type_is_searched_as_ciscos_relay_searches_it() {
    let relay = Relay::start().await;
    let v6 = "2606:4700:3036::6818:62bd";
    let url = "https://gasimanai.ml/zanku/a.php";
    let page = page("gasimanai.ml", url, v6);
    for query in [ip_query(v6), domain_query("gasimanai.ml"), url_query(url)] {
        let id = format!("scan-{}", query.len());
        relay.standin.search(
            &query,
            vec![hit(&id, "2020-04-26T21:49:49.012Z", page.clone())],
        );
    }
    let body = json!([
        {"type": "ipv6", "value": v6},
        {"type": "domain", "value": "gasimanai.ml"},
        {"type": "URL", "value": url},
        {"type": "sha256", "value": "a".repeat(64)},
    ])
    .to_string();
    let answer = relay.observe(&body).await;
    let sightings = docs(&answer, "sightings");
    let observed: Vec<&Value> = sightings.iter().map(|s| &s["observables"][0]).collect();
    assert_eq!(
        observed,
        [
            &json!({"type": "ipv6", "value": v6}),
            &json!({"type": "domain", "value": "gasimanai.ml"}),
            &json!({"type": "url", "value": url}),
        ]
    );
    // The page's IPv6 address is typed ipv6 in the relations.
    assert_eq!(
        sightings[0]["relations"],
        json!([
            {"origin": "urlscan.io Module", "relation": "Contains",
             "source": {"type": "url", "value": url}, "related": {"type": "domain", "value": "gasimanai.ml"}},
            {"origin": "urlscan.io Module", "relation": "Resolved_To",
             "source": {"type": "domain", "value": "gasimanai.ml"}, "related": {"type": "ipv6", "value": v6}},
            {"origin": "urlscan.io Module", "relation": "Hosted_By",
             "source": {"type": "url", "value": url}, "related": {"type": "ipv6", "value": v6}},
        ])
    );
    let searches: Vec<String> = relay
        .standin
        .searches()
        .into_iter()
        .map(|s| s.what)
        .collect();
    assert_eq!(searches.len(), 3);
    for query in [ip_query(v6), domain_query("gasimanai.ml"), url_query(url)] {
        assert!(searches.contains(&query), "{query} in {searches:?}");
    }
    // No verdicts, and no judgement for a scan without a result (still running).
    assert!(answer["data"].get("verdicts").is_none(), "{answer}");
    assert!(docs(&answer, "judgements").is_empty());
    assert_eq!(errors(&answer).len(), 3, "{answer}");
}

#[tokio::test]
async fn a_clean_scan_is_a_sighting_alone_and_a_malicious_one_is_judged() {
    let relay = Relay::start().await;
    let query = domain_query("shop.example");
    let url = "https://shop.example/";
    let page = page("shop.example", url, "192.0.2.10");
    relay.standin.search(
        &query,
        vec![
            hit("clean", "2024-05-02T10:00:00.000Z", page.clone()),
            hit("bad", "2024-05-01T10:00:00.000Z", page.clone()),
        ],
    );
    let clean =
        relay
            .standin
            .result_body("clean", "2024-05-02T10:00:00.000Z", url, false, &[], &[]);
    relay.standin.result("clean", &clean);
    let bad = relay.standin.result_body(
        "bad",
        "2024-05-01T10:00:00.000Z",
        url,
        true,
        &["phishing", "malware"],
        &["phishing", "brand-x"],
    );
    relay.standin.result("bad", &bad);
    let answer = relay
        .observe(&observables("domain", &["shop.example"]))
        .await;
    assert!(answer.get("errors").is_none(), "{answer}");
    let sightings = docs(&answer, "sightings");
    assert_eq!(sightings.len(), 2);
    assert_eq!(sightings[0]["external_ids"], json!(["clean"]));
    let web = relay.standin.web_url();
    assert_eq!(
        sightings[1]["source_uri"],
        json!(format!("{web}result/bad"))
    );
    let judgements = docs(&answer, "judgements");
    assert_eq!(judgements.len(), 1);
    let judgement = judgements[0];
    assert_eq!(judgement["reason"], "phishing, brand-x");
    assert_eq!(judgement["source_uri"], json!(format!("{web}result/bad/")));
    assert_eq!(
        judgement["valid_time"],
        json!({"start_time": "2024-05-01T10:00:00.000Z", "end_time": "2024-05-08T10:00:00.000Z"})
    );
    let references: Vec<&str> = judgement["external_references"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["description"].as_str().unwrap())
        .collect();
    assert_eq!(references, ["domURL", "screenshotURL", "reportURL"]);
    let indicators = docs(&answer, "indicators");
    let titles: Vec<&Value> = indicators.iter().map(|i| &i["title"]).collect();
    assert_eq!(titles, [&json!("phishing"), &json!("malware")]);
    assert_eq!(indicators[0]["description"], "Classified as phishing");
    assert_eq!(indicators[0]["tags"], json!(["phishing", "brand-x"]));
    assert_eq!(indicators[0]["producer"], "urlscan.io");
    assert_eq!(indicators[0]["valid_time"], json!({}));
    let relationships = docs(&answer, "relationships");
    assert_eq!(relationships.len(), 2);
    for (relationship, indicator) in relationships.iter().zip(&indicators) {
        assert_eq!(relationship["relationship_type"], "indicates");
        assert_eq!(relationship["source_ref"], indicator["id"]);
        assert_eq!(relationship["target_ref"], sightings[1]["id"]);
    }
}

#[tokio::test]
async fn the_newest_scans_up_to_the_tokens_limit_are_kept_and_only_they_read() {
    let relay = Relay::start().await;
    let query = ip_query("192.0.2.20");
    // Out of order; one time without milliseconds; one in another offset.
    let times = [
        ("s1", "2024-01-01T00:00:00.000Z"),
        ("s5", "2024-01-05T00:00:00Z"),
        ("s3", "2024-01-03T00:00:00.000Z"),
        ("s4", "2024-01-04T01:00:00+01:00"),
        ("s2", "2024-01-02T00:00:00.000Z"),
    ];
    let page = page("a.example", "https://a.example/", "192.0.2.20");
    let hits = times
        .iter()
        .map(|(id, t)| hit(id, t, page.clone()))
        .collect();
    relay.standin.search(&query, hits);
    for (id, time) in times {
        let result =
            relay
                .standin
                .result_body(id, time, "https://a.example/", true, &["phishing"], &[id]);
        relay.standin.result(id, &result);
    }
    // Eight concurrent requests with different limits each get their own.
    let body = observables("ip", &["192.0.2.20"]);
    let answers = futures::future::join_all((1..=8).map(|limit| {
        let token = token_with(API_KEY, Some(limit));
        let body = body.clone();
        let relay = &relay;
        async move { (limit, relay.ok("/observe/observables", &token, &body).await) }
    }))
    .await;
    for (limit, answer) in answers {
        let ids: Vec<&str> = docs(&answer, "sightings")
            .iter()
            .map(|s| s["external_ids"][0].as_str().unwrap())
            .collect();
        let expected = &["s5", "s4", "s3", "s2", "s1"][..usize::try_from(limit).unwrap().min(5)];
        assert_eq!(ids, expected, "limit {limit}");
        // The indicator's tags are the newest malicious scan's.
        assert_eq!(docs(&answer, "indicators")[0]["tags"], json!(["s5"]));
        assert_eq!(docs(&answer, "indicators").len(), 1);
        assert_eq!(docs(&answer, "relationships").len(), ids.len());
    }
    // Every scan read at most once (the result cache), and with a limit of 2 only two.
    let relay = Relay::start().await;
    relay.standin.search(
        &query,
        times
            .iter()
            .map(|(id, t)| hit(id, t, page.clone()))
            .collect(),
    );
    relay
        .ok("/observe/observables", &token_with(API_KEY, Some(2)), &body)
        .await;
    let read: Vec<String> = relay
        .standin
        .result_reads()
        .into_iter()
        .map(|s| s.what)
        .collect();
    assert_eq!(read.len(), 2, "{read:?}");
    assert!(read.contains(&"s5".to_owned()) && read.contains(&"s4".to_owned()));
}

#[tokio::test]
async fn a_scan_found_under_several_observables_is_read_once() {
    let relay = Relay::start().await;
    let url = "https://evil.example/login.php";
    let page = page("evil.example", url, "192.0.2.66");
    let scan = hit("shared", "2024-02-02T02:02:02.000Z", page.clone());
    for query in [
        ip_query("192.0.2.66"),
        domain_query("evil.example"),
        url_query(url),
    ] {
        relay.standin.search(&query, vec![scan.clone()]);
    }
    let result = relay.standin.result_body(
        "shared",
        "2024-02-02T02:02:02.000Z",
        url,
        true,
        &["phishing"],
        &["phishing"],
    );
    relay.standin.result("shared", &result);
    let body = json!([
        {"type": "ip", "value": "192.0.2.66"},
        {"type": "domain", "value": "evil.example"},
        {"type": "url", "value": url},
    ])
    .to_string();
    let answer = relay.observe(&body).await;
    assert_eq!(relay.standin.result_reads_of("shared"), 1);
    assert_eq!(docs(&answer, "sightings").len(), 3);
    assert_eq!(docs(&answer, "judgements").len(), 3);
    // One indicator per observable, as Cisco's relay writes them (the same id).
    let indicators = docs(&answer, "indicators");
    assert_eq!(indicators.len(), 3);
    assert!(indicators.iter().all(|i| i["id"] == indicators[0]["id"]));
    assert_eq!(docs(&answer, "relationships").len(), 3);
}

#[tokio::test]
async fn missing_and_odd_fields_yield_what_the_scan_has() {
    let relay = Relay::start().await;
    let query = ip_query("192.0.2.30");
    let odd = vec![
        // No page, no stats.
        json!({"_id": "no-page", "task": {"time": "2024-03-01T00:00:00Z"}}),
        // A page.ip that is not an address; a time without milliseconds.
        json!({"_id": "bad-ip", "task": {"time": "2024-03-02T00:00:00Z"},
               "page": {"ip": "not-an-address", "domain": "b.example", "url": "https://b.example/"},
               "stats": {"requests": 3}}),
        // No _id: a sighting without a link, nothing to read.
        json!({"task": {"time": "2024-03-03T00:00:00.5Z"}, "page": {"domain": "c.example"}}),
        // No task.time: no sighting, its result still read.
        json!({"_id": "no-time", "page": {"domain": "d.example"}}),
        // Not a scan at all.
        json!("garbage"),
        json!(null),
    ];
    relay
        .standin
        .search_reply(&query, Reply::json(200, &json!({ "results": odd })));
    // A malicious result without reportURL or a time of its own.
    relay.standin.result(
        "bad-ip",
        &json!({"task": {}, "verdicts": {"overall": {"malicious": true, "categories": ["phishing"], "tags": []}}}),
    );
    relay.standin.result(
        "no-time",
        &json!({"task": {"time": "2024-03-04T00:00:00Z"}, "verdicts": {"overall": {"malicious": true, "categories": ["malware"], "tags": ["x"]}}}),
    );
    relay.standin.result_reply(
        "no-page",
        Reply::raw(200, "text/html", "<html>maintenance</html>"),
    );
    let answer = relay.observe(&observables("ip", &["192.0.2.30"])).await;
    let sightings = docs(&answer, "sightings");
    let ids: Vec<&Value> = sightings.iter().map(|s| &s["external_ids"]).collect();
    // Newest first: the scan without an id, bad-ip, no-page; no-time has no sighting.
    assert_eq!(ids, [&json!(null), &json!(["bad-ip"]), &json!(["no-page"])]);
    let by_id = |id: &str| {
        sightings
            .iter()
            .find(|s| s["external_ids"][0] == id)
            .unwrap()
    };
    assert!(by_id("no-page").get("relations").is_none());
    assert!(by_id("no-page").get("data").is_none());
    assert_eq!(
        by_id("bad-ip")["relations"],
        json!([{"origin": "urlscan.io Module", "relation": "Contains",
                "source": {"type": "url", "value": "https://b.example/"},
                "related": {"type": "domain", "value": "b.example"}}])
    );
    assert_eq!(
        by_id("bad-ip")["data"],
        json!({"columns": [{"name": "requests", "type": "integer"}], "rows": [[3]]})
    );
    let judgements = docs(&answer, "judgements");
    assert_eq!(judgements.len(), 2);
    // The result without a time takes the search's; without reportURL, no source_uri.
    let bad_ip = judgements.iter().find(|j| j["reason"] == "").unwrap();
    assert_eq!(
        bad_ip["valid_time"]["start_time"],
        "2024-03-02T00:00:00.000Z"
    );
    assert!(bad_ip.get("source_uri").is_none());
    // The scan without a time has a judgement and an indicator but no sighting to indicate.
    assert_eq!(docs(&answer, "indicators").len(), 2);
    assert_eq!(docs(&answer, "relationships").len(), 1);
    // The result that could not be read is the one error.
    let errors = errors(&answer);
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert_eq!(errors[0].0, "unknown");
    assert!(
        errors[0]
            .1
            .starts_with("urlscan.io sent an answer that could not be read")
    );
}

#[tokio::test]
async fn unicode_values_are_searched_and_written_as_sent() {
    let relay = Relay::start().await;
    let domain = "bücher.例え.jp";
    let url = "https://bücher.例え.jp/ключ?q=\"x\"";
    for query in [
        domain_query(domain),
        "page.url.keyword:\"https://bücher.例え.jp/ключ?q=\\\"x\\\"\"".to_owned(),
    ] {
        relay.standin.search(
            &query,
            vec![hit(
                "u1",
                "2024-04-04T04:04:04.000Z",
                page(domain, url, "192.0.2.40"),
            )],
        );
    }
    let body =
        json!([{"type": "domain", "value": domain}, {"type": "url", "value": url}]).to_string();
    let answer = relay.observe(&body).await;
    let sightings = docs(&answer, "sightings");
    assert_eq!(sightings.len(), 2, "{answer}");
    assert_eq!(sightings[0]["observables"][0]["value"], domain);
    assert_eq!(sightings[1]["observables"][0]["value"], url);
    assert_eq!(sightings[0]["relations"][0]["source"]["value"], url);
    let refer = relay.ok("/refer/observables", &token(), &body).await;
    let urls: Vec<&str> = refer["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["url"].as_str().unwrap())
        .collect();
    let web = relay.standin.web_url();
    assert_eq!(
        urls,
        [
            format!("{web}domain/b%C3%BCcher.%E4%BE%8B%E3%81%88.jp"),
            format!("{web}search/#domain:b%C3%BCcher.%E4%BE%8B%E3%81%88.jp"),
            format!(
                "{web}search/#%22https://b%C3%BCcher.%E4%BE%8B%E3%81%88.jp/%D0%BA%D0%BB%D1%8E%D1%87?q=%22x%22%22"
            ),
        ]
    );
}

#[tokio::test]
async fn refer_links_come_for_observables_with_scans_without_reading_results() {
    let relay = Relay::start().await;
    relay.malicious(
        &ip_query("1.1.1.1"),
        "r1",
        "2024-01-01T00:00:00.000Z",
        &["phishing"],
    );
    let body = json!([
        {"type": "ip", "value": "1.1.1.1"},
        {"type": "ip", "value": "192.0.2.99"},
    ])
    .to_string();
    let answer = relay.ok("/refer/observables", &token(), &body).await;
    let web = relay.standin.web_url();
    assert_eq!(
        answer,
        json!({"data": [
            {"id": "ref-urlscan-browse-ip-1.1.1.1", "title": "Browse ip",
             "description": "Check this ip status with urlscan.io",
             "url": format!("{web}ip/1.1.1.1"), "categories": ["Browse", "urlscan.io"]},
            {"id": "ref-urlscan-search-ip-1.1.1.1", "title": "Search for this ip",
             "description": "Check this ip status with urlscan.io",
             "url": format!("{web}search/#ip:%221.1.1.1%22"), "categories": ["Search", "urlscan.io"]},
        ]})
    );
    assert_eq!(relay.standin.searches().len(), 2);
    assert!(relay.standin.result_reads().is_empty());
    // Nothing found for any: no links.
    let none = relay
        .ok(
            "/refer/observables",
            &token(),
            &observables("ip", &["192.0.2.98"]),
        )
        .await;
    assert_eq!(none, json!({"data": []}));
}

#[tokio::test]
async fn deliberate_answers_no_verdicts_without_a_call() {
    let relay = Relay::start().await;
    let answer = relay
        .ok(
            "/deliberate/observables",
            &token(),
            &observables("ip", &["1.1.1.1"]),
        )
        .await;
    assert_eq!(answer, json!({"data": {}}));
    assert!(relay.standin.searches().is_empty());
}
