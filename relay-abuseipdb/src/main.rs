//! `abuseipdb-relay`: the self-hosted AbuseIPDB relay (serve, jwt, module-type, healthcheck).
#![forbid(unsafe_code)]

fn main() -> std::process::ExitCode {
    xdr_relay_server::main_for(xdr_relay_abuseipdb::app())
}
