//! The calls to OTX, as Cisco's relay makes them: `indicators/{section}/{value}/general`, the
//! indicator pages of a pulse (`pulses/{id}/indicators`), and `user/me`, each with the caller's
//! key in `X-OTX-API-KEY`. Every call is bounded in time and in the size of the answer read
//! (relay-core's [`http_client`] and [`read_body`]) and goes through relay-core's
//! [`Upstream`] as the caller's ([`Upstream::call_as`]: a 429 or a refused key stops the
//! caller's next calls). Statuses become Cisco's codes: 403 `authorization error`, 400 and
//! 404 nothing found, anything else `oops` naming the status.

use std::sync::Arc;
use std::time::Duration;

use reqwest::header::{ACCEPT, HeaderValue};
use reqwest::{StatusCode, Url};
use xdr_relay_core::{
    AuthFailure, BaseUrl, BuildError, CallerDigest, Context, RelayError, Upstream, UpstreamError,
    UpstreamFailure, UpstreamLimits, http_client, quote, read_body,
};

use crate::answer::{Entry, General, Page};
use crate::kind::Query;

/// The upstream's name in messages.
const NAME: &str = "AlienVault OTX";
/// Most bytes read of one answer: an indicator page holds up to [`PAGE_SIZE`] indicators of a
/// few hundred bytes each; a `general` answer, its pulses with their descriptions.
const MAX_BODY_BYTES: usize = 32 << 20;
/// Indicators asked for per page (Cisco's relay asks for 10,000; OTX may send fewer).
pub(crate) const PAGE_SIZE: &str = "10000";
/// Cisco's words for a key OTX refuses.
pub(crate) const REFUSED: &str = "Authorization failed on AlienVault OTX side";
/// The code of Cisco's relay for every failure it has no other code for.
pub(crate) const OOPS: &str = "oops";
/// The code of Cisco's relay for a certificate that does not verify.
const SSL: &str = "ssl certificate verification failed";

/// The client of one relay: its HTTP connection pool, OTX's API and the upstream its calls
/// go through.
#[derive(Debug)]
pub(crate) struct Client {
    http: reqwest::Client,
    api: BaseUrl,
    upstream: Arc<Upstream>,
    max_pages: usize,
}

/// What a pulse's search found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Search {
    /// The observable's entry.
    Found(Entry),
    /// The pulse's pages end without it (or OTX has no such pulse).
    Absent,
    /// `max_pages` pages read without finding it, and OTX names more.
    Bounded,
}

impl Client {
    /// A client of the API at `api`, whose every call takes at most `timeout`, reading at most
    /// `max_pages` pages of a pulse.
    pub(crate) fn new(
        api: BaseUrl,
        timeout: Duration,
        limits: UpstreamLimits,
        stop_max: Duration,
        max_pages: usize,
    ) -> Result<Self, BuildError> {
        let http = http_client(crate::USER_AGENT, timeout)
            .map_err(|e| BuildError::Client(e.to_string()))?;
        Ok(Self {
            http,
            api,
            upstream: Arc::new(
                Upstream::with_limits("otx", limits)
                    .display_name(NAME)
                    .with_stop_max(stop_max),
            ),
            max_pages,
        })
    }

    /// The upstream of every call (the lookup caches').
    pub(crate) fn upstream(&self) -> &Arc<Upstream> {
        &self.upstream
    }

    /// The pulses of `query`'s `general` answer that can hold it (at most `max_pulses`);
    /// none when OTX answers 400 or 404.
    pub(crate) async fn general(
        &self,
        context: &Context,
        caller: CallerDigest,
        key: &HeaderValue,
        query: &Query,
        max_pulses: usize,
    ) -> Result<General, RelayError> {
        let path = format!(
            "indicators/{}/{}/general",
            query.section(),
            quote(query.value(), "@:")
        );
        let url = self.url(&path)?;
        let call = async {
            let Some(body) = self.get(key, url).await? else {
                return Ok(General { pulses: Vec::new() });
            };
            General::parse(&body, query.indicator_type(), max_pulses).map_err(unreadable)
        };
        self.upstream.call_as(context, caller, call).await
    }

    /// `query`'s entry in the pulse `pulse`: its indicator pages read in turn (newest first,
    /// as Cisco's relay asks) until one names it, the last one is read or `max_pages` were.
    pub(crate) async fn search(
        &self,
        context: &Context,
        caller: CallerDigest,
        key: &HeaderValue,
        pulse: &str,
        query: &Query,
    ) -> Result<Search, RelayError> {
        let path = format!("pulses/{}/indicators", quote(pulse, ""));
        for page in 1..=self.max_pages {
            let mut url = self.url(&path)?;
            url.query_pairs_mut()
                .append_pair("sort", "-created")
                .append_pair("limit", PAGE_SIZE)
                .append_pair("page", &page.to_string());
            let call = async {
                let Some(body) = self.get(key, url).await? else {
                    return Ok(None);
                };
                Page::parse(&body, |i| query.matches(i))
                    .map(Some)
                    .map_err(unreadable)
            };
            match self.upstream.call_as(context, caller, call).await? {
                None => return Ok(Search::Absent),
                Some(Page {
                    entry: Some(entry), ..
                }) => return Ok(Search::Found(entry)),
                Some(Page { next: false, .. }) => return Ok(Search::Absent),
                Some(Page { next: true, .. }) => {}
            }
        }
        Ok(Search::Bounded)
    }

