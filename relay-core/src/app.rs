//! A relay as the adapters ship it: its provider's [`ProviderInfo`], the settings the provider
//! reads, and how it is built from their values ([`App`]).
//!
//! `xdr_relay_server::main_for` and `xdr_relay_lambda::run_for` take an `App` and do the
//! rest (settings from the environment and flags, logging, metrics, the token and module type
//! commands, serving).

use std::borrow::Cow;
use std::fmt;
use std::sync::Arc;

use futures::future::BoxFuture;

use crate::config::RelayConfig;
use crate::error::ConfigError;
use crate::provider::{Provider, ProviderInfo};
use crate::settings::{EnvVar, Settings};

type Build<P> = dyn Fn(&Settings<'_>) -> Result<P, ConfigError> + Send + Sync;
type Task<P> = dyn Fn(Arc<P>) -> BoxFuture<'static, ()> + Send + Sync;

/// A relay, ready for an adapter to ship: what its provider is ([`ProviderInfo`], readable
/// without building it), the settings the provider reads besides the relay's own, and the
/// function that builds the provider from their values.
///
/// ```
/// use xdr_relay_core::ctim_model::{ObservableType, ObserveBundle, Verdict};
/// use xdr_relay_core::{
///     App, Context, EnvVar, Outcome, ParsedObservable, Provider, ProviderInfo, RelayError,
/// };
///
/// const API_URL: EnvVar = EnvVar::new(
///     "EXAMPLE_API_URL",
///     "example-api-url",
///     "URL",
///     "Base URL of the Example Intel API. Default https://api.example.com/.",
/// );
///
/// fn info() -> ProviderInfo {
///     ProviderInfo::new("Example Intel", env!("CARGO_PKG_VERSION"), [ObservableType::Ip])
/// }
///
/// struct ExampleIntel {
///     api: String,
/// }
///
/// #[xdr_relay_core::async_trait]
/// impl Provider for ExampleIntel {
///     fn info(&self) -> ProviderInfo {
///         info()
///     }
///     async fn deliberate(&self, _: &Context, _: &[ParsedObservable])
///         -> Result<Outcome<Vec<Verdict>>, RelayError> {
///         Ok(Outcome::new(Vec::new()))
///     }
///     async fn observe(&self, _: &Context, _: &[ParsedObservable])
///         -> Result<Outcome<ObserveBundle>, RelayError> {
///         Ok(Outcome::new(ObserveBundle::default()))
///     }
/// }
///
/// let app = App::new(info(), |settings| {
///     let api = settings.url(&API_URL)?.unwrap_or_else(|| "https://api.example.com/".into());
///     Ok(ExampleIntel { api })
/// })
/// .settings([API_URL]);
///
/// // What an adapter does with the process environment (here, a table).
/// let settings = xdr_relay_core::Settings::new(|name| {
///     (name == "EXAMPLE_API_URL").then(|| "http://127.0.0.1:9000/".to_owned())
/// });
/// let provider = app.build(&settings)?;
/// assert_eq!(provider.api, "http://127.0.0.1:9000/");
/// assert_eq!(app.info().name, "Example Intel");
/// # Ok::<(), xdr_relay_core::ConfigError>(())
/// ```
pub struct App<P> {
    info: ProviderInfo,
    settings: Vec<EnvVar>,
    build: Box<Build<P>>,
    on_serve: Option<Box<Task<P>>>,
    catalog: Vec<(Cow<'static, str>, Cow<'static, str>)>,
}

impl<P> fmt::Debug for App<P> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("App")
            .field("info", &self.info)
            .field("settings", &self.settings)
            .field("on_serve", &self.on_serve.is_some())
            .field("catalog", &self.catalog)
            .finish_non_exhaustive()
    }
}

impl<P: Provider> App<P> {
    /// A relay whose provider is described by `info` and built by `build` from the values of
    /// its [settings](Self::settings). `build` reads them with [`Settings`]' parsers, so its
    /// errors name the variable; any other failure is a [`ConfigError::new`].
    pub fn new(
        info: ProviderInfo,
        build: impl Fn(&Settings<'_>) -> Result<P, ConfigError> + Send + Sync + 'static,
    ) -> Self {
        Self {
            info,
            settings: Vec::new(),
            build: Box::new(build),
            on_serve: None,
            catalog: Vec::new(),
        }
    }

    /// Declares the provider's own settings (besides the relay's, [`RelayConfig::ENV_VARS`]):
    /// the adapters read them from the environment (and the server from flags), list them in
    /// `--help`, and never print a [secret](EnvVar::secret)'s value.
    #[must_use]
    pub fn settings(mut self, settings: impl IntoIterator<Item = EnvVar>) -> Self {
        self.settings.extend(settings);
        self
    }

    /// A task the self-hosted server runs beside the relay while it serves, given the provider
    /// (for example: reload the provider's data on SIGHUP). It is dropped when the server
    /// stops; AWS Lambda does not run it.
    #[must_use]
    pub fn on_serve<F, Fut>(mut self, task: F) -> Self
    where
        F: Fn(Arc<P>) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        self.on_serve = Some(Box::new(move |provider| Box::pin(task(provider))));
        self
    }

    /// The module type id under which the Threat Response / XDR catalog lists this relay in
    /// `region` (`us`, `eu`, `apjc`), for a relay Cisco publishes: the `jwt` command then
    /// prints the link that creates a module of that type. Relays outside the catalog have
    /// none and register their own module type (the `module-type` command).
    #[must_use]
    pub fn catalog_module(
        mut self,
        region: impl Into<Cow<'static, str>>,
        module_type_id: impl Into<Cow<'static, str>>,
    ) -> Self {
        self.catalog.push((region.into(), module_type_id.into()));
        self
    }

