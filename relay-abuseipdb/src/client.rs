//! The calls to AbuseIPDB: `check` on its API (with the caller's key), and its categories page
//! on its web site (no key). Every call is bounded in time and in the size of the answer read,
//! goes through relay-core's [`Upstream`] (counted in the request's log line and in
//! `relay_upstream_requests_total`), and fails with the relay's error for it. No call is
//! retried: a 429 is the caller's daily quota, answered at once.

use std::net::IpAddr;
use std::time::Duration;

use reqwest::header::{ACCEPT, HeaderMap, HeaderValue, RETRY_AFTER};
use reqwest::{StatusCode, Url};
use xdr_relay_core::{
    AuthFailure, Context, RelayError, Upstream, UpstreamError, UpstreamFailure, UpstreamLimits,
};

use crate::answer::CheckData;
use crate::categories::{self, CategoryTable};
use crate::error::BuildError;

/// The upstream's name in messages.
const NAME: &str = "AbuseIPDB";
/// Most bytes read of a check's answer. A verbose answer lists up to 10,000 reports of up to
/// 1,024 characters of comment each; a few MiB in practice.
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
    api: Upstream,
    web: Upstream,
}

impl Client {
    /// A client of the API at `api_url` and the site at `web_url` (both `http(s)://`, a
    /// trailing `/` added when missing), whose every call takes at most `timeout`.
    pub(crate) fn new(
        api_url: &str,
        web_url: &str,
        timeout: Duration,
        limits: UpstreamLimits,
    ) -> Result<Self, BuildError> {
        let check = base(api_url, "ABUSEIPDB_API_URL")?
            .join("check")
            .map_err(|e| BuildError::Url {
                setting: "ABUSEIPDB_API_URL",
                reason: e.to_string(),
            })?;
        let categories = base(web_url, "ABUSEIPDB_WEB_URL")?
            .join("categories")
            .map_err(|e| BuildError::Url {
                setting: "ABUSEIPDB_WEB_URL",
                reason: e.to_string(),
            })?;
        let http = reqwest::Client::builder()
            .user_agent(crate::USER_AGENT)
            .timeout(timeout)
            .connect_timeout(timeout.min(Duration::from_secs(5)))
            // A redirect would carry the `Key` header (not one reqwest strips) to another host.
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| BuildError::Client(e.to_string()))?;
        Ok(Self {
            http,
            check,
            categories,
            api: Upstream::with_limits("abuseipdb", limits),
            web: Upstream::with_limits("abuseipdb-web", limits),
        })
    }

    /// What AbuseIPDB knows of `ip`, with its reports of the last 30 days (`verbose`);
    /// `None` when it cannot process the address (422).
    pub(crate) async fn check(
        &self,
        context: &Context,
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
            CheckData::parse(&body).map(Some).map_err(|e| {
                UpstreamError::new(
                    UpstreamFailure::Other,
                    format!("{NAME} sent an answer that could not be read: {e}"),
                )
            })
        };
        self.api.call(context, call).await
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
        let mut key_header = HeaderValue::from_str(key).map_err(|_| {
            UpstreamError::with_error(
                UpstreamFailure::Unauthorized,
                AuthFailure::WrongPayload.into(),
            )
        })?;
        key_header.set_sensitive(true);
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
            return read(response, MAX_CHECK_BYTES).await.map(Some);
        }
        if status == StatusCode::UNPROCESSABLE_ENTITY {
            return Ok(None);
        }
        let headers = response.headers().clone();
        // The detail is a courtesy: a body that cannot be read leaves it out.
        let body = read(response, MAX_ERROR_BYTES).await.unwrap_or_default();
        Err(status_error(status, &headers, &body, key))
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
            let body = read(response, MAX_PAGE_BYTES).await?;
            categories::parse_page(&String::from_utf8_lossy(&body))
                .map_err(|e| UpstreamError::new(UpstreamFailure::Other, format!("{NAME}'s {e}")))
        };
        self.web.call(context, call).await
    }
}

/// `url` as a base to join paths to: parsed, `http` or `https`, ending in `/`.
fn base(url: &str, setting: &'static str) -> Result<Url, BuildError> {
    let mut text = url.to_owned();
    if !text.ends_with('/') {
        text.push('/');
    }
    let parsed = Url::parse(&text).map_err(|e| BuildError::Url {
        setting,
        reason: e.to_string(),
    })?;
    if !matches!(parsed.scheme(), "http" | "https") || parsed.cannot_be_a_base() {
        return Err(BuildError::Url {
            setting,
            reason: "not an http:// or https:// URL".into(),
        });
    }
    Ok(parsed)
}

