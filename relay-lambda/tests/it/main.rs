//! The Lambda adapter end to end: synthetic API Gateway REST (v1, stage `prod`), HTTP API
//! (v2, `$default`), Function URL and ALB events from `tests/data/`, turned into requests by
//! `lambda_http` and answered by `xdr_relay_lambda::app` through `oneshot`, without a runtime.

// Test helpers live outside #[test] functions, where clippy's allow-*-in-tests does not reach:
// a failed expect is how a helper fails its test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod deploy;
mod emf;
mod runtime;

use axum::http::StatusCode;
use serde_json::{Value, json};
use tower::ServiceExt as _;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};
use xdr_relay_core::SecretKey;

const SECRET: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

/// The event sources the Lambda is served from.
#[derive(Debug, Clone, Copy)]
enum Source {
    RestApi,
    HttpApi,
    FunctionUrl,
    Alb,
}

const SOURCES: [Source; 4] = [
    Source::RestApi,
    Source::HttpApi,
    Source::FunctionUrl,
    Source::Alb,
];

impl Source {
    fn fixture(self) -> &'static str {
        match self {
            Self::RestApi => "apigw_rest_v1.json",
            Self::HttpApi => "apigw_http_v2.json",
            Self::FunctionUrl => "function_url.json",
            Self::Alb => "alb.json",
        }
    }

    /// The fixture with this request's method, path, extra headers and body.
    fn event(self, method: &str, route: &str, headers: &[(&str, &str)], body: &str) -> String {
        let file = format!(
            "{}/tests/data/{}",
            env!("CARGO_MANIFEST_DIR"),
            self.fixture()
        );
        let mut event: Value =
            serde_json::from_slice(&testkit::testdata::file(file)).expect("fixture is JSON");
        match self {
            Self::RestApi => {
                event["httpMethod"] = json!(method);
                event["path"] = json!(route);
                event["requestContext"]["httpMethod"] = json!(method);
                event["requestContext"]["path"] = json!(format!("/prod{route}"));
            }
            Self::HttpApi | Self::FunctionUrl => {
                event["rawPath"] = json!(route);
                event["requestContext"]["http"]["method"] = json!(method);
                event["requestContext"]["http"]["path"] = json!(route);
            }
            Self::Alb => {
                event["httpMethod"] = json!(method);
                event["path"] = json!(route);
            }
        }
        for (name, value) in headers {
            event["headers"][*name] = json!(value);
        }
        event["body"] = json!(body);
        event.to_string()
    }
}

/// One event through the adapter: its status and JSON body.
async fn call(
    app: &axum::Router,
    source: Source,
    method: &str,
    route: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> (StatusCode, Value) {
    let event = source.event(method, route, headers, body);
    let request = lambda_http::request::from_str(&event)
        .unwrap_or_else(|e| panic!("{source:?}: lambda_http rejects the event: {e}"));
    let response = app.clone().oneshot(request).await.expect("infallible");
    let status = response.status();
    let bytes = axum::body::to_bytes(response.into_body(), 1 << 20)
        .await
        .expect("body");
    let json = serde_json::from_slice(&bytes)
        .unwrap_or_else(|e| panic!("{source:?} {method} {route}: not JSON ({e}): {bytes:?}"));
    (status, json)
}

/// The Auth0 Signals relay as `relay-lambda` serves it, configured from `env`.
fn app(env: &[(&str, &str)]) -> axum::Router {
    let signals = xdr_relay_core::Auth0Signals::app();
    xdr_relay_lambda::router_from_env(&signals, |name| {
        env.iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| (*v).to_owned())
    })
    .expect("app")
}

#[tokio::test]
async fn version_from_every_event_source() {
    let app = app(&[("SECRET_KEY", SECRET)]);
    for source in SOURCES {
        for method in ["GET", "POST"] {
            let (status, body) = call(&app, source, method, "/version", &[], "").await;
            assert_eq!(status, 200, "{source:?} {method}");
            assert_eq!(
                body,
                json!({"version": xdr_relay_core::VERSION}),
                "{source:?}"
            );
        }
    }
}

#[tokio::test]
async fn watchdog_from_every_event_source() {
    let app = app(&[("SECRET_KEY", SECRET)]);
    for source in SOURCES {
        let headers = [("Health-Check", "lambda-ping")];
        let (_, body) = call(&app, source, "GET", "/watchdog", &headers, "").await;
        assert_eq!(body, json!({"data": "lambda-ping"}), "{source:?}");
        let (_, body) = call(&app, source, "GET", "/watchdog/", &[], "").await;
        assert_eq!(
            body["errors"][0]["code"], "health check failed",
            "{source:?}"
        );
    }
}

