//! OTX's pulses as CTIM, the way Cisco's OTX relay (2.0.5) maps them: for each pulse that
//! lists the observable (the newest first, by when the observable was added to it), a
//! sighting, the pulse's indicator and a `member-of` relationship from the sighting to the
//! indicator; and one refer link per observable.

use xdr_relay_core::ctim_model::{
    Confidence, Id, Indicator, Observable, ObserveBundle, ObservedTime, Relationship,
    RelationshipType, Sighting, ValidTime,
};
use xdr_relay_core::{BaseUrl, ReferLink, quote};

use crate::answer::{Entry, Pulse};
use crate::kind::Kind;

/// The source of every entity, and the refer links' category.
pub(crate) const SOURCE: &str = "AlienVault OTX";

/// The pages of OTX's web site the entities and links point to, under the checked
/// `OTX_WEB_URL`.
#[derive(Debug, Clone)]
pub(crate) struct Links {
    web: BaseUrl,
}

impl Links {
    /// The links of the site at `web`.
    pub(crate) fn new(web: BaseUrl) -> Self {
        Self { web }
    }

    /// A pulse's page: `{web}pulse/{id}`.
    pub(crate) fn pulse(&self, id: &str) -> String {
        format!("{}pulse/{}", self.web.as_str(), quote(id, ""))
    }

    /// An observable's page: `{web}indicator/{category}/{value}`, the value quoted as Cisco's
    /// relay quotes it (`@` and `:` kept).
    pub(crate) fn indicator(&self, kind: Kind, value: &str) -> String {
        format!(
            "{}indicator/{}/{}",
            self.web.as_str(),
            kind.category(),
            quote(value, "@:")
        )
    }

    /// The refer link of an observable of `kind`.
    pub(crate) fn refer(&self, kind: Kind, observable: &Observable) -> ReferLink {
        let value = observable.value.as_ref();
        let name = kind.name();
        ReferLink::new(
            format!(
                "ref-avotx-search-{}-{}",
                observable.kind.as_str(),
                quote(value, "")
            ),
            format!("Search for this {name}"),
            format!("Lookup this {name} on {SOURCE}"),
            self.indicator(kind, value),
            ["Search", SOURCE],
        )
    }
}

/// The indicator of the pulse `id`: `transient:indicator-` and the version 5 uuid of the id in
/// the X.500 namespace, the id Cisco's relay gives it, so both relays' ids agree.
pub(crate) fn indicator_id(pulse: &str) -> Id {
    Id::transient_from_name("indicator", pulse)
}

/// Adds to `bundle` what the pulses `found` (each with the observable's entry in it) say of
/// `observable`: the newest `limit` by the entry's `created` (ties in OTX's order), each a
/// sighting, an indicator and the relationship between them.
pub(crate) fn observe(
    bundle: &mut ObserveBundle,
    links: &Links,
    observable: &Observable,
    mut found: Vec<(&Pulse, Entry)>,
    limit: usize,
) {
    found.sort_by_key(|&(_, entry)| std::cmp::Reverse(entry.created));
    for (pulse, entry) in found.into_iter().take(limit) {
        let page = links.pulse(&pulse.id);
        let sighting = sighting(observable, pulse, entry, &page);
        let indicator = indicator(pulse, entry, &page);
        bundle.relationships.push(Relationship::new(
            Id::transient("relationship"),
            RelationshipType::MemberOf,
            sighting.id.clone(),
            indicator.id.clone(),
        ));
        bundle.sightings.push(sighting);
        bundle.indicators.push(indicator);
    }
}

fn sighting(observable: &Observable, pulse: &Pulse, entry: Entry, page: &str) -> Sighting {
    let mut sighting = Sighting::builder(ObservedTime::at(entry.created))
        .confidence(Confidence::High)
        .internal(false)
        .source(SOURCE)
        .source_uri(page.to_owned())
        .description(description(pulse).to_owned())
        .external_id(pulse.id.clone())
        .observable(observable.clone());
    if let Some(name) = &pulse.name {
        sighting = sighting.title(name.clone());
    }
    if let Some(tlp) = pulse.tlp {
        sighting = sighting.tlp(tlp);
    }
    sighting.build()
}

fn indicator(pulse: &Pulse, entry: Entry, page: &str) -> Indicator {
    let valid = ValidTime {
        start_time: Some(entry.created),
        end_time: entry.expiration,
    };
    let producer = pulse.author.clone().unwrap_or_else(|| SOURCE.to_owned());
    let mut indicator = Indicator::builder(producer)
        .id(indicator_id(&pulse.id))
        .valid_time(valid)
        .confidence(Confidence::High)
        .source(SOURCE)
        .source_uri(page.to_owned())
        .short_description(description(pulse).to_owned())
        .external_id(pulse.id.clone());
    for tag in &pulse.tags {
        indicator = indicator.tag(tag.clone());
    }
    if let Some(name) = &pulse.name {
        indicator = indicator.title(name.clone());
    }
    if let Some(tlp) = pulse.tlp {
        indicator = indicator.tlp(tlp);
    }
    indicator.build()
}

