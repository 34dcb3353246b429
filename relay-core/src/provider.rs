//! The seam between relay-core and a threat-intelligence source: the [`Provider`] trait, what
//! a provider is given ([`Context`], [`ParsedObservable`]) and what it returns ([`Outcome`]
//! of CTIM entities, [`ReferLink`]s, [`ResponseAction`]s, [`TileData`]).
//!
//! Everything else a relay needs (tokens, body limits, parsing and filtering observables, the
//! envelope and its error codes, entity limits, request ids, logs and metrics, the OpenAPI
//! document, `/version`, `/watchdog`, the `/respond/*` and `/tiles*` defaults, the router) is
//! relay-core's and the same for every provider.

use std::borrow::Cow;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use ctim_model::{ObservableType, ObserveBundle, Verdict};
use serde::Serialize;
use serde_json::{Map, Value};
use tokio::time::Instant;

use crate::credentials::{CredentialField, Credentials};
use crate::error::RelayError;
use crate::request::{ParsedObservable, Trigger};
use crate::stats::RequestStats;
use crate::tiles::{Period, Tile, TileData};

/// A source of threat intelligence behind the relay's routes: implement it, and
/// [`router_for`](crate::router_for) serves it as a complete Threat Response relay.
///
/// The router holds it as an `Arc<dyn Provider>` and calls it concurrently from many requests.
/// Each call gets the request's [`Context`] (the caller's checked credentials and entity
/// limit) and the request's observables of the provider's types, parsed, each once, in request
/// order. A call returns CTIM entities with the errors met on the way ([`Outcome`]): the relay
/// answers the data it has beside the errors, so one failed lookup does not hide the others.
/// An `Err` is a failure of the whole call (answered as the envelope of that one error).
///
/// Errors are [`RelayError`]s, whose codes Threat Response knows; [`RelayError::upstream`]
/// maps an upstream's failures (401, 429, 5xx, timeouts, ...) to them.
///
/// A minimal provider, which judges every IP address it is asked about:
///
/// ```
/// use std::sync::Arc;
/// use xdr_relay_core::ctim_model::{Disposition, ObservableType, ObserveBundle, ValidTime, Verdict};
/// use xdr_relay_core::{async_trait, Context, Outcome, ParsedObservable, Provider, ProviderInfo, RelayError};
///
/// struct EverythingIsFine;
///
/// #[async_trait]
/// impl Provider for EverythingIsFine {
///     fn info(&self) -> ProviderInfo {
///         ProviderInfo::new("Everything Is Fine", "0.1.0", [ObservableType::Ip])
///     }
///
///     async fn deliberate(
///         &self,
///         _: &Context,
///         observables: &[ParsedObservable],
///     ) -> Result<Outcome<Vec<Verdict>>, RelayError> {
///         let verdict = |o: &ParsedObservable| {
///             Verdict::new(Disposition::Clean, o.observable().clone(), ValidTime::default())
///         };
///         Ok(Outcome::new(observables.iter().map(verdict).collect()))
///     }
///
///     async fn observe(
///         &self,
///         context: &Context,
///         observables: &[ParsedObservable],
///     ) -> Result<Outcome<ObserveBundle>, RelayError> {
///         let verdicts = self.deliberate(context, observables).await?;
///         let mut bundle = ObserveBundle::default();
///         bundle.verdicts = verdicts.data.into();
///         Ok(Outcome::new(bundle))
///     }
/// }
///
/// let mut config = xdr_relay_core::RelayConfig::default();
/// config.secret_key = xdr_relay_core::SecretKey::new("the relay's SECRET_KEY");
/// let app: axum::Router = xdr_relay_core::router_for(config, Arc::new(EverythingIsFine)).unwrap();
/// ```
#[async_trait]
pub trait Provider: Send + Sync + 'static {
    /// What the provider is: its name, the observable types it looks up and the credential
    /// fields it reads. Called once, when the router is built.
    fn info(&self) -> ProviderInfo;

    /// `/health`: whether the caller's credentials work, proved with a real upstream call
    /// where there is an upstream. The default has nothing to check and answers `ok`.
    async fn health(&self, context: &Context) -> Result<(), RelayError> {
        let _ = context;
        Ok(())
    }

    /// `/deliberate/observables`: a verdict for each observable the provider knows about.
    /// The default: the verdicts of [`observe`](Self::observe), with its errors (write it
    /// when verdicts cost less than the rest).
    async fn deliberate(
        &self,
        context: &Context,
        observables: &[ParsedObservable],
    ) -> Result<Outcome<Vec<Verdict>>, RelayError> {
        Ok(self.observe(context, observables).await?.into_verdicts())
    }

    /// `/observe/observables`: verdicts, judgements, sightings, indicators and relationships,
    /// at most [`Context::entities_limit`] sightings per observable.
    async fn observe(
        &self,
        context: &Context,
        observables: &[ParsedObservable],
    ) -> Result<Outcome<ObserveBundle>, RelayError>;

    /// `/refer/observables`: links to where an analyst can read more. Called only when
    /// [`ProviderInfo::refers`] is set; otherwise the route answers `[]`. The default: none.
    async fn refer(
        &self,
        context: &Context,
        observables: &[ParsedObservable],
    ) -> Result<Outcome<Vec<ReferLink>>, RelayError> {
        let _ = (context, observables);
        Ok(Outcome::new(Vec::new()))
    }

    /// `/respond/observables`: the response actions offered for the observables. Called only
    /// when [`ProviderInfo::responds`] is set; otherwise the route answers `[]`. The default:
    /// none.
    async fn respond_observables(
        &self,
        context: &Context,
        observables: &[ParsedObservable],
    ) -> Result<Outcome<Vec<ResponseAction>>, RelayError> {
        let _ = (context, observables);
        Ok(Outcome::new(Vec::new()))
    }

    /// `/respond/trigger`: runs one of the actions of [`respond_observables`](Self::respond_observables).
    /// Called only when [`ProviderInfo::responds`] is set; otherwise the route answers
    /// `failure` without reading the body. The default: `failure`.
    async fn respond_trigger(
        &self,
        context: &Context,
        trigger: &Trigger,
    ) -> Result<TriggerStatus, RelayError> {
        let _ = (context, trigger);
        Ok(TriggerStatus::Failure)
    }

    /// `/tiles/tile-data`: the data of one of the provider's [tiles](ProviderInfo::tiles)
    /// for `period`, which the tile offers (relay-core answers an unknown tile and a period
    /// the tile does not offer itself). Called only for a tile of
    /// [`ProviderInfo::tiles`]. The default, for a provider that declares tiles without
    /// data: an `unknown` error.
    ///
    /// The content must fit the tile's type ([`TileContent::fits`](crate::tiles::TileContent::fits));
    /// otherwise the route answers an `unknown` error rather than data the dashboard would
    /// draw wrong.
    async fn tile_data(
        &self,
        context: &Context,
        tile: &Tile,
        period: Period,
    ) -> Result<TileData, RelayError> {
        let _ = (context, period);
        Err(RelayError::Unknown(format!(
            "The relay has no data for the tile {:?}.",
            tile.id
        )))
    }
}

