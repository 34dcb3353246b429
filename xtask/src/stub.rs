//! A local stand-in for the Auth0 Signals API: realistic, deterministic answers for any IP.
//!
//! Used by `cargo xtask demo` and `cargo xtask bench`. Every IP gets a report derived from
//! its bytes, so any number of distinct IPs can be asked about; a few well-known documentation
//! addresses have hand-picked reports for the demo. Lists cover both kinds, every sensitivity,
//! and public as well as non-public visibility.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::{Value, json};

/// The API key the stub accepts (any other gets a 401, as the real API answers).
pub(crate) const DEMO_API_KEY: &str = "00000000-demo-4000-8000-000000000000";

/// One blocklist: (kind, id, name, source, site, visibility, sensitivity, tags, description).
struct List {
    kind: &'static str,
    id: &'static str,
    name: &'static str,
    source: &'static str,
    site: &'static str,
    public: bool,
    sensitivity: &'static str,
    tags: &'static str,
}

const LISTS: &[List] = &[
    List {
        kind: "badip",
        id: "FAIL2BAN-SSH",
        name: "FAIL2BAN-SSH Blocklist.de",
        source: "Fail2Ban and Blocklist.de services",
        site: "http://www.blocklist.de",
        public: true,
        sensitivity: "1",
        tags: "reputation,abuse,bruteforce",
    },
    List {
        kind: "badip",
        id: "STOPFORUMSPAM-365",
        name: "StopForumSpam IP 365d",
        source: "StopForumSpam 365 days IP blacklist",
        site: "https://www.stopforumspam.com",
        public: true,
        sensitivity: "10",
        tags: "reputation,abuse,spam,forum",
    },
    List {
        kind: "badip",
        id: "STOPFORUMSPAM-30",
        name: "StopForumSpam IP 30d",
        source: "StopForumSpam 30 days IP blacklist",
        site: "https://www.stopforumspam.com",
        public: true,
        sensitivity: "5",
        tags: "reputation,abuse,spam,forum",
    },
    List {
        kind: "badip",
        id: "TOR-EXIT",
        name: "Tor exit nodes",
        source: "Tor Project",
        site: "https://check.torproject.org",
        public: false,
        sensitivity: "5",
        tags: "anonymizer, tor,,proxy",
    },
    List {
        kind: "badip",
        id: "BOTNET-C2",
        name: "Botnet C2 servers",
        source: "Partner threat feed",
        site: "https://partner.example/feeds/c2",
        public: false,
        sensitivity: "1",
        tags: "c2,botnet,malware",
    },
    List {
        kind: "baddomain",
        id: "SPAMHAUS-DBL",
        name: "Spamhaus DBL",
        source: "Spamhaus Domain Block List",
        site: "https://www.spamhaus.org/dbl/",
        public: true,
        sensitivity: "5",
        tags: "spam,domain",
    },
    List {
        kind: "baddomain",
        id: "SURBL-MX",
        name: "SURBL mail exchangers",
        source: "SURBL",
        site: "https://www.surbl.org",
        public: true,
        sensitivity: "10",
        tags: "spam,mx",
    },
    List {
        kind: "baddomain",
        id: "ABUSE-NS",
        name: "Abusive name servers",
        source: "Partner DNS feed",
        site: "https://partner.example/feeds/ns",
        public: false,
        sensitivity: "1",
        tags: "dns,ns,abuse",
    },
];

/// How the stub answers.
#[derive(Debug, Clone)]
pub(crate) struct StubConfig {
    /// Added before every answer, to stand for the network and the real API's own time.
    pub(crate) latency: Duration,
}

impl StubConfig {
    /// The configured latency. Zero means no wait at all: a zero `tokio::time::sleep` still
    /// waits for the timer wheel's next 1 ms tick, which made the "0 ms" stand-in answer in
    /// about 1.5 ms, idle, and so capped every 0 ms figure by the timer instead of the CPU.
    async fn wait(&self) {
        if !self.latency.is_zero() {
            tokio::time::sleep(self.latency).await;
        }
    }
}

/// Starts the stub on `addr` (port 0 for any free port); returns where it listens.
pub(crate) async fn start(addr: SocketAddr, config: StubConfig) -> Result<SocketAddr, String> {
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|e| format!("stub: cannot listen on {addr}: {e}"))?;
    let local = listener
        .local_addr()
        .map_err(|e| format!("stub: no local address: {e}"))?;
    let app = router(config);
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    Ok(local)
}

fn router(config: StubConfig) -> Router {
    Router::new()
        .route("/v2.0/ip", get(key_check))
        .route("/v2.0/ip/{ip}", get(ip_report))
        .route("/metadata/{kind}/lists/{id}", get(list_metadata))
        .with_state(Arc::new(config))
}

/// The real API's answer to a bad key.
fn unauthorised() -> Response {
    (StatusCode::UNAUTHORIZED, "Unauthorized. API Key not found.").into_response()
}

fn authorised(headers: &HeaderMap) -> bool {
    headers
        .get("X-Auth-Token")
        .is_some_and(|v| v.as_bytes() == DEMO_API_KEY.as_bytes())
}

async fn key_check(State(config): State<Arc<StubConfig>>, headers: HeaderMap) -> Response {
    config.wait().await;
    if !authorised(&headers) {
        return unauthorised();
    }
    axum::Json(json!({"fullip": {"geo": {"country": "US", "city": "Demo"}}})).into_response()
}

