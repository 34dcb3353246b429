//! What every provider that calls an HTTP upstream needs around `reqwest`, written once: a
//! client with the relay's `User-Agent` that follows no redirect ([`http_client`]), a checked
//! base URL setting and links built from it by path segment ([`BaseUrl`]), the credential
//! header marked sensitive ([`sensitive_header`]), a bounded body read ([`read_body`]),
//! `Retry-After` ([`RetryAfter`]) and a status → relay error mapping a provider extends with
//! its source's own codes ([`StatusErrors`]).

use std::borrow::Cow;
use std::time::Duration;

use reqwest::header::{HeaderMap, HeaderValue, RETRY_AFTER};
use reqwest::{StatusCode, Url};

use crate::error::{AuthFailure, BuildError, ConfigError, RelayError, UpstreamFailure};
use crate::settings::{EnvError, EnvVar, Settings};
use crate::upstream::UpstreamError;

/// A client for one upstream: its every call takes at most `timeout` (connecting at most 5 s
/// of it), carries `user_agent`, and follows no redirect (a redirect would carry the
/// credential header to wherever it points).
///
/// ```
/// let client = xdr_relay_core::http_client("example-relay/1.0", std::time::Duration::from_secs(10))?;
/// # let _ = client;
/// # Ok::<(), xdr_relay_core::ConfigError>(())
/// ```
///
/// # Errors
///
/// [`ConfigError`] when the client cannot be made (its TLS configuration failed to load).
pub fn http_client(user_agent: &str, timeout: Duration) -> Result<reqwest::Client, ConfigError> {
    reqwest::Client::builder()
        .user_agent(user_agent)
        .timeout(timeout)
        .connect_timeout(timeout.min(Duration::from_secs(5)))
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .map_err(|e| ConfigError::new(format!("cannot make the HTTP client: {e}")))
}

/// `secret` as a header value marked sensitive (HTTP/2 never indexes it, `Debug` hides it).
///
/// # Errors
///
/// An `authorization error` (wrong payload) when it cannot be a header value; the error
/// never quotes it.
pub fn sensitive_header(secret: &str) -> Result<HeaderValue, UpstreamError> {
    let mut value = HeaderValue::from_str(secret).map_err(|_| {
        UpstreamError::with_error(
            UpstreamFailure::Unauthorized,
            AuthFailure::WrongPayload.into(),
        )
    })?;
    value.set_sensitive(true);
    Ok(value)
}

