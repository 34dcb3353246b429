//! urlscan.io's scans as CTIM, the way Cisco's urlscan.io relay (1.0.2) maps them: per scan a
//! sighting, and per malicious scan a judgement, the indicators of its categories (each once
//! per observable) and the `indicates` relationships from them to the sightings; the refer
//! links and the response action. Pure: no I/O.

use std::collections::HashMap;
use std::net::IpAddr;

use xdr_relay_core::ctim_model::{
    Bound, ColumnDefinition, ColumnType, Confidence, Disposition, ExternalReference, Id, Indicator,
    Judgement, Observable, ObservableType, ObserveBundle, ObservedRelation, ObservedRelationType,
    ObservedTime, Relationship, RelationshipType, Severity, Sighting, SightingDataTable, Timestamp,
    ValidTime,
};
use xdr_relay_core::time::Duration;
use xdr_relay_core::{BaseUrl, ParsedObservable, ReferLink, RelayError, ResponseAction, quote};

use crate::answer::{Hit, ScanResult};

/// The source, producer and reference name of every entity.
pub(crate) const SOURCE: &str = "urlscan.io";
/// A sighting's description.
const SIGHTING_DESCRIPTION: &str = "Scan Result";
/// The origin of a sighting's relations.
const RELATION_ORIGIN: &str = "urlscan.io Module";
/// The relation of a page's URL to its address, as Cisco's relay names it.
const HOSTED_BY: &str = "Hosted_By";
/// A judgement's priority.
const PRIORITY: u8 = 85;
/// How long a judgement holds after its scan.
const JUDGEMENT_DAYS: i64 = 7;
/// The response action's title.
pub(crate) const SCAN_TITLE: &str = "Make Scan in urlscan.io";

/// What a scan's result is in one request: read, or the error reading it met.
pub(crate) type Results = HashMap<String, Result<std::sync::Arc<ScanResult>, RelayError>>;

/// The pages of urlscan.io's web site the relay writes, under the checked `URLSCAN_WEB_URL`.
#[derive(Debug, Clone)]
pub(crate) struct Links {
    web: BaseUrl,
}

impl Links {
    /// The links of the site at `web`.
    pub(crate) fn new(web: BaseUrl) -> Self {
        Self { web }
    }

    /// A scan's page: `{web}result/{id}`.
    pub(crate) fn result(&self, id: &str) -> String {
        self.web.link(&["result", id])
    }

    /// The browse page of an address or a domain: `{web}ip/{value}`, `{web}domain/{value}`.
    fn browse(&self, kind: &str, value: &str) -> String {
        self.web.link(&[kind, value])
    }

    /// The search page for `query`: `{web}search/#{query}` (the query percent-encoded as a
    /// fragment is).
    fn search(&self, query: &str) -> String {
        match self.web.join("search/") {
            Ok(mut url) => {
                url.set_fragment(Some(query));
                url.into()
            }
            Err(_) => self.web.link(&["search", ""]),
        }
    }
}

/// The search urlscan.io is asked for an observable, Cisco's: `page.ip:"v"` for an address,
/// `page.domain:"v"` for a domain, `page.url.keyword:"v"` for a URL (a `"` or `\` in the value
/// escaped, which Cisco's relay leaves to break the query); `None` for other types.
pub(crate) fn query(observable: &ParsedObservable) -> Option<String> {
    let field = match observable.kind() {
        ObservableType::Ip | ObservableType::Ipv6 => "page.ip",
        ObservableType::Domain => "page.domain",
        ObservableType::Url => "page.url.keyword",
        _ => return None,
    };
    let value = observable
        .value()
        .replace('\\', "\\\\")
        .replace('"', "\\\"");
    Some(format!("{field}:\"{value}\""))
}

/// Builds one observe answer, observable by observable.
#[derive(Debug)]
pub(crate) struct Mapper<'a> {
    links: &'a Links,
}

impl<'a> Mapper<'a> {
    /// A mapper writing `links`.
    pub(crate) fn new(links: &'a Links) -> Self {
        Self { links }
    }

