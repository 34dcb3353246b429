//! `relay-server`: the self-hosted Threat Response relay for Auth0 Signals.
#![forbid(unsafe_code)]

fn main() {
    #[allow(clippy::print_stdout)]
    {
        println!("relay-server {}", relay_core::VERSION);
    }
}
