//! Both ways tokens are verified, through the router: HS256 tokens signed with the relay's
//! `SECRET_KEY` (what `abuseipdb-relay jwt` makes), and Cisco XDR's RS256 configuration tokens
//! verified against a key server (the stand-in's `/.well-known/jwks`, over plain HTTP as a test
//! may). A refused token never reaches AbuseIPDB.

use serde_json::json;
use testkit::token::Platform;
use xdr_relay_core::JwksConfig;

use crate::support::*;

const IP: &str = "192.0.2.61";
const AUDIENCE: &str = "https://abuseipdb-relay.example.com";

fn now() -> i64 {
    xdr_relay_core::time::OffsetDateTime::now_utc().unix_timestamp()
}

#[tokio::test]
async fn configuration_tokens_are_verified_against_the_regions_keys() {
    let standin = StandIn::start().await;
    standin.publish_keys(vec![Platform::jwk()]);
    let host = standin.host();
    let relay = Relay::start_on(standin, |config, _| {
        let mut jwks = JwksConfig::new(AUDIENCE);
        jwks.allowed_hosts = vec![host.clone()];
        jwks.allow_http = true;
        config.jwks = Some(jwks);
    });
    relay.standin.data(IP, data(100, None, vec![]));
    let claims = json!({
        "key": "the-modules-abuseipdb-key",
        "jwks_host": relay.standin.host(),
        "aud": AUDIENCE,
        "iat": now(),
        "exp": now() + 300,
        "CTR_ENTITIES_LIMIT": 3,
    });
    let answer = relay
        .ok(
            "/deliberate/observables",
            &Platform::token(&claims),
            &ips(&[IP]),
        )
        .await;
    assert_eq!(verdict_values(&answer), [IP]);
    assert_eq!(
        relay.standin.checks()[0].key.as_deref(),
        Some("the-modules-abuseipdb-key")
    );

    // Another audience, a host that is not allowed, an HS256 token: refused, nothing asked.
    let mut wrong_audience = claims.clone();
    wrong_audience["aud"] = json!("https://elsewhere.example.com");
    let mut wrong_host = claims.clone();
    wrong_host["jwks_host"] = json!("visibility.amp.cisco.com.evil.example");
    for (bad, reason) in [
        (
            Platform::token(&wrong_audience),
            "Wrong configuration-token-audience",
        ),
        (
            Platform::token(&wrong_host),
            "Wrong jwks_host in JWT payload. Make sure domain follows the visibility.<region>.cisco.com structure",
        ),
        (
            token(),
            "Failed to decode JWT with provided key. Make sure domain in custom_jwks_host corresponds to your SecureX instance region.",
        ),
    ] {
        let answer = relay.ok("/deliberate/observables", &bad, &ips(&[IP])).await;
        assert_eq!(
            errors(&answer),
            [(
                "authorization error".to_owned(),
                format!("Authorization failed: {reason}")
            )]
        );
    }
    assert_eq!(relay.standin.checks().len(), 1);
}

#[tokio::test]
async fn hs256_tokens_need_the_relays_secret_and_a_key() {
    let relay = Relay::start().await;
    relay.standin.data(IP, data(100, None, vec![]));
    assert_eq!(verdict_values(&relay.deliberate(&ips(&[IP])).await), [IP]);

    let forged = {
        let other = xdr_relay_core::SecretKey::new("an attacker's secret").unwrap();
        let mut claims = serde_json::Map::new();
        claims.insert("key".into(), json!(API_KEY));
        xdr_relay_core::encode_claims(&other, &xdr_relay_abuseipdb::info().credentials, &claims)
            .unwrap()
    };
    // A token without `key` (signed directly: `jwt` refuses to make one).
    let keyless = xdr_relay_core::encode_claims(&secret(), &[], &serde_json::Map::new()).unwrap();
    for (bad, reason) in [
        (
            Some(forged.as_str()),
            "Failed to decode JWT with provided key",
        ),
        (Some(keyless.as_str()), "Wrong JWT payload structure"),
        (Some("not.a.jwt"), "Wrong JWT structure"),
        (None, "Authorization header is missing"),
    ] {
        for route in ["/observe/observables", "/health", "/refer/observables"] {
            let (status, answer) = relay.post(route, bad, &ips(&[IP])).await;
            assert_eq!(status, 200);
            assert_eq!(
                errors(&answer),
                [(
                    "authorization error".to_owned(),
                    format!("Authorization failed: {reason}")
                )],
                "{route}"
            );
        }
    }
    assert_eq!(relay.standin.checks().len(), 1);
}