    /// Adds to `bundle` what `hits` (the scans kept of the observable's search, newest first)
    /// and their `results` say of `observable`: a sighting per scan with a time, and for each
    /// scan whose result is malicious a judgement, the indicators of its categories (each once
    /// per observable, with the tags of the newest malicious scan naming it) and the
    /// relationships from each to the sightings of the scans naming it, grouped by category
    /// as Cisco's relay orders them.
    pub(crate) fn observe(
        &self,
        bundle: &mut ObserveBundle,
        observable: &Observable,
        hits: &[Hit],
        results: &Results,
    ) {
        // Each category of this observable's malicious scans: its indicator's id and the
        // sightings of the scans naming it.
        let mut categories: Vec<(Id, Vec<Id>)> = Vec::new();
        let mut seen: HashMap<&str, usize> = HashMap::new();
        for hit in hits {
            let sighting = hit.time.map(|time| self.sighting(observable, hit, time));
            let result = hit
                .id
                .as_deref()
                .and_then(|id| results.get(id))
                .and_then(|r| r.as_ref().ok());
            if let Some(result) = result.filter(|r| r.malicious) {
                if let Some(judgement) = self.judgement(observable, hit, result) {
                    bundle.judgements.push(judgement);
                }
                for category in &result.categories {
                    let at = *seen.entry(category).or_insert_with(|| {
                        bundle.indicators.push(indicator(category, &result.tags));
                        categories.push((indicator_id(category), Vec::new()));
                        categories.len() - 1
                    });
                    if let Some(sighting) = &sighting {
                        categories[at].1.push(sighting.id.clone());
                    }
                }
            }
            if let Some(sighting) = sighting {
                bundle.sightings.push(sighting);
            }
        }
        for (indicator, sightings) in categories {
            for sighting in sightings {
                bundle.relationships.push(Relationship::new(
                    Id::transient("relationship"),
                    RelationshipType::Indicates,
                    indicator.clone(),
                    sighting,
                ));
            }
        }
    }

    fn sighting(&self, observable: &Observable, hit: &Hit, time: Timestamp) -> Sighting {
        let mut sighting = Sighting::builder(ObservedTime::at(time))
            .confidence(Confidence::High)
            .source(SOURCE)
            .description(SIGHTING_DESCRIPTION)
            .observable(observable.clone());
        if let Some(id) = &hit.id {
            sighting = sighting
                .external_id(id.clone())
                .source_uri(self.links.result(id));
        }
        for relation in relations(hit) {
            sighting = sighting.relation(relation);
        }
        let mut sighting = sighting.build();
        // Set after the builder, which would add a `row_count` Cisco's relay does not write.
        if !hit.stats.is_empty() {
            let columns = hit.stats.iter().map(|(name, _)| {
                ColumnDefinition::new(Bound::Short.clip(name.clone()), ColumnType::Integer)
            });
            let row = hit.stats.iter().map(|(_, value)| value.clone()).collect();
            let mut table = SightingDataTable::new(columns.collect(), vec![row]);
            table.row_count = None;
            sighting.data = Some(table);
        }
        sighting
    }

    /// The judgement of a malicious scan, valid for 7 days from the scan's time (the result's,
    /// else the search's); none without a time.
    fn judgement(
        &self,
        observable: &Observable,
        hit: &Hit,
        result: &ScanResult,
    ) -> Option<Judgement> {
        let at = result.time.or(hit.time)?;
        let valid = ValidTime::between(at, at.saturating_add(Duration::days(JUDGEMENT_DAYS)));
        let mut judgement = Judgement::builder(observable.clone(), Disposition::Malicious, SOURCE)
            .confidence(Confidence::High)
            .severity(Severity::High)
            .priority(PRIORITY)
            .valid_time(valid)
            .reason(result.tags.join(", "));
        if let Some(report) = result.report_url() {
            judgement = judgement.source_uri(report.to_owned());
        }
        for (name, url) in &result.links {
            let mut reference = ExternalReference::new(SOURCE);
            reference.description = Some((*name).into());
            reference.url = Some(url.clone().into());
            judgement = judgement.external_reference(reference);
        }
        Some(judgement.build())
    }

