//! One HTTP JSON API as a networked relay calls it, in one call per request ([`JsonApi`]): the
//! relay's client (its `User-Agent`, no redirects), the per-call timeout bounded by the
//! request's deadline, the [`Upstream`]'s cap, breaker and metrics, a bounded body, the status
//! mapping ([`StatusErrors`]) with the statuses that mean "nothing known", and the answer read
//! as the provider's own type.

use std::sync::Arc;
use std::time::Duration;

use reqwest::{Method, RequestBuilder, StatusCode, Url};
use serde::de::DeserializeOwned;

use crate::credentials::CallerDigest;
use crate::error::{ConfigError, RelayError, UpstreamFailure};
use crate::fetch::{StatusErrors, http_client, read_body};
use crate::provider::Context;
use crate::upstream::{Upstream, UpstreamError};

/// Most bytes of an error's body read for its detail.
const MAX_ERROR_BYTES: usize = 64 << 10;
/// Most characters of the upstream's own words quoted in an error.
const MAX_DETAIL_CHARS: usize = 512;

/// One HTTP JSON API a provider calls: build it when the provider is built, then each call is
/// one line ([`json`](Self::json), [`json_as`](Self::json_as), [`probe`](Self::probe)).
///
/// Every call
/// - goes through the API's [`Upstream`] (its cap on calls in flight, its circuit breaker,
///   `relay_upstream_requests_total`, the request's log line);
/// - takes at most the API's timeout, and never longer than the request has left
///   ([`Context::time_left`]);
/// - reads at most [`max_body`](Self::max_body) bytes of the answer (default 4 MiB);
/// - answers `Ok(None)` for the statuses that mean the source knows nothing
///   ([`nothing_on`](Self::nothing_on), e.g. a 404 for an address never seen), the value
///   read as `T` for a success, and the relay's error for any other status
///   ([`StatusErrors`], quoting the upstream's own `message`, `detail` or `error` when its
///   body has one, with every [sensitive](crate::sensitive_header) header's value blanked out).
///
/// ```no_run
/// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// use std::time::Duration;
/// use xdr_relay_core::{Context, Credentials, JsonApi, Upstream};
///
/// #[derive(serde::Deserialize)]
/// struct Host {
///     ports: Vec<u16>,
/// }
///
/// let upstream = Upstream::new("internetdb").display_name("Shodan InternetDB");
/// let api = JsonApi::new(upstream, "internetdb-relay/1.0", Duration::from_secs(10))?.nothing_on(404);
/// let context = Context::new(Credentials::default(), 100);
/// let url = "https://internetdb.shodan.io/192.0.2.1".parse()?;
/// let host: Option<Host> = api.json(&context, api.get(url)).await?;
/// # let _ = host;
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct JsonApi {
    http: reqwest::Client,
    upstream: Arc<Upstream>,
    statuses: StatusErrors,
    timeout: Duration,
    max_body: usize,
    nothing: Vec<StatusCode>,
}

impl JsonApi {
    /// The default most bytes read of an answer.
    pub const DEFAULT_MAX_BODY: usize = 4 << 20;

    /// The API behind `upstream` (whose [shown name](Upstream::shown_name) its errors use),
    /// called with `user_agent`, each call taking at most `timeout`.
    ///
    /// # Errors
    ///
    /// [`ConfigError`] when the HTTP client cannot be made ([`http_client`]).
    pub fn new(
        upstream: Upstream,
        user_agent: &str,
        timeout: Duration,
    ) -> Result<Self, ConfigError> {
        Ok(Self {
            http: http_client(user_agent, timeout)?,
            statuses: StatusErrors::new(upstream.shown_name().to_owned()),
            upstream: Arc::new(upstream),
            timeout,
            max_body: Self::DEFAULT_MAX_BODY,
            nothing: Vec::new(),
        })
    }

    /// `status` means the source knows nothing of what was asked: the call answers
    /// `Ok(None)`, and counts as a success for the breaker.
    #[must_use]
    pub fn nothing_on(mut self, status: u16) -> Self {
        if let Ok(status) = StatusCode::from_u16(status) {
            self.nothing.push(status);
        }
        self
    }

