//! Faults: playbook starts that fail, and a store that fails part-way through a batch. Whatever
//! happens, the returned error and the stored records say exactly which events were started.

use std::time::{Duration, Instant};

use serde_json::{Value, json};
use socless_events::{Error, EventCreator, EventStore, PlaybookLauncher, dedup_hash};

use crate::fixture::Fixture;
use crate::inspect::{InspectLauncher, InspectStore};
use crate::wrappers::{
    DownStore, FailAfter, FailResults, LoseWriteAnswers, SlowNth, THROTTLED_START, ThrottleNth,
    check_records,
};

/// Three events with distinct dedup values, unique to `tag`.
pub(crate) fn three_events(tag: &str, playbook: &str) -> Value {
    json!({
        "event_type": "Faults",
        "playbook": playbook,
        "details": [
            {"username": format!("{tag}-a")},
            {"username": format!("{tag}-b")},
            {"username": format!("{tag}-c")},
        ],
        "dedup_keys": ["username"],
    })
}

/// The dedup hash of each detail of `input`.
pub(crate) fn hashes(input: &Value) -> Vec<String> {
    input["details"]
        .as_array()
        .unwrap()
        .iter()
        .map(|detail| {
            dedup_hash(
                input["event_type"].as_str().unwrap(),
                detail.as_object().unwrap(),
                &["username".into()],
            )
            .unwrap()
        })
        .collect()
}

