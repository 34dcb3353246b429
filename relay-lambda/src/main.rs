//! `relay-lambda`: the Threat Response relay for Auth0 Signals on AWS Lambda (`bootstrap`), the
//! whole function of [`xdr_relay_lambda::run_for`] for relay-core's Auth0 Signals provider.
#![forbid(unsafe_code)]

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    xdr_relay_lambda::run_for(xdr_relay_core::Auth0Signals::app()).await
}
