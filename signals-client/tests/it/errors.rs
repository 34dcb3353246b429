//! Each upstream status and body mapped to its typed error (or to "no data").

use signals_client::{Error, ErrorKind, ListKind, SignalsClient};
use wiremock::matchers::method;
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::support::{client_for, fixture_json, key, received};

const UUID_TEXT: &str = "Token must be a valid RFC4122 UUID";

/// A server answering every request with `status` and `body`.
async fn answering(status: u16, body: &str) -> (MockServer, SignalsClient) {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(status).set_body_string(body))
        .mount(&server)
        .await;
    let client = client_for(&server);
    (server, client)
}

async fn ip_report_result(status: u16, body: &str) -> Result<bool, Error> {
    let (_server, client) = answering(status, body).await;
    client
        .ip_report(&key(), "1.1.1.1".parse().unwrap())
        .await
        .map(|r| r.is_some())
}

#[tokio::test]
async fn unauthorized_carries_the_upstream_message() {
    let mock = &fixture_json("upstream_error_mocks.json")["unauthorized_creds"];
    let status = u16::try_from(mock["status_code"].as_u64().unwrap()).unwrap();
    let text = mock["text"].as_str().unwrap();

    let error = ip_report_result(status, text).await.unwrap_err();
    assert!(
        matches!(&error, Error::Unauthorized { message } if message == "Unauthorized. API Key not found."),
        "{error:?}"
    );
    assert_eq!(error.kind(), ErrorKind::Authorization);

    let (_server, client) = answering(status, text).await;
    assert!(matches!(
        client.check_key(&key()).await,
        Err(Error::Unauthorized { .. })
    ));
    assert!(matches!(
        client.list_metadata(&key(), ListKind::BadIp, "L").await,
        Err(Error::Unauthorized { .. })
    ));
}

#[tokio::test]
async fn uuid_token_message_on_400_or_404_is_unauthorized() {
    for status in [400, 404] {
        for body in [
            UUID_TEXT.to_owned(),
            format!(r#"{{"message":"{UUID_TEXT}"}}"#),
        ] {
            let error = ip_report_result(status, &body).await.unwrap_err();
            assert!(
                matches!(&error, Error::Unauthorized { message } if message == UUID_TEXT),
                "{status} {body}: {error:?}"
            );
        }
        let (_server, client) = answering(status, UUID_TEXT).await;
        let metadata = client.list_metadata(&key(), ListKind::BadDomain, "L").await;
        assert!(
            matches!(metadata, Err(Error::Unauthorized { .. })),
            "{status}: {metadata:?}"
        );
    }
}

#[tokio::test]
async fn other_400_or_404_on_an_ip_lookup_is_no_data() {
    let mock = &fixture_json("upstream_error_mocks.json")["bad_request"];
    assert_eq!(mock["status_code"], 400);
    assert!(
        !ip_report_result(400, mock["text"].as_str().unwrap())
            .await
            .unwrap()
    );
    assert!(!ip_report_result(404, "Not Found").await.unwrap());
    assert!(!ip_report_result(404, "").await.unwrap());
}

#[tokio::test]
async fn a_404_on_metadata_or_the_key_check_is_an_upstream_status() {
    let (_server, client) = answering(404, "no such list").await;
    let error = client
        .list_metadata(&key(), ListKind::BadIp, "GONE")
        .await
        .unwrap_err();
    assert!(
        matches!(&error, Error::Status { status: 404, body } if body == "no such list"),
        "{error:?}"
    );
    let error = client.check_key(&key()).await.unwrap_err();
    assert!(
        matches!(
            error,
            Error::Status {
                status: 400 | 404,
                ..
            }
        ),
        "{error:?}"
    );
}

#[tokio::test]
async fn forbidden() {
    let error = ip_report_result(403, "Plan does not include this")
        .await
        .unwrap_err();
    assert!(
        matches!(&error, Error::Forbidden { message } if message == "Plan does not include this"),
        "{error:?}"
    );
    assert_eq!(error.kind(), ErrorKind::PermissionDenied);
}

#[tokio::test]
async fn unexpected_statuses_fail_fast_with_a_bounded_excerpt() {
    for (status, kind) in [
        (500, ErrorKind::ServiceUnavailable),
        (418, ErrorKind::Unknown),
        (301, ErrorKind::Unknown),
    ] {
        let long_body = format!("boom {}", "x".repeat(10_000));
        let (server, client) = answering(status, &long_body).await;
        let error = client
            .ip_report(&key(), "1.1.1.1".parse().unwrap())
            .await
            .unwrap_err();
        let Error::Status { status: got, body } = &error else {
            panic!("{status}: {error:?}")
        };
        assert_eq!(*got, status);
        assert!(
            body.starts_with("boom xxx") && body.ends_with('…'),
            "{body}"
        );
        assert_eq!(body.chars().count(), 201);
        assert_eq!(error.kind(), kind);
        assert_eq!(
            received(&server).await.len(),
            1,
            "HTTP {status} must not be retried"
        );
    }
}

#[tokio::test]
async fn truncated_json_is_a_decode_error() {
    let body = r#"{"fullip": {"score": -2, "badip": {"score": -1, "blackl"#;
    let error = ip_report_result(200, body).await.unwrap_err();
    assert!(
        matches!(
            &error,
            Error::Decode {
                what: "IP report",
                ..
            }
        ),
        "{error:?}"
    );
    assert_eq!(error.kind(), ErrorKind::Unknown);
}

#[tokio::test]
async fn wrongly_typed_json_is_a_decode_error() {
    for body in [
        r#"{"fullip": {"score": "very bad"}}"#,
        r#"{"fullip": {"badip": {"blacklists": [1, 2]}}}"#,
        r#"{"fullip": "report"}"#,
        r#"{"fullip": null}"#,
        r#"["not", "an", "object"]"#,
        "<html>maintenance</html>",
        "",
    ] {
        let error = ip_report_result(200, body).await.unwrap_err();
        assert!(
            matches!(
                error,
                Error::Decode {
                    what: "IP report",
                    ..
                }
            ),
            "{body}: {error:?}"
        );
    }
    let (_server, client) = answering(200, r#"{"name": 7}"#).await;
    let error = client
        .list_metadata(&key(), ListKind::BadIp, "L")
        .await
        .unwrap_err();
    assert!(
        matches!(
            error,
            Error::Decode {
                what: "list metadata",
                ..
            }
        ),
        "{error:?}"
    );
}

#[tokio::test]
async fn tolerant_decoding_of_numeric_strings_extra_and_missing_fields() {
    let body = r#"{"fullip": {"score": "-1", "surprise": {"nested": [1]},
                   "badip": {"score": "-1", "blacklists": "A,B"}, "history": {}}}"#;
    let (_server, client) = answering(200, body).await;
    let report = client
        .ip_report(&key(), "1.1.1.1".parse().unwrap())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(report.score, Some(-1));
    assert_eq!(report.badip.score, Some(-1));
    assert_eq!(report.badip.blacklists, ["A", "B"]);
    assert_eq!(report.history.score, None);
    assert_eq!(report.baddomain.score, None);

    let (_server, client) = answering(
        200,
        r#"{"name": "Only a name", "count": 5, "enabled": true}"#,
    )
    .await;
    let metadata = client
        .list_metadata(&key(), ListKind::BadIp, "L")
        .await
        .unwrap();
    assert_eq!(metadata.name, "Only a name");
    assert_eq!(
        (metadata.source, metadata.sensitivity, metadata.tags),
        (None, None, None)
    );
}
