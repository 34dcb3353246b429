//! One-line HTTP calls for tests that talk to a relay process on 127.0.0.1 or to a relay's
//! router in process, and the answers of raw HTTP/1.1 clients, for tests and benches that
//! write requests byte by byte.

use std::collections::HashMap;

use serde_json::Value;

/// `GET url`, failing unless the answer is a 2xx; its body as text.
pub async fn get_text(url: &str) -> String {
    let answer = reqwest::get(url)
        .await
        .unwrap_or_else(|e| panic!("GET {url}: {e}"));
    let status = answer.status();
    let body = answer
        .text()
        .await
        .unwrap_or_else(|e| panic!("GET {url}: {e}"));
    assert!(status.is_success(), "GET {url}: {status}: {body}");
    body
}

/// `GET url`, failing unless the answer is a 2xx with a JSON body; that body.
pub async fn get_json(url: &str) -> Value {
    let body = get_text(url).await;
    serde_json::from_str(&body).unwrap_or_else(|e| panic!("GET {url}: not JSON ({e}): {body}"))
}

/// `POST path` to `router` in process, with `Bearer token` when given and `body` as JSON: the
/// HTTP status and the JSON answer (failing when it is not JSON).
pub async fn post_to(
    router: &axum::Router,
    path: &str,
    token: Option<&str>,
    body: &str,
) -> (u16, Value) {
    use tower::ServiceExt as _;
    let mut request = axum::http::Request::post(path).header("content-type", "application/json");
    if let Some(token) = token {
        request = request.header("authorization", format!("Bearer {token}"));
    }
    let request = request
        .body(axum::body::Body::from(body.to_owned()))
        .unwrap_or_else(|e| panic!("POST {path}: {e}"));
    let response = router
        .clone()
        .oneshot(request)
        .await
        .unwrap_or_else(|e| panic!("POST {path}: {e}"));
    let status = response.status().as_u16();
    let bytes = axum::body::to_bytes(response.into_body(), 64 << 20)
        .await
        .unwrap_or_else(|e| panic!("POST {path}: {e}"));
    let value = serde_json::from_slice(&bytes)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&bytes)));
    (status, value)
}

/// A complete HTTP/1.1 response, as far as a test needs it.
#[derive(Debug)]
pub struct Answer {
    /// The status code.
    pub status: u16,
    /// The headers, names in lower case.
    pub headers: HashMap<String, String>,
    /// The body, as text.
    pub body: String,
}

/// Parses one complete response (with Content-Length) at the start of `bytes`; returns it and
/// how many bytes it took.
pub fn parse_answer(bytes: &[u8]) -> Option<(Answer, usize)> {
    let end = bytes.windows(4).position(|w| w == b"\r\n\r\n")? + 4;
    let head = std::str::from_utf8(&bytes[..end]).ok()?;
    let mut lines = head.split("\r\n");
    let status = lines.next()?.split(' ').nth(1)?.parse().ok()?;
    let headers: HashMap<String, String> = lines
        .filter_map(|line| line.split_once(':'))
        .map(|(name, value)| (name.trim().to_ascii_lowercase(), value.trim().to_owned()))
        .collect();
    let length: usize = headers.get("content-length")?.parse().ok()?;
    let body = bytes.get(end..end + length)?;
    let body = String::from_utf8_lossy(body).into_owned();
    Some((
        Answer {
            status,
            headers,
            body,
        },
        end + length,
    ))
}

#[cfg(test)]
mod tests {
    use axum::Router;
    use axum::routing::get;

    #[tokio::test]
    async fn reads_text_and_json_and_fails_on_an_error_status() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let app = Router::new()
            .route("/json", get(|| async { r#"{"a":1}"# }))
            .route("/text", get(|| async { "hello" }));
        tokio::spawn(async move { axum::serve(listener, app).await });
        assert_eq!(
            super::get_text(&format!("http://{address}/text")).await,
            "hello"
        );
        assert_eq!(
            super::get_json(&format!("http://{address}/json")).await["a"],
            1
        );
        let missing =
            tokio::spawn(
                async move { super::get_text(&format!("http://{address}/missing")).await },
            )
            .await
            .unwrap_err();
        assert!(missing.is_panic());
    }

    #[test]
    fn parses_one_answer_of_several_and_waits_for_a_whole_body() {
        let two = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokHTTP/1.1 408 Request Timeout\r\ncontent-length: 0\r\n\r\n";
        let (first, used) = super::parse_answer(two).unwrap();
        assert_eq!((first.status, first.body.as_str()), (200, "ok"));
        assert_eq!(first.headers["content-length"], "2");
        assert_eq!(super::parse_answer(&two[used..]).unwrap().0.status, 408);
        assert!(super::parse_answer(&two[..used - 1]).is_none());
    }
}
