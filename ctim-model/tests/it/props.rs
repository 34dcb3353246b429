//! Property tests: whatever the constructors can build serialises, validates (ours and the
//! oracle's), and reads back equal.

use ctim_model::{
    Confidence, Disposition, Docs, ExternalReference, Id, Indicator, IndicatorType, Judgement,
    KillChainPhase, Observable, ObservableType, ObserveBundle, ObservedTime, Relationship,
    RelationshipType, Sensor, SensorCoordinates, Severity, Sighting, Text, Timestamp, Tlp,
    ValidTime, Verdict,
};
use proptest::prelude::*;
use serde::Serialize;
use serde::de::DeserializeOwned;
use time::{Duration, OffsetDateTime};

use crate::support::{definition, oracle_errors, our_errors};

fn text() -> impl Strategy<Value = Text> {
    "[A-Za-z0-9 ._:/-]{0,24}".prop_map(Text::from)
}

fn opt_text() -> impl Strategy<Value = Option<Text>> {
    proptest::option::of(text())
}

fn timestamp() -> impl Strategy<Value = Timestamp> {
    (0i64..4_000_000_000, 0u32..1_000).prop_map(|(seconds, millis)| {
        let at = OffsetDateTime::from_unix_timestamp(seconds).unwrap()
            + Duration::milliseconds(millis.into());
        Timestamp::from(at)
    })
}

/// A start and an end no earlier than it.
fn span() -> impl Strategy<Value = (Timestamp, Timestamp)> {
    (timestamp(), 0i64..100_000_000)
        .prop_map(|(start, seconds)| (start, start.saturating_add(Duration::seconds(seconds))))
}

fn valid_time() -> impl Strategy<Value = ValidTime> {
    (span(), any::<bool>(), any::<bool>()).prop_map(|((start, end), has_start, has_end)| {
        ValidTime {
            start_time: has_start.then_some(start),
            end_time: has_end.then_some(end),
        }
    })
}

fn observed_time() -> impl Strategy<Value = ObservedTime> {
    (span(), any::<bool>()).prop_map(|((start, end), has_end)| {
        if has_end {
            ObservedTime::between(start, end)
        } else {
            ObservedTime::new(start)
        }
    })
}

fn observable() -> impl Strategy<Value = Observable> {
    (proptest::sample::select(ObservableType::KNOWN), text())
        .prop_map(|(kind, value)| Observable::new(ObservableType::parse(kind), value))
}

fn id(kind: &'static str) -> impl Strategy<Value = Id> {
    "[a-z0-9]{1,12}".prop_map(move |name| Id::transient_from_name(kind, &name))
}

fn disposition() -> impl Strategy<Value = Disposition> {
    proptest::sample::select(Disposition::ALL.to_vec())
}

fn confidence() -> impl Strategy<Value = Confidence> {
    proptest::sample::select(vec![
        Confidence::High,
        Confidence::Medium,
        Confidence::Low,
        Confidence::Info,
        Confidence::None,
        Confidence::Unknown,
    ])
}

fn severity() -> impl Strategy<Value = Severity> {
    proptest::sample::select(vec![
        Severity::Critical,
        Severity::High,
        Severity::Medium,
        Severity::Low,
        Severity::Info,
        Severity::None,
        Severity::Unknown,
    ])
}

fn tlp() -> impl Strategy<Value = Option<Tlp>> {
    proptest::option::of(proptest::sample::select(vec![
        Tlp::White,
        Tlp::Green,
        Tlp::Amber,
        Tlp::Red,
    ]))
}

fn external_references() -> impl Strategy<Value = Vec<ExternalReference>> {
    proptest::collection::vec((text(), opt_text(), opt_text()), 0..2).prop_map(|refs| {
        refs.into_iter()
            .map(|(source_name, description, url)| {
                let mut reference = ExternalReference::new(source_name);
                reference.description = description;
                reference.url = url;
                reference
            })
            .collect()
    })
}

