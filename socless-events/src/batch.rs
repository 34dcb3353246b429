//! Validation of `event_details` and the deduplication hash.
//!
//! Everything here is pure: a batch is fully checked (types, timestamps, dedup keys of every
//! detail) before the caller writes anything.

use md5::{Digest, Md5};
use serde_json::Value;
use time::format_description::BorrowedFormatItem;
use time::macros::format_description;

use crate::error::InvalidEvent;
use crate::model::{InitialEvent, JsonObject, MAX_PLAYBOOK_INPUT_BYTES, PlaybookStart};

/// The deepest nesting accepted in `details`, `data_types` and `event_meta` (the object itself
/// is level 1). DynamoDB stores at most 32 levels, and the results item holds these objects
/// three levels down (`results` → `artifacts` → `event`), so 29 is the most that always fits.
/// Checked without recursion, so a 10,000-level value is a clear error, not a stack overflow.
pub const MAX_NESTING: usize = 29;

const DATE_TIME: &[BorrowedFormatItem<'static>] =
    format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]");
const DATE_TIME_MICROS: &[BorrowedFormatItem<'static>] =
    format_description!("[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:6]Z");

/// A validated `event_details`: one batch of events for one playbook.
#[derive(Debug, Clone, PartialEq)]
pub struct EventBatch {
    events: Vec<InitialEvent>,
    hashes: Vec<Option<String>>,
}

impl EventBatch {
    /// Validates `event_details` the way the original does, with its error texts, and
    /// computes each event's dedup hash. A missing `created_at` becomes the current UTC time.
    ///
    /// Stricter than the original: an empty `details` list is rejected, dedup keys are
    /// checked for every detail, and so are the limits the original only met at write time
    /// (nesting up to [`MAX_NESTING`] levels, playbook inputs up to
    /// [`MAX_PLAYBOOK_INPUT_BYTES`], Step Functions' rules for the playbook name), all before
    /// anything is written.
    pub fn from_json(event_details: &Value) -> Result<Self, InvalidEvent> {
        let Value::Object(fields) = event_details else {
            return Err(InvalidEvent::NotAnObject {
                type_name: python_type_name(event_details),
            });
        };
        let details = fields
            .get("details")
            .ok_or(InvalidEvent::MissingField("details"))?;
        let event_type = fields
            .get("event_type")
            .ok_or(InvalidEvent::MissingField("event_type"))?;
        let playbook = fields
            .get("playbook")
            .ok_or(InvalidEvent::MissingField("playbook"))?;
        let details: Vec<&Value> = match details {
            Value::Array(list) if list.is_empty() => return Err(InvalidEvent::EmptyDetails),
            Value::Array(list) => list.iter().collect(),
            single => vec![single],
        };
        // Nothing here may clone or recurse into a value before its depth is checked.
        for (field, value) in [
            ("data_types", fields.get("data_types")),
            ("event_meta", fields.get("event_meta")),
        ] {
            check_depth(field, value)?;
        }
        for detail in &details {
            check_depth("details", Some(detail))?;
        }
        let default_created_at;
        let created_at = match fields.get("created_at") {
            Some(value) => value,
            None => {
                default_created_at = Value::String(now_timestamp());
                &default_created_at
            }
        };
        let shared = Shared {
            created_at,
            event_type,
            playbook,
            data_types: fields.get("data_types"),
            event_meta: fields.get("event_meta"),
            dedup_keys: fields.get("dedup_keys"),
        };
        let events = details
            .into_iter()
            .map(|detail| shared.event(detail))
            .collect::<Result<Vec<_>, _>>()?;
        for (index, event) in events.iter().enumerate() {
            check_size(index, event)?;
        }
        let hashes = events
            .iter()
            .map(|event| {
                if event.dedup_keys.is_empty() {
                    return Ok(None);
                }
                dedup_hash(&event.event_type, &event.details, &event.dedup_keys).map(Some)
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self { events, hashes })
    }

    /// The events, in batch order.
    pub fn events(&self) -> &[InitialEvent] {
        &self.events
    }

    /// The dedup hash of each event (`None` when the batch has no `dedup_keys`).
    pub fn dedup_hashes(&self) -> &[Option<String>] {
        &self.hashes
    }

    /// The playbook of the batch.
    pub fn playbook(&self) -> &str {
        self.events
            .first()
            .map_or("", |event| event.playbook.as_str())
    }

    /// The number of events.
    pub fn len(&self) -> usize {
        self.events.len()
    }

    /// Always false: an empty batch is rejected by [`EventBatch::from_json`].
    pub fn is_empty(&self) -> bool {
        self.events.is_empty()
    }
}

/// The batch-level fields every event of a batch shares.
struct Shared<'a> {
    created_at: &'a Value,
    event_type: &'a Value,
    playbook: &'a Value,
    data_types: Option<&'a Value>,
    event_meta: Option<&'a Value>,
    dedup_keys: Option<&'a Value>,
}

impl Shared<'_> {
    /// Checks one event in the original's order: created_at, details, data_types,
    /// event_meta, event_type, playbook, dedup_keys.
    fn event(&self, detail: &Value) -> Result<InitialEvent, InvalidEvent> {
        let created_at = match self.created_at {
            Value::String(text) if is_valid_created_at(text) => text.clone(),
            _ => return Err(InvalidEvent::CreatedAt),
        };
        let details = object(Some(detail), InvalidEvent::Details)?;
        let data_types = object(self.data_types, InvalidEvent::DataTypes)?;
        let event_meta = object(self.event_meta, InvalidEvent::EventMeta)?;
        let Value::String(event_type) = self.event_type else {
            return Err(InvalidEvent::EventType);
        };
        let Value::String(playbook) = self.playbook else {
            return Err(InvalidEvent::Playbook);
        };
        if let Some(reason) = state_machine_name_fault(playbook) {
            return Err(InvalidEvent::PlaybookName { reason });
        }
        let dedup_keys = match self.dedup_keys {
            None => Vec::new(),
            Some(Value::Array(keys)) => keys.iter().map(dedup_key).collect::<Result<_, _>>()?,
            Some(_) => return Err(InvalidEvent::DedupKeys),
        };
        Ok(InitialEvent {
            created_at,
            event_type: event_type.clone(),
            playbook: playbook.clone(),
            details,
            data_types,
            event_meta,
            dedup_keys,
        })
    }
}

