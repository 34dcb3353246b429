//! Reading answers in assertions: the strings of a JSON array, by value or by a field, and a
//! relay's envelope (its errors, the docs of one kind of entity).

use serde_json::Value;

/// The strings of the array `value` (`["a", "b"]` → `["a", "b"]`); fails on anything else.
pub fn strings(value: &Value) -> Vec<&str> {
    array(value)
        .iter()
        .map(|v| v.as_str().unwrap_or_else(|| panic!("not a string: {v}")))
        .collect()
}

/// The string field `field` of every object of the array `value` (the `id`s of a module
/// type's `capabilities`, the `key`s of its `configuration_spec`).
pub fn field<'a>(value: &'a Value, field: &str) -> Vec<&'a str> {
    array(value)
        .iter()
        .map(|v| {
            v[field]
                .as_str()
                .unwrap_or_else(|| panic!("no string `{field}` in {v}"))
        })
        .collect()
}

/// The `errors` of a relay's envelope as (code, message) pairs (none when it has none); fails
/// on an error that is not `fatal` or lacks its code or message.
pub fn errors(answer: &Value) -> Vec<(String, String)> {
    let Some(errors) = answer["errors"].as_array() else {
        return Vec::new();
    };
    errors
        .iter()
        .map(|e| {
            assert_eq!(e["type"], "fatal", "{e}");
            let text = |key: &str| {
                e[key]
                    .as_str()
                    .unwrap_or_else(|| panic!("no string `{key}` in {e}"))
                    .to_owned()
            };
            (text("code"), text("message"))
        })
        .collect()
}

/// The `docs` of `kind` (`verdicts`, `sightings`...) in an observe answer's data; none when
/// absent.
pub fn docs<'a>(answer: &'a Value, kind: &str) -> Vec<&'a Value> {
    answer["data"][kind]["docs"]
        .as_array()
        .map(|docs| docs.iter().collect())
        .unwrap_or_default()
}

fn array(value: &Value) -> &[Value] {
    value
        .as_array()
        .unwrap_or_else(|| panic!("not an array: {value}"))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    #[test]
    fn reads_strings_and_fields() {
        assert_eq!(super::strings(&json!(["a", "b"])), ["a", "b"]);
        assert_eq!(
            super::field(&json!([{"id": "x"}, {"id": "y"}]), "id"),
            ["x", "y"]
        );
        let answer = json!({
            "data": {"sightings": {"count": 1, "docs": [{"id": "s"}]}},
            "errors": [{"type": "fatal", "code": "oops", "message": "m"}],
        });
        assert_eq!(super::docs(&answer, "sightings")[0]["id"], "s");
        assert!(super::docs(&answer, "verdicts").is_empty());
        assert_eq!(
            super::errors(&answer),
            [("oops".to_owned(), "m".to_owned())]
        );
        assert!(super::errors(&json!({"data": {}})).is_empty());
        let numbers = json!([1]);
        assert!(std::panic::catch_unwind(|| super::strings(&numbers).len()).is_err());
    }
}
