//! A local stand-in for the Auth0 Signals API: realistic, deterministic answers for any IP.
//!
//! Used by the `testkit` binary's `demo`, `bench`, `fuzz-api`, `soak` and `check-image` (for
//! `cargo xtask`), and served alone by `testkit signals-standin`. Every IP gets a report
//! derived from its bytes, so any number of distinct IPs can be asked about; a few documentation addresses have
//! hand-picked reports for the demo. Lists cover both kinds, every sensitivity, and public as
//! well as non-public visibility.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::{Value, json};

/// The API key the stand-in accepts (any other gets a 401, as the real API answers).
pub const DEMO_API_KEY: &str = "00000000-demo-4000-8000-000000000000";

/// The blocklists: (kind, id, name, source, site, public, sensitivity, tags).
type List = (
    &'static str,
    &'static str,
    &'static str,
    &'static str,
    &'static str,
    bool,
    &'static str,
    &'static str,
);
#[rustfmt::skip]
const LISTS: &[List] = &[
    ("badip", "FAIL2BAN-SSH", "FAIL2BAN-SSH Blocklist.de", "Fail2Ban and Blocklist.de services", "http://www.blocklist.de", true, "1", "reputation,abuse,bruteforce"),
    ("badip", "STOPFORUMSPAM-365", "StopForumSpam IP 365d", "StopForumSpam 365 days IP blacklist", "https://www.stopforumspam.com", true, "10", "reputation,abuse,spam,forum"),
    ("badip", "STOPFORUMSPAM-30", "StopForumSpam IP 30d", "StopForumSpam 30 days IP blacklist", "https://www.stopforumspam.com", true, "5", "reputation,abuse,spam,forum"),
    ("badip", "TOR-EXIT", "Tor exit nodes", "Tor Project", "https://check.torproject.org", false, "5", "anonymizer, tor,,proxy"),
    ("badip", "BOTNET-C2", "Botnet C2 servers", "Partner threat feed", "https://partner.example/feeds/c2", false, "1", "c2,botnet,malware"),
    ("baddomain", "SPAMHAUS-DBL", "Spamhaus DBL", "Spamhaus Domain Block List", "https://www.spamhaus.org/dbl/", true, "5", "spam,domain"),
    ("baddomain", "SURBL-MX", "SURBL mail exchangers", "SURBL", "https://www.surbl.org", true, "10", "spam,mx"),
    ("baddomain", "ABUSE-NS", "Abusive name servers", "Partner DNS feed", "https://partner.example/feeds/ns", false, "1", "dns,ns,abuse"),
];

/// How the stand-in answers.
#[derive(Debug, Clone, Default)]
pub struct Config {
    /// Added before every answer, to stand for the network and the real API's own time.
    pub latency: Duration,
}

/// Starts the stand-in on `addr` (port 0 for any free port) as a task of the current tokio
/// runtime, which serves it until the runtime ends; returns where it listens.
pub async fn start(addr: SocketAddr, config: Config) -> anyhow::Result<SocketAddr> {
    use anyhow::Context as _;
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .with_context(|| format!("Signals stand-in: cannot listen on {addr}"))?;
    let local = listener
        .local_addr()
        .context("Signals stand-in: no local address")?;
    let app = Router::new()
        .route("/v2.0/ip", get(key_check))
        .route("/v2.0/ip/{ip}", get(ip_report))
        .route("/metadata/{kind}/lists/{id}", get(list_metadata))
        .with_state(Arc::new(config));
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    Ok(local)
}

type Shared = State<Arc<Config>>;

async fn key_check(State(config): Shared, headers: HeaderMap) -> Response {
    respond(&config, &headers, Value::Null).await
}

async fn ip_report(State(config): Shared, headers: HeaderMap, Path(ip): Path<String>) -> Response {
    respond(&config, &headers, Value::String(ip)).await
}

async fn list_metadata(
    State(config): Shared,
    headers: HeaderMap,
    Path(list): Path<(String, String)>,
) -> Response {
    respond(&config, &headers, json!(list)).await
}

