//! Several relays in one router ([`Suite`]): each relay mounted under `/{name}/` with every
//! route it has alone, answering exactly as it answers alone, in its own scope
//! ([`crate::telemetry::current_relay`]); `/watchdog` and `/version` at the root, and the
//! `not found` envelope anywhere else.

use std::borrow::Cow;
use std::fmt;
use std::sync::Arc;

use axum::Router;
use axum::response::IntoResponse;
use axum::routing::get;
use futures::future::BoxFuture;
use serde::Serialize;

use crate::app::App;
use crate::config::RelayConfig;
use crate::error::ConfigError;
use crate::layers;
use crate::provider::{Provider, ProviderInfo};
use crate::routes::{self, ROUTES};
use crate::settings::{EnvVar, Settings};
use crate::telemetry;

/// Which relays of a suite to serve (comma-separated mount names). Default: every relay whose
/// settings are complete.
pub const RELAYS: EnvVar = EnvVar::new(
    "RELAYS",
    "relays",
    "NAME,...",
    "The relays to serve, by mount name (comma-separated, or the flag repeated). Default: \
     every relay of the suite whose settings are complete; a relay named here whose settings \
     are missing stops the start.",
)
.multiple();

/// One relay of a [`Suite`]: its mount name and its [`App`], whatever its provider's type.
pub struct Member {
    name: Cow<'static, str>,
    app: Box<dyn Mountable>,
}

impl fmt::Debug for Member {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Member")
            .field("name", &self.name)
            .field("relay", &self.app.info().name)
            .finish_non_exhaustive()
    }
}

