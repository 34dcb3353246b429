//! Faults: playbook starts that fail, and a store that fails part-way through a batch. Whatever
//! happens, the returned error and the stored records say exactly which events were started.

use serde_json::{Value, json};
use socless_events::{Error, EventCreator, EventStore, dedup_hash};

use crate::fixture::Fixture;
use crate::inspect::InspectStore;
use crate::wrappers::{DownStore, FailAfter, THROTTLED_START, ThrottleNth, check_records};

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
    // Writes: event 1 (item, results), event 2 (item, results, start_error), event 3 (item,
    // results): seven in all.
    for budget in 0..=7 {
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
            (3, 1),
            (3, 2),
        ][budget];
        assert_eq!(
            (recorded, started),
            (expected_recorded, expected_started),
            "budget {budget}: {error}"
        );
        if budget == 7 {
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
                    "{THROTTLED_START}; not recorded: storage error: injected: the store is down"
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
