//! Authentication helpers for event endpoints: a shared token and Slack-style signed requests.
//!
//! Both compare in constant time, and neither secret ever shows in `Debug` output or errors.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use hmac::{Hmac, KeyInit, Mac};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::error::Error;

/// A shared secret token expected in the `Authorization` header, as `Bearer <token>` (the
/// scheme in any case) or bare.
#[derive(Clone)]
pub struct SharedToken {
    digest: [u8; 32],
}

impl std::fmt::Debug for SharedToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SharedToken(<redacted>)")
    }
}

impl SharedToken {
    /// The expected token; it must not be empty.
    pub fn new(token: &str) -> Result<Self, Error> {
        if token.is_empty() {
            return Err(Error::Config("the shared token is empty".into()));
        }
        Ok(Self {
            digest: Sha256::digest(token.as_bytes()).into(),
        })
    }

    /// Checks an `Authorization` header value. Both sides are hashed first, so the comparison
    /// takes the same time whatever the length or content of the presented token.
    pub fn verify(&self, authorization: Option<&str>) -> Result<(), Error> {
        let presented = authorization
            .map(|value| strip_bearer(value).unwrap_or(value))
            .ok_or(Error::Unauthenticated("missing Authorization header"))?;
        if digest_matches(&self.digest, presented.as_bytes()) {
            Ok(())
        } else {
            Err(Error::Unauthenticated("wrong token"))
        }
    }
}

/// The credentials of `Bearer <token>`, the scheme matched case-insensitively (RFC 7235).
fn strip_bearer(value: &str) -> Option<&str> {
    let (scheme, credentials) = (value.get(..7)?, value.get(7..)?);
    scheme
        .eq_ignore_ascii_case("bearer ")
        .then_some(credentials)
}

/// Whether SHA-256(`presented`) equals `expected`, compared with `subtle`'s constant-time
/// equality on two 32-byte digests: the time taken depends neither on where the first
/// difference is nor on the length of the presented token.
fn digest_matches(expected: &[u8; 32], presented: &[u8]) -> bool {
    let digest: [u8; 32] = Sha256::digest(presented).into();
    digest.ct_eq(expected).into()
}

/// Verifies requests signed with the Slack `v0` scheme: the header `X-Slack-Signature` is
/// `v0=` + hex(HMAC-SHA256(secret, "v0:" + timestamp + ":" + body)), and
/// `X-Slack-Request-Timestamp` (Unix seconds) must be within the window of now.
///
/// The window is the only protection against replays: a signed request captured and sent
/// again within it (five minutes by default) verifies again, and creates its events again.
/// An endpoint that must refuse replays keeps the signatures it accepted for the window and
/// refuses one seen before; the verifier keeps no state.
///
/// ```
/// use socless_events::auth::SlackV0Verifier;
/// let verifier = SlackV0Verifier::new("signing-secret")?;
/// let signature = verifier.sign(1_700_000_000, b"{}");
/// assert!(verifier.verify_at(Some("1700000000"), Some(&signature), b"{}", 1_700_000_100).is_ok());
/// assert!(verifier.verify_at(Some("1700000000"), Some(&signature), b"{}", 1_700_001_000).is_err());
/// # Ok::<(), socless_events::Error>(())
/// ```
#[derive(Clone)]
pub struct SlackV0Verifier {
    keyed: Hmac<Sha256>,
    window: Duration,
}

impl std::fmt::Debug for SlackV0Verifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SlackV0Verifier")
            .field("signing_secret", &"<redacted>")
            .field("window", &self.window)
            .finish()
    }
}

/// The header holding the request timestamp.
pub const SLACK_TIMESTAMP_HEADER: &str = "x-slack-request-timestamp";
/// The header holding the signature.
pub const SLACK_SIGNATURE_HEADER: &str = "x-slack-signature";

impl SlackV0Verifier {
    /// A verifier for `signing_secret` (not empty) with Slack's five-minute window.
    pub fn new(signing_secret: &str) -> Result<Self, Error> {
        if signing_secret.is_empty() {
            return Err(Error::Config("the signing secret is empty".into()));
        }
        let keyed = <Hmac<Sha256> as KeyInit>::new_from_slice(signing_secret.as_bytes())
            .map_err(|_| Error::Config("unusable signing secret".into()))?;
        Ok(Self {
            keyed,
            window: Duration::from_secs(300),
        })
    }

    /// Accept timestamps up to `window` away from now (either direction).
    pub fn with_window(mut self, window: Duration) -> Self {
        self.window = window;
        self
    }

    /// The `X-Slack-Signature` value for `body` sent at `timestamp`.
    pub fn sign(&self, timestamp: i64, body: &[u8]) -> String {
        let tag = self
            .mac(&timestamp.to_string(), body)
            .finalize()
            .into_bytes();
        let hex: String = tag.iter().map(|b| format!("{b:02x}")).collect();
        format!("v0={hex}")
    }

