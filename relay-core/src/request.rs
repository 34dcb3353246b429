//! The observables a route is asked about: parsed, bounded, filtered and deduplicated.

use std::collections::HashSet;
use std::fmt::Write as _;
use std::net::IpAddr;

use serde::Serialize;
use serde_json::Value;

use crate::error::RelayError;

/// One observable of the request, as Threat Response sent it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
pub(crate) struct Observable {
    #[serde(rename = "type")]
    pub(crate) kind: String,
    pub(crate) value: String,
}

/// An observable the relay can look up: an `ip` whose value parses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct IpObservable {
    /// The request's own observable, echoed in the answer unchanged.
    pub(crate) observable: Observable,
    /// The parsed address: the only thing ever sent upstream.
    pub(crate) ip: IpAddr,
}

/// Parses a request body: a JSON array of `{"type": string, "value": non-empty string}`.
///
/// Extra keys and any type string are accepted. Errors name each bad element and field.
pub(crate) fn parse(body: &[u8], max_observables: usize) -> Result<Vec<Observable>, RelayError> {
    let value: Value = serde_json::from_slice(body)
        .map_err(|e| invalid(&serde_json::json!({ "_json": [format!("Invalid JSON: {e}.")] })))?;
    let Value::Array(items) = value else {
        return Err(invalid(
            &serde_json::json!({ "_schema": ["Invalid input type: expected a list of observables."] }),
        ));
    };
    if items.len() > max_observables {
        return Err(invalid(&serde_json::json!({ "_schema": [format!(
            "Too many observables: {} (at most {max_observables}).",
            items.len()
        )] })));
    }
    let mut observables = Vec::with_capacity(items.len());
    let mut problems = serde_json::Map::new();
    for (index, item) in items.into_iter().enumerate() {
        match observable(item) {
            Ok(o) => observables.push(o),
            Err(fields) => {
                problems.insert(index.to_string(), fields);
            }
        }
    }
    if problems.is_empty() {
        Ok(observables)
    } else {
        Err(invalid(&Value::Object(problems)))
    }
}

/// The `invalid argument` error, with the problems as compact JSON after the original's prefix.
fn invalid(problems: &Value) -> RelayError {
    let mut message = String::from("Invalid JSON payload received. ");
    let _ = write!(message, "{problems}");
    RelayError::InvalidArgument(message)
}

fn observable(item: Value) -> Result<Observable, Value> {
    let Value::Object(mut map) = item else {
        return Err(serde_json::json!({ "_schema": ["Invalid input type: expected an object."] }));
    };
    let mut fields = serde_json::Map::new();
    let kind = match map.remove("type") {
        Some(Value::String(s)) => Some(s),
        Some(_) => {
            fields.insert("type".into(), serde_json::json!(["Not a valid string."]));
            None
        }
        None => {
            fields.insert(
                "type".into(),
                serde_json::json!(["Missing data for required field."]),
            );
            None
        }
    };
    let value = match map.remove("value") {
        Some(Value::String(s)) if !s.is_empty() => Some(s),
        Some(Value::String(_)) => {
            fields.insert(
                "value".into(),
                serde_json::json!(["Field may not be empty."]),
            );
            None
        }
        Some(_) => {
            fields.insert("value".into(), serde_json::json!(["Not a valid string."]));
            None
        }
        None => {
            fields.insert(
                "value".into(),
                serde_json::json!(["Missing data for required field."]),
            );
            None
        }
    };
    match (kind, value) {
        (Some(kind), Some(value)) => Ok(Observable { kind, value }),
        _ => Err(Value::Object(fields)),
    }
}

