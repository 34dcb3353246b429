//! Both token modes, through the router: HS256 tokens signed with the relay's `SECRET_KEY`
//! (what `otx-relay jwt` makes), and Cisco XDR's RS256 configuration tokens verified against a
//! key server (the stand-in's `/.well-known/jwks`, over plain HTTP as a test may), their
//! `CTR_ENTITIES_LIMIT` applied. A refused token never reaches OTX.

use serde_json::json;
use testkit::token::Platform;
use xdr_relay_core::JwksConfig;

use crate::support::*;

const DOMAIN: &str = "jwks.example";
const AUDIENCE: &str = "https://otx-relay.example.com";

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
    for id in ["j1", "j2"] {
        relay
            .standin
            .pulse(Pulse::new(id).with("domain", DOMAIN, "2020-01-01T00:00:00"));
    }
    let claims = json!({
        "key": "the-modules-otx-key",
        "jwks_host": relay.standin.host(),
        "aud": AUDIENCE,
        "iat": now(),
        "exp": now() + 300,
        "CTR_ENTITIES_LIMIT": 1,
    });
    let body = observables(&[("domain", DOMAIN)]);
    let answer = relay
        .ok("/observe/observables", &Platform::token(&claims), &body)
        .await;
    assert_eq!(sighted(&answer).len(), 1, "{answer}");
    let calls = relay.standin.calls();
    assert!(
        calls
            .iter()
            .all(|c| c.key.as_deref() == Some("the-modules-otx-key"))
    );

    // Another audience, an HS256 token: refused, nothing asked.
    let mut wrong_audience = claims.clone();
    wrong_audience["aud"] = json!("https://elsewhere.example.com");
    for (bad, reason) in [
        (
            Platform::token(&wrong_audience),
            "Wrong configuration-token-audience",
        ),
        (
            token(),
            "Failed to decode JWT with provided key. Make sure domain in custom_jwks_host corresponds to your SecureX instance region.",
        ),
    ] {
        let answer = relay.ok("/observe/observables", &bad, &body).await;
        assert_eq!(
            errors(&answer),
            [(
                "authorization error".to_owned(),
                format!("Authorization failed: {reason}")
            )]
        );
    }
    assert_eq!(relay.standin.calls().len(), calls.len());
}

#[tokio::test]
async fn hs256_tokens_need_the_relays_secret() {
    let relay = Relay::start().await;
    let forged = {
        let other = xdr_relay_core::SecretKey::new("an attacker's secret").unwrap();
        let mut claims = serde_json::Map::new();
        claims.insert("key".into(), json!(API_KEY));
        xdr_relay_core::encode_claims(&other, &xdr_relay_otx::info().credentials, &claims).unwrap()
    };
    for route in ["/observe/observables", "/health", "/refer/observables"] {
        let (status, answer) = relay
            .post(route, Some(&forged), &observables(&[("domain", DOMAIN)]))
            .await;
        assert_eq!(status, 200);
        assert_eq!(
            errors(&answer),
            [(
                "authorization error".to_owned(),
                "Authorization failed: Failed to decode JWT with provided key".to_owned()
            )],
            "{route}"
        );
    }
    assert!(relay.standin.calls().is_empty());
}
