//! The mapping rules on richer upstream answers: several IPs, every list kind,
//! visibility and sensitivity, the entities limit, shared lists.

use serde_json::{Value, json};

use crate::common::*;
use crate::oracle::assert_valid_ctim;

/// Two IPs: A on a badip list and every kind of domain list, B on the same badip list.
async fn two_ips() -> Relay {
    let relay = Relay::start().await;
    relay
        .report(
            "192.0.2.1",
            Report {
                score: -3,
                badip: (-1, &["IPLIST"]),
                baddomain: (-2, [&["HOSTLIST"], &["MXLIST"], &["NSLIST"]]),
                history: -1,
            }
            .json(),
        )
        .await;
    relay
        .report(
            "2001:db8::7",
            Report {
                score: -1,
                badip: (-1, &["IPLIST"]),
                baddomain: (0, [&[], &[], &[]]),
                history: 0,
            }
            .json(),
        )
        .await;
    relay
        .list("badip", "IPLIST", metadata("IPLIST", "Public", "1"))
        .await;
    relay
        .list(
            "baddomain",
            "HOSTLIST",
            metadata("HOSTLIST", "Private", "5"),
        )
        .await;
    relay
        .list("baddomain", "MXLIST", metadata("MXLIST", "public", "10"))
        .await;
    relay
        .list("baddomain", "NSLIST", metadata("NSLIST", "Partner", "7"))
        .await;
    relay
}

fn strings<'a>(docs: &'a [Value], field: &str) -> Vec<&'a str> {
    docs.iter()
        .map(|d| d[field].as_str().unwrap_or("?"))
        .collect()
}

#[tokio::test]
async fn several_ips_every_list_kind() {
    let relay = two_ips().await;
    let body = ips(&["192.0.2.1", "2001:db8::7"]);
    let (status, body) = relay.post("/observe/observables", &body).await;
    assert_eq!(status, 200);
    assert!(body.get("errors").is_none(), "{body:#}");

    let verdicts = docs(&body, "verdicts");
    assert_eq!(
        verdicts
            .iter()
            .map(|v| (
                &v["observable"]["value"],
                &v["disposition"],
                &v["disposition_name"]
            ))
            .collect::<Vec<_>>(),
        [
            (&json!("192.0.2.1"), &json!(2), &json!("Malicious")),
            (&json!("2001:db8::7"), &json!(3), &json!("Suspicious")),
        ]
    );

    // Judgements in the order baddomain, badip, history, per IP in request order.
    let judgements = docs(&body, "judgements");
    assert_eq!(
        judgements
            .iter()
            .map(|j| (
                j["observable"]["value"].as_str().unwrap_or("?"),
                j["reason"].as_str().unwrap_or("?")
            ))
            .collect::<Vec<_>>(),
        [
            ("192.0.2.1", "Associated hostname found on blocklist"),
            ("192.0.2.1", "IP found on blocklist"),
            ("192.0.2.1", "IP found on blocklist in recent past"),
            ("2001:db8::7", "IP found on blocklist"),
        ]
    );
    for j in judgements {
        assert_eq!(j["disposition"], 3);
        assert_eq!(j["source"], "Auth0 Signals Report");
        assert_eq!(j["confidence"], "High");
        assert_eq!(j["severity"], "Medium");
        assert_eq!(j["priority"], 90);
        assert_eq!(
            j["source_uri"],
            format!(
                "https://auth0.com/signals/ip/{}-report",
                j["observable"]["value"].as_str().unwrap_or("?")
            )
        );
    }

    // Sightings: badip lists, then blacklist, blacklist_mx, blacklist_ns.
    let sightings = docs(&body, "sightings");
    assert_eq!(
        strings(sightings, "source"),
        [
            "IPLIST publisher",
            "HOSTLIST publisher",
            "MXLIST publisher",
            "NSLIST publisher",
            "IPLIST publisher",
        ]
    );
    // Visibility `Public` (any case) is white, anything else amber.
    assert_eq!(
        strings(sightings, "tlp"),
        ["white", "amber", "white", "amber", "white"]
    );
    // Sensitivity 1 High, 5 Medium, 10 Info, anything else Unknown.
    assert_eq!(
        strings(sightings, "severity"),
        ["High", "Medium", "Info", "Unknown", "High"]
    );
    assert_eq!(sightings[0]["source_uri"], "https://iplist.example");
    assert_eq!(
        sightings[4]["observables"],
        json!([{"type": "ip", "value": "2001:db8::7"}])
    );
    for s in sightings {
        assert_eq!(s["count"], 1);
        assert_eq!(s["confidence"], "High");
        assert_eq!(s["description"], "Found on blocklist");
    }

    // One indicator per list, however many IPs are on it.
    let indicators = docs(&body, "indicators");
    assert_eq!(
        strings(indicators, "title"),
        ["IPLIST", "HOSTLIST", "MXLIST", "NSLIST"]
    );
    let iplist = &indicators[0];
    assert_eq!(iplist["producer"], "IPLIST publisher");
    assert_eq!(iplist["short_description"], "Feed: IPLIST");
    assert_eq!(iplist["description"], "The IPLIST list.");
    assert_eq!(iplist["tags"], json!(["spam", "abuse"]));
    assert_eq!(iplist["valid_time"], json!({}));
    let expected_id = format!(
        "transient:indicator-{}",
        uuid::Uuid::new_v5(&uuid::Uuid::NAMESPACE_X500, b"IPLIST")
    );
    assert_eq!(iplist["id"], expected_id);

    // A member-of relationship per sighting, to its list's indicator.
    let relationships = docs(&body, "relationships");
    assert_eq!(relationships.len(), sightings.len());
    for (r, s) in relationships.iter().zip(sightings) {
        assert_eq!(r["relationship_type"], "member-of");
        assert_eq!(r["source_ref"], s["id"]);
        let target = indicators
            .iter()
            .find(|i| i["id"] == r["target_ref"])
            .expect("relationship to a returned indicator");
        assert_eq!(target["producer"], s["source"]);
    }

    assert_eq!(assert_valid_ctim(&body), 2 + 4 + 5 + 4 + 5);

    // The shared list was fetched once.
    assert_eq!(relay.calls_to("/metadata/badip/lists/IPLIST").await, 1);
    assert_eq!(relay.upstream_paths().await.len(), 2 + 4);
}

