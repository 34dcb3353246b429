//! AbuseIPDB's answers as CTIM, the way Cisco's AbuseIPDB relay (2.0.7) maps them: a verdict
//! from the confidence score, and for each of the newest reports a judgement, a sighting, an
//! indicator per category and the sighting's `sighting-of` relationships to them.

use std::collections::HashSet;

use xdr_relay_core::BaseUrl;
use xdr_relay_core::ctim_model::{
    Confidence, Disposition, ExternalReference, Id, Indicator, Judgement, Observable,
    ObservableType, ObserveBundle, ObservedRelation, ObservedRelationType, ObservedTime,
    Relationship, RelationshipType, Severity, Sighting, Timestamp, ValidTime, Verdict,
};
use xdr_relay_core::time::Duration;

use crate::answer::{CheckData, Report};
use crate::categories::CategoryTable;

/// The source, producer and reference name of every entity.
pub(crate) const SOURCE: &str = "AbuseIPDB";
/// A sighting's title.
const SIGHTING_TITLE: &str = "Reported to AbuseIPDB";
/// The origin of a sighting's `Resolved_To` relation.
const RELATION_ORIGIN: &str = "AbuseIPDB Enrichment Module";
/// The description of an indicator's reference to the categories page.
const CATEGORIES_REFERENCE: &str = "AbuseIPDB attack categories";
/// A judgement's priority.
const PRIORITY: u8 = 85;
/// Scores above this are Malicious, the others Suspicious (Cisco's 0–85 / 86–100).
const SUSPICIOUS_UP_TO: f64 = 85.0;
/// How long a verdict holds.
const VERDICT_DAYS: i64 = 30;
/// How long a judgement holds after its report.
const JUDGEMENT_DAYS: i64 = 7;

/// CTIM's bounds on the texts the relay fills from AbuseIPDB's data (characters).
const SHORT: usize = xdr_relay_core::ctim_model::SHORT_STRING;
const MED: usize = xdr_relay_core::ctim_model::MED_STRING;
const LONG: usize = xdr_relay_core::ctim_model::LONG_STRING;

/// `text`, or its first `max - 1` characters and `…` when it is longer than `max`
/// (ctim-model's [`truncate`](xdr_relay_core::ctim_model::truncate)).
pub(crate) use xdr_relay_core::ctim_model::truncate as bounded;

/// The pages of AbuseIPDB's web site the entities link to, under the checked
/// `ABUSEIPDB_WEB_URL`.
#[derive(Debug, Clone)]
pub(crate) struct Links {
    web: BaseUrl,
}

impl Links {
    /// The links of the site at `web`.
    pub(crate) fn new(web: BaseUrl) -> Self {
        Self { web }
    }

    /// The page of an address: `{web}check/{value}`, the value one percent-encoded segment.
    pub(crate) fn check(&self, value: &str) -> String {
        self.web.link(&["check", value])
    }

    /// The categories page: `{web}categories`.
    pub(crate) fn categories(&self) -> String {
        self.web.link(&["categories"])
    }
}

/// The current time to the millisecond (as CTIA writes times; nanoseconds say nothing here).
pub(crate) fn now() -> Timestamp {
    Timestamp::now_ms()
}

/// The disposition of a confidence score: Suspicious up to 85 (0 included), Malicious above.
pub(crate) fn disposition(score: f64) -> Disposition {
    if score > SUSPICIOUS_UP_TO {
        Disposition::Malicious
    } else {
        Disposition::Suspicious
    }
}

/// The verdict on `observable`, valid from `now` for 30 days; none when AbuseIPDB gave no
/// score.
pub(crate) fn verdict(
    observable: &Observable,
    data: &CheckData,
    now: Timestamp,
) -> Option<Verdict> {
    let score = data.score?;
    let valid = ValidTime::between(now, now.saturating_add(Duration::days(VERDICT_DAYS)));
    Some(Verdict::new(disposition(score), observable.clone(), valid))
}

/// Builds one observe answer: entities are added observable by observable, and each category's
/// indicator once per answer.
#[derive(Debug)]
pub(crate) struct Mapper<'a> {
    links: &'a Links,
    categories: &'a CategoryTable,
    now: Timestamp,
    indicators: HashSet<u64>,
}

impl<'a> Mapper<'a> {
    /// A mapper for one answer, whose verdicts start at `now`.
    pub(crate) fn new(links: &'a Links, categories: &'a CategoryTable, now: Timestamp) -> Self {
        Self {
            links,
            categories,
            now,
            indicators: HashSet::new(),
        }
    }

