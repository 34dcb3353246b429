//! A Socless event endpoint on AWS Lambda in one call (feature `lambda`).
//!
//! [`run`] is the Rust twin of the Socless tutorial's handler: give it the function from an
//! alert (the request's JSON body) to `event_details`, and it serves the function under
//! `lambda_http` (API Gateway REST and HTTP APIs, function URLs, ALB, and
//! `cargo lambda watch`):
//!
//! ```no_run
//! use serde_json::{Value, json};
//!
//! #[tokio::main]
//! async fn main() -> Result<(), socless_events::lambda::Error> {
//!     socless_events::lambda::run(|alert: Value| {
//!         json!({
//!             "event_type": alert["alert_name"],
//!             "playbook": alert["response_plan"],
//!             "details": alert["details"],
//!         })
//!     })
//!     .await
//! }
//! ```
//!
//! Each request is authenticated ([`EndpointAuth`]: `SOCLESS_ENDPOINT_TOKEN` and/or
//! `SLACK_SIGNING_SECRET`; with neither, every request is refused), its body read as JSON,
//! mapped, and passed to `create_events` on the backend the environment names
//! ([`EndpointSettings`]): DynamoDB and Step Functions, or the embedded SQLite store when
//! `SOCLESS_LOCAL_DB` is set. Answers, as the tutorial's:
//!
//! | status | when | body |
//! |---|---|---|
//! | 200 | every event recorded and started | `{"events": [...], "execution_reports": [...]}` |
//! | 400 | the body is not JSON, the mapping refused it, `event_details` is invalid (socless_python's texts), more details than `SOCLESS_MAX_DETAILS`, or a playbook that does not exist | `{"error": "..."}` (and the reports when events were recorded) |
//! | 403 | authentication failed | `{"error": "forbidden"}` |
//! | 500 | a fault: storage down or throttled, a start throttled, a configuration error | `{"error": "..."}` (and the reports when events were recorded) |
//!
//! An answer larger than `SOCLESS_MAX_RESPONSE_BYTES` (Lambda answers at most 6 MB) leaves the
//! events' contents out and says so in `"truncated"`; the ids and reports stay.

use std::fmt::Display;
use std::path::PathBuf;
use std::time::{Instant, SystemTime};

use lambda_http::http::{self, HeaderMap, StatusCode};
use lambda_http::{Body, Request, RequestExt, Response, service_fn};
use serde_json::{Value, json};

use crate::auth::EndpointAuth;
use crate::{
    AwsLauncher, AwsStore, CreateEventsOutput, DEFAULT_CONCURRENCY, EventCreator, EventStore,
    LaunchErrorKind, LocalLauncher, LocalStore, PlaybookLauncher, REGION_ENV, StateMachineArns,
    TableNames,
};

/// The invocation's context ([`Endpoint::create_events`] reads its function ARN and deadline),
/// and the error [`run`] ends with: `lambda_http`'s.
pub use lambda_http::{Context, Error};

/// The SQLite file of the embedded backend; when set, the endpoint uses it instead of AWS.
pub const LOCAL_DB_ENV: &str = "SOCLESS_LOCAL_DB";
/// The playbooks deployed on the embedded backend, comma-separated: a start of any other
/// fails with `StateMachineDoesNotExist`, as on AWS. Unset: every name is deployed.
pub const PLAYBOOKS_ENV: &str = "SOCLESS_PLAYBOOKS";
/// A URL the embedded backend POSTs each execution's input to (optional).
pub const WEBHOOK_ENV: &str = "SOCLESS_WEBHOOK_URL";
/// The account of the state machines when the function's ARN does not say it (a local run):
/// `000000000000` by default on the embedded backend; needed on AWS only off Lambda.
pub const ACCOUNT_ID_ENV: &str = "SOCLESS_ACCOUNT_ID";
/// The most details one alert may carry.
pub const MAX_DETAILS_ENV: &str = "SOCLESS_MAX_DETAILS";
/// The most bytes of an answer's body before the events' contents are left out.
pub const MAX_RESPONSE_BYTES_ENV: &str = "SOCLESS_MAX_RESPONSE_BYTES";
/// How many events of a batch are recorded at once.
pub const CONCURRENCY_ENV: &str = "SOCLESS_CONCURRENCY";

