//! A local urlscan.io stand-in on the generic [`standin`] (127.0.0.1, an ephemeral port,
//! every request recorded), serving urlscan.io's API v1 as the relay calls it: `GET
//! /api/v1/search?q=…`, `GET /api/v1/result/{id}/`, `POST /api/v1/scan`, and for configuration
//! tokens a key server's `GET /.well-known/jwks`: only urlscan.io's routes and bodies are its
//! own. Tests and the bench set what it answers per search query, per scan id and per
//! submitted URL ([`Reply`]s, with urlscan.io's bodies from [`hit`], [`page`] and
//! [`StandIn::result_body`]), a delay for every call, and read back what it was asked. No
//! network beyond 127.0.0.1.
//!
//! Used by relay-urlscan's integration tests, its bench and its `standin` example.

use std::collections::HashSet;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::routing::{get, post};
use serde_json::{Value, json};

use crate::standin::{self, Jwks, Reply, Scenarios};

/// urlscan.io's words for a key it does not know.
pub const UNAUTHORIZED_MESSAGE: &str = "API key supplied but not found in database!";
/// urlscan.io's words for a spent search quota.
pub const RATE_LIMIT_MESSAGE: &str =
    "Rate limit for `search` exceeded. Please upgrade your plan or slow down.";
/// urlscan.io's words for a result not there yet.
pub const NOT_FINISHED_MESSAGE: &str = "Scan is not finished yet";

const SEARCH: &str = "/api/v1/search";
const RESULT: &str = "/api/v1/result/";
const SCAN: &str = "/api/v1/scan";

/// One call the stand-in received.
#[derive(Debug, Clone)]
pub struct Seen {
    /// The search's `q`, the result's id, or the submitted `url`.
    pub what: String,
    /// The `API-Key` header.
    pub key: Option<String>,
    /// The `Accept` header.
    pub accept: Option<String>,
    /// The `User-Agent` header.
    pub user_agent: Option<String>,
}

/// What the handlers read: the replies per query, id and URL, the refused keys, the
/// submissions received.
#[derive(Default)]
struct Shared {
    searches: Scenarios<Reply>,
    results: Scenarios<Reply>,
    scans: Scenarios<Reply>,
    refused_keys: Mutex<HashSet<String>>,
    submitted: Mutex<Vec<(Option<String>, Value)>>,
    urls: Mutex<(String, String)>,
}

/// The stand-in, serving until dropped: urlscan.io's routes on [`standin::StandIn`].
pub struct StandIn {
    /// Where it listens.
    pub address: SocketAddr,
    shared: Arc<Shared>,
    jwks: Jwks,
    server: standin::StandIn,
}

impl StandIn {
    /// Starts a stand-in on 127.0.0.1 (on the calling runtime): every search finds nothing,
    /// every result is still running (404), every submission is accepted, every key but the
    /// refused ones is accepted, until told otherwise.
    pub async fn start() -> Self {
        Self::start_on(0).await
    }

    /// The same on 127.0.0.1:`port` (0: an ephemeral port).
    pub async fn start_on(port: u16) -> Self {
        let shared = Arc::new(Shared::default());
        let jwks = Jwks::default();
        let router = Router::new()
            .route(SEARCH, get(search))
            .route("/api/v1/result/{id}", get(result))
            .route("/api/v1/result/{id}/", get(result))
            .route(SCAN, post(scan))
            .fallback(|| async {
                (
                    StatusCode::NOT_FOUND,
                    axum::Json(json!({"message": "Not Found", "status": 404})),
                )
            })
            .with_state(Arc::clone(&shared));
        let server = standin::StandIn::start_on(port, jwks.route(router)).await;
        *shared.urls.lock().unwrap() = (format!("{}api/v1/", server.url()), server.url());
        Self {
            address: server.address,
            shared,
            jwks,
            server,
        }
    }

    /// `http://127.0.0.1:PORT/api/v1/`: the relay's `URLSCAN_API_URL`.
    pub fn api_url(&self) -> String {
        format!("{}api/v1/", self.server.url())
    }

    /// `http://127.0.0.1:PORT/`: the relay's `URLSCAN_WEB_URL`.
    pub fn web_url(&self) -> String {
        self.server.url()
    }

    /// `127.0.0.1:PORT`, what a configuration token names as its `jwks_host`.
    pub fn host(&self) -> String {
        self.address.to_string()
    }

    /// Answers the search `query` (e.g. `page.ip:"1.1.1.1"`) with these scans ([`hit`]).
    pub fn search(&self, query: &str, hits: Vec<Value>) {
        let total = hits.len();
        let body = json!({"results": hits, "total": total, "took": 3, "has_more": false});
        self.search_reply(query, Reply::json(200, &body));
    }

    /// Answers the search `query` with `reply`.
    pub fn search_reply(&self, query: &str, reply: Reply) {
        self.shared.searches.set(query, reply);
    }

    /// Answers the result of scan `id` with `body` ([`StandIn::result_body`]).
    pub fn result(&self, id: &str, body: &Value) {
        self.result_reply(id, Reply::json(200, body));
    }

