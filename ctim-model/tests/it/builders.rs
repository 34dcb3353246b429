//! The entity builders (issue 42): what they build validates (ours and the oracle's) whatever
//! text an upstream sent, their defaults are what their documentation says, and the helpers
//! around them (`Verdict::from_judgement`, `ValidTime::from_now`, `ObservedRelation::new`,
//! `Bound`) give what CTIM expects.

use ctim_model::{
    Bound, ColumnDefinition, ColumnType, Confidence, Disposition, ExternalReference, Id, Indicator,
    Judgement, Observable, ObservableType, ObservedRelation, ObservedRelationType, ObservedTime,
    ProblemKind, Severity, Sighting, SightingDataTable, Timestamp, Tlp, ValidTime, Verdict,
};
use proptest::prelude::*;
use serde::Serialize;
use serde_json::{Value, json};
use time::Duration;

use crate::support::{oracle_errors, our_errors};

fn ip() -> Observable {
    Observable::new(ObservableType::Ip, "192.0.2.1")
}

/// The reason the InternetDB relay wrote: 399 CVEs, 6,000-odd characters.
fn cve_reason() -> String {
    let cves: Vec<String> = (1..=399).map(|n| format!("CVE-2024-{n:05}")).collect();
    format!("Vulnerable to {}", cves.join(", "))
}

/// `entity` as JSON, after checking that ours and the oracle's schemas accept it.
fn accepted<T: Serialize>(kind: &str, entity: &T) -> Value {
    let json = serde_json::to_value(entity).unwrap();
    assert_eq!(our_errors(kind, &json), Vec::<String>::new(), "our {kind}");
    let mut name = kind.to_owned();
    name[..1].make_ascii_uppercase();
    assert_eq!(
        oracle_errors(&name, &json),
        Vec::<String>::new(),
        "oracle {kind}"
    );
    json
}

#[test]
fn a_399_cve_reason_validates_after_the_builder() {
    let reason = cve_reason();
    assert!(reason.chars().count() > 6000);

    // By hand, as the author first wrote it: CTIM's 1,024-character bound is broken.
    let mut by_hand = Judgement::new(
        Id::transient("judgement"),
        ip(),
        Disposition::Suspicious,
        "Shodan InternetDB",
        Confidence::High,
        Severity::Medium,
        90,
        ValidTime::from_now(Duration::days(7)),
    );
    by_hand.reason = Some(reason.clone().into());
    let problems = by_hand.validate().unwrap_err().into_vec();
    assert_eq!(problems.len(), 1);
    assert_eq!(problems[0].field, "reason");
    assert!(matches!(
        problems[0].kind,
        ProblemKind::TooLong { max: 1024, .. }
    ));

    let built = Judgement::builder(ip(), Disposition::Suspicious, "Shodan InternetDB")
        .confidence(Confidence::High)
        .severity(Severity::Medium)
        .valid_time(ValidTime::from_now(Duration::days(7)))
        .reason(reason.clone())
        .build();
    assert_eq!(built.validate(), Ok(()));
    let written = built.reason.as_deref().unwrap();
    assert_eq!(written.chars().count(), 1024);
    let kept = written.strip_suffix('…').unwrap();
    assert!(reason.starts_with(kept));
    assert_eq!(kept.chars().count(), 1023);
    let json = accepted("judgement", &built);
    assert_eq!(
        json["reason"].as_str().map(str::len),
        Some(kept.len() + '…'.len_utf8())
    );
}

#[test]
fn every_text_a_builder_sets_is_clipped_to_its_bound() {
    // Multi-byte, so a cut on bytes would break a character or miscount.
    let huge = || "é".repeat(6000);
    let mut reference = ExternalReference::new(huge());
    reference.description = Some(huge().into());

    let judgement = Judgement::builder(ip(), Disposition::Malicious, huge())
        .reason(huge())
        .language(huge())
        .external_reference(reference.clone())
        .build();
    assert_eq!(judgement.validate(), Ok(()));
    assert_eq!(judgement.source.chars().count(), 2048);
    assert_eq!(judgement.language.as_deref().unwrap().chars().count(), 1024);
    let written = &judgement.external_references[0];
    assert_eq!(written.source_name.chars().count(), 2048);
    assert_eq!(
        written.description.as_deref().unwrap().chars().count(),
        5000
    );
    accepted("judgement", &judgement);

    let mut column = ColumnDefinition::new("banner", ColumnType::String);
    column.description = Some(huge().into());
    let sighting = Sighting::builder(ObservedTime::now())
        .observable(ip())
        .source(huge())
        .title(huge())
        .description(huge())
        .short_description(huge())
        .language(huge())
        .external_reference(reference.clone())
        .data(SightingDataTable::new(vec![column], vec![vec![json!("x")]]))
        .build();
    assert_eq!(sighting.validate(), Ok(()));
    let counts = [
        &sighting.source,
        &sighting.title,
        &sighting.description,
        &sighting.short_description,
        &sighting.language,
    ]
    .map(|text| text.as_deref().unwrap().chars().count());
    assert_eq!(counts, [2048, 1024, 5000, 2048, 1024]);
    let column = &sighting.data.as_ref().unwrap().columns[0];
    assert_eq!(column.description.as_deref().unwrap().chars().count(), 5000);
    accepted("sighting", &sighting);

    let indicator = Indicator::builder(huge())
        .title(huge())
        .short_description(huge())
        .description(huge())
        .likely_impact(huge())
        .source(huge())
        .tag(huge())
        .test_mechanism(huge())
        .language(huge())
        .external_reference(reference)
        .build();
    assert_eq!(indicator.validate(), Ok(()));
    let counts = [
        indicator.producer.chars().count(),
        indicator.title.as_deref().unwrap().chars().count(),
        indicator
            .short_description
            .as_deref()
            .unwrap()
            .chars()
            .count(),
        indicator.description.as_deref().unwrap().chars().count(),
        indicator.likely_impact.as_deref().unwrap().chars().count(),
        indicator.source.as_deref().unwrap().chars().count(),
        indicator.tags[0].chars().count(),
        indicator.test_mechanisms[0].chars().count(),
    ];
    assert_eq!(counts, [1024, 1024, 2048, 5000, 5000, 2048, 1024, 2048]);
    accepted("indicator", &indicator);
}

