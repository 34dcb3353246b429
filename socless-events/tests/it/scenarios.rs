//! The behavioural suite, written once and run against every backend by [`behaviour_suite!`].

use std::collections::HashMap;

use serde_json::{Value, json};
use socless_events::{
    CreateEventsOutput, Error, EventCreator, EventStore, LaunchError, LaunchErrorKind,
    PlaybookLauncher, Status, StorageErrorKind, dedup_hash,
};

pub(crate) use crate::faults::{
    a_deadline_stops_the_batch_with_what_was_done, a_repeated_start_with_the_same_input_is_started,
    a_write_whose_answer_is_lost_is_read_back,
    an_original_whose_playbook_did_not_start_gives_up_its_mapping,
    missing_state_machine_is_recorded, store_down_mid_batch_loses_nothing,
    throttled_start_is_reported_and_recorded, unstorable_numbers_write_nothing,
};
use crate::fixture::{ACCOUNT, Fixture};
pub(crate) use crate::hostile::hostile_input_writes_nothing;
use crate::inspect::{InspectLauncher, InspectStore};
pub(crate) use crate::load::concurrent_batches_lose_nothing;
use crate::wrappers::{FailOnDetail, check_records};

/// Instantiates every scenario as a test, with `$setup` building the fixture.
macro_rules! behaviour_suite {
    ($setup:expr) => {
        crate::scenarios::behaviour_suite!(@tests $setup;
            capture_batch_matches_the_reference,
            single_details_object_is_one_event,
            second_invocation_duplicates_the_open_original,
            closed_original_starts_a_new_investigation,
            in_batch_duplicates_ignore_case,
            missing_state_machine_keeps_items_and_reports,
            partial_failure_carries_every_report,
            concurrent_invocations_make_one_original,
            floats_and_nested_json_round_trip,
            no_dedup_keys_means_no_deduplication,
            invalid_input_has_the_original_errors,
            invalid_later_detail_writes_nothing,
            closing_an_unknown_investigation_fails,
            launch_failures_have_kinds,
            concurrent_batches_lose_nothing,
            throttled_start_is_reported_and_recorded,
            missing_state_machine_is_recorded,
            store_down_mid_batch_loses_nothing,
            hostile_input_writes_nothing,
            concurrent_storage_failure_reports_every_written_event,
            a_write_whose_answer_is_lost_is_read_back,
            an_original_whose_playbook_did_not_start_gives_up_its_mapping,
            unstorable_numbers_write_nothing,
            a_deadline_stops_the_batch_with_what_was_done,
            a_repeated_start_with_the_same_input_is_started,
        );
    };
    (@tests $setup:expr; $($name:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() {
                let fixture = $setup.await;
                crate::scenarios::$name(&fixture).await;
            }
        )*
    };
}
pub(crate) use behaviour_suite;

fn capture() -> Value {
    serde_json::from_str(include_str!(
        "../data/create_events_capture_socless_python_1.5.0_moto_5.2.5.json"
    ))
    .unwrap()
}

fn vectors() -> Value {
    serde_json::from_str(include_str!("../data/socless_test_vectors.json")).unwrap()
}

/// `MOCK_EVENT` of the original's tests, with `created_at` pinned.
fn mock_event() -> Value {
    let mut event = vectors()["socless_python_MOCK_EVENT"].clone();
    event["created_at"] = json!("2021-03-30T18:00:00.000000Z");
    event
}

fn arn(playbook: &str) -> String {
    format!("arn:aws:states:us-east-1:{ACCOUNT}:stateMachine:{playbook}")
}

/// Placeholders for the generated ids of an output, so two runs compare structurally.
fn placeholders(output: &Value) -> HashMap<String, String> {
    let mut ids = HashMap::new();
    for (i, event) in output["events"].as_array().unwrap().iter().enumerate() {
        let meta = &event["metadata"];
        ids.insert(
            meta["_id"].as_str().unwrap().to_owned(),
            format!("<event {i}>"),
        );
        ids.insert(
            meta["execution_id"].as_str().unwrap().to_owned(),
            format!("<execution {i}>"),
        );
    }
    ids
}

fn normalize(value: &Value, ids: &HashMap<String, String>) -> Value {
    match value {
        Value::String(s) => Value::String(ids.get(s).cloned().unwrap_or_else(|| s.clone())),
        Value::Array(list) => list.iter().map(|v| normalize(v, ids)).collect(),
        Value::Object(map) => map
            .iter()
            .map(|(k, v)| (k.clone(), normalize(v, ids)))
            .collect::<serde_json::Map<_, _>>()
            .into(),
        other => other.clone(),
    }
}

