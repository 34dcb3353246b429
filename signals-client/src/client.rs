//! The client: one connection pool, typed calls, retries and error mapping.

use std::error::Error as StdError;
use std::fmt;
use std::io;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use reqwest::header::{self, HeaderMap, HeaderValue};
use reqwest::{StatusCode, Url};
use tracing::{Instrument, Span, field};

use crate::config::{ClientConfig, RetryPolicy};
use crate::decode::{decode, excerpt, redacted_text};
use crate::error::Error;
use crate::key::ApiKey;
use crate::model::{IpReport, IpReportBody, ListKind, ListMetadata};

/// The header that carries the API key.
const X_AUTH_TOKEN: &str = "x-auth-token";
/// A 400/404 saying this means a malformed key, not a missing record.
const BAD_TOKEN_TEXT: &str = "Token must be a valid RFC4122 UUID";
/// The largest successful body accepted; a full IP report is a few kilobytes.
const MAX_BODY_BYTES: usize = 4 << 20;
/// How much of an error body is read; only an excerpt is kept.
const MAX_ERROR_BODY_BYTES: usize = 64 << 10;
/// Bytes of a list id that are sent as they are; everything else is percent-encoded, so
/// `/`, `?`, `#`, `%` and control characters can never change the request path.
const LIST_ID_KEEP: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

/// A client for the Auth0 Signals API.
///
/// Build one per process and clone it freely: a clone shares the connection pool (and its
/// warm TLS sessions) through an `Arc`, which is what a long-lived server or a warm AWS Lambda
/// wants. The API key is an argument of each call rather than part of the client, so one
/// client serves every credential (a relay receives a key with each request) and a call can
/// never go out with another caller's key by accident.
#[derive(Clone)]
pub struct SignalsClient {
    inner: Arc<Inner>,
    /// The caller's time left ([`SignalsClient::within`]), bounding `total_timeout`.
    within: Option<Duration>,
}

struct Inner {
    http: reqwest::Client,
    /// Normalised base URL, its path ending in `/`.
    base_url: Url,
    connect_timeout: Duration,
    attempt_timeout: Duration,
    total_timeout: Duration,
    retry: RetryPolicy,
}

impl fmt::Debug for SignalsClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let inner = &*self.inner;
        f.debug_struct("SignalsClient")
            .field("base_url", &inner.base_url.as_str())
            .field("connect_timeout", &inner.connect_timeout)
            .field("attempt_timeout", &inner.attempt_timeout)
            .field("total_timeout", &inner.total_timeout)
            .field("within", &self.within)
            .field("retry", &inner.retry)
            .finish_non_exhaustive()
    }
}

