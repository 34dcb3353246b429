//! `xdr-relays`: every relay of the workspace in one self-hosted server (serve, jwt,
//! module-type, healthcheck), each under `/{name}/`.
#![forbid(unsafe_code)]

fn main() -> std::process::ExitCode {
    xdr_relay_server::main_for_suite(xdr_relay_suite::suite())
}