    /// Verifies the headers against `body` and the current time.
    pub fn verify(
        &self,
        timestamp: Option<&str>,
        signature: Option<&str>,
        body: &[u8],
    ) -> Result<(), Error> {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX));
        self.verify_at(timestamp, signature, body, now)
    }

    /// Verifies the headers against `body` at `now` (Unix seconds).
    ///
    /// The timestamp must be plain decimal digits (no sign, space or exponent) and is signed as
    /// sent; the signature must be `v0=` and 64 hex digits. The HMAC tags are compared in
    /// constant time (`hmac`'s `verify_slice`, built on `subtle`).
    pub fn verify_at(
        &self,
        timestamp: Option<&str>,
        signature: Option<&str>,
        body: &[u8],
        now: i64,
    ) -> Result<(), Error> {
        let timestamp_text =
            timestamp.ok_or(Error::Unauthenticated("missing request timestamp"))?;
        let timestamp: i64 = Some(timestamp_text)
            .filter(|t| !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit()))
            .and_then(|t| t.parse().ok())
            .ok_or(Error::Unauthenticated("malformed request timestamp"))?;
        let window = i64::try_from(self.window.as_secs()).unwrap_or(i64::MAX);
        if now.abs_diff(timestamp) > window.unsigned_abs() {
            return Err(Error::Unauthenticated(
                "request timestamp outside the window",
            ));
        }
        let tag = signature
            .ok_or(Error::Unauthenticated("missing signature"))?
            .strip_prefix("v0=")
            .filter(|hex| hex.len() == 64)
            .and_then(decode_hex)
            .ok_or(Error::Unauthenticated("malformed signature"))?;
        self.mac(timestamp_text, body)
            .verify_slice(&tag)
            .map_err(|_| Error::Unauthenticated("bad signature"))
    }

    /// HMAC-SHA256 over `v0:<timestamp as sent>:<body>`.
    fn mac(&self, timestamp: &str, body: &[u8]) -> Hmac<Sha256> {
        let mut mac = self.keyed.clone();
        mac.update(b"v0:");
        mac.update(timestamp.as_bytes());
        mac.update(b":");
        mac.update(body);
        mac
    }
}

fn decode_hex(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|i| {
            text.get(i..i + 2)
                .and_then(|pair| u8::from_str_radix(pair, 16).ok())
        })
        .collect()
}

/// The variable holding an endpoint's shared token (`Authorization: Bearer <token>`).
pub const ENDPOINT_TOKEN_ENV: &str = "SOCLESS_ENDPOINT_TOKEN";
/// The variable holding an endpoint's Slack signing secret.
pub const SLACK_SIGNING_SECRET_ENV: &str = "SLACK_SIGNING_SECRET";

/// Who may call an event endpoint: a shared token, Slack-signed requests, or both (a request
/// passes when any configured check accepts it). With neither configured, **every request is
/// refused**: an endpoint never runs open by accident.
///
/// ```
/// use socless_events::auth::{EndpointAuth, SharedToken};
///
/// let auth = EndpointAuth::new(Some(SharedToken::new("s3cret")?), None);
/// let headers = |name: &str| (name == "authorization").then_some("Bearer s3cret");
/// assert!(auth.verify(headers, b"{}").is_ok());
/// assert!(auth.verify(|_| None, b"{}").is_err());
/// // Nothing configured: nothing passes.
/// assert!(EndpointAuth::default().verify(headers, b"{}").is_err());
/// # Ok::<(), socless_events::Error>(())
/// ```
#[derive(Debug, Clone, Default)]
pub struct EndpointAuth {
    token: Option<SharedToken>,
    slack: Option<SlackV0Verifier>,
}

impl EndpointAuth {
    /// The checks a request may pass.
    pub fn new(token: Option<SharedToken>, slack: Option<SlackV0Verifier>) -> Self {
        Self { token, slack }
    }

    /// From [`ENDPOINT_TOKEN_ENV`] and [`SLACK_SIGNING_SECRET_ENV`] (unset or empty: that
    /// check is off).
    pub fn from_env() -> Result<Self, Error> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Like [`EndpointAuth::from_env`], reading the variables through `lookup`.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, Error> {
        let var = |name| lookup(name).filter(|value: &String| !value.is_empty());
        Ok(Self {
            token: var(ENDPOINT_TOKEN_ENV)
                .map(|token| SharedToken::new(&token))
                .transpose()?,
            slack: var(SLACK_SIGNING_SECRET_ENV)
                .map(|secret| SlackV0Verifier::new(&secret))
                .transpose()?,
        })
    }

    /// Whether any check is configured (if not, every request is refused).
    pub fn is_configured(&self) -> bool {
        self.token.is_some() || self.slack.is_some()
    }

