//! Endpoint authentication against hostile requests (behaviour only; the constant-time
//! comparisons are `subtle`'s, see `src/auth.rs`).

use socless_events::auth::{SharedToken, SlackV0Verifier};

const TOKEN: &str = "s3cret-endpoint-token";

fn check_token(header: Option<&str>, accepted: bool) {
    let token = SharedToken::new(TOKEN).unwrap();
    let result = token.verify(header);
    assert_eq!(
        result.is_ok(),
        accepted,
        "{:?}",
        header.map(|h| &h[..h.len().min(40)])
    );
    if let Err(error) = result {
        assert!(!error.to_string().contains(TOKEN), "{error}");
    }
}

#[test]
fn shared_token_accepts_only_the_exact_token() {
    let huge = "x".repeat(1 << 20);
    let bearer = format!("Bearer {TOKEN}");
    check_token(Some(TOKEN), true);
    check_token(Some(&bearer), true);
    for rejected in [
        "s3cret-endpoint-toke",
        "s3cret-endpoint-tokenn",
        "s3cret-endpoint-tokeN",
        "S3CRET-ENDPOINT-TOKEN",
        "Bearer  s3cret-endpoint-token",
        "Basic s3cret-endpoint-token",
        "Bearer ",
        "",
        "\0",
        huge.as_str(),
    ] {
        check_token(Some(rejected), false);
    }
    check_token(None, false);
}

const SECRET: &str = "8f742231b10e8888abcd99yyyzzz85a5";
const T0: i64 = 1_700_000_000;
const BODY: &[u8] = br#"{"alert_name":"Suspicious Login","response_plan":"InvestigateLogin"}"#;

fn check_signed(
    timestamp: &str,
    signature: &str,
    body: &[u8],
    now: i64,
    expected: Result<(), &str>,
) {
    let verifier = SlackV0Verifier::new(SECRET).unwrap();
    let result = verifier
        .verify_at(Some(timestamp), Some(signature), body, now)
        .map_err(|e| e.to_string());
    let expected = expected.map_err(|reason| format!("request not authenticated: {reason}"));
    assert_eq!(result, expected, "{timestamp:?} {signature:?} at {now}");
}

#[test]
fn slack_signatures_reject_replays_and_alterations() {
    let verifier = SlackV0Verifier::new(SECRET).unwrap();
    let signature = verifier.sign(T0, BODY);
    let ts = T0.to_string();
    let hex = signature.strip_prefix("v0=").unwrap();
    check_signed(&ts, &signature, BODY, T0, Ok(()));
    check_signed(
        &ts,
        &signature.to_uppercase().replacen("V0=", "v0=", 1),
        BODY,
        T0,
        Ok(()),
    );

    // Replays: the same signed request outside the five-minute window, either side.
    let outside = "request timestamp outside the window";
    check_signed(&ts, &signature, BODY, T0 + 301, Err(outside));
    check_signed(&ts, &signature, BODY, T0 + 86_400, Err(outside));
    check_signed(&ts, &signature, BODY, T0 - 301, Err(outside));
    check_signed("0", &verifier.sign(0, BODY), BODY, T0, Err(outside));

    // Altered bodies.
    let bad = "bad signature";
    let mut flipped = BODY.to_vec();
    flipped[10] ^= 1;
    check_signed(&ts, &signature, &flipped, T0, Err(bad));
    check_signed(&ts, &signature, &[BODY, b" "].concat(), T0, Err(bad));
    check_signed(&ts, &signature, &BODY[..BODY.len() - 1], T0, Err(bad));
    check_signed(&ts, &signature, b"", T0, Err(bad));

    // Altered timestamps: another second, or the same second written differently.
    check_signed(&(T0 + 1).to_string(), &signature, BODY, T0, Err(bad));
    check_signed(&format!("0{ts}"), &signature, BODY, T0, Err(bad));
    let malformed_ts = "malformed request timestamp";
    for timestamp in [
        format!("+{ts}"),
        format!(" {ts}"),
        format!("{ts} "),
        format!("{ts}.0"),
        "-1".into(),
        "1e9".into(),
        "".into(),
        "99999999999999999999999".into(),
    ] {
        check_signed(&timestamp, &signature, BODY, T0, Err(malformed_ts));
    }

    // Wrong versions and malformed signatures.
    let malformed = "malformed signature";
    for bad_signature in [
        format!("v1={hex}"),
        format!("V0={hex}"),
        format!("v0:{hex}"),
        hex.to_owned(),
        format!("v0={}", &hex[..63]),
        format!("v0={hex}0"),
        format!("v0={hex}00"),
        format!("v0={}zz", &hex[..62]),
        format!("v0= {}", &hex[1..]),
        format!("v0={hex},v0={hex}"),
        "v0=".into(),
        "".into(),
        format!("v0={}", "a".repeat(1 << 20)),
    ] {
        check_signed(&ts, &bad_signature, BODY, T0, Err(malformed));
    }

    // Well formed but signed with another secret.
    let other = SlackV0Verifier::new("another-secret")
        .unwrap()
        .sign(T0, BODY);
    check_signed(&ts, &other, BODY, T0, Err(bad));
}
