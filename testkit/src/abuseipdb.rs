//! A local AbuseIPDB stand-in on the generic [`standin`] (127.0.0.1, an
//! ephemeral port, every request recorded), serving `GET /api/v2/check`, the categories page
//! `GET /categories` and, for configuration tokens, a key server's `GET /.well-known/jwks`:
//! only AbuseIPDB's routes and bodies are its own. Tests and the bench set what it answers per address
//! ([`Scenario`]) and for the page ([`Page`]), a delay for every call, and read back what it was
//! asked. No network beyond 127.0.0.1.
//!
//! Used by relay-abuseipdb's integration tests, its bench and its `standin` example.

use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::routing::get;
use serde_json::{Value, json};

use crate::standin::{self, Jwks, Reply, Scenarios};

/// AbuseIPDB's words for a key it does not know.
pub const UNAUTHORIZED_DETAIL: &str = "Authentication failed. You are either missing your API key or it is incorrect. Note: The APIv2 key differs from the APIv1 key.";
/// AbuseIPDB's words for a spent daily quota.
pub const RATE_LIMIT_DETAIL: &str = "Daily rate limit of 1000 requests exceeded for this endpoint. See headers for additional details.";

/// What the stand-in answers a check of one address.
#[derive(Debug, Clone)]
pub enum Scenario {
    /// 200 with `{"data": …}` (the address is added as `ipAddress` when missing).
    Data(Value),
    /// `status` with an AbuseIPDB error body (`{"errors": [{"detail", "status"}]}`), and a
    /// `Retry-After` header when given.
    Error {
        status: u16,
        detail: Option<String>,
        retry_after: Option<String>,
    },
    /// `status` with this body, as `content_type`.
    Raw {
        status: u16,
        content_type: &'static str,
        body: String,
    },
    /// The scenario, after a wait.
    Slow(Duration, Box<Scenario>),
    /// Accepts and never answers.
    Hang,
}

impl Scenario {
    /// An AbuseIPDB error of `status` with `detail`.
    pub fn error(status: u16, detail: &str) -> Self {
        Self::Error {
            status,
            detail: Some(detail.to_owned()),
            retry_after: None,
        }
    }
}

/// What the stand-in answers for the categories page.
#[derive(Debug, Clone)]
pub enum Page {
    /// 200 with this HTML.
    Html(String),
    /// This status, no page.
    Status(u16),
    /// The page, after a wait.
    Slow(Duration, String),
    /// Accepts and never answers.
    Hang,
}

/// One check the stand-in received.
#[derive(Debug, Clone)]
pub struct Seen {
    /// `ipAddress`.
    pub ip: String,
    /// Every query parameter.
    pub query: HashMap<String, String>,
    /// The `Key` header.
    pub key: Option<String>,
    /// The `Accept` header.
    pub accept: Option<String>,
    /// The `User-Agent` header.
    pub user_agent: Option<String>,
}

const CHECK: &str = "/api/v2/check";
const PAGE: &str = "/categories";

/// What the handlers read: the scenarios per address, the refused keys, the page.
#[derive(Default)]
struct Shared {
    scenarios: Scenarios<Scenario>,
    refused_keys: Mutex<HashSet<String>>,
    page: Mutex<Option<Page>>,
}

/// The stand-in, serving until dropped: AbuseIPDB's routes on [`standin::StandIn`].
pub struct StandIn {
    /// Where it listens.
    pub address: SocketAddr,
    shared: Arc<Shared>,
    jwks: Jwks,
    server: standin::StandIn,
}

impl StandIn {
    /// Starts a stand-in on 127.0.0.1 (on the calling runtime): every address scores 0 with no
    /// reports until a scenario says otherwise, the categories page is [`categories_page`] of
    /// the built-in categories, every key but the refused ones is accepted.
    pub async fn start() -> Self {
        Self::start_on(0).await
    }

