//! The CTIM of Cisco's OTX relay: its unit test's pulse and indicators (every observable type
//! the relay observes), the calls it makes as Cisco's makes them, the pulses kept by type and
//! by the limit, the observable found on any page, TLPs, texts and times.

use serde_json::{Value, json};

use crate::support::*;

/// The observables of Cisco's unit test, each with its day of `created` in the pulse.
const CISCO: [(&str, &str, &str, &str); 7] = [
    (
        "domain",
        "domain",
        "jsebnawkndwandawd.sh",
        "1970-01-01T00:00:00",
    ),
    (
        "md5",
        "FileHash-MD5",
        "d8414d743778cae103c15461200ec64d",
        "1970-01-02T00:00:00",
    ),
    (
        "sha1",
        "FileHash-SHA1",
        "4f79d1a01b9b5cb3cb65a9911db2a02ea3bb7c45",
        "1970-01-03T00:00:00",
    ),
    (
        "sha256",
        "FileHash-SHA256",
        "efdd3ee0f816eba8ab1cba3643e42b40aaa16654d5120c67169d1b002e7f714d",
        "1970-01-04T00:00:00",
    ),
    ("ip", "IPv4", "99.85.80.169", "1970-01-05T00:00:00"),
    (
        "ipv6",
        "IPv6",
        "2001:14ba:1f00:0:1117:e76e:843d:f803",
        "1970-01-06T00:00:00",
    ),
    (
        "url",
        "URL",
        "http://blockchains.pk/nw_NIHbAj35.bin",
        "1970-01-07T00:00:00",
    ),
];

/// Cisco's pulse, holding its seven indicators; the address ones expire a day later.
fn ciscos_pulse() -> Pulse {
    let mut pulse = Pulse::new("q1w2e3r4t5y6");
    pulse.name = "Best Pulse Ever".into();
    pulse.description = json!("This is simply the best pulse in the history of humankind!");
    pulse.tags = vec!["open".into(), "threat".into(), "exchange".into()];
    for (_, kind, value, created) in CISCO {
        pulse = pulse.with(kind, value, created);
    }
    for indicator in &mut pulse.indicators {
        if indicator.kind.starts_with("IPv") {
            let day: u32 = indicator.created[8..10].parse().unwrap();
            indicator.expiration = Some(format!("1970-01-{:02}T00:00:00", day + 1));
        }
    }
    pulse
}

