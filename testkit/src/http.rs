//! One-line HTTP calls for tests that talk to a relay process on 127.0.0.1.

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
}