    /// Answers the result of scan `id` with `reply`.
    pub fn result_reply(&self, id: &str, reply: Reply) {
        self.shared.results.set(id, reply);
    }

    /// Answers a submission of `url` with `reply` (accepted otherwise).
    pub fn scan_reply(&self, url: &str, reply: Reply) {
        self.shared.scans.set(url, reply);
    }

    /// Refuses `key` with urlscan.io's 401.
    pub fn refuse_key(&self, key: &str) {
        self.shared
            .refused_keys
            .lock()
            .unwrap()
            .insert(key.to_owned());
    }

    /// Waits `delay` before every answer.
    pub fn delay(&self, delay: Duration) {
        self.server.delay(delay);
    }

    /// Publishes `keys` (JWKs) at `/.well-known/jwks`.
    pub fn publish_keys(&self, keys: Vec<Value>) {
        self.jwks.publish(keys);
    }

    /// Every search received, in order (`what`: its `q`).
    pub fn searches(&self) -> Vec<Seen> {
        self.seen(|s| (s.path == SEARCH).then(|| s.query.get("q").cloned().unwrap_or_default()))
    }

    /// Every result read, in order (`what`: the scan id).
    pub fn result_reads(&self) -> Vec<Seen> {
        self.seen(|s| {
            let id = s.path.strip_prefix(RESULT)?;
            Some(id.trim_end_matches('/').to_owned())
        })
    }

    /// How many times the result of scan `id` was read.
    pub fn result_reads_of(&self, id: &str) -> usize {
        self.result_reads().iter().filter(|s| s.what == id).count()
    }

    /// How many times the search `query` was made.
    pub fn searches_of(&self, query: &str) -> usize {
        self.searches().iter().filter(|s| s.what == query).count()
    }

    /// Every submission received, in order: its `API-Key` and its JSON body.
    pub fn submissions(&self) -> Vec<(Option<String>, Value)> {
        self.shared.submitted.lock().unwrap().clone()
    }

    /// The requests for `POST scan` received, with their headers (`what`: empty).
    pub fn scan_calls(&self) -> Vec<Seen> {
        self.seen(|s| (s.path == SCAN).then(String::new))
    }

    /// The most searches in flight at once so far.
    pub fn most_searches_in_flight(&self) -> usize {
        self.server.most_in_flight(SEARCH)
    }

    /// The most calls of any kind in flight at once so far.
    pub fn most_in_flight(&self) -> usize {
        self.server.most_in_flight_at_once()
    }

    /// Forgets the calls received and the most in flight.
    pub fn reset_counts(&self) {
        self.server.reset_counts();
        self.shared.submitted.lock().unwrap().clear();
    }

    fn seen(&self, what: impl Fn(&standin::Seen) -> Option<String>) -> Vec<Seen> {
        self.server
            .seen()
            .into_iter()
            .filter_map(|seen| {
                Some(Seen {
                    what: what(&seen)?,
                    key: seen.header("api-key"),
                    accept: seen.header("accept"),
                    user_agent: seen.header("user-agent"),
                })
            })
            .collect()
    }

    /// A scan's result in urlscan.io's shape, its links on this stand-in's web site: scan `id`
    /// of `url` at `time`, whose overall verdict is `malicious` with `categories` and `tags`.
    pub fn result_body(
        &self,
        id: &str,
        time: &str,
        url: &str,
        malicious: bool,
        categories: &[&str],
        tags: &[&str],
    ) -> Value {
        let web = self.web_url();
        json!({
            "task": {
                "uuid": id,
                "time": time,
                "url": url,
                "visibility": "public",
                "method": "api",
                "source": "0a9aface",
                "reportURL": format!("{web}result/{id}/"),
                "screenshotURL": format!("{web}screenshots/{id}.png"),
                "domURL": format!("{web}dom/{id}/"),
            },
            "page": {"url": url, "country": "US", "server": "cloudflare"},
            "lists": {"urls": [url], "countries": ["US"], "certificates": []},
            "data": {"requests": [{"request": {"documentURL": url}}]},
            "verdicts": {
                "overall": {
                    "score": if malicious { 100 } else { 0 },
                    "categories": categories,
                    "brands": [],
                    "tags": tags,
                    "malicious": malicious,
                    "hasVerdicts": malicious,
                },
                "urlscan": {"score": 0, "categories": [], "malicious": false},
                "engines": {"score": 0, "malicious": [], "benign": []},
                "community": {"score": 0, "votes": []},
            },
        })
    }
}

/// A page as a scan records it: its domain, URL and address.
pub fn page(domain: &str, url: &str, ip: &str) -> Value {
    json!({
        "country": "AU",
        "server": "cloudflare",
        "city": "",
        "domain": domain,
        "ip": ip,
        "asnname": "CLOUDFLARENET, US",
        "asn": "AS13335",
        "url": url,
        "ptr": "one.one.one.one",
    })
}

