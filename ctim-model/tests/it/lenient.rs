//! Lenient reading: unknown fields dropped, unknown observable types kept.

use ctim_model::{Judgement, ObservableType, ObserveBundle, ProblemKind, Sighting};
use serde_json::json;

use crate::support::read_json;

#[test]
fn drops_unknown_fields_at_every_depth() {
    let mut value = read_json("examples/sighting-maximal.json");
    let strict: Sighting = serde_json::from_value(value.clone()).unwrap();
    value["created"] = json!("2016-02-11T00:40:48.212Z");
    value["observed_time"]["note"] = json!(1);
    value["targets"][0]["owner"] = json!("someone");
    value["relations"][0]["source"]["extra"] = json!(true);
    assert!(serde_json::from_value::<Sighting>(value.clone()).is_err());
    let lenient: Sighting = ctim_model::from_value_lenient(value).unwrap();
    assert_eq!(lenient, strict);
}

#[test]
fn keeps_free_form_objects_whole() {
    let value = read_json("examples/sighting-maximal.json");
    let lenient: Sighting = ctim_model::from_value_lenient(value.clone()).unwrap();
    assert_eq!(serde_json::to_value(&lenient).unwrap(), value);
}

#[test]
fn keeps_unknown_observable_types_and_writes_them_back() {
    let mut value = read_json("examples/judgement-maximal.json");
    value["observable"]["type"] = json!("ja3_fingerprint");
    let read: Judgement = ctim_model::from_str_lenient(&value.to_string()).unwrap();
    assert_eq!(
        read.observable.kind,
        ObservableType::Other("ja3_fingerprint".into())
    );
    assert_eq!(serde_json::to_value(&read).unwrap(), value);
    let problems = read.validate().unwrap_err().into_vec();
    assert_eq!(problems[0].field, "observable.type");
    assert_eq!(
        problems[0].kind,
        ProblemKind::UnknownObservableType("ja3_fingerprint".into())
    );
    // The lenient scope ends with the call: strict reading is strict again.
    assert!(ctim_model::from_str::<Judgement>(&value.to_string()).is_err());
}

#[test]
fn picks_the_specification_variant_by_its_tag() {
    let mut value = read_json("examples/indicator-maximal.json");
    value["specification"] = json!({"type": "Snort", "snort_sig": "alert tcp any any", "extra": 1});
    let read: ctim_model::Indicator = ctim_model::from_value_lenient(value).unwrap();
    let spec = serde_json::to_value(read.specification.unwrap()).unwrap();
    assert_eq!(
        spec,
        json!({"type": "Snort", "snort_sig": "alert tcp any any"})
    );
}

#[test]
fn still_rejects_what_is_not_ctim() {
    let mut value = read_json("examples/judgement-maximal.json");
    value["tlp"] = json!("TLP:RED");
    assert!(ctim_model::from_value_lenient::<Judgement>(value).is_err());
    let bundle = json!({"verdicts": {"count": 2, "docs": []}});
    assert!(ctim_model::from_value_lenient::<ObserveBundle>(bundle).is_err());
}