/// What a [`Provider`] is: its name and version, what it looks up, the credentials it reads
/// and the capabilities it offers. The router, the OpenAPI document, `/version`, the module
/// type ([`module_type`](crate::module_type())) and the adapters' `jwt` command read it.
///
/// Build it with [`new`](Self::new) and the builder methods (the struct is
/// `#[non_exhaustive]`, so new fields with defaults can come in a minor release):
///
/// ```
/// use xdr_relay_core::ctim_model::ObservableType;
/// use xdr_relay_core::{CredentialField, CredentialKind, ProviderInfo};
///
/// const KEY: CredentialField =
///     CredentialField::required("key", CredentialKind::ApiKey, "the Example Intel API key");
/// let info = ProviderInfo::new("Example Intel", "1.2.3", [ObservableType::Ip, ObservableType::Domain])
///     .credential(KEY)
///     .refers()
///     .description("Looks IP addresses and domains up in Example Intel.");
/// assert_eq!(info.version, "1.2.3");
/// assert!(info.refers && !info.responds && info.tiles.is_empty());
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ProviderInfo {
    /// The source's name, as its users know it (`Auth0 Signals`): the title of the OpenAPI
    /// document is "`name` relay for Cisco Threat Response", and of the module type.
    pub name: Cow<'static, str>,
    /// The relay's version (its package's, `env!("CARGO_PKG_VERSION")`): what `/version`,
    /// the `relay_build_info` metric and the OpenAPI document's `info.version` say.
    pub version: Cow<'static, str>,
    /// The observable types it looks up; the others are ignored, never errors.
    pub observable_types: Vec<ObservableType>,
    /// The token payload fields it reads (its module type's `configuration_spec`), checked by
    /// relay-core when a token verifies. Default none.
    pub credentials: Vec<CredentialField>,
    /// Whether it answers `/refer/observables` ([`Provider::refer`]). Default `false`: the
    /// route answers `[]` without asking the provider, and the module type does not list
    /// `refer`.
    pub refers: bool,
    /// Whether it offers response actions ([`Provider::respond_observables`],
    /// [`Provider::respond_trigger`]). Default `false`: `/respond/observables` answers `[]`
    /// and `/respond/trigger` `failure`.
    pub responds: bool,
    /// The dashboard tiles it offers (`/tiles`, `/tiles/tile`; their data:
    /// [`Provider::tile_data`]). Default none: `/tiles` answers `[]` and the other two `{}`
    /// (after checking the body and the token), as Cisco's relay template does, and the
    /// module type does not list `tiles`. Ids must be unique and non-empty, and each tile
    /// must offer a period, including its default ([`router_for`](crate::router_for) refuses
    /// them otherwise).
    pub tiles: Vec<Tile>,
    /// One paragraph on what the relay does, for its module type. Default: "Looks up
    /// `types` in `name`."
    pub description: Cow<'static, str>,
    /// Whether an observable's type matches in any case (`IP` is `ip`), as in Cisco's relays
    /// that lowercase it. Default `false`: only the type as CTIM writes it. Either way the
    /// provider is given the type as CTIM writes it.
    pub types_in_any_case: bool,
    /// The kinds of entity `observe` returns, for the module type's words (and whether it
    /// lists `deliberate`: only with [`EntityKind::Verdict`]). Default verdicts, judgements,
    /// sightings and indicators.
    pub returns: Vec<EntityKind>,
    /// The module type's description of a capability (`health`, `observe`, ...), replacing
    /// the one derived from the rest of the info. Default none.
    pub capability_texts: Vec<(Cow<'static, str>, Cow<'static, str>)>,
    /// The error code of a body that is not a list of observables, when the provider's
    /// source answers one of its own (Cisco's relays differ: most say `invalid argument`,
    /// some `invalid payload received`). Default `None`: `invalid argument`. The message is
    /// relay-core's either way.
    pub invalid_payload_code: Option<&'static str>,
}

