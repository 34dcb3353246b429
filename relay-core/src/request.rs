//! The observables a route is asked about: parsed, bounded, filtered to the provider's types
//! and deduplicated; and the body of `/respond/trigger`.

use std::collections::HashSet;
use std::fmt::Write as _;
use std::net::IpAddr;

use ctim_model::ObservableType;
use serde::Serialize;
use serde_json::{Map, Value};

use crate::error::RelayError;

/// One observable of the request, as Threat Response sent it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
pub(crate) struct Observable {
    #[serde(rename = "type")]
    pub(crate) kind: String,
    pub(crate) value: String,
}

/// An observable of a type the provider supports, with a value that parses: what a
/// [`Provider`](crate::Provider) is asked about.
///
/// relay-core parses the values of the types it knows: an `ip` must be an IPv4 or IPv6
/// address, an `ipv6` an IPv6 address (either exactly as sent: no spaces, no prefix length);
/// other types keep their non-empty string. A value that does not parse is dropped before the
/// provider sees it, like an unsupported type.
///
/// ```
/// use ctim_model::ObservableType;
/// use xdr_relay_core::ParsedObservable;
///
/// let ip = ParsedObservable::new(ObservableType::Ip, "192.0.2.1").unwrap();
/// assert_eq!(ip.ip(), Some("192.0.2.1".parse().unwrap()));
/// assert!(ParsedObservable::new(ObservableType::Ip, "192.0.2.1/24").is_none());
/// assert!(ParsedObservable::new(ObservableType::Ipv6, "192.0.2.1").is_none());
/// let domain = ParsedObservable::new(ObservableType::Domain, "example.com").unwrap();
/// assert_eq!((domain.value(), domain.ip()), ("example.com", None));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ParsedObservable {
    observable: ctim_model::Observable,
    ip: Option<IpAddr>,
}

impl ParsedObservable {
    /// The observable `kind` / `value`, or `None` when the value is empty or, for a type
    /// relay-core parses, does not parse.
    #[must_use]
    pub fn new(kind: ObservableType, value: impl Into<String>) -> Option<Self> {
        let value = value.into();
        if value.is_empty() {
            return None;
        }
        let ip = match kind {
            ObservableType::Ip => Some(value.parse::<IpAddr>().ok()?),
            ObservableType::Ipv6 => Some(value.parse::<IpAddr>().ok().filter(IpAddr::is_ipv6)?),
            _ => None,
        };
        Some(Self {
            observable: ctim_model::Observable::new(kind, value),
            ip,
        })
    }

    /// The observable exactly as the request sent it, for the entities of the answer.
    #[must_use]
    pub fn observable(&self) -> &ctim_model::Observable {
        &self.observable
    }

    /// Its type.
    #[must_use]
    pub fn kind(&self) -> &ObservableType {
        &self.observable.kind
    }

    /// Its value, as sent.
    #[must_use]
    pub fn value(&self) -> &str {
        &self.observable.value
    }

