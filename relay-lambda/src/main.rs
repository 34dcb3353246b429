//! `relay-lambda`: the Threat Response relay for Auth0 Signals on AWS Lambda.
#![forbid(unsafe_code)]

fn main() {
    #[allow(clippy::print_stdout)]
    {
        println!("relay-lambda {}", relay_core::VERSION);
    }
}