#[tokio::test]
async fn deliberate_gives_verdicts_only() {
    let relay = two_ips().await;
    let (_, body) = relay
        .post(
            "/deliberate/observables",
            &ips(&["192.0.2.1", "2001:db8::7"]),
        )
        .await;
    let data = body["data"].as_object().expect("data");
    assert_eq!(data.keys().collect::<Vec<_>>(), ["verdicts"]);
    assert_eq!(
        strings(docs(&body, "verdicts"), "disposition_name"),
        ["Malicious", "Suspicious"]
    );
    assert_eq!(assert_valid_ctim(&body), 2);
    assert!(
        relay
            .upstream_paths()
            .await
            .iter()
            .all(|p| p.starts_with("/v2.0/ip/"))
    );
}

#[tokio::test]
async fn scores_give_dispositions() {
    let relay = Relay::start().await;
    let cases = [
        ("192.0.2.10", json!(5), 5),
        ("192.0.2.11", json!(0), 5),
        ("192.0.2.12", json!(-1), 3),
        ("192.0.2.13", json!(-2), 3),
        ("192.0.2.14", json!(-3), 2),
        ("192.0.2.15", json!(-7), 2),
        ("192.0.2.16", json!(null), 5),
    ];
    for (ip, score, _) in &cases {
        let mut report = clean();
        report["score"] = score.clone();
        relay.report(ip, report).await;
    }
    let values: Vec<&str> = cases.iter().map(|(ip, ..)| *ip).collect();
    let (_, body) = relay.post("/observe/observables", &ips(&values)).await;
    let got: Vec<(String, i64)> = docs(&body, "verdicts")
        .iter()
        .map(|v| {
            (
                v["observable"]["value"].as_str().unwrap_or("?").to_owned(),
                v["disposition"].as_i64().unwrap_or(0),
            )
        })
        .collect();
    let expected: Vec<(String, i64)> = cases
        .iter()
        .map(|(ip, _, d)| ((*ip).to_owned(), *d))
        .collect();
    assert_eq!(got, expected);
    // Clean reports: verdicts only, no judgement, no sighting.
    assert_eq!(body["data"].as_object().expect("data").len(), 1, "{body:#}");
    assert_valid_ctim(&body);
}