/// A kind of CTIM entity a provider's `observe` returns ([`ProviderInfo::returns`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum EntityKind {
    /// Verdicts (also what `deliberate` answers).
    Verdict,
    /// Judgements.
    Judgement,
    /// Sightings.
    Sighting,
    /// Indicators.
    Indicator,
    /// Relationships.
    Relationship,
}

impl EntityKind {
    /// The kind's plural in lower case (`sightings`).
    #[must_use]
    pub const fn plural(self) -> &'static str {
        match self {
            Self::Verdict => "verdicts",
            Self::Judgement => "judgements",
            Self::Sighting => "sightings",
            Self::Indicator => "indicators",
            Self::Relationship => "relationships",
        }
    }
}

impl ProviderInfo {
    /// A provider called `name`, at `version`, that looks up `observable_types`, reads no
    /// credential field and offers only `health`, `deliberate` and `observe`.
    pub fn new(
        name: impl Into<Cow<'static, str>>,
        version: impl Into<Cow<'static, str>>,
        observable_types: impl IntoIterator<Item = ObservableType>,
    ) -> Self {
        let name = name.into();
        let observable_types: Vec<ObservableType> = observable_types.into_iter().collect();
        let types: Vec<&str> = observable_types
            .iter()
            .map(ObservableType::as_str)
            .collect();
        let description = format!("Looks up {} observables in {name}.", types.join(", "));
        Self {
            name,
            version: version.into(),
            observable_types,
            credentials: Vec::new(),
            refers: false,
            responds: false,
            tiles: Vec::new(),
            description: description.into(),
            types_in_any_case: false,
            returns: vec![
                EntityKind::Verdict,
                EntityKind::Judgement,
                EntityKind::Sighting,
                EntityKind::Indicator,
            ],
            capability_texts: Vec::new(),
            invalid_payload_code: None,
        }
    }