    /// The refer links of `observable`, whose search found scans: browse (addresses and
    /// domains) and search, Cisco's ids, titles, descriptions and categories.
    pub(crate) fn refer(&self, observable: &ParsedObservable) -> Vec<ReferLink> {
        let (kind, value) = (observable.kind().as_str(), observable.value());
        let description = format!("Check this {kind} status with urlscan.io");
        let mut links = Vec::with_capacity(2);
        let browse = match observable.kind() {
            ObservableType::Ip | ObservableType::Ipv6 => Some("ip"),
            ObservableType::Domain => Some("domain"),
            _ => None,
        };
        if let Some(page) = browse {
            links.push(ReferLink::new(
                format!("ref-urlscan-browse-{kind}-{}", quote(value, "")),
                format!("Browse {kind}"),
                description.clone(),
                self.links.browse(page, value),
                ["Browse", SOURCE],
            ));
        }
        let search = match observable.kind() {
            ObservableType::Ip | ObservableType::Ipv6 => format!("ip:\"{value}\""),
            ObservableType::Domain => format!("domain:{value}"),
            _ => format!("\"{value}\""),
        };
        links.push(ReferLink::new(
            format!("ref-urlscan-search-{kind}-{}", quote(value, "")),
            format!("Search for this {kind}"),
            description,
            self.links.search(&search),
            ["Search", SOURCE],
        ));
        links
    }
}

/// "Make Scan in urlscan.io" for a URL, Cisco's action; none for other types.
pub(crate) fn scan_action(observable: &ParsedObservable) -> Option<ResponseAction> {
    if *observable.kind() != ObservableType::Url {
        return None;
    }
    let mut action = ResponseAction::new(
        format!(
            "respond-urlscan-action-url-{}",
            quote(observable.value(), "")
        ),
        SCAN_TITLE,
        "Makes a request to scan this observable",
        observable,
    );
    action.categories = vec![SOURCE.into(), "Scan".into()];
    Some(action)
}

/// The relations of a scan's page, as Cisco's relay writes them: the URL `Contains` the
/// domain, the domain `Resolved_To` the address, the URL `Hosted_By` the address (an IPv6
/// address typed `ipv6`); each only when both ends are known (an `ip` that is no address is
/// not known).
fn relations(hit: &Hit) -> Vec<ObservedRelation> {
    let page = &hit.page;
    let domain = page
        .domain
        .as_ref()
        .map(|d| Observable::new(ObservableType::Domain, d.clone()));
    let url = page
        .url
        .as_ref()
        .map(|u| Observable::new(ObservableType::Url, u.clone()));
    let ip = page
        .ip
        .as_deref()
        .and_then(|ip| ip.parse::<IpAddr>().ok())
        .map(|ip| {
            let kind = match ip {
                IpAddr::V4(_) => ObservableType::Ip,
                IpAddr::V6(_) => ObservableType::Ipv6,
            };
            Observable::new(kind, ip.to_string())
        });
    let relation = |source: &Observable, related: &Observable, relation| {
        ObservedRelation::new(RELATION_ORIGIN, source.clone(), relation, related.clone())
    };
    let mut relations = Vec::new();
    if let (Some(url), Some(domain)) = (&url, &domain) {
        relations.push(relation(url, domain, ObservedRelationType::Contains));
    }
    if let (Some(domain), Some(ip)) = (&domain, &ip) {
        relations.push(relation(domain, ip, ObservedRelationType::ResolvedTo));
    }
    if let (Some(url), Some(ip)) = (&url, &ip) {
        // Not in CTIM's vocabulary; Cisco's relay writes it, and so does this one.
        let hosted_by = ObservedRelationType::Other(HOSTED_BY.to_owned());
        relations.push(relation(url, ip, hosted_by));
    }
    relations
}

