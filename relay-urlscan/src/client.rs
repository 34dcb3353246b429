//! The calls to urlscan.io's API, as Cisco's relay makes them (headers `API-Key`, `Accept:
//! application/json` and the relay's `User-Agent`): `GET search?q=…`, `GET result/{id}` and
//! `POST scan`. Every call is bounded in time and in the size of the answer read
//! (relay-core's [`http_client`] and [`read_body`]), goes through relay-core's [`Upstream`]
//! (a search and a result read as the caller's, so that a 429 or a 401 stops the caller's
//! next ones: [`Upstream::call_as`]), and fails with Cisco's code for the status, urlscan.io's
//! own words in the message. No call is retried: a 429 is the caller's quota, answered at
//! once.

use std::sync::Arc;
use std::time::Duration;

use reqwest::header::{ACCEPT, HeaderMap};
use reqwest::{StatusCode, Url};
use xdr_relay_core::{
    BaseUrl, CallerDigest, ConfigError, Context, RelayError, StatusErrors, Upstream, UpstreamError,
    UpstreamFailure, UpstreamLimits, http_client, read_body, sensitive_header,
};

use crate::Visibility;
use crate::answer::{ScanResult, Search};

/// The upstream's name in messages.
pub(crate) const NAME: &str = "urlscan.io";
/// Most bytes read of a search's answer (100 scans of a few KiB each).
pub(crate) const MAX_SEARCH_BYTES: usize = 8 << 20;
/// Most bytes read of a result: every request of the page's load is in it, a few MiB for a
/// heavy page. Only the verdict and the links are kept of it.
pub(crate) const MAX_RESULT_BYTES: usize = 32 << 20;
/// Most bytes read of a submission's answer or an error's body.
const MAX_SMALL_BYTES: usize = 64 << 10;
/// Most characters of urlscan.io's own words quoted in an error.
const MAX_DETAIL_CHARS: usize = 512;
/// The search `/health` proves the key with (Cisco's relay's).
const HEALTH_QUERY: &str = "page.ip:\"1.1.1.1\"";

/// What a call was, for its error's words.
#[derive(Debug, Clone, Copy)]
enum Call<'a> {
    Search,
    Result(&'a str),
    Scan,
}

/// The client of one relay: its HTTP connection pool and urlscan.io's URLs.
#[derive(Debug)]
pub(crate) struct Client {
    http: reqwest::Client,
    search: Url,
    result: Url,
    scan: Url,
    api: Arc<Upstream>,
    statuses: StatusErrors,
}

impl Client {
    /// A client of the API at `api`, whose every call takes at most `timeout`.
    pub(crate) fn new(
        api: &BaseUrl,
        timeout: Duration,
        limits: UpstreamLimits,
        stop_max: Duration,
    ) -> Result<Self, ConfigError> {
        let join = |path: &str| {
            api.join(path)
                .map_err(|reason| ConfigError::new(format!("URLSCAN_API_URL: {reason}")))
        };
        Ok(Self {
            http: http_client(crate::USER_AGENT, timeout)?,
            search: join("search")?,
            result: join("result/")?,
            scan: join("scan")?,
            api: Arc::new(
                Upstream::with_limits("urlscan", limits)
                    .with_stop_max(stop_max)
                    .display_name(NAME),
            ),
            statuses: StatusErrors::new(NAME).custom(
                500,
                UpstreamFailure::Unavailable,
                "internal error",
                "urlscan.io failed with an internal error (HTTP 500).",
            ),
        })
    }

    /// The upstream of every call (the lookup caches').
    pub(crate) fn api(&self) -> &Arc<Upstream> {
        &self.api
    }

    /// The scans `query` finds, for `caller` (the digest of `key`).
    pub(crate) async fn search(
        &self,
        context: &Context,
        caller: CallerDigest,
        key: &str,
        query: &str,
    ) -> Result<Search, RelayError> {
        let call = async {
            let body = self.get_search(key, query).await?;
            Search::parse(&body).map_err(unreadable)
        };
        self.api.call_as(context, caller, call).await
    }

    /// Whether urlscan.io accepts `key`: one search, Cisco's (`page.ip:"1.1.1.1"`).
    pub(crate) async fn health(&self, context: &Context, key: &str) -> Result<(), RelayError> {
        let call = async { self.get_search(key, HEALTH_QUERY).await.map(drop) };
        self.api.call(context, call).await
    }

    /// The result of scan `id`, for `caller`.
    pub(crate) async fn result(
        &self,
        context: &Context,
        caller: CallerDigest,
        key: &str,
        id: &str,
    ) -> Result<ScanResult, RelayError> {
        let call = async {
            let mut url = self.result.clone();
            if let Ok(mut path) = url.path_segments_mut() {
                path.pop_if_empty().push(id);
            }
            let request = self.http.get(url);
            let body = self
                .send(request, key, Call::Result(id), MAX_RESULT_BYTES)
                .await?;
            ScanResult::parse(&body).map_err(unreadable)
        };
        self.api.call_as(context, caller, call).await
    }

