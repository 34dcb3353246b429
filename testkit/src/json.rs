//! Reading answers in assertions: the strings of a JSON array, by value or by a field.

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
        let numbers = json!([1]);
        assert!(std::panic::catch_unwind(|| super::strings(&numbers).len()).is_err());
    }
}