fn find<'a>(items: &'a Value, key: &str, value: &str) -> &'a Value {
    items
        .as_array()
        .unwrap()
        .iter()
        .find(|item| item[key] == value)
        .unwrap_or_else(|| panic!("no item with {key} = {value}"))
}

fn is_timestamp(text: &str) -> bool {
    let mut shape = text
        .chars()
        .map(|c| if c.is_ascii_digit() { '9' } else { c });
    shape.by_ref().collect::<String>() == "9999-99-99T99:99:99.999999Z"
}

/// The original's batch run: return value, stored items, dedup mappings and execution inputs
/// all equal the captured run of socless_python, up to the generated ids.
pub(crate) async fn capture_batch_matches_the_reference(fixture: &impl Fixture) {
    let capture = capture();
    let creator = fixture.creator();
    let output = creator
        .create_events(&capture["batch_input"])
        .await
        .unwrap();
    let ours = serde_json::to_value(&output).unwrap();
    let theirs = &capture["batch_return_value"];
    let (our_ids, their_ids) = (placeholders(&ours), placeholders(theirs));
    assert_eq!(normalize(&ours, &our_ids), normalize(theirs, &their_ids));

    for (event, captured) in output
        .events
        .iter()
        .zip(theirs["events"].as_array().unwrap())
    {
        let captured_meta = &captured["metadata"];
        let stored = creator
            .store()
            .event(&event.metadata.id)
            .await
            .unwrap()
            .unwrap();
        let expected = find(
            &capture["events_table_items"],
            "id",
            captured_meta["_id"].as_str().unwrap(),
        );
        assert_eq!(
            normalize(&Value::Object(stored), &our_ids),
            normalize(expected, &their_ids)
        );

        let execution_id = &event.metadata.execution_id;
        let mut results = creator
            .store()
            .results(execution_id)
            .await
            .unwrap()
            .unwrap();
        let datetime = results.remove("datetime").unwrap();
        assert!(is_timestamp(datetime.as_str().unwrap()), "{datetime}");
        let mut expected = find(
            &capture["results_table_items"],
            "execution_id",
            captured_meta["execution_id"].as_str().unwrap(),
        )
        .clone();
        expected.as_object_mut().unwrap().remove("datetime");
        assert_eq!(
            normalize(&Value::Object(results), &our_ids),
            normalize(&expected, &their_ids)
        );

        let input = creator
            .launcher()
            .execution_input(&arn("ParamsToStateMachineTester"), execution_id)
            .await
            .unwrap()
            .expect("the execution exists");
        let expected = find(
            &capture["sfn_executions"],
            "name",
            captured_meta["execution_id"].as_str().unwrap(),
        );
        assert_eq!(
            normalize(&input, &our_ids),
            normalize(&expected["input"], &their_ids)
        );
    }

    for mapping in capture["dedup_table_items"].as_array().unwrap() {
        let hash = mapping["dedup_hash"].as_str().unwrap();
        let current = creator.store().dedup_mapping(hash).await.unwrap().unwrap();
        assert_eq!(
            normalize(&json!(current), &our_ids),
            normalize(&mapping["current_investigation_id"], &their_ids),
            "{hash}"
        );
    }
}

pub(crate) async fn single_details_object_is_one_event(fixture: &impl Fixture) {
    let creator = fixture.creator();
    let output = creator.create_events(&mock_event()).await.unwrap();
    assert_eq!(output.events.len(), 1);
    let meta = &output.events[0].metadata;
    assert_eq!((meta.status_, meta.is_duplicate), (Status::Open, false));
    assert_eq!(meta.id, meta.investigation_id);
    assert_eq!(
        output.events[0].event.details,
        mock_event()["details"].as_object().unwrap().clone()
    );
    let report = &output.execution_reports[0];
    assert_eq!(
        report.statemachinearn,
        vectors()["expected_playbook_arn_for_MOCK_EVENT"]
    );
    assert_eq!(report.error, "");
    let mapping = creator
        .store()
        .dedup_mapping("0caa90ad7b7fc101b90a8ce0f9638eb9")
        .await
        .unwrap();
    assert_eq!(mapping.as_deref(), Some(meta.investigation_id.as_str()));
}