    /// A body that is not a list of observables is answered with `code` rather than
    /// `invalid argument` (as Cisco's relay of the same source answers it).
    ///
    /// ```
    /// use xdr_relay_core::ctim_model::ObservableType;
    /// use xdr_relay_core::ProviderInfo;
    ///
    /// let info = ProviderInfo::new("Example Intel", "1.0.0", [ObservableType::Domain])
    ///     .invalid_payload_code("invalid payload received");
    /// assert_eq!(info.invalid_payload_code, Some("invalid payload received"));
    /// ```
    #[must_use]
    pub fn invalid_payload_code(mut self, code: &'static str) -> Self {
        self.invalid_payload_code = Some(code);
        self
    }

    /// The kinds of entity `observe` returns (replacing the default four), for the module
    /// type's words: a provider without [`EntityKind::Verdict`] is not listed as offering
    /// `deliberate`.
    ///
    /// ```
    /// use xdr_relay_core::ctim_model::ObservableType;
    /// use xdr_relay_core::{EntityKind, ModuleAuth, ProviderInfo, module_type};
    ///
    /// let info = ProviderInfo::new("Pulses", "1.0.0", [ObservableType::Domain])
    ///     .returns([EntityKind::Sighting, EntityKind::Indicator, EntityKind::Relationship]);
    /// let module = module_type(&info, "https://relay.example.com", ModuleAuth::SecretKey { key: None });
    /// let observe = module.capabilities.iter().find(|c| c.id == "observe").unwrap();
    /// assert_eq!(observe.description, "Sightings, indicators and relationships on domain observables from Pulses.");
    /// assert!(module.capabilities.iter().all(|c| c.id != "deliberate"));
    /// ```
    #[must_use]
    pub fn returns(mut self, kinds: impl IntoIterator<Item = EntityKind>) -> Self {
        self.returns = kinds.into_iter().collect();
        self
    }

    /// The module type describes capability `id` (`health`, `deliberate`, `observe`,
    /// `refer`, `respond`, `tiles`) as `text` instead of the derived words.
    ///
    /// ```
    /// use xdr_relay_core::ctim_model::ObservableType;
    /// use xdr_relay_core::{ModuleAuth, ProviderInfo, module_type};
    ///
    /// let info = ProviderInfo::new("Example", "1.0.0", [ObservableType::Ip])
    ///     .capability_text("health", "Looks 8.8.8.8 up in Example.");
    /// let module = module_type(&info, "https://relay.example.com", ModuleAuth::SecretKey { key: None });
    /// assert_eq!(module.capabilities[0].description, "Looks 8.8.8.8 up in Example.");
    /// ```
    #[must_use]
    pub fn capability_text(
        mut self,
        id: impl Into<Cow<'static, str>>,
        text: impl Into<Cow<'static, str>>,
    ) -> Self {
        self.capability_texts.push((id.into(), text.into()));
        self
    }

    /// It takes observable types in any case (`IP`, `Ipv6`).
    #[must_use]
    pub fn types_in_any_case(mut self) -> Self {
        self.types_in_any_case = true;
        self
    }

