//! The mapping rules: Auth0 Signals reports and blocklist metadata to CTIM.
//!
//! Pure functions of their inputs and the query time; no I/O.

use std::borrow::Cow;
use std::collections::HashSet;
use std::sync::Arc;

use ctim_model::{
    Confidence, Disposition, Id, Indicator, Judgement, Observable, ObservableType, ObserveBundle,
    ObservedTime, Relationship, RelationshipType, Severity, Sighting, Timestamp, Tlp, ValidTime,
    Verdict,
};
use signals_client::{IpReport, ListKind, ListMetadata};

use super::IpObservable;
use super::refer::report_url;

/// `/observe/observables` data.
pub(crate) type ObserveData = ObserveBundle;

/// When the question was asked: sightings are observed now, verdicts and judgements hold for
/// a week from now.
#[derive(Debug, Clone, Copy)]
pub(crate) struct QueryTime {
    now: Timestamp,
    week: ValidTime,
}

impl QueryTime {
    pub(crate) fn now() -> Self {
        Self::at(Timestamp::now())
    }

    pub(crate) fn at(now: Timestamp) -> Self {
        let week = ValidTime::between(now, now.saturating_add(time::Duration::days(7)));
        Self { now, week }
    }
}

const JUDGEMENT_SOURCE: &str = "Auth0 Signals Report";

/// Reads one part's score out of a report.
type PartScore = fn(&IpReport) -> Option<i64>;

/// A report's parts that judge an IP, with their reasons, in the order judgements are reported.
const JUDGED_PARTS: [(&str, PartScore); 3] = [
    ("Associated hostname found on blocklist", |r| {
        r.baddomain.score
    }),
    ("IP found on blocklist", |r| r.badip.score),
    ("IP found on blocklist in recent past", |r| r.history.score),
];

fn observable(o: &IpObservable) -> Observable {
    Observable::new(ObservableType::Ip, o.observable.value.clone())
}

/// `fullip.score` 0 or above is Unknown, -1 and -2 Suspicious, -3 and below Malicious.
pub(crate) fn disposition(score: Option<i64>) -> Disposition {
    match score.unwrap_or(0) {
        0.. => Disposition::Unknown,
        -2..=-1 => Disposition::Suspicious,
        _ => Disposition::Malicious,
    }
}

/// Sensitivity "1" is High, "5" Medium, "10" Info; anything else Unknown.
pub(crate) fn severity(sensitivity: Option<&str>) -> Severity {
    match sensitivity.map(str::trim) {
        Some("1") => Severity::High,
        Some("5") => Severity::Medium,
        Some("10") => Severity::Info,
        _ => Severity::Unknown,
    }
}

pub(crate) fn verdict(o: &IpObservable, report: &IpReport, time: &QueryTime) -> Verdict {
    Verdict::new(disposition(report.score), observable(o), time.week)
}

/// Adds everything `/observe/observables` says about one IP to `data`.
///
/// `metadata` finds a list's metadata; a list without it (its lookup failed) is skipped.
/// An indicator is added once per response, however many IPs are on its list.
pub(crate) fn observe(
    data: &mut ObserveData,
    o: &IpObservable,
    report: &IpReport,
    time: &QueryTime,
    limit: usize,
    metadata: impl Fn(ListKind, &str) -> Option<Arc<ListMetadata>>,
) {
    let ip_observable = observable(o);
    data.verdicts.push(verdict(o, report, time));
    let source_uri: Cow<'static, str> = report_url(&o.ip).into();
    for (reason, score) in JUDGED_PARTS {
        if score(report).is_some_and(|s| s < 0) {
            let mut judgement = Judgement::new(
                Id::transient("judgement"),
                ip_observable.clone(),
                Disposition::Suspicious,
                JUDGEMENT_SOURCE,
                Confidence::High,
                Severity::Medium,
                90,
                time.week,
            );
            judgement.reason = Some(reason.into());
            judgement.source_uri = Some(source_uri.clone());
            data.judgements.push(judgement);
        }
    }

    let mut indicators: HashSet<Id> = data
        .indicators
        .as_slice()
        .iter()
        .map(|i| i.id.clone())
        .collect();
    for (kind, id) in report.blocklists().take(limit) {
        let Some(list) = metadata(kind, id) else {
            continue;
        };
        let list = list.as_ref();
        let sighting = sighting(&ip_observable, list, time);
        let indicator_id = Id::transient_from_name("indicator", &list.name);
        data.relationships.push(Relationship::new(
            Id::transient("relationship"),
            RelationshipType::MemberOf,
            sighting.id.clone(),
            indicator_id.clone(),
        ));
        data.sightings.push(sighting);
        if indicators.insert(indicator_id.clone()) {
            data.indicators.push(indicator(indicator_id, list));
        }
    }
}

fn sighting(ip: &Observable, list: &ListMetadata, time: &QueryTime) -> Sighting {
    let mut sighting = Sighting::new(
        Id::transient("sighting"),
        1,
        Confidence::High,
        ObservedTime::at(time.now),
    );
    sighting.description = Some("Found on blocklist".into());
    sighting.observables = vec![ip.clone()];
    sighting.source = list.source.clone().map(Cow::Owned);
    sighting.source_uri = list.site.clone().map(Cow::Owned);
    sighting.tlp = Some(if list.is_public() {
        Tlp::White
    } else {
        Tlp::Amber
    });
    sighting.severity = Some(severity(list.sensitivity.as_deref()));
    sighting
}

fn indicator(id: Id, list: &ListMetadata) -> Indicator {
    let producer = list.source.clone().unwrap_or_else(|| list.name.clone());
    let mut indicator = Indicator::new(id, producer, ValidTime::default());
    indicator.title = Some(list.name.clone().into());
    indicator.short_description = Some(format!("Feed: {}", list.name).into());
    indicator.description = list.description.clone().map(Cow::Owned);
    indicator.tags = list
        .split_tags()
        .map(|t| Cow::Owned(t.to_owned()))
        .collect();
    indicator
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dispositions_follow_the_score() {
        for (score, expected) in [
            (None, Disposition::Unknown),
            (Some(3), Disposition::Unknown),
            (Some(0), Disposition::Unknown),
            (Some(-1), Disposition::Suspicious),
            (Some(-2), Disposition::Suspicious),
            (Some(-3), Disposition::Malicious),
            (Some(-40), Disposition::Malicious),
        ] {
            assert_eq!(disposition(score), expected, "{score:?}");
        }
    }

    #[test]
    fn severities_follow_the_sensitivity() {
        for (sensitivity, expected) in [
            (Some("1"), Severity::High),
            (Some("5"), Severity::Medium),
            (Some("10"), Severity::Info),
            (Some(" 5 "), Severity::Medium),
            (Some("2"), Severity::Unknown),
            (Some(""), Severity::Unknown),
            (None, Severity::Unknown),
        ] {
            assert_eq!(severity(sensitivity), expected, "{sensitivity:?}");
        }
    }
}
