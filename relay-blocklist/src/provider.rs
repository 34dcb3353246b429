//! The blocklists as a relay-core [`Provider`]: the lists loaded from files (and loaded again
//! on demand), the CTIM a listed address gets, and the dashboard's tiles.

use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::{Arc, PoisonError, RwLock};

use xdr_relay_core::ctim_model::{
    Confidence, Disposition, Id, Indicator, Judgement, ObservableType, ObserveBundle, ObservedTime,
    Relationship, RelationshipType, Severity, Sighting, Timestamp, ValidTime, Verdict,
};
use xdr_relay_core::tiles::{Period, Tile, TileData};
use xdr_relay_core::{Context, Outcome, ParsedObservable, Provider, ProviderInfo, RelayError};

use crate::blocklist::{Blocklist, LoadError};
use crate::dashboard::{self, Matches};

/// The lists of some files, replaced as a whole when they are loaded again.
#[derive(Debug)]
pub struct Blocklists {
    files: Vec<PathBuf>,
    state: RwLock<State>,
}

/// The lists in use, and when they were loaded.
#[derive(Debug)]
struct State {
    lists: Arc<[Blocklist]>,
    loaded_at: Timestamp,
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
            state: RwLock::new(State {
                lists,
                loaded_at: Timestamp::now(),
            }),
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
        self.put(lists);
        Ok(loaded)
    }

    /// Puts `lists` in use, loaded now.
    fn put(&self, lists: Arc<[Blocklist]>) {
        *self.state.write().unwrap_or_else(PoisonError::into_inner) = State {
            lists,
            loaded_at: Timestamp::now(),
        };
    }

    /// The lists in use now.
    #[must_use]
    pub fn current(&self) -> Arc<[Blocklist]> {
        Arc::clone(
            &self
                .state
                .read()
                .unwrap_or_else(PoisonError::into_inner)
                .lists,
        )
    }

    /// When the lists in use were loaded (at start, or by the last reload).
    #[must_use]
    pub fn loaded_at(&self) -> Timestamp {
        self.state
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .loaded_at
    }

    /// The files, in the order of the lists.
    #[must_use]
    pub fn files(&self) -> &[PathBuf] {
        &self.files
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

/// What the relay is: IP and IPv6 addresses looked up in local lists, no credentials; and a
/// dashboard ([`dashboard::tiles`]).
#[must_use]
pub fn info() -> ProviderInfo {
    ProviderInfo::new(
        "Local blocklists",
        env!("CARGO_PKG_VERSION"),
        [ObservableType::Ip, ObservableType::Ipv6],
    )
    .description(
        "Looks IP and IPv6 addresses up in local blocklist files (FireHOL netsets, Spamhaus \
         DROP): a listed address is Malicious, with a sighting and an indicator per list. Its \
         dashboard shows the lists and their matches.",
    )
    .tiles(dashboard::tiles())
}

/// The relay's provider: local blocklists, no network.
#[derive(Debug)]
pub struct BlocklistProvider {
    lists: Arc<Blocklists>,
    matches: Matches,
}

impl BlocklistProvider {
    /// The provider answering from `lists`.
    #[must_use]
    pub fn new(lists: Arc<Blocklists>) -> Self {
        let matches = Matches::new(lists.files().len());
        Self { lists, matches }
    }

    /// The lists it answers from.
    #[must_use]
    pub fn lists(&self) -> &Arc<Blocklists> {
        &self.lists
    }

    /// The data of the tile `tile_id` for the `period` that ends at `now`.
    ///
    /// # Errors
    ///
    /// `invalid argument` for a tile the relay does not have.
    pub fn tile_data_at(
        &self,
        tile_id: &str,
        period: Period,
        now: Timestamp,
    ) -> Result<TileData, RelayError> {
        let lists = self.lists.current();
        dashboard::tile_data(
            tile_id,
            period,
            now,
            &lists,
            self.lists.loaded_at(),
            &self.matches,
        )
    }
}

/// Now, to the millisecond (as CTIM writes times, and Cisco's relays their tiles').
fn now_to_the_millisecond() -> Timestamp {
    let now = xdr_relay_core::time::OffsetDateTime::now_utc();
    let millis = now.nanosecond() / 1_000_000 * 1_000_000;
    Timestamp::from(now.replace_nanosecond(millis).unwrap_or(now))
}

/// How long an answer holds: lists change when they are reloaded, so a day.
fn valid_for_a_day(now: Timestamp) -> ValidTime {
    ValidTime::between(
        now,
        now.saturating_add(xdr_relay_core::time::Duration::days(1)),
    )
}

/// The lists that hold `ip`, with their index, in the order of the command line.
fn listing(lists: &[Blocklist], ip: IpAddr) -> impl Iterator<Item = (usize, &Blocklist)> {
    lists
        .iter()
        .enumerate()
        .filter(move |(_, list)| list.contains(ip))
}

#[xdr_relay_core::async_trait]
impl Provider for BlocklistProvider {
    fn info(&self) -> ProviderInfo {
        info()
    }

    /// A listed address is Malicious; an address on no list gets no verdict (nothing known).
    /// Each list that holds an address counts a match, for the dashboard.
    async fn deliberate(
        &self,
        _: &Context,
        observables: &[ParsedObservable],
    ) -> Result<Outcome<Vec<Verdict>>, RelayError> {
        let lists = self.lists.current();
        let now = Timestamp::now();
        let valid = valid_for_a_day(now);
        let mut found = vec![0_u64; lists.len()];
        let verdicts = observables
            .iter()
            .filter(|o| {
                let Some(ip) = o.ip() else { return false };
                let mut listed = false;
                for (index, _) in listing(&lists, ip) {
                    found[index] += 1;
                    listed = true;
                }
                listed
            })
            .map(|o| Verdict::new(Disposition::Malicious, o.observable().clone(), valid))
            .collect();
        self.matches.record(now, &found);
        Ok(Outcome::new(verdicts))
    }

    /// For each list that holds an address (at most the entity limit of them): a judgement,
    /// a sighting, the list's indicator (once per answer) and the sighting's `member-of`
    /// relationship to it; and the address's verdict, which names its first judgement. Each
    /// list that holds an address counts a match, beyond the limit too.
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
        let mut found = vec![0_u64; lists.len()];
        for o in observables {
            let Some(ip) = o.ip() else { continue };
            let mut verdict: Option<Verdict> = None;
            for (n, (index, list)) in listing(&lists, ip).enumerate() {
                found[index] += 1;
                if n >= context.entities_limit() {
                    continue;
                }
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
        self.matches.record(now, &found);
        Ok(Outcome::new(bundle))
    }

    /// The dashboard's tiles ([`dashboard::tiles`]).
    async fn tile_data(
        &self,
        _: &Context,
        tile: &Tile,
        period: Period,
    ) -> Result<TileData, RelayError> {
        self.tile_data_at(&tile.id, period, now_to_the_millisecond())
    }
}