    /// Submits `url` for scanning with `visibility`: urlscan.io's uuid of the scan, when its
    /// answer names one. Made as a plain call, not as the caller's: a refused or rate-limited
    /// submission (urlscan.io counts submissions apart) does not stop the caller's searches.
    pub(crate) async fn scan(
        &self,
        context: &Context,
        key: &str,
        url: &str,
        visibility: Visibility,
    ) -> Result<Option<String>, RelayError> {
        let call = async {
            let body = serde_json::json!({"url": url, "visibility": visibility.as_str()});
            let request = self.http.post(self.scan.clone()).json(&body);
            let answer = self.send(request, key, Call::Scan, MAX_SMALL_BYTES).await?;
            let answer: serde_json::Value = serde_json::from_slice(&answer).unwrap_or_default();
            let uuid = answer["uuid"].as_str().map(str::to_owned);
            Ok(uuid.filter(|u| u.len() <= 128))
        };
        self.api.call(context, call).await
    }

    async fn get_search(&self, key: &str, query: &str) -> Result<Vec<u8>, UpstreamError> {
        let mut url = self.search.clone();
        url.query_pairs_mut().append_pair("q", query);
        let request = self.http.get(url);
        self.send(request, key, Call::Search, MAX_SEARCH_BYTES)
            .await
    }

    /// Sends `request` with the caller's key: the body of a 2xx (at most `limit` bytes), else
    /// the error for the status.
    async fn send(
        &self,
        request: reqwest::RequestBuilder,
        key: &str,
        call: Call<'_>,
        limit: usize,
    ) -> Result<Vec<u8>, UpstreamError> {
        let response = request
            .header("API-Key", sensitive_header(key)?)
            .header(ACCEPT, "application/json")
            .send()
            .await
            .map_err(|e| UpstreamError::from_reqwest(NAME, &e))?;
        let status = response.status();
        if status.is_success() {
            return read_body(response, limit, NAME).await;
        }
        let headers = response.headers().clone();
        // The detail is a courtesy: a body that cannot be read leaves it out.
        let body = read_body(response, MAX_SMALL_BYTES, NAME)
            .await
            .unwrap_or_default();
        Err(self.error(call, status, &headers, detail(&body, key)))
    }

    /// The error of `status` for `call`, as Cisco's relay codes it: 400 `bad request`, 401
    /// `permission denied`, 403 `unknown`, 404 `not found`, 429 `too many requests`, 500
    /// `internal error`, 502–504 `service unavailable`, any other `unknown`.
    fn error(
        &self,
        call: Call<'_>,
        status: StatusCode,
        headers: &HeaderMap,
        detail: Option<String>,
    ) -> UpstreamError {
        let code = status.as_u16();
        let said = |fallback: String| match &detail {
            Some(detail) => format!("{fallback}: {detail}"),
            None => format!("{fallback}."),
        };
        let (failure, error) = match (code, call) {
            (400, Call::Scan) => (
                UpstreamFailure::Other,
                RelayError::custom(
                    "bad request",
                    said(format!("{NAME} refused to scan the URL")),
                ),
            ),
            (400, Call::Search) => (
                UpstreamFailure::Other,
                RelayError::custom("bad request", said(format!("{NAME} refused the search"))),
            ),
            (400, Call::Result(id)) => (
                UpstreamFailure::Other,
                RelayError::custom(
                    "bad request",
                    said(format!("{NAME} refused to read scan {id}")),
                ),
            ),
            (401, _) => (
                UpstreamFailure::Unauthorized,
                RelayError::PermissionDenied(said(
                    "The request is missing a valid API key (urlscan.io answered HTTP 401)"
                        .to_owned(),
                )),
            ),
            (403, _) => (
                UpstreamFailure::Forbidden,
                RelayError::Unknown(said(format!("{NAME} answered HTTP 403"))),
            ),
            (404, Call::Result(id)) => (
                UpstreamFailure::Other,
                RelayError::custom(
                    "not found",
                    said(format!(
                        "{NAME} has no result for scan {id} (HTTP 404; a scan still running has none yet)"
                    )),
                ),
            ),
            (404, _) => (
                UpstreamFailure::Other,
                RelayError::custom(
                    "not found",
                    said(format!(
                        "{NAME} answered 404 Not Found (check URLSCAN_API_URL)"
                    )),
                ),
            ),
            _ => return self.statuses.error(status, headers, detail),
        };
        UpstreamError::with_error(failure, error)
    }
}

/// The error of a 2xx answer that could not be read.
fn unreadable(error: serde_json::Error) -> UpstreamError {
    UpstreamError::new(
        UpstreamFailure::Other,
        format!("{NAME} sent an answer that could not be read: {error}"),
    )
}

