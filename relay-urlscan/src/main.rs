//! `urlscan-relay`: the self-hosted urlscan.io relay (serve, jwt, module-type, healthcheck).
#![forbid(unsafe_code)]

fn main() -> std::process::ExitCode {
    xdr_relay_server::main_for(xdr_relay_urlscan::app())
}
