//! Load: many concurrent `create_events` calls with overlapping dedup keys.

use std::collections::{HashMap, HashSet};

use serde_json::json;
use socless_events::{CreateEventsOutput, EventStore, dedup_hash};

use crate::fixture::Fixture;
use crate::wrappers::check_records;

const TASKS: usize = 8;
const BATCHES: usize = 3;
const PER_BATCH: usize = 4;
/// Few users, so most events of the run share a hash with events of other tasks.
const USERS: usize = 5;

/// 8 tasks, each with its own clients, send 3 batches of 4 events drawn from 5 users: every
/// hash has exactly one original, every duplicate points at it, and all 96 events are stored
/// and started.
pub(crate) async fn concurrent_batches_lose_nothing(fixture: &impl Fixture) {
    let run = uuid::Uuid::new_v4().simple().to_string();
    let mut tasks = Vec::new();
    for task in 0..TASKS {
        let creator = fixture.creator();
        let run = run.clone();
        tasks.push(tokio::spawn(async move {
            let mut outputs = Vec::new();
            for batch in 0..BATCHES {
                let details: Vec<_> = (0..PER_BATCH)
                    .map(|i| json!({"username": format!("{run}-{}", (task + batch + i) % USERS), "seq": [task, batch, i]}))
                    .collect();
                let input = json!({
                    "event_type": "Load",
                    "playbook": "InvestigateLogin",
                    "details": details,
                    "dedup_keys": ["username"],
                });
                outputs.push(creator.create_events(&input).await.unwrap());
            }
            outputs
        }));
    }
    let mut outputs: Vec<CreateEventsOutput> = Vec::new();
    for task in tasks {
        outputs.extend(task.await.unwrap());
    }

    let events: Vec<_> = outputs.iter().flat_map(|o| &o.events).collect();
    assert_eq!(events.len(), TASKS * BATCHES * PER_BATCH);
    let ids: HashSet<_> = events.iter().map(|e| &e.metadata.id).collect();
    let executions: HashSet<_> = events.iter().map(|e| &e.metadata.execution_id).collect();
    assert_eq!((ids.len(), executions.len()), (events.len(), events.len()));

    let mut by_hash: HashMap<String, Vec<_>> = HashMap::new();
    for event in &events {
        let hash = dedup_hash("Load", &event.event.details, &["username".into()]).unwrap();
        by_hash.entry(hash).or_default().push(&event.metadata);
    }
    assert_eq!(by_hash.len(), USERS);
    let store = fixture.store();
    for (hash, metas) in &by_hash {
        let originals: Vec<_> = metas.iter().filter(|m| !m.is_duplicate).collect();
        assert_eq!(originals.len(), 1, "{hash}: {metas:?}");
        let original = &originals[0].id;
        assert!(
            metas.iter().all(|m| &m.investigation_id == original),
            "{hash}"
        );
        let mapping = store.dedup_mapping(hash).await.unwrap();
        assert_eq!(mapping.as_ref(), Some(original), "{hash}");
    }
    let launcher = fixture.launcher();
    for output in &outputs {
        assert!(output.execution_reports.iter().all(|r| r.error.is_empty()));
        check_records(&store, &launcher, output).await;
    }
}