impl SignalsClient {
    /// Builds the client and its connection pool.
    ///
    /// Redirects are never followed (the key would go with them): a 3xx answer is an
    /// [`Error::Status`].
    ///
    /// # Errors
    /// [`Error::Config`] when the base URL is not an absolute `http`/`https` URL without
    /// query or fragment, the user agent is not a valid header, or the TLS stack cannot start.
    pub fn new(config: ClientConfig) -> Result<Self, Error> {
        let base_url = normalise_base_url(&config.base_url)?;
        let mut headers = HeaderMap::new();
        headers.insert(header::ACCEPT, HeaderValue::from_static("application/json"));
        let http = reqwest::Client::builder()
            .user_agent(config.user_agent)
            .default_headers(headers)
            .connect_timeout(config.connect_timeout)
            // The key travels in X-Auth-Token, which reqwest does not strip on a cross-host
            // redirect: a 3xx is answered as an unexpected status instead of followed.
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| Error::Config {
                message: format!("cannot build the HTTP client: {e}"),
            })?;
        let mut retry = config.retry;
        retry.max_attempts = retry.max_attempts.max(1);
        Ok(Self {
            inner: Arc::new(Inner {
                http,
                base_url,
                connect_timeout: config.connect_timeout,
                attempt_timeout: config.attempt_timeout,
                total_timeout: config.total_timeout,
                retry,
            }),
            within: None,
        })
    }

    /// The same client (the same pool) whose calls take at most `budget` in all, attempts
    /// and `Retry-After` waits included, when that is shorter than its `total_timeout`: a
    /// caller with a deadline passes the time it has left, so that the client neither plans a
    /// wait that cannot end in time nor has its call cut in the middle of one.
    ///
    /// ```
    /// # fn main() -> Result<(), signals_client::Error> {
    /// use std::time::Duration;
    /// let client = signals_client::SignalsClient::new(Default::default())?;
    /// let hurried = client.within(Duration::from_millis(800));
    /// # drop(hurried);
    /// # Ok(())
    /// # }
    /// ```
    #[must_use]
    pub fn within(&self, budget: Duration) -> Self {
        Self {
            inner: Arc::clone(&self.inner),
            within: Some(self.within.map_or(budget, |within| within.min(budget))),
        }
    }

    /// The bound of one call over all its attempts.
    fn total_timeout(&self) -> Duration {
        let total = self.inner.total_timeout;
        self.within.map_or(total, |within| within.min(total))
    }

    /// The report on `ip` (`GET /v2.0/ip/<ip>`), or `Ok(None)` when the upstream has no data
    /// for it (a 400 or 404 that is not about the key).
    ///
    /// # Errors
    /// Any [`Error`] but [`Error::InvalidListId`] and [`Error::Config`].
    pub async fn ip_report(&self, key: &ApiKey, ip: IpAddr) -> Result<Option<IpReport>, Error> {
        let url = self.url(format_args!("v2.0/ip/{ip}"));
        match self.get(key, "/v2.0/ip/{ip}", &url).await {
            Ok(body) => {
                decode::<IpReportBody>(&body, "IP report", Some(key)).map(|b| Some(b.fullip))
            }
            Err(Error::Status {
                status: 400 | 404, ..
            }) => Ok(None),
            Err(error) => Err(error),
        }
    }

    /// Proves that `key` works (`GET /v2.0/ip`, the report on the caller's own address).
    /// The body is not decoded: any success is enough.
    ///
    /// # Errors
    /// [`Error::Unauthorized`] for a bad key; otherwise as [`SignalsClient::ip_report`].
    pub async fn check_key(&self, key: &ApiKey) -> Result<(), Error> {
        let url = self.url(format_args!("v2.0/ip"));
        self.get(key, "/v2.0/ip", &url).await.map(drop)
    }

    /// The metadata of one blocklist (`GET /metadata/<kind>/lists/<list id>`).
    ///
    /// `list_id` usually comes from an [`IpReport`]; it is percent-encoded as exactly one
    /// path segment, so no id can reach another path.
    ///
    /// # Errors
    /// [`Error::InvalidListId`] for an empty, `.` or `..` id (nothing is sent); a 400 or 404
    /// is [`Error::Status`]; otherwise as [`SignalsClient::ip_report`].
    pub async fn list_metadata(
        &self,
        key: &ApiKey,
        kind: ListKind,
        list_id: &str,
    ) -> Result<ListMetadata, Error> {
        if matches!(list_id, "" | "." | "..") {
            return Err(Error::InvalidListId {
                id: list_id.to_owned(),
            });
        }
        let id = utf8_percent_encode(list_id, LIST_ID_KEEP);
        let url = self.url(format_args!("metadata/{kind}/lists/{id}"));
        let body = self.get(key, "/metadata/{kind}/lists/{id}", &url).await?;
        decode(&body, "list metadata", Some(key))
    }

    /// The base URL joined with `path` (already encoded). Only the path is parsed: the base
    /// was checked once when the client was built, so its host (IDNA processing included) is
    /// not parsed again on the hot path.
    fn url(&self, path: fmt::Arguments<'_>) -> Url {
        let mut url = self.inner.base_url.clone();
        let full = format!("{}{path}", url.path());
        url.set_path(&full);
        url
    }

    /// One call: attempts and retries inside a span named after the path template.
    async fn get(&self, key: &ApiKey, template: &'static str, url: &Url) -> Result<Vec<u8>, Error> {
        // DEBUG, like the attempt events: a span at INFO would be formatted on every call of a
        // busy relay; retry warnings carry the path themselves, so INFO loses nothing.
        let span = tracing::debug_span!(
            "signals_request",
            path = template,
            attempts = field::Empty,
            status = field::Empty,
            latency_us = field::Empty,
        );
        let result = self
            .get_with_retries(key, template, url)
            .instrument(span)
            .await;
        ::metrics::counter!(
            crate::metric::REQUESTS,
            "endpoint" => template,
            "outcome" => crate::metric::outcome(&result),
        )
        .increment(1);
        result
    }

    async fn get_with_retries(
        &self,
        key: &ApiKey,
        template: &'static str,
        url: &Url,
    ) -> Result<Vec<u8>, Error> {
        let inner = &*self.inner;
        let started = Instant::now();
        let span = Span::current();
        let mut attempt = 1;
        loop {
            let left = self.total_timeout().saturating_sub(started.elapsed());
            let (status, outcome) = self
                .attempt(key, url, inner.attempt_timeout.min(left))
                .await;
            span.record("attempts", attempt);
            if let Some(status) = status {
                span.record("status", status.as_u16());
            }
            span.record("latency_us", micros(started.elapsed()));
            let failure = match outcome {
                Ok(body) => return Ok(body),
                Err(failure) => failure,
            };
            let Some(delay) = self.retry_delay(&failure, attempt, started.elapsed()) else {
                return Err(failure.error);
            };
            tracing::warn!(path = template, attempt, delay_us = micros(delay), error = %failure.error, "retrying Auth0 Signals call");
            ::metrics::counter!(crate::metric::RETRIES, "endpoint" => template).increment(1);
            tokio::time::sleep(delay).await;
            attempt += 1;
        }
    }

    /// The wait before the next attempt, or `None` to give up with this failure.
    fn retry_delay(&self, failure: &Failure, attempt: u32, elapsed: Duration) -> Option<Duration> {
        let retry = &self.inner.retry;
        if !failure.retryable || attempt >= retry.max_attempts {
            return None;
        }
        let delay = match failure.retry_after {
            Some(asked) if asked > retry.max_retry_after => return None,
            Some(asked) => asked,
            None => retry.backoff(attempt),
        };
        // A wait that ends past the deadline could only end in a timeout: report the real
        // cause now instead.
        (elapsed.saturating_add(delay) < self.total_timeout()).then_some(delay)
    }

    /// One HTTP exchange, bounded by `budget` from sending to the last body byte.
    async fn attempt(
        &self,
        key: &ApiKey,
        url: &Url,
        budget: Duration,
    ) -> (Option<StatusCode>, Result<Vec<u8>, Failure>) {
        let started = Instant::now();
        let exchange = async {
            let response = self
                .inner
                .http
                .get(url.clone())
                .header(X_AUTH_TOKEN, key.header_value().clone())
                .send()
                .await?;
            let status = response.status();
            let retry_after = retry_after(response.headers());
            let limit = if status.is_success() {
                MAX_BODY_BYTES
            } else {
                MAX_ERROR_BODY_BYTES
            };
            let body = read_body(response, limit).await?;
            Ok::<_, reqwest::Error>((status, retry_after, body))
        };
        let result = tokio::time::timeout(budget, exchange).await;
        let status = result
            .as_ref()
            .ok()
            .and_then(|r| r.as_ref().ok())
            .map(|(status, ..)| *status);
        tracing::debug!(
            status = status.map(|s| s.as_u16()),
            latency_us = micros(started.elapsed()),
            "Auth0 Signals attempt"
        );
        let outcome = match result {
            Err(_elapsed) => Err(Failure::fatal(Error::Timeout { after: budget })),
            Ok(Err(error)) => Err(self.transport_failure(&error, budget)),
            Ok(Ok((status, retry_after, body))) => judge(status, retry_after, body, key),
        };
        (status, outcome)
    }

    /// Classifies a failure below HTTP: TLS and timeouts fail fast, resets are retried.
    fn transport_failure(&self, error: &reqwest::Error, budget: Duration) -> Failure {
        if let Some(tls) = causes(error).find_map(|e| e.downcast_ref::<rustls::Error>()) {
            return Failure::fatal(Error::Tls {
                message: describe_tls(tls),
            });
        }
        if error.is_timeout() {
            let after = if error.is_connect() {
                self.inner.connect_timeout
            } else {
                budget
            };
            return Failure::fatal(Error::Timeout { after });
        }
        let message = causes(error)
            .last()
            .map_or_else(|| error.to_string(), |e| e.to_string());
        Failure {
            error: Error::Connection { message },
            retryable: is_reset(error),
            retry_after: None,
        }
    }
}

