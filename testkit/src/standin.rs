//! A generic upstream stand-in: any axum [`Router`] served on 127.0.0.1 (an ephemeral port)
//! behind a layer that records every request (method, path, query, headers), counts the
//! requests in flight per path and the most at once, and waits a set delay before answering;
//! [`Scenarios`] keeps what to answer per key (an address, a domain), [`Reply`] is an answer,
//! a slow one or one that never comes, and [`Jwks`] serves a key set as a Cisco XDR key server
//! does. A stand-in of one upstream (`abuseipdb`) is its routes and its bodies on these.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderName, HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::{Value, json};

/// One request the stand-in received.
#[derive(Debug, Clone)]
pub struct Seen {
    /// `GET`, `POST`...
    pub method: String,
    /// The path, e.g. `/api/v2/check`.
    pub path: String,
    /// Every query parameter (the last of a repeated one).
    pub query: HashMap<String, String>,
    /// Every header, by lowercase name (the last of a repeated one).
    pub headers: HashMap<String, String>,
}

impl Seen {
    /// The header `name` (lowercase).
    pub fn header(&self, name: &str) -> Option<String> {
        self.headers.get(name).cloned()
    }
}

/// The key of [`Recorder::in_flight`] and [`Recorder::most_in_flight`] counting every path.
const EVERY_PATH: &str = "*";

/// What the stand-in records, shared with its layer.
#[derive(Default)]
struct Recorder {
    seen: Mutex<Vec<Seen>>,
    in_flight: Mutex<HashMap<String, usize>>,
    most_in_flight: Mutex<HashMap<String, usize>>,
    delay: Mutex<Duration>,
}

