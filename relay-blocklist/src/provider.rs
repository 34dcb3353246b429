//! The blocklists as a relay-core [`Provider`]: the lists loaded from files (and loaded again
//! on demand, or after an address was added to the writable list), the CTIM a listed address
//! gets, the dashboard's tiles and the response action.

use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError, RwLock};

use xdr_relay_core::ctim_model::{
    Confidence, Disposition, Id, Indicator, Judgement, ObservableType, ObserveBundle, ObservedTime,
    Relationship, RelationshipType, Severity, Sighting, Timestamp, ValidTime, Verdict,
};
use xdr_relay_core::tiles::{Period, Tile, TileData};
use xdr_relay_core::{
    Context, Outcome, ParsedObservable, Provider, ProviderInfo, RelayError, ResponseAction,
    Trigger, TriggerStatus,
};

use crate::blocklist::{Blocklist, LoadError};
use crate::dashboard::{self, Matches};
use crate::writable::{self, AddError, Added};

/// The lists of some files, replaced as a whole when they are loaded again.
#[derive(Debug)]
pub struct Blocklists {
    files: Vec<PathBuf>,
    state: RwLock<State>,
    /// Held by whoever loads or writes lists, so that a reload and an addition never undo
    /// each other.
    writing: Mutex<()>,
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
            writing: Mutex::new(()),
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
        let _writing = self.writing.lock().unwrap_or_else(PoisonError::into_inner);
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

    /// When the lists in use were loaded (at start, by the last reload, or when an address
    /// was last added).
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

    /// Adds `ip` to the list file `path` (one of [`files`](Self::files)), and puts the list
    /// as the file now has it in use: the next lookup sees it. The file is replaced
    /// atomically (a temporary file in its folder, written, synced, renamed over it), so a
    /// reader never sees half of it; the line carries a comment with the time. An address the
    /// file already holds is not added again. The other lists stay as they are.
    ///
    /// # Errors
    ///
    /// [`AddError`]: `path` is not one of the files, it cannot be read or written, or it does
    /// not parse (then it is left as it was).
    pub fn add(&self, path: &Path, ip: IpAddr, now: Timestamp) -> Result<Added, AddError> {
        let _writing = self.writing.lock().unwrap_or_else(PoisonError::into_inner);
        let index = self
            .files
            .iter()
            .position(|f| f == path)
            .ok_or_else(|| AddError::NotAList(path.display().to_string()))?;
        let (list, added) = writable::append(path, ip, now)?;
        // The other lists are copied as they are: an addition is an analyst's rare action.
        let mut lists: Vec<Blocklist> = self.current().to_vec();
        if let Some(slot) = lists.get_mut(index) {
            *slot = list;
        }
        self.put(lists.into());
        Ok(added)
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

/// What the relay is: IP and IPv6 addresses looked up in local lists, no credentials; a
/// dashboard ([`dashboard::tiles`]); and a response action, offered only when a writable list
/// is set ([`BlocklistProvider::writable`]).
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
         dashboard shows the lists and their matches; when a writable list is set, an \
         analyst can add an address to it.",
    )
    .responds()
    .tiles(dashboard::tiles())
}

/// The id of the one response action: add the address to the writable list.
pub const ADD_ACTION: &str = "blocklist-add";

/// The relay's provider: local blocklists, no network.
#[derive(Debug)]
pub struct BlocklistProvider {
    lists: Arc<Blocklists>,
    matches: Matches,
    /// The file `/respond/trigger` may add addresses to, if any.
    writable: Option<PathBuf>,
}

impl BlocklistProvider {
    /// The provider answering from `lists`, offering no response action.
    #[must_use]
    pub fn new(lists: Arc<Blocklists>) -> Self {
        let matches = Matches::new(lists.files().len());
        Self {
            lists,
            matches,
            writable: None,
        }
    }

    /// The same provider, offering to add addresses to the list file `path`, which must be
    /// one of the lists' files (compared as given).
    ///
    /// # Errors
    ///
    /// [`AddError::NotAList`] when `path` is not one of them.
    pub fn writable(mut self, path: PathBuf) -> Result<Self, AddError> {
        if !self.lists.files().contains(&path) {
            return Err(AddError::NotAList(path.display().to_string()));
        }
        self.writable = Some(path);
        Ok(self)
    }

    /// The lists it answers from.
    #[must_use]
    pub fn lists(&self) -> &Arc<Blocklists> {
        &self.lists
    }

    /// The writable list's index among the lists, and its file, if there is one.
    fn writable_list(&self) -> Option<(usize, &Path)> {
        let path = self.writable.as_deref()?;
        let index = self.lists.files().iter().position(|f| f == path)?;
        Some((index, path))
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

    /// With a writable list: `Add to <list>` for each address it does not hold yet. Without
    /// one, none.
    async fn respond_observables(
        &self,
        _: &Context,
        observables: &[ParsedObservable],
    ) -> Result<Outcome<Vec<ResponseAction>>, RelayError> {
        let Some((index, _)) = self.writable_list() else {
            return Ok(Outcome::new(Vec::new()));
        };
        let lists = self.lists.current();
        let Some(list) = lists.get(index) else {
            return Ok(Outcome::new(Vec::new()));
        };
        let actions = observables
            .iter()
            .filter(|o| o.ip().is_some_and(|ip| !list.contains(ip)))
            .map(|o| {
                let mut action = ResponseAction::new(
                    ADD_ACTION,
                    format!("Add to {}", list.name),
                    format!("Add {} to the local blocklist {}", o.value(), list.name),
                    o,
                );
                action.categories = vec!["Local blocklists".into(), "Add to blocklist".into()];
                action
            })
            .collect();
        Ok(Outcome::new(actions))
    }

    /// Adds the address to the writable list (the action of
    /// [`respond_observables`](Provider::respond_observables)): `success` once the file has it
    /// and the next lookup sees it (also when it already had it); `failure` without a writable
    /// list, for another action, or for an observable that is not an `ip` or `ipv6` address;
    /// an `unknown` error when the file cannot be written (the log says why).
    async fn respond_trigger(
        &self,
        _: &Context,
        trigger: &Trigger,
    ) -> Result<TriggerStatus, RelayError> {
        let Some((_, path)) = self.writable_list() else {
            return Ok(TriggerStatus::Failure);
        };
        let observable = &trigger.observable;
        let ip = match observable.kind {
            ObservableType::Ip | ObservableType::Ipv6 => {
                ParsedObservable::new(observable.kind.clone(), observable.value.clone())
                    .and_then(|o| o.ip())
            }
            _ => None,
        };
        let (Some(ip), ADD_ACTION) = (ip, trigger.action_id.as_str()) else {
            return Ok(TriggerStatus::Failure);
        };
        let lists = Arc::clone(&self.lists);
        let path = path.to_owned();
        let now = now_to_the_millisecond();
        let added = tokio::task::spawn_blocking(move || lists.add(&path, ip, now))
            .await
            .map_err(|_| AddError::Interrupted);
        match added.and_then(|added| added) {
            Ok(added) => {
                tracing::info!(
                    address = %ip,
                    list = %added.list,
                    new = added.new,
                    "address added to the writable blocklist"
                );
                Ok(TriggerStatus::Success)
            }
            Err(error) => {
                tracing::error!(address = %ip, %error, "address not added to the writable blocklist");
                Err(RelayError::Unknown(
                    "The address could not be added to the blocklist; the relay's log says why."
                        .to_owned(),
                ))
            }
        }
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