/// One scan of a search's `results`: scan `id` at `time` (`task.time`) of `page`, with
/// urlscan.io's statistics.
pub fn hit(id: &str, time: &str, page: Value) -> Value {
    json!({
        "task": {
            "visibility": "public",
            "method": "api",
            "time": time,
            "source": "api",
            "url": page["url"],
        },
        "stats": {
            "uniqIPs": 1,
            "consoleMsgs": 0,
            "dataLength": 553,
            "encodedDataLength": 684,
            "requests": 1,
        },
        "page": page,
        "uniq_countries": 1,
        "_id": id,
        "result": format!("https://urlscan.io/api/v1/result/{id}"),
    })
}

/// urlscan.io's error body: `{"message", "description", "status"}`.
pub fn error(status: u16, message: &str, description: Option<&str>) -> Reply {
    let mut body = json!({"message": message, "status": status});
    if let Some(description) = description {
        body["description"] = json!(description);
    }
    Reply::json(status, &body)
}

/// urlscan.io's 429, with `Retry-After` when given.
pub fn rate_limited(retry_after: Option<&str>) -> Reply {
    let reply = error(429, RATE_LIMIT_MESSAGE, None);
    match retry_after {
        Some(after) => reply.with_header("retry-after", after),
        None => reply,
    }
}

/// urlscan.io's 401 when the call's key is refused: missing, or one of the refused keys.
fn refused(shared: &Shared, headers: &HeaderMap) -> Option<Reply> {
    let key = headers.get("api-key").and_then(|v| v.to_str().ok());
    let refused = key.is_none_or(|k| shared.refused_keys.lock().unwrap().contains(k));
    refused.then(|| error(401, UNAUTHORIZED_MESSAGE, None))
}

async fn search(
    State(shared): State<Arc<Shared>>,
    Query(query): Query<std::collections::HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    if let Some(refused) = refused(&shared, &headers) {
        return refused.respond().await;
    }
    let q = query.get("q").cloned().unwrap_or_default();
    let reply = shared.searches.get(&q).unwrap_or_else(|| {
        Reply::json(
            200,
            &json!({"results": [], "total": 0, "took": 1, "has_more": false}),
        )
    });
    reply.respond().await
}

async fn result(
    State(shared): State<Arc<Shared>>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    if let Some(refused) = refused(&shared, &headers) {
        return refused.respond().await;
    }
    let reply = shared.results.get(&id).unwrap_or_else(|| {
        error(
            404,
            NOT_FINISHED_MESSAGE,
            Some("The scan has not finished yet or was deleted."),
        )
    });
    reply.respond().await
}

async fn scan(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    let key = headers
        .get("api-key")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    shared.submitted.lock().unwrap().push((key, body.clone()));
    if let Some(refused) = refused(&shared, &headers) {
        return refused.respond().await;
    }
    let url = body["url"].as_str().unwrap_or_default().to_owned();
    if url.is_empty() {
        return error(400, "Missing URL properties", None).respond().await;
    }
    let reply = shared.scans.get(&url).unwrap_or_else(|| {
        let (api, web) = shared.urls.lock().unwrap().clone();
        let uuid = "0196d976-07f6-7aae-8a57-aa019145f31c";
        Reply::json(
            200,
            &json!({
                "message": "Submission successful",
                "uuid": uuid,
                "result": format!("{web}result/{uuid}/"),
                "api": format!("{api}result/{uuid}/"),
                "visibility": body["visibility"],
                "url": url,
            }),
        )
    });
    reply.respond().await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn it_answers_as_urlscan_does_and_records_the_calls() {
        let standin = StandIn::start().await;
        let q = "page.ip:\"1.1.1.1\"";
        standin.search(
            q,
            vec![hit(
                "a",
                "2020-01-01T00:00:00.000Z",
                page("d", "u", "1.1.1.1"),
            )],
        );
        let body = standin.result_body(
            "a",
            "2020-01-01T00:00:00.000Z",
            "u",
            true,
            &["phishing"],
            &["phishing"],
        );
        standin.result("a", &body);
        let client = reqwest::Client::new();
        let get = |url: String| client.get(url).header("API-Key", "k").send();
        let found: Value = get(format!(
            "{}search?q={}",
            standin.api_url(),
            "page.ip%3A%221.1.1.1%22"
        ))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
        assert_eq!(found["results"][0]["_id"], "a");
        let read = get(format!("{}result/a/", standin.api_url()))
            .await
            .unwrap();
        assert_eq!(read.status(), 200);
        let running = get(format!("{}result/b", standin.api_url())).await.unwrap();
        assert_eq!(running.status(), 404);
        let submitted = client
            .post(format!("{}scan", standin.api_url()))
            .json(&json!({"url": "https://x.example/", "visibility": "public"}))
            .send()
            .await
            .unwrap();
        assert_eq!(submitted.status(), 401, "no key");
        assert_eq!(standin.searches_of(q), 1);
        assert_eq!(standin.result_reads_of("a"), 1);
        assert_eq!(standin.result_reads_of("b"), 1);
        assert_eq!(standin.submissions()[0].1["url"], "https://x.example/");
        assert_eq!(standin.most_in_flight(), 1);
    }
}