/// The body of `response`, at most `limit` bytes.
async fn read(mut response: reqwest::Response, limit: usize) -> Result<Vec<u8>, UpstreamError> {
    let too_large = || {
        UpstreamError::new(
            UpstreamFailure::Other,
            format!("{NAME}'s answer is larger than {} KiB", limit >> 10),
        )
    };
    if response
        .content_length()
        .is_some_and(|length| length > limit as u64)
    {
        return Err(too_large());
    }
    let mut body = Vec::new();
    while let Some(chunk) = response
        .chunk()
        .await
        .map_err(|e| UpstreamError::from_reqwest(NAME, &e))?
    {
        if body.len() + chunk.len() > limit {
            return Err(too_large());
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// The error of a status that is neither a success nor a 422, with AbuseIPDB's own detail
/// (`{"errors": [{"detail": …}]}`) where the code's message has room for it. `key` is never
/// quoted, even should AbuseIPDB echo it.
fn status_error(status: StatusCode, headers: &HeaderMap, body: &[u8], key: &str) -> UpstreamError {
    let detail = detail(body, key);
    let code = status.as_u16();
    let failure = UpstreamFailure::from_status(code);
    match code {
        401 => UpstreamError::new(
            failure,
            detail.unwrap_or_else(|| format!("{NAME} refused the API key (HTTP 401).")),
        ),
        403 => UpstreamError::new(
            failure,
            detail.unwrap_or_else(|| format!("{NAME} refused the request (HTTP 403).")),
        ),
        404 => UpstreamError::with_error(
            UpstreamFailure::Other,
            RelayError::custom(
                "not found",
                format!(
                    "{NAME} answered 404 Not Found: no such endpoint (check ABUSEIPDB_API_URL)."
                ),
            ),
        ),
        429 => {
            let mut message = detail.unwrap_or_else(|| {
                format!("{NAME}'s rate limit for this API key is reached (HTTP 429).")
            });
            if let Some(after) = retry_after(headers, key) {
                message.push_str(&format!(" Retry after {after}."));
            }
            UpstreamError::new(failure, message)
        }
        500 => UpstreamError::with_error(
            UpstreamFailure::Unavailable,
            RelayError::custom(
                "internal error",
                format!("{NAME} failed with an internal error (HTTP 500)."),
            ),
        ),
        502..=504 => UpstreamError::new(
            failure,
            format!("{NAME} is unavailable (HTTP {code}); try again later."),
        ),
        521 => UpstreamError::with_error(
            UpstreamFailure::Unavailable,
            RelayError::custom(
                "web server is down",
                format!("{NAME}'s web server is down (HTTP 521)."),
            ),
        ),
        _ => UpstreamError::new(
            failure,
            match detail {
                Some(detail) => format!("{NAME} answered HTTP {code}: {detail}"),
                None => format!("{NAME} answered HTTP {code}."),
            },
        ),
    }
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
    Some(crate::mapping::bounded(&detail, MAX_DETAIL_CHARS).into_owned())
}

/// The `Retry-After` header: `N seconds` for a number, else an HTTP date as sent; anything
/// else (or anything holding `key`) is left out.
fn retry_after(headers: &HeaderMap, key: &str) -> Option<String> {
    let value = headers.get(RETRY_AFTER)?.to_str().ok()?.trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(match seconds {
            1 => "1 second".to_owned(),
            _ => format!("{seconds} seconds"),
        });
    }
    // An HTTP date, e.g. `Wed, 21 Oct 2015 07:28:00 GMT`.
    let date_like = (20..=40).contains(&value.len())
        && value
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, ' ' | ',' | ':' | '-'));
    (date_like && (key.is_empty() || !value.contains(key))).then(|| value.to_owned())
}

#[cfg(test)]
mod tests {
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
        status_error(status, &map, body.to_string().as_bytes(), "s3cr3t-key")
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

    #[test]
    fn bases_are_checked() {
        assert_eq!(
            base("https://api.abuseipdb.com/api/v2", "X")
                .unwrap()
                .as_str(),
            "https://api.abuseipdb.com/api/v2/"
        );
        for bad in [
            "",
            "api.abuseipdb.com",
            "ftp://x/",
            "mailto:a@b",
            "https://",
        ] {
            assert!(base(bad, "X").is_err(), "{bad}");
        }
        let client = Client::new(
            "http://127.0.0.1:1/api/v2",
            "http://127.0.0.1:1",
            Duration::from_secs(1),
            UpstreamLimits::default(),
        )
        .unwrap();
        assert_eq!(client.check.as_str(), "http://127.0.0.1:1/api/v2/check");
        assert_eq!(client.categories.as_str(), "http://127.0.0.1:1/categories");
    }
}
