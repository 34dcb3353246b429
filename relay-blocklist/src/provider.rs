//! The blocklists as a relay-core [`Provider`]: the lists loaded from files (and loaded again
//! on demand), and the CTIM a listed address gets.

use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::{Arc, PoisonError, RwLock};

use xdr_relay_core::ctim_model::{
    Confidence, Disposition, Id, Indicator, Judgement, ObservableType, ObserveBundle, ObservedTime,
    Relationship, RelationshipType, Severity, Sighting, Timestamp, ValidTime, Verdict,
};
use xdr_relay_core::{Context, Outcome, ParsedObservable, Provider, ProviderInfo, RelayError};

use crate::blocklist::{Blocklist, LoadError};

/// The lists of some files, replaced as a whole when they are loaded again.
#[derive(Debug)]
pub struct Blocklists {
    files: Vec<PathBuf>,
    lists: RwLock<Arc<[Blocklist]>>,
}

/// What a load found, for the log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Loaded {
    /// Lists loaded.
    pub lists: usize,
    /// Lines holding an address or a network, over all lists.
    pub entries: usize,
    /// Ranges after merging adjacent and overlapping entries.
    pub ranges: usize,
    /// The bytes the ranges take on the heap.
    pub bytes: usize,
}

/// Every list of `files`, or the first error.
fn load_all(files: &[PathBuf]) -> Result<Arc<[Blocklist]>, LoadError> {
    let mut lists: Vec<Blocklist> = Vec::with_capacity(files.len());
    for path in files {
        let list = Blocklist::load(path)?;
        if lists.iter().any(|l| l.name == list.name) {
            return Err(LoadError::DuplicateName {
                path: path.display().to_string(),
                name: list.name,
            });
        }
        lists.push(list);
    }
    Ok(lists.into())
}

impl Blocklists {
    /// The lists of `files`; fails on the first file that cannot be read or parsed.
    ///
    /// # Errors
    ///
    /// [`LoadError`] naming the file (and line) that failed.
    pub fn load(files: Vec<PathBuf>) -> Result<Self, LoadError> {
        let lists = load_all(&files)?;
        Ok(Self {
            files,
            lists: RwLock::new(lists),
        })
    }

    /// Loads every file again and, only when all of them load, puts the new lists in use;
    /// otherwise the lists in use stay. Requests in flight finish with the lists they began
    /// with.
    ///
    /// # Errors
    ///
    /// [`LoadError`] naming the file (and line) that failed; the lists in use stay.
    pub fn reload(&self) -> Result<Loaded, LoadError> {
        let lists = load_all(&self.files)?;
        let loaded = summary(&lists);
        *self.lists.write().unwrap_or_else(PoisonError::into_inner) = lists;
        Ok(loaded)
    }

    /// The lists in use now.
    #[must_use]
    pub fn current(&self) -> Arc<[Blocklist]> {
        Arc::clone(&self.lists.read().unwrap_or_else(PoisonError::into_inner))
    }

    /// What is in use now, for the log.
    #[must_use]
    pub fn loaded(&self) -> Loaded {
        summary(&self.current())
    }
}

fn summary(lists: &[Blocklist]) -> Loaded {
    Loaded {
        lists: lists.len(),
        entries: lists.iter().map(|l| l.entries).sum(),
        ranges: lists.iter().map(|l| l.ranges.len()).sum(),
        bytes: lists.iter().map(|l| l.ranges.heap_bytes()).sum(),
    }
}

/// What the relay is: IP and IPv6 addresses looked up in local lists, no credentials.
#[must_use]
pub fn info() -> ProviderInfo {
    ProviderInfo::new(
        "Local blocklists",
        env!("CARGO_PKG_VERSION"),
        [ObservableType::Ip, ObservableType::Ipv6],
    )
    .description(
        "Looks IP and IPv6 addresses up in local blocklist files (FireHOL netsets, Spamhaus \
         DROP): a listed address is Malicious, with a sighting and an indicator per list.",
    )
}

/// The relay's provider: local blocklists, no network.
#[derive(Debug)]
pub struct BlocklistProvider {
    lists: Arc<Blocklists>,
}