/// The second start is throttled: the batch goes on, the error counts it, its report carries
/// the SDK's text, and its results item says `start_error`.
pub(crate) async fn throttled_start_is_reported_and_recorded(fixture: &impl Fixture) {
    let launcher = ThrottleNth::new(fixture.launcher(), 2);
    // The Nth call: the sequential run's order (concurrency 1); `concurrent.rs` tests the
    // concurrent contract.
    let creator = EventCreator::new(fixture.store(), launcher, fixture.arns()).with_concurrency(1);
    let input = three_events("throttled", "InvestigateLogin");
    let error = creator.create_events(&input).await.unwrap_err();
    assert_eq!(
        error.to_string().lines().next(),
        Some("1 of 3 events failed to start playbooks.")
    );
    let output = error.output().unwrap();
    let errors: Vec<&str> = output
        .execution_reports
        .iter()
        .map(|r| r.error.as_str())
        .collect();
    assert_eq!(errors, ["", THROTTLED_START, ""]);
    check_records(creator.store(), creator.launcher(), output).await;
    let results = creator
        .store()
        .results(&output.execution_reports[1].execution_id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(results["start_error"], THROTTLED_START);
}

/// No state machine (moto's real answer on AWS): every event is recorded, none started, and
/// each results item says why.
pub(crate) async fn missing_state_machine_is_recorded(fixture: &impl Fixture) {
    let creator = fixture.creator();
    let input = three_events("undeployed", "NotDeployed");
    let error = creator.create_events(&input).await.unwrap_err();
    assert_eq!(
        error.to_string().lines().next(),
        Some("3 of 3 events failed to start playbooks.")
    );
    let output = error.output().unwrap();
    for report in &output.execution_reports {
        assert!(
            report.error.contains("(StateMachineDoesNotExist)"),
            "{report:?}"
        );
    }
    check_records(creator.store(), creator.launcher(), output).await;
}

/// The store goes down after each possible number of writes in a batch whose second start is
/// throttled. Each time, the error lists exactly the events whose items were written, each
/// report says whether it started, the tables agree, and later events were not written.
pub(crate) async fn store_down_mid_batch_loses_nothing(fixture: &impl Fixture) {
    // Writes: event 1 (item, results), event 2 (item, results, start_error, release of its
    // dedup mapping), event 3 (item, results): eight in all.
    for budget in 0..=8 {
        let store = FailAfter::new(fixture.store(), DownStore, budget);
        let launcher = ThrottleNth::new(fixture.launcher(), 2);
        // Budgets count the sequential run's calls (concurrency 1); `concurrent.rs` tests the
        // concurrent contract.
        let creator = EventCreator::new(store, launcher, fixture.arns()).with_concurrency(1);
        let input = three_events(
            &format!("down-{budget}-{}", uuid::Uuid::new_v4()),
            "InvestigateLogin",
        );
        let error = creator.create_events(&input).await.unwrap_err();
        let output = error.output().unwrap();
        let recorded = output.events.len();
        let started = output
            .execution_reports
            .iter()
            .filter(|r| r.error.is_empty())
            .count();
        let (expected_recorded, expected_started) = [
            (0, 0),
            (1, 0),
            (1, 1),
            (2, 1),
            (2, 1),
            (2, 1),
            (2, 1),
            (3, 1),
            (3, 2),
        ][budget];
        assert_eq!(
            (recorded, started),
            (expected_recorded, expected_started),
            "budget {budget}: {error}"
        );
        if budget == 8 {
            assert!(matches!(error, Error::PlaybooksFailed { failed: 1, .. }));
        } else {
            let plural = if started == 1 { "" } else { "s" };
            assert_eq!(
                error.to_string(),
                format!(
                    "storage error: injected: the store is down ({recorded} of 3 events recorded, {started} playbook{plural} started)"
                ),
                "budget {budget}"
            );
        }
        if budget == 4 {
            // The start failed and the store went down before it could say so.
            assert_eq!(
                output.execution_reports[1].error,
                format!(
                    "{THROTTLED_START}; not recorded: storage error: injected: the store is down; dedup mapping not released: storage error: injected: the store is down"
                )
            );
        }
        if budget == 5 {
            // The start failed, and the store went down before its original gave up its
            // dedup mapping.
            assert_eq!(
                output.execution_reports[1].error,
                format!(
                    "{THROTTLED_START}; dedup mapping not released: storage error: injected: the store is down"
                )
            );
        }
        let healthy = fixture.store();
        check_records(&healthy, &fixture.launcher(), output).await;
        for hash in &hashes(&input)[recorded..] {
            assert_eq!(
                healthy.dedup_mapping(hash).await.unwrap(),
                None,
                "budget {budget}"
            );
        }
    }
}

/// One alert with a dedup key and one without, unique to `tag`.
fn keyed_and_unkeyed(tag: &str) -> (Value, Value) {
    let keyed = json!({
        "event_type": "Lost answers",
        "playbook": "InvestigateLogin",
        "details": [{"username": format!("{tag}-keyed")}],
        "dedup_keys": ["username"],
    });
    let unkeyed = json!({
        "event_type": "Lost answers",
        "playbook": "InvestigateLogin",
        "details": [{"username": format!("{tag}-unkeyed")}],
    });
    (keyed, unkeyed)
}

/// Issue 44, point 1: the store writes an events item (an original with its dedup mapping, or
/// an item without dedup keys) but the answer is lost. The item is read back: the event is
/// reported written, and its playbook starts, instead of being missing from the error while
/// its original swallows every later alert with its hash.
pub(crate) async fn a_write_whose_answer_is_lost_is_read_back(fixture: &impl Fixture) {
    let creator = EventCreator::new(
        LoseWriteAnswers {
            inner: fixture.store(),
            blind: false,
        },
        fixture.launcher(),
        fixture.arns(),
    );
    let (keyed, unkeyed) = keyed_and_unkeyed(&uuid::Uuid::new_v4().to_string());
    for input in [&keyed, &unkeyed] {
        let output = creator.create_events(input).await.unwrap();
        assert_eq!(output.execution_reports[0].error, "", "{input}");
        assert!(!output.events[0].metadata.is_duplicate);
        check_records(&fixture.store(), &fixture.launcher(), &output).await;
    }
    let hash = &hashes(&keyed)[0];
    let original = fixture.store().dedup_mapping(hash).await.unwrap().unwrap();
    // The next identical alert joins the investigation that did start.
    let again = fixture.creator().create_events(&keyed).await.unwrap();
    assert_eq!(again.events[0].metadata.investigation_id, original);

    // When the item cannot be read back either, the event is reported as unknown (not left
    // out as "not written"), nothing is started for it, and its dedup mapping, if it was
    // written, is given up.
    let blind = EventCreator::new(
        LoseWriteAnswers {
            inner: fixture.store(),
            blind: true,
        },
        fixture.launcher(),
        fixture.arns(),
    );
    let (keyed, _) = keyed_and_unkeyed(&uuid::Uuid::new_v4().to_string());
    let error = blind.create_events(&keyed).await.unwrap_err();
    assert!(
        matches!(error, Error::Incomplete { total: 1, .. }),
        "{error}"
    );
    assert_eq!(
        error.storage_kind(),
        Some(socless_events::StorageErrorKind::Unavailable)
    );
    let output = error.output().unwrap();
    assert_eq!(
        output.execution_reports[0].error,
        "playbook not started: unknown whether the events item was written: storage error: injected: the answer was lost (timed out)"
    );
    check_records(&fixture.store(), &fixture.launcher(), output).await;
    let hash = &hashes(&keyed)[0];
    assert_eq!(fixture.store().dedup_mapping(hash).await.unwrap(), None);
}

/// Issue 44, point 2: an original whose playbook did not start gives up its dedup mapping,
/// so re-sending the alert opens a new investigation and starts its playbook instead of
/// making a duplicate of one that nothing works on.
pub(crate) async fn an_original_whose_playbook_did_not_start_gives_up_its_mapping(
    fixture: &impl Fixture,
) {
    let tag = uuid::Uuid::new_v4().to_string();
    let input = json!({
        "event_type": "Unstarted",
        "playbook": "InvestigateLogin",
        "details": [{"username": format!("{tag}-a")}],
        "dedup_keys": ["username"],
    });
    let hash = &hashes(&input)[0];
    let launcher = ThrottleNth::new(fixture.launcher(), 1);
    let creator = EventCreator::new(fixture.store(), launcher, fixture.arns());
    let error = creator.create_events(&input).await.unwrap_err();
    assert!(
        matches!(error, Error::PlaybooksFailed { failed: 1, .. }),
        "{error}"
    );
    let first = &error.output().unwrap().events[0].metadata;
    assert!(!first.is_duplicate);
    assert_eq!(fixture.store().dedup_mapping(hash).await.unwrap(), None);

    let resent = fixture.creator().create_events(&input).await.unwrap();
    let second = &resent.events[0].metadata;
    assert!(!second.is_duplicate, "{second:?}");
    assert_ne!(second.investigation_id, first.investigation_id);
    assert_eq!(
        fixture
            .store()
            .dedup_mapping(hash)
            .await
            .unwrap()
            .as_deref(),
        Some(second.id.as_str())
    );
    check_records(&fixture.store(), &fixture.launcher(), &resent).await;

    // The same when its results item could not be written (the playbook is not started), and
    // the batch stops there.
    let details: Vec<Value> = (0..2)
        .map(|i| json!({"username": format!("{tag}-results-{i}")}))
        .collect();
    let input = json!({
        "event_type": "Unstarted", "playbook": "InvestigateLogin",
        "details": details, "dedup_keys": ["username"],
    });
    let creator = EventCreator::new(
        FailResults(fixture.store()),
        fixture.launcher(),
        fixture.arns(),
    )
    .with_concurrency(1);
    let error = creator.create_events(&input).await.unwrap_err();
    let output = error.output().unwrap();
    assert_eq!(output.events.len(), 1, "{error}");
    assert!(
        output.execution_reports[0]
            .error
            .starts_with("playbook not started: "),
        "{error}"
    );
    check_records(&fixture.store(), &fixture.launcher(), output).await;
    for hash in hashes(&input) {
        assert_eq!(fixture.store().dedup_mapping(&hash).await.unwrap(), None);
    }
}

/// Issue 44, point 4: numbers DynamoDB cannot store (out of its range, or integers beyond 64
/// bits that JSON parsing rounded) are refused before anything is written, on every backend.
pub(crate) async fn unstorable_numbers_write_nothing(fixture: &impl Fixture) {
    let creator = fixture.creator();
    for number in ["1e300", "1e-200", "123456789012345678901"] {
        let tag = uuid::Uuid::new_v4().to_string();
        let mut input = json!({
            "event_type": "Numbers",
            "playbook": "InvestigateLogin",
            "details": [{"username": format!("{tag}-a")}, {"username": format!("{tag}-b")}],
            "dedup_keys": ["username"],
        });
        input["details"][1]["n"] = serde_json::from_str(number).unwrap();
        let error = creator.create_events(&input).await.unwrap_err();
        assert!(matches!(error, Error::InvalidEvent(_)), "{number}: {error}");
        for hash in hashes(&input) {
            assert_eq!(fixture.store().dedup_mapping(&hash).await.unwrap(), None);
        }
    }
}

/// Issue 44, point 5: with a deadline, no event begins once it has passed; the events done
/// are answered (`Incomplete`, each with its records) and the rest were not written.
pub(crate) async fn a_deadline_stops_the_batch_with_what_was_done(fixture: &impl Fixture) {
    let tag = uuid::Uuid::new_v4().to_string();
    let details: Vec<Value> = (0..5)
        .map(|i| json!({"username": format!("{tag}-{i}")}))
        .collect();
    let input = json!({
        "event_type": "Deadline", "playbook": "InvestigateLogin",
        "details": details, "dedup_keys": ["username"],
    });
    let deadline = Instant::now() + Duration::from_secs(1);
    // The second start takes until the deadline: the third event must not begin.
    let launcher = SlowNth {
        inner: fixture.launcher(),
        nth: 2,
        until: tokio::time::Instant::from_std(deadline),
        starts: Default::default(),
    };
    let creator = EventCreator::new(fixture.store(), launcher, fixture.arns())
        .with_concurrency(1)
        .with_deadline(deadline)
        .with_deadline_margin(Duration::ZERO);
    let error = creator.create_events(&input).await.unwrap_err();
    let Error::Incomplete { source, total, .. } = &error else {
        panic!("{error:?}");
    };
    assert!(matches!(**source, Error::DeadlineReached), "{source:?}");
    assert_eq!(*total, 5);
    assert_eq!(
        error.to_string(),
        "deadline reached: events not begun were not written (2 of 5 events recorded, 2 playbooks started)"
    );
    assert_eq!(error.storage_kind(), None);
    let output = error.output().unwrap();
    check_records(&fixture.store(), &fixture.launcher(), output).await;
    for hash in &hashes(&input)[2..] {
        assert_eq!(fixture.store().dedup_mapping(hash).await.unwrap(), None);
    }

    // A deadline already past: nothing is written.
    let creator = fixture.creator().with_deadline(Instant::now());
    let error = creator
        .create_events(&three_events(&tag, "InvestigateLogin"))
        .await
        .unwrap_err();
    assert_eq!(
        error.to_string(),
        "deadline reached: events not begun were not written (0 of 3 events recorded, 0 playbooks started)"
    );
}

/// Issue 44, point 6: starting an execution again with the same name and input (a retry whose
/// first answer was lost) counts as started, on every backend; another input does not.
pub(crate) async fn a_repeated_start_with_the_same_input_is_started(fixture: &impl Fixture) {
    let launcher = fixture.launcher();
    let arn = fixture.arns().arn("InvestigateLogin");
    let name = uuid::Uuid::new_v4().to_string();
    launcher
        .start_execution(&arn, &name, r#"{"n":1}"#)
        .await
        .unwrap();
    launcher
        .start_execution(&arn, &name, r#"{"n":1}"#)
        .await
        .unwrap();
    let input = launcher.execution_input(&arn, &name).await.unwrap();
    assert_eq!(input, Some(json!({"n": 1})));
    let other = launcher
        .start_execution(&arn, &name, r#"{"n":2}"#)
        .await
        .unwrap_err();
    assert!(
        other.to_string().contains("(ExecutionAlreadyExists)"),
        "{other}"
    );
}
