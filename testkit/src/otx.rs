//! A local AlienVault OTX stand-in on the generic [`standin`] (127.0.0.1, an ephemeral port,
//! every request recorded), serving what the OTX relay calls: an observable's
//! `GET /api/v1/indicators/{section}/{value}/general`, a pulse's indicator pages
//! `GET /api/v1/pulses/{id}/indicators?page=N&limit=L`, `GET /api/v1/user/me`, and, for
//! configuration tokens, a key server's `GET /.well-known/jwks`.
//!
//! Tests add [`Pulse`]s (their indicators, in the order the pages list them, and how many a
//! page holds at most); an observable's `general` answer lists every pulse that holds it, with
//! OTX's `base_indicator` and each pulse's `indicator_type_counts`. Any answer can be replaced
//! ([`StandIn::set`]: a status, a slow answer, one that never comes), keys refused (403), and
//! every call read back. No network beyond 127.0.0.1.
//!
//! Used by relay-otx's integration tests, its bench and its `standin` example.

use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::routing::get;
use serde_json::{Value, json};

use crate::standin::{self, Jwks, Reply, Scenarios};

/// One indicator of a pulse.
#[derive(Debug, Clone)]
pub struct Indicator {
    /// `indicator`: the value.
    pub value: String,
    /// `type`: OTX's type (`IPv4`, `domain`, `URL`, `FileHash-SHA256`, `hostname`...).
    pub kind: String,
    /// `created`, as OTX writes it (`2020-01-01T00:00:00`).
    pub created: String,
    /// `expiration` (null when `None`).
    pub expiration: Option<String>,
}

/// A pulse: what its `general` entry says, and its indicators.
#[derive(Debug, Clone)]
pub struct Pulse {
    /// `id`.
    pub id: String,
    /// `name`.
    pub name: String,
    /// `description` (a string, or null).
    pub description: Value,
    /// `author.username`.
    pub author: String,
    /// `tags`.
    pub tags: Vec<String>,
    /// `TLP`.
    pub tlp: String,
    /// Its indicators, in the order its pages list them.
    pub indicators: Vec<Indicator>,
    /// Most indicators a page holds, whatever `limit` asks (OTX may send fewer).
    pub page_size: usize,
}

impl Pulse {
    /// A pulse `id` without indicators: name `Pulse {id}`, a description, author `JoriQ`,
    /// TLP `white`, pages of 10,000.
    pub fn new(id: &str) -> Self {
        Self {
            id: id.to_owned(),
            name: format!("Pulse {id}"),
            description: json!(format!("What pulse {id} is about.")),
            author: "JoriQ".to_owned(),
            tags: vec!["otx".to_owned(), "test".to_owned()],
            tlp: "white".to_owned(),
            indicators: Vec::new(),
            page_size: 10_000,
        }
    }

    /// The same pulse with an indicator of OTX's `kind` added, created at `created`.
    pub fn with(mut self, kind: &str, value: &str, created: &str) -> Self {
        self.indicators.push(Indicator {
            value: value.to_owned(),
            kind: kind.to_owned(),
            created: created.to_owned(),
            expiration: None,
        });
        self
    }

    /// The same pulse with `count` other indicators (`filler-N.example`, domains) added.
    pub fn filler(mut self, count: usize) -> Self {
        for n in 0..count {
            self.indicators.push(Indicator {
                value: format!("filler-{n}.example"),
                kind: "domain".to_owned(),
                created: "2019-01-01T00:00:00".to_owned(),
                expiration: None,
            });
        }
        self
    }

    /// The pulse's entry in a `general` answer.
    fn general(&self) -> Value {
        let mut counts: HashMap<&str, usize> = HashMap::new();
        for indicator in &self.indicators {
            *counts.entry(&indicator.kind).or_default() += 1;
        }
        json!({
            "id": self.id,
            "name": self.name,
            "description": self.description,
            "modified": "2020-06-01T00:00:00.000000",
            "created": "2020-01-01T00:00:00.000000",
            "tags": self.tags,
            "references": [],
            "public": 1,
            "adversary": "",
            "targeted_countries": [],
            "malware_families": [],
            "attack_ids": [],
            "industries": [],
            "TLP": self.tlp,
            "author": {"username": self.author, "id": "1", "avatar_url": "", "is_subscribed": false, "is_following": false},
            "indicator_type_counts": counts,
            "indicator_count": self.indicators.len(),
        })
    }
}