/// Fails if `value` nests deeper than [`MAX_NESTING`] or holds a number DynamoDB cannot
/// store exactly ([`is_storable_number`]), walking it with a heap stack.
fn check_depth(field: &'static str, value: Option<&Value>) -> Result<(), InvalidEvent> {
    let mut pending: Vec<(&Value, usize)> = value.into_iter().map(|v| (v, 0)).collect();
    while let Some((value, depth)) = pending.pop() {
        let children: Box<dyn Iterator<Item = &Value>> = match value {
            Value::Array(list) => Box::new(list.iter()),
            Value::Object(map) => Box::new(map.values()),
            Value::Number(number) if !is_storable_number(number) => {
                return Err(InvalidEvent::Number {
                    field,
                    number: number.to_string(),
                });
            }
            _ => continue,
        };
        if depth == MAX_NESTING {
            return Err(InvalidEvent::TooDeep {
                field,
                limit: MAX_NESTING,
            });
        }
        pending.extend(children.map(|child| (child, depth + 1)));
    }
    Ok(())
}

/// Whether DynamoDB stores `number` exactly, as both backends then hold the same value:
/// DynamoDB keeps 38 significant digits and magnitudes from 1e-130 to under 1e126. Every
/// 64-bit integer fits. A float fits within that range, except from 2^53 on: there it may be
/// an integer that JSON parsing already rounded (`123456789012345678901` parses as the
/// float `1.2345678901234567e+20`), which must not be stored as if it were the value sent.
fn is_storable_number(number: &serde_json::Number) -> bool {
    /// 2^53: from here on, not every integer has an `f64`.
    const EXACT_INTEGERS: f64 = 9_007_199_254_740_992.0;
    if number
        .as_f64()
        .is_some_and(|float| number.is_f64() && float.abs() >= EXACT_INTEGERS)
    {
        return false;
    }
    // Judged on the text that is stored (a float's shortest decimal form), as DynamoDB does.
    fits_dynamodb(&number.to_string())
}

