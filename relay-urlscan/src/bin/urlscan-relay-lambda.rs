//! `urlscan-relay-lambda`: the urlscan.io relay on AWS Lambda (`bootstrap`), behind API
//! Gateway, a Function URL or an ALB; its settings are the function's environment.
#![forbid(unsafe_code)]

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    xdr_relay_lambda::run_for(xdr_relay_urlscan::app()).await
}