#[tokio::test]
async fn unknown_routes_are_json_404_from_every_event_source() {
    let app = app(&[("SECRET_KEY", SECRET)]);
    for source in SOURCES {
        let (status, body) = call(&app, source, "POST", "/prod", &[], "").await;
        assert_eq!(status, 404, "{source:?}");
        assert_eq!(body["errors"][0]["code"], "not found", "{source:?}");
    }
}

#[tokio::test]
async fn deliberate_from_every_event_source() {
    let upstream = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/v2.0/ip/192.0.2.1"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"fullip": {"score": -3}})))
        .mount(&upstream)
        .await;
    let url = upstream.uri();
    let app = app(&[("SECRET_KEY", SECRET), ("SIGNALS_API_URL", &url)]);
    let secret = SecretKey::new(SECRET).expect("secret");
    let token = xdr_relay_core::encode_token(&secret, "lambda-test-key", None).expect("token");
    let authorization = format!("Bearer {token}");
    let headers = [("Authorization", authorization.as_str())];
    let observables =
        r#"[{"type":"ip","value":"192.0.2.1"},{"type":"domain","value":"x.example"}]"#;
    for source in SOURCES {
        let (status, body) = call(
            &app,
            source,
            "POST",
            "/deliberate/observables",
            &headers,
            observables,
        )
        .await;
        assert_eq!(status, 200, "{source:?}");
        let verdicts = &body["data"]["verdicts"];
        assert_eq!(verdicts["count"], 1, "{source:?}: {body}");
        assert_eq!(verdicts["docs"][0]["disposition_name"], "Malicious");
        assert_eq!(verdicts["docs"][0]["observable"]["value"], "192.0.2.1");
    }
    let requests = upstream.received_requests().await.expect("recorded");
    assert_eq!(requests.len(), SOURCES.len());
    for request in requests {
        assert_eq!(request.url.path(), "/v2.0/ip/192.0.2.1");
        assert_eq!(
            request
                .headers
                .get("x-auth-token")
                .and_then(|v| v.to_str().ok()),
            Some("lambda-test-key")
        );
    }
}

#[tokio::test]
async fn without_secret_key_every_authenticated_route_says_not_configured() {
    let upstream = MockServer::start().await;
    let url = upstream.uri();
    let app = app(&[("SIGNALS_API_URL", &url), ("SECRET_KEY", "")]);
    let secret = SecretKey::new(SECRET).expect("secret");
    let token = xdr_relay_core::encode_token(&secret, "k", None).expect("token");
    let authorization = format!("Bearer {token}");
    let headers = [("Authorization", authorization.as_str())];
    let expected = json!({"errors": [{
        "type": "fatal",
        "code": "authorization error",
        "message": "Authorization failed: the relay is not configured: <SECRET_KEY> is missing",
    }]});
    let body = r#"[{"type":"ip","value":"192.0.2.1"}]"#;
    for source in SOURCES {
        for route in ["/health", "/observe/observables", "/deliberate/observables"] {
            let (status, answer) = call(&app, source, "POST", route, &headers, body).await;
            assert_eq!(status, 200, "{source:?} {route}");
            assert_eq!(answer, expected, "{source:?} {route}");
        }
        // Unauthenticated routes still answer.
        let (_, answer) = call(&app, source, "POST", "/version", &[], "").await;
        assert_eq!(answer["version"], xdr_relay_core::VERSION);
    }
    assert!(
        upstream
            .received_requests()
            .await
            .expect("recorded")
            .is_empty()
    );
}

#[test]
fn configuration_from_the_environment() {
    let config = |env: &[(&str, &str)]| {
        xdr_relay_lambda::config_from_env(|name| {
            env.iter()
                .find(|(n, _)| *n == name)
                .map(|(_, v)| (*v).to_owned())
        })
    };
    let defaults = config(&[]).expect("defaults");
    assert!(defaults.secret_key.is_none());
    assert_eq!(defaults.entities_limit, 100);

    let set = config(&[("SECRET_KEY", SECRET), ("CTR_ENTITIES_LIMIT", " 7 ")]).expect("valid");
    assert!(set.secret_key.is_some());
    assert_eq!(set.entities_limit, 7);

    // The Signals provider's own setting is read by the provider, and checked at start.
    let signals = xdr_relay_core::Auth0Signals::app();
    let env =
        |url: &'static str| move |name: &str| (name == "SIGNALS_API_URL").then(|| url.to_owned());
    assert!(xdr_relay_lambda::router_from_env(&signals, env("http://127.0.0.1:1/")).is_ok());
    let error = xdr_relay_lambda::router_from_env(&signals, env("signals.example")).unwrap_err();
    assert!(
        error
            .to_string()
            .contains("SIGNALS_API_URL must be an http:// or https:// URL"),
        "{error}"
    );

    for bad in ["0", "-1", "many", "1.5"] {
        let error = config(&[("CTR_ENTITIES_LIMIT", bad)]).expect_err(bad);
        assert_eq!(error.name(), "CTR_ENTITIES_LIMIT", "{error}");
    }
    // Secrets never appear in the config's Debug output.
    assert!(!format!("{set:?}").contains(SECRET));

    assert!(!defaults.openapi);
    for (flag, expected) in [
        ("true", true),
        ("TRUE", true),
        ("1", true),
        ("false", false),
    ] {
        let got = config(&[("RELAY_OPENAPI", flag)]).expect(flag).openapi;
        assert_eq!(got, expected, "{flag}");
    }
    let error = config(&[("RELAY_OPENAPI", "yes please")]).expect_err("not a bool");
    assert_eq!(error.name(), "RELAY_OPENAPI", "{error}");
}