/// [`MAX_DETAILS_ENV`]'s default: what fits API Gateway's 29 seconds on DynamoDB.
pub const DEFAULT_MAX_DETAILS: usize = 500;
/// [`MAX_RESPONSE_BYTES_ENV`]'s default: under Lambda's 6 MB response limit once the body is
/// escaped into the response's JSON.
pub const DEFAULT_MAX_RESPONSE_BYTES: usize = 4_000_000;
/// The embedded backend's account and region when nothing names them (also the CLI's).
pub use crate::arn::{LOCAL_ACCOUNT_ID, LOCAL_REGION};

/// What an alert mapping returns: the `event_details` (a [`Value`]), or a `Result` whose error
/// is answered 400 with its text.
pub trait IntoEventDetails {
    /// The `event_details`, or why the alert is refused.
    fn into_event_details(self) -> Result<Value, String>;
}

impl IntoEventDetails for Value {
    fn into_event_details(self) -> Result<Value, String> {
        Ok(self)
    }
}

impl<E: Display> IntoEventDetails for Result<Value, E> {
    fn into_event_details(self) -> Result<Value, String> {
        self.map_err(|error| error.to_string())
    }
}

/// Serves the event endpoint on Lambda: logging as Lambda's controls say, the settings from
/// the environment ([`EndpointSettings::from_env`]), then each request through
/// [`Endpoint::handle`] with `alert_to_event_details`.
///
/// # Errors
///
/// A setting that cannot be used (named in the text), or the Lambda runtime's own failure.
pub async fn run<F, R>(alert_to_event_details: F) -> Result<(), Error>
where
    F: Fn(Value) -> R + Sync,
    R: IntoEventDetails,
{
    lambda_http::tracing::init_default_subscriber();
    let endpoint = Endpoint::from_env().await?;
    let (endpoint, map) = (&endpoint, &alert_to_event_details);
    lambda_http::run(service_fn(move |request: Request| async move {
        Ok::<_, Error>(endpoint.handle(request, map).await)
    }))
    .await
}

/// Where and how an endpoint records events; every field has a variable (`SOCLESS_*`).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct EndpointSettings {
    /// [`LOCAL_DB_ENV`]: the embedded backend's file, or `None` for DynamoDB and Step
    /// Functions (tables from `SOCLESS_*_TABLE`).
    pub local_db: Option<PathBuf>,
    /// [`PLAYBOOKS_ENV`]: the embedded backend's deployed playbooks (`None`: any).
    pub playbooks: Option<Vec<String>>,
    /// [`WEBHOOK_ENV`]: where the embedded backend POSTs execution inputs.
    pub webhook: Option<String>,
    /// [`ACCOUNT_ID_ENV`].
    pub account_id: Option<String>,
    /// `AWS_REGION`: the state machines' region when the function's ARN does not say it.
    pub region: Option<String>,
    /// [`MAX_DETAILS_ENV`].
    pub max_details: usize,
    /// [`MAX_RESPONSE_BYTES_ENV`].
    pub max_response_bytes: usize,
    /// [`CONCURRENCY_ENV`].
    pub concurrency: usize,
}

impl Default for EndpointSettings {
    fn default() -> Self {
        Self {
            local_db: None,
            playbooks: None,
            webhook: None,
            account_id: None,
            region: None,
            max_details: DEFAULT_MAX_DETAILS,
            max_response_bytes: DEFAULT_MAX_RESPONSE_BYTES,
            concurrency: DEFAULT_CONCURRENCY,
        }
    }
}