/// Whether the decimal `text` (`-1.25e-7`, `34.7725`, `1e300`) has at most 38 significant
/// digits and is zero or has a magnitude from 1e-130 to under 1e126.
fn fits_dynamodb(text: &str) -> bool {
    let unsigned = text.strip_prefix('-').unwrap_or(text);
    let (mantissa, exponent) = match unsigned.split_once(['e', 'E']) {
        Some((mantissa, exponent)) => match exponent.parse::<i64>() {
            Ok(exponent) => (mantissa, exponent),
            Err(_) => return false,
        },
        None => (unsigned, 0),
    };
    let (integer, fraction) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    let digits: Vec<u8> = integer.bytes().chain(fraction.bytes()).collect();
    if !digits.iter().all(u8::is_ascii_digit) {
        return false;
    }
    let Some(first) = digits.iter().position(|&d| d != b'0') else {
        return true;
    };
    let last = digits.iter().rposition(|&d| d != b'0').unwrap_or(first);
    // The power of ten of the first significant digit.
    let Ok(leading) = i64::try_from(integer.len()) else {
        return false;
    };
    let Ok(first_at) = i64::try_from(first) else {
        return false;
    };
    let magnitude = leading - 1 - first_at + exponent;
    last - first < 38 && (-130..=125).contains(&magnitude)
}

/// Fails if the playbook input of `event` could exceed [`MAX_PLAYBOOK_INPUT_BYTES`]: it sizes
/// [`PlaybookStart::largest`], the same input and encoding a start sends.
fn check_size(index: usize, event: &InitialEvent) -> Result<(), InvalidEvent> {
    // A value serde cannot encode passes here; writing its items reports it as a storage error.
    let Ok(start) = PlaybookStart::largest(event) else {
        return Ok(());
    };
    if start.is_too_large() {
        return Err(InvalidEvent::TooLarge {
            index,
            bytes: start.len(),
            limit: MAX_PLAYBOOK_INPUT_BYTES,
        });
    }
    Ok(())
}

/// What makes `name` no state machine name by Step Functions' rule (1 to 80 characters, no
/// whitespace, no control characters (U+0000–U+001F, U+007F–U+009F), none of
/// ``<>{}[]?*"#%\^|~`$&,;:/``; the first offending character by its 1-based position), or
/// `None` when it is one. Followed exactly, so every deployable name is accepted and none can
/// alter the ARN.
fn state_machine_name_fault(name: &str) -> Option<String> {
    const FORBIDDEN: &str = "<>{}[]?*\"#%\\^|~`$&,;:/";
    let length = name.chars().count();
    if length == 0 {
        return Some("it is empty".to_owned());
    }
    if length > 80 {
        return Some(format!("it is {length} characters long, over 80"));
    }
    let (at, c) = name
        .chars()
        .enumerate()
        .find(|&(_, c)| c.is_whitespace() || c.is_control() || FORBIDDEN.contains(c))?;
    let what = match c {
        ' ' => " (a space)".to_owned(),
        c if c.is_whitespace() => format!(" (white space U+{:04X})", u32::from(c)),
        c if c.is_control() => format!(" (control character U+{:04X})", u32::from(c)),
        _ => String::new(),
    };
    Some(format!(
        "{}{what} at character {} is not allowed",
        python_str_repr(&c.to_string()),
        at + 1
    ))
}

