//! `relay-server`: the self-hosted Threat Response relay for Auth0 Signals, the whole command
//! of [`xdr_relay_server::main_for`] for relay-core's Auth0 Signals provider.
#![forbid(unsafe_code)]

fn main() -> std::process::ExitCode {
    xdr_relay_server::main_for(xdr_relay_core::Auth0Signals::app())
}