    /// Reads at most `bytes` of an answer (a larger one is an `unknown` error).
    #[must_use]
    pub fn max_body(mut self, bytes: usize) -> Self {
        self.max_body = bytes;
        self
    }

    /// Maps statuses with `statuses` (relay-core's mapping plus the source's own codes)
    /// instead of relay-core's alone.
    #[must_use]
    pub fn statuses(mut self, statuses: StatusErrors) -> Self {
        self.statuses = statuses;
        self
    }

    /// The API's upstream (for a [`LookupCache`](crate::LookupCache) of its answers).
    #[must_use]
    pub fn upstream(&self) -> &Arc<Upstream> {
        &self.upstream
    }

    /// A `GET` of `url` with the API's client; add headers and query pairs, then pass it to
    /// a call.
    pub fn get(&self, url: Url) -> RequestBuilder {
        self.http.request(Method::GET, url)
    }

    /// A request of `method` to `url` with the API's client.
    pub fn request(&self, method: Method, url: Url) -> RequestBuilder {
        self.http.request(method, url)
    }

    /// Sends `request` through the upstream and reads the answer as `T`; `None` for a
    /// [nothing](Self::nothing_on) status.
    ///
    /// # Errors
    ///
    /// The relay's error for the status, the transport's failure, an answer too large or
    /// not a `T`, an open circuit or the request's deadline.
    pub async fn json<T: DeserializeOwned>(
        &self,
        context: &Context,
        request: RequestBuilder,
    ) -> Result<Option<T>, RelayError> {
        self.upstream
            .call(context, self.send(context, request))
            .await
    }

    /// [`json`](Self::json) of a plain `GET` of `url`.
    ///
    /// # Errors
    ///
    /// As [`json`](Self::json).
    pub async fn get_json<T: DeserializeOwned>(
        &self,
        context: &Context,
        url: Url,
    ) -> Result<Option<T>, RelayError> {
        self.json(context, self.get(url)).await
    }

    /// [`json`](Self::json) made as `caller`'s: after the upstream refuses the caller's
    /// credentials (401) or rate-limits them (429), the caller's next calls answer the same
    /// error at once, without a call, for a while ([`Upstream::call_as`]).
    ///
    /// # Errors
    ///
    /// As [`json`](Self::json), or the caller's remembered stop.
    pub async fn json_as<T: DeserializeOwned>(
        &self,
        context: &Context,
        caller: CallerDigest,
        request: RequestBuilder,
    ) -> Result<Option<T>, RelayError> {
        self.upstream
            .call_as(context, caller, self.send(context, request))
            .await
    }

    /// A health check of a keyless API: `Ok` when `request` answers a success or a
    /// [nothing](Self::nothing_on) status (the body is read, bounded, and ignored).
    ///
    /// # Errors
    ///
    /// As [`json`](Self::json): the relay's error for the status or the failure, so `/health`
    /// says what is wrong.
    pub async fn probe(
        &self,
        context: &Context,
        request: RequestBuilder,
    ) -> Result<(), RelayError> {
        let call = async {
            let response = self.exchange(context, request).await?;
            match response {
                Some(response) => read_body(response, self.max_body, self.upstream.shown_name())
                    .await
                    .map(drop),
                None => Ok(()),
            }
        };
        self.upstream.call(context, call).await
    }

    /// The raw call, without the upstream around it: for a fetch made inside
    /// [`Upstream::call`] or [`LookupCache::get_or_fetch`](crate::LookupCache::get_or_fetch)
    /// already, which must not count it twice.
    ///
    /// # Errors
    ///
    /// The [`UpstreamError`] of the status or the failure.
    pub async fn send<T: DeserializeOwned>(
        &self,
        context: &Context,
        request: RequestBuilder,
    ) -> Result<Option<T>, UpstreamError> {
        let name = self.upstream.shown_name();
        let response = self.exchange(context, request).await?;
        let Some(response) = response else {
            return Ok(None);
        };
        let body = read_body(response, self.max_body, name).await?;
        serde_json::from_slice(&body).map(Some).map_err(|e| {
            UpstreamError::new(
                UpstreamFailure::Other,
                format!("{name} sent an answer that could not be read: {e}"),
            )
        })
    }

