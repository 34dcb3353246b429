//! Reading CTIM JSON, strictly (the default) or leniently.
//!
//! Strict reading is plain serde: every type rejects unknown fields (as CTIA does) and an
//! observable type outside CTIM's list. Lenient reading is for consumers of CTIM from other
//! producers: it drops fields the type does not know, and keeps unknown observable types as
//! [`ObservableType::Other`](crate::ObservableType::Other). Closed vocabularies, required
//! fields and the disposition pair are still checked.

use std::cell::Cell;

use schemars::JsonSchema;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

use crate::Error;

thread_local! {
    /// Set while [`from_value_lenient`] runs on this thread; read by `ObservableType`.
    static LENIENT: Cell<bool> = const { Cell::new(false) };
}

pub(crate) fn is_lenient() -> bool {
    LENIENT.with(Cell::get)
}

/// Sets the lenient flag for its lifetime and restores the previous value, even on unwind.
struct LenientScope(bool);

impl LenientScope {
    fn enter() -> LenientScope {
        LenientScope(LENIENT.with(|flag| flag.replace(true)))
    }
}

impl Drop for LenientScope {
    fn drop(&mut self) {
        LENIENT.with(|flag| flag.set(self.0));
    }
}

/// Reads `T` strictly from JSON text (the same as `serde_json::from_str`, with this crate's
/// error type).
///
/// # Errors
/// [`Error::Decode`] when the JSON is not a valid `T`.
pub fn from_str<T: DeserializeOwned>(json: &str) -> Result<T, Error> {
    Ok(serde_json::from_str(json)?)
}

/// Reads `T` leniently from JSON text: fields `T` does not know are dropped, at any depth,
/// and unknown observable types are kept as [`ObservableType::Other`](crate::ObservableType::Other).
/// Everything else is checked as in strict reading.
///
/// ```
/// use ctim_model::{Observable, ObservableType};
///
/// let json = r#"{"type": "ja3_fingerprint", "value": "abc", "note": "extra"}"#;
/// assert!(ctim_model::from_str::<Observable>(json).is_err());
/// let observable: Observable = ctim_model::from_str_lenient(json).unwrap();
/// assert_eq!(observable.kind, ObservableType::Other("ja3_fingerprint".into()));
/// ```
///
/// # Errors
/// [`Error::Decode`] when the JSON is not a `T` even without unknown fields.
pub fn from_str_lenient<T: DeserializeOwned + JsonSchema>(json: &str) -> Result<T, Error> {
    from_value_lenient(serde_json::from_str(json)?)
}

/// Reads `T` leniently from a JSON value, as [`from_str_lenient`] does.
///
/// # Errors
/// [`Error::Decode`] when the value is not a `T` even without unknown fields.
pub fn from_value_lenient<T: DeserializeOwned + JsonSchema>(mut value: Value) -> Result<T, Error> {
    let schema = crate::schema::for_type::<T>();
    prune(&mut value, &schema, &schema);
    let _scope = LenientScope::enter();
    Ok(serde_json::from_value(value)?)
}

/// Removes, recursively, object fields that `schema` does not allow. `root` holds `$defs`.
fn prune(value: &mut Value, schema: &Value, root: &Value) {
    let schema = resolve(schema, root);
    match value {
        Value::Object(object) => {
            if let Some(branch) = tagged_branch(object, schema, root) {
                prune(value, branch, root);
                return;
            }
            prune_object(object, schema, root);
        }
        Value::Array(items) => {
            if let Some(item_schema) = schema.get("items") {
                for item in items {
                    prune(item, item_schema, root);
                }
            }
        }
        _ => {}
    }
}

fn prune_object(object: &mut Map<String, Value>, schema: &Value, root: &Value) {
    let Some(properties) = schema.get("properties").and_then(Value::as_object) else {
        return;
    };
    if schema.get("additionalProperties") == Some(&Value::Bool(false)) {
        object.retain(|key, _| properties.contains_key(key));
    }
    for (key, field) in object.iter_mut() {
        if let Some(field_schema) = properties.get(key) {
            prune(field, field_schema, root);
        }
    }
}

/// For a `oneOf` of tagged variants, the branch whose `type` constant matches the value.
fn tagged_branch<'s>(
    object: &Map<String, Value>,
    schema: &'s Value,
    root: &'s Value,
) -> Option<&'s Value> {
    let tag = object.get("type")?;
    let branches = schema
        .get("oneOf")
        .or_else(|| schema.get("anyOf"))?
        .as_array()?;
    branches.iter().map(|b| resolve(b, root)).find(|branch| {
        branch.pointer("/properties/type/const") == Some(tag)
            || branch
                .pointer("/properties/type/enum")
                .and_then(Value::as_array)
                .is_some_and(|values| values.contains(tag))
    })
}

/// Follows `$ref`s into `root`'s `$defs`.
fn resolve<'s>(mut schema: &'s Value, root: &'s Value) -> &'s Value {
    // Bounded, so a self-referencing `$ref` cannot loop forever.
    for _ in 0..16 {
        let Some(target) = schema
            .get("$ref")
            .and_then(Value::as_str)
            .and_then(|r| r.strip_prefix('#'))
            .and_then(|pointer| root.pointer(pointer))
        else {
            break;
        };
        schema = target;
    }
    schema
}