impl EndpointSettings {
    /// From the environment (see each field).
    ///
    /// # Errors
    ///
    /// [`crate::Error::Config`] naming the variable whose value cannot be used.
    pub fn from_env() -> Result<Self, crate::Error> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Like [`EndpointSettings::from_env`], reading the variables through `lookup` (unset and
    /// empty are alike).
    ///
    /// ```
    /// use socless_events::lambda::EndpointSettings;
    ///
    /// let settings = EndpointSettings::from_lookup(|name| match name {
    ///     "SOCLESS_LOCAL_DB" => Some("events.sqlite".into()),
    ///     "SOCLESS_PLAYBOOKS" => Some("InvestigateLogin, Triage".into()),
    ///     _ => None,
    /// })?;
    /// assert_eq!(settings.playbooks.unwrap(), ["InvestigateLogin", "Triage"]);
    /// assert_eq!(settings.max_details, 500);
    /// # Ok::<(), socless_events::Error>(())
    /// ```
    ///
    /// # Errors
    ///
    /// As [`EndpointSettings::from_env`].
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, crate::Error> {
        let var = |name: &str| lookup(name).filter(|value| !value.trim().is_empty());
        let count = |name: &str, default: usize| match var(name) {
            None => Ok(default),
            Some(text) => match text.trim().parse::<usize>() {
                Ok(n) if n >= 1 => Ok(n),
                _ => Err(crate::Error::Config(format!(
                    "{name} must be a whole number of at least 1, not {text:?}"
                ))),
            },
        };
        let playbooks = var(PLAYBOOKS_ENV).map(|list| {
            list.split(',')
                .map(str::trim)
                .filter(|name| !name.is_empty())
                .map(str::to_owned)
                .collect()
        });
        Ok(Self {
            local_db: var(LOCAL_DB_ENV).map(PathBuf::from),
            playbooks,
            webhook: var(WEBHOOK_ENV),
            account_id: var(ACCOUNT_ID_ENV),
            region: var(REGION_ENV),
            max_details: count(MAX_DETAILS_ENV, DEFAULT_MAX_DETAILS)?,
            max_response_bytes: count(MAX_RESPONSE_BYTES_ENV, DEFAULT_MAX_RESPONSE_BYTES)?,
            concurrency: count(CONCURRENCY_ENV, DEFAULT_CONCURRENCY)?,
        })
    }
}

/// The two backends (their traits are generic, so the endpoint holds one of each kind).
#[derive(Debug, Clone)]
enum Backend {
    Aws(AwsStore, AwsLauncher),
    Local(LocalStore, LocalLauncher),
}

/// An event endpoint: its backend, who may call it, and its limits. [`run`] builds one from
/// the environment; tests and other runtimes build it with [`Endpoint::new`] and call
/// [`Endpoint::handle`] or [`Endpoint::create_events`].
#[derive(Debug, Clone)]
pub struct Endpoint {
    backend: Backend,
    auth: EndpointAuth,
    settings: EndpointSettings,
    /// The ARNs used when the function's ARN says nothing.
    fallback: Option<StateMachineArns>,
}

impl Endpoint {
    /// From the environment: [`EndpointSettings::from_env`], [`EndpointAuth::from_env`], and on
    /// AWS the SDK's configuration chain. Logs an error when no authentication is configured
    /// (every request is then refused).
    ///
    /// # Errors
    ///
    /// A setting that cannot be used, named in the text.
    pub async fn from_env() -> Result<Self, crate::Error> {
        let endpoint = Self::new(EndpointSettings::from_env()?, EndpointAuth::from_env()?).await?;
        if !endpoint.auth.is_configured() {
            tracing::error!(
                "no SOCLESS_ENDPOINT_TOKEN or SLACK_SIGNING_SECRET is set: every request is refused"
            );
        }
        Ok(endpoint)
    }

    /// An endpoint with these settings and checks: the embedded store when
    /// `settings.local_db` is set, else DynamoDB (tables from `SOCLESS_*_TABLE`) and Step
    /// Functions with the SDK's configuration chain.
    ///
    /// # Errors
    ///
    /// The local file cannot be opened, a table variable is missing, the webhook URL or the
    /// fallback account or region is invalid.
    pub async fn new(settings: EndpointSettings, auth: EndpointAuth) -> Result<Self, crate::Error> {
        let region = settings.region.clone();
        let (backend, fallback) = match &settings.local_db {
            Some(path) => {
                let mut launcher = LocalLauncher::open(path)?;
                if let Some(playbooks) = &settings.playbooks {
                    launcher = launcher.with_playbooks(playbooks.iter().map(String::as_str));
                }
                if let Some(url) = &settings.webhook {
                    launcher = launcher.with_webhook(url)?;
                }
                let account = settings.account_id.as_deref().unwrap_or(LOCAL_ACCOUNT_ID);
                let region = region.as_deref().unwrap_or(LOCAL_REGION);
                let fallback = StateMachineArns::new(region, account)?;
                (
                    Backend::Local(LocalStore::open(path)?, launcher),
                    Some(fallback),
                )
            }
            None => {
                let tables = TableNames::from_env()?;
                let config = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
                let fallback = match (&settings.account_id, region) {
                    (Some(account), Some(region)) => Some(StateMachineArns::new(region, account)?),
                    _ => None,
                };
                let backend =
                    Backend::Aws(AwsStore::new(&config, tables), AwsLauncher::new(&config));
                (backend, fallback)
            }
        };
        Ok(Self {
            backend,
            auth,
            settings,
            fallback,
        })
    }