    /// Adds to `bundle` what AbuseIPDB's `data` says of `observable`: its verdict, and for each
    /// of its `limit` newest reports a judgement, a sighting, the indicators of the report's
    /// categories (each once per answer) and the sighting's relationships to them.
    ///
    /// Relationships come grouped by category, categories in the order they first appear,
    /// sightings in report order within each, as Cisco's relay orders them.
    pub(crate) fn observe(
        &mut self,
        bundle: &mut ObserveBundle,
        observable: &Observable,
        data: &CheckData,
        limit: usize,
    ) {
        if let Some(verdict) = verdict(observable, data, self.now) {
            bundle.verdicts.push(verdict);
        }
        let page = self.links.check(&observable.value);
        // Each category of this observable's reports, with the sightings that name it.
        let mut groups: Vec<(u64, Vec<Id>)> = Vec::new();
        for report in data.reports.iter().take(limit) {
            let categories = distinct(&report.categories);
            bundle
                .judgements
                .push(self.judgement(observable, report, &categories, &page));
            let sighting = self.sighting(observable, report, data.domain.as_deref(), &page);
            for &id in &categories {
                if self.indicators.insert(id) {
                    bundle.indicators.push(self.indicator(id));
                }
                match groups.iter_mut().find(|(category, _)| *category == id) {
                    Some((_, sightings)) => sightings.push(sighting.id.clone()),
                    None => groups.push((id, vec![sighting.id.clone()])),
                }
            }
            bundle.sightings.push(sighting);
        }
        for (category, sightings) in groups {
            let indicator = indicator_id(category);
            for sighting in sightings {
                bundle.relationships.push(Relationship::new(
                    Id::transient("relationship"),
                    RelationshipType::SightingOf,
                    sighting,
                    indicator.clone(),
                ));
            }
        }
    }

    fn judgement(
        &self,
        observable: &Observable,
        report: &Report,
        categories: &[u64],
        page: &str,
    ) -> Judgement {
        let at = report.reported_at;
        let valid = ValidTime::between(at, at.saturating_add(Duration::days(JUDGEMENT_DAYS)));
        let mut judgement = Judgement::new(
            Id::transient("judgement"),
            observable.clone(),
            Disposition::Malicious,
            SOURCE,
            Confidence::Medium,
            Severity::Medium,
            PRIORITY,
            valid,
        );
        let names: Vec<String> = categories
            .iter()
            .map(|&id| self.categories.get(id).name())
            .collect();
        judgement.reason = Some(bounded(&names.join(", "), SHORT).into_owned().into());
        judgement.source_uri = Some(page.to_owned().into());
        judgement
    }

    fn sighting(
        &self,
        observable: &Observable,
        report: &Report,
        domain: Option<&str>,
        page: &str,
    ) -> Sighting {
        let mut sighting = Sighting::new(
            Id::transient("sighting"),
            1,
            Confidence::Medium,
            ObservedTime::at(report.reported_at),
        );
        sighting.title = Some(SIGHTING_TITLE.into());
        sighting.source = Some(SOURCE.into());
        sighting.source_uri = Some(page.to_owned().into());
        sighting.internal = Some(false);
        sighting.description = report
            .comment
            .as_deref()
            .map(|c| bounded(c, LONG).into_owned().into());
        sighting.observables = vec![observable.clone()];
        let mut reference = ExternalReference::new(SOURCE);
        reference.url = Some(page.to_owned().into());
        sighting.external_references = vec![reference];
        if let Some(domain) = domain {
            sighting.relations = vec![ObservedRelation {
                origin: RELATION_ORIGIN.into(),
                origin_uri: Some(page.to_owned().into()),
                relation: ObservedRelationType::ResolvedTo,
                relation_info: None,
                source: Observable::new(ObservableType::Domain, domain.to_owned()),
                related: observable.clone(),
            }];
        }
        sighting
    }

    fn indicator(&self, id: u64) -> Indicator {
        let category = self.categories.get(id);
        let mut indicator = Indicator::new(indicator_id(id), SOURCE, ValidTime::default());
        let text = category.text();
        indicator.title = Some(bounded(&category.name(), SHORT).into_owned().into());
        indicator.short_description = Some(bounded(&text, MED).into_owned().into());
        indicator.description = Some(bounded(&text, LONG).into_owned().into());
        indicator.confidence = Some(Confidence::Medium);
        indicator.external_ids = vec![id.to_string().into()];
        let mut reference = ExternalReference::new(SOURCE);
        reference.url = Some(self.links.categories().into());
        reference.description = Some(CATEGORIES_REFERENCE.into());
        reference.external_id = Some(id.to_string().into());
        indicator.external_references = vec![reference];
        indicator
    }
}