/// An IP on `n` badip lists, LIST0 … LIST<n-1>, each with its metadata.
async fn ip_on_lists(relay: &Relay, ip: &str, n: usize) {
    let names: Vec<String> = (0..n).map(|i| format!("LIST{i}")).collect();
    let refs: Vec<&str> = names.iter().map(String::as_str).collect();
    let report = Report {
        score: -1,
        badip: (-1, &refs),
        baddomain: (0, [&[], &[], &[]]),
        history: 0,
    };
    relay.report(ip, report.json()).await;
    for name in &names {
        relay
            .list("badip", name, metadata(name, "Public", "1"))
            .await;
    }
}

#[tokio::test]
async fn the_configured_entities_limit_applies_per_observable() {
    let relay = Relay::start_with(|c| c.entities_limit = 2).await;
    ip_on_lists(&relay, "192.0.2.1", 4).await;
    let (_, body) = relay
        .post("/observe/observables", &ips(&["192.0.2.1"]))
        .await;
    assert_eq!(docs(&body, "sightings").len(), 2);
    assert_eq!(
        strings(docs(&body, "indicators"), "title"),
        ["LIST0", "LIST1"]
    );
    assert_eq!(docs(&body, "relationships").len(), 2);
    // Lists beyond the limit are not even looked up.
    let metadata_calls = relay
        .upstream_paths()
        .await
        .into_iter()
        .filter(|p| p.starts_with("/metadata/"))
        .count();
    assert_eq!(metadata_calls, 2);
}

#[tokio::test]
async fn the_tokens_entities_limit_overrides_the_configured_one() {
    let relay = Relay::start_with(|c| c.entities_limit = 2).await;
    ip_on_lists(&relay, "192.0.2.1", 5).await;
    let body = ips(&["192.0.2.1"]);
    for (limit, expected) in [(Some(3), 3), (Some(1), 1), (Some(50), 5), (None, 2)] {
        let token = token_for(API_KEY, limit);
        let (_, answer) = relay
            .send("POST", "/observe/observables", Some(&token), &body)
            .await;
        assert_eq!(docs(&answer, "sightings").len(), expected, "{limit:?}");
    }
}

#[tokio::test]
async fn the_default_entities_limit_is_100() {
    let relay = Relay::start().await;
    ip_on_lists(&relay, "192.0.2.1", 101).await;
    let (_, body) = relay
        .post("/observe/observables", &ips(&["192.0.2.1"]))
        .await;
    assert_eq!(docs(&body, "sightings").len(), 100);
    assert_eq!(docs(&body, "indicators").len(), 100);
}

#[tokio::test]
async fn minimal_metadata_still_gives_valid_ctim() {
    // Only `name` is required of the upstream; everything emitted must stay valid CTIM.
    let relay = Relay::start().await;
    relay
        .report(
            "192.0.2.1",
            Report {
                score: -1,
                badip: (-1, &["BARE"]),
                baddomain: (0, [&[], &[], &[]]),
                history: 0,
            }
            .json(),
        )
        .await;
    relay
        .list("badip", "BARE", json!({"name": "Bare list"}))
        .await;
    let (_, body) = relay
        .post("/observe/observables", &ips(&["192.0.2.1"]))
        .await;
    assert_eq!(docs(&body, "sightings").len(), 1);
    assert_eq!(docs(&body, "sightings")[0]["tlp"], "amber");
    assert_eq!(docs(&body, "sightings")[0]["severity"], "Unknown");
    assert_eq!(
        docs(&body, "indicators")[0]["short_description"],
        "Feed: Bare list"
    );
    assert_valid_ctim(&body);
}