    /// The same on 127.0.0.1:`port` (0: an ephemeral port).
    pub async fn start_on(port: u16) -> Self {
        let shared = Arc::new(Shared::default());
        *shared.page.lock().unwrap() = Some(Page::Html(categories_page(&published())));
        let jwks = Jwks::default();
        let router = Router::new()
            .route(CHECK, get(check))
            .route(PAGE, get(page))
            .fallback(|| async {
                (
                    StatusCode::NOT_FOUND,
                    axum::Json(json!({"errors": [{"detail": "Not found.", "status": 404}]})),
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

    /// `http://127.0.0.1:PORT/api/v2/`: the relay's `ABUSEIPDB_API_URL`.
    pub fn api_url(&self) -> String {
        format!("{}api/v2/", self.server.url())
    }

    /// `http://127.0.0.1:PORT/`: the relay's `ABUSEIPDB_WEB_URL`.
    pub fn web_url(&self) -> String {
        self.server.url()
    }

    /// `127.0.0.1:PORT`, what a configuration token names as its `jwks_host`.
    pub fn host(&self) -> String {
        self.address.to_string()
    }

    /// Answers checks of `ip` with `scenario`.
    pub fn set(&self, ip: &str, scenario: Scenario) {
        self.shared.scenarios.set(ip, scenario);
    }

    /// Answers checks of `ip` with `data` (the object under `"data"`).
    pub fn data(&self, ip: &str, data: Value) {
        self.set(ip, Scenario::Data(data));
    }

    /// Refuses `key` with AbuseIPDB's 401.
    pub fn refuse_key(&self, key: &str) {
        self.shared
            .refused_keys
            .lock()
            .unwrap()
            .insert(key.to_owned());
    }

    /// Answers the categories page with `page`.
    pub fn page(&self, page: Page) {
        *self.shared.page.lock().unwrap() = Some(page);
    }

    /// Waits `delay` before every answer (checks and the page).
    pub fn delay(&self, delay: Duration) {
        self.server.delay(delay);
    }

    /// Publishes `keys` (JWKs) at `/.well-known/jwks`.
    pub fn publish_keys(&self, keys: Vec<Value>) {
        self.jwks.publish(keys);
    }

    /// Every check received, in order.
    pub fn checks(&self) -> Vec<Seen> {
        self.server
            .seen_at(CHECK)
            .into_iter()
            .map(|seen| Seen {
                ip: seen.query.get("ipAddress").cloned().unwrap_or_default(),
                key: seen.header("key"),
                accept: seen.header("accept"),
                user_agent: seen.header("user-agent"),
                query: seen.query,
            })
            .collect()
    }

    /// How many checks of `ip` were received.
    pub fn checks_of(&self, ip: &str) -> usize {
        self.checks().iter().filter(|c| c.ip == ip).count()
    }

    /// How many times the categories page was asked for.
    pub fn page_reads(&self) -> usize {
        self.server.seen_at(PAGE).len()
    }

    /// The most checks in flight at once so far.
    pub fn most_in_flight(&self) -> usize {
        self.server.most_in_flight(CHECK)
    }

    /// Forgets the checks received and the most in flight.
    pub fn reset_counts(&self) {
        self.server.reset_counts();
    }
}

async fn check(
    State(shared): State<Arc<Shared>>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    let ip = query.get("ipAddress").cloned().unwrap_or_default();
    let key = headers.get("key").and_then(|v| v.to_str().ok());
    let refused = key.is_none_or(|k| shared.refused_keys.lock().unwrap().contains(k));
    if refused {
        return reply(Scenario::error(401, UNAUTHORIZED_DETAIL), &ip)
            .respond()
            .await;
    }
    let scenario = shared.scenarios.get(&ip);
    let scenario = scenario.unwrap_or_else(|| Scenario::Data(json!({"abuseConfidenceScore": 0})));
    reply(scenario, &ip).respond().await
}

/// The reply of `scenario` for `ip`: AbuseIPDB's bodies.
fn reply(scenario: Scenario, ip: &str) -> Reply {
    match scenario {
        Scenario::Slow(wait, then) => Reply::Slow(wait, Box::new(reply(*then, ip))),
        Scenario::Hang => Reply::Hang,
        Scenario::Data(mut data) => {
            if let Some(object) = data.as_object_mut() {
                object
                    .entry("ipAddress")
                    .or_insert_with(|| Value::String(ip.to_owned()));
            }
            Reply::json(200, &json!({ "data": data }))
        }
        Scenario::Error {
            status,
            detail,
            retry_after,
        } => {
            let body = match detail {
                Some(detail) => json!({"errors": [{"detail": detail, "status": status}]}),
                None => json!({}),
            };
            let reply = Reply::json(status, &body);
            match retry_after {
                Some(after) => reply.with_header("retry-after", &after),
                None => reply,
            }
        }
        Scenario::Raw {
            status,
            content_type,
            body,
        } => Reply::raw(status, content_type, body),
    }
}

async fn page(State(shared): State<Arc<Shared>>) -> Response {
    let page = shared.page.lock().unwrap().clone();
    let reply = match page {
        Some(Page::Html(text)) => Reply::raw(200, standin::HTML, text),
        Some(Page::Slow(wait, text)) => {
            Reply::Slow(wait, Box::new(Reply::raw(200, standin::HTML, text)))
        }
        Some(Page::Status(status)) => Reply::raw(status, "text/plain", ""),
        Some(Page::Hang) => Reply::Hang,
        None => Reply::raw(404, "text/plain", ""),
    };
    reply.respond().await
}

/// AbuseIPDB's published categories, as its page lists them: (id, title, description).
pub fn published() -> Vec<(u64, String, String)> {
    let rows: [(u64, &str, &str); 6] = [
        (
            14,
            "Port Scan",
            "Scanning for open ports and vulnerable services.",
        ),
        (15, "Hacking", ""),
        (
            18,
            "Brute-Force",
            "Credential brute-force attacks on webpage logins and services like SSH, FTP, SIP, SMTP, RDP, etc. This category is seperate from DDoS attacks.",
        ),
        (
            20,
            "Exploited Host",
            "Host is likely infected with malware and being used for other attacks or to host malicious content. The host owner may not be aware of the compromise. This category is often used in combination with other attack categories.",
        ),
        (
            21,
            "Web App Attack",
            "Attempts to probe for or exploit installed web applications such as a CMS like WordPress/Drupal, e-commerce solutions, forum software, phpMyAdmin and various other software plugins/solutions.",
        ),
        (
            22,
            "SSH",
            "Secure Shell (SSH) abuse. Use this category in combination with more specific categories.",
        ),
    ];
    rows.iter()
        .map(|&(id, title, description)| (id, title.to_owned(), description.to_owned()))
        .collect()
}

/// A categories page in the shape of AbuseIPDB's: navigation first, then a table whose header
/// row is `<th>` and whose rows are id, title, description.
pub fn categories_page(rows: &[(u64, String, String)]) -> String {
    let mut html = String::from(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><title>Report Categories - AbuseIPDB</title></head>\n<body>\n\
         <nav><ul><li><a href=\"/\">Home</a></li><li><a href=\"/categories\">Categories</a></li></ul></nav>\n\
         <div class=\"container\"><h1>Report Categories</h1>\n\
         <table class=\"table table-striped\">\n<thead><tr><th>ID</th><th>Title</th><th>Description</th></tr></thead>\n<tbody>\n",
    );
    for (id, title, description) in rows {
        html.push_str(&format!(
            "<tr>\n  <td>{id}</td>\n  <td>{title}</td>\n  <td>{description}</td>\n</tr>\n"
        ));
    }
    html.push_str("</tbody></table></div></body></html>\n");
    html
}

/// A report of AbuseIPDB's `reports` list.
pub fn report(reported_at: &str, comment: Value, categories: Value) -> Value {
    json!({
        "reportedAt": reported_at,
        "comment": comment,
        "categories": categories,
        "reporterId": 38609,
        "reporterCountryCode": "US",
        "reporterCountryName": "United States of America",
    })
}

/// The `data` of a verbose check: `score`, `domain`, `reports`.
pub fn data(score: i64, domain: Option<&str>, reports: Vec<Value>) -> Value {
    json!({
        "isPublic": true,
        "ipVersion": 4,
        "isWhitelisted": false,
        "abuseConfidenceScore": score,
        "countryCode": "CN",
        "usageType": null,
        "isp": "ChinaNet Jiangsu Province Network",
        "domain": domain,
        "countryName": "China",
        "totalReports": reports.len(),
        "numDistinctUsers": reports.len(),
        "lastReportedAt": reports.first().map(|r| r["reportedAt"].clone()),
        "reports": reports,
    })
}