async fn ip_report(
    State(config): State<Arc<StubConfig>>,
    headers: HeaderMap,
    Path(ip): Path<String>,
) -> Response {
    config.wait().await;
    if !authorised(&headers) {
        return unauthorised();
    }
    match ip.parse::<IpAddr>() {
        Ok(ip) => axum::Json(report(ip)).into_response(),
        Err(_) => (StatusCode::BAD_REQUEST, format!("Bad IP format:{ip}")).into_response(),
    }
}

async fn list_metadata(
    State(config): State<Arc<StubConfig>>,
    headers: HeaderMap,
    Path((kind, id)): Path<(String, String)>,
) -> Response {
    config.wait().await;
    if !authorised(&headers) {
        return unauthorised();
    }
    match LISTS.iter().find(|l| l.kind == kind && l.id == id) {
        Some(list) => axum::Json(metadata(list)).into_response(),
        None => (StatusCode::NOT_FOUND, "List not found").into_response(),
    }
}

fn metadata(list: &List) -> Value {
    json!({
        "name": list.name,
        "refresh": "60  minutes",
        "source": list.source,
        "type": list.kind,
        "enabled": "True",
        "tags": list.tags,
        "group": "abuse",
        "count": "16407",
        "sensitivity": list.sensitivity,
        "last_update": "1594984501",
        "site": list.site,
        "visibility": if list.public { "Public" } else { "Private" },
        "description": format!("{} ({}).", list.name, list.source),
    })
}

/// How many blocklists the stub puts `ip` on (the benchmark picks addresses by it).
pub(crate) fn blocklist_count(ip: IpAddr) -> usize {
    let (badip, domain, mx, ns) = lists_of(ip);
    badip.len() + domain.len() + mx.len() + ns.len()
}

/// The lists an IP is on: hand-picked for the demo's addresses, derived from the bytes
/// otherwise (about a third of addresses are clean).
fn lists_of(
    ip: IpAddr,
) -> (
    Vec<&'static str>,
    Vec<&'static str>,
    Vec<&'static str>,
    Vec<&'static str>,
) {
    match ip.to_string().as_str() {
        "198.51.100.7" => (
            vec!["FAIL2BAN-SSH", "STOPFORUMSPAM-365", "BOTNET-C2"],
            vec!["SPAMHAUS-DBL"],
            vec!["SURBL-MX"],
            vec!["ABUSE-NS"],
        ),
        "203.0.113.9" => (vec!["FAIL2BAN-SSH"], vec![], vec![], vec![]),
        "2001:db8::7" => (vec!["TOR-EXIT", "STOPFORUMSPAM-30"], vec![], vec![], vec![]),
        "192.0.2.1" => (vec![], vec![], vec![], vec![]),
        _ => {
            let seed = match ip {
                IpAddr::V4(v4) => u32::from(v4),
                IpAddr::V6(v6) => v6.segments().iter().map(|&s| u32::from(s)).sum(),
            };
            if seed % 3 == 0 {
                return (vec![], vec![], vec![], vec![]);
            }
            let ip_lists = [
                "FAIL2BAN-SSH",
                "STOPFORUMSPAM-365",
                "STOPFORUMSPAM-30",
                "TOR-EXIT",
                "BOTNET-C2",
            ];
            let count = 1 + (seed % 3) as usize;
            let start = (seed / 3) as usize;
            let badip = (0..count)
                .filter_map(|i| ip_lists.get((start + i) % ip_lists.len()).copied())
                .collect();
            let domain = if seed % 2 == 0 {
                vec!["SPAMHAUS-DBL"]
            } else {
                vec![]
            };
            (badip, domain, vec![], vec![])
        }
    }
}

fn report(ip: IpAddr) -> Value {
    let (badip, domain, mx, ns) = lists_of(ip);
    let badip_score = -(badip.len().min(3) as i64);
    let domain_lists = domain.len() + mx.len() + ns.len();
    let domain_score = -(domain_lists.min(3) as i64);
    let history_score = if badip.is_empty() { 0 } else { -1 };
    let score = (badip_score + domain_score).max(-3);
    json!({
        "fullip": {
            "score": score,
            "hostname": format!("host-{}.demo.invalid", ip.to_string().replace([':', '.'], "-")),
            "geo": {"country": "US", "city": "Demo"},
            "badip": {"score": badip_score, "blacklists": badip},
            "baddomain": {
                "score": domain_score,
                "domain": {"blacklist": domain, "blacklist_mx": mx, "blacklist_ns": ns, "score": domain_score},
            },
            // Scores as strings, as the real API sometimes sends them.
            "history": {"score": history_score.to_string(), "activity": []},
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_list_named_in_a_report_has_metadata() {
        for last in 0..=255u8 {
            let ip = IpAddr::from([198, 18, 0, last]);
            let (a, b, c, d) = lists_of(ip);
            for id in a {
                assert!(
                    LISTS.iter().any(|l| l.kind == "badip" && l.id == id),
                    "{id}"
                );
            }
            for id in b.into_iter().chain(c).chain(d) {
                assert!(
                    LISTS.iter().any(|l| l.kind == "baddomain" && l.id == id),
                    "{id}"
                );
            }
        }
    }

    #[test]
    fn demo_addresses_cover_every_verdict() {
        let score = |ip: &str| {
            report(ip.parse().unwrap())["fullip"]["score"]
                .as_i64()
                .unwrap()
        };
        assert_eq!(score("198.51.100.7"), -3);
        assert_eq!(score("203.0.113.9"), -1);
        assert_eq!(score("2001:db8::7"), -2);
        assert_eq!(score("192.0.2.1"), 0);
    }
}