fn verdict() -> impl Strategy<Value = Verdict> {
    (
        disposition(),
        observable(),
        valid_time(),
        proptest::option::of(id("judgement")),
    )
        .prop_map(|(d, o, v, judgement_id)| {
            let mut verdict = Verdict::new(d, o, v);
            verdict.judgement_id = judgement_id;
            verdict
        })
}

fn judgement() -> impl Strategy<Value = Judgement> {
    (
        (
            id("judgement"),
            observable(),
            disposition(),
            text(),
            confidence(),
            severity(),
            0u8..=100,
            valid_time(),
        ),
        (
            opt_text(),
            opt_text(),
            tlp(),
            proptest::option::of(timestamp()),
            external_references(),
            proptest::collection::vec(text(), 0..3),
        ),
    )
        .prop_map(
            |(
                (id, o, d, source, c, s, p, v),
                (reason, source_uri, tlp, timestamp, refs, external_ids),
            )| {
                let mut judgement = Judgement::new(id, o, d, source, c, s, p, v);
                judgement.reason = reason;
                judgement.source_uri = source_uri;
                judgement.tlp = tlp;
                judgement.timestamp = timestamp;
                judgement.external_references = refs;
                judgement.external_ids = external_ids;
                judgement
            },
        )
}

fn sighting() -> impl Strategy<Value = Sighting> {
    (
        (id("sighting"), 1u64..1_000, confidence(), observed_time()),
        (
            opt_text(),
            proptest::collection::vec(observable(), 0..3),
            opt_text(),
            tlp(),
            proptest::option::of(severity()),
        ),
        (
            proptest::option::of(proptest::sample::select(Sensor::KNOWN)),
            proptest::option::of(observed_time()),
            proptest::option::of(any::<bool>()),
        ),
    )
        .prop_map(
            |(
                (id, count, c, t),
                (description, observables, source, tlp, severity),
                (sensor, activity, internal),
            )| {
                let mut sighting = Sighting::new(id, count, c, t);
                sighting.description = description;
                sighting.observables = observables.clone();
                sighting.source = source;
                sighting.tlp = tlp;
                sighting.severity = severity;
                sighting.sensor = sensor.map(Sensor::parse);
                sighting.sensor_coordinates = sensor.map(|s| SensorCoordinates {
                    kind: Sensor::parse(s),
                    observables,
                    os: None,
                });
                sighting.activity_interval = activity;
                sighting.internal = internal;
                sighting
            },
        )
}

fn indicator() -> impl Strategy<Value = Indicator> {
    (
        (id("indicator"), text(), valid_time()),
        (
            opt_text(),
            opt_text(),
            opt_text(),
            proptest::collection::vec(text(), 0..3),
            tlp(),
        ),
        (
            proptest::option::of(confidence()),
            proptest::option::of(any::<bool>()),
            proptest::option::of(proptest::sample::select(
                KillChainPhase::LOCKHEED_MARTIN_PHASES.to_vec(),
            )),
        ),
    )
        .prop_map(
            |(
                (id, producer, v),
                (title, short, description, tags, tlp),
                (confidence, negate, phase),
            )| {
                let mut indicator = Indicator::new(id, producer, v);
                indicator.title = title;
                indicator.short_description = short;
                indicator.description = description;
                indicator.tags = tags;
                indicator.tlp = tlp;
                indicator.confidence = confidence;
                indicator.negate = negate;
                indicator.kill_chain_phases = phase
                    .into_iter()
                    .map(KillChainPhase::lockheed_martin)
                    .collect();
                indicator.indicator_type = vec![IndicatorType::IpWatchlist];
                indicator
            },
        )
}

fn relationship() -> impl Strategy<Value = Relationship> {
    (
        id("relationship"),
        proptest::sample::select(RelationshipType::KNOWN),
        id("sighting"),
        id("indicator"),
        opt_text(),
        tlp(),
    )
        .prop_map(|(id, kind, source, target, title, tlp)| {
            let mut relationship =
                Relationship::new(id, RelationshipType::parse(kind), source, target);
            relationship.title = title;
            relationship.tlp = tlp;
            relationship
        })
}