/// Answers a key check (`Null`), an IP report (an IP) or list metadata (`[kind, id]`), after
/// the configured latency, to callers with the demo key.
async fn respond(config: &Config, headers: &HeaderMap, what: Value) -> Response {
    // A zero `tokio::time::sleep` still waits for the timer's next 1 ms tick: no wait at all.
    if !config.latency.is_zero() {
        tokio::time::sleep(config.latency).await;
    }
    if headers
        .get("X-Auth-Token")
        .is_none_or(|v| v.as_bytes() != DEMO_API_KEY.as_bytes())
    {
        return (StatusCode::UNAUTHORIZED, "Unauthorized. API Key not found.").into_response();
    }
    match what {
        Value::Null => axum::Json(json!({"fullip": {"geo": {"country": "US", "city": "Demo"}}}))
            .into_response(),
        Value::String(ip) => match ip.parse::<IpAddr>() {
            Ok(ip) => axum::Json(report(ip)).into_response(),
            Err(_) => (StatusCode::BAD_REQUEST, format!("Bad IP format:{ip}")).into_response(),
        },
        kind_id => match LISTS.iter().find(|l| kind_id == json!([l.0, l.1])) {
            Some(list) => axum::Json(metadata(list)).into_response(),
            None => (StatusCode::NOT_FOUND, "List not found").into_response(),
        },
    }
}

fn metadata(&(kind, _, name, source, site, public, sensitivity, tags): &List) -> Value {
    json!({
        "name": name, "refresh": "60  minutes", "source": source, "type": kind,
        "enabled": "True", "tags": tags, "group": "abuse", "count": "16407",
        "sensitivity": sensitivity, "last_update": "1594984501", "site": site,
        "visibility": if public { "Public" } else { "Private" },
        "description": format!("{name} ({source})."),
    })
}

/// How many blocklists the stand-in puts `ip` on (the benchmark picks addresses by it).
pub fn blocklist_count(ip: IpAddr) -> usize {
    lists_of(ip).iter().map(Vec::len).sum()
}

/// The lists an IP is on (bad IP, domain, MX, NS): hand-picked for the demo's addresses,
/// derived from the bytes otherwise (about a third of addresses are clean).
fn lists_of(ip: IpAddr) -> [Vec<&'static str>; 4] {
    match ip.to_string().as_str() {
        "198.51.100.7" => [
            vec!["FAIL2BAN-SSH", "STOPFORUMSPAM-365", "BOTNET-C2"],
            vec!["SPAMHAUS-DBL"],
            vec!["SURBL-MX"],
            vec!["ABUSE-NS"],
        ],
        "203.0.113.9" => [vec!["FAIL2BAN-SSH"], vec![], vec![], vec![]],
        "2001:db8::7" => [vec!["TOR-EXIT", "STOPFORUMSPAM-30"], vec![], vec![], vec![]],
        _ => {
            let seed = match ip {
                IpAddr::V4(v4) => u32::from(v4),
                IpAddr::V6(v6) => v6.segments().iter().map(|&s| u32::from(s)).sum(),
            };
            if seed % 3 == 0 || ip.to_string() == "192.0.2.1" {
                return Default::default();
            }
            let ip_lists = &LISTS[..5];
            let (count, start) = (1 + (seed % 3) as usize, (seed / 3) as usize);
            let badip = (0..count)
                .map(|i| ip_lists[(start + i) % ip_lists.len()].1)
                .collect();
            let domain = if seed % 2 == 0 {
                vec!["SPAMHAUS-DBL"]
            } else {
                vec![]
            };
            [badip, domain, vec![], vec![]]
        }
    }
}

fn report(ip: IpAddr) -> Value {
    let [badip, domain, mx, ns] = lists_of(ip);
    let badip_score = -(badip.len().min(3) as i64);
    let domain_score = -((domain.len() + mx.len() + ns.len()).min(3) as i64);
    let history_score = if badip.is_empty() { 0 } else { -1 };
    json!({
        "fullip": {
            "score": (badip_score + domain_score).max(-3),
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
            let [badip, domain, mx, ns] = lists_of(IpAddr::from([198, 18, 0, last]));
            let known = |kind, id| LISTS.iter().any(|l| l.0 == kind && l.1 == id);
            assert!(badip.iter().all(|id| known("badip", *id)), "{badip:?}");
            assert!(
                domain
                    .iter()
                    .chain(&mx)
                    .chain(&ns)
                    .all(|id| known("baddomain", *id))
            );
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