pub(crate) async fn second_invocation_duplicates_the_open_original(fixture: &impl Fixture) {
    let creator = fixture.creator();
    let first = creator.create_events(&mock_event()).await.unwrap();
    let second = creator.create_events(&mock_event()).await.unwrap();
    let (original, duplicate) = (&first.events[0].metadata, &second.events[0].metadata);
    assert_eq!(
        (duplicate.status_, duplicate.is_duplicate),
        (Status::Closed, true)
    );
    assert_eq!(duplicate.investigation_id, original.investigation_id);
    assert_ne!(duplicate.id, original.id);
    let stored = creator.store().event(&duplicate.id).await.unwrap().unwrap();
    assert_eq!(stored["status_"], "closed");
    assert_eq!(stored["is_duplicate"], true);
    assert_eq!(
        stored["investigation_id"],
        original.investigation_id.as_str()
    );
    let mapping = creator
        .store()
        .dedup_mapping("0caa90ad7b7fc101b90a8ce0f9638eb9")
        .await
        .unwrap();
    assert_eq!(mapping.as_deref(), Some(original.investigation_id.as_str()));
    // Duplicates are started too: playbooks branch on is_duplicate.
    let input = creator
        .launcher()
        .execution_input(
            &second.execution_reports[0].statemachinearn,
            &duplicate.execution_id,
        )
        .await
        .unwrap()
        .unwrap();
    assert_eq!(input["artifacts"]["event"]["is_duplicate"], true);
}

pub(crate) async fn closed_original_starts_a_new_investigation(fixture: &impl Fixture) {
    let creator = fixture.creator();
    let first = creator.create_events(&mock_event()).await.unwrap();
    let original = &first.events[0].metadata;
    creator
        .store()
        .set_investigation_status(&original.investigation_id, Status::Closed)
        .await
        .unwrap();
    let second = creator.create_events(&mock_event()).await.unwrap();
    let renewed = &second.events[0].metadata;
    assert_eq!(
        (renewed.status_, renewed.is_duplicate),
        (Status::Open, false)
    );
    assert_ne!(renewed.investigation_id, original.investigation_id);
    let mapping = creator
        .store()
        .dedup_mapping("0caa90ad7b7fc101b90a8ce0f9638eb9")
        .await
        .unwrap();
    assert_eq!(mapping.as_deref(), Some(renewed.investigation_id.as_str()));
    let third = creator.create_events(&mock_event()).await.unwrap();
    assert_eq!(
        third.events[0].metadata.investigation_id,
        renewed.investigation_id
    );
    assert!(third.events[0].metadata.is_duplicate);
}

pub(crate) async fn in_batch_duplicates_ignore_case(fixture: &impl Fixture) {
    let creator = fixture.creator();
    let input = json!({
        "event_type": "Suspicious Login",
        "playbook": "InvestigateLogin",
        "details": [{"username": "UBalogun"}, {"username": "someone"}, {"username": "ubalogun"}],
        "dedup_keys": ["username"],
    });
    let output = creator.create_events(&input).await.unwrap();
    let meta: Vec<_> = output.events.iter().map(|e| &e.metadata).collect();
    assert_eq!(
        meta.iter().map(|m| m.is_duplicate).collect::<Vec<_>>(),
        [false, false, true]
    );
    assert_eq!(meta[2].investigation_id, meta[0].investigation_id);
    assert_ne!(meta[1].investigation_id, meta[0].investigation_id);
}

pub(crate) async fn missing_state_machine_keeps_items_and_reports(fixture: &impl Fixture) {
    let creator = fixture.creator();
    let mut input = mock_event();
    input["playbook"] = json!("NotDeployed");
    let error = creator.create_events(&input).await.unwrap_err();
    assert_eq!(
        error.to_string().lines().next(),
        Some("1 of 1 events failed to start playbooks.")
    );
    let Error::PlaybooksFailed {
        failed: 1,
        total: 1,
        output,
    } = &error
    else {
        panic!("unexpected error {error:?}");
    };
    let report = &output.execution_reports[0];
    let arn = arn("NotDeployed");
    assert_eq!(report.statemachinearn, arn);
    // The text of the captured original (botocore's message for moto's answer).
    let expected = capture()["not_deployed_error"]["message"]
        .as_str()
        .unwrap()
        .split("error=\"")
        .nth(1)
        .unwrap()
        .trim_end_matches("\")]")
        .to_owned();
    assert_eq!(report.error, expected);
    // The whole text is the original's, the failed reports included, with this run's ids.
    let original = capture()["not_deployed_error"]["message"]
        .as_str()
        .unwrap()
        .to_owned();
    let id_of = |field: &str| {
        let rest = original.split(&format!("{field}='")).nth(1).unwrap();
        rest.split('\'').next().unwrap().to_owned()
    };
    let text = original
        .replace(&id_of("investigation_id"), &report.investigation_id)
        .replace(&id_of("execution_id"), &report.execution_id);
    assert_eq!(error.to_string(), text);
    // Nothing is lost: the event and the results item stay.
    let meta = &output.events[0].metadata;
    assert!(creator.store().event(&meta.id).await.unwrap().is_some());
    assert!(
        creator
            .store()
            .results(&meta.execution_id)
            .await
            .unwrap()
            .is_some()
    );
    assert!(
        creator
            .launcher()
            .execution_input(&arn, &meta.execution_id)
            .await
            .unwrap()
            .is_none()
    );
}

