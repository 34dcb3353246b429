//! The calls to AbuseIPDB: `check` on its API (with the caller's key), and its categories page
//! on its web site (no key). Every call is bounded in time and in the size of the answer read
//! (relay-core's [`http_client`] and [`read_body`]), goes through relay-core's [`Upstream`]
//! (counted in the request's log line and in `relay_upstream_requests_total`; a check as the
//! caller's, so that a 429 or a 401 stops the caller's next checks: [`Upstream::call_as`]), and
//! fails with the relay's error for it ([`StatusErrors`] with Cisco's own codes). No call is
//! retried: a 429 is the caller's daily quota, answered at once.

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use reqwest::header::ACCEPT;
use reqwest::{StatusCode, Url};
use xdr_relay_core::{
    BaseUrl, BuildError, CallerDigest, Context, RelayError, StatusErrors, Upstream, UpstreamError,
    UpstreamFailure, UpstreamLimits, http_client, read_body, sensitive_header,
};

use crate::answer::CheckData;
use crate::categories::{self, CategoryTable};

/// The upstream's name in messages.
const NAME: &str = "AbuseIPDB";
/// Most bytes read of a check's answer. A verbose answer lists up to 10,000 reports of up to
/// 1,024 characters of comment each; a few MiB in practice. Only the newest reports the relay
/// may map are kept of it.
pub(crate) const MAX_CHECK_BYTES: usize = 16 << 20;
/// Most bytes read of the categories page (about 30 KiB).
pub(crate) const MAX_PAGE_BYTES: usize = 2 << 20;
/// Most bytes read of an error's body.
const MAX_ERROR_BYTES: usize = 64 << 10;
/// Most characters of AbuseIPDB's own words quoted in an error.
const MAX_DETAIL_CHARS: usize = 512;
/// The window of reports asked for, in days (Cisco's relay asks for 30).
const MAX_AGE_DAYS: &str = "30";
/// The address `/health` checks the key with (a check of a private address costs one check
/// and answers quickly).
const HEALTH_ADDRESS: &str = "127.0.0.1";

/// The client of one relay: its HTTP connection pool and AbuseIPDB's URLs.
#[derive(Debug)]
pub(crate) struct Client {
    http: reqwest::Client,
    check: Url,
    categories: Url,
    api: Arc<Upstream>,
    web: Upstream,
    statuses: StatusErrors,
    max_reports: usize,
}

/// What the client is made of.
pub(crate) struct ClientConfig<'a> {
    pub(crate) api: &'a BaseUrl,
    pub(crate) web: &'a BaseUrl,
    pub(crate) timeout: Duration,
    pub(crate) limits: UpstreamLimits,
    pub(crate) stop_max: Duration,
    pub(crate) max_reports: usize,
}