    /// The address of an `ip` or `ipv6` observable; `None` for other types.
    #[must_use]
    pub fn ip(&self) -> Option<IpAddr> {
        self.ip
    }
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
pub(crate) fn invalid(problems: &Value) -> RelayError {
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

/// The observables of the provider's `types`, in request order, each once.
///
/// Unsupported types are skipped silently, and so is a value that does not parse
/// ([`ParsedObservable::new`]): neither ever reaches the provider. Types are compared exactly
/// (`IP` is not `ip`).
pub(crate) fn supported(
    observables: Vec<Observable>,
    types: &[ObservableType],
    any_case: bool,
) -> Vec<ParsedObservable> {
    let mut seen = HashSet::with_capacity(observables.len());
    let matches = |t: &ObservableType, kind: &str| {
        t.as_str() == kind || (any_case && t.as_str().eq_ignore_ascii_case(kind))
    };
    observables
        .into_iter()
        .filter_map(|o| {
            let kind = types.iter().find(|t| matches(t, &o.kind))?;
            ParsedObservable::new(kind.clone(), o.value)
        })
        .filter(|o| seen.insert((o.kind().as_str().to_owned(), o.value().to_owned())))
        .collect()
}

/// A `/respond/trigger` request: which action, on which observable.
///
/// Threat Response sends the action's `id` as `action-id`, the observable as
/// `observable_type` and `observable_value`, and the action's other `query-params`.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Trigger {
    /// The `id` of the [`ResponseAction`](crate::ResponseAction) to run.
    pub action_id: String,
    /// The observable to run it on (its type as sent, which may be one CTIM does not know).
    pub observable: ctim_model::Observable,
    /// Every other key of the body, as sent.
    pub params: Map<String, Value>,
}

impl Trigger {
    /// The trigger of `action_id` on `observable`, without other parameters: relay-core reads
    /// them from the request; a provider's tests make them.
    pub fn new(action_id: impl Into<String>, observable: ctim_model::Observable) -> Self {
        Self {
            action_id: action_id.into(),
            observable,
            params: Map::new(),
        }
    }
}

/// Parses a `/respond/trigger` body: a JSON object with non-empty strings `action-id`,
/// `observable_type` and `observable_value`; other keys are kept in `params`.
pub(crate) fn parse_trigger(body: &[u8]) -> Result<Trigger, RelayError> {
    let value: Value = serde_json::from_slice(body)
        .map_err(|e| invalid(&serde_json::json!({ "_json": [format!("Invalid JSON: {e}.")] })))?;
    let Value::Object(mut params) = value else {
        return Err(invalid(
            &serde_json::json!({ "_schema": ["Invalid input type: expected an object."] }),
        ));
    };
    let mut problems = Map::new();
    let mut take = |name: &str| match params.remove(name) {
        Some(Value::String(s)) if !s.is_empty() => Some(s),
        Some(Value::String(_)) => {
            problems.insert(name.into(), serde_json::json!(["Field may not be empty."]));
            None
        }
        Some(_) => {
            problems.insert(name.into(), serde_json::json!(["Not a valid string."]));
            None
        }
        None => {
            problems.insert(
                name.into(),
                serde_json::json!(["Missing data for required field."]),
            );
            None
        }
    };
    let action_id = take("action-id");
    let kind = take("observable_type");
    let value = take("observable_value");
    match (action_id, kind, value) {
        (Some(action_id), Some(kind), Some(value)) => {
            let observable = ctim_model::Observable::new(ObservableType::parse(&kind), value);
            Ok(Trigger {
                params,
                ..Trigger::new(action_id, observable)
            })
        }
        _ => Err(invalid(&Value::Object(problems))),
    }
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
        supported(observables, &[ObservableType::Ip], false)
            .into_iter()
            .filter_map(|o| o.ip().map(|ip| ip.to_string()))
            .collect()
    }

    #[test]
    fn types_match_exactly_unless_the_provider_takes_any_case() {
        let observables = || {
            vec![
                Observable {
                    kind: "IP".into(),
                    value: "192.0.2.1".into(),
                },
                Observable {
                    kind: "ip".into(),
                    value: "192.0.2.1".into(),
                },
                Observable {
                    kind: "Ipv6".into(),
                    value: "2001:db8::1".into(),
                },
            ]
        };
        let types = [ObservableType::Ip, ObservableType::Ipv6];
        let exact = supported(observables(), &types, false);
        assert_eq!(exact.len(), 1);
        let any = supported(observables(), &types, true);
        // `IP` and `ip` are one observable, given with CTIM's type.
        let kinds: Vec<&str> = any.iter().map(|o| o.kind().as_str()).collect();
        assert_eq!(kinds, ["ip", "ipv6"]);
        assert_eq!(any[0].observable().kind.as_str(), "ip");
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
