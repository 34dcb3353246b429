//! `xdr-relays-lambda`: every relay of the workspace in one AWS Lambda function, each under
//! `/{name}/` (API Gateway routes `/{name}/{proxy+}` to it).
#![forbid(unsafe_code)]

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    xdr_relay_lambda::run_for_suite(xdr_relay_suite::suite()).await
}