    /// The settings in use.
    pub fn settings(&self) -> &EndpointSettings {
        &self.settings
    }

    /// `create_events(event_details, context)`, as socless_python's: validates
    /// `event_details` (at most `max_details` details), records its events and starts their
    /// playbook in the account, region and partition of the invoked function
    /// (`context.invoked_function_arn`; when it is no Lambda function ARN, as under `cargo
    /// lambda watch`, those of [`ACCOUNT_ID_ENV`] and `AWS_REGION`, by default
    /// `000000000000` and `us-east-1` on the embedded backend). The invocation's deadline is the
    /// batch's ([`EventCreator::with_deadline`]): no event begins once it is near, and the
    /// answer says what was done.
    ///
    /// # Errors
    ///
    /// As [`EventCreator::create_events`]; [`crate::InvalidEvent::TooManyDetails`] over the
    /// cap (nothing written), [`crate::Error::Config`] when no account can be found.
    pub async fn create_events(
        &self,
        event_details: &Value,
        context: &Context,
    ) -> Result<CreateEventsOutput, crate::Error> {
        if let Some(Value::Array(details)) = event_details.get("details")
            && details.len() > self.settings.max_details
        {
            let too_many = crate::InvalidEvent::TooManyDetails {
                count: details.len(),
                limit: self.settings.max_details,
            };
            return Err(too_many.into());
        }
        let arns = self.arns(&context.invoked_function_arn)?;
        // A deadline that is no time since the epoch leaves the batch unbounded: 0 (a context
        // made by hand) or a duration (`cargo lambda watch` sends its timeout, 600000 ms).
        let deadline = (context.deadline >= EPOCH_MS_2001)
            .then(|| {
                let left = context.deadline().duration_since(SystemTime::now());
                Instant::now().checked_add(left.unwrap_or_default())
            })
            .flatten();
        let concurrency = self.settings.concurrency;
        match &self.backend {
            Backend::Aws(store, launcher) => {
                let creator = EventCreator::new(store.clone(), launcher.clone(), arns);
                create(creator, concurrency, deadline, event_details).await
            }
            Backend::Local(store, launcher) => {
                let creator = EventCreator::new(store.clone(), launcher.clone(), arns);
                create(creator, concurrency, deadline, event_details).await
            }
        }
    }

    /// The state machines' account and region: the function's, else the fallback.
    fn arns(&self, function_arn: &str) -> Result<StateMachineArns, crate::Error> {
        if let Some(region) = lambda_arn_region(function_arn) {
            return StateMachineArns::from_function_arn(region, function_arn);
        }
        self.fallback.clone().ok_or_else(|| {
            crate::Error::Config(format!(
                "the invocation's function ARN {function_arn:?} names no account: set \
                 {ACCOUNT_ID_ENV} and {REGION_ENV} to run off Lambda"
            ))
        })
    }

    /// Answers one request (see the [module](self) for the statuses).
    pub async fn handle<F, R>(&self, request: Request, alert_to_event_details: &F) -> Response<Body>
    where
        F: Fn(Value) -> R + Sync,
        R: IntoEventDetails,
    {
        let context = request.lambda_context_ref().cloned().unwrap_or_default();
        let (status, body) = self
            .answer(
                request.headers(),
                request.body().as_ref(),
                &context,
                alert_to_event_details,
            )
            .await;
        let mut response = Response::new(Body::from(body));
        *response.status_mut() = status;
        response.headers_mut().insert(
            http::header::CONTENT_TYPE,
            http::HeaderValue::from_static("application/json"),
        );
        response
    }