    /// Adds a credential field the provider reads from the token.
    #[must_use]
    pub fn credential(mut self, field: CredentialField) -> Self {
        self.credentials.push(field);
        self
    }

    /// It answers `/refer/observables`.
    #[must_use]
    pub fn refers(mut self) -> Self {
        self.refers = true;
        self
    }

    /// It offers response actions.
    #[must_use]
    pub fn responds(mut self) -> Self {
        self.responds = true;
        self
    }

    /// Adds a dashboard tile ([`Provider::tile_data`] answers its data).
    ///
    /// ```
    /// use xdr_relay_core::ctim_model::ObservableType;
    /// use xdr_relay_core::tiles::{Tile, TileType};
    /// use xdr_relay_core::ProviderInfo;
    ///
    /// let info = ProviderInfo::new("Example Intel", "1.0.0", [ObservableType::Ip])
    ///     .tile(Tile::new("lookups", TileType::VerticalBarChart, "Lookups per day"));
    /// assert_eq!(info.tiles[0].id, "lookups");
    /// ```
    #[must_use]
    pub fn tile(mut self, tile: Tile) -> Self {
        self.tiles.push(tile);
        self
    }

    /// Adds dashboard tiles.
    #[must_use]
    pub fn tiles(mut self, tiles: impl IntoIterator<Item = Tile>) -> Self {
        self.tiles.extend(tiles);
        self
    }

    /// What the relay does, in one paragraph.
    #[must_use]
    pub fn description(mut self, description: impl Into<Cow<'static, str>>) -> Self {
        self.description = description.into();
        self
    }
}

/// One request, as a [`Provider`] sees it: the caller's credentials, the entity limit, its
/// deadline, and where its costs are counted for the request's log line.
#[derive(Debug)]
pub struct Context {
    credentials: Credentials,
    entities_limit: usize,
    deadline: Option<Instant>,
    /// What the request costs, shared with the request's log line.
    stats: Arc<RequestStats>,
}

impl Context {
    /// A request with these credentials and entity limit, and no deadline: relay-core makes
    /// one per request (with the relay's deadline); providers make them in their tests.
    #[must_use]
    pub fn new(credentials: Credentials, entities_limit: usize) -> Self {
        Self::counted(credentials, entities_limit, Arc::default())
    }

    /// A request whose costs go to `stats` (the request's, which its log line reads).
    pub(crate) fn counted(
        credentials: Credentials,
        entities_limit: usize,
        stats: Arc<RequestStats>,
    ) -> Self {
        Self {
            credentials,
            entities_limit,
            deadline: None,
            stats,
        }
    }

    /// The same request, to be answered by `deadline`.
    #[must_use]
    pub fn with_deadline(mut self, deadline: Instant) -> Self {
        self.deadline = Some(deadline);
        self
    }

    /// When the request must be answered: [`Upstream::call`](crate::Upstream::call) gives up
    /// waiting for a call slot or an answer then, so the data that is ready is answered with
    /// an error for the rest (the relay's
    /// [`request_timeout`](crate::RelayConfig::request_timeout) from the request's arrival).
    #[must_use]
    pub fn deadline(&self) -> Option<Instant> {
        self.deadline
    }

    /// How long the request has left before its [deadline](Self::deadline) (zero once it has
    /// passed), or `None` without one. Read it inside the future given to
    /// [`Upstream::call`](crate::Upstream::call), which runs once the call has its slot, and
    /// bound the client's own timeouts and `Retry-After` waits by it: a call the request's
    /// deadline cuts is the relay's lack of time, which the circuit breaker does not count.
    #[must_use]
    pub fn time_left(&self) -> Option<Duration> {
        self.deadline
            .map(|deadline| deadline.saturating_duration_since(Instant::now()))
    }

    /// The caller's credentials: the fields of [`ProviderInfo::credentials`], checked.
    #[must_use]
    pub fn credentials(&self) -> &Credentials {
        &self.credentials
    }