/// What a suite needs of an [`App`], without its provider's type.
trait Mountable: Send + Sync {
    fn info(&self) -> &ProviderInfo;
    fn settings(&self) -> &[EnvVar];
    fn catalog(&self) -> &[(Cow<'static, str>, Cow<'static, str>)];
    fn build(&self, settings: &Settings<'_>) -> Result<Built, ConfigError>;
}

/// A built relay: its provider and the task its [`App::on_serve`] runs beside the server.
type Built = (Arc<dyn Provider>, Option<BoxFuture<'static, ()>>);

impl<P: Provider> Mountable for App<P> {
    fn info(&self) -> &ProviderInfo {
        App::info(self)
    }
    fn settings(&self) -> &[EnvVar] {
        self.provider_settings()
    }
    fn catalog(&self) -> &[(Cow<'static, str>, Cow<'static, str>)] {
        App::catalog(self)
    }
    fn build(&self, settings: &Settings<'_>) -> Result<Built, ConfigError> {
        let provider = Arc::new(App::build(self, settings)?);
        let task = self.serve_task(Arc::clone(&provider));
        Ok((provider, task))
    }
}

impl Member {
    /// Its mount name (`abuseipdb`: it answers under `/abuseipdb/`).
    #[must_use]
    pub fn name(&self) -> &str {
        &self.name
    }

    /// What its provider is.
    #[must_use]
    pub fn info(&self) -> &ProviderInfo {
        self.app.info()
    }

    /// Its provider's own settings ([`App::provider_settings`]).
    #[must_use]
    pub fn provider_settings(&self) -> &[EnvVar] {
        self.app.settings()
    }

    /// Its catalog module type ids by region ([`App::catalog`]).
    #[must_use]
    pub fn catalog(&self) -> &[(Cow<'static, str>, Cow<'static, str>)] {
        self.app.catalog()
    }

    /// The relay alone, as its own command serves it ([`crate::router_for`] of its provider
    /// built from `settings`): what its mount is compared with.
    ///
    /// # Errors
    ///
    /// [`ConfigError`] from its build or from [`crate::router_for`].
    pub fn router_alone(
        &self,
        config: &RelayConfig,
        settings: &Settings<'_>,
    ) -> Result<Router, ConfigError> {
        let (provider, _) = self.app.build(settings)?;
        routes::router_for(config.clone(), provider)
    }
}

/// Several relays served by one process: each [`App`] under `/{name}/`, with every route it
/// has alone answering exactly what it answers alone (request ids and times aside).
///
/// Each relay keeps its own settings, its own upstream protection (cap, circuit breaker: they
/// are its provider's) and the request deadline; in `jwks` mode a relay's token audience is
/// `RELAY_URL` + `/{name}`. Its requests, and the tasks they start, run in its scope
/// ([`telemetry::current_relay`]): their span carries `relay`, and an adapter's recorder
/// labels their metrics with it. At the root, `/watchdog` answers as a relay's does and
/// `/version` names the suite's version and each mounted relay's; any other path is the
/// `not found` envelope.
///
/// ```
/// # use xdr_relay_core::ctim_model::{ObservableType, ObserveBundle, Verdict};
/// # use xdr_relay_core::{Context, Outcome, ParsedObservable, Provider, RelayError};
/// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # struct Nothing;
/// # #[xdr_relay_core::async_trait]
/// # impl Provider for Nothing {
/// #     fn info(&self) -> ProviderInfo { info() }
/// #     async fn deliberate(&self, _: &Context, _: &[ParsedObservable]) -> Result<Outcome<Vec<Verdict>>, RelayError> { Ok(Outcome::new(Vec::new())) }
/// #     async fn observe(&self, _: &Context, _: &[ParsedObservable]) -> Result<Outcome<ObserveBundle>, RelayError> { Ok(Outcome::new(ObserveBundle::default())) }
/// # }
/// use tower::ServiceExt as _;
/// use xdr_relay_core::{App, ProviderInfo, RelayConfig, Settings, Suite};
///
/// fn info() -> ProviderInfo {
///     ProviderInfo::new("Nothing", "1.0.0", [ObservableType::Ip])
/// }
/// let suite = Suite::new("2.0.0").relay("nothing", App::new(info(), |_| Ok(Nothing)));
/// let env = Settings::new(|_| None);
/// let served = suite.build(&RelayConfig::default(), &env)?;
/// assert_eq!(served.relays(), ["nothing"]);
///
/// let request = axum::http::Request::get("/nothing/version").body(axum::body::Body::empty())?;
/// let response = served.into_router().oneshot(request).await?;
/// let body = axum::body::to_bytes(response.into_body(), 1024).await?;
/// assert_eq!(&body[..], br#"{"version":"1.0.0"}"#);
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct Suite {
    version: Cow<'static, str>,
    members: Vec<Member>,
}

/// The relays a suite serves, built: the router and the tasks to run beside it.
pub struct Served {
    router: Router,
    tasks: Vec<BoxFuture<'static, ()>>,
    relays: Vec<String>,
    skipped: Vec<(String, String)>,
}

impl fmt::Debug for Served {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Served")
            .field("relays", &self.relays)
            .field("skipped", &self.skipped)
            .field("tasks", &self.tasks.len())
            .finish_non_exhaustive()
    }
}

impl Served {
    /// The mount names served, in the suite's order.
    #[must_use]
    pub fn relays(&self) -> &[String] {
        &self.relays
    }

    /// The relays left out by default (no `RELAYS`), each with why: their settings are not
    /// complete.
    #[must_use]
    pub fn skipped(&self) -> &[(String, String)] {
        &self.skipped
    }

    /// The tasks of the relays' [`App::on_serve`], for the self-hosted server to run.
    pub fn take_tasks(&mut self) -> Vec<BoxFuture<'static, ()>> {
        std::mem::take(&mut self.tasks)
    }

    /// The router of every mounted relay.
    pub fn into_router(self) -> Router {
        self.router
    }
}

impl Suite {
    /// A suite of no relay yet, whose `/version` says `version`.
    pub fn new(version: impl Into<Cow<'static, str>>) -> Self {
        Self {
            version: version.into(),
            members: Vec::new(),
        }
    }

    /// The suite with `app` mounted under `/{name}/`: one line per relay.
    #[must_use]
    pub fn relay<P: Provider>(mut self, name: impl Into<Cow<'static, str>>, app: App<P>) -> Self {
        self.members.push(Member {
            name: name.into(),
            app: Box::new(app),
        });
        self
    }

    /// The suite's version.
    #[must_use]
    pub fn version(&self) -> &str {
        &self.version
    }

    /// Its relays, in the order they were added.
    #[must_use]
    pub fn members(&self) -> &[Member] {
        &self.members
    }

    /// The member mounted as `name`.
    #[must_use]
    pub fn member(&self, name: &str) -> Option<&Member> {
        self.members.iter().find(|m| m.name == name)
    }

