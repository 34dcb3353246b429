//! Reference data and validators shared by the tests.

use std::collections::HashMap;
use std::sync::OnceLock;

use ctim_model::{Indicator, Judgement, Relationship, Sighting, Verdict};
use serde_json::{Value, json};

pub(crate) fn read_json(relative: &str) -> Value {
    testkit::testdata::json(&format!("ctim/{relative}"))
}

/// The names of the files in a reference folder, sorted.
pub(crate) fn file_names(folder: &str) -> Vec<String> {
    testkit::testdata::files(&format!("ctim/{folder}"))
}

/// The five entities, by CTIM type name.
pub(crate) const ENTITIES: [&str; 5] = [
    "verdict",
    "judgement",
    "sighting",
    "indicator",
    "relationship",
];

/// The oracle definition name of a CTIM type name (`judgement` → `Judgement`).
pub(crate) fn definition(kind: &str) -> String {
    let mut name = kind.to_owned();
    name[..1].make_ascii_uppercase();
    name
}

/// Reads `value` strictly as the entity `kind` and writes it back.
pub(crate) fn roundtrip(kind: &str, value: &Value) -> Result<Value, String> {
    fn via<T: serde::de::DeserializeOwned + serde::Serialize>(
        value: &Value,
    ) -> Result<Value, String> {
        let typed: T = serde_json::from_value(value.clone()).map_err(|e| e.to_string())?;
        Ok(serde_json::to_value(&typed).unwrap())
    }
    match kind {
        "verdict" => via::<Verdict>(value),
        "judgement" => via::<Judgement>(value),
        "sighting" => via::<Sighting>(value),
        "indicator" => via::<Indicator>(value),
        "relationship" => via::<Relationship>(value),
        other => panic!("not an entity: {other}"),
    }
}

pub(crate) fn oracle() -> &'static Value {
    static ORACLE: OnceLock<Value> = OnceLock::new();
    ORACLE.get_or_init(|| read_json("oracle/iroh-enrich-ctim-subset.schema.json"))
}

/// Every problem the oracle finds in `instance` as the definition `name`.
pub(crate) fn oracle_errors(name: &str, instance: &Value) -> Vec<String> {
    static VALIDATORS: OnceLock<HashMap<String, jsonschema::Validator>> = OnceLock::new();
    let validators = VALIDATORS.get_or_init(|| {
        let definitions = &oracle()["definitions"];
        let names = definitions.as_object().unwrap().keys();
        names
            .map(|name| {
                let schema = json!({
                    "$schema": "http://json-schema.org/draft-04/schema#",
                    "definitions": definitions,
                    "allOf": [{ "$ref": format!("#/definitions/{name}") }],
                });
                (name.clone(), jsonschema::validator_for(&schema).unwrap())
            })
            .collect()
    });
    let validator = validators
        .get(name)
        .unwrap_or_else(|| panic!("no oracle definition {name}"));
    validator
        .iter_errors(instance)
        .map(|e| format!("{}: {e}", e.instance_path()))
        .collect()
}

/// Every problem this crate's own schema (`schema::all()`, by file stem) finds in `instance`.
pub(crate) fn our_errors(stem: &str, instance: &Value) -> Vec<String> {
    static VALIDATORS: OnceLock<HashMap<&'static str, jsonschema::Validator>> = OnceLock::new();
    let validators = VALIDATORS.get_or_init(|| {
        ctim_model::schema::all()
            .into_iter()
            .map(|(stem, schema)| (stem, jsonschema::validator_for(&schema).unwrap()))
            .collect()
    });
    let validator = validators
        .get(stem)
        .unwrap_or_else(|| panic!("no schema {stem}"));
    validator
        .iter_errors(instance)
        .map(|e| format!("{}: {e}", e.instance_path()))
        .collect()
}