/// urlscan.io's words in an error body (`{"message": …, "description": …}`), bounded, without
/// `key`; `None` when the body is not such JSON (an HTML error page).
fn detail(body: &[u8], key: &str) -> Option<String> {
    let value: serde_json::Value = serde_json::from_slice(body).ok()?;
    let words = |name: &str| {
        value[name]
            .as_str()
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
    };
    let detail = match (words("message"), words("description")) {
        (Some(message), Some(description)) if description != message => {
            let stop = if message.ends_with(['.', '!', '?']) {
                ""
            } else {
                "."
            };
            format!("{message}{stop} {description}")
        }
        (Some(message), _) => message,
        (None, Some(description)) => description,
        (None, None) => return None,
    };
    let detail = if key.is_empty() {
        detail
    } else {
        detail.replace(key, "<redacted>")
    };
    Some(xdr_relay_core::ctim_model::truncate(&detail, MAX_DETAIL_CHARS).into_owned())
}

#[cfg(test)]
mod tests {
    use reqwest::header::{HeaderValue, RETRY_AFTER};
    use serde_json::json;

    use super::*;

    fn client() -> Client {
        let api = BaseUrl::parse("https://urlscan.io/api/v1/").unwrap();
        Client::new(
            &api,
            Duration::from_secs(1),
            UpstreamLimits::default(),
            Duration::from_secs(60),
        )
        .unwrap()
    }

    fn error(call: Call<'_>, status: u16, retry_after: Option<&str>, body: &str) -> RelayError {
        let mut headers = HeaderMap::new();
        if let Some(after) = retry_after {
            headers.insert(RETRY_AFTER, HeaderValue::from_str(after).unwrap());
        }
        let status = StatusCode::from_u16(status).unwrap();
        client()
            .error(call, status, &headers, detail(body.as_bytes(), "s3cr3t"))
            .error()
            .clone()
    }

    #[test]
    fn statuses_map_to_ciscos_codes() {
        let said =
            |m: &str, d: &str| json!({"message": m, "description": d, "status": 0}).to_string();
        for (call, status, code) in [
            (Call::Search, 400, "bad request"),
            (Call::Scan, 400, "bad request"),
            (Call::Result("x"), 400, "bad request"),
            (Call::Search, 401, "permission denied"),
            (Call::Scan, 401, "permission denied"),
            (Call::Search, 403, "unknown"),
            (Call::Search, 404, "not found"),
            (Call::Result("x"), 404, "not found"),
            (Call::Search, 429, "too many requests"),
            (Call::Search, 500, "internal error"),
            (Call::Search, 502, "service unavailable"),
            (Call::Search, 503, "service unavailable"),
            (Call::Search, 504, "service unavailable"),
            (Call::Search, 418, "unknown"),
            (Call::Search, 520, "unknown"),
        ] {
            assert_eq!(
                error(call, status, None, "").code(),
                code,
                "{status} {call:?}"
            );
        }
        assert_eq!(
            error(
                Call::Scan,
                400,
                None,
                &said(
                    "DNS Error - Could not resolve domain",
                    "The domain .example could not be resolved to a valid IPv4/IPv6 address."
                )
            )
            .to_string(),
            "urlscan.io refused to scan the URL: DNS Error - Could not resolve domain. The domain \
             .example could not be resolved to a valid IPv4/IPv6 address."
        );
        assert_eq!(
            error(
                Call::Result("abc"),
                404,
                None,
                &said("Scan is not finished yet", "")
            )
            .to_string(),
            "urlscan.io has no result for scan abc (HTTP 404; a scan still running has none yet): \
             Scan is not finished yet"
        );
        assert_eq!(
            error(
                Call::Search,
                429,
                Some("30"),
                &said("Rate limit for `search` exceeded.", "")
            )
            .to_string(),
            "Rate limit for `search` exceeded. Retry after 30 seconds."
        );
        assert_eq!(
            error(
                Call::Search,
                520,
                None,
                "<!DOCTYPE html><html>origin error</html>"
            )
            .to_string(),
            "urlscan.io answered HTTP 520."
        );
        assert_eq!(
            error(Call::Search, 401, None, "").to_string(),
            "The request is missing a valid API key (urlscan.io answered HTTP 401)."
        );
    }

    #[test]
    fn the_key_and_long_details_are_not_quoted() {
        let echoed = error(
            Call::Search,
            401,
            None,
            &json!({"message": "API key s3cr3t is not valid"}).to_string(),
        );
        assert!(
            echoed
                .to_string()
                .ends_with("API key <redacted> is not valid"),
            "{echoed}"
        );
        let long = error(
            Call::Scan,
            400,
            None,
            &json!({"message": "y".repeat(5000)}).to_string(),
        );
        assert!(long.to_string().chars().count() < 600, "{long}");
        for body in [
            "",
            "not json",
            "{\"message\": 5}",
            "{\"message\": \" \"}",
            "[]",
        ] {
            assert_eq!(detail(body.as_bytes(), "k"), None, "{body}");
        }
    }

    #[test]
    fn urls_are_under_the_api() {
        let client = client();
        assert_eq!(client.search.as_str(), "https://urlscan.io/api/v1/search");
        assert_eq!(client.result.as_str(), "https://urlscan.io/api/v1/result/");
        assert_eq!(client.scan.as_str(), "https://urlscan.io/api/v1/scan");
    }
}