    /// Sends `request` within the time left: the response of a success, `None` for a
    /// nothing status, else the error of the status.
    async fn exchange(
        &self,
        context: &Context,
        request: RequestBuilder,
    ) -> Result<Option<reqwest::Response>, UpstreamError> {
        let name = self.upstream.shown_name();
        let timeout = context
            .time_left()
            .map_or(self.timeout, |left| left.min(self.timeout));
        let request = request
            .timeout(timeout)
            .build()
            .map_err(|e| UpstreamError::from_reqwest(name, &e))?;
        let secrets: Vec<String> = request
            .headers()
            .values()
            .filter(|value| value.is_sensitive())
            .filter_map(|value| value.to_str().ok())
            .filter(|value| !value.is_empty())
            .map(str::to_owned)
            .collect();
        let response = self
            .http
            .execute(request)
            .await
            .map_err(|e| UpstreamError::from_reqwest(name, &e))?;
        let status = response.status();
        if status.is_success() {
            return Ok(Some(response));
        }
        if self.nothing.contains(&status) {
            return Ok(None);
        }
        let headers = response.headers().clone();
        // The detail is a courtesy: a body that cannot be read leaves it out.
        let body = read_body(response, MAX_ERROR_BYTES, name)
            .await
            .unwrap_or_default();
        Err(self
            .statuses
            .error(status, &headers, detail(&body, &secrets)))
    }
}

/// The upstream's own words in an error body (`message`, `detail`, `error` or
/// `errors[0].detail`/`message`, or a short plain-text body), bounded, with `secrets` blanked.
fn detail(body: &[u8], secrets: &[String]) -> Option<String> {
    let words = match serde_json::from_slice::<serde_json::Value>(body) {
        Ok(value) => {
            let first = value.get("errors").and_then(|errors| errors.get(0));
            ["message", "detail", "error"]
                .iter()
                .find_map(|key| value.get(key)?.as_str())
                .or_else(|| {
                    let first = first?;
                    first
                        .get("detail")
                        .or_else(|| first.get("message"))?
                        .as_str()
                })
                .map(str::to_owned)
        }
        Err(_) => {
            let text = std::str::from_utf8(body).ok()?;
            // A page (HTML) is no one's words.
            (!text.trim_start().starts_with('<')).then(|| text.to_owned())
        }
    }?;
    let mut words = words.split_whitespace().collect::<Vec<_>>().join(" ");
    if words.is_empty() {
        return None;
    }
    for secret in secrets {
        words = words.replace(secret.as_str(), "<redacted>");
    }
    Some(ctim_model::truncate(&words, MAX_DETAIL_CHARS).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_detail_is_the_upstreams_words_bounded_and_without_secrets() {
        let secrets = vec!["s3cr3t".to_owned()];
        for (body, expected) in [
            (
                r#"{"message": "Key s3cr3t is not valid"}"#,
                Some("Key <redacted> is not valid"),
            ),
            (r#"{"detail": "Not  found.\n"}"#, Some("Not found.")),
            (r#"{"error": "bad"}"#, Some("bad")),
            (r#"{"errors": [{"detail": "quota"}]}"#, Some("quota")),
            (r#"{"errors": [{"message": "slow"}]}"#, Some("slow")),
            (r#"{"message": 5}"#, None),
            (r#"{"message": "  "}"#, None),
            ("Service down s3cr3t", Some("Service down <redacted>")),
            ("<html><body>520</body></html>", None),
            ("", None),
        ] {
            assert_eq!(
                detail(body.as_bytes(), &secrets).as_deref(),
                expected,
                "{body}"
            );
        }
        let long = format!(r#"{{"message": "{}"}}"#, "x".repeat(5000));
        let long = detail(long.as_bytes(), &[]).unwrap();
        assert!(long.chars().count() <= MAX_DETAIL_CHARS, "{}", long.len());
    }
}