/// A router served on 127.0.0.1 until dropped, every request recorded.
pub struct StandIn {
    /// Where it listens.
    pub address: SocketAddr,
    recorder: Arc<Recorder>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for StandIn {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl StandIn {
    /// Serves `router` on 127.0.0.1 (an ephemeral port), on the calling runtime.
    pub async fn start(router: Router) -> Self {
        Self::start_on(0, router).await
    }

    /// The same on 127.0.0.1:`port` (0: an ephemeral port).
    pub async fn start_on(port: u16, router: Router) -> Self {
        let recorder = Arc::new(Recorder::default());
        let app = router.layer(middleware::from_fn_with_state(
            Arc::clone(&recorder),
            record,
        ));
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
            .await
            .unwrap_or_else(|e| panic!("cannot listen on 127.0.0.1:{port}: {e}"));
        let address = listener.local_addr().unwrap();
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Self {
            address,
            recorder,
            task,
        }
    }

    /// `http://127.0.0.1:PORT/`.
    pub fn url(&self) -> String {
        format!("http://{}/", self.address)
    }

    /// Waits `delay` before answering every request.
    pub fn delay(&self, delay: Duration) {
        *self.recorder.delay.lock().unwrap() = delay;
    }

    /// Every request received, in order.
    pub fn seen(&self) -> Vec<Seen> {
        self.recorder.seen.lock().unwrap().clone()
    }

    /// The requests received for `path`, in order.
    pub fn seen_at(&self, path: &str) -> Vec<Seen> {
        self.seen().into_iter().filter(|s| s.path == path).collect()
    }

    /// The most requests for `path` in flight at once so far.
    pub fn most_in_flight(&self, path: &str) -> usize {
        let most = self.recorder.most_in_flight.lock().unwrap();
        most.get(path).copied().unwrap_or(0)
    }

    /// The most requests in flight at once so far, whatever their paths (calls whose paths
    /// name what they ask for, `/result/{id}`).
    pub fn most_in_flight_at_once(&self) -> usize {
        self.most_in_flight(EVERY_PATH)
    }

    /// Forgets the requests received and the most in flight.
    pub fn reset_counts(&self) {
        self.recorder.seen.lock().unwrap().clear();
        self.recorder.most_in_flight.lock().unwrap().clear();
    }
}

/// Counts a request for a path in flight until dropped (also when the client gives up and the
/// answer is dropped unfinished).
struct InFlight(Arc<Recorder>, String);

impl InFlight {
    /// Counts a request for `path`, and one for every path ([`EVERY_PATH`]) with it.
    fn start(recorder: &Arc<Recorder>, path: &str) -> [Self; 2] {
        [path, EVERY_PATH].map(|key| Self::start_one(recorder, key))
    }

    fn start_one(recorder: &Arc<Recorder>, path: &str) -> Self {
        let now = {
            let mut in_flight = recorder.in_flight.lock().unwrap();
            let now = in_flight.entry(path.to_owned()).or_default();
            *now += 1;
            *now
        };
        let mut most = recorder.most_in_flight.lock().unwrap();
        let most = most.entry(path.to_owned()).or_default();
        *most = (*most).max(now);
        Self(Arc::clone(recorder), path.to_owned())
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        if let Some(now) = self.0.in_flight.lock().unwrap().get_mut(&self.1) {
            *now -= 1;
        }
    }
}

async fn record(State(recorder): State<Arc<Recorder>>, request: Request, next: Next) -> Response {
    let path = request.uri().path().to_owned();
    let query = axum::extract::Query::<HashMap<String, String>>::try_from_uri(request.uri())
        .map(|q| q.0)
        .unwrap_or_default();
    let headers = request
        .headers()
        .iter()
        .filter_map(|(name, value)| {
            Some((name.as_str().to_owned(), value.to_str().ok()?.to_owned()))
        })
        .collect();
    recorder.seen.lock().unwrap().push(Seen {
        method: request.method().to_string(),
        path: path.clone(),
        query,
        headers,
    });
    let _in_flight = InFlight::start(&recorder, &path);
    let delay = *recorder.delay.lock().unwrap();
    if !delay.is_zero() {
        tokio::time::sleep(delay).await;
    }
    next.run(request).await
}

/// What to answer, per key (an address, a domain, a page): set by the test, read by the
/// stand-in's handlers.
#[derive(Debug)]
pub struct Scenarios<S> {
    by_key: Mutex<HashMap<String, S>>,
}

impl<S> Default for Scenarios<S> {
    fn default() -> Self {
        Self {
            by_key: Mutex::default(),
        }
    }
}

impl<S: Clone> Scenarios<S> {
    /// Answers `key` with `scenario`.
    pub fn set(&self, key: &str, scenario: S) {
        self.by_key.lock().unwrap().insert(key.to_owned(), scenario);
    }

    /// The scenario of `key`, when one is set.
    pub fn get(&self, key: &str) -> Option<S> {
        self.by_key.lock().unwrap().get(key).cloned()
    }
}

/// An answer: now, after a wait, or never.
#[derive(Debug, Clone)]
pub enum Reply {
    /// `status`, these headers and this body.
    Answer {
        /// The status.
        status: u16,
        /// Headers (name, value).
        headers: Vec<(&'static str, String)>,
        /// The body.
        body: Vec<u8>,
    },
    /// The reply, after a wait.
    Slow(Duration, Box<Reply>),
    /// Accepts and never answers.
    Hang,
}

impl Reply {
    /// `status` with a JSON body.
    pub fn json(status: u16, body: &Value) -> Self {
        Self::Answer {
            status,
            headers: vec![("content-type", "application/json".to_owned())],
            body: body.to_string().into_bytes(),
        }
    }

    /// `status` with `body` as `content_type`.
    pub fn raw(status: u16, content_type: &str, body: impl Into<Vec<u8>>) -> Self {
        Self::Answer {
            status,
            headers: vec![("content-type", content_type.to_owned())],
            body: body.into(),
        }
    }

    /// The same reply with a header added.
    pub fn with_header(mut self, name: &'static str, value: &str) -> Self {
        if let Self::Answer { headers, .. } = &mut self {
            headers.push((name, value.to_owned()));
        }
        self
    }

    /// The response, once its wait is over (never, for [`Reply::Hang`]).
    pub async fn respond(mut self) -> Response {
        loop {
            match self {
                Self::Slow(wait, then) => {
                    tokio::time::sleep(wait).await;
                    self = *then;
                }
                Self::Hang => std::future::pending::<()>().await,
                Self::Answer {
                    status,
                    headers,
                    body,
                } => {
                    let mut response = Response::new(Body::from(body));
                    *response.status_mut() = StatusCode::from_u16(status).unwrap();
                    for (name, value) in headers {
                        response.headers_mut().insert(
                            HeaderName::from_static(name),
                            HeaderValue::from_str(&value).unwrap(),
                        );
                    }
                    return response;
                }
            }
        }
    }
}

/// A key set served as a Cisco XDR key server serves it (`GET /.well-known/jwks`), for
/// configuration tokens.
#[derive(Debug, Clone)]
pub struct Jwks(Arc<Mutex<Value>>);

impl Default for Jwks {
    fn default() -> Self {
        Self(Arc::new(Mutex::new(json!({"keys": []}))))
    }
}

impl Jwks {
    /// Publishes `keys` (JWKs).
    pub fn publish(&self, keys: Vec<Value>) {
        *self.0.lock().unwrap() = json!({ "keys": keys });
    }

    /// `router` with `GET /.well-known/jwks` serving the key set.
    pub fn route(&self, router: Router) -> Router {
        let keys = Arc::clone(&self.0);
        router.route(
            "/.well-known/jwks",
            get(move || {
                let keys = keys.lock().unwrap().clone();
                async move { axum::Json(keys).into_response() }
            }),
        )
    }
}

/// The content type of an HTML page.
pub const HTML: &str = "text/html; charset=UTF-8";

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn requests_are_recorded_and_replies_played() {
        let scenarios: Arc<Scenarios<Reply>> = Arc::default();
        scenarios.set(
            "a",
            Reply::json(201, &json!({"ok": true})).with_header("retry-after", "5"),
        );
        let shared = Arc::clone(&scenarios);
        let jwks = Jwks::default();
        jwks.publish(vec![json!({"kid": "k"})]);
        let router = jwks.route(Router::new().route(
            "/item",
            get(
                move |axum::extract::Query(q): axum::extract::Query<HashMap<String, String>>| {
                    let reply = shared.get(q.get("key").map_or("", String::as_str));
                    async move {
                        reply
                            .unwrap_or(Reply::raw(404, "text/plain", "no"))
                            .respond()
                            .await
                    }
                },
            ),
        ));
        let standin = StandIn::start(router).await;
        let client = reqwest::Client::new();
        let answer = client
            .get(format!("{}item?key=a&x=%41+b", standin.url()))
            .header("Key", "s")
            .send()
            .await
            .unwrap();
        assert_eq!(answer.status(), 201);
        assert_eq!(answer.headers()["retry-after"], "5");
        let keys = crate::http::get_json(&format!("{}.well-known/jwks", standin.url())).await;
        assert_eq!(keys["keys"][0]["kid"], "k");
        let seen = standin.seen_at("/item");
        assert_eq!(seen.len(), 1);
        assert_eq!(seen[0].query["x"], "A b");
        assert_eq!(seen[0].header("key").as_deref(), Some("s"));
        assert_eq!(standin.most_in_flight("/item"), 1);
        assert_eq!(standin.most_in_flight_at_once(), 1);
        standin.reset_counts();
        assert!(standin.seen().is_empty());
    }
}