    /// Every setting the suite reads: [`RELAYS`], the relays' own ([`RelayConfig::ENV_VARS`]),
    /// then each relay's provider settings, a setting two relays share (the same variable, the
    /// same flag) listed once.
    #[must_use]
    pub fn env_vars(&self) -> Vec<EnvVar> {
        let mut vars: Vec<EnvVar> = vec![RELAYS];
        vars.extend(RelayConfig::ENV_VARS.iter().copied());
        for var in self.members.iter().flat_map(Member::provider_settings) {
            if !vars.contains(var) {
                vars.push(*var);
            }
        }
        vars
    }

    /// The members `RELAYS` names (each once), or every member when it is unset.
    ///
    /// # Errors
    ///
    /// [`ConfigError`] when `RELAYS` names a relay the suite does not have.
    pub fn selected(&self, settings: &Settings<'_>) -> Result<Vec<&Member>, ConfigError> {
        let named = settings.list(&RELAYS);
        if named.is_empty() {
            return Ok(self.members.iter().collect());
        }
        let mut chosen: Vec<&Member> = Vec::new();
        for name in &named {
            let member = self.member(name).ok_or_else(|| {
                let known: Vec<&str> = self.members.iter().map(Member::name).collect();
                ConfigError::new(format!(
                    "RELAYS names {name:?}, which is not a relay of this suite (its relays: {})",
                    known.join(", ")
                ))
            })?;
            if !chosen.iter().any(|m| m.name == member.name) {
                chosen.push(member);
            }
        }
        Ok(chosen)
    }

    /// Builds the relays to serve with `config` (the relays' shared settings) and `settings`
    /// (every relay's own), and the router that mounts them.
    ///
    /// The relays are those `RELAYS` names, or by default every relay whose provider builds:
    /// one that fails to build while none of its own settings (those no other relay shares) is
    /// set is left out ([`Served::skipped`] says why); any other failure stops the start.
    ///
    /// # Errors
    ///
    /// [`ConfigError`] naming the relay and what its settings lack, or a mount name that
    /// cannot be a path segment, repeats another, or is `watchdog` or `version`.
    pub fn build(
        &self,
        config: &RelayConfig,
        settings: &Settings<'_>,
    ) -> Result<Served, ConfigError> {
        let explicit = !settings.list(&RELAYS).is_empty();
        let mut mounts = Vec::new();
        let mut tasks = Vec::new();
        let mut skipped = Vec::new();
        for member in self.selected(settings)? {
            check_name(&member.name, &mounts)?;
            let scope: Arc<str> = Arc::from(member.name.as_ref());
            let built = telemetry::in_relay_sync(Arc::clone(&scope), || member.app.build(settings));
            let (provider, task) = match built {
                Ok(built) => built,
                Err(error) if !explicit && !self.any_own_setting(member, settings) => {
                    skipped.push((member.name.to_string(), error.0));
                    continue;
                }
                Err(error) => {
                    return Err(ConfigError::new(format!("relay {}: {error}", member.name)));
                }
            };
            tasks.extend(task);
            mounts.push((scope, member.info().clone(), provider));
        }
        if mounts.is_empty() {
            let why: Vec<String> = skipped
                .iter()
                .map(|(name, error)| format!("{name}: {error}"))
                .collect();
            return Err(ConfigError::new(format!(
                "no relay to serve: the settings of none are complete ({})",
                why.join("; ")
            )));
        }
        let relays = mounts.iter().map(|(name, ..)| name.to_string()).collect();
        let router = self.router(config, mounts)?;
        Ok(Served {
            router,
            tasks,
            relays,
            skipped,
        })
    }

    /// Whether one of `member`'s own settings (declared by no other relay) is set.
    fn any_own_setting(&self, member: &Member, settings: &Settings<'_>) -> bool {
        member.provider_settings().iter().any(|var| {
            let shared = self
                .members
                .iter()
                .filter(|other| other.name != member.name)
                .any(|other| other.provider_settings().contains(var));
            !shared && settings.value(var).is_some()
        })
    }