#[tokio::test]
async fn every_type_is_mapped_as_ciscos_relay_maps_it() {
    let relay = Relay::start().await;
    relay.standin.pulse(ciscos_pulse());
    let mut pairs: Vec<(&str, &str)> = CISCO.iter().map(|(t, _, v, _)| (*t, *v)).collect();
    pairs.push(("email", "someone@example.com"));
    pairs.push(("hostname", "jsebnawkndwandawd.sh"));
    let answer = relay.observe(&observables(&pairs)).await;
    assert!(answer.get("errors").is_none(), "{answer}");
    let web = relay.standin.web_url();
    let source_uri = format!("{web}pulse/q1w2e3r4t5y6");
    let indicator_id = "transient:indicator-8aaf75fe-7be6-57c4-89b7-39bd717e84f6";
    let sightings = docs(&answer, "sightings");
    let indicators = docs(&answer, "indicators");
    let relationships = docs(&answer, "relationships");
    assert_eq!(
        (sightings.len(), indicators.len(), relationships.len()),
        (7, 7, 7)
    );
    let version = xdr_relay_core::ctim_model::CTIM_SCHEMA_VERSION;
    for (n, (kind, _, value, _)) in CISCO.iter().enumerate() {
        let day = n + 1;
        let at = format!("1970-01-{day:02}T00:00:00.000Z");
        let mut sighting = sightings[n].clone();
        let id = sighting["id"].as_str().unwrap().to_owned();
        assert!(id.starts_with("transient:sighting-"), "{id}");
        sighting.as_object_mut().unwrap().remove("id");
        assert_eq!(
            sighting,
            json!({
                "type": "sighting",
                "schema_version": version,
                "confidence": "High",
                "count": 1,
                "internal": false,
                "source": "AlienVault OTX",
                "title": "Best Pulse Ever",
                "description": "This is simply the best pulse in the history of humankind!",
                "external_ids": ["q1w2e3r4t5y6"],
                "observables": [{"type": kind, "value": value}],
                "observed_time": {"start_time": at, "end_time": at},
                "source_uri": source_uri,
                "tlp": "white",
            })
        );
        let mut valid_time = json!({"start_time": at});
        if kind.starts_with("ip") {
            valid_time["end_time"] = json!(format!("1970-01-{:02}T00:00:00.000Z", day + 1));
        }
        assert_eq!(
            indicators[n].clone(),
            json!({
                "id": indicator_id,
                "type": "indicator",
                "schema_version": version,
                "confidence": "High",
                "source": "AlienVault OTX",
                "producer": "JoriQ",
                "valid_time": valid_time,
                "external_ids": ["q1w2e3r4t5y6"],
                "short_description": "This is simply the best pulse in the history of humankind!",
                "source_uri": source_uri,
                "tags": ["open", "threat", "exchange"],
                "title": "Best Pulse Ever",
                "tlp": "white",
            })
        );
        let relationship = relationships[n];
        assert_eq!(relationship["relationship_type"], "member-of");
        assert_eq!(relationship["source_ref"], id.as_str());
        assert_eq!(relationship["target_ref"], indicator_id);
    }

    // The calls: one `general` per observable in Cisco's sections, its value quoted as
    // Cisco's, then the pulse's first page, newest first; the key and the relay's agent.
    let mut generals = relay.standin.generals();
    generals.sort();
    let mut expected = vec![
        "IPv4/99.85.80.169/general".to_owned(),
        "IPv6/2001:14ba:1f00:0:1117:e76e:843d:f803/general".to_owned(),
        "domain/jsebnawkndwandawd.sh/general".to_owned(),
        "file/4f79d1a01b9b5cb3cb65a9911db2a02ea3bb7c45/general".to_owned(),
        "file/d8414d743778cae103c15461200ec64d/general".to_owned(),
        "file/efdd3ee0f816eba8ab1cba3643e42b40aaa16654d5120c67169d1b002e7f714d/general".to_owned(),
        "url/http:%2F%2Fblockchains.pk%2Fnw_NIHbAj35.bin/general".to_owned(),
    ];
    expected.sort();
    assert_eq!(generals, expected);
    assert_eq!(relay.standin.pages_of("q1w2e3r4t5y6"), [1; 7]);
    for call in relay.standin.calls() {
        assert_eq!(call.key.as_deref(), Some(API_KEY));
        assert!(call.user_agent.unwrap().starts_with("otx-relay/"));
        if call.path.contains("/pulses/") {
            assert_eq!(call.query["sort"], "-created");
            assert_eq!(call.query["limit"], "10000");
        }
    }
}

#[tokio::test]
async fn pulses_are_kept_by_type_and_the_newest_within_the_limit() {
    let relay = Relay::start().await;
    const DOMAIN: &str = "evil.example";
    // Listed as a hostname only: OTX's general answer names the pulse, the relay leaves it.
    relay.standin.pulse(Pulse::new("hostname-only").with(
        "hostname",
        DOMAIN,
        "2021-01-01T00:00:00",
    ));
    for (id, created) in [
        ("p1", "2020-01-01T00:00:00"),
        ("p2", "2020-03-01T00:00:00.123456"),
        ("p3", "2020-02-01T00:00:00+01:00"),
        ("p4", "2020-02-01T00:00:00Z"),
        ("p5", "2019-01-01T00:00:00"),
    ] {
        relay
            .standin
            .pulse(Pulse::new(id).with("domain", DOMAIN, created));
    }
    let body = observables(&[("domain", DOMAIN)]);
    let answer = relay.observe(&body).await;
    assert_eq!(sighted(&answer), ["p2", "p4", "p3", "p1", "p5"]);
    assert!(relay.standin.pages_of("hostname-only").is_empty());
    // A token's limit applies to its request alone, whatever the others ask meanwhile.
    let two = token_with(API_KEY, Some(2));
    let three = token_with(API_KEY, Some(3));
    let (a, b, c) = futures::join!(
        relay.ok("/observe/observables", &two, &body),
        relay.ok("/observe/observables", &three, &body),
        relay.ok("/observe/observables", &two, &body),
    );
    assert_eq!(sighted(&a), ["p2", "p4"]);
    assert_eq!(sighted(&b), ["p2", "p4", "p3"]);
    assert_eq!(sighted(&c), ["p2", "p4"]);
    assert_eq!(docs(&b, "indicators").len(), 3);
    assert_eq!(docs(&b, "relationships").len(), 3);
}

