//! Every reference example reads and writes back to the same JSON.

use serde_json::Value;

use crate::support::{ENTITIES, file_names, read_json, roundtrip};

/// The entity type an example file is for (`judgement-maximal.json` → `judgement`).
fn kind_of(file: &str) -> &'static str {
    ENTITIES
        .into_iter()
        .find(|kind| file.starts_with(kind))
        .unwrap_or_else(|| panic!("no entity for {file}"))
}

fn is_full_example(file: &str) -> bool {
    !file.starts_with("new-") && !file.contains(".UNVALIDATED.")
}

#[test]
fn examples_roundtrip() {
    let files: Vec<String> = file_names("examples")
        .into_iter()
        .filter(|f| is_full_example(f))
        .collect();
    assert_eq!(
        files.len(),
        10,
        "expected the 10 full examples, found {files:?}"
    );
    for file in files {
        let original = read_json(&format!("examples/{file}"));
        let written =
            roundtrip(kind_of(&file), &original).unwrap_or_else(|e| panic!("{file}: {e}"));
        let mut expected = original.clone();
        if file == "verdict-minimal.json" {
            // The one normalisation: disposition_name is always written, from the number.
            expected["disposition_name"] = Value::from("Clean");
        }
        assert_eq!(written, expected, "{file} changed on the way through");
    }
}

#[test]
fn doc_json_roundtrips_with_every_field() {
    for kind in ENTITIES {
        let original = read_json(&format!("doc-json/{kind}.json"));
        let written = roundtrip(kind, &original).unwrap_or_else(|e| panic!("{kind}: {e}"));
        assert_eq!(
            written, original,
            "doc-json/{kind}.json changed on the way through"
        );
    }
}

#[test]
fn unvalidated_examples_fail_for_the_missing_origin() {
    let files: Vec<String> = file_names("examples")
        .into_iter()
        .filter(|f| f.contains(".UNVALIDATED."))
        .collect();
    assert_eq!(files.len(), 2);
    for file in files {
        let value = read_json(&format!("examples/{file}"));
        let error = roundtrip("sighting", &value).expect_err(&file);
        assert!(error.contains("missing field `origin`"), "{file}: {error}");
        // With the required `origin` added, the rest of the example reads and round-trips.
        let mut fixed = value.clone();
        for relation in fixed["relations"].as_array_mut().unwrap() {
            relation["origin"] = Value::from("added by the test");
        }
        assert_eq!(roundtrip("sighting", &fixed).unwrap(), fixed, "{file}");
    }
}

#[test]
fn new_entity_examples_are_not_full_entities() {
    for file in file_names("examples")
        .into_iter()
        .filter(|f| f.starts_with("new-"))
    {
        let value = read_json(&format!("examples/{file}"));
        let kind = kind_of(file.trim_start_matches("new-"));
        let error = roundtrip(kind, &value).expect_err(&file);
        assert!(error.contains("missing field"), "{file}: {error}");
    }
}