    /// The router of `mounts`, each with `config` (its audience its own in `jwks` mode).
    fn router(
        &self,
        config: &RelayConfig,
        mounts: Vec<(Arc<str>, ProviderInfo, Arc<dyn Provider>)>,
    ) -> Result<Router, ConfigError> {
        let version = RootVersion {
            version: self.version.to_string(),
            relays: mounts
                .iter()
                .map(|(name, info, _)| RelayVersion {
                    name: name.to_string(),
                    relay: info.name.to_string(),
                    version: info.version.to_string(),
                })
                .collect(),
        };
        let version = Arc::new(version);
        let mut root = Router::new();
        root = routes::with_trailing_slash(
            root,
            "/watchdog",
            get(routes::watchdog).post(routes::watchdog),
        );
        let answer = move || {
            let version = Arc::clone(&version);
            async move { axum::Json(version.as_ref().clone()).into_response() }
        };
        root = routes::with_trailing_slash(root, "/version", get(answer.clone()).post(answer));
        let root = root
            .fallback(routes::not_found)
            .method_not_allowed_fallback(routes::method_not_allowed);
        let mut router = layers::around(root);
        for (name, _, provider) in mounts {
            let relay =
                routes::relay_router(mounted(config, &name), provider, Some(Arc::clone(&name)))?;
            telemetry::in_relay_sync(Arc::clone(&name), count_from_zero);
            router = router.nest(&format!("/{name}"), relay);
        }
        Ok(router)
    }
}

/// `config` for the relay mounted as `name`: in `jwks` mode its audience is `RELAY_URL/{name}`.
fn mounted(config: &RelayConfig, name: &str) -> RelayConfig {
    let mut config = config.clone();
    if let Some(jwks) = &mut config.jwks {
        jwks.audience = format!("{}/{name}", jwks.audience.trim_end_matches('/'));
    }
    config
}

/// A mount name is one lower-case path segment, not a root route's, and not repeated.
fn check_name(
    name: &str,
    mounts: &[(Arc<str>, ProviderInfo, Arc<dyn Provider>)],
) -> Result<(), ConfigError> {
    let segment = !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    if !segment || matches!(name, "watchdog" | "version") {
        return Err(ConfigError::new(format!(
            "a relay cannot be mounted as {name:?}: a mount name is lower-case letters, digits \
             and `-`, and neither `watchdog` nor `version`"
        )));
    }
    if mounts.iter().any(|(other, ..)| other.as_ref() == name) {
        return Err(ConfigError::new(format!(
            "two relays are mounted as {name:?}"
        )));
    }
    Ok(())
}

/// The relay's request series, recorded at zero (in its scope) so they are exported from the
/// start: Prometheus advises against series that come and go.
fn count_from_zero() {
    for route in ROUTES {
        for status in ["2xx", "4xx", "5xx"] {
            metrics::counter!(telemetry::REQUESTS, "route" => *route, "status" => status)
                .increment(0);
        }
    }
    metrics::gauge!(telemetry::IN_FLIGHT).increment(0.0);
}

/// The root's `/version`.
#[derive(Debug, Clone, Serialize)]
struct RootVersion {
    version: String,
    relays: Vec<RelayVersion>,
}

#[derive(Debug, Clone, Serialize)]
struct RelayVersion {
    /// Its mount name.
    name: String,
    /// Its provider's name.
    relay: String,
    version: String,
}

#[cfg(test)]
mod tests {
    use ctim_model::{ObservableType, ObserveBundle};

    use super::*;
    use crate::error::RelayError;
    use crate::jwks::JwksConfig;
    use crate::provider::{Context, Outcome};
    use crate::request::ParsedObservable;

    const NEEDED: EnvVar = EnvVar::new("NEEDED_FILE", "needed-file", "FILE", "help");
    const SHARED: EnvVar = EnvVar::new("SHARED_CAP", "shared-cap", "N", "help");

    struct Nothing;

    #[async_trait::async_trait]
    impl Provider for Nothing {
        fn info(&self) -> ProviderInfo {
            ProviderInfo::new("Nothing", "1.0.0", [ObservableType::Ip])
        }
        async fn observe(
            &self,
            _: &Context,
            _: &[ParsedObservable],
        ) -> Result<Outcome<ObserveBundle>, RelayError> {
            Ok(Outcome::new(ObserveBundle::default()))
        }
    }

