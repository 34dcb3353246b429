//! Any bytes as an `Authorization` header, alone and after `Bearer `, sent to
//! `/respond/trigger` (the token check alone): no panic, and never accepted (a fuzzer cannot
//! forge an HS256 signature), so the answer is always one `authorization error`.
#![no_main]

mod common;

use libfuzzer_sys::fuzz_target;

fn check(value: &[u8]) {
    let answer = common::post("/respond/trigger", Some(value), b"");
    // A value that is not a header value is dropped by `post`: the header is then missing.
    assert_eq!(answer["errors"][0]["code"], "authorization error", "{answer}");
    assert!(answer.get("data").is_none(), "{answer}");
}

fuzz_target!(|data: &[u8]| {
    check(data);
    check(&[b"Bearer ".as_slice(), data].concat());
});