impl Client {
    /// A client of the API and the site `config` names, whose every call takes at most its
    /// timeout.
    pub(crate) fn new(config: &ClientConfig<'_>) -> Result<Self, BuildError> {
        let join = |base: &BaseUrl, path: &str, setting: &'static str| {
            base.join(path)
                .map_err(|reason| BuildError::Url { setting, reason })
        };
        let http = http_client(crate::USER_AGENT, config.timeout)
            .map_err(|e| BuildError::Client(e.to_string()))?;
        Ok(Self {
            http,
            check: join(config.api, "check", "ABUSEIPDB_API_URL")?,
            categories: join(config.web, "categories", "ABUSEIPDB_WEB_URL")?,
            api: Arc::new(
                Upstream::with_limits("abuseipdb", config.limits).with_stop_max(config.stop_max),
            ),
            web: Upstream::with_limits("abuseipdb-web", config.limits),
            statuses: statuses(),
            max_reports: config.max_reports,
        })
    }

    /// The upstream of the checks (the lookup cache's).
    pub(crate) fn api(&self) -> &Arc<Upstream> {
        &self.api
    }

    /// What AbuseIPDB knows of `ip`, with its reports of the last 30 days (`verbose`), for
    /// `caller` (the digest of `key`); `None` when it cannot process the address (422).
    pub(crate) async fn check(
        &self,
        context: &Context,
        caller: CallerDigest,
        key: &str,
        ip: IpAddr,
    ) -> Result<Option<CheckData>, RelayError> {
        let query = [
            ("ipAddress", ip.to_string()),
            ("maxAgeInDays", MAX_AGE_DAYS.to_owned()),
            ("verbose", "true".to_owned()),
        ];
        let call = async {
            let Some(body) = self.get_check(key, &query).await? else {
                return Ok(None);
            };
            CheckData::parse(&body, self.max_reports)
                .map(Some)
                .map_err(|e| {
                    UpstreamError::new(
                        UpstreamFailure::Other,
                        format!("{NAME} sent an answer that could not be read: {e}"),
                    )
                })
        };
        self.api.call_as(context, caller, call).await
    }

    /// Whether AbuseIPDB accepts `key`: one check of 127.0.0.1 (an address it cannot process
    /// is still an accepted key).
    pub(crate) async fn health(&self, context: &Context, key: &str) -> Result<(), RelayError> {
        let query = [("ipAddress", HEALTH_ADDRESS.to_owned())];
        let call = async { self.get_check(key, &query).await.map(drop) };
        self.api.call(context, call).await
    }

    /// One `GET check`: the body of a 2xx, `None` for a 422, else the error for the status.
    async fn get_check(
        &self,
        key: &str,
        query: &[(&str, String)],
    ) -> Result<Option<Vec<u8>>, UpstreamError> {
        let key_header = sensitive_header(key)?;
        let mut url = self.check.clone();
        url.query_pairs_mut().extend_pairs(query);
        let response = self
            .http
            .get(url)
            .header("Key", key_header)
            .header(ACCEPT, "application/json")
            .send()
            .await
            .map_err(|e| UpstreamError::from_reqwest(NAME, &e))?;
        let status = response.status();
        if status.is_success() {
            return read_body(response, MAX_CHECK_BYTES, NAME).await.map(Some);
        }
        if status == StatusCode::UNPROCESSABLE_ENTITY {
            return Ok(None);
        }
        let headers = response.headers().clone();
        // The detail is a courtesy: a body that cannot be read leaves it out.
        let body = read_body(response, MAX_ERROR_BYTES, NAME)
            .await
            .unwrap_or_default();
        Err(self.statuses.error(status, &headers, detail(&body, key)))
    }

    /// The categories of AbuseIPDB's categories page.
    pub(crate) async fn categories(&self, context: &Context) -> Result<CategoryTable, RelayError> {
        let call = async {
            let response = self
                .http
                .get(self.categories.clone())
                .header(ACCEPT, "text/html")
                .send()
                .await
                .map_err(|e| UpstreamError::from_reqwest(NAME, &e))?;
            let status = response.status();
            if !status.is_success() {
                let code = status.as_u16();
                return Err(UpstreamError::new(
                    UpstreamFailure::from_status(code),
                    format!("{NAME}'s categories page answered HTTP {code}"),
                ));
            }
            let body = read_body(response, MAX_PAGE_BYTES, NAME).await?;
            categories::parse_page(&String::from_utf8_lossy(&body))
                .map_err(|e| UpstreamError::new(UpstreamFailure::Other, format!("{NAME}'s {e}")))
        };
        self.web.call(context, call).await
    }
}

/// AbuseIPDB's statuses as Cisco's relay answers them: relay-core's mapping, and its own
/// codes for a 404 (the endpoint), a 500 and a 521.
fn statuses() -> StatusErrors {
    StatusErrors::new(NAME)
        .custom(
            404,
            UpstreamFailure::Other,
            "not found",
            "AbuseIPDB answered 404 Not Found: no such endpoint (check ABUSEIPDB_API_URL).",
        )
        .custom(
            500,
            UpstreamFailure::Unavailable,
            "internal error",
            "AbuseIPDB failed with an internal error (HTTP 500).",
        )
        .custom(
            521,
            UpstreamFailure::Unavailable,
            "web server is down",
            "AbuseIPDB's web server is down (HTTP 521).",
        )
}

