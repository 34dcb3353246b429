//! Hostile input: each case is a clear error before any write, on both backends.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use serde_json::{Map, Value, json};
use socless_events::{Error, EventCreator, EventStore, MAX_PLAYBOOK_INPUT_BYTES};

use crate::faults::hashes;
use crate::fixture::Fixture;
use crate::wrappers::{FailAfter, ThrottleNth};

/// A valid first event, then `hostile` as the second detail (moved in: `json!` would recurse).
fn batch(tag: &str, hostile: Value) -> Value {
    let mut input = json!({
        "event_type": "Hostile",
        "playbook": "InvestigateLogin",
        "created_at": "2021-03-30T18:00:00.000000Z",
        "details": [{"username": format!("{tag}-first")}, null],
        "dedup_keys": ["username"],
    });
    input["details"][1] = hostile;
    input
}

/// `levels` nested lists around a string, built without recursion (`json!` would recurse).
fn nested(levels: usize) -> Value {
    let mut value = json!("leaf");
    for _ in 0..levels {
        value = Value::Array(vec![value]);
    }
    value
}

/// Drops a deep value without recursing (serde_json's own drop recurses once per level).
fn dismantle(value: Value) {
    let mut pending = vec![value];
    while let Some(mut value) = pending.pop() {
        match &mut value {
            Value::Array(list) => pending.append(list),
            Value::Object(map) => pending.extend(std::mem::take(map).into_iter().map(|(_, v)| v)),
            _ => {}
        }
    }
}

fn detail_with(key: &str, value: Value) -> Value {
    let mut map = Map::new();
    map.insert("username".into(), json!("second"));
    map.insert(key.into(), value);
    Value::Object(map)
}

const TOO_LARGE: &str = "Error: event 1 is too large: its playbook input would be ";

/// Checks `text` against `expected`: equal, or for [`TOO_LARGE`]`<payload>`, the size error
/// with a size of at least the payload and over the limit.
fn check_text(name: &str, text: &str, expected: &str) {
    let Some(payload) = expected.strip_prefix(TOO_LARGE) else {
        assert_eq!(text, expected, "{name}");
        return;
    };
    let payload: usize = payload.parse().unwrap();
    let bytes: usize = text
        .strip_prefix(TOO_LARGE)
        .and_then(|rest| rest.strip_suffix(" bytes, over the 262144-byte limit"))
        .unwrap_or_else(|| panic!("{name}: {text}"))
        .parse()
        .unwrap();
    assert!(
        bytes > MAX_PLAYBOOK_INPUT_BYTES && bytes >= payload,
        "{name}: {text}"
    );
}