/// The body of `response`, at most `limit` bytes (`upstream` names it in errors).
///
/// # Errors
///
/// `unknown` when the body is larger (by its `Content-Length` or as read), or the
/// connection's failure while reading it.
pub async fn read_body(
    mut response: reqwest::Response,
    limit: usize,
    upstream: &str,
) -> Result<Vec<u8>, UpstreamError> {
    let too_large = || {
        UpstreamError::new(
            UpstreamFailure::Other,
            format!("{upstream}'s answer is larger than {} KiB", limit >> 10),
        )
    };
    let length = response.content_length();
    if length.is_some_and(|length| length > limit as u64) {
        return Err(too_large());
    }
    let mut body = Vec::with_capacity(length.map_or(0, |n| n as usize));
    while let Some(chunk) = response
        .chunk()
        .await
        .map_err(|e| UpstreamError::from_reqwest(upstream, &e))?
    {
        if body.len() + chunk.len() > limit {
            return Err(too_large());
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// An upstream's `Retry-After`: how long it asked to be left alone, and how to say it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct RetryAfter {
    /// How long from now (zero for a date in the past).
    pub wait: Duration,
    /// The words for a message: `60 seconds`, `1 second`, or the HTTP date as sent.
    pub text: String,
}

impl RetryAfter {
    /// The `Retry-After` of `headers`: whole seconds, or an HTTP date
    /// (`Wed, 21 Oct 2015 07:28:00 GMT`); `None` when absent or anything else.
    ///
    /// ```
    /// use reqwest::header::{HeaderMap, HeaderValue, RETRY_AFTER};
    /// use xdr_relay_core::RetryAfter;
    ///
    /// let mut headers = HeaderMap::new();
    /// headers.insert(RETRY_AFTER, HeaderValue::from_static("120"));
    /// let after = RetryAfter::parse(&headers).unwrap();
    /// assert_eq!((after.wait.as_secs(), after.text.as_str()), (120, "120 seconds"));
    /// headers.insert(RETRY_AFTER, HeaderValue::from_static("soon"));
    /// assert_eq!(RetryAfter::parse(&headers), None);
    /// ```
    #[must_use]
    pub fn parse(headers: &HeaderMap) -> Option<Self> {
        let value = headers.get(RETRY_AFTER)?.to_str().ok()?.trim();
        if let Ok(seconds) = value.parse::<u64>() {
            let text = match seconds {
                1 => "1 second".to_owned(),
                _ => format!("{seconds} seconds"),
            };
            return Some(Self {
                wait: Duration::from_secs(seconds),
                text,
            });
        }
        if value.len() > 40 {
            return None;
        }
        let date =
            time::OffsetDateTime::parse(value, &time::format_description::well_known::Rfc2822)
                .ok()?;
        let wait = date - time::OffsetDateTime::now_utc();
        Some(Self {
            wait: wait.try_into().unwrap_or(Duration::ZERO),
            text: value.to_owned(),
        })
    }
}

/// How an upstream's HTTP statuses become the relay's errors: relay-core's mapping
/// ([`RelayError::upstream`]: 401, 403, 429, 5xx), with the upstream's own words where it
/// gave any, `Retry after …` on a 429, and the provider's own codes for statuses its source
/// gives a meaning (Cisco's relays answer `internal error` for a 500, `web server is down`
/// for a 521).
///
/// ```
/// use reqwest::StatusCode;
/// use reqwest::header::HeaderMap;
/// use xdr_relay_core::{StatusErrors, UpstreamFailure};
///
/// let statuses = StatusErrors::new("Example Intel")
///     .custom(521, UpstreamFailure::Unavailable, "web server is down", "Example Intel's web server is down (HTTP 521).");
/// let error = statuses.error(StatusCode::from_u16(521).unwrap(), &HeaderMap::new(), None);
/// assert_eq!(error.error().code(), "web server is down");
/// let error = statuses.error(StatusCode::UNAUTHORIZED, &HeaderMap::new(), Some("Bad key.".into()));
/// assert_eq!(error.error().to_string(), "Authorization failed: Bad key.");
/// ```
#[derive(Debug, Clone)]
pub struct StatusErrors {
    upstream: Cow<'static, str>,
    custom: Vec<Custom>,
}

#[derive(Debug, Clone)]
struct Custom {
    status: u16,
    failure: UpstreamFailure,
    code: &'static str,
    message: &'static str,
}

impl StatusErrors {
    /// relay-core's mapping, naming `upstream` in its messages.
    pub fn new(upstream: impl Into<Cow<'static, str>>) -> Self {
        Self {
            upstream: upstream.into(),
            custom: Vec::new(),
        }
    }

    /// `status` answered with the provider's own `code` and `message` (counted as `failure`
    /// in metrics and by the circuit breaker).
    #[must_use]
    pub fn custom(
        mut self,
        status: u16,
        failure: UpstreamFailure,
        code: &'static str,
        message: &'static str,
    ) -> Self {
        self.custom.push(Custom {
            status,
            failure,
            code,
            message,
        });
        self
    }

    /// The error of `status` (not a success), with the upstream's `detail` (already bounded
    /// and free of credentials) where the message has room for it, and `Retry-After` from
    /// `headers` on a 429.
    #[must_use]
    pub fn error(
        &self,
        status: StatusCode,
        headers: &HeaderMap,
        detail: Option<String>,
    ) -> UpstreamError {
        let name = &self.upstream;
        let code = status.as_u16();
        if let Some(custom) = self.custom.iter().find(|c| c.status == code) {
            return UpstreamError::with_error(
                custom.failure,
                RelayError::custom(custom.code, custom.message),
            );
        }
        let failure = UpstreamFailure::from_status(code);
        match code {
            401 => UpstreamError::new(
                failure,
                detail.unwrap_or_else(|| format!("{name} refused the API key (HTTP 401).")),
            ),
            403 => UpstreamError::new(
                failure,
                detail.unwrap_or_else(|| format!("{name} refused the request (HTTP 403).")),
            ),
            429 => {
                let mut message = detail.unwrap_or_else(|| {
                    format!("{name}'s rate limit for this API key is reached (HTTP 429).")
                });
                let after = RetryAfter::parse(headers);
                if let Some(after) = &after {
                    message.push_str(&format!(" Retry after {}.", after.text));
                }
                let error = UpstreamError::new(failure, message);
                match after {
                    Some(after) => error.with_retry_after(after.wait),
                    None => error,
                }
            }
            500 | 502..=504 => UpstreamError::new(
                failure,
                format!("{name} is unavailable (HTTP {code}); try again later."),
            ),
            _ => UpstreamError::new(
                failure,
                match detail {
                    Some(detail) => format!("{name} answered HTTP {code}: {detail}"),
                    None => format!("{name} answered HTTP {code}."),
                },
            ),
        }
    }
}

/// A base URL checked once, when the provider is built: `http` or `https`, a host, ending in
/// `/` (added when missing), normalised as URLs are (`HTTP://Example.COM` is
/// `http://example.com/`). Calls join paths to it; links add percent-encoded path segments.
///
/// ```
/// use xdr_relay_core::BaseUrl;
///
/// let web = BaseUrl::parse("HTTPS://intel.example/app")?;
/// assert_eq!(web.as_str(), "https://intel.example/app/");
/// assert_eq!(web.link(&["check", "192.0.2.1"]), "https://intel.example/app/check/192.0.2.1");
/// assert_eq!(web.link(&["url", "https://x.example/a?b"]), "https://intel.example/app/url/https:%2F%2Fx.example%2Fa%3Fb");
/// assert!(BaseUrl::parse("intel.example").is_err());
/// # Ok::<(), String>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BaseUrl(Url);

impl BaseUrl {
    /// `text` checked as a base URL.
    ///
    /// # Errors
    ///
    /// Why it is not one (not a URL, not `http(s)://`, no host).
    pub fn parse(text: &str) -> Result<Self, String> {
        let mut text = text.trim().to_owned();
        if !text.ends_with('/') {
            text.push('/');
        }
        let url = Url::parse(&text).map_err(|e| e.to_string())?;
        if !matches!(url.scheme(), "http" | "https")
            || url.cannot_be_a_base()
            || url.host_str().is_none_or(str::is_empty)
        {
            return Err("not an http:// or https:// URL".into());
        }
        Ok(Self(url))
    }

    /// The URL of the setting `setting` (its name, for the error), checked as [`parse`](Self::parse)
    /// checks it.
    ///
    /// # Errors
    ///
    /// [`BuildError::Url`] naming the setting and what is wrong.
    pub fn setting(text: &str, setting: &'static str) -> Result<Self, BuildError> {
        Self::parse(text).map_err(|reason| BuildError::Url { setting, reason })
    }

    /// The URL, ending in `/`.
    #[must_use]
    pub fn as_str(&self) -> &str {
        self.0.as_str()
    }

    /// The URL.
    #[must_use]
    pub fn url(&self) -> &Url {
        &self.0
    }

    /// The URL of `path` (relative, e.g. `check` or `api/v2/check`) under the base.
    ///
    /// # Errors
    ///
    /// When `path` cannot be joined (it is constant in a provider: a test finds it).
    pub fn join(&self, path: &str) -> Result<Url, String> {
        self.0.join(path).map_err(|e| e.to_string())
    }

    /// A link to `segments` under the base, each percent-encoded as one path segment (an
    /// address, a domain, a URL: a `/`, `?` or `#` in a value stays in its segment).
    #[must_use]
    pub fn link(&self, segments: &[&str]) -> String {
        self.at(segments).into()
    }

    /// The URL of `segments` under the base, each percent-encoded as one path segment, for
    /// a call (`api.at(&[ip])` → `https://api.example/v1/192.0.2.1`); [`link`](Self::link) as
    /// a `Url`.
    ///
    /// ```
    /// let api = xdr_relay_core::BaseUrl::parse("https://api.example/v1/")?;
    /// assert_eq!(api.at(&["domain", "a/b?c"]).as_str(), "https://api.example/v1/domain/a%2Fb%3Fc");
    /// # Ok::<(), String>(())
    /// ```
    #[must_use]
    pub fn at(&self, segments: &[&str]) -> Url {
        let mut url = self.0.clone();
        if let Ok(mut path) = url.path_segments_mut() {
            path.pop_if_empty().extend(segments);
        }
        url
    }
}

/// `text` percent-encoded as Python's `urllib.parse.quote(text, safe)` does it, which Cisco's
/// relays build their upstream paths and links with: every byte of its UTF-8 but ASCII
/// letters, digits, `_.-~` and the ASCII characters of `safe` written `%XX` (upper case). With
/// `safe` empty a value is one path segment, and a query string (`/`, `?`, `#`, `&` encoded).
///
/// ```
/// use xdr_relay_core::quote;
///
/// assert_eq!(quote("http://a.example/p?q=1#f", "@:"), "http:%2F%2Fa.example%2Fp%3Fq%3D1%23f");
/// assert_eq!(quote("user@mail.example", ""), "user%40mail.example");
/// assert_eq!(quote("bücher.example", "@:"), "b%C3%BCcher.example");
/// ```
#[must_use]
pub fn quote(text: &str, safe: &str) -> String {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    let mut quoted = String::with_capacity(text.len());
    for &byte in text.as_bytes() {
        let kept = byte.is_ascii_alphanumeric()
            || matches!(byte, b'_' | b'.' | b'-' | b'~')
            || (byte.is_ascii() && safe.as_bytes().contains(&byte));
        if kept {
            quoted.push(char::from(byte));
        } else {
            quoted.push('%');
            quoted.push(char::from(HEX[usize::from(byte >> 4)]));
            quoted.push(char::from(HEX[usize::from(byte & 0x0f)]));
        }
    }
    quoted
}

impl Settings<'_> {
    /// The base URL setting `var` ([`BaseUrl`]), or `None` when it is not set.
    ///
    /// # Errors
    ///
    /// [`EnvError::Invalid`] naming `var` when it is not an `http(s)://` URL with a host.
    pub fn base_url(&self, var: &EnvVar) -> Result<Option<BaseUrl>, EnvError> {
        let Some(value) = self.value(var) else {
            return Ok(None);
        };
        BaseUrl::parse(&value)
            .map(Some)
            .map_err(|_| EnvError::invalid(var, "an http:// or https:// URL", &value))
    }

    /// The base URL setting `var`, or `default` when it is not set.
    ///
    /// ```
    /// let settings = xdr_relay_core::Settings::new(|_| None);
    /// # const URL: xdr_relay_core::EnvVar = xdr_relay_core::EnvVar::new("X_URL", "x-url", "URL", "");
    /// let url = settings.base_url_or(&URL, "https://api.example.com/v1")?;
    /// assert_eq!(url.as_str(), "https://api.example.com/v1/");
    /// # Ok::<(), xdr_relay_core::EnvError>(())
    /// ```
    ///
    /// # Errors
    ///
    /// [`EnvError::Invalid`] naming `var` when its value, or `default`, is not an
    /// `http(s)://` URL with a host.
    pub fn base_url_or(&self, var: &EnvVar, default: &str) -> Result<BaseUrl, EnvError> {
        match self.base_url(var)? {
            Some(url) => Ok(url),
            None => BaseUrl::parse(default)
                .map_err(|_| EnvError::invalid(var, "an http:// or https:// URL", default)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(retry_after: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(RETRY_AFTER, HeaderValue::from_str(retry_after).unwrap());
        headers
    }

    #[test]
    fn retry_after_is_seconds_or_a_date() {
        let after = RetryAfter::parse(&headers("1")).unwrap();
        assert_eq!(
            (after.wait, after.text.as_str()),
            (Duration::from_secs(1), "1 second")
        );
        let after = RetryAfter::parse(&headers("Wed, 21 Oct 2015 07:28:00 GMT")).unwrap();
        assert_eq!(after.wait, Duration::ZERO, "a date in the past");
        assert_eq!(after.text, "Wed, 21 Oct 2015 07:28:00 GMT");
        let later = (time::OffsetDateTime::now_utc() + time::Duration::hours(2))
            .format(&time::format_description::well_known::Rfc2822)
            .unwrap();
        let after = RetryAfter::parse(&headers(&later)).unwrap();
        assert!(after.wait > Duration::from_secs(7_000), "{after:?}");
        for bad in [
            "",
            "soon",
            "-5",
            "1.5",
            &"9".repeat(30),
            "<script>alert(1)</script>",
        ] {
            assert_eq!(RetryAfter::parse(&headers(bad)), None, "{bad}");
        }
        assert_eq!(RetryAfter::parse(&HeaderMap::new()), None);
    }

    #[test]
    fn statuses_map_to_codes_with_the_upstreams_words() {
        let statuses = StatusErrors::new("Example").custom(
            500,
            UpstreamFailure::Unavailable,
            "internal error",
            "Example failed (HTTP 500).",
        );
        let none = HeaderMap::new();
        let error = |code: u16, detail: Option<&str>| {
            statuses.error(
                StatusCode::from_u16(code).unwrap(),
                &none,
                detail.map(str::to_owned),
            )
        };
        assert_eq!(error(500, None).error().code(), "internal error");
        assert_eq!(error(500, None).failure(), UpstreamFailure::Unavailable);
        assert_eq!(
            error(401, None).error().to_string(),
            "Authorization failed: Example refused the API key (HTTP 401)."
        );
        assert_eq!(error(403, Some("No.")).error().code(), "permission denied");
        assert_eq!(error(503, Some("x")).error().code(), "service unavailable");
        assert_eq!(
            error(400, Some("Bad address.")).error().to_string(),
            "Example answered HTTP 400: Bad address."
        );
        assert_eq!(
            error(418, None).error().to_string(),
            "Example answered HTTP 418."
        );
        let limited = statuses.error(StatusCode::TOO_MANY_REQUESTS, &headers("60"), None);
        assert_eq!(
            limited.error().to_string(),
            "Example's rate limit for this API key is reached (HTTP 429). Retry after 60 seconds."
        );
        assert_eq!(limited.retry_after(), Some(Duration::from_secs(60)));
        assert_eq!(error(429, None).retry_after(), None);
    }

    #[test]
    fn base_urls_are_checked_and_links_encoded() {
        let base = BaseUrl::parse("https://api.example/api/v2").unwrap();
        assert_eq!(base.as_str(), "https://api.example/api/v2/");
        assert_eq!(
            base.join("check").unwrap().as_str(),
            "https://api.example/api/v2/check"
        );
        for bad in [
            "",
            "api.example",
            "ftp://x/",
            "mailto:a@b",
            "https://",
            "http://[::1",
        ] {
            assert!(BaseUrl::parse(bad).is_err(), "{bad}");
        }
        let web = BaseUrl::parse("HTTP://WWW.Example.COM").unwrap();
        assert_eq!(
            web.link(&["check", "2001:db8::1"]),
            "http://www.example.com/check/2001:db8::1"
        );
        assert_eq!(
            web.link(&["domain", "a b/c#d"]),
            "http://www.example.com/domain/a%20b%2Fc%23d"
        );
        let settings = Settings::new(|_| Some("www.example.com".to_owned()));
        let var = EnvVar::new("X_URL", "x-url", "URL", "a URL");
        assert_eq!(settings.base_url(&var).unwrap_err().name(), "X_URL");
    }

    #[test]
    fn quoting_is_pythons() {
        // Python: quote(v, safe='@:') and quote(v, safe='') of the same values.
        let all: String = (0x20u8..0x7f).map(char::from).collect();
        assert_eq!(
            quote(&all, "@:"),
            "%20%21%22%23%24%25%26%27%28%29%2A%2B%2C-.%2F0123456789:%3B%3C%3D%3E%3F@ABCDEFGHIJKLMNOPQRSTUVWXYZ%5B%5C%5D%5E_%60abcdefghijklmnopqrstuvwxyz%7B%7C%7D~"
        );
        assert_eq!(quote("2001:db8::1", ""), "2001%3Adb8%3A%3A1");
        assert_eq!(quote("é\n", ""), "%C3%A9%0A");
        assert_eq!(quote("", "@:"), "");
    }

    #[test]
    fn a_secret_header_is_sensitive_and_a_bad_one_refused_without_quoting_it() {
        assert!(sensitive_header("s3cr3t").unwrap().is_sensitive());
        let error = sensitive_header("bad\nkey").unwrap_err();
        assert_eq!(error.error().code(), "authorization error");
        assert!(!error.error().to_string().contains("bad"));
    }
}