/// A launcher that fails its second start, to show partial failures keep every report.
#[derive(Clone)]
struct FailSecond<L> {
    inner: L,
    calls: std::sync::Arc<std::sync::atomic::AtomicUsize>,
}

impl<L: PlaybookLauncher> PlaybookLauncher for FailSecond<L> {
    async fn start_execution(&self, arn: &str, name: &str, input: &str) -> Result<(), Error> {
        if self.calls.fetch_add(1, std::sync::atomic::Ordering::SeqCst) == 1 {
            return Err(LaunchError::new(LaunchErrorKind::Other, "injected failure").into());
        }
        self.inner.start_execution(arn, name, input).await
    }
}

impl<L: InspectLauncher> InspectLauncher for FailSecond<L> {
    async fn execution_input(&self, arn: &str, name: &str) -> Result<Option<Value>, Error> {
        self.inner.execution_input(arn, name).await
    }
}

pub(crate) async fn partial_failure_carries_every_report(fixture: &impl Fixture) {
    let launcher = FailSecond {
        inner: fixture.launcher(),
        calls: Default::default(),
    };
    // The second call: the sequential run's order (concurrency 1).
    let creator = EventCreator::new(fixture.store(), launcher, fixture.arns()).with_concurrency(1);
    let input = capture()["batch_input"].clone();
    let error = creator.create_events(&input).await.unwrap_err();
    assert_eq!(
        error.to_string().lines().next(),
        Some("1 of 3 events failed to start playbooks.")
    );
    let output = error.output().unwrap();
    assert_eq!(output.events.len(), 3);
    let errors: Vec<&str> = output
        .execution_reports
        .iter()
        .map(|r| r.error.as_str())
        .collect();
    assert_eq!(errors, ["", "injected failure", ""]);
    for report in &output.execution_reports {
        let started = creator
            .launcher()
            .execution_input(&report.statemachinearn, &report.execution_id)
            .await
            .unwrap();
        assert_eq!(started.is_some(), report.error.is_empty());
        assert!(
            creator
                .store()
                .results(&report.execution_id)
                .await
                .unwrap()
                .is_some()
        );
    }
}

/// Two invocations racing on the same dedup hash yield exactly one original.
pub(crate) async fn concurrent_invocations_make_one_original(fixture: &impl Fixture) {
    for round in 0..6 {
        let input = json!({
            "event_type": "Race",
            "playbook": "InvestigateLogin",
            "details": {"username": format!("racer-{round}")},
            "dedup_keys": ["username"],
        });
        let (a, b) = (fixture.creator(), fixture.creator());
        let (left, right) = tokio::join!(
            tokio::spawn({
                let input = input.clone();
                async move { a.create_events(&input).await }
            }),
            tokio::spawn({
                let input = input.clone();
                async move { b.create_events(&input).await }
            }),
        );
        let outputs: Vec<CreateEventsOutput> =
            vec![left.unwrap().unwrap(), right.unwrap().unwrap()];
        let metas: Vec<_> = outputs.iter().map(|o| &o.events[0].metadata).collect();
        let originals: Vec<_> = metas.iter().filter(|m| !m.is_duplicate).collect();
        assert_eq!(originals.len(), 1, "round {round}: {metas:?}");
        let original = originals[0];
        assert!(
            metas
                .iter()
                .all(|m| m.investigation_id == original.investigation_id)
        );
        let details = input["details"].as_object().unwrap();
        let hash = dedup_hash("Race", details, &["username".into()]).unwrap();
        let mapping = fixture.store().dedup_mapping(&hash).await.unwrap();
        assert_eq!(mapping.as_deref(), Some(original.id.as_str()));
    }
}