#[tokio::test]
async fn the_observable_is_found_on_any_page_and_duplicates_cost_one_lookup() {
    let relay = Relay::start().await;
    // Pages of 2: the domain is the fifth indicator, on page 3.
    let mut deep =
        Pulse::new("deep")
            .filler(4)
            .with("domain", "deep.example", "2020-05-05T05:05:05");
    deep.page_size = 2;
    deep = deep.filler(3);
    relay.standin.pulse(deep);
    let body = observables(&[
        ("domain", "deep.example"),
        ("domain", "DEEP.example"),
        ("domain", "deep.example"),
    ]);
    let answer = relay.observe(&body).await;
    assert_eq!(sighted_values(&answer), ["deep.example", "DEEP.example"]);
    assert_eq!(relay.standin.pages_of("deep"), [1, 2, 3]);
    assert_eq!(relay.standin.generals(), ["domain/deep.example/general"]);
}

#[tokio::test]
async fn tlps_texts_and_times_are_read_as_they_come() {
    let relay = Relay::start().await;
    let long = "Ω".repeat(6000);
    for (id, tlp) in [
        ("t-white", "white"),
        ("t-green", "GREEN"),
        ("t-amber", "amber"),
        ("t-red", "red"),
        ("t-odd", "purple"),
    ] {
        let mut pulse = Pulse::new(id).with("IPv4", "192.0.2.7", "2020-01-01T00:00:00");
        pulse.tlp = tlp.into();
        relay.standin.pulse(pulse);
    }
    let mut nothing =
        Pulse::new("no-description").with("IPv4", "192.0.2.7", "2020-01-01T00:00:00+02:00");
    nothing.description = Value::Null;
    nothing.indicators[0].expiration = Some("2020-02-01T00:00:00.5Z".into());
    relay.standin.pulse(nothing);
    let mut unicode = Pulse::new("unicode").with("IPv4", "192.0.2.7", "1999-12-31T23:59:59");
    unicode.name = "Ünïcödé pulse — 東京".into();
    unicode.description = json!(long);
    unicode.tags = vec!["t".repeat(3000)];
    relay.standin.pulse(unicode);

    let answer = relay.observe(&observables(&[("ip", "192.0.2.7")])).await;
    let sightings = docs(&answer, "sightings");
    let by_id = |id: &str| {
        *sightings
            .iter()
            .find(|s| s["external_ids"][0] == id)
            .unwrap_or_else(|| panic!("no sighting of {id}: {answer}"))
    };
    for (id, tlp) in [
        ("t-white", json!("white")),
        ("t-green", json!("green")),
        ("t-amber", json!("amber")),
        ("t-red", json!("red")),
        ("t-odd", Value::Null),
    ] {
        assert_eq!(by_id(id)["tlp"], tlp, "{id}");
    }
    let none = by_id("no-description");
    assert_eq!(none["description"], "");
    assert_eq!(
        none["observed_time"]["start_time"],
        "2019-12-31T22:00:00.000Z"
    );
    let indicators = docs(&answer, "indicators");
    let indicator = |id: &str| {
        *indicators
            .iter()
            .find(|i| i["external_ids"][0] == id)
            .unwrap()
    };
    assert_eq!(
        indicator("no-description")["valid_time"],
        json!({"start_time": "2019-12-31T22:00:00.000Z", "end_time": "2020-02-01T00:00:00.500Z"})
    );
    assert_eq!(indicator("no-description")["short_description"], "");
    let unicode = by_id("unicode");
    assert_eq!(unicode["title"], "Ünïcödé pulse — 東京");
    let description = unicode["description"].as_str().unwrap();
    assert_eq!(description.chars().count(), 5000);
    assert!(description.starts_with("ΩΩΩ") && description.ends_with('…'));
    assert_eq!(
        indicator("unicode")["short_description"]
            .as_str()
            .unwrap()
            .chars()
            .count(),
        2048
    );
    assert_eq!(
        indicator("unicode")["tags"][0]
            .as_str()
            .unwrap()
            .chars()
            .count(),
        1024
    );
    // Newest first, by the instant each time names.
    assert_eq!(sighted(&answer).last().map(String::as_str), Some("unicode"));
}

