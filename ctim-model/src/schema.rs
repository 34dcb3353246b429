//! JSON Schemas (draft 2020-12) for the entities, generated from the Rust types, so they
//! describe exactly what the types read: required fields, no unknown fields, closed
//! vocabularies, CTIM's string length limits, and no `null` anywhere (CTIM has none).

use schemars::transform::{RecursiveTransform, Transform};
use schemars::{JsonSchema, Schema, SchemaGenerator, generate::SchemaSettings};
use serde_json::Value;

use crate::{Indicator, Judgement, Observable, ObserveBundle, Relationship, Sighting, Verdict};

/// The schema of `T` as a JSON value, with this crate's settings.
#[must_use]
pub fn for_type<T: JsonSchema>() -> Value {
    generator().into_root_schema_for::<T>().to_value()
}

/// Every schema this crate publishes, as (file stem, schema): `verdict`, `judgement`,
/// `sighting`, `indicator`, `relationship`, `observable` and `observe_bundle`.
///
/// ```
/// let schemas = ctim_model::schema::all();
/// let (stem, verdict) = &schemas[0];
/// assert_eq!(*stem, "verdict");
/// assert_eq!(verdict["additionalProperties"], false);
/// ```
#[must_use]
pub fn all() -> Vec<(&'static str, Value)> {
    vec![
        ("verdict", for_type::<Verdict>()),
        ("judgement", for_type::<Judgement>()),
        ("sighting", for_type::<Sighting>()),
        ("indicator", for_type::<Indicator>()),
        ("relationship", for_type::<Relationship>()),
        ("observable", for_type::<Observable>()),
        ("observe_bundle", for_type::<ObserveBundle>()),
    ]
}

fn generator() -> SchemaGenerator {
    SchemaSettings::draft2020_12()
        .with_transform(RecursiveTransform(Tidy))
        .into_generator()
}

/// Two touches on each generated schema: drop `null` (optional fields are left out, never
/// `null`, but schemars describes `Option<T>` as "T or null"), and cut the Rust examples out
/// of descriptions taken from doc comments.
#[derive(Debug, Clone)]
struct Tidy;

impl Transform for Tidy {
    fn transform(&mut self, schema: &mut Schema) {
        let Some(object) = schema.as_object_mut() else {
            return;
        };
        if let Some(Value::String(description)) = object.get_mut("description")
            && let Some(example) = description.find("```")
        {
            description.truncate(example);
            description.truncate(description.trim_end().len());
        }
        if let Some(Value::Array(values)) = object.get_mut("enum") {
            values.retain(|v| !v.is_null());
        }
        if let Some(Value::Array(types)) = object.get_mut("type") {
            types.retain(|t| t != "null");
            if let [single] = types.as_slice() {
                let single = single.clone();
                object.insert("type".into(), single);
            }
        }
        for key in ["anyOf", "oneOf"] {
            let Some(Value::Array(branches)) = object.get_mut(key) else {
                continue;
            };
            branches.retain(|b| b.get("type").and_then(Value::as_str) != Some("null"));
            if let [single] = branches.as_slice() {
                let single = single.clone();
                object.remove(key);
                if let Value::Object(fields) = single {
                    object.extend(fields);
                }
            }
        }
    }
}