impl BlocklistProvider {
    /// The provider answering from `lists`.
    #[must_use]
    pub fn new(lists: Arc<Blocklists>) -> Self {
        Self { lists }
    }

    /// The lists it answers from.
    #[must_use]
    pub fn lists(&self) -> &Arc<Blocklists> {
        &self.lists
    }
}

/// How long an answer holds: lists change when they are reloaded, so a day.
fn valid_for_a_day(now: Timestamp) -> ValidTime {
    ValidTime::between(
        now,
        now.saturating_add(xdr_relay_core::time::Duration::days(1)),
    )
}

/// The lists that hold `ip`, in the order of the command line.
fn listing(lists: &[Blocklist], ip: IpAddr) -> impl Iterator<Item = &Blocklist> {
    lists.iter().filter(move |list| list.contains(ip))
}

#[xdr_relay_core::async_trait]
impl Provider for BlocklistProvider {
    fn info(&self) -> ProviderInfo {
        info()
    }

    /// A listed address is Malicious; an address on no list gets no verdict (nothing known).
    async fn deliberate(
        &self,
        _: &Context,
        observables: &[ParsedObservable],
    ) -> Result<Outcome<Vec<Verdict>>, RelayError> {
        let lists = self.lists.current();
        let valid = valid_for_a_day(Timestamp::now());
        let verdicts = observables
            .iter()
            .filter(|o| {
                o.ip()
                    .is_some_and(|ip| listing(&lists, ip).next().is_some())
            })
            .map(|o| Verdict::new(Disposition::Malicious, o.observable().clone(), valid))
            .collect();
        Ok(Outcome::new(verdicts))
    }

    /// For each list that holds an address (at most the entity limit of them): a judgement,
    /// a sighting, the list's indicator (once per answer) and the sighting's `member-of`
    /// relationship to it; and the address's verdict, which names its first judgement.
    async fn observe(
        &self,
        context: &Context,
        observables: &[ParsedObservable],
    ) -> Result<Outcome<ObserveBundle>, RelayError> {
        let lists = self.lists.current();
        let now = Timestamp::now();
        let valid = valid_for_a_day(now);
        let mut bundle = ObserveBundle::default();
        let mut indicators: Vec<&str> = Vec::new();
        for o in observables {
            let Some(ip) = o.ip() else { continue };
            let mut verdict: Option<Verdict> = None;
            for list in listing(&lists, ip).take(context.entities_limit()) {
                let observable = o.observable().clone();
                let mut judgement = Judgement::new(
                    Id::transient("judgement"),
                    observable.clone(),
                    Disposition::Malicious,
                    list.name.clone(),
                    Confidence::High,
                    Severity::High,
                    90,
                    valid,
                );
                judgement.reason = Some(format!("Found on blocklist {}", list.name).into());
                verdict.get_or_insert_with(|| {
                    let mut verdict =
                        Verdict::new(Disposition::Malicious, observable.clone(), valid);
                    verdict.judgement_id = Some(judgement.id.clone());
                    verdict
                });
                bundle.judgements.push(judgement);

                let mut sighting = Sighting::new(
                    Id::transient("sighting"),
                    1,
                    Confidence::High,
                    ObservedTime::at(now),
                );
                sighting.description = Some("Found on blocklist".into());
                sighting.source = Some(list.name.clone().into());
                sighting.severity = Some(Severity::High);
                sighting.observables = vec![observable];
                let indicator_id = Id::transient_from_name("indicator", &list.name);
                bundle.relationships.push(Relationship::new(
                    Id::transient("relationship"),
                    RelationshipType::MemberOf,
                    sighting.id.clone(),
                    indicator_id.clone(),
                ));
                bundle.sightings.push(sighting);
                if !indicators.contains(&list.name.as_str()) {
                    indicators.push(&list.name);
                    let mut indicator =
                        Indicator::new(indicator_id, list.name.clone(), ValidTime::default());
                    indicator.title = Some(list.name.clone().into());
                    indicator.short_description = Some(format!("Feed: {}", list.name).into());
                    bundle.indicators.push(indicator);
                }
            }
            if let Some(verdict) = verdict {
                bundle.verdicts.push(verdict);
            }
        }
        Ok(Outcome::new(bundle))
    }
}