/// An optional object field: absent means `{}`, anything but an object is `error`.
fn object(value: Option<&Value>, error: InvalidEvent) -> Result<JsonObject, InvalidEvent> {
    match value {
        None => Ok(JsonObject::new()),
        Some(Value::Object(map)) => Ok(map.clone()),
        Some(_) => Err(error),
    }
}

/// A dedup key must be a string; anything else fails as Python's `details[key]` would.
fn dedup_key(key: &Value) -> Result<String, InvalidEvent> {
    match key {
        Value::String(key) => Ok(key.clone()),
        Value::Array(_) | Value::Object(_) => Err(InvalidEvent::UnhashableDedupKey {
            type_name: python_type_name(key),
        }),
        scalar => Err(InvalidEvent::MissingDedupKey {
            key_repr: python_repr(scalar),
        }),
    }
}

/// The deduplication hash: the md5 hex digest of the lowercased `event_type` followed by the
/// lowercased values of `dedup_keys` in `details`, sorted and concatenated.
///
/// ```
/// let details = serde_json::json!({"username": "ubalogun", "type": "user", "id": "1"});
/// let details = details.as_object().unwrap();
/// let hash = socless_events::dedup_hash("ParamsToStateMachineTester", details, &["username".into()]);
/// assert_eq!(hash.unwrap(), "0caa90ad7b7fc101b90a8ce0f9638eb9");
/// ```
pub fn dedup_hash(
    event_type: &str,
    details: &JsonObject,
    dedup_keys: &[String],
) -> Result<String, InvalidEvent> {
    let mut values = dedup_keys
        .iter()
        .map(|key| match details.get(key) {
            Some(Value::String(value)) => Ok(value.to_lowercase()),
            Some(other) => Err(InvalidEvent::DedupValueNotString {
                type_name: python_type_name(other),
            }),
            None => Err(InvalidEvent::MissingDedupKey {
                key_repr: python_str_repr(key),
            }),
        })
        .collect::<Result<Vec<_>, _>>()?;
    values.sort();
    let signature = event_type.to_lowercase() + &values.concat();
    let digest = Md5::digest(signature.as_bytes());
    Ok(digest.iter().map(|byte| format!("{byte:02x}")).collect())
}

/// Whether `text` is `YYYY-MM-DDTHH:MM:SS.fZ` with 1 to 6 fraction digits and a real date.
pub(crate) fn is_valid_created_at(text: &str) -> bool {
    let Some((date_time, fraction)) = text.strip_suffix('Z').and_then(|t| t.rsplit_once('.'))
    else {
        return false;
    };
    // Exactly `YYYY-MM-DDTHH:MM:SS` as Python's `%Y-%m-%dT%H:%M:%S` reads it: `time` alone
    // would also take signed or longer years (`+2021`, `-0001`).
    let shape_ok = date_time.len() == 19
        && date_time.bytes().enumerate().all(|(i, b)| match i {
            4 | 7 => b == b'-',
            10 => b == b'T',
            13 | 16 => b == b':',
            _ => b.is_ascii_digit(),
        });
    shape_ok
        && (1..=6).contains(&fraction.len())
        && fraction.bytes().all(|b| b.is_ascii_digit())
        && time::PrimitiveDateTime::parse(date_time, DATE_TIME).is_ok()
}

/// The current UTC time as the original writes it, always with six fraction digits.
pub(crate) fn now_timestamp() -> String {
    time::OffsetDateTime::now_utc()
        .format(DATE_TIME_MICROS)
        .unwrap_or_else(|_| String::from("1970-01-01T00:00:00.000000Z"))
}

/// Python's name for the type a JSON value decodes to.
fn python_type_name(value: &Value) -> &'static str {
    match value {
        Value::Null => "NoneType",
        Value::Bool(_) => "bool",
        Value::Number(n) if n.is_f64() => "float",
        Value::Number(_) => "int",
        Value::String(_) => "str",
        Value::Array(_) => "list",
        Value::Object(_) => "dict",
    }
}

