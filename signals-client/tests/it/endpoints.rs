//! Each endpoint's happy path with the reference fixtures, and the headers sent.

use std::net::IpAddr;

use signals_client::{ApiKey, DEFAULT_USER_AGENT, ListKind};
use wiremock::matchers::{header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::support::{KEY, client_for, fixture, key, received};

const IP: &str = "79.143.44.122";

async fn serve(server: &MockServer, at: &str, fixture_name: &str) {
    Mock::given(method("GET"))
        .and(path(at))
        .respond_with(
            ResponseTemplate::new(200).set_body_raw(fixture(fixture_name), "application/json"),
        )
        .expect(1)
        .mount(server)
        .await;
}

#[tokio::test]
async fn ip_report_decodes_the_reference_fixture() {
    let server = MockServer::start().await;
    serve(
        &server,
        "/v2.0/ip/79.143.44.122",
        "upstream_v2.0_ip_response_ok.json",
    )
    .await;

    let ip: IpAddr = IP.parse().unwrap();
    let report = client_for(&server)
        .ip_report(&key(), ip)
        .await
        .unwrap()
        .unwrap();

    assert_eq!(report.score, Some(-2));
    assert_eq!(report.badip.score, Some(-1));
    assert_eq!(report.badip.blacklists, ["FAIL2BAN-SSH"]);
    assert_eq!(report.baddomain.score, Some(0));
    assert!(report.baddomain.domain.blacklist.is_empty());
    assert_eq!(report.history.score, Some(-1));
    assert_eq!(report.hostname.as_deref(), Some("79.143.44.122.vntp.net"));
    assert_eq!(report.geo.country.as_deref(), Some("UA"));
    assert_eq!(report.geo.city.as_deref(), Some("Vinnytsia"));
    assert_eq!(
        report.blocklists().collect::<Vec<_>>(),
        [(ListKind::BadIp, "FAIL2BAN-SSH")]
    );
}

#[tokio::test]
async fn ipv6_addresses_reach_the_path_as_written() {
    let server = MockServer::start().await;
    Mock::given(path("/v2.0/ip/2001:db8::1"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_raw(r#"{"fullip":{"score":"-3"}}"#, "application/json"),
        )
        .expect(1)
        .mount(&server)
        .await;
    let report = client_for(&server)
        .ip_report(&key(), "2001:db8::1".parse().unwrap())
        .await
        .unwrap();
    assert_eq!(report.unwrap().score, Some(-3));
}

#[tokio::test]
async fn check_key_accepts_the_health_check_fixture() {
    let server = MockServer::start().await;
    serve(&server, "/v2.0/ip", "upstream_v2.0_ip_health_check.json").await;
    client_for(&server).check_key(&key()).await.unwrap();
}

#[tokio::test]
async fn list_metadata_decodes_the_reference_fixture() {
    let server = MockServer::start().await;
    serve(
        &server,
        "/metadata/badip/lists/FAIL2BAN-SSH",
        "upstream_metadata_list_details.json",
    )
    .await;

    let metadata = client_for(&server)
        .list_metadata(&key(), ListKind::BadIp, "FAIL2BAN-SSH")
        .await
        .unwrap();

    assert_eq!(metadata.name, "FAIL2BAN-SSH Blocklist.de");
    assert_eq!(
        metadata.source.as_deref(),
        Some("Fail2Ban and Blocklist.de services")
    );
    assert_eq!(metadata.site.as_deref(), Some("http://www.blocklist.de"));
    assert_eq!(metadata.visibility.as_deref(), Some("Public"));
    assert!(metadata.is_public());
    assert_eq!(metadata.sensitivity.as_deref(), Some("1"));
    assert!(
        metadata
            .description
            .as_deref()
            .unwrap()
            .starts_with("www.blocklist.de is a free")
    );
    assert_eq!(
        metadata.tags.as_deref(),
        Some("reputation,abuse,bruteforce")
    );
    assert_eq!(
        metadata.split_tags().collect::<Vec<_>>(),
        ["reputation", "abuse", "bruteforce"]
    );
}

#[tokio::test]
async fn baddomain_metadata_uses_its_own_path() {
    let server = MockServer::start().await;
    Mock::given(path("/metadata/baddomain/lists/SPAMHAUS-DBL"))
        .respond_with(
            ResponseTemplate::new(200).set_body_raw(r#"{"name":"DBL"}"#, "application/json"),
        )
        .expect(1)
        .mount(&server)
        .await;
    let metadata = client_for(&server)
        .list_metadata(&key(), ListKind::BadDomain, "SPAMHAUS-DBL")
        .await
        .unwrap();
    assert_eq!(metadata.name, "DBL");
    assert_eq!(metadata.tags, None);
}

#[tokio::test]
async fn every_call_sends_the_key_accept_and_user_agent() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(header("x-auth-token", KEY))
        .and(header("accept", "application/json"))
        .and(header("user-agent", DEFAULT_USER_AGENT))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_raw(r#"{"fullip":{},"name":"n"}"#, "application/json"),
        )
        .expect(3)
        .mount(&server)
        .await;
    let client = client_for(&server);
    client.check_key(&key()).await.unwrap();
    client
        .ip_report(&key(), "1.1.1.1".parse().unwrap())
        .await
        .unwrap();
    client
        .list_metadata(&key(), ListKind::BadIp, "L")
        .await
        .unwrap();
    assert!(
        DEFAULT_USER_AGENT.starts_with(&format!("signals-client/{}", env!("CARGO_PKG_VERSION")))
    );
}

#[tokio::test]
async fn one_client_serves_several_keys_each_call_with_its_own() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(200).set_body_raw("{}", "application/json"))
        .mount(&server)
        .await;
    let client = client_for(&server);
    let clone = client.clone();
    client
        .check_key(&ApiKey::new("key-one").unwrap())
        .await
        .unwrap();
    clone
        .check_key(&ApiKey::new("key-two").unwrap())
        .await
        .unwrap();

    let tokens: Vec<_> = received(&server)
        .await
        .iter()
        .map(|r| {
            r.headers
                .get("x-auth-token")
                .unwrap()
                .to_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    assert_eq!(tokens, ["key-one", "key-two"]);
}
