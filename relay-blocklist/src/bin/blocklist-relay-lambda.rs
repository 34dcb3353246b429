//! `blocklist-relay-lambda`: the relay on local blocklist files on AWS Lambda (`bootstrap`);
//! the lists come with the function (a layer, under `/opt`), named by `BLOCKLIST_FILES`.
#![forbid(unsafe_code)]

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    xdr_relay_lambda::run_for(xdr_relay_blocklist::app()).await
}