/// Python's `repr` of a JSON scalar, as a `KeyError` prints it.
fn python_repr(value: &Value) -> String {
    match value {
        Value::Null => "None".into(),
        Value::Bool(true) => "True".into(),
        Value::Bool(false) => "False".into(),
        Value::String(text) => python_str_repr(text),
        other => other.to_string(),
    }
}

/// Python's `repr` of a string: single quotes unless the text holds only single quotes.
pub(crate) fn python_str_repr(text: &str) -> String {
    let quote = if text.contains('\'') && !text.contains('"') {
        '"'
    } else {
        '\''
    };
    let mut out = String::with_capacity(text.len() + 2);
    out.push(quote);
    for ch in text.chars() {
        match ch {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c == quote => {
                out.push('\\');
                out.push(c);
            }
            c if (c as u32) < 0x20 || c as u32 == 0x7f => {
                out.push_str(&format!("\\x{:02x}", c as u32));
            }
            c => out.push(c),
        }
    }
    out.push(quote);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn check_created_at(text: &str, valid: bool) {
        assert_eq!(is_valid_created_at(text), valid, "{text}");
    }

    #[test]
    fn created_at_formats() {
        check_created_at("2021-03-30T18:00:00.000000Z", true);
        check_created_at("2021-02-02T16:19:52.567359Z", true);
        check_created_at("2021-03-30T18:00:00.5Z", true);
        check_created_at("2024-02-29T23:59:59.9Z", true);
        check_created_at("bad_date", false);
        check_created_at("2021-03-30T18:00:00Z", false);
        check_created_at("2021-03-30T18:00:00.000000+00:00", false);
        check_created_at("2021-03-30T18:00:00.000000", false);
        check_created_at("2021-03-30T18:00:00.0000000Z", false);
        check_created_at("2021-03-30T18:00:00.Z", false);
        check_created_at("2021-02-30T18:00:00.0Z", false);
        check_created_at("2021-03-30T24:00:00.0Z", false);
        check_created_at("2021-03-30 18:00:00.0Z", false);
        check_created_at("2021-03-30T18:00:00.1a2Z", false);
        check_created_at("+2021-03-30T18:00:00.0Z", false);
        check_created_at("-0001-03-30T18:00:00.0Z", false);
        check_created_at("+02021-03-30T18:00:00.0Z", false);
        check_created_at("12021-03-30T18:00:00.0Z", false);
        check_created_at("0001-01-01T00:00:00.0Z", true);
    }

    #[test]
    fn created_at_vectors_from_reference() {
        let vectors: Value =
            serde_json::from_str(include_str!("../tests/data/socless_test_vectors.json")).unwrap();
        let format = &vectors["created_at_format"];
        for text in format["valid_examples"].as_array().unwrap() {
            check_created_at(text.as_str().unwrap(), true);
        }
        for text in format["invalid_examples"].as_array().unwrap() {
            check_created_at(text.as_str().unwrap(), false);
        }
    }

    #[test]
    fn default_created_at_is_valid_with_six_digits() {
        let now = now_timestamp();
        assert!(is_valid_created_at(&now), "{now}");
        assert_eq!(now.len(), "2021-03-30T18:00:00.000000Z".len());
    }

    #[test]
    fn dedup_hash_matches_reference_vectors() {
        let vectors: Value =
            serde_json::from_str(include_str!("../tests/data/socless_test_vectors.json")).unwrap();
        let cases = vectors["dedup_hash_vectors"].as_array().unwrap();
        assert_eq!(cases.len(), 5);
        for case in cases {
            let keys: Vec<String> = serde_json::from_value(case["dedup_keys"].clone()).unwrap();
            let hash = dedup_hash(
                case["event_type"].as_str().unwrap(),
                case["details"].as_object().unwrap(),
                &keys,
            )
            .unwrap();
            assert_eq!(
                hash,
                case["dedup_hash_md5_hex"].as_str().unwrap(),
                "{}",
                case["source"]
            );
        }
        let divergent = &vectors["socless_rust_divergent_vector"];
        assert_ne!(
            divergent["socless_python_equivalent"],
            divergent["expected_by_socless_rust_test"]
        );
    }

    #[test]
    fn dedup_hash_ignores_case_and_key_order() {
        let details = json!({"a": "X", "b": "y"});
        let details = details.as_object().unwrap();
        let ab = dedup_hash("T", details, &["a".into(), "b".into()]).unwrap();
        let ba = dedup_hash("t", details, &["b".into(), "a".into()]).unwrap();
        assert_eq!(ab, ba);
    }

    fn check_error(input: Value, expected: &str) {
        let err = EventBatch::from_json(&input).unwrap_err();
        assert_eq!(err.to_string(), expected, "{input}");
    }

    fn valid() -> Value {
        json!({
            "created_at": "2021-03-30T18:00:00.000000Z",
            "event_type": "T",
            "playbook": "P",
            "details": [{"username": "u", "n": 1}],
            "dedup_keys": ["username"],
        })
    }

    fn with(key: &str, value: Value) -> Value {
        let mut input = valid();
        input[key] = value;
        input
    }

    fn without(key: &str) -> Value {
        let mut input = valid();
        input.as_object_mut().unwrap().remove(key);
        input
    }

    /// A batch deduplicating on a key whose value is `value`.
    fn dedup_on(value: Value) -> Value {
        let mut input = with("details", json!({ "n": value }));
        input["dedup_keys"] = json!(["n"]);
        input
    }

    #[test]
    fn errors_use_the_original_texts() {
        check_error(
            with("created_at", json!("bad_date")),
            "Error: Supplied 'created_at' field is not ISO8601 millisecond-precision string, shifted to UTC",
        );
        check_error(
            with("created_at", json!(5)),
            "Error: Supplied 'created_at' field is not ISO8601 millisecond-precision string, shifted to UTC",
        );
        check_error(
            with("details", json!("str")),
            "Error: Supplied 'details' is not a dictionary",
        );
        check_error(
            with("details", json!([{"username": "u"}, 3])),
            "Error: Supplied 'details' is not a dictionary",
        );
        check_error(
            with("details", json!([])),
            "Error: Supplied 'details' is an empty list",
        );
        check_error(
            with("data_types", json!("str")),
            "Error: Supplied 'data_types' is not a dictionary",
        );
        check_error(
            with("event_meta", json!("str")),
            "Error: Supplied 'event_meta' is not a dictionary",
        );
        check_error(
            with("event_type", json!(["x"])),
            "Error: Supplied 'event_type' is not a string",
        );
        check_error(
            with("playbook", json!(["x"])),
            "Error: Supplied Playbook is not a string",
        );
        check_error(
            with("playbook", Value::Null),
            "Error: Supplied Playbook is not a string",
        );
        check_error(
            with("dedup_keys", json!("username")),
            "Error: Supplied 'dedup_keys' field is not a list",
        );
        check_error(with("dedup_keys", json!(["nope"])), "'nope'");
        check_error(with("dedup_keys", json!(["it's"])), "\"it's\"");
        check_error(with("dedup_keys", json!([7])), "7");
        check_error(with("dedup_keys", json!([null])), "None");
        check_error(
            with("dedup_keys", json!([["a"]])),
            "unhashable type: 'list'",
        );
        check_error(
            with("dedup_keys", json!(["n"])),
            "'int' object has no attribute 'lower'",
        );
        check_error(
            dedup_on(json!(1.5)),
            "'float' object has no attribute 'lower'",
        );
        check_error(
            dedup_on(json!(true)),
            "'bool' object has no attribute 'lower'",
        );
        check_error(
            dedup_on(Value::Null),
            "'NoneType' object has no attribute 'lower'",
        );
        check_error(without("event_type"), "'event_type'");
        check_error(without("playbook"), "'playbook'");
        check_error(without("details"), "'details'");
        check_error(json!([1]), "'list' object has no attribute 'setdefault'");
    }

    #[test]
    fn a_later_detail_missing_a_dedup_key_fails_the_whole_batch() {
        let input = with("details", json!([{"username": "u"}, {"other": "x"}]));
        check_error(input, "'username'");
    }

    #[test]
    fn single_details_object_and_defaults() {
        let mut input = without("created_at");
        input["details"] = json!({"username": "U"});
        input.as_object_mut().unwrap().remove("dedup_keys");
        let batch = EventBatch::from_json(&input).unwrap();
        assert_eq!(batch.len(), 1);
        assert_eq!(batch.dedup_hashes(), &[None]);
        let event = &batch.events()[0];
        assert!(is_valid_created_at(&event.created_at));
        assert!(event.data_types.is_empty() && event.event_meta.is_empty());
        assert_eq!(batch.playbook(), "P");
    }

    fn check_name(name: &str, valid: bool) {
        assert_eq!(state_machine_name_fault(name).is_none(), valid, "{name:?}");
    }

    #[test]
    fn playbook_names_follow_step_functions() {
        check_name("InvestigateLogin", true);
        check_name("socless_core-integration_test", true);
        check_name("Investigate.Login+v2@x", true);
        check_name("Überprüfung", true);
        check_name(&"a".repeat(80), true);
        check_name(&"é".repeat(80), true);
        check_name(&"a".repeat(81), false);
        check_name("", false);
        check_name("Investigate Login", false);
        check_name("Pb:evil", false);
        check_name("../Pb", false);
        check_name("Pb\n", false);
        check_name("Pb\u{85}", false);
        check_name("Pb\u{a0}", false);
        for c in "<>{}[]?*\"#%\\^|~`$&,;:/".chars() {
            check_name(&format!("Pb{c}"), false);
        }
    }

    /// `levels` nested lists around a string, built without recursion.
    fn nested(levels: usize) -> Value {
        let mut value = json!("leaf");
        for _ in 0..levels {
            value = Value::Array(vec![value]);
        }
        value
    }

    /// Drops a deep value without recursing (serde_json's own drop recurses per level).
    fn dismantle(value: Value) {
        let mut pending = vec![value];
        while let Some(mut value) = pending.pop() {
            match &mut value {
                Value::Array(list) => pending.append(list),
                Value::Object(map) => {
                    pending.extend(std::mem::take(map).into_iter().map(|(_, v)| v));
                }
                _ => {}
            }
        }
    }

    fn check_deep_error(input: Value, expected: &str) {
        let err = EventBatch::from_json(&input).unwrap_err();
        dismantle(input);
        assert_eq!(err.to_string(), expected);
    }

    #[test]
    fn nesting_is_limited_without_recursion() {
        // details = {"n": <levels lists>} nests levels + 1 deep.
        let depth_ok = with(
            "details",
            json!({"username": "u", "n": nested(MAX_NESTING - 1)}),
        );
        assert!(EventBatch::from_json(&depth_ok).is_ok());
        let too_deep = with(
            "details",
            json!({"username": "u", "n": nested(MAX_NESTING)}),
        );
        check_error(
            too_deep,
            "Error: Supplied 'details' is nested deeper than 29 levels",
        );
        check_deep_error(
            with(
                "event_meta",
                Value::Object([("n".to_owned(), nested(10_000))].into_iter().collect()),
            ),
            "Error: Supplied 'event_meta' is nested deeper than 29 levels",
        );
        check_deep_error(
            with("data_types", nested(10_000)),
            "Error: Supplied 'data_types' is nested deeper than 29 levels",
        );
    }

    #[test]
    fn dynamodb_number_rules() {
        for text in [
            "0", "0.0", "-0", "1e-130", "9.99e125", "1.5", "-2.5e-7", "100", "0.001e3",
        ] {
            assert!(fits_dynamodb(text), "{text}");
        }
        assert!(fits_dynamodb(&format!("1{}", "0".repeat(125))));
        assert!(fits_dynamodb(&format!("0.{}1", "0".repeat(129))));
        assert!(fits_dynamodb(&"9".repeat(38)));
        for text in [
            "1e126",
            "9.9e-131",
            "1e300",
            "-1e-200",
            "0.01e-129",
            "1x",
            "1e",
        ] {
            assert!(!fits_dynamodb(text), "{text}");
        }
        assert!(!fits_dynamodb(&format!("1{}", "0".repeat(126))));
        assert!(!fits_dynamodb(&format!("0.{}1", "0".repeat(130))));
        assert!(!fits_dynamodb(&format!("1.{}1", "0".repeat(37))));
    }

    #[test]
    fn numbers_dynamodb_cannot_store_exactly_are_refused() {
        for number in [
            "0",
            "-0.0",
            "1.5e-130",
            "-1e-129",
            "0.1",
            "34.7725",
            "9007199254740991.0",
            "18446744073709551615",
            "-9223372036854775808",
            "1.5e15",
        ] {
            let value: Value = serde_json::from_str(number).unwrap();
            let input = with("details", json!([{"username": "u", "n": value}]));
            assert!(EventBatch::from_json(&input).is_ok(), "{number}");
        }
        for (number, shown) in [
            ("1e300", "1e+300"),
            ("-1e126", "-1e+126"),
            ("1e-200", "1e-200"),
            ("9.9e-131", "9.9e-131"),
            // The nearest float, or the one next to it: serde_json's `float_roundtrip` (on when
            // another crate of the build enables it) parses this one differently.
            ("123456789012345678901", ""),
            ("9007199254740992.0", "9007199254740992.0"),
        ] {
            let value: Value = serde_json::from_str(number).unwrap();
            let parsed = value.to_string();
            let shown = if shown.is_empty() {
                assert!(parsed.starts_with("1.234567890123456"), "{parsed}");
                parsed.as_str()
            } else {
                shown
            };
            let input = with(
                "details",
                json!([{"username": "u"}, {"username": "v", "x": [value]}]),
            );
            check_error(
                input,
                &format!(
                    "Error: Supplied 'details' holds the number {shown}, which DynamoDB cannot store exactly (magnitudes from 1e-130 to under 1e126; integers beyond 64 bits only as strings)"
                ),
            );
        }
        let value: Value = serde_json::from_str("1e300").unwrap();
        check_error(
            with("event_meta", json!({"score": value})),
            "Error: Supplied 'event_meta' holds the number 1e+300, which DynamoDB cannot store exactly (magnitudes from 1e-130 to under 1e126; integers beyond 64 bits only as strings)",
        );
    }

    #[test]
    fn playbook_inputs_are_limited_to_256_kib() {
        let with_blob = |len: usize| {
            let mut input = valid();
            input["details"] = json!([{"username": "u", "blob": "x".repeat(len)}]);
            input
        };
        let empty = EventBatch::from_json(&with_blob(0)).unwrap();
        let overhead = PlaybookStart::largest(&empty.events()[0]).unwrap().len();
        let fits = MAX_PLAYBOOK_INPUT_BYTES - overhead;
        let at_limit = EventBatch::from_json(&with_blob(fits)).unwrap();
        let largest = PlaybookStart::largest(&at_limit.events()[0]).unwrap();
        assert_eq!(largest.len(), MAX_PLAYBOOK_INPUT_BYTES);
        check_error(
            with_blob(fits + 1),
            "Error: event 0 is too large: its playbook input would be 262145 bytes, over the 262144-byte limit",
        );
    }
}