    /// Most sightings (with their indicators and relationships) to return per observable: the
    /// token's `CTR_ENTITIES_LIMIT` when it has one, else the relay's
    /// [`entities_limit`](crate::RelayConfig::entities_limit).
    #[must_use]
    pub fn entities_limit(&self) -> usize {
        self.entities_limit
    }

    /// Counts `calls` calls to the upstream (retries not counted), for the request's log line
    /// ([`Upstream::call`](crate::Upstream::call) counts its own).
    pub fn record_upstream_calls(&self, calls: u32) {
        self.stats.add_upstream_calls(calls);
    }

    /// Counts `hits` answers taken from the provider's cache, for the request's log line.
    pub fn record_cache_hits(&self, hits: u32) {
        self.stats.add_cache_hits(hits);
    }

    /// Upstream calls recorded so far.
    #[must_use]
    pub fn upstream_calls(&self) -> u32 {
        self.stats.upstream_calls()
    }

    /// Cache hits recorded so far.
    #[must_use]
    pub fn cache_hits(&self) -> u32 {
        self.stats.cache_hits()
    }

    /// Records the answer for the request's log line: `observables` in its body, `errors` in
    /// its envelope.
    pub(crate) fn answered(&self, observables: usize, errors: usize) {
        self.stats.answered(observables, errors);
    }
}

/// What a provider gathered, and the errors it met on the way (each distinct one is
/// reported once, beside the data).
///
/// The relay answers `data` when there is some or when nothing went wrong (then an empty
/// answer means "nothing known"); errors with nothing gathered answer `errors` alone.
#[derive(Debug, Clone, PartialEq, Default)]
#[non_exhaustive]
pub struct Outcome<T> {
    /// What the route answers.
    pub data: T,
    /// Every failure met, in the order met (a lookup that failed for one observable).
    pub errors: Vec<RelayError>,
}

impl<T> Outcome<T> {
    /// Data gathered without an error.
    pub fn new(data: T) -> Self {
        Self {
            data,
            errors: Vec::new(),
        }
    }

    /// Data gathered, and the errors met while gathering it.
    pub fn with_errors(data: T, errors: Vec<RelayError>) -> Self {
        Self { data, errors }
    }
}

/// One `/refer/observables` link: where an analyst can read more about an observable.
///
/// ```
/// let link = xdr_relay_core::ReferLink::new(
///     "ref-example-search-ip-192.0.2.1",
///     "Search for this IP",
///     "Lookup this IP on Example Intel",
///     "https://intel.example/ip/192.0.2.1",
///     ["Search", "Example Intel"],
/// );
/// assert_eq!(serde_json::to_value(&link).unwrap()["categories"][1], "Example Intel");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct ReferLink {
    /// A stable id, unique in the answer.
    pub id: String,
    /// A short title, e.g. `Search for this IP`.
    pub title: Cow<'static, str>,
    /// One sentence.
    pub description: Cow<'static, str>,
    /// Where the link goes.
    pub url: String,
    /// Threat Response's categories, e.g. `Search` and the source's name.
    pub categories: Vec<Cow<'static, str>>,
}

impl Outcome<ObserveBundle> {
    /// The verdicts of an observe answer, with its errors: what `deliberate` answers for the
    /// same observables.
    ///
    /// ```
    /// use xdr_relay_core::ctim_model::{Disposition, Observable, ObservableType, ObserveBundle, ValidTime, Verdict};
    /// use xdr_relay_core::{Outcome, RelayError};
    ///
    /// let mut bundle = ObserveBundle::default();
    /// let ip = Observable::new(ObservableType::Ip, "192.0.2.1");
    /// bundle.verdicts.push(Verdict::new(Disposition::Clean, ip, ValidTime::default()));
    /// let outcome = Outcome::with_errors(bundle, vec![RelayError::Unknown("one failed".into())]);
    /// let verdicts = outcome.into_verdicts();
    /// assert_eq!((verdicts.data.len(), verdicts.errors.len()), (1, 1));
    /// ```
    #[must_use]
    pub fn into_verdicts(self) -> Outcome<Vec<Verdict>> {
        Outcome::with_errors(self.data.verdicts.into_vec(), self.errors)
    }
}