/// The observables the relay supports, in request order, each once.
///
/// Unsupported types are skipped silently, and so is an `ip` that does not parse: neither ever
/// reaches the upstream.
pub(crate) fn supported(observables: Vec<Observable>) -> Vec<IpObservable> {
    let mut seen = HashSet::with_capacity(observables.len());
    observables
        .into_iter()
        .filter(|o| o.kind == "ip")
        .filter_map(|observable| {
            let ip = observable.value.parse::<IpAddr>().ok()?;
            Some(IpObservable { observable, ip })
        })
        .filter(|o| seen.insert(o.observable.value.clone()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(body: &str, expected: Result<&[(&str, &str)], &str>) {
        let got = parse(body.as_bytes(), 3)
            .map(|v| v.into_iter().map(|o| (o.kind, o.value)).collect::<Vec<_>>());
        let expected = expected
            .map(|v| {
                v.iter()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect::<Vec<_>>()
            })
            .map_err(|m| RelayError::InvalidArgument(m.to_owned()));
        assert_eq!(got, expected, "{body}");
    }

    #[test]
    fn valid_bodies() {
        check("[]", Ok(&[]));
        check(
            r#"[{"type":"ip","value":"1.1.1.1"}]"#,
            Ok(&[("ip", "1.1.1.1")]),
        );
        check(
            r#"[{"type":"domain","value":"x.com","extra":1},{"type":"new-type","value":"v"}]"#,
            Ok(&[("domain", "x.com"), ("new-type", "v")]),
        );
    }

    #[test]
    fn invalid_bodies_say_what_and_where() {
        check(
            r#"[{"type":"domain"}]"#,
            Err(
                r#"Invalid JSON payload received. {"0":{"value":["Missing data for required field."]}}"#,
            ),
        );
        check(
            r#"[{"type":"ip","value":"1.1.1.1"},{"type":1,"value":""}]"#,
            Err(
                r#"Invalid JSON payload received. {"1":{"type":["Not a valid string."],"value":["Field may not be empty."]}}"#,
            ),
        );
        check(
            r#"{"type":"ip","value":"1.1.1.1"}"#,
            Err(
                r#"Invalid JSON payload received. {"_schema":["Invalid input type: expected a list of observables."]}"#,
            ),
        );
        check(
            r#"["1.1.1.1"]"#,
            Err(
                r#"Invalid JSON payload received. {"0":{"_schema":["Invalid input type: expected an object."]}}"#,
            ),
        );
        check(
            r#"[{},{},{},{}]"#,
            Err(
                r#"Invalid JSON payload received. {"_schema":["Too many observables: 4 (at most 3)."]}"#,
            ),
        );
    }

    #[test]
    fn syntax_errors_are_json_too() {
        for body in ["", "[", "not json", "[{\"type\":\"ip\",}]"] {
            let Err(RelayError::InvalidArgument(message)) = parse(body.as_bytes(), 3) else {
                panic!("{body:?} should be invalid");
            };
            let rest = message
                .strip_prefix("Invalid JSON payload received. ")
                .unwrap();
            let problems: Value = serde_json::from_str(rest).unwrap();
            assert!(
                problems["_json"][0]
                    .as_str()
                    .unwrap()
                    .starts_with("Invalid JSON")
            );
        }
    }

    #[test]
    fn deep_nesting_is_an_error_not_a_crash() {
        let body = "[".repeat(100_000);
        assert!(parse(body.as_bytes(), 3).is_err());
    }

    fn supported_values(pairs: &[(&str, &str)]) -> Vec<String> {
        let observables = pairs
            .iter()
            .map(|(k, v)| Observable {
                kind: k.to_string(),
                value: v.to_string(),
            })
            .collect();
        supported(observables)
            .into_iter()
            .map(|o| o.ip.to_string())
            .collect()
    }

    #[test]
    fn only_parsable_ips_are_supported_once_each() {
        assert_eq!(
            supported_values(&[
                ("ip", "1.1.1.1"),
                ("domain", "1.1.1.1"),
                ("ip", "2001:db8::1"),
                ("ip", "1.1.1.1"),
                ("ip", "999.1.1.1"),
                ("ip", "1.1.1.1/24"),
                ("ip", "../1.1.1.1"),
                ("ip", " 1.1.1.1"),
                ("ip", "1.1.1.1\r\n"),
                ("ip", "1.1.1.1?x"),
                ("ip", "1.1.1.1%2F"),
                ("IP", "8.8.8.8"),
            ]),
            ["1.1.1.1", "2001:db8::1"]
        );
    }
}