/// `errors[0].detail` of an AbuseIPDB error body, bounded, without `key`.
fn detail(body: &[u8], key: &str) -> Option<String> {
    let value: serde_json::Value = serde_json::from_slice(body).ok()?;
    let detail = value.get("errors")?.get(0)?.get("detail")?.as_str()?.trim();
    if detail.is_empty() {
        return None;
    }
    let detail = if key.is_empty() {
        detail.to_owned()
    } else {
        detail.replace(key, "<redacted>")
    };
    Some(xdr_relay_core::ctim_model::truncate(&detail, MAX_DETAIL_CHARS).into_owned())
}

#[cfg(test)]
mod tests {
    use reqwest::header::{HeaderMap, HeaderValue};
    use serde_json::json;

    use super::*;

    fn error(status: u16, headers: &[(&str, &str)], body: serde_json::Value) -> RelayError {
        let mut map = HeaderMap::new();
        for (name, value) in headers {
            map.insert(
                reqwest::header::HeaderName::from_bytes(name.as_bytes()).unwrap(),
                HeaderValue::from_str(value).unwrap(),
            );
        }
        let status = StatusCode::from_u16(status).unwrap();
        let body = body.to_string();
        statuses()
            .error(status, &map, detail(body.as_bytes(), "s3cr3t-key"))
            .error()
            .clone()
    }

    fn errors(detail: &str) -> serde_json::Value {
        json!({"errors": [{"detail": detail, "status": 0}]})
    }

    #[test]
    fn statuses_map_to_ciscos_codes() {
        let unauthorized = error(401, &[], errors("Authentication failed."));
        assert_eq!(unauthorized.code(), "authorization error");
        assert_eq!(
            unauthorized.to_string(),
            "Authorization failed: Authentication failed."
        );
        let limited = error(
            429,
            &[("retry-after", "3600")],
            errors("Daily rate limit of 1000 requests exceeded for this endpoint."),
        );
        assert_eq!(limited.code(), "too many requests");
        assert_eq!(
            limited.to_string(),
            "Daily rate limit of 1000 requests exceeded for this endpoint. Retry after 3600 seconds."
        );
        assert_eq!(
            error(429, &[], json!({})).to_string(),
            "AbuseIPDB's rate limit for this API key is reached (HTTP 429)."
        );
        for (status, code) in [
            (404, "not found"),
            (500, "internal error"),
            (502, "service unavailable"),
            (503, "service unavailable"),
            (504, "service unavailable"),
            (521, "web server is down"),
            (403, "permission denied"),
            (400, "unknown"),
            (418, "unknown"),
        ] {
            assert_eq!(error(status, &[], json!({})).code(), code, "{status}");
        }
        assert_eq!(
            error(
                400,
                &[],
                errors("The ip address must be a valid IP address.")
            )
            .to_string(),
            "AbuseIPDB answered HTTP 400: The ip address must be a valid IP address."
        );
    }

    #[test]
    fn the_key_and_long_details_are_not_quoted() {
        let echoed = error(401, &[], errors("key s3cr3t-key is not valid"));
        assert_eq!(
            echoed.to_string(),
            "Authorization failed: key <redacted> is not valid"
        );
        let long = error(
            429,
            &[("retry-after", &"x".repeat(500))],
            errors(&"y".repeat(5000)),
        );
        assert!(long.to_string().chars().count() < 700, "{long}");
        for (header, expected) in [
            ("1", " Retry after 1 second."),
            (
                "Wed, 21 Oct 2015 07:28:00 GMT",
                " Retry after Wed, 21 Oct 2015 07:28:00 GMT.",
            ),
            ("s3cr3t-key", ""),
            ("Wed, 21 Oct 2015 s3cr3t-key GMT", ""),
            ("<script>alert(1)</script>", ""),
        ] {
            let limited = error(429, &[("retry-after", header)], errors("Slow down."));
            assert_eq!(
                limited.to_string(),
                format!("Slow down.{expected}"),
                "{header}"
            );
        }
        for body in [
            "",
            "not json",
            "{\"errors\": []}",
            "{\"errors\": [{\"detail\": 5}]}",
        ] {
            assert_eq!(detail(body.as_bytes(), "k"), None, "{body}");
        }
    }
}
