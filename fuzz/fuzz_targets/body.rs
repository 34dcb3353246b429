//! Any bytes as a request body of `/refer/observables`, with a valid token: parsed and
//! filtered by the router as on every observable route, without a panic; the answer is 200,
//! either links or one `invalid argument` error.
#![no_main]

mod common;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|body: &[u8]| {
    let authorization = format!("Bearer {}", common::token());
    let answer = common::post("/refer/observables", Some(authorization.as_bytes()), body);
    if let Some(errors) = answer.get("errors") {
        assert_eq!(errors[0]["code"], "invalid argument", "{answer}");
        assert_eq!(errors.as_array().map(Vec::len), Some(1), "{answer}");
    } else {
        assert!(answer["data"].is_array(), "{answer}");
    }
});