/// Serialises, checks with our schema and the oracle, and reads back.
fn check<T: Serialize + DeserializeOwned + PartialEq + std::fmt::Debug>(
    kind: &str,
    entity: &T,
) -> Result<(), TestCaseError> {
    let written = serde_json::to_value(entity).unwrap();
    prop_assert_eq!(
        our_errors(kind, &written),
        Vec::<String>::new(),
        "our schema on {}",
        written
    );
    prop_assert_eq!(
        oracle_errors(&definition(kind), &written),
        Vec::<String>::new(),
        "oracle on {}",
        written
    );
    let back: T = serde_json::from_value(written).unwrap();
    prop_assert_eq!(&back, entity);
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn verdicts(v in verdict()) {
        prop_assert!(v.validate().is_ok(), "{:?}", v.validate());
        check("verdict", &v)?;
    }

    #[test]
    fn judgements(j in judgement()) {
        prop_assert!(j.validate().is_ok(), "{:?}", j.validate());
        check("judgement", &j)?;
    }

    #[test]
    fn sightings(s in sighting()) {
        prop_assert!(s.validate().is_ok(), "{:?}", s.validate());
        check("sighting", &s)?;
    }

    #[test]
    fn indicators(i in indicator()) {
        prop_assert!(i.validate().is_ok(), "{:?}", i.validate());
        check("indicator", &i)?;
    }

    #[test]
    fn relationships(r in relationship()) {
        prop_assert!(r.validate().is_ok(), "{:?}", r.validate());
        check("relationship", &r)?;
    }

    #[test]
    fn bundles(vs in proptest::collection::vec(verdict(), 0..3), js in proptest::collection::vec(judgement(), 0..3), ss in proptest::collection::vec(sighting(), 0..2)) {
        let mut bundle = ObserveBundle::default();
        bundle.verdicts = vs.into();
        bundle.judgements = js.into();
        bundle.sightings = ss.into();
        let written = serde_json::to_value(&bundle).unwrap();
        for (group, len) in [("verdicts", bundle.verdicts.len()), ("judgements", bundle.judgements.len()), ("sightings", bundle.sightings.len())] {
            prop_assert_eq!(written.get(group).is_some(), len > 0, "{} present iff non-empty", group);
        }
        prop_assert_eq!(oracle_errors("ModuleObserveBundle_subset", &written), Vec::<String>::new());
        prop_assert_eq!(our_errors("observe_bundle", &written), Vec::<String>::new());
        let back: ObserveBundle = serde_json::from_value(written).unwrap();
        prop_assert_eq!(back, bundle);
    }
}

/// One IP's worth of everything a relay emits, built the way relay-core builds it.
pub(crate) fn sample_bundle() -> ObserveBundle {
    let now = Timestamp::now();
    let week = ValidTime::between(now, now.saturating_add(Duration::days(7)));
    let ip = Observable::new(ObservableType::Ip, "192.0.2.1");
    let mut judgement = Judgement::new(
        Id::transient("judgement"),
        ip.clone(),
        Disposition::Suspicious,
        "Auth0 Signals Report",
        Confidence::High,
        Severity::Medium,
        90,
        week,
    );
    judgement.reason = Some("IP found on blocklist".into());
    let mut sighting = Sighting::new(
        Id::transient("sighting"),
        1,
        Confidence::High,
        ObservedTime::at(now),
    );
    sighting.observables = vec![ip.clone()];
    sighting.tlp = Some(Tlp::Amber);
    let indicator = Indicator::new(
        Id::transient_from_name("indicator", "Some Feed"),
        "Some producer",
        ValidTime::default(),
    );
    let relationship = Relationship::new(
        Id::transient("relationship"),
        RelationshipType::MemberOf,
        sighting.id.clone(),
        indicator.id.clone(),
    );
    let mut bundle = ObserveBundle::default();
    bundle.verdicts = vec![Verdict::new(Disposition::Suspicious, ip, week)].into();
    bundle.judgements = vec![judgement].into();
    bundle.indicators = Docs::from(vec![indicator]);
    bundle.sightings = vec![sighting].into();
    bundle.relationships = vec![relationship].into();
    bundle
}