/// The indicator of `category`, with `tags`.
fn indicator(category: &str, tags: &[String]) -> Indicator {
    // Cisco's relay writes "Сlassified" with a Cyrillic С (U+0421): a Latin C here.
    let text = format!("Classified as {category}");
    let mut indicator = Indicator::builder(SOURCE)
        .id(indicator_id(category))
        .title(category.to_owned())
        .short_description(text.clone())
        .description(text)
        .confidence(Confidence::High);
    for tag in tags {
        indicator = indicator.tag(tag.clone());
    }
    indicator.build()
}

/// The indicator of `category`: `transient:indicator-` and the version 5 uuid of the category
/// in the X.500 namespace, the id Cisco's relay gives it.
pub(crate) fn indicator_id(category: &str) -> Id {
    Id::transient_from_name("indicator", category)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::answer::{Page, ScanResult};

    fn links() -> Links {
        Links::new(BaseUrl::parse("https://urlscan.io").unwrap())
    }

    fn observable(kind: ObservableType, value: &str) -> ParsedObservable {
        ParsedObservable::new(kind, value).unwrap()
    }

    #[test]
    fn queries_are_ciscos_with_quotes_escaped() {
        for (kind, value, expected) in [
            (ObservableType::Ip, "1.1.1.1", r#"page.ip:"1.1.1.1""#),
            (
                ObservableType::Ipv6,
                "2001:db8::1",
                r#"page.ip:"2001:db8::1""#,
            ),
            (
                ObservableType::Domain,
                "example.com",
                r#"page.domain:"example.com""#,
            ),
            (
                ObservableType::Url,
                "https://example.com/a",
                r#"page.url.keyword:"https://example.com/a""#,
            ),
            (
                ObservableType::Url,
                r#"https://x.example/"a"\b"#,
                r#"page.url.keyword:"https://x.example/\"a\"\\b""#,
            ),
        ] {
            assert_eq!(
                query(&observable(kind, value)).unwrap(),
                expected,
                "{value}"
            );
        }
        assert_eq!(
            query(&observable(ObservableType::Sha256, &"a".repeat(64))),
            None
        );
    }

    #[test]
    fn indicator_ids_are_ciscos() {
        // uuid5(NAMESPACE_X500, category), as Python's uuid computes it.
        for (category, uuid) in [
            ("phishing", "344f10f2-89cc-5bbb-9176-726345d25538"),
            ("coinmining", "66b19d24-938b-516d-8bc3-0f5fbd4bad0c"),
            ("malicious", "5b085c98-ced5-5cd3-8d78-2ee5fe576967"),
        ] {
            assert_eq!(
                indicator_id(category).as_str(),
                format!("transient:indicator-{uuid}")
            );
        }
    }

    #[test]
    fn refer_links_are_ciscos_under_the_web_url() {
        let links = links();
        let mapper = Mapper::new(&links);
        let ip =
            serde_json::to_value(mapper.refer(&observable(ObservableType::Ip, "1.1.1.1"))).unwrap();
        assert_eq!(
            ip,
            json!([
                {"id": "ref-urlscan-browse-ip-1.1.1.1", "title": "Browse ip",
                 "description": "Check this ip status with urlscan.io",
                 "url": "https://urlscan.io/ip/1.1.1.1", "categories": ["Browse", "urlscan.io"]},
                {"id": "ref-urlscan-search-ip-1.1.1.1", "title": "Search for this ip",
                 "description": "Check this ip status with urlscan.io",
                 "url": "https://urlscan.io/search/#ip:%221.1.1.1%22", "categories": ["Search", "urlscan.io"]},
            ])
        );
        let url = mapper.refer(&observable(ObservableType::Url, "https://a.example/x y#z"));
        assert_eq!(url.len(), 1);
        assert_eq!(
            url[0].id,
            "ref-urlscan-search-url-https%3A%2F%2Fa.example%2Fx%20y%23z"
        );
        assert_eq!(
            url[0].url,
            "https://urlscan.io/search/#%22https://a.example/x%20y#z%22"
        );
        let domain = mapper.refer(&observable(ObservableType::Domain, "exämple.com"));
        assert_eq!(domain[0].url, "https://urlscan.io/domain/ex%C3%A4mple.com");
        assert_eq!(
            domain[1].url,
            "https://urlscan.io/search/#domain:ex%C3%A4mple.com"
        );
        let v6 = mapper.refer(&observable(ObservableType::Ipv6, "2001:db8::1"));
        assert_eq!(v6[0].id, "ref-urlscan-browse-ipv6-2001%3Adb8%3A%3A1");
        assert_eq!(v6[0].url, "https://urlscan.io/ip/2001:db8::1");
    }

    #[test]
    fn the_scan_action_is_ciscos_and_only_for_urls() {
        let url = observable(ObservableType::Url, "https://test.com");
        let action = serde_json::to_value(scan_action(&url).unwrap()).unwrap();
        assert_eq!(
            action,
            json!({
                "id": "respond-urlscan-action-url-https%3A%2F%2Ftest.com",
                "title": "Make Scan in urlscan.io",
                "description": "Makes a request to scan this observable",
                "categories": ["urlscan.io", "Scan"],
                "query-params": {"observable_type": "url", "observable_value": "https://test.com"},
            })
        );
        assert!(scan_action(&observable(ObservableType::Domain, "test.com")).is_none());
    }

    #[test]
    fn texts_from_urlscan_are_clipped_to_ctims_bounds() {
        let long = "x".repeat(6000);
        let indicator = indicator(&long, std::slice::from_ref(&long));
        indicator.validate().unwrap();
        let links = links();
        let hit = Hit {
            id: Some("id".into()),
            time: Timestamp::parse_lenient("2024-01-01T00:00:00Z"),
            page: Page::default(),
            stats: vec![(long.clone(), json!(1))],
        };
        let observable = Observable::new(ObservableType::Ip, "192.0.2.1");
        let sighting = Mapper::new(&links).sighting(&observable, &hit, hit.time.unwrap());
        sighting.validate().unwrap();
        assert!(sighting.data.as_ref().unwrap().row_count.is_none());
        let result = ScanResult {
            malicious: true,
            tags: vec![long; 3],
            ..ScanResult::default()
        };
        let judgement = Mapper::new(&links)
            .judgement(&observable, &hit, &result)
            .unwrap();
        judgement.validate().unwrap();
    }

    #[test]
    fn relations_need_both_ends_and_an_address_that_is_one() {
        let hit = |domain: Option<&str>, url: Option<&str>, ip: Option<&str>| Hit {
            id: None,
            time: None,
            page: Page {
                domain: domain.map(str::to_owned),
                url: url.map(str::to_owned),
                ip: ip.map(str::to_owned),
            },
            stats: Vec::new(),
        };
        let kinds = |hit: &Hit| -> Vec<(ObservedRelationType, ObservableType)> {
            relations(hit)
                .into_iter()
                .map(|r| (r.relation, r.related.kind))
                .collect()
        };
        let all = hit(
            Some("a.example"),
            Some("https://a.example/"),
            Some("2606:4700::1"),
        );
        assert_eq!(
            kinds(&all),
            [
                (ObservedRelationType::Contains, ObservableType::Domain),
                (ObservedRelationType::ResolvedTo, ObservableType::Ipv6),
                (
                    ObservedRelationType::Other(HOSTED_BY.into()),
                    ObservableType::Ipv6
                ),
            ]
        );
        assert_eq!(kinds(&hit(Some("a.example"), None, Some("not-an-ip"))), []);
        assert_eq!(
            kinds(&hit(None, Some("https://a.example/"), Some("192.0.2.1"))),
            [(
                ObservedRelationType::Other(HOSTED_BY.into()),
                ObservableType::Ip
            )]
        );
    }
}