impl ReferLink {
    /// A link with every field.
    pub fn new<C: Into<Cow<'static, str>>>(
        id: impl Into<String>,
        title: impl Into<Cow<'static, str>>,
        description: impl Into<Cow<'static, str>>,
        url: impl Into<String>,
        categories: impl IntoIterator<Item = C>,
    ) -> Self {
        Self {
            id: id.into(),
            title: title.into(),
            description: description.into(),
            url: url.into(),
            categories: categories.into_iter().map(Into::into).collect(),
        }
    }
}

/// One `/respond/observables` action, which Threat Response offers the analyst and sends back
/// to `/respond/trigger` as [`Trigger`].
///
/// The shapes, as Cisco's relays (Microsoft Defender for Endpoint, urlscan.io, AWS VPC logs)
/// have them. `/respond/observables` takes the observables as the other routes do and answers
/// the actions (`{"data": []}` when none applies):
///
/// ```json
/// {"data": [{"id": "defender-add-indicator-alert",
///            "title": "Add indicator: Alert",
///            "description": "Add indicator with Alert action for asdf.com",
///            "categories": ["Defender ATP", "Add Indicator"],
///            "query-params": {"observable_type": "domain", "observable_value": "asdf.com"}}]}
/// ```
///
/// When the analyst picks one, Threat Response POSTs its `query-params` and its id as
/// `action-id` to `/respond/trigger` (extra query parameters come back as they were given):
///
/// ```json
/// {"action-id": "defender-add-indicator-alert", "observable_type": "domain", "observable_value": "asdf.com"}
/// ```
///
/// which answers `{"data": {"status": "success"}}`, or `{"data": {"status": "failure"}}`
/// ([`TriggerStatus`]); a failed call ([`Provider::respond_trigger`]'s `Err`) is answered as
/// its error, `{"errors": [{"type": "fatal", "code": …, "message": …}]}`. A bad trigger body
/// is `invalid argument`, before the token is checked.
///
/// ```
/// use xdr_relay_core::ctim_model::ObservableType;
/// use xdr_relay_core::{ParsedObservable, ResponseAction};
///
/// let ip = ParsedObservable::new(ObservableType::Ip, "192.0.2.1").unwrap();
/// let mut action = ResponseAction::new("block", "Block", "Block 192.0.2.1 at the edge", &ip);
/// action.categories = vec!["Example Firewall".into(), "Block".into()];
/// let json = serde_json::to_value(&action).unwrap();
/// assert_eq!(json["query-params"]["observable_value"], "192.0.2.1");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct ResponseAction {
    /// The action's id, sent back as `action-id`.
    pub id: String,
    /// A short title.
    pub title: Cow<'static, str>,
    /// One sentence.
    pub description: Cow<'static, str>,
    /// Threat Response's categories.
    pub categories: Vec<Cow<'static, str>>,
    /// Sent back with the trigger: `observable_type` and `observable_value` by convention,
    /// and anything else the action needs.
    #[serde(rename = "query-params")]
    pub query_params: Map<String, Value>,
}

impl ResponseAction {
    /// The action `id` on `observable`, its query parameters the observable's type and value.
    pub fn new(
        id: impl Into<String>,
        title: impl Into<Cow<'static, str>>,
        description: impl Into<Cow<'static, str>>,
        observable: &ParsedObservable,
    ) -> Self {
        let mut query_params = Map::new();
        query_params.insert("observable_type".into(), o_str(observable.kind().as_str()));
        query_params.insert("observable_value".into(), o_str(observable.value()));
        Self {
            id: id.into(),
            title: title.into(),
            description: description.into(),
            categories: Vec::new(),
            query_params,
        }
    }
}

fn o_str(s: &str) -> Value {
    Value::String(s.to_owned())
}

/// What `/respond/trigger` answers as `{"status": …}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum TriggerStatus {
    /// The action ran.
    Success,
    /// It did not (or there is no such action).
    Failure,
}
