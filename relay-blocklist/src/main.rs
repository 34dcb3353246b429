//! `blocklist-relay`: the self-hosted relay on local blocklist files.
#![forbid(unsafe_code)]

fn main() -> std::process::ExitCode {
    xdr_relay_server::main_for(xdr_relay_blocklist::app())
}