/// A failed attempt and whether it may be retried.
struct Failure {
    error: Error,
    retryable: bool,
    retry_after: Option<Duration>,
}

impl Failure {
    fn fatal(error: Error) -> Self {
        Self {
            error,
            retryable: false,
            retry_after: None,
        }
    }
}

/// Maps a complete HTTP answer to its body or a failure.
fn judge(
    status: StatusCode,
    retry_after: Option<Duration>,
    body: Body,
    key: &ApiKey,
) -> Result<Vec<u8>, Failure> {
    if status.is_success() {
        if body.complete {
            return Ok(body.bytes);
        }
        let message = format!("the body is larger than {MAX_BODY_BYTES} bytes");
        return Err(Failure::fatal(Error::Decode {
            what: "response",
            message,
        }));
    }
    let error = status_error(status, retry_after, &body.bytes, key);
    let retryable = matches!(status.as_u16(), 429 | 502 | 503 | 504);
    Err(Failure {
        error,
        retryable,
        retry_after,
    })
}

/// The error for a non-success status. A 400/404 that is not about the key becomes
/// [`Error::Status`], which `ip_report` turns into "no data".
fn status_error(
    status: StatusCode,
    retry_after: Option<Duration>,
    body: &[u8],
    key: &ApiKey,
) -> Error {
    let text = redacted_text(body, key);
    match status.as_u16() {
        401 => Error::Unauthorized {
            message: upstream_message(&text, status),
        },
        400 | 404 if text.contains(BAD_TOKEN_TEXT) => Error::Unauthorized {
            message: upstream_message(&text, status),
        },
        403 => Error::Forbidden {
            message: upstream_message(&text, status),
        },
        429 => Error::RateLimited { retry_after },
        code => Error::Status {
            status: code,
            body: excerpt(&text),
        },
    }
}

