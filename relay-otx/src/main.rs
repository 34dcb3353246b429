//! `otx-relay`: the self-hosted AlienVault OTX relay (serve, jwt, module-type, healthcheck).
#![forbid(unsafe_code)]

fn main() -> std::process::ExitCode {
    xdr_relay_server::main_for(xdr_relay_otx::app())
}