pub(crate) async fn floats_and_nested_json_round_trip(fixture: &impl Fixture) {
    let creator = fixture.creator();
    let details = json!({
        "username": "bruce.wayne",
        "latitude": 34.7725,
        "longitude": -113.7266,
        "tiny": 1.5e-7,
        "count": 20,
        "big": 9007199254740993_u64,
        "negative": -3,
        "flag": true,
        "nothing": null,
        "empty": "",
        "nested": {"list": [1, 2.5, "three", {"deep": [false, null]}], "empty": {}},
    });
    let input = json!({
        "event_type": "Floats",
        "playbook": "InvestigateLogin",
        "details": [details.clone()],
        "data_types": {"latitude": "float"},
        "event_meta": {"score": 0.25, "tags": ["a", "b"]},
    });
    let output = creator.create_events(&input).await.unwrap();
    let meta = &output.events[0].metadata;
    let stored = creator.store().event(&meta.id).await.unwrap().unwrap();
    assert_eq!(stored["details"], details);
    assert_eq!(stored["event_meta"], input["event_meta"]);
    assert_eq!(stored["data_types"], input["data_types"]);
    let results = creator
        .store()
        .results(&meta.execution_id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(results["results"]["artifacts"]["event"]["details"], details);
    let started = creator
        .launcher()
        .execution_input(
            &output.execution_reports[0].statemachinearn,
            &meta.execution_id,
        )
        .await
        .unwrap()
        .unwrap();
    assert_eq!(started, results["results"]);
}

pub(crate) async fn no_dedup_keys_means_no_deduplication(fixture: &impl Fixture) {
    let creator = fixture.creator();
    let input = json!({
        "event_type": "NoDedup",
        "playbook": "InvestigateLogin",
        "details": [{"username": "u"}, {"username": "u"}],
    });
    let output = creator.create_events(&input).await.unwrap();
    assert!(
        output
            .events
            .iter()
            .all(|e| !e.metadata.is_duplicate && e.metadata.status_ == Status::Open)
    );
    assert_ne!(
        output.events[0].metadata.investigation_id,
        output.events[1].metadata.investigation_id
    );
    let hash = dedup_hash("NoDedup", &serde_json::Map::new(), &[]).unwrap();
    assert_eq!(creator.store().dedup_mapping(&hash).await.unwrap(), None);
}

/// The input of each captured error case, rebuilt on top of `MOCK_EVENT`.
fn error_case_input(name: &str) -> Value {
    let mut input = mock_event();
    let fields = input.as_object_mut().unwrap();
    match name {
        "created_at_bad" => fields.insert("created_at".into(), json!("bad_date")),
        "details_str" => fields.insert("details".into(), json!("a string")),
        "data_types_str" => fields.insert("data_types".into(), json!("a string")),
        "event_meta_str" => fields.insert("event_meta".into(), json!("a string")),
        "event_type_list" => fields.insert("event_type".into(), json!(["x"])),
        "playbook_list" => fields.insert("playbook".into(), json!(["x"])),
        "dedup_keys_str" => fields.insert("dedup_keys".into(), json!("username")),
        "dedup_key_missing" => fields.insert("dedup_keys".into(), json!(["nope"])),
        "dedup_value_int" => fields.insert("details".into(), json!({"username": 5})),
        "missing_event_type" => fields.remove("event_type"),
        "missing_playbook" => fields.remove("playbook"),
        "missing_details" => fields.remove("details"),
        "float_in_details" => {
            fields.insert("details".into(), json!({"username": "u", "score": 1.5}))
        }
        other => panic!("unknown error case {other}"),
    };
    input
}

pub(crate) async fn invalid_input_has_the_original_errors(fixture: &impl Fixture) {
    let creator = fixture.creator();
    let capture = capture();
    let cases = capture["error_cases"].as_object().unwrap();
    assert_eq!(cases.len(), 13);
    for (name, case) in cases {
        let result = creator.create_events(&error_case_input(name)).await;
        if name == "float_in_details" {
            // The original cannot store floats; this port stores them as DynamoDB numbers.
            assert!(result.is_ok(), "{name}: {result:?}");
            continue;
        }
        let error = result.unwrap_err();
        assert!(matches!(error, Error::InvalidEvent(_)), "{name}: {error:?}");
        assert_eq!(
            error.to_string(),
            case["message"].as_str().unwrap(),
            "{name}"
        );
    }
}

pub(crate) async fn invalid_later_detail_writes_nothing(fixture: &impl Fixture) {
    let creator = fixture.creator();
    let mut input = mock_event();
    input["details"] = json!([{"username": "first"}, {"user": "no username"}]);
    let error = creator.create_events(&input).await.unwrap_err();
    assert_eq!(error.to_string(), "'username'");
    let first = json!({"username": "first"});
    let hash = dedup_hash(
        "ParamsToStateMachineTester",
        first.as_object().unwrap(),
        &["username".into()],
    )
    .unwrap();
    assert_eq!(creator.store().dedup_mapping(&hash).await.unwrap(), None);
}

pub(crate) async fn closing_an_unknown_investigation_fails(fixture: &impl Fixture) {
    let store = fixture.store();
    let error = store
        .set_investigation_status("no-such-id", Status::Closed)
        .await
        .unwrap_err();
    assert_eq!(
        error.to_string(),
        "storage error: no event with id no-such-id"
    );
    assert_eq!(error.storage_kind(), Some(StorageErrorKind::NotFound));
    assert!(store.event("no-such-id").await.unwrap().is_none());
}

fn launch_kind(error: &Error) -> LaunchErrorKind {
    match error {
        Error::Launch(launch) => launch.kind(),
        other => panic!("{other:?}"),
    }
}

/// A start at a state machine that does not exist, and a second start of an execution name
/// with another input, fail with kinds a caller can match on, whichever backend runs.
pub(crate) async fn launch_failures_have_kinds(fixture: &impl Fixture) {
    let launcher = fixture.launcher();
    let arns = fixture.arns();
    let missing = launcher
        .start_execution(&arns.arn("NotDeployed"), "kinds-1", "{}")
        .await
        .unwrap_err();
    assert_eq!(
        launch_kind(&missing),
        LaunchErrorKind::StateMachineDoesNotExist
    );
    assert!(missing.to_string().contains("(StateMachineDoesNotExist)"));

    let arn = arns.arn("InvestigateLogin");
    launcher
        .start_execution(&arn, "kinds-2", r#"{"n":1}"#)
        .await
        .unwrap();
    let again = launcher
        .start_execution(&arn, "kinds-2", r#"{"n":2}"#)
        .await
        .unwrap_err();
    assert_eq!(launch_kind(&again), LaunchErrorKind::ExecutionAlreadyExists);
}

/// With 16 events in flight, the store fails for event 5 alone: no event starts after the
/// failure, the ones in flight finish, and the error reports every written event in batch
/// order (at least events 0 to 4, which started before 5; none from 21 on, which could only
/// start after it), each with its records.
pub(crate) async fn concurrent_storage_failure_reports_every_written_event(fixture: &impl Fixture) {
    const CONCURRENCY: usize = 16;
    const FAILING: usize = 5;
    let tag = uuid::Uuid::new_v4().simple().to_string();
    let details: Vec<Value> = (0..40)
        .map(|i| json!({"alert": format!("{tag}-{}", i % 10), "n": i, "fail": i == FAILING}))
        .collect();
    let input = json!({
        "event_type": "Concurrent faults", "playbook": "InvestigateLogin",
        "details": details, "dedup_keys": ["alert"],
    });
    let store = FailOnDetail(fixture.store());
    let creator =
        EventCreator::new(store, fixture.launcher(), fixture.arns()).with_concurrency(CONCURRENCY);
    let error = creator.create_events(&input).await.unwrap_err();
    assert!(
        matches!(error, Error::Incomplete { total: 40, .. }),
        "{error}"
    );
    assert_eq!(error.storage_kind(), Some(StorageErrorKind::Unavailable));
    let output = error.output().unwrap();
    let written: Vec<u64> = output
        .events
        .iter()
        .map(|e| e.event.details["n"].as_u64().unwrap())
        .collect();
    assert!(written.windows(2).all(|w| w[0] < w[1]), "{written:?}");
    assert!(!written.contains(&(FAILING as u64)), "{written:?}");
    for before in 0..FAILING as u64 {
        assert!(
            written.contains(&before),
            "{before} is missing: {written:?}"
        );
    }
    assert!(
        written.iter().all(|&n| n < (FAILING + CONCURRENCY) as u64),
        "{written:?}"
    );
    assert!(
        error
            .to_string()
            .contains(&format!("({} of 40 events recorded", written.len())),
        "{error}"
    );
    check_records(&fixture.store(), &fixture.launcher(), output).await;
}