    async fn answer<F, R>(
        &self,
        headers: &HeaderMap,
        body: &[u8],
        context: &Context,
        alert_to_event_details: &F,
    ) -> (StatusCode, String)
    where
        F: Fn(Value) -> R + Sync,
        R: IntoEventDetails,
    {
        let header = |name: &str| headers.get(name).and_then(|value| value.to_str().ok());
        if let Err(error) = self.auth.verify(header, body) {
            tracing::warn!(%error, "request refused");
            return (
                StatusCode::FORBIDDEN,
                json!({"error": "forbidden"}).to_string(),
            );
        }
        let alert: Value = match serde_json::from_slice(body) {
            Ok(alert) => alert,
            Err(error) => {
                return error_answer(
                    StatusCode::BAD_REQUEST,
                    format!("the body is not JSON: {error}"),
                );
            }
        };
        let event_details = match alert_to_event_details(alert).into_event_details() {
            Ok(details) => details,
            Err(reason) => return error_answer(StatusCode::BAD_REQUEST, reason),
        };
        match self.create_events(&event_details, context).await {
            Ok(output) => (StatusCode::OK, self.bounded(&output, None)),
            Err(error) => {
                let status = status_of(&error);
                if status.is_server_error() {
                    tracing::error!(%error, "create_events failed");
                } else {
                    tracing::warn!(%error, "create_events refused the alert");
                }
                let text = error.to_string();
                match error.output() {
                    Some(output) => (status, self.bounded(output, Some(&text))),
                    None => error_answer(status, text),
                }
            }
        }
    }