/// OTX's indicator type of a value looked up in `section`.
fn base_type(section: &str, value: &str) -> &'static str {
    match section {
        "IPv4" => "IPv4",
        "IPv6" => "IPv6",
        "domain" => "domain",
        "hostname" => "hostname",
        "url" => "URL",
        "file" => match value.len() {
            32 => "FileHash-MD5",
            40 => "FileHash-SHA1",
            _ => "FileHash-SHA256",
        },
        _ => "",
    }
}

/// One call the stand-in received.
#[derive(Debug, Clone)]
pub struct Seen {
    /// The path as sent (percent-encoded), e.g. `/api/v1/indicators/domain/a.example/general`.
    pub path: String,
    /// Every query parameter.
    pub query: HashMap<String, String>,
    /// The `X-OTX-API-KEY` header.
    pub key: Option<String>,
    /// The `User-Agent` header.
    pub user_agent: Option<String>,
}

const API: &str = "/api/v1";

/// What the handlers read: the pulses, the replies that replace answers, the refused keys.
#[derive(Default)]
struct Shared {
    pulses: Mutex<Vec<Pulse>>,
    replies: Scenarios<Reply>,
    refused_keys: Mutex<HashSet<String>>,
}

/// The stand-in, serving until dropped: OTX's routes on [`standin::StandIn`].
pub struct StandIn {
    /// Where it listens.
    pub address: SocketAddr,
    shared: Arc<Shared>,
    jwks: Jwks,
    server: standin::StandIn,
}

impl StandIn {
    /// Starts a stand-in on 127.0.0.1 (on the calling runtime), without pulses: every
    /// observable's `general` answer lists none until a pulse holds it. Every key but the
    /// refused ones is accepted.
    pub async fn start() -> Self {
        Self::start_on(0).await
    }

    /// The same on 127.0.0.1:`port` (0: an ephemeral port).
    pub async fn start_on(port: u16) -> Self {
        let shared = Arc::new(Shared::default());
        let jwks = Jwks::default();
        let router = Router::new()
            .route(
                &format!("{API}/indicators/{{section}}/{{value}}/general"),
                get(general),
            )
            .route(&format!("{API}/pulses/{{id}}/indicators"), get(page))
            .route(&format!("{API}/user/me"), get(me))
            .fallback(|| async {
                (
                    StatusCode::NOT_FOUND,
                    axum::Json(json!({"detail": "Not found."})),
                )
            })
            .with_state(Arc::clone(&shared));
        let server = standin::StandIn::start_on(port, jwks.route(router)).await;
        Self {
            address: server.address,
            shared,
            jwks,
            server,
        }
    }

    /// `http://127.0.0.1:PORT/api/v1/`: the relay's `OTX_API_URL`.
    pub fn api_url(&self) -> String {
        format!("{}api/v1/", self.server.url())
    }

    /// `http://127.0.0.1:PORT/`: the relay's `OTX_WEB_URL`.
    pub fn web_url(&self) -> String {
        self.server.url()
    }

    /// `127.0.0.1:PORT`, what a configuration token names as its `jwks_host`.
    pub fn host(&self) -> String {
        self.address.to_string()
    }

    /// Adds `pulse` (after the pulses added before it, in `general` answers).
    pub fn pulse(&self, pulse: Pulse) {
        self.shared.pulses.lock().unwrap().push(pulse);
    }

    /// Answers the `general` call of `value` (as decoded from the path) with `reply`.
    pub fn general(&self, value: &str, reply: Reply) {
        self.shared.replies.set(&format!("general:{value}"), reply);
    }

    /// Answers page `page` of the pulse `id` with `reply` (page 0: every page of it).
    pub fn page(&self, id: &str, page: usize, reply: Reply) {
        self.shared.replies.set(&format!("page:{id}:{page}"), reply);
    }

    /// Answers `user/me` with `reply`.
    pub fn me(&self, reply: Reply) {
        self.shared.replies.set("me", reply);
    }

    /// Refuses `key` with OTX's 403 on every route.
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

    /// Every call to OTX's API received, in order.
    pub fn calls(&self) -> Vec<Seen> {
        self.server
            .seen()
            .into_iter()
            .filter(|s| s.path.starts_with(API))
            .map(|seen| Seen {
                key: seen.header("x-otx-api-key"),
                user_agent: seen.header("user-agent"),
                path: seen.path,
                query: seen.query,
            })
            .collect()
    }

    /// The `general` calls received, their paths after `/api/v1/indicators/`.
    pub fn generals(&self) -> Vec<String> {
        self.calls()
            .into_iter()
            .filter_map(|c| {
                c.path
                    .strip_prefix("/api/v1/indicators/")
                    .map(str::to_owned)
            })
            .collect()
    }