/// The pulse's description, empty when it has none (as Cisco's relay writes it).
fn description(pulse: &Pulse) -> &str {
    pulse.description.as_deref().unwrap_or("")
}

#[cfg(test)]
mod tests {
    use xdr_relay_core::ctim_model::{LONG_STRING, ObservableType, SHORT_STRING, Timestamp, Tlp};

    use super::*;

    fn links() -> Links {
        Links::new(BaseUrl::parse("https://otx.alienvault.com").unwrap())
    }

    fn pulse(id: &str) -> Pulse {
        Pulse {
            id: id.to_owned(),
            name: Some("Best Pulse Ever".into()),
            description: Some("x".repeat(6000)),
            author: Some("JoriQ".into()),
            tags: vec!["open".into(), "t".repeat(2000)],
            tlp: Some(Tlp::White),
        }
    }

    fn entry(created: &str, expiration: Option<&str>) -> Entry {
        Entry {
            created: Timestamp::parse_lenient(created).unwrap(),
            expiration: expiration.map(|e| Timestamp::parse_lenient(e).unwrap()),
        }
    }

    #[test]
    fn indicator_ids_are_ciscos() {
        // uuid5(NAMESPACE_X500, pulse id), computed with Python's uuid module.
        assert_eq!(
            indicator_id("q1w2e3r4t5y6").as_str(),
            "transient:indicator-8aaf75fe-7be6-57c4-89b7-39bd717e84f6"
        );
    }

    #[test]
    fn the_newest_pulses_are_mapped_within_ctims_bounds() {
        let (a, b, c) = (pulse("a"), pulse("b"), pulse("c"));
        let found = vec![
            (&a, entry("2020-01-01T00:00:00", None)),
            (
                &b,
                entry("2020-01-03T00:00:00+02:00", Some("2020-02-01T00:00:00")),
            ),
            (&c, entry("2020-01-02T00:00:00Z", None)),
        ];
        let ip = Observable::new(ObservableType::Ip, "192.0.2.1");
        let mut bundle = ObserveBundle::default();
        observe(&mut bundle, &links(), &ip, found, 2);
        let ids: Vec<&str> = bundle
            .indicators
            .as_slice()
            .iter()
            .map(|i| i.external_ids[0].as_ref())
            .collect();
        assert_eq!(ids, ["b", "c"]);
        let sighting = &bundle.sightings.as_slice()[0];
        sighting.validate().unwrap();
        assert_eq!(
            sighting.description.as_deref().map(|d| d.chars().count()),
            Some(LONG_STRING)
        );
        assert_eq!(
            sighting.observed_time.start_time.to_string(),
            "2020-01-02T22:00:00.000Z"
        );
        assert_eq!(
            sighting.source_uri.as_deref(),
            Some("https://otx.alienvault.com/pulse/b")
        );
        let indicator = &bundle.indicators.as_slice()[0];
        indicator.validate().unwrap();
        assert_eq!(indicator.id, indicator_id("b"));
        assert_eq!(
            indicator
                .valid_time
                .end_time
                .map(|t| t.to_string())
                .as_deref(),
            Some("2020-02-01T00:00:00.000Z")
        );
        assert_eq!(bundle.indicators.as_slice()[1].valid_time.end_time, None);
        assert_eq!(indicator.tags[1].chars().count(), SHORT_STRING);
        let relationship = &bundle.relationships.as_slice()[0];
        assert_eq!(relationship.source_ref, sighting.id);
        assert_eq!(relationship.target_ref, indicator.id);
    }

    #[test]
    fn refer_links_are_ciscos() {
        let link = links().refer(
            Kind::Url,
            &Observable::new(ObservableType::Url, "http://a.example/p?q=1#f"),
        );
        let json = serde_json::to_value(&link).unwrap();
        assert_eq!(
            json,
            serde_json::json!({
                "id": "ref-avotx-search-url-http%3A%2F%2Fa.example%2Fp%3Fq%3D1%23f",
                "title": "Search for this URL",
                "description": "Lookup this URL on AlienVault OTX",
                "url": "https://otx.alienvault.com/indicator/url/http:%2F%2Fa.example%2Fp%3Fq%3D1%23f",
                "categories": ["Search", "AlienVault OTX"],
            })
        );
        assert_eq!(
            links().pulse("a/b"),
            "https://otx.alienvault.com/pulse/a%2Fb"
        );
    }
}
