//! List ids come from upstream answers: none may leave its one path segment.

use signals_client::{Error, ListKind};
use wiremock::matchers::method;
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::support::{client_for, key, received};

/// The percent-decoded path segments of the only request the server saw.
async fn segments_of_the_request_for(
    list_id: &str,
) -> (Vec<String>, Option<String>, Option<String>) {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(
            ResponseTemplate::new(200).set_body_raw(r#"{"name":"n"}"#, "application/json"),
        )
        .mount(&server)
        .await;
    client_for(&server)
        .list_metadata(&key(), ListKind::BadIp, list_id)
        .await
        .unwrap();
    let requests = received(&server).await;
    assert_eq!(requests.len(), 1, "{list_id:?}");
    let url = &requests[0].url;
    let segments = url.path_segments().unwrap().map(percent_decode).collect();
    (
        segments,
        url.query().map(str::to_owned),
        url.fragment().map(str::to_owned),
    )
}

fn percent_decode(segment: &str) -> String {
    let bytes = segment.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            out.push(u8::from_str_radix(&segment[i + 1..i + 3], 16).unwrap());
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).unwrap()
}

#[tokio::test]
async fn hostile_list_ids_stay_one_segment_of_the_metadata_path() {
    for id in [
        "a/b",
        "../../v2.0/ip",
        "..%2F..%2Fv2.0",
        "%2e%2e",
        ".%2E",
        "list?x=1",
        "list#frag",
        "100%",
        "%",
        ".\n.",
        "tab\tand space",
        "back\\slash",
        "ünïcode",
        "...",
    ] {
        let (segments, query, fragment) = segments_of_the_request_for(id).await;
        assert_eq!(segments, ["metadata", "badip", "lists", id], "{id:?}");
        assert_eq!((query, fragment), (None, None), "{id:?}");
    }
}

#[tokio::test]
async fn dot_segments_and_empty_ids_are_refused_without_a_request() {
    let server = MockServer::start().await;
    let client = client_for(&server);
    for id in ["", ".", ".."] {
        let error = client
            .list_metadata(&key(), ListKind::BadDomain, id)
            .await
            .unwrap_err();
        assert!(
            matches!(&error, Error::InvalidListId { id: got } if got == id),
            "{id:?}: {error:?}"
        );
    }
    assert!(received(&server).await.is_empty());
}