/// The indicator of category `id`: `transient:indicator-` and the version 5 uuid of the id's
/// decimal text in the X.500 namespace, the id Cisco's relay gives it, so both relays' ids
/// agree.
pub(crate) fn indicator_id(id: u64) -> Id {
    Id::transient_from_name("indicator", &id.to_string())
}

/// `ids` without repeats, in order.
fn distinct(ids: &[u64]) -> Vec<u64> {
    let mut seen = Vec::with_capacity(ids.len());
    for &id in ids {
        if !seen.contains(&id) {
            seen.push(id);
        }
    }
    seen
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scores_map_to_ciscos_dispositions() {
        for (score, disposition) in [
            (0.0, Disposition::Suspicious),
            (21.0, Disposition::Suspicious),
            (85.0, Disposition::Suspicious),
            (86.0, Disposition::Malicious),
            (100.0, Disposition::Malicious),
        ] {
            assert_eq!(super::disposition(score), disposition, "{score}");
        }
    }

    #[test]
    fn indicator_ids_are_ciscos() {
        // Ids read from a real answer of Cisco's relay and computed with Python's uuid5.
        for (id, uuid) in [
            (1, "bf9fe6a8-d443-517f-aab9-8645942df035"),
            (14, "de45b76e-276d-5403-98e3-df704d1eeaf1"),
            (15, "83d9886d-7699-596d-87a4-eb4cd6659b91"),
            (18, "ee722d33-bc0c-5e37-a724-75140a9e295a"),
            (23, "c03f5d3e-9657-5714-bc4e-d8d91c6d75f7"),
        ] {
            assert_eq!(
                indicator_id(id).as_str(),
                format!("transient:indicator-{uuid}")
            );
        }
    }

    #[test]
    fn now_is_to_the_millisecond() {
        let text = now().to_string();
        assert_eq!(text.len(), "2024-01-01T00:00:00.000Z".len(), "{text}");
    }

    #[test]
    fn links_have_one_slash() {
        for web in ["https://www.abuseipdb.com/", "https://www.abuseipdb.com"] {
            let links = Links::new(BaseUrl::parse(web).unwrap());
            assert_eq!(
                links.check("2001:db8::1"),
                "https://www.abuseipdb.com/check/2001:db8::1"
            );
            assert_eq!(links.categories(), "https://www.abuseipdb.com/categories");
        }
    }

    #[test]
    fn repeated_categories_make_one_indicator_and_one_relationship_per_sighting() {
        let links = Links::new(BaseUrl::parse("https://www.abuseipdb.com/").unwrap());
        let table = CategoryTable::builtin();
        let at = Timestamp::parse("2020-03-10T23:11:57Z").unwrap();
        let report = |categories: Vec<u64>| Report {
            reported_at: at,
            comment: Some("c".into()),
            categories,
        };
        let data = CheckData {
            score: Some(100.0),
            domain: None,
            reports: vec![report(vec![18, 18, 22]), report(vec![22]), report(vec![])],
        };
        let ip = Observable::new(ObservableType::Ip, "192.0.2.1");
        let mut bundle = ObserveBundle::default();
        let mut mapper = Mapper::new(&links, &table, Timestamp::now());
        mapper.observe(&mut bundle, &ip, &data, 100);
        let other = Observable::new(ObservableType::Ip, "192.0.2.2");
        mapper.observe(&mut bundle, &other, &data, 2);
        assert_eq!(bundle.verdicts.len(), 2);
        assert_eq!(bundle.judgements.len(), 5);
        assert_eq!(bundle.indicators.len(), 2, "each category once per answer");
        // 192.0.2.1: s1→18, s1→22, s2→22; 192.0.2.2 the same (its third report is cut).
        assert_eq!(bundle.relationships.len(), 6);
        let reasons: Vec<&str> = bundle
            .judgements
            .as_slice()
            .iter()
            .filter_map(|j| j.reason.as_deref())
            .collect();
        assert_eq!(
            reasons,
            ["Brute-Force, SSH", "SSH", "", "Brute-Force, SSH", "SSH"]
        );
        for sighting in bundle.sightings.as_slice() {
            assert!(sighting.relations.is_empty());
            sighting.validate().unwrap();
        }
    }
}
