//! The CTIM oracle: Cisco's own JSON Schema of the entities an enrich module returns.

use std::sync::OnceLock;

use serde_json::{Value, json};

const SCHEMA: &str = "ctim/oracle/iroh-enrich-ctim-subset.schema.json";

fn validator(entity: &str) -> jsonschema::Validator {
    let oracle = testkit::testdata::json(SCHEMA);
    let schema = json!({
        "$ref": format!("#/definitions/{entity}"),
        "definitions": oracle["definitions"],
    });
    jsonschema::draft4::new(&schema).unwrap_or_else(|e| panic!("oracle {entity}: {e}"))
}

struct Validators {
    verdict: jsonschema::Validator,
    judgement: jsonschema::Validator,
    sighting: jsonschema::Validator,
    indicator: jsonschema::Validator,
    relationship: jsonschema::Validator,
}

fn validators() -> &'static Validators {
    static VALIDATORS: OnceLock<Validators> = OnceLock::new();
    VALIDATORS.get_or_init(|| Validators {
        verdict: validator("Verdict"),
        judgement: validator("Judgement"),
        sighting: validator("Sighting"),
        indicator: validator("Indicator"),
        relationship: validator("Relationship"),
    })
}

/// The oracle's complaints about every entity of an answer's `data`, and how many entities
/// were checked.
fn problems(body: &Value) -> (usize, Vec<String>) {
    let v = validators();
    let groups = [
        ("verdicts", &v.verdict),
        ("judgements", &v.judgement),
        ("sightings", &v.sighting),
        ("indicators", &v.indicator),
        ("relationships", &v.relationship),
    ];
    let mut checked = 0;
    let mut problems = Vec::new();
    for (group, validator) in groups {
        for doc in crate::common::docs(body, group) {
            checked += 1;
            problems.extend(
                validator
                    .iter_errors(doc)
                    .map(|e| format!("{group}: {e} at {} in {doc}", e.instance_path())),
            );
        }
    }
    (checked, problems)
}

/// Asserts that every entity of an observe or deliberate answer validates against the oracle
/// and returns how many there were.
#[track_caller]
pub(crate) fn assert_valid_ctim(body: &Value) -> usize {
    let (checked, problems) = problems(body);
    assert!(problems.is_empty(), "CTIM oracle: {problems:#?}");
    checked
}

#[test]
fn the_oracle_rejects_broken_entities() {
    // Guards the guard: entities missing required fields or with foreign ones must not pass.
    let bad = json!({"data": {
        "verdicts": {"count": 1, "docs": [{"type": "verdict", "disposition": 3, "valid_time": {}}]},
        "sightings": {"count": 1, "docs": [{"type": "sighting", "count": 1, "surprise": true}]},
    }});
    let (checked, problems) = problems(&bad);
    assert_eq!(checked, 2);
    assert!(
        problems.iter().any(|p| p.starts_with("verdicts")),
        "{problems:?}"
    );
    assert!(
        problems.iter().any(|p| p.starts_with("sightings")),
        "{problems:?}"
    );
}