    /// A relay that needs `NEEDED_FILE`, and shares `SHARED_CAP` with the other.
    fn needy() -> App<Nothing> {
        App::new(Nothing.info(), |settings| {
            settings
                .required(&NEEDED, "name a file")
                .map(|_| Nothing)
                .map_err(Into::into)
        })
        .settings([NEEDED, SHARED])
    }

    fn easy() -> App<Nothing> {
        App::new(Nothing.info(), |_| Ok(Nothing)).settings([SHARED])
    }

    fn suite() -> Suite {
        Suite::new("9.0.0")
            .relay("easy", easy())
            .relay("needy", needy())
    }

    fn table(pairs: &'static [(&'static str, &'static str)]) -> Settings<'static> {
        Settings::new(move |name| {
            pairs
                .iter()
                .find(|(n, _)| *n == name)
                .map(|(_, v)| (*v).to_owned())
        })
    }

    #[test]
    fn a_relay_without_its_own_settings_is_left_out_unless_named() {
        let config = RelayConfig::default();
        // A shared setting set is not the needy relay's own: it is left out.
        let served = suite()
            .build(&config, &table(&[("SHARED_CAP", "3")]))
            .unwrap();
        assert_eq!(served.relays(), ["easy"]);
        assert_eq!(served.skipped()[0].0, "needy");
        assert!(served.skipped()[0].1.contains("NEEDED_FILE"), "{served:?}");
        // Named, it stops the start, naming the relay and the setting.
        let error = suite()
            .build(&config, &table(&[("RELAYS", "needy")]))
            .unwrap_err()
            .to_string();
        assert!(
            error.contains("relay needy") && error.contains("NEEDED_FILE"),
            "{error}"
        );
        // One of its own settings set: a failure is an error, not a skip.
        let error = suite()
            .build(&config, &table(&[("NEEDED_FILE", "")]))
            .map(|s| s.relays().to_vec());
        assert_eq!(
            error.ok(),
            Some(vec!["easy".to_owned()]),
            "an empty value is unset"
        );
        let served = suite()
            .build(
                &config,
                &table(&[("NEEDED_FILE", "x"), ("RELAYS", "needy,needy")]),
            )
            .unwrap();
        assert_eq!(served.relays(), ["needy"]);
        let error = suite()
            .build(&config, &table(&[("RELAYS", "other")]))
            .unwrap_err()
            .to_string();
        assert!(
            error.contains("\"other\"") && error.contains("easy, needy"),
            "{error}"
        );
        let none = Suite::new("1").relay("needy", needy());
        let error = none.build(&config, &table(&[])).unwrap_err().to_string();
        assert!(error.contains(": no relay to serve"), "{error}");
    }

    #[test]
    fn mount_names_are_path_segments_once_and_not_the_roots() {
        let config = RelayConfig::default();
        let env = table(&[]);
        for bad in ["", "Upper", "a/b", "watchdog", "version", "a b"] {
            let suite = Suite::new("1").relay(bad, easy());
            assert!(suite.build(&config, &env).is_err(), "{bad:?} was accepted");
        }
        let twice = Suite::new("1").relay("same", easy()).relay("same", easy());
        let error = twice.build(&config, &env).unwrap_err().to_string();
        assert!(error.contains("two relays"), "{error}");
    }

    #[test]
    fn settings_are_listed_once_and_a_mounts_audience_is_its_own() {
        let vars = suite().env_vars();
        assert_eq!(vars[0], RELAYS);
        assert_eq!(vars.iter().filter(|v| **v == SHARED).count(), 1);
        assert!(vars.contains(&NEEDED) && vars.contains(&EnvVar::SECRET_KEY));
        let config = RelayConfig {
            jwks: Some(JwksConfig::new("https://relays.example.com/")),
            ..RelayConfig::default()
        };
        let audience = mounted(&config, "otx").jwks.map(|j| j.audience);
        assert_eq!(audience.as_deref(), Some("https://relays.example.com/otx"));
        assert!(mounted(&RelayConfig::default(), "otx").jwks.is_none());
        let suite = suite();
        let member = &suite.members()[1];
        assert_eq!(member.name(), "needy");
        assert_eq!(member.provider_settings(), [NEEDED, SHARED]);
        assert!(member.catalog().is_empty());
        assert!(format!("{member:?}").contains("needy"));
    }
}
