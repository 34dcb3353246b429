//! What CTIM rejects, we reject: at reading (serde), in our schemas, or in `validate()`.

use ctim_model::{Docs, Judgement, ProblemKind, Sighting, Timestamp, ValidTime};
use serde_json::{Value, json};

use crate::support::{oracle_errors, our_errors, read_json, roundtrip};

fn judgement() -> Value {
    read_json("examples/judgement-maximal.json")
}

/// `value` as a judgement: serde must reject it, and so must our schema and (when
/// `oracle_rejects`) Cisco's. Returns serde's message.
fn rejected(value: &Value, oracle_rejects: bool) -> String {
    let error = roundtrip("judgement", value).expect_err("serde accepted it");
    assert!(
        !our_errors("judgement", value).is_empty(),
        "our schema accepted {value}"
    );
    assert_eq!(
        !oracle_errors("Judgement", value).is_empty(),
        oracle_rejects,
        "oracle on {value}"
    );
    error
}

fn problems(judgement: &Judgement) -> Vec<ProblemKind> {
    judgement
        .validate()
        .err()
        .map(|p| p.into_vec().into_iter().map(|p| p.kind).collect())
        .unwrap_or_default()
}

#[test]
fn missing_required_field() {
    for field in [
        "id",
        "source",
        "observable",
        "priority",
        "confidence",
        "severity",
        "valid_time",
        "disposition",
        "disposition_name",
        "schema_version",
        "type",
    ] {
        let mut value = judgement();
        value.as_object_mut().unwrap().remove(field);
        let error = rejected(&value, true);
        assert!(error.contains("missing field"), "{field}: {error}");
    }
}

#[test]
fn mismatched_disposition_pair() {
    let mut value = judgement();
    value["disposition"] = json!(2);
    // Both halves are in CTIM's vocabularies, so schemas cannot see the disagreement;
    // reading does.
    let error = roundtrip("judgement", &value).unwrap_err();
    assert!(
        error.contains(r#"disposition 2 is "Malicious", but disposition_name is "Clean""#),
        "{error}"
    );
    value["disposition"] = json!(6);
    let error = rejected(&value, true);
    assert!(error.contains("not one of 1..=5"), "{error}");
    let mut verdict = read_json("examples/verdict-maximal.json");
    verdict["disposition_name"] = json!("Suspicious");
    assert!(roundtrip("verdict", &verdict).is_err());
}

#[test]
fn tlp_outside_the_vocabulary() {
    for tlp in ["TLP:RED", "RED", "clear"] {
        let mut value = judgement();
        value["tlp"] = json!(tlp);
        let error = rejected(&value, true);
        assert!(error.contains("unknown variant"), "{tlp}: {error}");
    }
}

#[test]
fn unknown_observable_type_in_strict_mode() {
    let mut value = judgement();
    value["observable"]["type"] = json!("ja3_fingerprint");
    let error = rejected(&value, true);
    assert!(
        error.contains(r#"unknown observable type "ja3_fingerprint""#),
        "{error}"
    );
}

#[test]
fn unknown_field() {
    let mut value = judgement();
    value["colour"] = json!("red");
    let error = rejected(&value, true);
    assert!(error.contains("unknown field `colour`"), "{error}");
    // `created` is a field CTIA adds to stored entities; CTIM (and so this crate) has no such
    // field, though the oracle allows it.
    let mut stored = judgement();
    stored["created"] = json!("2016-02-11T00:40:48.212Z");
    assert!(roundtrip("judgement", &stored).is_err());
    let mut nested = judgement();
    nested["valid_time"]["duration"] = json!(7);
    let error = rejected(&nested, true);
    assert!(error.contains("unknown field `duration`"), "{error}");
}

#[test]
fn null_is_not_an_absent_field() {
    let mut value = judgement();
    value["reason"] = Value::Null;
    assert!(!our_errors("judgement", &value).is_empty());
    assert!(!oracle_errors("Judgement", &value).is_empty());
}

#[test]
fn priority_above_100() {
    let mut value = judgement();
    value["priority"] = json!(101);
    // CTIM's priority is 0..=100; the oracle only says "integer".
    assert!(!our_errors("judgement", &value).is_empty());
    let read: Judgement = serde_json::from_value(value).unwrap();
    assert_eq!(problems(&read), vec![ProblemKind::PriorityOutOfRange(101)]);
}

#[test]
fn end_before_start() {
    let later = Timestamp::parse("2024-01-02T00:00:00Z").unwrap();
    let earlier = Timestamp::parse("2024-01-01T00:00:00Z").unwrap();
    let mut read: Judgement = serde_json::from_value(judgement()).unwrap();
    read.valid_time = ValidTime::between(later, earlier);
    assert_eq!(problems(&read), vec![ProblemKind::EndBeforeStart]);

    let mut sighting: Sighting =
        serde_json::from_value(read_json("examples/sighting-maximal.json")).unwrap();
    sighting.observed_time.end_time = Some(Timestamp::parse("2000-01-01T00:00:00Z").unwrap());
    let found = sighting.validate().unwrap_err().into_vec();
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0].field, "observed_time");
    assert_eq!(found[0].kind, ProblemKind::EndBeforeStart);
}

#[test]
fn validate_reports_every_problem() {
    let mut read: Judgement = serde_json::from_value(judgement()).unwrap();
    read.id = ctim_model::Id::transient("sighting");
    read.priority = 200;
    read.reason = Some("x".repeat(1025).into());
    read.valid_time = ValidTime::between(
        Timestamp::now(),
        Timestamp::parse("2000-01-01T00:00:00Z").unwrap(),
    );
    let found = read.validate().unwrap_err();
    let fields: Vec<&str> = found.as_slice().iter().map(|p| p.field.as_str()).collect();
    assert_eq!(
        fields,
        ["id", "priority", "valid_time", "reason"],
        "{found}"
    );
    assert!(
        found
            .to_string()
            .starts_with("4 CTIM problem(s): id: names a sighting"),
        "{found}"
    );
}

#[test]
fn validate_checks_ids_and_kill_chains() {
    let mut indicator: ctim_model::Indicator =
        serde_json::from_value(read_json("examples/indicator-maximal.json")).unwrap();
    assert!(indicator.validate().is_ok(), "{:?}", indicator.validate());
    indicator.id = ctim_model::Id::new("string");
    indicator.kill_chain_phases = vec![
        ctim_model::KillChainPhase::lockheed_martin("delivery"),
        ctim_model::KillChainPhase::lockheed_martin("persistence"),
        ctim_model::KillChainPhase::new("kc", "Command and Control"),
    ];
    let kinds: Vec<ProblemKind> = indicator
        .validate()
        .unwrap_err()
        .into_vec()
        .into_iter()
        .map(|p| p.kind)
        .collect();
    assert_eq!(kinds.len(), 3, "{kinds:?}");
    assert_eq!(kinds[0], ProblemKind::InvalidId);
    assert!(matches!(kinds[1], ProblemKind::KillChainPhase(why) if why.contains("lockheed")));
    assert!(matches!(kinds[2], ProblemKind::KillChainPhase(why) if why.contains("lowercase")));
}

#[test]
fn docs_count_must_match() {
    assert!(serde_json::from_value::<Docs<Judgement>>(json!({"count": 1, "docs": []})).is_err());
    assert!(serde_json::from_value::<Docs<Judgement>>(json!({"docs": []})).is_err());
    let empty: Docs<Judgement> = serde_json::from_value(json!({"count": 0, "docs": []})).unwrap();
    assert!(empty.is_empty());
}