    /// `output` (with `error`) as JSON, within `max_response_bytes`: whole if it fits, else
    /// without the events' contents (their ids, status and reports stay), else counts only.
    fn bounded(&self, output: &CreateEventsOutput, error: Option<&str>) -> String {
        let limit = self.settings.max_response_bytes;
        let mut whole = json!(output);
        if let Some(error) = error {
            whole["error"] = json!(error);
        }
        let text = whole.to_string();
        let whole_bytes = text.len();
        if whole_bytes <= limit {
            return text;
        }
        let note = format!(
            "the answer was {whole_bytes} bytes, over the {limit}-byte limit \
             ({MAX_RESPONSE_BYTES_ENV}): the events' contents are left out"
        );
        let events: Vec<Value> = output
            .events
            .iter()
            .map(|event| json!({"metadata": event.metadata}))
            .collect();
        let mut slim = json!({
            "events": events,
            "execution_reports": output.execution_reports,
            "truncated": note,
        });
        if let Some(error) = error {
            slim["error"] = json!(error);
        }
        let text = slim.to_string();
        if text.len() <= limit {
            return text;
        }
        let mut counts = json!({
            "events": output.events.len(),
            "playbooks_started": output.execution_reports.iter().filter(|r| r.error.is_empty()).count(),
            "truncated": format!(
                "the answer was {whole_bytes} bytes, over the {limit}-byte limit \
                 ({MAX_RESPONSE_BYTES_ENV}): only counts are given"
            ),
        });
        if let Some(error) = error {
            counts["error"] = json!(bounded_text(error, limit / 2));
        }
        counts.to_string()
    }
}

/// Milliseconds since the epoch on 2001-09-09: any invocation's deadline is later, while the
/// emulator's stand-in for one (a duration) and a hand-made context's 0 are smaller.
const EPOCH_MS_2001: u64 = 1_000_000_000_000;

/// `creator`'s batch, `concurrency` events at once, no event begun past `deadline`.
async fn create<S: EventStore, L: PlaybookLauncher>(
    creator: EventCreator<S, L>,
    concurrency: usize,
    deadline: Option<Instant>,
    event_details: &Value,
) -> Result<CreateEventsOutput, crate::Error> {
    let mut creator = creator.with_concurrency(concurrency);
    if let Some(deadline) = deadline {
        creator = creator.with_deadline(deadline);
    }
    creator.create_events(event_details).await
}

/// `{"error": text}`.
fn error_answer(status: StatusCode, text: String) -> (StatusCode, String) {
    (status, json!({"error": text}).to_string())
}

/// At most `max` bytes of `text`, on a character boundary.
fn bounded_text(text: &str, max: usize) -> &str {
    let mut end = text.len().min(max);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

/// 400 for what the sender can fix (invalid input, too many details, a playbook that does not
/// exist or takes no such input); 500 for faults.
fn status_of(error: &crate::Error) -> StatusCode {
    use crate::Error;
    match error {
        Error::InvalidEvent(_) => StatusCode::BAD_REQUEST,
        Error::Unauthenticated(_) => StatusCode::FORBIDDEN,
        Error::PlaybooksFailed { output, .. } => {
            let senders_fault = output
                .execution_reports
                .iter()
                .filter(|report| !report.error.is_empty())
                .all(|report| {
                    matches!(
                        launch_kind(&report.error),
                        LaunchErrorKind::StateMachineDoesNotExist | LaunchErrorKind::InvalidInput
                    )
                });
            if senders_fault {
                StatusCode::BAD_REQUEST
            } else {
                StatusCode::INTERNAL_SERVER_ERROR
            }
        }
        _ => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

/// The kind of a report's start error, from the AWS error code its text carries
/// (`An error occurred (StateMachineDoesNotExist) when calling ...`).
fn launch_kind(error: &str) -> LaunchErrorKind {
    let code = error
        .strip_prefix("An error occurred (")
        .and_then(|rest| rest.split_once(')'))
        .map_or("", |(code, _)| code);
    LaunchErrorKind::from_step_functions_code(code)
}

/// The region of a Lambda function ARN (`arn:aws:lambda:REGION:ACCOUNT:function:NAME`), or
/// `None` when `arn` is no such ARN.
fn lambda_arn_region(arn: &str) -> Option<&str> {
    match arn.split(':').collect::<Vec<_>>().as_slice() {
        [
            "arn",
            partition,
            "lambda",
            region,
            account,
            "function",
            name,
            ..,
        ] if !partition.is_empty()
            && !region.is_empty()
            && !account.is_empty()
            && account.bytes().all(|b| b.is_ascii_digit())
            && !name.is_empty() =>
        {
            Some(region)
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_lambda_arn_gives_its_region_and_anything_else_none() {
        assert_eq!(
            lambda_arn_region("arn:aws:lambda:eu-west-3:123456789012:function:endpoint"),
            Some("eu-west-3")
        );
        assert_eq!(
            lambda_arn_region("arn:aws:lambda:eu-west-3:123456789012:function:endpoint:live"),
            Some("eu-west-3")
        );
        for arn in [
            "",
            "function-arn",
            "arn:aws:lambda:::function:x",
            "arn:aws:states:us-east-1:123456789012:stateMachine:x",
            "arn:aws:lambda:us-east-1:12ab:function:x",
        ] {
            assert_eq!(lambda_arn_region(arn), None, "{arn}");
        }
    }

    #[test]
    fn the_launch_kind_comes_from_the_aws_code_in_the_text() {
        assert_eq!(
            launch_kind(
                "An error occurred (StateMachineDoesNotExist) when calling the StartExecution \
                 operation: State Machine Does Not Exist: 'arn:aws:states:...'"
            ),
            LaunchErrorKind::StateMachineDoesNotExist
        );
        assert_eq!(
            launch_kind("An error occurred (ThrottlingException) when calling ..."),
            LaunchErrorKind::Throttled
        );
        assert_eq!(launch_kind("webhook refused"), LaunchErrorKind::Other);
    }

    #[test]
    fn settings_refuse_what_they_cannot_use_and_name_it() {
        let error = EndpointSettings::from_lookup(|name| {
            (name == MAX_DETAILS_ENV).then(|| "lots".to_owned())
        })
        .unwrap_err();
        assert_eq!(
            error.to_string(),
            "configuration error: SOCLESS_MAX_DETAILS must be a whole number of at least 1, not \"lots\""
        );
        let zero =
            EndpointSettings::from_lookup(|name| (name == CONCURRENCY_ENV).then(|| "0".into()));
        assert!(zero.is_err());
        let defaults = EndpointSettings::from_lookup(|_| Some(" ".into())).unwrap();
        assert_eq!(defaults, EndpointSettings::default());
    }

    #[test]
    fn bounded_text_cuts_on_a_character_boundary() {
        assert_eq!(bounded_text("héllo", 2), "h");
        assert_eq!(bounded_text("héllo", 3), "hé");
        assert_eq!(bounded_text("hi", 10), "hi");
    }
}