    /// What the provider is, without building it.
    #[must_use]
    pub fn info(&self) -> &ProviderInfo {
        &self.info
    }

    /// The provider's own settings.
    #[must_use]
    pub fn provider_settings(&self) -> &[EnvVar] {
        &self.settings
    }

    /// Every setting the relay reads: [`RelayConfig::ENV_VARS`], then the provider's.
    pub fn env_vars(&self) -> impl Iterator<Item = &EnvVar> {
        RelayConfig::ENV_VARS.iter().chain(&self.settings)
    }

    /// The catalog's module type ids by region ([`catalog_module`](Self::catalog_module)).
    #[must_use]
    pub fn catalog(&self) -> &[(Cow<'static, str>, Cow<'static, str>)] {
        &self.catalog
    }

    /// Builds the provider from the values in `settings`.
    ///
    /// # Errors
    ///
    /// [`ConfigError`] when a provider setting repeats a relay setting's variable or flag (or
    /// another provider setting's), or when the provider's build function fails.
    pub fn build(&self, settings: &Settings<'_>) -> Result<P, ConfigError> {
        let mut seen: Vec<&EnvVar> = Vec::new();
        for var in self.env_vars() {
            if let Some(twin) = seen
                .iter()
                .find(|v| v.name == var.name || v.flag == var.flag)
            {
                return Err(ConfigError::new(format!(
                    "the setting {} (--{}) repeats {} (--{})",
                    var.name, var.flag, twin.name, twin.flag
                )));
            }
            seen.push(var);
        }
        (self.build)(settings)
    }

    /// The task of [`on_serve`](Self::on_serve) for this `provider`, if there is one.
    #[must_use]
    pub fn serve_task(&self, provider: Arc<P>) -> Option<BoxFuture<'static, ()>> {
        self.on_serve.as_ref().map(|task| task(provider))
    }
}

#[cfg(test)]
mod tests {
    use ctim_model::{ObservableType, ObserveBundle, Verdict};

    use super::*;
    use crate::error::RelayError;
    use crate::provider::{Context, Outcome};
    use crate::request::ParsedObservable;

    #[derive(Debug)]
    struct Nothing;

    #[async_trait::async_trait]
    impl Provider for Nothing {
        fn info(&self) -> ProviderInfo {
            ProviderInfo::new("Nothing", "1.0.0", [ObservableType::Ip])
        }
        async fn deliberate(
            &self,
            _: &Context,
            _: &[ParsedObservable],
        ) -> Result<Outcome<Vec<Verdict>>, RelayError> {
            Ok(Outcome::new(Vec::new()))
        }
        async fn observe(
            &self,
            _: &Context,
            _: &[ParsedObservable],
        ) -> Result<Outcome<ObserveBundle>, RelayError> {
            Ok(Outcome::new(ObserveBundle::default()))
        }
    }

    fn app() -> App<Nothing> {
        App::new(Nothing.info(), |_| Ok(Nothing))
    }

    #[test]
    fn what_an_adapter_reads_of_an_app() {
        const MINE: EnvVar = EnvVar::new("MINE", "mine", "X", "help");
        let app = app()
            .settings([MINE])
            .catalog_module("us", "an-id")
            .catalog_module("eu", "another-id");
        assert_eq!(app.info().name, "Nothing");
        assert_eq!(app.provider_settings(), [MINE]);
        let names: Vec<&str> = app.env_vars().map(|v| v.name).collect();
        assert_eq!(names.len(), RelayConfig::ENV_VARS.len() + 1);
        assert_eq!(names.last(), Some(&"MINE"));
        assert_eq!(app.catalog().len(), 2);
        assert_eq!(app.catalog()[1].1, "another-id");
        let debug = format!("{app:?}");
        assert!(
            debug.contains("Nothing") && debug.contains("MINE"),
            "{debug}"
        );
    }

    #[test]
    fn a_provider_setting_may_not_repeat_a_relay_setting() {
        let none = Settings::new(|_| None);
        assert!(app().build(&none).is_ok());
        let same_name = EnvVar::new("SECRET_KEY", "other-flag", "X", "help");
        let error = app().settings([same_name]).build(&none).unwrap_err();
        assert!(error.to_string().contains("repeats SECRET_KEY"), "{error}");
        let same_flag = EnvVar::new("OTHER", "listen-not-but-openapi", "X", "help");
        assert!(app().settings([same_flag]).build(&none).is_ok());
        let same_flag = EnvVar::new("OTHER", "openapi", "X", "help");
        let error = app().settings([same_flag]).build(&none).unwrap_err();
        assert!(error.to_string().contains("(--openapi)"), "{error}");
        let twice = EnvVar::new("MINE", "mine", "X", "help");
        assert!(app().settings([twice, twice]).build(&none).is_err());
    }

    #[tokio::test]
    async fn the_serve_task_gets_the_provider() {
        let (sent, received) = tokio::sync::oneshot::channel();
        let sent = std::sync::Mutex::new(Some(sent));
        let app = app().on_serve(move |provider: Arc<Nothing>| {
            let sent = sent.lock().ok().and_then(|mut s| s.take());
            async move {
                if let Some(sent) = sent {
                    let _ = sent.send(provider.info().name.into_owned());
                }
            }
        });
        let task = app.serve_task(Arc::new(Nothing)).unwrap();
        task.await;
        assert_eq!(received.await.unwrap(), "Nothing");
        assert!(self::app().serve_task(Arc::new(Nothing)).is_none());
    }
}