/// (name, event_details, the error text).
fn cases() -> Vec<(&'static str, Value, String)> {
    // The exact size is the payload plus the item's other fields: at least the payload.
    let too_large = |payload: usize| format!("{TOO_LARGE}{payload}");
    let mut cases = vec![
        (
            "1 MiB string",
            batch("mib", detail_with("blob", json!("x".repeat(1 << 20)))),
            too_large(1 << 20),
        ),
        (
            "300 KB string",
            batch("kb300", detail_with("blob", json!("x".repeat(300_000)))),
            too_large(300_000),
        ),
        (
            "500 KB string, above DynamoDB's item limit",
            batch("kb500", detail_with("blob", json!("x".repeat(500_000)))),
            too_large(500_000),
        ),
        (
            "30 000 small keys",
            batch("keys", {
                let map: Map<String, Value> = (0..30_000)
                    .map(|i| (format!("k{i:05}"), json!(i)))
                    .collect();
                Value::Object(map)
            }),
            too_large(30_000 * 8),
        ),
        (
            "10 000 levels",
            batch("deep", detail_with("deep", nested(10_000))),
            "Error: Supplied 'details' is nested deeper than 29 levels".into(),
        ),
        (
            "30 levels",
            batch("deep30", detail_with("deep", nested(29))),
            "Error: Supplied 'details' is nested deeper than 29 levels".into(),
        ),
        (
            "event_meta 10 000 levels",
            {
                let mut input = batch("meta", json!({"username": "x"}));
                input["event_meta"] = nested(10_000);
                input
            },
            "Error: Supplied 'event_meta' is nested deeper than 29 levels".into(),
        ),
    ];
    for (name, detail) in [
        ("string detail", json!("a string")),
        ("list detail", json!([{"username": "x"}])),
        ("null detail", Value::Null),
        ("number detail", json!(42)),
    ] {
        cases.push((
            name,
            batch(name, detail),
            "Error: Supplied 'details' is not a dictionary".into(),
        ));
    }
    for (name, value, type_name) in [
        ("int dedup value", json!(7), "int"),
        ("float dedup value", json!(7.5), "float"),
        ("bool dedup value", json!(false), "bool"),
        ("null dedup value", Value::Null, "NoneType"),
        ("list dedup value", json!(["a"]), "list"),
        ("object dedup value", json!({"a": "b"}), "dict"),
    ] {
        cases.push((
            name,
            batch(name, json!({"username": value})),
            format!("'{type_name}' object has no attribute 'lower'"),
        ));
    }
    let created_at = "Error: Supplied 'created_at' field is not ISO8601 millisecond-precision string, shifted to UTC";
    for (name, value) in [
        ("created_at without fraction", json!("2021-03-30T18:00:00Z")),
        ("created_at 30 February", json!("2021-02-30T18:00:00.0Z")),
        (
            "created_at with offset",
            json!("2021-03-30T18:00:00.000000+00:00"),
        ),
        (
            "created_at trailing newline",
            json!("2021-03-30T18:00:00.000000Z\n"),
        ),
        ("created_at year 99999", json!("99999-03-30T18:00:00.0Z")),
        ("created_at epoch number", json!(1_617_127_200)),
        ("created_at empty", json!("")),
        ("created_at deep", nested(10_000)),
    ] {
        let mut input = batch(name, json!({"username": "second"}));
        input["created_at"] = value;
        cases.push((name, input, created_at.into()));
    }
    let playbook = "Error: Supplied Playbook is not a valid state machine name: ";
    for (name, value, fault) in [
        ("empty playbook", String::new(), "it is empty"),
        (
            "81-character playbook",
            "P".repeat(81),
            "it is 81 characters long, over 80",
        ),
        (
            "playbook with a space",
            "Investigate Login".into(),
            "' ' (a space) at character 12 is not allowed",
        ),
        (
            "playbook with a colon",
            "InvestigateLogin:1".into(),
            "':' at character 17 is not allowed",
        ),
        (
            "playbook that is an ARN",
            "arn:aws:states:us-east-1:123456789012:stateMachine:X".into(),
            "':' at character 4 is not allowed",
        ),
        (
            "playbook with a slash",
            "../InvestigateLogin".into(),
            "'/' at character 3 is not allowed",
        ),
        (
            "playbook with NUL",
            "Investigate\u{0}Login".into(),
            "'\\x00' (control character U+0000) at character 12 is not allowed",
        ),
        (
            "playbook with a newline",
            "InvestigateLogin\n".into(),
            "'\\n' (white space U+000A) at character 17 is not allowed",
        ),
    ] {
        let mut input = batch(name, json!({"username": "second"}));
        input["playbook"] = json!(value);
        let playbook = format!("{playbook}{fault}");
        cases.push((name, input, playbook));
    }
    cases
}

/// Every hostile case is an `InvalidEvent` with its text, and not one write or start happened
/// (counted at the store and launcher, and checked in the tables).
pub(crate) async fn hostile_input_writes_nothing(fixture: &impl Fixture) {
    for (name, input, expected) in cases() {
        let store = FailAfter::new(fixture.store(), fixture.store(), usize::MAX);
        let writes = Arc::clone(&store.writes);
        let launcher = ThrottleNth::new(fixture.launcher(), 0);
        let starts = Arc::clone(&launcher.starts);
        let creator = EventCreator::new(store, launcher, fixture.arns());
        let error = creator.create_events(&input).await.unwrap_err();
        assert!(matches!(error, Error::InvalidEvent(_)), "{name}: {error:?}");
        check_text(name, &error.to_string(), &expected);
        assert_eq!(writes.load(Ordering::SeqCst), 0, "{name}");
        assert_eq!(starts.load(Ordering::SeqCst), 0, "{name}");
        let first =
            &hashes(&json!({"event_type": "Hostile", "details": [input["details"][0].clone()]}))[0];
        assert_eq!(
            fixture.store().dedup_mapping(first).await.unwrap(),
            None,
            "{name}"
        );
        dismantle(input);
    }
}
