//! Agreement with Cisco's published schema (the oracle) and with our own schemas.

use std::collections::BTreeSet;

use serde_json::Value;

use crate::support::{
    ENTITIES, definition, file_names, oracle, oracle_errors, our_errors, read_json, roundtrip,
};

/// Fields the oracle has on stored entities that CTIM itself does not define.
const STORED_ONLY: [&str; 3] = ["created", "modified", "client_id"];

fn written_examples() -> Vec<(String, &'static str, Value)> {
    let mut out = Vec::new();
    for kind in ENTITIES {
        let doc = read_json(&format!("doc-json/{kind}.json"));
        out.push((
            format!("doc-json/{kind}.json"),
            kind,
            roundtrip(kind, &doc).unwrap(),
        ));
    }
    for file in file_names("examples") {
        if file.starts_with("new-") || file.contains(".UNVALIDATED.") {
            continue;
        }
        let kind = ENTITIES.into_iter().find(|k| file.starts_with(k)).unwrap();
        let value = read_json(&format!("examples/{file}"));
        out.push((
            format!("examples/{file}"),
            kind,
            roundtrip(kind, &value).unwrap(),
        ));
    }
    out
}

#[test]
fn written_entities_satisfy_the_oracle_and_our_schemas() {
    for (name, kind, written) in written_examples() {
        assert_eq!(
            oracle_errors(&definition(kind), &written),
            Vec::<String>::new(),
            "oracle on {name}"
        );
        assert_eq!(
            our_errors(kind, &written),
            Vec::<String>::new(),
            "our schema on {name}"
        );
    }
}

fn keys(schema: &Value, field: &str) -> BTreeSet<String> {
    match field {
        "properties" => schema["properties"]
            .as_object()
            .map(|o| o.keys().cloned().collect()),
        _ => schema[field]
            .as_array()
            .map(|a| a.iter().map(|v| v.as_str().unwrap().to_owned()).collect()),
    }
    .unwrap_or_default()
}

/// Our schema of a definition, found in an entity schema's `$defs` or the schema itself.
fn ours<'a>(schemas: &'a [(&'static str, Value)], name: &str) -> &'a Value {
    for (_, schema) in schemas {
        if schema["title"] == name {
            return schema;
        }
        if let Some(found) = schema["$defs"].get(name) {
            return found;
        }
    }
    panic!("no schema named {name} in ctim_model::schema::all()");
}

#[test]
fn property_names_and_required_lists_agree_with_the_oracle() {
    let schemas = ctim_model::schema::all();
    let shared = [
        "Verdict",
        "Judgement",
        "Sighting",
        "Indicator",
        "Relationship",
        "Observable",
        "ValidTime",
        "ObservedTime",
        "ExternalReference",
        "SensorCoordinates",
        "IdentitySpecification",
        "ObservedRelation",
        "SightingDataTable",
        "ColumnDefinition",
        "KillChainPhase",
        "CompositeIndicatorExpression",
        "RelatedJudgement",
    ];
    for name in shared {
        let theirs = &oracle()["definitions"][name];
        let mine = ours(&schemas, name);
        let mut their_properties = keys(theirs, "properties");
        for stored in STORED_ONLY {
            their_properties.remove(stored);
        }
        assert_eq!(
            keys(mine, "properties"),
            their_properties,
            "properties of {name}"
        );
        assert_eq!(
            keys(mine, "required"),
            keys(theirs, "required"),
            "required of {name}"
        );
        assert_eq!(
            mine["additionalProperties"],
            Value::Bool(false),
            "{name} must deny unknown fields"
        );
    }
}

#[test]
fn specification_variants_agree_with_the_oracle() {
    let schemas = ctim_model::schema::all();
    let variants = ours(&schemas, "Specification")["oneOf"]
        .as_array()
        .unwrap()
        .clone();
    let names = [
        "JudgementSpecification",
        "ThreatBrainSpecification",
        "SnortSpecification",
        "SIOCSpecification",
        "OpenIOCSpecification",
    ];
    assert_eq!(variants.len(), names.len());
    for (mine, name) in variants.iter().zip(names) {
        let theirs = &oracle()["definitions"][name];
        assert_eq!(
            keys(mine, "properties"),
            keys(theirs, "properties"),
            "properties of {name}"
        );
        assert_eq!(
            keys(mine, "required"),
            keys(theirs, "required"),
            "required of {name}"
        );
        assert_eq!(
            mine["properties"]["type"]["const"], theirs["properties"]["type"]["enum"][0],
            "tag of {name}"
        );
    }
}

#[test]
fn closed_vocabularies_agree_with_the_oracle() {
    let schemas = ctim_model::schema::all();
    let set = |v: &Value| -> BTreeSet<String> {
        v.as_array()
            .unwrap()
            .iter()
            .map(ToString::to_string)
            .collect()
    };
    // schemars writes a documented unit enum as `oneOf` of `const`s.
    let values = |schema: &Value| -> BTreeSet<String> {
        match schema.get("enum") {
            Some(values) => set(values),
            None => schema["oneOf"]
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v["const"].to_string())
                .collect(),
        }
    };
    let judgement = &oracle()["definitions"]["Judgement"]["properties"];
    let indicator = &oracle()["definitions"]["Indicator"]["properties"];
    let pairs = [
        ("Tlp", &judgement["tlp"]["enum"]),
        ("Confidence", &judgement["confidence"]["enum"]),
        ("Severity", &judgement["severity"]["enum"]),
        (
            "IndicatorType",
            &indicator["indicator_type"]["items"]["enum"],
        ),
        (
            "ObservableType",
            &oracle()["definitions"]["Observable"]["properties"]["type"]["enum"],
        ),
        (
            "ColumnType",
            &oracle()["definitions"]["ColumnDefinition"]["properties"]["type"]["enum"],
        ),
        (
            "BooleanOperator",
            &oracle()["definitions"]["CompositeIndicatorExpression"]["properties"]["operator"]["enum"],
        ),
    ];
    for (name, theirs) in pairs {
        assert_eq!(
            values(ours(&schemas, name)),
            set(theirs),
            "values of {name}"
        );
    }
    let verdict = ours(&schemas, "Verdict");
    for field in ["disposition", "disposition_name"] {
        assert_eq!(
            set(&verdict["properties"][field]["enum"]),
            set(&judgement[field]["enum"]),
            "values of {field}"
        );
    }
    assert_eq!(ctim_model::ObservableType::KNOWN.len(), 63);
}

#[test]
fn a_built_bundle_satisfies_the_oracle_bundle() {
    let bundle = crate::props::sample_bundle();
    let written = serde_json::to_value(&bundle).unwrap();
    assert_eq!(
        oracle_errors("ModuleObserveBundle_subset", &written),
        Vec::<String>::new()
    );
    assert_eq!(our_errors("observe_bundle", &written), Vec::<String>::new());
    for group in [
        "verdicts",
        "judgements",
        "indicators",
        "sightings",
        "relationships",
    ] {
        assert_eq!(
            written[group]["count"],
            written[group]["docs"].as_array().unwrap().len()
        );
    }
}