#[tokio::test]
async fn http_api_named_stage_is_stripped_too() {
    let app = app(&[("SECRET_KEY", SECRET)]);
    let mut event: Value =
        serde_json::from_str(&Source::HttpApi.event("GET", "/prod/version", &[], ""))
            .expect("JSON");
    event["requestContext"]["stage"] = json!("prod");
    let request = lambda_http::request::from_str(&event.to_string()).expect("event");
    let response = app.oneshot(request).await.expect("infallible");
    assert_eq!(response.status(), 200);
    let bytes = axum::body::to_bytes(response.into_body(), 1 << 20)
        .await
        .expect("body");
    let body: Value = serde_json::from_slice(&bytes).expect("JSON");
    assert_eq!(body, json!({"version": xdr_relay_core::VERSION}));
}

#[test]
fn jwks_configuration_from_the_environment() {
    let config = |env: &[(&str, &str)]| {
        xdr_relay_lambda::config_from_env(|name| {
            env.iter()
                .find(|(n, _)| *n == name)
                .map(|(_, v)| (*v).to_owned())
        })
    };
    for secret_key in ["", "secret-key", " Secret-Key "] {
        let config = config(&[("AUTH_TYPE", secret_key), ("SECRET_KEY", SECRET)]).expect("ok");
        assert!(
            config.jwks.is_none() && config.secret_key.is_some(),
            "{secret_key:?}"
        );
    }

    let jwks = config(&[
        ("AUTH_TYPE", "jwks"),
        ("RELAY_URL", "https://relay.example.com"),
    ])
    .expect("jwks")
    .jwks
    .expect("jwks mode");
    assert_eq!(jwks.audience, "https://relay.example.com");
    assert_eq!(jwks.allowed_hosts, xdr_relay_core::DEFAULT_JWKS_HOSTS);
    assert!(!jwks.allow_http);

    let listed = config(&[
        ("AUTH_TYPE", "JWKS"),
        ("RELAY_URL", "https://relay.example.com"),
        (
            "JWKS_ALLOWED_HOSTS",
            " visibility.eu.amp.cisco.com, ,visibility.amp.cisco.com ",
        ),
    ])
    .expect("jwks")
    .jwks
    .expect("jwks mode");
    assert_eq!(
        listed.allowed_hosts,
        ["visibility.eu.amp.cisco.com", "visibility.amp.cisco.com"]
    );

    for env in [
        &[("AUTH_TYPE", "jwks")][..],
        &[("AUTH_TYPE", "jwks"), ("RELAY_URL", "  ")],
    ] {
        let error = config(env).expect_err("no audience");
        assert_eq!(error.name(), "RELAY_URL", "{error}");
    }
    let error = config(&[("AUTH_TYPE", "rs256")]).expect_err("unknown mode");
    assert_eq!(error.name(), "AUTH_TYPE", "{error}");
}

#[tokio::test]
async fn jwks_mode_refuses_hs256_tokens_from_every_event_source() {
    let upstream = MockServer::start().await;
    let url = upstream.uri();
    let app = app(&[
        ("SIGNALS_API_URL", &url),
        ("AUTH_TYPE", "jwks"),
        ("RELAY_URL", "https://relay.example.com"),
        ("SECRET_KEY", SECRET),
    ]);
    let secret = SecretKey::new(SECRET).expect("secret");
    let token = xdr_relay_core::encode_token(&secret, "k", None).expect("token");
    let authorization = format!("Bearer {token}");
    let headers = [("Authorization", authorization.as_str())];
    let body = r#"[{"type":"ip","value":"192.0.2.1"}]"#;
    for source in SOURCES {
        let (_, answer) = call(
            &app,
            source,
            "POST",
            "/deliberate/observables",
            &headers,
            body,
        )
        .await;
        assert_eq!(
            answer["errors"][0]["message"],
            "Authorization failed: Failed to decode JWT with provided key. Make sure domain in custom_jwks_host corresponds to your SecureX instance region.",
            "{source:?}"
        );
    }
    assert!(
        upstream
            .received_requests()
            .await
            .expect("recorded")
            .is_empty()
    );
}