    /// The pages of pulse `id` asked for, in order.
    pub fn pages_of(&self, id: &str) -> Vec<usize> {
        let path = format!("{API}/pulses/{id}/indicators");
        self.calls()
            .into_iter()
            .filter(|c| c.path == path)
            .map(|c| {
                c.query
                    .get("page")
                    .and_then(|p| p.parse().ok())
                    .unwrap_or(0)
            })
            .collect()
    }

    /// The most calls to `path` in flight at once so far.
    pub fn most_in_flight(&self, path: &str) -> usize {
        self.server.most_in_flight(path)
    }

    /// Forgets the calls received and the most in flight.
    pub fn reset_counts(&self) {
        self.server.reset_counts();
    }
}

/// OTX's 403 for a key it does not know, or a missing one.
fn refused(shared: &Shared, headers: &HeaderMap) -> Option<Reply> {
    let key = headers.get("x-otx-api-key").and_then(|v| v.to_str().ok());
    let refused = key.is_none_or(|k| shared.refused_keys.lock().unwrap().contains(k));
    refused.then(|| Reply::json(403, &json!({"detail": "Authentication required"})))
}

async fn general(
    State(shared): State<Arc<Shared>>,
    Path((section, value)): Path<(String, String)>,
    headers: HeaderMap,
) -> Response {
    if let Some(reply) = refused(&shared, &headers) {
        return reply.respond().await;
    }
    if let Some(reply) = shared.replies.get(&format!("general:{value}")) {
        return reply.respond().await;
    }
    let pulses: Vec<Value> = shared
        .pulses
        .lock()
        .unwrap()
        .iter()
        .filter(|p| p.indicators.iter().any(|i| i.value == value))
        .map(Pulse::general)
        .collect();
    let kind = base_type(&section, &value);
    let body = json!({
        "sections": ["general", "geo", "malware", "url_list", "passive_dns"],
        "indicator": value,
        "type": kind,
        "type_title": kind,
        "base_indicator": {"id": 1, "indicator": value, "type": kind, "title": "", "description": "", "content": "", "access_type": "public", "access_reason": ""},
        "pulse_info": {"count": pulses.len(), "pulses": pulses, "references": [], "related": {}},
        "false_positive": [],
        "validation": [],
    });
    Reply::json(200, &body).respond().await
}

async fn page(
    State(shared): State<Arc<Shared>>,
    Path(id): Path<String>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    if let Some(reply) = refused(&shared, &headers) {
        return reply.respond().await;
    }
    let number: usize = query.get("page").and_then(|p| p.parse().ok()).unwrap_or(1);
    for key in [format!("page:{id}:{number}"), format!("page:{id}:0")] {
        if let Some(reply) = shared.replies.get(&key) {
            return reply.respond().await;
        }
    }
    let pulse = shared
        .pulses
        .lock()
        .unwrap()
        .iter()
        .find(|p| p.id == id)
        .cloned();
    let Some(pulse) = pulse else {
        return Reply::json(404, &json!({"detail": "Not found."}))
            .respond()
            .await;
    };
    let asked: usize = query
        .get("limit")
        .and_then(|l| l.parse().ok())
        .unwrap_or(10);
    let size = asked.min(pulse.page_size).max(1);
    let start = (number.max(1) - 1).saturating_mul(size);
    let results: Vec<Value> = pulse
        .indicators
        .iter()
        .enumerate()
        .skip(start)
        .take(size)
        .map(|(n, i)| {
            json!({
                "id": n + 1,
                "indicator": i.value,
                "type": i.kind,
                "created": i.created,
                "expiration": i.expiration,
                "is_active": 1,
                "title": "",
                "description": "",
                "content": "",
                "role": null,
                "pulse_key": pulse.id,
            })
        })
        .collect();
    let more = start + size < pulse.indicators.len();
    let next = more.then(|| {
        format!(
            "https://otx.alienvault.com/api/v1/pulses/{id}/indicators?limit={size}&page={}",
            number + 1
        )
    });
    let body = json!({
        "count": pulse.indicators.len(),
        "next": next,
        "previous": null,
        "results": results,
    });
    Reply::json(200, &body).respond().await
}

async fn me(State(shared): State<Arc<Shared>>, headers: HeaderMap) -> Response {
    if let Some(reply) = refused(&shared, &headers) {
        return reply.respond().await;
    }
    let reply = shared.replies.get("me").unwrap_or_else(|| {
        Reply::json(
            200,
            &json!({"username": "relay-tests", "member_since": "2020-01-01", "pulse_count": 0}),
        )
    });
    reply.respond().await
}