/// The upstream's explanation: the `message` of a JSON error body, else the text itself,
/// else the status reason.
fn upstream_message(text: &str, status: StatusCode) -> String {
    #[derive(serde::Deserialize)]
    struct JsonError<'a> {
        #[serde(borrow)]
        message: std::borrow::Cow<'a, str>,
    }
    let message = match serde_json::from_str::<JsonError<'_>>(text) {
        Ok(json) => excerpt(&json.message),
        Err(_) => excerpt(text),
    };
    if message.is_empty() {
        status.canonical_reason().unwrap_or("no message").to_owned()
    } else {
        message
    }
}

/// `Retry-After` in delta-seconds. The HTTP-date form is not honoured (treated as absent, so
/// the usual backoff applies).
fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let seconds = headers
        .get(header::RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim()
        .parse::<u64>()
        .ok()?;
    Some(Duration::from_secs(seconds))
}

/// A body read up to a limit.
struct Body {
    bytes: Vec<u8>,
    /// False when the limit cut it.
    complete: bool,
}

async fn read_body(mut response: reqwest::Response, limit: usize) -> Result<Body, reqwest::Error> {
    let expected = response
        .content_length()
        .and_then(|n| usize::try_from(n).ok());
    let mut bytes = Vec::with_capacity(expected.unwrap_or(0).min(limit));
    while let Some(chunk) = response.chunk().await? {
        let room = limit.saturating_sub(bytes.len());
        if chunk.len() > room {
            bytes.extend_from_slice(chunk.get(..room).unwrap_or_default());
            return Ok(Body {
                bytes,
                complete: false,
            });
        }
        bytes.extend_from_slice(&chunk);
    }
    Ok(Body {
        bytes,
        complete: true,
    })
}