#[test]
fn builders_default_to_what_they_document() {
    let judgement = Judgement::builder(ip(), Disposition::Clean, "Feed").build();
    let json = serde_json::to_value(&judgement).unwrap();
    assert!(judgement.id.is_valid());
    assert_eq!(judgement.id.kind(), Some("judgement"));
    assert_eq!(json["confidence"], "Unknown");
    assert_eq!(json["severity"], "Unknown");
    assert_eq!(json["priority"], 90);
    assert_eq!(json["valid_time"], json!({}));
    assert_eq!(json["source"], "Feed");
    assert_eq!(json["disposition_name"], "Clean");
    for absent in ["reason", "reason_uri", "source_uri", "tlp", "external_ids"] {
        assert!(json.get(absent).is_none(), "{absent}");
    }
    let other = Judgement::builder(ip(), Disposition::Clean, "Feed").build();
    assert_ne!(judgement.id, other.id, "each judgement gets a fresh id");

    let at = Timestamp::parse("2024-05-01T12:00:00Z").unwrap();
    let sighting = Sighting::builder(ObservedTime::at(at)).build();
    let json = serde_json::to_value(&sighting).unwrap();
    assert_eq!(sighting.id.kind(), Some("sighting"));
    assert_eq!(json["count"], 1);
    assert_eq!(json["confidence"], "Unknown");
    assert_eq!(json["internal"], false);
    assert_eq!(
        json["observed_time"]["start_time"],
        "2024-05-01T12:00:00.000Z"
    );
    assert!(json.get("observables").is_none());
    accepted("sighting", &sighting);

    let indicator = Indicator::builder("Feed").build();
    assert_eq!(indicator.id.kind(), Some("indicator"));
    assert_eq!(indicator.valid_time, ValidTime::default());
    accepted("indicator", &indicator);
}

#[test]
fn setters_write_the_fields_they_name() {
    let stable = Id::transient_from_name("judgement", "x");
    let valid = ValidTime::from_now(Duration::days(1));
    let judgement = Judgement::builder(ip(), Disposition::Malicious, "Feed")
        .id(stable.clone())
        .confidence(Confidence::High)
        .severity(Severity::Critical)
        .priority(101)
        .valid_time(valid)
        .reason("listed")
        .reason_uri("https://example.com/why")
        .source_uri("https://example.com/ip")
        .external_id("one")
        .external_id("two")
        .timestamp(Timestamp::parse("2024-05-01T12:00:00Z").unwrap())
        .tlp(Tlp::Amber)
        .build();
    let json = accepted("judgement", &judgement);
    assert_eq!(judgement.id, stable);
    assert_eq!(json["confidence"], "High");
    assert_eq!(json["severity"], "Critical");
    assert_eq!(json["priority"], 100, "clamped to CTIM's range");
    assert_eq!(judgement.valid_time, valid);
    assert_eq!(json["reason"], "listed");
    assert_eq!(json["reason_uri"], "https://example.com/why");
    assert_eq!(json["source_uri"], "https://example.com/ip");
    assert_eq!(json["external_ids"], json!(["one", "two"]));
    assert_eq!(json["timestamp"], "2024-05-01T12:00:00.000Z");
    assert_eq!(json["tlp"], "amber");

    let domain = Observable::new(ObservableType::Domain, "example.com");
    let sighting = Sighting::builder(ObservedTime::now())
        .count(3)
        .confidence(Confidence::Low)
        .severity(Severity::High)
        .observables([ip(), domain.clone()])
        .observable(ip())
        .internal(true)
        .source_uri("https://example.com/ip")
        .relation(ObservedRelation::new(
            "Feed",
            domain,
            ObservedRelationType::ResolvedTo,
            ip(),
        ))
        .tlp(Tlp::Green)
        .build();
    let json = accepted("sighting", &sighting);
    assert_eq!(json["count"], 3);
    assert_eq!(json["confidence"], "Low");
    assert_eq!(json["severity"], "High");
    assert_eq!(json["observables"].as_array().map(Vec::len), Some(3));
    assert_eq!(json["internal"], true);
    assert_eq!(json["relations"][0]["relation"], "Resolved_To");
    assert_eq!(json["relations"][0]["origin"], "Feed");
    assert_eq!(json["tlp"], "green");
}