    /// Whether OTX accepts `key`: one `GET user/me` (400 and 404 count as accepted, as Cisco's
    /// relay counts them).
    pub(crate) async fn health(
        &self,
        context: &Context,
        key: &HeaderValue,
    ) -> Result<(), RelayError> {
        let url = self.url("user/me")?;
        let call = async { self.get(key, url).await.map(drop) };
        self.upstream.call(context, call).await
    }

    fn url(&self, path: &str) -> Result<Url, RelayError> {
        self.api
            .join(path)
            .map_err(|e| RelayError::custom(OOPS, format!("Something went wrong. Reason: {e}.")))
    }

    /// One `GET`: the body of a 2xx, `None` for a 400 or a 404, else the error for the status.
    async fn get(&self, key: &HeaderValue, url: Url) -> Result<Option<Vec<u8>>, UpstreamError> {
        let response = self
            .http
            .get(url)
            .header("X-OTX-API-KEY", key.clone())
            .header(ACCEPT, "application/json")
            .send()
            .await
            .map_err(|e| transport(&e))?;
        let status = response.status();
        if status.is_success() {
            return read_body(response, MAX_BODY_BYTES, NAME)
                .await
                .map(Some)
                .map_err(|e| oops(e.failure(), &e.error().to_string()));
        }
        match status {
            StatusCode::BAD_REQUEST | StatusCode::NOT_FOUND => Ok(None),
            status => Err(status_error(status)),
        }
    }
}

/// The error of a status other than 2xx, 400 and 404, as Cisco's relay words it.
pub(crate) fn status_error(status: StatusCode) -> UpstreamError {
    let code = status.as_u16();
    let failure = UpstreamFailure::from_status(code);
    if status == StatusCode::FORBIDDEN {
        return refused();
    }
    let reason = match status.canonical_reason() {
        Some(phrase) => format!("{code} {phrase}"),
        None => code.to_string(),
    };
    oops(failure, &reason)
}

/// OTX refused the key (or the key cannot be sent): Cisco's `authorization error`. Counted
/// as a 403 (`Forbidden`), which is not remembered as the caller's stop: OTX answers 403 for a
/// bad key and for what a good key may not read alike.
pub(crate) fn refused() -> UpstreamError {
    UpstreamError::with_error(
        UpstreamFailure::Forbidden,
        AuthFailure::Upstream(REFUSED.to_owned()).into(),
    )
}

/// `oops`: "Something went wrong. Reason: {reason}."
fn oops(failure: UpstreamFailure, reason: &str) -> UpstreamError {
    let reason = reason.trim_end_matches('.');
    UpstreamError::with_error(
        failure,
        RelayError::custom(OOPS, format!("Something went wrong. Reason: {reason}.")),
    )
}

/// A failure below HTTP: `oops` naming it, or Cisco's code for a certificate that does not
/// verify. Never the URL.
fn transport(error: &reqwest::Error) -> UpstreamError {
    let classified = UpstreamError::from_reqwest(NAME, error);
    match classified.failure() {
        UpstreamFailure::Tls => UpstreamError::with_error(
            UpstreamFailure::Tls,
            RelayError::custom(SSL, classified.error().to_string()),
        ),
        failure => oops(failure, &classified.error().to_string()),
    }
}

fn unreadable(reason: String) -> UpstreamError {
    let reason = format!("{NAME} sent an answer that could not be read: {reason}");
    oops(UpstreamFailure::Other, &reason)
}

/// `key` as the `X-OTX-API-KEY` header (marked sensitive); Cisco's `authorization error`,
/// without a call, when it is not a key OTX could accept (empty, or anything but visible
/// ASCII: a space, a control character, a character outside Latin-1).
pub(crate) fn key_header(key: &str) -> Result<HeaderValue, RelayError> {
    let visible = !key.is_empty() && key.bytes().all(|b| b.is_ascii_graphic());
    let header = visible.then(|| HeaderValue::from_str(key).ok()).flatten();
    match header {
        Some(mut header) => {
            header.set_sensitive(true);
            Ok(header)
        }
        None => Err(refused().error().clone()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_are_ciscos_codes() {
        for (status, code, message) in [
            (
                403,
                "authorization error",
                "Authorization failed: Authorization failed on AlienVault OTX side",
            ),
            (
                500,
                "oops",
                "Something went wrong. Reason: 500 Internal Server Error.",
            ),
            (
                429,
                "oops",
                "Something went wrong. Reason: 429 Too Many Requests.",
            ),
            (
                401,
                "oops",
                "Something went wrong. Reason: 401 Unauthorized.",
            ),
            (521, "oops", "Something went wrong. Reason: 521."),
            (302, "oops", "Something went wrong. Reason: 302 Found."),
        ] {
            let error = status_error(StatusCode::from_u16(status).unwrap());
            assert_eq!(
                (error.error().code(), error.error().to_string().as_str()),
                (code, message),
                "{status}"
            );
        }
        assert_eq!(
            status_error(StatusCode::TOO_MANY_REQUESTS).failure(),
            UpstreamFailure::RateLimited
        );
        assert_eq!(
            status_error(StatusCode::from_u16(503).unwrap()).failure(),
            UpstreamFailure::Unavailable
        );
    }

    #[test]
    fn keys_are_visible_ascii_and_never_quoted() {
        assert!(key_header("0123abcd").unwrap().is_sensitive());
        for bad in ["", "a key", " key", "key\n", "ключ", "kéy", "k\u{0}"] {
            let error = key_header(bad).unwrap_err();
            assert_eq!(error.code(), "authorization error", "{bad:?}");
            assert_eq!(
                error.to_string(),
                format!("Authorization failed: {REFUSED}")
            );
        }
    }
}