/// The chain of causes of `error`, looking inside `io::Error`s (whose `source` skips the
/// error they wrap, which is where rustls puts its own).
fn causes<'a>(
    error: &'a (dyn StdError + 'static),
) -> impl Iterator<Item = &'a (dyn StdError + 'static)> {
    std::iter::successors(Some(error), |&e| match e.downcast_ref::<io::Error>() {
        Some(io) => io.get_ref().map(|inner| inner as &(dyn StdError + 'static)),
        None => e.source(),
    })
}

/// Whether the connection broke under an exchange (worth one more try on a fresh one): a
/// reset, or a close before the answer, as when the server dropped a kept-alive connection
/// (typical after a Lambda sandbox was frozen between invocations).
fn is_reset(error: &reqwest::Error) -> bool {
    causes(error).any(|e| {
        let closed = e
            .downcast_ref::<hyper::Error>()
            .is_some_and(hyper::Error::is_incomplete_message);
        closed
            || e.downcast_ref::<io::Error>().is_some_and(|io| {
                matches!(
                    io.kind(),
                    io::ErrorKind::ConnectionReset
                        | io::ErrorKind::ConnectionAborted
                        | io::ErrorKind::BrokenPipe
                        | io::ErrorKind::UnexpectedEof
                )
            })
    })
}

/// A short verification message in the words people know from OpenSSL where possible.
fn describe_tls(error: &rustls::Error) -> String {
    use rustls::CertificateError as Cert;
    let text = match error {
        rustls::Error::InvalidCertificate(cert) => match cert {
            Cert::UnknownIssuer => "self signed certificate or unknown certificate authority",
            Cert::Expired | Cert::ExpiredContext { .. } => "certificate has expired",
            Cert::NotValidYet | Cert::NotValidYetContext { .. } => "certificate is not yet valid",
            Cert::NotValidForName | Cert::NotValidForNameContext { .. } => {
                "certificate is not valid for this host name"
            }
            Cert::Revoked => "certificate has been revoked",
            _ => return error.to_string(),
        },
        _ => return error.to_string(),
    };
    text.to_owned()
}

fn micros(d: Duration) -> u64 {
    u64::try_from(d.as_micros()).unwrap_or(u64::MAX)
}

/// Checks the base URL once and returns it with its path ending in `/`.
fn normalise_base_url(raw: &str) -> Result<Url, Error> {
    let invalid = |why: &str| Error::Config {
        message: format!("base URL {raw:?} {why}"),
    };
    let url = Url::parse(raw).map_err(|e| invalid(&format!("is not a URL: {e}")))?;
    if !matches!(url.scheme(), "http" | "https") || url.cannot_be_a_base() {
        return Err(invalid("must be an http or https URL"));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(invalid("must not have a query or a fragment"));
    }
    let mut url = url;
    if !url.path().ends_with('/') {
        let path = format!("{}/", url.path());
        url.set_path(&path);
    }
    Ok(url)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check_base(raw: &str, expected: Option<&str>) {
        assert_eq!(
            normalise_base_url(raw).ok().as_ref().map(Url::as_str),
            expected,
            "{raw}"
        );
    }

    #[test]
    fn base_urls() {
        check_base(
            "https://signals.api.auth0.com/",
            Some("https://signals.api.auth0.com/"),
        );
        check_base(
            "https://signals.api.auth0.com",
            Some("https://signals.api.auth0.com/"),
        );
        check_base(
            "http://127.0.0.1:8080/prefix",
            Some("http://127.0.0.1:8080/prefix/"),
        );
        check_base("ftp://example.com/", None);
        check_base("mailto:someone@example.com", None);
        check_base("https://example.com/?q=1", None);
        check_base("https://example.com/#f", None);
        check_base("not a url", None);
    }

    fn check_message(body: &str, status: u16, expected: &str) {
        let key = ApiKey::new("k3y").unwrap();
        let status = StatusCode::from_u16(status).unwrap();
        assert_eq!(
            upstream_message(&redacted_text(body.as_bytes(), &key), status),
            expected,
            "{body}"
        );
    }

    #[test]
    fn upstream_messages() {
        check_message(
            "Unauthorized. API Key not found.",
            401,
            "Unauthorized. API Key not found.",
        );
        check_message(r#"{"statusCode":401,"message":"Bad key"}"#, 401, "Bad key");
        check_message(r#"{"message": 3}"#, 401, r#"{"message": 3}"#);
        check_message("", 401, "Unauthorized");
        check_message("  ", 403, "Forbidden");
        check_message("key k3y is wrong", 401, "key [redacted] is wrong");
    }

    fn check_retry_after(value: &str, expected: Option<u64>) {
        let mut headers = HeaderMap::new();
        headers.insert(header::RETRY_AFTER, HeaderValue::from_str(value).unwrap());
        assert_eq!(
            retry_after(&headers),
            expected.map(Duration::from_secs),
            "{value}"
        );
    }

    #[test]
    fn retry_after_seconds() {
        check_retry_after("3", Some(3));
        check_retry_after(" 0 ", Some(0));
        check_retry_after("-1", None);
        check_retry_after("1.5", None);
        check_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", None);
        assert_eq!(retry_after(&HeaderMap::new()), None);
    }

    #[test]
    fn list_ids_encode_to_one_segment() {
        let encode = |id: &str| utf8_percent_encode(id, LIST_ID_KEEP).to_string();
        assert_eq!(encode("FAIL2BAN-SSH"), "FAIL2BAN-SSH");
        assert_eq!(encode("a/../b?c#d%e"), "a%2F..%2Fb%3Fc%23d%25e");
        assert_eq!(encode(".\n."), ".%0A.");
        assert_eq!(encode("é ~_"), "%C3%A9%20~_");
    }
}