#[tokio::test]
async fn refer_links_every_type_as_ciscos_relay_does() {
    let relay = Relay::start().await;
    let body = observables(&[
        ("ip", "192.0.2.1"),
        ("ipv6", "2001:db8::1"),
        ("domain", "bücher.example"),
        ("url", "http://a.example/p q?x=1&y=2#frag"),
        ("email", "user@mail.example"),
        ("md5", "d8414d743778cae103c15461200ec64d"),
        ("sha1", "4f79d1a01b9b5cb3cb65a9911db2a02ea3bb7c45"),
        (
            "sha256",
            "efdd3ee0f816eba8ab1cba3643e42b40aaa16654d5120c67169d1b002e7f714d",
        ),
        ("hostname", "ignored.example"),
    ]);
    let answer = relay.ok("/refer/observables", &token(), &body).await;
    let web = relay.standin.web_url();
    let links = answer["data"].as_array().unwrap();
    let got: Vec<(&str, &str, &str)> = links
        .iter()
        .map(|l| {
            (
                l["id"].as_str().unwrap(),
                l["title"].as_str().unwrap(),
                l["url"].as_str().unwrap(),
            )
        })
        .collect();
    let expected = [
        (
            "ref-avotx-search-ip-192.0.2.1",
            "Search for this IP",
            format!("{web}indicator/ip/192.0.2.1"),
        ),
        (
            "ref-avotx-search-ipv6-2001%3Adb8%3A%3A1",
            "Search for this IPv6",
            format!("{web}indicator/ip/2001:db8::1"),
        ),
        (
            "ref-avotx-search-domain-b%C3%BCcher.example",
            "Search for this domain",
            format!("{web}indicator/domain/b%C3%BCcher.example"),
        ),
        (
            "ref-avotx-search-url-http%3A%2F%2Fa.example%2Fp%20q%3Fx%3D1%26y%3D2%23frag",
            "Search for this URL",
            format!("{web}indicator/url/http:%2F%2Fa.example%2Fp%20q%3Fx%3D1%26y%3D2%23frag"),
        ),
        (
            "ref-avotx-search-email-user%40mail.example",
            "Search for this email",
            format!("{web}indicator/email/user@mail.example"),
        ),
        (
            "ref-avotx-search-md5-d8414d743778cae103c15461200ec64d",
            "Search for this MD5",
            format!("{web}indicator/file/d8414d743778cae103c15461200ec64d"),
        ),
        (
            "ref-avotx-search-sha1-4f79d1a01b9b5cb3cb65a9911db2a02ea3bb7c45",
            "Search for this SHA1",
            format!("{web}indicator/file/4f79d1a01b9b5cb3cb65a9911db2a02ea3bb7c45"),
        ),
        (
            "ref-avotx-search-sha256-efdd3ee0f816eba8ab1cba3643e42b40aaa16654d5120c67169d1b002e7f714d",
            "Search for this SHA256",
            format!(
                "{web}indicator/file/efdd3ee0f816eba8ab1cba3643e42b40aaa16654d5120c67169d1b002e7f714d"
            ),
        ),
    ];
    assert_eq!(got.len(), expected.len(), "{answer}");
    for (got, (id, title, url)) in got.iter().zip(&expected) {
        assert_eq!(got, &(*id, *title, url.as_str()));
    }
    assert_eq!(
        links[4]["description"],
        "Lookup this email on AlienVault OTX"
    );
    assert_eq!(links[4]["categories"], json!(["Search", "AlienVault OTX"]));
    assert!(relay.standin.calls().is_empty());
}

#[tokio::test]
async fn values_that_need_quoting_are_quoted_never_sent_raw() {
    let relay = Relay::start().await;
    let url = "http://a.example/p q?x=1&y=2#frag";
    relay
        .standin
        .pulse(Pulse::new("quoted").with("URL", url, "2020-01-01T00:00:00"));
    let body = observables(&[
        ("url", url),
        ("domain", "bücher.example"),
        ("domain", ".."),
        ("url", "../../user/me"),
    ]);
    let answer = relay.observe(&body).await;
    assert!(answer.get("errors").is_none(), "{answer}");
    assert_eq!(sighted(&answer), ["quoted"]);
    let mut generals = relay.standin.generals();
    generals.sort();
    assert_eq!(
        generals,
        [
            "domain/b%C3%BCcher.example/general",
            "url/..%2F..%2Fuser%2Fme/general",
            "url/http:%2F%2Fa.example%2Fp%20q%3Fx%3D1%26y%3D2%23frag/general",
        ]
    );
    assert!(
        relay
            .standin
            .calls()
            .iter()
            .all(|c| !c.path.ends_with("/user/me"))
    );
}