#[test]
fn a_verdict_from_a_judgement_carries_its_id_and_satisfies_the_oracle() {
    let judgement = Judgement::builder(ip(), Disposition::Suspicious, "Feed")
        .valid_time(ValidTime::from_now(Duration::days(30)))
        .build();
    let verdict = Verdict::from_judgement(&judgement);
    let json = accepted("verdict", &verdict);
    assert_eq!(json["type"], "verdict");
    assert_eq!(json["disposition"], 3);
    assert_eq!(json["disposition_name"], "Suspicious");
    assert_eq!(json["judgement_id"], judgement.id.as_str());
    assert_eq!(
        json["observable"],
        json!({"type": "ip", "value": "192.0.2.1"})
    );
    assert_eq!(
        json["valid_time"],
        serde_json::to_value(judgement.valid_time).unwrap()
    );
}

#[test]
fn validity_from_now_lasts_its_duration_and_never_runs_backwards() {
    let before = Timestamp::now_ms();
    let day = ValidTime::from_now(Duration::days(1));
    let after = Timestamp::now_ms();
    let (start, end) = (day.start_time.unwrap(), day.end_time.unwrap());
    assert!(before <= start && start <= after);
    assert_eq!(
        end.to_offset_date_time() - start.to_offset_date_time(),
        Duration::days(1)
    );

    let at = Timestamp::parse("2024-05-01T12:00:00Z").unwrap();
    let backwards = ValidTime::starting(at, Duration::seconds(-5));
    assert_eq!(backwards, ValidTime::between(at, at));
    let judgement = Judgement::builder(ip(), Disposition::Clean, "Feed")
        .valid_time(backwards)
        .build();
    assert_eq!(judgement.validate(), Ok(()));
    // Far future: clamped to what `time` represents, not an overflow.
    let forever = ValidTime::starting(at, Duration::MAX);
    assert!(forever.end_time.unwrap() > at);

    let now = ObservedTime::now();
    assert_eq!(Some(now.start_time), now.end_time);
}

#[test]
fn an_observed_relation_reads_back_strictly_in_a_sighting() {
    let info = json!({"port": 443}).as_object().cloned().unwrap();
    let relation = ObservedRelation::new(
        "Feed",
        Observable::new(ObservableType::Domain, "example.com"),
        ObservedRelationType::ResolvedTo,
        ip(),
    )
    .with_origin_uri("https://example.com/dns")
    .with_relation_info(info.clone());
    assert_eq!(relation.origin, "Feed");
    assert_eq!(
        relation.origin_uri.as_deref(),
        Some("https://example.com/dns")
    );
    assert_eq!(relation.relation_info, Some(info));
    let sighting = Sighting::builder(ObservedTime::now())
        .relation(relation.clone())
        .build();
    let json = accepted("sighting", &sighting);
    let back: Sighting = ctim_model::from_str(&json.to_string()).unwrap();
    assert_eq!(back.relations, vec![relation]);
}

#[test]
fn a_data_table_counts_its_rows() {
    let mut table = SightingDataTable::new(
        vec![ColumnDefinition::new("port", ColumnType::Integer)],
        vec![vec![json!(22)], vec![json!(80)]],
    );
    assert_eq!(table.row_count, Some(2));
    table.row_count = Some(7);
    let sighting = Sighting::builder(ObservedTime::now()).data(table).build();
    assert_eq!(sighting.data.as_ref().unwrap().row_count, Some(2));
    assert_eq!(sighting.validate(), Ok(()));
    accepted("sighting", &sighting);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// Any text, of any length and script, comes out of a builder within its bound, as a
    /// prefix of what went in, and the entity validates.
    #[test]
    fn any_text_through_a_builder_validates(text in "\\PC{0,1100}", times in 1usize..6) {
        let text = text.repeat(times);
        let judgement = Judgement::builder(ip(), Disposition::Unknown, text.clone())
            .reason(text.clone())
            .build();
        prop_assert_eq!(judgement.validate(), Ok(()));
        let reason = judgement.reason.as_deref().unwrap();
        prop_assert!(Bound::Short.fits(reason));
        let fits = Bound::Short.fits(&text);
        prop_assert_eq!(fits, reason == text);
        if !fits {
            prop_assert!(text.starts_with(reason.strip_suffix('…').unwrap()));
            prop_assert_eq!(reason.chars().count(), 1024);
        }
        let sighting = Sighting::builder(ObservedTime::now())
            .title(text.clone())
            .description(text)
            .build();
        prop_assert_eq!(sighting.validate(), Ok(()));
    }
}