    /// Checks a request: `header` gives a header's value by its lower-case name, `body` is
    /// the raw body (what Slack signs).
    ///
    /// # Errors
    ///
    /// [`Error::Unauthenticated`] when no configured check accepts the request, or none is
    /// configured.
    pub fn verify<'a>(
        &self,
        header: impl Fn(&str) -> Option<&'a str>,
        body: &[u8],
    ) -> Result<(), Error> {
        let mut refusal =
            Error::Unauthenticated("the endpoint has no token or signing secret configured");
        if let Some(token) = &self.token {
            match token.verify(header("authorization")) {
                Ok(()) => return Ok(()),
                Err(error) => refusal = error,
            }
        }
        if let Some(slack) = &self.slack {
            let (timestamp, signature) = (
                header(SLACK_TIMESTAMP_HEADER),
                header(SLACK_SIGNATURE_HEADER),
            );
            match slack.verify(timestamp, signature, body) {
                Ok(()) => return Ok(()),
                Err(error) => refusal = error,
            }
        }
        Err(refusal)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check_token(header: Option<&str>, ok: bool) {
        let token = SharedToken::new("s3cret-token").unwrap();
        assert_eq!(token.verify(header).is_ok(), ok, "{header:?}");
    }

    fn check_digest(expected: &str, presented: &[u8], matches: bool) {
        let expected: [u8; 32] = Sha256::digest(expected.as_bytes()).into();
        assert_eq!(
            digest_matches(&expected, presented),
            matches,
            "{presented:?}"
        );
    }

    #[test]
    fn digests_compare_whatever_the_lengths() {
        check_digest("token", b"token", true);
        check_digest("token", b"toke", false);
        check_digest("token", b"tokenn", false);
        check_digest("token", b"tokem", false);
        check_digest("token", b"", false);
        check_digest("token", &[b'x'; 1 << 20], false);
        check_digest("", b"", true);
    }

    #[test]
    fn shared_token() {
        check_token(Some("s3cret-token"), true);
        check_token(Some("Bearer s3cret-token"), true);
        check_token(Some("Bearer s3cret-toke"), false);
        check_token(Some("bearer s3cret-token"), true);
        check_token(Some("BEARER s3cret-token"), true);
        check_token(Some("bEaReR s3cret-token"), true);
        check_token(Some("Bearers3cret-token"), false);
        check_token(Some("s3cret-token "), false);
        check_token(Some(""), false);
        check_token(None, false);
        assert!(SharedToken::new("").is_err());
        let debug = format!("{:?}", SharedToken::new("s3cret-token").unwrap());
        assert!(!debug.contains("s3cret"), "{debug}");
    }

    // The worked example from Slack's "Verifying requests from Slack" documentation.
    const SLACK_SECRET: &str = "8f742231b10e8888abcd99yyyzzz85a5";
    const SLACK_TS: &str = "1531420618";
    const SLACK_BODY: &str = "token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text=&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c";
    const SLACK_SIG: &str = "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503";

    fn check_slack(
        ts: Option<&str>,
        sig: Option<&str>,
        body: &str,
        now: i64,
        expected: Result<(), &str>,
    ) {
        let verifier = SlackV0Verifier::new(SLACK_SECRET).unwrap();
        let result = verifier.verify_at(ts, sig, body.as_bytes(), now);
        let result = result.map_err(|e| e.to_string());
        assert_eq!(
            result,
            expected.map_err(|e| format!("request not authenticated: {e}"))
        );
    }

    #[test]
    fn slack_v0() {
        let now = 1_531_420_618;
        check_slack(Some(SLACK_TS), Some(SLACK_SIG), SLACK_BODY, now, Ok(()));
        check_slack(
            Some(SLACK_TS),
            Some(SLACK_SIG),
            SLACK_BODY,
            now + 300,
            Ok(()),
        );
        check_slack(
            Some(SLACK_TS),
            Some(SLACK_SIG),
            SLACK_BODY,
            now - 300,
            Ok(()),
        );
        check_slack(
            Some(SLACK_TS),
            Some(SLACK_SIG),
            SLACK_BODY,
            now + 301,
            Err("request timestamp outside the window"),
        );
        check_slack(
            Some(SLACK_TS),
            Some(SLACK_SIG),
            "tampered",
            now,
            Err("bad signature"),
        );
        check_slack(
            Some("1531420619"),
            Some(SLACK_SIG),
            SLACK_BODY,
            now,
            Err("bad signature"),
        );
        check_slack(
            Some(SLACK_TS),
            Some("v1=00"),
            SLACK_BODY,
            now,
            Err("malformed signature"),
        );
        check_slack(
            Some(SLACK_TS),
            Some("v0=zz"),
            SLACK_BODY,
            now,
            Err("malformed signature"),
        );
        check_slack(
            Some(SLACK_TS),
            None,
            SLACK_BODY,
            now,
            Err("missing signature"),
        );
        check_slack(
            None,
            Some(SLACK_SIG),
            SLACK_BODY,
            now,
            Err("missing request timestamp"),
        );
        check_slack(
            Some("soon"),
            Some(SLACK_SIG),
            SLACK_BODY,
            now,
            Err("malformed request timestamp"),
        );
    }

    #[test]
    fn slack_sign_matches_the_documented_signature() {
        let verifier = SlackV0Verifier::new(SLACK_SECRET).unwrap();
        assert_eq!(
            verifier.sign(1_531_420_618, SLACK_BODY.as_bytes()),
            SLACK_SIG
        );
        assert!(!format!("{verifier:?}").contains(SLACK_SECRET));
    }
}
